"""Bluesky protocol on recorded XRPC payloads: no HTTP at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.sources.platforms.base import FetchSpec, Page, RateInfo, Record, Request
from auditor.sources.platforms.bluesky import BlueskyProtocol
from auditor.sources.platforms.bluesky_views import tid_time

from .conftest import drive as drive_with
from .conftest import posts_by_id, refusal, window_of

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "payloads" / "bluesky"
WINDOW_START = datetime(2024, 6, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 6, 15, tzinfo=UTC)
BRAND = "acmecoffee.bsky.social"
BRAND_DID = "did:plc:acmecoffee7x2kq4lmn3v5b6c"

Answer = Any


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


# URIs taken from the recorded payloads, so the tests and the data cannot drift apart.
THREAD_A = payload("thread_A")
THREAD_P = payload("thread_P")
ROOT_A = THREAD_A["thread"]["post"]["uri"]
ROOT_P = THREAD_P["thread"]["post"]["uri"]
BRAND_REPLY_A, LEE_REPLY, SPAM_REPLY = (n["post"]["uri"] for n in THREAD_A["thread"]["replies"])
HIDDEN_NOT_SHOWN = THREAD_A["threadgate"]["record"]["hiddenReplies"][1]
SAM_REPLY = THREAD_P["thread"]["replies"][0]["post"]["uri"]
GONE_REPLY = THREAD_P["thread"]["replies"][1]["uri"]
DELETED_ROOT = payload("thread_deleted_root")["thread"]["uri"]
PINNED, _, REPOST, _ = (item["post"]["uri"] for item in payload("author_feed_page1")["feed"])
MENTION = payload("notifications")["notifications"][0]["uri"]


def spec(cursor: dict[str, Any] | None = None, **options: Any) -> FetchSpec:
    return FetchSpec(
        platform="bluesky",
        account=BRAND,
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        cursor=cursor or {},
        options=options,
        fetched_at=WINDOW_END,
    )


def recorded(request: Request) -> Answer:
    """Recorded answers; getPostThread on the deleted root answers the XRPC error NotFound."""
    params = dict(request.params)
    if request.purpose == "profile":
        return payload("profile")
    if request.purpose == "author_feed":
        cursor = params.get("cursor")
        assert cursor != "2024-05-25T09:00:00.000Z", "paging went past the window start"
        return payload("author_feed_page2" if cursor else "author_feed_page1")
    if request.purpose == "notifications":
        return payload("notifications")
    if request.purpose == "thread":
        uri = params["uri"]
        if uri == ROOT_A:
            return THREAD_A
        if uri == ROOT_P:
            return THREAD_P
        if uri == DELETED_ROOT:
            return refusal(400, payload("error_thread_not_found"))
        if uri == MENTION:
            return payload("thread_mention")
    raise AssertionError(f"unexpected request {request}")


def drive(
    protocol: BlueskyProtocol, route: Callable[[Request], Answer] = recorded
) -> tuple[list[Record], dict[str, Any], list[Request]]:
    return drive_with(protocol, route)


def test_profile_description_is_the_bio() -> None:
    records, _, made = drive(BlueskyProtocol(spec()))
    (profile,) = [r for r in records if r["kind"] == "profile"]
    assert profile["display_name"] == "Acme Coffee"
    assert profile["bio"].startswith("Small-batch coffee")
    assert made[0].path == "xrpc/app.bsky.actor.getProfile"
    assert dict(made[0].params) == {"actor": BRAND}


def test_author_feed_pages_to_the_window_start_past_pins_and_reposts() -> None:
    records, _, made = drive(BlueskyProtocol(spec()))
    feed_requests = [r for r in made if r.purpose == "author_feed"]
    assert len(feed_requests) == 2  # the pinned January post did not end the paging
    assert dict(feed_requests[0].params)["filter"] == "posts_with_replies"
    assert dict(feed_requests[1].params)["cursor"] == "2024-06-10T14:00:00.000Z"
    posts = posts_by_id(records)
    assert PINNED not in posts and REPOST not in posts
    assert all(WINDOW_START.isoformat() <= p["created_at"] for p in posts.values())


def test_threads_give_customer_replies_and_brand_replies() -> None:
    records, _, made = drive(BlueskyProtocol(spec()))
    posts = posts_by_id(records)
    thread_uris = {dict(r.params)["uri"] for r in made if r.purpose == "thread"}
    assert thread_uris == {ROOT_A, ROOT_P, DELETED_ROOT}
    complaint = posts[ROOT_A]
    assert complaint["by_brand"] is False and complaint["author"] == "dana.bsky.social"
    assert complaint["thread"] == ROOT_A and complaint["in_reply_to"] is None
    answer = posts[BRAND_REPLY_A]
    assert answer["by_brand"] is True and answer["author_id"] == BRAND_DID
    assert answer["in_reply_to"] == ROOT_A and answer["thread"] == ROOT_A
    rkey = BRAND_REPLY_A.rsplit("/", 1)[1]
    assert answer["url"] == f"https://bsky.app/profile/{BRAND}/post/{rkey}"
    assert posts[LEE_REPLY]["visibility"] == "public"
    assert posts[SAM_REPLY]["in_reply_to"] == ROOT_P


def test_threadgate_hidden_replies_are_hidden() -> None:
    records, _, _ = drive(BlueskyProtocol(spec()))
    posts = posts_by_id(records)
    assert posts[SPAM_REPLY]["visibility"] == "hidden"
    assert posts[SPAM_REPLY]["text"]  # shown in the view: its text is known
    unseen = posts[HIDDEN_NOT_SHOWN]
    assert unseen["visibility"] == "hidden" and unseen["text"] == ""
    assert unseen["author_id"] == HIDDEN_NOT_SHOWN.split("/")[2]
    assert unseen["created_at"] == "2024-06-12T11:45:00+00:00"  # from the TID record key
    assert unseen["thread"] == ROOT_A


def test_not_found_posts_are_deleted_by_unknown() -> None:
    records, _, _ = drive(BlueskyProtocol(spec()))
    posts = posts_by_id(records)
    gone = posts[GONE_REPLY]  # a notFoundPost among a thread's replies
    assert gone["visibility"] == "deleted" and gone["deleted_by"] == "unknown"
    assert gone["in_reply_to"] == ROOT_P and gone["thread"] == ROOT_P
    root = posts[DELETED_ROOT]  # notFoundPost in a feed item's reply refs, NotFound thread
    assert root["visibility"] == "deleted" and root["deleted_by"] == "unknown"
    assert root["by_brand"] is False
    assert root["created_at"] == "2024-06-05T09:00:00+00:00"
    assert window_of(records)["complete"] is True


def test_not_found_thread_payload_is_deleted_too() -> None:
    def not_found_body(request: Request) -> Answer:
        if dict(request.params).get("uri") == DELETED_ROOT:
            return payload("thread_deleted_root")
        return recorded(request)

    records, _, _ = drive(BlueskyProtocol(spec()), not_found_body)
    assert posts_by_id(records)[DELETED_ROOT]["visibility"] == "deleted"


def deleted_ids(records: list[Record]) -> set[str]:
    return {i for i, p in posts_by_id(records).items() if p["visibility"] == "deleted"}


@pytest.mark.parametrize(
    ("refused", "why"),
    [
        (refusal(404, None), "HTTP 404 not found (no error from the platform in the body)"),
        (refusal(400, None), "HTTP 400 bad request (no error from the platform in the body)"),
        (
            refusal(400, payload("error_invalid_request")),
            "HTTP 400 bad request: InvalidRequest: Error: uri must be a valid at-uri",
        ),
    ],
    ids=["plain-text-404", "plain-text-400", "invalid-request"],
)
def test_a_refused_thread_is_unread_never_deleted(refused: Page, why: str) -> None:
    def refuse_thread_a(request: Request) -> Answer:
        if request.purpose == "thread" and dict(request.params)["uri"] == ROOT_A:
            return refused
        return recorded(request)

    records, _, _ = drive(BlueskyProtocol(spec()), refuse_thread_a)
    # Only what the platform itself said is gone is deleted: the notFoundPost views elsewhere.
    assert deleted_ids(records) == {GONE_REPLY, DELETED_ROOT}
    assert posts_by_id(records)[ROOT_A]["visibility"] == "public"
    assert LEE_REPLY not in posts_by_id(records)  # the thread was never read
    window = window_of(records)
    assert window["complete"] is False
    assert window["reason"] == f"thread: {why}"


def test_the_xrpc_error_name_decides_whatever_the_status() -> None:
    def not_found_as_404(request: Request) -> Answer:
        if request.purpose == "thread" and dict(request.params)["uri"] == DELETED_ROOT:
            return refusal(404, payload("error_thread_not_found"))
        return recorded(request)

    records, _, _ = drive(BlueskyProtocol(spec()), not_found_as_404)
    assert DELETED_ROOT in deleted_ids(records)
    assert window_of(records)["complete"] is True


def test_window_observes_deleted_and_hidden() -> None:
    records, _, _ = drive(BlueskyProtocol(spec()))
    window = window_of(records)
    assert window["observes"] == ["deleted", "hidden"]
    assert window["complete"] is True and window["reason"] is None


def test_failed_page_makes_the_window_incomplete() -> None:
    def second_page_fails(request: Request) -> Answer:
        if request.purpose == "author_feed" and dict(request.params).get("cursor"):
            return 502
        return recorded(request)

    records, cursor, _ = drive(BlueskyProtocol(spec()), second_page_fails)
    window = window_of(records)
    assert window["complete"] is False and "author_feed" in window["reason"]
    assert DELETED_ROOT not in posts_by_id(records)
    assert "author_feed_newest" not in cursor  # the next run must not skip what was missed


def test_notifications_add_mentions_when_enabled() -> None:
    records, _, made = drive(BlueskyProtocol(spec(notifications=True)))
    request = next(r for r in made if r.purpose == "notifications")
    assert request.path == "xrpc/app.bsky.notification.listNotifications"
    assert [v for k, v in request.params if k == "reasons"] == ["mention", "reply"]
    posts = posts_by_id(records)
    mention = posts[MENTION]
    assert mention["by_brand"] is False and mention["thread"] == MENTION
    assert not any("app.bsky.feed.like" in uri for uri in posts)
    _, _, default_made = drive(BlueskyProtocol(spec()))
    assert not [r for r in default_made if r.purpose == "notifications"]


def test_cursor_round_trip_rereads_threads_and_stops_at_the_last_run() -> None:
    _, cursor, _ = drive(BlueskyProtocol(spec()))
    assert cursor["did"] == BRAND_DID
    assert set(cursor["threads"]) == {ROOT_A, ROOT_P, DELETED_ROOT}
    assert cursor["author_feed_newest"] == "2024-06-12T10:20:00+00:00"

    protocol = BlueskyProtocol(spec(cursor=json.loads(json.dumps(cursor))))
    first = protocol.start()
    assert {dict(r.params)["uri"] for r in first if r.purpose == "thread"} == set(cursor["threads"])
    records, _, made = drive(BlueskyProtocol(spec(cursor=cursor)))
    assert len([r for r in made if r.purpose == "author_feed"]) == 1
    assert posts_by_id(records)[SPAM_REPLY]["visibility"] == "hidden"


def test_rate_limit_headers_are_epoch_seconds() -> None:
    now = 1_700_000_000.0
    headers = {"ratelimit-remaining": "3", "ratelimit-reset": "1700000060"}
    assert BlueskyProtocol.read_rate_limit(headers, now) == RateInfo(3, now + 60)
    unreadable = {"ratelimit-remaining": "lots", "ratelimit-reset": "soon"}
    assert BlueskyProtocol.read_rate_limit(unreadable, now) == RateInfo()


def test_tid_time_reads_record_keys() -> None:
    rkey = ROOT_A.rsplit("/", 1)[1]
    assert tid_time(rkey) == datetime(2024, 6, 12, 10, tzinfo=UTC)
    assert tid_time("self") is None
    assert tid_time("3jzfcijpj2z2!") is None


MENTION_FACET = "app.bsky.richtext.facet#mention"


def _facet(start: int, end: int, did: str) -> dict[str, Any]:
    return {
        "$type": "app.bsky.richtext.facet",
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": MENTION_FACET, "did": did}],
    }


def test_mention_facets_are_the_posts_mentions() -> None:
    thread = json.loads(json.dumps(THREAD_A))
    record = thread["thread"]["post"]["record"]
    assert record["text"].startswith("@acmecoffee.bsky.social ")
    # Facet indexes count UTF-8 bytes: "é" is two of them.
    record["text"] = "@acmecoffee.bsky.social my bag arrived torn, café @lee.bsky.social saw it"
    start = record["text"].encode().index(b"@lee")
    record["facets"] = [
        _facet(0, 23, BRAND_DID),
        _facet(start, start + 16, "did:plc:lee"),
        {"index": {"byteStart": 0, "byteEnd": 3}, "features": [{"$type": "x#link", "uri": "u"}]},
    ]

    def route(request: Request) -> Answer:
        if request.purpose == "thread" and dict(request.params)["uri"] == ROOT_A:
            return thread
        return recorded(request)

    records, _, _ = drive(BlueskyProtocol(spec()), route)
    posts = posts_by_id(records)
    assert posts[ROOT_A]["mentions"] == [BRAND, "did:plc:lee", "lee.bsky.social"]
    assert posts[LEE_REPLY]["mentions"] is None, "no facets: no mention data, the text is read"


def test_a_mention_notification_is_the_platforms_word_that_the_brand_is_mentioned() -> None:
    records, _, _ = drive(BlueskyProtocol(spec(notifications=True)))
    # The recorded notification has "facets": [], but its reason is "mention".
    assert BRAND in posts_by_id(records)[MENTION]["mentions"]
