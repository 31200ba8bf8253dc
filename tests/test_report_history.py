"""The history side of reports: ``auditor report RUN_ID`` writes a past run again from the
store, and every report says what changed since the account's last audit."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from auditor.store.history import HistoryStore

from conftest import END, WriteBundle, WriteConfig, post, profile, window
from tests_support import run_cli

FORMATS = ("report.json", "findings.csv", "junit.xml", "report.sarif")


def _week(week: int, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A bundle fetched at the end of ``week`` (END + 7 days per week), its posts shifted so."""
    shift = timedelta(days=7 * week)
    end = (END + shift).isoformat()
    records = [profile(fetched_at=end), window(window_end=end, fetched_at=end)]
    records[1]["window_start"] = (END + shift - timedelta(days=14)).isoformat()
    for record in posts:
        created = datetime.fromisoformat(record["created_at"]) + shift
        records.append({**record, "created_at": created.isoformat()})
    return records


def _answer(post_id: str, to: str, hours: float) -> dict[str, Any]:
    return post(post_id, "AcmeHelp", hours, "@cy sorry! Please DM us", in_reply_to=to, thread=to)


# Week 0: two complaints, neither answered. Week 1: the first answered, the second still not,
# and a third not answered either.
WEEKS = [
    [post("10", "dora", 40, "@AcmeHelp still no refund"), post("11", "ed", 30, "@AcmeHelp crash")],
    [
        post("10", "dora", 40, "@AcmeHelp still no refund"),
        _answer("13", "10", 39.5),
        post("11", "ed", 30, "@AcmeHelp crash"),
        post("12", "flo", 20, "@AcmeHelp where is my parcel"),
    ],
]


def _configs(
    write_bundle_file: WriteBundle, write_config: WriteConfig, store: str = "{path: history.sqlite}"
) -> list[Path]:
    """One config per week's bundle, each keeping history in ``store`` (its YAML)."""
    configs = []
    for week, posts in enumerate(WEEKS):
        bundle = write_bundle_file(f"week{week}.jsonl", _week(week, posts))
        configs.append(
            write_config(
                f"""
                output: {{dir: out/week{week}, formats: [json, csv, junit, sarif]}}
                store: {store}
                clients:
                  - name: acme
                    accounts: [{{platform: x, handle: AcmeHelp, source: {bundle}}}]
                """,
                name=f"week{week}.yaml",
            )
        )
    return configs


def _folder(output: Path) -> Path:
    (path,) = output.rglob("report.json")
    return path.parent


def _assert_reported_again(config: Path, run_id: str, again: Path, output: Path) -> None:
    """``auditor report RUN_ID`` (by a prefix) writes the run's reports in ``output`` again
    into ``again``, byte for byte."""
    code, out, err = run_cli(
        [
            "report",
            run_id[:8],
            "--config",
            str(config),
            "--output",
            str(again),
            "-q",
            "--format",
            "csv,junit,sarif",
        ]
    )
    assert (code, out, err) == (0, "", "")
    for name in FORMATS:
        original = _folder(output) / name
        assert (_folder(again) / name).read_bytes() == original.read_bytes(), name


def _json(output: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((_folder(output) / "report.json").read_text())
    return report


def _findings(report: dict[str, Any], check_id: str) -> dict[str, str]:
    """The findings of one check of the report's only account: evidence id -> uid."""
    (check,) = (c for c in report["accounts"][0]["checks"] if c["id"] == check_id)
    return {f["evidence_id"]: f["uid"] for f in check["findings"]}


def _uids(report: dict[str, Any]) -> set[str]:
    return {f["uid"] for c in report["accounts"][0]["checks"] for f in c["findings"]}


def _metric(report: dict[str, Any], check_id: str, *path: str) -> Any:
    (check,) = (c for c in report["accounts"][0]["checks"] if c["id"] == check_id)
    value = check["metrics"]
    for key in path:
        value = value[key]
    return value


def test_the_second_audit_says_what_changed_since_the_first_in_every_format(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    configs = _configs(write_bundle_file, write_config)
    assert run_cli(["run", str(configs[0]), "-q"])[0] == 1
    code, table, _ = run_cli(["run", str(configs[1])])
    assert code == 1
    first, second = _json(tmp_path / "out" / "week0"), _json(tmp_path / "out" / "week1")
    assert second["report_schema"] == "2.4"
    assert "since_last" not in first["accounts"][0]  # the first audit has nothing before it

    since = second["accounts"][0]["since_last"]
    assert since["previous_run"] == first["run"]["id"]
    assert since["previous_started_at"] == first["run"]["started_at"]
    before, after = _findings(first, "RSP001"), _findings(second, "RSP001")
    assert set(before) == {"10", "11"} and set(after) == {"11", "12"}
    assert after["12"] in since["new"] and after["11"] not in since["new"]
    assert before["10"] in {r["uid"] for r in since["resolved"]}
    # By uid, over every check: new, still open and resolved add up to both audits.
    assert set(since["new"]) == _uids(second) - _uids(first)
    assert {r["uid"] for r in since["resolved"]} == _uids(first) - _uids(second)
    counts = since["findings"]
    assert counts["still_open"] == len(_uids(first) & _uids(second))
    assert counts["new"] + counts["still_open"] == len(_uids(second))
    answered = since["metrics"]["answered_share"]
    assert answered["before"] == _metric(first, "RSP001", "response_rate") == 0.0
    assert answered["after"] == _metric(second, "RSP001", "response_rate") > 0
    assert answered["delta"] == round(answered["after"] - answered["before"], 6)
    assert set(since["metrics"]) == {
        "median_first_response_minutes",
        "sla_attained_share",
        "answered_share",
        "automated_share",
    }
    attained = since["metrics"]["sla_attained_share"]
    assert attained["after"] == _metric(second, "RSP002", "business_minutes", "within_target")
    # The trend: both audits, oldest first, each with the figures it tracked.
    trend = second["accounts"][0]["trend"]
    assert [p["run"] for p in trend] == [first["run"]["id"], second["run"]["id"]]
    assert trend[0] == first["accounts"][0]["trend"][0]
    assert trend[0]["figures"]["sla_attained_share"] == attained["before"]

    line = f"since last audit: {counts['new']} new, {counts['resolved']} resolved"
    assert line in table and "answered 0% -> " in table and "within target " in table

    folder = _folder(tmp_path / "out" / "week1")
    with (folder / "findings.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    change = {row["uid"]: row["change"] for row in rows}
    assert change[after["12"]] == "new" and change[after["11"]] == "still open"
    first_rows = list(csv.DictReader((_folder(tmp_path / "out" / "week0") / "findings.csv").open()))
    assert {row["change"] for row in first_rows} == {""}

    suite = ElementTree.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert str(properties["since_last_audit"]).startswith(line)

    (sarif_run,) = json.loads((folder / "report.sarif").read_text())["runs"]
    states = {
        r["partialFingerprints"]["findingUid/v1"]: r["baselineState"] for r in sarif_run["results"]
    }
    assert states[after["12"]] == "new" and states[after["11"]] == "unchanged"
    assert states[before["10"]] == "absent"


def test_report_writes_a_past_run_again_byte_for_byte(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    configs = _configs(write_bundle_file, write_config)
    run_cli(["run", str(configs[0]), "-q"])
    run_cli(["run", str(configs[1]), "-q"])
    for week, config in enumerate(configs):
        run_id = _json(tmp_path / "out" / f"week{week}")["run"]["id"]
        _assert_reported_again(
            config, run_id, tmp_path / f"again{week}", tmp_path / "out" / f"week{week}"
        )


def test_report_prints_the_table_and_lists_the_runs(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    configs = _configs(write_bundle_file, write_config)
    _, table, _ = run_cli(["run", str(configs[1])])
    run_id = _json(tmp_path / "out" / "week1")["run"]["id"]
    code, again, _ = run_cli(
        ["report", run_id, "--config", str(configs[1]), "--output", str(tmp_path / "x")]
    )
    assert code == 0
    blocks = [line for line in table.splitlines() if not line.startswith("wrote ")]
    assert blocks == [line for line in again.splitlines() if not line.startswith("wrote ")]

    code, listed, _ = run_cli(["report", "--list", "--config", str(configs[1])])
    assert code == 0
    (row,) = [line.split() for line in listed.splitlines() if line.startswith(run_id)]
    assert row[2:] == ["fail", "1"]


def test_an_unknown_run_or_a_missing_store_is_one_line_and_exit_2(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    configs = _configs(write_bundle_file, write_config)
    code, out, err = run_cli(["report", "abc", "--config", str(configs[0])])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no history store at" in err
    assert not (tmp_path / "history.sqlite").exists()  # never created by report

    run_cli(["run", str(configs[0]), "-q"])
    code, _, err = run_cli(["report", "nosuchrun", "--config", str(configs[0])])
    assert code == 2 and err.count("\n") == 1 and "no run 'nosuchrun'" in err
    code, _, err = run_cli(["report", "--config", str(configs[0])])
    assert code == 2 and err.count("\n") == 1 and "--list" in err
    code, _, err = run_cli(["report", "abc", "--config", str(configs[0]), "--format", "pdf"])
    assert code == 2 and err.count("\n") == 1 and "'pdf' is not a report format" in err


def test_an_interrupted_run_is_never_the_last_audit(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    configs = _configs(write_bundle_file, write_config)
    run_cli(["run", str(configs[0]), "-q"])
    run_cli(["run", str(configs[1]), "-q"])
    first_id = _json(tmp_path / "out" / "week0")["run"]["id"]
    second_id = _json(tmp_path / "out" / "week1")["run"]["id"]
    # The second run as a stop signal would have left it (interrupted): a third audit, of
    # later data, compares with the first.
    with HistoryStore(tmp_path / "history.sqlite") as store:
        store.finish_run(second_id, datetime.now().astimezone(), "interrupted")
    later = write_bundle_file("week2.jsonl", _week(2, WEEKS[1]))
    third = write_config(
        f"""
        output: {{dir: out/week2}}
        store: {{path: history.sqlite}}
        clients:
          - name: acme
            accounts: [{{platform: x, handle: AcmeHelp, source: {later}}}]
        """,
        name="week2.yaml",
    )
    run_cli(["run", str(third), "-q"])
    assert (
        _json(tmp_path / "out" / "week2")["accounts"][0]["since_last"]["previous_run"] == first_id
    )


def test_a_run_from_before_the_stored_reports_cannot_be_written_again(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    configs = _configs(write_bundle_file, write_config)
    run_cli(["run", str(configs[0]), "-q"])
    run_id = _json(tmp_path / "out" / "week0")["run"]["id"]
    # What a store migrated from schema 6 holds of an earlier run: no report.
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        db.execute("UPDATE runs SET report = NULL")
        db.execute("DELETE FROM run_reports")
    code, out, err = run_cli(["report", run_id, "--config", str(configs[0])])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"run {run_id} has no stored report" in err
    _, listed, _ = run_cli(["report", "--list", "--config", str(configs[0])])
    (row,) = [line.split() for line in listed.splitlines() if line.startswith(run_id)]
    assert row[-1] == "-"
