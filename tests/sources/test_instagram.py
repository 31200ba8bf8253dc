"""Instagram protocol on recorded Graph API payloads: no HTTP at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.sources.platforms.base import FetchSpec, RateInfo, Record, Request
from auditor.sources.platforms.instagram import InstagramProtocol

from .conftest import drive as drive_with
from .conftest import posts_by_id, window_of

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "payloads" / "instagram"
IG_USER = "17841400000000001"
MEDIA_1, MEDIA_2, MEDIA_3 = "18000000000000101", "18000000000000102", "18000000000000103"
WINDOW_START = datetime(2024, 6, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 6, 15, tzinfo=UTC)

Answer = Any


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def spec(cursor: dict[str, Any] | None = None, **options: Any) -> FetchSpec:
    return FetchSpec(
        platform="instagram",
        account="acmecoffee",
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        cursor=cursor or {},
        options={"ig_user_id": IG_USER, **options},
        fetched_at=WINDOW_END,
    )


def recorded(request: Request) -> Answer:
    params = dict(request.params)
    if request.purpose == "profile":
        return payload("profile")
    if request.purpose == "media":
        assert params.get("after") != "QVFIUmM", "paging went past the window start"
        return payload("media_page2" if params.get("after") == "QVFIUmK" else "media_page1")
    if request.purpose == "comments":
        if request.path == f"{MEDIA_1}/comments":
            return payload("comments_m101")
        if request.path == f"{MEDIA_3}/comments":
            return payload("comments_m103")
        return {"data": []}
    if request.purpose == "replies":
        assert request.path == "17900000000000201/replies" and params["after"] == "UjI"
        return payload("replies_c201_page2")
    raise AssertionError(f"unexpected request {request}")


def drive(
    protocol: InstagramProtocol, route: Callable[[Request], Answer] = recorded
) -> tuple[list[Record], dict[str, Any], list[Request]]:
    return drive_with(protocol, route)


def test_profile_record() -> None:
    records, _, made = drive(InstagramProtocol(spec()))
    (profile,) = [r for r in records if r["kind"] == "profile"]
    assert profile["bio"].startswith("Small-batch coffee")
    assert profile["display_name"] == "Acme Coffee"
    assert profile["website"] == "https://acme-coffee.example"
    assert made[0].path == IG_USER and "biography" in dict(made[0].params)["fields"]


def test_media_pages_stop_at_the_window_start() -> None:
    records, _, made = drive(InstagramProtocol(spec()))
    posts = posts_by_id(records)
    assert {MEDIA_1, MEDIA_2, MEDIA_3} <= set(posts)
    assert "18000000000000099" not in posts
    media_requests = [r for r in made if r.purpose == "media"]
    assert len(media_requests) == 2
    assert dict(media_requests[0].params)["since"] == str(int(WINDOW_START.timestamp()))
    assert all("access_token" not in dict(r.params) for r in made)
    media = posts[MEDIA_1]
    assert media["by_brand"] is True and media["url"] == "https://www.instagram.com/p/C8aaaa1/"
    assert media["thread"] == MEDIA_1 and media["in_reply_to"] is None


def test_media_without_comments_is_not_asked_for_comments() -> None:
    _, _, made = drive(InstagramProtocol(spec()))
    comment_paths = {r.path for r in made if r.purpose == "comments"}
    assert f"{MEDIA_2}/comments" not in comment_paths
    assert {f"{MEDIA_1}/comments", f"{MEDIA_3}/comments"} <= comment_paths


def test_comments_replies_and_hidden() -> None:
    records, _, _ = drive(InstagramProtocol(spec()))
    posts = posts_by_id(records)
    question = posts["17900000000000201"]
    assert question["in_reply_to"] == MEDIA_1 and question["thread"] == MEDIA_1
    assert question["author"] == "jo.drinks.coffee" and question["by_brand"] is False
    answer = posts["17900000000000202"]
    assert answer["by_brand"] is True
    assert answer["in_reply_to"] == "17900000000000201" and answer["thread"] == MEDIA_1
    follow_up = posts["17900000000000204"]  # from the second replies page
    assert follow_up["in_reply_to"] == "17900000000000201" and follow_up["thread"] == MEDIA_1
    spam = posts["17900000000000203"]
    assert spam["visibility"] == "hidden"
    assert posts["17900000000000301"]["visibility"] == "public"


def test_window_observes_hidden_only() -> None:
    records, _, _ = drive(InstagramProtocol(spec()))
    window = window_of(records)
    assert window["complete"] is True
    assert window["observes"] == ["hidden"]


def test_failed_request_makes_the_window_incomplete() -> None:
    def replies_fail(request: Request) -> Answer:
        return 500 if request.purpose == "replies" else recorded(request)

    records, _, _ = drive(InstagramProtocol(spec()), replies_fail)
    window = window_of(records)
    assert window["complete"] is False and "replies" in window["reason"]
    assert "17900000000000204" not in posts_by_id(records)


def test_cursor_round_trip_asks_only_for_newer_media() -> None:
    _, cursor, _ = drive(InstagramProtocol(spec()))
    assert cursor["newest_media"] == "2024-06-13T15:00:00+00:00"
    assert set(cursor["media"]) == {MEDIA_1, MEDIA_2, MEDIA_3}

    records, _, made = drive(InstagramProtocol(spec(cursor=json.loads(json.dumps(cursor)))))
    media_request = next(r for r in made if r.purpose == "media")
    assert dict(media_request.params)["since"] == str(
        int(datetime(2024, 6, 13, 15, tzinfo=UTC).timestamp())
    )
    assert not {MEDIA_1, MEDIA_2, MEDIA_3} & set(posts_by_id(records))
    # Comments on media seen before are read again: they can be new, or newly hidden.
    assert "17900000000000203" in posts_by_id(records)


def test_rate_limit_headers_are_the_graph_apis() -> None:
    usage = {"1": [{"call_count": 100, "estimated_time_to_regain_access": 3}]}
    headers = {"x-business-use-case-usage": json.dumps(usage)}
    assert InstagramProtocol.read_rate_limit(headers, 0.0) == RateInfo(0, 180.0)
