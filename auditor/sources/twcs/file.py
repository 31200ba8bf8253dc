"""A twcs file read in full (:class:`TwcsFile`), and the functions that read one.

``read_twcs_file`` tries the Arrow reader and falls back on the row reader; either way the
tweets then go through the same grouping by account. They stay in Arrow buffers, which forked
workers share without copying; ``account_data`` turns one account's rows into Python values.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from pathlib import Path

from auditor.model import AccountData, AccountKey, Post, Window
from auditor.sources.files import MAX_TWCS_BYTES, open_regular
from auditor.sources.platforms.base import Record
from auditor.sources.twcs.accounts import (
    _account_records,
    _account_rows,
    _Accounts,
    _group_by_account,
)
from auditor.sources.twcs.arrow import _read_fast
from auditor.sources.twcs.columns import _columns_of_tweets
from auditor.sources.twcs.dataset import PLATFORM, WINDOW_REASON, TwcsStats
from auditor.sources.twcs.rows import _RowReader


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
    _check_readable(source)
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


def _check_readable(path: Path) -> None:
    """Refuse what cannot be read in full: anything but a regular file (a device would never
    end, a FIFO would block), and a file over the size limit (it is held in memory)."""
    with open_regular(path) as stream:
        size = os.fstat(stream.fileno()).st_size
    if size > MAX_TWCS_BYTES:
        raise ValueError(
            f"{size / (1 << 30):.1f} GB, over the {MAX_TWCS_BYTES >> 30} GB limit of a twcs file"
        )


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
