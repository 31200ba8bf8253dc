"""The X protocol on recorded payloads: no HTTP at all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from auditor.fetch.driver import plan
from auditor.sources.platforms.base import Page, RateInfo, Request, UnansweredRecheck
from auditor.sources.platforms.x import XProtocol

from .conftest import Answer, make_spec, of_kind, ok, payload, walk

BRAND_ID = "1500000000000000001"


def x_answers(request: Request, overrides: Mapping[str, Answer] | None = None) -> Answer:
    """The recorded answer for each request a normal run makes."""
    params = dict(request.params)
    key = request.purpose
    if "pagination_token" in params:
        key += ":page2"
    if overrides and key in overrides:
        return overrides[key]
    table: dict[str, str] = {
        "profile": "users_by_username",
        "mentions": "mentions_page1",
        "mentions:page2": "mentions_page2",
        "own_posts": "tweets_page1",
        "parents": "tweets_lookup",
        "mentions_search": "search_recent",
        "dm_events": "dm_events",
    }
    return ok(payload("x", table[key]))


def run(
    overrides: Mapping[str, Answer] | None = None, **spec: Any
) -> tuple[Any, Any, list[Request]]:
    protocol = XProtocol(make_spec("x", "acmehelp", **spec))
    return walk(protocol, lambda r: x_answers(r, overrides))


def test_profile_keeps_expanded_website_and_asks_for_both_timelines() -> None:
    protocol = XProtocol(make_spec("x", "@acmehelp"))
    (first,) = protocol.start()
    assert first.path == "/2/users/by/username/acmehelp"
    assert "description" in dict(first.params)["user.fields"]
    step = protocol.receive(first, ok(payload("x", "users_by_username")))
    (profile,) = step.records
    assert profile["website"] == "https://acme.example/help"
    assert profile["bio"].startswith("Official Acme support")
    assert profile["display_name"] == "Acme Help"
    paths = sorted(r.path for r in step.requests)
    assert paths == [f"/2/users/{BRAND_ID}/mentions", f"/2/users/{BRAND_ID}/tweets"]
    params = dict(step.requests[0].params)
    assert params["start_time"] == "2024-05-01T00:00:00Z"
    assert "conversation_id" in params["tweet.fields"]
    assert "author_id" in params["expansions"]


def test_full_walk_maps_posts_threads_and_parents() -> None:
    records, cursor, requests = run()
    posts = {p["id"]: p for p in of_kind(records, "post")}
    # Two mention pages, the brand's timeline, its included tweets and the looked-up parent.
    assert len(posts) == 7
    assert len(of_kind(records, "post")) == 7, "every post once, however often it appears"

    mention = posts["1787000000000000101"]
    assert mention["author"] == "dana_k" and mention["author_id"] == "901"
    assert mention["by_brand"] is False and mention["in_reply_to"] is None
    assert mention["created_at"] == "2024-05-10T14:03:11+00:00"
    assert mention["url"] == "https://x.com/dana_k/status/1787000000000000101"

    reply = posts["1787000000000000201"]
    assert reply["by_brand"] is True and reply["author"] == "acmehelp"
    assert reply["in_reply_to"] == "1787000000000000101"
    assert reply["thread"] == "1787000000000000101"
    assert reply["source"] == "Sprout Social"

    thanks = posts["1787000000000000103"]
    assert thanks["thread"] == "1786000000000000050", "thread is the conversation_id"
    assert thanks["in_reply_to"] == "1786000000000000060"

    # The brand replied to a post no page included: it was looked up by id.
    lookups = [r for r in requests if r.purpose == "parents"]
    assert len(lookups) == 1
    assert dict(lookups[0].params)["ids"] == "1786900000000000011"
    assert posts["1786900000000000011"]["author"] == "rosa_p"

    (window,) = of_kind(records, "window")
    assert window["complete"] is True and window["reason"] is None
    assert "hidden" not in window["observes"]
    assert window["observes"] == []  # no DMs asked for
    assert cursor["user_id"] == BRAND_ID
    assert cursor["mentions_newest_id"] == "1787000000000000101"
    assert cursor["own_posts_newest_id"] == "1787000000000000201"


def test_second_page_is_requested_with_the_pagination_token() -> None:
    _, _, requests = run()
    pages = [r for r in requests if r.purpose == "mentions"]
    assert len(pages) == 2
    token = dict(pages[1].params)["pagination_token"]
    assert token == payload("x", "mentions_page1")["meta"]["next_token"]


def test_cursor_makes_the_run_incremental() -> None:
    cursor = {"mentions_newest_id": "1786000000000000000", "own_posts_newest_id": "1"}
    records, new_cursor, requests = run(cursor=cursor)
    first = next(r for r in requests if r.purpose == "mentions")
    params = dict(first.params)
    assert params["since_id"] == "1786000000000000000" and "start_time" not in params
    (window,) = of_kind(records, "window")
    assert window["incremental"] is True
    assert new_cursor["mentions_newest_id"] == "1787000000000000101"


class SmallCapX(XProtocol):
    # Pretend the timeline's cap is 3 so that three recorded mentions fill it.
    mentions_cap = 3


def test_capped_mentions_timeline_falls_back_to_recent_search() -> None:
    fetched = datetime(2024, 5, 6, tzinfo=UTC)  # window start is within search's 7 days
    protocol = SmallCapX(make_spec("x", "acmehelp", fetched_at=fetched))
    records, _, requests = walk(protocol, x_answers)
    (search,) = [r for r in requests if r.purpose == "mentions_search"]
    params = dict(search.params)
    assert params["query"] == "@acmehelp OR to:acmehelp"
    assert params["end_time"] == "2024-05-03T19:20:40Z", "searches below the oldest mention"
    assert params["start_time"] == "2024-05-01T00:00:00Z"
    assert "1787000000000000150" in {p["id"] for p in of_kind(records, "post")}
    (window,) = of_kind(records, "window")
    assert window["complete"] is True


@pytest.mark.parametrize(
    ("fetched_day", "searched"),
    [
        (9, True),  # search reaches back to May 2: it helps, but May 1 stays uncovered
        (15, False),  # search reaches back to May 8 only: the timeline already went further
    ],
)
def test_capped_mentions_beyond_search_reach_make_the_window_incomplete(
    fetched_day: int, searched: bool
) -> None:
    fetched = datetime(2024, 5, fetched_day, tzinfo=UTC)
    protocol = SmallCapX(make_spec("x", "acmehelp", fetched_at=fetched))
    records, _, requests = walk(protocol, x_answers)
    assert any(r.purpose == "mentions_search" for r in requests) is searched
    (window,) = of_kind(records, "window")
    assert window["complete"] is False
    assert "newest 3" in window["reason"] and "7 days" in window["reason"]


def test_direct_messages_become_conversations_when_asked_for() -> None:
    records, _, requests = run(options={"dm": True})
    assert [r.purpose for r in requests].count("dm_events") == 1, "stops at the window start"
    (conversation,) = of_kind(records, "conversation")
    assert conversation["customer"] == "dana_k"
    assert [m["by_brand"] for m in conversation["messages"]] == [False, True]
    assert conversation["messages"][1]["created_at"] == "2024-05-10T16:05:00+00:00"
    (window,) = of_kind(records, "window")
    assert window["observes"] == ["conversations"]


def test_dm_scope_missing_means_conversations_not_observed() -> None:
    refused = {"dm_events": "HTTP 403 forbidden (token lacks access or scope)"}
    records, _, _ = run(overrides=refused, options={"dm": True})
    (window,) = of_kind(records, "window")
    assert window["observes"] == []
    assert window["complete"] is False
    assert window["reason"].startswith("dm_events: HTTP 403")
    assert of_kind(records, "post"), "the public data is kept"


def test_unknown_user_ends_with_an_incomplete_window() -> None:
    records, _, requests = run(overrides={"profile": ok(payload("x", "user_not_found"))})
    assert len(requests) == 1
    (window,) = of_kind(records, "window")
    assert window["complete"] is False
    assert "Could not find user" in window["reason"]


def test_failed_mentions_page_keeps_the_rest() -> None:
    records, _, _ = run(overrides={"mentions:page2": "HTTP 503 (gave up after 4 attempts)"})
    (window,) = of_kind(records, "window")
    assert window["complete"] is False
    assert window["reason"] == "mentions: HTTP 503 (gave up after 4 attempts)"
    assert of_kind(records, "profile")
    # Parents are still looked up once the failed page is accounted for.
    assert "1786900000000000011" in {p["id"] for p in of_kind(records, "post")}


@pytest.mark.parametrize("dm", [False, True])
def test_plan_lists_first_request_and_rate_limit_shares(dm: bool) -> None:
    protocol = XProtocol(make_spec("x", "acmehelp", options={"dm": dm}))
    result = plan(protocol)
    assert [r.url for r in result.requests] == [
        "https://api.x.com/2/users/by/username/acmehelp?user.fields="
        + "description%2Curl%2Centities%2Clocation%2Cname%2Cusername%2Ccreated_at%2Cverified"
    ]
    shares = {s.bucket: s for s in result.shares}
    assert shares["x:users/:id/mentions"].share == pytest.approx(1 / 450)
    assert shares["x:users/by/username"].limit == 300
    assert ("x:dm_events" in shares) is dm


def test_page_body_that_is_not_an_object_is_survived() -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    step = protocol.receive(protocol.start()[0], Page(200, {}, ["unexpected"]))
    assert step.requests == []
    records, _ = protocol.finish()
    assert records[-1]["complete"] is False


def test_rate_limit_headers_are_epoch_seconds() -> None:
    now = 1_700_000_000.0
    headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1700000900"}
    assert XProtocol.read_rate_limit(headers, now) == RateInfo(0, 1_700_000_900)
    unreadable = {"x-rate-limit-remaining": "lots", "x-rate-limit-reset": ""}
    assert XProtocol.read_rate_limit(unreadable, now) == RateInfo()


# --- re-checking kept posts for deletion ----------------------------------------------------

KEPT = ["1786900000000000011", "1786900000000000012", "1786900000000000013"]


def test_x_rechecks_deletions_as_the_observability_table_says() -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    assert protocol.rechecks_deletions and protocol.rechecked == {"deleted"}
    assert "deleted" not in protocol.observes  # seen only when the re-check succeeds


def test_recheck_asks_for_kept_ids_a_hundred_at_a_time() -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    ids = [str(1786900000000000000 + n) for n in range(250)]
    requests = protocol.recheck_requests([*ids[:10], "not-an-x-id", "", *ids[10:]])
    assert [len(dict(r.params)["ids"].split(",")) for r in requests] == [100, 100, 50]
    assert ",".join(dict(r.params)["ids"] for r in requests).split(",") == ids
    assert {(r.method, r.path, r.purpose) for r in requests} == {("GET", "/2/tweets", "recheck")}
    assert all(dict(r.params)["tweet.fields"] == "id" for r in requests)
    assert protocol.recheck_requests([]) == []


def test_recheck_counts_only_an_explicit_not_found_of_an_id_it_asked() -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    (request,) = protocol.recheck_requests(KEPT)
    # Found: ...011; not found: ...012; protected (not authorized): ...013; ...099 not asked.
    assert protocol.parse_recheck(request, ok(payload("x", "tweets_recheck"))) == {KEPT[1]}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"data": [{"id": KEPT[1]}]},
        # An id both found and reported missing is not taken for deleted.
        {
            "data": [{"id": KEPT[1]}],
            "errors": [{"resource_id": KEPT[1], "title": "Not Found Error"}],
        },
        {"errors": ["not a mapping", {"value": KEPT[1], "title": "Authorization Error"}]},
    ],
)
def test_recheck_finds_nothing_deleted_without_an_explicit_not_found(body: Any) -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    (request,) = protocol.recheck_requests(KEPT)
    # None of these answers names every id asked: the batch failed, and deleted nothing.
    with pytest.raises(UnansweredRecheck, match=r"accounts for [01] of 3 posts") as raised:
        protocol.parse_recheck(request, Page(200, {}, body))
    assert raised.value.deleted == set()


@pytest.mark.parametrize("body", [{}, {"data": []}, {"errors": []}, {"meta": {}}])
def test_a_recheck_answer_that_names_no_id_is_a_failed_batch_not_still_there(body: Any) -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    (request,) = protocol.recheck_requests(KEPT)
    with pytest.raises(UnansweredRecheck, match="accounts for 0 of 3 posts"):
        protocol.parse_recheck(request, Page(200, {}, body))


def test_a_recheck_answer_that_names_every_id_is_whole() -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    (request,) = protocol.recheck_requests(KEPT)
    body = {
        "data": [{"id": KEPT[0]}],
        "errors": [
            {
                "resource_id": KEPT[1],
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            },
            {"value": KEPT[2], "title": "Authorization Error"},
        ],
    }
    assert protocol.parse_recheck(request, Page(200, {}, body)) == {KEPT[1]}


def test_recheck_reads_the_id_from_value_when_resource_id_is_absent() -> None:
    protocol = XProtocol(make_spec("x", "acmehelp"))
    (request,) = protocol.recheck_requests(KEPT)
    body = {
        "errors": [
            {"value": KEPT[2], "type": "https://api.twitter.com/2/problems/resource-not-found"}
        ]
    }
    # Two of the three ids are not accounted for: what it said stands, the batch failed.
    with pytest.raises(UnansweredRecheck) as raised:
        protocol.parse_recheck(request, Page(200, {}, body))
    assert raised.value.deleted == {KEPT[2]}


def test_entities_mentions_are_the_posts_mentions_and_are_asked_for() -> None:
    page = payload("x", "mentions_page1")
    first = page["data"][0]
    # As X sends them: the brand by id, another account; start/end index the text.
    first["entities"] = {
        "mentions": [
            {"start": 0, "end": 9, "username": "AcmeHelp", "id": BRAND_ID},
            {"start": 10, "end": 16, "username": "rosa_p", "id": "77"},
        ]
    }
    page["data"][1]["entities"] = {"urls": []}  # entities, but no mentions: mentions nobody
    records, _, requests = run({"mentions": ok(page)})
    assert all(
        "entities" in dict(r.params)["tweet.fields"].split(",")
        for r in requests
        if "tweet.fields" in dict(r.params)
    )
    posts = {p["id"]: p for p in of_kind(records, "post")}
    assert posts[first["id"]]["mentions"] == ["acmehelp", "rosa_p"]
    assert posts[page["data"][1]["id"]]["mentions"] == []
    # No entities at all (not asked for, or nothing to annotate): no mention data.
    assert posts["1787000000000000201"]["mentions"] is None
