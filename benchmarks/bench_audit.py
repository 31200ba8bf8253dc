"""Time `auditor run` end to end on a generated bundle (default 1,000,000 posts, 100 accounts).

Reading, every enabled check, history store writes and the JSON reports are all inside the
measured command; generating the bundle is not. Peak RSS is the child process's maximum
resident set (getrusage), so it covers the whole audit.

    python benchmarks/bench_audit.py [--posts 1000000] [--accounts 100] [--select RSP001]
                                     [--repeat 3] [--format json,csv,junit,sarif]
                                     [--against json] [--keep FOLDER]

With ``--repeat N`` the audit runs N times (a fresh history store and report folder each time)
and every time is printed with the fastest and the median: on a shared machine the spread says
as much as any one figure. ``--against FORMATS`` runs the same audit with those formats before
each timed run, alternating, and prints each pair's ratio and their median: what a report format
costs, measured under the same load. The bytes each kind of report file took are printed after
the last run. ``--keep FOLDER`` keeps the bundle, and reuses it when it was made with the same
posts, accounts and seed.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auditor.demo.generator import AccountPlan, generate_records, plan_accounts
from auditor.sources.bundle import write_bundle


def write_bench_bundle(bundle: Path, posts: int, accounts: int, seed: int) -> int:
    """The benchmark's bundle: ``posts`` generated posts over ``accounts`` accounts; returns the
    number of records."""
    return write_bundle(bundle, generate_records(posts, accounts, seed))


def write_config(
    folder: Path, bundle: Path, accounts: int, seed: int, select: list[str], clients: int = 10
) -> Path:
    """``bench.yaml`` in ``folder``: the bundle's accounts dealt round-robin to ``clients``
    clients, the default policy or only the ``select``ed checks."""
    plans = plan_accounts(accounts, seed)
    members_of: dict[str, list[AccountPlan]] = {}
    width = max(2, len(str(clients - 1)))  # client-00 as before for the default ten
    for index, plan in enumerate(plans):
        members_of.setdefault(f"client-{index % clients:0{width}d}", []).append(plan)
    lines = [
        "output: {dir: out}",
        "store: {path: out/history.sqlite}",
        f"policy: {{select: {json.dumps(select)}}}" if select else "",
        "clients:",
    ]
    for name, members in members_of.items():
        lines.append(f"  - name: {name}")
        lines.append("    accounts:")
        for plan in members:
            lines.append(
                f"      - {{platform: {plan.platform}, handle: {json.dumps(plan.handle)}, "
                f"source: {bundle.name}}}"
            )
    path = folder / "bench.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--select", action="append", default=[], help="check id or prefix")
    parser.add_argument("--keep", type=Path, help="keep the bundle and config in this folder")
    parser.add_argument("--repeat", type=int, default=1, help="run the audit this many times")
    parser.add_argument(
        "--against", help="formats to run before each timed run, alternating (a paired ratio)"
    )
    parser.add_argument(
        "--format",
        default="json",
        help="report formats the run writes, as `auditor run --format` takes them "
        "(json,csv,junit,sarif: every file format)",
    )
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-audit-"))
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "bench.jsonl"
    made_with = folder / "bench.params"
    params = f"{args.posts} {args.accounts} {args.seed}"
    if bundle.exists() and made_with.exists() and made_with.read_text() == params:
        print(f"bundle: reused {bundle} ({bundle.stat().st_size / 1e6:.0f} MB)")
    else:
        started = time.perf_counter()
        records = write_bench_bundle(bundle, args.posts, args.accounts, args.seed)
        made_with.write_text(params)
        print(
            f"bundle: {records:,} records, {bundle.stat().st_size / 1e6:.0f} MB, "
            f"generated in {time.perf_counter() - started:.1f} s"
        )
    config = write_config(folder, bundle, args.accounts, args.seed, args.select)

    times: list[float] = []
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    for _ in range(max(1, args.repeat)):
        if args.against:
            before, before_cpu = audit_once(folder, config, args.against)
            elapsed, cpu = audit_once(folder, config, args.format)
            times.append(elapsed)
            ratios.append(elapsed / before)
            cpu_ratios.append(cpu / before_cpu)
            pair = f"{args.against}: {before:.2f} s ({before_cpu:.1f} s CPU), "
            pair += f"{args.format}: {elapsed:.2f} s ({cpu:.1f} s CPU)"
            print(f"{pair}, ratio {ratios[-1]:.3f} (CPU {cpu_ratios[-1]:.3f})")
        else:
            times.append(audit_once(folder, config, args.format)[0])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for elapsed in times:
        print(f"auditor run: {elapsed:.2f} s, posts/s: {args.posts / elapsed:,.0f}")
    if ratios:
        print(
            f"{args.format} against {args.against}: median ratio {statistics.median(ratios):.3f}"
            f" (CPU {statistics.median(cpu_ratios):.3f})"
        )
    for name, (files, total, largest) in sorted(report_sizes(folder / "out").items()):
        print(f"{name}: {files} files, {total / 1e6:.2f} MB in all, largest {largest / 1e6:.2f} MB")
    if len(times) > 1:
        best, middle = min(times), statistics.median(times)
        print(
            f"fastest {best:.2f} s ({args.posts / best:,.0f} posts/s), median {middle:.2f} s "
            f"({args.posts / middle:,.0f} posts/s) over {len(times)} runs"
        )
    print(f"peak RSS: {peak_mb:,.0f} MB")


def report_sizes(output: Path) -> dict[str, tuple[int, int, int]]:
    """Per report file name (report.json, report.html, ...): how many, their bytes, the largest."""
    sizes: dict[str, list[int]] = {}
    for path in output.rglob("*"):
        if path.is_file() and path.suffix != ".sqlite" and "sqlite" not in path.name:
            sizes.setdefault(path.name, []).append(path.stat().st_size)
    return {name: (len(found), sum(found), max(found)) for name, found in sizes.items()}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def audit_once(folder: Path, config: Path, formats: str) -> tuple[float, float]:
    """One timed ``auditor run`` from a fresh history store and report folder: its wall and
    CPU seconds (user + system, every process of the run; steadier than wall time on a shared
    machine)."""
    shutil.rmtree(folder / "out", ignore_errors=True)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "auditor", "run", str(config), "--quiet", "--format", formats],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        sys.exit(f"auditor run exited {completed.returncode}: {completed.stderr.strip()}")
    return elapsed, _children_cpu() - cpu_before


if __name__ == "__main__":
    main()
