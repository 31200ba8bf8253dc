"""Reading bundles: a first pass that indexes accounts, then one account at a time.

Reading streams. A first pass finds the line on which each account's records end, so that a
bundle grouped by account (as the writer writes them) is handed out one account at a time and
memory is bounded by the largest account; an interleaved bundle works too, holding the accounts
that are still open. The first pass reads the ``kind``/``platform``/``account`` prefix that this
project's writer puts first on every line and parses the whole line only when a line does not
start that way.

A plain post line (this project's writer, no unknown keys) is decoded straight into the model in
one C call (``_PostLine``); every other line is parsed by ``records.py``, which names what is
wrong. Both are held to the typed definition of ``format.py`` by ``tests/test_bundle_format.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import IO, Annotated, Any, cast

import msgspec
import orjson

from auditor.model import DATA_KINDS, AccountData, AccountKey, DeletedBy, Post, Visibility, Window
from auditor.sources.bundle.records import (
    RecordError,
    add_record,
    kinds_of_record,
    record_key,
    time_out_of_range,
)
from auditor.sources.files import LineTooLong, bounded_lines, open_regular

# The reason every account of a bundle without its closing record is incomplete.
NO_END_REASON = "bundle has no end record: it may be cut short"


class BundleError(Exception):
    """A bundle that cannot be read at all (missing, not JSON Lines, not gzip)."""


@dataclass(frozen=True, slots=True)
class LineError:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Reading files


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    try:
        raw = open_regular(path)
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
            yield from bounded_lines(stream, path)
        except LineTooLong as error:
            raise BundleError(f"{error} (the limit): not a bundle, or a broken one") from None
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
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
        try:
            key = _KEYS[raw] = AccountKey(raw[0].decode(), raw[1].decode())
        except UnicodeDecodeError:
            return None  # not UTF-8: the JSON parser names what is wrong with the line
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
    # True when the last record is an end record (each end record's count was checked: a
    # wrong one is among ``unattributed``).
    ended: bool = False
    # False for a bundle written before the end record (``legacy_no_end``): not taken as cut.
    require_end: bool = True

    @property
    def seekable(self) -> bool:
        return self.grouped and self.path.suffix != ".gz"


def index_bundle(path: Path, *, require_end: bool = True) -> BundleIndex:
    """The first pass: hash the file and find where each account's lines are.

    The hash is computed on a thread (hashlib lets go of the GIL) while the lines are scanned;
    a post line that starts with the previous line's account prefix is counted without even
    the prefix regex, since grouped bundles are made of long runs of them. ``require_end``
    False reads a bundle without an end record as whole (one written before it existed).
    """
    index = BundleIndex(path=path, require_end=require_end)
    # Refused before the hashing thread opens it: a FIFO would block it, a device never end.
    with _open_binary(path):
        pass
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


_END_MARK = b'"end"'


def _end_count(line: bytes) -> int | RecordError | None:
    """The count of an end record; None when the line is no end record; the error when it is
    one that cannot be read."""
    if _END_MARK not in line:
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("kind") != "end":
        return None
    count = record.get("records")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return RecordError("end record: 'records' must be a whole number, 0 or more")
    if record.keys() != {"kind", "records"}:
        return RecordError("end record: only 'kind' and 'records' are allowed")
    return count


def _scan(index: BundleIndex, lines: Iterator[bytes]) -> None:
    spans = index.spans
    offset = number = last_number = last_end = 0
    key: AccountKey | None = None
    span: AccountSpan | None = None
    fast: bytes | None = None  # the post-line prefix of the account of the line before
    # For the end records: the line of the last one, blank lines since, the last record line.
    segment_start = blanks = last_record = 0
    for number, line in enumerate(lines, start=1):
        start = offset
        offset += len(line)
        if fast is not None and line.startswith(fast):
            last_number, last_end = number, offset
            continue
        if span is not None and last_number > span.last_line:
            span.last_line, span.end = last_number, last_end
        if not line.strip():
            blanks += 1
            continue
        fast = None
        last_record = number
        end = _end_count(line)
        if end is not None:
            _check_end(index, number, end, number - 1 - segment_start - blanks)
            segment_start, blanks = number, 0
            continue
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
    # Whole only when the last record is an end record that could be read.
    index.ended = segment_start > 0 and segment_start >= max(last_record, last_number)
    if index.ended and any(e.line == segment_start for e in index.unattributed):
        index.ended = False


def _check_end(index: BundleIndex, number: int, end: int | RecordError, records: int) -> None:
    """Note an end record that cannot be read, or whose count is not the records before it."""
    if isinstance(end, RecordError):
        index.unattributed.append(LineError(index.path, number, str(end)))
    elif end != records:
        index.unattributed.append(
            LineError(
                index.path,
                number,
                f"the end record counts {end} records but {records} come before it: "
                "lines were lost or added",
            )
        )


class _LoosePostLine(Post, tag="post", tag_field="kind", forbid_unknown_fields=True):
    """A plain post line that leaves some keys out, decoded in one C call; since keys may be
    missing, which keys it has is checked by name (:func:`_plain_post`)."""

    platform: str = ""
    account: str = ""
    # See _PostLine.
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="extra\x7f")


class _PostLine(Post, tag="post", tag_field="kind", forbid_unknown_fields=True, kw_only=True):
    """A post line as this project's writers write it (every key, each once), decoded in one
    C call.

    Anything else (unknown keys, numeric ids, a null text, a bad value) fails here and takes
    the general path, which keeps unknown keys and names what is wrong. Every key is required
    so that counting a line's keys (:func:`_key_count`) tells a key written twice, which a
    decoder would take the last of; a line that leaves keys out tries ``_LoosePostLine``.
    """

    text: str
    author_id: str | None
    in_reply_to: str | None
    thread: str | None
    visibility: Visibility
    deleted_by: DeletedBy | None
    url: str | None
    source: str | None
    automated: bool | None
    mentions: list[Annotated[str, msgspec.Meta(min_length=1)]] | None
    platform: str
    account: str
    # The model keeps unknown keys in ``extra``; on a line, a key named "extra" is an unknown
    # key like any other. Named out of the way (no writer uses this name), such a line fails
    # here and the general path keeps it among the unknown keys.
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="extra\x7f")


_decode_post_line = msgspec.json.Decoder(_PostLine).decode
_decode_loose_post_line = msgspec.json.Decoder(_LoosePostLine).decode
_POST_PREFIX = b'{"kind":"post"'
# The keys of a plain post line, as written: ``kind`` and every field but the model's ``extra``.
_POST_KEY_TOKENS = tuple(
    b'"%s":' % name.encode()
    for name in ("kind", *_PostLine.__struct_encode_fields__)
    if name != "extra\x7f"
)
_POST_LINE_KEYS = len(_POST_KEY_TOKENS)
_SPACED_KEY = re.compile(rb'"[ \t\r\n]+:')
_ESCAPE = re.compile(rb"\\[\\\"]")


def _key_count(text: bytes) -> int:
    """How many keys the JSON ``text`` writes (at every depth), counted as the ``":`` that end
    them; -1 when it is written in a way this count cannot be sure of (space before a colon, an
    escaped backslash before a quote).

    A quote inside a JSON string is always escaped, so a ``":`` not after a backslash ends a
    key. Three C scans (the backslash one is fast: its first byte is rare), cheap next to
    decoding: every line of the fast paths is counted.
    """
    keys = text.count(b'":')
    if _ESCAPE.search(text) is not None:
        if b'\\\\"' in text:
            return -1
        keys -= text.count(b'\\":')
    if _SPACED_KEY.search(text) is not None:
        return -1
    return keys


def _keys_in(value: Any) -> int:
    """The keys of a parsed JSON value, at every depth."""
    keys, stack = 0, [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            keys += len(item)
            stack.extend(v for v in item.values() if type(v) is dict or type(v) is list)
        else:
            stack.extend(v for v in item if type(v) is dict or type(v) is list)
    return keys


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise RecordError(
                f"duplicate key {name!r}: the line means different things to different readers"
            )
        seen.add(name)
    return dict(pairs)


def _refuse_duplicate_keys(line: bytes, record: Any) -> None:
    """Raise RecordError when the line writes a key twice (at any depth). JSON parsers keep
    the last, so a second ``account`` would move the record to another account."""
    if _key_count(line) == _keys_in(record):
        return  # every key written is a key read: none is repeated
    try:
        json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return  # not JSON this reader takes: the parse already said what is wrong


def _plain_post(line: bytes) -> _PostLine | None:
    """The post of a plain post line (no key twice, times in range), else None."""
    post: _PostLine | _LoosePostLine
    try:
        post = _decode_post_line(line)
    except msgspec.ValidationError:
        # Keys left out (a writer that omits nulls)? Then which keys are there is counted by
        # name: as many keys as names found, or one is written twice.
        try:
            post = _decode_loose_post_line(line)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        named = sum(1 for token in _POST_KEY_TOKENS if token in line)
        if _key_count(line) != named:
            return None
        # One class whichever way a post line was read, so that equal posts compare equal.
        post = _PostLine(**msgspec.structs.asdict(post))
    except msgspec.DecodeError:
        return None
    else:
        if _key_count(line) != _POST_LINE_KEYS:
            return None
    if time_out_of_range(post.created_at) is not None:
        return None
    return post


def _parse_line(
    path: Path,
    number: int,
    line: bytes,
    accounts: dict[AccountKey, AccountData],
) -> AccountData | None:
    """Add one line to its account; a line of no account is skipped (the index listed it)."""
    if line.startswith(_POST_PREFIX):
        post = _plain_post(line)
        if post is not None and post.platform and post.account:
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
        _refuse_duplicate_keys(line, record)
        add_record(data, record)
    except RecordError as error:
        _note(data, LineError(path, number, f"{key}: {error}"), kinds_of_record(record))
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
                yield _finish(finished, index)


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
        _parse_lines(index, block, span.first_line, accounts)
    else:
        start, end, posts = run
        _parse_lines(index, block[:start], span.first_line, accounts)
        accounts[key].posts.extend(posts)
        after = span.first_line + block.count(b"\n", 0, end)
        _parse_lines(index, block[end:], after, accounts)
    return _finish(accounts[key], index)


def _parse_lines(
    index: BundleIndex, block: bytes, first_line: int, accounts: dict[AccountKey, AccountData]
) -> None:
    # Lines as file iteration gives them, so that numbers and messages agree with read_bundle.
    for number, line in enumerate(io.BytesIO(block), start=first_line):
        if line.strip():
            _parse_line(index.path, number, line, accounts)


class _NoLine(msgspec.Struct, tag="\x7f", tag_field="kind"):
    """Never decoded (its one field cannot be satisfied): it makes the run decoder a tagged
    union, and a union requires the ``kind`` key on every line. A decoder of ``_PostLine``
    alone takes a line without ``kind``, 14 bytes and a key short, which would let another
    line's repeated key go unseen in the run's totals."""

    never: Annotated[int, msgspec.Meta(ge=1, le=0)]


_decode_run = msgspec.json.Decoder(_PostLine | _NoLine).decode_lines


def _decode_post_lines(run: bytes) -> list[_PostLine]:
    """Each line of ``run`` as a post; raises msgspec's errors when one is not a plain post
    line (``_NoLine`` never decodes, so every item is a ``_PostLine``)."""
    return cast(list[_PostLine], _decode_run(run))


_encode_lines = msgspec.json.Encoder().encode_lines
# What a writer's post line lacks next to msgspec's encoding of its post: the model's extra
# field, always empty on a plain line (an "extra\x7f" key on the line only makes it longer).
_EXTRA_NAME = _PostLine.__struct_encode_fields__[_PostLine.__struct_fields__.index("extra")]
_ABSENT_EXTRA = len(b',"%s":{}' % _EXTRA_NAME.encode())
# A time as a writer spells it, whole seconds in UTC: "+00:00" where msgspec writes "Z".
_WRITTEN_TIME = re.compile(rb'"created_at":"[^"]{19}\+00:00"')
_WRITTEN_LONGER = len("+00:00") - len("Z")
_MICROSECOND = attrgetter("microsecond")
_TZINFO = attrgetter("tzinfo")


def _spelled_as_written(run: bytes, posts: Sequence[_PostLine], times: list[datetime]) -> bool:
    """True when the lines of ``run`` are, all told, exactly as long as their posts written
    back: then no line holds a key twice (or anything else beyond its post). No key is counted.

    Why, line by line. A line holds each key of its post once, with the value the decoder
    kept, plus X bytes of anything else (a key written twice and its value, whitespace). Next
    to msgspec's encoding of the post, which the expected length starts from: the model's
    empty ``extra`` is not on the line (12 bytes less; a line with that key has them); the
    ``kind`` key is (``_NoLine``); every other key and string is as long or longer, since
    msgspec writes each character in its shortest JSON form (``tests/test_bundle_keys.py``
    holds it to that); the time, UTC and whole seconds (checked here, else False), is at least
    as long, and 5 bytes longer where the line spells it as a writer does ("+00:00"). So the
    expected length credits 5 bytes for each ``"created_at"`` key followed by such a time: the
    line's own time pays them; any other such pair is part of X and takes 41 bytes. No line is
    shorter than expected, and one exactly as long has X = 0. The lines' lengths add up, so the
    run's total decides for every line at once (one post a line: ``_post_run`` checks that).
    """
    if any(map(_MICROSECOND, times)) or not set(map(_TZINFO, times)) <= {UTC}:
        return False  # a fraction or an offset could be spelled shorter than msgspec does
    written_times = len(_WRITTEN_TIME.findall(run))
    expected = len(_encode_lines(posts)) - _ABSENT_EXTRA * len(posts)
    length = len(run) + (not run.endswith(b"\n"))  # the last line of a file may end bare
    return length == expected + _WRITTEN_LONGER * written_times


def _post_run(block: bytes, key: AccountKey) -> tuple[int, int, list[_PostLine]] | None:
    """The span's run of post lines decoded in one call: its byte range and its posts.

    Writers put an account's posts on consecutive lines; decoding them together saves a Python
    round per line. None, when any line of the run is not a plain post line of ``key`` (a key
    written twice, a time out of range), sends the whole span line by line, where each problem
    is named with its line number.
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
    run = block[start:end]
    try:
        posts = _decode_post_lines(run)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    # One post a line, as line by line: the decoder also takes two objects on one line.
    if run.count(b"\n") + (not run.endswith(b"\n")) != len(posts):
        return None
    platform, account = key
    for post in posts:
        if post.platform != platform or post.account != account:
            return None
    times = [post.created_at for post in posts]
    if times and (time_out_of_range(min(times)) or time_out_of_range(max(times))):
        return None
    # Every line of the run has every key (the decoder requires them): one more is a repeat.
    # Lines as the writer writes them prove it by their length; others are counted.
    proven = _spelled_as_written(run, posts, times)
    if not proven and _key_count(run) != _POST_LINE_KEYS * len(posts):
        return None
    return start, end, posts


def _finish(data: AccountData, index: BundleIndex) -> AccountData:
    """An account read whole: its posts deduplicated, the file's errors noted, and incomplete
    when the bundle may have been cut short."""
    _deduplicate_posts(data, index)
    # A line that names no account could have been any account's: none of them is whole.
    for error in index.unattributed:
        _note(data, error)
    if index.require_end and not index.ended:
        _lose_everything(data, NO_END_REASON)
    return data


def _lose_everything(data: AccountData, reason: str) -> None:
    """Mark every kind of data lost for ``reason``; an account with no window gets one over
    its posts (or none, when it has none: then nothing can pass on its posts anyway)."""
    if data.window is None:
        if not data.posts:
            return
        times = [post.created_at for post in data.posts]
        data.window = Window(start=min(times), end=max(times), complete=None)
    data.window.lose(DATA_KINDS, reason)


def _post_fields(post: Post) -> tuple[Any, ...]:
    return tuple(getattr(post, name) for name in Post.__struct_fields__)


def _deduplicate_posts(data: AccountData, index: BundleIndex) -> None:
    """One post per id: a copy identical to the first is dropped (an export that overlapped
    itself); a different post under the same id is an error naming both lines."""
    posts = data.posts
    if len({post.id for post in posts}) == len(posts):
        return
    first: dict[str, Post] = {}
    kept: list[Post] = []
    for post in posts:
        seen = first.get(post.id)
        if seen is None:
            first[post.id] = post
            kept.append(post)
        elif _post_fields(seen) != _post_fields(post):
            lines = _post_lines(index, data.key, post.id)
            where = " and ".join(str(n) for n in lines[:2]) or "two lines"
            number = lines[1] if len(lines) > 1 else 0
            message = f"{data.key}: post {post.id!r} is on lines {where} with different values"
            _note(data, LineError(index.path, number, message), kinds_of_record({"kind": "post"}))
    data.posts = kept


def _post_lines(index: BundleIndex, key: AccountKey, post_id: str) -> list[int]:
    """The lines of ``key``'s span that hold post ``post_id`` (a rare second read, for the
    message of a conflicting duplicate)."""
    span = index.spans.get(key)
    if span is None:
        return []
    found: list[int] = []
    needle = post_id.encode()
    for number, line in enumerate(_lines(index.path), start=1):
        if number > span.last_line:
            break
        if number < span.first_line or needle not in line:
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        is_post = isinstance(record, dict) and record.get("kind") == "post"
        if is_post and str(record.get("id")) == post_id and _record_account(record) == key:
            found.append(number)
    return found


def _record_account(record: dict[str, Any]) -> AccountKey | None:
    try:
        return record_key(record)
    except RecordError:
        return None


def _note(data: AccountData, error: LineError, kinds: frozenset[str] = DATA_KINDS) -> None:
    """Count one invalid line against ``data``, with the kinds of data it held (skipping it
    loses them; a line that names nothing could have held anything)."""
    data.invalid_records += 1
    data.invalid_kinds.update(kinds)
    if len(data.errors) < 20:
        data.errors.append(str(error))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
