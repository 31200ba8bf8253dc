"""The auditor against a plain pandas script on the real twcs copy tiled to 1,000,000 rows.

Tiles ``../shared/data/real/twcs/twcs_first5001.csv`` (beside the repository): copy ``k`` adds
``k * offset`` to every id (tweet ids, reply lists, parents; ``offset`` is the power of ten above
the largest id) and ``k * 63`` days to every date (nine weeks: longer than the file's bulk,
8 Oct - 3 Dec 2017, and whole weeks so weekdays stay), so threads and gaps stay as they are.
Rows are written as the file has them (index column, float parents, bare carriage returns).

Then, in one run, it times (a) ``auditor run`` (the real CLI, in a subprocess) with every RSP
check on every brand of the file, always-open calendar, reports and history store included,
against (b) ``benchmarks/pandas_first_response.py`` (in a subprocess too), and checks that both
give every brand the same first-response count and median (RSP002's ``count`` and
``wall_minutes.median``; business minutes equal wall minutes here). Generating the file is not
timed. With ``--repeat N`` (default 3) the two commands run N times each, alternately, so that a
busy spell on a shared machine slows both sides; the medians are compared. Exits 1 when they
disagree or the auditor's median is not below the script's.

    python benchmarks/bench_twcs_pandas.py [--rows 1000000] [--repeat 3] [--keep DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real" / "twcs" / "twcs_first5001.csv"
PANDAS_SCRIPT = REPO / "benchmarks" / "pandas_first_response.py"
DAYS_PER_COPY = 63
DATE_FORMAT = "%a %b %d %H:%M:%S %z %Y"
# Stands in for a bare carriage return while the csv module splits a row (as the reader does).
CR_MARK = "\uffff"

Row = list[str]


@dataclass(frozen=True, slots=True)
class Source:
    """The rows of the real copy, ready to tile."""

    header: Row
    rows: list[Row]
    dates: list[datetime]
    offset: int
    brands: list[str]


def physical_lines(path: Path) -> Iterator[str]:
    """Lines split on ``\\n`` only, bare carriage returns masked."""
    with path.open(encoding="utf-8-sig", newline="\n") as stream:
        for line in stream:
            body = line[:-2] if line.endswith("\r\n") else line.rstrip("\n")
            yield body.replace("\r", CR_MARK) + "\n"


def _ids(value: str) -> list[int]:
    return [int(float(part)) for part in value.split(",") if part.strip()]


def read_source(path: Path) -> Source:
    reader = csv.reader(physical_lines(path))
    header = next(reader)
    rows = [row for row in reader if len(row) == len(header)]
    column = {name: index for index, name in enumerate(header)}
    ids = [
        tweet_id
        for row in rows
        for name in ("tweet_id", "response_tweet_id", "in_response_to_tweet_id")
        for tweet_id in _ids(row[column[name]])
    ]
    brands = sorted(
        {row[column["author_id"]] for row in rows if row[column["inbound"]] == "False"},
        key=str.casefold,
    )
    dates = [datetime.strptime(row[column["created_at"]], DATE_FORMAT) for row in rows]
    return Source(header, rows, dates, 10 ** len(str(max(ids))), brands)


def _shift_id(value: str, shift: int) -> str:
    if not value:
        return value
    if value.endswith(".0"):
        return f"{int(value[:-2]) + shift}.0"
    return str(int(value) + shift)


def _shift_list(value: str, shift: int) -> str:
    return ",".join(str(int(part) + shift) for part in value.split(",")) if value else value


def tile(source: Source, target: Path, rows: int) -> int:
    """Write ``rows`` rows of shifted copies; returns how many were written."""
    column = {name: index for index, name in enumerate(source.header)}
    index_at = column.get("")
    id_at, date_at = column["tweet_id"], column["created_at"]
    replies_at, parent_at = column["response_tweet_id"], column["in_response_to_tweet_id"]
    written = 0
    with target.open("w", encoding="utf-8", newline="") as out:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(source.header)
        copy = 0
        while written < rows:
            shift = copy * source.offset
            days = timedelta(days=copy * DAYS_PER_COPY)
            for row, when in zip(source.rows, source.dates, strict=True):
                if written == rows:
                    break
                new = list(row)
                if index_at is not None:
                    new[index_at] = str(written)
                new[id_at] = _shift_id(row[id_at], shift)
                new[replies_at] = _shift_list(row[replies_at], shift)
                new[parent_at] = _shift_id(row[parent_at], shift)
                new[date_at] = (when + days).strftime(DATE_FORMAT)
                writer.writerow(new)
                written += 1
            out.write(buffer.getvalue().replace(CR_MARK, "\r"))
            buffer.seek(0)
            buffer.truncate()
            copy += 1
    return written


def write_config(folder: Path, data: Path, brands: list[str]) -> Path:
    lines = [
        "output: {dir: out, formats: [json]}",
        "store: {path: out/history.sqlite}",
        "policy: {select: [RSP], business_hours: {always_open: true}}",
        "clients:",
        "  - name: twcs",
        "    accounts:",
    ]
    lines += [
        f"      - {{platform: x, handle: {json.dumps(brand)}, "
        f"source: {{type: twcs, path: {json.dumps(data.name)}}}}}"
        for brand in brands
    ]
    path = folder / "twcs-bench.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall-clock seconds, and CPU seconds (user + system, all the command's processes): on a
    shared machine the CPU time says more than the wall-clock time."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], folder: Path) -> tuple[Timing, subprocess.CompletedProcess[str]]:
    cpu = _children_cpu()
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    return Timing(time.perf_counter() - started, _children_cpu() - cpu), completed


Figures = dict[str, dict[str, Any]]


def auditor_figures(out_dir: Path) -> Figures:
    (report_path,) = out_dir.glob("twcs/*/report.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    figures: Figures = {}
    for account in report["accounts"]:
        checks = {check["id"]: check for check in account["checks"]}
        metrics = checks["RSP002"]["metrics"] if "RSP002" in checks else {}
        if metrics.get("count"):
            figures[account["account"]] = {
                "count": metrics["count"],
                "median": metrics["wall_minutes"]["median"],
            }
    return figures


def mismatches(auditor: Figures, pandas: Figures) -> list[str]:
    return [
        f"{brand}: auditor {auditor.get(brand)}, pandas {pandas.get(brand)}"
        for brand in sorted(set(auditor) | set(pandas), key=str.casefold)
        if auditor.get(brand) != pandas.get(brand)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--source", type=Path, default=REAL)
    parser.add_argument("--keep", type=Path, help="keep the tiled file, config and reports here")
    parser.add_argument("--workers", type=int, help="passed to auditor run --workers")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternately")
    args = parser.parse_args()
    if not args.source.is_file():
        sys.exit(
            f"error: {args.source} is absent: the real twcs copy sits in ../shared beside the "
            "repository (see ../shared/README.md), or name another copy with --source"
        )

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-twcs-"))
    folder.mkdir(parents=True, exist_ok=True)
    source = read_source(args.source)
    data = folder / "twcs_tiled.csv"
    started = time.perf_counter()
    rows = tile(source, data, args.rows)
    config = write_config(folder, data, source.brands)
    print(
        f"tiled: {rows:,} rows, {len(source.brands)} brands, {data.stat().st_size / 1e6:.0f} MB, "
        f"made in {time.perf_counter() - started:.1f} s (ids +{source.offset:,} and "
        f"+{DAYS_PER_COPY} days per copy)"
    )

    pandas_out = folder / "pandas.json"
    auditor_command = [sys.executable, "-m", "auditor", "run", str(config), "--quiet"]
    if args.workers is not None:
        auditor_command += ["--workers", str(args.workers)]
    pandas_command = [sys.executable, str(PANDAS_SCRIPT), str(data), "--out", str(pandas_out)]
    auditor_times: list[Timing] = []
    pandas_times: list[Timing] = []
    for _ in range(max(1, args.repeat)):
        # A fresh history store and report folder each run (a kept folder holds the last ones).
        shutil.rmtree(folder / "out", ignore_errors=True)
        took, audited = timed(auditor_command, folder)
        if audited.returncode not in (0, 1):
            sys.exit(f"auditor run exited {audited.returncode}: {audited.stderr.strip()}")
        auditor_times.append(took)
        took, computed = timed(pandas_command, folder)
        if computed.returncode != 0:
            sys.exit(f"pandas script exited {computed.returncode}: {computed.stderr.strip()}")
        pandas_times.append(took)

    auditor = auditor_figures(folder / "out")
    pandas: Figures = json.loads(pandas_out.read_text(encoding="utf-8"))["brands"]
    different = mismatches(auditor, pandas)
    auditor_time, pandas_time = median_timing(auditor_times), median_timing(pandas_times)
    ratio = pandas_time.wall / auditor_time.wall
    print(f"auditor (all RSP checks, {len(auditor)} brands measured): {runs(auditor_times)}")
    print(f"pandas first-response script: {runs(pandas_times)}")
    print(
        f"medians: auditor {auditor_time.wall:.2f} s ({auditor_time.cpu:.2f} s CPU), "
        f"pandas {pandas_time.wall:.2f} s ({pandas_time.cpu:.2f} s CPU)"
    )
    print(
        f"ratio pandas / auditor (medians): {ratio:.2f}x wall, "
        f"{pandas_time.cpu / auditor_time.cpu:.2f}x CPU; auditor rows/s: "
        f"{rows / auditor_time.wall:,.0f}; auditor faster in "
        f"{sum(a.wall < p.wall for a, p in zip(auditor_times, pandas_times, strict=True))} of "
        f"{len(auditor_times)} pairs"
    )
    for line in different:
        print(f"MISMATCH {line}")
    print(f"agreement: {len(auditor) - len(different)} of {len(set(auditor) | set(pandas))} brands")
    if different:
        sys.exit("the auditor and pandas disagree")
    if auditor_time.wall >= pandas_time.wall:
        sys.exit("the auditor is not faster than pandas")


def median_timing(times: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall for t in times), statistics.median(t.cpu for t in times))


def runs(times: list[Timing]) -> str:
    return ", ".join(f"{t.wall:.2f} s ({t.cpu:.2f} s CPU)" for t in times)


if __name__ == "__main__":
    main()
