"""The terminal table: per client and account, one row per check, printed as each account is
audited; then one closing line.

Every value shown comes from outside (client names, handles, reasons, a server's errors): each
has its control characters escaped (``\\x1b``, :func:`auditor.untrusted.escape_controls`), on a
terminal or not, so that none can retitle, clear or rewrite the terminal that shows it.

On a terminal the status words are coloured (:func:`wants_colour` decides, once, where the
table is made): the colour codes are added after the values are escaped, so that they are the
only escape sequences printed.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from tabulate import tabulate

from auditor.reports.findings import since_last_line
from auditor.reports.stream import write_result
from auditor.reports.summary import account_row
from auditor.result import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    EXIT_OK,
    INTERRUPTED,
    AccountResult,
    AuditResult,
    CheckResult,
    Totals,
    gated_status,
)
from auditor.untrusted import escape_controls
from auditor.wording import count

_MARK = {
    "pass": "pass",
    "fail": "FAIL",
    "incomplete": "incomplete",
    "error": "ERROR",
    "not_applicable": "n/a",
    # A check that failed only on findings the baseline (existing) or a suppression took.
    "existing": "existing",
    "suppressed": "suppressed",
}
# Select Graphic Rendition codes: the status words' colours on a terminal.
_RESET = "\x1b[0m"
_COLOURS = {
    "fail": "\x1b[1;31m",  # bold red
    "error": "\x1b[1;31m",
    "incomplete": "\x1b[33m",  # yellow
    "pass": "\x1b[32m",  # green
    "not_applicable": "\x1b[2m",  # dim
}
# The exit code's colour in the closing line (a signal's code is yellow, as incomplete).
_CODE_STATUS = {EXIT_OK: "pass", EXIT_FAILED: "fail", EXIT_BAD_INPUT: "error"}


def wants_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether what goes to ``stream`` is coloured: not when ``NO_COLOR`` is set to anything
    (https://no-color.org), always when ``FORCE_COLOR`` is (a CI log), not when ``TERM`` is
    dumb, else when the stream is a terminal. The order Python's own REPL and tracebacks use."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def paint(text: str, status: str, colour: bool) -> str:
    """``text`` (escaped already) in ``status``'s colour when ``colour``; else as it is."""
    code = _COLOURS.get(status) if colour else None
    return text if code is None else f"{code}{text}{_RESET}"


# Wider summaries wrap onto more lines: a summary is never cut, so no figure is lost.
SUMMARY_WIDTH = 72
# Where a summary may wrap first: after a clause's comma or semicolon, before a parenthesis,
# so that a figure stays on one line with its unit ("median 15.1 business min").
_CLAUSE_END = re.compile(r"(?<=[,;]) | (?=\()")
# Past this many, the closing line names the first few incomplete checks of an account.
_LISTED_CHECKS = 5


def _one_line(text: str) -> str:
    return escape_controls(" ".join(text.split()))


def _shown(text: str) -> str:
    """A value as one line, its control characters escaped."""
    return escape_controls(text)


def wrap_summary(text: str, width: int = SUMMARY_WIDTH) -> str:
    """The summary on lines of at most ``width``, broken between clauses where it can, within
    a clause only when the clause alone is wider; never cut."""
    lines: list[str] = []
    line = ""
    for clause in _CLAUSE_END.split(_one_line(text)):
        joined = f"{line} {clause}" if line else clause
        if line and len(joined) > width:
            lines.append(line)
            line = clause
        else:
            line = joined
    lines.append(line)
    wrapped = [part for line in lines for part in textwrap.wrap(line, width) or [""]]
    return "\n".join(wrapped)


def _header(account: AccountResult, colour: bool = False) -> str:
    coverage = account.coverage
    unread = coverage.reason == INTERRUPTED and not account.checks  # a stop signal came first
    parts = [INTERRUPTED if unread else count(coverage.posts, "post")]
    if coverage.pages is not None:
        parts.append(count(coverage.pages, "page"))
    if coverage.window_start and coverage.window_end:
        window = f"window {coverage.window_start:%Y-%m-%d}..{coverage.window_end:%Y-%m-%d}"
        if coverage.complete is False:
            reason = coverage.reason
            window += f" (incomplete: {_one_line(reason)})" if reason else " (incomplete)"
        parts.append(window)
    details = ", ".join(parts)
    if coverage.not_observable:
        details += f"; not observable: {_shown(', '.join(coverage.not_observable))}"
    status = _account_status(account)
    shown = paint(_shown(_MARK.get(status, status)), status, colour)
    return f"{_shown(account.client)} / {_shown(str(account.key))}: {shown} ({_shown(details)})"


def _account_status(account: AccountResult) -> str:
    """The account's status as its checks' gated statuses make it: a failing account whose
    failures the gate took all shows as existing or suppressed."""
    if account.status != "fail":
        return account.status
    statuses = {gated_status(c) for c in account.checks}
    return next((s for s in _STATUS_ORDER if s in statuses), account.status)


def _gated_findings(check: CheckResult) -> str:
    """What the gate took of a check's findings: " (findings: 3 existing, 1 suppressed)"."""
    gate = check.gate
    return "" if gate is None else f" (findings: {_gated(gate.existing, gate.suppressed)})"


def _gated(existing: int, suppressed: int) -> str:
    parts = [f"{existing} existing"] if existing else []
    if suppressed:
        parts.append(f"{suppressed} suppressed")
    return ", ".join(parts)


def _status_cell(check: CheckResult, new: int | None, colour: bool) -> str:
    """A check's status word, coloured on a terminal, with its new findings since the last
    audit: "FAIL (3 new)"."""
    status = gated_status(check)
    word = paint(_shown(_MARK.get(status, status)), status, colour)
    return f"{word} ({new} new)" if new else word


def account_block(account: AccountResult, colour: bool = False) -> str:
    """One account's part of the table: its header line, a row per check, its errors. Every
    value is escaped before the colours are added (only the table's line breaks survive)."""
    cells = account_row(account).cells if account.since_last is not None else {}
    rows = [
        [
            _shown(c.id),
            _shown(c.title),
            _shown(c.severity),
            _status_cell(c, cells[c.id].new if c.id in cells else None, colour),
            escape_controls(wrap_summary(c.summary + _gated_findings(c)), keep_newlines=True),
        ]
        for c in account.checks
    ]
    body = tabulate(rows, headers=["id", "title", "severity", "status", "summary"]) if rows else ""
    errors = "\n".join(f"  error: {_shown(e)}" for e in account.errors)
    since = "" if account.since_last is None else "  " + _shown(since_last_line(account.since_last))
    return "\n".join(part for part in (_header(account, colour), body, since, errors) if part)


class TerminalTable:
    """The table as a streaming writer: each account's block is printed (``echo``) as the
    account arrives, the input errors no account shows at the end. The blocks are separated by
    an empty line."""

    def __init__(self, echo: Callable[[str], None], colour: bool = False) -> None:
        self.echo = echo
        self.colour = colour
        self._shown_errors: set[str] = set()
        self._blocks = 0

    def begin(self, run: AuditResult) -> None:
        self._blocks = 0

    def account(self, account: AccountResult) -> None:
        self._shown_errors.update(account.errors)
        self._print(account_block(account, self.colour))

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        for error in run.input_errors:
            if not any(error in shown for shown in self._shown_errors):
                self._print(escape_controls(f"input error: {_shown(error)}", keep_newlines=True))
        if not self._blocks:
            self.echo("")
        return []

    def abort(self) -> None:
        return None

    def _print(self, block: str) -> None:
        self.echo(block if not self._blocks else "\n" + block)
        self._blocks += 1


def render(result: AuditResult, colour: bool = False) -> str:
    """The whole table of a run kept whole, as the stream prints it."""
    lines: list[str] = []
    write_result(result, TerminalTable(lines.append, colour))
    return "\n".join(lines)


_STATUS_ORDER = ("fail", "error", "incomplete", "existing", "suppressed", "pass", "not_applicable")


def closing_line(totals: Totals, colour: bool = False) -> str:
    """The run's totals and the reason for its exit code, on one line:
    "3 accounts, 45 checks (6 FAIL, 30 pass, 9 n/a); exit 1: 4 findings at or above high in
    2 accounts"; on a terminal the status words and the exit code are coloured."""
    by_status = ", ".join(
        f"{totals.checks[s]} {paint(_MARK[s], s, colour)}"
        for s in _STATUS_ORDER
        if totals.checks.get(s)
    )
    figures = f"{count(totals.accounts, 'account')}, {count(sum(totals.checks.values()), 'check')}"
    if by_status:
        figures += f" ({by_status})"
    if totals.existing or totals.suppressed:
        figures += f"; findings {_gated(totals.existing, totals.suppressed)}"
    if totals.unmatched_suppressions:
        figures += f"; {count(len(totals.unmatched_suppressions), 'suppression')} matched nothing"
    code = paint(f"exit {totals.code}", _CODE_STATUS.get(totals.code, "incomplete"), colour)
    if totals.softened_from is not None:
        code += f" (--soft-fail; would have been {totals.softened_from})"
    # The figures are counts and this module's words; only the reason holds outside values.
    return f"{figures}; {code}: {_shown(_exit_reason(totals))}"


def _exit_reason(totals: Totals) -> str:
    if totals.interrupted is not None:
        stopped = [k for k, what in totals.incomplete.items() if what == [INTERRUPTED]]
        of_all = count(totals.accounts, "account")
        return f"interrupted by {totals.interrupted}; {len(stopped)} of {of_all} not audited"
    code = totals.code if totals.softened_from is None else totals.softened_from
    if code == EXIT_BAD_INPUT:
        reason = f"{count(totals.input_errors, 'input error')} (listed above)"
        unaudited = [k for k, what in totals.incomplete.items() if what == ["not audited"]]
        if unaudited:
            reason += f"; not audited: {', '.join(unaudited)}"
        return reason
    if code == EXIT_FAILED:
        thresholds = {totals.fail_on[key] for key in totals.failing}
        threshold = thresholds.pop() if len(thresholds) == 1 else "each account's fail_on"
        findings = count(totals.failing_findings(), "finding")
        return f"{findings} at or above {threshold} in {count(len(totals.failing), 'account')}"
    if code == EXIT_INCOMPLETE:
        return "incomplete: " + "; ".join(
            f"{key} ({_listed(what)})" for key, what in totals.incomplete.items()
        )
    thresholds = set(totals.fail_on.values())
    threshold = thresholds.pop() if len(thresholds) == 1 else "each account's fail_on"
    if threshold == "never":
        return "fail_on is never"
    gated = " open" if totals.existing or totals.suppressed else ""
    return f"no{gated} finding at or above {threshold}"


def _listed(labels: list[str]) -> str:
    shown = ", ".join(labels[:_LISTED_CHECKS])
    hidden = len(labels) - _LISTED_CHECKS
    return f"{shown} and {hidden} more" if hidden > 0 else shown
