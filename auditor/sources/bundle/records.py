"""One bundle record into the model, validated by hand so that each error names its key.

The keys and what each may hold are those of the typed definition in ``format.py``; the checks
here are written out because they run once per line of large bundles and say in plain words what
is wrong (``'by_brand' must be true or false``). ``tests/test_bundle_format.py`` holds them to
the definition's verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from auditor.model import (
    DATA_KINDS,
    DELETERS,
    OBSERVABLES,
    POST_KINDS,
    PROFILE_FIELDS,
    RECORD_KINDS,
    VISIBILITIES,
    AccountData,
    AccountKey,
    Conversation,
    Message,
    Post,
    Profile,
    Visibility,
    Window,
)
from auditor.sources.bundle.format import (
    CONVERSATION_KEYS,
    POST_KEYS,
    PROFILE_KEYS,
    WINDOW_KEYS,
)


class RecordError(ValueError):
    """One record that breaks the bundle format; the message says what is wrong."""


# Every time in the data falls in this range: a post dated year 1 or 9999 is a broken export,
# and time arithmetic near the ends of the calendar overflows. Fixed bounds, not the clock's:
# the same bundle reads the same way whenever it is read.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def time_out_of_range(moment: datetime) -> str | None:
    """What is wrong with ``moment`` when it is outside the times data may hold, else None."""
    if moment < EARLIEST_TIME:
        return f"is before {EARLIEST_TIME.year}"
    if moment >= LATEST_TIME:
        return f"is not before {LATEST_TIME.year}"
    return None


def parse_time(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be an ISO 8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"'{key}' is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(f"'{key}' has no UTC offset: {value[:40]!r}")
    problem = time_out_of_range(parsed)
    if problem is not None:
        raise RecordError(f"'{key}' {problem}: {value[:40]!r}")
    return parsed


def _optional_time(record: Mapping[str, Any], key: str) -> datetime | None:
    value = record.get(key)
    return None if value is None else parse_time(value, key)


def _required_str(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # numeric ids are common in exports; they are ids, not numbers
    if value is None:
        raise RecordError(f"missing '{key}'")
    raise RecordError(f"'{key}' must be a non-empty string")


def _optional_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"'{key}' must be a string or null")


def _bool(record: Mapping[str, Any], key: str) -> bool:
    value = record.get(key)
    if isinstance(value, bool):
        return value
    raise RecordError(f"'{key}' must be true or false" if key in record else f"missing '{key}'")


def _optional_bool(record: Mapping[str, Any], key: str) -> bool | None:
    value = record.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise RecordError(f"'{key}' must be true, false or null")


def _extra(record: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    if record.keys() <= known:
        return {}
    return {k: v for k, v in record.items() if k not in known}


def _hours(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError('\'hours\' must be an object like {"timezone": ..., "weekly": ...}')
    return value


def _one_of(value: Any, allowed: frozenset[str]) -> bool:
    # A list or an object on a line is unhashable: it is a wrong value, not a crash.
    return isinstance(value, str) and value in allowed


def post_from_record(record: Mapping[str, Any]) -> Post:
    visibility: Visibility = record.get("visibility") or "public"
    if not _one_of(visibility, VISIBILITIES):
        raise RecordError(f"'visibility' must be one of public, hidden, deleted: {visibility!r}")
    deleted_by = record.get("deleted_by")
    if deleted_by is not None and not _one_of(deleted_by, DELETERS):
        raise RecordError(f"'deleted_by' must be author, brand or unknown: {deleted_by!r}")
    text = record.get("text")
    if text is None:
        text = ""
    elif not isinstance(text, str):
        raise RecordError("'text' must be a string")
    return Post(
        id=_required_str(record, "id"),
        author=_required_str(record, "author"),
        by_brand=_bool(record, "by_brand"),
        created_at=parse_time(record.get("created_at"), "created_at"),
        text=text,
        author_id=_optional_str(record, "author_id"),
        in_reply_to=_optional_str(record, "in_reply_to"),
        thread=_optional_str(record, "thread"),
        visibility=visibility,
        deleted_by=deleted_by,
        url=_optional_str(record, "url"),
        source=_optional_str(record, "source"),
        automated=_optional_bool(record, "automated"),
        mentions=_mentions(record.get("mentions")),
        extra=_extra(record, POST_KEYS),
    )


def _mentions(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RecordError("'mentions' must be a list of handles or ids (non-empty strings)")
    return value


def _not_returned(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError("'not_returned' must be a list of field names")
    unknown = sorted(set(value) - PROFILE_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(PROFILE_FIELDS))
        raise RecordError(f"'not_returned' has {unknown[0]!r}; allowed: {allowed}")
    return frozenset(value)


def profile_from_record(record: Mapping[str, Any]) -> Profile:
    return Profile(
        platform=_required_str(record, "platform"),
        account=_required_str(record, "account"),
        display_name=_optional_str(record, "display_name"),
        bio=_optional_str(record, "bio"),
        website=_optional_str(record, "website"),
        hours=_hours(record.get("hours")),
        fetched_at=_optional_time(record, "fetched_at"),
        extra=_extra(record, PROFILE_KEYS),
        not_returned=_not_returned(record.get("not_returned")),
    )


def _message(value: Any, index: int) -> Message:
    if not isinstance(value, dict):
        raise RecordError(f"messages[{index}] must be an object")
    try:
        return Message(
            id=_required_str(value, "id"),
            by_brand=_bool(value, "by_brand"),
            created_at=parse_time(value.get("created_at"), "created_at"),
            text=_optional_str(value, "text") or "",
        )
    except RecordError as error:
        raise RecordError(f"messages[{index}]: {error}") from None


def conversation_from_record(record: Mapping[str, Any]) -> Conversation:
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise RecordError("'messages' must be a list")
    parsed = sorted((_message(m, i) for i, m in enumerate(messages)), key=lambda m: m.created_at)
    return Conversation(
        id=_required_str(record, "id"),
        customer=_required_str(record, "customer"),
        messages=parsed,
        resolved_at=_optional_time(record, "resolved_at"),
        linked_post=_optional_str(record, "linked_post"),
        extra=_extra(record, CONVERSATION_KEYS),
    )


def window_from_record(record: Mapping[str, Any]) -> Window:
    start = parse_time(record.get("window_start"), "window_start")
    end = parse_time(record.get("window_end"), "window_end")
    if end < start:
        raise RecordError("'window_end' is before 'window_start'")
    observes = record.get("observes")
    if observes is not None:
        if not isinstance(observes, list) or not all(isinstance(o, str) for o in observes):
            raise RecordError("'observes' must be a list of strings")
        unknown = sorted(set(observes) - OBSERVABLES)
        if unknown:
            raise RecordError(
                f"'observes' has {unknown[0]!r}; allowed: {', '.join(sorted(OBSERVABLES))}"
            )
    return Window(
        start=start,
        end=end,
        complete=_optional_bool(record, "complete"),
        reason=_optional_str(record, "reason"),
        observes=None if observes is None else frozenset(observes),
        fetched_at=_optional_time(record, "fetched_at"),
        extra=_extra(record, WINDOW_KEYS),
        lost=_lost(record.get("lost")),
    )


def _lost(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError("'lost' must be a list of data kinds")
    unknown = sorted(set(value) - DATA_KINDS)
    if unknown:
        raise RecordError(f"'lost' has {unknown[0]!r}; allowed: {', '.join(sorted(DATA_KINDS))}")
    return frozenset(value)


def kinds_of_record(record: Any) -> frozenset[str]:
    """The kinds of data a record holds, for one that could not be read: what skipping it
    loses. What a record does not say (a post's side, a line that is not a record) is taken
    at its widest."""
    if not isinstance(record, Mapping):
        return DATA_KINDS
    kind = record.get("kind")
    if kind == "profile":
        return frozenset({"profile"})
    if kind == "conversation":
        return frozenset({"conversations"})
    if kind != "post":
        return DATA_KINDS  # a window that cannot be read says nothing of what arrived
    by_brand = record.get("by_brand")
    kinds = set(POST_KINDS)
    if isinstance(by_brand, bool):
        kinds = {"brand_posts" if by_brand else "customer_posts"}
    visibility = record.get("visibility")
    if visibility in ("hidden", "deleted"):
        kinds.add(visibility)
    return frozenset(kinds)


def record_key(record: Any) -> AccountKey:
    if not isinstance(record, dict):
        raise RecordError("a line must hold one JSON object")
    kind = record.get("kind")
    if not _one_of(kind, RECORD_KINDS):
        raise RecordError(f"'kind' must be one of conversation, post, profile, window: {kind!r}")
    return AccountKey(_required_str(record, "platform"), _required_str(record, "account"))


def add_record(data: AccountData, record: Mapping[str, Any]) -> None:
    """Validate one record and add it to its account; raises RecordError."""
    kind = record.get("kind")
    if kind == "post":
        data.posts.append(post_from_record(record))
    elif kind == "profile":
        data.profile = profile_from_record(record)
    elif kind == "conversation":
        data.conversations.append(conversation_from_record(record))
    elif kind != "window":
        raise RecordError(f"'kind' must be one of conversation, post, profile, window: {kind!r}")
    else:
        window = window_from_record(record)
        if data.window is not None:
            # Several windows (incremental fetches appended): their union, complete only if
            # every part was.
            window = merge_windows(data.window, window)
        data.window = window


def merge_windows(a: Window, b: Window) -> Window:
    complete = None if a.complete is None or b.complete is None else a.complete and b.complete
    reasons = [r for r in (a.reason, b.reason) if r]
    observes = None if a.observes is None or b.observes is None else a.observes & b.observes
    fetched = [t for t in (a.fetched_at, b.fetched_at) if t is not None]
    # What either part lost is lost from the union.
    lost = a.lost_kinds | b.lost_kinds if complete is False else None
    return Window(
        start=min(a.start, b.start),
        end=max(a.end, b.end),
        complete=complete,
        reason="; ".join(dict.fromkeys(reasons)) or None,
        observes=observes,
        fetched_at=max(fetched) if fetched else None,
        extra={**a.extra, **b.extra},
        lost=lost,
    )


def accounts_from_records(records: Iterable[Mapping[str, Any]]) -> Iterator[AccountData]:
    """Accounts from records grouped by account (as sources other than bundles produce them)."""
    data: AccountData | None = None
    for record in records:
        key = record_key(record)
        if data is None or data.key != key:
            if data is not None:
                yield data
            data = AccountData(key=key)
        add_record(data, record)
    if data is not None:
        yield data
