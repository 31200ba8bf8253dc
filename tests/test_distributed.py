"""The distributed engine in one process (docs/scale.md): a run planned in the ledger, its
accounts audited by the tasks' work (directly, and through Celery's in-process test worker with
the real app and a Redis broker), finalized once; compared with ``auditor run`` on the same
data."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.cli_common import load, open_store
from auditor.config import Config
from auditor.distributed.account import audit_account
from auditor.distributed.context import WorkerContext, lease_length
from auditor.distributed.finalize import finalize_run
from auditor.distributed.plan import enqueue_run, plan_run, requeue_expired
from auditor.store.history import HistoryStore

from conftest import read_reports, run_auditor
from tests_support import wait_for

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class ListQueue:
    """The tasks a test enqueues, in order (the Enqueue protocol)."""

    audits: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    finalizes: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def audit(
        self, config_path: str, run_key: str, client: str, platform: str, account: str
    ) -> None:
        with self.lock:
            self.audits.append((config_path, run_key, client, platform, account))

    def finalize(self, config_path: str, run_key: str) -> None:
        with self.lock:
            self.finalizes.append((config_path, run_key))


class Clock:
    """A settable clock for the workers (leases, finish times)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_demo(folder: Path, engine: str = "", extra_account: str = "") -> Path:
    """The bundled demo config and bundle copied into ``folder`` (its own store and output),
    with ``engine`` (YAML lines) and an extra account line added."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo").mkdir(exist_ok=True)
    shutil.copy(REPO / "config" / "demo" / "demo.jsonl", folder / "demo" / "demo.jsonl")
    text = (REPO / "config" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("../out/demo/history.sqlite", "history.sqlite")
    text = text.replace("dir: ../out/demo", "dir: out")
    if extra_account:
        text = text.rstrip("\n") + "\n" + extra_account + "\n"
    path = folder / "audit.yaml"
    path.write_text(text + engine, encoding="utf-8")
    return path


MEMORY_ENGINE = "engine:\n  kind: celery\n  broker: {url: 'memory://'}\n"
MISSING = "      - {platform: x, handle: GhostHelp, source: demo/missing.jsonl}"


def loaded(path: Path) -> Config:
    _, config = load(path, None)
    return config


def findings_by_account(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What an audit found, per account and check, without run ids and times."""
    found: dict[str, Any] = {}
    for client, report in reports.items():
        for account in report["accounts"]:
            found[f"{client}/{account['platform']}:{account['account']}"] = {
                "status": account["status"],
                "errors": account["errors"],
                "checks": {
                    check["id"]: (
                        check["status"],
                        check["metrics"],
                        [(f["uid"], f["severity"], f["message"]) for f in check["findings"]],
                    )
                    for check in account["checks"]
                },
            }
    return found


def plan(config: Config, queue: ListQueue, now: datetime = T0) -> str:
    accounts = config.accounts()
    with open_store(config) as store:
        run_key = plan_run(config, store, accounts, None, now)
    enqueue_run(config, accounts, run_key, queue)
    return run_key


def work_through(context: WorkerContext, queue: ListQueue) -> list[Any]:
    """Run every queued task, as workers would, until none is left; what each returned."""
    outcomes: list[Any] = []
    while queue.audits or queue.finalizes:
        if queue.audits:
            outcomes.append(audit_account(context, queue, *queue.audits.pop(0)))
        else:
            outcomes.append(finalize_run(context, *queue.finalizes.pop(0)))
    return outcomes


@pytest.fixture
def local_findings(tmp_path: Path) -> dict[str, Any]:
    """The demo audited by ``auditor run``, as the reference."""
    path = write_demo(tmp_path / "local")
    process = run_auditor("run", str(path), "-q", cwd=tmp_path)
    assert process.returncode == 1, process.stderr
    return findings_by_account(read_reports(tmp_path / "local" / "out"))


def test_a_distributed_run_finds_what_a_local_run_finds(
    tmp_path: Path, local_findings: dict[str, Any]
) -> None:
    config = loaded(write_demo(tmp_path / "dist", MEMORY_ENGINE))
    queue = ListQueue()
    run_key = plan(config, queue)
    assert len(queue.audits) == 3 and queue.finalizes == []
    outcomes = work_through(WorkerContext(clock=Clock(T0)), queue)
    assert outcomes[:3] == ["done", "done", "done"]
    assert outcomes[3] is not None and outcomes[3].code == 1  # the demo finds violations
    reports = read_reports(tmp_path / "dist" / "out")
    assert findings_by_account(reports) == local_findings
    assert {r["run"]["id"] for r in reports.values()} == {run_key}
    with HistoryStore(config.store_path) as store:
        (run,) = store.runs()
        assert (run.run_key, run.status, run.finished_at) == (run_key, "fail", T0)
        assert store.open_ledgers() == []


def test_a_redelivered_task_leaves_one_result(tmp_path: Path) -> None:
    config = loaded(write_demo(tmp_path, MEMORY_ENGINE))
    queue = ListQueue()
    run_key = plan(config, queue)
    context = WorkerContext(clock=Clock(T0))
    first = queue.audits[0]
    assert audit_account(context, queue, *first) == "done"
    assert audit_account(context, queue, *first) == "skipped"
    # Another worker, the same task delivered again: nothing to do either.
    assert audit_account(WorkerContext(clock=Clock(T0)), queue, *first) == "skipped"
    with HistoryStore(config.store_path) as store:
        rows = store._read(
            "SELECT count(*) FROM run_accounts WHERE run_key = ? AND account = ?",
            (run_key, first[4]),
        )
        assert rows == [(1,)]
        (row,) = [r for r in store.ledger(run_key) if r.account == first[4]]
        assert (row.state, row.attempts) == ("done", 1)


def test_a_failing_account_leaves_the_others_done_and_the_run_finalized(tmp_path: Path) -> None:
    config = loaded(write_demo(tmp_path, MEMORY_ENGINE, MISSING))
    queue = ListQueue()
    run_key = plan(config, queue)
    outcomes = work_through(WorkerContext(clock=Clock(T0)), queue)
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["done", "done", "done", "failed"]
    with HistoryStore(config.store_path) as store:
        states = {r.account: (r.state, r.error) for r in store.ledger(run_key)}
        (run,) = store.runs()
    assert states["GhostHelp"][0] == "failed" and "missing.jsonl" in str(states["GhostHelp"][1])
    assert {state for account, (state, _) in states.items() if account != "GhostHelp"} == {"done"}
    assert run.finished_at is not None and run.status == "error"
    (helio,) = [r for name, r in read_reports(tmp_path / "out").items() if "Helio" in name]
    ghost = next(a for a in helio["accounts"] if a["account"] == "GhostHelp")
    assert ghost["status"] == "error" and "missing.jsonl" in ghost["errors"][0]
    assert helio["run"]["exit_code"] == 2  # an input that failed is bad input, as in a run


def test_finalize_runs_once_when_two_tasks_finish_together(tmp_path: Path) -> None:
    config = loaded(write_demo(tmp_path, MEMORY_ENGINE))
    queue = ListQueue()
    plan(config, queue)
    context = WorkerContext(clock=Clock(T0))
    audit_account(context, queue, *queue.audits.pop(0))
    last_two = [queue.audits.pop(0), queue.audits.pop(0)]
    start = threading.Barrier(2)

    def worker(task: tuple[str, str, str, str, str]) -> None:
        start.wait()
        audit_account(WorkerContext(clock=Clock(T0)), queue, *task)

    threads = [threading.Thread(target=worker, args=(task,)) for task in last_two]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= len(queue.finalizes) <= 2  # each finisher that saw it complete enqueued one
    tasks = queue.finalizes * 2  # and a finalize delivered twice besides
    done: list[Any] = []
    finalizers = [
        threading.Thread(
            target=lambda t=task: done.append(finalize_run(WorkerContext(clock=Clock(T0)), *t))
        )
        for task in tasks
    ]
    for thread in finalizers:
        thread.start()
    for thread in finalizers:
        thread.join()
    assert len([d for d in done if d is not None]) == 1
    assert len(list((tmp_path / "out").rglob("report.json"))) == 2  # one per client, once


class FinalizerDied(BaseException):
    """The finalizer's process ends mid-notifications (a BaseException: nothing catches it)."""


def test_a_finalize_taken_over_notifies_only_the_clients_not_yet_notified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = loaded(write_demo(tmp_path, MEMORY_ENGINE))
    queue = ListQueue()
    run_key = plan(config, queue)
    clock = Clock(T0)
    while queue.audits:
        audit_account(WorkerContext(clock=clock), queue, *queue.audits.pop(0))
    notified: list[str] = []

    def notify_then_die(config: Config, done: Any, client: str) -> str | None:
        if notified:  # the second client: the process dies before it is notified
            raise FinalizerDied
        notified.append(client)
        return None

    monkeypatch.setattr("auditor.cli_runs.notify_client", notify_then_die)
    with pytest.raises(FinalizerDied):
        finalize_run(WorkerContext(clock=clock), str(config.path), run_key)
    [first] = notified
    with open_store(config) as store:
        assert store.notified_clients(run_key) == {first}
        assert not store.ledger_run(run_key).finalized  # type: ignore[union-attr]

    def notify(config: Config, done: Any, client: str) -> str | None:
        notified.append(client)
        return None

    monkeypatch.setattr("auditor.cli_runs.notify_client", notify)
    # Taken over only once the dead finalizer's claim has run out.
    assert finalize_run(WorkerContext(clock=clock), str(config.path), run_key) is None
    clock.now = T0 + lease_length(config) + timedelta(seconds=1)
    assert finalize_run(WorkerContext(clock=clock), str(config.path), run_key) is not None
    clients = {client.name for client in config.clients}
    assert len(clients) == 2
    assert sorted(notified) == sorted(clients)  # each client once: the first not again
    with open_store(config) as store:
        assert store.notified_clients(run_key) == clients
        assert store.ledger_run(run_key).finalized  # type: ignore[union-attr]
    assert finalize_run(WorkerContext(clock=clock), str(config.path), run_key) is None
    assert sorted(notified) == sorted(clients)


def test_an_expired_lease_is_requeued_and_completed(tmp_path: Path) -> None:
    config = loaded(write_demo(tmp_path, MEMORY_ENGINE))
    queue = ListQueue()
    run_key = plan(config, queue)
    _, _, _, platform, account = queue.audits.pop(0)
    lease = lease_length(config)
    with HistoryStore(config.store_path) as store:
        # A worker took the account and died: its lease runs out, and its task is gone.
        assert store.claim_account(run_key, platform, account, "dead", T0 + lease, T0)
        assert requeue_expired(config, store, queue, T0 + lease / 2) == 0
        later = T0 + lease + timedelta(seconds=1)
        assert requeue_expired(config, store, queue, later) == 3  # two were never delivered
    clock = Clock(later)
    queue.audits.clear()  # the two undelivered come again below
    with HistoryStore(config.store_path) as store:
        assert requeue_expired(config, store, queue, later + lease + timedelta(seconds=1)) == 3
    clock.now = later + lease + timedelta(seconds=2)
    work_through(WorkerContext(clock=clock), queue)
    with HistoryStore(config.store_path) as store:
        rows = {r.account: (r.state, r.attempts) for r in store.ledger(run_key)}
        assert rows[account] == ("done", 2)
        assert {state for state, _ in rows.values()} == {"done"}
        assert store.ledger_run(run_key) is not None
        assert store.open_ledgers() == []
        assert requeue_expired(config, store, queue, clock.now + 10 * lease) == 0


def test_an_account_removed_from_the_config_fails_alone(tmp_path: Path) -> None:
    path = write_demo(tmp_path, MEMORY_ENGINE, MISSING)
    config = loaded(path)
    queue = ListQueue()
    run_key = plan(config, queue)
    path.write_text(path.read_text().replace(MISSING + "\n", ""), encoding="utf-8")
    work_through(WorkerContext(clock=Clock(T0)), queue)
    with HistoryStore(config.store_path) as store:
        states = {r.account: (r.state, r.error) for r in store.ledger(run_key)}
    assert states["GhostHelp"][0] == "failed"
    assert "no longer in" in str(states["GhostHelp"][1])


# --- through Celery: the real app, the in-process test worker, a Redis broker --------------


@pytest.fixture
def redis_engine(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[], str]:
    """The engine section for the test's Redis (emptied), its password named by variable."""
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    assert parts.password is not None
    monkeypatch.setenv("TEST_BROKER_PASSWORD", parts.password)
    bare = f"redis://{parts.hostname}:{parts.port}{parts.path}"
    return lambda: (
        "engine:\n  kind: celery\n"
        f"  broker: {{url: '{bare}', password_env: TEST_BROKER_PASSWORD}}\n"
        "  visibility_timeout_seconds: 60\n"
    )


def finalized(config: Config, run_key: str) -> bool:
    with HistoryStore(config.store_path) as store:
        run = store.ledger_run(run_key)
        return run is not None and run.finalized


@pytest.fixture
def root_logging_kept() -> Iterator[None]:
    """Celery's test worker sets the root logger up (ERROR, a stderr handler): put it back, so
    that the tests after this one in the process log as before."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)


@pytest.mark.usefixtures("root_logging_kept")
def test_celery_workers_audit_a_planned_run(
    tmp_path: Path, local_findings: dict[str, Any], redis_engine: Callable[[], str]
) -> None:
    from celery.contrib.testing.worker import start_worker

    from auditor.distributed.app import CeleryQueue, check_broker, make_app

    config = loaded(write_demo(tmp_path / "dist", redis_engine()))
    app = make_app(config)
    check_broker(app, config)
    accounts = config.accounts()
    with open_store(config) as store:
        run_key = plan_run(config, store, accounts, None, datetime.now(UTC))
    enqueue_run(config, accounts, run_key, CeleryQueue(app))
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        wait_for(lambda: finalized(config, run_key))
    reports = read_reports(tmp_path / "dist" / "out")
    assert findings_by_account(reports) == local_findings
    assert json.dumps(reports).count(run_key) >= 2


def test_status_shows_a_distributed_runs_progress(tmp_path: Path) -> None:
    path = write_demo(tmp_path, MEMORY_ENGINE, MISSING)
    config = loaded(path)
    queue = ListQueue()
    run_key = plan(config, queue)
    context = WorkerContext(clock=Clock(T0))
    audit_account(context, queue, *queue.audits.pop(0))
    audit_account(context, queue, *queue.audits.pop(-1))  # GhostHelp: fails
    process = run_auditor("status", str(path), cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert f"distributed run {run_key} (planned 2026-11-20T09:00+00:00): 2/4 accounts" in (
        process.stdout
    )
    assert "1 failed" in process.stdout
    work_through(context, queue)
    assert "distributed run" not in run_auditor("status", str(path), cwd=tmp_path).stdout


def test_the_celery_engine_needs_a_broker(tmp_path: Path) -> None:
    from auditor.config import ConfigError

    path = write_demo(tmp_path, "engine: {kind: celery}\n")
    with pytest.raises(ConfigError, match="engine kind celery needs broker"):
        load_config_or_raise(path)
    path = write_demo(tmp_path, "engine: {kind: celery, broker: {url: 'redis://q:6379/0'}}\n")
    engine = load_config_or_raise(path).engine
    assert (engine.kind, engine.broker_url, engine.broker_password) == (
        "celery",
        "redis://q:6379/0",
        None,
    )
    assert engine.visibility_timeout_seconds == 3600
    assert load_config_or_raise(write_demo(tmp_path)).engine.kind == "local"


def load_config_or_raise(path: Path) -> Config:
    from auditor.config import load_config
    from auditor.registry import load_registry

    return load_config(path, load_registry([]))


def test_a_worker_process_opens_its_store_once_for_every_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import auditor.cli_common
    import auditor.cli_runs

    opened: list[HistoryStore] = []
    leases_opened: list[HistoryStore] = []

    def counting(into: list[HistoryStore]) -> Callable[[Config], HistoryStore]:
        def counted_open(config: Config) -> HistoryStore:
            store = open_store(config)
            into.append(store)
            return store

        return counted_open

    monkeypatch.setattr(auditor.cli_common, "open_store", counting(opened))
    monkeypatch.setattr(auditor.cli_runs, "open_config_store", counting(leases_opened))
    config = loaded(write_demo(tmp_path / "demo", MEMORY_ENGINE))
    queue = ListQueue()
    plan(config, queue)
    accounts = len(queue.audits)
    context = WorkerContext(clock=Clock(T0 + timedelta(minutes=1)))
    outcomes = work_through(context, queue)
    assert accounts > 1 and outcomes.count("done") == accounts
    assert len(opened) == 1  # every audit and the finalize: one connection
    assert leases_opened == []  # the lease's heartbeat connects at its first beat, never came

    # One that stopped answering meanwhile is not lent again.
    kept = opened[0]
    kept._store.close()
    with context.store(config) as store:
        assert store is not kept and store.answers()
    # A task that raises closes the one it held: its state is unknown.
    with pytest.raises(RuntimeError), context.store(config) as store:
        raise RuntimeError("the task failed")
    assert not store.answers()
    with context.store(config) as fresh:
        assert fresh is not store and fresh.answers()
    context.close()
    assert not fresh.answers()
    assert len(opened) == 3
