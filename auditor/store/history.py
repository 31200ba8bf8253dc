"""The history store: what earlier audits saw, kept in one SQLite file or a PostgreSQL database.

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
* Retention alone goes by the wall clock: each post and conversation keeps ``last_observed_at``,
  when the tool last fetched it or read it from an input, and is deleted ``retention_days``
  after it, whichever account it belongs to (one no longer in the config included). Nothing
  else reads that time: it is never reported and never an audit's clock.
* Each write is one transaction: an exception part-way through leaves the store as it was.
* The schema is versioned (SQLite's ``PRAGMA user_version``, PostgreSQL's ``schema_version``)
  and migrated forward in order.
* Posts are read from the caller's own objects (:class:`PostLike`, e.g. ``auditor.model.Post``)
  without copying them first: an audit hands over a million posts at a time.

This module holds runs, findings, previous posts and retention, and :class:`HistoryStore`, the
one class callers use; its other parts live beside it: ``backend`` and ``backend_postgres``
(what differs between the two databases), ``connection`` (opening, transactions),
``migrations`` (the schema versions), ``posts`` (the post upsert), ``fetch_cache`` (cursors and
kept records), ``scheduler`` (the scheduler's lease and client runs) and ``encoding`` (times,
findings, account ids). Every name callers import comes
from here.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auditor.model import SeenPost
from auditor.store.backend import Db, StoreLocation
from auditor.store.encoding import (
    _EPOCH,
    FindingLike,
    StoreError,
    _account_id,
    _decode_findings,
    _encode_findings,
    _finding_rows,
    _from_us,
    _from_us_or_none,
    _to_us,
)
from auditor.store.fetch_cache import FetchCache, FetchedConversation, FetchedPost
from auditor.store.ledger import LedgerRecords
from auditor.store.migrations import SCHEMA_VERSION
from auditor.store.posts import (
    _POST_PARAMETERS,
    KeptPost,
    PostLike,
    _in_key_order,
    _upsert_posts,
    _values,
)
from auditor.store.scheduler import (
    DEFAULT_STALE_AFTER,
    ClientBusy,
    ClientRunRecord,
    LeaseHeld,
    LeaseInfo,
    LeaseLost,
    SchedulerRecords,
)

__all__ = [
    "DEFAULT_STALE_AFTER",
    "SCHEMA_VERSION",
    "AccountReport",
    "AuditTrendRow",
    "ClientBusy",
    "ClientRunRecord",
    "FetchedConversation",
    "FetchedPost",
    "FindingRecord",
    "HistoryStore",
    "KeptPost",
    "LeaseHeld",
    "LeaseInfo",
    "LeaseLost",
    "PostLike",
    "PreviousAudit",
    "RunRow",
    "RunSummary",
    "SeenPost",
    "StoreError",
    "StoreLocation",
    "StoredRun",
    "open_history_store",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FindingRecord:
    uid: str
    check_id: str
    severity: str
    message: str
    evidence_id: str


@dataclass(frozen=True, slots=True)
class AccountReport:
    """An account of a run as its reports show it: ``report`` (JSON, compressed here), its
    place in the run's config order, and the figures the next audit compares with (JSON)."""

    position: int
    report: bytes
    tracked: str | None = None


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run's reports as stored: the run's part and each account's (JSON), in config order."""

    run: bytes
    accounts: list[bytes]


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_key: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    # Whether its reports can be written again (runs of a tool before schema 7 cannot).
    reports_kept: bool
    accounts: int


@dataclass(frozen=True, slots=True)
class PreviousAudit:
    """The last audit of an account: its run, its findings, the figures it tracked (JSON)."""

    run_key: str
    started_at: datetime
    findings: list[FindingRecord]
    tracked: str | None


@dataclass(frozen=True, slots=True)
class AuditTrendRow:
    """One earlier audit of an account, for its trend: the run, when it started, the account's
    status in it, and the figures it tracked (JSON; None for a run before schema 7)."""

    run_key: str
    started_at: datetime
    status: str
    tracked: str | None


# zlib's level for stored reports: 1 measured close to 6's size at a fraction of its time on
# reports of repetitive findings, and this write is inside the run's time.
_ZLIB_LEVEL = 1


def _put_report(db: Db, run_key: str, platform: str, account: str, report: AccountReport) -> None:
    db.execute(
        "INSERT INTO run_reports (run_key, platform, account, position, report, tracked)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_key, platform, account) DO UPDATE SET"
        " position = excluded.position, report = excluded.report, tracked = excluded.tracked",
        (
            run_key,
            platform,
            account,
            report.position,
            zlib.compress(report.report, _ZLIB_LEVEL),
            report.tracked,
        ),
    )


@dataclass(frozen=True, slots=True)
class RunRow:
    run_key: str
    config_hash: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    tool_version: str


# A post as history knew it before ?3, a run's data time: observations at or after it (a later
# week's audit, or this run's own when it is rerun) are left out, so that what else the store
# holds changes no run. A row keeps its two newest observations (last_seen and prev_seen, with
# the visibility and deleter seen then); when both are at or after ?3, the post's last
# observation before ?3 is not kept: the account's last observation before ?3 (?4) stands in
# for it, and the visibility and deleter seen since are not shown.
_SELECT_POSTS = """
SELECT post_id, created_at, author, by_brand,
       CASE WHEN last_seen < ?3 THEN visibility
            WHEN prev_seen < ?3 THEN prev_visibility ELSE 'public' END,
       CASE WHEN last_seen < ?3 THEN deleted_by
            WHEN prev_seen < ?3 THEN prev_deleted_by END,
       text, url, thread, first_seen,
       CASE WHEN last_seen < ?3 THEN last_seen
            WHEN prev_seen < ?3 THEN prev_seen
            WHEN ?4 > first_seen THEN ?4 ELSE first_seen END
FROM posts
WHERE account_id = (SELECT id FROM accounts WHERE platform = ?1 AND account = ?2)
  AND first_seen < ?3
ORDER BY post_id
"""

# The latest observation of an account before a time, by any run that recorded it.
_LATEST_OBSERVATION = """
SELECT max(observed_at) FROM run_accounts WHERE platform = ? AND account = ? AND observed_at < ?
"""

# A run a stop signal cut short (``finish_run``'s status): never "the last audit".
RUN_INTERRUPTED = "interrupted"

# The latest finished run, other than and started before the reference run, that audited the
# account; a run still running (or killed) or interrupted is none. Ties on started_at are
# broken by run_key so the answer never depends on row order.
_LATEST_EARLIER_RUN = f"""
SELECT r.run_key FROM runs AS r
JOIN run_accounts AS a ON a.run_key = r.run_key
WHERE a.platform = ?1 AND a.account = ?2 AND r.finished_at IS NOT NULL
  AND r.status <> '{RUN_INTERRUPTED}'
  AND (?3 IS NULL OR r.run_key <> ?3) AND (?4 IS NULL OR r.started_at < ?4)
ORDER BY r.started_at DESC, r.run_key DESC
LIMIT 1
"""


# The account's audits before a run, newest first, at most ?6 (see audit_trend: the first is
# the previous audit): with the account's status in each and the figures it tracked. Read
# through the run_accounts_by_account index (the account's rows only) and the two tables'
# primary keys.
_AUDIT_TREND = f"""
SELECT r.run_key, r.started_at, a.status, p.tracked FROM runs AS r
JOIN run_accounts AS a ON a.run_key = r.run_key
LEFT JOIN run_reports AS p
  ON p.run_key = a.run_key AND p.platform = a.platform AND p.account = a.account
WHERE a.platform = ?1 AND a.account = ?2 AND r.finished_at IS NOT NULL
  AND r.status <> '{RUN_INTERRUPTED}' AND (?3 IS NULL OR r.run_key <> ?3)
  AND (a.observed_at < ?4 OR (a.observed_at = ?4 AND ?5 IS NOT NULL AND r.started_at < ?5))
ORDER BY a.observed_at DESC, r.started_at DESC, r.run_key DESC
LIMIT ?6
"""


class HistoryStore(FetchCache, SchedulerRecords, LedgerRecords):
    """One writer's handle on the history database (not thread-safe)."""

    # -- runs --

    def begin_run(
        self, run_key: str, config_hash: str, tool_version: str, started_at: datetime
    ) -> None:
        """Start a run; a run_key seen before is replaced (its accounts and findings dropped)."""
        started = _to_us(started_at)
        with self._transaction() as db:
            db.execute("DELETE FROM run_reports WHERE run_key = ?", (run_key,))
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

    def rename_run(self, run_key: str, new_key: str) -> None:
        """Give a run, its accounts and findings ``new_key``; a run already under it is replaced
        (as :meth:`begin_run` replaces one)."""
        if new_key == run_key:
            return
        with self._transaction() as db:
            for table in ("run_reports", "run_findings", "run_accounts", "runs"):
                db.execute(f"DELETE FROM {table} WHERE run_key = ?", (new_key,))
            for table in ("runs", "run_accounts", "run_findings", "run_reports"):
                db.execute(
                    f"UPDATE {table} SET run_key = ? WHERE run_key = ?",
                    (new_key, run_key),
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
        observed_now: datetime | None = None,
        report: AccountReport | None = None,
    ) -> None:
        """Record one account of a run in one transaction.

        Posts are upserted (first_seen and last_seen widen to include ``observed_at``; the
        descriptive fields follow the newest observation); this run's findings and account row
        for (platform, account) are replaced. ``posts`` and ``findings`` are consumed once,
        before the transaction begins (parallel workers hold the write lock only while
        writing): if they raise, nothing of this call is kept. ``observed_now`` is the wall
        clock's time of this reading (default: now), the posts' ``last_observed_at``.
        ``report``: the account as its reports show it (``auditor report`` writes them again).
        """
        observed = _to_us(observed_at)
        observed_wall = _wall_clock_us(observed_now)
        post_values = _values(_in_key_order(posts))
        encoded_findings = _encode_findings(_finding_rows(findings))
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_key = ?", (run_key,)).fetchone() is None:
                raise StoreError(f"unknown run {run_key!r}: call begin_run first")
            account_id = _account_id(db, platform, account)
            _upsert_posts(db, account_id, observed, observed_wall, post_values, with_record=False)
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
            if report is not None:
                _put_report(db, run_key, platform, account, report)

    def forget_accounts(self, run_key: str, accounts: Iterable[tuple[str, str]]) -> None:
        """Drop what a run recorded of these (platform, account) pairs, in one transaction: the
        accounts an interrupted run lists as not audited, which a worker may have written just
        before it was stopped. Their posts' observations stay (they were read)."""
        pairs = list(accounts)
        with self._transaction() as db:
            for table in ("run_reports", "run_findings", "run_accounts"):
                db.executemany(
                    f"DELETE FROM {table} WHERE run_key = ? AND platform = ? AND account = ?",
                    [(run_key, platform, account) for platform, account in pairs],
                )

    def finish_run(
        self,
        run_key: str,
        finished_at: datetime,
        status: str,
        report: bytes | None = None,
        accounts: Iterable[tuple[str, str, AccountReport]] = (),
    ) -> None:
        """Close a run in one transaction; ``report`` is what its reports say of the run as a
        whole (JSON), ``accounts`` the (platform, account, report) of those no audit recorded
        (an input that failed, an account a stop signal left unaudited)."""
        finished = _to_us(finished_at)
        compressed = None if report is None else zlib.compress(report, _ZLIB_LEVEL)
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, report = ? WHERE run_key = ?",
                (finished, status, compressed, run_key),
            )
            if updated.rowcount == 0:
                raise StoreError(f"unknown run {run_key!r}: call begin_run first")
            for platform, account, account_report in accounts:
                _put_report(db, run_key, platform, account, account_report)

    def run_keys(self, prefix: str) -> list[str]:
        """The keys of the runs that begin with ``prefix`` (a run id or a unique start of one)."""
        rows = self._read(
            "SELECT run_key FROM runs WHERE substr(run_key, 1, length(?1)) = ?1 ORDER BY run_key",
            (prefix,),
        )
        return [key for (key,) in rows]

    def run_summaries(self) -> list[RunSummary]:
        """Every run, oldest first, with how many accounts its reports hold."""
        rows = self._read(
            "SELECT r.run_key, r.started_at, r.finished_at, r.status, r.report IS NOT NULL,"
            " (SELECT count(*) FROM run_reports AS p WHERE p.run_key = r.run_key)"
            " FROM runs AS r ORDER BY r.started_at, r.run_key"
        )
        return [
            RunSummary(key, _from_us(started), _from_us_or_none(finished), status, bool(kept), n)
            for key, started, finished, status, kept, n in rows
        ]

    def run_report(self, run_key: str) -> StoredRun | None:
        """What a finished run's reports said, to write them again: the run's part and its
        accounts' in config order; None if the store has no report of it (an older tool's run,
        or one not finished)."""
        found = self._read("SELECT report FROM runs WHERE run_key = ?", (run_key,))
        if not found or found[0][0] is None:
            return None
        rows = self._read(
            "SELECT report FROM run_reports WHERE run_key = ? ORDER BY position", (run_key,)
        )
        return StoredRun(zlib.decompress(found[0][0]), [zlib.decompress(blob) for (blob,) in rows])

    def previous_audit(
        self, platform: str, account: str, run_key: str, observed_at: datetime
    ) -> PreviousAudit | None:
        """The last audit of this account before run ``run_key``, which observed it at
        ``observed_at`` (the last of :meth:`audit_trend`), with its findings and the figures it
        tracked; None if there is none."""
        earlier = self.audit_trend(platform, account, run_key, observed_at, limit=1)
        return self.audit_findings(platform, account, earlier[-1]) if earlier else None

    def audit_findings(self, platform: str, account: str, audit: AuditTrendRow) -> PreviousAudit:
        """One earlier audit of the account (a row of :meth:`audit_trend`) with its findings:
        what the change since the last audit compares with."""
        found = self._read(
            "SELECT findings FROM run_findings WHERE run_key = ? AND platform = ? AND account = ?",
            (audit.run_key, platform, account),
        )
        findings = [
            FindingRecord(uid, check_id, severity, message, evidence_id)
            for (encoded,) in found
            for uid, check_id, severity, message, evidence_id in _decode_findings(encoded)
        ]
        return PreviousAudit(audit.run_key, audit.started_at, findings, audit.tracked)

    def audit_trend(
        self,
        platform: str,
        account: str,
        run_key: str,
        observed_at: datetime,
        limit: int = 12,
    ) -> list[AuditTrendRow]:
        """This account's last ``limit`` audits before run ``run_key`` (which observed it at
        ``observed_at``), oldest first: finished, not interrupted, and earlier by the data's
        time (its observation; on the same, by start), so that rerunning an earlier week
        compares with the week before it whatever ran since. The last of them is the previous
        audit (:meth:`previous_audit`)."""
        if limit <= 0:
            return []
        found = self._read("SELECT started_at FROM runs WHERE run_key = ?", (run_key,))
        started_now = found[0][0] if found else None
        rows = self._read(
            _AUDIT_TREND, (platform, account, run_key, _to_us(observed_at), started_now, limit)
        )
        return [
            AuditTrendRow(key, _from_us(started), status, tracked)
            for key, started, status, tracked in reversed(rows)
        ]

    def _latest_earlier_run(
        self, platform: str, account: str, before_run: str | None
    ) -> str | None:
        started: int | None = None
        if before_run is not None:
            found = self._read("SELECT started_at FROM runs WHERE run_key = ?", (before_run,))
            started = found[0][0] if found else None
        latest = self._read(_LATEST_EARLIER_RUN, (platform, account, before_run, started))
        return str(latest[0][0]) if latest else None

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
        """Posts of this account that history first saw before ``before``, as history knew
        them before it: what later observations changed of a post is not shown (see
        ``_SELECT_POSTS``), so a rerun of an earlier week sees what it saw the first time."""
        bound = _to_us(before)
        ((latest,),) = self._read(_LATEST_OBSERVATION, (platform, account, bound))
        rows = self._read(_SELECT_POSTS, (platform, account, bound, latest))
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

        Only runs that recorded this account count, and never one that was interrupted. With
        ``before_run`` set, that run itself and runs started at or after it are ignored; a
        ``before_run`` not yet begun only excludes itself.
        """
        latest = self._latest_earlier_run(platform, account, before_run)
        if latest is None:
            return set()
        rows = self._read(
            "SELECT findings FROM run_findings WHERE run_key = ? AND platform = ? AND account = ?",
            (latest, platform, account),
        )
        return {uid for (encoded,) in rows for uid, *_ in _decode_findings(encoded)}

    # -- retention --

    def prune(self, now: datetime | None = None) -> int:
        """Delete what is older than the retention by the wall clock ``now`` (default: now);
        count rows.

        Posts and conversations go ``retention_days`` after their ``last_observed_at`` (when
        the tool last fetched or read them), in every account of the store, those no longer
        in the config included; runs go ``retention_days`` after they started, and so do
        the scheduler's client runs (those still running stay), and the run ledger of runs planned
        as long ago (finished or not). The data's own
        times play no part: an old export read today is kept, a post no fetch or input has
        shown for the whole period is deleted. An account's findings in a run count as one row
        (they are stored as one). One prune at a time: on PostgreSQL, when another process is
        pruning the store, this one logs it and returns 0.
        """
        with self._exclusive(_PRUNE_LOCK) as mine:
            if not mine:
                _log.info("history store %s: another process is pruning it; skipped", self.path)
                return 0
            return self._prune(now)

    def _prune(self, now: datetime | None) -> int:
        cutoff = _wall_clock_us(now) - _to_us(_EPOCH + self.retention)
        old_runs = "SELECT run_key FROM runs WHERE started_at < ?"
        deleted = 0
        with self._transaction() as db:
            for sql in (
                f"DELETE FROM run_reports WHERE run_key IN ({old_runs})",
                f"DELETE FROM run_findings WHERE run_key IN ({old_runs})",
                f"DELETE FROM run_accounts WHERE run_key IN ({old_runs})",
                "DELETE FROM runs WHERE started_at < ?",
                "DELETE FROM conversations WHERE last_observed_at < ?",
                # A client run still running is never pruned: it is what keeps two runs of
                # a client from overlapping.
                "DELETE FROM client_runs WHERE started_at < ? AND outcome <> 'running'",
            ):
                deleted += db.execute(sql, (cutoff,)).rowcount
            deleted += self._prune_ledger(db, cutoff)
            # Only accounts that may hold a post older than the cutoff are read at all.
            stale = db.execute("SELECT id FROM accounts WHERE posts_since < ?", (cutoff,))
            for (account_id,) in stale.fetchall():
                deleted += db.execute(
                    "DELETE FROM posts WHERE account_id = ? AND last_observed_at < ?",
                    (account_id, cutoff),
                ).rowcount
            db.execute("UPDATE accounts SET posts_since = ?1 WHERE posts_since < ?1", (cutoff,))
        return deleted


_PRUNE_LOCK = "prune"


def open_history_store(
    location: StoreLocation | Path | str, retention_days: int = 90
) -> HistoryStore:
    """The history store at ``location`` (an SQLite file, or a PostgreSQL database with its
    password already read), open and migrated: what every command opens."""
    return HistoryStore(location, retention_days)


def _wall_clock_us(moment: datetime | None) -> int:
    """A wall-clock time for retention: the one given, else now (UTC)."""
    return _to_us(moment if moment is not None else datetime.now(UTC))
