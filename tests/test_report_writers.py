"""The CSV, JUnit and SARIF writers on result objects made here: nothing is left by an abort
or a failed write, packed findings (JSON from a worker) give the same files as objects, every
check status maps as the issue says, and the one hook that decides a finding's state
(suppressed, baselined) reaches all three formats."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
import xmlschema
from jsonschema import Draft7Validator

from auditor.check import Evidence, Finding
from auditor.engine.parallel import PackedFindings
from auditor.reports import WRITERS, Reports, RunFolders, findings, write_result
from auditor.reports.stream import ReportWriter
from auditor.result import AccountResult, AuditResult, CheckInfo, CheckResult, Coverage

DATA = Path(__file__).parent / "data" / "report_formats"
FILE_WRITERS = ("csv", "junit", "sarif")
STARTED = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)


def _finding(evidence_id: str, message: str = "unanswered for 3 days") -> Finding:
    return Finding(
        "RSP001",
        "x",
        "AcmeHelp",
        evidence_id,
        message,
        "high",
        Evidence(post_ids=(evidence_id,), urls=(f"https://x.com/bob/status/{evidence_id}",)),
    )


def _checks(packed: bool = False) -> list[CheckResult]:
    found = [_finding("1"), _finding("2", "=cmd|' /C calc'!A0")]
    return [
        CheckResult(
            "RSP001",
            "Unanswered customer posts",
            "1",
            "high",
            "fail",
            "2 unanswered",
            PackedFindings.pack(found) if packed else found,
        ),
        CheckResult("RSP002", "First response time", "1", "medium", "pass", "all in time"),
        CheckResult("MOD002", "Hidden complaints", "1", "high", "not_applicable", "not observed"),
        CheckResult("CRS001", "Complaint surge", "1", "high", "incomplete", "posts lost"),
        CheckResult("TON001", "Defensive replies", "1", "medium", "error", "raised", error="boom"),
    ]


def _result(packed: bool = False) -> AuditResult:
    account = AccountResult(
        "Acme",
        "x",
        "AcmeHelp",
        "error",
        Coverage(),
        {"fail_on": "high"},
        checks=_checks(packed),
        config_line=7,
    )
    result = AuditResult(
        tool_version="0.1.0",
        run_id="a1b2c3d4e5f6",
        started_at=STARTED,
        config_path="audit.yaml",
        config_sha256="0" * 64,
        fail_on=None,
        checks={"RSP001": "1"},
        check_info={"RSP001": CheckInfo("Unanswered customer posts", "high", "Why.", "Reply.")},
        clients=[],
    )
    result.add(account, keep=True)
    result.finished_at = STARTED
    return result


def _writer(name: str, out: Path) -> ReportWriter:
    return WRITERS[name](out, RunFolders(out))


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", FILE_WRITERS)
def test_abort_leaves_nothing(tmp_path: Path, name: str) -> None:
    writer = _writer(name, tmp_path / "out")
    run = _result()
    writer.begin(run)
    for account in run.accounts():
        writer.account(account)
    writer.abort()
    assert _leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("name", FILE_WRITERS)
def test_a_write_that_fails_half_way_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    copy: Callable[[findings.ClientSpool, str, IO[bytes]], None] = findings.ClientSpool.copy

    def fail_half_way(spool: findings.ClientSpool, client: str, stream: IO[bytes]) -> None:
        copy(spool, client, stream)
        raise OSError("disk full")

    monkeypatch.setattr(findings.ClientSpool, "copy", fail_half_way)
    with pytest.raises(OSError, match="disk full"):
        write_result(_result(), _writer(name, tmp_path / "out"))
    # The run folder may exist (made before the write); no file is in it, not even a temporary.
    assert _leftovers(tmp_path / "out") == []


def test_a_writer_failing_at_the_end_aborts_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: object, *args: object) -> None:
        raise OSError("no space")

    monkeypatch.setattr(findings.ClientSpool, "copy", refuse)
    out = tmp_path / "out"
    folders = RunFolders(out)
    reports = Reports([WRITERS[name](out, folders) for name in ("csv", "junit", "sarif")])
    run = _result()
    reports.begin(run)
    for account in run.accounts():
        reports.account(account)
    with pytest.raises(OSError, match="no space"):
        reports.end(run)
    assert _leftovers(out) == []


def _written(out: Path, packed: bool) -> dict[str, bytes]:
    folders = RunFolders(out)
    files: dict[str, bytes] = {}
    for name in FILE_WRITERS:
        (path,) = write_result(_result(packed), WRITERS[name](out, folders))
        files[path.name] = path.read_bytes()
    return files


def test_packed_findings_give_the_files_objects_give(tmp_path: Path) -> None:
    assert _written(tmp_path / "packed", True) == _written(tmp_path / "objects", False)


def test_every_status_maps_to_its_junit_element(tmp_path: Path) -> None:
    (path,) = write_result(_result(), _writer("junit", tmp_path))
    xmlschema.XMLSchema(str(DATA / "junit-10.xsd")).validate(str(path))
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    outcomes = {
        str(case.get("name")).split()[0]: [e.tag for e in case] for case in suite.iter("testcase")
    }
    assert outcomes == {
        "RSP001": ["failure"],
        "RSP002": [],
        "MOD002": ["skipped"],
        "CRS001": ["error"],
        "TON001": ["error"],
    }
    assert [suite.get(k) for k in ("tests", "failures", "errors", "skipped")] == [
        "5",
        "1",
        "2",
        "1",
    ]


def test_a_suppressed_finding_is_marked_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook ``finding_state`` is the one place the writers ask: what it says of a finding
    reaches CSV, JUnit and SARIF alike."""

    def suppressed(check: CheckResult, finding: findings.FindingRow) -> findings.FindingState:
        return findings.FindingState("suppressed", "accepted until the migration (ops)")

    for module in ("csv_report", "junit", "sarif"):
        monkeypatch.setattr(f"auditor.reports.{module}.finding_state", suppressed)
    folders = RunFolders(tmp_path)
    paths = {
        name: write_result(_result(), WRITERS[name](tmp_path, folders))[0] for name in FILE_WRITERS
    }
    with paths["csv"].open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert {(r["state"], r["state_reason"]) for r in rows} == {
        ("suppressed", "accepted until the migration (ops)")
    }
    case = next(
        c
        for c in ET.parse(paths["junit"]).getroot().iter("testcase")
        if "RSP001" in str(c.get("name"))
    )
    (skipped,) = list(case)
    assert skipped.tag == "skipped" and "accepted until the migration" in str(
        skipped.get("message")
    )
    sarif = json.loads(paths["sarif"].read_text())
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    assert not list(Draft7Validator(schema).iter_errors(sarif))
    suppressions = [r["suppressions"] for r in sarif["runs"][0]["results"]]
    assert (
        suppressions
        == [
            [
                {
                    "kind": "external",
                    "state": "accepted",
                    "justification": "accepted until the migration (ops)",
                }
            ]
        ]
        * 2
    )


def test_each_client_file_holds_that_client_only(tmp_path: Path) -> None:
    run = _result()
    for client in ("Beta", "Gamma"):
        account = AccountResult(
            client, "x", f"{client}Help", "fail", Coverage(), {"fail_on": "high"}, _checks()
        )
        run.add(account, keep=True)
    folders = RunFolders(tmp_path)
    for name in FILE_WRITERS:
        paths = write_result(run, WRITERS[name](tmp_path, folders))
        assert [p.parents[1].name for p in paths] == ["Acme", "Beta", "Gamma"]
        for path, client in zip(paths, ("Acme", "Beta", "Gamma"), strict=True):
            text = path.read_text(encoding="utf-8")
            assert client in text
            assert not [
                other for other in ("Acme", "Beta", "Gamma") if other != client and other in text
            ]
    # One folder per client, shared by every format.
    assert sorted(len(list(folder.iterdir())) for folder in tmp_path.glob("*/*")) == [3, 3, 3]
