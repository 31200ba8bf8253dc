"""The JSON report: one file per client, valid against config/schema/report.schema.json."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from auditor.fsutil import atomic_write_bytes, new_run_folder, safe_name
from auditor.result import AccountResult, AuditResult, CheckResult, ClientResult, EncodedFindings

REPORT_SCHEMA_VERSION = "1.1"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _check(check: CheckResult) -> dict[str, Any]:
    return {
        "id": check.id,
        "title": check.title,
        "version": check.version,
        "severity": check.severity,
        "status": check.status,
        "summary": check.summary,
        "error": check.error,
        "metrics": check.metrics,
        "notes": check.notes,
        # orjson writes the Finding dataclasses as they are, and packed ones as the JSON they
        # already are: no copy per finding.
        "findings": (
            orjson.Fragment(check.findings.json)
            if isinstance(check.findings, EncodedFindings)
            else check.findings
        ),
    }


def _account(account: AccountResult) -> dict[str, Any]:
    coverage = asdict(account.coverage)
    coverage["window_start"] = _time(account.coverage.window_start)
    coverage["window_end"] = _time(account.coverage.window_end)
    return {
        "platform": account.platform,
        "account": account.account,
        "status": account.status,
        "source": account.source,
        "errors": account.errors,
        "coverage": coverage,
        "policy": account.policy,
        "checks": [_check(c) for c in account.checks],
    }


def client_report(result: AuditResult, client: ClientResult) -> dict[str, Any]:
    accounts = [_account(a) for a in client.accounts]
    counts: dict[str, int] = {}
    for account in client.accounts:
        for check in account.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
    return {
        "report_schema": REPORT_SCHEMA_VERSION,
        "tool": {"name": "social-care-auditor", "version": result.tool_version},
        "run": {
            "id": result.run_id,
            "started_at": _time(result.started_at),
            "finished_at": _time(result.finished_at),
            "config": {"path": result.config_path, "sha256": result.config_sha256},
            "fail_on_override": result.fail_on,
            "exit_code": result.exit_code(),
        },
        "checks": result.checks,
        "inputs": [
            {"path": i.path, "sha256": i.sha256}
            for i in result.inputs
            if i.path in {a.source for a in client.accounts}
        ],
        "client": client.name,
        "summary": {"accounts": len(accounts), "check_statuses": counts},
        "accounts": accounts,
    }


def render(result: AuditResult, client: ClientResult) -> bytes:
    return orjson.dumps(client_report(result, client), option=orjson.OPT_NON_STR_KEYS) + b"\n"


def write(result: AuditResult, output_dir: Path) -> list[Path]:
    def write_client(client: ClientResult) -> Path:
        # A folder of this run's own: a report is never overwritten, by a rerun in the same
        # second or by another client whose name cleans to the same folder name.
        folder = new_run_folder(
            output_dir / safe_name(client.name), result.started_at, result.run_id
        )
        return atomic_write_bytes(folder / "report.json", render(result, client))

    # Writing and syncing large reports waits on the disk, not the CPU: one client's report
    # goes to disk while the next is rendered.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(write_client, result.clients))
