"""Opening the history store's SQLite file: its settings, its migration, its transactions.

:class:`StoreConnection` is the part of :class:`~auditor.store.history.HistoryStore` that every
other part writes and reads through. Each write is one transaction (:meth:`_transaction`): an
exception part-way through leaves the store as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from auditor.store.encoding import StoreError
from auditor.store.migrations import _migrate

_PAGE_SIZE = 16384


def _open(path: str) -> sqlite3.Connection:
    if path != ":memory:":
        parent = Path(path).parent
        if not parent.is_dir():
            raise StoreError(f"history store directory does not exist: {parent}")
    try:
        # isolation_level=None: the store issues BEGIN/COMMIT itself, so a transaction spans
        # exactly one public call.
        # Parallel audits write from several processes: wait for the lock rather than fail.
        connection = sqlite3.connect(path, isolation_level=None, timeout=120)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open history store {path}: {exc}") from exc
    try:
        # 16 KiB pages make the posts B-tree shallower: an account's posts go in at its own
        # place in the tree (account ids are hashes), and each upsert seeks from the root
        # (measured: first run of bench_store.py 2.5 s -> 2.2 s). Only a new file takes it.
        connection.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        # A bigger page cache keeps a 1M-post upsert from thrashing; negative = KiB.
        connection.execute("PRAGMA cache_size = -65536")
        # A multi-row upsert keeps the pages it changes in a statement journal, spilled to a
        # temporary file past 64 KiB: in memory, a million posts' writes skip ~100,000 write
        # calls (posts go in key order, so each statement's journal stays a few pages).
        connection.execute("PRAGMA temp_store = MEMORY")
        # wal_autocheckpoint 10000 and 30000 measured no faster end to end (bench_store.py,
        # close included) than the default: left at it.
    except sqlite3.Error as exc:
        connection.close()
        raise StoreError(f"{path} is not a usable SQLite history store: {exc}") from exc
    return connection


class StoreConnection:
    """An open, migrated history database and its transactions (not thread-safe)."""

    def __init__(self, path: Path | str, retention_days: int = 90) -> None:
        if isinstance(retention_days, bool) or not isinstance(retention_days, int):
            raise StoreError(f"retention_days must be an integer, got {retention_days!r}")
        if retention_days < 1:
            raise StoreError(f"retention_days must be at least 1, got {retention_days}")
        self.path = str(path)
        self.retention = timedelta(days=retention_days)
        self._connection: sqlite3.Connection | None = _open(self.path)
        try:
            _migrate(self._connection, self.path)
        except BaseException:
            self._connection.close()
            self._connection = None
            raise

    # -- lifecycle --

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError("the history store is closed")
        return self._connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any exception rolls everything back and propagates.

        SQLite errors are re-raised as StoreError; anything else (an exception from the
        caller's iterable, say) propagates unchanged after the rollback.
        """
        connection = self._db
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("PRAGMA defer_foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot start a transaction on {self.path}: {exc}") from exc
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"history store write failed: {exc}") from exc
            raise

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"history store read failed: {exc}") from exc
