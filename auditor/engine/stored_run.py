"""A past run made again from the history store, for ``auditor report RUN_ID``.

The store keeps, per run, what its reports say of the run as a whole (:func:`run_document`,
written as the run is finished) and each account as its JSON report shows it
(``auditor.engine.since_last.stored_report``). :func:`rebuild` turns them back into the
:class:`~auditor.result.AuditResult` the writers read, with every account kept, so that the same
writers write the same reports: the JSON report byte for byte (a test asserts it). What a run's
reports never showed is not stored and comes back empty: the checks' long descriptions beyond
the SARIF rules' (kept), a signal that came as the run was closing (``stopped_after``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson

from auditor.engine.parallel import PackedFindings
from auditor.result import (
    AccountResult,
    AuditPoint,
    AuditResult,
    CheckGate,
    CheckInfo,
    CheckResult,
    Coverage,
    GatingSetup,
    InputFile,
    MetricChange,
    ResolvedFinding,
    SinceLast,
    SuppressionInfo,
)
from auditor.store.history import StoredRun


class StoredRunError(Exception):
    """The store's copy of a run cannot be read back (written by another tool version)."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def run_document(result: AuditResult, fetch_incomplete: Mapping[str, str]) -> bytes:
    """What the reports say of the run as a whole (the store compresses it)."""
    gating = result.gating
    return orjson.dumps(
        {
            "tool_version": result.tool_version,
            "run_id": result.run_id,
            "started_at": _time(result.started_at),
            "finished_at": _time(result.finished_at),
            "config_path": result.config_path,
            "config_sha256": result.config_sha256,
            "fail_on": result.fail_on,
            "checks": result.checks,
            "inputs": [[i.path, i.sha256] for i in result.inputs],
            "check_info": {k: asdict(v) for k, v in result.check_info.items()},
            "input_errors": result.input_errors,
            "interrupted": result.interrupted,
            "soft_fail": result.soft_fail,
            "gating": None if gating is None else asdict(gating),
            "fetch_incomplete": dict(fetch_incomplete),
        }
    )


def rebuild(stored: StoredRun) -> tuple[AuditResult, dict[str, str]]:
    """The run as the writers read it, and the accounts whose fetch was incomplete (what the
    exit code counted besides the accounts)."""
    try:
        run = orjson.loads(stored.run)
        gating = run["gating"]
        result = AuditResult(
            tool_version=run["tool_version"],
            run_id=run["run_id"],
            started_at=datetime.fromisoformat(run["started_at"]),
            config_path=run["config_path"],
            config_sha256=run["config_sha256"],
            fail_on=run["fail_on"],
            checks=run["checks"],
            inputs=[InputFile(path, sha) for path, sha in run["inputs"]],
            check_info={k: CheckInfo(**v) for k, v in run["check_info"].items()},
            input_errors=run["input_errors"],
            finished_at=_parse_time(run["finished_at"]),
            interrupted=run["interrupted"],
            soft_fail=run["soft_fail"],
            gating=None if gating is None else _gating(gating),
        )
        for blob in stored.accounts:
            result.add(_account(orjson.loads(blob)), keep=True)
        return result, run["fetch_incomplete"]
    except (KeyError, TypeError, ValueError) as error:
        raise StoredRunError(f"its stored report cannot be read ({error!r})") from error


def _gating(document: dict[str, Any]) -> GatingSetup:
    def infos(key: str) -> list[SuppressionInfo]:
        return [SuppressionInfo(**item) for item in document[key]]

    return GatingSetup(
        baseline=document["baseline"],
        baseline_findings=document["baseline_findings"],
        applied=infos("applied"),
        expired=infos("expired"),
        malformed=infos("malformed"),
    )


def _account(stored: dict[str, Any]) -> AccountResult:
    document = stored["account"]
    coverage = dict(document["coverage"])
    coverage["window_start"] = _parse_time(coverage["window_start"])
    coverage["window_end"] = _parse_time(coverage["window_end"])
    since = document.get("since_last")
    return AccountResult(
        client=stored["client"],
        platform=document["platform"],
        account=document["account"],
        status=document["status"],
        coverage=Coverage(**coverage),
        policy=stored["policy"],
        checks=[_check(c, g) for c, g in zip(document["checks"], stored["gates"], strict=True)],
        errors=document["errors"],
        source=document["source"],
        config_line=stored["config_line"],
        since_last=None if since is None else _since_last(since),
        trend=[_audit_point(point) for point in document.get("trend", ())],
    )


def _check(document: dict[str, Any], gate: list[Any] | None) -> CheckResult:
    findings = document["findings"]
    return CheckResult(
        id=document["id"],
        title=document["title"],
        version=document["version"],
        severity=document["severity"],
        status=document["status"],
        summary=document["summary"],
        # Packed again as the JSON they were: the JSON writer embeds them as they are.
        findings=PackedFindings(
            orjson.dumps(findings), len(findings), dict(Counter(f["severity"] for f in findings))
        )
        if findings
        else [],
        metrics=document["metrics"],
        notes=document["notes"],
        error=document["error"],
        gate=None
        if gate is None
        else CheckGate(
            status=gate[0],
            open=gate[1],
            existing=gate[2],
            suppressed=gate[3],
            suppressions=tuple(gate[4]),
        ),
    )


def _audit_point(document: dict[str, Any]) -> AuditPoint:
    return AuditPoint(
        run=document["run"],
        started_at=datetime.fromisoformat(document["started_at"]),
        status=document["status"],
        figures=document["figures"],
    )


def _since_last(document: dict[str, Any]) -> SinceLast:
    return SinceLast(
        previous_run=document["previous_run"],
        previous_started_at=datetime.fromisoformat(document["previous_started_at"]),
        new=frozenset(document["new"]),
        still_open=document["findings"]["still_open"],
        resolved=[ResolvedFinding(**item) for item in document["resolved"]],
        metrics=[
            MetricChange(name, value["before"], value["after"])
            for name, value in document["metrics"].items()
        ],
    )
