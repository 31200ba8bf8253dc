"""Bluesky through the AT Protocol's XRPC API, without I/O.

Which endpoints, and why:

- ``app.bsky.actor.getProfile``: display name and description (the bio).
- ``app.bsky.feed.getAuthorFeed`` with ``filter=posts_with_replies``: the brand's own posts and
  replies, newest first, cursor-paged. It needs no authentication, so the default base URL is
  the public AppView (``https://public.api.bsky.app``) and a token is optional. Each item's
  ``reply`` reference also shows the post the brand answered (or a ``notFoundPost`` when that
  post was deleted).
- ``app.bsky.feed.getPostThread`` on the root of every thread the brand took part in: the
  customers' replies, deleted posts (``notFoundPost`` → visibility ``deleted``, deleted_by
  ``unknown``) and the root's threadgate, whose ``hiddenReplies`` are the replies the brand hid
  (visibility ``hidden``). A root is deleted only when the answer says so: a ``notFoundPost``
  view or the XRPC error ``NotFound``; any other refusal (a proxy's plain-text 404) leaves the
  thread unread and the window incomplete.
- ``app.bsky.notification.listNotifications`` (reasons ``mention`` and ``reply``) only with the
  account option ``notifications: true``: it needs the brand's own session, so the account's
  ``base_url`` must then be its PDS (``https://bsky.social`` for Bluesky-hosted accounts) and a
  token must be configured. It adds the mentions that are not replies to the brand's posts,
  which the public route cannot see.

Posts are collected while pages arrive and returned by :meth:`finish`, because a later thread
view can tell more about a post (hidden, deleted) than the feed item that first named it.
Only posts created inside the window are returned. Post ids are ``at://`` URIs; a post's url is
``https://bsky.app/profile/{handle}/post/{rkey}``.

Account options: ``notifications`` (default false), ``thread_depth`` (default 100),
``max_pages`` (per listing, default 50).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
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
    window_record,
)
from auditor.sources.platforms.bluesky_views import (
    Brand,
    absent_record,
    atproto_time,
    hidden_replies,
    is_blocked,
    is_not_found,
    merge_post,
    post_record,
    profile_not_returned,
    read_bluesky_rate_limit,
    uri_time,
    view_record,
    xrpc_error,
)

PLATFORM = "bluesky"
DEFAULT_BASE_URL = "https://public.api.bsky.app"
PAGE_LIMIT = "100"
DEFAULT_MAX_PAGES = 50
DEFAULT_THREAD_DEPTH = 100
NOTIFICATION_REASONS = ("mention", "reply")
# Listings run by the earlier of ``createdAt`` (the client's word) and ``indexedAt``: a post
# indexed late sits below posts already read, so each run reads this far below its mark.
LISTING_OVERLAP = timedelta(hours=2)

GET_PROFILE = "xrpc/app.bsky.actor.getProfile"
GET_AUTHOR_FEED = "xrpc/app.bsky.feed.getAuthorFeed"
GET_POST_THREAD = "xrpc/app.bsky.feed.getPostThread"
LIST_NOTIFICATIONS = "xrpc/app.bsky.notification.listNotifications"
# The error getPostThread's lexicon declares for a post that does not exist; the AppView sends
# it as an XRPC error body (HTTP 400). Only this name, never a bare status, means deleted.
THREAD_NOT_FOUND = "NotFound"

# Bluesky's PDS limits every API request to 3,000 per 5 minutes per IP; the AppView's limits
# are documented only as "generous", so the PDS figure is the conservative plan.
FIVE_MINUTES = 300
XRPC_LIMIT = RateLimit("xrpc", 3000, FIVE_MINUTES, "ip")


class BlueskyProtocol(Protocol):
    """One Bluesky account for one window."""

    platform: ClassVar[str] = PLATFORM
    observes: ClassVar[frozenset[str]] = observability()[PLATFORM].observes
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    default_token_env: ClassVar[str] = "BLUESKY_TOKEN"
    requires_token: ClassVar[bool] = False
    rate_limits: ClassVar[Mapping[str, RateLimit]] = {
        purpose: XRPC_LIMIT for purpose in ("profile", "author_feed", "notifications", "thread")
    }
    read_rate_limit = staticmethod(read_bluesky_rate_limit)

    def __init__(self, spec: FetchSpec) -> None:
        super().__init__(spec)
        did = spec.cursor.get("did")
        self.brand = Brand(spec.account, did if isinstance(did, str) else None)
        self.pages = PageBudget(_positive_int(spec.options.get("max_pages"), DEFAULT_MAX_PAGES))
        self.depth = _positive_int(spec.options.get("thread_depth"), DEFAULT_THREAD_DEPTH)
        self.want_notifications = spec.options.get("notifications") is True

        self.posts: dict[str, Record] = {}
        # Thread roots (URI → created_at) still inside the window: re-read every run, which is
        # how replies hidden or deleted after an earlier run come to light.
        self.roots: dict[str, str] = {
            str(uri): str(when)
            for uri, when in dict(spec.cursor.get("threads") or {}).items()
            if (t := atproto_time(when)) is not None and t >= spec.window_start
        }
        self.threads_requested: set[str] = set()
        self.newest: dict[str, datetime | None] = {
            purpose: atproto_time(spec.cursor.get(f"{purpose}_newest"))
            for purpose in ("author_feed", "notifications")
        }
        self.seen_newest: dict[str, datetime | None] = dict(self.newest)
        self.listing_ok: dict[str, bool] = {"author_feed": True, "notifications": True}

    # --- requests ---

    def start(self) -> list[Request]:
        actor = self.brand.handle
        requests = [
            Request("profile", GET_PROFILE, (("actor", actor),)),
            Request(
                "author_feed",
                GET_AUTHOR_FEED,
                (("actor", actor), ("filter", "posts_with_replies"), ("limit", PAGE_LIMIT)),
            ),
        ]
        if self.want_notifications:
            reasons = tuple(("reasons", r) for r in NOTIFICATION_REASONS)
            requests.append(
                Request("notifications", LIST_NOTIFICATIONS, (("limit", PAGE_LIMIT), *reasons))
            )
        requests.extend(self._thread_requests(sorted(self.roots)))
        return requests

    def estimate(self) -> dict[str, int]:
        counts = {"profile": 1, "author_feed": 1}
        if self.want_notifications:
            counts["notifications"] = 1
        if self.roots:
            counts["thread"] = len(self.roots)
        return counts

    def _thread_requests(self, uris: Iterable[str]) -> list[Request]:
        requests = []
        for uri in uris:
            if uri in self.threads_requested:
                continue
            self.threads_requested.add(uri)
            requests.append(
                Request("thread", GET_POST_THREAD, (("uri", uri), ("depth", str(self.depth))))
            )
        return requests

    def _next(self, request: Request, body: Any, reached_start: bool) -> list[Request]:
        cursor = body.get("cursor") if isinstance(body, Mapping) else None
        if reached_start or not isinstance(cursor, str) or not cursor:
            return []
        if not self.pages.allow(request.purpose):
            self.listing_ok[request.purpose] = False
            return []
        params = tuple((k, v) for k, v in request.params if k != "cursor")
        return [Request(request.purpose, request.path, (*params, ("cursor", cursor)))]

    # --- answers ---

    def receive(self, request: Request, page: Page) -> Step:
        if request.purpose == "profile":
            return self._on_profile(page.body)
        if request.purpose == "author_feed":
            return self._on_author_feed(request, page.body)
        if request.purpose == "notifications":
            return self._on_notifications(request, page.body)
        if request.purpose == "thread":
            return self._on_thread(request, page.body)
        return Step()

    def refused(self, request: Request, page: Page) -> Step:
        if request.purpose == "thread" and xrpc_error(page.body) == THREAD_NOT_FOUND:
            # getPostThread's documented error for a root that no longer exists: deleted.
            uri = dict(request.params).get("uri", "")
            self._keep(absent_record(self.spec, self.brand, uri, visibility="deleted"))
            return Step()
        # Any other refusal (a proxy's plain-text 404, InvalidRequest ...) read nothing.
        return super().refused(request, page)

    def failed(self, request: Request, reason: str) -> Step:
        if request.purpose in self.listing_ok:
            self.listing_ok[request.purpose] = False
        return super().failed(request, reason)

    def finish(self) -> tuple[list[Record], Cursor]:
        records = sorted(self.posts.values(), key=lambda r: (r["created_at"], r["id"]))
        records.append(
            window_record(
                self.spec,
                missing=self.missing + self.pages.cut_short,
                observes=self.observes,
                fetched_at=self.fetched_at(),
            )
        )
        return records, self._cursor()

    def _on_profile(self, body: Any) -> Step:
        profile = body if isinstance(body, Mapping) else {}
        if isinstance(profile.get("did"), str):
            self.brand.did = profile["did"]
            self._recheck_brand()
        record: Record = {
            "kind": "profile",
            "platform": self.spec.platform,
            "account": self.spec.account,
            "display_name": profile.get("displayName"),
            "bio": profile.get("description"),
            "website": profile.get("website"),
            "hours": None,
            "fetched_at": iso(self.fetched_at()),
            "not_returned": profile_not_returned(profile),
        }
        return Step(records=[record])

    def _recheck_brand(self) -> None:
        """Posts kept before the DID was known: ``by_brand`` by DID now."""
        for record in self.posts.values():
            record["by_brand"] = self.brand.owns(record.get("author_id"), record.get("author"))
            if record["by_brand"] and record["author"] == record["author_id"]:
                record["author"] = self.brand.handle

    def _already_read(self, purpose: str, created: datetime) -> bool:
        """Newest-first listings end at the window start, or LISTING_OVERLAP below the mark."""
        mark = self.newest[purpose]
        return created < self.spec.window_start or (
            mark is not None and created < mark - LISTING_OVERLAP
        )

    def _on_author_feed(self, request: Request, body: Any) -> Step:
        step = Step()
        reached_start = False
        items = body.get("feed") if isinstance(body, Mapping) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or item.get("reason"):
                # Reposts and the pinned post are not the brand's new activity, and the pin
                # would end the paging early.
                continue
            view = item.get("post")
            record = view_record(self.spec, self.brand, view, set()) if view else None
            if record is None:
                continue
            created = atproto_time(record["created_at"])
            assert created is not None
            if self._already_read("author_feed", created):
                reached_start = True
                break
            self._note_newest("author_feed", created)
            self._keep(record)
            self._keep_reply_refs(item.get("reply"), record)
            step.requests.extend(self._thread_for(record))
        step.requests.extend(self._next(request, body, reached_start))
        return step

    def _keep_reply_refs(self, reply: Any, child: Record) -> None:
        """The parent and root a feed item shows: customers' posts, or deleted ones."""
        if not isinstance(reply, Mapping):
            return
        for which in ("parent", "root"):
            node = reply.get(which)
            if is_not_found(node):
                uri = node.get("uri") if isinstance(node, Mapping) else None
                if isinstance(uri, str):
                    self._keep(
                        absent_record(
                            self.spec,
                            self.brand,
                            uri,
                            visibility="deleted",
                            thread=child["thread"],
                            fallback_time=atproto_time(child["created_at"]),
                        )
                    )
            elif isinstance(node, Mapping) and not is_blocked(node):
                self._keep(view_record(self.spec, self.brand, node, set()))

    def _on_notifications(self, request: Request, body: Any) -> Step:
        step = Step()
        reached_start = False
        items = body.get("notifications") if isinstance(body, Mapping) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or item.get("reason") not in NOTIFICATION_REASONS:
                continue
            uri, author, post = item.get("uri"), item.get("author"), item.get("record")
            if not isinstance(uri, str) or not isinstance(author, Mapping):
                continue
            record = post_record(
                self.spec,
                self.brand,
                uri=uri,
                author=author,
                record=post if isinstance(post, Mapping) else {},
                indexed_at=item.get("indexedAt"),
            )
            if record is None:
                continue
            if item.get("reason") == "mention":  # the platform's word that it names the brand
                record["mentions"] = [*(record["mentions"] or []), self.brand.handle]
            created = atproto_time(record["created_at"])
            assert created is not None
            if self._already_read("notifications", created):
                reached_start = True
                break
            self._note_newest("notifications", created)
            self._keep(record)
            step.requests.extend(self._thread_for(record))
        step.requests.extend(self._next(request, body, reached_start))
        return step

    def _thread_for(self, record: Record) -> list[Request]:
        root = str(record["thread"])
        if root not in self.roots:
            when = uri_time(root) or atproto_time(record["created_at"])
            if when is not None:
                self.roots[root] = iso(when)
        return self._thread_requests([root])

    def _on_thread(self, request: Request, body: Any) -> Step:
        root = dict(request.params).get("uri", "")
        hidden = hidden_replies(body)
        thread = body.get("thread") if isinstance(body, Mapping) else None
        shown: set[str] = set()
        self._walk(thread, root, hidden, shown, parent_uri=None)
        for uri in sorted(hidden - shown):
            # Hidden replies the view left out: known by URI (author DID and TID time) only.
            self._keep(absent_record(self.spec, self.brand, uri, visibility="hidden", thread=root))
        return Step()

    def _walk(
        self, node: Any, root: str, hidden: set[str], shown: set[str], parent_uri: str | None
    ) -> None:
        if is_not_found(node):
            uri = node.get("uri") if isinstance(node, Mapping) else None
            if isinstance(uri, str):
                shown.add(uri)
                self._keep(
                    absent_record(
                        self.spec,
                        self.brand,
                        uri,
                        visibility="deleted",
                        thread=root,
                        in_reply_to=parent_uri if uri != root else None,
                    )
                )
            return
        if not isinstance(node, Mapping) or is_blocked(node):
            return
        view = node.get("post")
        record = view_record(self.spec, self.brand, view, hidden) if view else None
        if record is not None:
            shown.add(record["id"])
            self._keep(record)
        parent = node.get("parent")
        if parent is not None and record is not None and parent_uri is None:
            self._walk_up(parent, root, hidden, shown)
        replies = node.get("replies")
        for reply in replies if isinstance(replies, list) else []:
            self._walk(reply, root, hidden, shown, record["id"] if record else parent_uri)

    def _walk_up(self, node: Any, root: str, hidden: set[str], shown: set[str]) -> None:
        """Ancestors of the requested post (only when it was not the root after all)."""
        while node is not None:
            if is_not_found(node) or is_blocked(node) or not isinstance(node, Mapping):
                self._walk(node, root, hidden, shown, parent_uri=None)
                return
            self._walk({"post": node.get("post")}, root, hidden, shown, parent_uri=None)
            node = node.get("parent")

    def _keep(self, record: Record | None) -> None:
        if record is None:
            return
        created = atproto_time(record["created_at"])
        if created is None or not self.spec.window_start <= created <= self.spec.window_end:
            return
        self.posts[record["id"]] = merge_post(self.posts.get(record["id"]), record)

    def _note_newest(self, purpose: str, created: datetime) -> None:
        if created > self.spec.window_end:
            # Written while this fetch ran, so not kept (the window ends at the fetch's start):
            # the mark must stay below it, or the next run would take it for already read.
            return
        current = self.seen_newest[purpose]
        if current is None or created > current:
            self.seen_newest[purpose] = created

    def _cursor(self) -> Cursor:
        """The brand's DID, thread roots still to re-read, and how far each listing got.

        A listing that failed keeps the previous run's mark, so nothing it missed is skipped.
        """
        cursor: Cursor = {
            "threads": {
                uri: when
                for uri, when in sorted(self.roots.items())
                if (t := atproto_time(when)) is not None and t >= self.spec.window_start
            }
        }
        if self.brand.did:
            cursor["did"] = self.brand.did
        for purpose, ok in self.listing_ok.items():
            mark = self.seen_newest[purpose] if ok else self.newest[purpose]
            if mark is not None:
                cursor[f"{purpose}_newest"] = iso(mark)
        return cursor


def _positive_int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value > 0 else default


__all__ = [
    "DEFAULT_BASE_URL",
    "BlueskyProtocol",
]
