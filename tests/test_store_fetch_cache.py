"""Tests for what fetches keep in the history store (auditor.store.fetch_cache)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.store.history import (
    FetchedConversation,
    HistoryStore,
    StoreError,
)

from store_support import DAY, T0, Stores, audit, history, kept, post, stores

__all__ = ["history", "stores"]  # the fixtures: every test here runs on SQLite and PostgreSQL

# --- cursors ----------------------------------------------------------------------------------


def test_cursors_round_trip(history: HistoryStore) -> None:
    assert history.get_cursor("x", "acme") == {}
    cursor = {
        "since_id": "1800000000000000123",
        "newest": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        "pages": 3,
        "seen": ["a", "b"],
    }
    history.set_cursor("x", "acme", cursor, T0)
    assert history.get_cursor("x", "acme") == cursor
    assert history.get_cursor("mastodon", "acme") == {}


def test_a_cursor_never_moves_back_in_time(history: HistoryStore) -> None:
    history.set_cursor("x", "acme", {"since_id": "20"}, T0 + DAY)
    history.set_cursor("x", "acme", {"since_id": "10"}, T0)
    assert history.get_cursor("x", "acme") == {"since_id": "20"}
    history.set_cursor("x", "acme", {"since_id": "30"}, T0 + 2 * DAY)
    assert history.get_cursor("x", "acme") == {"since_id": "30"}


def test_a_cursor_that_is_not_json_is_a_store_error(history: HistoryStore) -> None:
    with pytest.raises(StoreError):
        history.set_cursor("x", "acme", {"bad": object()}, T0)
    with pytest.raises(StoreError):
        history.set_cursor("x", "acme", {"naive": datetime(2026, 3, 1)}, T0)
    assert history.get_cursor("x", "acme") == {}


# --- fetched records (schema version 2) -------------------------------------------------------


def test_record_fetch_keeps_records_and_the_cursor_in_one_go(history: HistoryStore) -> None:
    history.record_fetch("x", "acme", T0, [kept("1"), kept("2")], cursor={"since": "2"})
    assert [r["id"] for r in history.fetched_posts("x", "acme", T0 - 2 * DAY)] == ["2", "1"]
    assert [r["id"] for r in history.fetched_posts_by_id("x", "acme", ["1", "9"])] == ["1"]
    assert history.get_cursor("x", "acme") == {"since": "2"}
    # A fetch is not an audit: no run was recorded.
    assert history.runs() == []
    # Without a cursor (an incomplete fetch) the saved one stays.
    history.record_fetch("x", "acme", T0 + DAY, [kept("3")])
    assert history.get_cursor("x", "acme") == {"since": "2"}


def test_an_audit_without_records_keeps_the_record_a_fetch_stored(history: HistoryStore) -> None:
    history.record_fetch("x", "acme", T0, [kept("1")])
    audit(history, "run-1", T0 + DAY, [post("1", visibility="deleted", text="")], [])
    (record,) = history.fetched_posts("x", "acme", T0 - 2 * DAY)
    assert record["text"] == "where is my parcel?"
    assert history.previous_posts("x", "acme", T0 + 2 * DAY)["1"].visibility == "deleted"
    # A newer fetch replaces the record; an older one does not.
    history.record_fetch("x", "acme", T0 + 2 * DAY, [kept("1", "edited")])
    history.record_fetch("x", "acme", T0 - DAY, [kept("1", "stale")])
    (record,) = history.fetched_posts("x", "acme", T0 - 2 * DAY)
    assert record["text"] == "edited"


def test_fetched_conversations_follow_their_newest_observation_and_are_pruned(
    stores: Stores,
) -> None:
    with stores.open(retention_days=30) as history:
        history.record_fetch(
            "x",
            "acme",
            T0,
            [],
            [FetchedConversation("c1", T0, '{"id":"c1","messages":[1]}')],
            observed_now=T0,
        )
        history.record_fetch(
            "x",
            "acme",
            T0 + DAY,
            [],
            [FetchedConversation("c1", T0, '{"id":"c1","messages":[1,2]}')],
            observed_now=T0 + DAY,
        )
        assert history.fetched_conversations("x", "acme", T0 - DAY) == [
            {"id": "c1", "messages": [1, 2]}
        ]
        assert history.fetched_conversations("x", "acme", T0 + DAY) == []
        history.prune(T0 + 40 * DAY)
        assert stores.rows("conversations") == []
