"""Compare two checkouts of the project on the README's performance figures, alternately.

    python benchmarks/compare_trees.py BEFORE AFTER [--rounds 3] [--work DIR]

BEFORE and AFTER are checkouts, each with its own virtual environment in ``.venv`` (a plain
``pip install '.[test,bench]'``). Each tree prepares its own inputs with its own benchmark
scripts (``bench_audit.py --keep``, ``bench_twcs_pandas.py --keep``), then every round times
``auditor run`` on each input in one tree and then the other (the order swaps every round), so
that a busy spell on a shared machine falls on both. Then ``bench_store.py`` and
``bench_fetch.py`` run alternately the same way. Prints every run and, per figure, the median of
each tree and their ratio (after / before). Peak RSS is the audited process's, from GNU time.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

AUDITS = {
    "PRF001 + RSP001": ["--select", "PRF001", "--select", "RSP001"],
    "RSP001-RSP004": ["--select", "RSP"],
    "all checks": [],
}
SCRIPTS = {
    "store first run": ("bench_store.py", r"first run: ([\d.]+) s"),
    "store rerun": ("bench_store.py", r"rerun \(idempotent\): ([\d.]+) s"),
    "fetch": ("bench_fetch.py", r"wall time: +([\d.]+) s"),
}


def python_of(tree: Path) -> str:
    return str(tree / ".venv" / "bin" / "python")


def prepare(tree: Path, name: str, folder: Path, select: list[str] | None) -> None:
    if list(folder.glob("*.yaml")):
        return
    script = "bench_audit.py" if select is not None else "bench_twcs_pandas.py"
    extra = select if select is not None else ["--repeat", "1"]
    # bench_twcs_pandas.py exits 1 when the auditor loses its one race against pandas (on a busy
    # machine it may): what matters here is the tiled file and the config it leaves.
    run = subprocess.run(
        [python_of(tree), str(tree / "benchmarks" / script), "--keep", str(folder), *extra],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if not list(folder.glob("*.yaml")):
        sys.exit(f"{tree}: {script} left no config in {folder}: {run.stderr[-400:]}")
    print(f"prepared {name} in {tree}", flush=True)


def audit(tree: Path, folder: Path) -> tuple[float, float]:
    """One ``auditor run`` of the folder's config from a fresh store: seconds and peak MB."""
    (config,) = folder.glob("*.yaml")
    shutil.rmtree(folder / "out", ignore_errors=True)
    started = time.perf_counter()
    run = subprocess.run(
        ["/usr/bin/time", "-f", "%M", python_of(tree), "-m", "auditor", "run", str(config), "-q"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if run.returncode not in (0, 1):
        sys.exit(f"{tree}: auditor run exited {run.returncode}: {run.stderr[-400:]}")
    return took, int(run.stderr.strip().splitlines()[-1]) / 1024


def script_figures(tree: Path, script: str) -> str:
    run = subprocess.run(
        [python_of(tree), str(tree / "benchmarks" / script)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("compare-trees"))
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    times: dict[str, dict[str, list[float]]] = {}
    peaks: dict[str, dict[str, list[float]]] = {}
    inputs = {**{name: select for name, select in AUDITS.items()}, "twcs 1M rows": None}
    for name, select in inputs.items():
        for label, tree in trees.items():
            prepare(tree, name, args.work / f"{label}-{name.replace(' ', '_')}", select)
    for round_number in range(args.rounds):
        order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
        for name in inputs:
            for label in order:
                folder = args.work / f"{label}-{name.replace(' ', '_')}"
                took, peak = audit(trees[label], folder)
                times.setdefault(name, {}).setdefault(label, []).append(took)
                peaks.setdefault(name, {}).setdefault(label, []).append(peak)
                print(f"round {round_number + 1} {name:16} {label:6} {took:6.2f} s {peak:5.0f} MB")
        scripts = {script for script, _ in SCRIPTS.values()}
        for script in sorted(scripts):
            for label in order:
                output = script_figures(trees[label], script)
                for name, (owner, pattern) in SCRIPTS.items():
                    found = re.search(pattern, output) if owner == script else None
                    if found:
                        times.setdefault(name, {}).setdefault(label, []).append(float(found[1]))
                        print(f"round {round_number + 1} {name:16} {label:6} {found[1]} s")
    print("\nmedians (after / before)")
    for name, by_tree in times.items():
        before, after = (statistics.median(by_tree[label]) for label in ("before", "after"))
        peak_note = ""
        if name in peaks:
            peak_note = "; peak MB " + " / ".join(
                f"{max(peaks[name][label]):.0f}" for label in ("after", "before")
            )
        print(f"{name:16} {after:.2f} / {before:.2f} s = {after / before:.3f}{peak_note}")


if __name__ == "__main__":
    main()
