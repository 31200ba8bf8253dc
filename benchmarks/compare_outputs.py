"""Do two checkouts give the same verdicts? The demo and the real twcs audits, compared.

    python benchmarks/compare_outputs.py BEFORE AFTER [--work DIR]

Each checkout needs its own virtual environment in ``.venv``. Both run ``auditor run`` on
``config/demo.yaml`` and on ``benchmarks/twcs-real.yaml`` (the real twcs copy in ``../shared``);
then every ``report.json`` and every row of every history-store table are written out with what
must differ between runs made apart (run ids and keys, start and finish times, the checkout's
own path and the path of ``../shared``) replaced by placeholders, and the two are diffed. Exit 0
and "identical" when nothing else differs; else the first lines of the difference.
"""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

AUDITS = {
    "demo": ("config/demo.yaml", "out/demo"),
    "twcs": ("benchmarks/twcs-real.yaml", "out/twcs-real"),
}
VOLATILE_KEYS = {"run_id", "started_at", "finished_at", "duration_seconds", "id"}
VOLATILE_COLUMNS = {"run_id", "run_key", "started_at", "finished_at", "created_at"}


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<v>" if k in VOLATILE_KEYS else normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def snapshot(tree: Path) -> list[str]:
    """The audits' normalised reports and store rows, as lines."""
    tree = tree.resolve()
    paths = {str(tree): "<tree>", str(tree.parent / "shared"): "<shared>"}
    lines: list[str] = []
    for name, (config, out) in AUDITS.items():
        shutil.rmtree(tree / out, ignore_errors=True)
        run = subprocess.run(
            [str(tree / ".venv" / "bin" / "auditor"), "run", config, "-q"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        lines.append(f"== {name}: exit {run.returncode}")
        for report in sorted((tree / out).rglob("report.json")):
            data = normalised(json.loads(report.read_text(encoding="utf-8")))
            lines.append(f"== {name} report {report.relative_to(tree / out).parts[0]}")
            lines.extend(json.dumps(data, sort_keys=True, indent=0).splitlines())
        store = sqlite3.connect(tree / out / "history.sqlite")
        tables = store.execute(
            "select name from sqlite_master where type in ('table', 'view') order by name"
        )
        for (table,) in tables.fetchall():
            columns = [c[1] for c in store.execute(f"pragma table_info({table})")]
            lines.append(f"== {name} store {table} {columns}")
            rows = [
                repr(
                    tuple(
                        "<v>" if c in VOLATILE_COLUMNS else v
                        for c, v in zip(columns, row, strict=True)
                    )
                )
                for row in store.execute(f"select * from {table}")
            ]
            lines.extend(sorted(rows))
        store.close()
    text = "\n".join(lines)
    for path, placeholder in paths.items():
        text = text.replace(path, placeholder)
    return text.splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    before, after = snapshot(args.before), snapshot(args.after)
    if before == after:
        print(f"identical: {len(after):,} lines of reports and store rows")
        return
    diff = list(difflib.unified_diff(before, after, "before", "after", lineterm="", n=1))
    print("\n".join(diff[:60]))
    print(f"... {len(diff):,} diff lines")
    sys.exit(1)


if __name__ == "__main__":
    main()
