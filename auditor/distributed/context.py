"""What a worker process keeps between tasks: each config it was handed (by path, read again
when the file changes), its one HTTP client and its one history store connection per config,
its id in the ledger; and the lease arithmetic."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from auditor.config import Config
    from auditor.fetch.http import HttpClient
    from auditor.registry import Registry
    from auditor.store.backend import StoreLocation
    from auditor.store.history import HistoryStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def lease_length(config: Config) -> timedelta:
    """An account's lease in the ledger: half the broker's visibility timeout, renewed every
    third of it while the account is audited, so that a dead worker's account is free again
    (and requeued) well within the visibility timeout."""
    return timedelta(seconds=config.engine.visibility_timeout_seconds / 2)


def requeue_every(config: Config) -> timedelta:
    """How often the periodic requeue looks for expired leases (a sixth of the visibility
    timeout: a dead worker's account is enqueued again within two thirds of it)."""
    return timedelta(seconds=config.engine.visibility_timeout_seconds / 6)


class Enqueue(Protocol):
    """Where the work goes: Celery's broker (``auditor.distributed.app.CeleryQueue``), or a
    test's list."""

    def audit(
        self, config_path: str, run_key: str, client: str, platform: str, account: str
    ) -> None:
        """Enqueue one account's audit."""

    def finalize(self, config_path: str, run_key: str) -> None:
        """Enqueue the run's finalize."""


@dataclass
class _Loaded:
    mtime_ns: int
    registry: Registry
    config: Config


@dataclass
class WorkerContext:
    """One worker process's state (forked pool processes each make their own on first use)."""

    clock: Clock = utc_now
    # ``auditor worker --checks-dir``: the checks every config is loaded with.
    checks_dirs: tuple[Path, ...] = ()
    worker: str = field(default_factory=lambda: f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    _configs: dict[str, _Loaded] = field(default_factory=dict)
    _http: dict[str, HttpClient] = field(default_factory=dict)
    _stores: dict[tuple[StoreLocation, int], HistoryStore] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, config_path: str) -> tuple[Registry, Config]:
        """The config at ``config_path`` and its checks, read again when the file changed; a
        bad config raises :class:`~auditor.cli_common.Failed` with its one line."""
        from auditor.cli_common import load

        path = Path(config_path)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            mtime = -1  # load() says what is wrong with it
        with self._lock:
            known = self._configs.get(config_path)
            if known is None or known.mtime_ns != mtime:
                registry, config = load(path, list(self.checks_dirs) or None)
                known = self._configs[config_path] = _Loaded(mtime, registry, config)
            return known.registry, known.config

    def http_client(self, config: Config) -> HttpClient:
        """The process's HTTP client for ``config``: one rate-limit budget per token across
        every account this process fetches (shared with every process through Redis when
        ``fetch.shared_limits`` is set)."""
        from auditor.cli_common import http_client_for

        with self._lock:
            client = self._http.get(str(config.path))
            if client is None:
                client = self._http[str(config.path)] = http_client_for(config)
            return client

    @contextmanager
    def store(self, config: Config) -> Iterator[HistoryStore]:
        """The process's connection to ``config``'s history store for one task: kept for the
        next task (a connection costs a PostgreSQL server process and ~15 ms), checked to
        answer before it is lent again, and closed when the task raises (its state unknown).
        One task at a time holds it; another thread's task meanwhile gets one of its own."""
        from auditor.cli_common import open_store
        from auditor.fetch.store_location import store_location

        key = (store_location(config), config.retention_days)
        with self._lock:
            store = self._stores.pop(key, None)
        if store is not None and not store.answers():
            store.close()
            store = None
        if store is None:
            store = open_store(config)
        try:
            yield store
        except BaseException:
            store.close()
            raise
        with self._lock:
            spare = self._stores.pop(key, None)
            self._stores[key] = store
        if spare is not None:
            spare.close()

    def close(self) -> None:
        with self._lock:
            for client in self._http.values():
                client.close()
            self._http.clear()
            for store in self._stores.values():
                store.close()
            self._stores.clear()
