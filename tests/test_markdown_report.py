"""The Markdown report: report.md per client (header, summary matrix, the checks to act on with
a few findings each), overview.md for several clients; every outside value plain text in
GitHub's renderer (rendered here by markdown-it, CommonMark with GFM tables); streamed, written
whole or not at all, the same bytes for the same result; and through the real command line."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from readable_results import account, audit, check, findings

from auditor.reports import file_formats
from auditor.reports.markdown import FILE_NAME, OVERVIEW_NAME, MarkdownReports, markdown_text
from auditor.reports.stream import write_result
from auditor.reports.summary import SHOWN_PER_CHECK
from auditor.result import AuditResult
from auditor.untrusted import escape_controls

from conftest import run_auditor

REPO = Path(__file__).resolve().parents[1]
# CommonMark with GitHub's tables and strikethrough; raw HTML allowed, as GitHub allows some.
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
WORD_JOINER = "\u2060"

HOSTILE_TEXTS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "![x](http://evil.example/pixel.png)",
    "[click me](https://evil.example)",
    "| col | another |",
    "line one\n# heading\n- item\n1. item",
    "@everyone see #12 at www.evil.example or http://evil.example",
    "*bold* _em_ `code` ~~gone~~ &lt; $x^2$ <http://evil.example>",
    "---",
    "\x1b[2J cleared",
]


def _rendered(markdown: str) -> str:
    return str(RENDERER.render(markdown))


def _shown(value: str) -> str:
    """What a reader sees of a value: one line, control characters written out."""
    return escape_controls(" ".join(value.split()))


@pytest.mark.parametrize("hostile", HOSTILE_TEXTS)
def test_a_hostile_value_renders_as_its_own_text(hostile: str) -> None:
    escaped = markdown_text(hostile)
    paragraph = _rendered(escaped).replace(WORD_JOINER, "")
    assert paragraph == f"<p>{html.escape(_shown(hostile), quote=False)}</p>\n"
    table = _rendered(f"| a | b |\n| --- | --- |\n| {escaped} | after |\n")
    assert table.count("<td>") == 2 and "<td>after</td>" in table
    assert "://" not in escaped.replace("\\://", "") and "www." not in escaped  # no autolink
    assert "@" not in escaped.replace("@" + WORD_JOINER, "")  # no mention


@given(st.text(min_size=1, max_size=60).filter(lambda s: s.split()))
def test_any_text_renders_as_itself_in_a_table_cell(value: str) -> None:
    cell = _rendered(f"| a |\n| --- |\n| {markdown_text(value)} |\n")
    body = cell.split("<tbody>")[1]
    assert body.count("<td>") == 1
    text = body.split("<td>")[1].split("</td>")[0]
    assert html.unescape(text).replace(WORD_JOINER, "") == _shown(value).replace(WORD_JOINER, "")


def _two_accounts() -> AuditResult:
    many = findings("RSP001", "GloboCare", SHOWN_PER_CHECK + 212)
    globo = account(
        "Acme",
        "GloboCare",
        [
            check("RSP001", "fail", many, title="Unanswered customer posts"),
            check("RSP002", "incomplete", title="First response time"),
            check("PRF001", "pass", title="Response hours posted"),
            check("TON001", "error", title="Defensive replies"),
        ],
        new=[many[0].uid, many[1].uid, many[2].uid],
        errors=["the bundle ended early"],
    )
    healthy = account(
        "Acme", "AcmeHelp", [check("RSP001", "pass"), check("PRF001", "not_applicable")]
    )
    return audit([healthy, globo])


def _write(result: AuditResult, out: Path) -> list[Path]:
    return write_result(result, MarkdownReports(out))


def test_the_report_has_a_header_a_matrix_and_the_checks_to_act_on(tmp_path: Path) -> None:
    result = _two_accounts()
    (path,) = _write(result, tmp_path)
    assert path.name == FILE_NAME and path.parent.parent.parent == tmp_path
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Social care audit: Acme"
    assert f"- Run: {markdown_text(result.run_id)}" in lines
    assert "- Started: 2026-11-16T09:00:00+00:00" in lines
    assert "- Finished: 2026-11-16T09:05:00+00:00" in lines
    assert "- Status: **error**" in lines
    matrix = lines[lines.index("## Summary") + 2 : lines.index("## Summary") + 6]
    assert matrix == [
        "| account | status | PRF001 | RSP001 | RSP002 | TON001 |",
        "| --- | --- | --- | --- | --- | --- |",
        "| x:AcmeHelp | pass | n/a | pass | - | - |",
        "| x:GloboCare | error | pass | fail: 222 findings, 3 new | incomplete | error |",
    ]
    assert "- x:GloboCare: since last audit: 3 new, 0 resolved, 0 still open" in lines
    # The healthy account has a section saying so; the other lists what to act on, in order.
    sections = [line for line in lines if line.startswith(("## x", "### "))]
    assert sections == [
        "## x:AcmeHelp: pass",
        "## x:GloboCare: error",
        "### RSP001 Unanswered customer posts: fail (high)",
        "### RSP002 First response time: incomplete (high)",
        "### TON001 Defensive replies: error (high)",
    ]
    assert "No check failed, was incomplete or had an error." in lines
    assert "- Error: the bundle ended early" in lines
    rendered = _rendered(text)
    assert "<table>" in rendered and "<script" not in rendered


def test_findings_are_capped_per_check_pointing_at_the_csv(tmp_path: Path) -> None:
    (path,) = _write(_two_accounts(), tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith("| high | open |")]
    assert len(rows) == SHOWN_PER_CHECK
    assert "And 212 more in findings.csv." in lines
    assert rows[0].endswith("| [post](https://x.com/c/status/0) |")
    # The CSV it points at is written whenever Markdown is.
    assert file_formats(["markdown"]) == ["json", "markdown", "csv"]
    assert file_formats(["markdown", "csv"]) == ["json", "markdown", "csv"]
    assert file_formats(["terminal", "junit"]) == ["json", "junit"]


def test_every_outside_value_is_plain_text_in_the_whole_report(tmp_path: Path) -> None:
    hostile = " ".join(HOSTILE_TEXTS)
    evil_links = ["javascript:alert(1)", "data:text/html,<script>", "https://x.com/a?(b)|c <d>"]
    found = [
        f
        for n, url in enumerate(evil_links)
        for f in findings("RSP001", f"h{n}", 1, excerpt=hostile, url=url)
    ]
    checks = [check("RSP001", "fail", found, title=hostile)]
    result = audit([account(hostile, hostile, checks, errors=[hostile])])
    (path,) = _write(result, tmp_path)
    text = path.read_text(encoding="utf-8")
    rendered = _rendered(text)
    for tag in ("<script", "<img", "<h2>#", "<em>", "<code>", "<del>", "<li>item"):
        assert tag not in rendered, tag
    # One link only: the https post, percent-encoded so that nothing in it ends the link.
    assert rendered.count("<a ") == 1
    assert '<a href="https://x.com/a?%28b%29%7Cc%20%3Cd%3E">post</a>' in rendered
    # Headings are the report's own; every table row has its header's number of cells.
    headings = [rendered.count(f"<h{level}>") for level in range(1, 7)]
    assert headings == [1, 2, 1, 0, 0, 0]  # the title; Summary, the account; its check
    assert "<h3>RSP001 &lt;script&gt;alert(1)&lt;/script&gt; &lt;img" in rendered
    for table in rendered.split("<table>")[1:]:
        head, body = table.split("</thead>")
        widths = {row.count("<td>") for row in body.split("<tr>")[1:]}
        assert widths == {head.count("<th>")}, table
    assert "\x1b" not in text and "\\x1b\\[2J cleared" in text


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    result = _two_accounts()
    writer = MarkdownReports(tmp_path / "out")
    writer.begin(result)
    for each in result.accounts():
        writer.account(each)
    writer.abort()
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_the_same_result_gives_the_same_bytes(tmp_path: Path) -> None:
    result = _two_accounts()
    (first,) = _write(result, tmp_path / "first")
    (second,) = _write(result, tmp_path / "second")
    assert first.read_bytes() == second.read_bytes()


def test_an_overview_only_with_several_clients_linking_each_report(tmp_path: Path) -> None:
    one = _write(_two_accounts(), tmp_path / "one")
    assert len(one) == 1 and not (tmp_path / "one" / OVERVIEW_NAME).exists()
    clients = [
        account("Acme Co", "AcmeHelp", [check("RSP001", "pass")], trend=["fail", "pass"]),
        account("Globo (UK)", "GloboCare", [check("RSP001", "fail"), check("AUT001", "fail")]),
    ]
    written = _write(audit(clients), tmp_path / "two")
    overview = tmp_path / "two" / OVERVIEW_NAME
    assert written[-1] == overview and len(written) == 3
    lines = overview.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[:4] for row in rows] == [
        ["| Acme Co", "pass", "none", "fail -\\> pass"],
        ["| Globo \\(UK\\)", "fail", "AUT001, RSP001", "no history"],
    ]
    links = [row.split("[report](")[1].removesuffix(") |") for row in rows]
    assert [(overview.parent / unquote(link)).resolve() for link in links] == [
        p.resolve() for p in written[:2]
    ]
    assert all(" " not in link and "(" not in link for link in links)


def test_auditor_run_writes_markdown_for_the_demo(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    process = run_auditor(
        "run", "config/demo.yaml", "--format", "markdown", "--output", "out", cwd=tmp_path
    )
    assert process.returncode == 1, process.stderr
    out = tmp_path / "out"
    reports = sorted(out.rglob(FILE_NAME))
    assert len(reports) == 2  # the demo's two clients
    for report in reports:
        assert {p.name for p in report.parent.iterdir()} == {
            "report.json",
            FILE_NAME,
            "findings.csv",
        }
        text = report.read_text(encoding="utf-8")
        assert text.startswith("# Social care audit: ") and "## Summary" in text
        assert "<" not in text.replace("\\<", "")  # no HTML at all
    overview = (out / OVERVIEW_NAME).read_text(encoding="utf-8")
    assert "Driftly Outdoor" in overview and "Helio Mobile" in overview
    assert f"wrote {Path('out', OVERVIEW_NAME)}" in process.stdout.splitlines()
