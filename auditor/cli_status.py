"""``auditor status CONFIG``: per client, its last run, result, failures, next run and report
folder, under a line on the scheduler (from its heartbeat file and the store's lease);
``--json`` gives the same as one document; ``--health`` is one line and an exit code for
monitoring (0 the scheduler is alive, 1 it is not, 2 bad input).

Part of the face (``auditor.cli`` adds the command). It never creates a history store: with none
every client reads "never audited". Times are aware UTC, printed to the minute; the clock is
:func:`now`, which the tests replace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from auditor.cli_common import ChecksDirs, echo, fail, load
from auditor.cli_runs import due_record
from auditor.heartbeat import Beat, heartbeat_path, read_beat
from auditor.result import EXIT_FAILED, EXIT_OK
from auditor.scheduler.due import ClientRecord, RetryPolicy, due_clients, next_due_at, overruns
from auditor.untrusted import escape_controls

if TYPE_CHECKING:
    from auditor.config import Config
    from auditor.scheduler.when import Schedule
    from auditor.store.scheduler import ClientRunRecord, LeaseInfo

__all__ = ["STATUS_SCHEMA", "now", "status_command"]

STATUS_SCHEMA = 1
# The width the failures column wraps at: an error line may be 300 characters.
_FAILURES_WIDTH = 60
SchedulerState = Literal["running", "not running", "stopped", "none"]


def now() -> datetime:
    """The time status is judged at (the tests put their own clock here)."""
    return datetime.now(UTC)


# -- wording --------------------------------------------------------------------------------


def _minute(moment: datetime) -> str:
    """A time in UTC to the minute; in the table, whose headers say UTC, without it."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"


def _utc_minute(moment: datetime) -> str:
    return f"{_minute(moment)} UTC"


def _span(delta: timedelta) -> str:
    """A duration in the largest unit that keeps it readable: 12 s, 14 min, 5 h, 3 d."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 120 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


# -- the scheduler --------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulerView:
    """What is known of the store's scheduler: its heartbeat file if readable, else the lease.

    ``activity`` is the heartbeat's state (None when only the lease was read); ``problem`` says
    why the heartbeat file could not be read."""

    state: SchedulerState
    heartbeat_file: Path
    pid: int | None = None
    host: str | None = None
    started_at: datetime | None = None
    beat_at: datetime | None = None
    stale_after: timedelta | None = None
    activity: str | None = None
    client: str | None = None
    problem: str | None = None

    def who(self) -> str:
        return f"pid {self.pid} on host {self.host}"


def _read_beat(path: Path) -> tuple[Beat | None, str | None]:
    """The heartbeat in ``path`` (None if there is none), or why it could not be read."""
    try:
        return read_beat(path), None
    except (ValueError, OSError) as error:
        return None, str(error)


def _from_beat(beat: Beat, path: Path, at: datetime) -> SchedulerView:
    state: SchedulerState = (
        "stopped" if beat.state == "stopped" else "not running" if beat.is_stale(at) else "running"
    )
    return SchedulerView(
        state,
        path,
        beat.pid,
        beat.host,
        beat.started_at,
        beat.beat_at,
        beat.stale_after,
        beat.state,
        beat.client,
    )


def _from_lease(
    lease: LeaseInfo | None, path: Path, at: datetime, problem: str | None
) -> SchedulerView:
    from auditor.store.scheduler import DEFAULT_STALE_AFTER

    if lease is None:
        return SchedulerView("none", path, problem=problem)
    fresh = at - lease.heartbeat_at < DEFAULT_STALE_AFTER
    return SchedulerView(
        "running" if fresh else "not running",
        path,
        lease.pid,
        lease.host,
        lease.started_at,
        lease.heartbeat_at,
        DEFAULT_STALE_AFTER,
        problem=problem,
    )


def describe_scheduler(view: SchedulerView, at: datetime) -> str:
    """The line above the table: who runs the store's clients, and what it does now."""
    if view.state == "none":
        line = "scheduler: none (no scheduler has run on this store)"
    else:
        assert view.beat_at is not None and view.started_at is not None
        ago = _span(at - view.beat_at)
        if view.state == "running":
            doing = f"auditing {view.client}" if view.activity == "auditing" else view.activity
            line = (
                f"scheduler: {view.who()}, since {_utc_minute(view.started_at)}, last heartbeat"
                f" {ago} ago" + (f", {doing}" if doing else "")
            )
        elif view.state == "stopped":
            line = f"scheduler: not running (stopped at {_utc_minute(view.beat_at)}, {view.who()})"
        else:
            line = (
                f"scheduler: not running (last heartbeat {ago} ago, {view.who()}: dead or frozen)"
            )
    if view.problem is not None:
        line += f"; heartbeat file {view.heartbeat_file}: {view.problem}"
    return line


# -- the clients ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NextRun:
    """When a client runs next: ``at`` (None: when the run in progress ends), why, and whether
    it waits for a run in progress."""

    at: datetime | None
    reason: str
    after_current_run: bool = False


def next_run(
    name: str,
    schedule: Schedule,
    record: ClientRecord | None,
    at: datetime,
    policy: RetryPolicy,
) -> NextRun:
    """The client's next run: now (with what-is-due's reason), an early retry, its next slot,
    or, while a run is in progress, its next slot or (a slot passed meanwhile) when it ends."""
    if record is not None and record.in_progress:
        if overruns(schedule, record, at):
            return NextRun(None, "overdue", after_current_run=True)
        return NextRun(schedule.next_after(at), "scheduled", after_current_run=True)
    due = due_clients([(name, schedule)], {} if record is None else {name: record}, at, policy)
    if due:
        return NextRun(at, due[0].reason)
    when = next_due_at(schedule, record, at, policy)
    assert when is not None  # only a run in progress has none
    return NextRun(when, "scheduled" if when == schedule.next_after(at) else "retry after failure")


@dataclass(frozen=True)
class ClientStatus:
    """One client's row: its schedule, the store's record of its runs (None without a store)
    and its next run."""

    name: str
    schedule: Schedule
    record: ClientRunRecord | None
    next: NextRun

    def retrying(self) -> bool:
        """Its latest slot failed and was tried again."""
        record = self.record
        return record is not None and record.slot_attempts > 1 and not record.slot_succeeded


def _result(client: ClientStatus) -> str:
    record = client.record
    if record is None or record.started_at is None:
        return "never audited"
    if record.outcome == "running":
        return f"running since {_minute(record.started_at)}"
    return str(record.outcome)


def _failures(client: ClientStatus) -> str:
    record = client.record
    if record is None:
        return ""
    parts = []
    if record.outcome in ("failed", "interrupted"):
        parts.append(record.error or "stopped before it finished")
    if client.retrying() and record.last_slot is not None:
        parts.append(f"attempt {record.slot_attempts} of slot {_minute(record.last_slot)}")
    if record.notify_error is not None:
        parts.append(f"notification failed: {record.notify_error}")
    return "; ".join(parts)


def _next_text(run: NextRun, at: datetime) -> str:
    if run.at is None:
        return "overdue: runs when the current run ends"
    if run.at <= at:
        return f"now ({run.reason})"
    text = f"{_minute(run.at)} (in {_span(run.at - at)})"
    if run.reason == "retry after failure":
        text += ", a retry"
    if run.after_current_run:
        text += ", after the run in progress"
    return text


def _row(client: ClientStatus, at: datetime) -> list[str]:
    record = client.record
    last = "-"
    if record is not None and record.started_at is not None:
        last = f"{_minute(record.started_at)} ({_span(at - record.started_at)} ago)"
    cells = [
        client.name,
        str(client.schedule),
        last,
        _result(client),
        _failures(client) or "-",
        _next_text(client.next, at),
        (record.report_dir if record is not None else None) or "-",
    ]
    return [escape_controls(cell) for cell in cells]


def status_table(clients: Sequence[ClientStatus], at: datetime) -> str:
    from tabulate import tabulate

    headers = [
        "client", "schedule", "last run (UTC)", "result", "failures", "next run (UTC)",
        "report folder",
    ]  # fmt: skip
    widths = [None, None, None, None, _FAILURES_WIDTH, None, None]
    return str(tabulate([_row(c, at) for c in clients], headers=headers, maxcolwidths=widths))


# -- JSON -----------------------------------------------------------------------------------


def _scheduler_json(view: SchedulerView, at: datetime) -> dict[str, Any]:
    return {
        "state": view.state,
        "pid": view.pid,
        "host": view.host,
        "started_at": _iso(view.started_at),
        "last_heartbeat_at": _iso(view.beat_at),
        "heartbeat_age_seconds": (
            None if view.beat_at is None else (at - view.beat_at).total_seconds()
        ),
        "stale_after_seconds": (
            None if view.stale_after is None else view.stale_after.total_seconds()
        ),
        "activity": view.activity,
        "client": view.client,
        "heartbeat_file": str(view.heartbeat_file),
        "heartbeat_problem": view.problem,
    }


def _client_json(client: ClientStatus) -> dict[str, Any]:
    record = client.record
    last_run = None
    if record is not None and record.started_at is not None:
        last_run = {
            "started_at": _iso(record.started_at),
            "finished_at": _iso(record.finished_at),
            "outcome": record.outcome,
            "run_id": record.run_key,
            "error": record.error,
            "report_dir": record.report_dir,
            "notify_error": record.notify_error,
        }
    slot = None
    if record is not None and record.last_slot is not None:
        slot = {
            "at": _iso(record.last_slot),
            "attempts": record.slot_attempts,
            "succeeded": record.slot_succeeded,
        }
    return {
        "client": client.name,
        "schedule": str(client.schedule),
        "last_run": last_run,
        "last_slot": slot,
        "last_ok_at": None if record is None else _iso(record.last_ok_at),
        "next_run": {
            "at": _iso(client.next.at),
            "reason": client.next.reason,
            "after_current_run": client.next.after_current_run,
        },
    }


def status_document(
    config: Config, view: SchedulerView, clients: Sequence[ClientStatus], at: datetime
) -> dict[str, Any]:
    """``--json``: the whole status, schema-versioned; every key is always there (null when
    unknown)."""
    return {
        "status_schema": STATUS_SCHEMA,
        "config": str(config.path),
        "store": config.store_url or str(config.store_path),
        "store_exists": config.store_url is not None or config.store_path.is_file(),
        "now": _iso(at),
        "scheduler": _scheduler_json(view, at),
        "clients": [_client_json(c) for c in clients],
    }


# -- reading it all -------------------------------------------------------------------------


def _read_store(
    config: Config, at: datetime, stale_after: timedelta | None
) -> tuple[LeaseInfo | None, dict[str, ClientRunRecord]]:
    """The lease and each client's record from the config's store; nothing (and no file
    made) when there is no store."""
    from auditor.cli_common import store_failure
    from auditor.fetch.store_location import open_config_store
    from auditor.store.history import StoreError
    from auditor.store.scheduler import DEFAULT_STALE_AFTER

    path = config.store_path
    if config.store_url is None and path.is_dir():
        fail(f"history store {path} is a folder, not a file")
    if config.store_url is None and not path.exists():
        return None, {}
    names = [client.name for client in config.clients]
    try:
        with open_config_store(config) as store:
            return store.lease(), store.client_records(
                names, at, stale_after or DEFAULT_STALE_AFTER
            )
    except StoreError as error:
        fail(store_failure(config, error))


def gather(config: Config, at: datetime) -> tuple[SchedulerView, list[ClientStatus]]:
    """The scheduler and every client (config order) at ``at``."""
    path = heartbeat_path(config.store_path)
    beat, problem = _read_beat(path)
    lease, records = _read_store(config, at, None if beat is None else beat.stale_after)
    view = _from_beat(beat, path, at) if beat is not None else _from_lease(lease, path, at, problem)
    clients = []
    for client in config.clients:
        record = records.get(client.name)
        run = next_run(
            client.name,
            client.schedule,
            None if record is None else due_record(record),
            at,
            config.retry,
        )
        clients.append(ClientStatus(client.name, client.schedule, record, run))
    return view, clients


def health(path: Path, at: datetime) -> tuple[bool, str]:
    """Whether the scheduler whose heartbeat file is ``path`` is alive at ``at``, and one line
    saying so or why not."""
    try:
        beat = read_beat(path)
    except (ValueError, OSError) as error:
        return False, f"heartbeat file {path} is unreadable: {error}"
    if beat is None:
        return False, f"no heartbeat file at {path}: is auditor schedule running?"
    who = f"scheduler pid {beat.pid} on host {beat.host}"
    if beat.state == "stopped":
        return False, f"scheduler stopped at {_utc_minute(beat.beat_at)} ({who})"
    age = int(beat.age(at).total_seconds())
    if beat.is_stale(at):
        stale = int(beat.stale_after.total_seconds())
        return False, f"heartbeat is {age} s old (stale after {stale} s): {who} is dead or frozen"
    doing = f"auditing {beat.client}" if beat.state == "auditing" else beat.state
    return True, f"{who}, last heartbeat {age} s ago, {doing}"


def status_command(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="The audit config.")],
    checks_dir: ChecksDirs = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the status as one JSON document.")
    ] = False,
    check_health: Annotated[
        bool,
        typer.Option(
            "--health",
            help="Print one line and exit 0 if the scheduler's heartbeat is fresh, else 1.",
        ),
    ] = False,
) -> None:
    """Show each client's last run, result, failures, next run and report folder, and whether
    the scheduler runs. --health, for monitoring: exit 0 the scheduler's heartbeat is fresh; 1
    it is missing, stale, stopped or unreadable; 2 bad input (a config error)."""
    if as_json and check_health:
        fail("--json and --health do not go together: --health is one line and an exit code")
    _, config = load(config_path, checks_dir)
    at = now()
    if check_health:
        healthy, line = health(heartbeat_path(config.store_path), at)
        echo(("healthy: " if healthy else "unhealthy: ") + line)
        raise typer.Exit(EXIT_OK if healthy else EXIT_FAILED)
    view, clients = gather(config, at)
    if as_json:
        typer.echo(json.dumps(status_document(config, view, clients, at), indent=2))
    else:
        echo(describe_scheduler(view, at))
        echo(status_table(clients, at), lines=True)
        from auditor.cli_distributed import ledger_lines

        for line in ledger_lines(config):
            echo(line)
    raise typer.Exit(EXIT_OK)
