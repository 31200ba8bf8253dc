"""``auditor enqueue`` and ``auditor worker`` as a user runs them: real worker processes (the
prefork pool) on a Redis broker on loopback, a SQLite history store, and the whole deployment
of docs/scale.md (a PostgreSQL store, shared rate limits); and their one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_distributed import findings_by_account, write_demo

from auditor.store.history import HistoryStore, StoreLocation

from conftest import assert_one_line_exit_2, read_reports, run_auditor
from services import PostgresServer
from tests_support import wait_for

PASSWORD_ENV = "TEST_BROKER_PASSWORD"


def engine_for(url: str, visibility_timeout: int = 60) -> str:
    parts = urlsplit(url)
    return (
        "engine:\n  kind: celery\n"
        f"  broker: {{url: 'redis://{parts.hostname}:{parts.port}/0', password_env: {PASSWORD_ENV}}}\n"
        f"  visibility_timeout_seconds: {visibility_timeout}\n"
    )


@pytest.fixture
def broker_env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    password = urlsplit(redis_url).password
    assert password is not None
    monkeypatch.setenv(PASSWORD_ENV, password)
    return redis_url


def start_worker(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "auditor", "worker", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=config.parent,
        start_new_session=True,
    )


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def finalized(store_path: Path, run_key: str) -> bool:
    with HistoryStore(store_path) as store:
        run = store.ledger_run(run_key)
        return run is not None and run.finalized


def test_worker_processes_audit_an_enqueued_run(
    tmp_path: Path, broker_env: str, workers: list[subprocess.Popen[str]]
) -> None:
    local = write_demo(tmp_path / "local")
    assert run_auditor("run", str(local), "-q", cwd=tmp_path).returncode == 1
    config = write_demo(tmp_path / "dist", engine_for(broker_env))
    workers.append(start_worker(config, "--concurrency", "2"))
    enqueued = run_auditor("enqueue", str(config), cwd=tmp_path)
    assert enqueued.returncode == 0, enqueued.stderr
    run_key = enqueued.stdout.strip()
    assert len(run_key) == 24
    wait_for(lambda: finalized(tmp_path / "dist" / "history.sqlite", run_key))
    reports = read_reports(tmp_path / "dist" / "out")
    assert findings_by_account(reports) == findings_by_account(
        read_reports(tmp_path / "local" / "out")
    )
    # A warm stop on SIGTERM, exit 0; the broker's password never shows in its logs.
    worker = workers[0]
    os.killpg(worker.pid, signal.SIGTERM)
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    assert os.environ[PASSWORD_ENV] not in output
    assert "auditor.audit_account" in output


def test_enqueue_with_the_broker_down_is_one_line_exit_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    config = write_demo(
        tmp_path, f"engine:\n  kind: celery\n  broker: {{url: 'redis://127.0.0.1:{port}/0'}}\n"
    )
    process = run_auditor("enqueue", str(config), cwd=tmp_path)
    line = assert_one_line_exit_2(process, f"redis://127.0.0.1:{port}/0", "engine.broker.url")
    assert "is it running" in line
    # Nothing was planned.
    with HistoryStore(tmp_path / "history.sqlite") as store:
        assert store.runs() == [] and store.open_ledgers() == []


def test_a_wrong_broker_password_is_one_line_without_it(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password-1234")
    config = write_demo(tmp_path, engine_for(redis_url))
    process = run_auditor("enqueue", str(config), cwd=tmp_path)
    line = assert_one_line_exit_2(process, "engine.broker.url")
    assert "not-the-password-1234" not in process.stderr + process.stdout, line


def test_a_missing_broker_password_names_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    config = write_demo(tmp_path, engine_for("redis://127.0.0.1:6390/0"))
    process = run_auditor("worker", str(config), cwd=tmp_path)
    assert_one_line_exit_2(process, "engine.broker.password_env", PASSWORD_ENV)


def test_a_password_in_the_broker_url_is_refused(tmp_path: Path) -> None:
    config = write_demo(
        tmp_path, "engine:\n  kind: celery\n  broker: {url: 'redis://:hunter22@127.0.0.1:6379/0'}\n"
    )
    process = run_auditor("enqueue", str(config), cwd=tmp_path)
    line = assert_one_line_exit_2(process, "engine.broker.url", "password_env")
    assert "hunter22" not in line


def test_an_inline_broker_password_is_refused(tmp_path: Path) -> None:
    config = write_demo(
        tmp_path,
        "engine:\n  kind: celery\n  broker: {url: 'redis://127.0.0.1:6379/0', password: x}\n",
    )
    process = run_auditor("enqueue", str(config), cwd=tmp_path)
    assert_one_line_exit_2(process, "engine.broker.password", "password_env")


def test_enqueue_needs_the_celery_engine(tmp_path: Path) -> None:
    config = write_demo(tmp_path)
    process = run_auditor("enqueue", str(config), cwd=tmp_path)
    assert_one_line_exit_2(process, "engine.kind is local")


def test_the_scheduler_enqueues_due_clients_and_finalize_closes_their_runs(
    tmp_path: Path, broker_env: str, workers: list[subprocess.Popen[str]]
) -> None:
    config = write_demo(tmp_path, engine_for(broker_env))
    store_path = tmp_path / "history.sqlite"
    workers.append(start_worker(config, "--concurrency", "1"))
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "auditor", "schedule", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    workers.append(scheduler)

    def client_runs() -> list[tuple[str, str, str | None]]:
        if not store_path.exists():
            return []
        with HistoryStore(store_path) as store:
            rows = store._read("SELECT client, outcome, run_key FROM client_runs ORDER BY client")
        return [(str(c), str(o), k) for c, o, k in rows]

    # Never audited: both clients are due at once, each enqueued as a run of its own, and
    # each client run closed ok by its run's finalize.
    wait_for(lambda: [o for _, o, _ in client_runs()] == ["ok", "ok"])
    runs = client_runs()
    assert [c for c, _, _ in runs] == ["Driftly Outdoor", "Helio Mobile"]
    assert len({k for _, _, k in runs}) == 2
    with HistoryStore(store_path) as store:
        assert store.open_ledgers() == []
        assert sorted(r.run_key for r in store.runs()) == sorted(str(k) for _, _, k in runs)
    os.killpg(scheduler.pid, signal.SIGTERM)
    output, _ = scheduler.communicate(timeout=60)
    assert scheduler.returncode == 0, output
    assert "audit enqueued: client Driftly Outdoor" in output


def test_worker_processes_on_a_postgresql_store_with_shared_limits(
    tmp_path: Path,
    broker_env: str,
    workers: list[subprocess.Popen[str]],
    postgres_server: PostgresServer,
    postgres_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deployment docs/scale.md describes: the history in PostgreSQL, the broker and the
    tokens' budgets in Redis, every password named by a variable. The run's reports find what
    ``auditor run`` finds, the history holds the run once, and no password is ever printed."""
    local = write_demo(tmp_path / "local")
    assert run_auditor("run", str(local), "-q", cwd=tmp_path).returncode == 1
    redis = urlsplit(broker_env)
    monkeypatch.setenv("TEST_STORE_PASSWORD", postgres_server.password)
    config = write_demo(
        tmp_path / "dist",
        engine_for(broker_env)
        + "fetch:\n  shared_limits: "
        + f"{{url: 'redis://{redis.hostname}:{redis.port}/1', password_env: {PASSWORD_ENV}}}\n",
    )
    text = config.read_text(encoding="utf-8").replace(
        "  path: history.sqlite\n",
        f"  url: {postgres_database}\n  password_env: TEST_STORE_PASSWORD\n",
    )
    assert "postgresql://" in text and "history.sqlite" not in text
    config.write_text(text, encoding="utf-8")
    location = StoreLocation(url=postgres_database, password=postgres_server.password)
    workers.append(start_worker(config, "--concurrency", "2"))
    enqueued = run_auditor("enqueue", str(config), cwd=tmp_path)
    assert enqueued.returncode == 0, enqueued.stderr
    run_key = enqueued.stdout.strip()

    def finalized_in_postgres() -> bool:
        with HistoryStore(location) as store:
            run = store.ledger_run(run_key)
            return run is not None and run.finalized

    wait_for(finalized_in_postgres)
    assert findings_by_account(read_reports(tmp_path / "dist" / "out")) == findings_by_account(
        read_reports(tmp_path / "local" / "out")
    )
    with HistoryStore(location) as store:
        assert [run.run_key for run in store.runs()] == [run_key]
        assert {row.state for row in store.ledger(run_key)} == {"done"}
        assert store.open_ledgers() == []
    worker = workers[0]
    os.killpg(worker.pid, signal.SIGTERM)
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    for secret in (postgres_server.password, os.environ[PASSWORD_ENV]):
        assert secret not in output + enqueued.stdout + enqueued.stderr
