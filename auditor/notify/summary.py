"""What a notification says of a client's run, and that as a Slack message. Pure: no I/O but
reading the client's report.json.

The summary is made from the client's report.json, not from the result's accounts: ``run``
and the scheduler stream every account to the writers and keep none (``result.clients`` is
empty), and report.json is always written (JSON first, whatever ``output.formats`` says), so it
is the one whole record of the client's run, and the notification says what the report says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from auditor.result import AuditResult, Totals, worst_status
from auditor.untrusted import clip, escape_controls
from auditor.wording import count

# What a summary's status can be: the worst of its accounts' (an account whose checks could
# not apply passes).
STATUSES = ("pass", "fail", "incomplete", "error")
# The failing checks a message lists; the rest are counted ("and 4 more").
LISTED_CHECKS = 10
# Slack's limits: a header's plain text, a section field's text.
_HEADER_CHARS = 150
_FIELD_CHARS = 2000


class FailingCheck(NamedTuple):
    """A check that fails on one of the client's accounts, once the gate looked, with its open
    findings over all of them."""

    check_id: str
    title: str
    findings: int


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A client's run in a few figures: what every notification says."""

    client: str
    run_id: str
    started_at: datetime
    status: str
    # The command's exit code (a scheduled client's audit is a run of its own).
    exit_code: int
    accounts: int
    failing_checks: tuple[FailingCheck, ...]
    # Findings new since each account's last audit, and resolved since; None when no account
    # had a last audit to compare with (the client's first run, or no history store).
    new_findings: int | None
    resolved_findings: int | None
    report_dir: Path
    report_html: Path | None
    report_md: Path | None

    @property
    def report(self) -> Path:
        """The report a reader opens: the HTML, else the Markdown, else the JSON."""
        return self.report_html or self.report_md or self.report_dir / "report.json"


class SummaryError(Exception):
    """The client's report.json cannot be read: one line naming it."""


def summarize(result: AuditResult, totals: Totals, client: str, report_dir: Path) -> RunSummary:
    """``client``'s run as its report.json in ``report_dir`` says it; raises
    :class:`SummaryError` when that report is missing or not the client's."""
    path = report_dir / "report.json"
    try:
        report = orjson.loads(path.read_bytes())
    except OSError as error:
        raise SummaryError(f"{path}: cannot read the client's report ({error.strerror})") from None
    except orjson.JSONDecodeError as error:
        raise SummaryError(f"{path}: not a JSON report ({error})") from None
    if not isinstance(report, dict) or report.get("client") != client:
        raise SummaryError(f"{path}: not the report of client {client!r}")
    accounts: list[dict[str, Any]] = report.get("accounts", [])
    changes = [a["since_last"]["findings"] for a in accounts if "since_last" in a]
    status = worst_status((a["status"] for a in accounts), "pass")
    return RunSummary(
        client=client,
        run_id=result.run_id,
        started_at=result.started_at,
        status=status if status in STATUSES else "pass",
        exit_code=totals.code,
        accounts=len(accounts),
        failing_checks=_failing_checks(accounts),
        new_findings=sum(c["new"] for c in changes) if changes else None,
        resolved_findings=sum(c["resolved"] for c in changes) if changes else None,
        report_dir=report_dir,
        report_html=_existing(report_dir / "report.html"),
        report_md=_existing(report_dir / "report.md"),
    )


def _failing_checks(accounts: list[dict[str, Any]]) -> tuple[FailingCheck, ...]:
    titles: dict[str, str] = {}
    findings: dict[str, int] = {}
    for account in accounts:
        for check in account["checks"]:
            if check["gated_status"] != "fail":
                continue
            titles.setdefault(check["id"], check["title"])
            # Open: neither in the baseline nor suppressed (those carry a state).
            still_open = sum(1 for f in check["findings"] if f.get("state", "open") == "open")
            findings[check["id"]] = findings.get(check["id"], 0) + still_open
    return tuple(FailingCheck(i, titles[i], findings[i]) for i in sorted(titles))


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


# ---------------------------------------------------------------------------------------------
# In words


def headline(summary: RunSummary) -> str:
    """ "Acme: fail (2 failing checks)": the subject of an email, the fallback of a message."""
    failing = count(len(summary.failing_checks), "failing check")
    return f"{escape_controls(summary.client)}: {summary.status} ({failing})"


def change_words(summary: RunSummary) -> str:
    if summary.new_findings is None or summary.resolved_findings is None:
        return "first audit: nothing to compare with"
    return f"{summary.new_findings} new, {summary.resolved_findings} resolved"


def check_lines(summary: RunSummary) -> list[str]:
    """One line per failing check (the first few), in plain text."""
    lines = [
        f"{c.check_id} {escape_controls(c.title)}: {count(c.findings, 'open finding')}"
        for c in summary.failing_checks[:LISTED_CHECKS]
    ]
    rest = len(summary.failing_checks) - LISTED_CHECKS
    return [*lines, f"... and {rest} more"] if rest > 0 else lines


def summary_text(summary: RunSummary) -> str:
    """The summary in plain text: an email's body when the client has no report.md."""
    started = summary.started_at.isoformat(timespec="seconds")
    lines = [
        f"social-care-auditor: {headline(summary)}",
        "",
        f"Run:         {summary.run_id}, started {started}",
        f"Status:      {summary.status} (exit code {summary.exit_code})",
        f"Accounts:    {summary.accounts}",
        f"Since last:  {change_words(summary)}",
        f"Report:      {escape_controls(str(summary.report))}",
    ]
    checks = check_lines(summary)
    if checks:
        lines += ["", "Failing checks:", *(f"- {line}" for line in checks)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Slack


def mrkdwn(text: str) -> str:
    """Text from outside (a client's name, a plug-in's check title, a path) made inert in
    Slack's mrkdwn: "&", "<", ">" escaped as Slack asks (so that "<!channel>" or "<http://x|y>"
    stays text), control characters written out, on one line."""
    escaped = escape_controls(text).replace("&", "&amp;")
    return escaped.replace("<", "&lt;").replace(">", "&gt;")


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", _FIELD_CHARS)}


def slack_payload(summary: RunSummary) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` for notifications and clients without
    blocks; ``blocks``: a header, the figures, the report's place) and, under ``auditor``, the
    same figures for a receiver that is not Slack (Slack ignores the key)."""
    checks = "\n".join(mrkdwn(line) for line in check_lines(summary)) or "none"
    report = f"Report: `{mrkdwn(str(summary.report))}`"
    started = summary.started_at.isoformat(timespec="seconds")
    return {
        "text": mrkdwn(f"[social-care-auditor] {headline(summary)}"),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": clip(headline(summary), _HEADER_CHARS)},
            },
            {
                "type": "section",
                "fields": [
                    _field("Status", summary.status),
                    _field("Exit code", str(summary.exit_code)),
                    _field("Accounts", str(summary.accounts)),
                    _field("Since last audit", change_words(summary)),
                    _field("Failing checks", checks),
                ],
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": report},
                    {"type": "mrkdwn", "text": mrkdwn(f"run {summary.run_id}, started {started}")},
                ],
            },
        ],
        "auditor": {
            "client": summary.client,
            "run_id": summary.run_id,
            "started_at": summary.started_at.isoformat(),
            "status": summary.status,
            "exit_code": summary.exit_code,
            "accounts": summary.accounts,
            "failing_checks": [c._asdict() for c in summary.failing_checks],
            "new_findings": summary.new_findings,
            "resolved_findings": summary.resolved_findings,
            "report": str(summary.report),
        },
    }
