"""Change since the last audit of an account, and what the store keeps of the account for the
next audit and for ``auditor report`` (the account as its JSON report shows it).

Both are made where the account's audit ends, by whoever records it in the history store (a
worker process, or the engine itself): the parent decodes nothing, and the findings are packed
once, for the trip to the parent and for the stored report alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from auditor.check import Check, Finding
from auditor.engine.parallel import PackedFindings
from auditor.reports.json_report import account_document, policy_id
from auditor.result import AccountResult, AuditPoint, MetricChange, ResolvedFinding, SinceLast
from auditor.store.history import AccountReport, AuditTrendRow, PreviousAudit

# A figure compared with the last audit: its name, its check's id, the keys that lead to it in
# the check's metrics (what each check declares as ``Check.tracked``).
Tracked = tuple[tuple[str, str, tuple[str, ...]], ...]


def tracked_of(checks: Iterable[Check]) -> Tracked:
    """The figures the checks declare, in the checks' order."""
    return tuple((name, c.id, path) for c in checks for name, path in c.tracked.items())


def tracked_metrics(account: AccountResult, tracked: Tracked) -> dict[str, float | None]:
    """The tracked figures of an account's audit (None where its check did not measure one)."""
    metrics = {check.id: check.metrics for check in account.checks}
    return {name: _number(metrics.get(check_id), path) for name, check_id, path in tracked}


def _number(metrics: Any, path: tuple[str, ...]) -> float | None:
    value = metrics
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def compare(
    account: AccountResult,
    findings: Sequence[Finding],
    previous: PreviousAudit | None,
    tracked: Tracked,
) -> SinceLast | None:
    """What changed since ``previous`` (None: this is the account's first audit)."""
    if previous is None:
        return None
    current = {finding.uid for finding in findings}
    before = {record.uid for record in previous.findings}
    resolved = [
        ResolvedFinding(record.uid, record.check_id, record.severity, record.message)
        for record in previous.findings
        if record.uid not in current
    ]
    earlier: dict[str, Any] = orjson.loads(previous.tracked) if previous.tracked else {}
    now = tracked_metrics(account, tracked)
    return SinceLast(
        previous_run=previous.run_key,
        previous_started_at=previous.started_at,
        new=frozenset(current - before),
        still_open=len(current & before),
        resolved=resolved,
        metrics=[MetricChange(name, earlier.get(name), now[name]) for name, _, _ in tracked],
    )


def trend_points(
    earlier: Sequence[AuditTrendRow],
    account: AccountResult,
    run_id: str,
    started_at: datetime,
    tracked: Tracked,
) -> list[AuditPoint]:
    """The account's trend: its earlier audits (oldest first, as the store gives them), then
    this one. An earlier run that kept no figures (before schema 7) has none (``{}``)."""
    points = [
        AuditPoint(
            row.run_key,
            row.started_at,
            row.status,
            orjson.loads(row.tracked) if row.tracked else {},
        )
        for row in earlier
    ]
    points.append(AuditPoint(run_id, started_at, account.status, tracked_metrics(account, tracked)))
    return points


def pack_findings(account: AccountResult) -> list[Finding]:
    """Each check's findings packed as JSON (what the parent and the stored report read),
    keeping the objects decoded; returns every finding of the account."""
    every: list[Finding] = []
    for check in account.checks:
        if isinstance(check.findings, PackedFindings) or not check.findings:
            every.extend(check.findings)
            continue
        objects = list(check.findings)
        packed = PackedFindings.pack(objects)
        packed.keep_decoded(objects)
        check.findings = packed
        every.extend(objects)
    return every


def stored_report(account: AccountResult, position: int, tracked: Tracked) -> AccountReport:
    """The account as the store keeps it for ``auditor report``: its JSON report entry, with
    what the report's head and the other writers need besides (client, policy, the gate's
    counts per check, the config line)."""
    document = {
        "client": account.client,
        "config_line": account.config_line,
        "policy": account.policy,
        "gates": [
            None
            if check.gate is None
            else [
                check.gate.status,
                check.gate.open,
                check.gate.existing,
                check.gate.suppressed,
                list(check.gate.suppressions),
            ]
            for check in account.checks
        ],
        "account": account_document(account, policy_id(account.policy)),
    }
    report = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    return AccountReport(position, report, orjson.dumps(tracked_metrics(account, tracked)).decode())
