"""Client runs as the history store records them, for ``auditor run`` and ``auditor schedule``:
claiming the clients a run audits (refused, or waited for, while another process audits one),
keeping the claim alive with a heartbeat thread, and closing each with its outcome.

A run's outcome per client: ``interrupted`` when a stop signal cut the run short (the next
pass of the scheduler audits that client again, whole); ``failed`` when the audit could not be
done as asked (a config or input error, an account whose fetch was incomplete or whose input
could not be read): what a retry may fix; else ``ok``, whatever the findings say (a compliance
failure is the audit's result, not a failure to audit).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from auditor.fetch.store_location import open_config_store
from auditor.scheduler.due import ClientRecord
from auditor.store.history import HistoryStore, StoreError
from auditor.store.scheduler import (
    ClientBusy,
    ClientRunRecord,
    FinishedOutcome,
)
from auditor.untrusted import clip

if TYPE_CHECKING:
    from auditor.cli_common import AuditRun
    from auditor.config import AccountConfig, Config

log = logging.getLogger("auditor.runs")

WAIT_POLL_SECONDS = 5.0
# How a notification waits between attempts (tests replace it).
NOTIFY_SLEEP: Callable[[float], None] = time.sleep


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_holder() -> str:
    """A process's id in the store's records: unique, whatever pid reuse or hosts do."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ClientOutcome:
    """How one client's run ended, as recorded: its outcome, the failure on one line, and
    where its reports went."""

    outcome: FinishedOutcome
    error: str | None = None
    report_dir: str | None = None


def client_outcomes(done: AuditRun, accounts: Sequence[AccountConfig]) -> dict[str, ClientOutcome]:
    """Each client's outcome in ``done``, an audit of ``accounts``."""
    interrupted = done.result.interrupted is not None
    failures: dict[str, list[str]] = {}
    failed = set(done.totals.failed_accounts())
    for account in accounts:
        key = str(account.key)
        if key in failed:
            why = done.fetch_incomplete.get(key, "its input could not be read")
            failures.setdefault(account.client, []).append(f"{key}: {why}")
    outcomes: dict[str, ClientOutcome] = {}
    for client in dict.fromkeys(account.client for account in accounts):
        folder = done.folders.get(client)
        report_dir = None if folder is None else str(folder)
        if interrupted:
            outcomes[client] = ClientOutcome("interrupted", "stopped by a signal", report_dir)
        elif client in failures:
            errors = failures[client]
            outcomes[client] = ClientOutcome("failed", clip("; ".join(errors), 300), report_dir)
        else:
            outcomes[client] = ClientOutcome("ok", None, report_dir)
    return outcomes


def due_record(record: ClientRunRecord) -> ClientRecord | None:
    """The store's record of a client's runs as ``due`` reads it; None if it never ran."""
    if record.started_at is None or record.outcome is None:
        return None
    return ClientRecord(
        started_at=record.started_at,
        finished_at=record.finished_at,
        outcome=record.outcome,
        attempts=max(1, record.slot_attempts),
        interrupted_in_a_row=record.interrupted_in_a_row,
        last_slot=record.last_slot,
    )


def notify_client(config: Config, done: AuditRun, client: str) -> str | None:
    """Send ``client``'s notifications (its ``notify``, else the config's) of ``done``, a run
    that was not interrupted, its reports written; why they failed, on one line, or None.
    Never raises: a notification never loses or undoes the audit it tells of."""
    from auditor.notify import notify_run

    settings = next(c.notify for c in config.clients if c.name == client)
    folder = done.folders.get(client)
    if folder is None or not settings.enabled:
        return None
    deliveries = notify_run(
        settings, done.result, done.totals, client, folder, sleep=lambda s: NOTIFY_SLEEP(s)
    )
    failed = [f"{d.channel}: {d.error}" for d in deliveries if not d.ok]
    return clip("; ".join(failed), 300) if failed else None


class Heartbeat:
    """A thread that calls ``beat`` with a store connection of its own every ``every``, until
    the block ends. The first exception ``beat`` raises ends the thread and is handed to
    ``on_failure`` (the scheduler stops when it has lost its lease)."""

    def __init__(
        self,
        config: Config,
        beat: Callable[[HistoryStore, datetime], None],
        on_failure: Callable[[Exception], None],
        every: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config, self._beat, self._on_failure = config, beat, on_failure
        self._every, self._clock = every.total_seconds(), clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # Opened at the first beat: most blocks (a worker's account) end before it, and a
        # connection is a PostgreSQL server process forked for nothing.
        store: HistoryStore | None = None
        try:
            while not self._stop.wait(self._every):
                if store is None:
                    store = open_config_store(self._config)
                self._beat(store, self._clock())
        except Exception as error:
            self._on_failure(error)
        finally:
            if store is not None:
                store.close()


class ManualRuns:
    """The clients a manual ``auditor run`` claims in the store: a client another live process
    is auditing is refused with one line (``wait``: waited for), the others claimed, kept
    alive by a heartbeat, and closed with :meth:`finish` (or, on the way out of the block,
    ``interrupted`` for a stop signal, ``failed`` for anything else)."""

    def __init__(self, config: Config, store: HistoryStore, clients: Sequence[str]) -> None:
        self._config, self._store = config, store
        self._wanted = list(clients)
        self.holder = new_holder()
        self.claimed: dict[str, int] = {}
        self.finished: dict[str, int] = {}
        self.refused: list[str] = []

    def claim(self, wait: bool, say: Callable[[str], None]) -> None:
        """Claim every wanted client, in config order (so that two waiting runs cannot each
        hold what the other waits for)."""
        for client in self._wanted:
            told = False
            while True:
                try:
                    self.claimed[client] = self._store.begin_client_run(
                        client, self.holder, None, stale_after=self._config.stale_after
                    )
                    break
                except ClientBusy as busy:
                    if not wait:
                        say(f"{busy}; or add --wait")
                        self.refused.append(client)
                        break
                    if not told:
                        say(f"waiting: {busy}")
                        told = True
                    time.sleep(WAIT_POLL_SECONDS)

    def finish(self, outcomes: dict[str, ClientOutcome], run_key: str | None) -> None:
        for client, outcome in outcomes.items():
            run_id = self.claimed.pop(client, None)
            if run_id is not None:
                self._close(run_id, outcome, run_key)
                self.finished[client] = run_id

    def notify(self, done: AuditRun, outcomes: dict[str, ClientOutcome]) -> dict[str, str]:
        """Each finished client's notifications, unless its run was interrupted; their
        failures (client -> why), also recorded with the client's run."""
        failures: dict[str, str] = {}
        for client, run_id in self.finished.items():
            if outcomes[client].outcome == "interrupted":
                continue
            error = notify_client(self._config, done, client)
            if error is not None:
                failures[client] = error
                self._store.set_client_run_notify_error(run_id, error)
        return failures

    def close_rest(self, outcome: ClientOutcome) -> None:
        for run_id in self.claimed.values():
            self._close(run_id, outcome, None)
        self.claimed.clear()

    def _close(self, run_id: int, outcome: ClientOutcome, run_key: str | None) -> None:
        try:
            self._store.finish_client_run(
                run_id, outcome.outcome, run_key, outcome.error, report_dir=outcome.report_dir
            )
        except StoreError as error:  # taken over as dead meanwhile: its record stands
            log.warning("%s", error)


@contextmanager
def manual_runs(
    config: Config,
    store: HistoryStore,
    clients: Sequence[str],
    *,
    wait: bool,
    say: Callable[[str], None],
) -> Iterator[ManualRuns]:
    """Claim ``clients`` for a manual run (:class:`ManualRuns`), with a heartbeat for as long
    as the block runs; whatever the block leaves unfinished is closed on the way out."""
    runs = ManualRuns(config, store, clients)

    def beat(beat_store: HistoryStore, now: datetime) -> None:
        beat_store.renew_client_runs(runs.holder, now)

    def lost(error: Exception) -> None:
        log.warning("heartbeat of this run's clients stopped: %s", error)

    # Beats as often as the scheduler's (a third of the stale period the config sets), so
    # that neither takes the other's live client for a dead one's.
    with Heartbeat(config, beat, lost, every=config.stale_after / 3):
        try:
            runs.claim(wait, say)
            yield runs
        except BaseException as stop:
            from auditor.result import Interrupted

            if isinstance(stop, Interrupted | KeyboardInterrupt):
                runs.close_rest(ClientOutcome("interrupted", "stopped by a signal"))
            else:
                runs.close_rest(ClientOutcome("failed", failure_line(stop)))
            raise
        runs.close_rest(ClientOutcome("failed", "the run ended without an outcome"))


def failure_line(error: BaseException) -> str:
    """What stopped a client's audit, on one line: the command's own error line when it
    stopped with one (:class:`~auditor.cli_common.Failed`), else the exception."""
    message = getattr(error, "message", None)
    if isinstance(message, str):
        return clip(message, 300)
    return clip(f"{type(error).__name__}: {error}", 300)
