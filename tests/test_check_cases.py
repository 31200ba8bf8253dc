"""Every registered check: its docs, and its data-driven cases (tests/cases/<ID>.yaml).

As SQLFluff does for its rules, one test walks every check and one parametrised test runs every
case, so a new check is held to the same standard without a new test file. The cases run
through ``auditor.testing``, the harness plug-in authors use: the real engine, as ``auditor run``
audits an account.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from auditor.check import DOC_SECTIONS, Check, doc_section
from auditor.registry import load_registry
from auditor.testing import Case, assert_case, case_failures, iter_case_files, run_case

REGISTRY = load_registry()
CASES_DIR = Path(__file__).parent / "cases"
CASES = [case for cases in iter_case_files(CASES_DIR, "[A-Z]*[0-9].yaml") for case in cases.cases]
PENDING = [
    case
    for cases in iter_case_files(CASES_DIR.parent / "cases_pending", "[A-Z]*[0-9].yaml")
    for case in cases.cases
]


@pytest.mark.parametrize("check", list(REGISTRY), ids=lambda c: c.id)
def test_check_docs_have_every_section(check: Check) -> None:
    assert not check.missing_doc_sections(), f"{check.id} docs miss {check.missing_doc_sections()}"
    first_line = check.docs.strip().splitlines()[0]
    assert first_line.startswith(check.id), "the docs start with the check id and title"
    for name, spec in check.parameters.get("properties", {}).items():
        assert "default" in spec and spec.get("description"), f"{check.id}.{name} undocumented"


@pytest.mark.parametrize("check", list(REGISTRY), ids=lambda c: c.id)
def test_known_problems_are_written_for_this_check(check: Check) -> None:
    # Ruff's rule docs are the model: where this heuristic is wrong, in more than a line.
    known = doc_section(check.docs, "Known problems")
    assert len(known.split()) >= 40, f"{check.id}: Known problems says too little"
    others = [doc_section(c.docs, "Known problems") for c in REGISTRY if c.id != check.id]
    assert known not in others, f"{check.id}: Known problems copied from another check"


@pytest.mark.parametrize("check", list(REGISTRY), ids=lambda c: c.id)
def test_rationale_and_remediation_come_from_the_docs(check: Check) -> None:
    assert check.rationale and check.remediation
    why = " ".join(doc_section(check.docs, "Why it matters").split())
    fix = " ".join(doc_section(check.docs, "How to fix").split())
    assert why.startswith(check.rationale) and fix.startswith(check.remediation)


@pytest.mark.parametrize("check", list(REGISTRY), ids=lambda c: c.id)
def test_every_check_has_cases_that_flag_and_pass(check: Check) -> None:
    path = CASES_DIR / f"{check.id}.yaml"
    assert path.exists(), f"{check.id} has no data-driven cases in {path}"
    statuses = {case["expect"]["status"] for case in yaml.safe_load(path.read_text())["cases"]}
    assert {"pass", "fail"} <= statuses


def test_doc_sections_are_what_the_brief_names() -> None:
    assert DOC_SECTIONS == ("Why it matters", "Example", "How to fix", "Known problems")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.check}-{c.name}")
def test_case(case: Case) -> None:
    assert_case(case, REGISTRY)


@pytest.mark.parametrize("case", PENDING, ids=lambda c: f"{c.check}-{c.name}")
def test_pending_case_still_fails(case: Case) -> None:
    """A pending case (tests/cases_pending/README.md) that passes belongs in tests/cases."""
    assert case_failures(run_case(case, REGISTRY), case.expect), (
        f"{case.check} case {case.name!r} passes now: move it to tests/cases/{case.check}.yaml"
    )
