"""Instagram professional accounts through the Instagram Graph API, without I/O.

Reads the business account (``/{ig-user-id}?fields=username,name,biography,website``), its
media inside the window (``/{ig-user-id}/media`` with ``since``/``until``), and the comments
on each media with their first page of replies inlined
(``/{ig-media-id}/comments?fields=...,replies{...}``); further reply pages come from
``/{ig-comment-id}/replies``. Paging is the Graph API's: ``paging.next`` and
``paging.cursors.after``.

What the API lets an auditor see: hidden comments (``hidden``). Deleted comments are simply
absent and direct messages are not read here, so ``observes`` is ``hidden`` alone.

Account options: ``ig_user_id`` (the numeric IG User id; the handle is tried when absent),
``max_pages`` (per listing, default 50). Requests are relative to the base URL, which carries
the API version (``graph.facebook.com`` for Instagram API with Facebook Login).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from auditor.sources.platforms.base import (
    Cursor,
    FetchSpec,
    Page,
    PageBudget,
    Protocol,
    RateLimit,
    Record,
    Request,
    Step,
    iso,
    observability,
    segment,
    window_record,
)
from auditor.sources.platforms.facebook import (
    DEFAULT_BASE_URL,
    GRAPH_HOURLY_FLOOR,
    HOUR,
    cursor_time,
    data_of,
    graph_not_returned,
    graph_time,
    later,
    max_pages_option,
    new_in_window,
    next_page_params,
    read_graph_rate_limit,
    window_listing,
)

PLATFORM = "instagram"
PROFILE_FIELDS = "id,username,name,biography,website"
MEDIA_FIELDS = "id,caption,timestamp,permalink,username,comments_count"
REPLY_FIELDS = "id,text,timestamp,from,hidden,username,parent_id"
COMMENT_FIELDS = f"id,text,timestamp,from,hidden,username,replies{{{REPLY_FIELDS}}}"
PAGE_LIMIT = "50"
# The profile fields an IG User answer carries (``name``, ``biography``, ``website``): left out
# when empty, as the Graph API does (``graph_not_returned``). Instagram has no hours field.
IG_PROFILE_FIELDS = ("display_name", "bio", "website")


def _author(item: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(id, username) of a comment's author: ``from`` when given, else ``username``."""
    sender = item.get("from")
    ident = sender.get("id") if isinstance(sender, Mapping) else None
    name = sender.get("username") if isinstance(sender, Mapping) else None
    name = name or item.get("username")
    return (str(ident) if ident else None, str(name) if name else None)


def media_record(spec: FetchSpec, item: Mapping[str, Any], ig_user_id: str) -> Record | None:
    created = graph_time(item.get("timestamp"))
    ident = item.get("id")
    if created is None or not ident:
        return None
    return {
        "kind": "post",
        "platform": spec.platform,
        "account": spec.account,
        "id": str(ident),
        "author": str(item.get("username") or spec.account),
        "author_id": ig_user_id,
        "by_brand": True,
        "created_at": iso(created),
        "text": str(item.get("caption") or ""),
        "in_reply_to": None,
        "thread": str(ident),
        "visibility": "public",
        "deleted_by": None,
        "url": item.get("permalink"),
        "source": None,
        "automated": None,
    }


def comment_record(
    spec: FetchSpec,
    item: Mapping[str, Any],
    *,
    media_id: str,
    parent_id: str | None,
    brand: tuple[str, str],
) -> Record | None:
    """A comment (``parent_id`` None: it answers the media) or a reply to ``parent_id``.

    ``brand`` is the account's (id, lower-case username): either identifies its own replies.
    """
    created = graph_time(item.get("timestamp"))
    ident = item.get("id")
    if created is None or not ident:
        return None
    author_id, username = _author(item)
    by_brand = (author_id is not None and author_id == brand[0]) or (
        username is not None and username.lower() == brand[1]
    )
    replied_to = item.get("parent_id") or parent_id
    return {
        "kind": "post",
        "platform": spec.platform,
        "account": spec.account,
        "id": str(ident),
        "author": username or author_id or "unknown",
        "author_id": author_id,
        "by_brand": by_brand,
        "created_at": iso(created),
        "text": str(item.get("text") or ""),
        "in_reply_to": str(replied_to) if replied_to else media_id,
        "thread": media_id,
        "visibility": "hidden" if item.get("hidden") is True else "public",
        "deleted_by": None,
        "url": None,
        "source": None,
        "automated": None,
    }


class InstagramProtocol(Protocol):
    """One Instagram professional account for one window."""

    platform: ClassVar[str] = PLATFORM
    observes: ClassVar[frozenset[str]] = observability()[PLATFORM].observes
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    default_token_env: ClassVar[str] = "INSTAGRAM_TOKEN"
    auth_style: ClassVar[str] = "query:access_token"
    read_rate_limit = staticmethod(read_graph_rate_limit)
    # Instagram calls are Business Use Case limited (4,800 x impressions per 24 h, reported as
    # percentages in X-Business-Use-Case-Usage): no fixed count, so the Graph API floor.
    rate_limits: ClassVar[Mapping[str, RateLimit]] = {
        purpose: RateLimit("graph", GRAPH_HOURLY_FLOOR, HOUR, "account")
        for purpose in ("profile", "media", "comments", "replies")
    }

    def __init__(self, spec: FetchSpec) -> None:
        super().__init__(spec)
        self.ig_user_id = str(spec.options.get("ig_user_id") or spec.account)
        self.username = spec.account.lstrip("@").lower()
        self.pages = PageBudget(max_pages_option(spec.options))
        self.known_media: dict[str, str] = {
            str(k): str(v)
            for k, v in dict(spec.cursor.get("media") or {}).items()
            if (t := graph_time(v)) is not None and t >= spec.window_start
        }
        self.newest_media = cursor_time(spec.cursor, "newest_media")
        self.media_ok = True
        self.reply_threads: dict[str, str] = {}
        self.started = False

    def start(self) -> list[Request]:
        return [Request("profile", segment(self.ig_user_id), (("fields", PROFILE_FIELDS),))]

    def estimate(self) -> dict[str, int]:
        counts = {"profile": 1, "media": 1}
        if self.known_media:
            counts["comments"] = len(self.known_media)
        return counts

    def receive(self, request: Request, page: Page) -> Step:
        if request.purpose == "profile":
            return self._on_profile(page.body)
        if request.purpose == "media":
            return self._on_media(request, page.body)
        if request.purpose == "comments":
            return self._on_comments(request, page.body)
        if request.purpose == "replies":
            return self._on_replies(request, page.body)
        return Step()

    def failed(self, request: Request, reason: str) -> Step:
        step = super().failed(request, reason)
        if request.purpose == "media":
            self.media_ok = False
        if request.purpose == "profile":
            step.requests.extend(self._listing_requests())
        return step

    def finish(self) -> tuple[list[Record], Cursor]:
        window = window_record(
            self.spec,
            missing=self.missing + self.pages.cut_short,
            observes=self.observes,
            fetched_at=self.fetched_at(),
        )
        return [window], self._cursor()

    # --- handlers ---

    def _on_profile(self, body: Any) -> Step:
        profile = body if isinstance(body, Mapping) else {}
        if profile.get("id"):
            self.ig_user_id = str(profile["id"])
        if profile.get("username"):
            self.username = str(profile["username"]).lower()
        record: Record = {
            "kind": "profile",
            "platform": self.spec.platform,
            "account": self.spec.account,
            "display_name": profile.get("name"),
            "bio": profile.get("biography"),
            "website": profile.get("website"),
            "hours": None,
            "fetched_at": iso(self.fetched_at()),
            "not_returned": graph_not_returned(profile, IG_PROFILE_FIELDS),
        }
        return Step(records=[record], requests=self._listing_requests())

    def _listing_requests(self) -> list[Request]:
        if self.started:
            return []
        self.started = True
        since = later(self.spec.window_start, self.newest_media)
        requests = [
            window_listing(
                "media",
                f"{segment(self.ig_user_id)}/media",
                MEDIA_FIELDS,
                since,
                self.spec.window_end,
            )
        ]
        # Media an earlier run saw, still in the window, can have new comments.
        requests.extend(self._comments_request(media_id) for media_id in sorted(self.known_media))
        return requests

    def _comments_request(self, media_id: str) -> Request:
        return Request(
            "comments",
            f"{segment(media_id)}/comments",
            (("fields", COMMENT_FIELDS), ("limit", PAGE_LIMIT)),
        )

    def _next(self, request: Request, body: Any) -> list[Request]:
        params = next_page_params(body, request.params)
        if params is None:
            return []
        if not self.pages.allow(f"{request.purpose} {request.path}"):
            if request.purpose == "media":
                self.media_ok = False
            return []
        return [Request(request.purpose, request.path, params, request.method)]

    def _on_media(self, request: Request, body: Any) -> Step:
        step = Step()
        found, reached_start = new_in_window(
            self.spec,
            data_of(body),
            lambda item: media_record(self.spec, item, self.ig_user_id),
            self.known_media,
        )
        for item, record, created in found:
            step.records.append(record)
            self.known_media[record["id"]] = record["created_at"]
            self.newest_media = later(created, self.newest_media)
            if item.get("comments_count") != 0:
                step.requests.append(self._comments_request(record["id"]))
        if not reached_start:
            step.requests.extend(self._next(request, body))
        return step

    def _in_window(self, record: Record) -> bool:
        created = graph_time(record["created_at"])
        return created is not None and self.spec.window_start <= created <= self.spec.window_end

    def _brand(self) -> tuple[str, str]:
        return self.ig_user_id, self.username

    def _on_comments(self, request: Request, body: Any) -> Step:
        # Comment order is not documented, so every page is read; comments on media inside
        # the window are inside it too, except on media an earlier run carried over.
        media_id = request.path.split("/")[0]
        step = Step()
        for item in data_of(body):
            record = comment_record(
                self.spec, item, media_id=media_id, parent_id=None, brand=self._brand()
            )
            if record is None:
                continue
            if self._in_window(record):
                step.records.append(record)
            replies = item.get("replies")
            step.records.extend(self._reply_records(media_id, record["id"], replies))
            more = next_page_params(replies, (("fields", REPLY_FIELDS),))
            if more is not None:
                self.reply_threads[record["id"]] = media_id
                step.requests.append(Request("replies", f"{segment(record['id'])}/replies", more))
        step.requests.extend(self._next(request, body))
        return step

    def _reply_records(self, media_id: str, comment_id: str, listing: Any) -> list[Record]:
        records = []
        for item in data_of(listing):
            record = comment_record(
                self.spec, item, media_id=media_id, parent_id=comment_id, brand=self._brand()
            )
            if record is not None and self._in_window(record):
                records.append(record)
        return records

    def _on_replies(self, request: Request, body: Any) -> Step:
        comment_id = request.path.split("/")[0]
        media_id = self.reply_threads.get(comment_id, comment_id)
        step = Step(records=self._reply_records(media_id, comment_id, body))
        step.requests.extend(self._next(request, body))
        return step

    def _cursor(self) -> Cursor:
        """Media seen (for their new comments) and the newest media time, unless media failed."""
        newest: datetime | None = (
            self.newest_media if self.media_ok else cursor_time(self.spec.cursor, "newest_media")
        )
        cursor: Cursor = {"media": dict(sorted(self.known_media.items()))}
        if newest is not None:
            cursor["newest_media"] = iso(newest)
        return cursor


__all__ = ["InstagramProtocol", "comment_record", "media_record"]
