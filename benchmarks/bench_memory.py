"""Peak memory of `auditor run` as the run grows and its largest account does not (#12 item 8).

    python benchmarks/bench_memory.py [--scale POSTS:ACCOUNTS ...] [--select CHECK ...]
                                      [--many-accounts N] [--keep DIR] [--json]

Each scale is a bundle of POSTS generated posts over ACCOUNTS accounts (``bench_audit.py``'s
bundle and config, ten clients). The defaults, 1,000,000:100 and 2,000,000:200, keep the posts
per account the same, so the largest account is the same size in both and only the run grows:
memory bounded by the largest account reads the same at both scales, memory that grows with the
run roughly doubles. ``--many-accounts N`` measures the report-size problem instead: N accounts
of ``--posts-per-account`` posts (default 10) in ``--clients`` clients (default 100). With
``--many-accounts`` and no ``--scale``, only that runs.

For every audit, run once as a child process (``auditor run CONFIG --quiet`` from a fresh output
folder and history store; generating the bundle is not measured):

- wall time: from starting the child to its exit, interpreter start and imports included;
- parent peak RSS: the auditor's main process alone. It runs in a small launcher (``python -c``,
  calling ``auditor.cli.main`` as the console script does) that in a ``finally`` block writes
  its own high-water resident set to a file before the exit goes on. That is VmHWM from
  ``/proc/self/status``, which starts afresh at exec; ``ru_maxrss`` does not (Linux carries the
  exec'ing process's peak over, here this script's after it generated the bundle), so it is the
  fallback only where there is no ``/proc``;
- largest worker peak RSS: the launcher's ``getrusage(RUSAGE_CHILDREN).ru_maxrss``, the largest
  peak of the worker processes it forked and reaped (0 when the audit ran in one process). A
  forked worker's resident set counts the pages it still shares with the parent copy-on-write;
- reports: the total size and count of the JSON files written under the output folder;
- the exit code (0 and 1 are audits that ran; any other is shown with the last line of stderr);
- the machine's one-minute load average as the audit ended: on a shared machine a load above
  the cores says the wall time is not the audit's alone (the memory figures hold regardless).

Prints a table at the end; ``--json`` prints the figures as one JSON document instead. Linux:
RSS figures are in MB of 2**20 bytes (``ru_maxrss`` and VmHWM are KiB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_audit import write_bench_bundle, write_config

DEFAULT_SCALES = ((1_000_000, 100), (2_000_000, 200))

# Runs in the auditor's own process: argv is [-c, STATS_FILE, auditor arguments...]. The stats
# are written in `finally`, so they are there whatever the exit code (main() ends in SystemExit).
LAUNCHER = """
import json, resource, sys

stats_file = sys.argv.pop(1)
sys.argv[0] = "auditor"


def own_peak_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), "VmHWM"
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"


try:
    from auditor.cli import main

    main()
finally:
    peak, measure = own_peak_kib()
    with open(stats_file, "w") as out:
        json.dump(
            {
                "parent_kib": peak,
                "parent_measure": measure,
                "workers_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            },
            out,
        )
"""


@dataclass(frozen=True)
class Workload:
    """One audit to measure: a generated bundle and the config over it."""

    label: str
    posts: int
    accounts: int
    clients: int

    @property
    def folder_name(self) -> str:
        return f"{self.posts}-posts-{self.accounts}-accounts-{self.clients}-clients"

    def folder(self, work: Path, seed: int) -> Path:
        return work / f"{self.folder_name}-seed-{seed}"


@dataclass(frozen=True)
class Measurement:
    label: str
    posts: int
    accounts: int
    checks: str
    wall_seconds: float
    parent_peak_mb: float | None
    parent_measure: str | None
    worker_peak_mb: float | None
    reports_mb: float
    reports: int
    exit_code: int
    stderr_tail: str
    load_average: float


def parse_scale(text: str) -> tuple[int, int]:
    """``POSTS:ACCOUNTS``, both whole numbers (``_`` separators allowed), accounts at least 1."""
    posts, colon, accounts = text.partition(":")
    try:
        pair = (int(posts), int(accounts))
    except ValueError:
        pair = (-1, -1)
    if not colon or pair[0] < 0 or pair[1] < 1:
        raise argparse.ArgumentTypeError(f"expected POSTS:ACCOUNTS, e.g. 1000000:100, not {text!r}")
    return pair


def prepared_bundle(folder: Path, workload: Workload, seed: int) -> Path:
    """The workload's bundle in ``folder``, generated unless a kept one is there (bundles are
    written atomically, so one that exists is whole)."""
    bundle = folder / "bench.jsonl"
    if bundle.exists():
        print(f"{workload.label}: reusing {bundle}", file=sys.stderr)
        return bundle
    started = time.perf_counter()
    records = write_bench_bundle(bundle, workload.posts, workload.accounts, seed)
    print(
        f"{workload.label}: bundle of {records:,} records, {bundle.stat().st_size / 1e6:,.0f} MB, "
        f"generated in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return bundle


def measure(
    work: Path, workload: Workload, seed: int, select: list[str], python: str
) -> Measurement:
    folder = workload.folder(work, seed)
    folder.mkdir(parents=True, exist_ok=True)
    bundle = prepared_bundle(folder, workload, seed)
    config = write_config(folder, bundle, workload.accounts, seed, select, workload.clients)
    output = folder / "out"
    shutil.rmtree(output, ignore_errors=True)
    stats_file = folder / "launcher-stats.json"
    stats_file.unlink(missing_ok=True)
    # Run away from the source tree (in the workload's folder), so that the installed auditor
    # is the one audited, as the console script would find it.
    command = [python, "-c", LAUNCHER, str(stats_file), "run", str(config), "--quiet"]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    reports = list(output.rglob("*.json")) if output.exists() else []
    stderr_lines = completed.stderr.strip().splitlines()
    return Measurement(
        label=workload.label,
        posts=workload.posts,
        accounts=workload.accounts,
        checks=" + ".join(select) if select else "all (default policy)",
        wall_seconds=round(wall, 2),
        parent_peak_mb=mebibytes(stats.get("parent_kib")),
        parent_measure=stats.get("parent_measure"),
        worker_peak_mb=mebibytes(stats.get("workers_kib")),
        reports_mb=round(sum(path.stat().st_size for path in reports) / 2**20, 1),
        reports=len(reports),
        exit_code=completed.returncode,
        stderr_tail=stderr_lines[-1] if completed.returncode not in (0, 1) and stderr_lines else "",
        load_average=round(os.getloadavg()[0], 1),
    )


def mebibytes(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def table(rows: list[Measurement]) -> str:
    header = (
        "workload",
        "checks",
        "wall s",
        "parent MB",
        "worker MB",
        "reports MB",
        "exit",
        "load",
    )
    cells = [header]
    for row in rows:
        cells.append(
            (
                row.label,
                row.checks,
                f"{row.wall_seconds:.1f}",
                shown(row.parent_peak_mb),
                shown(row.worker_peak_mb),
                f"{row.reports_mb:,.1f} ({row.reports})",
                str(row.exit_code),
                f"{row.load_average:.1f}",
            )
        )
    widths = [max(len(line[column]) for line in cells) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines += [f"{row.label}: exit {row.exit_code}: {row.stderr_tail}" for row in rows
              if row.stderr_tail]  # fmt: skip
    return "\n".join(lines)


def shown(megabytes: float | None) -> str:
    return "?" if megabytes is None else f"{megabytes:,.0f}"


def workloads(args: argparse.Namespace) -> list[Workload]:
    scales: list[tuple[int, int]] = args.scale or ([] if args.many_accounts else [*DEFAULT_SCALES])
    chosen = [
        Workload(f"{posts:,} posts / {accounts:,} accounts", posts, accounts, 10)
        for posts, accounts in scales
    ]
    if args.many_accounts:
        count = args.many_accounts
        chosen.append(
            Workload(
                f"many accounts: {count:,} x {args.posts_per_account} posts",
                count * args.posts_per_account,
                count,
                args.clients,
            )
        )
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scale",
        type=parse_scale,
        action="append",
        default=[],
        metavar="POSTS:ACCOUNTS",
        help="a run to measure (repeatable); default 1000000:100 and 2000000:200",
    )
    parser.add_argument("--select", action="append", default=[], help="check id or prefix")
    parser.add_argument(
        "--many-accounts", type=int, metavar="N", help="also measure N accounts of few posts each"
    )
    parser.add_argument("--posts-per-account", type=int, default=10)
    parser.add_argument("--clients", type=int, default=100, help="clients of --many-accounts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) bundles in this folder")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the auditor")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.many_accounts is not None and args.many_accounts < 1:
        parser.error("--many-accounts must be at least 1")

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Measurement] = []
    try:
        for workload in workloads(args):
            row = measure(work, workload, args.seed, args.select, args.python)
            print(
                f"{row.label}: {row.wall_seconds:.1f} s, parent {shown(row.parent_peak_mb)} MB, "
                f"worker {shown(row.worker_peak_mb)} MB, reports {row.reports_mb:,.1f} MB, "
                f"exit {row.exit_code}",
                file=sys.stderr,
            )
            rows.append(row)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps([asdict(row) for row in rows], indent=2) if args.json else table(rows))


if __name__ == "__main__":
    main()
