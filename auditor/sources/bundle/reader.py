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
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import orjson

from auditor.model import DATA_KINDS, AccountData, AccountKey, Post
from auditor.sources.bundle.records import RecordError, add_record, kinds_of_record, record_key


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
    # The model keeps unknown keys in ``extra``; on a line, a key named "extra" is an unknown
    # key like any other. Named out of the way (no writer uses this name), such a line fails
    # here and the general path keeps it among the unknown keys.
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="extra\x7f")


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
            if post.platform and post.account:
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
        if post.platform != platform or post.account != account:
            return None
    return start, end, posts


def _with_unattributed(data: AccountData, errors: list[LineError]) -> AccountData:
    # A line that names no account could have been any account's: none of them is whole.
    for error in errors:
        _note(data, error)
    return data


def _note(data: AccountData, error: LineError, kinds: frozenset[str] = DATA_KINDS) -> None:
    """Count one invalid line against ``data``, with the kinds of data it held (skipping it
    loses them; a line that names nothing could have held anything)."""
    data.invalid_records += 1
    data.invalid_kinds.update(kinds)
    if len(data.errors) < 20:
        data.errors.append(str(error))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
