"""Shared fixtures: small bundles and configs written into a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from auditor.sources.bundle import write_bundle
from auditor.store.history import HistoryStore

# The third-party Mastodon server (mastodon-mock) and its fixtures: tests/mastodon_mock_server.py;
# real PostgreSQL and Redis servers on loopback: tests/services.py.
pytest_plugins = ["mastodon_mock_server", "services"]

if TYPE_CHECKING:
    # For the annotations only: the fixtures below import fetch_fakes (and with it werkzeug and
    # the HTTP server) when a test asks for a fake server, as before.
    from pytest_httpserver import HTTPServer

    from fetch_fakes import FakeMastodon, FakeX

END = datetime(2026, 11, 16, tzinfo=UTC)


def at(hours_before_end: float) -> str:
    return (END - timedelta(hours=hours_before_end)).isoformat()


def profile(
    account: str = "AcmeHelp",
    bio: str = "We reply 9am-5pm ET, Mon-Fri. Help: DM us",
    platform: str = "x",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "kind": "profile",
        "platform": platform,
        "account": account,
        "bio": bio,
        "fetched_at": END.isoformat(),
        **extra,
    }


def window(
    account: str = "AcmeHelp", platform: str = "x", days: int = 14, **extra: Any
) -> dict[str, Any]:
    record = {
        "kind": "window",
        "platform": platform,
        "account": account,
        "window_start": (END - timedelta(days=days)).isoformat(),
        "window_end": END.isoformat(),
        "complete": True,
        "observes": ["deleted", "conversations"],
        "fetched_at": END.isoformat(),
    }
    record.update(extra)
    return record


def post(
    post_id: str,
    author: str,
    hours_before_end: float,
    text: str = "",
    account: str = "AcmeHelp",
    platform: str = "x",
    **extra: Any,
) -> dict[str, Any]:
    by_brand = author == account
    record = {
        "kind": "post",
        "platform": platform,
        "account": account,
        "id": post_id,
        "author": author,
        "by_brand": by_brand,
        "created_at": at(hours_before_end),
        "text": text or (f"@{account} help please" if not by_brand else "On it!"),
        "url": f"https://x.com/{author}/status/{post_id}",
    }
    record.update(extra)
    return record


def healthy_account(account: str = "AcmeHelp") -> list[dict[str, Any]]:
    return [
        profile(account),
        window(account),
        post("1", "bob", 30, f"@{account} my order is late", account=account),
        post(
            "2",
            account,
            29.5,
            "@bob sorry! Please DM us",
            account=account,
            in_reply_to="1",
            thread="1",
        ),
    ]


def neglected_account(account: str = "GloboCare") -> list[dict[str, Any]]:
    return [
        profile(account, bio="Official Globo account"),
        window(account),
        post("10", "dora", 40, f"@{account} still no refund", account=account),
        post("11", "ed", 30, f"@{account} app keeps crashing", account=account),
    ]


WriteBundle = Callable[[str, Iterable[Mapping[str, Any]]], Path]
"""The ``write_bundle_file`` fixture: writes records as a bundle named ``name`` in tmp_path."""


class WriteConfig(Protocol):
    """The ``write_config`` fixture: writes dedented YAML into tmp_path, returns its path."""

    def __call__(self, text: str, name: str = "audit.yaml") -> Path: ...


@pytest.fixture
def write_bundle_file(tmp_path: Path) -> WriteBundle:
    def write(name: str, records: Iterable[Mapping[str, Any]]) -> Path:
        path = tmp_path / name
        write_bundle(path, records)
        return path

    return write


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str, name: str = "audit.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


def read_reports(folder: Path) -> dict[str, dict[str, Any]]:
    """The newest report.json of each client under ``folder``, by client folder name."""
    # Each run writes a folder of its own: the newest is the last written.
    paths = sorted(folder.rglob("report.json"), key=lambda p: (p.stat().st_mtime_ns, p.parent.name))
    return {p.parents[1].name: json.loads(p.read_text()) for p in paths}


# The fake platform servers of the fetch tests (tests/fetch_fakes.py), shared by those files.
@pytest.fixture
def fake_x() -> FakeX:
    from fetch_fakes import FakeX

    return FakeX()


@pytest.fixture
def x_server(fake_x: FakeX) -> Iterator[HTTPServer]:
    from fetch_fakes import serve

    yield from serve(fake_x)


@pytest.fixture
def fake_mastodon() -> FakeMastodon:
    from fetch_fakes import FakeMastodon

    return FakeMastodon()


@pytest.fixture
def mastodon_server(fake_mastodon: FakeMastodon) -> Iterator[HTTPServer]:
    from fetch_fakes import serve

    for server in serve(fake_mastodon):
        fake_mastodon.base_url = server.url_for("/")
        yield server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's history store lives."""
    return tmp_path / "history.sqlite3"


@pytest.fixture
def history(db_path: Path) -> Iterator[HistoryStore]:
    """An open history store at ``db_path``, closed after the test."""
    with HistoryStore(db_path) as opened:
        yield opened


def run_auditor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m auditor ARGS`` in ``cwd``, as a user or a pipeline runs it; never raises on
    the exit code."""
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def assert_one_line_exit_2(process: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The command failed as bad input should: exit 2, one ``error:`` line holding every
    needle, no traceback; returns the line."""
    assert "Traceback" not in process.stderr
    assert process.returncode == 2, process.stderr
    lines = process.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), process.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# The suite runs on every core (pytest -n auto --dist loadgroup, pyproject.toml). These modules
# start daemons and real processes, send signals and wait on heartbeats measured in seconds:
# they run one after another on one worker, so that two of them never race for the same core.
_SERIAL_MODULES = frozenset(
    {
        "test_cli_schedule.py",
        "test_distributed_kill.py",
        "test_distributed_workers.py",
        "test_fetch_deadline.py",
        "test_fetch_signals.py",
        "test_heartbeat_file.py",
        "test_notify_wiring.py",
        "test_rate_limits_shared.py",
        "test_scheduler_lease.py",
        "test_scheduler_loop.py",
        "test_signals.py",
        "test_store_first_open_race.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in _SERIAL_MODULES:
            item.add_marker(pytest.mark.xdist_group("serial"))
