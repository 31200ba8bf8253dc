"""One scheduler per history store: its lease, and the record of every client run.

The rules (issue #16):

* **The lease.** At most one scheduler holds a store (``scheduler_lease`` has at most one row).
  :meth:`SchedulerRecords.acquire_lease` takes it, in one transaction that no other such write
  runs beside (SQLite's ``BEGIN IMMEDIATE``; PostgreSQL's advisory lock ``scheduler``), when
  it is free, when the caller already holds it, or when its holder's heartbeat is older than
  ``stale_after`` (the holder is presumed dead: a killed pod, a machine switched off). That last
  is a takeover: the caller is told whom it replaced, and the dead holder's running client runs
  are recorded ``interrupted``. Otherwise it raises :class:`LeaseHeld`, naming the holder's
  process, host and since when.
* **The heartbeat.** The holder calls :meth:`~SchedulerRecords.renew_lease` well within
  ``stale_after`` (a third of it, say). Renewal raises :class:`LeaseLost` when another scheduler
  has taken the lease: the holder was presumed dead, its clients are being run by the other, and
  it must stop at once.
* **Client runs.** :meth:`~SchedulerRecords.begin_client_run` records a run of a client, scheduled
  (with the slot it satisfies and its attempt at that slot) or manual (no slot). It refuses with
  :class:`ClientBusy` while a live process runs the same client (no two runs of a client ever
  overlap); other clients run. A running row is live while its heartbeat, renewed with its
  holder's lease (:meth:`~SchedulerRecords.renew_client_runs` for a holder without one, a manual
  run), is younger than ``stale_after``; one whose process died is recorded ``interrupted`` the
  moment a run of that client begins or its holder's lease is taken over.
* **Time.** Every time is handed in (``now``; only its default reads the wall clock), must be
  timezone-aware, and is stored as UTC microseconds. A heartbeat is judged by the clock of the
  process reading it: hosts sharing a store must keep their clocks in step (NTP) to well within
  ``stale_after``. A heartbeat never moves back when a clock does.
* **Errors** kept with a run are one line: control characters and newlines escaped, cut at
  :data:`~auditor.untrusted.MAX_SERVER_TEXT` characters. The store cannot tell a secret: callers
  pass a message that has none (an exception's text, never a request with its token).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast, get_args

from auditor.store.backend import Db
from auditor.store.connection import StoreConnection
from auditor.store.encoding import StoreError, _from_us, _from_us_or_none, _to_us
from auditor.untrusted import clip, escape_controls

# Long enough that a busy machine's late heartbeat is not taken for a death, short enough that
# a killed pod's clients run again within minutes. The scheduler (next) renews at a third of it.
DEFAULT_STALE_AFTER = timedelta(minutes=2)

Outcome = Literal["ok", "failed", "interrupted", "running"]
FinishedOutcome = Literal["ok", "failed", "interrupted"]
RUNNING: Outcome = "running"
INTERRUPTED: Outcome = "interrupted"
_FINISHED = frozenset(get_args(FinishedOutcome))


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Who holds a store's scheduler lease: its id, process and host, since when, and its last
    heartbeat (UTC)."""

    holder: str
    pid: int
    host: str
    started_at: datetime
    heartbeat_at: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on host {escape_controls(self.host)}"


@dataclass(frozen=True, slots=True)
class ClientRunRecord:
    """What the store knows of a client's runs, for deciding whether it is due.

    ``started_at`` ... ``error``: its last run, scheduled or manual (all None: never run). A run
    whose process died without a word reads ``interrupted`` here, and ``finished_at`` None.
    ``last_slot``: the latest scheduled instant any of its runs was for; ``slot_attempts`` how
    many runs were made for it and ``slot_succeeded`` whether one of them ended ``ok``.
    ``last_ok_at``: when its last successful run started (scheduled or manual).
    """

    client: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: Outcome | None = None
    run_key: str | None = None
    error: str | None = None
    last_slot: datetime | None = None
    slot_attempts: int = 0
    slot_succeeded: bool = False
    last_ok_at: datetime | None = None
    # Where its last run's reports went (the client's run folder), if it wrote any.
    report_dir: str | None = None
    # How many of its latest runs in a row ended interrupted (a dead process's included).
    interrupted_in_a_row: int = 0
    # Why its last run's notifications failed, if they did (they never change its outcome).
    notify_error: str | None = None

    @property
    def running(self) -> bool:
        """A live process is running this client now."""
        return self.outcome == RUNNING


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds():g} s"


class LeaseHeld(StoreError):
    """Another live scheduler holds the store's lease."""

    def __init__(
        self,
        pid: int,
        host: str,
        since: datetime,
        heartbeat_at: datetime,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        self.pid, self.host, self.since, self.heartbeat_at = pid, host, since, heartbeat_at
        super().__init__(
            f"another scheduler holds this history store: pid {pid} on host"
            f" {escape_controls(host)}, since {_moment(since)} (last heartbeat"
            f" {_moment(heartbeat_at)}); stop it first, or, if it died, start again once its"
            f" heartbeat is {_seconds(stale_after)} old"
        )


class LeaseLost(StoreError):
    """The caller no longer holds the lease: another scheduler took it over (or it was
    released)."""

    def __init__(self, holder: str, current: LeaseInfo | None) -> None:
        self.holder, self.current = holder, current
        by = "nobody holds it now" if current is None else f"now held by {current.describe()}"
        super().__init__(
            f"this scheduler ({escape_controls(holder)}) lost the history store's lease"
            f" ({by}): stop, another scheduler runs its clients"
        )


class ClientBusy(StoreError):
    """A live process is running this client now."""

    def __init__(self, client: str, pid: int, host: str, since: datetime) -> None:
        self.client, self.pid, self.host, self.since = client, pid, host, since
        super().__init__(
            f"client {escape_controls(client)} is being audited by pid {pid} on host"
            f" {escape_controls(host)} since {_moment(since)}; wait for it to finish"
            " (other clients can run)"
        )


def _now_us(now: datetime | None) -> int:
    return _to_us(now if now is not None else datetime.now(UTC))


def _stale_us(stale_after: timedelta) -> int:
    if not isinstance(stale_after, timedelta) or stale_after <= timedelta(0):
        raise StoreError(f"stale_after must be a positive duration, got {stale_after!r}")
    return _to_us(datetime(1970, 1, 1, tzinfo=UTC) + stale_after)


def _name(kind: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{kind} must be a non-empty string, got {value!r}")
    return value


def _one_line(error: str | None) -> str | None:
    return None if error is None else clip(escape_controls(error))


# The lock a write takes when it reads the lease or a client's runs before it decides: on
# PostgreSQL, where writers do not queue, two schedulers (or two claims of a client) would
# otherwise both read "free" and both take it.
_SCHEDULER_LOCK = "scheduler"

# A heartbeat never moves back when a clock does (the newer of the stored one and ?1).
_LATER_HEARTBEAT = "CASE WHEN heartbeat_at > ?1 THEN heartbeat_at ELSE ?1 END"

_LEASE = "SELECT holder, pid, host, started_at, heartbeat_at FROM scheduler_lease WHERE id = 1"


def _lease_row(db: Db) -> LeaseInfo | None:
    row = db.execute(_LEASE).fetchone()
    if row is None:
        return None
    holder, pid, host, started, heartbeat = row
    return LeaseInfo(holder, pid, host, _from_us(started), _from_us(heartbeat))


def _interrupt(db: Db, where: str, parameters: tuple[object, ...], why: str) -> int:
    """Records running client runs matching ``where`` as interrupted; finished_at stays NULL
    (they never finished). Returns how many."""
    return db.execute(
        f"UPDATE client_runs SET outcome = '{INTERRUPTED}', error = ?"
        f" WHERE outcome = '{RUNNING}' AND {where}",
        (_one_line(why), *parameters),
    ).rowcount


class SchedulerRecords(StoreConnection):
    """The history store's part for the scheduler: the lease and the client runs."""

    # -- the lease --

    def acquire_lease(
        self,
        holder: str,
        pid: int | None = None,
        host: str | None = None,
        now: datetime | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> LeaseInfo | None:
        """Take the store's scheduler lease for ``holder`` (a uuid; ``pid`` and ``host``
        default to this process's). Returns the holder it took over from (its heartbeat was
        older than ``stale_after``), else None; raises :class:`LeaseHeld` while a live holder
        has it. Taking it again as its holder renews it."""
        _name("lease holder", holder)
        process_id = os.getpid() if pid is None else pid
        host_name = socket.gethostname() if host is None else host
        at, stale = _now_us(now), _stale_us(stale_after)
        with self._transaction(_SCHEDULER_LOCK) as db:
            current = _lease_row(db)
            if current is not None and current.holder == holder:
                db.execute(
                    f"UPDATE scheduler_lease SET heartbeat_at = {_LATER_HEARTBEAT} WHERE id = 1",
                    (at,),
                )
                self._renew(db, holder, at)
                return None
            if current is not None and at - _to_us(current.heartbeat_at) < stale:
                raise LeaseHeld(
                    current.pid, current.host, current.started_at, current.heartbeat_at, stale_after
                )
            if current is not None:
                _interrupt(
                    db,
                    "holder = ?",
                    (current.holder,),
                    f"its scheduler ({current.describe()}) stopped heartbeating; taken over by"
                    f" pid {process_id} on host {host_name}",
                )
            db.execute(
                "INSERT INTO scheduler_lease (id, holder, pid, host, started_at, heartbeat_at)"
                " VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " holder = excluded.holder, pid = excluded.pid, host = excluded.host,"
                " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
                (holder, process_id, host_name, at, at),
            )
            return current

    def renew_lease(self, holder: str, now: datetime | None = None) -> None:
        """The heartbeat: renew ``holder``'s lease and its running client runs; raises
        :class:`LeaseLost` if it no longer holds the lease."""
        at = _now_us(now)
        with self._transaction(_SCHEDULER_LOCK) as db:
            updated = db.execute(
                f"UPDATE scheduler_lease SET heartbeat_at = {_LATER_HEARTBEAT}"
                " WHERE id = 1 AND holder = ?",
                (at, holder),
            ).rowcount
            if updated == 0:
                raise LeaseLost(holder, _lease_row(db))
            self._renew(db, holder, at)

    def release_lease(self, holder: str, now: datetime | None = None) -> bool:
        """Give the lease up (a clean stop); whether ``holder`` held it. Its client runs still
        running are recorded interrupted, finished at ``now`` (a clean stop finishes them first;
        this keeps any it could not from blocking the next scheduler)."""
        at = _now_us(now)
        with self._transaction(_SCHEDULER_LOCK) as db:
            released = db.execute(
                "DELETE FROM scheduler_lease WHERE id = 1 AND holder = ?", (holder,)
            ).rowcount
            db.execute(
                f"UPDATE client_runs SET outcome = '{INTERRUPTED}', finished_at = ?,"
                f" error = coalesce(error, 'stopped') WHERE outcome = '{RUNNING}' AND holder = ?",
                (at, holder),
            )
        return released > 0

    def lease(self) -> LeaseInfo | None:
        """Who holds the lease (alive or not), or None."""
        rows = self._read(_LEASE)
        if not rows:
            return None
        holder, pid, host, started, heartbeat = rows[0]
        return LeaseInfo(holder, pid, host, _from_us(started), _from_us(heartbeat))

    # -- client runs --

    def begin_client_run(
        self,
        client: str,
        holder: str,
        slot: datetime | None,
        attempt: int = 1,
        now: datetime | None = None,
        *,
        pid: int | None = None,
        host: str | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> int:
        """Record that ``holder`` starts running ``client`` (for ``slot``, its ``attempt``-th
        try at it; a manual run has no slot) and return the run's id. Raises
        :class:`ClientBusy` while a live process runs that client; a running row whose
        heartbeat is older than ``stale_after`` is recorded interrupted instead."""
        _name("client", client)
        _name("holder", holder)
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise StoreError(f"attempt must be a whole number from 1, got {attempt!r}")
        slot_us = None if slot is None else _to_us(slot)
        process_id = os.getpid() if pid is None else pid
        host_name = socket.gethostname() if host is None else host
        at, stale = _now_us(now), _stale_us(stale_after)
        with self._transaction(_SCHEDULER_LOCK) as db:
            running = db.execute(
                "SELECT id, pid, host, started_at, heartbeat_at FROM client_runs"
                f" WHERE client = ? AND outcome = '{RUNNING}'",
                (client,),
            ).fetchall()
            for run_id, other_pid, other_host, started, heartbeat in running:
                if at - heartbeat < stale:
                    raise ClientBusy(client, other_pid, other_host, _from_us(started))
                _interrupt(
                    db,
                    "id = ?",
                    (run_id,),
                    f"its process (pid {other_pid} on host {other_host}) stopped heartbeating",
                )
            (run_id,) = db.execute(
                "INSERT INTO client_runs (client, run_key, started_at, finished_at, outcome,"
                " error, holder, pid, host, heartbeat_at, slot, attempt)"
                f" VALUES (?, NULL, ?, NULL, '{RUNNING}', NULL, ?, ?, ?, ?, ?, ?) RETURNING id",
                (client, at, holder, process_id, host_name, at, slot_us, attempt),
            ).fetchone()
            return cast(int, run_id)

    def renew_client_runs(self, holder: str, now: datetime | None = None) -> int:
        """The heartbeat of a holder without the lease (a manual run): renew its running client
        runs; how many. (:meth:`renew_lease` does this for the scheduler.)"""
        at = _now_us(now)
        with self._transaction() as db:
            return self._renew(db, holder, at)

    @staticmethod
    def _renew(db: Db, holder: str, at: int) -> int:
        return db.execute(
            f"UPDATE client_runs SET heartbeat_at = {_LATER_HEARTBEAT}"
            f" WHERE holder = ? AND outcome = '{RUNNING}'",
            (at, holder),
        ).rowcount

    def set_client_run_key(self, run_id: int, run_key: str) -> None:
        """The run's key, once its audit has one."""
        with self._transaction() as db:
            if (
                db.execute(
                    "UPDATE client_runs SET run_key = ? WHERE id = ?", (run_key, run_id)
                ).rowcount
                == 0
            ):
                raise StoreError(f"unknown client run {run_id}")

    def finish_client_run(
        self,
        run_id: int,
        outcome: FinishedOutcome,
        run_key: str | None = None,
        error: str | None = None,
        now: datetime | None = None,
        report_dir: str | None = None,
    ) -> None:
        """Close a running client run: ``ok``, ``failed`` (``error`` says why, on one line) or
        ``interrupted`` (a stop signal); ``report_dir`` is where its reports went, if anywhere.
        A run already closed (recorded interrupted when another scheduler took over) is a
        StoreError: its outcome stays as recorded."""
        if outcome not in _FINISHED:
            raise StoreError(f"a client run finishes ok, failed or interrupted, not {outcome!r}")
        at = _now_us(now)
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE client_runs SET finished_at = ?, outcome = ?,"
                " run_key = coalesce(?, run_key), error = ?, report_dir = ?"
                f" WHERE id = ? AND outcome = '{RUNNING}'",
                (at, outcome, run_key, _one_line(error), report_dir, run_id),
            ).rowcount
            if updated:
                return
            row = db.execute(
                "SELECT client, outcome FROM client_runs WHERE id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"unknown client run {run_id}")
        raise StoreError(
            f"client run {run_id} of {escape_controls(row[0])} is already {row[1]}"
            " (another scheduler took over); its outcome stays"
        )

    def set_client_run_notify_error(self, run_id: int, error: str | None) -> None:
        """Why the run's notifications failed (None: all delivered), after it finished."""
        with self._transaction() as db:
            if (
                db.execute(
                    "UPDATE client_runs SET notify_error = ? WHERE id = ?",
                    (_one_line(error), run_id),
                ).rowcount
                == 0
            ):
                raise StoreError(f"unknown client run {run_id}")

    def client_records(
        self,
        clients: Iterable[str],
        now: datetime | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> dict[str, ClientRunRecord]:
        """Each client's :class:`ClientRunRecord`, one for every name asked (a client never
        run gets an empty one). A running row whose heartbeat is older than ``stale_after`` at
        ``now`` reads ``interrupted`` (nothing is written)."""
        at, stale = _now_us(now), _stale_us(stale_after)
        return {client: self._record(client, at, stale) for client in clients}

    def _record(self, client: str, at: int, stale: int) -> ClientRunRecord:
        last = self._read(
            "SELECT started_at, finished_at, outcome, run_key, error, heartbeat_at, report_dir,"
            " notify_error FROM client_runs WHERE client = ?"
            " ORDER BY started_at DESC, id DESC LIMIT 1",
            (client,),
        )
        if not last:
            return ClientRunRecord(client)
        started, finished, outcome, run_key, error, heartbeat, report_dir, notify_error = last[0]
        if outcome == RUNNING and at - heartbeat >= stale:
            outcome = INTERRUPTED
        ((slot, attempts, succeeded),) = self._read(
            "SELECT max(slot), count(*),"
            " coalesce(max(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END), 0) FROM client_runs"
            " WHERE client = ?1 AND slot = (SELECT max(slot) FROM client_runs WHERE client = ?1)",
            (client,),
        )
        ((last_ok,),) = self._read(
            "SELECT max(started_at) FROM client_runs WHERE client = ? AND outcome = 'ok'",
            (client,),
        )
        in_a_row = 0
        if outcome == INTERRUPTED:
            # Interrupted runs since its last run that ended otherwise; a row still marked
            # running is the newest, and counts only when it reads interrupted (stale).
            ((in_a_row,),) = self._read(
                "SELECT count(*) FROM client_runs WHERE client = ?1 AND outcome != 'running'"
                " AND started_at > coalesce((SELECT max(started_at) FROM client_runs"
                " WHERE client = ?1 AND outcome IN ('ok', 'failed')), -1)",
                (client,),
            )
            in_a_row += last[0][2] == RUNNING
        return ClientRunRecord(
            client=client,
            started_at=_from_us(started),
            finished_at=_from_us_or_none(finished),
            outcome=outcome,
            run_key=run_key,
            error=error,
            last_slot=_from_us_or_none(slot),
            slot_attempts=attempts,
            slot_succeeded=bool(succeeded),
            last_ok_at=_from_us_or_none(last_ok),
            report_dir=report_dir,
            interrupted_in_a_row=in_a_row,
            notify_error=notify_error,
        )
