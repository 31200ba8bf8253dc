"""The terminal table said plainly: a unit on every figure, counts in the right number, no
summary cut, and a closing line with the run's totals and the reason for its exit code."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.reports.terminal import SUMMARY_WIDTH, render
from auditor.result import AccountResult, AuditResult, CheckResult, ClientResult, Coverage
from auditor.wording import business_minutes, count, part_of

from conftest import (
    WriteBundle,
    WriteConfig,
    healthy_account,
    neglected_account,
    read_reports,
    window,
)
from tests_support import run_cli

Audit = Callable[..., Path]
# The nouns the built-in checks count, in the plural: after a count of 1 none may appear.
PLURAL_NOUNS = (
    "posts|replies|responses|exchanges|threads|complaints|surges|nights|minutes|records|rows"
)
ONE_THEN_PLURAL = re.compile(rf"\b1 (?:[a-z-]+ )?(?:{PLURAL_NOUNS})\b")


@pytest.fixture
def audit(tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig) -> Audit:
    def make(acme: list[dict[str, Any]], globo: list[dict[str, Any]]) -> Path:
        acme_path = write_bundle_file("acme.jsonl", acme)
        globo_path = write_bundle_file("globo.jsonl", globo)
        return write_config(f"""
            output: {{dir: out}}
            store: {{path: out/history.sqlite}}
            clients:
              - name: acme
                accounts: [{{platform: x, handle: AcmeHelp, source: {acme_path}}}]
              - name: globo
                accounts: [{{platform: x, handle: GloboCare, source: {globo_path}}}]
        """)

    return make


def test_wording_helpers() -> None:
    assert count(1, "post") == "1 post" and count(0, "post") == "0 posts"
    assert count(2, "reply", "replies") == "2 replies"
    assert part_of(0, 1, "reply", "replies") == "0 of 1 reply"
    assert part_of(3, 138, "reply", "replies") == "3 of 138 replies"
    assert business_minutes(15.0833) == "15.1 business min"
    assert business_minutes(1094.28) == "1,094.3 business min"


def test_summaries_of_one_are_singular_and_every_figure_has_its_unit(
    audit: Audit, tmp_path: Path
) -> None:
    # One customer post, one reply: every count in the summaries is 1.
    config = audit(healthy_account(), healthy_account("GloboCare"))
    code, out, _ = run_cli(["run", str(config)])
    assert code == 0, out
    checks = read_reports(tmp_path / "out")["acme"]["accounts"][0]["checks"]
    summaries = {c["id"]: c["summary"] for c in checks}
    for check_id, summary in summaries.items():
        assert not ONE_THEN_PLURAL.search(summary), f"{check_id}: {summary}"
    assert summaries["RSP001"] == "0 of 1 customer post unanswered (100% answered)"
    assert summaries["AUT001"] == "0 of 1 reply automated (0%)"
    assert summaries["CRS001"] == "no complaint surge (peak 1 complaint an hour)"
    assert summaries["THR001"].startswith("0 of 1 public exchange ran past 4 brand replies")
    assert summaries["PRV001"].endswith(" in 0 of 1 public reply")
    # The median is a duration: it says its unit.
    assert re.search(r"median \d[\d,]*\.\d business min", summaries["RSP002"]), summaries
    assert not ONE_THEN_PLURAL.search(out)


def test_the_demo_table_says_every_count_in_the_right_number(tmp_path: Path) -> None:
    # A copy of the demo, so that its reports and history land in tmp_path.
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", tmp_path / "config")
    code, out, _ = run_cli(["run", str(tmp_path / "config" / "demo.yaml")])
    assert code == 1
    assert not ONE_THEN_PLURAL.search(out), ONE_THEN_PLURAL.findall(out)
    medians = [out[m.end() :] for m in re.finditer(r"\bmedian ", out)]
    assert medians and all(re.match(r"\d[\d,]*\.\d business min", m) for m in medians)


def _result(summary: str) -> AuditResult:
    check = CheckResult("RSP001", "Unanswered customer posts", "1", "high", "fail", summary)
    account = AccountResult(
        "acme", "x", "AcmeHelp", "fail", Coverage(posts=1), {"fail_on": "high"}, [check]
    )
    return AuditResult(
        tool_version="0",
        run_id="r",
        started_at=datetime(2026, 11, 16, tzinfo=UTC),
        config_path="audit.yaml",
        config_sha256="0",
        fail_on=None,
        checks={"RSP001": "1"},
        clients=[ClientResult("acme", [account])],
    )


def _summary_cell(table: str) -> tuple[str, list[str]]:
    """The summary column of the one row of ``table``, joined back, and its lines."""
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("id "))
    column = lines[header].index("summary")
    cell = [line[column:].rstrip() for line in lines[header + 2 :]]
    return " ".join(cell), cell


@pytest.mark.parametrize(
    "summary",
    [
        "5 of 111 first responses over 60 business minutes, median 15.1 business min",
        "0 of 24 privately resolved threads without a timely public follow-up (100% followed up)",
        "96% of 191 posts in the posted hours answered within 60 business minutes; silent on "
        "4 of 11 nights",
        "a summary of many words with no clause break at all that goes well past the column "
        "width and still ends on its key figure 42%",
    ],
)
def test_a_summary_is_wrapped_never_cut(summary: str) -> None:
    table = render(_result(summary))
    joined, lines = _summary_cell(table)
    assert "…" not in table
    assert joined == summary
    assert all(len(line) <= SUMMARY_WIDTH for line in lines)
    # Between clauses where it can: a figure stays on one line with its unit.
    if "median" in summary:
        assert any(line.lstrip().startswith("median 15.1 business min") for line in lines)


def test_closing_line_says_why_the_run_failed(audit: Audit) -> None:
    config = audit(healthy_account(), neglected_account())
    code, out, _ = run_cli(["run", str(config)])
    last = out.splitlines()[-1]
    assert code == 1
    assert last.startswith("2 accounts, 30 checks (")
    assert last.endswith("; exit 1: 2 findings at or above high in 1 account")


def test_closing_line_names_what_is_incomplete(audit: Audit) -> None:
    globo = healthy_account("GloboCare")
    globo[1] = window("GloboCare", complete=False, reason="mentions page 2 failed")
    code, out, _ = run_cli(["run", str(audit(healthy_account(), globo))])
    last = out.splitlines()[-1]
    assert code == 3
    assert "; exit 3: incomplete: x:GloboCare (" in last
    assert re.search(r"incomplete: x:GloboCare \([A-Z]+[0-9]{3}, ", last), last
    assert "x:AcmeHelp" not in last


def test_closing_line_counts_input_errors(audit: Audit, tmp_path: Path) -> None:
    config = audit(healthy_account(), neglected_account())
    (tmp_path / "globo.jsonl").unlink()
    code, out, _ = run_cli(["run", str(config)])
    assert code == 2
    assert out.splitlines()[-1].endswith(
        "; exit 2: 1 input error (listed above); not audited: x:GloboCare"
    )


def test_closing_line_of_a_clean_run_and_none_when_quiet(audit: Audit) -> None:
    config = audit(healthy_account(), healthy_account("GloboCare"))
    code, out, _ = run_cli(["run", str(config)])
    assert code == 0 and out.splitlines()[-1].endswith("; exit 0: no finding at or above high")
    code, out, _ = run_cli(["run", str(config), "-q"])
    assert code == 0 and out == ""
