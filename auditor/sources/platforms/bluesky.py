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
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

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
    header_int,
    iso,
    observability,
    window_record,
)

PLATFORM = "bluesky"
DEFAULT_BASE_URL = "https://public.api.bsky.app"
PAGE_LIMIT = "100"
DEFAULT_MAX_PAGES = 50
DEFAULT_THREAD_DEPTH = 100
NOTIFICATION_REASONS = ("mention", "reply")
# The AppView lists newest first by the earlier of ``createdAt`` (the author's client's word)
# and ``indexedAt``, so a post it indexed late sits below posts an earlier run already read.
# Each run reads this far below its mark; later indexing than that is missed outside threads
# the cursor re-reads (docs/fetching.md).
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

# Record keys (TIDs) are 13 characters of base32-sortable: 53 bits of microseconds since the
# epoch, then 10 bits of clock id.
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_LENGTH = 13


# --- pure helpers ---------------------------------------------------------------------------


def read_bluesky_rate_limit(headers: Mapping[str, str], now: float) -> RateInfo:
    """``RateLimit-Remaining`` and ``RateLimit-Reset`` in epoch seconds."""
    return RateInfo(
        header_int(headers.get("ratelimit-remaining")),
        header_float(headers.get("ratelimit-reset")),
    )


def atproto_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def split_at_uri(uri: str) -> tuple[str, str, str] | None:
    """``at://{did}/{collection}/{rkey}`` as (did, collection, rkey)."""
    if not uri.startswith("at://"):
        return None
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def tid_time(rkey: str) -> datetime | None:
    """When a record with this TID key was created, or None if the key is not a TID."""
    if len(rkey) != _TID_LENGTH or any(c not in _TID_ALPHABET for c in rkey):
        return None
    value = 0
    for char in rkey:
        value = value * 32 + _TID_ALPHABET.index(char)
    micros = value >> 10
    try:
        return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def uri_time(uri: str) -> datetime | None:
    parts = split_at_uri(uri)
    return tid_time(parts[2]) if parts else None


def post_url(handle_or_did: str, uri: str) -> str | None:
    parts = split_at_uri(uri)
    if parts is None:
        return None
    return f"https://bsky.app/profile/{handle_or_did}/post/{parts[2]}"


def _ref_uri(reply: Any, which: str) -> str | None:
    ref = reply.get(which) if isinstance(reply, Mapping) else None
    uri = ref.get("uri") if isinstance(ref, Mapping) else None
    return uri if isinstance(uri, str) and uri else None


def hidden_replies(body: Any) -> set[str]:
    """The URIs a thread's threadgate hides: from the output's ``threadgate`` and the root's."""
    gates: list[Any] = []
    if isinstance(body, Mapping):
        gates.append(body.get("threadgate"))
        thread = body.get("thread")
        post = thread.get("post") if isinstance(thread, Mapping) else None
        if isinstance(post, Mapping):
            gates.append(post.get("threadgate"))
    hidden: set[str] = set()
    for gate in gates:
        record = gate.get("record") if isinstance(gate, Mapping) else None
        uris = record.get("hiddenReplies") if isinstance(record, Mapping) else None
        if isinstance(uris, list):
            hidden.update(u for u in uris if isinstance(u, str))
    return hidden


def xrpc_error(body: Any) -> str | None:
    """The ``error`` name of an XRPC error body (``{"error": "NotFound", "message": ...}``)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, str) and error else None


def _is_not_found(node: Any) -> bool:
    return isinstance(node, Mapping) and (
        node.get("notFound") is True or node.get("$type") == "app.bsky.feed.defs#notFoundPost"
    )


def _is_blocked(node: Any) -> bool:
    return isinstance(node, Mapping) and (
        node.get("blocked") is True or node.get("$type") == "app.bsky.feed.defs#blockedPost"
    )


# The profile fields a ``profileViewDetailed`` carries. The lexicon makes ``displayName`` and
# ``description`` optional and leaves them out when the brand left them blank, so their absence
# is an empty field; an answer without the required ``did`` and ``handle`` is not a profile view
# at all, and then none of them arrived. Bluesky has no website or hours field.
PROFILE_FIELDS_OF_VIEW = ("display_name", "bio")


def profile_not_returned(view: Mapping[str, Any]) -> list[str]:
    """The profile fields a getProfile answer did not return: all of them, or none."""
    is_view = isinstance(view.get("did"), str) and isinstance(view.get("handle"), str)
    return [] if is_view else list(PROFILE_FIELDS_OF_VIEW)


class Brand:
    """Who the brand is: its handle (the account) and, once known, its DID."""

    def __init__(self, handle: str, did: str | None) -> None:
        self.handle = handle.lstrip("@").lower()
        self.did = did

    def owns(self, did: str | None, handle: str | None) -> bool:
        if did is not None and self.did is not None:
            return did == self.did
        return handle is not None and handle.lower() == self.handle


def post_record(
    spec: FetchSpec,
    brand: Brand,
    *,
    uri: str,
    author: Mapping[str, Any],
    record: Mapping[str, Any],
    indexed_at: Any = None,
    visibility: str = "public",
) -> Record | None:
    """A post from its URI, author view and ``app.bsky.feed.post`` record."""
    created = atproto_time(record.get("createdAt")) or atproto_time(indexed_at)
    if created is None:
        return None
    did = author.get("did") if isinstance(author.get("did"), str) else None
    handle = author.get("handle") if isinstance(author.get("handle"), str) else None
    reply = record.get("reply")
    return {
        "kind": "post",
        "platform": spec.platform,
        "account": spec.account,
        "id": uri,
        "author": handle or did or "unknown",
        "author_id": did,
        "by_brand": brand.owns(did, handle),
        "created_at": iso(created),
        "text": str(record.get("text") or ""),
        "in_reply_to": _ref_uri(reply, "parent"),
        "thread": _ref_uri(reply, "root") or uri,
        "visibility": visibility,
        "deleted_by": None,
        "url": post_url(handle or did or "", uri),
        "source": None,
        "automated": None,
        "mentions": facet_mentions(record, brand),
    }


MENTION_FACET = "app.bsky.richtext.facet#mention"


def facet_mentions(record: Mapping[str, Any], brand: Brand) -> list[str] | None:
    """What the record's mention facets name: each DID (the brand's as its handle) and the
    handle the text shows there. None without ``facets`` (none made): the text is read."""
    facets = record.get("facets")
    if not isinstance(facets, list):
        return None
    text = str(record.get("text") or "").encode()
    names: dict[str, None] = {}  # in order, each once
    for facet in (f for f in facets if isinstance(f, Mapping)):
        for feature in facet.get("features") or []:
            if not isinstance(feature, Mapping) or feature.get("$type") != MENTION_FACET:
                continue
            did = feature.get("did")
            if not isinstance(did, str) or not did:
                continue
            names[brand.handle if brand.did == did else did] = None
            # The index counts UTF-8 bytes, start inclusive, end exclusive.
            index = facet["index"] if isinstance(facet.get("index"), Mapping) else {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
                shown = text[start:end].decode(errors="replace").strip()
                if shown.startswith("@") and len(shown) > 1:
                    names[shown[1:]] = None
    return list(names)


def view_record(
    spec: FetchSpec, brand: Brand, view: Mapping[str, Any], hidden: set[str]
) -> Record | None:
    """A post from an ``app.bsky.feed.defs#postView``."""
    uri, author, record = view.get("uri"), view.get("author"), view.get("record")
    if not isinstance(uri, str) or not isinstance(author, Mapping):
        return None
    return post_record(
        spec,
        brand,
        uri=uri,
        author=author,
        record=record if isinstance(record, Mapping) else {},
        indexed_at=view.get("indexedAt"),
        visibility="hidden" if uri in hidden else "public",
    )


def absent_record(
    spec: FetchSpec,
    brand: Brand,
    uri: str,
    *,
    visibility: str,
    thread: str | None = None,
    in_reply_to: str | None = None,
    fallback_time: datetime | None = None,
) -> Record | None:
    """A post known only by its URI: deleted (``notFoundPost``) or hidden and not shown.

    The author is the URI's DID and the creation time its TID key; the text is unknown.
    """
    parts = split_at_uri(uri)
    if parts is None:
        return None
    created = tid_time(parts[2]) or fallback_time
    if created is None:
        return None
    did = parts[0]
    by_brand = brand.did is not None and did == brand.did
    author = brand.handle if by_brand else did
    return {
        "kind": "post",
        "platform": spec.platform,
        "account": spec.account,
        "id": uri,
        "author": author,
        "author_id": did,
        "by_brand": by_brand,
        "created_at": iso(created),
        "text": "",
        "in_reply_to": in_reply_to,
        "thread": thread or uri,
        "visibility": visibility,
        "deleted_by": "unknown" if visibility == "deleted" else None,
        "url": post_url(author, uri),
        "source": None,
        "automated": None,
    }


def merge_post(existing: Record | None, new: Record) -> Record:
    """Two sightings of one post: a full view beats a deletion; hidden once is hidden."""
    if existing is None:
        return new
    if new["visibility"] == "deleted" and existing["visibility"] != "deleted":
        return existing
    if existing["visibility"] == "deleted" and new["visibility"] != "deleted":
        return new
    merged = {**existing, **new}
    if "hidden" in (existing["visibility"], new["visibility"]):
        merged["visibility"] = "hidden"
    if not new["text"] and existing["text"]:
        merged["text"] = existing["text"]
    if existing.get("mentions") is not None or new.get("mentions") is not None:
        # What any sighting says the post mentions (a notification's reason, facets).
        both = [*(existing.get("mentions") or []), *(new.get("mentions") or [])]
        merged["mentions"] = list(dict.fromkeys(both))
    return merged


# --- the protocol ---------------------------------------------------------------------------


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
        """Newest-first listings end at the window start, or ``LISTING_OVERLAP`` below what the
        last run read."""
        newest = self.newest[purpose]
        return created < self.spec.window_start or (
            newest is not None and created < newest - LISTING_OVERLAP
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
            if _is_not_found(node):
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
            elif isinstance(node, Mapping) and not _is_blocked(node):
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
        if _is_not_found(node):
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
        if not isinstance(node, Mapping) or _is_blocked(node):
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
            if _is_not_found(node) or _is_blocked(node) or not isinstance(node, Mapping):
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
    "tid_time",
]
