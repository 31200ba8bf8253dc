"""The HTML report: one self-contained ``report.html`` per client in its run folder (no script,
no external font, stylesheet or image: it opens offline and prints), a per-client
``index.html`` listing every report.html of that client, newest first, and, when the run has
several clients, ``overview.html`` in the output folder, one row per client.

Rendered with Jinja2 with autoescaping on: every value put in a page (post text, handles,
client names, reasons, a server's error text) is escaped unless marked safe, and the one thing
marked safe is the SVG of the charts, which ElementTree wrote (:mod:`auditor.reports.charts`).
A forgotten escape cannot happen, where with ``html.escape`` each value would need its own.

It streams like the other writers: each account's section is rendered as it arrives and goes to
an unnamed temporary file (:class:`ClientSpool`); only the glance rows (a few numbers per check,
:mod:`auditor.reports.summary`) and the charts' CSS rules stay in memory. At the end each client's
page is written whole (head and summary matrix, its sections copied from the spool, the tail)
and renamed into place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from auditor.fsutil import atomic_writer
from auditor.reports import charts
from auditor.reports.csv_report import FILE_NAME as FINDINGS_CSV
from auditor.reports.findings import (
    ClientSpool,
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
    ClientGlance,
    Glances,
    shown_time,
    web_link,
)
from auditor.result import (
    AccountResult,
    AuditResult,
    CheckResult,
    Coverage,
    Totals,
    gated_status,
)
from auditor.wording import count

FILE_NAME = "report.html"
INDEX_NAME = "index.html"
OVERVIEW_NAME = "overview.html"
# The meta tags the index reads from each report.html (in its first bytes, without parsing it).
STATUS_META = "audit-status"
STARTED_META = "audit-started"
_META_READ = 4096
_META = re.compile(r'<meta name="(audit-status|audit-started)" content="([^"<>]*)">')
COMPLAINT = "complaint"
# Posts called complaints listed with their reasons per account; the rest are counted and
# left to report.json, whose judged_posts has every one its checks list.
SHOWN_COMPLAINTS = 25

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("auditor.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _template(name: str) -> jinja2.Template:
    return _ENVIRONMENT.get_template(name)


# ------------------------------------------------------------------------------- an account


@dataclass(frozen=True, slots=True)
class FindingView:
    severity: str
    message: str
    evidence_id: str
    excerpt: str | None
    url: str | None
    shown_url: str | None
    state: str
    state_reason: str | None
    change: str | None


@dataclass(frozen=True, slots=True)
class CheckView:
    id: str
    title: str
    severity: str
    status: str
    gated_status: str
    summary: str
    error: str | None
    notes: list[str]
    findings: list[FindingView]
    more: int


@dataclass(frozen=True, slots=True)
class ComplaintView:
    post_id: str
    confidence: float | None
    language: str | None
    reasons: list[str]
    excerpt: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class ChartView:
    title: str
    svg: Markup | None
    note: str | None
    problem: str | None = None


@dataclass(slots=True)
class Complaints:
    posts: list[ComplaintView] = field(default_factory=list)
    # Per check: posts it judged that its metrics count but do not list.
    unlisted: list[tuple[str, int]] = field(default_factory=list)
    # Posts called complaints beyond the SHOWN_COMPLAINTS listed.
    more: int = 0


def coverage_line(coverage: Coverage) -> str:
    """The account's data in one line: posts, threads, the window, whether it was whole."""
    parts = [
        f"{count(coverage.posts, 'post')} ({coverage.customer_posts:,} customer, "
        f"{coverage.brand_posts:,} brand)",
        count(coverage.threads, "thread"),
    ]
    if coverage.window_start is not None or coverage.window_end is not None:
        parts.append(
            f"window {shown_time(coverage.window_start)} to {shown_time(coverage.window_end)}"
        )
    if coverage.complete is False:
        lost = f"; lost: {', '.join(coverage.lost)}" if coverage.lost else ""
        parts.append(f"incomplete ({coverage.reason or 'no reason given'}{lost})")
    elif coverage.complete:
        parts.append("complete")
    if coverage.invalid_records:
        parts.append(f"{count(coverage.invalid_records, 'invalid record')} skipped")
    if coverage.not_observable:
        parts.append(f"not observable: {', '.join(coverage.not_observable)}")
    return "; ".join(parts)


def _finding_views(account: AccountResult, check: CheckResult) -> tuple[list[FindingView], int]:
    rows = finding_rows(check)
    since = account.since_last
    views = []
    for row in rows[:SHOWN_PER_CHECK]:
        state = finding_state(check, row)
        views.append(
            FindingView(
                severity=row.severity,
                message=row.message,
                evidence_id=row.evidence_id,
                excerpt=row.excerpt,
                url=web_link(row.url),
                shown_url=row.url,
                state=state.kind,
                state_reason=state.reason,
                change=None if since is None else since.change(row.uid),
            )
        )
    return views, max(len(rows) - SHOWN_PER_CHECK, 0)


def _check_views(account: AccountResult) -> list[CheckView]:
    views = []
    for check in account.checks:
        # The raw outcome: a check failing only on suppressed or baselined findings shows them
        # with their state.
        if check.status not in LISTED_STATUSES:
            continue
        findings, more = _finding_views(account, check)
        views.append(
            CheckView(
                id=check.id,
                title=check.title,
                severity=check.severity,
                status=check.status,
                gated_status=gated_status(check),
                summary=check.summary,
                error=check.error,
                notes=list(check.notes),
                findings=findings,
                more=more,
            )
        )
    return views


def _judged(check: CheckResult) -> dict[str, Any] | None:
    judged = check.metrics.get("judged_posts")
    if isinstance(judged, dict) and isinstance(judged.get("posts"), list):
        return judged
    return None


def _evidence_of(account: AccountResult, post_ids: set[str]) -> dict[str, tuple[str | None, str]]:
    """The excerpt and link the account's findings show for each of ``post_ids``."""
    found: dict[str, tuple[str | None, str]] = {}
    for check in account.checks:
        for row in finding_rows(check):
            if row.evidence_id in post_ids and row.evidence_id not in found and row.url:
                found[row.evidence_id] = (row.excerpt, row.url)
    return found


def complaints(account: AccountResult) -> Complaints:
    """Every post a check's classifier called a complaint, once (by post id), with its reasons;
    and per check, the judged posts counted but not listed in its metrics."""
    result = Complaints()
    posts: dict[str, dict[str, Any]] = {}
    for check in account.checks:
        judged = _judged(check)
        if judged is None:
            continue
        listed = judged["posts"]
        total = judged.get("total")
        if isinstance(total, int) and total > len(listed):
            result.unlisted.append((check.id, total - len(listed)))
        for post in listed:
            if isinstance(post, dict) and post.get("label") == COMPLAINT:
                posts.setdefault(str(post.get("post_id")), post)
    shown = dict(list(posts.items())[:SHOWN_COMPLAINTS])
    result.more = len(posts) - len(shown)
    evidence = _evidence_of(account, set(shown)) if shown else {}
    for post_id, post in shown.items():
        excerpt, url = evidence.get(post_id, (None, ""))
        confidence = post.get("confidence")
        result.posts.append(
            ComplaintView(
                post_id=post_id,
                confidence=confidence if isinstance(confidence, int | float) else None,
                language=None if post.get("language") is None else str(post["language"]),
                reasons=[str(r) for r in post.get("reasons") or ()],
                excerpt=excerpt,
                url=web_link(url),
            )
        )
    return result


def _charts(account: AccountResult, anchor: str) -> Iterator[tuple[ChartView, charts.Svg | None]]:
    """The account's charts: its trend, then every chart its checks offer, in check order; one
    that cannot be drawn says why instead."""
    trend = charts.draw_trend(account.trend, f"{anchor}-trend")
    if trend is not None:
        yield ChartView(trend.title, Markup(trend.svg), trend.note), trend
    number = 0
    for check in account.checks:
        for name, spec in charts.offered_charts(check.metrics):
            number += 1
            try:
                drawn = charts.draw_spec(spec, f"{anchor}-chart{number}")
            except charts.ChartError as error:
                yield ChartView(f"{check.id} {name}", None, None, str(error)), None
                continue
            yield ChartView(drawn.title, Markup(drawn.svg), drawn.note), drawn


# ----------------------------------------------------------------------------------- writer


@dataclass(slots=True)
class _ClientPage:
    """What a client's page needs at the end beyond its spooled sections."""

    css: dict[str, None] = field(default_factory=dict)
    # Check id: title, for the summary matrix's column heads.
    titles: dict[str, str] = field(default_factory=dict)


def _matrix(glance: ClientGlance) -> list[tuple[int, AccountRow]]:
    return list(enumerate(glance.rows, start=1))


class HtmlReports:
    """The streaming HTML writer (``begin``, ``account``, ``end``; ``abort`` on failure)."""

    def __init__(self, output_dir: Path, folders: RunFolders | None = None) -> None:
        self.folders = folders or RunFolders(output_dir)
        self._spool: ClientSpool | None = None
        self._glances = Glances()
        self._pages: dict[str, _ClientPage] = {}

    def begin(self, run: AuditResult) -> None:
        self._spool = ClientSpool(self.folders.output_dir, ".report-html.")
        self._glances = Glances()
        self._pages = {}

    def account(self, account: AccountResult) -> None:
        assert self._spool is not None, "account() before begin()"
        row = self._glances.add(account)
        page = self._pages.setdefault(account.client, _ClientPage())
        number = len(self._glances.clients[-1].rows)  # the account's place in its client
        anchor = f"account-{number}"
        drawn = list(_charts(account, anchor))
        charts.page_css((svg for _, svg in drawn if svg is not None), page.css)
        for check in account.checks:
            page.titles.setdefault(check.id, check.title)
        section = _template("account.html.j2").render(
            anchor=anchor,
            account=account,
            row=row,
            coverage=coverage_line(account.coverage),
            charts=[view for view, _ in drawn],
            checks=_check_views(account),
            complaints=complaints(account),
            findings_csv=FINDINGS_CSV,
        )
        self._spool.write(account.client, section.encode("utf-8"))

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        assert self._spool is not None, "end() before begin()"
        spool = self._spool
        tail = _template("report_tail.html.j2").render().encode("utf-8")

        def write(glance: ClientGlance) -> Path:
            folder = self.folders.client(glance.name, run.started_at, run.run_id)
            page = self._pages[glance.name]
            head = _template("report_head.html.j2").render(
                run=run,
                totals=totals,
                client=glance,
                rows=_matrix(glance),
                titles=page.titles,
                chart_css=Markup("\n".join(page.css)),
                status_meta=STATUS_META,
                started_meta=STARTED_META,
                started=shown_time(run.started_at),
                finished=shown_time(run.finished_at),
            )
            head_bytes = head.encode("utf-8")
            path = write_client_file(folder / FILE_NAME, head_bytes, spool, glance.name, tail)
            write_index(folder.parent, glance.name)
            return path

        try:
            written = write_clients(spool, self._glances.clients, write)
            written += [folder.parent / INDEX_NAME for folder in self._client_folders(run)]
            if len(self._glances.clients) > 1:
                written.append(self._write_overview(run))
            return written
        finally:
            self.abort()

    def _client_folders(self, run: AuditResult) -> list[Path]:
        return [
            self.folders.client(g.name, run.started_at, run.run_id) for g in self._glances.clients
        ]

    def _write_overview(self, run: AuditResult) -> Path:
        output = self.folders.output_dir
        clients = [
            (
                glance,
                (folder / FILE_NAME).relative_to(output).as_posix(),
                (folder.parent / INDEX_NAME).relative_to(output).as_posix(),
            )
            for glance, folder in zip(self._glances.clients, self._client_folders(run), strict=True)
        ]
        page = _template("overview.html.j2").render(
            run=run, clients=clients, started=shown_time(run.started_at)
        )
        path = output / OVERVIEW_NAME
        with atomic_writer(path) as stream:
            stream.write(page.encode("utf-8"))
        return path

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


# ------------------------------------------------------------------------------------ index


@dataclass(frozen=True, slots=True)
class PastReport:
    """A report.html of a client, as the index lists it (what its meta tags say)."""

    folder: str
    started: str | None
    status: str | None


def read_meta(path: Path) -> dict[str, str]:
    """The audit-* meta tags of a report.html, from its first few KB (not parsed whole)."""
    try:
        with path.open("rb") as stream:
            head = stream.read(_META_READ).decode("utf-8", "replace")
    except OSError:
        return {}
    return {name: value for name, value in _META.findall(head)}


def past_reports(client_folder: Path) -> list[PastReport]:
    """Every run folder of a client that holds a report.html, newest first (by the start its
    report gives, else by the folder's name, which begins with the start time)."""
    reports = []
    for folder in client_folder.iterdir():
        page = folder / FILE_NAME
        if not folder.is_dir() or not page.is_file():
            continue
        meta = read_meta(page)
        reports.append(PastReport(folder.name, meta.get(STARTED_META), meta.get(STATUS_META)))
    return sorted(reports, key=lambda r: (r.started or "", r.folder), reverse=True)


def write_index(client_folder: Path, client: str) -> Path:
    """``index.html`` in the client's folder, listing its reports; written whole or not at all."""
    page = _template("index.html.j2").render(
        client=client, reports=past_reports(client_folder), file_name=FILE_NAME
    )
    path = client_folder / INDEX_NAME
    with atomic_writer(path) as stream:
        stream.write(page.encode("utf-8"))
    return path
