"""The twcs dataset's format: its columns, how each value reads, and what reading met.

Shared by both readers (``rows`` and ``arrow``): the column names and the layout of a header,
the value parsers (ids, ``inbound``, dates, authors) that say why a value is refused, mojibake
repair, and :class:`TwcsStats`.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import BinaryIO, Final, NamedTuple

PLATFORM = "x"
WINDOW_REASON = "twcs dataset export"
MAX_EXAMPLES = 10

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
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise ValueError("a year out of range")
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


# The years a tweet may be dated in (as bundles: 2000 to 2099): a year-1 date is a broken row,
# and time arithmetic near the ends of the calendar overflows.
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2099


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
    moment = moment.astimezone(UTC)
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise _RowError(f"date out of range ({FIRST_YEAR}-{LAST_YEAR}): {_shorten(raw)}")
    return moment.isoformat()


def _parse_twitter_format(value: str) -> datetime:
    return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")


def _clean_author(raw: str) -> str:
    author = raw.strip().lstrip("@")
    if not author:
        raise _RowError("author_id is empty")
    if author.endswith(".0") and author[:-2].isdigit():
        author = author[:-2]
    return author


def _shorten(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


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


def _has_cr_line_ends(binary: BinaryIO) -> bool:
    """Whether lines end with a lone CR: the file's start holds CR but no LF."""
    head = binary.read(1 << 16)
    binary.seek(0)
    return b"\r" in head and b"\n" not in head
