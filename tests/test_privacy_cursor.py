"""Privacy (#11 item 8): the fetch's cursor names no customer in the history store.

Bluesky's cursor lists the threads to re-read by their root's URI, and a customer's root holds
the customer's DID (``at://did:plc:.../app.bsky.feed.post/...``). It cannot be pseudonymised (the
next fetch must ask for that URI), so with customers pseudonymised the store keeps the cursor
sealed with the pseudonym key. A local server in the AppView's documented shapes answers two
incremental fetches: the first learns a customer's thread from the brand's feed; the second,
whose feed has nothing new, re-reads that thread from the sealed cursor alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import auditor.fetch.run as fetch_run
from auditor.fetch.http import ManualClock

from fetch_fakes import json_response, serve
from tests_support import run_cli, write_api_config

FIRST = datetime(2024, 5, 15, 12, tzinfo=UTC)
SECOND = FIRST + timedelta(hours=6)
KEY = "a-test-pseudonym-key-c0ffee"
BRAND_DID = "did:plc:acmebrand7xq2lk4m"
BRAND = {"did": BRAND_DID, "handle": "acme.bsky.social", "displayName": "Acme Support"}
CUSTOMER_DID = "did:plc:danaqf3rj5ghzw6u"
CUSTOMER = {"did": CUSTOMER_DID, "handle": "dana-quill.bsky.social", "displayName": "Dana Quill"}
RAW_CUSTOMER_VALUES = (CUSTOMER_DID, "danaqf3rj5ghzw6u", "dana-quill", "Dana Quill")
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def tid(moment: datetime) -> str:
    """A record key that says when it was written (microseconds, clock id 0), base32-sortable."""
    value = int(moment.timestamp() * 1_000_000) << 10
    return "".join(TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def zulu(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


ROOT_AT = FIRST - timedelta(hours=3)
REPLY_AT = FIRST - timedelta(hours=2)
ROOT = f"at://{CUSTOMER_DID}/app.bsky.feed.post/{tid(ROOT_AT)}"
REPLY = f"at://{BRAND_DID}/app.bsky.feed.post/{tid(REPLY_AT)}"


def post_view(uri: str, author: dict[str, Any], at: datetime, text: str) -> dict[str, Any]:
    record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": zulu(at)}
    if uri == REPLY:
        ref = {"uri": ROOT, "cid": "bafyreiroot"}
        record["reply"] = {"root": ref, "parent": ref}
    return {"uri": uri, "cid": "bafyrei" + uri[-6:], "author": author, "record": record,
            "indexedAt": zulu(at)}  # fmt: skip


ROOT_VIEW = post_view(ROOT, CUSTOMER, ROOT_AT, "@acme.bsky.social my order 5521 never came")
REPLY_VIEW = post_view(REPLY, BRAND, REPLY_AT, "So sorry! Could you DM us the order number?")


class Fake:
    """The AppView: on the first fetch the brand's feed shows its reply; later, nothing new."""

    def __init__(self) -> None:
        self.fetches = 0
        self.threads_read: list[tuple[int, str]] = []

    def __call__(self, request: Request) -> Response:
        path, args = request.path, request.args
        if path.endswith("app.bsky.actor.getProfile"):
            self.fetches += 1
            return json_response({**BRAND, "description": "Here 9-5 Mon-Fri"})
        if path.endswith("app.bsky.feed.getAuthorFeed"):
            feed = [{"post": REPLY_VIEW, "reply": {"root": ROOT_VIEW, "parent": ROOT_VIEW}}]
            return json_response({"feed": feed if self.fetches == 1 else []})
        if path.endswith("app.bsky.feed.getPostThread"):
            self.threads_read.append((self.fetches, str(args.get("uri"))))
            thread = {
                "$type": "app.bsky.feed.defs#threadViewPost",
                "post": ROOT_VIEW,
                "replies": [{"$type": "app.bsky.feed.defs#threadViewPost", "post": REPLY_VIEW}],
            }
            return json_response({"thread": thread})
        return json_response({"error": "MethodNotImplemented", "message": path}, status=501)


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def server(fake: Fake) -> Iterator[HTTPServer]:
    yield from serve(fake)


def fetch(folder: Path, url: str, at: datetime, monkeypatch: pytest.MonkeyPatch) -> str:
    config = write_api_config(
        folder,
        [
            f'{{platform: bluesky, handle: acme.bsky.social, source: {{type: api, base_url: "{url}"}}}}'
        ],
        top="privacy: {pseudonymize_customers: true, key_env: AUDITOR_TEST_PSEUDONYM_KEY}",
    )
    monkeypatch.setattr(fetch_run, "default_clock", lambda: ManualClock(at.timestamp()))
    code, stdout, stderr = run_cli(["fetch", str(config)])
    assert code == 0, stdout + stderr
    return stdout + stderr


def store_text(folder: Path) -> bytes:
    path = folder / "out" / "history.sqlite"
    with sqlite3.connect(path) as db:
        tables = [n for (n,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        rows = [repr(db.execute(f"SELECT * FROM {t}").fetchall()) for t in tables]
    return path.read_bytes() + "\n".join(rows).encode()


def test_the_sealed_cursor_names_no_customer_and_still_leads_to_the_thread(
    tmp_path: Path, fake: Fake, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PSEUDONYM_KEY", KEY)
    fetch(tmp_path, server.url_for("/"), FIRST, monkeypatch)
    fetch(tmp_path, server.url_for("/"), SECOND, monkeypatch)

    # The second fetch's feed had nothing: only the cursor could name the customer's thread.
    assert (2, ROOT) in fake.threads_read
    written = store_text(tmp_path) + b"".join(
        p.read_bytes() for p in (tmp_path / "out" / "bundles").rglob("*.jsonl")
    )
    assert BRAND_DID.encode() in written  # what is searched is really there
    leaks = [raw for raw in RAW_CUSTOMER_VALUES if raw.lower().encode() in written.lower()]
    assert leaks == []


def test_a_cursor_sealed_with_another_key_refetches_the_window(
    tmp_path: Path,
    fake: Fake,
    server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PSEUDONYM_KEY", KEY)
    fetch(tmp_path, server.url_for("/"), FIRST, monkeypatch)
    monkeypatch.setenv("AUDITOR_TEST_PSEUDONYM_KEY", KEY + "-rotated")
    fetch(tmp_path, server.url_for("/"), SECOND, monkeypatch)
    # Nothing to follow: the thread is not re-read, and the fetch says why it starts afresh.
    assert [n for n, _ in fake.threads_read] == [1]
    assert "sealed with another pseudonym key" in caplog.text
