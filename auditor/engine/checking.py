"""One check run on one account: whether its needs are met, what data it lacks, and its result
(a check that raises is an error of its own; findings the lost data could refute are withheld).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from auditor.check import AuditContext, Check, CheckOutput, status_of
from auditor.model import AccountData, Window, kinds_in_words
from auditor.result import CheckResult
from auditor.wording import count


def needs_unmet(
    check: Check, data: AccountData, window: Window | None, history: bool
) -> str | None:
    needs = check.needs
    if needs.profile and data.profile is None:
        return "no profile in the data"
    if needs.posts and window is None:
        return "no posts in the data"
    if needs.conversations and (window is None or not window.can_observe("conversations")):
        return "private conversations are not observed on this platform"
    if needs.history and not history:
        return "no history store"
    for what in sorted(needs.observes):
        if window is None or not window.can_observe(what):
            return f"the source cannot observe {what} posts"
    if needs.complete_window and (window is None or window.complete is None):
        return "the window is not known to be complete"
    return None


@dataclass(frozen=True, slots=True)
class DataGap:
    """What one check is short of on one window: the kinds it reads that were lost, and those
    among them that could refute its findings."""

    missing: frozenset[str]
    refuting: frozenset[str]
    why: str | None

    @classmethod
    def of(cls, check: Check, window: Window | None, data: AccountData | None = None) -> DataGap:
        lost = window.lost_kinds if window is not None else frozenset()
        if data is not None and data.profile is not None and window and window.lost is None:
            # A window that does not say what it lost lost everything but a profile that is
            # there: the profile is one record, and fields it lacks are in its not_returned.
            lost -= {"profile"}
        needs = check.needs
        why = window.reason if window is not None else None
        return cls(lost & needs.reads(), lost & needs.refutable_by(), why)

    def reason(self) -> str:
        """``brand replies not fully fetched: own_posts: HTTP 500``."""
        said = f"{kinds_in_words(self.missing)} not fully fetched"
        return f"{said}: {self.why}" if self.why else said


def run_check(check: Check, context: AuditContext, gap: DataGap | None = None) -> CheckResult:
    try:
        output = check.run(context)
        if not isinstance(output, CheckOutput):
            raise TypeError(f"returned {type(output).__name__}, not CheckOutput")
    except Exception as error:  # a check that raises must not stop the others
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
        return CheckResult(
            id=check.id,
            title=check.title,
            version=check.version,
            severity=context.severity,
            status="error",
            summary=message,
            error=message,
        )
    withheld = _withhold_refutable(output, gap)
    status = status_of(check, output, data_complete=False if gap and gap.missing else None)
    summary = output.summary or output.not_applicable or ""
    if status == "incomplete":
        summary = _incomplete_summary(summary, gap, withheld)
    return CheckResult(
        id=check.id,
        title=check.title,
        version=check.version,
        severity=context.severity,
        status=status,
        summary=summary,
        findings=output.findings,
        metrics=output.metrics,
        notes=output.notes,
    )


def _withhold_refutable(output: CheckOutput, gap: DataGap | None) -> int:
    """Take out the findings the lost data could refute (none reaches the report, at any
    severity); their number goes in the metrics as ``withheld_findings``."""
    if gap is None or not gap.refuting or not output.findings:
        return 0
    withheld = len(output.findings)
    output.findings = []
    output.metrics["withheld_findings"] = withheld
    return withheld


def _incomplete_summary(summary: str, gap: DataGap | None, withheld: int) -> str:
    if gap is None or not gap.missing:
        return f"{summary} (data incomplete)" if summary else "data incomplete"
    said = gap.reason()
    if withheld:
        possible = count(withheld, "possible finding")
        said = f"{possible} withheld: {said}"
    return f"{summary} ({said})" if summary else said
