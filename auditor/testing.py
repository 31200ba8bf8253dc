"""Test a check with data-driven cases, run through the real engine: for the built-in checks and
for plug-in authors (as SQLFluff ships its rule test utilities).

A case file is YAML. It names one check and lists cases; each case is one account's data and
what the check must conclude from it::

    # tests/cases/ACM001.yaml
    check: ACM001
    cases:
      - name: a signed reply passes
        posts:
          - {id: "1", author: ann, hours_before_end: 5, text: "@AcmeHelp my order is late"}
          - {id: "2", author: AcmeHelp, hours_before_end: 4, text: "@ann on it ^JD",
             in_reply_to: "1"}
        expect: {status: pass, flagged: []}
      - name: two replies over the limit fail
        params: {max_replies: 1}
        posts: [...]
        expect:
          status: fail
          flagged: ["3"]
          metrics: {replies: 2, signals.fast: 0}
          notes: ["a substring of one of the check's notes"]

The account is ``x:AcmeHelp`` (``BRAND``); a post whose author is ``AcmeHelp`` is the brand's.
A case may give:

- ``posts``: bundle post records without ``kind``, ``platform`` and ``account``. A post's time is
  ``hours_before_end`` (before ``END``, 0 unless given) or ``at`` (ISO 8601 with an offset);
  ``text`` and ``url`` have defaults; ``in_reply_to`` also sets the post's ``thread`` to the root
  of its reply chain. Any other key (``visibility``, ``automated``, ``source`` ...) is kept.
- ``conversations``: records of private conversations (``id``, ``customer``, ``messages`` timed
  like posts, ``by_brand`` false unless set; ``resolved_at`` or ``resolved_hours_before_end``;
  ``linked_post``).
- ``profile``: the profile record's fields (``bio``, ``website`` ...).
- ``window``: fields over the default window record (14 days up to ``END``, complete, observing
  deleted posts and conversations).
- ``params``: the check's parameters, over its defaults; ``policy``: any policy keys
  (``business_hours``, ``exclude_authors``, ``closing_phrases`` ...).

``expect`` holds the ``status`` (required), the evidence ids of the findings (``flagged``, any
order), ``metrics`` by dotted path ("business_minutes.median"; a number picks a list item) and
``notes`` (each a substring of some note).

Each case runs as ``auditor run`` runs an account: the records are written to a bundle, a config
names that account with the case's policy (only the check under test selected), the config is
loaded and validated against the registered checks (parameters included), and the engine audits
the bundle: needs, policy, severity and status are the engine's. In a plug-in's tests::

    from pathlib import Path

    import pytest

    from acme_checks.signoff import CHECK
    from auditor.testing import Case, assert_case, load_cases

    CASES = load_cases(Path(__file__).parent / "cases" / "ACM001.yaml")

    @pytest.mark.parametrize("case", CASES.cases, ids=CASES.names())
    def test_acm001(case: Case) -> None:
        assert_case(case, checks=[CHECK])

``checks`` is the registry to run against: a list of checks, a :class:`~auditor.registry.Registry`,
or, by default, every installed check. This module is a test utility above the engine: it may
import anything in ``auditor``; nothing in ``auditor`` imports it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from auditor.check import Check
from auditor.config import load_config
from auditor.engine.audit import Engine
from auditor.registry import Registry, load_registry
from auditor.result import CheckResult
from auditor.sources.bundle import write_bundle

__all__ = [
    "BRAND",
    "END",
    "PLATFORM",
    "Case",
    "CaseFile",
    "assert_case",
    "case_failures",
    "case_records",
    "iter_case_files",
    "load_cases",
    "metric_at",
    "run_case",
]

# The account every case audits, and the end of its window.
PLATFORM = "x"
BRAND = "AcmeHelp"
END = datetime(2026, 11, 16, tzinfo=UTC)
WINDOW_DAYS = 14


@dataclass(frozen=True)
class Case:
    """One case of a case file: its check, its name and its YAML mapping."""

    check: str
    name: str
    spec: Mapping[str, Any]

    @property
    def expect(self) -> Mapping[str, Any]:
        expect: Mapping[str, Any] = self.spec["expect"]
        return expect


@dataclass(frozen=True)
class CaseFile:
    path: Path
    check: str
    cases: list[Case]

    def names(self) -> list[str]:
        """An id per case, for ``pytest.mark.parametrize(ids=...)``."""
        return [case.name for case in self.cases]


def load_cases(path: Path) -> CaseFile:
    """Read a case file; a case without a name or an ``expect.status`` is refused."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("check"), str):
        raise ValueError(f"{path}: a case file is a mapping with 'check' and 'cases'")
    check = document["check"]
    cases = []
    for index, spec in enumerate(document.get("cases") or []):
        if not isinstance(spec, dict) or "name" not in spec:
            raise ValueError(f"{path}: case {index} has no name")
        if not isinstance(spec.get("expect"), dict) or "status" not in spec["expect"]:
            raise ValueError(f"{path}: case {spec['name']!r} has no expect.status")
        cases.append(Case(check, str(spec["name"]), spec))
    return CaseFile(path, check, cases)


def iter_case_files(directory: Path, pattern: str = "*.yaml") -> Iterator[CaseFile]:
    for path in sorted(directory.glob(pattern)):
        yield load_cases(path)


# ---------------------------------------------------------------------------------------------
# The account's records


def _iso(value: Any) -> str:
    # YAML reads an unquoted timestamp as a datetime.
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def _instant(spec: Mapping[str, Any], at_key: str, hours_key: str) -> str | None:
    """An instant given as ISO 8601 (``at_key``) or as hours before the window's end."""
    if spec.get(at_key) is not None:
        return _iso(spec[at_key])
    if hours_key in spec:
        return (END - timedelta(hours=spec[hours_key])).isoformat()
    return None


def _root(posts: Mapping[str, Mapping[str, Any]], post_id: str) -> str:
    seen = {post_id}
    parent = posts[post_id].get("in_reply_to")
    while parent in posts and parent not in seen:
        post_id = str(parent)
        seen.add(post_id)
        parent = posts[post_id].get("in_reply_to")
    return post_id


def _post(spec: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    fields = dict(spec)
    post_id, author = str(fields.pop("id")), fields.pop("author")
    created = _instant(fields, "at", "hours_before_end") or END.isoformat()
    fields.pop("at", None)
    fields.pop("hours_before_end", None)
    by_brand = author == BRAND
    record: dict[str, Any] = {
        "kind": "post",
        "platform": PLATFORM,
        "account": BRAND,
        "id": post_id,
        "author": author,
        "by_brand": by_brand,
        "created_at": created,
        "text": f"@{BRAND} help please" if not by_brand else "On it!",
        "url": f"https://x.com/{author}/status/{post_id}",
    }
    record.update({k: v for k, v in fields.items() if not (k == "text" and not v)})
    if fields.get("in_reply_to"):
        record["thread"] = _root(by_id, post_id)
    return record


def _conversation(spec: Mapping[str, Any]) -> dict[str, Any]:
    messages = [
        {
            "id": message.get("id", f"{spec['id']}-m{index}"),
            "by_brand": bool(message.get("by_brand", False)),
            "created_at": _instant(message, "at", "hours_before_end"),
            "text": message.get("text", ""),
        }
        for index, message in enumerate(spec.get("messages", []))
    ]
    record: dict[str, Any] = {
        "kind": "conversation",
        "platform": PLATFORM,
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


def case_records(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The bundle records of a case's account: profile, window, posts, conversations."""
    records: list[dict[str, Any]] = []
    if "profile" in spec:
        records.append(
            {"kind": "profile", "platform": PLATFORM, "account": BRAND, **spec["profile"]}
        )
    window: dict[str, Any] = {
        "kind": "window",
        "platform": PLATFORM,
        "account": BRAND,
        "window_start": (END - timedelta(days=WINDOW_DAYS)).isoformat(),
        "window_end": END.isoformat(),
        "complete": True,
        "observes": ["deleted", "conversations"],
        "fetched_at": END.isoformat(),
    }
    records.append({**window, **spec.get("window", {})})
    posts = spec.get("posts") or []
    by_id = {str(p["id"]): p for p in posts}
    records += [_post(p, by_id) for p in posts]
    records += [_conversation(c) for c in spec.get("conversations") or []]
    return records


# ---------------------------------------------------------------------------------------------
# Running a case


def _registry(checks: Registry | Iterable[Check] | None) -> Registry:
    if checks is None:
        return load_registry()
    if isinstance(checks, Registry):
        return checks
    return Registry((check, "auditor.testing") for check in checks)


def _config(case: Case, bundle: Path) -> dict[str, Any]:
    policy: dict[str, Any] = {**case.spec.get("policy", {}), "select": [case.check]}
    if case.spec.get("params"):
        policy["checks"] = {case.check: case.spec["params"]}
    account = {"platform": PLATFORM, "handle": BRAND, "source": str(bundle), "policy": policy}
    return {"clients": [{"name": "cases", "accounts": [account]}]}


def run_case(case: Case, checks: Registry | Iterable[Check] | None = None) -> CheckResult:
    """Audit a case's account with the engine, as ``auditor run`` would; the check's result."""
    registry = _registry(checks)
    with tempfile.TemporaryDirectory(prefix="auditor-case-") as folder:
        bundle = Path(folder) / "case.jsonl"
        write_bundle(bundle, case_records(case.spec))
        config_path = Path(folder) / "audit.yaml"
        config_path.write_text(yaml.safe_dump(_config(case, bundle), sort_keys=False))
        config = load_config(config_path, registry)
        result = Engine(config, registry, workers=1).run()
    (account,) = result.accounts()
    if not account.checks:
        raise AssertionError(f"{case.name}: the account was not audited: {account.errors}")
    (checked,) = account.checks
    return checked


def metric_at(metrics: Mapping[str, Any], key: str) -> Any:
    """A metric by dotted path: "business_minutes.median"; a number indexes a list."""
    value: Any = metrics
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def case_failures(result: CheckResult, expect: Mapping[str, Any]) -> list[str]:
    """How a check's result differs from a case's ``expect`` (nothing when it matches)."""
    failures = []
    if result.status != expect["status"]:
        failures.append(f"status {result.status!r}, expected {expect['status']!r}")
    if "flagged" in expect:
        flagged = sorted(f.evidence_id for f in result.findings)
        if flagged != sorted(str(i) for i in expect["flagged"]):
            failures.append(f"flagged {flagged}, expected {sorted(expect['flagged'])}")
    for key, wanted in (expect.get("metrics") or {}).items():
        try:
            value = metric_at(result.metrics, key)
        except (KeyError, IndexError, TypeError, ValueError):
            failures.append(f"metric {key} missing")
            continue
        if value != wanted:
            failures.append(f"metric {key} = {value!r}, expected {wanted!r}")
    for text in expect.get("notes") or []:
        if not any(text in note for note in result.notes):
            failures.append(f"no note contains {text!r}")
    return failures


def assert_case(case: Case, checks: Registry | Iterable[Check] | None = None) -> CheckResult:
    """Run a case and raise AssertionError, saying every difference, unless it gives what it
    expects; the result otherwise."""
    result = run_case(case, checks)
    failures = case_failures(result, case.expect)
    if failures:
        shown = json.dumps(
            {"summary": result.summary, "error": result.error, "notes": result.notes}, default=str
        )
        raise AssertionError(f"{case.check} case {case.name!r}: {'; '.join(failures)} ({shown})")
    return result
