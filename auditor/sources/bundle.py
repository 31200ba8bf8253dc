"""Reading and writing bundles: the canonical JSON Lines export format (``docs/bundle.md``).

Reading streams. A first pass finds the line on which each account's records end, so that a
bundle grouped by account (as :func:`write_bundle` writes them) is handed out one account at a
time and memory is bounded by the largest account; an interleaved bundle works too, holding the
accounts that are still open. The first pass reads the ``kind``/``platform``/``account`` prefix
that this project's writer puts first on every line and parses the whole line only when a line
does not start that way.

Validation is done by hand, not with the JSON Schema, because it runs once per line on bundles of
millions of lines; ``tests/test_bundle.py`` holds the two to the same verdicts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import msgspec
import orjson

from auditor.fsutil import atomic_writer
from auditor.model import (
    DELETERS,
    OBSERVABLES,
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

PROFILE_KEYS = frozenset(
    {"kind", "platform", "account", "display_name", "bio", "website", "hours", "fetched_at"}
)
POST_KEYS = frozenset(
    {
        "kind",
        "platform",
        "account",
        "id",
        "author",
        "author_id",
        "by_brand",
        "created_at",
        "text",
        "in_reply_to",
        "thread",
        "visibility",
        "deleted_by",
        "url",
        "source",
        "automated",
    }
)
CONVERSATION_KEYS = frozenset(
    {"kind", "platform", "account", "id", "customer", "messages", "resolved_at", "linked_post"}
)
WINDOW_KEYS = frozenset(
    {
        "kind",
        "platform",
        "account",
        "window_start",
        "window_end",
        "complete",
        "reason",
        "observes",
        "fetched_at",
    }
)


class BundleError(Exception):
    """A bundle that cannot be read at all (missing, not JSON Lines, not gzip)."""


@dataclass(frozen=True, slots=True)
class LineError:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class RecordError(ValueError):
    """One record that breaks the bundle format; the message says what is wrong."""


# ---------------------------------------------------------------------------------------------
# Parsing one record


def parse_time(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be an ISO 8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"'{key}' is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(f"'{key}' has no UTC offset: {value[:40]!r}")
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


def post_from_record(record: Mapping[str, Any]) -> Post:
    visibility: Visibility = record.get("visibility") or "public"
    if visibility not in VISIBILITIES:
        raise RecordError(f"'visibility' must be one of public, hidden, deleted: {visibility!r}")
    deleted_by = record.get("deleted_by")
    if deleted_by is not None and deleted_by not in DELETERS:
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
        extra=_extra(record, POST_KEYS),
    )


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
    )


def record_key(record: Any) -> AccountKey:
    if not isinstance(record, dict):
        raise RecordError("a line must hold one JSON object")
    kind = record.get("kind")
    if kind not in RECORD_KINDS:
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
    return Window(
        start=min(a.start, b.start),
        end=max(a.end, b.end),
        complete=complete,
        reason="; ".join(dict.fromkeys(reasons)) or None,
        observes=observes,
        fetched_at=max(fetched) if fetched else None,
        extra={**a.extra, **b.extra},
    )


# ---------------------------------------------------------------------------------------------
# Reading files


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    try:
        raw = path.open("rb")
    except OSError as error:
        raise BundleError(f"{path}: cannot open bundle: {error.strerror or error}") from None
    with raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield io.BufferedReader(unzipped, buffer_size=1 << 20)
        else:
            yield raw


def _lines(path: Path) -> Iterator[bytes]:
    with _open_binary(path) as stream:
        try:
            yield from stream
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise BundleError(f"{path}: cannot read bundle: {error}") from None


# The line prefix this project's writer puts first; a line that starts another way is parsed.
_PREFIX = re.compile(rb'\{"kind":"[a-z]+","platform":"([^"\\]+)","account":"([^"\\]+)"')
_KEYS: dict[tuple[bytes, bytes], AccountKey] = {}


def _fast_key(line: bytes) -> AccountKey | None:
    """The account of a line written in this project's key order, without parsing it."""
    match = _PREFIX.match(line)
    if match is None:
        return None
    raw = (match.group(1), match.group(2))
    key = _KEYS.get(raw)
    if key is None:
        key = _KEYS[raw] = AccountKey(raw[0].decode(), raw[1].decode())
    return key


def _line_key(line: bytes) -> AccountKey:
    """The account a line belongs to; raises RecordError when no account can be told."""
    key = _fast_key(line)
    if key is not None:
        return key
    try:
        return record_key(orjson.loads(line))
    except orjson.JSONDecodeError as error:
        raise RecordError(f"not JSON: {error}") from None


@dataclass(slots=True)
class AccountSpan:
    """Where one account's lines are: line numbers and byte offsets (first to past-the-last)."""

    first_line: int
    last_line: int
    start: int
    end: int


@dataclass(slots=True)
class BundleIndex:
    """What a first pass over a bundle learns: accounts, their spans, and lines of no account."""

    path: Path
    sha256: str = ""
    spans: dict[AccountKey, AccountSpan] = field(default_factory=dict)
    # True when every account's lines stand together, so that each can be read on its own.
    grouped: bool = True
    unattributed: list[LineError] = field(default_factory=list)
    lines: int = 0

    @property
    def seekable(self) -> bool:
        return self.grouped and self.path.suffix != ".gz"


def index_bundle(path: Path) -> BundleIndex:
    """The first pass: hash the file and find where each account's lines are.

    The hash is computed on a thread (hashlib lets go of the GIL) while the lines are scanned;
    a post line that starts with the previous line's account prefix is counted without even
    the prefix regex, since grouped bundles are made of long runs of them.
    """
    index = BundleIndex(path=path)
    with ThreadPoolExecutor(max_workers=1) as hasher:
        digest = hasher.submit(file_sha256, path)
        _scan(index, _lines(path))
        try:
            index.sha256 = digest.result()
        except OSError as error:
            raise BundleError(f"{path}: cannot read bundle: {error}") from None
    return index


def _post_prefix(key: AccountKey) -> bytes:
    return b'{"kind":"post","platform":"%s","account":"%s"' % (
        key.platform.encode(),
        key.account.encode(),
    )


def _scan(index: BundleIndex, lines: Iterator[bytes]) -> None:
    spans = index.spans
    offset = number = last_number = last_end = 0
    key: AccountKey | None = None
    span: AccountSpan | None = None
    fast: bytes | None = None  # the post-line prefix of the account of the line before
    for number, line in enumerate(lines, start=1):
        start = offset
        offset += len(line)
        if fast is not None and line.startswith(fast):
            last_number, last_end = number, offset
            continue
        if span is not None and last_number > span.last_line:
            span.last_line, span.end = last_number, last_end
        if not line.strip():
            continue
        fast = None
        try:
            line_key = _line_key(line)
        except RecordError as error:
            index.unattributed.append(LineError(index.path, number, str(error)))
            continue
        line_span = spans.get(line_key)
        if line_span is None:
            line_span = spans[line_key] = AccountSpan(number, number, start, offset)
        else:
            if line_key != key:
                index.grouped = False
            line_span.last_line, line_span.end = number, offset
        key, span = line_key, line_span
        last_number, last_end = number, offset
        if _fast_key(line) is not None:
            fast = _post_prefix(line_key)
    if span is not None and last_number > span.last_line:
        span.last_line, span.end = last_number, last_end
    index.lines = number


class _PostLine(Post, tag="post", tag_field="kind", forbid_unknown_fields=True):
    """A post line as this project's writers write it, decoded in one C call.

    Anything else (unknown keys, numeric ids, a null text, a bad value) fails here and takes the
    general path, which keeps unknown keys and names what is wrong.
    """

    platform: str = ""
    account: str = ""


_decode_post_line = msgspec.json.Decoder(_PostLine).decode
_POST_PREFIX = b'{"kind":"post"'


def _parse_line(
    path: Path, number: int, line: bytes, accounts: dict[AccountKey, AccountData]
) -> AccountData | None:
    """Add one line to its account; a line of no account is skipped (the index listed it)."""
    if line.startswith(_POST_PREFIX):
        try:
            post = _decode_post_line(line)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            # A key named "extra" would land in the field of that name: the general path keeps
            # it among the unknown keys instead.
            if post.platform and post.account and not post.extra:
                post_key = AccountKey(post.platform, post.account)
                found = accounts.get(post_key)
                if found is None:
                    found = accounts[post_key] = AccountData(key=post_key)
                found.posts.append(post)
                return found
    key = _fast_key(line)
    try:
        record = orjson.loads(line)
        if key is None:
            key = record_key(record)
    except (orjson.JSONDecodeError, RecordError) as error:
        if key is None:
            return None
        record, problem = None, f"not JSON: {error}"
    data = accounts.get(key)
    if data is None:
        data = accounts[key] = AccountData(key=key)
    try:
        if record is None:
            raise RecordError(problem)
        add_record(data, record)
    except RecordError as error:
        _note(data, LineError(path, number, f"{key}: {error}"))
    return data


def read_bundle(
    index: BundleIndex, wanted: Iterable[AccountKey] | None = None
) -> Iterator[AccountData]:
    """Stream the accounts of one bundle, each as soon as its last line has been read.

    ``wanted`` limits the accounts built; others are skipped without parsing where the line
    prefix tells whose they are. Invalid lines are noted on the account they belong to
    (``AccountData.errors``, ``invalid_records``); the caller decides whether it is audited.
    """
    wanted_set = None if wanted is None else set(wanted)
    if wanted_set is not None and wanted_set.issuperset(index.spans):
        wanted_set = None  # every account is wanted: no line needs skipping
    closing: dict[int, list[AccountKey]] = {}
    for key, span in index.spans.items():
        if wanted_set is None or key in wanted_set:
            closing.setdefault(span.last_line, []).append(key)
    open_accounts: dict[AccountKey, AccountData] = {}
    for number, line in enumerate(_lines(index.path), start=1):
        if not line.strip():
            continue
        if wanted_set is not None:
            fast = _fast_key(line)
            if fast is not None and fast not in wanted_set:
                continue
        data = _parse_line(index.path, number, line, open_accounts)
        if data is not None and wanted_set is not None and data.key not in wanted_set:
            del open_accounts[data.key]
        for done in closing.pop(number, ()):
            finished = open_accounts.pop(done, None)
            if finished is not None:
                yield _with_unattributed(finished, index.unattributed)


def read_span(index: BundleIndex, key: AccountKey) -> AccountData:
    """Read one account of a grouped, uncompressed bundle on its own (for parallel audits)."""
    if not index.seekable:
        raise BundleError(
            f"{index.path}: only a grouped, uncompressed bundle can be read by account"
        )
    span = index.spans[key]
    try:
        with index.path.open("rb") as stream:
            stream.seek(span.start)
            block = stream.read(span.end - span.start)
    except OSError as error:
        raise BundleError(f"{index.path}: cannot read bundle: {error.strerror or error}") from None
    accounts = {key: AccountData(key=key)}
    run = _post_run(block, key)
    if run is None:
        _parse_lines(index.path, block, span.first_line, accounts)
    else:
        start, end, posts = run
        _parse_lines(index.path, block[:start], span.first_line, accounts)
        accounts[key].posts.extend(posts)
        after = span.first_line + block.count(b"\n", 0, end)
        _parse_lines(index.path, block[end:], after, accounts)
    return _with_unattributed(accounts[key], index.unattributed)


def _parse_lines(
    path: Path, block: bytes, first_line: int, accounts: dict[AccountKey, AccountData]
) -> None:
    # Lines as file iteration gives them, so that numbers and messages agree with read_bundle.
    for number, line in enumerate(io.BytesIO(block), start=first_line):
        if line.strip():
            _parse_line(path, number, line, accounts)


_decode_post_lines = msgspec.json.Decoder(_PostLine).decode_lines


def _post_run(block: bytes, key: AccountKey) -> tuple[int, int, list[_PostLine]] | None:
    """The span's run of post lines decoded in one call: its byte range and its posts.

    Writers put an account's posts on consecutive lines; decoding them together saves a Python
    round per line. None, when any line of the run is not a plain post line of ``key``, sends
    the whole span line by line, where each problem is named with its line number.
    """
    if block.startswith(_POST_PREFIX):
        start = 0
    else:
        found = block.find(b"\n" + _POST_PREFIX)
        if found < 0:
            return None
        start = found + 1
    last = block.rfind(b"\n" + _POST_PREFIX) + 1
    line_end = block.find(b"\n", max(last, start))
    end = len(block) if line_end < 0 else line_end + 1
    try:
        posts: list[_PostLine] = _decode_post_lines(block[start:end])
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    platform, account = key
    for post in posts:
        if post.platform != platform or post.account != account or post.extra:
            return None
    return start, end, posts


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


def _with_unattributed(data: AccountData, errors: list[LineError]) -> AccountData:
    # A line that names no account could have been any account's: none of them is whole.
    for error in errors:
        _note(data, error)
    return data


def _note(data: AccountData, error: LineError) -> None:
    data.invalid_records += 1
    if len(data.errors) < 20:
        data.errors.append(str(error))


# ---------------------------------------------------------------------------------------------
# Writing

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


def write_bundle(path: Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write records atomically (a temporary file renamed into place); ``.gz`` compresses."""
    count = 0
    with atomic_writer(path) as raw:
        zipped = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.suffix == ".gz" else None
        write = zipped.write if zipped is not None else raw.write
        for record in records:
            write(dump_record(record))
            count += 1
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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
