"""How posts go into the store: what it reads of a post, and the multi-row upsert that merges them.

Posts are read from the caller's own objects (:class:`PostLike`, e.g. ``auditor.model.Post``)
without copying them first: an audit hands over a million posts at a time. Observation times (a
post's first and last seen) come from the caller (the bundle's ``fetched_at`` or window end),
never from the wall clock, so replaying the same bundles in any order gives the same history.
The one wall-clock time, ``last_observed_at`` (when the tool last fetched or read the post), is
for retention only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cache, partial
from operator import attrgetter
from typing import Any, Protocol, TypeVar

from auditor.store.backend import Db
from auditor.store.encoding import _EPOCH, _ONE_US, StoreError
from auditor.store.migrations import _POSTS_V3_COLUMNS


class PostLike(Protocol):
    """What the store reads of a post: ``auditor.model.Post`` has it, so has :class:`FetchedPost`.

    ``thread`` None (or empty) means the post roots its own thread: it is stored as ``id``. An
    empty ``url`` or ``deleted_by`` is stored as NULL, like None.
    """

    @property
    def id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def author(self) -> str: ...
    @property
    def by_brand(self) -> bool: ...
    @property
    def visibility(self) -> str: ...
    @property
    def deleted_by(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def thread(self) -> str | None: ...


class KeptPost(PostLike, Protocol):
    """A post a fetch keeps, with its canonical bundle record."""

    # The post's canonical bundle record as one JSON object (no newline), kept so that a later
    # incremental run can hand the audit the whole lookback window.
    @property
    def record(self) -> str: ...


# An observation is "newest" when it is at least as recent as last_seen; only then does it
# replace the descriptive fields. The second newest (prev_seen, with the visibility and deleter
# seen then) is kept too: what history looked like before the newest, for a rerun of that week.
# Text has its own clock (text_seen_at) because an empty text (a deleted post) must not erase
# the evidence; SET expressions all read the old row. The WHERE
# skips updates that would change nothing (an observation at the same time with the same data,
# i.e. a rerun), so an idempotent rerun reads pages but writes none; any observation at another
# time goes through the full merge. The wall-clock ``last_observed_at`` alone moves a row only
# when it is an hour or more newer: a rerun within the hour writes nothing (rewriting every row
# doubled a 1M-post rerun's CPU time), and retention can only come up to an hour early, never
# late.
_MERGE_POST = """
ON CONFLICT (account_id, post_id) DO UPDATE SET
    created_at = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN excluded.created_at ELSE posts.created_at END,
    author     = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN excluded.author ELSE posts.author END,
    by_brand   = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN excluded.by_brand ELSE posts.by_brand END,
    visibility = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN excluded.visibility ELSE posts.visibility END,
    deleted_by = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN excluded.deleted_by ELSE posts.deleted_by END,
    url        = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN coalesce(excluded.url, posts.url)
                      ELSE coalesce(posts.url, excluded.url) END,
    thread     = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN coalesce(excluded.thread, posts.thread)
                      ELSE coalesce(posts.thread, excluded.thread) END,
    record     = CASE WHEN excluded.last_seen >= posts.last_seen
                      THEN coalesce(excluded.record, posts.record)
                      ELSE coalesce(posts.record, excluded.record) END,
    text       = CASE WHEN excluded.text_seen_at >= coalesce(posts.text_seen_at,
                                                             excluded.text_seen_at)
                      THEN excluded.text ELSE posts.text END,
    text_seen_at = CASE WHEN excluded.text_seen_at > posts.text_seen_at
                             OR posts.text_seen_at IS NULL
                        THEN excluded.text_seen_at ELSE posts.text_seen_at END,
    prev_seen  = CASE
        WHEN excluded.last_seen > posts.last_seen THEN posts.last_seen
        WHEN excluded.last_seen < posts.last_seen
             AND (posts.prev_seen IS NULL OR excluded.last_seen >= posts.prev_seen)
             THEN excluded.last_seen
        ELSE posts.prev_seen END,
    prev_visibility = CASE
        WHEN excluded.last_seen > posts.last_seen THEN posts.visibility
        WHEN excluded.last_seen < posts.last_seen
             AND (posts.prev_seen IS NULL OR excluded.last_seen >= posts.prev_seen)
             THEN excluded.visibility
        ELSE posts.prev_visibility END,
    prev_deleted_by = CASE
        WHEN excluded.last_seen > posts.last_seen THEN posts.deleted_by
        WHEN excluded.last_seen < posts.last_seen
             AND (posts.prev_seen IS NULL OR excluded.last_seen >= posts.prev_seen)
             THEN excluded.deleted_by
        ELSE posts.prev_deleted_by END,
    first_seen = CASE WHEN excluded.first_seen < posts.first_seen
                      THEN excluded.first_seen ELSE posts.first_seen END,
    last_seen  = CASE WHEN excluded.last_seen > posts.last_seen
                      THEN excluded.last_seen ELSE posts.last_seen END,
    last_observed_at = CASE WHEN excluded.last_observed_at > posts.last_observed_at
                            THEN excluded.last_observed_at ELSE posts.last_observed_at END
WHERE excluded.last_seen <> posts.last_seen
   OR excluded.last_observed_at >= posts.last_observed_at + 3600000000
   OR posts.created_at IS NOT excluded.created_at
   OR posts.author IS NOT excluded.author
   OR posts.by_brand IS NOT excluded.by_brand
   OR posts.visibility IS NOT excluded.visibility
   OR posts.deleted_by IS NOT excluded.deleted_by
   OR (excluded.url IS NOT NULL AND posts.url IS NOT excluded.url)
   OR (excluded.thread IS NOT NULL AND posts.thread IS NOT excluded.thread)
   OR (excluded.record IS NOT NULL AND posts.record IS NOT excluded.record)
   OR (excluded.text_seen_at IS NOT NULL
       AND (posts.text IS NOT excluded.text OR posts.text_seen_at IS NOT excluded.text_seen_at))
"""

# Bound per post, in this order: id, created_at (µs), author, by_brand (int), visibility,
# deleted_by ('' for none), text, url ('' for none), thread (never empty), and for fetches the
# record. Everything else is derived in SQL from the statement's three leading parameters
# (?1 account id, ?2 observation time, ?3 the wall clock's, for retention): Python's sqlite3
# binds None and bool through its slow adapter lookup, and each parameter costs, so rows carry
# only plain str and int values.
_POST_PARAMETERS = 9
# Posts per INSERT statement: one statement step and reset per this many posts instead of per
# post (measured: about 20% off the write). Below SQLite's 32766-parameter limit with room.
_POSTS_PER_STATEMENT = 64


@cache
def _upsert_posts_sql(rows: int, with_record: bool) -> str:
    """The upsert of ``rows`` posts in one statement (with their records, for fetches)."""
    width = _POST_PARAMETERS + with_record
    values = []
    for row in range(rows):
        base = 4 + row * width
        pid, created, author, by_brand, visibility, deleted_by, text, url, thread = (
            f"?{base + k}" for k in range(_POST_PARAMETERS)
        )
        record = f"?{base + _POST_PARAMETERS}" if with_record else "NULL"
        values.append(
            f"(?1, {pid}, {created}, {author}, {by_brand}, {visibility}, nullif({deleted_by}, ''),"
            f" {text}, CASE WHEN {text} <> '' THEN ?2 END, nullif({url}, ''), {thread}, ?2, ?2,"
            f" {record}, ?3)"
        )
    return (
        f"INSERT INTO posts (account_id, {_POSTS_V3_COLUMNS}, last_observed_at) VALUES\n"
        + ",\n".join(values)
        + _MERGE_POST
    )


# Readers name an account by (platform, account); an account never written has no id, so the
# subquery is NULL and matches nothing.
_ACCOUNT_ID = "(SELECT id FROM accounts WHERE platform = ? AND account = ?)"


_Post = TypeVar("_Post", bound=PostLike)


def _in_key_order(posts: Iterable[_Post]) -> list[_Post]:
    # In key order (a stable sort: repeated ids keep their order, so their merge is unchanged),
    # each statement touches a few neighbouring B-tree pages instead of one page per post:
    # SQLite copies every page a multi-row statement changes into its statement journal.
    return sorted(posts, key=attrgetter("id"))


def _upsert_posts(
    db: Db,
    account_id: int,
    observed: int,
    observed_now: int,
    values: list[Any],
    *,
    with_record: bool,
) -> None:
    """Merge posts, given as their flattened parameters, into the account's history:
    ``observed`` is the data's time of the observation, ``observed_now`` the wall clock's."""
    if values:
        # A lower bound of the account's posts' last_observed_at, for prune.
        db.execute(
            "UPDATE accounts SET posts_since = CASE WHEN posts_since < ?1 THEN posts_since"
            " ELSE ?1 END WHERE id = ?2",
            (observed_now, account_id),
        )
    width = _POST_PARAMETERS + with_record
    # PostgreSQL refuses a statement that upserts one key twice, where SQLite merges the rows
    # in turn: there, a post repeated in the batch goes in a later wave (same order, same merge).
    waves = _waves(values, width) if getattr(db, "upserts_each_key_once", False) else [values]
    for wave in waves:
        _execute_batched(
            db,
            partial(_upsert_posts_sql, with_record=with_record),
            [account_id, observed, observed_now],
            wave,
            width,
        )


def _waves(values: list[Any], width: int) -> list[list[Any]]:
    """The rows split so that none repeats a post id: the first of each id, then the second..."""
    seen: dict[str, int] = {}
    waves: list[list[Any]] = []
    for at in range(0, len(values), width):
        repeat = seen.get(values[at], 0)
        seen[values[at]] = repeat + 1
        if repeat == len(waves):
            waves.append([])
        waves[repeat].extend(values[at : at + width])
    return waves


def _execute_batched(
    db: Db,
    sql_of: Callable[[int], str],
    leading: list[Any],
    values: list[Any],
    width: int,
) -> None:
    """Run the multi-row statement ``sql_of(rows)`` over ``values``, rows of ``width`` each.

    Each statement takes ``leading`` then up to _POSTS_PER_STATEMENT rows' parameters.
    """
    per_statement = _POSTS_PER_STATEMENT * width
    whole = len(values) // per_statement * per_statement
    if whole:
        statements = range(0, whole, per_statement)
        db.executemany(
            sql_of(_POSTS_PER_STATEMENT),
            [leading + values[at : at + per_statement] for at in statements],
        )
    if whole < len(values):
        db.execute(sql_of((len(values) - whole) // width), leading + values[whole:])


# The hottest Python in an audit's write: one flat list per account, extended with one tuple per
# post (faster than a list of tuples regrouped afterwards). ``+`` turns by_brand into a plain
# int; ``or ''`` keeps None out of the parameters.
def _values(posts: Sequence[PostLike]) -> list[Any]:
    values: list[Any] = []
    extend = values.extend
    try:
        for p in posts:
            extend(
                (
                    p.id,
                    (p.created_at - _EPOCH) // _ONE_US,
                    p.author,
                    +p.by_brand,
                    p.visibility,
                    p.deleted_by or "",
                    p.text,
                    p.url or "",
                    p.thread or p.id,
                )
            )
    except TypeError as exc:
        raise StoreError("post created_at must be a timezone-aware datetime") from exc
    return values


def _kept_values(posts: Sequence[KeptPost]) -> list[Any]:
    # Fetches keep far fewer posts than audits write: each post's values, then its record.
    values: list[Any] = []
    for post in posts:
        values += _values((post,))
        values.append(post.record)
    return values
