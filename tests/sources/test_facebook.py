"""Facebook Pages protocol on recorded Graph API payloads: no HTTP at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.sources.platforms.base import FetchSpec, Page, RateInfo, Record, Request
from auditor.sources.platforms.facebook import (
    FacebookProtocol,
    next_page_params,
)

from .conftest import drive as drive_with
from .conftest import posts_by_id, refusal, window_of

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "payloads" / "facebook"
PAGE_ID = "104000000000001"
POST_1, POST_2, POST_3 = f"{PAGE_ID}_7001", f"{PAGE_ID}_7002", f"{PAGE_ID}_7003"
WINDOW_START = datetime(2024, 6, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 6, 15, tzinfo=UTC)

Answer = Any  # a JSON body, or an int: the HTTP status of a failure


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def spec(cursor: dict[str, Any] | None = None, **options: Any) -> FetchSpec:
    return FetchSpec(
        platform="facebook",
        account="acmecoffee",
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        cursor=cursor or {},
        options={"page_id": PAGE_ID, "timezone": "America/Los_Angeles", **options},
        fetched_at=WINDOW_END,
    )


def recorded(request: Request) -> Answer:
    """The recorded answer for each request the protocol can make."""
    params = dict(request.params)
    if request.purpose == "profile":
        return payload("profile")
    if request.purpose == "feed":
        token = params.get("__paging_token")
        assert token != "enc_AdB2", "paging went past the window start"
        return payload("feed_page2" if token == "enc_AdB1" else "feed_page1")
    if request.purpose == "comments":
        if request.path == f"{POST_1}/comments":
            return payload("comments_p1_page2" if "after" in params else "comments_p1_page1")
        if request.path == f"{POST_2}/comments":
            return payload("comments_p2")
        return payload("comments_empty")
    if request.purpose == "conversations":
        assert "after" not in params, "paging went past the window start"
        return payload("conversations")
    if request.purpose == "messages":
        assert request.path == "t_9001/messages" and params.get("after") == "bTM"
        return payload("messages_t9001_page2")
    raise AssertionError(f"unexpected request {request}")


def by_kind(records: list[Record], kind: str) -> list[Record]:
    return [r for r in records if r["kind"] == kind]


def drive(
    protocol: FacebookProtocol, route: Callable[[Request], Answer] = recorded
) -> tuple[list[Record], dict[str, Any], list[Request]]:
    return drive_with(protocol, route)


# --- profile and hours ----------------------------------------------------------------------


def test_profile_hours_have_two_intervals_a_day_and_a_closed_day() -> None:
    records, _, _ = drive(FacebookProtocol(spec()))
    (profile,) = by_kind(records, "profile")
    assert profile["display_name"] == "Acme Coffee"
    assert "Portland" in profile["bio"] and "Message us" in profile["bio"]
    assert profile["website"] == "https://acme-coffee.example"
    hours = profile["hours"]
    assert hours["timezone"] == "America/Los_Angeles"
    assert hours["weekly"]["mon"] == [["08:00", "12:00"], ["13:00", "18:00"]]
    assert hours["weekly"]["sun"] == []
    assert hours["weekly"]["fri"] == [["09:00", "24:00"]]
    assert hours["weekly"]["sat"] == [["21:00", "02:00"]]


def test_timezone_falls_back_to_utc_without_option() -> None:
    protocol = FacebookProtocol(spec(timezone="Not/AZone"))
    records, _, _ = drive(protocol)
    (profile,) = by_kind(records, "profile")
    assert profile["hours"]["timezone"] == "UTC"


# --- feed, comments, paging -----------------------------------------------------------------


def test_feed_pages_until_the_window_start_and_no_further() -> None:
    records, _, made = drive(FacebookProtocol(spec()))
    posts = posts_by_id(records)
    assert {POST_1, POST_2, POST_3} <= set(posts)
    assert f"{PAGE_ID}_6999" not in posts  # older than the window
    feed_requests = [r for r in made if r.purpose == "feed"]
    assert len(feed_requests) == 2
    first, second = (dict(r.params) for r in feed_requests)
    assert first["since"] == str(int(WINDOW_START.timestamp()))
    assert first["until"] == str(int(WINDOW_END.timestamp()))
    assert second["until"] == "1717929000"
    assert "fields" in second
    assert all("access_token" not in dict(r.params) for r in made)
    assert all(not r.path.startswith(("http", "/")) for r in made)


def test_comments_hidden_threads_and_brand_replies() -> None:
    records, _, made = drive(FacebookProtocol(spec()))
    posts = posts_by_id(records)
    spam = posts["7001_8003"]
    assert spam["visibility"] == "hidden" and spam["by_brand"] is False
    reply = posts["7001_8004"]
    assert reply["by_brand"] is True
    assert reply["author"] == "acmecoffee"
    assert reply["in_reply_to"] == "7001_8001"
    assert reply["thread"] == POST_1
    question = posts["7001_8002"]
    assert question["in_reply_to"] == POST_1 and question["visibility"] == "public"
    assert question["author"] == "Lee Park" and question["author_id"] == "5550002"
    assert posts["7001_8001"]["created_at"] == "2024-06-13T15:30:00+00:00"  # from page 2
    assert posts[POST_1]["by_brand"] is True and posts[POST_1]["thread"] == POST_1
    comment_requests = [r for r in made if r.purpose == "comments"]
    assert all(dict(r.params)["filter"] == "stream" for r in comment_requests)


def test_messenger_conversation_has_messages_in_order_and_brand_side() -> None:
    records, _, made = drive(FacebookProtocol(spec()))
    conversations = by_kind(records, "conversation")
    assert [c["id"] for c in conversations] == ["t_9001"]  # t_9000 is older than the window
    (conversation,) = conversations
    assert conversation["customer"] == "5550001"
    assert [m["id"] for m in conversation["messages"]] == ["m_1", "m_2", "m_3"]
    assert [m["by_brand"] for m in conversation["messages"]] == [False, True, False]
    assert conversation["messages"][1]["text"].startswith("Refund issued")
    conversation_request = next(r for r in made if r.purpose == "conversations")
    assert dict(conversation_request.params)["platform"] == "messenger"


def test_conversations_can_be_switched_off() -> None:
    records, _, made = drive(FacebookProtocol(spec(conversations=False)))
    assert not by_kind(records, "conversation")
    assert not [r for r in made if r.purpose == "conversations"]


def test_complete_window_observes_hidden_and_conversations() -> None:
    records, _, _ = drive(FacebookProtocol(spec()))
    window = window_of(records)
    assert window["complete"] is True and window["reason"] is None
    assert window["observes"] == ["conversations", "hidden"]
    assert window["window_start"] == WINDOW_START.isoformat()


# --- failures -------------------------------------------------------------------------------


def test_failed_request_makes_the_window_incomplete_with_a_reason() -> None:
    def comments_fail(request: Request) -> Answer:
        if request.path == f"{POST_2}/comments":
            return 500
        return recorded(request)

    records, _, _ = drive(FacebookProtocol(spec()), comments_fail)
    window = window_of(records)
    assert window["complete"] is False
    assert "comments" in window["reason"] and "500" in window["reason"]
    assert "7002_8101" not in posts_by_id(records)


def test_failed_profile_still_reads_the_listings() -> None:
    def profile_fails(request: Request) -> Answer:
        return 403 if request.purpose == "profile" else recorded(request)

    records, _, made = drive(FacebookProtocol(spec()), profile_fails)
    assert not by_kind(records, "profile")
    assert POST_1 in posts_by_id(records)
    assert any(r.path == f"{PAGE_ID}/feed" for r in made)
    assert window_of(records)["complete"] is False


def test_page_budget_cut_short_is_incomplete() -> None:
    records, _, made = drive(FacebookProtocol(spec(max_pages=1)))
    assert len([r for r in made if r.purpose == "feed"]) == 1
    window = window_of(records)
    assert window["complete"] is False and "stopped after 1 pages" in window["reason"]


# --- incremental runs -----------------------------------------------------------------------


def test_cursor_round_trip_asks_only_for_newer_items() -> None:
    _, cursor, _ = drive(FacebookProtocol(spec()))
    assert cursor["newest_post"] == "2024-06-13T15:00:00+00:00"
    assert set(cursor["posts"]) == {POST_1, POST_2, POST_3}
    assert cursor["conversations_updated"] == "2024-06-12T09:15:00+00:00"
    saved = json.loads(json.dumps(cursor))  # the cursor survives storage as JSON

    records, next_cursor, made = drive(FacebookProtocol(spec(cursor=saved)))
    feed = next(r for r in made if r.purpose == "feed")
    assert dict(feed.params)["since"] == str(int(datetime(2024, 6, 13, 15, tzinfo=UTC).timestamp()))
    # Posts already reported are not reported again, but their comments are read again.
    assert not {POST_1, POST_2, POST_3} & {r["id"] for r in by_kind(records, "post")}
    assert {r.path for r in made if r.purpose == "comments"} >= {
        f"{POST_1}/comments",
        f"{POST_2}/comments",
        f"{POST_3}/comments",
    }
    assert "7001_8003" in posts_by_id(records)
    # The conversation has no activity since the last run.
    assert not by_kind(records, "conversation")
    assert next_cursor["newest_post"] == cursor["newest_post"]


def test_failed_feed_keeps_the_previous_cursor_mark() -> None:
    previous = {"newest_post": "2024-06-02T00:00:00+00:00", "posts": {}}

    def feed_fails(request: Request) -> Answer:
        return 500 if request.purpose == "feed" else recorded(request)

    _, cursor, _ = drive(FacebookProtocol(spec(cursor=previous)), feed_fails)
    assert cursor["newest_post"] == previous["newest_post"]


def test_post_gone_since_last_run_is_dropped_quietly() -> None:
    vanished = f"{PAGE_ID}_6500"
    previous = {"posts": {vanished: "2024-06-02T08:00:00+00:00"}}

    def answer_for_vanished(answer: Answer) -> Callable[[Request], Answer]:
        def route(request: Request) -> Answer:
            return answer if request.path == f"{vanished}/comments" else recorded(request)

        return route

    gone = refusal(400, payload("error_object_does_not_exist"))
    records, cursor, made = drive(
        FacebookProtocol(spec(cursor=previous)), answer_for_vanished(gone)
    )
    assert any(r.path == f"{vanished}/comments" for r in made)
    assert window_of(records)["complete"] is True
    assert vanished not in cursor["posts"]
    # A server error on the same request is a real gap.
    records, _, _ = drive(FacebookProtocol(spec(cursor=previous)), answer_for_vanished(500))
    assert window_of(records)["complete"] is False


@pytest.mark.parametrize(
    ("refused", "why"),
    [
        (refusal(404, None), "HTTP 404 not found (no error from the platform in the body)"),
        (refusal(400, None), "HTTP 400 bad request (no error from the platform in the body)"),
        (
            refusal(400, payload("error_invalid_parameter")),
            "HTTP 400 bad request: (#100) Tried accessing nonexisting field (comments) on node "
            "type (Photo)",
        ),
    ],
    ids=["plain-text-404", "plain-text-400", "another-graph-error"],
)
def test_a_refusal_without_the_graph_not_found_keeps_the_post_and_fails(
    refused: Page, why: str
) -> None:
    vanished = f"{PAGE_ID}_6500"
    previous = {"posts": {vanished: "2024-06-02T08:00:00+00:00"}}

    def route(request: Request) -> Answer:
        return refused if request.path == f"{vanished}/comments" else recorded(request)

    records, cursor, _ = drive(FacebookProtocol(spec(cursor=previous)), route)
    window = window_of(records)
    assert window["complete"] is False and window["reason"] == f"comments: {why}"
    assert vanished in cursor["posts"]  # asked again next run


# --- pure helpers ---------------------------------------------------------------------------


def test_next_page_params_drops_the_token_and_keeps_the_cursor() -> None:
    body = {
        "data": [],
        "paging": {
            "cursors": {"after": "QUZ"},
            "next": "https://graph.facebook.com/v25.0/1/comments?access_token=SECRET&limit=5",
        },
    }
    params = dict(next_page_params(body, (("fields", "id"), ("limit", "100"))) or ())
    assert params == {"fields": "id", "limit": "5", "after": "QUZ"}
    assert next_page_params({"data": [], "paging": {"cursors": {"after": "x"}}}) is None


def test_business_use_case_usage_gives_minutes_to_wait() -> None:
    now = 1_700_000_000.0
    business = {
        PAGE_ID: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": 7,
            }
        ]
    }
    headers = {"x-business-use-case-usage": json.dumps(business)}
    assert FacebookProtocol.read_rate_limit(headers, now) == RateInfo(0, now + 7 * 60)
    calm = {PAGE_ID: [{"call_count": 10, "estimated_time_to_regain_access": 0}]}
    headers = {"x-business-use-case-usage": json.dumps(calm)}
    assert FacebookProtocol.read_rate_limit(headers, now) == RateInfo()


def test_app_usage_at_100_percent_leaves_no_calls_without_a_known_reset() -> None:
    now = 1_700_000_000.0
    full = {"x-app-usage": json.dumps({"call_count": 100, "total_cputime": 10, "total_time": 12})}
    assert FacebookProtocol.read_rate_limit(full, now) == RateInfo(0, None)
    fine = {"x-app-usage": json.dumps({"call_count": 28, "total_cputime": 10, "total_time": 12})}
    assert FacebookProtocol.read_rate_limit(fine, now) == RateInfo()
    assert FacebookProtocol.read_rate_limit({"x-app-usage": "not json"}, now) == RateInfo()
    assert FacebookProtocol.read_rate_limit({}, now) == RateInfo()
