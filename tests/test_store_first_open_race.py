"""Several processes opening a new history store at once: each migrates it or waits, none fails.

Before, each read the schema version outside any lock, so two first runs both saw version 0 and
both created the tables: the second stopped with ``table runs already exists``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from auditor.store.migrations import SCHEMA_VERSION

PROCESSES = 6
ROUNDS = 5
# Opens the store (migrating it), then reads the version it ended at.
OPEN_STORE = """
import sqlite3, sys
from auditor.store.history import HistoryStore
HistoryStore(sys.argv[1]).close()
print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])
"""


def test_first_opens_in_parallel_processes_all_succeed(tmp_path: Path) -> None:
    for round_number in range(ROUNDS):
        store = tmp_path / f"round{round_number}" / "history.sqlite"
        store.parent.mkdir()
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_STORE, str(store)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        for process in processes:
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr
            assert stdout.strip() == str(SCHEMA_VERSION)
