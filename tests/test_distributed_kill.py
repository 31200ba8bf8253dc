"""The kill test of issue #18: SIGKILL a worker's pool process, and separately a whole worker,
in the middle of an account, three times each: no account lost, none audited twice (in the
ledger or the history), the history row for row a clean run's, and the account recovered within
the configured visibility timeout.

"In the middle of an account" is made certain, not timed: a check (loaded with --checks-dir)
writes a file naming its account and process when it starts and waits for a release file; the
test kills that process while it waits.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_distributed import write_demo

from auditor.store.history import HistoryStore

from conftest import run_auditor
from tests_support import wait_for

PASSWORD_ENV = "TEST_BROKER_PASSWORD"
VISIBILITY_TIMEOUT = 12

GATED_CHECK = '''
"""GAT001 Waits at a gate.

## Why it matters
Tests.

## Example
None.

## How to fix
Nothing.

## Known problems
None.
"""
import os
import time
from pathlib import Path

from auditor.check import Check, CheckOutput, Needs


def run(ctx):
    gate = Path(os.environ["GATE_DIR"])
    (gate / f"started-{ctx.account.account}-{os.getpid()}").touch()
    while not (gate / "release").exists():
        time.sleep(0.05)
    return CheckOutput(summary="passed the gate")


CHECK = Check(id="GAT001", title="Gate", version="0.1", severity="low", docs=__doc__, run=run,
              needs=Needs(posts=True))
'''


def engine_for(url: str) -> str:
    parts = urlsplit(url)
    return (
        "engine:\n  kind: celery\n"
        f"  broker: {{url: 'redis://{parts.hostname}:{parts.port}/0',"
        f" password_env: {PASSWORD_ENV}}}\n"
        f"  visibility_timeout_seconds: {VISIBILITY_TIMEOUT}\n"
    )


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "gated.py").write_text(GATED_CHECK, encoding="utf-8")
    return folder


class Workers:
    """The worker processes a test starts (each in a session of its own), killed at the end."""

    def __init__(self, config: Path, plugins: Path, gate: Path) -> None:
        self.config, self.plugins, self.gate = config, plugins, gate
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "auditor",
                "worker",
                str(self.config),
                "--concurrency",
                "2",
                "--beat",
                "--checks-dir",
                str(self.plugins),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.config.parent,
            env={**os.environ, "GATE_DIR": str(self.gate)},
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def history_rows(store_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What the history holds of the audited accounts, without run ids and wall-clock times."""
    with sqlite3.connect(store_path) as db:
        return {
            "posts": db.execute(
                "SELECT a.platform, a.account, p.post_id, p.created_at, p.author, p.by_brand,"
                " p.visibility, p.deleted_by, p.text, p.first_seen, p.last_seen"
                " FROM posts AS p JOIN accounts AS a ON a.id = p.account_id"
                " ORDER BY a.platform, a.account, p.post_id"
            ).fetchall(),
            "accounts": db.execute(
                "SELECT platform, account, status, observed_at, posts_seen FROM run_accounts"
                " ORDER BY platform, account"
            ).fetchall(),
            "findings": db.execute(
                "SELECT platform, account, findings FROM run_findings ORDER BY platform, account"
            ).fetchall(),
        }


@pytest.fixture
def clean_history(tmp_path: Path, plugins: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The history of a clean run of the same audit (``auditor run``, the gate open)."""
    gate = tmp_path / "clean-gate"
    gate.mkdir()
    (gate / "release").touch()
    config = write_demo(tmp_path / "clean")
    process = subprocess.run(
        [sys.executable, "-m", "auditor", "run", str(config), "-q", "--checks-dir", str(plugins)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "GATE_DIR": str(gate)},
        timeout=120,
        check=False,
    )
    assert process.returncode == 1, process.stderr
    return history_rows(tmp_path / "clean" / "history.sqlite")


@pytest.fixture
def broker(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    password = urlsplit(redis_url).password
    assert password is not None
    monkeypatch.setenv(PASSWORD_ENV, password)
    yield redis_url


def finalized(store_path: Path, run_key: str) -> bool:
    with HistoryStore(store_path) as store:
        run = store.ledger_run(run_key)
        return run is not None and run.finalized


def kill_in_the_middle(
    folder: Path, plugins: Path, broker: str, kill: str
) -> tuple[str, datetime, str]:
    """Enqueue the demo, kill what audits an account in the middle of it, open the gate, wait
    for the run's finalize; the run, when the kill came, the account it hit."""
    gate = folder / "gate"
    gate.mkdir(parents=True)
    config = write_demo(folder, engine_for(broker))
    workers = Workers(config, plugins, gate)
    try:
        worker = workers.start()
        enqueued = run_auditor("enqueue", str(config), "--checks-dir", str(plugins), cwd=folder)
        assert enqueued.returncode == 0, enqueued.stderr
        run_key = enqueued.stdout.strip()
        # An account is in the middle of its audit (its pool process waits at the gate).
        started = wait_for(lambda: sorted(gate.glob("started-*")))
        account, pid = started[0].name.removeprefix("started-").rsplit("-", 1)
        killed_at = datetime.now(UTC)
        if kill == "pool process":
            os.kill(int(pid), signal.SIGKILL)
        else:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            workers.start()  # the replacement
        (gate / "release").touch()
        wait_for(
            lambda: finalized(folder / "history.sqlite", run_key), seconds=4 * VISIBILITY_TIMEOUT
        )
    finally:
        workers.stop()
    return run_key, killed_at, account


@pytest.mark.parametrize("kill", ["pool process", "whole worker"])
def test_a_killed_worker_loses_no_account_and_audits_none_twice(
    tmp_path: Path,
    plugins: Path,
    broker: str,
    clean_history: dict[str, list[tuple[Any, ...]]],
    kill: str,
) -> None:
    for attempt in range(3):
        folder = tmp_path / f"attempt{attempt}"
        run_key, killed_at, account = kill_in_the_middle(folder, plugins, broker, kill)
        store_path = folder / "history.sqlite"
        with HistoryStore(store_path) as store:
            rows = {row.account: row for row in store.ledger(run_key)}
            runs = store.runs()
        # No account lost, none audited twice: every account done, the killed one on its
        # second attempt (the first died with its process), recovered within the timeout.
        assert {row.state for row in rows.values()} == {"done"}
        assert {row.attempts for row in rows.values()} <= {1, 2}
        killed = rows[account]
        assert killed.attempts == 2, (kill, attempt, killed)
        assert killed.finished_at is not None
        assert killed.finished_at - killed_at <= timedelta(seconds=VISIBILITY_TIMEOUT)
        assert [r.run_key for r in runs] == [run_key]
        assert history_rows(store_path) == clean_history
