"""One scheduler per history store: the lease, its heartbeat and takeover, and client runs
(auditor.store.scheduler, issue #16). Clocks are injected, except where real processes race."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.store.history import (
    ClientBusy,
    ClientRunRecord,
    HistoryStore,
    LeaseHeld,
    LeaseInfo,
    LeaseLost,
    StoreError,
)
from auditor.untrusted import MAX_SERVER_TEXT

from store_support import OPEN_FROM_ARGUMENT, Stores, stores

__all__ = ["stores"]  # the fixture: every test here runs on SQLite and PostgreSQL

T0 = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
STALE = timedelta(seconds=90)
SLOT = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(stores: Stores) -> Iterator[HistoryStore]:
    with stores.open() as opened:
        yield opened


def take(store: HistoryStore, holder: str, pid: int, at: datetime) -> LeaseInfo | None:
    return store.acquire_lease(holder, pid, f"host-{holder}", at, STALE)


# --- the lease ---------------------------------------------------------------------------------


def test_a_free_lease_is_taken_renewed_and_released(store: HistoryStore) -> None:
    assert store.lease() is None
    assert take(store, "a", 101, T0) is None
    lease = store.lease()
    assert lease is not None
    assert (lease.holder, lease.pid, lease.host) == ("a", 101, "host-a")
    assert lease.started_at == lease.heartbeat_at == T0
    store.renew_lease("a", T0 + timedelta(seconds=30))
    lease = store.lease()
    assert lease is not None and lease.started_at == T0
    assert lease.heartbeat_at == T0 + timedelta(seconds=30)
    assert store.release_lease("b") is False  # not its lease: nothing changes
    assert store.lease() is not None
    assert store.release_lease("a") is True
    assert store.lease() is None
    # Free again: another takes it at once, and it is no takeover.
    assert take(store, "b", 202, T0 + timedelta(seconds=31)) is None


def test_the_holder_taking_it_again_renews_it(store: HistoryStore) -> None:
    take(store, "a", 101, T0)
    assert take(store, "a", 101, T0 + timedelta(seconds=60)) is None
    lease = store.lease()
    assert lease is not None
    assert (lease.started_at, lease.heartbeat_at) == (T0, T0 + timedelta(seconds=60))


def test_a_second_scheduler_is_refused_naming_the_holder(store: HistoryStore) -> None:
    take(store, "a", 4242, T0)
    store.renew_lease("a", T0 + timedelta(seconds=50))
    with pytest.raises(LeaseHeld) as refused:
        take(store, "b", 5151, T0 + timedelta(seconds=60))
    message = str(refused.value)
    assert "\n" not in message
    assert "pid 4242 on host host-a" in message
    assert "since 2026-03-30T08:00:00+00:00" in message
    assert "last heartbeat 2026-03-30T08:00:50+00:00" in message
    assert "90 s" in message
    assert (refused.value.pid, refused.value.host, refused.value.since) == (4242, "host-a", T0)
    lease = store.lease()
    assert lease is not None and lease.holder == "a"  # the refusal changed nothing


def test_a_lease_whose_heartbeat_stopped_is_taken_over(store: HistoryStore) -> None:
    take(store, "a", 101, T0)
    acme = store.begin_client_run("acme", "a", SLOT, 1, T0 + timedelta(seconds=1))
    store.renew_lease("a", T0 + timedelta(seconds=10))
    # Just short of stale_after since the last heartbeat it is still held ...
    with pytest.raises(LeaseHeld):
        take(store, "b", 202, T0 + timedelta(seconds=10) + STALE - timedelta(microseconds=1))
    # ... and at stale_after it is taken over; the caller learns from whom.
    previous = take(store, "b", 202, T0 + timedelta(seconds=10) + STALE)
    assert previous is not None
    assert (previous.holder, previous.pid, previous.host) == ("a", 101, "host-a")
    lease = store.lease()
    assert lease is not None and (lease.holder, lease.pid) == ("b", 202)
    # The dead holder's client run is interrupted, never finished.
    record = store.client_records(["acme"], T0 + 2 * STALE, STALE)["acme"]
    assert (record.outcome, record.finished_at, record.running) == ("interrupted", None, False)
    assert record.error is not None and "pid 101 on host host-a" in record.error
    assert "taken over by pid 202" in record.error
    # The old holder, should it wake up, learns it lost the lease and cannot close the run.
    with pytest.raises(LeaseLost, match="now held by pid 202 on host host-b"):
        store.renew_lease("a", T0 + 2 * STALE)
    with pytest.raises(StoreError, match="already interrupted"):
        store.finish_client_run(acme, "ok", "run-1", None, T0 + 2 * STALE)
    assert store.client_records(["acme"], T0 + 2 * STALE, STALE)["acme"].outcome == "interrupted"


def test_renewing_a_released_lease_is_lost(store: HistoryStore) -> None:
    take(store, "a", 101, T0)
    store.release_lease("a", T0 + timedelta(seconds=1))
    with pytest.raises(LeaseLost, match="nobody holds it now"):
        store.renew_lease("a", T0 + timedelta(seconds=2))


def test_a_heartbeat_never_moves_back_with_the_clock(store: HistoryStore) -> None:
    take(store, "a", 101, T0)
    store.renew_lease("a", T0 + timedelta(seconds=60))
    store.renew_lease("a", T0 + timedelta(seconds=5))  # the clock stepped back
    lease = store.lease()
    assert lease is not None and lease.heartbeat_at == T0 + timedelta(seconds=60)


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-1)])
def test_stale_after_must_be_positive(store: HistoryStore, bad: timedelta) -> None:
    with pytest.raises(StoreError, match="stale_after must be a positive duration"):
        store.acquire_lease("a", 1, "h", T0, bad)


def test_naive_times_and_empty_holders_are_refused(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="timezone-aware"):
        store.acquire_lease("a", 1, "h", datetime(2026, 3, 30, 8, 0), STALE)
    with pytest.raises(StoreError, match="non-empty"):
        store.acquire_lease(" ", 1, "h", T0, STALE)
    assert store.lease() is None


# --- client runs -------------------------------------------------------------------------------


def test_a_client_run_is_refused_while_a_live_process_runs_that_client(
    store: HistoryStore,
) -> None:
    take(store, "sched", 300, T0)
    store.begin_client_run("acme", "sched", SLOT, 1, T0, pid=300, host="pod-1", stale_after=STALE)
    # A manual run of the same client, a minute later: refused, naming who runs it.
    with pytest.raises(ClientBusy) as busy:
        store.begin_client_run(
            "acme", "manual", None, 1, T0 + timedelta(minutes=1), pid=77, host="laptop"
        )
    message = str(busy.value)
    assert "\n" not in message
    assert "client acme is being audited by pid 300 on host pod-1" in message
    assert "since 2026-03-30T08:00:00+00:00" in message
    assert (busy.value.client, busy.value.pid, busy.value.since) == ("acme", 300, T0)
    # Other clients run.
    other = store.begin_client_run(
        "globex", "manual", None, 1, T0 + timedelta(minutes=1), pid=77, host="laptop"
    )
    assert store.client_records(["globex"], T0 + timedelta(minutes=1))["globex"].running
    # The scheduler's heartbeat keeps its client run alive past stale_after from its start.
    store.renew_lease("sched", T0 + timedelta(seconds=80))
    with pytest.raises(ClientBusy):
        store.begin_client_run(
            "acme", "manual", None, 1, T0 + timedelta(seconds=160), stale_after=STALE
        )
    # Once it finishes, the client is free.
    store.finish_client_run(other, "ok", "run-g", None, T0 + timedelta(minutes=3))
    acme_id = _running_id(store, "acme")
    store.finish_client_run(acme_id, "ok", "run-a", None, T0 + timedelta(minutes=3))
    store.begin_client_run("acme", "manual", None, 1, T0 + timedelta(minutes=4))


def _running_id(store: HistoryStore, client: str) -> int:
    rows = store._read(
        "SELECT id FROM client_runs WHERE client = ? AND outcome = 'running'", (client,)
    )
    assert len(rows) == 1
    return int(rows[0][0])


def test_a_dead_processs_running_row_is_interrupted_when_the_client_runs_again(
    store: HistoryStore,
) -> None:
    store.begin_client_run("acme", "manual-1", None, 1, T0, pid=11, host="laptop")
    later = T0 + STALE
    record = store.client_records(["acme"], later, STALE)["acme"]
    assert (record.outcome, record.running) == ("interrupted", False)  # read, not written
    new_id = store.begin_client_run("acme", "manual-2", None, 1, later, stale_after=STALE)
    rows = store._read("SELECT id, outcome, finished_at, error FROM client_runs ORDER BY id")
    assert [(outcome, finished) for _, outcome, finished, _ in rows] == [
        ("interrupted", None),
        ("running", None),
    ]
    assert rows[0][3] == "its process (pid 11 on host laptop) stopped heartbeating"
    assert rows[1][0] == new_id


def test_a_manual_run_keeps_itself_alive_with_its_own_heartbeat(store: HistoryStore) -> None:
    store.begin_client_run("acme", "manual", None, 1, T0, pid=11, host="laptop")
    assert store.renew_client_runs("manual", T0 + timedelta(seconds=80)) == 1
    assert store.renew_client_runs("nobody", T0 + timedelta(seconds=80)) == 0
    with pytest.raises(ClientBusy):
        store.begin_client_run("acme", "sched", SLOT, 1, T0 + timedelta(seconds=160))


def test_finishing_keeps_the_run_key_and_one_escaped_line_of_error(store: HistoryStore) -> None:
    run_id = store.begin_client_run("acme", "sched", SLOT, 1, T0)
    store.set_client_run_key(run_id, "20260330T080000Z-acme")
    error = "token expired\n\x1b[2Jfake log line " + "x" * 1000
    store.finish_client_run(run_id, "failed", None, error, T0 + timedelta(minutes=5))
    record = store.client_records(["acme"], T0 + timedelta(minutes=5))["acme"]
    assert record.run_key == "20260330T080000Z-acme"  # kept: finish gave none
    assert record.finished_at == T0 + timedelta(minutes=5)
    assert record.outcome == "failed"
    assert record.error is not None
    assert record.error.startswith("token expired\\x0a\\x1b[2Jfake log line")
    assert "\n" not in record.error and "\x1b" not in record.error
    assert len(record.error) == MAX_SERVER_TEXT and record.error.endswith("…")


def test_finishing_checks_its_outcome_and_run(store: HistoryStore) -> None:
    run_id = store.begin_client_run("acme", "sched", SLOT, 1, T0)
    with pytest.raises(StoreError, match="ok, failed or interrupted, not 'running'"):
        store.finish_client_run(run_id, "running", None, None, T0)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="unknown client run 999"):
        store.finish_client_run(999, "ok", None, None, T0)
    with pytest.raises(StoreError, match="unknown client run 999"):
        store.set_client_run_key(999, "r")
    store.finish_client_run(run_id, "ok", "r1", None, T0)
    with pytest.raises(StoreError, match="already ok"):
        store.finish_client_run(run_id, "failed", "r1", "late", T0)


@pytest.mark.parametrize("attempt", [0, -1, True])
def test_attempts_count_from_one(store: HistoryStore, attempt: int) -> None:
    with pytest.raises(StoreError, match="attempt must be"):
        store.begin_client_run("acme", "sched", SLOT, attempt, T0)


def test_releasing_interrupts_the_holders_unfinished_runs(store: HistoryStore) -> None:
    take(store, "sched", 1, T0)
    store.begin_client_run("acme", "sched", SLOT, 1, T0)
    store.begin_client_run("globex", "manual", None, 1, T0)
    store.release_lease("sched", T0 + timedelta(minutes=1))
    records = store.client_records(["acme", "globex"], T0 + timedelta(minutes=1))
    assert (records["acme"].outcome, records["acme"].finished_at) == (
        "interrupted",
        T0 + timedelta(minutes=1),
    )
    assert records["globex"].running  # another holder's run is not the scheduler's to stop


def test_client_records_say_what_the_due_rule_needs(store: HistoryStore) -> None:
    week = timedelta(days=7)
    last_week = SLOT - week
    ok = store.begin_client_run("acme", "s", last_week, 1, last_week)
    store.finish_client_run(ok, "ok", "r0", None, last_week + timedelta(minutes=9))
    first = store.begin_client_run("acme", "s", SLOT, 1, SLOT)
    store.finish_client_run(first, "failed", "r1", "boom", SLOT + timedelta(minutes=1))
    second = store.begin_client_run("acme", "s", SLOT, 2, SLOT + timedelta(hours=1))
    store.finish_client_run(
        second, "failed", "r2", "boom again", SLOT + timedelta(hours=1, minutes=1)
    )
    # A manual run afterwards is the last run, but not an attempt at the slot.
    store.begin_client_run("acme", "manual", None, 1, SLOT + timedelta(hours=2))

    records = store.client_records(["acme", "never"], SLOT + timedelta(hours=2), STALE)
    assert records["never"] == ClientRunRecord("never")
    acme = records["acme"]
    assert acme.started_at == SLOT + timedelta(hours=2)
    assert (acme.outcome, acme.running, acme.finished_at, acme.run_key) == (
        "running",
        True,
        None,
        None,
    )
    assert (acme.last_slot, acme.slot_attempts, acme.slot_succeeded) == (SLOT, 2, False)
    assert acme.last_ok_at == last_week
    assert acme.started_at is not None and acme.started_at.tzinfo is UTC

    third = store.begin_client_run("acme", "s", SLOT, 3, SLOT + timedelta(hours=3))
    store.finish_client_run(third, "ok", "r3", None, SLOT + timedelta(hours=3, minutes=5))
    acme = store.client_records(["acme"], SLOT + timedelta(hours=4))["acme"]
    assert (acme.slot_attempts, acme.slot_succeeded, acme.outcome, acme.error) == (
        3,
        True,
        "ok",
        None,
    )
    assert acme.last_ok_at == SLOT + timedelta(hours=3)


# --- real processes ----------------------------------------------------------------------------

# Takes the lease, starts a run of "acme", says so, then renews the lease every 0.1 s.
HOLDER = (
    OPEN_FROM_ARGUMENT
    + """
import os, socket, sys, time
from datetime import timedelta
store = open_store(sys.argv[1])
stale = timedelta(seconds=float(sys.argv[2]))
store.acquire_lease("holder-a", stale_after=stale)
store.begin_client_run("acme", "holder-a", None, stale_after=stale)
print("ready", socket.gethostname(), flush=True)
while True:
    time.sleep(0.1)
    store.renew_lease("holder-a")
"""
)

# Opens the store, says so and waits for the go file: what RACER and CLAIMER then race for.
AT_THE_START = (
    OPEN_FROM_ARGUMENT
    + """
import os, sys, time
from datetime import timedelta
from auditor.store.history import ClientBusy, LeaseHeld
store = open_store(sys.argv[1])
print("ready", flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.001)
"""
)

# Tries the lease: "won" or "held".
RACER = (
    AT_THE_START
    + """
try:
    store.acquire_lease(sys.argv[2], stale_after=timedelta(seconds=60))
except LeaseHeld:
    print("held", flush=True)
else:
    print("won", flush=True)
"""
)

# Claims client "acme": "won" or "busy".
CLAIMER = (
    AT_THE_START
    + """
try:
    store.begin_client_run("acme", sys.argv[2], None)
except ClientBusy:
    print("busy", flush=True)
else:
    print("won", flush=True)
"""
)


def _python(stores: Stores, script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=stores.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _race(
    stores: Stores, script: str, holders: list[str], go: Path
) -> tuple[list[subprocess.Popen[str]], list[str]]:
    """``script`` in one process per holder, all let go at once (``go`` made); each one's
    answer (its stdout, stripped), in the holders' order, once all exited 0."""
    racers = [_python(stores, script, stores.argument(), holder, str(go)) for holder in holders]
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
        go.touch()
        answers = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.communicate(timeout=30)
    assert all(racer.returncode == 0 for racer in racers), [err for _, err in answers]
    return racers, [out.strip() for out, _ in answers]


def test_two_processes_one_lease_and_takeover_after_sigkill(stores: Stores) -> None:
    stale_seconds = 1.0
    stale = timedelta(seconds=stale_seconds)
    stores.open().close()
    holder = _python(stores, HOLDER, stores.argument(), str(stale_seconds))
    try:
        ready = holder.stdout.readline() if holder.stdout else ""
        assert ready.startswith("ready"), holder.stderr.read() if holder.stderr else ""
        host = ready.split(maxsplit=1)[1].strip()
        with stores.open() as store:
            with pytest.raises(LeaseHeld) as refused:
                store.acquire_lease("holder-b", stale_after=stale)
            assert f"pid {holder.pid} on host {host}" in str(refused.value)
            # Past stale_after it is still held: the first process's heartbeat renews it.
            time.sleep(stale_seconds * 1.5)
            with pytest.raises(LeaseHeld):
                store.acquire_lease("holder-b", stale_after=stale)
            with pytest.raises(ClientBusy, match=f"pid {holder.pid}"):
                store.begin_client_run("acme", "manual", None, stale_after=stale)
            globex = store.begin_client_run("globex", "manual", None, stale_after=stale)
            store.finish_client_run(globex, "ok")

            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
            killed_at = time.monotonic()
            previous = None
            while previous is None:
                try:
                    previous = store.acquire_lease("holder-b", stale_after=stale)
                except LeaseHeld:
                    assert time.monotonic() - killed_at < 30, "the dead lease was never taken"
                    time.sleep(0.1)
            assert time.monotonic() - killed_at > stale_seconds * 0.5
            assert (previous.holder, previous.pid) == ("holder-a", holder.pid)
            record = store.client_records(["acme"], stale_after=stale)["acme"]
            assert (record.outcome, record.finished_at) == ("interrupted", None)
            assert record.error is not None and f"pid {holder.pid}" in record.error
            # The client is free again: the new holder runs it.
            store.begin_client_run("acme", "holder-b", None, stale_after=stale)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate(timeout=30)


@pytest.mark.parametrize("round_number", range(3))
def test_processes_racing_for_the_lease_exactly_one_wins(
    stores: Stores, tmp_path: Path, round_number: int
) -> None:
    stores.open().close()
    holders = [f"racer-{n}" for n in range(4)]
    racers, answers = _race(stores, RACER, holders, tmp_path / "go")
    assert sorted(answers) == ["held", "held", "held", "won"]
    winner = answers.index("won")
    with stores.open() as store:
        lease = store.lease()
        assert lease is not None and lease.holder == f"racer-{winner}"
        assert lease.pid == racers[winner].pid


def test_prune_drops_old_client_runs_but_never_a_running_one(stores: Stores) -> None:
    with stores.open(retention_days=30) as store:
        old = store.begin_client_run("acme", "s", SLOT, 1, T0)
        store.finish_client_run(old, "ok", "r1", None, T0 + timedelta(minutes=5))
        store.begin_client_run("globex", "s", SLOT, 1, T0)  # still running (or never closed)
        recent = T0 + timedelta(days=29)
        store.finish_client_run(
            store.begin_client_run("acme", "s", None, 1, recent), "ok", "r2", None, recent
        )
        assert store.prune(T0 + timedelta(days=31)) == 1
        rows = store._read("SELECT client, run_key, outcome FROM client_runs ORDER BY id")
        assert rows == [("globex", None, "running"), ("acme", "r2", "ok")]


def test_a_runs_notification_failure_is_kept_on_one_line_and_read_back(
    store: HistoryStore,
) -> None:
    run_id = store.begin_client_run("Acme", "sched", T0, 1, T0)
    store.finish_client_run(run_id, "ok", "k1", None, T0 + timedelta(minutes=1))
    assert store.client_records(["Acme"], T0)["Acme"].notify_error is None
    store.set_client_run_notify_error(run_id, "webhook: gave up after 4 attempts\n\x1b[2Jx")
    error = store.client_records(["Acme"], T0)["Acme"].notify_error
    assert error is not None and "\n" not in error and "\x1b" not in error
    assert error.startswith("webhook: gave up after 4 attempts")
    with pytest.raises(StoreError, match="unknown client run"):
        store.set_client_run_notify_error(run_id + 99, "x")


def test_processes_claiming_one_client_at_once_exactly_one_runs_it(
    stores: Stores, tmp_path: Path
) -> None:
    stores.open().close()
    holders = [f"manual-{n}" for n in range(4)]
    _, answers = _race(stores, CLAIMER, holders, tmp_path / "go")
    assert sorted(answers) == ["busy", "busy", "busy", "won"]
    with stores.open() as store:
        rows = store._read("SELECT holder FROM client_runs WHERE client = 'acme'")
    assert rows == [(holders[answers.index("won")],)]
