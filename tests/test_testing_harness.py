"""auditor.testing, the case harness plug-in authors use: it runs a case through the engine and
fails when the check does not do what the case expects; and a plug-in written against today's
names (a JSON Schema for its parameters, its own rationale and remediation) registers, from a
folder or an entry point, and passes its own case file through it."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from auditor.config import ConfigError
from auditor.registry import load_registry
from auditor.testing import (
    BRAND,
    END,
    Case,
    assert_case,
    case_records,
    load_cases,
    run_case,
)

PLUGIN = '''
"""LOC001 Brand posts over a limit.

## Why it matters
Tests.

## Example
None.

## How to fix
Nothing.
"""
from auditor.check import AuditContext, Check, CheckOutput, Evidence, Finding, Needs
from auditor.model import Post


def _finding(ctx: AuditContext, post: Post) -> Finding:
    return ctx.finding(post.id, "too many", evidence=Evidence(post_ids=(post.id,)))


def run(ctx: AuditContext) -> CheckOutput:
    brand = [p for p in ctx.account.posts if p.by_brand]
    limit = ctx.params["max_brand_posts"]
    return CheckOutput(
        findings=[_finding(ctx, p) for p in brand[limit:]],
        metrics={"brand_posts": len(brand), "limit": limit},
        summary=f"{len(brand)} brand posts",
    )


CHECK = Check(
    id="LOC001",
    title="Counts",
    version="0.1",
    severity="low",
    rationale="Plug-ins may still say why.",
    remediation="And how to fix it.",
    docs=__doc__,
    run=run,
    needs=Needs(posts=True, complete_window=True),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "properties": {"max_brand_posts": {"type": "integer", "minimum": 0, "default": 1}},
    },
)
'''

PLUGIN_CASES = """
check: LOC001
cases:
  - name: one brand post is within the default limit
    posts:
      - {id: "1", author: ann, hours_before_end: 5}
      - {id: "2", author: AcmeHelp, hours_before_end: 4, in_reply_to: "1"}
    expect: {status: pass, flagged: [], metrics: {brand_posts: 1, limit: 1}}
  - name: the second brand post is over it
    posts:
      - {id: "1", author: ann, hours_before_end: 5}
      - {id: "2", author: AcmeHelp, hours_before_end: 4, in_reply_to: "1"}
      - {id: "3", author: AcmeHelp, hours_before_end: 3, in_reply_to: "2"}
    expect: {status: fail, flagged: ["3"]}
  - name: the limit is a parameter
    params: {max_brand_posts: 2}
    posts:
      - {id: "2", author: AcmeHelp, hours_before_end: 4}
      - {id: "3", author: AcmeHelp, hours_before_end: 3}
    expect: {status: pass, metrics: {limit: 2}}
  - name: the engine holds the check to its needs
    window: {complete: false}
    posts:
      - {id: "2", author: AcmeHelp, hours_before_end: 4}
    expect: {status: incomplete}
"""


def _plugin_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "counting.py").write_text(PLUGIN)
    (tmp_path / "LOC001.yaml").write_text(PLUGIN_CASES)
    return folder


def test_a_plugin_from_a_checks_folder_passes_its_own_cases(tmp_path: Path) -> None:
    registry = load_registry([_plugin_folder(tmp_path)])
    check = registry.get("LOC001")
    assert (check.rationale, check.remediation) == (
        "Plug-ins may still say why.",
        "And how to fix it.",
    )
    cases = load_cases(tmp_path / "LOC001.yaml")
    assert cases.check == "LOC001" and len(cases.cases) == 4
    results = [assert_case(case, registry) for case in cases.cases]
    assert [r.status for r in results] == ["pass", "fail", "pass", "incomplete"]
    assert "not fully fetched" in results[3].summary


def test_a_plugin_from_an_entry_point_passes_its_own_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    info = site / "loc_checks-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "loc_checks.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loc-checks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[social_care_auditor.checks]\nLOC001 = loc_checks:CHECK\n"
    )
    (tmp_path / "LOC001.yaml").write_text(PLUGIN_CASES)
    monkeypatch.syspath_prepend(str(site))
    registry = load_registry()
    assert "LOC001" in registry and "RSP001" in registry
    for case in load_cases(tmp_path / "LOC001.yaml").cases:
        assert_case(case, registry)


def test_the_check_list_form_registers_the_checks_given(tmp_path: Path) -> None:
    registry = load_registry([_plugin_folder(tmp_path)])
    case = load_cases(tmp_path / "LOC001.yaml").cases[1]
    assert assert_case(case, [registry.get("LOC001")]).findings[0].evidence_id == "3"


def _case(**spec: object) -> Case:
    return Case("LOC001", "made here", spec)


@pytest.mark.parametrize(
    "expect,complaint",
    [
        ({"status": "pass"}, "status 'fail', expected 'pass'"),
        ({"status": "fail", "flagged": ["2"]}, "flagged ['3'], expected ['2']"),
        ({"status": "fail", "metrics": {"brand_posts": 3}}, "metric brand_posts = 2, expected 3"),
        ({"status": "fail", "metrics": {"nope.deeper": 1}}, "metric nope.deeper missing"),
        ({"status": "fail", "notes": ["never said"]}, "no note contains 'never said'"),
    ],
)
def test_a_case_that_expects_otherwise_fails(
    tmp_path: Path, expect: dict[str, object], complaint: str
) -> None:
    registry = load_registry([_plugin_folder(tmp_path)])
    posts = [
        {"id": "1", "author": "ann", "hours_before_end": 5},
        {"id": "2", "author": BRAND, "hours_before_end": 4, "in_reply_to": "1"},
        {"id": "3", "author": BRAND, "hours_before_end": 3, "in_reply_to": "2"},
    ]
    with pytest.raises(AssertionError) as raised:
        assert_case(_case(posts=posts, expect=expect), registry)
    assert complaint in str(raised.value) and "made here" in str(raised.value)


def test_parameters_go_through_config_validation(tmp_path: Path) -> None:
    registry = load_registry([_plugin_folder(tmp_path)])
    case = _case(params={"max_brand_posts": -1}, expect={"status": "pass"})
    with pytest.raises(ConfigError, match=r"LOC001\.max_brand_posts"):
        run_case(case, registry)


def test_policy_and_severity_come_from_the_config(tmp_path: Path) -> None:
    registry = load_registry([_plugin_folder(tmp_path)])
    posts = [{"id": "2", "author": BRAND}, {"id": "3", "author": BRAND}]
    result = run_case(
        _case(posts=posts, policy={"severity": {"LOC001": "high"}}, expect={"status": "fail"}),
        registry,
    )
    assert result.severity == "high" and result.status == "fail"


def test_case_records_time_posts_and_root_their_threads() -> None:
    records = case_records(
        {
            "profile": {"bio": "hello"},
            "window": {"complete": False},
            "posts": [
                {"id": "1", "author": "ann", "hours_before_end": 2},
                {"id": "2", "author": BRAND, "at": "2026-11-15T23:00:00+00:00", "in_reply_to": "1"},
                {"id": "3", "author": "ann", "in_reply_to": "2", "text": "thanks"},
            ],
            "conversations": [
                {"id": "c", "customer": "ann", "messages": [{"hours_before_end": 1}]}
            ],
        }
    )
    kinds = [r["kind"] for r in records]
    assert kinds == ["profile", "window", "post", "post", "post", "conversation"]
    assert records[1]["complete"] is False and records[1]["window_end"] == END.isoformat()
    first, reply, last = records[2:5]
    assert first["created_at"] == "2026-11-15T22:00:00+00:00" and "thread" not in first
    assert first["text"] == f"@{BRAND} help please" and reply["by_brand"] is True
    assert reply["created_at"] == "2026-11-15T23:00:00+00:00" and reply["thread"] == "1"
    assert last["thread"] == "1" and last["text"] == "thanks"
    assert records[5]["messages"][0]["id"] == "c-m0"


def test_a_case_file_without_expectations_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "BAD001.yaml"
    path.write_text(
        textwrap.dedent("""
        check: BAD001
        cases:
          - name: forgot what to expect
            posts: []
    """)
    )
    with pytest.raises(ValueError, match=r"has no expect\.status"):
        load_cases(path)


def test_nothing_in_auditor_imports_the_harness() -> None:
    package = Path(__file__).parent.parent / "auditor"
    importers = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "testing.py" and path.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            ) + ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "auditor":
                names += [f"auditor.{alias.name}" for alias in node.names]
            if any(n == "auditor.testing" or n.startswith("auditor.testing.") for n in names):
                importers.append(str(path.relative_to(package)))
    assert importers == []
