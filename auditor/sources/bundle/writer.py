"""Writing bundles: one JSON line per record, ``kind``, ``platform`` and ``account`` first.

The keys of each kind and their order are those of the typed definition in ``format.py``
(``tests/test_bundle_format.py`` holds :func:`account_records` to it).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from auditor.fsutil import atomic_writer
from auditor.model import AccountData

_FIRST_KEYS = ("kind", "platform", "account")


def dump_record(record: Mapping[str, Any]) -> bytes:
    """One JSON line, ``kind``, ``platform`` and ``account`` first: what the fast reader keys on."""
    ordered = {k: record[k] for k in _FIRST_KEYS if k in record}
    ordered.update((k, v) for k, v in record.items() if k not in ordered)
    return orjson.dumps(ordered, default=_default) + b"\n"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} to a bundle")


def end_record(count: int) -> dict[str, Any]:
    """The closing record: how many records come before it. A reader takes a bundle without it
    for one that may have been cut short."""
    return {"kind": "end", "records": count}


def write_bundle(path: Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write records atomically (a temporary file renamed into place), then the end record;
    ``.gz`` compresses. Returns the number of records (the end record aside)."""
    count = 0
    with atomic_writer(path) as raw:
        zipped = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.suffix == ".gz" else None
        write = zipped.write if zipped is not None else raw.write
        for record in records:
            write(dump_record(record))
            count += 1
        write(dump_record(end_record(count)))
        if zipped is not None:
            zipped.close()
    return count


def account_records(data: AccountData) -> Iterator[dict[str, Any]]:
    """The records of one account in the canonical order: profile, window, posts, conversations."""
    base = {"platform": data.platform, "account": data.account}
    if data.profile is not None:
        p = data.profile
        yield {
            "kind": "profile",
            **base,
            "display_name": p.display_name,
            "bio": p.bio,
            "website": p.website,
            "hours": p.hours,
            "fetched_at": p.fetched_at,
            "not_returned": sorted(p.not_returned),
            **p.extra,
        }
    if data.window is not None:
        w = data.window
        yield {
            "kind": "window",
            **base,
            "window_start": w.start,
            "window_end": w.end,
            "complete": w.complete,
            "reason": w.reason,
            "observes": None if w.observes is None else sorted(w.observes),
            "fetched_at": w.fetched_at,
            "lost": None if w.lost is None else sorted(w.lost),
            **w.extra,
        }
    for post in data.posts:
        yield {
            "kind": "post",
            **base,
            "id": post.id,
            "author": post.author,
            "author_id": post.author_id,
            "by_brand": post.by_brand,
            "created_at": post.created_at,
            "text": post.text,
            "in_reply_to": post.in_reply_to,
            "thread": post.thread,
            "visibility": post.visibility,
            "deleted_by": post.deleted_by,
            "url": post.url,
            "source": post.source,
            "automated": post.automated,
            "mentions": post.mentions,
            **post.extra,
        }
    for conversation in data.conversations:
        yield {
            "kind": "conversation",
            **base,
            "id": conversation.id,
            "customer": conversation.customer,
            "messages": [
                {"id": m.id, "by_brand": m.by_brand, "created_at": m.created_at, "text": m.text}
                for m in conversation.messages
            ],
            "resolved_at": conversation.resolved_at,
            "linked_post": conversation.linked_post,
            **conversation.extra,
        }
