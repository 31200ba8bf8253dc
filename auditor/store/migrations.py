"""The history store's schema: numbered, append-only versions and the path that upgrades a store.

The schema is versioned (SQLite: ``PRAGMA user_version``; PostgreSQL: the ``schema_version``
table) and migrated forward in order, one transaction per version. A new version is a new entry
at the end of :data:`MIGRATIONS`; the ones there never change, because stores written by older
versions of the tool depend on them.

PostgreSQL starts from version 10 as one set of tables (``backend_postgres.BASELINE_DDL``) and
applies the versions after it, so every version from 11 on must be ``_run_statements((...))``
of portable statements: SQL both databases run, with SQLite's column types (INTEGER, TEXT, BLOB,
REAL), which the PostgreSQL backend translates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditor.store.encoding import StoreError, _encode_findings, _new_account_id, _to_us
from auditor.store.ledger import LEDGER_SCHEMA

# A migration runs on the database's connection (sqlite3's, or the PostgreSQL backend's).
Migration = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Statements:
    """A migration that is a list of portable statements, run in order: the only kind the
    PostgreSQL backend can apply (it translates their column types)."""

    statements: tuple[str, ...]

    def __call__(self, connection: Any) -> None:
        for statement in self.statements:
            connection.execute(statement)


def _run_statements(statements: Sequence[str]) -> Statements:
    return Statements(tuple(statements))


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


# Version 5: retention by the wall clock. ``last_observed_at`` on posts and conversations is
# when the tool last fetched the row or read it from an input, by the wall clock (UTC): retention
# deletes a row ``retention_days`` after it, and nothing else reads it (never reported, never an
# audit clock; first_seen and last_seen stay on the data's time). ``accounts.posts_since`` is now a
# lower bound of the account's posts' last_observed_at, for the same cheap prune.
#
# When existing rows were last observed is unknown (the store kept only the data's time), so they
# get the migration's own time: the most recent moment they can be vouched for, which keeps them
# for one full retention period from the upgrade rather than deleting on a guess.
def _migrate_to_v5(connection: sqlite3.Connection) -> None:
    migrated = _to_us(datetime.now(UTC))
    # Filled by an UPDATE (a one-off rewrite of the old rows), not a DEFAULT holding the
    # migration's time: that would make every store's schema differ by when it was made.
    for table in ("posts", "conversations"):
        connection.execute(f"ALTER TABLE {table} ADD COLUMN last_observed_at INTEGER")
        connection.execute(f"UPDATE {table} SET last_observed_at = ?", (migrated,))
    connection.execute(
        "UPDATE accounts SET posts_since = ? WHERE posts_since IS NOT NULL", (migrated,)
    )


# Version 6: a post's observation before its newest. ``prev_seen`` is the second newest time
# the post was observed (the data's time), ``prev_visibility`` and ``prev_deleted_by`` what it
# was then, so that a rerun of an earlier week sees the post as that week did, not as a later
# week left it (``HistoryStore.previous_posts``). Kept as the two newest of the observations,
# which any replay order gives alike. Existing rows start without one (NULL).
_SCHEMA_V6 = (
    "ALTER TABLE posts ADD COLUMN prev_seen INTEGER",
    "ALTER TABLE posts ADD COLUMN prev_visibility TEXT",
    "ALTER TABLE posts ADD COLUMN prev_deleted_by TEXT",
)


# Version 7: what it takes to write a run's reports again (``auditor report RUN_ID``) and to
# compare an account with its last audit. ``run_reports`` holds each account of a run as its
# JSON report's account entry (with its policy, client, gate and change since the last audit),
# compressed with zlib, one row per account and run, written in the transaction that records the
# account (``report``); ``tracked`` is the few figures the next audit compares with, kept apart
# so that it need not decompress a report of 300,000 findings. ``position`` is the account's
# place in the run's config order. ``runs.report`` holds what the reports say of the run as a
# whole (inputs, checks, gating), written as the run is finished. Runs from before have none:
# they cannot be written again, and their accounts' next audit shows no metric before.
_SCHEMA_V7 = (
    """
    CREATE TABLE run_reports (
        run_key  TEXT NOT NULL,
        platform TEXT NOT NULL,
        account  TEXT NOT NULL,
        position INTEGER NOT NULL,
        report   BLOB NOT NULL,
        tracked  TEXT,
        PRIMARY KEY (run_key, platform, account)
    ) WITHOUT ROWID
    """,
    "ALTER TABLE runs ADD COLUMN report BLOB",
)


# Version 8: one scheduler per store, and what it ran (issue #16). ``scheduler_lease`` has at
# most one row (``id`` is always 1): the scheduler holding the store, its process (pid, host) and
# when it took the lease and last renewed it (its heartbeat). ``client_runs`` is a row per
# scheduled or manual run of a client: who runs it (``holder``, a uuid; ``pid`` and ``host`` to
# name it), the slot it satisfies (the scheduled instant; NULL for a manual run) and its attempt
# at that slot, its outcome (``running`` until finished) and, once known, the run's key.
# ``heartbeat_at`` is renewed with the holder's lease: a running row whose heartbeat stopped
# belongs to a dead process. ``finished_at`` stays NULL for a run that never finished.
_SCHEMA_V8 = (
    """
    CREATE TABLE scheduler_lease (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        holder       TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        host         TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE client_runs (
        id           INTEGER PRIMARY KEY,
        client       TEXT NOT NULL,
        run_key      TEXT,
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        outcome      TEXT NOT NULL CHECK (outcome = 'ok' OR outcome = 'failed'
                         OR outcome = 'interrupted' OR outcome = 'running'),
        error        TEXT,
        holder       TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        host         TEXT NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        slot         INTEGER,
        attempt      INTEGER NOT NULL CHECK (attempt >= 1)
    )
    """,
    "CREATE INDEX client_runs_by_client ON client_runs (client, started_at)",
    # Only running rows are ever looked up by holder (renewal, takeover): a partial index.
    "CREATE INDEX client_runs_running ON client_runs (holder) WHERE outcome = 'running'",
)


# Version 9: where a client run's reports went (``auditor status`` prints it), set when the run
# finishes; NULL while it runs, for a run that wrote none, and for runs before this version.
_SCHEMA_V9 = ("ALTER TABLE client_runs ADD COLUMN report_dir TEXT",)

# Version 10: why a client run's notifications (webhook, email) failed, on one line, once they
# gave up; NULL when every one was delivered, or none is configured.
_SCHEMA_V10 = ("ALTER TABLE client_runs ADD COLUMN notify_error TEXT",)


# Migration i (0-based) takes the schema from version i to version i + 1. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    _run_statements(_SCHEMA_V1),
    _run_statements(_SCHEMA_V2),
    _migrate_to_v3,
    _migrate_to_v4,
    _migrate_to_v5,
    _run_statements(_SCHEMA_V6),
    _run_statements(_SCHEMA_V7),
    _run_statements(_SCHEMA_V8),
    _run_statements(_SCHEMA_V9),
    _run_statements(_SCHEMA_V10),
    _run_statements(LEDGER_SCHEMA),
)
SCHEMA_VERSION = len(MIGRATIONS)
# The version a new PostgreSQL store starts from (its tables made at once, not migrated to).
BASELINE_VERSION = 10


# --- migrating -------------------------------------------------------------------------------


def _migrate(connection: sqlite3.Connection, path: str) -> None:
    """Brings the store to :data:`SCHEMA_VERSION`, one transaction per version.

    Each version is read and applied under one exclusive lock: two processes opening a new
    store at once would otherwise both read version 0 and both create its tables (the second
    failing with ``table runs already exists``); the second now waits (the connection's busy
    timeout) and then finds the version already there.
    """
    try:
        while _apply_next_migration(connection, path):
            pass
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open history store {path}: {exc}") from exc


def _has_tables(connection: sqlite3.Connection) -> bool:
    row = connection.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()
    return bool(row[0])


def _apply_next_migration(connection: sqlite3.Connection, path: str) -> bool:
    """Reads the version and applies the next migration, if any, in one exclusive transaction
    (with it the new version); returns whether it applied one."""
    connection.execute("BEGIN EXCLUSIVE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"history store {path} has schema version {version}, newer than this tool "
                f"knows ({SCHEMA_VERSION}); upgrade social-care-auditor or use another store"
            )
        if version == 0 and _has_tables(connection):
            raise StoreError(f"{path} is an SQLite database but not a history store")
        if version == SCHEMA_VERSION:
            connection.execute("COMMIT")
            return False
        MIGRATIONS[version](connection)
        connection.execute(f"PRAGMA user_version = {int(version) + 1}")
        connection.execute("COMMIT")
        return True
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
