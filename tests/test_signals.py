"""Stop signals on real processes: SIGTERM is Ctrl-C, and workers die with their parent.

Each test starts ``python -m auditor run`` on a demo bundle big enough for a worker pool, with a
plug-in check that takes a second per account so that the run lasts seconds, waits until the
history store holds a finished account, then signals the process.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.demo import generator
from auditor.sources.bundle import write_bundle

from tests_support import SLOW_CHECK

# Enough posts for a worker pool (bundles of 32 MB and more), over accounts enough that some are
# still waiting when the first is done.
POSTS = 70_000
ACCOUNTS = 6


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]]]:
    folder = tmp_path_factory.mktemp("signals")
    path = folder / "demo.jsonl"
    records = list(generator.generate_records(POSTS, ACCOUNTS, seed=7))
    write_bundle(path, records)
    accounts = [(r["platform"], r["account"]) for r in records if r["kind"] == "profile"]
    assert len(accounts) == ACCOUNTS
    return path, accounts


Start = Callable[..., tuple[subprocess.Popen[str], Path]]


@pytest.fixture
def start(tmp_path: Path, bundle: tuple[Path, list[tuple[str, str]]]) -> Start:
    """Start an audit of the bundle on ``workers`` processes; wait until one account is done."""
    path, accounts = bundle
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow.py").write_text(SLOW_CHECK)
    config = {
        "version": 1,
        "output": {"dir": "out"},
        "store": {"path": "out/history.sqlite"},
        "clients": [
            {
                "name": "Acme",
                "accounts": [
                    {"platform": p, "handle": h, "source": str(path)} for p, h in accounts
                ],
            }
        ],
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))

    def run(workers: int, slow: float = 1.0) -> tuple[subprocess.Popen[str], Path]:
        command = [sys.executable, "-m", "auditor", "run", "audit.yaml", "-q"]
        command += ["--workers", str(workers), "--checks-dir", str(plugins)]
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "SLOW_CHECK_SECONDS": str(slow)},
        )
        store = tmp_path / "out" / "history.sqlite"
        deadline = time.monotonic() + 60
        while _accounts_done(store) < 1:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no account finished within 60 s"
            time.sleep(0.05)
        # A worker writes its account to the store, then sends the result to the parent: give
        # it that moment (the next accounts take over a second: the slow check).
        time.sleep(0.5)
        return process, tmp_path / "out"

    return run


def _accounts_done(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM run_accounts").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is still being made
        return 0


def _run_statuses(store: Path) -> list[str]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return [status for (status,) in db.execute("SELECT status FROM runs")]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(
    ("signum", "code", "workers"),
    [(signal.SIGTERM, 143, 2), (signal.SIGINT, 130, 2), (signal.SIGTERM, 143, 1)],
)
def test_a_stop_signal_keeps_what_finished_and_marks_the_rest_interrupted(
    start: Start, signum: int, code: int, workers: int
) -> None:
    process, out = start(workers)
    children = _children(process.pid)
    signalled = time.monotonic()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    # Accounts in flight are stopped, not finished: a second each at most, and a worker
    # account takes more than that.
    assert time.monotonic() - signalled < 5
    assert process.returncode == code
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1 and signal.Signals(signum).name in stderr
    assert not list(out.rglob("*.tmp"))
    store = out / "history.sqlite"
    assert _run_statuses(store) == ["interrupted"]
    (path,) = out.rglob("report.json")
    report: dict[str, Any] = json.loads(path.read_text())
    assert report["run"]["exit_code"] == code
    done = [a for a in report["accounts"] if a["checks"]]
    stopped = [a for a in report["accounts"] if not a["checks"]]
    assert done and stopped and len(done) + len(stopped) == ACCOUNTS
    assert all(
        a["status"] != "incomplete" or a["coverage"]["reason"] != "interrupted" for a in done
    )
    assert all(
        a["status"] == "incomplete" and a["coverage"]["reason"] == "interrupted" for a in stopped
    )
    # The store says what the report says: the finished accounts, and no other.
    assert _accounts_done(store) == len(done)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def test_workers_die_with_their_parent(start: Start) -> None:
    # Each account takes the workers 4 s: killed with their parent, they never finish one.
    process, _ = start(2, slow=4.0)
    time.sleep(1)  # into the next accounts
    workers = _children(process.pid)
    assert workers, "the run has no worker processes"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 2
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


def test_an_interrupted_run_is_never_the_last_audit(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from auditor.check import Evidence, Finding
    from auditor.store.history import HistoryStore

    def finding(uid: str) -> Finding:
        return Finding("RSP001", "x", "Acme", uid, "late", "high", Evidence())

    start = datetime(2026, 11, 16, tzinfo=UTC)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        for n, (key, status) in enumerate([("week1", "fail"), ("cut", "interrupted")]):
            at = start + timedelta(days=n)
            store.begin_run(key, "c", "t", at)
            store.record_account(key, "x", "Acme", "fail", at, [], [finding(key)])
            store.finish_run(key, at, status)
        store.begin_run("week2", "c", "t", start + timedelta(days=7))
        assert store.previous_finding_uids("x", "Acme", "week2") == {
            finding("week1").uid,
        }


SECOND_SIGNAL = """
import sys, time
from pathlib import Path
from auditor import cli, fsutil
from auditor.result import Interrupted

cli._stop_on_signals()
try:
    print("ready", flush=True)
    time.sleep(30)
except Interrupted:
    pass
with fsutil.atomic_writer(Path(sys.argv[1])) as stream:
    stream.write(b"half")
    print("writing", flush=True)
    time.sleep(30)
"""


def test_a_second_signal_exits_at_once_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-c", SECOND_SIGNAL, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)  # the first: the program goes on to write a file
    assert process.stdout.readline() == "writing\n"
    assert list(tmp_path.glob(".report.json.*.tmp"))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=5)
    assert process.returncode == 130
    assert len(stderr.splitlines()) == 1 and "SIGINT" in stderr
    assert not list(tmp_path.iterdir())


def test_an_interrupt_outranks_every_other_exit_code() -> None:
    from datetime import UTC, datetime

    from auditor.reports.terminal import closing_line
    from auditor.result import AccountResult, AuditResult, ClientResult, Coverage

    stopped = AccountResult(
        "Acme", "x", "AcmeHelp", "incomplete", Coverage(complete=False, reason="interrupted"), {}
    )
    result = AuditResult(
        "t",
        "r",
        datetime(2026, 11, 16, tzinfo=UTC),
        "a.yaml",
        "0",
        None,
        {},
        clients=[ClientResult("Acme", [stopped])],
        input_errors=["a.jsonl:3: bad line"],
    )
    assert result.exit_code() == 2
    result.interrupted = signal.SIGTERM
    totals = result.totals()
    assert totals.code == 143 and totals.incomplete == {"x:AcmeHelp": ["interrupted"]}
    assert closing_line(totals).endswith(
        "exit 143: interrupted by SIGTERM; 1 of 1 account not audited"
    )
