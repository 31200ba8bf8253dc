"""The row-by-row reader: every file Arrow cannot be trusted with, each row with its line.

Python's ``csv`` module over the file's physical lines (split on ``\\n`` only, bare carriage
returns masked; in a file whose lines end in a lone CR, at every CR), rows split by an unquoted
reply list rebuilt, and every row that cannot be read counted with a ``file:line: why``
example. Every line, and every row over several lines, is bounded (10 MB) before it is read
whole. The fallback of ``read_twcs_file``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from auditor.sources.files import (
    MAX_LINE_BYTES,
    LineTooLong,
    bounded_lines,
    bounded_universal_lines,
)
from auditor.sources.twcs.dataset import (
    _ID,
    _INBOUND_VALUES,
    _MOJIBAKE,
    _STANDARD_COLUMNS,
    MAX_EXAMPLES,
    DateParser,
    TwcsStats,
    _clean_author,
    _has_cr_line_ends,
    _Layout,
    _layout_of,
    _RowError,
    _Tweet,
    normalise_id,
    parse_inbound,
    repair_mojibake,
)

# Stands in for a bare carriage return while the csv module parses a line; a Unicode
# noncharacter, so it never occurs in real text.
_CR_PLACEHOLDER = "\uffff"


class _CsvReader(Protocol):
    """What this module uses of a ``csv.reader``."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


# --- reading rows --------------------------------------------------------------------------


class _RowBound:
    """The lines the csv reader reads, none of its rows longer than ``limit`` bytes.

    Each line is bounded as it is read (:func:`~auditor.sources.files.bounded_lines`); a row
    can span lines (a quoted field holding line breaks), so the bytes of the lines of the row
    under way are counted too, and a row over the limit raises ``LineTooLong`` before more of
    it is read: no line ending and no quoting makes the reader hold more than the limit. The
    reader's loop keeps ``row_end``, the line its last row ended on: the next line starts a row.
    """

    __slots__ = ("_limit", "_path", "row_end")

    def __init__(self, path: Path, limit: int = MAX_LINE_BYTES) -> None:
        self._path = path
        self._limit = limit
        self.row_end = 0

    def lines(self, raw_lines: Iterable[bytes]) -> Iterator[str]:
        """``raw_lines`` decoded, UTF-8 line by line (no character holds a line-end byte, so
        this is decoding the file; the byte order mark goes from the first line, as utf-8-sig
        drops it), each counted into its row."""
        limit = self._limit
        lines = iter(raw_lines)
        first_line = next(lines, None)
        if first_line is None:
            return
        first, size = 1, len(first_line)
        yield first_line.decode("utf-8-sig", errors="replace")
        for number, raw in enumerate(lines, 2):
            if self.row_end >= number - 1:
                first, size = number, len(raw)
            else:
                size += len(raw)
                if size > limit:
                    raise LineTooLong(
                        f"{self._path}:{first}: row of lines {first}-{number} longer than "
                        f"{limit // (1 << 20)} MB"
                    )
            yield raw.decode("utf-8", errors="replace")


def _cr_lines(binary: BinaryIO, path: Path, bound: _RowBound) -> Iterator[str]:
    """The lines of a file whose lines end in a lone CR (old Mac files): every ``\\r`` ends a
    line (a bare one cannot be told apart), as do ``\\r\\n`` and ``\\n``; a line or row over
    the limit raises ``LineTooLong`` (a ValueError) before it is read whole."""
    return bound.lines(bounded_universal_lines(binary, path))


def _physical_lines(
    binary: BinaryIO, bare_cr_lines: list[int], path: Path, bound: _RowBound
) -> Iterator[str]:
    """The file's lines, split on ``\\n`` only, with bare carriage returns masked; a line or a
    row over the limit raises ``LineTooLong`` (a ValueError) before it is read whole.

    The csv module ends an unquoted field at any ``\\r``; masking it keeps the record whole.
    ``bare_cr_lines`` gains one entry per masked line so the caller knows to unmask.
    """
    for line in bound.lines(bounded_lines(binary, path)):
        if "\r" in line:
            if line.endswith("\r\n"):
                body, ending = line[:-2], "\r\n"
            else:
                body, ending = line, ""
            if "\r" in body:
                line = body.replace("\r", _CR_PLACEHOLDER) + ending
                bare_cr_lines.append(1)
        yield line


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
        self.bound = _RowBound(path)

    def unreadable(self, line: int, why: str) -> None:
        self.stats.rows_unreadable += 1
        if len(self.stats.unreadable_examples) < MAX_EXAMPLES:
            self.stats.unreadable_examples.append(f"{self.path.name}:{line}: {why}")

    def read(self) -> None:
        bare_cr_lines: list[int] = []
        with self.path.open("rb") as binary:
            if _has_cr_line_ends(binary):
                reader = csv.reader(_cr_lines(binary, self.path, self.bound))
            else:
                reader = csv.reader(_physical_lines(binary, bare_cr_lines, self.path, self.bound))
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
        self.bound.row_end = self.last_line = reader.line_num
        while True:
            try:
                self._read_plain_rows(reader, layout, bare_cr_lines)
                return
            except csv.Error as error:
                # The csv reader starts afresh with the next line.
                self.unreadable(self.last_line + 1, f"csv: {error}")
                self.bound.row_end = self.last_line = reader.line_num
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
        bound = self.bound
        append = tweets.append
        find_mojibake = _MOJIBAKE.search
        rows_read = mojibake_repaired = 0
        try:
            for row in reader:
                line = last_line + 1
                bound.row_end = last_line = reader.line_num
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
