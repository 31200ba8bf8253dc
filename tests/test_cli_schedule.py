"""`auditor schedule` end to end: `--once` and `--now` in process, and the daemon as a real
process: one scheduler per store (contention, takeover after SIGKILL), a manual `run` beside
it, and a SIGTERM in the middle of a scheduled audit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.heartbeat import heartbeat_path, read_beat
from auditor.store.history import HistoryStore

from tests_support import SLOW_CHECK

runner = CliRunner()
AUDITOR = [sys.executable, "-m", "auditor"]
DEMO = Path(__file__).resolve().parents[1] / "config" / "demo" / "demo.jsonl"


def write_config(folder: Path, stale_after: int = 120) -> Path:
    shutil.copy(DEMO, folder / "demo.jsonl")
    config = folder / "audit.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            output: {{dir: out, formats: [json]}}
            store: {{path: out/history.sqlite}}
            scheduler: {{stale_after_seconds: {stale_after}}}
            clients:
              - name: Driftly
                accounts:
                  - {{platform: x, handle: DriftlyHelp, source: demo.jsonl}}
              - name: Helio
                accounts:
                  - {{platform: x, handle: HelioSupport, source: demo.jsonl}}
            """
        ),
        encoding="utf-8",
    )
    return config


def client_runs(store: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT client, outcome, report_dir FROM client_runs ORDER BY id")
        return [(client, outcome, report_dir) for client, outcome, report_dir in rows]


def test_once_audits_what_is_due_into_run_folders_and_then_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = runner.invoke(app, ["schedule", str(config), "--once"])
    assert first.exit_code == 1, first.output  # the demo has failing findings: run's code
    runs = client_runs(tmp_path / "out" / "history.sqlite")
    assert [(client, outcome) for client, outcome, _ in runs] == [
        ("Driftly", "ok"),
        ("Helio", "ok"),
    ]
    for client, _, report_dir in runs:
        assert report_dir is not None
        folder = Path(report_dir)
        # <output>/<client>/<run>/report.json
        assert folder.parent.parent == tmp_path / "out"
        assert folder.parent.name.startswith(client)
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        assert report["client"] == client
    beat = read_beat(heartbeat_path(tmp_path / "out" / "history.sqlite"))
    assert beat is not None and beat.state == "stopped"
    with HistoryStore(tmp_path / "out" / "history.sqlite") as store:
        assert store.lease() is None  # given back

    again = runner.invoke(app, ["schedule", str(config), "--once"])
    assert again.exit_code == 0, again.output
    assert len(client_runs(tmp_path / "out" / "history.sqlite")) == 2  # nothing was due

    now = runner.invoke(app, ["schedule", str(config), "--once", "--now", "Helio"])
    assert now.exit_code == 1
    assert [c for c, _, _ in client_runs(tmp_path / "out" / "history.sqlite")][-1] == "Helio"
    assert len(client_runs(tmp_path / "out" / "history.sqlite")) == 3

    unknown = runner.invoke(app, ["schedule", str(config), "--once", "--now", "Nobody"])
    assert unknown.exit_code == 2
    assert "--now 'Nobody' is not a client" in unknown.output


Daemon = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    started: list[subprocess.Popen[bytes]] = []

    def start(
        config: Path, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"daemon{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "auditor", "schedule", str(config), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=tmp_path,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def log_of(tmp_path: Path, number: int = 0) -> str:
    return (tmp_path / f"daemon{number}.log").read_text(encoding="utf-8", errors="replace")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def wait_for_first_pass(store: Path) -> None:
    """Until the daemon has audited both clients and is idle (it writes "idle" before its
    first pass too: the runs say the pass is over)."""
    wait_for(lambda: [r[1] for r in client_runs_or_none(store)] == ["ok", "ok"], "a pass")
    wait_for(lambda: beat_state(store) == "idle", "the scheduler to idle")


def beat_state(store: Path) -> str | None:
    try:
        beat = read_beat(heartbeat_path(store))
    except ValueError:
        return None
    return None if beat is None else beat.state


def test_one_scheduler_per_store_and_a_manual_run_beside_it(tmp_path: Path, daemon: Daemon) -> None:
    config = write_config(tmp_path)
    store = tmp_path / "out" / "history.sqlite"
    first = daemon(config)
    wait_for_first_pass(store)

    second = runner.invoke(app, ["schedule", str(config), "--once"])
    assert second.exit_code == 4
    assert "another scheduler holds this history store" in second.output
    assert f"pid {first.pid} on host" in second.output

    # The scheduler is idle: a manual run of a client goes ahead and is recorded.
    manual = runner.invoke(app, ["run", str(config), "--client", "Helio", "-q"])
    assert manual.exit_code == 1, manual.output
    assert client_runs(store)[-1][:2] == ("Helio", "ok")

    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0
    assert "stopped by SIGTERM" in log_of(tmp_path)
    assert beat_state(store) == "stopped"
    with HistoryStore(store) as history:
        assert history.lease() is None


def client_runs_or_none(store: Path) -> list[tuple[str, str, str | None]]:
    try:
        return client_runs(store)
    except sqlite3.Error:
        return []


def test_a_killed_schedulers_lease_is_taken_over_once_stale(
    tmp_path: Path, daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path, stale_after=3)
    store = tmp_path / "out" / "history.sqlite"
    first = daemon(config)
    wait_for_first_pass(store)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    refused = runner.invoke(app, ["schedule", str(config), "--once"])
    assert refused.exit_code == 4  # its heartbeat is fresh: it may be alive
    time.sleep(3.5)
    taken = runner.invoke(app, ["schedule", str(config), "--once"])
    assert taken.exit_code == 0, taken.output
    assert f"took the history store over from pid {first.pid}" in caplog.text


def test_sigterm_in_a_scheduled_audit_leaves_store_and_reports_whole_then_reruns(
    tmp_path: Path,
    daemon: Daemon,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLOW_CHECK_SECONDS", "0")  # for the rerun in this process
    config = write_config(tmp_path)
    store = tmp_path / "out" / "history.sqlite"
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "slw001.py").write_text(SLOW_CHECK, encoding="utf-8")
    process = daemon(config, "--checks-dir", str(checks), env={"SLOW_CHECK_SECONDS": "60"})
    wait_for(lambda: "audit started: client Driftly" in log_of(tmp_path), "the first audit")
    time.sleep(1.0)  # in the slow check by now
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, log_of(tmp_path)

    assert client_runs(store) == [("Driftly", "interrupted", client_runs(store)[0][2])]
    with sqlite3.connect(store) as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM runs")]
    assert statuses == ["interrupted"]  # the engine's run row is closed, not left running
    leftovers = [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # no temporary file of a half-written report
    for report in (tmp_path / "out").rglob("report.json"):
        json.loads(report.read_text(encoding="utf-8"))  # whole JSON

    again = runner.invoke(app, ["schedule", str(config), "--once", "--checks-dir", str(checks)])
    assert again.exit_code == 1, again.output
    assert "audit started: client Driftly (interrupted)" in caplog.text
    assert [(c, o) for c, o, _ in client_runs(store)] == [
        ("Driftly", "interrupted"),
        ("Driftly", "ok"),
        ("Helio", "ok"),
    ]


def test_a_manual_run_skips_a_client_another_process_audits_or_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    store_path = tmp_path / "out" / "history.sqlite"
    store_path.parent.mkdir()
    with HistoryStore(store_path) as store:
        busy = store.begin_client_run(
            "Driftly", "scheduler-elsewhere", None, pid=4242, host="pod-7"
        )

    skipped = runner.invoke(app, ["run", str(config), "-q"])
    assert skipped.exit_code == 4  # busy outranks the failing findings of the client that ran
    assert "client Driftly is being audited by pid 4242 on host pod-7" in skipped.output
    assert "add --wait" in skipped.output
    assert [(c, o) for c, o, _ in client_runs(store_path)] == [
        ("Driftly", "running"),
        ("Helio", "ok"),
    ]

    import threading

    import auditor.cli_runs

    monkeypatch.setattr(auditor.cli_runs, "WAIT_POLL_SECONDS", 0.05)

    def finish_soon() -> None:
        time.sleep(0.5)
        with HistoryStore(store_path) as store:
            store.finish_client_run(busy, "ok")

    finisher = threading.Thread(target=finish_soon)
    finisher.start()
    waited = runner.invoke(app, ["run", str(config), "-q", "--client", "Driftly", "--wait"])
    finisher.join()
    assert waited.exit_code == 1, waited.output
    assert "waiting: client Driftly is being audited by pid 4242" in waited.output
    assert [(c, o) for c, o, _ in client_runs(store_path)][-1] == ("Driftly", "ok")


def test_a_frozen_scheduler_that_wakes_after_a_takeover_stops_at_once(
    tmp_path: Path, daemon: Daemon
) -> None:
    config = write_config(tmp_path, stale_after=3)
    store = tmp_path / "out" / "history.sqlite"
    frozen = daemon(config)
    wait_for_first_pass(store)
    frozen.send_signal(signal.SIGSTOP)
    time.sleep(3.5)
    successor = daemon(config)
    wait_for(lambda: "took the history store over" in log_of(tmp_path, 1), "the takeover")
    frozen.send_signal(signal.SIGCONT)
    assert frozen.wait(timeout=30) == 4
    assert "lost the history store's lease" in log_of(tmp_path, 0)
    assert successor.poll() is None  # the store is the successor's
    with HistoryStore(store) as history:
        lease = history.lease()
        assert lease is not None and lease.pid == successor.pid
    successor.send_signal(signal.SIGTERM)
    assert successor.wait(timeout=30) == 0


def test_a_manual_runs_heartbeat_keeps_its_client_from_the_scheduler_past_the_stale_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path, stale_after=3)
    store = tmp_path / "out" / "history.sqlite"
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "slw001.py").write_text(SLOW_CHECK, encoding="utf-8")
    log = (tmp_path / "manual.log").open("wb")
    manual = subprocess.Popen(
        [*AUDITOR, "run", str(config), "-q", "--client", "Driftly", "--checks-dir", str(checks)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SLOW_CHECK_SECONDS": "8"},
        cwd=tmp_path,
    )
    try:
        wait_for(
            lambda: ("Driftly", "running") in [r[:2] for r in client_runs_or_none(store)],
            "the claim",
        )
        time.sleep(4.5)  # past the 3 s stale period: only the manual run's heartbeat keeps it
        scheduled = runner.invoke(app, ["schedule", str(config), "--once"])
        assert scheduled.exit_code == 1, scheduled.output  # Helio's findings
        # Driftly's run is alive (its heartbeat): in progress, so not due, never taken over.
        assert "audit started: client Helio" in caplog.text
        assert "client Driftly" not in caplog.text
        assert manual.wait(timeout=60) == 1
    finally:
        if manual.poll() is None:
            manual.kill()
    outcomes = [(c, o) for c, o, _ in client_runs(store)]
    assert outcomes.count(("Driftly", "ok")) == 1 and ("Driftly", "interrupted") not in outcomes
    assert ("Helio", "ok") in outcomes
