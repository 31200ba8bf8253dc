"""Tests for opening the history store and migrating it (auditor.store.migrations)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import auditor.store.connection as store_connection
import auditor.store.encoding as store_encoding
import auditor.store.migrations as store_migrations
from auditor.store.history import (
    SCHEMA_VERSION,
    AccountReport,
    HistoryStore,
    StoredRun,
    StoreError,
)

from store_support import DAY, T0, audit, changed, dump, finding, post

# --- schema and migrations --------------------------------------------------------------------


def test_empty_file_is_migrated_to_the_current_schema(db_path: Path) -> None:
    HistoryStore(db_path).close()
    connection = sqlite3.connect(db_path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' OR type = 'view'"
        )
    }
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    connection.close()
    assert version == SCHEMA_VERSION >= 1
    assert {"runs", "run_accounts", "run_findings", "findings", "posts", "cursors"} <= tables
    assert journal == "wal"


def test_memory_store_works() -> None:
    with HistoryStore(":memory:") as history:
        audit(history, "r1", T0, [post("1")], [finding("u1")])
        assert set(history.previous_posts("x", "acme", T0 + DAY)) == {"1"}


def test_reopening_keeps_history_and_does_not_migrate_again(db_path: Path) -> None:
    with HistoryStore(db_path) as history:
        audit(history, "r1", T0, [post("1"), post("2")], [finding("u1")])
    before = dump(db_path)
    with HistoryStore(db_path) as history:
        assert set(history.previous_posts("x", "acme", T0 + DAY)) == {"1", "2"}
        assert [run.run_key for run in history.runs()] == ["r1"]
    assert dump(db_path) == before


def test_newer_schema_than_the_code_knows_is_a_store_error(db_path: Path) -> None:
    HistoryStore(db_path).close()
    connection = sqlite3.connect(db_path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match="newer"):
        HistoryStore(db_path)


def test_an_unrelated_sqlite_database_is_refused(db_path: Path) -> None:
    connection = sqlite3.connect(db_path)
    connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.close()
    with pytest.raises(StoreError, match="not a history store"):
        HistoryStore(db_path)


def test_a_file_that_is_not_sqlite_is_a_store_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not a database, just text " * 100)
    with pytest.raises(StoreError):
        HistoryStore(db_path)


def test_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        HistoryStore(tmp_path / "nowhere" / "history.sqlite3")


def test_later_migrations_are_applied_in_order_to_an_old_store(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HistoryStore(db_path) as history:
        audit(history, "r1", T0, [post("1")], [])

    applied: list[int] = []

    def add_note_column(connection: sqlite3.Connection) -> None:
        applied.append(2)
        connection.execute("ALTER TABLE runs ADD COLUMN note TEXT")

    def fill_note(connection: sqlite3.Connection) -> None:
        applied.append(3)
        connection.execute("UPDATE runs SET note = 'migrated'")

    monkeypatch.setattr(
        store_migrations, "MIGRATIONS", (*store_migrations.MIGRATIONS, add_note_column, fill_note)
    )
    monkeypatch.setattr(store_migrations, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    HistoryStore(db_path).close()

    connection = sqlite3.connect(db_path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    notes = connection.execute("SELECT run_key, note FROM runs").fetchall()
    connection.close()
    assert applied == [2, 3]
    assert version == SCHEMA_VERSION + 2
    assert notes == [("r1", "migrated")]


def test_a_failing_migration_leaves_the_store_at_its_old_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    HistoryStore(db_path).close()

    def broken(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE runs ADD COLUMN half_done TEXT")
        connection.execute("THIS IS NOT SQL")

    monkeypatch.setattr(store_migrations, "MIGRATIONS", (*store_migrations.MIGRATIONS, broken))
    monkeypatch.setattr(store_migrations, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError):
        HistoryStore(db_path)

    connection = sqlite3.connect(db_path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
    connection.close()
    assert version == SCHEMA_VERSION
    assert "half_done" not in columns


def test_retention_must_be_positive() -> None:
    with pytest.raises(StoreError):
        HistoryStore(":memory:", retention_days=0)


def test_a_closed_store_says_so() -> None:
    history = HistoryStore(":memory:")
    history.close()
    history.close()
    with pytest.raises(StoreError, match="closed"):
        history.runs()


def test_a_new_store_uses_16_kib_pages(db_path: Path) -> None:
    HistoryStore(db_path).close()
    connection = sqlite3.connect(db_path)
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    assert page_size == store_connection._PAGE_SIZE == 16384


def test_a_version_1_store_gains_the_record_column_and_keeps_its_posts(db_path: Path) -> None:
    connection = sqlite3.connect(db_path, isolation_level=None)
    store_migrations.MIGRATIONS[0](connection)
    connection.execute("PRAGMA user_version = 1")
    connection.execute(
        "INSERT INTO posts (platform, account, post_id, created_at, author, by_brand, visibility,"
        " text, first_seen, last_seen) VALUES ('x', 'acme', '7', 0, 'jo', 0, 'public', 'hi', 1, 1)"
    )
    connection.close()
    with HistoryStore(db_path) as history:
        assert set(history.previous_posts("x", "acme", T0)) == {"7"}
        assert history.fetched_posts("x", "acme", T0 - 400 * DAY) == []  # no record kept yet
    columns = [row[1] for row in sqlite3.connect(db_path).execute("PRAGMA table_info(posts)")]
    assert "record" in columns and SCHEMA_VERSION >= 2


def test_a_version_2_store_is_migrated_with_all_its_history(db_path: Path) -> None:
    to_us = store_encoding._to_us
    connection = sqlite3.connect(db_path, isolation_level=None)
    for migration in store_migrations.MIGRATIONS[:2]:
        migration(connection)
    connection.execute("PRAGMA user_version = 2")
    t0, t1 = to_us(T0), to_us(T0 + DAY)
    connection.execute(
        "INSERT INTO runs VALUES ('week1', 'cfg-1', '0.1.0', ?, ?, 'ok')", (t0, t0 + 1)
    )
    connection.executemany(
        "INSERT INTO run_accounts VALUES ('week1', ?, ?, 'ok', ?, ?)",
        [("x", "acme", t0, 2), ("mastodon", "acme@social.example", t0, 1)],
    )
    connection.execute(
        "INSERT INTO findings VALUES ('week1', 'x', 'acme', 'u1', 'RSP001', 'warning',"
        " 'no reply', '1')"
    )
    posts = [
        # platform, account, id, created, author, by_brand, visibility, deleted_by, text,
        # text_seen_at, url, thread, first_seen, last_seen, record
        ("x", "acme", "1", t0 - 5, "jo", 0, "public", None, "refund?", t0,
         "https://x.example/1", "1", t0, t1, '{"kind":"post","id":"1"}'),
        ("x", "acme", "2", t0 - 4, "acme", 1, "deleted", "brand", "sorry", t0,
         None, "1", t0, t0, None),
        ("mastodon", "acme@social.example", "1", t0 - 3, "sam", 0, "hidden", None, "", None,
         None, None, t1, t1, None),
    ]  # fmt: skip
    connection.executemany(f"INSERT INTO posts VALUES ({', '.join('?' * 15)})", posts)
    connection.execute(
        "INSERT INTO conversations VALUES ('x', 'acme', 'c1', ?, '{\"id\":\"c1\"}', ?, ?)",
        (t0, t0, t0),
    )
    connection.execute(
        "INSERT INTO cursors VALUES ('x', 'acme', '{\"since_id\": \"2\"}', ?)", (t0,)
    )
    connection.close()

    with HistoryStore(db_path) as history:
        x_posts = history.previous_posts("x", "acme", T0 + 2 * DAY)
        mastodon = history.previous_posts("mastodon", "acme@social.example", T0 + 2 * DAY)
        assert set(x_posts) == {"1", "2"} and set(mastodon) == {"1"}
        first = x_posts["1"]
        assert (first.created_at, first.author, first.by_brand, first.visibility) == (
            T0 - timedelta(microseconds=5),
            "jo",
            False,
            "public",
        )
        assert (first.text, first.url, first.thread) == ("refund?", "https://x.example/1", "1")
        assert (first.first_seen, first.last_seen) == (T0, T0 + DAY)
        second = x_posts["2"]
        assert (second.by_brand, second.visibility, second.deleted_by) == (True, "deleted", "brand")
        assert second.url is None
        assert (mastodon["1"].visibility, mastodon["1"].text, mastodon["1"].thread) == (
            "hidden",
            "",
            None,
        )
        assert history.fetched_posts("x", "acme", T0 - DAY) == [{"kind": "post", "id": "1"}]
        assert history.fetched_conversations("x", "acme", T0 - DAY) == [{"id": "c1"}]
        assert history.get_cursor("x", "acme") == {"since_id": "2"}
        assert history.previous_finding_uids("x", "acme") == {"u1"}
        assert [(r.run_key, r.status) for r in history.runs()] == [("week1", "ok")]
        # The merge rules carry on from the migrated rows: text seen before survives a deletion.
        audit(
            history, "week2", T0 + 7 * DAY, [changed(post("1"), visibility="deleted", text="")], []
        )
        merged = history.previous_posts("x", "acme", T0 + 8 * DAY)["1"]
        assert (merged.first_seen, merged.visibility, merged.text) == (T0, "deleted", "refund?")

    connection = sqlite3.connect(db_path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    columns = [row[1] for row in connection.execute("PRAGMA table_info(posts)")]
    tables = {n for (n,) in connection.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    connection.close()
    assert version == SCHEMA_VERSION >= 3
    assert columns[:2] == ["account_id", "post_id"] and "platform" not in columns
    assert "posts_v3" not in tables and "accounts" in tables


def test_a_version_3_store_is_migrated_to_findings_rows_and_post_bounds(db_path: Path) -> None:
    to_us = store_encoding._to_us
    connection = sqlite3.connect(db_path, isolation_level=None)
    for migration in store_migrations.MIGRATIONS[:3]:
        migration(connection)
    connection.execute("PRAGMA user_version = 3")
    t0, t1 = to_us(T0), to_us(T0 + DAY)
    connection.executemany(
        "INSERT INTO runs VALUES (?, 'cfg-1', '0.1.0', ?, ?, 'ok')",
        [("week1", t0, t0 + 1), ("week2", t1, t1 + 1)],
    )
    connection.executemany(
        "INSERT INTO run_accounts VALUES (?, 'x', ?, 'ok', ?, 1)",
        [("week1", "acme", t0), ("week1", "globo", t0), ("week2", "acme", t1)],
    )
    connection.executemany(
        "INSERT INTO findings VALUES (?, 'x', ?, ?, ?, 'warning', ?, ?)",
        [
            ("week1", "acme", "u2", "RSP002", "slow answer", "11"),
            ("week1", "acme", "u1", "RSP001", 'no reply to "where\nis it"', "10"),
            ("week1", "globo", "g1", "RSP001", "no reply", "20"),
            ("week2", "acme", "u3", "RSP003", "no resolution", "12"),
        ],
    )
    acme = store_encoding._new_account_id(connection, "x", "acme")
    globo = store_encoding._new_account_id(connection, "x", "globo")
    store_encoding._new_account_id(connection, "x", "silent")  # an account without posts
    posts = [
        (acme, "10", t0, "jo", 0, "public", None, "refund?", t0, None, "10", t0, t0, None),
        (acme, "11", t0, "jo", 0, "public", None, "hello?", t0, None, "10", t0, t1, None),
        (globo, "20", t0, "sam", 0, "public", None, "help", t0, None, "20", t1, t1, None),
    ]
    connection.executemany(f"INSERT INTO posts VALUES ({', '.join('?' * 14)})", posts)
    connection.close()

    with HistoryStore(db_path, retention_days=30) as history:
        assert history.previous_finding_uids("x", "acme", before_run="week2") == {"u1", "u2"}
        assert history.previous_finding_uids("x", "acme") == {"u3"}
        assert history.previous_finding_uids("x", "globo") == {"g1"}
        # Week 1's run goes (run, 2 account rows, 2 findings rows); the posts stay whatever
        # their data's time: version 5 counts them observed when the store was migrated.
        assert history.prune(T0 + 30 * DAY + timedelta(hours=1)) == 1 + 2 + 2
        assert set(history.previous_posts("x", "acme", T0 + 60 * DAY)) == {"10", "11"}
        assert set(history.previous_posts("x", "globo", T0 + 60 * DAY)) == {"20"}

    connection = sqlite3.connect(db_path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    columns = [row[1] for row in connection.execute("PRAGMA table_info(findings)")]
    kept = connection.execute("SELECT account, findings FROM run_findings").fetchall()
    connection.close()
    assert version == SCHEMA_VERSION >= 4
    # The findings view keeps the old table's columns for SQL written against them.
    assert columns == [
        "run_key",
        "platform",
        "account",
        "uid",
        "check_id",
        "severity",
        "message",
        "evidence_id",
    ]
    # week1 was pruned; week2's row is encoded exactly as a new write would encode it.
    assert kept == [("acme", '[["u3","RSP003","warning","no resolution","12"]]')]


def test_migrated_findings_keep_every_field_in_uid_order(db_path: Path) -> None:
    connection = sqlite3.connect(db_path, isolation_level=None)
    for migration in store_migrations.MIGRATIONS[:3]:
        migration(connection)
    connection.execute("PRAGMA user_version = 3")
    connection.execute("INSERT INTO runs VALUES ('r1', 'cfg-1', '0.1.0', 0, 1, 'ok')")
    connection.execute("INSERT INTO run_accounts VALUES ('r1', 'x', 'acme', 'ok', 0, 0)")
    connection.executemany(
        "INSERT INTO findings VALUES ('r1', 'x', 'acme', ?, 'RSP001', 'high', ?, ?)",
        [("b", "naïve \u2014 message", "2"), ("a", "first", "1")],
    )
    connection.close()
    HistoryStore(db_path).close()
    connection = sqlite3.connect(db_path)
    rows = connection.execute("SELECT * FROM findings ORDER BY uid").fetchall()
    encoded = connection.execute("SELECT findings FROM run_findings").fetchall()
    connection.close()
    assert rows == [
        ("r1", "x", "acme", "a", "RSP001", "high", "first", "1"),
        ("r1", "x", "acme", "b", "RSP001", "high", "naïve \u2014 message", "2"),
    ]
    assert [json.loads(text)[0][0] for (text,) in encoded] == ["a"]  # in uid order


def test_a_version_4_store_counts_its_rows_observed_at_the_migration(db_path: Path) -> None:
    """Version 5: when old rows were last observed is unknown, so they get the migration's time
    (kept one full retention period from the upgrade, never deleted on a guess)."""
    to_us = store_encoding._to_us
    connection = sqlite3.connect(db_path, isolation_level=None)
    for migration in store_migrations.MIGRATIONS[:4]:
        migration(connection)
    connection.execute("PRAGMA user_version = 4")
    acme = store_encoding._new_account_id(connection, "x", "acme")
    t0 = to_us(T0 - 400 * DAY)  # the data's time: far older than any retention
    connection.execute(
        f"INSERT INTO posts VALUES ({', '.join('?' * 14)})",
        (acme, "10", t0, "jo", 0, "public", None, "refund?", t0, None, "10", t0, t0, "{}"),
    )
    connection.execute("UPDATE accounts SET posts_since = ?", (t0,))
    connection.execute(
        "INSERT INTO conversations VALUES ('x', 'acme', 'c1', ?, '{}', ?, ?)", (t0, t0, t0)
    )
    connection.close()

    before = datetime.now(UTC)
    with HistoryStore(db_path, retention_days=30) as history:
        after = datetime.now(UTC)
        rows = history._db.execute(
            "SELECT last_observed_at FROM posts UNION ALL SELECT last_observed_at"
            " FROM conversations UNION ALL SELECT posts_since FROM accounts"
        ).fetchall()
        assert len(rows) == 3
        assert all(to_us(before) <= value <= to_us(after) for (value,) in rows)
        assert history.prune(after + 29 * DAY) == 0
        assert history.prune(after + 31 * DAY) == 2  # the post and the conversation
    assert SCHEMA_VERSION >= 5


def test_a_version_7_store_gains_the_scheduler_tables_and_keeps_its_runs_and_reports(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 8 (#16): the scheduler's lease and client runs are new tables; every run, its
    accounts, findings, posts and stored reports stay exactly as they were."""
    with monkeypatch.context() as schema_7:
        schema_7.setattr(store_migrations, "MIGRATIONS", store_migrations.MIGRATIONS[:7])
        schema_7.setattr(store_migrations, "SCHEMA_VERSION", 7)
        with HistoryStore(db_path) as history:
            history.begin_run("week1", "cfg-1", "0.1.0", T0)
            history.record_account(
                "week1",
                "x",
                "acme",
                "ok",
                T0,
                [post("1"), post("2")],
                [finding("u1")],
                observed_now=T0,
                report=AccountReport(0, b'{"account":"acme"}', '{"findings":1}'),
            )
            history.finish_run("week1", T0 + timedelta(minutes=5), "ok", b'{"run":"week1"}')
    assert sqlite3.connect(db_path).execute("PRAGMA user_version").fetchone()[0] == 7
    before = dump(db_path)

    with HistoryStore(db_path) as history:
        stored = history.run_report("week1")
        assert stored == StoredRun(b'{"run":"week1"}', [b'{"account":"acme"}'])
        assert [(run.run_key, run.status) for run in history.runs()] == [("week1", "ok")]
        assert history.previous_finding_uids("x", "acme") == {"u1"}
        assert set(history.previous_posts("x", "acme", T0 + DAY)) == {"1", "2"}
        # The new tables work in the migrated store.
        assert history.lease() is None
        assert history.acquire_lease("sched", 1, "pod", T0 + DAY) is None
        run_id = history.begin_client_run("acme", "sched", T0 + DAY, 1, T0 + DAY)
        history.finish_client_run(
            run_id, "ok", "week2", None, T0 + DAY + timedelta(minutes=1), report_dir="out/acme/r"
        )
        record = history.client_records(["acme"], T0 + DAY)["acme"]
        assert (record.run_key, record.report_dir) == ("week2", "out/acme/r")  # version 9

    after = dump(db_path)
    new_tables = ("scheduler_lease", "client_runs", "ledger_runs", "run_ledger", "ledger_notified")
    kept_rows = [line for line in after if not any(table in line for table in new_tables)]
    assert kept_rows == before  # nothing of the old store changed or went missing
    connection = sqlite3.connect(db_path)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    connection.close()
    assert version == SCHEMA_VERSION == 11
