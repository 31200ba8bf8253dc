"""The audit in Markdown, for a pull-request comment or a wiki page: ``report.md`` per client in
its run folder (the summary matrix, then per account its failed, incomplete and errored checks
with a few findings each), and ``overview.md`` in the output folder when a run has several
clients. No HTML at all: GitHub's renderer shows it as it is.

Every value from outside (a client's name, a handle, a post's text, a reason) goes through
:func:`markdown_text`, which makes it plain text on one line: it can neither break a table,
nor start a heading or a list, nor become HTML, a link, an image, a mention or an issue link.

Streams like the CSV writer: each account's section goes to an unnamed temporary file as it
arrives, and only its summary row (:class:`auditor.reports.summary.Glances`) stays in memory;
each client's file is written whole and renamed at the end.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from auditor.fsutil import atomic_writer
from auditor.reports.csv_report import FILE_NAME as ALL_FINDINGS
from auditor.reports.findings import (
    ClientSpool,
    FindingRow,
    RunFolders,
    finding_rows,
    finding_state,
    write_client_file,
    write_clients,
)
from auditor.reports.summary import (
    LISTED_STATUSES,
    SHOWN_PER_CHECK,
    AccountRow,
    CheckCell,
    ClientGlance,
    Glances,
    relative_link,
    shown_time,
    trend_marks,
    web_link,
)
from auditor.result import AccountResult, AuditResult, CheckResult, Totals
from auditor.untrusted import clip, escape_controls
from auditor.wording import count

FILE_NAME = "report.md"
OVERVIEW_NAME = "overview.md"
# A post's excerpt in a table cell is cut here: the CSV has it whole.
EXCERPT_LIMIT = 200
_WORDS = {"not_applicable": "n/a"}

# ASCII punctuation that means something to CommonMark or GitHub wherever it stands (emphasis,
# code, links, images, HTML, tables, headings, entities, strikethrough, math): each is written
# with a backslash before it, which CommonMark shows as the character itself.
_MARKUP = re.compile(r"([\\`*_{}\[\]()#!|<>~&$])")
# What means something only where a line starts (a list item, a thematic break, a setext
# underline; a value may start a paragraph), and what starts an autolink (http://, www.).
_LINE_START = re.compile(r"^([-+=]|\d+(?=\.))")
_AUTOLINK = re.compile(r"(?i)(?<=www)\.|:(?=//)")
# GitHub links a mention (@name) and an issue (#12) after rendering, backslash or not: a word
# joiner (U+2060, invisible) after the sign breaks the name or number from it.
_WORD_JOINER = "\u2060"
_MENTION = re.compile(r"(\\#)(?=\d)|@")
# What a link's URL keeps as it is; the rest is percent-encoded (spaces, parentheses, "|",
# "<", ">", quotes, backslashes, controls), so that it cannot end the link or the cell.
_URL_SAFE = "/:?#[]@!$&'*+,;=%~-._"


def markdown_text(value: str) -> str:
    """``value`` as plain Markdown text on one line: whitespace runs (newlines too) become one
    space, control characters are written out (``\\x1b``), markup characters are escaped, and
    mentions and issue numbers are broken with an invisible word joiner."""
    one_line = escape_controls(" ".join(value.split()))
    escaped = _MARKUP.sub(r"\\\1", one_line)
    escaped = _AUTOLINK.sub(lambda m: "\\" + m.group(0), escaped)
    escaped = _LINE_START.sub(_escape_line_start, escaped)
    return _MENTION.sub(lambda m: (m.group(1) or "@") + _WORD_JOINER, escaped)


def _escape_line_start(match: re.Match[str]) -> str:
    # "1. item" -> "1\\. item" (the number stays), "- item" -> "\\- item".
    text = match.group(0)
    return f"{text}\\" if text[0].isdigit() else f"\\{text}"


def post_link(url: str | None) -> str:
    """``[post](url)`` for a URL a report may link (:func:`summary.web_link`), percent-encoded so
    that nothing in it can end the link or a table cell; "" for anything else."""
    linked = web_link(url)
    return "" if linked is None else f"[post]({quote(linked, safe=_URL_SAFE)})"


def _status(status: str) -> str:
    return _WORDS.get(status, status)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(headers), _row(["---"] * len(headers)), *(_row(r) for r in rows), ""]


def _cell(cell: CheckCell | None) -> str:
    """A check's cell in the matrix: "fail: 12 findings, 3 new"."""
    if cell is None:
        return "-"
    text = _status(cell.status)
    if cell.findings:
        text += f": {count(cell.findings, 'finding')}"
        if cell.new:
            text += f", {cell.new} new"
    return text


def _coverage(account: AccountResult) -> str:
    coverage = account.coverage
    parts = [count(coverage.posts, "post")]
    if coverage.window_start and coverage.window_end:
        parts.append(f"window {coverage.window_start:%Y-%m-%d}..{coverage.window_end:%Y-%m-%d}")
    if coverage.complete is False:
        parts.append(f"incomplete: {markdown_text(coverage.reason or 'no reason given')}")
    if coverage.not_observable:
        parts.append(f"not observable: {markdown_text(', '.join(coverage.not_observable))}")
    return "; ".join(parts)


def _finding_cells(check: CheckResult, row: FindingRow) -> list[str]:
    state = finding_state(check, row)
    shown_state = state.kind if state.reason is None else f"{state.kind} ({state.reason})"
    excerpt = clip(" ".join((row.excerpt or "").split()), EXCERPT_LIMIT)
    return [
        markdown_text(row.severity),
        markdown_text(shown_state),
        markdown_text(row.message),
        markdown_text(excerpt),
        post_link(row.url) or markdown_text(row.evidence_id),
    ]


def _check_section(check: CheckResult, status: str) -> list[str]:
    title = f"{markdown_text(check.id)} {markdown_text(check.title)}"
    lines = [f"### {title}: {_status(status)} ({markdown_text(check.severity)})", ""]
    lines += [markdown_text(check.summary), ""]
    if check.error:
        lines += [f"Error: {markdown_text(check.error)}", ""]
    rows = finding_rows(check)
    if rows:
        shown = [_finding_cells(check, row) for row in rows[:SHOWN_PER_CHECK]]
        lines += _table(["severity", "state", "finding", "excerpt", "link"], shown)
    hidden = len(rows) - SHOWN_PER_CHECK
    if hidden > 0:
        lines += [f"And {hidden} more in {ALL_FINDINGS}.", ""]
    return lines


def account_section(account: AccountResult, row: AccountRow) -> str:
    """One account's part of report.md: its coverage, errors, and the checks to act on."""
    lines = [f"## {markdown_text(account.key)}: {_status(row.status)}", "", _coverage(account), ""]
    lines += [f"- Error: {markdown_text(error)}" for error in account.errors]
    if account.errors:
        lines.append("")
    listed = [c for c in account.checks if row.cells[c.id].status in LISTED_STATUSES]
    for check in listed:
        lines += _check_section(check, row.cells[check.id].status)
    if not listed:
        lines += ["No check failed, was incomplete or had an error.", ""]
    return "\n".join(lines) + "\n"


def client_head(run: AuditResult, client: ClientGlance) -> str:
    """The top of a client's report.md: who, which run, when, the summary matrix."""
    lines = [
        f"# Social care audit: {markdown_text(client.name)}",
        "",
        f"- Run: {markdown_text(run.run_id)}",
        f"- Started: {shown_time(run.started_at)}",
        f"- Finished: {shown_time(run.finished_at)}",
        f"- Status: **{_status(client.status)}**",
    ]
    if len(client.trend) > 1:
        lines.append(f"- Trend: {markdown_text(trend_marks(client.trend))}")
    lines += ["", "## Summary", ""]
    checks = client.check_ids
    lines += _table(
        ["account", "status", *(markdown_text(c) for c in checks)],
        [
            [markdown_text(r.key), _status(r.status), *(_cell(r.cells.get(c)) for c in checks)]
            for r in client.rows
        ],
    )
    since = [(r.key, r.since_last) for r in client.rows if r.since_last is not None]
    lines += [f"- {markdown_text(key)}: {markdown_text(line)}" for key, line in since]
    if since:
        lines.append("")
    return "\n".join(lines) + "\n"


def overview(run: AuditResult, clients: list[ClientGlance], links: dict[str, str]) -> str:
    """overview.md: one row per client, its status, failing checks, trend and report."""
    rows = [
        [
            markdown_text(client.name),
            _status(client.status),
            markdown_text(", ".join(client.failing_checks)) or "none",
            markdown_text(trend_marks(client.trend)) or "no history",
            f"[report]({links[client.name]})",
        ]
        for client in clients
    ]
    head = [
        "# Social care audit: overview",
        "",
        f"- Run: {markdown_text(run.run_id)}",
        f"- Started: {shown_time(run.started_at)}",
        f"- Finished: {shown_time(run.finished_at)}",
        "",
    ]
    table = _table(["client", "status", "failing checks", "trend", "report"], rows)
    return "\n".join(head + table)


class MarkdownReports:
    """The streaming Markdown writer (``begin``, ``account``, ``end``; ``abort`` on failure)."""

    def __init__(self, output_dir: Path, folders: RunFolders | None = None) -> None:
        self.folders = folders or RunFolders(output_dir)
        self._spool: ClientSpool | None = None
        self._glances = Glances()

    def begin(self, run: AuditResult) -> None:
        self._spool = ClientSpool(self.folders.output_dir, ".report-md.")
        self._glances = Glances()

    def account(self, account: AccountResult) -> None:
        assert self._spool is not None, "account() before begin()"
        row = self._glances.add(account)
        self._spool.write(account.client, account_section(account, row).encode("utf-8"))

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        assert self._spool is not None, "end() before begin()"
        spool, clients = self._spool, self._glances.clients

        def write(client: ClientGlance) -> Path:
            folder = self.folders.client(client.name, run.started_at, run.run_id)
            head = client_head(run, client).encode("utf-8")
            return write_client_file(folder / FILE_NAME, head, spool, client.name, b"")

        try:
            written = write_clients(spool, clients, write)
        finally:
            self.abort()
        if len(clients) > 1:
            written.append(self._write_overview(run, clients, written))
        return written

    def _write_overview(
        self, run: AuditResult, clients: list[ClientGlance], reports: list[Path]
    ) -> Path:
        output = self.folders.output_dir
        links = {
            c.name: relative_link(output, path) for c, path in zip(clients, reports, strict=True)
        }
        path = output / OVERVIEW_NAME
        with atomic_writer(path) as stream:
            stream.write(overview(run, clients, links).encode("utf-8"))
        return path

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
