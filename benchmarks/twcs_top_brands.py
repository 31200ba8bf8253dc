"""Audit the real twcs copy and print first response times for its five busiest brands.

Runs the real CLI on ``benchmarks/twcs-real.yaml`` (every brand of
``../shared/data/real/twcs/twcs_first5001.csv`` as an account, always-open calendar, RSP
checks), reads the JSON report and ranks brands by customer posts addressed to them (RSP001's
``addressed_posts``). The figures in ``docs/twcs-real-data.md`` come from this script:

    python benchmarks/twcs_top_brands.py [--top 5] [--markdown] [--pandas]

``--pandas`` also runs the pandas peer (``benchmarks/pandas_first_response.py``, with the
config's ``aliases``) on the same file and compares every brand's RSP002 count and wall-clock
median with it; exits 1 when any differs.

Exits 2 with a message when ``../shared`` (beside the repository) is absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "benchmarks" / "twcs-real.yaml"


@dataclass(frozen=True, slots=True)
class BrandTimes:
    """One brand's first response times (RSP002), wall-clock and business minutes."""

    brand: str
    addressed_posts: int
    count: int
    unanswered: int
    wall_median: float | None
    wall_p90: float | None
    business_median: float | None
    business_p90: float | None


def twcs_paths(config: Path) -> list[Path]:
    """The twcs files the config reads, resolved as the auditor resolves them."""
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    paths = {
        (config.parent / account["source"]["path"]).resolve()
        for client in document["clients"]
        for account in client["accounts"]
        if isinstance(account.get("source"), dict) and account["source"].get("type") == "twcs"
    }
    return sorted(paths)


def run_audit(config: Path, out_dir: Path) -> dict[str, Any]:
    """``auditor run CONFIG`` through the real CLI; the report of its one client."""
    command = [sys.executable, "-m", "auditor", "run", str(config), "--quiet"]
    command += ["--output", str(out_dir)]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    # Exit 1 only says that some brand breached a target: the report is whole.
    if completed.returncode not in (0, 1):
        sys.exit(f"auditor run exited {completed.returncode}: {completed.stderr.strip()}")
    reports = sorted(out_dir.glob("*/*/report.json"))
    if len(reports) != 1:
        sys.exit(f"expected one report under {out_dir}, found {len(reports)}")
    report: dict[str, Any] = json.loads(reports[0].read_text(encoding="utf-8"))
    return report


def brand_times(account: dict[str, Any]) -> BrandTimes:
    checks = {check["id"]: check for check in account["checks"]}
    unanswered_posts = checks["RSP001"]["metrics"]
    first = checks["RSP002"]["metrics"]
    return BrandTimes(
        brand=account["account"],
        addressed_posts=unanswered_posts["addressed_posts"],
        count=first["count"],
        unanswered=first["unanswered"],
        wall_median=first["wall_minutes"]["median"],
        wall_p90=first["wall_minutes"]["p90"],
        business_median=first["business_minutes"]["median"],
        business_p90=first["business_minutes"]["p90"],
    )


def busiest(report: dict[str, Any], top: int) -> list[BrandTimes]:
    """The ``top`` brands with the most customer posts addressed to them (ties by handle)."""
    audited = [a for a in report["accounts"] if a["status"] != "error"]
    times = [brand_times(account) for account in audited]
    return sorted(times, key=lambda t: (-t.addressed_posts, t.brand.casefold()))[:top]


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


HEADERS = (
    "brand",
    "customer posts addressed",
    "first responses (count)",
    "unanswered",
    "median wall min",
    "p90 wall min",
    "median business min",
    "p90 business min",
)


def table_rows(times: list[BrandTimes]) -> list[list[str]]:
    return [
        [
            t.brand,
            str(t.addressed_posts),
            str(t.count),
            str(t.unanswered),
            _minutes(t.wall_median),
            _minutes(t.wall_p90),
            _minutes(t.business_median),
            _minutes(t.business_p90),
        ]
        for t in times
    ]


def markdown_table(times: list[BrandTimes]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(times)]
    return "\n".join(lines)


def plain_table(times: list[BrandTimes]) -> str:
    from tabulate import tabulate

    return str(tabulate(table_rows(times), headers=HEADERS, disable_numparse=True))


def pandas_disagreements(config: Path, report: dict[str, Any]) -> list[str]:
    """Brands whose RSP002 count or wall-clock median the pandas peer computes otherwise."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import pandas_first_response as peer

    (path,) = twcs_paths(config)
    figures = peer.per_brand(path, peer.read_aliases(config))
    differ = []
    for account in report["accounts"]:
        if account["status"] == "error":
            continue
        times = brand_times(account)
        mine = {"count": times.count, "median": times.wall_median} if times.count else None
        if figures.get(times.brand) != mine:
            differ.append(f"{times.brand}: auditor {mine}, pandas {figures.get(times.brand)}")
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--pandas", action="store_true", help="compare every brand with the pandas peer"
    )
    args = parser.parse_args()

    config = args.config.resolve()
    missing = [path for path in twcs_paths(config) if not path.is_file()]
    if missing:
        sys.exit(
            f"error: {missing[0]} is absent. The real twcs copy sits in ../shared beside the "
            "repository (not in the project); see docs/twcs-real-data.md."
        )
    with tempfile.TemporaryDirectory(prefix="twcs-real-") as folder:
        report = run_audit(config, Path(folder))
    times = busiest(report, args.top)
    audited = sum(1 for a in report["accounts"] if a["status"] != "error")
    print(f"{audited} brands audited; the {len(times)} with most customer posts addressed:")
    print(markdown_table(times) if args.markdown else plain_table(times))
    if args.pandas:
        differ = pandas_disagreements(config, report)
        print(f"pandas peer: {len(differ)} of {audited} brands differ")
        for line in differ:
            print(f"  {line}")
        if differ:
            sys.exit(1)


if __name__ == "__main__":
    main()
