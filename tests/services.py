"""Real PostgreSQL and Redis servers for the tests, started on loopback in a temporary folder.

Each server is started once per test session (per xdist worker) from the Debian packages that
``.ci/run`` installs when they are missing (``postgresql``, ``redis-server``); a test that asks
for one on a machine without them is skipped with the reason, and fails under ``CI=true``
(:func:`tests_support.unavailable`). Both require a password, so that the tests go through the
same secret handling as a real deployment:

* ``postgres_server``: a cluster made by ``initdb`` (as the ``postgres`` user when the tests
  run as root: initdb refuses root), ``fsync=off``, listening on 127.0.0.1 and on a socket in
  the temporary folder only. ``postgres_database`` gives each test a new empty database.
* ``redis_server``: ``redis-server`` with no persistence, ``requirepass`` set. ``redis_url``
  flushes it for each test.

The fixtures wrap two plain context managers, :func:`running_postgres` and
:func:`running_redis`, which raise :class:`ServiceUnavailable` when a server cannot be had;
``benchmarks/bench_scale.py`` uses them too (with ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tests_support import unavailable

_POSTGRES_BIN = Path("/usr/lib/postgresql")
_START_TIMEOUT_SECONDS = 30.0


class ServiceUnavailable(Exception):
    """A server cannot be started here: ``what`` (PostgreSQL, Redis) and why."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what} unavailable: {reason}")
        self.what, self.reason = what, reason


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _postgres_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(_POSTGRES_BIN.glob(f"*/bin/{name}"), key=lambda p: p.parent.parent.name)
    return str(versions[-1]) if versions else None


def _as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as ``postgres`` then."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceUnavailable("PostgreSQL", "running as root and runuser is missing")
    return [runuser, "-u", "postgres", "--"]


def _run_or_explain(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")


def _wait_for_port(port: int, what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within the timeout")


ServerT = TypeVar("ServerT")


@contextmanager
def _or_unavailable(starting: AbstractContextManager[ServerT]) -> Iterator[ServerT]:
    """A fixture's server, or the test skipped (failed under CI=true) when it cannot start."""
    try:
        server = starting.__enter__()
    except ServiceUnavailable as missing:
        unavailable(missing.what, missing.reason)
    try:
        yield server
    finally:
        starting.__exit__(None, None, None)


@dataclass(frozen=True)
class PostgresServer:
    """A running cluster: connect as ``user`` with ``password`` on 127.0.0.1:``port``."""

    port: int
    user: str
    password: str
    folder: Path

    def url(self, database: str = "postgres", *, with_password: bool = False) -> str:
        secret = f":{self.password}" if with_password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """One statement as the cluster's owner, outside a transaction (CREATE DATABASE)."""
        import psycopg

        with psycopg.connect(self.url(with_password=True), autocommit=True) as connection:
            connection.execute(sql.encode())


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A new cluster in a temporary folder, stopped and removed on leaving."""
    initdb, pg_ctl = _postgres_tool("initdb"), _postgres_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ServiceUnavailable(
            "PostgreSQL", "initdb/pg_ctl not found (Debian package postgresql)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ServiceUnavailable(
            "PostgreSQL", "the psycopg package is not installed (extra 'postgres')"
        ) from None
    as_postgres = _as_postgres_user()
    # Not under pytest's temporary root: it is private to the user running the tests, and the
    # server may run as another (postgres).
    folder = Path(tempfile.mkdtemp(prefix="auditor-test-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    password = secrets.token_urlsafe(18)
    password_file = folder / "password"
    password_file.write_text(password + "\n", encoding="utf-8")
    if as_postgres:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(password_file, "postgres")
    user = "auditor"
    _run_or_explain(
        [
            *as_postgres,
            initdb,
            "-D",
            str(data),
            "-U",
            user,
            "-A",
            "scram-sha-256",
            f"--pwfile={password_file}",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        "initdb",
    )
    password_file.unlink()
    port, log = _free_port(), folder / "log"
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _run_or_explain(
        [*as_postgres, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
        "pg_ctl start",
    )
    try:
        _wait_for_port(port, "PostgreSQL")
        yield PostgresServer(port=port, user=user, password=password, folder=folder)
    finally:
        subprocess.run(
            [*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with _or_unavailable(running_postgres()) as server:
        yield server


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> str:
    """A new empty database for one test; its URL (no password: the test passes it apart)."""
    name = f"t_{secrets.token_hex(6)}"
    postgres_server.admin(f"CREATE DATABASE {name}")
    return postgres_server.url(name)


@dataclass(frozen=True)
class RedisServer:
    port: int
    password: str

    def url(self, *, with_password: bool = False, database: int = 0) -> str:
        secret = f":{self.password}@" if with_password else ""
        return f"redis://{secret}127.0.0.1:{self.port}/{database}"


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A new redis-server (no persistence, a password) on loopback, killed on leaving."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise ServiceUnavailable("Redis", "redis-server not found (Debian package redis-server)")
    folder = Path(tempfile.mkdtemp(prefix="auditor-test-redis-"))
    password = secrets.token_urlsafe(18)
    port = _free_port()
    process = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            password,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, "redis-server", process)
        yield RedisServer(port=port, password=password)
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with _or_unavailable(running_redis()) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The server's URL with its password, emptied for this test (FLUSHALL)."""
    url = redis_server.url(with_password=True)
    try:
        import redis
    except ImportError:
        unavailable("Redis", "the redis package is not installed")
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()
    return url
