"""A stop signal during a fetch: no queued account starts, no request starts, nothing is left.

Each test starts the installed ``auditor`` console script (a real process, away from the source
tree) on 50 X accounts fetched by 2 workers from a server of our own on 127.0.0.1 that never
answers: both workers hang in a request, 48 accounts wait behind them. Once both requests have
reached the server the process gets SIGTERM or SIGINT, and must end within seconds with one
line, having started no other request, written no bundle and left no temporary file.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from auditor.config import api_bundle_path
from auditor.fetch.driver import stopped_on_the_way_out
from auditor.fetch.http import HttpClient, HttpConfig, Stopped, SystemClock
from auditor.sources.platforms.base import RateInfo

from fetch_fakes import X_TOKEN
from tests_support import StoppableServer, serving, write_api_config

ACCOUNTS = 50
WORKERS = 2
# From the signal to the process's end; the server would hold each request for a minute.
STOPS_WITHIN = 5.0
STALL_SECONDS = 60.0


class _StallHandler(socketserver.BaseRequestHandler):
    """Notes the request's path, then says nothing until the client hangs up."""

    server: StallServer

    def handle(self) -> None:
        connection: socket.socket = self.request
        head = connection.recv(65536).decode("latin-1")
        self.server.arrived(head.split(" ", 2)[1] if head.count(" ") >= 2 else head)
        end = time.monotonic() + STALL_SECONDS
        while time.monotonic() < end and not self.server.stopping.is_set():
            readable, _, _ = select.select([connection], [], [], 0.1)
            if readable:
                try:
                    if not connection.recv(1):
                        return
                except OSError:
                    return


class StallServer(StoppableServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StallHandler)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.paths: list[str] = []

    def arrived(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.paths)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def stall_server() -> Iterator[StallServer]:
    with serving(StallServer()) as server:
        yield server


def _handles() -> list[str]:
    return [f"acme_{number}" for number in range(ACCOUNTS)]


def _config(folder: Path, base_url: str) -> Path:
    accounts = [
        f'{{platform: x, handle: {handle}, source: {{type: api, token_env: AUDITOR_TEST_X_TOKEN, base_url: "{base_url}"}}}}'
        for handle in _handles()
    ]
    config = write_api_config(folder, accounts)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("fetch: {", f"fetch: {{workers: {WORKERS}, ", 1))
    return config


def _installed_auditor() -> str:
    """The console script installed beside this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("auditor")
    assert script.is_file(), f"no installed auditor script at {script}"
    return str(script)


def _handles_asked(paths: list[str]) -> set[str]:
    """The accounts whose fetch began: X's first request looks the handle up by name."""
    return {m.group(1) for p in paths if (m := re.search(r"/users/by/username/([^/?]+)", p))}


@pytest.mark.parametrize("command", ["fetch", "run"])
@pytest.mark.parametrize(
    ("stop", "exit_code", "name"),
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_stop_signal_ends_the_fetch_at_once_and_starts_nothing_queued(
    tmp_path: Path,
    stall_server: StallServer,
    command: str,
    stop: signal.Signals,
    exit_code: int,
    name: str,
) -> None:
    config = _config(tmp_path, stall_server.url)
    process = subprocess.Popen(
        [_installed_auditor(), command, str(config)],
        cwd=tmp_path,  # away from the source tree: the installed package runs
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AUDITOR_TEST_X_TOKEN": X_TOKEN},
    )
    try:
        waited_until = time.monotonic() + 30
        while len(stall_server.seen()) < WORKERS:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < waited_until, "the workers' first requests never came"
            time.sleep(0.05)
        started = _handles_asked(stall_server.seen())
        assert len(started) == WORKERS
        signalled = time.monotonic()
        process.send_signal(stop)
        try:
            stdout, stderr = process.communicate(timeout=STOPS_WITHIN + 20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command}: still running {STOPS_WITHIN + 20:g} s after {name}")
        elapsed = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == exit_code, (stdout, stderr)
    assert elapsed < STOPS_WITHIN, f"{command} took {elapsed:.1f} s to stop after {name}"
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [f"interrupted by {name}"], stderr
    # No request after the signal: the two in flight were all the server ever saw.
    time.sleep(0.3)
    assert _handles_asked(stall_server.seen()) == started
    assert len(stall_server.seen()) == WORKERS, stall_server.seen()
    # Nothing written half, and no account (started or queued) has a bundle.
    assert list(tmp_path.rglob("*.tmp")) == []
    bundles = tmp_path / "out" / "bundles"
    for handle in _handles():
        assert not api_bundle_path(bundles, "x", handle).exists(), handle
    assert not bundles.exists() or not any(p.is_file() for p in bundles.rglob("*"))


# --- the HTTP layer's stop, in process ---------------------------------------------------------


def _no_rate_limit(headers: object, now: float) -> RateInfo:
    return RateInfo(None, None)


def _request_in_thread(
    client: HttpClient, url: str
) -> tuple[threading.Thread, list[BaseException]]:
    raised: list[BaseException] = []

    def ask() -> None:
        try:
            client.request_json(platform="x", read_rate_limit=_no_rate_limit, url=url)
        except BaseException as error:  # the test looks at what it was
            raised.append(error)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread, raised


def _stop_within_a_second(
    client: HttpClient, thread: threading.Thread, raised: list[BaseException]
) -> None:
    """Stop ``client`` while ``thread`` waits in a request: it ends within a second, stopped."""
    stopped_at = time.monotonic()
    client.stop()
    thread.join(timeout=10)
    elapsed = time.monotonic() - stopped_at
    assert not thread.is_alive() and elapsed < 1.0, f"{elapsed:.1f} s after stop()"
    assert len(raised) == 1 and isinstance(raised[0], Stopped), raised


def test_stop_cuts_off_a_request_under_way_and_retries_nothing(stall_server: StallServer) -> None:
    # The server never answers; the read timeout alone would hold the request 30 s.
    config = HttpConfig(read_timeout=30.0, request_deadline=60.0)
    with HttpClient(config, clock=SystemClock()) as client:
        thread, raised = _request_in_thread(client, stall_server.url + "/2/users/by/username/a")
        while not stall_server.seen():
            time.sleep(0.02)
        _stop_within_a_second(client, thread, raised)
        # Nothing more is asked, now or for a later request.
        with pytest.raises(Stopped):
            client.request_json(
                platform="x", read_rate_limit=_no_rate_limit, url=stall_server.url + "/b"
            )
    assert len(stall_server.seen()) == 1, stall_server.seen()


def test_stop_ends_a_wait_for_a_retry(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/busy").respond_with_data(
        "", status=503, headers={"Retry-After": "30"}
    )
    with HttpClient(HttpConfig(), clock=SystemClock()) as client:
        thread, raised = _request_in_thread(client, httpserver.url_for("/busy"))
        while not httpserver.log:
            time.sleep(0.02)
        time.sleep(0.1)  # into the 30 s wait the server asked for
        _stop_within_a_second(client, thread, raised)
    assert len(httpserver.log) == 1


def test_leaving_the_pool_early_cancels_the_queue_and_stops_the_client() -> None:
    started = threading.Event()
    ran: list[int] = []

    def job(number: int, client: HttpClient) -> None:
        ran.append(number)
        started.set()
        while not client.stopping:  # an account in flight, until the client stops
            time.sleep(0.01)

    client = HttpClient(HttpConfig(), clock=SystemClock())
    pool = ThreadPoolExecutor(max_workers=1)
    futures = []
    with pytest.raises(KeyboardInterrupt), stopped_on_the_way_out(pool, client):
        futures = [pool.submit(job, number, client) for number in range(5)]
        started.wait(10)
        raise KeyboardInterrupt  # what a stop signal raises in the calling thread
    client.close()
    assert client.stopping
    assert ran == [0]
    assert all(f.cancelled() for f in futures[1:]) and futures[0].done()
