"""The fast reader: the whole file parsed by Arrow, every column checked at once.

Arrow parses the file (on its thread pool) and every column is checked and normalised at once
with Arrow compute and numpy, as are duplicates; Python sees only the rare rows those checks
leave out (unusual ids, dates or handles, texts that may hold mojibake). A million rows take
about a second. A file that is not plain throughout (a row of another width, such as one split
by an unquoted reply list; a value the row parsers refuse; bytes that are not UTF-8; a field
beyond the csv module's size limit; CR-only line ends; no header) makes :func:`_read_fast`
return None, and ``read_twcs_file`` reads it again, in full, with the row reader
(:mod:`auditor.sources.twcs.rows`), which knows each row's line, so that such rows are rebuilt,
counted and reported with their ``file:line`` exactly as specified; that costs a few seconds
more per million rows.
"""

from __future__ import annotations

import codecs
import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from auditor.sources.twcs.columns import (
    BoolArray,
    IntArray,
    _as_bools,
    _Columns,
    _id_numbers,
    _offsets,
)
from auditor.sources.twcs.dataset import (
    _AUTHOR,
    _CREATED,
    _ID,
    _INBOUND,
    _INBOUND_VALUES,
    _MONTHS,
    _PARENT,
    FIRST_YEAR,
    LAST_YEAR,
    DateParser,
    TwcsStats,
    _clean_author,
    _cp1252_rendering,
    _has_cr_line_ends,
    _layout_of,
    _RowError,
    _Tweet,
    normalise_id,
    parse_inbound,
    repair_mojibake,
)

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]
else:
    from auditor.sources.twcs.columns import pa, pa_csv, pc


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


class _NotPlain(Exception):
    """The file holds something only the row reader handles (and counts, with its line)."""


def _matches(array: pa.Array, pattern: str) -> BoolArray:
    return _as_bools(pc.match_substring_regex(array, pattern))


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
    # Out of range: the row reader's path names the row (see dataset.FIRST_YEAR).
    valid &= (year >= FIRST_YEAR) & (year <= LAST_YEAR)
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
