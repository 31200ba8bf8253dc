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

Where things are: ``dataset`` (columns, value parsers, mojibake repair, :class:`TwcsStats`),
``rows`` (the row-by-row reader: the fallback, with line-numbered errors), ``arrow`` (the
Arrow and numpy reader: the usual path), ``columns`` (the tweets as arrays, as both readers
hand them on), ``accounts`` (threads and the grouping by brand account) and ``file``
(:class:`TwcsFile` and ``read_twcs_file``). Import from this package, not from its modules.

May import ``auditor.model`` and ``auditor.sources.platforms.base`` and nothing else of the
project.
"""

from auditor.sources.twcs.columns import BoolArray, IntArray
from auditor.sources.twcs.dataset import (
    MAX_EXAMPLES,
    PLATFORM,
    WINDOW_REASON,
    DateParser,
    TwcsStats,
    normalise_id,
    parse_inbound,
    repair_mojibake,
)
from auditor.sources.twcs.file import TwcsFile, iter_twcs_records, read_twcs, read_twcs_file

__all__ = [
    "MAX_EXAMPLES",
    "PLATFORM",
    "WINDOW_REASON",
    "BoolArray",
    "DateParser",
    "IntArray",
    "TwcsFile",
    "TwcsStats",
    "iter_twcs_records",
    "normalise_id",
    "parse_inbound",
    "read_twcs",
    "read_twcs_file",
    "repair_mojibake",
]
