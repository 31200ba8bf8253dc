"""Bluesky's AppView answers read into records, without I/O: times and record keys, post and
profile views, threadgates and XRPC errors (the protocol in :mod:`.bluesky` drives the requests).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from auditor.sources.platforms.base import (
    FetchSpec,
    RateInfo,
    Record,
    header_float,
    header_int,
    iso,
)

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


def is_not_found(node: Any) -> bool:
    return isinstance(node, Mapping) and (
        node.get("notFound") is True or node.get("$type") == "app.bsky.feed.defs#notFoundPost"
    )


def is_blocked(node: Any) -> bool:
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
