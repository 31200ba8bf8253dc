"""What fetches keep for the next fetch: cursors, and the posts and conversations they saw.

An incremental fetch asks the platform only for what is new since its cursor; the records kept
here let it still hand the audit the whole lookback window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from auditor.store.connection import StoreConnection
from auditor.store.encoding import StoreError, _account_id, _to_us
from auditor.store.posts import (
    _ACCOUNT_ID,
    KeptPost,
    _in_key_order,
    _kept_values,
    _upsert_posts,
)


class FetchedPost(NamedTuple):
    """A post as one fetch saw it (a :class:`KeptPost`)."""

    id: str
    created_at: datetime
    author: str
    by_brand: bool
    visibility: str
    deleted_by: str | None
    text: str
    url: str | None
    thread: str | None
    record: str


class FetchedConversation(NamedTuple):
    """A private conversation as one fetch saw it: its canonical bundle record as JSON."""

    conversation_id: str
    last_message_at: datetime
    record: str


# Cursors are JSON; datetimes (newest timestamps) are tagged so that they come back as datetimes.
_DATETIME_TAG = "$datetime"


def _encode_cursor_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise StoreError(f"cursor datetime must be timezone-aware, got {value!r}")
        return {_DATETIME_TAG: value.isoformat()}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _decode_cursor_object(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATETIME_TAG in obj:
        return datetime.fromisoformat(obj[_DATETIME_TAG])
    return obj


def _dump_cursor(cursor: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(cursor), default=_encode_cursor_value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cursor cannot be stored: {exc}") from exc


def _load_record(text: str) -> dict[str, Any]:
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise StoreError("a kept record is not a JSON object")
    return loaded


def _load_cursor(text: str) -> dict[str, Any]:
    loaded = json.loads(text, object_hook=_decode_cursor_object)
    return loaded if isinstance(loaded, dict) else {}


_UPSERT_CURSOR = (
    "INSERT INTO cursors (platform, account, cursor, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (platform, account) DO UPDATE SET cursor = excluded.cursor,"
    " updated_at = excluded.updated_at WHERE excluded.updated_at >= cursors.updated_at"
)

# A conversation's record follows its newest observation, like a post's descriptive fields.
_UPSERT_CONVERSATION = """
INSERT INTO conversations (platform, account, conversation_id, last_message_at, record,
                           first_seen, last_seen, last_observed_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
ON CONFLICT (platform, account, conversation_id) DO UPDATE SET
    last_message_at = CASE WHEN excluded.last_seen >= conversations.last_seen
                           THEN excluded.last_message_at ELSE conversations.last_message_at END,
    record     = CASE WHEN excluded.last_seen >= conversations.last_seen
                      THEN excluded.record ELSE conversations.record END,
    first_seen = CASE WHEN excluded.first_seen < conversations.first_seen
                      THEN excluded.first_seen ELSE conversations.first_seen END,
    last_seen  = CASE WHEN excluded.last_seen > conversations.last_seen
                      THEN excluded.last_seen ELSE conversations.last_seen END,
    last_observed_at = CASE WHEN excluded.last_observed_at > conversations.last_observed_at
                            THEN excluded.last_observed_at ELSE conversations.last_observed_at END
"""


class FetchCache(StoreConnection):
    """The store's fetch cache: kept records and cursors, per account."""

    # -- fetched records --

    def record_fetch(
        self,
        platform: str,
        account: str,
        observed_at: datetime,
        posts: Iterable[KeptPost],
        conversations: Iterable[FetchedConversation] = (),
        cursor: Mapping[str, Any] | None = None,
        observed_now: datetime | None = None,
    ) -> None:
        """Keep what one fetch of an account saw, and its new cursor, in one transaction.

        Posts merge as in :meth:`record_account` (with their ``record``); no run is recorded,
        because a fetch is not an audit. The cursor, when given, follows :meth:`set_cursor`'s
        rule (never moves back). A crash part-way leaves the store as it was, cursor included,
        so the next run asks again for what this one may have lost. ``observed_now`` is the
        wall clock's time of the fetch (default: now), the rows' ``last_observed_at``.
        """
        observed = _to_us(observed_at)
        observed_wall = _to_us(observed_now if observed_now is not None else datetime.now(UTC))
        encoded = None if cursor is None else _dump_cursor(cursor)
        post_values = _kept_values(_in_key_order(posts))
        with self._transaction() as db:
            account_id = _account_id(db, platform, account)
            _upsert_posts(db, account_id, observed, observed_wall, post_values, with_record=True)
            db.executemany(
                _UPSERT_CONVERSATION,
                (
                    (
                        platform,
                        account,
                        c.conversation_id,
                        _to_us(c.last_message_at),
                        c.record,
                        observed,
                        observed_wall,
                    )
                    for c in conversations
                ),
            )
            if encoded is not None:
                db.execute(_UPSERT_CURSOR, (platform, account, encoded, observed))

    def fetched_posts(self, platform: str, account: str, since: datetime) -> list[dict[str, Any]]:
        """The kept records of this account's posts created at or after ``since``, oldest first."""
        rows = self._read(
            f"SELECT record FROM posts WHERE account_id = {_ACCOUNT_ID} AND created_at >= ?"
            " AND record IS NOT NULL ORDER BY created_at, post_id",
            (platform, account, _to_us(since)),
        )
        return [_load_record(text) for (text,) in rows]

    def fetched_posts_by_id(
        self, platform: str, account: str, post_ids: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The kept records of these posts (those the store has), by post id."""
        wanted = sorted(set(post_ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._read(
                f"SELECT record FROM posts WHERE account_id = {_ACCOUNT_ID}"
                f" AND post_id IN ({marks}) AND record IS NOT NULL ORDER BY post_id",
                (platform, account, *chunk),
            )
            found += [_load_record(text) for (text,) in rows]
        return found

    def fetched_conversations(
        self, platform: str, account: str, since: datetime
    ) -> list[dict[str, Any]]:
        """The kept conversation records with a message at or after ``since``."""
        rows = self._read(
            "SELECT record FROM conversations WHERE platform = ? AND account = ?"
            " AND last_message_at >= ? ORDER BY conversation_id",
            (platform, account, _to_us(since)),
        )
        return [_load_record(text) for (text,) in rows]

    # -- cursors --

    def get_cursor(self, platform: str, account: str) -> dict[str, Any]:
        """The cursor last saved for the account, or {} if none."""
        rows = self._read(
            "SELECT cursor FROM cursors WHERE platform = ? AND account = ?", (platform, account)
        )
        return _load_cursor(rows[0][0]) if rows else {}

    def set_cursor(
        self, platform: str, account: str, cursor: Mapping[str, Any], updated_at: datetime
    ) -> None:
        """Save the account's cursor (JSON values; aware datetimes round-trip as datetimes).

        Like last_seen, a cursor never moves back: an update older than the stored one is
        ignored, so replaying old bundles cannot rewind incremental fetching.
        """
        encoded = _dump_cursor(cursor)
        updated = _to_us(updated_at)
        with self._transaction() as db:
            db.execute(_UPSERT_CURSOR, (platform, account, encoded, updated))
