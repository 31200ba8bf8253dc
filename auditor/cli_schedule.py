"""``auditor schedule CONFIG``: the long-running process that audits each client at its time.

What is due is decided by ``auditor.scheduler.due`` (pure, from the config, the store's client
runs and the time); this module only does it: it holds the store's lease (one scheduler per
store) and renews it with a heartbeat thread that also rewrites the heartbeat file, runs each
due client as ``auditor run --client`` would (its reports in ``<output>/<client>/<run>/``),
records every client run, and is woken by the ``schedule`` package, which decides nothing.

Signals follow ``auditor run``'s rule: the first SIGINT/SIGTERM stops the client in progress
(its finished accounts reported, the client recorded ``interrupted`` and audited again, whole,
by the next pass), gives the lease back and exits 0 (``--once``: 128 + the signal, as ``run``).
"""

from __future__ import annotations

import _thread
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import schedule as wakeups
import typer

from auditor.cli_common import (
    ChecksDirs,
    Failed,
    LogFormatOption,
    audit_into_reports,
    check_paths_before_work,
    fail,
    http_client_for,
    load,
    open_store,
    progress_for,
)
from auditor.cli_runs import (
    ClientOutcome,
    Heartbeat,
    client_outcomes,
    due_record,
    failure_line,
    notify_client,
    utc_now,
)
from auditor.heartbeat import Beat, State, heartbeat_path, write_beat
from auditor.progress import LogFormat
from auditor.result import (
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_OK,
    EXIT_SIGNAL_BASE,
    Interrupted,
    signal_name,
    worst_exit_code,
)
from auditor.scheduler.due import Due, due_clients, next_due_at
from auditor.store.scheduler import ClientBusy, LeaseHeld, LeaseLost
from auditor.untrusted import escape_controls

if TYPE_CHECKING:
    from celery import Celery

    from auditor.config import ClientConfig, Config
    from auditor.fetch.http import HttpClient
    from auditor.registry import Registry
    from auditor.store.history import HistoryStore

log = logging.getLogger("auditor.schedule")

# How often the loop wakes to ask what is due: slots are whole minutes, so a run starts within
# this of its slot; waking costs one small read of the store.
WAKE_SECONDS = 20


@dataclass
class Doing:
    """What the scheduler is doing, read by the heartbeat thread for the heartbeat file."""

    state: State = "starting"
    client: str | None = None


@dataclass(frozen=True)
class ClientAudit:
    """One client's audit done: how it ended (as recorded) and its exit code as ``run``'s."""

    outcome: ClientOutcome
    code: int
    stopped_by: int | None = None  # the signal that came during it, if one did
    # Sends its notifications once the run is recorded; why they failed, or None.
    notify: Callable[[], str | None] | None = None


AuditClient = Callable[["ClientConfig"], ClientAudit]


@dataclass
class Scheduler:
    """Runs what is due, one client after another, recording each run under the lease
    ``holder``. ``audit`` does one client's audit (tests pass a fake); ``clock`` is the time."""

    config: Config
    store: HistoryStore
    holder: str
    audit: AuditClient
    clock: Callable[[], datetime] = utc_now
    watching_since: datetime | None = None
    doing: Doing = field(default_factory=Doing)
    # Told when the scheduler starts or ends a client (the heartbeat file says it at once).
    changed: Callable[[], None] = lambda: None
    # engine: celery: plans a client's run for the workers and enqueues it (its run id); the
    # client run stays running until the run's finalize closes it. None: audited here.
    enqueue: Callable[[ClientConfig], str] | None = None
    # engine: celery: what each pass does first (the requeue of what dead workers left).
    before_pass: Callable[[], None] = lambda: None

    def due(self, now: datetime) -> list[Due]:
        names = [client.name for client in self.config.clients]
        records = self.store.client_records(names, now, self.config.stale_after)
        known = {name: r for name, rec in records.items() if (r := due_record(rec)) is not None}
        schedules = [(client.name, client.schedule) for client in self.config.clients]
        return due_clients(
            schedules, known, now, self.config.retry, watching_since=self.watching_since
        )

    def next_due(self, now: datetime) -> datetime | None:
        """The earliest time any client is next due (None while every client is running)."""
        names = [client.name for client in self.config.clients]
        records = self.store.client_records(names, now, self.config.stale_after)
        times = [
            when
            for client in self.config.clients
            if (
                when := next_due_at(
                    client.schedule, due_record(records[client.name]), now, self.config.retry
                )
            )
            is not None
        ]
        return min(times, default=None)

    def run_due(self) -> list[int]:
        """Audit every client due now, in config order; their exit codes. A stop signal ends
        the pass after recording the client it stopped (:class:`Interrupted` is raised on)."""
        self.before_pass()
        return [self.run_client(item.client, item) for item in self.due(self.clock())]

    def run_client(self, name: str, due: Due | None) -> int:
        """Audit the client ``name`` now, for ``due``'s slot (None: asked for by ``--now``)."""
        client = next(c for c in self.config.clients if c.name == name)
        now = self.clock()
        attempt = 1 if due is None else due.attempt
        try:
            run_id = self.store.begin_client_run(
                name,
                self.holder,
                None if due is None else due.slot,
                attempt,
                now,
                stale_after=self.config.stale_after,
            )
        except ClientBusy as busy:  # a manual run has it: it satisfies the slot if it succeeds
            log.warning("skipped: %s", busy)
            return EXIT_BUSY
        why = "asked for with --now" if due is None else due.reason
        log.info(
            "audit started: client %s (%s)",
            escape_controls(name),
            why,
            extra={"event": "audit_started", "client": name, "reason": why, "attempt": attempt},
        )
        if self.enqueue is not None:
            return self._enqueue(run_id, client, self.enqueue)
        self.doing.state, self.doing.client = "auditing", name
        self.changed()
        try:
            done = self.audit(client)
        except BaseException as stop:
            interrupted = isinstance(stop, Interrupted | KeyboardInterrupt)
            outcome = (
                ClientOutcome("interrupted", "stopped by a signal")
                if interrupted
                else ClientOutcome("failed", failure_line(stop))
            )
            self._finish(run_id, name, outcome, None)
            raise
        finally:
            self.doing.state, self.doing.client = "idle", None
            self.changed()
        self._finish(run_id, name, done.outcome, done.code)
        if done.notify is not None and done.outcome.outcome != "interrupted":
            error = done.notify()
            if error is not None:
                self.store.set_client_run_notify_error(run_id, error)
        if done.stopped_by is not None:
            raise Interrupted(done.stopped_by)
        return done.code

    def _enqueue(
        self, run_id: int, client: ClientConfig, enqueue: Callable[[ClientConfig], str]
    ) -> int:
        """engine: celery: the client's run planned and enqueued; its client run is closed by
        the run's finalize (or here, failed, when it could not be enqueued)."""
        try:
            run_key = enqueue(client)
        except Failed as failed:
            self._finish(run_id, client.name, ClientOutcome("failed", failed.message), None)
            return failed.exit_code
        self.store.set_client_run_key(run_id, run_key)
        log.info(
            "audit enqueued: client %s, run %s",
            escape_controls(client.name),
            run_key,
            extra={"event": "audit_enqueued", "client": client.name, "run": run_key},
        )
        return EXIT_OK

    def _finish(self, run_id: int, name: str, outcome: ClientOutcome, code: int | None) -> None:
        try:
            self.store.finish_client_run(
                run_id,
                outcome.outcome,
                None,
                outcome.error,
                self.clock(),
                report_dir=outcome.report_dir,
            )
        except Exception as error:
            log.error("client %s: %s", escape_controls(name), error)
        exit_part = "" if code is None else f", exit {code}"
        where = f", reports in {outcome.report_dir}" if outcome.report_dir else ""
        failure = f": {outcome.error}" if outcome.outcome != "ok" and outcome.error else ""
        line = f"audit finished: client {escape_controls(name)} {outcome.outcome}{exit_part}"
        fields = {
            "event": "audit_finished",
            "client": name,
            "outcome": outcome.outcome,
            "exit_code": code,
            "error": outcome.error,
            "report_dir": outcome.report_dir,
        }
        level = logging.INFO if outcome.outcome == "ok" else logging.WARNING
        log.log(level, "%s%s%s", line, failure, where, extra=fields)


def real_audit(
    config: Config,
    registry: Registry,
    http_client: HttpClient | None,
    workers: int | None,
    log_format: LogFormat = "text",
) -> AuditClient:
    """One client's audit as ``auditor run --client NAME -q`` does it, reports in the config's
    formats under ``output.dir``; a failure is recorded, never raised (a signal is)."""
    from auditor.cli_gating import gate_for_run

    def audit(client: ClientConfig) -> ClientAudit:
        chosen = list(client.accounts)
        try:
            check_paths_before_work(config, chosen, reports_dir=config.output_dir)
            done = audit_into_reports(
                config,
                registry,
                chosen,
                out_dir=config.output_dir,
                formats=config.formats,
                table=None,
                progress=progress_for(log_format, quiet=False, level=logging.INFO, timed=True),
                http_client=http_client,
                clients=[client.name],
                workers=workers,
                gate=gate_for_run(config, None),
            )
        except Failed as failed:
            return ClientAudit(ClientOutcome("failed", failed.message), failed.exit_code)
        except typer.Exit as exited:
            return ClientAudit(ClientOutcome("failed", "stopped"), exited.exit_code)
        except Exception as error:
            log.exception("client %s: the audit failed", escape_controls(client.name))
            return ClientAudit(ClientOutcome("failed", failure_line(error)), EXIT_BAD_INPUT)
        outcome = client_outcomes(done, chosen)[client.name]
        if done.result.interrupted is not None:
            signum = done.result.interrupted
            return ClientAudit(outcome, EXIT_SIGNAL_BASE + signum, stopped_by=signum)
        stopped = done.result.stopped_after  # came as the run closed: it is whole
        return ClientAudit(
            outcome, done.totals.code, stopped, lambda: notify_client(config, done, client.name)
        )

    return audit


class _Lease:
    """The store's lease, held for the block, renewed (with the heartbeat file) by a thread."""

    def __init__(self, config: Config, store: HistoryStore, doing: Doing) -> None:
        from auditor.cli_runs import new_holder

        self.config, self.store, self.doing = config, store, doing
        self.holder = new_holder()
        self.lost: LeaseLost | None = None
        self.started_at = utc_now()
        self.beat_file = heartbeat_path(config.store_path)

    def take(self) -> None:
        try:
            previous = self.store.acquire_lease(
                self.holder, now=self.started_at, stale_after=self.config.stale_after
            )
        except LeaseHeld as held:
            fail(str(held), EXIT_BUSY)
        if previous is not None:
            log.warning(
                "took the history store over from %s, whose heartbeat stopped at %s",
                previous.describe(),
                previous.heartbeat_at.isoformat(timespec="seconds"),
            )
        self.write_beat(self.started_at)

    def beat(self, store: HistoryStore, now: datetime) -> None:
        try:
            store.renew_lease(self.holder, now)
        except LeaseLost:
            raise
        except Exception as error:
            log.warning("heartbeat: %s", error)
        self.write_beat(now)

    def write_beat(self, now: datetime, state: State | None = None) -> None:
        beat = Beat(
            holder=self.holder,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=self.started_at,
            beat_at=now,
            state=state or self.doing.state,
            stale_after=self.config.stale_after,
            client=self.doing.client,
        )
        try:
            write_beat(self.beat_file, beat)
        except OSError as error:
            log.warning("heartbeat file %s: %s", self.beat_file, error)

    def on_lost(self, error: Exception) -> None:
        """The heartbeat failed for good: another scheduler has the store. Stop at once."""
        self.lost = error if isinstance(error, LeaseLost) else LeaseLost(self.holder, None)
        log.error("%s", error)
        _thread.interrupt_main(signal.SIGTERM)

    def give_back(self) -> None:
        self.write_beat(utc_now(), "stopped")
        if self.lost is None:
            self.store.release_lease(self.holder)


def _wake_loop(tick: Callable[[], None]) -> None:
    """Call ``tick`` now and then every WAKE_SECONDS, forever (a signal ends it)."""
    waker = wakeups.Scheduler()
    waker.every(WAKE_SECONDS).seconds.do(tick)
    tick()
    while True:
        waker.run_pending()
        idle = waker.idle_seconds
        time.sleep(min(WAKE_SECONDS, max(0.5, idle if idle is not None else WAKE_SECONDS)))


def schedule_command(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="The audit config (YAML).")],
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Run what is due now and exit with run's exit codes (for cron, systemd "
            "timers, Kubernetes CronJobs).",
        ),
    ] = False,
    now_clients: Annotated[
        list[str] | None,
        typer.Option(
            "--now",
            metavar="CLIENT",
            help="Audit this client at once, whatever its schedule (repeatable); with --once, "
            "only these.",
        ),
    ] = None,
    checks_dir: ChecksDirs = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes that audit accounts in parallel (default: cores)."),
    ] = None,
    log_format: LogFormatOption = "text",
) -> None:
    """Audit each client of CONFIG at its schedule, for as long as it runs; one scheduler per
    history store. Exit 0 after a clean stop (SIGTERM, Ctrl-C), 4 if another scheduler holds
    the store, 2 on a config error; --once: run's codes."""
    # The daemon logs its events at INFO, each text line with its time.
    progress_for(log_format, quiet=False, level=logging.INFO, timed=True)
    registry, config = load(config_path, checks_dir)
    known = {client.name for client in config.clients}
    for name in now_clients or ():
        if name not in known:
            fail(f"--now {name!r} is not a client of {config.path}")
    check_paths_before_work(config, config.accounts(), reports_dir=config.output_dir)
    # engine: celery: the broker is reached now (one line, exit 2, before the lease is taken).
    app = _celery_app(config) if config.engine.kind == "celery" else None
    http_client = http_client_for(config)
    doing = Doing()
    with open_store(config) as store:
        lease = _Lease(config, store, doing)
        lease.take()
        scheduler = Scheduler(
            config,
            store,
            lease.holder,
            real_audit(config, registry, http_client, workers, log_format),
            watching_since=None if once else lease.started_at,
            doing=doing,
            changed=lambda: lease.write_beat(utc_now()),
        )
        if app is not None:
            _enqueue_instead(scheduler, app)
        codes: list[int] = []
        try:
            with Heartbeat(config, lease.beat, lease.on_lost, every=config.stale_after / 3):
                doing.state = "idle"
                lease.write_beat(utc_now())
                codes = _run(scheduler, once, now_clients or [])
        except Interrupted as stop:
            doing.state = "stopping"
            if lease.lost is not None:
                fail(f"{lease.lost}; this scheduler stopped", EXIT_BUSY)
            log.info("stopped by %s", signal_name(stop.signum))
            codes.append(stop.exit_code if once else EXIT_OK)
        finally:
            http_client.close()
            lease.give_back()
    raise typer.Exit(worst_exit_code(codes) if once else EXIT_OK)


def _celery_app(config: Config) -> Celery:
    from auditor.cli_distributed import celery_app

    return celery_app(config)


def _enqueue_instead(scheduler: Scheduler, app: Celery) -> None:
    """engine: celery: each due client is planned and enqueued for the workers instead of
    audited here, and every pass first requeues what dead workers left (docs/scale.md)."""
    from auditor.cli_distributed import plan_and_enqueue
    from auditor.distributed.app import CeleryQueue
    from auditor.distributed.plan import requeue_expired

    config = scheduler.config

    def requeue() -> None:
        try:
            requeue_expired(config, scheduler.store, CeleryQueue(app), scheduler.clock())
        except Exception as error:
            log.warning("requeue: %s", failure_line(error))

    def enqueue(client: ClientConfig) -> str:
        # A run of the client still in the workers (its client run was closed when an earlier
        # scheduler stopped) is the one this client run waits for: never two at once.
        in_flight = scheduler.store.open_runs_of(client.name)
        if in_flight:
            return in_flight[0]
        return plan_and_enqueue(config, app, [client.name])

    scheduler.enqueue = enqueue
    scheduler.before_pass = requeue


def _run(scheduler: Scheduler, once: bool, now_clients: Sequence[str]) -> list[int]:
    codes = [scheduler.run_client(name, None) for name in now_clients]
    if once:
        if not now_clients:
            codes += scheduler.run_due()
            if not codes:
                next_at = scheduler.next_due(scheduler.clock())
                when = "never" if next_at is None else next_at.isoformat(timespec="minutes")
                log.info("nothing due; next audit due at %s", when)
        return codes

    def tick() -> None:
        scheduler.run_due()

    _wake_loop(tick)
    return codes  # not reached: the loop ends by a signal
