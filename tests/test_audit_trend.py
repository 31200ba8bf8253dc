"""An account's trend: its earlier audits from the history store (``HistoryStore.audit_trend``),
set on the result as the account is recorded and written in the JSON report (``trend``)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker

from auditor.config import load_config, load_schema
from auditor.engine.audit import Engine
from auditor.registry import load_registry
from auditor.reports.json_report import account_document, policy_id
from auditor.store.history import RUN_INTERRUPTED, AccountReport, HistoryStore

from tests_support import run_cli

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
ACCOUNT = ("x", "AcmeHelp")


def _audit(
    store: HistoryStore,
    run_key: str,
    week: int,
    *,
    started_after: timedelta = timedelta(0),
    status: str = "fail",
    finish: str | None = "fail",
    figures: dict[str, float | None] | None = None,
    account: tuple[str, str] = ACCOUNT,
) -> None:
    """A run that audits ``account`` on the data of ``week`` (observed at T0 + week weeks),
    started by the wall clock a day after that (plus ``started_after``)."""
    observed = T0 + week * WEEK
    store.begin_run(run_key, "cfg", "1.0", observed + timedelta(days=1) + started_after)
    report = None
    if figures is not None:
        report = AccountReport(0, b"{}", orjson.dumps(figures).decode())
    store.record_account(run_key, *account, status, observed, [], [], report=report)
    if finish is not None:
        store.finish_run(run_key, observed + timedelta(days=1, hours=1) + started_after, finish)


def _keys(store: HistoryStore, run_key: str, week: int, limit: int = 12) -> list[str]:
    rows = store.audit_trend(*ACCOUNT, run_key, T0 + week * WEEK, limit)
    return [row.run_key for row in rows]


def test_trend_is_the_earlier_audits_oldest_first(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for week in range(4):
            _audit(store, f"run{week}", week, status=("pass", "fail")[week % 2])
        _audit(store, "other", 2, account=("x", "Someone"))
        rows = store.audit_trend(*ACCOUNT, "run3", T0 + 3 * WEEK)
        assert [r.run_key for r in rows] == ["run0", "run1", "run2"]
        assert [r.status for r in rows] == ["pass", "fail", "pass"]
        assert [r.started_at for r in rows] == [T0 + w * WEEK + timedelta(days=1) for w in range(3)]
        # The same rule as previous_audit: the last of the trend is the previous audit.
        previous = store.previous_audit(*ACCOUNT, "run3", T0 + 3 * WEEK)
        assert previous is not None and previous.run_key == rows[-1].run_key
        # Rerunning an earlier week sees only what came before it in the data's time.
        assert _keys(store, "run1", 1) == ["run0"]
        assert _keys(store, "run0", 0) == []


def test_trend_keeps_the_last_audits_up_to_the_limit(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for week in range(15):
            _audit(store, f"run{week:02d}", week)
        assert _keys(store, "new", 15) == [f"run{w:02d}" for w in range(3, 15)]  # 12 by default
        assert _keys(store, "new", 15, limit=3) == ["run12", "run13", "run14"]
        assert _keys(store, "new", 15, limit=0) == []


def test_trend_leaves_out_interrupted_and_unfinished_runs(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        _audit(store, "done", 0)
        _audit(store, "stopped", 1, finish=RUN_INTERRUPTED)
        _audit(store, "crashed", 2, finish=None)  # never finished (killed)
        _audit(store, "later", 5)
        assert _keys(store, "now", 3) == ["done"]


def test_same_data_time_orders_by_start(tmp_path: Path) -> None:
    # Three runs of the same bundle: the data's time ties, the start decides.
    with HistoryStore(tmp_path / "h.sqlite") as store:
        _audit(store, "b", 0, started_after=timedelta(minutes=1))
        _audit(store, "a", 0, started_after=timedelta(minutes=2))
        _audit(store, "c", 0, started_after=timedelta(minutes=3))
        assert _keys(store, "c", 0) == ["b", "a"]
        assert _keys(store, "a", 0) == ["b"]


def test_trend_reads_the_figures_each_audit_tracked(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        _audit(store, "old", 0)  # no stored report: a run of a tool before schema 7
        _audit(store, "kept", 1, figures={"sla_attained_share": 0.75, "answered_share": None})
        old, kept = store.audit_trend(*ACCOUNT, "now", T0 + 2 * WEEK)
        assert old.tracked is None
        assert kept.tracked is not None
        assert json.loads(kept.tracked) == {"sla_attained_share": 0.75, "answered_share": None}


def test_the_query_reads_through_the_indexes(tmp_path: Path) -> None:
    import sqlite3

    from auditor.store.history import _AUDIT_TREND

    with HistoryStore(tmp_path / "h.sqlite"):
        pass
    connection = sqlite3.connect(tmp_path / "h.sqlite")
    try:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN " + _AUDIT_TREND, ("x", "a", "r", 0, None, 12)
        ).fetchall()
    finally:
        connection.close()
    details = " / ".join(str(row[-1]) for row in plan)
    # No table is scanned whole: each is searched by an index or its primary key.
    assert "SCAN" not in details.replace("SCAN CONSTANT ROW", ""), details
    assert "run_accounts_by_account" in details, details


# --- the demo, three runs into one store -----------------------------------------------------


def _reports(output: Path) -> dict[str, list[dict[str, Any]]]:
    """Each client's reports, oldest run first."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in output.rglob("report.json"):
        report = json.loads(path.read_text())
        found.setdefault(report["client"], []).append(report)
    for reports in found.values():
        reports.sort(key=lambda report: datetime.fromisoformat(report["run"]["started_at"]))
    return found


def test_three_demo_runs_give_each_account_its_trend_in_the_json_report(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", tmp_path / "config")
    config = tmp_path / "config" / "demo.yaml"
    text = config.read_text()
    for week in range(3):
        # A run of the same config and inputs replaces that run in the store: each week's
        # config differs by a comment, as a weekly job's would by its dates.
        config.write_text(f"# week {week}\n{text}")
        assert run_cli(["run", str(config), "-q"])[0] == 1
    validator = Draft202012Validator(
        load_schema("report.schema.json"), format_checker=FormatChecker()
    )
    clients = _reports(tmp_path / "out" / "demo")
    assert set(clients) == {"Driftly Outdoor", "Helio Mobile"}
    for reports in clients.values():
        assert len(reports) == 3
        runs = [r["run"]["id"] for r in reports]
        for number, report in enumerate(reports, start=1):
            validator.validate(report)
            assert report["report_schema"] == "2.4"
            for account in report["accounts"]:
                trend = account["trend"]
                assert [p["run"] for p in trend] == runs[:number]
                assert [p["started_at"] for p in trend] == [
                    r["run"]["started_at"] for r in reports[:number]
                ]
                (rsp002,) = (c for c in account["checks"] if c["id"] == "RSP002")
                now = trend[-1]
                assert now["status"] == account["status"]
                assert (
                    now["figures"]["sla_attained_share"]
                    == (rsp002["metrics"]["business_minutes"]["within_target"])
                )
                assert (
                    now["figures"]["median_first_response_minutes"]
                    == (rsp002["metrics"]["business_minutes"]["median"])
                )
                # The same data each time: every point of the trend tracked the same figures.
                assert all(p["figures"] == now["figures"] for p in trend)
                if number > 1:
                    assert account["since_last"]["previous_run"] == trend[-2]["run"]
                else:
                    assert "since_last" not in account


def test_an_audit_without_a_store_has_no_trend() -> None:
    registry = load_registry()
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "demo.yaml", registry)
    result = Engine(config, registry, workers=1).run()
    accounts = list(result.accounts())
    assert accounts
    for account in accounts:
        assert account.trend == []
        assert "trend" not in account_document(account, policy_id(account.policy))
