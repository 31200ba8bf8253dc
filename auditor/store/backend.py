"""Where a history store lives, and what differs between its two kinds: an SQLite file and a
PostgreSQL database.

The store's code (``history``, ``posts``, ``fetch_cache``, ``scheduler``) is one body that runs
on both: it writes SQL in SQLite's spelling with ``?`` placeholders, portable to PostgreSQL (no
``INSERT OR``, no scalar ``max(a, b)``, no ``sqlite_*`` tables), and reaches the database
through :class:`Db`. A :class:`Backend` is what it runs on: opening and settings, transactions,
the schema's version, errors turned into one line. This module holds the location and the SQLite
backend; ``backend_postgres`` the other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from auditor.store.encoding import StoreError
from auditor.store.migrations import _migrate

_PAGE_SIZE = 16384


class Cursor(Protocol):
    """What the store reads of a statement's result."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Db(Protocol):
    """The connection the store's SQL runs on: ``sqlite3.Connection`` itself, or the
    PostgreSQL backend's translating wrapper."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where a history store is: an SQLite file (``path``), or a PostgreSQL database (``url``,
    never holding a password, and the ``password`` already read from where the config names
    it). ``password_key`` is the config key that names the password, for error messages."""

    path: Path | None = None
    url: str | None = None
    password: str | None = field(default=None, repr=False)
    password_key: str = "store.password_env"

    def __post_init__(self) -> None:
        if (self.path is None) == (self.url is None):
            raise StoreError("a history store is a file (path) or a database (url), not both")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("postgresql", "postgres"):
                raise StoreError(
                    f"history store url must start with postgresql://, got {self.name}"
                )
            if parts.password is not None:
                raise StoreError(
                    f"history store {self.name}: the url holds a password;"
                    " name it with password_env or password_file instead"
                )

    @classmethod
    def file(cls, path: Path | str) -> StoreLocation:
        return cls(path=Path(path) if str(path) != ":memory:" else Path(":memory:"))

    @property
    def is_file(self) -> bool:
        return self.path is not None

    @property
    def name(self) -> str:
        """How messages name the store: its path, or its URL without any password."""
        if self.path is not None:
            return str(self.path)
        assert self.url is not None
        return _without_password(self.url)


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc))
    except ValueError:
        return "postgresql://(unreadable url)"


class Backend:
    """An open store database: its connection, transactions and reads. Subclasses say how."""

    name: str
    # The errors of this database's driver, turned into StoreError by :meth:`describe`.
    errors: tuple[type[BaseException], ...] = ()

    @property
    def db(self) -> Db:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def transaction(self, lock: str | None = None) -> AbstractContextManager[Db]:
        raise NotImplementedError

    @contextmanager
    def exclusive(self, lock: str) -> Iterator[bool]:
        """Whether this process may run the one-at-a-time job ``lock`` (a prune) now: held
        for the block, released after. A file store has one writer at a time anyway."""
        yield True

    def describe(self, exc: BaseException) -> str:
        """The driver's error on one line, as messages may show it."""
        return str(exc)

    def read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, parameters).fetchall()
        except self.errors as exc:
            raise StoreError(f"history store read failed: {self.describe(exc)}") from exc


class SqliteBackend(Backend):
    """A history store in one SQLite file (or ``:memory:``)."""

    errors = (sqlite3.Error,)

    def __init__(self, path: str) -> None:
        self.name = path
        self._connection: sqlite3.Connection | None = _open(path)
        try:
            _migrate(self._connection, path)
        except BaseException:
            self.close()
            raise

    @property
    def db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError("the history store is closed")
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any exception rolls everything back and propagates.

        BEGIN IMMEDIATE serialises writers, so ``lock`` (what PostgreSQL must lock for the
        caller's read-then-write) needs nothing more here. SQLite errors are re-raised as
        StoreError; anything else propagates unchanged after the rollback.
        """
        connection = self.db
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("PRAGMA defer_foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot start a transaction on {self.name}: {exc}") from exc
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"history store write failed: {exc}") from exc
            raise


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


def open_backend(location: StoreLocation) -> Backend:
    """The open, migrated database at ``location``."""
    if location.path is not None:
        return SqliteBackend(str(location.path))
    # Imported here: psycopg is the 'scale' extra's, and a file store never needs it.
    try:
        from auditor.store.backend_postgres import PostgresBackend
    except ImportError:
        raise StoreError(
            f"history store {location.name}: a PostgreSQL store needs psycopg;"
            " install social-care-auditor[scale]"
        ) from None

    return PostgresBackend(location)
