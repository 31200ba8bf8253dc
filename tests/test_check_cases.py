"""Every registered check: its docs, and its data-driven cases (tests/cases/<ID>.yaml).

As SQLFluff does for its rules, one test walks every check and one parametrised test runs every
case, so a new check is held to the same standard without a new test file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.check import DOC_SECTIONS, AuditContext
from auditor.engine.audit import run_check
from auditor.model import AccountData, AccountKey
from auditor.registry import load_registry
from auditor.sources.bundle import add_record

from conftest import END, post, window

REGISTRY = load_registry()
CASES_DIR = Path(__file__).parent / "cases"
BRAND = "AcmeHelp"


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("[A-Z]*[0-9].yaml")):
        document = yaml.safe_load(path.read_text())
        for case in document["cases"]:
            params.append(pytest.param(document["check"], case, id=f"{path.stem}-{case['name']}"))
    return params


@pytest.mark.parametrize("check", list(REGISTRY), ids=lambda c: c.id)
def test_check_docs_have_every_section(check):
    assert not check.missing_doc_sections(), f"{check.id} docs miss {check.missing_doc_sections()}"
    assert check.title and check.rationale and check.remediation
    first_line = check.docs.strip().splitlines()[0]
    assert first_line.startswith(check.id), "the docs start with the check id and title"
    for name, spec in check.parameters.get("properties", {}).items():
        assert "default" in spec and spec.get("description"), f"{check.id}.{name} undocumented"


@pytest.mark.parametrize("check", list(REGISTRY), ids=lambda c: c.id)
def test_every_check_has_cases_that_flag_and_pass(check):
    path = CASES_DIR / f"{check.id}.yaml"
    assert path.exists(), f"{check.id} has no data-driven cases in {path}"
    statuses = {case["expect"]["status"] for case in yaml.safe_load(path.read_text())["cases"]}
    assert {"pass", "fail"} <= statuses


def test_doc_sections_are_what_the_brief_names():
    assert DOC_SECTIONS == ("Why it matters", "Example", "How to fix")


def build_account(case: dict[str, Any]) -> AccountData:
    data = AccountData(key=AccountKey("x", BRAND))
    if "profile" in case:
        add_record(data, {"kind": "profile", "platform": "x", "account": BRAND, **case["profile"]})
    add_record(data, window(BRAND, **case.get("window", {})))
    ids = {p["id"] for p in case.get("posts", [])}
    for spec in case.get("posts", []):
        spec = dict(spec)
        # A post's time: "hours_before_end", or "at", an ISO 8601 instant with its offset.
        at = spec.pop("at", None)
        hours = spec.pop("hours_before_end", 0)
        parent = spec.get("in_reply_to")
        record = post(spec.pop("id"), spec.pop("author"), hours, account=BRAND, **spec)
        if at is not None:
            record["created_at"] = at if isinstance(at, str) else at.isoformat()
        if parent:
            assert parent in ids
            record["thread"] = _root(case["posts"], parent)
        add_record(data, record)
    for spec in case.get("conversations", []):
        add_record(data, conversation(spec))
    return data


def _instant(spec: dict[str, Any], at_key: str, hours_key: str) -> str | None:
    """An instant given as an ISO 8601 string (``at_key``) or as hours before the window's end."""
    if at_key in spec and spec[at_key] is not None:
        value = spec[at_key]
        return value if isinstance(value, str) else value.isoformat()
    if hours_key in spec:
        return (END - timedelta(hours=spec[hours_key])).isoformat()
    return None


def conversation(spec: dict[str, Any]) -> dict[str, Any]:
    """A conversation record from a case: messages timed like posts ("at" or
    "hours_before_end"), ``by_brand`` false unless set; ``resolved_at`` (ISO 8601) or
    ``resolved_hours_before_end``; ``linked_post`` and ``customer`` as in the bundle."""
    messages = []
    for index, message in enumerate(spec.get("messages", [])):
        messages.append(
            {
                "id": message.get("id", f"{spec['id']}-m{index}"),
                "by_brand": bool(message.get("by_brand", False)),
                "created_at": _instant(message, "at", "hours_before_end"),
                "text": message.get("text", ""),
            }
        )
    record: dict[str, Any] = {
        "kind": "conversation",
        "platform": "x",
        "account": BRAND,
        "id": spec["id"],
        "customer": spec["customer"],
        "messages": messages,
    }
    resolved = _instant(spec, "resolved_at", "resolved_hours_before_end")
    if resolved is not None:
        record["resolved_at"] = resolved
    if spec.get("linked_post") is not None:
        record["linked_post"] = spec["linked_post"]
    return record


def _root(posts: list[dict[str, Any]], post_id: str) -> str:
    by_id = {p["id"]: p for p in posts}
    while by_id[post_id].get("in_reply_to"):
        post_id = by_id[post_id]["in_reply_to"]
    return post_id


@pytest.mark.parametrize("check_id,case", _cases())
def test_case(check_id: str, case: dict[str, Any]) -> None:
    from auditor.engine.audit import _needs_unmet, effective_window

    check = REGISTRY.get(check_id)
    data = build_account(case)
    win = effective_window(data)
    assert win is not None and win.end == END and win.end - win.start == timedelta(days=14)
    expect = case["expect"]
    unmet = _needs_unmet(check, data, win, history=False)
    if unmet is not None:
        assert expect["status"] == "not_applicable", unmet
        return
    policy = {"exclude_authors": frozenset(case.get("policy", {}).get("exclude_authors", []))}
    policy.update({k: v for k, v in case.get("policy", {}).items() if k != "exclude_authors"})
    context = AuditContext(
        account=data,
        window=win,
        check=check,
        params={**check.defaults, **case.get("params", {})},
        severity=check.severity,
        policy=policy,
    )
    result = run_check(check, context, data_complete=win.complete)
    assert result.error is None, result.error
    assert result.status == expect["status"], result.summary
    if "flagged" in expect:
        assert sorted(f.evidence_id for f in result.findings) == sorted(expect["flagged"])
    for key, value in expect.get("metrics", {}).items():
        assert metric(result.metrics, key) == value, key
    for text in expect.get("notes", []):
        assert any(text in note for note in result.notes), (text, result.notes)


def metric(metrics: dict[str, Any], key: str) -> Any:
    """A metric by dotted path: "business_minutes.median" reads a nested value."""
    value: Any = metrics
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value
