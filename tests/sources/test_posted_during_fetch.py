"""Posts written while a fetch runs are found by the next incremental run, on every platform
whose protocol keeps a cursor.

A fetch's window ends at its start, so a post written while it runs is newer than the window's
end: it is not kept, and the cursor the fetch saves must stay below it. Each fake platform
below is a small in-memory server that answers the protocol's requests the way the platform
documents (``since_id``, cursors, ``since``/``until``), and hands out, on the first run, a page
that already holds three posts written after the window's end. The second run starts from the
first run's cursor an hour later; every post must be in one of the two runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditor.sources.platforms.base import FetchSpec, Page, Protocol, Request
from auditor.sources.platforms.bluesky import BlueskyProtocol
from auditor.sources.platforms.facebook import FacebookProtocol
from auditor.sources.platforms.instagram import InstagramProtocol
from auditor.sources.platforms.mastodon import MastodonProtocol
from auditor.sources.platforms.x import XProtocol

from .conftest import ok, posts_by_id, walk, window_of

# The first run's "now": the end of its window. Three posts arrive while it runs.
FIRST_RUN = datetime(2024, 5, 15, 12, 0, 0, tzinfo=UTC)
SECOND_RUN = FIRST_RUN + timedelta(hours=1)
BEFORE = [FIRST_RUN - timedelta(hours=h) for h in (3, 2, 1)]
# Inside the second the window's end was truncated to, and after it.
DURING = [FIRST_RUN + timedelta(milliseconds=400), FIRST_RUN + timedelta(seconds=2)]
DURING.append(FIRST_RUN + timedelta(seconds=5))


def zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def graph(moment: datetime) -> str:
    """The Graph API's time format: to the second, ``+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def spec(
    platform: str, account: str, now: datetime, cursor: dict[str, Any], **options: Any
) -> FetchSpec:
    return FetchSpec(
        platform=platform,
        account=account,
        window_start=now - timedelta(days=14),
        window_end=now,
        cursor=cursor,
        options=options,
        fetched_at=now,
    )


@dataclass
class Item:
    """One post on the fake platform: its id and when it was written."""

    ident: str
    created: datetime


@dataclass
class Fake:
    """A platform that serves its posts newest first; ``make`` builds the protocol."""

    make: Callable[[datetime, dict[str, Any]], Protocol]
    answer: Callable[[Request], Page]
    items: list[Item] = field(default_factory=list)


# --- Mastodon: notifications and statuses by numeric id, since_id / max_id ------------------

MASTODON_BRAND = "109350000000000001"


def mastodon_account(ident: str, acct: str) -> dict[str, Any]:
    return {"id": ident, "username": acct.split("@")[0], "acct": acct}


def mastodon_fake(listing: str) -> Fake:
    """Mentions (``listing == "mentions"``) or the brand's own statuses, by growing ids."""
    fake = Fake(
        make=lambda now, cursor: MastodonProtocol(
            spec("mastodon", "acmehelp@social.example", now, cursor)
        ),
        answer=lambda r: ok([]),
    )
    for n, created in enumerate([*BEFORE, *DURING]):
        fake.items.append(Item(str(112400000000000100 + n), created))
    by_brand = listing == "own_posts"

    def status(item: Item) -> dict[str, Any]:
        author = (
            mastodon_account(MASTODON_BRAND, "acmehelp")
            if by_brand
            else mastodon_account("109400000000000011", "anna@mastodon.example")
        )
        return {
            "id": item.ident,
            "created_at": zulu(item.created),
            "in_reply_to_id": None,
            "visibility": "public",
            "content": f"<p>@acmehelp post {item.ident}</p>",
            "account": author,
            "mentions": [],
        }

    def entry(item: Item) -> dict[str, Any]:
        if by_brand:
            return status(item)
        # Notification ids grow in the order the server delivered them.
        return {
            "id": str(int(item.ident) - 112400000000000000 + 34975000),
            "type": "mention",
            "created_at": zulu(item.created),
            "status": status(item),
        }

    def answer(request: Request) -> Page:
        params = dict(request.params)
        if request.purpose == "profile":
            return ok({"id": MASTODON_BRAND, "username": "acmehelp", "note": "", "fields": []})
        if request.purpose != listing:
            return ok([])
        entries = [entry(i) for i in reversed(fake.items)]  # newest first
        since, before = params.get("since_id"), params.get("max_id")
        page = [
            e
            for e in entries
            if (since is None or int(e["id"]) > int(since))
            and (before is None or int(e["id"]) < int(before))
        ]
        return ok(page[: int(params.get("limit", "40"))])

    fake.answer = answer
    return fake


# --- Bluesky: the author feed and notifications, newest first, by createdAt -----------------

BLUESKY_BRAND = "acmecoffee.bsky.social"
BLUESKY_DID = "did:plc:acmecoffee7x2kq4lmn3v5b6c"
CUSTOMER_DID = "did:plc:dana5e6f7g8h2i3j4k5l6m7n"
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def tid(moment: datetime, clock_id: int = 0) -> str:
    """A record key that says when it was written: microseconds, then a clock id, base32."""
    value = (int(moment.timestamp() * 1_000_000) << 10) | clock_id
    return "".join(TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


# Every post below replies to a brand post from before the window: a thread the cursor does
# not carry over, so only the listings can bring its new replies.
OLD_ROOT_TIME = FIRST_RUN - timedelta(days=30)
OLD_ROOT = f"at://{BLUESKY_DID}/app.bsky.feed.post/{tid(OLD_ROOT_TIME)}"


def bluesky_fake(listing: str) -> Fake:
    by_brand = listing == "author_feed"
    options = {} if by_brand else {"notifications": True}
    fake = Fake(
        make=lambda now, cursor: BlueskyProtocol(
            spec("bluesky", BLUESKY_BRAND, now, cursor, **options)
        ),
        answer=lambda r: ok({}),
    )
    did = BLUESKY_DID if by_brand else CUSTOMER_DID
    handle = BLUESKY_BRAND if by_brand else "dana.bsky.social"
    for n, created in enumerate([*BEFORE, *DURING]):
        fake.items.append(Item(f"at://{did}/app.bsky.feed.post/{tid(created, n)}", created))
    root_ref = {"uri": OLD_ROOT, "cid": "bafyreiroot"}
    root_view = {
        "uri": OLD_ROOT,
        "cid": "bafyreiroot",
        "author": {"did": BLUESKY_DID, "handle": BLUESKY_BRAND},
        "record": {"text": "Our autumn blend is back", "createdAt": zulu(OLD_ROOT_TIME)},
        "indexedAt": zulu(OLD_ROOT_TIME),
    }

    def record(item: Item) -> dict[str, Any]:
        return {
            "text": f"@{BLUESKY_BRAND} about the autumn blend",
            "createdAt": zulu(item.created),
            "reply": {"root": root_ref, "parent": root_ref},
        }

    def view(item: Item) -> dict[str, Any]:
        return {
            "uri": item.ident,
            "cid": "bafyreib2rxk3rh6kzwq",
            "author": {"did": did, "handle": handle},
            "record": record(item),
            "indexedAt": zulu(item.created),
        }

    def answer(request: Request) -> Page:
        params = dict(request.params)
        if request.purpose == "profile":
            return ok({"did": BLUESKY_DID, "handle": BLUESKY_BRAND, "displayName": "Acme"})
        if request.purpose == "thread":
            assert params["uri"] == OLD_ROOT
            replies = [{"post": view(i)} for i in fake.items]
            return ok({"thread": {"post": root_view, "replies": replies}})
        newest_first = list(reversed(fake.items))
        if request.purpose == "author_feed" and by_brand:
            feed = [
                {"post": view(i), "reply": {"root": root_view, "parent": root_view}}
                for i in newest_first
            ]
            return ok({"feed": feed})
        if request.purpose == "notifications" and not by_brand:
            return ok(
                {
                    "notifications": [
                        {
                            "uri": i.ident,
                            "reason": "reply",
                            "author": {"did": did, "handle": handle},
                            "record": record(i),
                            "indexedAt": zulu(i.created),
                        }
                        for i in newest_first
                    ]
                }
            )
        return ok({"feed": []} if request.purpose == "author_feed" else {"notifications": []})

    fake.answer = answer
    return fake


# --- X: timelines by snowflake id, since_id, meta.newest_id ---------------------------------

X_BRAND = "1500000000000000001"


def x_fake(listing: str) -> Fake:
    fake = Fake(
        make=lambda now, cursor: XProtocol(spec("x", "acmehelp", now, cursor)),
        answer=lambda r: ok({}),
    )
    for n, created in enumerate([*BEFORE, *DURING]):
        fake.items.append(Item(str(1787000000000000100 + n), created))
    author = X_BRAND if listing == "own_posts" else "907"

    def answer(request: Request) -> Page:
        params = dict(request.params)
        if request.purpose == "profile":
            return ok({"data": {"id": X_BRAND, "username": "acmehelp", "name": "Acme"}})
        if request.purpose != listing:
            return ok({"meta": {"result_count": 0}})
        since = params.get("since_id")
        tweets = [
            {
                "id": i.ident,
                "text": "@acmehelp hello",
                "author_id": author,
                "created_at": zulu(i.created),
                "conversation_id": i.ident,
            }
            for i in reversed(fake.items)
            if since is None or int(i.ident) > int(since)
        ]
        meta: dict[str, Any] = {"result_count": len(tweets)}
        if tweets:
            meta.update(newest_id=tweets[0]["id"], oldest_id=tweets[-1]["id"])
        return ok({"data": tweets, "includes": {"users": []}, "meta": meta})

    fake.answer = answer
    return fake


# --- Facebook and Instagram: time-bounded listings (since/until) ----------------------------


def graph_fake(platform: str) -> Fake:
    """A Page feed or an Instagram account's media. The server ignores ``until``: the page it
    gives holds the posts written after the window's end, as a late answer would."""
    if platform == "facebook":
        fake = Fake(
            make=lambda now, cursor: FacebookProtocol(
                spec("facebook", "acmecoffee", now, cursor, page_id="1001", conversations=False)
            ),
            answer=lambda r: ok({}),
        )
    else:
        fake = Fake(
            make=lambda now, cursor: InstagramProtocol(
                spec("instagram", "acmecoffee", now, cursor, ig_user_id="1789")
            ),
            answer=lambda r: ok({}),
        )
    for n, created in enumerate([*BEFORE, *DURING]):
        fake.items.append(
            Item(f"1001_{500 + n}" if platform == "facebook" else str(1790 + n), created)
        )

    def entry(item: Item) -> dict[str, Any]:
        if platform == "facebook":
            return {
                "id": item.ident,
                "message": "Our new roast is here",
                "created_time": graph(item.created),
                "from": {"id": "1001", "name": "Acme Coffee"},
            }
        return {
            "id": item.ident,
            "caption": "Our new roast is here",
            "timestamp": graph(item.created),
            "username": "acmecoffee",
            "comments_count": 0,
        }

    def answer(request: Request) -> Page:
        params = dict(request.params)
        if request.purpose == "profile":
            ident = "1001" if platform == "facebook" else "1789"
            return ok({"id": ident, "name": "Acme Coffee", "username": "acmecoffee"})
        if request.purpose in ("feed", "media"):
            since = datetime.fromtimestamp(int(params["since"]), UTC)
            # Graph times are to the second: "since" includes its own second.
            page = [
                entry(i) for i in reversed(fake.items) if i.created.replace(microsecond=0) >= since
            ]
            return ok({"data": page})
        return ok({"data": []})

    fake.answer = answer
    return fake


FAKES: dict[str, Callable[[], Fake]] = {
    "mastodon-mentions": lambda: mastodon_fake("mentions"),
    "mastodon-own-posts": lambda: mastodon_fake("own_posts"),
    "bluesky-author-feed": lambda: bluesky_fake("author_feed"),
    "bluesky-notifications": lambda: bluesky_fake("notifications"),
    "x-mentions": lambda: x_fake("mentions"),
    "x-own-posts": lambda: x_fake("own_posts"),
    "facebook-feed": lambda: graph_fake("facebook"),
    "instagram-media": lambda: graph_fake("instagram"),
}


@pytest.mark.parametrize("name", sorted(FAKES))
def test_posts_written_during_a_fetch_are_found_by_the_next_run(name: str) -> None:
    fake = FAKES[name]()
    first, cursor, _ = walk(fake.make(FIRST_RUN, {}), fake.answer)
    assert window_of(first)["complete"] is True, window_of(first)["reason"]
    second, _, _ = walk(fake.make(SECOND_RUN, cursor), fake.answer)
    assert window_of(second)["complete"] is True, window_of(second)["reason"]
    kept = posts_by_id(first).keys() | posts_by_id(second).keys()
    during = {i.ident for i in fake.items if i.created > FIRST_RUN}
    assert len(during) == 3
    assert during <= kept, f"lost for good: {sorted(during - kept)}"
    # What the first run kept is inside its window; the rest waits for the next run.
    assert all(i.ident in kept for i in fake.items)


@pytest.mark.parametrize("listing", ["author_feed", "notifications"])
def test_a_bluesky_post_indexed_late_is_found_by_the_next_run(listing: str) -> None:
    """Bluesky's listings run newest first by when a post says it was written (``createdAt``,
    set by the author's client) unless the AppView indexed it earlier. A post written before
    the first run but indexed only after it (a slow PDS, a relay backlog) is listed below
    posts the first run already read: the next run must read that far back."""
    fake = bluesky_fake(listing)
    _, cursor, _ = walk(fake.make(FIRST_RUN, {}), fake.answer)
    did = BLUESKY_DID if listing == "author_feed" else CUSTOMER_DID
    written = FIRST_RUN - timedelta(minutes=90)  # between two posts the first run read
    late = Item(f"at://{did}/app.bsky.feed.post/{tid(written, 9)}", written)
    # Nothing else new: no new reply leads the next run into the thread the late post is in.
    fake.items = sorted([*fake.items[: len(BEFORE)], late], key=lambda i: i.created)
    second, _, _ = walk(fake.make(SECOND_RUN, cursor), fake.answer)
    assert late.ident in posts_by_id(second), "a post indexed after the last run is lost"
