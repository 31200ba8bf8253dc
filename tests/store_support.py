"""What the history store's tests share: posts, findings, a whole audit run, table dumps."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from auditor.model import DeletedBy, Post, Visibility
from auditor.store.history import FetchedPost, FindingRecord, HistoryStore

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
