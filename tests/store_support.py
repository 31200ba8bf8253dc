"""What the history store's tests share: posts, findings, a whole audit run, table dumps, and
stores of either kind (:class:`Stores`: SQLite files, or PostgreSQL databases on the test
server), so that one suite tests both."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auditor.model import DeletedBy, Post, Visibility
from auditor.store.history import FetchedPost, FindingRecord, HistoryStore, StoreLocation

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def post(
    post_id: str,
    *,
    visibility: Visibility = "public",
    text: str = "my parcel still hasn't arrived, can someone help?",
    deleted_by: DeletedBy | None = None,
    author: str = "jo_customer",
    by_brand: bool = False,
    url: str | None = None,
) -> Post:
    return Post(
        id=post_id,
        created_at=T0 - timedelta(hours=int(post_id) % 48),
        author=author,
        by_brand=by_brand,
        visibility=visibility,
        deleted_by=deleted_by,
        text=text,
        url=url if url is not None else f"https://social.example/p/{post_id}",
        thread="100",
    )


def changed(original: Post, **changes: object) -> Post:
    return msgspec.structs.replace(original, **changes)


def finding(uid: str, check_id: str = "RSP001") -> FindingRecord:
    return FindingRecord(
        uid=uid,
        check_id=check_id,
        severity="warning",
        message="no reply within the first-response time",
        evidence_id="101",
    )


def dump(path: Path) -> list[str]:
    """Every row of every table, through a second connection (what is committed)."""
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def table_rows(path: Path, table: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
    finally:
        connection.close()


def audit(
    history: HistoryStore,
    run_key: str,
    at: datetime,
    posts: list[Post],
    findings: list[FindingRecord],
    account: str = "acme",
) -> None:
    """One whole audit run over one account, read at ``at`` by the wall clock too."""
    history.begin_run(run_key, "cfg-1", "0.1.0", at)
    history.record_account(run_key, "x", account, "ok", at, posts, findings, observed_now=at)
    history.finish_run(run_key, at + timedelta(minutes=5), "ok")


def kept(post_id: str, text: str = "where is my parcel?") -> FetchedPost:
    record = f'{{"kind":"post","id":"{post_id}","text":"{text}"}}'
    seen = post(post_id, text=text)
    return FetchedPost(
        id=seen.id,
        created_at=seen.created_at,
        author=seen.author,
        by_brand=seen.by_brand,
        visibility=seen.visibility,
        deleted_by=seen.deleted_by,
        text=seen.text,
        url=seen.url,
        thread=seen.thread,
        record=record,
    )


# --- stores of either kind ------------------------------------------------------------------

STORE_KINDS = ["sqlite", "postgres"]

# How a test's child process opens the store it is given (Stores.argument, .environment).
OPEN_FROM_ARGUMENT = """
import os, sys
from pathlib import Path
from auditor.store.history import HistoryStore, StoreLocation
def open_store(where):
    if where.startswith("postgresql://"):
        return HistoryStore(StoreLocation(url=where, password=os.environ["TEST_STORE_PASSWORD"]))
    return HistoryStore(StoreLocation(path=Path(where)))
"""


@dataclass
class Stores:
    """History stores of one kind for one test, each by a name: an SQLite file in the test's
    folder, or a new database on the test PostgreSQL server. ``dump`` and ``rows`` read what
    is committed, through a connection of their own."""

    kind: str
    folder: Path
    server: Any = None  # tests.services.PostgresServer for "postgres"
    _databases: dict[str, str] = field(default_factory=dict)

    def location(self, name: str = "history") -> StoreLocation:
        if self.kind == "sqlite":
            return StoreLocation(path=self.folder / f"{name}.sqlite3")
        if name not in self._databases:
            database = f"t_{secrets.token_hex(6)}"
            self.server.admin(f"CREATE DATABASE {database}")
            self._databases[name] = database
        return StoreLocation(
            url=self.server.url(self._databases[name]), password=self.server.password
        )

    def argument(self, name: str = "history") -> str:
        """The store for another process (:data:`OPEN_FROM_ARGUMENT`): its path or URL."""
        location = self.location(name)
        return str(location.path) if location.path is not None else str(location.url)

    def environment(self) -> dict[str, str]:
        """What another process needs besides :meth:`argument`: the password, if any."""
        password = self.server.password if self.kind == "postgres" else ""
        return {**os.environ, "TEST_STORE_PASSWORD": password}

    def open(self, name: str = "history", retention_days: int = 90) -> HistoryStore:
        return HistoryStore(self.location(name), retention_days)

    def query(self, sql: str, name: str = "history") -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (no parameters), read through a second connection."""
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.folder / f"{name}.sqlite3")
            try:
                return connection.execute(sql).fetchall()
            finally:
                connection.close()
        import psycopg

        url = self.server.url(self._databases[name])
        with psycopg.connect(url, password=self.server.password) as database:
            return [tuple(row) for row in database.execute(sql.encode()).fetchall()]

    def rows(self, table: str, name: str = "history") -> list[tuple[Any, ...]]:
        return self.query(f"SELECT * FROM {table} ORDER BY 1, 2, 3", name)

    def dump(self, name: str = "history") -> list[str]:
        """Every row of every table, in a stable order: equal dumps, equal stores."""
        if self.kind == "sqlite":
            return dump(self.folder / f"{name}.sqlite3")
        tables = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' ORDER BY table_name",
            name,
        )
        lines: list[str] = []
        for (table,) in tables:
            lines += [
                f"{table}: {row!r}"
                for row in sorted(self.query(f"SELECT * FROM {table}", name), key=repr)
            ]
        return lines


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    """History stores of each kind in turn: the suite runs once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return Stores("sqlite", tmp_path)
    return Stores("postgres", tmp_path, request.getfixturevalue("postgres_server"))


@pytest.fixture
def history(stores: Stores) -> Iterator[HistoryStore]:
    """An open history store of each kind (``stores.location()``), closed after the test."""
    with stores.open() as opened:
        yield opened
