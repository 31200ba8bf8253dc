"""Running the CLI in-process, with stdout and stderr apart; the config of a fetch test; a\ntime limit against hangs; a real service that is missing (skipped locally, failed in CI)."""

from __future__ import annotations

import os
import signal
import socketserver
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn, TypeVar

import pytest
from typer.testing import CliRunner

from auditor.cli import app


def unavailable(what: str, reason: str) -> NoReturn:
    """A real service or program a test needs is missing: skip locally with the reason; fail
    under ``CI=true``, where every test of the suite is meant to run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable: {reason}")


T = TypeVar("T")


def wait_for(found: Callable[[], T], seconds: float = 90, every: float = 0.05) -> T:
    """What ``found`` returns once it is truthy, asked every ``every`` seconds; fails the test
    past ``seconds`` (for another process's work: a worker, a server)."""
    expired = threading.Event()
    timer = threading.Timer(seconds, expired.set)
    timer.start()
    try:
        while not (value := found()):
            if expired.wait(every):
                raise AssertionError(f"not within {seconds} s")
        return value
    finally:
        timer.cancel()


def run_cli(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write_api_config(
    folder: Path, accounts: Sequence[str], *, max_wait_seconds: int = 10, top: str = ""
) -> Path:
    """``folder/audit.yaml`` for client Acme's ``accounts`` (each a YAML flow mapping), fetched
    into ``folder/out``; ``top`` adds top-level keys (``privacy``, ``policy``), one per line."""
    lines = [
        "output: {dir: out, formats: [json]}",
        "store: {path: out/history.sqlite}",
        f"fetch: {{lookback_days: 14, dir: out/bundles, max_wait_seconds: {max_wait_seconds}}}",
        *top.splitlines(),
        "clients:",
        "  - name: Acme",
        "    accounts:",
        *(f"      - {account}" for account in accounts),
    ]
    config = folder / "audit.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@contextmanager
def no_hang(seconds: int) -> Iterator[None]:
    """Fail the test (instead of hanging the suite) when the body runs past ``seconds``
    (SIGALRM: the main thread, on POSIX)."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class StoppableServer(socketserver.ThreadingTCPServer):
    """A local test server whose handlers may hold a connection open until ``stopping`` is set."""

    daemon_threads = True
    allow_reuse_address = True
    stopping: threading.Event


ServerT = TypeVar("ServerT", bound=StoppableServer)


@contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """``server`` answering on a thread of its own; stopped, its held connections let go."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


# A check module for --checks-dir that sleeps SLOW_CHECK_SECONDS (default 1) per account: a
# run long enough for a signal to arrive in the middle of it.
SLOW_CHECK = '''
"""SLW001 Takes its time.

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

from auditor.check import Check, CheckOutput, Needs


def run(ctx):
    time.sleep(float(os.environ.get("SLOW_CHECK_SECONDS", "1")))
    return CheckOutput(summary="slow")


CHECK = Check(id="SLW001", title="Slow", version="0.1", severity="low", docs=__doc__, run=run,
              needs=Needs(posts=True))
'''
