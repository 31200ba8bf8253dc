"""Results built in memory for the readable reports' tests (Markdown, the coloured terminal):
findings with excerpts and links, accounts with a change since their last audit, a run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from auditor.check import Evidence, Finding, Status
from auditor.result import (
    AccountResult,
    AuditPoint,
    AuditResult,
    CheckResult,
    ClientResult,
    Coverage,
    SinceLast,
)

STARTED = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
FINISHED = datetime(2026, 11, 16, 9, 5, tzinfo=UTC)


def findings(
    check_id: str,
    handle: str,
    number: int,
    *,
    excerpt: str = "my order never came",
    url: str = "https://x.com/c/status/{n}",
) -> list[Finding]:
    """``number`` findings of ``check_id`` on x:``handle``, post n at ``url`` (``{n}``)."""
    return [
        Finding(
            check_id,
            "x",
            handle,
            f"post-{n}",
            f"customer post {n} unanswered",
            "high",
            Evidence(post_ids=(f"post-{n}",), urls=(url.format(n=n),), excerpt=excerpt),
        )
        for n in range(number)
    ]


def check(
    check_id: str, status: Status, found: Sequence[Finding] = (), *, title: str = "A check"
) -> CheckResult:
    return CheckResult(check_id, title, "1", "high", status, f"{len(found)} problems", list(found))


def account(
    client: str,
    handle: str,
    checks: list[CheckResult],
    *,
    new: Sequence[str] | None = None,
    errors: Sequence[str] = (),
    trend: Sequence[str] = (),
) -> AccountResult:
    """An account whose status is the worst of its checks'; ``new``: the uids new since its
    last audit (None: its first audit); ``trend``: its past statuses, oldest first."""
    order = ("error", "fail", "incomplete", "pass", "not_applicable")
    status = next((s for s in order if any(c.status == s for c in checks)), "pass")
    since = None
    if new is not None:
        since = SinceLast("previous", STARTED, frozenset(new), 0, [], [])
    points = [
        AuditPoint(f"run-{i}", STARTED.replace(day=i + 1), past, {}) for i, past in enumerate(trend)
    ]
    return AccountResult(
        client,
        "x",
        handle,
        status,
        Coverage(posts=40),
        {"fail_on": "high"},
        checks,
        list(errors),
        since_last=since,
        trend=points,
    )


def audit(accounts: list[AccountResult], run_id: str = "run-0001") -> AuditResult:
    """A finished run of ``accounts`` (grouped by client in their order)."""
    clients: list[ClientResult] = []
    for each in accounts:
        if not clients or clients[-1].name != each.client:
            clients.append(ClientResult(each.client))
        clients[-1].accounts.append(each)
    return AuditResult(
        tool_version="0",
        run_id=run_id,
        started_at=STARTED,
        config_path="audit.yaml",
        config_sha256="0",
        fail_on=None,
        checks={c.id: "1" for a in accounts for c in a.checks},
        clients=clients,
        finished_at=FINISHED,
    )
