"""The CSV, JUnit and SARIF writers, through the real command line on small bundles: each file
valid against the schema CI tools read it by (shipped in tests/data/report_formats with its
source and sha256), the same counts as report.json, formula injection neutralised, stable
fingerprints, atomic writes, and the formats chosen on the command line or in the config."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from jsonschema import Draft7Validator

from auditor.reports import FORMATS
from auditor.sources.bundle import write_bundle

from conftest import healthy_account, neglected_account, post, profile, window
from tests_support import run_cli

DATA = Path(__file__).parent / "data" / "report_formats"
HOSTILE_CLIENT = '=HYPERLINK("http://evil.example","x")'
HOSTILE_TEXTS = ("=1+2 refund me @GloboCare", "+SUM(A1) @GloboCare", "-2+3 @GloboCare")


def _sources() -> dict[str, str]:
    """File name -> sha256, from the table in SOURCES.md."""
    rows = re.findall(
        r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", (DATA / "SOURCES.md").read_text(), re.M
    )
    return dict(rows)


def test_the_reference_schemas_are_the_published_files() -> None:
    sources = _sources()
    assert set(sources) == {"junit-10.xsd", "sarif-schema-2.1.0.json"}
    for name, sha256 in sources.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == sha256, name


def _write_audit(folder: Path, *, formats: str = "[json]", client: str = "Acme") -> Path:
    """Two accounts of one client: a healthy one, and a neglected one whose customers post
    hostile text; the config's account entries on known lines."""
    hostile = [
        post(str(20 + i), f"mallory{i}", 20 + i, text, account="GloboCare")
        for i, text in enumerate(HOSTILE_TEXTS)
    ]
    write_bundle(folder / "acme.jsonl", healthy_account("AcmeHelp"))
    write_bundle(folder / "globo.jsonl", [*neglected_account("GloboCare"), *hostile])
    config = folder / "audit.yaml"
    config.write_text(
        f"output: {{dir: out, formats: {formats}}}\n"
        "store: {path: out/history.sqlite}\n"
        "clients:\n"
        f"  - name: {json.dumps(client)}\n"
        "    accounts:\n"
        "      - {platform: x, handle: AcmeHelp, source: acme.jsonl}\n"
        "      - platform: x\n"
        "        handle: GloboCare\n"
        "        source: globo.jsonl\n",
        encoding="utf-8",
    )
    return config


def _run(config: Path, *args: str) -> tuple[int, str, str]:
    return run_cli(["run", str(config), "-q", *args])


def _files(out: Path, name: str) -> list[Path]:
    return sorted(out.rglob(name))


def _report(folder: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((folder / "report.json").read_text())
    return report


def _checks(report: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for account in report["accounts"]:
        for check in account["checks"]:
            yield account, check


@pytest.fixture
def audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One run in every format; returns the client's run folder."""
    monkeypatch.chdir(tmp_path)
    config = _write_audit(tmp_path, client=HOSTILE_CLIENT)
    code, _, err = _run(config, "--format", "csv,junit", "--format", "SARIF")
    assert code == 1, err
    (folder,) = {p.parent for p in (tmp_path / "out").rglob("report.json")}
    return folder


def test_every_format_goes_to_the_client_run_folder(audited: Path) -> None:
    assert sorted(p.name for p in audited.iterdir()) == [
        "findings.csv",
        "junit.xml",
        "report.json",
        "report.sarif",
    ]
    # Nothing temporary is left beside the reports.
    assert not [p for p in audited.parents[1].rglob(".*") if p.is_file()]


def test_junit_is_valid_and_maps_every_check_status(audited: Path) -> None:
    xsd = xmlschema.XMLSchema(str(DATA / "junit-10.xsd"))
    xsd.validate(str(audited / "junit.xml"))
    report = _report(audited)
    root = ET.parse(audited / "junit.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        f"{a['platform']}:{a['account']}" for a in report["accounts"]
    ]
    expected = {"fail": "failure", "error": "error", "incomplete": "error"}
    expected["not_applicable"] = "skipped"
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite, account in zip(suites, report["accounts"], strict=True):
        cases = suite.findall("testcase")
        names = [c.get("name") for c in cases]
        assert len(set(names)) == len(names) == len(account["checks"])
        outcomes = [next((e.tag for e in c if e.tag != "system-out"), None) for c in cases]
        assert outcomes == [expected.get(c["status"]) for c in account["checks"]]
        counts = {
            "tests": len(cases),
            "failures": outcomes.count("failure"),
            "errors": outcomes.count("error"),
            "skipped": outcomes.count("skipped"),
        }
        assert {k: int(suite.get(k, -1)) for k in counts} == counts
        for key in totals:
            totals[key] += counts[key]
    assert {k: int(root.get(k, -1)) for k in totals} == totals
    assert totals["failures"] > 0 and totals["tests"] > totals["failures"]
    # A failure names its findings by uid.
    uids = {f["uid"] for _, c in _checks(report) for f in c["findings"]}
    failures = "".join(e.text or "" for e in root.iter("failure"))
    assert uids and all(uid in failures for uid in uids)


def test_sarif_is_valid_with_rules_locations_and_fingerprints(audited: Path) -> None:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    sarif = json.loads((audited / "report.sarif").read_text())
    Draft7Validator.check_schema(schema)
    errors = list(Draft7Validator(schema).iter_errors(sarif))
    assert not errors, errors[0].message
    (run,) = sarif["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    for rule in rules.values():
        assert rule["fullDescription"]["text"] and rule["help"]["text"]
        assert 0 <= float(rule["properties"]["security-severity"]) <= 10
    report = _report(audited)
    findings = {
        f["uid"]: (c["id"], a["account"]) for a, c in _checks(report) for f in c["findings"]
    }
    results = run["results"]
    assert len(results) == len(findings) > 0
    config_lines = (audited.parents[2] / "audit.yaml").read_text().splitlines()
    entry_line = {
        "AcmeHelp": next(i for i, line in enumerate(config_lines, 1) if "AcmeHelp" in line),
        "GloboCare": next(
            i
            for i, line in enumerate(config_lines, 1)
            if "platform: x" in line and "AcmeHelp" not in line
        ),
    }
    for result in results:
        uid = result["partialFingerprints"]["findingUid/v1"]
        check_id, account = findings[uid]
        assert result["ruleId"] == check_id and check_id in rules
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "audit.yaml", "uriBaseId": "%SRCROOT%"}
        assert location["region"]["startLine"] == entry_line[account]
    assert run["invocations"][0]["exitCode"] == report["run"]["exit_code"] == 1


def test_csv_has_a_row_per_finding_and_no_cell_a_spreadsheet_would_run(audited: Path) -> None:
    with (audited / "findings.csv").open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    report = _report(audited)
    assert sorted(r["uid"] for r in rows) == sorted(
        f["uid"] for _, c in _checks(report) for f in c["findings"]
    )
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {r["client"] for r in rows} == {"'" + HOSTILE_CLIENT}
    excerpts = {r["excerpt"] for r in rows}
    assert {"'" + text for text in HOSTILE_TEXTS} <= excerpts
    assert {r["state"] for r in rows} == {"open"}


def test_fingerprints_are_the_same_in_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write_audit(tmp_path)
    seen = []
    for out in ("first", "second"):
        code, _, err = _run(config, "--format", "sarif", "--output", out)
        assert code == 1, err
        (path,) = _files(tmp_path / out, "report.sarif")
        results = json.loads(path.read_text())["runs"][0]["results"]
        seen.append(
            sorted((r["ruleId"], r["partialFingerprints"]["findingUid/v1"]) for r in results)
        )
    assert seen[0] == seen[1] and seen[0]


def test_xml_forbidden_characters_are_escaped_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write_audit(tmp_path, client="Acme\x01\x1b[31mCo")
    code, _, err = _run(config, "--format", "junit")
    assert code == 1, err
    (path,) = _files(tmp_path / "out", "junit.xml")
    text = path.read_text(encoding="utf-8")
    assert "\x01" not in text and "\x1b" not in text
    assert "Acme\\x01\\x1b[31mCo" in text
    xmlschema.XMLSchema(str(DATA / "junit-10.xsd")).validate(str(path))


def test_the_command_line_wins_over_the_config_and_json_is_always_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write_audit(tmp_path, formats="[csv]")
    assert _run(config)[0] == 1
    names = {p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix != ".sqlite"}
    assert names == {"report.json", "findings.csv"}
    assert _run(config, "--format", "junit,table", "--output", "other")[0] == 1
    names = {p.name for p in (tmp_path / "other").rglob("*") if p.is_file()}
    assert names == {"report.json", "junit.xml"}


@pytest.mark.parametrize(
    "given", [["--format", "csv,xml"], ["--format", "json", "--format", "pdf"]]
)
def test_an_unknown_format_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write_audit(tmp_path)
    code, _, err = _run(config, *given)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    unknown = given[-1].split(",")[-1]
    assert f"'{unknown}'" in lines[0] and ", ".join(FORMATS) in lines[0]
    assert not (tmp_path / "out").exists(), "nothing is done before the formats are known"


def test_an_unknown_format_in_the_config_names_file_line_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write_audit(tmp_path, formats="[json, xml]")
    code, _, err = _run(config)
    assert code == 2
    (line,) = err.splitlines()
    assert "audit.yaml:1" in line and "output.formats" in line and "'xml'" in line
    assert ", ".join(FORMATS) in line


def test_an_account_not_audited_is_an_error_in_junit_and_a_notification_in_sarif(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_bundle(tmp_path / "acme.jsonl", healthy_account("AcmeHelp"))
    write_bundle(tmp_path / "lost.jsonl", [profile("Nobody"), window("Nobody")])
    config = tmp_path / "audit.yaml"
    config.write_text(
        "output: {dir: out}\nstore: {path: out/history.sqlite}\nclients:\n  - name: Acme\n"
        "    accounts:\n      - {platform: x, handle: AcmeHelp, source: acme.jsonl}\n"
        "      - {platform: x, handle: Missing, source: lost.jsonl}\n",
        encoding="utf-8",
    )
    code, _, err = _run(config, "--format", "junit,sarif")
    assert code == 2, err
    (junit,) = _files(tmp_path / "out", "junit.xml")
    xmlschema.XMLSchema(str(DATA / "junit-10.xsd")).validate(str(junit))
    suite = ET.parse(junit).getroot().findall("testsuite")[-1]
    assert suite.get("name") == "x:Missing" and suite.get("errors") == "1"
    (sarif_path,) = _files(tmp_path / "out", "report.sarif")
    invocation = json.loads(sarif_path.read_text())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    assert any("Missing" in n["message"]["text"] for n in invocation["toolExecutionNotifications"])
