"""The run ledger of the distributed engine (docs/scale.md): per planned run, one row per account.

A run planned for Celery workers (``auditor enqueue``, or the scheduler with ``engine: celery``)
writes one row per account, ``queued``; a worker takes an account with
:meth:`LedgerRecords.claim_account`, one conditional UPDATE that succeeds for one caller only
(the row is queued, or running under a lease that has expired: its worker died). That is the
per-(run, account) lock: while a worker holds a live lease nobody else audits the account, and
once it is ``done`` or ``failed`` nobody audits it again. The holder renews its lease, and
finishes the account (only the holder can). When no account is queued or running the ledger is
complete, and :meth:`LedgerRecords.claim_finalize` lets exactly one caller write the run's
reports (a finalizer that dies leaves its claim to expire, and another takes it over).

Times are UTC microseconds, as in the other tables, handed in by the caller. The SQL is
portable (``?`` placeholders, ``ON CONFLICT``, CASE rather than scalar max/min, TEXT and INTEGER
columns): the same statements run on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from auditor.store.encoding import StoreError, _from_us, _from_us_or_none, _to_us
from auditor.untrusted import clip, escape_controls

if TYPE_CHECKING:
    from auditor.store.backend import Db
    from auditor.store.connection import StoreConnection

    _Connection = StoreConnection
else:
    # migrations.py reads LEDGER_SCHEMA, and the connection imports the migrations: the
    # mixin names its base only for the type checker (HistoryStore brings the real one).
    _Connection = object

AccountState = Literal["queued", "running", "done", "failed"]
FINISHED_STATES: frozenset[str] = frozenset({"done", "failed"})

LEDGER_SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE ledger_runs (
        run_key        TEXT PRIMARY KEY,
        clients        TEXT,
        planned_at     INTEGER NOT NULL,
        finalize_state TEXT CHECK (finalize_state IN ('running', 'done')),
        finalize_until INTEGER,
        finalizer      TEXT,
        finalized_at   INTEGER
    )
    """,
    """
    CREATE TABLE run_ledger (
        run_key      TEXT NOT NULL,
        platform     TEXT NOT NULL,
        account      TEXT NOT NULL,
        client       TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        lease_until  INTEGER NOT NULL,
        worker       TEXT,
        error        TEXT,
        finished_at  INTEGER,
        fetch_reason TEXT,
        input_path   TEXT,
        input_sha256 TEXT,
        report       TEXT,
        PRIMARY KEY (run_key, platform, account)
    )
    """,
    "CREATE INDEX run_ledger_open ON run_ledger (state, lease_until)",
    # The clients whose notifications a finalize has sent (or tried), so that a finalize taken
    # over after its finalizer died sends only the rest.
    """
    CREATE TABLE ledger_notified (
        run_key TEXT NOT NULL,
        client  TEXT NOT NULL,
        PRIMARY KEY (run_key, client)
    )
    """,
)


@dataclass(frozen=True, slots=True)
class PlannedAccount:
    """An account of a planned run: its client, platform and handle."""

    client: str
    platform: str
    account: str


@dataclass(frozen=True, slots=True)
class Claim:
    """An account a worker holds: the run, the account, which attempt this is, until when."""

    run_key: str
    client: str
    platform: str
    account: str
    attempt: int
    worker: str
    lease_until: datetime


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    """What a worker leaves in the ledger besides the state: why the fetch was incomplete, the
    input it read (path and sha256, for the run's report), and the account's report (JSON) when
    no audit recorded it in the history (an input that failed)."""

    fetch_reason: str | None = None
    input_path: str | None = None
    input_sha256: str | None = None
    report: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One account's row, as ``auditor status`` and the finalizer read it."""

    run_key: str
    client: str
    platform: str
    account: str
    state: AccountState
    attempts: int
    lease_until: datetime
    worker: str | None
    error: str | None
    finished_at: datetime | None
    outcome: AccountOutcome


@dataclass(frozen=True, slots=True)
class LedgerRun:
    """A planned run: its clients (None: every client of the config), when it was planned, and
    whether its reports were written."""

    run_key: str
    clients: list[str] | None
    planned_at: datetime
    finalized: bool


@dataclass(frozen=True, slots=True)
class LedgerProgress:
    """A planned run not finalized yet, counted: accounts in all, done, failed."""

    run_key: str
    planned_at: datetime
    total: int
    done: int
    failed: int


@dataclass(frozen=True, slots=True)
class Expired:
    """An account whose lease ran out (its worker died, or its task was never delivered), to
    enqueue again; ``account`` None: the run's finalize is what must run again."""

    run_key: str
    client: str | None
    platform: str | None
    account: str | None


_ROW = (
    "SELECT run_key, client, platform, account, state, attempts, lease_until, worker, error,"
    " finished_at, fetch_reason, input_path, input_sha256, report FROM run_ledger"
)
_OPEN = "state IN ('queued', 'running')"


def _row(values: Sequence[object]) -> LedgerRow:
    (run_key, client, platform, account, state, attempts, until, worker, error, finished) = values[
        :10
    ]
    fetch_reason, input_path, input_sha256, report = values[10:]
    return LedgerRow(
        run_key=str(run_key),
        client=str(client),
        platform=str(platform),
        account=str(account),
        state=state,  # type: ignore[arg-type]
        attempts=int(attempts),  # type: ignore[call-overload]
        lease_until=_from_us(int(until)),  # type: ignore[call-overload]
        worker=None if worker is None else str(worker),
        error=None if error is None else str(error),
        finished_at=_from_us_or_none(finished),  # type: ignore[arg-type]
        outcome=AccountOutcome(
            fetch_reason,  # type: ignore[arg-type]
            input_path,  # type: ignore[arg-type]
            input_sha256,  # type: ignore[arg-type]
            report,  # type: ignore[arg-type]
        ),
    )


class LedgerRecords(_Connection):
    """The history store's part for the distributed engine: the run ledger."""

    def plan_run(
        self,
        run_key: str,
        accounts: Sequence[PlannedAccount],
        now: datetime,
        deliver_by: datetime,
        clients: Sequence[str] | None = None,
    ) -> None:
        """Write a run's ledger: each account ``queued``, to be claimed by ``deliver_by`` (after
        it the periodic requeue enqueues it again: its task was lost). Planning a run twice is a
        StoreError."""
        if not accounts:
            raise StoreError(f"run {run_key}: no accounts to plan")
        at, until = _to_us(now), _to_us(deliver_by)
        chosen = None if clients is None else json.dumps(list(clients))
        with self._transaction() as db:
            inserted = db.execute(
                "INSERT INTO ledger_runs (run_key, clients, planned_at) VALUES (?, ?, ?)"
                " ON CONFLICT (run_key) DO NOTHING",
                (run_key, chosen, at),
            ).rowcount
            if inserted == 0:
                raise StoreError(f"run {run_key} is planned already")
            db.executemany(
                "INSERT INTO run_ledger (run_key, platform, account, client, state, attempts,"
                " lease_until) VALUES (?, ?, ?, ?, 'queued', 0, ?)",
                [(run_key, a.platform, a.account, a.client, until) for a in accounts],
            )

    def claim_account(
        self,
        run_key: str,
        platform: str,
        account: str,
        worker: str,
        lease_until: datetime,
        now: datetime,
    ) -> Claim | None:
        """Take the account for ``worker`` until ``lease_until``: when it is queued, or running
        under a lease that expired before ``now``. None when another worker holds a live lease,
        when it is done or failed already, or when the run has no such account."""
        until, at = _to_us(lease_until), _to_us(now)
        with self._transaction() as db:
            taken = db.execute(
                "UPDATE run_ledger SET state = 'running', attempts = attempts + 1,"
                " lease_until = ?, worker = ?, error = NULL"
                " WHERE run_key = ? AND platform = ? AND account = ?"
                " AND (state = 'queued' OR (state = 'running' AND lease_until < ?))",
                (until, worker, run_key, platform, account, at),
            ).rowcount
            if taken == 0:
                return None
            client, attempts = db.execute(
                "SELECT client, attempts FROM run_ledger"
                " WHERE run_key = ? AND platform = ? AND account = ?",
                (run_key, platform, account),
            ).fetchone()
        return Claim(run_key, client, platform, account, attempts, worker, _from_us(until))

    def renew(
        self, run_key: str, platform: str, account: str, worker: str, lease_until: datetime
    ) -> bool:
        """Extend ``worker``'s lease on the account; False if it no longer holds it."""
        until = _to_us(lease_until)
        with self._transaction() as db:
            return (
                db.execute(
                    "UPDATE run_ledger SET lease_until = CASE WHEN lease_until < ? THEN ?"
                    " ELSE lease_until END WHERE run_key = ? AND platform = ? AND account = ?"
                    " AND worker = ? AND state = 'running'",
                    (until, until, run_key, platform, account, worker),
                ).rowcount
                > 0
            )

    def finish_account(
        self,
        run_key: str,
        platform: str,
        account: str,
        worker: str,
        state: Literal["done", "failed"],
        now: datetime,
        error: str | None = None,
        outcome: AccountOutcome | None = None,
    ) -> bool:
        """Close the account ``done`` or ``failed`` (``error``: why, on one line); only its
        holder can. False when ``worker`` no longer holds it (its lease expired and another
        took it): the other's outcome stands."""
        if state not in FINISHED_STATES:
            raise StoreError(f"an account finishes done or failed, not {state!r}")
        line = None if error is None else clip(escape_controls(error))
        outcome = outcome or AccountOutcome()
        with self._transaction() as db:
            return (
                db.execute(
                    "UPDATE run_ledger SET state = ?, error = ?, finished_at = ?,"
                    " fetch_reason = ?, input_path = ?, input_sha256 = ?, report = ?"
                    " WHERE run_key = ? AND platform = ? AND account = ? AND worker = ?"
                    " AND state = 'running'",
                    (
                        state,
                        line,
                        _to_us(now),
                        outcome.fetch_reason,
                        outcome.input_path,
                        outcome.input_sha256,
                        outcome.report,
                        run_key,
                        platform,
                        account,
                        worker,
                    ),
                ).rowcount
                > 0
            )

    def expired_leases(self, now: datetime, extend_to: datetime) -> list[Expired]:
        """What must be enqueued again at ``now``: accounts queued or running whose lease (or
        delivery time) has passed, and complete runs whose finalize never ran or whose
        finalizer's claim expired. Each is given until ``extend_to`` before it counts again, so
        that one requeue does not enqueue it twice."""
        at, until = _to_us(now), _to_us(extend_to)
        expired: list[Expired] = []
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT run_key, client, platform, account FROM run_ledger WHERE {_OPEN}"
                " AND lease_until < ? ORDER BY run_key, client, platform, account",
                (at,),
            ).fetchall()
            for run_key, client, platform, account in rows:
                # Queued rows get a new delivery time; running ones keep their state, so that
                # the (dead) holder's claim can be taken over by whoever gets the new task.
                db.execute(
                    "UPDATE run_ledger SET lease_until = ? WHERE run_key = ? AND platform = ?"
                    " AND account = ? AND state = 'queued'",
                    (until, run_key, platform, account),
                )
                expired.append(Expired(run_key, client, platform, account))
            runs = db.execute(
                "SELECT r.run_key FROM ledger_runs AS r"
                " WHERE (r.finalize_state IS NULL OR (r.finalize_state = 'running'"
                " AND r.finalize_until < ?))"
                f" AND NOT EXISTS (SELECT 1 FROM run_ledger AS l WHERE l.run_key = r.run_key"
                f" AND l.{_OPEN}) ORDER BY r.run_key",
                (at,),
            ).fetchall()
            expired += [Expired(run_key, None, None, None) for (run_key,) in runs]
        return expired

    def ledger_complete(self, run_key: str) -> bool:
        """Every account of the run is done or failed (a run with no ledger is not complete)."""
        ((total, open_count),) = self._read(
            f"SELECT count(*), coalesce(sum(CASE WHEN {_OPEN} THEN 1 ELSE 0 END), 0)"
            " FROM run_ledger WHERE run_key = ?",
            (run_key,),
        )
        return bool(total) and open_count == 0

    def claim_finalize(self, run_key: str, finalizer: str, until: datetime, now: datetime) -> bool:
        """Whether ``finalizer`` is the one to write the run's reports: the ledger is complete,
        the run not finalized, and no other finalizer holds a live claim. Exactly one caller
        gets True; :meth:`finish_finalize` marks it done."""
        with self._transaction() as db:
            return (
                db.execute(
                    "UPDATE ledger_runs SET finalize_state = 'running', finalize_until = ?,"
                    " finalizer = ? WHERE run_key = ? AND (finalize_state IS NULL"
                    " OR (finalize_state = 'running' AND finalize_until < ?))"
                    f" AND NOT EXISTS (SELECT 1 FROM run_ledger WHERE run_key = ? AND {_OPEN})"
                    " AND EXISTS (SELECT 1 FROM run_ledger WHERE run_key = ?)",
                    (_to_us(until), finalizer, run_key, _to_us(now), run_key, run_key),
                ).rowcount
                > 0
            )

    def finish_finalize(self, run_key: str, finalizer: str, now: datetime) -> bool:
        """The run's reports are written: it is finalized for good (False: ``finalizer`` lost
        its claim meanwhile)."""
        with self._transaction() as db:
            return (
                db.execute(
                    "UPDATE ledger_runs SET finalize_state = 'done', finalized_at = ?"
                    " WHERE run_key = ? AND finalizer = ? AND finalize_state = 'running'",
                    (_to_us(now), run_key, finalizer),
                ).rowcount
                > 0
            )

    def _prune_ledger(self, db: Db, cutoff_us: int) -> int:
        """Inside the store's prune: the ledger of every run planned before the cutoff, finished
        or not (one still open after the whole retention period was abandoned: no requeue
        should bring it back); the rows deleted."""
        old = "SELECT run_key FROM ledger_runs WHERE planned_at < ?"
        deleted = 0
        for sql in (
            f"DELETE FROM run_ledger WHERE run_key IN ({old})",
            f"DELETE FROM ledger_notified WHERE run_key IN ({old})",
            "DELETE FROM ledger_runs WHERE planned_at < ?",
        ):
            deleted += db.execute(sql, (cutoff_us,)).rowcount
        return deleted

    def notified_clients(self, run_key: str) -> frozenset[str]:
        """The clients of the run whose notifications were sent (or tried) already."""
        rows = self._read("SELECT client FROM ledger_notified WHERE run_key = ?", (run_key,))
        return frozenset(client for (client,) in rows)

    def mark_notified(self, run_key: str, client: str) -> None:
        """``client``'s notifications of the run went (or failed after their retries)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO ledger_notified (run_key, client) VALUES (?, ?)"
                " ON CONFLICT (run_key, client) DO NOTHING",
                (run_key, client),
            )

    def ledger_run(self, run_key: str) -> LedgerRun | None:
        """The planned run ``run_key``, or None."""
        found = self._read(
            "SELECT clients, planned_at, finalize_state FROM ledger_runs WHERE run_key = ?",
            (run_key,),
        )
        if not found:
            return None
        clients, planned, state = found[0]
        return LedgerRun(
            run_key,
            None if clients is None else json.loads(clients),
            _from_us(planned),
            state == "done",
        )

    def ledger(self, run_key: str) -> list[LedgerRow]:
        """The run's accounts, by client, platform and handle."""
        rows = self._read(
            f"{_ROW} WHERE run_key = ? ORDER BY client, platform, account", (run_key,)
        )
        return [_row(row) for row in rows]

    def open_ledgers(self) -> list[LedgerProgress]:
        """Planned runs not finalized yet, oldest first, with their accounts counted."""
        rows = self._read(
            "SELECT r.run_key, r.planned_at, count(*),"
            " coalesce(sum(CASE WHEN l.state = 'done' THEN 1 ELSE 0 END), 0),"
            " coalesce(sum(CASE WHEN l.state = 'failed' THEN 1 ELSE 0 END), 0)"
            " FROM ledger_runs AS r JOIN run_ledger AS l ON l.run_key = r.run_key"
            " WHERE r.finalize_state IS NULL OR r.finalize_state <> 'done'"
            " GROUP BY r.run_key, r.planned_at ORDER BY r.planned_at, r.run_key"
        )
        return [
            LedgerProgress(key, _from_us(planned), total, done, failed)
            for key, planned, total, done, failed in rows
        ]

    def open_runs_of(self, client: str) -> list[str]:
        """The planned runs not finalized yet that audit ``client``, oldest first."""
        rows = self._read(
            "SELECT run_key, clients FROM ledger_runs"
            " WHERE finalize_state IS NULL OR finalize_state <> 'done'"
            " ORDER BY planned_at, run_key"
        )
        return [key for key, clients in rows if clients is None or client in json.loads(clients)]

    def client_runs_of(self, run_key: str) -> list[tuple[int, str]]:
        """The scheduler's client runs still running that a planned run will close: (id,
        client), set with ``set_client_run_key`` when the scheduler enqueued it."""
        rows = self._read(
            "SELECT id, client FROM client_runs WHERE run_key = ? AND outcome = 'running'"
            " ORDER BY id",
            (run_key,),
        )
        return [(int(run_id), str(client)) for run_id, client in rows]
