"""Facebook Pages through the Graph API, without I/O.

Reads the Page profile (``/{page-id}?fields=name,about,description,hours,website``), the Page
feed inside the window (``/{page-id}/feed`` with ``since``/``until``), every comment and reply
on those posts (``/{post-id}/comments?filter=stream``, newest first) and the Messenger inbox
(``/{page-id}/conversations?platform=messenger``).

What the Graph API lets an auditor see: hidden comments (``is_hidden``) and private
conversations. It does not report deleted posts or comments, so ``observes`` leaves
``deleted`` out and checks do not pretend to know about deletions here.

Request paths are relative to the account's base URL (``DEFAULT_BASE_URL`` unless configured)
and carry no leading slash, because the base URL itself carries the API version. A ``next``
link from the API is turned back into a relative request with its query parameters, minus the
``access_token`` the API echoes into it, so tokens never travel inside a ``Request``.

Account options (``FetchSpec.options``): ``page_id`` (the numeric Page id; the account handle
is used when absent), ``timezone`` (IANA name for the stated hours when the Page gives none),
``conversations`` (default true; false skips Messenger), ``max_pages`` (per listing, default 50).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditor.platform_formats import hours_from_graph
from auditor.sources.platforms.base import (
    Cursor,
    FetchSpec,
    Page,
    PageBudget,
    Protocol,
    RateInfo,
    RateLimit,
    Record,
    Request,
    Step,
    header_float,
    iso,
    observability,
    segment,
    window_record,
)

PLATFORM = "facebook"
# The newest Graph API version the reference documents; versions stay callable for about two
# years after release, so the account's base_url can pin another one.
DEFAULT_BASE_URL = "https://graph.facebook.com/v25.0"

PROFILE_FIELDS = "id,name,about,description,hours,website"
FEED_FIELDS = "id,message,created_time,from,permalink_url,is_hidden"
COMMENT_FIELDS = "id,message,from,created_time,is_hidden,parent{id},permalink_url"
MESSAGE_FIELDS = "id,message,from,created_time"
CONVERSATION_FIELDS = f"participants,updated_time,messages{{{MESSAGE_FIELDS}}}"

DEFAULT_MAX_PAGES = 50
PAGE_LIMIT = "100"

HOUR = 3600
# Meta documents no fixed counts for Pages or Instagram: usage comes back as percentages in
# X-App-Usage / X-Business-Use-Case-Usage (Page tokens: 4,800 x engaged users per 24 h; user
# tokens: 200 x users per rolling hour), all calls sharing one budget. 200 an hour is the floor
# of those formulas, a conservative figure for dry-run plans.
GRAPH_HOURLY_FLOOR = 200


# --- small pure helpers shared with the Instagram module (same Graph API) -------------------


def graph_time(value: Any) -> datetime | None:
    """A Graph API timestamp (``2024-05-01T12:34:56+0000``) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def next_page_params(
    body: Any, current: Sequence[tuple[str, str]] = ()
) -> tuple[tuple[str, str], ...] | None:
    """The query parameters of the page after this one, or None on the last page.

    The Graph API marks the last page by leaving ``paging.next`` out. The ``next`` link's
    parameters (``after``, ``until`` or whatever paging the edge uses) override ``current``
    (the request's own), without the ``access_token`` the API echoes into the link;
    ``paging.cursors.after`` fills in when the link lacks a cursor.
    """
    if not isinstance(body, Mapping):
        return None
    paging = body.get("paging")
    if not isinstance(paging, Mapping):
        return None
    link = paging.get("next")
    if not isinstance(link, str) or not link:
        return None
    from_link = {k: v for k, v in parse_qsl(urlsplit(link).query) if k != "access_token"}
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, Mapping) else None
    if isinstance(after, str) and after and not from_link.keys() & {"after", "until"}:
        from_link["after"] = after
    params = dict(current)
    params.update(from_link)
    return tuple(params.items())


def data_of(body: Any) -> list[Mapping[str, Any]]:
    if not isinstance(body, Mapping):
        return []
    data = body.get("data")
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, Mapping)]


def max_pages_option(options: Mapping[str, Any]) -> int:
    value = options.get("max_pages", DEFAULT_MAX_PAGES)
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_PAGES


def cursor_time(cursor: Mapping[str, Any], key: str) -> datetime | None:
    return graph_time(cursor.get(key))


def window_listing(
    purpose: str, path: str, fields: str, since: datetime, until: datetime
) -> Request:
    """A time-bounded Graph listing (a Page's feed, an Instagram account's media)."""
    return Request(
        purpose,
        path,
        (("fields", fields), ("since", unix(since)), ("until", unix(until)), ("limit", PAGE_LIMIT)),
    )


def new_in_window(
    spec: FetchSpec,
    items: Iterable[Mapping[str, Any]],
    record_of: Callable[[Mapping[str, Any]], Record | None],
    known: Mapping[str, str],
) -> tuple[list[tuple[Mapping[str, Any], Record, datetime]], bool]:
    """The items of a newest-first Graph listing that are inside the window and not yet known,
    with their records and times; and whether the listing reached back to the window start."""
    found: list[tuple[Mapping[str, Any], Record, datetime]] = []
    seen: set[str] = set()
    for item in items:
        record = record_of(item)
        if record is None:
            continue
        created = graph_time(record["created_at"])
        assert created is not None
        if created < spec.window_start:
            return found, True  # newest first: the rest is older than the window
        if created <= spec.window_end and record["id"] not in known and record["id"] not in seen:
            seen.add(record["id"])
            found.append((item, record, created))
    return found, False


def later(a: datetime, b: datetime | None) -> datetime:
    return a if b is None or a >= b else b


# --- rate limits ----------------------------------------------------------------------------


def read_graph_rate_limit(headers: Mapping[str, str], now: float) -> RateInfo:
    """Graph API: ``X-Business-Use-Case-Usage`` (JSON), ``X-App-Usage`` or
    ``X-Ad-Account-Usage``. Shared by Facebook Pages and Instagram.

    Business use case usage is ``{business_id: [{"call_count": %, ...,
    "estimated_time_to_regain_access": minutes}]}``; usage at 100 % means no calls are left.
    """
    longest_wait = 0.0
    exhausted = False
    for name in ("x-business-use-case-usage", "x-app-usage", "x-ad-account-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        for entry in _usage_entries(usage):
            minutes = header_float(str(entry.get("estimated_time_to_regain_access", 0)))
            longest_wait = max(longest_wait, (minutes or 0.0) * 60.0)
            percents = [
                header_float(str(entry.get(key)))
                for key in ("call_count", "total_cputime", "total_time")
            ]
            exhausted = exhausted or any(p is not None and p >= 100 for p in percents)
    if longest_wait > 0:
        return RateInfo(0, now + longest_wait)
    return RateInfo(0 if exhausted else None, None)


def _usage_entries(usage: Any) -> list[Mapping[str, Any]]:
    if isinstance(usage, Mapping):
        if any(k in usage for k in ("call_count", "estimated_time_to_regain_access")):
            return [usage]
        found: list[Mapping[str, Any]] = []
        for value in usage.values():
            found.extend(_usage_entries(value))
        return found
    if isinstance(usage, list):
        return [e for e in usage if isinstance(e, Mapping)]
    return []


# --- time zones -----------------------------------------------------------------------------


def _valid_timezone(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


# --- records --------------------------------------------------------------------------------


def _from(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    sender = item.get("from")
    if not isinstance(sender, Mapping):
        return None, None
    ident, name = sender.get("id"), sender.get("name")
    return (str(ident) if ident else None, str(name) if name else None)


# The profile fields a Page answer carries. The Graph API leaves out a requested field that has
# no value, so a Page without ``about`` has an empty bio; an answer without the object's ``id``
# is not the object at all (a proxy's page, an error shape), and then none of them arrived.
PAGE_PROFILE_FIELDS = ("display_name", "bio", "website", "hours")


def graph_not_returned(body: Mapping[str, Any], fields: Sequence[str]) -> list[str]:
    """The profile fields a Graph API object answer did not return: all of them, or none."""
    return [] if body.get("id") else list(fields)


def profile_record(spec: FetchSpec, body: Mapping[str, Any], fetched_at: datetime) -> Record:
    timezone = (
        _valid_timezone(body.get("timezone"))
        or _valid_timezone(spec.options.get("timezone"))
        or "UTC"
    )
    raw_hours = body.get("hours")
    hours = hours_from_graph(raw_hours, timezone) if isinstance(raw_hours, Mapping) else {}
    bio_parts = [str(body[k]) for k in ("about", "description") if body.get(k)]
    return {
        "kind": "profile",
        "platform": spec.platform,
        "account": spec.account,
        "display_name": body.get("name"),
        "bio": "\n\n".join(bio_parts) if bio_parts else None,
        "website": body.get("website"),
        "hours": hours or None,
        "fetched_at": iso(fetched_at),
        "not_returned": graph_not_returned(body, PAGE_PROFILE_FIELDS),
    }


def _post_author(
    spec: FetchSpec, item: Mapping[str, Any], page_id: str
) -> tuple[str, str | None, bool]:
    author_id, name = _from(item)
    by_brand = author_id is not None and author_id == page_id
    author = spec.account if by_brand else (name or author_id or "unknown")
    return author, author_id, by_brand


def feed_post_record(spec: FetchSpec, item: Mapping[str, Any], page_id: str) -> Record | None:
    created = graph_time(item.get("created_time"))
    ident = item.get("id")
    if created is None or not ident:
        return None
    author, author_id, by_brand = _post_author(spec, item, page_id)
    return {
        "kind": "post",
        "platform": spec.platform,
        "account": spec.account,
        "id": str(ident),
        "author": author,
        "author_id": author_id,
        "by_brand": by_brand,
        "created_at": iso(created),
        "text": str(item.get("message") or ""),
        "in_reply_to": None,
        "thread": str(ident),
        "visibility": "hidden" if item.get("is_hidden") is True else "public",
        "deleted_by": None,
        "url": item.get("permalink_url"),
        "source": None,
        "automated": None,
    }


def comment_record(
    spec: FetchSpec, item: Mapping[str, Any], page_id: str, post_id: str
) -> Record | None:
    """A comment or reply: the thread is the feed post, the parent the comment it answers."""
    created = graph_time(item.get("created_time"))
    ident = item.get("id")
    if created is None or not ident:
        return None
    parent = item.get("parent")
    parent_id = parent.get("id") if isinstance(parent, Mapping) else None
    author, author_id, by_brand = _post_author(spec, item, page_id)
    return {
        "kind": "post",
        "platform": spec.platform,
        "account": spec.account,
        "id": str(ident),
        "author": author,
        "author_id": author_id,
        "by_brand": by_brand,
        "created_at": iso(created),
        "text": str(item.get("message") or ""),
        "in_reply_to": str(parent_id) if parent_id else post_id,
        "thread": post_id,
        "visibility": "hidden" if item.get("is_hidden") is True else "public",
        "deleted_by": None,
        "url": item.get("permalink_url"),
        "source": None,
        "automated": None,
    }


def message_entry(item: Mapping[str, Any], page_id: str) -> dict[str, Any] | None:
    created = graph_time(item.get("created_time"))
    ident = item.get("id")
    if created is None or not ident:
        return None
    author_id, _ = _from(item)
    return {
        "id": str(ident),
        "by_brand": author_id == page_id,
        "created_at": iso(created),
        "text": str(item.get("message") or ""),
    }


def conversation_customer(item: Mapping[str, Any], page_id: str) -> str:
    participants = item.get("participants")
    for person in data_of(participants):
        ident = person.get("id")
        if ident and str(ident) != page_id:
            return str(ident)
    return "unknown"


def conversation_record(
    spec: FetchSpec, conversation_id: str, customer: str, messages: list[dict[str, Any]]
) -> Record:
    ordered = sorted({m["id"]: m for m in messages}.values(), key=lambda m: m["created_at"])
    return {
        "kind": "conversation",
        "platform": spec.platform,
        "account": spec.account,
        "id": conversation_id,
        "customer": customer,
        "messages": ordered,
    }


# --- the protocol ---------------------------------------------------------------------------


class FacebookProtocol(Protocol):
    """One Facebook Page for one window."""

    platform: ClassVar[str] = PLATFORM
    observes: ClassVar[frozenset[str]] = observability()[PLATFORM].observes
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    default_token_env: ClassVar[str] = "FACEBOOK_PAGE_TOKEN"
    auth_style: ClassVar[str] = "query:access_token"
    read_rate_limit = staticmethod(read_graph_rate_limit)
    rate_limits: ClassVar[Mapping[str, RateLimit]] = {
        purpose: RateLimit("graph", GRAPH_HOURLY_FLOOR, HOUR, "page")
        for purpose in ("profile", "feed", "comments", "conversations", "messages")
    }

    def __init__(self, spec: FetchSpec) -> None:
        super().__init__(spec)
        self.page_id = str(spec.options.get("page_id") or spec.account)
        self.pages = PageBudget(max_pages_option(spec.options))
        self.known_posts: dict[str, str] = {
            str(k): str(v)
            for k, v in dict(spec.cursor.get("posts") or {}).items()
            if (t := graph_time(v)) is not None and t >= spec.window_start
        }
        self.carried_posts = frozenset(self.known_posts)
        self.newest_post = cursor_time(spec.cursor, "newest_post")
        self.conversations_seen = cursor_time(spec.cursor, "conversations_updated")
        self.newest_conversation: datetime | None = None
        self.feed_ok = True
        self.conversations_ok = True
        self.comment_requested: set[str] = set()
        self.conversations: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        self.started = False

    # The Page id decides by_brand, so the listings wait for the profile to name it.
    def start(self) -> list[Request]:
        return [Request("profile", segment(self.page_id), (("fields", PROFILE_FIELDS),))]

    def estimate(self) -> dict[str, int]:
        counts = {"profile": 1, "feed": 1}
        if self.known_posts:
            counts["comments"] = len(self.known_posts)
        if self._wants_conversations():
            counts["conversations"] = 1
        return counts

    def _wants_conversations(self) -> bool:
        return self.spec.options.get("conversations", True) is not False

    def receive(self, request: Request, page: Page) -> Step:
        handler = {
            "profile": self._on_profile,
            "feed": self._on_feed,
            "comments": self._on_comments,
            "conversations": self._on_conversations,
            "messages": self._on_messages,
        }.get(request.purpose)
        if handler is None:
            return Step()
        return handler(request, page.body)

    def refused(self, request: Request, page: Page) -> Step:
        post_id = request.path.split("/")[0]
        if request.purpose == "comments" and post_id in self.carried_posts and gone(page.body):
            # A post an earlier run saw is gone (deleted or unpublished), in the Graph API's own
            # words. It says no more than that, so nothing is recorded and the window stays
            # complete. Any other refusal (a proxy's 404) fails: the post is asked again.
            self.known_posts.pop(post_id, None)
            return Step()
        return super().refused(request, page)

    def failed(self, request: Request, reason: str) -> Step:
        step = super().failed(request, reason)
        if request.purpose == "feed":
            self.feed_ok = False
        if request.purpose in ("conversations", "messages"):
            self.conversations_ok = False
        if request.purpose == "profile":
            # Without the profile the listings still run, on the configured Page id.
            step.requests.extend(self._listing_requests())
        return step

    def finish(self) -> tuple[list[Record], Cursor]:
        records: list[Record] = [
            conversation_record(self.spec, cid, customer, messages)
            for cid, (customer, messages) in self.conversations.items()
        ]
        records.append(
            window_record(
                self.spec,
                missing=self.missing + self.pages.cut_short,
                observes=self.observes,
                fetched_at=self.fetched_at(),
            )
        )
        return records, self._cursor()

    # --- handlers ---

    def _on_profile(self, request: Request, body: Any) -> Step:
        if isinstance(body, Mapping) and body.get("id"):
            self.page_id = str(body["id"])
        profile = body if isinstance(body, Mapping) else {}
        record = profile_record(self.spec, profile, self.fetched_at())
        return Step(records=[record], requests=self._listing_requests())

    def _listing_requests(self) -> list[Request]:
        if self.started:
            return []
        self.started = True
        since = later(self.spec.window_start, self.newest_post)
        requests = [
            window_listing(
                "feed", f"{segment(self.page_id)}/feed", FEED_FIELDS, since, self.spec.window_end
            )
        ]
        # Posts seen by earlier runs still in the window: their new comments count too.
        requests.extend(self._comments_request(post_id) for post_id in sorted(self.known_posts))
        if self._wants_conversations():
            requests.append(
                Request(
                    "conversations",
                    f"{segment(self.page_id)}/conversations",
                    (
                        ("platform", "messenger"),
                        ("fields", CONVERSATION_FIELDS),
                        ("limit", PAGE_LIMIT),
                    ),
                )
            )
        return requests

    def _comments_request(self, post_id: str) -> Request:
        self.comment_requested.add(post_id)
        return Request(
            "comments",
            f"{segment(post_id)}/comments",
            (
                ("filter", "stream"),
                ("order", "reverse_chronological"),
                ("fields", COMMENT_FIELDS),
                ("limit", PAGE_LIMIT),
            ),
        )

    def _next(self, request: Request, body: Any, reached_start: bool) -> list[Request]:
        """The follow-up page, unless the window start was reached or the page budget is spent."""
        if reached_start:
            return []
        params = next_page_params(body, request.params)
        if params is None:
            return []
        if not self.pages.allow(f"{request.purpose} {request.path}"):
            if request.purpose == "feed":
                self.feed_ok = False
            if request.purpose in ("conversations", "messages"):
                self.conversations_ok = False
            return []
        return [Request(request.purpose, request.path, params, request.method)]

    def _on_feed(self, request: Request, body: Any) -> Step:
        step = Step()
        found, reached_start = new_in_window(
            self.spec,
            data_of(body),
            lambda item: feed_post_record(self.spec, item, self.page_id),
            self.known_posts,
        )
        for _, record, created in found:
            step.records.append(record)
            self.known_posts[record["id"]] = record["created_at"]
            self.newest_post = later(created, self.newest_post)
            if record["id"] not in self.comment_requested:
                step.requests.append(self._comments_request(record["id"]))
        step.requests.extend(self._next(request, body, reached_start))
        return step

    def _on_comments(self, request: Request, body: Any) -> Step:
        post_id = request.path.split("/")[0]
        step = Step()
        reached_start = False
        for item in data_of(body):
            record = comment_record(self.spec, item, self.page_id, post_id)
            if record is None:
                continue
            created = graph_time(record["created_at"])
            assert created is not None
            if created < self.spec.window_start:
                # Newest first: everything after this one is older still.
                reached_start = True
                break
            if created <= self.spec.window_end:
                step.records.append(record)
        step.requests.extend(self._next(request, body, reached_start))
        return step

    def _on_conversations(self, request: Request, body: Any) -> Step:
        step = Step()
        reached_start = False
        for item in data_of(body):
            updated = graph_time(item.get("updated_time"))
            cid = item.get("id")
            if updated is None or not cid:
                continue
            # Newest activity first, and the edge has no time paging: stop at the window
            # start, or at the newest activity the last run already read.
            seen = self.conversations_seen
            if updated < self.spec.window_start or (seen is not None and updated <= seen):
                reached_start = True
                break
            self.newest_conversation = later(updated, self.newest_conversation)
            self._add_messages(str(cid), conversation_customer(item, self.page_id), item)
            step.requests.extend(self._more_messages(str(cid), item.get("messages")))
        step.requests.extend(self._next(request, body, reached_start))
        return step

    def _add_messages(self, cid: str, customer: str, item: Mapping[str, Any]) -> None:
        _, messages = self.conversations.setdefault(cid, (customer, []))
        for message in data_of(item.get("messages")):
            entry = message_entry(message, self.page_id)
            if entry is not None:
                messages.append(entry)

    def _more_messages(self, cid: str, listing: Any) -> list[Request]:
        """The next page of a conversation's messages while it still reaches into the window."""
        params = next_page_params(listing, (("fields", MESSAGE_FIELDS),))
        if params is None:
            return []
        times = [graph_time(m.get("created_time")) for m in data_of(listing)]
        oldest = min((t for t in times if t is not None), default=None)
        if oldest is not None and oldest < self.spec.window_start:
            return []
        if not self.pages.allow(f"messages {cid}"):
            self.conversations_ok = False
            return []
        return [Request("messages", f"{segment(cid)}/messages", params)]

    def _on_messages(self, request: Request, body: Any) -> Step:
        cid = request.path.split("/")[0]
        customer = self.conversations.get(cid, ("unknown", []))[0]
        self._add_messages(cid, customer, {"messages": body})
        return Step(requests=self._more_messages(cid, body))

    def _cursor(self) -> Cursor:
        """What the next run needs to ask only for newer posts and conversations.

        A listing that failed keeps the previous run's mark, so nothing it missed is skipped.
        """
        previous = self.spec.cursor
        newest_post = self.newest_post if self.feed_ok else cursor_time(previous, "newest_post")
        conversations = (
            later(self.newest_conversation, self.conversations_seen)
            if self.conversations_ok and self.newest_conversation is not None
            else self.conversations_seen
        )
        cursor: Cursor = {"posts": dict(sorted(self.known_posts.items()))}
        if newest_post is not None:
            cursor["newest_post"] = iso(newest_post)
        if conversations is not None:
            cursor["conversations_updated"] = iso(conversations)
        return cursor


# The Graph API's error for an id it cannot load: code 100 (invalid parameter), subcode 33
# ("Object with ID ... does not exist, cannot be loaded due to missing permissions, or does not
# support this operation"), sent with HTTP 400; older versions answer code 33 itself ("This
# object does not exist or does not support this action").
GRAPH_INVALID_PARAMETER = 100
GRAPH_OBJECT_DOES_NOT_EXIST = 33


def gone(body: Any) -> bool:
    """Whether an error body is the Graph API saying the object does not exist."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return False
    code, subcode = error.get("code"), error.get("error_subcode")
    return code == GRAPH_OBJECT_DOES_NOT_EXIST or (
        code == GRAPH_INVALID_PARAMETER and subcode == GRAPH_OBJECT_DOES_NOT_EXIST
    )


__all__ = [
    "DEFAULT_BASE_URL",
    "FacebookProtocol",
    "read_graph_rate_limit",
]
