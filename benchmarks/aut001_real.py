"""Run AUT001 (automated-reply ratio) on every brand of the real twcs copy; print a Markdown table.

Uses the real CLI on a copy of ``benchmarks/twcs-real.yaml`` (every brand of
``../shared/data/real/twcs/twcs_first5001.csv`` as an account) with ``select: [AUT001]``, and
reads the JSON report. ``docs/aut001-real-data.md`` holds its output:

    python benchmarks/aut001_real.py [--top 3] [--words 8]

Templates are shown by their first ``--words`` words of the normalised template and the id of an
example reply, not the reply itself: the tweets stay in ../shared. Exits 2 when ../shared is
absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "benchmarks" / "twcs-real.yaml"


def aut001_config(config: Path, folder: Path) -> Path:
    """The twcs config with only AUT001 selected and its source paths made absolute."""
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["policy"] = {**document.get("policy", {}), "select": ["AUT001"]}
    document["output"] = {"dir": str(folder / "out"), "formats": ["json"]}
    document.pop("store", None)
    for client in document["clients"]:
        for account in client["accounts"]:
            source = account["source"]
            if isinstance(source, dict):
                account["source"] = {**source, "path": str(config.parent / source["path"])}
    path = folder / "aut001.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def run(config: Path, folder: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "auditor", "run", str(config), "--quiet"]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if completed.returncode not in (0, 1, 3):
        sys.exit(f"auditor run exited {completed.returncode}: {completed.stderr.strip()}")
    (report,) = sorted(folder.glob("out/*/*/report.json"))
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return result


def _template(entry: dict[str, Any], words: int) -> str:
    key = entry["template"].split()
    shown = " ".join(key[:words]) + (" …" if len(key) > words else "")
    example = entry["example"]["id"]
    return f"`{shown}` ×{entry['replies']} ({entry['customers']} customers, e.g. {example})"


def rows(report: dict[str, Any], top: int, words: int) -> list[list[str]]:
    out = []
    for account in report["accounts"]:
        (check,) = [c for c in account["checks"] if c["id"] == "AUT001"]
        metrics = check.get("metrics") or {}
        if not metrics:
            out.append([account["account"], "-", "-", "-", "-", check["status"], check["summary"]])
            continue
        signals = metrics["signals"]
        templates = "<br>".join(_template(t, words) for t in metrics["top_templates"][:top])
        out.append(
            [
                account["account"],
                str(metrics["replies"]),
                str(metrics["automated"]),
                f"{metrics['ratio']:.2f}",
                f"{signals['template']}/{signals['fast']}/{signals['flagged']}/{signals['source']}",
                check["status"],
                templates or "-",
            ]
        )
    return sorted(out, key=lambda row: row[0].casefold())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--words", type=int, default=8)
    args = parser.parse_args()
    csv = REPO.parent / "shared" / "data" / "real" / "twcs" / "twcs_first5001.csv"
    if not csv.is_file():
        sys.exit(f"error: {csv} is absent (the real data sits in ../shared beside the repository)")
    with tempfile.TemporaryDirectory(prefix="aut001-real-") as name:
        folder = Path(name)
        report = run(aut001_config(args.config.resolve(), folder), folder)
    headers = ["brand", "replies", "automated", "ratio", "template/fast/flagged/source", "status",
               "top templates"]  # fmt: skip
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows(report, args.top, args.words):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
