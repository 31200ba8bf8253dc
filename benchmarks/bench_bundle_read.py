"""Time reading every account of a generated bundle with ``read_span``, in one process.

The bundle is the one ``bench_audit.py`` generates (default 1,000,000 posts, 100 accounts, seed
7). Indexing it is not measured; each round reads every account's span once. The CPU time of
the process (``time.process_time``) is what the reader costs; the wall time is printed beside
it. Best of ``--repeat`` rounds.

    python benchmarks/bench_bundle_read.py [--posts 1000000] [--accounts 100] [--repeat 3]
                                           [--keep FOLDER]

With ``--keep`` the bundle is written to FOLDER once and reused by later runs (so that two
checkouts can be timed on the same file).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from auditor.demo.generator import generate_records
from auditor.sources.bundle import index_bundle, read_span, write_bundle


def read_every_account(bundle: Path) -> tuple[float, float, int]:
    """CPU and wall seconds to read every account of ``bundle``, and the posts read."""
    index = index_bundle(bundle)
    cpu, wall = time.process_time(), time.perf_counter()
    posts = sum(len(read_span(index, key).posts) for key in index.spans)
    return time.process_time() - cpu, time.perf_counter() - wall, posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the bundle here once and reuse it")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-read-"))
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / f"bench-{args.posts}-{args.accounts}-{args.seed}.jsonl"
    if not bundle.exists():
        write_bundle(bundle, generate_records(args.posts, args.accounts, args.seed))
    rounds = [read_every_account(bundle) for _ in range(max(1, args.repeat))]
    for cpu, wall, posts in rounds:
        print(f"read_span over every account: {cpu:.2f} s CPU, {wall:.2f} s wall, {posts:,} posts")
    best_cpu = min(cpu for cpu, _, _ in rounds)
    best_wall = min(wall for _, wall, _ in rounds)
    print(f"best of {len(rounds)}: {best_cpu:.2f} s CPU, {best_wall:.2f} s wall")


if __name__ == "__main__":
    main()
