"""The history store: what earlier audits saw, kept in one SQLite file.

It keeps every audit run (config hash, times, per-account status), every post seen with the
first and last time it was observed, the findings of each run, and per-account fetch cursors.
Later audits read it to notice what changed (a complaint visible last week and gone now) and to
fetch incrementally.

Design rules:

* Times are stored as integer microseconds since the Unix epoch, UTC; every datetime handed in
  must be timezone-aware and every datetime handed out is in UTC.
* Observation times (a post's first and last seen) come from the caller (the bundle's
  ``fetched_at`` or window end), never from the wall clock, so replaying the same bundles in any
  order gives the same history.
* Each write is one transaction: an exception part-way through leaves the store as it was.
* The schema is versioned with ``PRAGMA user_version`` and migrated forward in order.
* Posts are read from the caller's own objects (:class:`PostLike`, e.g. ``auditor.model.Post``)
  without copying them first: an audit hands over a million posts at a time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from operator import attrgetter, itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self, TypeVar

import msgspec

from auditor.model import SeenPost

__all__ = [
    "SCHEMA_VERSION",
    "FetchedConversation",
    "FetchedPost",
    "FindingRecord",
    "HistoryStore",
    "KeptPost",
    "PostLike",
    "RunRow",
    "SeenPost",
    "StoreError",
]


class StoreError(Exception):
    """The history store cannot do what was asked (bad input, unknown schema, SQLite failure)."""


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


class FetchedPost(NamedTuple):
    """A post as one fetch saw it (a :class:`KeptPost`)."""

    id: str
    created_at: datetime
    author: str
    by_brand: bool
    visibility: str
    deleted_by: str | None
    text: str
    url: str | None
    thread: str | None
    record: str


class FetchedConversation(NamedTuple):
    """A private conversation as one fetch saw it: its canonical bundle record as JSON."""

    conversation_id: str
    last_message_at: datetime
    record: str


@dataclass(frozen=True, slots=True)
class FindingRecord:
    uid: str
    check_id: str
    severity: str
    message: str
    evidence_id: str


class FindingLike(Protocol):
    """What the store keeps of a finding: a FindingRecord, or the engine's own Finding."""

    @property
    def uid(self) -> str: ...
    @property
    def check_id(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def evidence_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RunRow:
    run_key: str
    config_hash: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    tool_version: str


# --- time encoding ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000
_ONE_US = timedelta(microseconds=1)


def _to_us(value: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding); refuses naive datetimes."""
    try:
        delta = value - _EPOCH
    except TypeError as exc:
        raise StoreError(f"datetime must be timezone-aware, got {value!r}") from exc
    return delta.days * _DAY_US + delta.seconds * 1_000_000 + delta.microseconds


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _from_us_or_none(value: int | None) -> datetime | None:
    return None if value is None else _from_us(value)


# --- cursor encoding --------------------------------------------------------------------------

# Cursors are JSON; datetimes (newest timestamps) are tagged so that they come back as datetimes.
_DATETIME_TAG = "$datetime"


def _encode_cursor_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise StoreError(f"cursor datetime must be timezone-aware, got {value!r}")
        return {_DATETIME_TAG: value.isoformat()}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _decode_cursor_object(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATETIME_TAG in obj:
        return datetime.fromisoformat(obj[_DATETIME_TAG])
    return obj


def _dump_cursor(cursor: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(cursor), default=_encode_cursor_value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cursor cannot be stored: {exc}") from exc


def _load_record(text: str) -> dict[str, Any]:
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise StoreError("a kept record is not a JSON object")
    return loaded


def _load_cursor(text: str) -> dict[str, Any]:
    loaded = json.loads(text, object_hook=_decode_cursor_object)
    return loaded if isinstance(loaded, dict) else {}


# --- schema -----------------------------------------------------------------------------------

Migration = Callable[[sqlite3.Connection], None]


def _run_statements(statements: Sequence[str]) -> Migration:
    def migrate(connection: sqlite3.Connection) -> None:
        for statement in statements:
            connection.execute(statement)

    return migrate


# Version 1: the initial schema. Posts are keyed by (platform, account, post_id) in a WITHOUT
# ROWID table, so the upsert touches one B-tree instead of a table plus a unique index. CHECKs
# use OR rather than IN: SQLite builds an ephemeral lookup table for an IN list on every row,
# which made inserts almost twice as slow.
_SCHEMA_V1 = (
    """
    CREATE TABLE runs (
        run_key      TEXT PRIMARY KEY,
        config_hash  TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        status       TEXT NOT NULL
    )
    """,
    "CREATE INDEX runs_started_at ON runs (started_at)",
    """
    CREATE TABLE run_accounts (
        run_key     TEXT NOT NULL REFERENCES runs (run_key),
        platform    TEXT NOT NULL,
        account     TEXT NOT NULL,
        status      TEXT NOT NULL,
        observed_at INTEGER NOT NULL,
        posts_seen  INTEGER NOT NULL,
        PRIMARY KEY (run_key, platform, account)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX run_accounts_by_account ON run_accounts (platform, account)",
    """
    CREATE TABLE findings (
        run_key     TEXT NOT NULL,
        platform    TEXT NOT NULL,
        account     TEXT NOT NULL,
        uid         TEXT NOT NULL,
        check_id    TEXT NOT NULL,
        severity    TEXT NOT NULL,
        message     TEXT NOT NULL,
        evidence_id TEXT NOT NULL,
        PRIMARY KEY (run_key, platform, account, uid),
        FOREIGN KEY (run_key, platform, account)
            REFERENCES run_accounts (run_key, platform, account)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE posts (
        platform     TEXT NOT NULL,
        account      TEXT NOT NULL,
        post_id      TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        author       TEXT NOT NULL,
        by_brand     INTEGER NOT NULL CHECK (by_brand = 0 OR by_brand = 1),
        visibility   TEXT NOT NULL
            CHECK (visibility = 'public' OR visibility = 'hidden' OR visibility = 'deleted'),
        deleted_by   TEXT,
        text         TEXT NOT NULL,
        text_seen_at INTEGER,
        url          TEXT,
        thread       TEXT,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        PRIMARY KEY (platform, account, post_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE cursors (
        platform   TEXT NOT NULL,
        account    TEXT NOT NULL,
        cursor     TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (platform, account)
    ) WITHOUT ROWID
    """,
)

# Version 2: what fetches keep. A post's canonical bundle record (``record``), and private
# conversations as records of their own, so that an incremental fetch, which asks the platform
# only for what is new, can still hand the audit the whole lookback window.
_SCHEMA_V2 = (
    "ALTER TABLE posts ADD COLUMN record TEXT",
    """
    CREATE TABLE conversations (
        platform        TEXT NOT NULL,
        account         TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        last_message_at INTEGER NOT NULL,
        record          TEXT NOT NULL,
        first_seen      INTEGER NOT NULL,
        last_seen       INTEGER NOT NULL,
        PRIMARY KEY (platform, account, conversation_id)
    ) WITHOUT ROWID
    """,
)

# Version 3: posts keyed by an integer account id, (account_id, post_id), instead of the
# (platform, account) text prefix: smaller keys and rows, and the account is bound once per
# statement rather than as two text parameters per post; with the multi-row upsert below this
# halves the cost of writing an audit's posts. Columns and their meaning are unchanged. No foreign
# key to accounts: the check would cost a lookup per post, and accounts are never deleted. The
# other tables keep (platform, account): keyed by account id, 350k findings inserted only 8%
# faster (0.90 -> 0.83 s), against 35% from multi-row inserts, which need no migration.
_POSTS_V3_COLUMNS = (
    "post_id, created_at, author, by_brand, visibility, deleted_by, text, text_seen_at, url,"
    " thread, first_seen, last_seen, record"
)
_SCHEMA_V3 = (
    """
    CREATE TABLE accounts (
        id       INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        account  TEXT NOT NULL,
        UNIQUE (platform, account)
    )
    """,
    """
    CREATE TABLE posts_v3 (
        account_id   INTEGER NOT NULL,
        post_id      TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        author       TEXT NOT NULL,
        by_brand     INTEGER NOT NULL CHECK (by_brand = 0 OR by_brand = 1),
        visibility   TEXT NOT NULL
            CHECK (visibility = 'public' OR visibility = 'hidden' OR visibility = 'deleted'),
        deleted_by   TEXT,
        text         TEXT NOT NULL,
        text_seen_at INTEGER,
        url          TEXT,
        thread       TEXT,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        record       TEXT,
        PRIMARY KEY (account_id, post_id)
    ) WITHOUT ROWID
    """,
    "SELECT DISTINCT platform, account FROM posts",  # given ids by _migrate_to_v3
    f"""
    INSERT INTO posts_v3 (account_id, {_POSTS_V3_COLUMNS})
    SELECT a.id, {", ".join(f"p.{c.strip()}" for c in _POSTS_V3_COLUMNS.split(","))}
    FROM posts AS p JOIN accounts AS a ON a.platform = p.platform AND a.account = p.account
    """,
    "DROP TABLE posts",
    "ALTER TABLE posts_v3 RENAME TO posts",
)


def _migrate_to_v3(connection: sqlite3.Connection) -> None:
    create_accounts, create_posts, select_accounts, *rest = _SCHEMA_V3
    connection.execute(create_accounts)
    connection.execute(create_posts)
    for platform, account in connection.execute(select_accounts).fetchall():
        _new_account_id(connection, platform, account)
    for statement in rest:
        connection.execute(statement)


# Version 4: cheaper writes and prune.
#
# * An account's findings in a run are one row of ``run_findings``, a JSON array of [uid,
#   check_id, severity, message, evidence_id] in uid order, instead of a row each: the store
#   only ever asks "which uids did this account have in that run", and a row per finding cost a
#   B-tree insert of a ~100-byte key each (twcs, 284,000 findings: 0.64 s of CPU -> 0.1 s).
#   ``findings`` is now a view with the old table's columns and one row per finding, so SQL
#   written against the old table still reads them (json_extract rather than ->>, which
#   needs SQLite 3.38).
# * ``accounts.posts_since``: a lower bound on the last_seen of the account's posts (NULL: it
#   has none). Writes lower it to their observation time; prune visits only accounts whose
#   bound is older than the cutoff and raises it to the cutoff. Prune scanned every post
#   (0.4 s per million) to delete nothing in an audit within the retention period; an index on
#   last_seen would instead cost an index update per post on every write.
_SCHEMA_V4_FINDINGS = (
    """
    CREATE TABLE run_findings (
        run_key  TEXT NOT NULL,
        platform TEXT NOT NULL,
        account  TEXT NOT NULL,
        findings TEXT NOT NULL,
        PRIMARY KEY (run_key, platform, account),
        FOREIGN KEY (run_key, platform, account)
            REFERENCES run_accounts (run_key, platform, account)
    ) WITHOUT ROWID
    """,
    """
    CREATE VIEW findings (run_key, platform, account, uid, check_id, severity, message,
                          evidence_id) AS
    SELECT f.run_key, f.platform, f.account, json_extract(j.value, '$[0]'),
           json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'),
           json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]')
    FROM run_findings AS f, json_each(f.findings) AS j
    """,
)


def _migrate_to_v4(connection: sqlite3.Connection) -> None:
    connection.execute("ALTER TABLE accounts ADD COLUMN posts_since INTEGER")
    connection.execute(
        "UPDATE accounts SET posts_since ="
        " (SELECT min(last_seen) FROM posts WHERE account_id = accounts.id)"
    )
    create_table, create_view = _SCHEMA_V4_FINDINGS
    connection.execute(create_table)
    # Grouped in Python so that migrated rows are encoded exactly as new ones are.
    rows = connection.execute(
        "SELECT run_key, platform, account, uid, check_id, severity, message, evidence_id"
        " FROM findings ORDER BY run_key, platform, account, uid"
    )
    grouped: dict[tuple[str, str, str], list[tuple[str, ...]]] = {}
    for run_key, platform, account, *finding in rows:
        grouped.setdefault((run_key, platform, account), []).append(tuple(finding))
    connection.executemany(
        "INSERT INTO run_findings (run_key, platform, account, findings) VALUES (?, ?, ?, ?)",
        [(*key, _encode_findings(found)) for key, found in grouped.items()],
    )
    connection.execute("DROP TABLE findings")
    connection.execute(create_view)


# Migration i (0-based) takes the schema from version i to version i + 1. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    _run_statements(_SCHEMA_V1),
    _run_statements(_SCHEMA_V2),
    _migrate_to_v3,
    _migrate_to_v4,
)
SCHEMA_VERSION = len(MIGRATIONS)


# --- SQL --------------------------------------------------------------------------------------

# An observation is "newest" when it is at least as recent as last_seen; only then does it
# replace the descriptive fields. Text has its own clock (text_seen_at) because an empty text
# (a deleted post) must not erase the evidence; SET expressions all read the old row. The WHERE
# skips updates that would change nothing (an observation at the same time with the same data,
# i.e. a rerun), so an idempotent rerun reads pages but writes none; any observation at another
# time goes through the full merge.
_MERGE_POST = """
ON CONFLICT (account_id, post_id) DO UPDATE SET
    created_at = iif(excluded.last_seen >= last_seen, excluded.created_at, created_at),
    author     = iif(excluded.last_seen >= last_seen, excluded.author, author),
    by_brand   = iif(excluded.last_seen >= last_seen, excluded.by_brand, by_brand),
    visibility = iif(excluded.last_seen >= last_seen, excluded.visibility, visibility),
    deleted_by = iif(excluded.last_seen >= last_seen, excluded.deleted_by, deleted_by),
    url        = iif(excluded.last_seen >= last_seen,
                     coalesce(excluded.url, url), coalesce(url, excluded.url)),
    thread     = iif(excluded.last_seen >= last_seen,
                     coalesce(excluded.thread, thread), coalesce(thread, excluded.thread)),
    record     = iif(excluded.last_seen >= last_seen,
                     coalesce(excluded.record, record), coalesce(record, excluded.record)),
    text       = iif(excluded.text_seen_at >= coalesce(text_seen_at, excluded.text_seen_at),
                     excluded.text, text),
    text_seen_at = max(coalesce(text_seen_at, excluded.text_seen_at),
                       coalesce(excluded.text_seen_at, text_seen_at)),
    first_seen = min(first_seen, excluded.first_seen),
    last_seen  = max(last_seen, excluded.last_seen)
WHERE excluded.last_seen <> last_seen
   OR created_at IS NOT excluded.created_at
   OR author IS NOT excluded.author
   OR by_brand IS NOT excluded.by_brand
   OR visibility IS NOT excluded.visibility
   OR deleted_by IS NOT excluded.deleted_by
   OR (excluded.url IS NOT NULL AND url IS NOT excluded.url)
   OR (excluded.thread IS NOT NULL AND thread IS NOT excluded.thread)
   OR (excluded.record IS NOT NULL AND record IS NOT excluded.record)
   OR (excluded.text_seen_at IS NOT NULL
       AND (text IS NOT excluded.text OR text_seen_at IS NOT excluded.text_seen_at))
"""

# Bound per post, in this order: id, created_at (µs), author, by_brand (int), visibility,
# deleted_by ('' for none), text, url ('' for none), thread (never empty), and for fetches the
# record. Everything else is derived in SQL from the statement's two leading parameters
# (?1 account id, ?2 observation time): Python's sqlite3 binds None and bool through its slow
# adapter lookup, and each parameter costs, so rows carry only plain str and int values.
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
        base = 3 + row * width
        pid, created, author, by_brand, visibility, deleted_by, text, url, thread = (
            f"?{base + k}" for k in range(_POST_PARAMETERS)
        )
        record = f"?{base + _POST_PARAMETERS}" if with_record else "NULL"
        values.append(
            f"(?1, {pid}, {created}, {author}, {by_brand}, {visibility}, nullif({deleted_by}, ''),"
            f" {text}, iif({text} <> '', ?2, NULL), nullif({url}, ''), {thread}, ?2, ?2, {record})"
        )
    return (
        f"INSERT INTO posts (account_id, {_POSTS_V3_COLUMNS}) VALUES\n"
        + ",\n".join(values)
        + _MERGE_POST
    )


_UPSERT_CURSOR = (
    "INSERT INTO cursors (platform, account, cursor, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (platform, account) DO UPDATE SET cursor = excluded.cursor,"
    " updated_at = excluded.updated_at WHERE excluded.updated_at >= updated_at"
)

# A conversation's record follows its newest observation, like a post's descriptive fields.
_UPSERT_CONVERSATION = """
INSERT INTO conversations (platform, account, conversation_id, last_message_at, record,
                           first_seen, last_seen)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
ON CONFLICT (platform, account, conversation_id) DO UPDATE SET
    last_message_at = iif(excluded.last_seen >= last_seen,
                          excluded.last_message_at, last_message_at),
    record     = iif(excluded.last_seen >= last_seen, excluded.record, record),
    first_seen = min(first_seen, excluded.first_seen),
    last_seen  = max(last_seen, excluded.last_seen)
"""

# Readers name an account by (platform, account); an account never written has no id, so the
# subquery is NULL and matches nothing.
_ACCOUNT_ID = "(SELECT id FROM accounts WHERE platform = ? AND account = ?)"

_SELECT_POSTS = f"""
SELECT post_id, created_at, author, by_brand, visibility, deleted_by, text, url, thread,
       first_seen, last_seen
FROM posts
WHERE account_id = {_ACCOUNT_ID} AND first_seen < ?
ORDER BY post_id
"""

# The latest finished run, other than and started before the reference run, that audited the
# account. Ties on started_at are broken by run_key so the answer never depends on row order.
_LATEST_EARLIER_RUN = """
SELECT r.run_key FROM runs AS r
JOIN run_accounts AS a ON a.run_key = r.run_key
WHERE a.platform = ?1 AND a.account = ?2 AND r.finished_at IS NOT NULL
  AND r.run_key IS NOT ?3 AND (?4 IS NULL OR r.started_at < ?4)
ORDER BY r.started_at DESC, r.run_key DESC
LIMIT 1
"""


class HistoryStore:
    """One writer's handle on the history database (not thread-safe)."""

    def __init__(self, path: Path | str, retention_days: int = 90) -> None:
        if isinstance(retention_days, bool) or not isinstance(retention_days, int):
            raise StoreError(f"retention_days must be an integer, got {retention_days!r}")
        if retention_days < 1:
            raise StoreError(f"retention_days must be at least 1, got {retention_days}")
        self.path = str(path)
        self.retention = timedelta(days=retention_days)
        self._connection: sqlite3.Connection | None = _open(self.path)
        try:
            _migrate(self._connection, self.path)
        except BaseException:
            self._connection.close()
            self._connection = None
            raise

    # -- lifecycle --

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError("the history store is closed")
        return self._connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any exception rolls everything back and propagates.

        SQLite errors are re-raised as StoreError; anything else (an exception from the
        caller's iterable, say) propagates unchanged after the rollback.
        """
        connection = self._db
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("PRAGMA defer_foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot start a transaction on {self.path}: {exc}") from exc
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"history store write failed: {exc}") from exc
            raise

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"history store read failed: {exc}") from exc

    # -- runs --

    def begin_run(
        self, run_key: str, config_hash: str, tool_version: str, started_at: datetime
    ) -> None:
        """Start a run; a run_key seen before is replaced (its accounts and findings dropped)."""
        started = _to_us(started_at)
        with self._transaction() as db:
            db.execute("DELETE FROM run_findings WHERE run_key = ?", (run_key,))
            db.execute("DELETE FROM run_accounts WHERE run_key = ?", (run_key,))
            db.execute(
                "INSERT INTO runs (run_key, config_hash, tool_version, started_at, finished_at,"
                " status) VALUES (?, ?, ?, ?, NULL, 'running')"
                " ON CONFLICT (run_key) DO UPDATE SET config_hash = excluded.config_hash,"
                " tool_version = excluded.tool_version, started_at = excluded.started_at,"
                " finished_at = NULL, status = 'running'",
                (run_key, config_hash, tool_version, started),
            )

    def record_account(
        self,
        run_key: str,
        platform: str,
        account: str,
        status: str,
        observed_at: datetime,
        posts: Iterable[PostLike],
        findings: Iterable[FindingLike],
    ) -> None:
        """Record one account of a run in one transaction.

        Posts are upserted (first_seen and last_seen widen to include ``observed_at``; the
        descriptive fields follow the newest observation); this run's findings and account row
        for (platform, account) are replaced. ``posts`` and ``findings`` are consumed once,
        before the transaction begins (parallel workers hold the write lock only while
        writing): if they raise, nothing of this call is kept.
        """
        observed = _to_us(observed_at)
        post_values = _values(_in_key_order(posts))
        encoded_findings = _encode_findings(_finding_rows(findings))
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_key = ?", (run_key,)).fetchone() is None:
                raise StoreError(f"unknown run {run_key!r}: call begin_run first")
            account_id = _account_id(db, platform, account)
            _upsert_posts(db, account_id, observed, post_values, with_record=False)
            posts_seen = len(post_values) // _POST_PARAMETERS
            db.execute(
                "INSERT INTO run_accounts (run_key, platform, account, status, observed_at,"
                " posts_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_key, platform, account)"
                " DO UPDATE SET status = excluded.status, observed_at = excluded.observed_at,"
                " posts_seen = excluded.posts_seen",
                (run_key, platform, account, status, observed, posts_seen),
            )
            db.execute(
                "INSERT INTO run_findings (run_key, platform, account, findings)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_key, platform, account) DO UPDATE SET"
                " findings = excluded.findings",
                (run_key, platform, account, encoded_findings),
            )

    def finish_run(self, run_key: str, finished_at: datetime, status: str) -> None:
        finished = _to_us(finished_at)
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_key = ?",
                (finished, status, run_key),
            )
            if updated.rowcount == 0:
                raise StoreError(f"unknown run {run_key!r}: call begin_run first")

    def runs(self) -> list[RunRow]:
        rows = self._read(
            "SELECT run_key, config_hash, started_at, finished_at, status, tool_version"
            " FROM runs ORDER BY started_at, run_key"
        )
        return [
            RunRow(
                run_key=key,
                config_hash=config_hash,
                started_at=_from_us(started),
                finished_at=_from_us_or_none(finished),
                status=status,
                tool_version=tool_version,
            )
            for key, config_hash, started, finished, status, tool_version in rows
        ]

    # -- history --

    def previous_posts(self, platform: str, account: str, before: datetime) -> dict[str, SeenPost]:
        """Posts of this account that history first saw before ``before``."""
        rows = self._read(_SELECT_POSTS, (platform, account, _to_us(before)))
        # Observation times repeat across thousands of posts (one per audit), so convert each once.
        seen_times: dict[int, datetime] = {}

        def seen_time(value: int) -> datetime:
            converted = seen_times.get(value)
            if converted is None:
                converted = seen_times[value] = _from_us(value)
            return converted

        return {
            post_id: SeenPost(
                post_id,
                _from_us(created),
                author,
                bool(by_brand),
                visibility,
                deleted_by,
                text,
                url,
                thread,
                seen_time(first),
                seen_time(last),
            )
            for (
                post_id,
                created,
                author,
                by_brand,
                visibility,
                deleted_by,
                text,
                url,
                thread,
                first,
                last,
            ) in rows
        }

    def previous_finding_uids(
        self, platform: str, account: str, before_run: str | None = None
    ) -> set[str]:
        """Finding uids of this account in the latest finished run before ``before_run``.

        Only runs that recorded this account count. With ``before_run`` set, that run itself
        and runs started at or after it are ignored; a ``before_run`` not yet begun only
        excludes itself.
        """
        started: int | None = None
        if before_run is not None:
            found = self._read("SELECT started_at FROM runs WHERE run_key = ?", (before_run,))
            started = found[0][0] if found else None
        latest = self._read(_LATEST_EARLIER_RUN, (platform, account, before_run, started))
        if not latest:
            return set()
        rows = self._read(
            "SELECT findings FROM run_findings WHERE run_key = ? AND platform = ? AND account = ?",
            (latest[0][0], platform, account),
        )
        return {uid for (encoded,) in rows for uid, *_ in _decode_findings(encoded)}

    # -- fetched records --

    def record_fetch(
        self,
        platform: str,
        account: str,
        observed_at: datetime,
        posts: Iterable[KeptPost],
        conversations: Iterable[FetchedConversation] = (),
        cursor: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep what one fetch of an account saw, and its new cursor, in one transaction.

        Posts merge as in :meth:`record_account` (with their ``record``); no run is recorded,
        because a fetch is not an audit. The cursor, when given, follows :meth:`set_cursor`'s
        rule (never moves back). A crash part-way leaves the store as it was, cursor included,
        so the next run asks again for what this one may have lost.
        """
        observed = _to_us(observed_at)
        encoded = None if cursor is None else _dump_cursor(cursor)
        post_values = _kept_values(_in_key_order(posts))
        with self._transaction() as db:
            account_id = _account_id(db, platform, account)
            _upsert_posts(db, account_id, observed, post_values, with_record=True)
            db.executemany(
                _UPSERT_CONVERSATION,
                (
                    (
                        platform,
                        account,
                        c.conversation_id,
                        _to_us(c.last_message_at),
                        c.record,
                        observed,
                    )
                    for c in conversations
                ),
            )
            if encoded is not None:
                db.execute(_UPSERT_CURSOR, (platform, account, encoded, observed))

    def fetched_posts(self, platform: str, account: str, since: datetime) -> list[dict[str, Any]]:
        """The kept records of this account's posts created at or after ``since``, oldest first."""
        rows = self._read(
            f"SELECT record FROM posts WHERE account_id = {_ACCOUNT_ID} AND created_at >= ?"
            " AND record IS NOT NULL ORDER BY created_at, post_id",
            (platform, account, _to_us(since)),
        )
        return [_load_record(text) for (text,) in rows]

    def fetched_posts_by_id(
        self, platform: str, account: str, post_ids: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The kept records of these posts (those the store has), by post id."""
        wanted = sorted(set(post_ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._read(
                f"SELECT record FROM posts WHERE account_id = {_ACCOUNT_ID}"
                f" AND post_id IN ({marks}) AND record IS NOT NULL ORDER BY post_id",
                (platform, account, *chunk),
            )
            found += [_load_record(text) for (text,) in rows]
        return found

    def fetched_conversations(
        self, platform: str, account: str, since: datetime
    ) -> list[dict[str, Any]]:
        """The kept conversation records with a message at or after ``since``."""
        rows = self._read(
            "SELECT record FROM conversations WHERE platform = ? AND account = ?"
            " AND last_message_at >= ? ORDER BY conversation_id",
            (platform, account, _to_us(since)),
        )
        return [_load_record(text) for (text,) in rows]

    # -- cursors --

    def get_cursor(self, platform: str, account: str) -> dict[str, Any]:
        """The cursor last saved for the account, or {} if none."""
        rows = self._read(
            "SELECT cursor FROM cursors WHERE platform = ? AND account = ?", (platform, account)
        )
        return _load_cursor(rows[0][0]) if rows else {}

    def set_cursor(
        self, platform: str, account: str, cursor: Mapping[str, Any], updated_at: datetime
    ) -> None:
        """Save the account's cursor (JSON values; aware datetimes round-trip as datetimes).

        Like last_seen, a cursor never moves back: an update older than the stored one is
        ignored, so replaying old bundles cannot rewind incremental fetching.
        """
        encoded = _dump_cursor(cursor)
        updated = _to_us(updated_at)
        with self._transaction() as db:
            db.execute(_UPSERT_CURSOR, (platform, account, encoded, updated))

    # -- retention --

    def prune(self, now: datetime, runs_now: datetime | None = None) -> int:
        """Delete posts and conversations last seen before ``now - retention``, and runs started
        before ``runs_now - retention`` (default ``now``); count rows.

        Posts are seen at the data's time and runs start at the wall clock's: an audit of an
        old export passes both, so that neither clock prunes by the other (an export dated in
        the future must not delete the run that audited it). An account's findings in a run
        count as one row (they are stored as one).
        """
        cutoff = _to_us(now - self.retention)
        runs_cutoff = _to_us((runs_now or now) - self.retention)
        old_runs = "SELECT run_key FROM runs WHERE started_at < ?"
        deleted = 0
        with self._transaction() as db:
            for sql, before in (
                (f"DELETE FROM run_findings WHERE run_key IN ({old_runs})", runs_cutoff),
                (f"DELETE FROM run_accounts WHERE run_key IN ({old_runs})", runs_cutoff),
                ("DELETE FROM runs WHERE started_at < ?", runs_cutoff),
                ("DELETE FROM conversations WHERE last_seen < ?", cutoff),
            ):
                deleted += db.execute(sql, (before,)).rowcount
            # Only accounts that may hold a post older than the cutoff are read at all.
            stale = db.execute("SELECT id FROM accounts WHERE posts_since < ?", (cutoff,))
            for (account_id,) in stale.fetchall():
                deleted += db.execute(
                    "DELETE FROM posts WHERE account_id = ? AND last_seen < ?",
                    (account_id, cutoff),
                ).rowcount
            db.execute("UPDATE accounts SET posts_since = ?1 WHERE posts_since < ?1", (cutoff,))
        return deleted


def _account_id(db: sqlite3.Connection, platform: str, account: str) -> int:
    """The account's id, given it on first use (inside the caller's write transaction)."""
    row = db.execute(
        "SELECT id FROM accounts WHERE platform = ? AND account = ?", (platform, account)
    ).fetchone()
    return int(row[0]) if row is not None else _new_account_id(db, platform, account)


def _new_account_id(db: sqlite3.Connection, platform: str, account: str) -> int:
    """Give the account an id drawn from its name, not from the order accounts came in.

    Parallel workers record accounts in whatever order they finish: numbering them as they
    come would make two stores of the same audits differ. A hash collision (with 63 bits,
    in theory only) takes the next free id.
    """
    digest = hashlib.blake2b(f"{platform}\n{account}".encode(), digest_size=8).digest()
    candidate = int.from_bytes(digest, "big") >> 1
    while db.execute("SELECT 1 FROM accounts WHERE id = ?", (candidate,)).fetchone():
        candidate = (candidate + 1) % (1 << 63)
    db.execute(
        "INSERT INTO accounts (id, platform, account) VALUES (?, ?, ?)",
        (candidate, platform, account),
    )
    return candidate


_Post = TypeVar("_Post", bound=PostLike)


def _in_key_order(posts: Iterable[_Post]) -> list[_Post]:
    # In key order (a stable sort: repeated ids keep their order, so their merge is unchanged),
    # each statement touches a few neighbouring B-tree pages instead of one page per post:
    # SQLite copies every page a multi-row statement changes into its statement journal.
    return sorted(posts, key=attrgetter("id"))


def _upsert_posts(
    db: sqlite3.Connection, account_id: int, observed: int, values: list[Any], *, with_record: bool
) -> None:
    """Merge posts, given as their flattened parameters, into the account's history."""
    if values:
        db.execute(
            "UPDATE accounts SET posts_since = min(coalesce(posts_since, ?1), ?1) WHERE id = ?2",
            (observed, account_id),
        )
    _execute_batched(
        db,
        partial(_upsert_posts_sql, with_record=with_record),
        [account_id, observed],
        values,
        _POST_PARAMETERS + with_record,
    )


def _execute_batched(
    db: sqlite3.Connection,
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


# Findings are kept as compact JSON (msgspec's encoder: a third of the stdlib's time).
_FINDINGS_ENCODER = msgspec.json.Encoder()
_FINDINGS_DECODER = msgspec.json.Decoder(list[tuple[str, str, str, str, str]])


def _finding_rows(findings: Iterable[FindingLike]) -> list[tuple[str, str, str, str, str]]:
    """[uid, check_id, severity, message, evidence_id] per finding, in uid order.

    A check reporting the same uid twice keeps the last one rather than failing the account.
    """
    # Rows made in C (attrgetter), deduplicated only when a uid repeats (hardly ever): 284k
    # findings 0.29 s -> 0.19 s.
    rows: list[tuple[str, str, str, str, str]] = list(map(_FINDING_ROW, findings))
    if len(set(map(_ROW_UID, rows))) != len(rows):
        rows = list({row[0]: row for row in rows}.values())
    rows.sort(key=_ROW_UID)
    return rows


_FINDING_ROW = attrgetter("uid", "check_id", "severity", "message", "evidence_id")
_ROW_UID = itemgetter(0)


def _encode_findings(rows: Sequence[Sequence[str]]) -> str:
    return _FINDINGS_ENCODER.encode(rows).decode()


def _decode_findings(encoded: str) -> list[tuple[str, str, str, str, str]]:
    try:
        return _FINDINGS_DECODER.decode(encoded)
    except msgspec.DecodeError as exc:
        raise StoreError(f"a run's findings are not readable: {exc}") from exc


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


# --- opening and migrating --------------------------------------------------------------------


_PAGE_SIZE = 16384


def _open(path: str) -> sqlite3.Connection:
    if path != ":memory:":
        parent = Path(path).parent
        if not parent.is_dir():
            raise StoreError(f"history store directory does not exist: {parent}")
    try:
        # isolation_level=None: the store issues BEGIN/COMMIT itself, so a transaction spans
        # exactly one public call.
        # Parallel audits write from several processes: wait for the lock rather than fail.
        connection = sqlite3.connect(path, isolation_level=None, timeout=120)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open history store {path}: {exc}") from exc
    try:
        # 16 KiB pages make the posts B-tree shallower: an account's posts go in at its own
        # place in the tree (account ids are hashes), and each upsert seeks from the root
        # (measured: first run of bench_store.py 2.5 s -> 2.2 s). Only a new file takes it.
        connection.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        # A bigger page cache keeps a 1M-post upsert from thrashing; negative = KiB.
        connection.execute("PRAGMA cache_size = -65536")
        # A multi-row upsert keeps the pages it changes in a statement journal, spilled to a
        # temporary file past 64 KiB: in memory, a million posts' writes skip ~100,000 write
        # calls (posts go in key order, so each statement's journal stays a few pages).
        connection.execute("PRAGMA temp_store = MEMORY")
        # wal_autocheckpoint 10000 and 30000 measured no faster end to end (bench_store.py,
        # close included) than the default: left at it.
    except sqlite3.Error as exc:
        connection.close()
        raise StoreError(f"{path} is not a usable SQLite history store: {exc}") from exc
    return connection


def _migrate(connection: sqlite3.Connection, path: str) -> None:
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"history store {path} has schema version {version}, newer than this tool "
                f"knows ({SCHEMA_VERSION}); upgrade social-care-auditor or use another store"
            )
        if version == 0 and _has_tables(connection):
            raise StoreError(f"{path} is an SQLite database but not a history store")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            _apply_migration(connection, target)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open history store {path}: {exc}") from exc


def _has_tables(connection: sqlite3.Connection) -> bool:
    row = connection.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()
    return bool(row[0])


def _apply_migration(connection: sqlite3.Connection, target: int) -> None:
    """Apply one migration and record its version in the same transaction."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        MIGRATIONS[target - 1](connection)
        connection.execute(f"PRAGMA user_version = {int(target)}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
