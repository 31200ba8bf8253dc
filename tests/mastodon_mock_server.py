"""A third-party Mastodon API server for the test suite: ``mastodon_mock`` (PyPI, 0.6.1).

Nobody on this project wrote it, so what the fetch reads from it is Mastodon as another team
understood the API, not as our own fakes (``fetch_fakes.py``) assume it. The server runs as its
own process (``mastodon_mock serve``) on a free 127.0.0.1 port for the whole session; each test
gets it reset, seeds its brand and customers through the server's own HTTP API, and may inject
faults (429s, 500s, truncated bodies) through the mock's control plane (``/api/v1/_mock/faults``).

When the server cannot be imported or started, a test that needs it is skipped with the reason,
except under ``CI=true``, where it fails: in CI a missing server is a broken setup, not a reason
to pass.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests_support import unavailable

# The domain the server believes it serves: the brand is then really acmehelp@social.example.
MOCK_DOMAIN = "social.example"
STARTUP_SECONDS = 30.0


def server_unavailable(reason: str) -> NoReturn:
    unavailable("mastodon-mock server", reason)


@dataclass(frozen=True, slots=True)
class MockAccount:
    id: str
    username: str
    token: str


class MockMastodon:
    """A running ``mastodon_mock`` server, driven through its own HTTP API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def reset(self) -> None:
        """Empty database (plus the server's default seed) and no fault rules."""
        self.call("POST", "/api/v1/_mock/reset")

    def account(self, username: str, display_name: str, note: str = "") -> MockAccount:
        created = self.call(
            "POST", "/api/v1/_mock/dev_user", {"username": username, "display_name": display_name}
        )
        account = MockAccount(str(created["id"]), username, str(created["access_token"]))
        if note:
            self.call("PATCH", "/api/v1/accounts/update_credentials", {"note": note}, account.token)
        return account

    def post(
        self, author: MockAccount, text: str, in_reply_to: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": text, "visibility": "public"}
        if in_reply_to is not None:
            body["in_reply_to_id"] = in_reply_to["id"]
        status: dict[str, Any] = self.call("POST", "/api/v1/statuses", body, author.token)
        return status

    def fault(self, path_regex: str, effect: dict[str, Any], count: int | None) -> None:
        """The first ``count`` GETs whose path matches get ``effect`` (``None``: all of them)."""
        rule: dict[str, Any] = {
            "match": {"methods": ["GET"], "path_regex": path_regex},
            "effect": effect,
        }
        if count is not None:
            rule["count"] = count
        self.call("POST", "/api/v1/_mock/faults", rule)

    def faults_left(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self.call("GET", "/api/v1/_mock/faults")
        return rules


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/api/v1/instance", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_up(process: subprocess.Popen[bytes], base_url: str, log: Path) -> str | None:
    """None once the server answers; else why it never did."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            return f"`mastodon_mock serve` exited {process.returncode}: {' | '.join(tail)}"
        if _answers(base_url):
            return None
        time.sleep(0.1)
    return f"`mastodon_mock serve` did not answer on {base_url} within {STARTUP_SECONDS:.0f}s"


@pytest.fixture(scope="session")
def mastodon_mock_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | MockMastodon]:
    """The server for the session, or why there is none (each test then skips or fails)."""
    if importlib.util.find_spec("mastodon_mock") is None:
        yield "the mastodon_mock package is not installed (pip install -e '.[test]')"
        return
    folder = tmp_path_factory.mktemp("mastodon-mock")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    command = [
        *(sys.executable, "-m", "mastodon_mock", "serve", "--in-memory"),
        *("--host", "127.0.0.1", "--port", str(port), "--domain", MOCK_DOMAIN),
        *("--log-level", "warning"),
    ]
    with log.open("wb") as output:
        # cwd: an empty folder, so that no .mastodon_mock.toml or pyproject.toml of ours is read.
        process = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    try:
        problem = _wait_until_up(process, base_url, log)
        yield problem if problem is not None else MockMastodon(base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def mastodon_mock(mastodon_mock_process: str | MockMastodon) -> MockMastodon:
    """The session's server, reset for this test."""
    if isinstance(mastodon_mock_process, str):
        server_unavailable(mastodon_mock_process)
    mastodon_mock_process.reset()
    return mastodon_mock_process
