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
the dataset has none. Performance: about a million rows in a few seconds, hence string
methods, a hand-written date parser and caches rather than per-row regexes and ``strptime``.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO, Final, NamedTuple, Protocol

from auditor.model import AccountData, AccountKey, Post, Window
from auditor.sources.base import Record

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

    ``_read_rows`` handles the common row inline (a million rows go through it) and hands any
    row that is not plain to ``_tweet_of``, which checks everything and says what is wrong.
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
        # Positions in ``tweets`` of the brands' tweets, so that finding each thread's brands
        # does not walk every tweet again.
        self.brand_positions: list[int] = []

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
        brand_positions = self.brand_positions
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
                if not inbound:
                    brand_positions.append(count)
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
        if not tweet[_INBOUND]:
            self.brand_positions.append(count)
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
            author = raw.strip().lstrip("@")
            if not author:
                raise _RowError("author_id is empty")
            if author.endswith(".0") and author[:-2].isdigit():
                author = author[:-2]
            self.authors[raw] = author
        return author


# --- threads and accounts ------------------------------------------------------------------

_IN_PROGRESS = ""  # no tweet id is empty


@dataclass(slots=True)
class _Threads:
    """The root id of each tweet (by position) and how many tweets' parents are missing."""

    roots: list[str]
    parents_missing: int


def _thread_roots(tweets: list[_Tweet], index_of: dict[str, int]) -> _Threads:
    """The root of each tweet is its topmost ancestor present in the file.

    Walks each chain once (results are kept along the way); a cycle of replies, which only a
    corrupt file has, roots at its smallest id so that every member agrees.
    """
    roots: list[str | None] = [None] * len(tweets)
    parents_missing = 0
    for start, (tweet_id, _, _, _, _, parent) in enumerate(tweets):
        if roots[start] is not None:
            continue
        if parent is None:
            roots[start] = tweet_id
            continue
        chain: list[int] = []
        current = start
        while True:
            known = roots[current]
            if known is not None:
                root = known
                if known is _IN_PROGRESS:
                    cycle = chain[chain.index(current) :]
                    root = min((tweets[member][_ID] for member in cycle), key=_id_order)
                break
            roots[current] = _IN_PROGRESS
            chain.append(current)
            parent = tweets[current][_PARENT]
            if parent is None:
                root = tweets[current][_ID]
                break
            parent_index = index_of.get(parent)
            if parent_index is None:
                parents_missing += 1
                root = tweets[current][_ID]
                break
            current = parent_index
        for member in chain:
            roots[member] = root
    return _Threads([root or "" for root in roots], parents_missing)


def _id_order(tweet_id: str) -> tuple[int, str]:
    return (len(tweet_id), tweet_id)


@dataclass(slots=True)
class _Accounts:
    """Which tweets each brand account holds (positions in ``tweets``), in account order."""

    tweets: list[_Tweet]
    roots: list[str]
    members: dict[str, list[int]]


def _group_by_account(
    rows: _RowReader, brands: Collection[str] | None, stats: TwcsStats
) -> _Accounts:
    tweets = rows.tweets
    threads = _thread_roots(tweets, rows.index_of)
    stats.parents_missing = threads.parents_missing
    roots = threads.roots
    brands_of_thread: dict[str, list[str]] = {}
    for position in rows.brand_positions:
        brand = tweets[position][_AUTHOR]
        thread_brands = brands_of_thread.setdefault(roots[position], [])
        if brand not in thread_brands:
            thread_brands.append(brand)
    wanted = None if brands is None else {brand.lstrip("@").casefold() for brand in brands}
    members: dict[str, list[int]] = {}
    other_brand_posts = 0
    for position, root in enumerate(roots):
        owners = brands_of_thread.get(root)
        if owners is None:
            stats.posts_without_brand += 1
            continue
        if len(owners) > 1 and not tweets[position][_INBOUND]:
            # A brand tweet in a thread several brands share goes to its own brand only.
            owners = [tweets[position][_AUTHOR]]
            other_brand_posts += len(brands_of_thread[root]) - 1
        for brand in owners:
            positions = members.get(brand)
            if positions is None:
                if wanted is not None and brand.casefold() not in wanted:
                    continue
                positions = members[brand] = []
            positions.append(position)
    ordered = {brand: members[brand] for brand in sorted(members, key=str.casefold)}
    stats.other_brand_posts = other_brand_posts
    stats.accounts = len(ordered)
    stats.posts = sum(len(positions) for positions in ordered.values())
    return _Accounts(tweets, roots, ordered)


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


def _time_span(tweets: list[_Tweet], positions: list[int]) -> tuple[str, str]:
    # Every time is UTC in one ISO format, so the strings order like the times.
    created_times = [tweets[position][_CREATED] for position in positions]
    return min(created_times), max(created_times)


def _account_records(accounts: _Accounts, members: dict[str, list[int]]) -> Iterator[Record]:
    tweets, roots = accounts.tweets, accounts.roots
    for account, positions in members.items():
        for position in positions:
            tweet_id, author, inbound, created, text, parent = tweets[position]
            # Built inline: this runs once per post record, a million times in a big file.
            yield {
                "kind": "post",
                "platform": PLATFORM,
                "account": account,
                "id": tweet_id,
                "author": author,
                "author_id": author,
                "by_brand": not inbound,
                "created_at": created,
                "text": text,
                "in_reply_to": parent,
                "thread": roots[position],
                "visibility": "public",
                "deleted_by": None,
                "url": "https://twitter.com/" + author + "/status/" + tweet_id,
                "source": None,
                "automated": None,
            }
        yield _window_record(account, *_time_span(tweets, positions))


# --- public API ----------------------------------------------------------------------------


@dataclass(slots=True)
class TwcsFile:
    """A twcs file read in full: every tweet once, and which of them each brand account holds.

    Accounts come out one at a time, as bundle records (``records``) or as an
    :class:`~auditor.model.AccountData` built directly (``account_data``: the same values as
    reading those records, without building and validating a million dicts). The object is
    read-only once made, so forked worker processes can share it.
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
        members = self._accounts.members
        chosen = members if handle is None else {handle: members[handle]}
        yield from _account_records(self._accounts, chosen)

    def account_data(self, handle: str, key: AccountKey | None = None) -> AccountData:
        """One account's posts and window, as reading its records would give them.

        ``key`` names the account audited (the config may spell the handle its own way); by
        default it is the dataset's handle on platform ``x``.
        """
        tweets, roots = self._accounts.tweets, self._accounts.roots
        positions = self._accounts.members[handle]
        times: dict[str, datetime] = {}
        posts: list[Post] = []
        append = posts.append
        parse = datetime.fromisoformat
        for position in positions:
            tweet_id, author, inbound, created, text, parent = tweets[position]
            when = times.get(created)
            if when is None:
                when = times[created] = parse(created)
            append(
                Post(
                    tweet_id,
                    author,
                    not inbound,
                    when,
                    text,
                    author,
                    parent,
                    roots[position],
                    "public",
                    None,
                    "https://twitter.com/" + author + "/status/" + tweet_id,
                    None,
                    None,
                    {},
                )
            )
        start, end = _time_span(tweets, positions)
        window = Window(
            start=parse(start),
            end=parse(end),
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
    """
    counters = stats if stats is not None else TwcsStats()
    rows = _RowReader(Path(path), counters)
    rows.read()
    return TwcsFile(Path(path), counters, _group_by_account(rows, brands, counters))


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
