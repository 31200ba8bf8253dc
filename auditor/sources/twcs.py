"""Reads the public "Customer Support on Twitter" dataset (``twcs.csv``) into bundle records.

The dataset is one CSV of tweets between customers and brand support accounts, with the columns
``tweet_id, author_id, inbound, created_at, text, response_tweet_id, in_response_to_tweet_id``.
Real copies of it differ in small ways, and this reader accepts all of those seen in the wild:

* a leading unnamed index column (pandas' ``to_csv``), or none; a UTF-8 byte order mark;
* ids written as floats (``3.0``), ``True``/``TRUE``/``true`` and ``False``/``FALSE``;
* ``response_tweet_id`` as a comma-separated list, sometimes mangled by spreadsheets
  (``17,751,776``), even unquoted, which splits the row into extra fields: such a row is rebuilt
  (text and reply list put back together) when the columns are in the usual order;
* text mis-decoded as cp1252 (``Itâ€™s``): repaired when it round-trips to UTF-8, else kept;
* bare carriage returns inside unquoted text, which Python's ``csv`` module (and pandas) take
  for line ends: records are split only on ``\\n`` (or ``\\r\\n``) and a lone ``\\r`` stays in
  the text.

A row that still cannot be read is counted (``TwcsStats.rows_unreadable``, with up to ten
``file:line: why`` examples), never fatal. Bytes that are not UTF-8 become U+FFFD.

Mapping to accounts: a brand is the ``author_id`` of a row with ``inbound`` false (customers are
anonymised numbers). Threads are rebuilt from ``in_response_to_tweet_id``, the root being the
topmost ancestor present in the file; customers address brands by thread, not by handle, so a
thread belongs to every brand that posts in it, and its posts are written under each of those
brands' accounts on platform ``x``, except the other brands' tweets: a brand is never another
brand's customer, and its replies never answer for another brand (counted as
``other_brand_posts``). A tweet whose parent is not in the file is kept (its
thread roots at the topmost ancestor present) and counted. Posts of threads where no brand
posts belong to no account and are counted as ``posts_without_brand``.

Every thread has to be known before any account can be written, so the whole file is read first;
the records are then produced account by account (accounts in handle order, posts in file
order, then the account's ``window`` record), or, through :func:`read_twcs_file`, as
:class:`~auditor.model.AccountData` built directly (what the engine audits: a million post dicts
built and validated again cost more than reading the file). No ``profile`` record is written:
the dataset has none.

Performance: Arrow parses the file (on its thread pool) and every column is checked and
normalised at once with Arrow compute and numpy, as are duplicates, thread roots and the
grouping by account; Python sees only the rare rows those checks leave out (unusual ids, dates
or handles, texts that may hold mojibake). A million rows take about a second. A file that is not
plain throughout (a row of another width, such as one split by an unquoted reply list; a value
the row parsers refuse; bytes that are not UTF-8; a field beyond the csv module's size limit;
CR-only line ends; no header) is read again, in full, by the row-by-row reader, which knows each
row's line, so that such rows are rebuilt, counted and reported with their ``file:line``
exactly as specified; that costs a few seconds more per million rows. The tweets then stay in
Arrow buffers, which forked workers share without copying; ``account_data`` turns one account's
rows into Python values.
"""

from __future__ import annotations

import codecs
import csv
import functools
import importlib
import io
import os
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, Final, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from auditor.model import AccountData, AccountKey, Post, Window
from auditor.sources.platforms.base import Record

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]


class _LazyModule:
    """A module imported when first used: pyarrow takes a few tenths of a second to import, and
    most runs read no twcs file."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


if not TYPE_CHECKING:
    pa = _LazyModule("pyarrow")
    pc = _LazyModule("pyarrow.compute")
    pa_csv = _LazyModule("pyarrow.csv")

PLATFORM = "x"
WINDOW_REASON = "twcs dataset export"
MAX_EXAMPLES = 10

# Stands in for a bare carriage return while the csv module parses a line; a Unicode
# noncharacter, so it never occurs in real text.
_CR_PLACEHOLDER = "\uffff"

_STANDARD_COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
_REQUIRED_COLUMNS = frozenset(_STANDARD_COLUMNS) - {"response_tweet_id"}

_INBOUND_VALUES: dict[str, bool] = {
    "True": True,
    "False": False,
    "TRUE": True,
    "FALSE": False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
}

_MONTHS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


@dataclass(slots=True)
class TwcsStats:
    """What reading one file met.

    ``rows_read`` counts the tweets read (readable data rows, duplicates included);
    ``posts`` counts the post records written, so a customer's post in a thread shared by two
    brands counts twice; ``other_brand_posts`` counts the brand tweets left out of another
    brand's account in such threads; ``rows_rebuilt`` counts rows put back together (bare
    carriage returns, unquoted comma lists); ``duplicates`` counts rows repeating a tweet id
    already read (dropped).
    """

    rows_read: int = 0
    rows_unreadable: int = 0
    unreadable_examples: list[str] = field(default_factory=list)
    parents_missing: int = 0
    mojibake_repaired: int = 0
    accounts: int = 0
    posts: int = 0
    rows_rebuilt: int = 0
    duplicates: int = 0
    posts_without_brand: int = 0
    other_brand_posts: int = 0


class _Layout(NamedTuple):
    """Where each column sits in a row of one file."""

    width: int
    tweet_id: int
    author_id: int
    inbound: int
    created_at: int
    text: int
    in_response_to: int
    # The usual column order ends with text, response_tweet_id, in_response_to_tweet_id: only
    # then can a row split by an unquoted comma list (or unquoted commas in text) be rebuilt.
    rebuildable: bool


# One tweet as read: (id, author, inbound, created_at, text, parent id). A plain tuple, because
# a million NamedTuple constructions cost a second more.
_Tweet = tuple[str, str, bool, str, str, str | None]
_ID: Final = 0
_AUTHOR: Final = 1
_INBOUND: Final = 2
_CREATED: Final = 3
_TEXT: Final = 4
_PARENT: Final = 5


class _CsvReader(Protocol):
    """What this module uses of a ``csv.reader``."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


class _RowError(ValueError):
    """A data row that cannot be read; the message says why."""


# --- small parsers -------------------------------------------------------------------------


def normalise_id(raw: str) -> str | None:
    """``"3.0"`` -> ``"3"``; ``""`` -> None; raises _RowError for anything not an integer id."""
    value = raw.strip()
    if value.isdigit():
        return value
    if not value:
        return None
    if value.endswith(".0") and value[:-2].isdigit():
        return value[:-2]
    try:
        number = float(value)
    except ValueError:
        raise _RowError(f"not a tweet id: {_shorten(raw)}") from None
    # Spreadsheets write big ids as 1.23E+17; only exact floats give the id back.
    if number.is_integer() and 0 <= number < 2**53:
        return str(int(number))
    raise _RowError(f"not a tweet id: {_shorten(raw)}")


def parse_inbound(raw: str) -> bool:
    value = _INBOUND_VALUES.get(raw)
    if value is None:
        value = _INBOUND_VALUES.get(raw.strip().lower())
        if value is None:
            raise _RowError(f"inbound is neither True nor False: {_shorten(raw)}")
    return value


def _date_prefix(month: str, day: str, year: str) -> str:
    """``("Oct", "31", "2017")`` -> ``"2017-10-31T"``, validated."""
    month_number = _MONTHS.get(month)
    if month_number is None or not day.isdigit() or not year.isdigit():
        raise ValueError("not a date")
    return date(int(year), month_number, int(day)).isoformat() + "T"


@functools.cache
def _all_clocks() -> frozenset[str]:
    """Every valid "HH:MM:SS": one set lookup checks a clock (86,400 strings, made once)."""
    return frozenset(
        f"{hour:02d}:{minute:02d}:{second:02d}"
        for hour in range(24)
        for minute in range(60)
        for second in range(60)
    )


class DateParser:
    """Turns twcs dates into ISO 8601 UTC strings (``2017-10-31T22:10:47+00:00``).

    The dataset's format is fixed (``Tue Oct 31 22:10:47 +0000 2017``), so the usual case is
    sliced by hand and the date part cached; other offsets, and ISO dates from copies re-saved
    by other tools, go through ``datetime`` (a date without an offset is taken as UTC, the
    dataset's zone). Returning strings in one zone and one format keeps them comparable.
    """

    def __init__(self) -> None:
        # "Oct 31  +0000 2017" -> "2017-10-31T", and the valid clocks: both read directly by
        # the row reader's fast path.
        self.date_prefixes: dict[str, str] = {}
        self.clocks = _all_clocks()

    def __call__(self, raw: str) -> str:
        if len(raw) == 30 and raw[19:26] == " +0000 " and raw[10] == " ":
            key = raw[4:11] + raw[19:]
            prefix = self.date_prefixes.get(key)
            if prefix is None:
                try:
                    prefix = _date_prefix(raw[4:7], raw[8:10], raw[26:])
                except ValueError:
                    raise _RowError(f"not a date: {_shorten(raw)}") from None
                self.date_prefixes[key] = prefix
            clock = raw[11:19]
            if clock in self.clocks:
                return prefix + clock + "+00:00"
        return _parse_unusual_date(raw)


def _parse_unusual_date(raw: str) -> str:
    value = raw.strip()
    moment: datetime | None = None
    for parse in (_parse_twitter_format, datetime.fromisoformat):
        try:
            moment = parse(value)
            break
        except ValueError:
            continue
    if moment is None:
        raise _RowError(f"not a date: {_shorten(raw)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _parse_twitter_format(value: str) -> datetime:
    return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")


# --- mojibake ------------------------------------------------------------------------------

_CP1252_GAPS_HANDLER = "auditor-twcs-cp1252-gaps"


def _encode_cp1252_gaps(error: UnicodeError) -> tuple[bytes, int]:
    """cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; decoders that met those bytes
    kept them as U+0081 ... so they go back to the same byte."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start : error.end]
    if all("\x80" <= char <= "\x9f" for char in chunk):
        return chunk.encode("latin-1"), error.end
    raise error


codecs.register_error(_CP1252_GAPS_HANDLER, _encode_cp1252_gaps)


def _cp1252_rendering(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


# A UTF-8 lead byte followed by a continuation byte, both as cp1252 shows them: "â€", "Ã©",
# "ðŸ". Only texts that are not ASCII are searched.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4]["
    + re.escape("".join(_cp1252_rendering(byte) for byte in range(0x80, 0xC0)))
    + "]"
)


def repair_mojibake(text: str) -> str | None:
    """The text decoded right, when it is UTF-8 mis-decoded as cp1252 and round-trips."""
    if text.isascii() or _MOJIBAKE.search(text) is None:
        return None
    try:
        repaired = text.encode("cp1252", errors=_CP1252_GAPS_HANDLER).decode("utf-8")
    except UnicodeError:
        return None
    return repaired if repaired != text else None


# --- reading rows --------------------------------------------------------------------------


def _shorten(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _physical_lines(binary: BinaryIO, bare_cr_lines: list[int]) -> Iterator[str]:
    """The file's lines, split on ``\\n`` only, with bare carriage returns masked.

    The csv module ends an unquoted field at any ``\\r``; masking it keeps the record whole.
    ``bare_cr_lines`` gains one entry per masked line so the caller knows to unmask.
    """
    stream = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="\n")
    for line in stream:
        if "\r" in line:
            if line.endswith("\r\n"):
                body, ending = line[:-2], "\r\n"
            else:
                body, ending = line, ""
            if "\r" in body:
                line = body.replace("\r", _CR_PLACEHOLDER) + ending
                bare_cr_lines.append(1)
        yield line


def _has_cr_line_ends(binary: BinaryIO) -> bool:
    """Whether lines end with a lone CR: the file's start holds CR but no LF."""
    head = binary.read(1 << 16)
    binary.seek(0)
    return b"\r" in head and b"\n" not in head


def _layout_of(header: list[str]) -> _Layout | None:
    names = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
    if not _REQUIRED_COLUMNS.issubset(names):
        return None
    position = {name: index for index, name in enumerate(names) if name}
    width = len(names)
    response = position.get("response_tweet_id", -1)
    text = position["text"]
    parent = position["in_response_to_tweet_id"]
    return _Layout(
        width=width,
        tweet_id=position["tweet_id"],
        author_id=position["author_id"],
        inbound=position["inbound"],
        created_at=position["created_at"],
        text=text,
        in_response_to=parent,
        rebuildable=(text == width - 3 and response == width - 2 and parent == width - 1),
    )


def _headerless_layout(first_row: list[str]) -> _Layout | None:
    """A file without a header: the standard columns, after an index column when 8 wide."""
    extra = len(first_row) - len(_STANDARD_COLUMNS)
    if extra not in (0, 1) or not first_row[extra].strip().replace(".", "", 1).isdigit():
        return None
    tweet_id, author_id, inbound, created_at, text = range(extra, extra + 5)
    return _Layout(len(first_row), tweet_id, author_id, inbound, created_at, text, extra + 6, True)


def _rebuild_split_row(row: list[str], layout: _Layout) -> list[str]:
    """A row with too many fields, split by unquoted commas in the text or the reply list.

    The reply list is the run of all-digit fields before the last field; the text is what is
    left after the fixed columns. Raises _RowError when that cannot be the case.
    """
    middle = row[layout.text : -1]
    replies = len(middle)
    while replies > 1 and middle[replies - 1].strip().isdigit():
        replies -= 1
    if replies == len(middle):
        # No reply ids: the last field must be the empty reply list.
        if middle[-1].strip():
            raise _RowError(f"expected {layout.width} fields, found {len(row)}")
        replies -= 1
    text = ",".join(middle[:replies])
    reply_list = ",".join(middle[replies:])
    return [*row[: layout.text], text, reply_list, row[-1]]


class _RowReader:
    """Reads the data rows of one file into tweets, counting what it cannot read.

    The reader of files Arrow cannot be trusted with (see ``_read_fast``): it knows each row's
    line. ``_read_rows`` handles the common row inline and hands any row that is not plain to
    ``_tweet_of``, which checks everything and says what is wrong.
    """

    def __init__(self, path: Path, stats: TwcsStats) -> None:
        self.path = path
        self.stats = stats
        self.tweets: list[_Tweet] = []
        self.index_of: dict[str, int] = {}
        self.parse_date = DateParser()
        self.last_line = 0
        # Repeated authors share one string: less memory, and the cleaning is done once.
        self.authors: dict[str, str] = {}

    def unreadable(self, line: int, why: str) -> None:
        self.stats.rows_unreadable += 1
        if len(self.stats.unreadable_examples) < MAX_EXAMPLES:
            self.stats.unreadable_examples.append(f"{self.path.name}:{line}: {why}")

    def read(self) -> None:
        bare_cr_lines: list[int] = []
        with self.path.open("rb") as binary:
            if _has_cr_line_ends(binary):
                # Old Mac line ends: every \r ends a line, and a bare one cannot be told apart.
                text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
                reader = csv.reader(text)
            else:
                reader = csv.reader(_physical_lines(binary, bare_cr_lines))
            layout = self._read_header(reader)
            if layout is None:
                return
            self._read_rows(reader, layout, bare_cr_lines)

    def _read_header(self, reader: _CsvReader) -> _Layout | None:
        try:
            header = next(reader)
        except StopIteration:
            return None
        except csv.Error as error:
            raise ValueError(f"{self.path.name}:1: not a twcs file: {error}") from None
        layout = _layout_of(header)
        if layout is not None:
            return layout
        layout = _headerless_layout(header)
        if layout is None:
            raise ValueError(
                f"{self.path.name}:1: not a twcs file: the columns "
                f"{', '.join(_STANDARD_COLUMNS)} are missing"
            )
        self._add_slowly(header, layout, line=1)
        return layout

    def _read_rows(self, reader: _CsvReader, layout: _Layout, bare_cr_lines: list[int]) -> None:
        self.last_line = reader.line_num
        while True:
            try:
                self._read_plain_rows(reader, layout, bare_cr_lines)
                return
            except csv.Error as error:
                # The csv reader starts afresh with the next line.
                self.unreadable(self.last_line + 1, f"csv: {error}")
                self.last_line = reader.line_num
                bare_cr_lines.clear()

    def _read_plain_rows(
        self, reader: _CsvReader, layout: _Layout, bare_cr_lines: list[int]
    ) -> None:
        """Reads rows until the end or a csv error (raised), keeping ``last_line`` (the line the
        last row read ended on) for the error's line number."""
        last_line = self.last_line
        width, id_at, author_at, inbound_at, created_at, text_at, parent_at = layout[:7]
        tweets, index_of, authors = self.tweets, self.index_of, self.authors
        day_prefixes, clocks = self.parse_date.date_prefixes, self.parse_date.clocks
        inbound_values = _INBOUND_VALUES
        stats = self.stats
        append = tweets.append
        find_mojibake = _MOJIBAKE.search
        rows_read = mojibake_repaired = 0
        try:
            for row in reader:
                line = last_line + 1
                last_line = reader.line_num
                if bare_cr_lines:
                    row = [value.replace(_CR_PLACEHOLDER, "\r") for value in row]
                    bare_cr_lines.clear()
                    stats.rows_rebuilt += 1
                if len(row) != width:
                    if row:
                        self._add_slowly(row, layout, line)
                    continue
                tweet_id = row[id_at]
                author = authors.get(row[author_at])
                if author is None and row[author_at].isalnum():
                    # A new customer (most are seen only a few times): plainly a handle.
                    author = authors[row[author_at]] = row[author_at]
                inbound = inbound_values.get(row[inbound_at])
                when = row[created_at]
                # The key holds every fixed part of "Tue Oct 31 22:10:47 +0000 2017" but the
                # weekday (ignored) and the clock (checked against every valid clock).
                prefix = day_prefixes.get(when[4:11] + when[19:])
                clock = when[11:19]
                parent: str | None = row[parent_at]
                if parent:
                    if parent[-2:] == ".0":
                        parent = parent[:-2]
                    if not parent.isdigit():
                        parent = ""
                else:
                    parent = None
                if (
                    author is None
                    or inbound is None
                    or prefix is None
                    or clock not in clocks
                    or parent == ""
                    or not tweet_id.isdigit()
                ):
                    self._add_slowly(row, layout, line)
                    continue
                text = row[text_at]
                if not text.isascii() and find_mojibake(text) is not None:
                    repaired = repair_mojibake(text)
                    if repaired is not None:
                        text = repaired
                        mojibake_repaired += 1
                rows_read += 1
                count = len(index_of)
                if index_of.setdefault(tweet_id, count) != count:
                    stats.duplicates += 1
                    continue
                append((tweet_id, author, inbound, prefix + clock + "+00:00", text, parent))
        finally:
            stats.rows_read += rows_read
            stats.mojibake_repaired += mojibake_repaired
            self.last_line = last_line

    def _add_slowly(self, row: list[str], layout: _Layout, line: int) -> None:
        try:
            tweet = self._tweet_of(row, layout)
        except _RowError as error:
            self.unreadable(line, str(error))
            return
        self.stats.rows_read += 1
        count = len(self.index_of)
        if self.index_of.setdefault(tweet[_ID], count) != count:
            self.stats.duplicates += 1
            return
        self.tweets.append(tweet)

    def _tweet_of(self, row: list[str], layout: _Layout) -> _Tweet:
        if len(row) != layout.width:
            if len(row) < layout.width or not layout.rebuildable:
                raise _RowError(f"expected {layout.width} fields, found {len(row)}")
            row = _rebuild_split_row(row, layout)
            self.stats.rows_rebuilt += 1
        tweet_id = normalise_id(row[layout.tweet_id])
        if tweet_id is None:
            raise _RowError("tweet_id is empty")
        author = self._author_of(row[layout.author_id])
        inbound = parse_inbound(row[layout.inbound])
        created = self.parse_date(row[layout.created_at])
        parent = normalise_id(row[layout.in_response_to])
        text = row[layout.text]
        repaired = repair_mojibake(text)
        if repaired is not None:
            text = repaired
            self.stats.mojibake_repaired += 1
        return (tweet_id, author, inbound, created, text, parent)

    def _author_of(self, raw: str) -> str:
        author = self.authors.get(raw)
        if author is None:
            author = self.authors[raw] = _clean_author(raw)
        return author


def _clean_author(raw: str) -> str:
    author = raw.strip().lstrip("@")
    if not author:
        raise _RowError("author_id is empty")
    if author.endswith(".0") and author[:-2].isdigit():
        author = author[:-2]
    return author


# --- the fast reader: the whole file parsed by Arrow, every column checked at once ----------

# Stands in for a bare carriage return while Arrow parses the file (Arrow, like the csv module,
# ends a line at any CR). A control character that text never holds; a file that holds it is
# read by the row reader instead.
_MASK: Final = b"\x1e"
_MASK_TEXT: Final = "\x1e"
# Above this many carriage returns (a file with CRLF line ends), numpy masks the bare ones.
_FEW_CARRIAGE_RETURNS: Final = 1000
# Arrow parses blocks of this size on its thread pool.
_BLOCK_SIZE: Final = 1 << 24

# A handle (letters, digits, underscore) is its own cleaned form: no space, "@" or ".0" to drop.
_PLAIN_HANDLE: Final = r"^[0-9A-Za-z_]+$"
_TRUE_VALUES: Final = tuple(raw for raw, value in _INBOUND_VALUES.items() if value)

# _MOJIBAKE in RE2's syntax, so that Arrow finds the few texts worth a look in Python.
_MOJIBAKE_RE2: Final = (
    r"[\x{c2}-\x{f4}]["
    + "".join(f"\\x{{{ord(_cp1252_rendering(byte)):x}}}" for byte in range(0x80, 0xC0))
    + "]"
)

# "Tue Oct 31 22:10:47 +0000 2017" byte by byte: where the fixed parts and digits sit.
_DATE_WIDTH: Final = 30
_ISO_WIDTH: Final = len("2017-10-31T22:10:47+00:00")
_DATE_DIGITS: Final = [8, 9, 11, 12, 14, 15, 17, 18, 26, 27, 28, 29]
_UNCHECKED_DATE_BYTES: Final = [0, 1, 2, 3, 7]  # the weekday and a space, ignored as before
_UTC_PART: Final = np.frombuffer(b" +0000 ", dtype=np.uint8)
_ISO_SUFFIX: Final = np.frombuffer(b"+00:00", dtype=np.uint8)
_MONTH_CODES: Final = np.array(
    sorted((ord(name[0]) << 16) | (ord(name[1]) << 8) | ord(name[2]) for name in _MONTHS),
    dtype=np.int64,
)
_MONTH_NUMBER_OF_CODE: Final = np.array(
    [
        _MONTHS[chr(code >> 16) + chr((code >> 8) & 0xFF) + chr(code & 0xFF)]
        for code in _MONTH_CODES
    ],
    dtype=np.int64,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class _NotPlain(Exception):
    """The file holds something only the row reader handles (and counts, with its line)."""


def _as_bools(array: pa.Array) -> BoolArray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _matches(array: pa.Array, pattern: str) -> BoolArray:
    return _as_bools(pc.match_substring_regex(array, pattern))


def _offsets(strings: pa.Array) -> npt.NDArray[np.int32]:
    """Where each string of an Arrow string array starts in its data buffer, and the end."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    return offsets[strings.offset : strings.offset + len(strings) + 1]


def _mask_bare_carriage_returns(data: bytearray) -> int:
    """Replaces each bare CR (one not before LF) by ``_MASK``, in place; returns how many."""
    if b"\r" not in data:
        return 0
    if _MASK in data:
        raise _NotPlain
    bare = seen = 0
    position = data.find(b"\r")
    while position >= 0:
        seen += 1
        if seen > _FEW_CARRIAGE_RETURNS:
            # Lines end with CRLF, say: numpy finds the rest at once.
            return bare + _mask_many_carriage_returns(data, position)
        if data[position + 1 : position + 2] != b"\n":
            data[position] = _MASK[0]
            bare += 1
        position = data.find(b"\r", position + 1)
    return bare


def _mask_many_carriage_returns(data: bytearray, start: int) -> int:
    """``_mask_bare_carriage_returns`` from ``start`` on, vectorised."""
    view = np.frombuffer(data, dtype=np.uint8)
    returns = np.flatnonzero(view[start:] == ord("\r")) + start
    after = returns + 1
    bare = returns[after == len(view)]
    inside = after < len(view)
    bare = np.concatenate([returns[inside][view[after[inside]] != ord("\n")], bare])
    view[bare] = _MASK[0]
    return len(bare)


def _parse_csv(buffer: pa.Buffer) -> pa.Table:
    """Every row as strings, the header included, each column in one chunk; raises _NotPlain
    where the row reader has work to do."""
    try:
        # No invalid_row_handler: Arrow then refuses a row of another width, as wanted here,
        # without calling back into Python from its threads.
        table = pa_csv.read_csv(
            buffer,
            read_options=pa_csv.ReadOptions(
                use_threads=True, block_size=_BLOCK_SIZE, autogenerate_column_names=True
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=_AllStrings(),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        combined = table.combine_chunks()
    except (pa.ArrowException, ValueError):
        # Not UTF-8, empty, a row of another width, or a column too big for one chunk.
        raise _NotPlain from None
    if combined.num_rows == 0 or any(
        column.num_chunks != 1 or column.type != pa.string() for column in combined.columns
    ):
        raise _NotPlain  # (more columns than _AllStrings names are typed by Arrow's guess)
    return combined


class _AllStrings(dict[str, object]):
    """Arrow's column types for autogenerated names ``f0``, ``f1`` ...: all strings."""

    def __init__(self) -> None:
        super().__init__({f"f{index}": pa.string() for index in range(256)})


@dataclass(slots=True)
class _RawColumns:
    """The data rows as read, one Arrow array per column the reader needs."""

    tweet_id: pa.Array
    author_id: pa.Array
    inbound: pa.Array
    created_at: pa.Array
    text: pa.Array
    in_response_to: pa.Array


_SEARCH_CHUNK: Final = 1 << 22


def _byte_positions(buffer: pa.Buffer, byte: int, start: int, end: int) -> IntArray:
    """Where ``byte`` occurs in ``buffer[start:end]``; searched in chunks, so that no
    temporary array as large as the buffer is made."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    found = [
        np.flatnonzero(data[at : min(at + _SEARCH_CHUNK, end)] == byte) + at
        for at in range(start, end, _SEARCH_CHUNK)
    ]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _rows_holding(strings: pa.Array, byte: int) -> IntArray:
    """The rows of an Arrow string array whose UTF-8 holds ``byte``."""
    offsets = _offsets(strings)
    found = _byte_positions(strings.buffers()[2], byte, int(offsets[0]), int(offsets[-1]))
    return np.unique(np.searchsorted(offsets, found, side="right") - 1)


def _raw_columns(table: pa.Table, bare_carriage_returns: int) -> tuple[_RawColumns, int]:
    """The needed columns of the data rows, and how many rows held a bare CR."""
    header = [table.column(index)[0].as_py() for index in range(table.num_columns)]
    layout = _layout_of(header)
    if layout is None:
        # Headerless files (and non-twcs files, refused with their message) take the row reader.
        raise _NotPlain
    columns = [table.column(index).chunk(0).slice(1) for index in range(table.num_columns)]
    limit = csv.field_size_limit()
    for column in columns:
        if len(column) and int(np.diff(_offsets(column)).max()) > limit:
            raise _NotPlain  # the csv module refuses such a field: the row reader says where
    text = columns[layout.text]
    rows_rebuilt = 0
    if bare_carriage_returns:
        offsets = _offsets(text)
        masks = _byte_positions(text.buffers()[2], _MASK[0], int(offsets[0]), int(offsets[-1]))
        if len(masks) != bare_carriage_returns:
            raise _NotPlain  # a bare CR outside the text: the row reader knows what it means
        rows = np.unique(np.searchsorted(offsets, masks, side="right") - 1)
        for row in rows.tolist():
            if any("\uffff" in column[row].as_py() for column in columns):
                # The row reader turns U+FFFF into CR in rows with a bare CR: it reads those.
                raise _NotPlain
        rows_rebuilt = len(rows)
        data = text.buffers()[2]
        if data.is_mutable:
            # The column is this reader's own and a CR is one byte too: put them back in place
            # rather than copy the whole column.
            np.frombuffer(data, dtype=np.uint8)[masks] = ord("\r")
        else:
            unmasked = [text[row].as_py().replace(_MASK_TEXT, "\r") for row in rows.tolist()]
            text = _replaced(text, rows, unmasked)
    raw = _RawColumns(
        tweet_id=columns[layout.tweet_id],
        author_id=columns[layout.author_id],
        inbound=columns[layout.inbound],
        created_at=columns[layout.created_at],
        text=text,
        in_response_to=columns[layout.in_response_to],
    )
    return raw, rows_rebuilt


def _fixed_width_bytes(strings: pa.Array, width: int) -> npt.NDArray[np.uint8]:
    """The bytes of strings all ``width`` long, one row each (a view, no copy)."""
    start = int(_offsets(strings)[0])
    data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)
    return data[start : start + width * len(strings)].reshape(len(strings), width)


def _fixed_width_strings(rows: npt.NDArray[np.uint8]) -> pa.Array:
    count, width = rows.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows))
    )


def _twitter_dates(created: pa.Array) -> tuple[BoolArray, pa.Array]:
    """Which dates are in the dataset's own UTC format, and each as ISO 8601 (garbage where not).

    Checks what the row reader's fast path checks (the weekday is ignored, as there).
    """
    count = len(created)
    fixed = pc.binary_length(created).to_numpy() == _DATE_WIDTH
    all_fixed = bool(fixed.all())
    chosen = created if all_fixed else created.filter(pa.array(fixed))
    raw = _fixed_width_bytes(chosen, _DATE_WIDTH)
    digits = raw[:, _DATE_DIGITS]
    valid = ((digits >= ord("0")) & (digits <= ord("9"))).all(axis=1)
    # The bytes not checked below must be ASCII, so that 30 bytes are 30 characters.
    valid &= (raw[:, _UNCHECKED_DATE_BYTES] < 0x80).all(axis=1)
    valid &= (raw[:, 10] == ord(" ")) & (raw[:, 13] == ord(":")) & (raw[:, 16] == ord(":"))
    valid &= (raw[:, 19:26] == _UTC_PART).all(axis=1)

    def number(at: int) -> IntArray:
        return raw[:, at].astype(np.int64) - ord("0")

    valid &= number(11) * 10 + number(12) < 24
    valid &= (raw[:, 14] < ord("6")) & (raw[:, 17] < ord("6"))
    month_code = (raw[:, 4].astype(np.int64) << 16) | (raw[:, 5].astype(np.int64) << 8) | raw[:, 6]
    month_at = np.minimum(np.searchsorted(_MONTH_CODES, month_code), len(_MONTH_CODES) - 1)
    valid &= _MONTH_CODES[month_at] == month_code
    month = _MONTH_NUMBER_OF_CODE[month_at]
    year = number(26) * 1000 + number(27) * 100 + number(28) * 10 + number(29)
    day = number(8) * 10 + number(9)
    day_key = year * 10_000 + month * 100 + day
    for key in np.unique(day_key[valid]).tolist():
        try:
            date(key // 10_000, key // 100 % 100, key % 100)
        except ValueError:
            valid &= day_key != key
    iso = np.empty((len(raw), _ISO_WIDTH), dtype=np.uint8)
    iso[:, 0:4] = raw[:, 26:30]
    iso[:, 4] = iso[:, 7] = ord("-")
    iso[:, 5] = month // 10 + ord("0")
    iso[:, 6] = month % 10 + ord("0")
    iso[:, 8:10] = raw[:, 8:10]
    iso[:, 10] = ord("T")
    iso[:, 11:19] = raw[:, 11:19]
    iso[:, 19:25] = _ISO_SUFFIX
    strings = _fixed_width_strings(iso)
    if all_fixed:
        return valid, strings
    ok = np.zeros(count, dtype=np.bool_)
    ok[fixed] = valid
    # Rows of another width point at any ISO string; they are not ok, so they are replaced.
    where = np.zeros(count, dtype=np.int64)
    where[fixed] = np.arange(len(raw))
    return ok, strings.take(pa.array(where)) if len(raw) else pa.nulls(count, pa.string())


@dataclass(slots=True)
class _Columns:
    """Every tweet kept (duplicates dropped), in file order, one array per field."""

    ids: pa.Array  # str, unique
    authors: pa.Array  # str
    inbound: BoolArray
    created: pa.Array  # str, ISO 8601 in UTC
    texts: pa.Array  # str
    parents: pa.Array  # str or null


# Up to this many values are replaced by splicing slices, which copies the array's buffers
# once; more go through Arrow's replace_with_mask.
_FEW_REPLACEMENTS: Final = 1000


def _replaced(array: pa.Array, rows: IntArray, values: list[object]) -> pa.Array:
    """``array`` with the values at ``rows`` (ascending) replaced."""
    if not len(rows):
        return array
    replacements = pa.array(values, type=array.type)
    if len(rows) > _FEW_REPLACEMENTS:
        mask = np.zeros(len(array), dtype=np.bool_)
        mask[rows] = True
        return pc.replace_with_mask(array, pa.array(mask), replacements)
    pieces = []
    start = 0
    for index, row in enumerate(rows.tolist()):
        pieces.append(array.slice(start, row - start))
        pieces.append(replacements.slice(index, 1))
        start = row + 1
    pieces.append(array.slice(start))
    return pa.concat_arrays(pieces)


def _normalised_columns(raw: _RawColumns, stats: TwcsStats) -> _Columns:
    """The columns checked and normalised as the row reader would; raises _NotPlain at a row it
    would count as unreadable (only it knows the row's line)."""
    parents = raw.in_response_to
    has_parent = _as_bools(pc.not_equal(parents, ""))
    # "3.0" -> "3"; the row reader's fast path drops that ".0" and then wants digits.
    parents = pc.if_else(
        pc.ends_with(parents, ".0"), pc.utf8_slice_codeunits(parents, 0, -2), parents
    )
    inbound_known = _as_bools(pc.is_in(raw.inbound, value_set=pa.array(list(_INBOUND_VALUES))))
    dates_ok, created = _twitter_dates(raw.created_at)
    ok = (
        _as_bools(pc.ascii_is_decimal(raw.tweet_id))
        & _matches(raw.author_id, _PLAIN_HANDLE)
        & inbound_known
        & dates_ok
        & (_as_bools(pc.ascii_is_decimal(parents)) | ~has_parent)
    )
    inbound = _as_bools(pc.is_in(raw.inbound, value_set=pa.array(_TRUE_VALUES)))
    parents = pc.if_else(pa.array(has_parent), parents, None)
    tweet_ids, authors = raw.tweet_id, raw.author_id
    unusual = np.flatnonzero(~ok)
    if len(unusual):
        parse_date = DateParser()
        tweets = [_unusual_row(raw, row, parse_date) for row in unusual.tolist()]
        tweet_ids = _replaced(tweet_ids, unusual, [tweet[_ID] for tweet in tweets])
        authors = _replaced(authors, unusual, [tweet[_AUTHOR] for tweet in tweets])
        inbound[unusual] = [tweet[_INBOUND] for tweet in tweets]
        created = _replaced(created, unusual, [tweet[_CREATED] for tweet in tweets])
        parents = _replaced(parents, unusual, [tweet[_PARENT] for tweet in tweets])
    texts = _repaired_texts(raw.text, stats)
    stats.rows_read += len(tweet_ids)
    return _first_occurrences(_Columns(tweet_ids, authors, inbound, created, texts, parents), stats)


def _unusual_row(raw: _RawColumns, row: int, parse_date: DateParser) -> _Tweet:
    """One row the vectorised checks left out, read by the row reader's own parsers."""
    try:
        tweet_id = normalise_id(raw.tweet_id[row].as_py())
        if tweet_id is None:
            raise _RowError("tweet_id is empty")
        return (
            tweet_id,
            _clean_author(raw.author_id[row].as_py()),
            parse_inbound(raw.inbound[row].as_py()),
            parse_date(raw.created_at[row].as_py()),
            "",
            normalise_id(raw.in_response_to[row].as_py()),
        )
    except _RowError:
        raise _NotPlain from None


def _repaired_texts(texts: pa.Array, stats: TwcsStats) -> pa.Array:
    # Mojibake starts with a character from U+00C2 to U+00F4, whose UTF-8 starts with the
    # byte C3: the regex runs only on the texts that hold that byte.
    others = _rows_holding(texts, 0xC3)
    if not len(others):
        return texts
    candidates = others[_matches(texts.take(pa.array(others)), _MOJIBAKE_RE2)]
    rows: list[int] = []
    repaired_texts: list[object] = []
    for row in candidates.tolist():
        repaired = repair_mojibake(texts[row].as_py())
        if repaired is not None:
            rows.append(row)
            repaired_texts.append(repaired)
    stats.mojibake_repaired += len(rows)
    return _replaced(texts, np.array(rows, dtype=np.int64), repaired_texts)


# Ids of at most this many digits fit in an int64.
_MAX_ID_DIGITS: Final = 18


def _id_numbers(ids: pa.Array) -> IntArray | None:
    """The ids as numbers (null: -1) when each is written the one way a number is ("7", never
    "07"), so that equal numbers mean equal ids; else None. Numbers sort and search faster than
    strings hash."""
    present = ids if not ids.null_count else pc.fill_null(ids, "0")
    if not len(present):
        return np.zeros(0, dtype=np.int64)
    lengths = np.diff(_offsets(present))
    if int(lengths.max()) > _MAX_ID_DIGITS or not pc.all(pc.ascii_is_decimal(present)).as_py():
        return None
    if (_as_bools(pc.starts_with(present, "0")) & (lengths > 1)).any():
        return None
    numbers: IntArray = pc.cast(present, pa.int64()).to_numpy().copy()
    if ids.null_count:
        numbers[~_as_bools(ids.is_valid())] = -1
    return numbers


def _first_rows(ids: pa.Array) -> BoolArray:
    """Which rows hold the first occurrence of their id."""
    count = len(ids)
    first = np.ones(count, dtype=np.bool_)
    numbers = _id_numbers(ids)
    if numbers is not None:
        order = np.argsort(numbers, kind="stable")
        ordered = numbers[order]
        repeats = order[1:][ordered[1:] == ordered[:-1]]
        first[repeats] = False
        return first
    codes = ids.dictionary_encode().indices.to_numpy().astype(np.int64)
    # Arrow numbers the ids in order of first appearance: a row is first when its number
    # exceeds every number before it.
    first[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return first


def _first_occurrences(columns: _Columns, stats: TwcsStats) -> _Columns:
    """The columns without rows repeating an earlier row's id (the first one read wins)."""
    first = _first_rows(columns.ids)
    if first.all():
        return columns
    stats.duplicates += len(first) - int(first.sum())
    keep = pa.array(first)
    return _Columns(
        ids=columns.ids.filter(keep),
        authors=columns.authors.filter(keep),
        inbound=columns.inbound[first],
        created=columns.created.filter(keep),
        texts=columns.texts.filter(keep),
        parents=columns.parents.filter(keep),
    )


def _read_fast(path: Path) -> tuple[_Columns, TwcsStats] | None:
    """The file read by Arrow, or None when only the row reader reads it as specified."""
    stats = TwcsStats()
    with path.open("rb") as binary:
        if _has_cr_line_ends(binary):
            return None
        # Read into a bytearray: bare CRs are masked in place, and Arrow reads it uncopied.
        data = bytearray(os.fstat(binary.fileno()).st_size)
        size = binary.readinto(data)
        if size != len(data) or binary.read(1):
            return None  # the file changed while being read
    try:
        if b"\x00" in data:
            raise _NotPlain
        bare_carriage_returns = _mask_bare_carriage_returns(data)
        buffer = pa.py_buffer(data)
        if data.startswith(codecs.BOM_UTF8):
            buffer = buffer.slice(len(codecs.BOM_UTF8))
        table = _parse_csv(buffer)
        # The file's bytes, then the columns not needed, go as soon as they may: less memory.
        del buffer, data
        raw, stats.rows_rebuilt = _raw_columns(table, bare_carriage_returns)
        del table
        return _normalised_columns(raw, stats), stats
    except _NotPlain:
        return None


def _columns_of_tweets(tweets: list[_Tweet]) -> _Columns:
    """The row reader's tweets as columns."""
    return _Columns(
        ids=pa.array([tweet[_ID] for tweet in tweets], type=pa.string()),
        authors=pa.array([tweet[_AUTHOR] for tweet in tweets], type=pa.string()),
        inbound=np.array([tweet[_INBOUND] for tweet in tweets], dtype=np.bool_),
        created=pa.array([tweet[_CREATED] for tweet in tweets], type=pa.string()),
        texts=pa.array([tweet[_TEXT] for tweet in tweets], type=pa.string()),
        parents=pa.array([tweet[_PARENT] for tweet in tweets], type=pa.string()),
    )


# --- threads and accounts ------------------------------------------------------------------


def _thread_roots(columns: _Columns, stats: TwcsStats) -> tuple[IntArray, IntArray]:
    """The position of each tweet's root, its topmost ancestor present in the file, and of
    each tweet's parent (-1: none, or not in the file).

    Pointer jumping (each round doubles how far every tweet has looked up); the tweets it
    leaves unresolved are in, or lead into, a cycle of replies, which only a corrupt file has:
    those are walked one by one, the cycle rooting at its smallest id so that every member
    agrees.
    """
    count = len(columns.ids)
    parent_at = _parent_positions(columns)
    has_parent = _as_bools(columns.parents.is_valid())
    stats.parents_missing = int((has_parent & (parent_at < 0)).sum())
    is_top = parent_at < 0
    up = np.where(is_top, np.arange(count, dtype=np.int64), parent_at)
    for _ in range(count.bit_length() + 1):
        if is_top[up].all():
            break
        up = up[up]
    unresolved = np.flatnonzero(~is_top[up])
    if len(unresolved):
        _root_cycles(columns, parent_at, up, unresolved.tolist())
    return up, parent_at


def _parent_positions(columns: _Columns) -> IntArray:
    """Where each tweet's parent is, or -1 (no parent, or not in the file)."""
    ids = _id_numbers(columns.ids)
    parents = None if ids is None else _id_numbers(columns.parents)
    if ids is None or parents is None or not len(ids):
        found = pc.index_in(columns.parents, value_set=columns.ids)
        return np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    at = np.minimum(np.searchsorted(ordered, parents), len(ids) - 1)
    found_at: IntArray = np.where((parents >= 0) & (ordered[at] == parents), order[at], -1)
    return found_at


_UNKNOWN: Final = -1
_IN_PROGRESS: Final = -2


def _root_cycles(columns: _Columns, parent_at: IntArray, up: IntArray, starts: list[int]) -> None:
    """Sets ``up`` for the tweets in or leading into reply cycles, as the row walk did."""
    roots = dict.fromkeys(starts, _UNKNOWN)
    for start in starts:
        if roots[start] != _UNKNOWN:
            continue
        chain: list[int] = []
        current = start
        while True:
            known = roots.get(current, int(up[current]))
            if known == _IN_PROGRESS:
                cycle = chain[chain.index(current) :]
                root = min(cycle, key=lambda member: _id_order(columns.ids[member].as_py()))
                break
            if known != _UNKNOWN:
                root = known
                break
            roots[current] = _IN_PROGRESS
            chain.append(current)
            current = int(parent_at[current])
        for member in chain:
            roots[member] = root
    for member, root in roots.items():
        up[member] = root


def _id_order(tweet_id: str) -> tuple[int, str]:
    return (len(tweet_id), tweet_id)


@dataclass(slots=True)
class _Accounts:
    """The tweets, the root of each, and which tweets each brand account holds (positions, in
    file order), accounts in handle order."""

    columns: _Columns
    roots: IntArray
    parent_at: IntArray
    members: dict[str, IntArray]
    # Each tweet's author as a number into author_names: an account's authors are then picked
    # without making a string per post.
    author_codes: IntArray
    author_names: npt.NDArray[np.object_]


def _group_by_account(
    columns: _Columns, brands: Collection[str] | None, stats: TwcsStats
) -> _Accounts:
    """Each thread belongs to every brand posting in it; a brand tweet goes to its own brand
    only (counted in ``other_brand_posts`` for the others)."""
    count = len(columns.ids)
    roots, parent_at = _thread_roots(columns, stats)
    encoded = columns.authors.dictionary_encode()
    author_names: list[str] = encoded.dictionary.to_pylist()
    author_codes = encoded.indices.to_numpy().astype(np.int64)
    names = max(len(author_names), 1)
    brand_rows = np.flatnonzero(~columns.inbound)
    brand_codes = author_codes[brand_rows]
    # Each (thread, brand) pair once, ordered by thread then brand.
    pairs, first_of_pair = np.unique(roots[brand_rows] * names + brand_codes, return_index=True)
    pair_roots, pair_brands = pairs // names, pairs % names
    brands_of_root = np.bincount(pair_roots, minlength=count)
    thread_brands = brands_of_root[roots]
    stats.posts_without_brand += int((thread_brands == 0).sum())
    stats.other_brand_posts = int((thread_brands[brand_rows] - 1).sum())
    # Customers' tweets go to every brand of their thread.
    customers = np.flatnonzero(columns.inbound & (thread_brands > 0))
    shares = thread_brands[customers]
    first_pair = np.searchsorted(pair_roots, roots[customers])
    runs = np.repeat(np.cumsum(shares) - shares, shares)
    pair_of_share = np.repeat(first_pair, shares) + np.arange(len(runs)) - runs
    owner = np.concatenate([brand_codes, pair_brands[pair_of_share]])
    position = np.concatenate([brand_rows, np.repeat(customers, shares)])
    wanted = None if brands is None else {brand.lstrip("@").casefold() for brand in brands}
    if wanted is not None:
        chosen = [
            code for code in np.unique(owner).tolist() if author_names[code].casefold() in wanted
        ]
        keep = np.isin(owner, np.array(chosen, dtype=np.int64))
        owner, position = owner[keep], position[keep]
    ordered = np.sort(owner * count + position)
    owner, position = ordered // max(count, 1), ordered % max(count, 1)
    bounds = np.flatnonzero(np.diff(owner)) + 1
    code_of = {
        author_names[int(owners[0])]: int(owners[0])
        for owners in np.split(owner, bounds)
        if len(owners)
    }
    members = dict(
        zip(code_of, (part for part in np.split(position, bounds) if len(part)), strict=True)
    )

    def account_order(brand: str) -> tuple[str, int, int]:
        # Handles equal but for case keep the order the row walk met them in: by first post,
        # then by the brand's first tweet in that post's thread.
        first = int(members[brand][0])
        rank = 0
        if columns.inbound[first]:
            at = int(np.searchsorted(pairs, roots[first] * names + code_of[brand]))
            rank = int(brand_rows[first_of_pair[at]])
        return (brand.casefold(), first, rank)

    ordered_members = {brand: members[brand] for brand in sorted(members, key=account_order)}
    stats.accounts = len(ordered_members)
    stats.posts = sum(len(positions) for positions in ordered_members.values())
    return _Accounts(
        columns,
        roots,
        parent_at,
        ordered_members,
        author_codes,
        np.array(author_names, dtype=np.object_),
    )


def _window_record(account: str, start: str, end: str) -> Record:
    return {
        "kind": "window",
        "platform": PLATFORM,
        "account": account,
        "window_start": start,
        "window_end": end,
        # The dataset is a sample: nobody knows whether it holds all of an account's posts.
        "complete": None,
        "reason": WINDOW_REASON,
        # A public export cannot show hidden or deleted posts, private conversations or
        # automation.
        "observes": [],
        "fetched_at": None,
    }


@dataclass(slots=True)
class _AccountRows:
    """One account's posts as Python values, in file order."""

    ids: list[str]
    authors: list[str]
    by_brand: list[bool]
    created: list[str]
    texts: list[str]
    parents: list[str | None]
    threads: list[str]
    urls: list[str]


def _account_rows(accounts: _Accounts, handle: str) -> _AccountRows:
    # Single-threaded Arrow calls only: this runs in forked worker processes.
    columns = accounts.columns
    positions = accounts.members[handle]
    rows = pa.array(positions)
    ids = columns.ids.take(rows)
    authors = columns.authors.take(rows)
    urls = pc.binary_join_element_wise(_URL_START, authors, _URL_MIDDLE, ids, "")
    id_list: list[str] = ids.to_pylist()
    own_ids = _OwnIds(columns, positions, np.array(id_list, dtype=np.object_))
    parents = own_ids.of(accounts.parent_at[positions])
    # A parent that is not in the file (or none): its id as written, or None.
    outside = np.flatnonzero(accounts.parent_at[positions] < 0)
    if len(outside):
        written = columns.parents.take(pa.array(positions[outside])).to_pylist()
        parents[outside] = np.array(written, dtype=np.object_)
    return _AccountRows(
        ids=id_list,
        authors=accounts.author_names[accounts.author_codes[positions]].tolist(),
        by_brand=(~columns.inbound[positions]).tolist(),
        created=columns.created.take(rows).to_pylist(),
        texts=columns.texts.take(rows).to_pylist(),
        parents=parents.tolist(),
        threads=own_ids.of(accounts.roots[positions]).tolist(),
        urls=urls.to_pylist(),
    )


@dataclass(slots=True)
class _OwnIds:
    """An account's ids as Python strings, reused for the parents and roots among its own
    posts (most of them) instead of making the same strings again."""

    columns: _Columns
    positions: IntArray  # the account's, ascending
    strings: npt.NDArray[np.object_]

    def of(self, targets: IntArray) -> npt.NDArray[np.object_]:
        """The ids of the tweets at ``targets`` (None where a target is -1)."""
        found = np.minimum(np.searchsorted(self.positions, targets), len(self.positions) - 1)
        own = self.positions[found] == targets
        result = np.full(len(targets), None, dtype=np.object_)
        result[own] = self.strings[found[own]]
        others = np.flatnonzero(~own & (targets >= 0))
        if len(others):
            taken = self.columns.ids.take(pa.array(targets[others]))
            result[others] = np.array(taken.to_pylist(), dtype=np.object_)
        return result


_URL_START: Final = "https://twitter.com/"
_URL_MIDDLE: Final = "/status/"


def _account_records(accounts: _Accounts, handles: Iterable[str]) -> Iterator[Record]:
    for account in handles:
        rows = _account_rows(accounts, account)
        for tweet_id, author, by_brand, created, text, parent, thread, url in zip(
            rows.ids,
            rows.authors,
            rows.by_brand,
            rows.created,
            rows.texts,
            rows.parents,
            rows.threads,
            rows.urls,
            strict=True,
        ):
            yield {
                "kind": "post",
                "platform": PLATFORM,
                "account": account,
                "id": tweet_id,
                "author": author,
                "author_id": author,
                "by_brand": by_brand,
                "created_at": created,
                "text": text,
                "in_reply_to": parent,
                "thread": thread,
                "visibility": "public",
                "deleted_by": None,
                "url": url,
                "source": None,
                "automated": None,
            }
        # Every time is UTC in one ISO format, so the strings order like the times.
        yield _window_record(account, min(rows.created), max(rows.created))


# --- public API ----------------------------------------------------------------------------


@dataclass(slots=True)
class TwcsFile:
    """A twcs file read in full: every tweet once, and which of them each brand account holds.

    Accounts come out one at a time, as bundle records (``records``) or as an
    :class:`~auditor.model.AccountData` built directly (``account_data``: the same values as
    reading those records, without building and validating a million dicts). The object is
    read-only once made, and its tweets sit in Arrow buffers, so forked worker processes share
    them without copying.
    """

    path: Path
    stats: TwcsStats
    _accounts: _Accounts

    def handles(self) -> list[str]:
        """The brand accounts, in handle order (case-insensitive)."""
        return list(self._accounts.members)

    def size(self, handle: str) -> int:
        """How many posts the account holds."""
        return len(self._accounts.members[handle])

    def records(self, handle: str | None = None) -> Iterator[Record]:
        """The records of one account (its posts, then its window), or of every account."""
        handles = self._accounts.members if handle is None else [handle]
        if handle is not None and handle not in self._accounts.members:
            raise KeyError(handle)
        yield from _account_records(self._accounts, handles)

    def account_data(self, handle: str, key: AccountKey | None = None) -> AccountData:
        """One account's posts and window, as reading its records would give them.

        ``key`` names the account audited (the config may spell the handle its own way); by
        default it is the dataset's handle on platform ``x``.
        """
        rows = _account_rows(self._accounts, handle)
        count = len(rows.ids)
        # map() builds every Post in C: no Python loop over a million posts.
        posts = list(
            map(
                Post,
                rows.ids,
                rows.authors,
                rows.by_brand,
                map(datetime.fromisoformat, rows.created),
                rows.texts,
                rows.authors,  # author_id
                rows.parents,  # in_reply_to
                rows.threads,
                repeat("public", count),  # visibility
                repeat(None, count),  # deleted_by
                rows.urls,
            )
        )
        parse = datetime.fromisoformat
        window = Window(
            start=parse(min(rows.created)),
            end=parse(max(rows.created)),
            complete=None,
            reason=WINDOW_REASON,
            observes=frozenset(),
            fetched_at=None,
        )
        return AccountData(key or AccountKey(PLATFORM, handle), posts=posts, window=window)


def read_twcs_file(
    path: Path | str, brands: Collection[str] | None = None, stats: TwcsStats | None = None
) -> TwcsFile:
    """Read a twcs file in full and group its tweets by brand account.

    ``brands`` keeps only those handles (case-insensitive, ``@`` optional); ``stats`` (every
    field filled in) is the returned file's ``stats``. Raises ``ValueError`` when the file is not
    a twcs file at all (unrecognisable header) and ``OSError`` when it cannot be opened;
    unreadable rows are only counted.

    Arrow reads the file when every row is plain; a file with a row that is not (wrong field
    count, a value the row reader would refuse, bytes that are not UTF-8, CR-only line ends, no
    header ...) is read again, in full, row by row, which counts such rows with their lines.
    """
    source = Path(path)
    counters = stats if stats is not None else TwcsStats()
    fast = _read_fast(source)
    if fast is not None:
        columns, found = fast
        for counter in ("rows_read", "mojibake_repaired", "rows_rebuilt", "duplicates"):
            setattr(counters, counter, getattr(counters, counter) + getattr(found, counter))
    else:
        rows = _RowReader(source, counters)
        rows.read()
        columns = _columns_of_tweets(rows.tweets)
    return TwcsFile(source, counters, _group_by_account(columns, brands, counters))


def iter_twcs_records(
    path: Path | str,
    brands: Collection[str] | None = None,
    stats: TwcsStats | None = None,
) -> Iterator[Record]:
    """The bundle records of a twcs file, grouped by account: all posts of one brand account,
    then its window record, then the next account (accounts in handle order).

    ``brands`` keeps only those handles (case-insensitive, ``@`` optional). Pass a
    ``TwcsStats`` as ``stats`` to learn what reading met: the file is read in full before the
    first record comes out, and ``stats`` is filled in then (every field, ``accounts`` and
    ``posts`` included). Raises ``ValueError`` when the file is not a twcs file at all
    (unrecognisable header); unreadable rows are only counted.
    """
    yield from read_twcs_file(path, brands, stats).records()


def read_twcs(
    path: Path | str, brands: Collection[str] | None = None
) -> tuple[dict[str, list[Record]], TwcsStats]:
    """The records of each brand account (its posts, then its window record) and the stats."""
    stats = TwcsStats()
    by_account: dict[str, list[Record]] = {}
    for record in iter_twcs_records(path, brands, stats):
        by_account.setdefault(record["account"], []).append(record)
    return by_account, stats
