"""The HTML writer (auditor/reports/html.py) on result objects made here: the summary matrix,
the findings capped per check with "and N more" pointing at the CSV, the classifier's reasons,
charts, every outside text escaped, pages that load nothing from outside, the same bytes for
the same result, the per-client index (newest first), the agency overview (only with several
clients), nothing left by an abort; and `auditor run config/demo.yaml --format html`."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from auditor.check import CHARTS, Evidence, Finding, chart
from auditor.engine.parallel import PackedFindings
from auditor.reports import WRITERS, RunFolders, file_formats, html, write_result
from auditor.reports.findings import finding_rows
from auditor.reports.summary import SHOWN_PER_CHECK, web_link
from auditor.result import (
    AccountResult,
    AuditPoint,
    AuditResult,
    CheckGate,
    CheckResult,
    Coverage,
    SinceLast,
    mark_finding,
)

from tests_support import run_cli

STARTED = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
CLIENT = f"Acme {SCRIPT}"
HANDLE = f"Acme{IMG}"
EXTRA = 5  # findings past the cap
REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------ the result


def _finding(n: int, check_id: str = "RSP001") -> Finding:
    excerpt = SCRIPT if n % 2 == 0 else IMG
    url = "javascript:alert(3)" if n == 1 else f"https://x.com/bob/status/{n}"
    return Finding(
        check_id,
        "x",
        HANDLE,
        f"p{n}",
        f"unanswered for {n} days",
        "high",
        Evidence(post_ids=(f"p{n}",), urls=(url,), excerpt=excerpt),
    )


def _rsp001(packed: bool) -> CheckResult:
    found = [_finding(n) for n in range(SHOWN_PER_CHECK + EXTRA)]
    mark_finding(found[0], "suppressed", {"reason": "help desk migration", "owner": "ops"})
    return CheckResult(
        "RSP001",
        "Unanswered customer posts",
        "1",
        "high",
        "fail",
        f"{len(found)} unanswered",
        PackedFindings.pack(found) if packed else found,
    )


def _judged(posts: list[tuple[str, str]], total: int) -> dict[str, Any]:
    return {
        "total": total,
        "limit": 100,
        "posts": [
            {
                "post_id": post_id,
                "label": label,
                "confidence": 0.91,
                "reasons": [f"word {SCRIPT}", "negative tone"],
                "language": "en",
            }
            for post_id, label in posts
        ],
    }


def _checks(packed: bool = False) -> list[CheckResult]:
    histogram = chart(
        "bar",
        "First response",
        ["0-15", "15-60", "60+"],
        {"replies": [4.0, 2.0, 1.0]},
        "replies",
        target="60+",
    )
    activity = chart(
        "heatmap", "Activity", ["00", "01"], {"Mon": [1.0, 2.0], SCRIPT: [0.0, 3.0]}, "posts"
    )
    return [
        _rsp001(packed),
        CheckResult(
            "RSP002",
            "First response time",
            "1",
            "medium",
            "pass",
            "all in time",
            metrics={CHARTS: {"first_response": histogram, "activity": activity}},
        ),
        CheckResult(
            "CRS001",
            "Complaint surge",
            "1",
            "high",
            "incomplete",
            "posts lost",
            metrics={"judged_posts": _judged([("p2", "complaint"), ("p9", "other")], 140)},
        ),
        CheckResult(
            "TON001",
            "Defensive replies",
            "1",
            "medium",
            "error",
            "raised",
            error=f"boom {IMG}",
            metrics={"judged_posts": _judged([("p2", "complaint"), ("p4", "complaint")], 2)},
        ),
        CheckResult("MOD002", "Hidden complaints", "1", "high", "not_applicable", "n/a"),
        CheckResult(
            "AUT001",
            "Automated replies",
            "1",
            "medium",
            "fail",
            "1 template",
            [_finding(1, "AUT001")],
            gate=CheckGate("existing", {}, existing=1),
        ),
    ]


def _trend() -> list[AuditPoint]:
    return [
        AuditPoint(
            f"run{i}",
            STARTED - timedelta(days=7 * (2 - i)),
            "fail",
            {"answered_share": 0.8 + i / 20, "automated_share": 0.1},
        )
        for i in range(3)
    ]


def _account(client: str, handle: str, packed: bool = False) -> AccountResult:
    return AccountResult(
        client,
        "x",
        handle,
        "error",
        Coverage(posts=120, customer_posts=80, brand_posts=40, threads=30, complete=True),
        {"fail_on": "high"},
        checks=_checks(packed),
        trend=_trend(),
    )


def _result(
    clients: tuple[str, ...] = (CLIENT,), started: datetime = STARTED, packed: bool = False
) -> AuditResult:
    result = AuditResult(
        tool_version="0.1.0",
        run_id=f"a1b2c3d4e5f6{started:%H%M%S}",
        started_at=started,
        config_path="audit.yaml",
        config_sha256="0" * 64,
        fail_on=None,
        checks={},
    )
    for client in clients:
        result.add(_account(client, HANDLE, packed), keep=True)
        result.add(_account(client, "AcmeUK", packed), keep=True)
    result.finished_at = started + timedelta(minutes=1)
    return result


def _since_last(account: AccountResult) -> None:
    """A second audit: the first findings of RSP001 new since the last one."""
    uids = [row.uid for row in finding_rows(account.checks[0])][:3]
    account.since_last = SinceLast("run1", STARTED - timedelta(days=7), frozenset(uids), 12, [], [])


def _write(out: Path, result: AuditResult | None = None) -> list[Path]:
    return write_result(result or _result(), WRITERS["html"](out, RunFolders(out)))


def _report(out: Path) -> Path:
    (path,) = out.glob("*/*/report.html")
    return path


# ------------------------------------------------------------------------------ the parsing


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find_all(self, tag: str, **attrs: str) -> list[Element]:
        found = []
        for child in self.children:
            if child.tag == tag and all(child.attrs.get(k) == v for k, v in attrs.items()):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    def all_text(self) -> str:
        return self.text + "".join(child.all_text() for child in self.children)


_VOID = {"meta", "br", "img", "link", "input", "hr", "col", "source", "wbr"}


class Page(HTMLParser):
    """An HTML page as a tree (html.parser: as a browser tokenises it)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.stack = [self.root]
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.tags.append((tag, element.attrs))
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.tags.append((tag, element.attrs))
        self.stack[-1].children.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(Element("#text", {}, data))


def _page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def _assert_self_contained(text: str) -> None:
    page = Page(text)
    tags = page.tags
    assert not [a for t, a in tags if t == "script"], "no script at all"
    assert not [t for t, _ in tags if t == "link"]
    assert not [a for t, a in tags if t == "img"]
    assert not [a for t, a in tags if t in ("iframe", "object", "embed")]
    assert "url(" not in text
    assert "@import" not in text
    assert not re.search(r"<script[^>]*\bsrc", text, re.I)
    assert not re.search(r'<img[^>]*src="http', text, re.I)
    for _, attrs in tags:
        assert not [k for k in attrs if k.startswith("on")], f"an event handler: {attrs}"
        for key in ("href", "src"):
            value = attrs.get(key, "")
            assert not value.lower().startswith(("javascript:", "data:")), value


# ------------------------------------------------------------------------------ the tests


def test_the_summary_matrix_has_a_cell_per_account_and_check(tmp_path: Path) -> None:
    result = _result()
    _since_last(result.accounts()[0])
    _write(tmp_path, result)
    page = _page(_report(tmp_path))
    (matrix,) = page.root.find_all("table", **{"class": "matrix"})
    rows = matrix.find_all("tr", **{"data-account": f"x:{HANDLE}"})
    assert len(rows) == 1
    assert len(matrix.find_all("tr")) == 3  # head + 2 accounts
    cells = {
        td.attrs["data-check"]: td for td in rows[0].find_all("td") if "data-check" in td.attrs
    }
    assert sorted(cells) == ["AUT001", "CRS001", "MOD002", "RSP001", "RSP002", "TON001"]
    assert {k: v.attrs["data-status"] for k, v in cells.items()} == {
        "AUT001": "existing",
        "CRS001": "incomplete",
        "MOD002": "not_applicable",
        "RSP001": "fail",
        "RSP002": "pass",
        "TON001": "error",
    }
    assert "st-fail" in cells["RSP001"].attrs["class"]
    assert f"fail {SHOWN_PER_CHECK + EXTRA}" in cells["RSP001"].all_text()
    assert "+3 new" in cells["RSP001"].all_text()
    assert "since last audit: 3 new" in rows[0].all_text()
    other = matrix.find_all("tr", **{"data-account": "x:AcmeUK"})[0]
    assert "first audit" in other.all_text()


def test_findings_are_capped_per_check_with_the_rest_in_the_csv(tmp_path: Path) -> None:
    _write(tmp_path)
    page = _page(_report(tmp_path))
    sections = page.root.find_all("section")
    assert len(sections) == 2
    (rsp001,) = sections[0].find_all("div", **{"data-check": "RSP001"})
    items = [li for li in rsp001.find_all("li") if "finding" in li.attrs.get("class", "")]
    assert len(items) == SHOWN_PER_CHECK
    (more,) = rsp001.find_all("p", **{"class": "more"})
    assert f"and {EXTRA} more in findings.csv" in " ".join(more.all_text().split())
    assert more.find_all("a", href="findings.csv")
    # The finding's state: suppressed with its reason, and in the baseline (existing).
    assert "state-suppressed" in items[0].attrs["class"]
    assert "help desk migration" in items[0].all_text()
    (aut001,) = sections[0].find_all("div", **{"data-check": "AUT001"})
    assert "existing" in aut001.all_text()
    # Passing and not applicable checks list nothing; incomplete and error ones say so.
    listed = {d.attrs["data-check"] for d in sections[0].find_all("div") if "data-check" in d.attrs}
    assert listed == {"RSP001", "CRS001", "TON001", "AUT001"}


def test_only_http_links_are_links(tmp_path: Path) -> None:
    _write(tmp_path)
    page = _page(_report(tmp_path))
    hrefs = [a.attrs["href"] for a in page.root.find_all("a")]
    assert "https://x.com/bob/status/2" in hrefs
    assert not [h for h in hrefs if "javascript" in h]
    assert "javascript:alert(3)" in page.root.all_text()  # shown as text


def test_outside_text_is_escaped_everywhere(tmp_path: Path) -> None:
    _write(tmp_path)
    text = _report(tmp_path).read_text(encoding="utf-8")
    _assert_self_contained(text)
    assert "<script>" not in text and "<img" not in text
    page = Page(text)
    shown = page.root.all_text()
    # The client name, the handle, post excerpts, reasons, errors: shown as text.
    assert shown.count(SCRIPT) >= 3 and shown.count(IMG) >= 3
    assert f"x:{HANDLE}" in shown
    assert page.root.find_all("title")[0].all_text().startswith(CLIENT)


def test_charts_are_inline_svg_with_their_text_escaped(tmp_path: Path) -> None:
    _write(tmp_path)
    text = _report(tmp_path).read_text(encoding="utf-8")
    svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)
    # Per account: the trend, the histogram and the heatmap.
    assert len(svgs) == 6
    ids = [ET.fromstring(svg).get("id") for svg in svgs]
    assert len(set(ids)) == len(ids)
    heatmap = next(svg for svg in svgs if "circle" in svg and "Activity" in svg)
    texts = [e.text for e in ET.fromstring(heatmap).iter() if e.text]
    assert SCRIPT in texts  # a row named <script>, as text in well-formed SVG
    captions = [f.all_text() for f in Page(text).root.find_all("figcaption")]
    assert captions[:3] == ["Tracked shares over the audits (%)", "First response", "Activity"]
    # The charts' CSS once per page, in the head.
    assert text.count(".pygal-chart .axis text{") == 1


def test_a_chart_that_cannot_be_drawn_says_why(tmp_path: Path) -> None:
    result = _result()
    bad = {"kind": "pie", "title": "t", "x": ["a"], "series": [{"name": "s", "values": [1]}]}
    result.accounts()[0].checks[1].metrics[CHARTS]["broken"] = bad
    _write(tmp_path, result)
    assert "could not be drawn: its kind &#39;pie&#39;" in _report(tmp_path).read_text()


def test_complaints_are_listed_once_with_their_reasons(tmp_path: Path) -> None:
    _write(tmp_path)
    section = _page(_report(tmp_path)).root.find_all("section")[0]
    (table,) = section.find_all("table", **{"class": "complaints"})
    rows = table.find_all("tbody")[0].find_all("tr")
    assert [r.find_all("td")[0].find_all("a")[0].all_text() for r in rows] == ["p2", "p4"]
    assert "negative tone" in rows[0].all_text() and f"word {SCRIPT}" in rows[0].all_text()
    assert SCRIPT in rows[0].all_text()  # its excerpt, from the finding
    assert "CRS001 judged 138 more posts" in section.all_text()


def test_complaints_beyond_the_cap_are_counted_and_left_to_the_json(tmp_path: Path) -> None:
    result = _result()
    many = [(f"c{i}", "complaint") for i in range(html.SHOWN_COMPLAINTS + 7)]
    result.accounts()[0].checks[3].metrics["judged_posts"] = _judged(many, len(many))
    _write(tmp_path, result)
    section = _page(_report(tmp_path)).root.find_all("section")[0]
    (table,) = section.find_all("table", **{"class": "complaints"})
    # p2 (from CRS001) first, then TON001's own, to the cap; the rest counted.
    assert len(table.find_all("tbody")[0].find_all("tr")) == html.SHOWN_COMPLAINTS
    assert "and 8 more posts called complaints" in section.all_text()


def test_the_same_result_renders_the_same_bytes(tmp_path: Path) -> None:
    for packed in (False, True):
        _write(tmp_path / f"a{packed}", _result((CLIENT, "Beta"), packed=packed))
        _write(tmp_path / f"b{packed}", _result((CLIENT, "Beta"), packed=packed))
    names = sorted(
        p.relative_to(tmp_path / "aFalse") for p in (tmp_path / "aFalse").rglob("*.html")
    )
    assert len(names) == 5  # two reports, two indexes, the overview
    for name in names:
        first = (tmp_path / "aFalse" / name).read_bytes()
        assert first == (tmp_path / "bFalse" / name).read_bytes()
        # Packed findings (from a worker) render as findings objects do.
        assert first == (tmp_path / "aTrue" / name).read_bytes()


def test_the_index_lists_every_report_of_the_client_newest_first(tmp_path: Path) -> None:
    starts = [STARTED + timedelta(days=7 * i) for i in (1, 0, 2)]
    for started in starts:
        _write(tmp_path, _result(started=started))
    (client_folder,) = tmp_path.iterdir()
    (client_folder / "20990101T000000Z-json-only").mkdir()  # a run without an HTML report
    _write(tmp_path, _result(started=STARTED - timedelta(days=7)))
    page = _page(client_folder / "index.html")
    links = [a.attrs["href"] for a in page.root.find_all("a")]
    expected = sorted((p.parent.name for p in client_folder.glob("*/report.html")), reverse=True)
    assert len(links) == 4
    assert links == [f"{name}/report.html" for name in expected]
    assert "2026-11-30T09:30:00+00:00" in page.root.find_all("tr")[1].all_text()
    assert "error" in page.root.find_all("tr")[1].all_text()
    for link in links:
        assert (client_folder / link).is_file()
    _assert_self_contained((client_folder / "index.html").read_text())


def test_the_overview_comes_only_with_several_clients(tmp_path: Path) -> None:
    _write(tmp_path / "one")
    assert not (tmp_path / "one" / "overview.html").exists()
    written = _write(tmp_path / "two", _result((CLIENT, "Beta")))
    overview = tmp_path / "two" / "overview.html"
    assert overview in written
    text = overview.read_text()
    _assert_self_contained(text)
    rows = Page(text).root.find_all("tbody")[0].find_all("tr")
    assert [r.attrs["data-client"] for r in rows] == [CLIENT, "Beta"]
    assert "RSP001" in rows[0].all_text() and "AUT001" not in rows[0].all_text()  # existing
    assert len(rows[0].find_all("span")) == 3  # the trend: three audits
    for row in rows:
        for a in row.find_all("a"):
            assert (tmp_path / "two" / a.attrs["href"]).is_file()


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    writer = WRITERS["html"](tmp_path, RunFolders(tmp_path))
    run = _result((CLIENT, "Beta"))
    writer.begin(run)
    for account in run.accounts():
        writer.account(account)
    writer.abort()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_html_brings_the_csv_it_points_at() -> None:
    assert file_formats(["html"]) == ["json", "html", "csv"]
    assert file_formats(["csv", "html", "terminal"]) == ["json", "csv", "html"]
    assert file_formats(["junit"]) == ["json", "junit"]


def test_auditor_run_demo_writes_html(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    out = tmp_path / "reports"
    code, _, err = run_cli(
        [
            "run",
            str(tmp_path / "config" / "demo.yaml"),
            "--format",
            "html",
            "--output",
            str(out),
            "-q",
        ]
    )
    assert code == 1, err
    reports = sorted(out.glob("*/*/report.html"))
    assert len(reports) == 2  # two clients
    for report in reports:
        assert (report.parent / "findings.csv").is_file()
        assert (report.parent / "report.json").is_file()
        assert (report.parent.parent / "index.html").is_file()
        text = report.read_text(encoding="utf-8")
        _assert_self_contained(text)
        assert Page(text).root.find_all("table", **{"class": "matrix"})
    assert (out / "overview.html").is_file()


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://x.com/a/status/1", True),
        ("HTTP://example.com/x", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("https:///nohost", False),
        ("//x.com/a", False),
        (None, False),
    ],
)
def test_link_takes_only_http_urls(url: str | None, linked: bool) -> None:
    assert (web_link(url) is not None) == linked
