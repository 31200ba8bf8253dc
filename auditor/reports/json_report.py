"""The JSON report: one file per client, valid against config/schema/report.schema.json.

It streams: each account is written as it arrives (accounts come grouped by client, in config
order) to one unnamed temporary file beside the reports, which vanishes with the process
however it ends; only a few counts per client stay in memory. At the end each client's report
is written whole (head, its accounts copied from the temporary file, then ``]}``) and renamed
into a run folder of its own. The effective policy is written once per distinct policy, under
``policies``; each account names its policy's id.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from auditor.fsutil import atomic_writer
from auditor.reports.findings import RunFolders
from auditor.reports.stream import write_result
from auditor.result import (
    AccountResult,
    AuditPoint,
    AuditResult,
    CheckResult,
    EncodedFindings,
    SinceLast,
    SuppressionInfo,
    Totals,
    gated_status,
)

# 2.4: each account's ``trend`` (its audits in the history store, oldest first, ending with this
# one; absent without a store), and checks' ``metrics.charts`` (the charts they offer).
# 2.3: each account's ``since_last`` (change since its last audit), absent on its first.
# 2.2: each finding's gate state (``state``: existing, suppressed; absent is open), each
# check's ``gated_status``, and the run's ``gating`` (baseline, suppressions, soft-fail).
REPORT_SCHEMA_VERSION = "2.4"
# Copying a client's accounts into its report: a read this size at a time.
_COPY_CHUNK = 1 << 20


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _check(check: CheckResult) -> dict[str, Any]:
    return {
        "id": check.id,
        "title": check.title,
        "version": check.version,
        "severity": check.severity,
        "status": check.status,
        # What the exit code went by: the raw status, or existing / suppressed for a check
        # that failed only on findings the baseline or a suppression took.
        "gated_status": gated_status(check),
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


def policy_id(policy: dict[str, Any]) -> str:
    """A policy's id in the report: the same policy, the same id, in every report and run."""
    canonical = orjson.dumps(policy, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:12]


def since_last_document(since: SinceLast) -> dict[str, Any]:
    """An account's change since its last audit, as the JSON report writes it."""
    return {
        "previous_run": since.previous_run,
        "previous_started_at": _time(since.previous_started_at),
        "findings": {
            "new": len(since.new),
            "still_open": since.still_open,
            "resolved": len(since.resolved),
        },
        # Sorted: the same change, the same bytes (the uids come from a set).
        "new": sorted(since.new),
        "resolved": [
            {"uid": r.uid, "check_id": r.check_id, "severity": r.severity, "message": r.message}
            for r in since.resolved
        ],
        "metrics": {
            m.name: {
                "before": m.before,
                "after": m.after,
                # Rounded: a share's float difference shows as 0.0013, not 0.0012999999999999678.
                "delta": None
                if m.before is None or m.after is None
                else round(m.after - m.before, 6),
            }
            for m in since.metrics
        },
    }


def trend_document(points: list[AuditPoint]) -> list[dict[str, Any]]:
    """An account's trend, as the JSON report writes it (oldest first)."""
    return [
        {
            "run": point.run,
            "started_at": _time(point.started_at),
            "status": point.status,
            "figures": dict(point.figures),
        }
        for point in points
    ]


def account_document(account: AccountResult, policy: str) -> dict[str, Any]:
    """An account's entry in the report (``policy``: its policy's id)."""
    coverage = asdict(account.coverage)
    coverage["window_start"] = _time(account.coverage.window_start)
    coverage["window_end"] = _time(account.coverage.window_end)
    document = {
        "platform": account.platform,
        "account": account.account,
        "status": account.status,
        "source": account.source,
        "errors": account.errors,
        "coverage": coverage,
        "policy": policy,
        "checks": [_check(c) for c in account.checks],
    }
    if account.since_last is not None:
        document["since_last"] = since_last_document(account.since_last)
    if account.trend:
        document["trend"] = trend_document(account.trend)
    return document


@dataclass(slots=True)
class _Client:
    """What one client's report needs besides its accounts: where they are in the temporary
    file, and a few counts."""

    name: str
    start: int
    end: int = 0
    accounts: int = 0
    check_statuses: Counter[str] = field(default_factory=Counter)
    sources: set[str | None] = field(default_factory=set)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)


class JsonReports:
    """The streaming JSON writer (``begin``, ``account``, ``end``; ``abort`` on failure)."""

    def __init__(self, output_dir: Path, folders: RunFolders | None = None) -> None:
        self.output_dir = output_dir
        # Shared with the run's other file writers: a client's reports go to one folder.
        self.folders = folders or RunFolders(output_dir)
        self._body: IO[bytes] | None = None
        self._clients: list[_Client] = []

    def begin(self, run: AuditResult) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        # Unnamed where the platform allows (O_TMPFILE): nothing to clean after a crash.
        self._body = tempfile.TemporaryFile(  # noqa: SIM115 (open until end or abort)
            dir=self.output_dir, prefix=".report-accounts."
        )

    def account(self, account: AccountResult) -> None:
        assert self._body is not None, "account() before begin()"
        client = self._clients[-1] if self._clients else None
        if client is None or client.name != account.client:
            client = _Client(account.client, start=self._body.tell())
            self._clients.append(client)
        policy = policy_id(account.policy)
        client.policies.setdefault(policy, account.policy)
        data = orjson.dumps(account_document(account, policy), option=orjson.OPT_NON_STR_KEYS)
        self._body.write(data if not client.accounts else b"," + data)
        client.end = self._body.tell()
        client.accounts += 1
        client.check_statuses.update(c.status for c in account.checks)
        client.sources.add(account.source)

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        assert self._body is not None, "end() before begin()"
        self._body.flush()
        body = self._body.fileno()

        def write_client(client: _Client) -> Path:
            folder = self.folders.client(client.name, run.started_at, run.run_id)
            return _write_client(run, totals, client, body, folder)

        try:
            # Syncing large reports waits on the disk, not the CPU: one client's report goes
            # to disk while the next is written (each reads its own span of the accounts).
            with ThreadPoolExecutor(max_workers=4) as pool:
                return list(pool.map(write_client, self._clients))
        finally:
            self.abort()

    def abort(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


def _write_client(
    run: AuditResult, totals: Totals, client: _Client, body: int, folder: Path
) -> Path:
    # The folder is this run's own (RunFolders): a report is never overwritten, by a rerun in
    # the same second or by another client whose name cleans to the same folder name.
    path = folder / "report.json"
    head = orjson.dumps(_head(run, totals, client), option=orjson.OPT_NON_STR_KEYS)
    with atomic_writer(path) as stream:
        # The head is an object whose last key is "accounts": its closing "[]}" is cut, the
        # accounts copied in, and the array and object closed again.
        stream.write(head[: -len(b"[]}")] + b"[")
        offset = client.start
        while offset < client.end:
            chunk = os.pread(body, min(_COPY_CHUNK, client.end - offset), offset)
            if not chunk:
                raise OSError(f"{path}: the accounts' temporary file ended early")
            stream.write(chunk)
            offset += len(chunk)
        stream.write(b"]}\n")
    return path


def _head(run: AuditResult, totals: Totals, client: _Client) -> dict[str, Any]:
    return {
        "report_schema": REPORT_SCHEMA_VERSION,
        "tool": {"name": "social-care-auditor", "version": run.tool_version},
        "run": {
            "id": run.run_id,
            "started_at": _time(run.started_at),
            "finished_at": _time(run.finished_at),
            "config": {"path": run.config_path, "sha256": run.config_sha256},
            "fail_on_override": run.fail_on,
            "exit_code": totals.code,
        },
        "checks": run.checks,
        "inputs": [
            {"path": i.path, "sha256": i.sha256} for i in run.inputs if i.path in client.sources
        ],
        "client": client.name,
        "summary": {"accounts": client.accounts, "check_statuses": dict(client.check_statuses)},
        "gating": _gating(run, totals),
        "policies": client.policies,
        "accounts": [],
    }


def _suppression(info: SuppressionInfo) -> dict[str, Any]:
    entry = {
        "index": info.index,
        "line": info.line,
        "check": info.check,
        "account": info.account,
        "finding": info.finding,
        "reason": info.reason,
        "owner": info.owner,
        "expires": info.expires,
    }
    if info.problem is not None:
        entry["problem"] = info.problem
    return entry


def _gating(run: AuditResult, totals: Totals) -> dict[str, Any]:
    """What the run gated by and what it made of the findings (for the whole run, as
    ``exit_code`` is)."""
    setup = run.gating
    return {
        "soft_fail": run.soft_fail,
        "exit_code_before_soft_fail": totals.softened_from,
        "baseline": None
        if setup is None or setup.baseline is None
        else {"path": setup.baseline, "findings": setup.baseline_findings},
        "findings": {"existing": totals.existing, "suppressed": totals.suppressed},
        "suppressions": {
            "applied": [_suppression(s) for s in setup.applied] if setup else [],
            "unmatched": [_suppression(s) for s in totals.unmatched_suppressions],
            "expired": [_suppression(s) for s in setup.expired] if setup else [],
            "malformed": [_suppression(s) for s in setup.malformed] if setup else [],
        },
    }


def write(result: AuditResult, output_dir: Path) -> list[Path]:
    """The reports of a run kept whole (``Engine.run`` without a sink), as the stream writes
    them."""
    return write_result(result, JsonReports(output_dir))
