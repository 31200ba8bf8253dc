"""Opening the history store: its backend (an SQLite file or a PostgreSQL database), its
transactions and reads.

:class:`StoreConnection` is the part of :class:`~auditor.store.history.HistoryStore` that every
other part writes and reads through. Each write is one transaction (:meth:`_transaction`): an
exception part-way through leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from auditor.store.backend import _PAGE_SIZE, Backend, Db, StoreLocation, open_backend
from auditor.store.encoding import StoreError

__all__ = ["_PAGE_SIZE", "StoreConnection"]


class StoreConnection:
    """An open, migrated history database and its transactions (not thread-safe).

    ``location``: a path (an SQLite file, or ``:memory:``) or a :class:`StoreLocation`.
    """

    def __init__(self, location: Path | str | StoreLocation, retention_days: int = 90) -> None:
        if isinstance(retention_days, bool) or not isinstance(retention_days, int):
            raise StoreError(f"retention_days must be an integer, got {retention_days!r}")
        if retention_days < 1:
            raise StoreError(f"retention_days must be at least 1, got {retention_days}")
        self.location = (
            location if isinstance(location, StoreLocation) else StoreLocation.file(location)
        )
        # How messages name the store: its path, or its URL (never with a password).
        self.path = self.location.name
        self.retention = timedelta(days=retention_days)
        self._backend: Backend | None = open_backend(self.location)

    # -- lifecycle --

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def answers(self) -> bool:
        """Whether the database still answers: a handle kept between tasks may have lost its
        server (restarted, or the connection dropped while idle)."""
        try:
            self._read("SELECT 1")
        except StoreError:
            return False
        return True

    @property
    def _store(self) -> Backend:
        if self._backend is None:
            raise StoreError("the history store is closed")
        return self._backend

    @property
    def _db(self) -> Db:
        return self._store.db

    @contextmanager
    def _transaction(self, lock: str | None = None) -> Iterator[Db]:
        """One transaction: any exception rolls everything back and propagates (the database's
        errors as StoreError). ``lock`` names what the write reads before it decides (the
        scheduler's lease, a client's runs): such writes never run side by side."""
        with self._store.transaction(lock) as db:
            yield db

    @contextmanager
    def _exclusive(self, job: str) -> Iterator[bool]:
        """Whether this process may run the one-at-a-time ``job`` now (held for the block)."""
        with self._store.exclusive(job) as mine:
            yield mine

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        return self._store.read(sql, parameters)
