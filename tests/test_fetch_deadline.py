"""Deadlines on a fetch: no single request, and no account, takes longer than it is given.

httpx's read timeout is per read: a server that sends one byte now and then, or headers a byte
at a time, held a request open for as long as it liked, and retries and waits added up per
account. Here a server of our own on 127.0.0.1 stalls or drips one byte a second, and
mastodon-mock holds requests open with its ``timeout`` fault; every test sets small deadlines,
so each takes a few seconds of wall time.
"""

from __future__ import annotations

import json
import select
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mastodon_mock_server import MockMastodon
from pytest_httpserver import HTTPServer
from test_fetch import write_config
from typer.testing import CliRunner

from auditor.cli import app
from auditor.fetch import run as fetch_module
from auditor.fetch.http import (
    Deadline,
    HttpClient,
    HttpConfig,
    HttpError,
    ManualClock,
    RetryPolicy,
    SystemClock,
)
from auditor.sources.platforms.base import RateInfo

from fetch_fakes import MASTODON_TOKEN, NOW, X_TOKEN
from tests_support import StoppableServer, serving, write_api_config

runner = CliRunner()
DRIP_INTERVAL = 1.0  # seconds between two bytes of a dripping answer


class _SlowHandler(socketserver.BaseRequestHandler):
    """Answers as slowly as ``server.mode`` says, until the client hangs up."""

    server: SlowServer

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.recv(65536)  # the request; its content does not matter
        if self.server.mode == "drip-headers":
            self._drip(connection, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000)
        elif self.server.mode == "drip-body":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            connection.sendall(head + b"Content-Length: 100000\r\n\r\n[")
            self._drip(connection, b" " * 100_000)
        else:  # stall: say nothing at all
            self._wait_for_hang_up(connection, 60.0)

    def _drip(self, connection: socket.socket, data: bytes) -> None:
        for byte in data:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up: what the test wants
            if self._wait_for_hang_up(connection, DRIP_INTERVAL):
                return

    def _wait_for_hang_up(self, connection: socket.socket, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.server.stopping.is_set():
            readable, _, _ = select.select([connection], [], [], 0.1)
            if readable:
                try:
                    if not connection.recv(1):
                        return True
                except OSError:
                    return True
        return self.server.stopping.is_set()


class SlowServer(StoppableServer):
    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.mode = mode
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def slow_server(request: pytest.FixtureRequest) -> Iterator[SlowServer]:
    with serving(SlowServer(getattr(request, "param", "drip-body"))) as server:
        yield server


def _no_rate_limit(headers: object, now: float) -> RateInfo:
    return RateInfo(None, None)


@pytest.mark.parametrize("slow_server", ["stall", "drip-headers", "drip-body"], indirect=True)
def test_a_request_ends_by_its_deadline_however_the_server_dawdles(
    slow_server: SlowServer,
) -> None:
    # Each read of a drip comes well within the read timeout: only a deadline on the whole
    # request ends it.
    config = HttpConfig(
        read_timeout=10.0,
        request_deadline=1.0,
        retry=RetryPolicy(max_attempts=2, base_delay=0.05, jitter=0.0),
    )
    started = time.monotonic()
    with HttpClient(config, clock=SystemClock()) as client, pytest.raises(HttpError) as raised:
        client.request_json(
            platform="x", read_rate_limit=_no_rate_limit, url=slow_server.url + "/profile"
        )
    elapsed = time.monotonic() - started
    assert "no complete answer within 1 s" in raised.value.reason
    assert raised.value.attempts == 2
    assert elapsed < 2 * 1.0 + 1.5, f"two attempts of 1 s took {elapsed:.1f} s"


def test_a_deadline_ends_the_retries_and_the_waits_before_they_pass_it() -> None:
    calls = 0

    def always_busy(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, headers={"Retry-After": "40"})

    clock = ManualClock()
    client = HttpClient(
        HttpConfig(retry=RetryPolicy(max_attempts=10, max_wait=900.0)),
        clock=clock,
        transport=httpx.MockTransport(always_busy),
    )
    deadline = Deadline.after(clock, 100.0)
    with client, pytest.raises(HttpError) as raised:
        client.request_json(
            platform="x",
            read_rate_limit=_no_rate_limit,
            url="https://api.example/1",
            deadline=deadline,
        )
    # 40 s, 40 s, then a third wait would end past 100 s: given up at once, not slept.
    assert clock.sleeps == [40.0, 40.0]
    assert calls == 3 and raised.value.attempts == 3
    assert raised.value.reason == "fetch deadline of 100 s reached (HTTP 503)"


def _with_deadline(config: Path, seconds: float) -> None:
    text = config.read_text(encoding="utf-8")
    marker = "max_wait_seconds: "
    assert marker in text
    config.write_text(
        text.replace(marker, f"account_deadline_seconds: {seconds}, {marker}", 1),
        encoding="utf-8",
    )


@pytest.mark.parametrize("slow_server", ["drip-body"], indirect=True)
def test_past_its_deadline_an_account_is_incomplete_and_the_others_go_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    slow_server: SlowServer,
    mastodon_server: HTTPServer,
) -> None:
    monkeypatch.setattr(fetch_module, "default_clock", lambda: ManualClock(NOW.timestamp()))
    monkeypatch.setenv("AUDITOR_TEST_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("AUDITOR_TEST_MASTODON_TOKEN", MASTODON_TOKEN)
    # X drips its answers a byte a second; Mastodon answers at once.
    config = write_config(tmp_path, slow_server.url, mastodon_server.url_for("/"))
    _with_deadline(config, 2)
    started = time.monotonic()
    result = runner.invoke(app, ["fetch", str(config)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    assert "incomplete fetch: x:acmehelp: " in result.output
    assert "fetch deadline of 2 s reached" in result.output
    assert "mastodon:acmehelp@social.example" not in result.output.split("incomplete fetch")[1]
    windows = {}
    for bundle in (tmp_path / "out" / "bundles").rglob("*.jsonl"):
        records = [json.loads(line) for line in bundle.read_text(encoding="utf-8").splitlines()]
        windows[bundle.parent.name] = next(r for r in records if r["kind"] == "window")
    assert windows["x"]["complete"] is False
    assert "fetch deadline of 2 s reached" in windows["x"]["reason"]
    assert windows["mastodon"]["complete"] is True, windows["mastodon"]
    assert elapsed < 10, f"a 2 s deadline took {elapsed:.1f} s"


TOKEN_ENV = "AUDITOR_TEST_MOCK_MASTODON_TOKEN"


def test_mastodon_mock_holding_requests_open_ends_at_the_account_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mastodon_mock: MockMastodon
) -> None:
    brand = mastodon_mock.account("acmehelp", "Acme Help")
    customer = mastodon_mock.account("carla", "Carla")
    mastodon_mock.post(customer, "@acmehelp my order never arrived")
    # The mock holds each notifications request open for 30 s.
    mastodon_mock.fault(r"^/api/v1/notifications$", {"type": "timeout"}, count=None)
    monkeypatch.setenv(TOKEN_ENV, brand.token)
    source = f'{{type: api, token_env: {TOKEN_ENV}, base_url: "{mastodon_mock.base_url}"}}'
    config = write_api_config(
        tmp_path, [f'{{platform: mastodon, handle: "acmehelp", source: {source}}}']
    )
    _with_deadline(config, 3)
    started = time.monotonic()
    result = runner.invoke(app, ["run", str(config), "--quiet"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    (report,) = (tmp_path / "out").rglob("report.json")
    (account,) = json.loads(report.read_text(encoding="utf-8"))["accounts"]
    coverage = account["coverage"]
    assert coverage["complete"] is False, coverage
    assert "mentions: fetch deadline of 3 s reached" in coverage["reason"], coverage
    assert elapsed < 12, f"a 3 s deadline took {elapsed:.1f} s"
