"""Reports stream (#12 item 8): accounts reach the writers in config order whatever order they
finish in, the run keeps none of them, its memory does not grow with its accounts, the report
holds each distinct policy once, and a stop signal never splits an account or the run's close."""

from __future__ import annotations

import json
import signal
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Config, load_config
from auditor.engine.audit import Engine
from auditor.engine.order import ConfigOrder
from auditor.model import AccountKey
from auditor.registry import load_registry
from auditor.reports import Reports
from auditor.reports.json_report import JsonReports
from auditor.result import (
    AccountResult,
    AuditResult,
    Coverage,
    Interrupted,
    interrupt,
    stop_signals_held,
)
from auditor.sources.inputs import BundleInput
from auditor.store.history import HistoryStore

from conftest import (
    WriteBundle,
    WriteConfig,
    neglected_account,
    post,
    profile,
    read_reports,
    window,
)


def _load(path: Path) -> Config:
    return load_config(path, load_registry())


def _run_status(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (status,) = db.execute("SELECT status FROM runs").fetchone()
    return str(status)


def _result(handle: str, client: str = "c") -> AccountResult:
    return AccountResult(client, "x", handle, "pass", Coverage(), {"fail_on": "high"})


def test_accounts_are_handed_on_in_config_order_whatever_order_they_finish_in() -> None:
    keys = [AccountKey("x", name) for name in "abcde"]
    handed: list[str] = []
    order = ConfigOrder(keys, lambda account: handed.append(account.account))
    for name in "dbeca":
        order.add(AccountKey("x", name), _result(name))
        # Nothing is handed on before every account ahead of it.
        assert handed == list("abcde")[: len(handed)]
    assert handed == list("abcde")


def test_accounts_done_out_of_turn_wait_on_disk_and_the_missing_get_a_stand_in() -> None:
    keys = [AccountKey("x", name) for name in "abc"]
    handed: list[AccountResult] = []
    order = ConfigOrder(keys, handed.append)
    order.add(AccountKey("x", "c"), _result("c"))
    assert handed == []
    # Waiting on disk: only its place in the file is kept, not the account.
    assert all(isinstance(place, tuple) for place in order._waiting.values())
    order.finish(lambda key: _result(key.account + "-stand-in"))
    assert [a.account for a in handed] == ["a-stand-in", "b-stand-in", "c"]


class Recorder:
    """A sink that records what reaches it, and can raise a stop signal at a chosen moment."""

    def __init__(self, signal_at: str | None = None) -> None:
        self.accounts: list[str] = []
        self.ended = False
        self.signal_at = signal_at

    def begin(self, run: AuditResult) -> None:
        return None

    def account(self, account: AccountResult) -> None:
        if self.signal_at == account.account:
            interrupt(signal.SIGTERM)  # as the handler does, half way through a hand-on
        self.accounts.append(account.account)

    def end(self, run: AuditResult) -> None:
        if self.signal_at == "end":
            interrupt(signal.SIGTERM)
        self.ended = True

    def abort(self) -> None:
        return None


def _sized_accounts(sizes: dict[str, int]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for handle, posts in sizes.items():
        records += [profile(handle), window(handle)]
        records += [
            post(f"{handle}-{n}", f"cust{n}", 1 + n % 300, f"@{handle} help {n}", account=handle)
            for n in range(posts)
        ]
    return records


def _config(write_config: WriteConfig, handles: list[str], bundle: Path, store: bool) -> Path:
    accounts = "\n".join(
        f"      - {{platform: x, handle: {h}, source: {bundle.name}}}" for h in handles
    )
    return write_config(
        "output: {dir: out, formats: [json]}\n"
        + ("store: {path: out/history.sqlite}\n" if store else "")
        + f"clients:\n  - name: Acme\n    accounts:\n{accounts}\n"
    )


def test_a_pool_finishing_the_heaviest_first_still_reports_in_config_order(
    write_bundle_file: WriteBundle,
    write_config: WriteConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The lightest account comes first in the config; the pool starts the heaviest first.
    sizes = {"Tiny": 2, "Big": 600, "Medium": 200, "Large": 400}
    bundle = write_bundle_file("accounts.jsonl", _sized_accounts(sizes))
    config = _load(_config(write_config, list(sizes), bundle, store=False))
    monkeypatch.setattr(BundleInput, "parallel_min_size", 0)  # a pool even for a small bundle
    recorder = Recorder()
    Engine(config, load_registry(), workers=2).run(sink=recorder)
    assert recorder.accounts == list(sizes)
    result = Engine(config, load_registry(), workers=2).run(
        sink=Reports([JsonReports(tmp_path / "out")])
    )
    assert result.clients == []  # a streamed run keeps no account
    report = read_reports(tmp_path / "out")["Acme"]
    assert [a["account"] for a in report["accounts"]] == list(sizes)
    assert report["summary"]["accounts"] == 4


def _peak_bytes(config_path: Path, sink: Reports | None) -> int:
    config = _load(config_path)
    registry = load_registry()
    tracemalloc.start()
    try:
        Engine(config, registry, workers=1).run(sink=sink)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_streamed_run_needs_the_memory_of_its_largest_account_not_of_the_run(
    write_bundle_file: WriteBundle, write_config: WriteConfig, tmp_path: Path
) -> None:
    """Four times the accounts (each the same size): a run that keeps its accounts grows with
    them, a streamed one does not."""
    peaks: dict[tuple[int, bool], int] = {}
    for accounts in (8, 32):
        handles = [f"Brand{n}" for n in range(accounts)]
        bundle = write_bundle_file(
            f"b{accounts}.jsonl", _sized_accounts(dict.fromkeys(handles, 300))
        )
        config = _config(write_config, handles, bundle, store=False)
        if accounts == 8:  # once unmeasured: what the first run loads, every run has
            _peak_bytes(config, None)
        for streamed in (True, False):
            sink = Reports([JsonReports(tmp_path / f"out{accounts}")]) if streamed else None
            peaks[accounts, streamed] = _peak_bytes(config, sink)
    # The measure sees the difference: kept, four times the accounts cost far more.
    print(peaks)
    assert peaks[32, False] > 2.5 * peaks[8, False], peaks
    assert peaks[32, True] < 1.3 * peaks[8, True], peaks


def test_the_report_holds_each_distinct_policy_once(
    write_bundle_file: WriteBundle, write_config: WriteConfig, tmp_path: Path
) -> None:
    handles = [f"Brand{n}" for n in range(30)]
    bundle = write_bundle_file("many.jsonl", _sized_accounts(dict.fromkeys(handles, 3)))
    accounts = "\n".join(
        f"      - {{platform: x, handle: {h}, source: {bundle.name}"
        + (", policy: {fail_on: low}}" if h == "Brand7" else "}")
        for h in handles
    )
    config = _load(
        write_config(f"output: {{dir: out}}\nclients:\n  - name: Acme\n    accounts:\n{accounts}\n")
    )
    Engine(config, load_registry(), workers=1).run(sink=Reports([JsonReports(tmp_path / "out")]))
    (path,) = (tmp_path / "out").rglob("report.json")
    report = json.loads(path.read_text())
    assert len(report["policies"]) == 2
    by_account = {a["account"]: report["policies"][a["policy"]] for a in report["accounts"]}
    assert by_account["Brand7"]["fail_on"] == "low"
    assert {p["fail_on"] for name, p in by_account.items() if name != "Brand7"} == {"high"}
    # Written once each, not once per account.
    assert path.read_text().count('"exclude_authors"') == 2


def test_a_signal_held_during_a_step_is_raised_when_the_step_is_done() -> None:
    done = []
    with pytest.raises(Interrupted) as stop, stop_signals_held():
        interrupt(signal.SIGTERM)
        done.append("the rest of the step")
    assert done == ["the rest of the step"] and stop.value.signum == signal.SIGTERM
    with pytest.raises(Interrupted):
        interrupt(signal.SIGINT)  # outside a held step: at once


def test_a_signal_during_a_hand_on_stops_the_run_after_that_account_whole(
    write_bundle_file: WriteBundle, write_config: WriteConfig, tmp_path: Path
) -> None:
    handles = ["First", "Second", "Third"]
    bundle = write_bundle_file("three.jsonl", _sized_accounts(dict.fromkeys(handles, 5)))
    config = _load(_config(write_config, handles, bundle, store=True))
    recorder = Recorder(signal_at="Second")
    (tmp_path / "out").mkdir()
    with HistoryStore(tmp_path / "out" / "history.sqlite") as store:
        result = Engine(config, load_registry(), store=store, workers=1).run(sink=recorder)
    status = _run_status(tmp_path / "out" / "history.sqlite")
    assert result.interrupted == signal.SIGTERM
    assert recorder.accounts == handles and recorder.ended  # Third listed, as not audited
    assert result.tally.incomplete["x:Third"] == ["interrupted"]
    assert "x:Second" not in result.tally.incomplete  # handed on whole before the stop
    assert status == "interrupted"


def test_a_signal_as_the_run_closes_waits_for_the_reports_and_the_store(
    write_bundle_file: WriteBundle, write_config: WriteConfig, tmp_path: Path
) -> None:
    bundle = write_bundle_file("one.jsonl", neglected_account())
    config = _load(_config(write_config, ["GloboCare"], bundle, store=True))
    recorder = Recorder(signal_at="end")
    (tmp_path / "out").mkdir()
    with HistoryStore(tmp_path / "out" / "history.sqlite") as store:
        result = Engine(config, load_registry(), store=store, workers=1).run(sink=recorder)
    status = _run_status(tmp_path / "out" / "history.sqlite")
    assert recorder.ended and result.interrupted is None
    assert result.stopped_after == signal.SIGTERM
    assert status == "fail"  # closed as the whole run it is, never left "running"


def test_the_exit_code_counts_packed_findings_without_decoding_them() -> None:
    from datetime import UTC, datetime

    from auditor.check import Evidence, Finding, Severity
    from auditor.engine.parallel import PackedFindings
    from auditor.result import CheckResult

    def finding(n: int, severity: Severity) -> Finding:
        at = datetime(2026, 11, 1, tzinfo=UTC)
        return Finding("RSP001", "x", "a", str(n), "late", severity, Evidence(timestamps=(at,)))

    packed = PackedFindings.pack([finding(n, "high" if n % 3 else "low") for n in range(9)])
    account = _result("a")
    account.checks = [CheckResult("RSP001", "t", "1", "high", "fail", "9 late", packed)]
    run = AuditResult("0", "run", datetime(2026, 11, 16, tzinfo=UTC), "c.yaml", "sha", None, {})
    run.add(account, keep=False)
    totals = run.totals()
    assert totals.code == 1 and totals.failing_findings() == 6  # the 6 high, not the 3 low
    assert packed._items is None  # never decoded
