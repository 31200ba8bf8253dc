"""Benchmark the history store: 100 accounts x 10,000 posts, a first run and an idempotent rerun.

Usage: python benchmarks/bench_store.py [--accounts N] [--posts-per-account N]
       [--findings-per-account N] [--path FILE]

Prints posts/s for the first run (all inserts) and for a rerun of the same audit (all upserts
that change nothing), the time an audit's closing prune takes when nothing is past retention
(as after every audit within the retention period), the time close() takes (the final WAL
checkpoint), and the size of the database file. Posts are ``auditor.model.Post`` structs, as the
engine hands them over. CPU time is printed too: on a shared machine it is the steadier figure.
The audit as a whole must manage 100,000 posts/s end to end, so the store's share should stay
well under 3 s for 1M posts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.model import Post, Visibility
from auditor.store.history import FindingRecord, HistoryStore

_PHRASES = (
    "hi my order hasn't arrived yet and tracking says delivered can you check please",
    "thanks for waiting we've sent you a DM with next steps sorry about the delay",
    "the app keeps crashing when I try to pay still no refund after two weeks",
)
_WORDS = tuple(word for phrase in _PHRASES for word in phrase.split())
_START = datetime(2026, 3, 1, tzinfo=UTC)


def _text(index: int) -> str:
    # Varied, realistic-length texts (about 60-120 characters) without storing a corpus.
    length = 10 + index % 10
    return " ".join(_WORDS[(index * 7 + k * 3) % len(_WORDS)] for k in range(length))


def _posts(account_index: int, count: int) -> Iterator[Post]:
    base = account_index * count
    for i in range(count):
        post_number = base + i
        by_brand = i % 3 == 2
        visibility: Visibility = (
            "deleted" if i % 97 == 0 else ("hidden" if i % 89 == 0 else "public")
        )
        yield Post(
            id=str(1_800_000_000_000_000_000 + post_number),
            created_at=_START + timedelta(seconds=post_number * 3),
            author=f"brand{account_index}" if by_brand else f"customer{post_number % 5000}",
            by_brand=by_brand,
            visibility=visibility,
            deleted_by="unknown" if visibility == "deleted" else None,
            text=_text(post_number),
            url=f"https://x.com/i/status/{1_800_000_000_000_000_000 + post_number}",
            # Every fifth post roots its thread, as a bundle says it: no thread.
            thread=None if i % 5 == 0 else str(1_800_000_000_000_000_000 + base + i - i % 5),
        )


def _findings(account_index: int, count: int) -> list[FindingRecord]:
    return [
        FindingRecord(
            uid=f"RSP001-{account_index}-{k}",
            check_id="RSP001",
            severity="warning",
            message="customer waited more than the policy's first-response time",
            evidence_id=str(1_800_000_000_000_000_000 + k),
        )
        for k in range(count)
    ]


def _run_audit(
    store: HistoryStore, accounts: int, per_account: int, findings_per_account: int
) -> tuple[float, float]:
    """One audit over all accounts; returns (wall, CPU) seconds spent inside the store."""
    observed = _START + timedelta(days=30)
    # Build the observations before timing so the figure is the store's share only.
    batches = [list(_posts(a, per_account)) for a in range(accounts)]
    findings = [_findings(a, findings_per_account) for a in range(accounts)]
    started = time.perf_counter()
    started_cpu = time.process_time()
    store.begin_run("bench-run", "cfg-hash", "0.1.0", observed)
    for a in range(accounts):
        store.record_account("bench-run", "x", f"brand{a}", "ok", observed, batches[a], findings[a])
    store.finish_run("bench-run", observed + timedelta(minutes=1), "ok")
    return time.perf_counter() - started, time.process_time() - started_cpu


def _prune(store: HistoryStore) -> tuple[float, float, int]:
    """The prune an audit ends with, everything within retention; (wall, CPU, rows deleted)."""
    started = time.perf_counter()
    started_cpu = time.process_time()
    deleted = store.prune(_START + timedelta(days=31))
    return time.perf_counter() - started, time.process_time() - started_cpu, deleted


def _read_history(store: HistoryStore, accounts: int) -> tuple[float, int]:
    """previous_posts for every account, as an audit reading history would; (seconds, posts)."""
    before = _START + timedelta(days=31)
    started = time.perf_counter()
    read = sum(len(store.previous_posts("x", f"brand{a}", before)) for a in range(accounts))
    return time.perf_counter() - started, read


def _file_size(path: Path) -> int:
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--posts-per-account", type=int, default=10_000)
    # A real 1M-post audit writes 250k-420k findings rows: try --findings-per-account 3500.
    parser.add_argument("--findings-per-account", type=int, default=20)
    parser.add_argument("--path", type=Path, default=None, help="store file (default: temp)")
    args = parser.parse_args()
    total = args.accounts * args.posts_per_account

    with tempfile.TemporaryDirectory() as tmp:
        path: Path = args.path or Path(tmp) / "history.sqlite3"
        if path.exists():
            os.remove(path)
        store = HistoryStore(path)
        sizes = (args.accounts, args.posts_per_account, args.findings_per_account)
        first = _run_audit(store, *sizes)
        rerun = _run_audit(store, *sizes)
        prune_wall, prune_cpu, pruned = _prune(store)
        read_seconds, read_posts = _read_history(store, args.accounts)
        # Closing checkpoints what the WAL still holds into the database file: part of the
        # writes' cost, however the checkpoint pragmas spread it.
        started = time.perf_counter()
        store.close()
        close_seconds = time.perf_counter() - started
        size = _file_size(path)

    print(
        f"posts: {total:,} ({args.accounts} accounts x {args.posts_per_account:,}),"
        f" findings: {args.accounts * args.findings_per_account:,}"
    )
    for label, (wall, cpu) in (("first run", first), ("rerun (idempotent)", rerun)):
        print(
            f"{label}: {wall:.2f} s wall, {total / wall:,.0f} posts/s"
            f" ({cpu:.2f} s CPU, {total / cpu:,.0f} posts/s per CPU second)"
        )
    print(
        f"prune (nothing past retention): {prune_wall:.2f} s ({prune_cpu:.2f} s CPU), {pruned} rows"
    )
    print(
        f"previous_posts over all accounts: {read_seconds:.2f} s,"
        f" {read_posts / read_seconds:,.0f} posts/s"
    )
    print(f"close (final WAL checkpoint): {close_seconds:.2f} s")
    print(f"file size: {size / 1_048_576:.1f} MiB ({size / total:.0f} bytes/post)")


if __name__ == "__main__":
    main()
