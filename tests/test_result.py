"""Packed findings: what crosses from worker processes must read back the same."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import orjson

from auditor.check import Evidence, Finding
from auditor.engine.parallel import PackedFindings
from auditor.result import EncodedFindings, worst_severity


def _findings() -> list[Finding]:
    when = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    return [
        Finding(
            "RSP001",
            "x",
            "AcmeHelp",
            "1",
            "unanswered",
            "high",
            Evidence(("1",), (), ("https://x.com/a/status/1",), (when,), "late", {"age": 3}),
        ),
        Finding("PRF001", "x", "AcmeHelp", "profile", "no hours", "medium"),
    ]


def test_packed_findings_read_back_equal_and_pickle_as_bytes() -> None:
    findings = _findings()
    packed = PackedFindings.pack(findings)
    again = pickle.loads(pickle.dumps(packed))
    assert len(again) == 2 and list(again) == findings and again == findings
    assert again[0].uid == findings[0].uid and again[0].evidence.timestamps[0].tzinfo is not None
    assert orjson.loads(again.json) == orjson.loads(orjson.dumps(findings))


def test_worst_severity_is_known_without_decoding() -> None:
    packed = pickle.loads(pickle.dumps(PackedFindings.pack(_findings())))
    assert worst_severity(packed) == worst_severity(_findings()) == 3  # high
    assert packed._items is None  # nothing was decoded to learn it
    assert worst_severity([]) == worst_severity(PackedFindings.pack([])) == -1


def test_packed_findings_are_encoded_findings_and_plain_lists_are_not() -> None:
    assert isinstance(PackedFindings.pack(_findings()), EncodedFindings)
    assert not isinstance(_findings(), EncodedFindings)


def test_findings_and_evidence_pickle_as_plain_dataclasses() -> None:
    # No pickling hooks on the contract: the default dataclass pickling keeps every field,
    # the uid included.
    findings = _findings()
    assert not any("__reduce__" in vars(kind) for kind in (Finding, Evidence))
    again = pickle.loads(pickle.dumps(findings))
    assert again == findings and [f.uid for f in again] == [f.uid for f in findings]
