"""The scheduler's loop with an injected clock and a fake audit: what it runs, what it records
in the store, retries, failures that leave the other clients alone, and a stop signal."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.cli_runs import ClientOutcome, due_record
from auditor.cli_schedule import ClientAudit, Scheduler
from auditor.config import ClientConfig, Config, load_config
from auditor.registry import load_registry
from auditor.result import EXIT_BUSY, EXIT_FAILED, Interrupted
from auditor.store.history import HistoryStore

# A Monday, 08:00 UTC: before Acme's slot, Monday 09:00 London (GMT in winter: 09:00 UTC),
# after Brio's, daily 06:30 UTC.
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def config(tmp_path: Path) -> Config:
    (tmp_path / "acme.jsonl").write_text("", encoding="utf-8")
    path = tmp_path / "audit.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            output: {dir: out}
            store: {path: out/history.sqlite}
            schedule: "monday 09:00 Europe/London"
            scheduler: {retry_after_minutes: 30, max_early_retries: 1}
            clients:
              - name: Acme
                accounts: [{platform: x, handle: acme, source: acme.jsonl}]
              - name: Brio
                schedule: "daily 06:30 UTC"
                accounts: [{platform: x, handle: brio, source: acme.jsonl}]
            """
        ),
        encoding="utf-8",
    )
    return load_config(path, load_registry([]))


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class FakeAudit:
    """Audits take ``minutes`` on the clock; ``fail`` names clients whose audit fails."""

    def __init__(self, clock: Clock, minutes: int = 5) -> None:
        self.clock, self.minutes = clock, minutes
        self.fail: set[str] = set()
        self.stop: set[str] = set()
        self.audited: list[str] = []
        self.during: Callable[[], None] | None = None

    def __call__(self, client: ClientConfig) -> ClientAudit:
        self.audited.append(client.name)
        self.clock.at += timedelta(minutes=self.minutes)
        if self.during is not None:
            self.during()
        if client.name in self.stop:
            raise Interrupted(15)
        if client.name in self.fail:
            return ClientAudit(ClientOutcome("failed", "x:acme: server answered 500"), 3)
        return ClientAudit(ClientOutcome("ok", None, f"out/{client.name}/run"), EXIT_FAILED)


def scheduler(tmp_path: Path, clock: Clock, audit: FakeAudit) -> Scheduler:
    cfg = config(tmp_path)
    cfg.store_path.parent.mkdir(parents=True, exist_ok=True)
    store = HistoryStore(cfg.store_path)
    store.acquire_lease("me", now=clock())
    return Scheduler(cfg, store, "me", audit, clock=clock, watching_since=clock())


def test_clients_never_audited_run_at_once_then_wait_for_their_slots(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    audit = FakeAudit(clock)
    loop = scheduler(tmp_path, clock, audit)
    assert loop.run_due() == [EXIT_FAILED, EXIT_FAILED]
    assert audit.audited == ["Acme", "Brio"]
    assert loop.run_due() == []  # both just ran: nothing until their next slot
    records = loop.store.client_records(["Acme", "Brio"], clock())
    assert records["Acme"].outcome == "ok"
    assert records["Acme"].report_dir == "out/Acme/run"
    assert records["Brio"].last_slot == datetime(2026, 11, 30, 6, 30, tzinfo=UTC)

    clock.at = datetime(2026, 11, 30, 9, 0, 30, tzinfo=UTC)  # Acme's slot: 09:00 GMT
    assert loop.due(clock()) and [d.client for d in loop.due(clock())] == ["Acme"]
    loop.run_due()
    assert audit.audited == ["Acme", "Brio", "Acme"]
    assert loop.next_due(clock()) == datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # Brio's


def test_a_failed_client_is_retried_once_early_and_leaves_the_others_alone(
    tmp_path: Path,
) -> None:
    clock = Clock(MONDAY)
    audit = FakeAudit(clock)
    audit.fail.add("Acme")
    loop = scheduler(tmp_path, clock, audit)
    assert loop.run_due() == [3, EXIT_FAILED]  # Brio ran although Acme failed
    record = loop.store.client_records(["Acme"], clock())["Acme"]
    assert (record.outcome, record.error) == ("failed", "x:acme: server answered 500")

    clock.at += timedelta(minutes=20)
    assert loop.run_due() == []  # the retry comes 30 minutes after the failure ended
    clock.at += timedelta(minutes=11)
    assert [d.reason for d in loop.due(clock())] == ["retry after failure"]
    loop.run_due()
    record = loop.store.client_records(["Acme"], clock())["Acme"]
    assert record.slot_attempts == 2
    clock.at = datetime(2026, 11, 30, 8, 59, tzinfo=UTC)
    assert loop.due(clock()) == []  # one early retry only: now it waits for its next slot
    clock.at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert [(d.client, d.reason) for d in loop.due(clock())] == [("Acme", "scheduled")]
    assert due_record(record) is not None and due_record(record).attempts == 2  # type: ignore[union-attr]


def test_a_stop_signal_records_the_client_interrupted_and_the_next_pass_reruns_it(
    tmp_path: Path,
) -> None:
    clock = Clock(MONDAY)
    audit = FakeAudit(clock)
    audit.stop.add("Acme")
    loop = scheduler(tmp_path, clock, audit)
    with pytest.raises(Interrupted):
        loop.run_due()
    assert audit.audited == ["Acme"]  # the pass stopped: Brio was not started
    record = loop.store.client_records(["Acme"], clock())["Acme"]
    assert (record.outcome, record.running) == ("interrupted", False)

    audit.stop.clear()
    assert [(d.client, d.reason) for d in loop.due(clock())] == [
        ("Acme", "interrupted"),
        ("Brio", "never audited"),
    ]
    assert loop.run_due() == [EXIT_FAILED, EXIT_FAILED]


def test_a_client_a_manual_run_is_auditing_is_skipped_not_doubled(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    audit = FakeAudit(clock)
    loop = scheduler(tmp_path, clock, audit)
    loop.store.begin_client_run("Acme", "someone-else", None, now=clock(), pid=4242, host="ci")
    assert loop.run_client("Acme", None) == EXIT_BUSY
    assert audit.audited == []
    assert [d.client for d in loop.due(clock())] == ["Brio"]  # Acme is in progress
    assert loop.run_due() == [EXIT_FAILED]


def test_a_run_longer_than_the_interval_is_not_joined_by_a_second(tmp_path: Path) -> None:
    clock = Clock(MONDAY + timedelta(hours=2))  # 10:00: after Acme's slot
    audit = FakeAudit(clock, minutes=26 * 60)  # Brio is daily: its audit outlasts a day
    loop = scheduler(tmp_path, clock, audit)
    seen_while_running: list[list[str]] = []

    def heartbeat_then_look() -> None:
        loop.store.renew_lease("me", clock())  # what the heartbeat thread does meanwhile
        seen_while_running.append([d.client for d in loop.due(clock())])

    audit.during = heartbeat_then_look
    loop.run_due()
    assert audit.audited == ["Acme", "Brio"]
    # While each ran, the other was due at most (never the one running): no overlap.
    assert seen_while_running == [["Brio"], []]
    # Brio ran from Tuesday 12:00 to Wednesday 14:00: Wednesday's 06:30 slot passed meanwhile,
    # and is taken once now; Acme's run (Monday 10:00) satisfied Monday's slot.
    assert [(d.client, d.slot) for d in loop.due(clock())] == [
        ("Brio", datetime(2026, 12, 2, 6, 30, tzinfo=UTC))
    ]
    assert loop.run_due() == [EXIT_FAILED]  # ends Thursday 16:00: Thursday's slot, once
    assert [(d.client, d.slot) for d in loop.due(clock())] == [
        ("Brio", datetime(2026, 12, 3, 6, 30, tzinfo=UTC))
    ]


def test_a_client_interrupted_three_times_in_a_row_waits_for_its_next_slot(
    tmp_path: Path,
) -> None:
    clock = Clock(MONDAY + timedelta(hours=2))
    audit = FakeAudit(clock)
    loop = scheduler(tmp_path, clock, audit)
    loop.run_due()  # both ok
    audit.stop.add("Acme")
    for attempt in range(1, 4):
        # Each time a process dies mid-audit (or is stopped), the next pass reruns it whole.
        run_id = loop.store.begin_client_run("Acme", "me", None, now=clock())
        loop.store.finish_client_run(run_id, "interrupted", now=clock())
        record = loop.store.client_records(["Acme"], clock())["Acme"]
        assert record.interrupted_in_a_row == attempt
        due = [d.client for d in loop.due(clock())]
        assert due == (["Acme"] if attempt < 3 else [])  # the third in a row: not at once
    clock.at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # next Monday's slot
    assert next((d.client, d.reason) for d in loop.due(clock())) == ("Acme", "scheduled")
    audit.stop.clear()
    loop.run_due()
    assert loop.store.client_records(["Acme"], clock())["Acme"].interrupted_in_a_row == 0
