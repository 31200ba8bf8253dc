"""``auditor status CONFIG`` (issue #16): per client the last and next run, its result, its
failures and its report folder, the scheduler from its heartbeat file, ``--json`` and
``--health``; with an injected clock (``auditor.cli_status.now``) and a store written here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from auditor import cli_status
from auditor.cli import app
from auditor.cli_runs import due_record
from auditor.heartbeat import Beat, State, heartbeat_path, write_beat
from auditor.store.history import HistoryStore

# Monday 30 March 2026, the day after the clocks went forward in London: the Acme slot,
# "monday 09:00 Europe/London", was 09:00 BST = 08:00 UTC.
NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
SLOT = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
STALE = timedelta(seconds=120)

CONFIG = """\
store: {path: out/history.sqlite}
schedule: "monday 09:00 Europe/London"
clients:
  - name: Acme
    accounts:
      - {platform: x, handle: AcmeHelp, source: acme.jsonl}
  - name: Beta
    schedule: "daily 06:30 UTC"
    accounts:
      - {platform: x, handle: BetaHelp, source: beta.jsonl}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "out" / "history.sqlite"


@pytest.fixture
def store(store_path: Path) -> Iterator[HistoryStore]:
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with HistoryStore(store_path) as opened:
        yield opened


def status(config: Path, *options: str, at: datetime = NOW) -> Result:
    """``auditor status CONFIG`` with the clock at ``at``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_status, "now", lambda: at)
        return CliRunner().invoke(app, ["status", str(config), *options], catch_exceptions=False)


def row(output: str, client: str) -> str:
    """The client's line of the table."""
    (line,) = [line for line in output.splitlines() if line.startswith(client + " ")]
    return line


def record_run(
    store: HistoryStore,
    client: str,
    started: datetime,
    outcome: str | None,
    *,
    slot: datetime | None = SLOT,
    attempt: int = 1,
    error: str | None = None,
    report_dir: str | None = None,
) -> int:
    """A run of ``client`` by scheduler "sched" (pid 4242 on host h), finished five minutes
    after it started with ``outcome`` (None: still running)."""
    run_id = store.begin_client_run(
        client, "sched", slot, attempt, started, pid=4242, host="h", stale_after=STALE
    )
    if outcome is not None:
        store.finish_client_run(
            run_id,
            outcome,  # type: ignore[arg-type]
            run_key=f"run-{run_id}",
            error=error,
            now=started + 5 * MINUTE,
            report_dir=report_dir,
        )
    return run_id


def beat(
    store_path: Path,
    age: timedelta,
    state: State = "idle",
    *,
    client: str | None = None,
    host: str = "h",
) -> Path:
    path = heartbeat_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_beat(
        path,
        Beat(
            holder="sched",
            pid=4242,
            host=host,
            started_at=NOW - timedelta(hours=3),
            beat_at=NOW - age,
            state=state,
            stale_after=STALE,
            client=client,
        ),
    )
    return path


# --- the table ---------------------------------------------------------------------------------


def test_without_a_store_every_client_is_never_audited_and_nothing_is_made(
    tmp_path: Path, config: Path
) -> None:
    result = status(config)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "scheduler: none (no scheduler has run on this store)"
    assert lines[1].split() == [
        "client", "schedule", "last", "run", "(UTC)", "result", "failures", "next", "run",
        "(UTC)", "report", "folder"
    ]  # fmt: skip
    acme = row(result.stdout, "Acme")
    assert "monday 09:00 Europe/London" in acme
    assert "never audited" in acme and "now (never audited)" in acme
    assert "daily 06:30 UTC" in row(result.stdout, "Beta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.yaml"]


def test_a_successful_run_shows_when_its_report_folder_and_the_next_slot(
    config: Path, store: HistoryStore
) -> None:
    record_run(store, "Acme", SLOT, "ok", report_dir="out/Acme/20260330T0800-abc")
    acme = row(status(config).stdout, "Acme")
    assert "2026-03-30 08:00 (2 h ago)" in acme
    assert " ok " in acme
    assert "2026-04-06 08:00 (in 6 d)" in acme
    assert acme.endswith("out/Acme/20260330T0800-abc")
    # Beta was never audited: due now, its row apart.
    assert "now (never audited)" in row(status(config).stdout, "Beta")


def test_a_failed_run_shows_its_error_and_its_early_retry_then_the_next_slot(
    config: Path, store: HistoryStore
) -> None:
    record_run(store, "Acme", SLOT, "failed", error="timeout reading x:AcmeHelp")
    acme = row(status(config, at=SLOT + 30 * MINUTE).stdout, "Acme")
    assert " failed " in acme and "timeout reading x:AcmeHelp" in acme
    # Ended at 08:05; retried an hour later (the config's default policy).
    assert "2026-03-30 09:05 (in 35 min), a retry" in acme
    assert "attempt" not in acme
    assert "now (retry after failure)" in row(status(config, at=SLOT + 66 * MINUTE).stdout, "Acme")

    record_run(store, "Acme", SLOT + 66 * MINUTE, "failed", attempt=2, error="timeout again")
    acme = row(status(config, at=SLOT + 2 * 60 * MINUTE).stdout, "Acme")
    assert "timeout again; attempt 2 of slot 2026-03-30 08:00" in acme
    assert "2026-04-06 08:00" in acme  # one early retry: then the next slot


def test_hostile_text_from_the_store_and_the_heartbeat_is_escaped(
    config: Path, store: HistoryStore, store_path: Path
) -> None:
    record_run(
        store,
        "Acme",
        SLOT,
        "failed",
        error="bad\x1b[31mred\nline2",
        report_dir="out/\x1b]0;pwned\x07\nfake row",
    )
    beat(store_path, timedelta(seconds=5), host="evil\x1b[2J\u202ehost")
    result = status(config)
    assert result.exit_code == 0
    assert not any(ch in result.stdout for ch in "\x1b\x07\u202e\r")
    lines = result.stdout.splitlines()
    assert len(lines) == 5, result.stdout  # scheduler, header, rule, two clients
    assert "on host evil\\x1b[2J\\u202ehost" in lines[0]
    acme = row(result.stdout, "Acme")
    assert "bad\\x1b[31mred\\x0aline2" in acme
    assert acme.endswith("out/\\x1b]0;pwned\\x07\\x0afake row")


def test_a_run_in_progress_and_one_that_outlasted_its_slot(
    config: Path, store: HistoryStore
) -> None:
    store.acquire_lease("sched", 4242, "h", SLOT, STALE)
    record_run(store, "Acme", SLOT, None)
    store.renew_lease("sched", NOW)
    acme = row(status(config).stdout, "Acme")
    assert "running since 2026-03-30 08:00" in acme
    assert "2026-04-06 08:00 (in 6 d), after the run in progress" in acme

    # Beta's daily 06:30 run started yesterday and is still going today after 06:30.
    record_run(store, "Beta", datetime(2026, 3, 29, 6, 30, tzinfo=UTC), None)
    store.renew_lease("sched", NOW)
    assert "overdue: runs when the current run ends" in row(status(config).stdout, "Beta")


def test_a_running_row_whose_process_died_reads_interrupted_and_due(
    config: Path, store: HistoryStore
) -> None:
    record_run(store, "Acme", SLOT, None)  # no heartbeat since 08:00
    acme = row(status(config).stdout, "Acme")
    assert " interrupted " in acme and "stopped before it finished" in acme
    assert "now (interrupted)" in acme


@pytest.mark.parametrize(
    ("last", "now", "next_slot"),
    [
        # Monday 23 March, GMT: 09:00 = 09:00 UTC; the next Monday is BST: 08:00 UTC.
        (datetime(2026, 3, 23, 9, 0, tzinfo=UTC), datetime(2026, 3, 23, 12, 0, tzinfo=UTC),
         "2026-03-30 08:00 (in 6 d)"),
        # Monday 19 October, BST; the clocks go back on the 25th: 09:00 GMT = 09:00 UTC.
        (datetime(2026, 10, 19, 8, 0, tzinfo=UTC), datetime(2026, 10, 19, 12, 0, tzinfo=UTC),
         "2026-10-26 09:00 (in 6 d)"),
    ],
)  # fmt: skip
def test_the_next_run_keeps_the_local_time_across_a_clock_change(
    config: Path, store: HistoryStore, last: datetime, now: datetime, next_slot: str
) -> None:
    record_run(store, "Acme", last, "ok", slot=last)
    assert next_slot in row(status(config, at=now).stdout, "Acme")


def test_the_scheduler_line_says_who_runs_and_what_it_does(
    config: Path, store: HistoryStore, store_path: Path
) -> None:
    store.acquire_lease("sched", 4242, "h", NOW - timedelta(hours=3), STALE)
    store.renew_lease("sched", NOW - timedelta(seconds=12))
    # No heartbeat file yet: the lease says who holds the store.
    assert status(config).stdout.splitlines()[0] == (
        "scheduler: pid 4242 on host h, since 2026-03-30 07:00 UTC, last heartbeat 12 s ago"
    )
    beat(store_path, timedelta(seconds=12), "auditing", client="Acme")
    assert status(config).stdout.splitlines()[0] == (
        "scheduler: pid 4242 on host h, since 2026-03-30 07:00 UTC, last heartbeat 12 s ago,"
        " auditing Acme"
    )
    beat(store_path, timedelta(seconds=300), "auditing", client="Acme")
    assert status(config).stdout.splitlines()[0] == (
        "scheduler: not running (last heartbeat 5 min ago, pid 4242 on host h: dead or frozen)"
    )
    beat(store_path, timedelta(minutes=30), "stopped")
    assert status(config).stdout.splitlines()[0] == (
        "scheduler: not running (stopped at 2026-03-30 09:30 UTC, pid 4242 on host h)"
    )


def test_an_unreadable_heartbeat_file_is_named_and_the_lease_read_instead(
    config: Path, store: HistoryStore, store_path: Path
) -> None:
    store.acquire_lease("sched", 4242, "h", NOW - timedelta(hours=3), STALE)
    heartbeat_path(store_path).write_text("{not json", encoding="utf-8")
    result = status(config)
    assert result.exit_code == 0
    first = result.stdout.splitlines()[0]
    assert first.startswith("scheduler: not running (last heartbeat 3 h ago, pid 4242 on host h")
    assert f"heartbeat file {heartbeat_path(store_path)}: not JSON" in first


def test_a_store_path_that_is_a_folder_is_bad_input(config: Path, store_path: Path) -> None:
    store_path.mkdir(parents=True)
    result = status(config)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: history store {store_path} is a folder, not a file"


# --- --json ------------------------------------------------------------------------------------


def test_json_is_one_versioned_document_with_stable_keys(
    config: Path, store: HistoryStore, store_path: Path
) -> None:
    record_run(store, "Acme", SLOT, "failed", error="boom", report_dir="out/Acme/r1")
    beat(store_path, timedelta(seconds=12), "auditing", client="Beta")
    document = json.loads(status(config, "--json").stdout)
    assert document["status_schema"] == 1
    assert set(document) == {
        "status_schema", "config", "store", "store_exists", "now", "scheduler", "clients"
    }  # fmt: skip
    assert document["store_exists"] is True
    assert document["now"] == NOW.isoformat()
    scheduler = document["scheduler"]
    assert scheduler == {
        "state": "running",
        "pid": 4242,
        "host": "h",
        "started_at": (NOW - timedelta(hours=3)).isoformat(),
        "last_heartbeat_at": (NOW - timedelta(seconds=12)).isoformat(),
        "heartbeat_age_seconds": 12.0,
        "stale_after_seconds": 120.0,
        "activity": "auditing",
        "client": "Beta",
        "heartbeat_file": str(heartbeat_path(store_path)),
        "heartbeat_problem": None,
    }
    acme, beta = document["clients"]
    assert acme == {
        "client": "Acme",
        "schedule": "monday 09:00 Europe/London",
        "last_run": {
            "started_at": SLOT.isoformat(),
            "finished_at": (SLOT + 5 * MINUTE).isoformat(),
            "outcome": "failed",
            "run_id": "run-1",
            "error": "boom",
            "report_dir": "out/Acme/r1",
            "notify_error": None,
        },
        "last_slot": {"at": SLOT.isoformat(), "attempts": 1, "succeeded": False},
        "last_ok_at": None,
        "next_run": {
            "at": NOW.isoformat(),  # its retry was due at 09:05
            "reason": "retry after failure",
            "after_current_run": False,
        },
    }
    assert set(beta) == set(acme)
    assert beta["last_run"] is None and beta["last_slot"] is None
    assert beta["next_run"] == {
        "at": NOW.isoformat(),
        "reason": "never audited",
        "after_current_run": False,
    }


# --- --health ----------------------------------------------------------------------------------


def test_health_is_zero_while_the_heartbeat_is_fresh(config: Path, store_path: Path) -> None:
    beat(store_path, timedelta(seconds=12), "auditing", client="Acme")
    result = status(config, "--health")
    assert result.exit_code == 0
    assert result.stdout == (
        "healthy: scheduler pid 4242 on host h, last heartbeat 12 s ago, auditing Acme\n"
    )


@pytest.mark.parametrize(
    ("age", "state", "line"),
    [
        (timedelta(seconds=300), "idle",
         "heartbeat is 300 s old (stale after 120 s): scheduler pid 4242 on host h is dead or"
         " frozen"),
        # Stale exactly at the stale period, as the lease's takeover is.
        (STALE, "auditing",
         "heartbeat is 120 s old (stale after 120 s): scheduler pid 4242 on host h is dead or"
         " frozen"),
        (timedelta(minutes=5), "stopped",
         "scheduler stopped at 2026-03-30 09:55 UTC (scheduler pid 4242 on host h)"),
        (timedelta(seconds=1), "stopped",
         "scheduler stopped at 2026-03-30 09:59 UTC (scheduler pid 4242 on host h)"),
    ],
)  # fmt: skip
def test_health_is_one_when_the_heartbeat_is_stale_or_stopped(
    config: Path, store_path: Path, age: timedelta, state: State, line: str
) -> None:
    beat(store_path, age, state)
    result = status(config, "--health")
    assert result.exit_code == 1
    assert result.stdout == f"unhealthy: {line}\n"


def test_health_is_one_without_a_heartbeat_file_and_makes_nothing(
    tmp_path: Path, config: Path, store_path: Path
) -> None:
    result = status(config, "--health")
    assert result.exit_code == 1
    assert result.stdout == (
        f"unhealthy: no heartbeat file at {heartbeat_path(store_path)}: is auditor schedule"
        " running?\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.yaml"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe garbage", "not JSON"),
        (b'{"schema": 1, "state": "asleep"}', "state 'asleep' is not one of"),
        (b"[]", "not a heartbeat file of schema 1"),
    ],
)
def test_health_is_one_for_a_garbage_heartbeat_file_naming_it(
    config: Path, store_path: Path, content: bytes, problem: str
) -> None:
    path = heartbeat_path(store_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    result = status(config, "--health")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"unhealthy: heartbeat file {path} is unreadable: {problem}")
    assert len(result.stdout.splitlines()) == 1


def test_health_with_a_config_error_is_exit_two(tmp_path: Path) -> None:
    broken = tmp_path / "audit.yaml"
    broken.write_text(CONFIG.replace("monday 09:00", "mondy 09:00"), encoding="utf-8")
    result = status(broken, "--health")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "mondy" in result.stderr
    assert status(tmp_path / "missing.yaml", "--health").exit_code == 2


def test_health_and_json_together_are_bad_input(config: Path) -> None:
    assert status(config, "--health", "--json").exit_code == 2


# --- the adapter the scheduler loop uses -------------------------------------------------------


def test_due_record_reads_a_never_run_client_as_none_and_counts_slot_attempts(
    store: HistoryStore,
) -> None:
    records = store.client_records(["Acme"], NOW, STALE)
    assert due_record(records["Acme"]) is None
    record_run(store, "Acme", SLOT, "failed", error="x")
    record_run(store, "Acme", SLOT + 70 * MINUTE, "failed", attempt=2, error="y")
    adapted = due_record(store.client_records(["Acme"], NOW, STALE)["Acme"])
    assert adapted is not None
    assert (adapted.started_at, adapted.outcome, adapted.attempts) == (
        SLOT + 70 * MINUTE,
        "failed",
        2,
    )
    assert adapted.finished_at == SLOT + 75 * MINUTE
    record_run(store, "Acme", NOW, "ok", slot=None)  # a manual run: no slot of its own
    manual = due_record(store.client_records(["Acme"], NOW, STALE)["Acme"])
    assert manual is not None and manual.outcome == "ok" and manual.attempts == 2
