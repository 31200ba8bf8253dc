"""The worker pools: a function handed in, plain results back, findings packed on the way."""

from __future__ import annotations

import ast
import copyreg
import gc
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import auditor.engine.parallel as parallel
from auditor.check import Evidence, Finding, Severity
from auditor.engine.parallel import (
    PackedFindings,
    cycle_collector_paused,
    map_in_workers,
    worker_count,
)
from auditor.result import CheckResult

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="workers start by fork"
)


def _project_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] == "auditor"}


def test_the_parallel_module_imports_nothing_of_the_engine() -> None:
    assert _project_imports(Path(parallel.__file__)) == {"auditor.check", "auditor.result"}
    # Nor does anything it imports pull the engine, a source, the store or the config in.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, auditor.engine.parallel; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    project = {name for name in loaded if name.startswith("auditor")}
    assert "auditor.engine.parallel" in project
    for other in ("auditor.engine.audit", "auditor.sources", "auditor.store", "auditor.config"):
        assert not any(name.startswith(other) for name in project), other


def test_workers_run_the_function_handed_in_without_pickling_it() -> None:
    # A closure over a lock cannot be pickled: the workers inherit it by fork.
    lock = threading.Lock()

    def square(number: int) -> tuple[int, int]:
        with lock:
            return number * number, os.getpid()

    results = list(map_in_workers(square, [1, 2, 3, 4, 5], 2))
    assert sorted(value for value, _ in results) == [1, 4, 9, 16, 25]
    assert os.getpid() not in {pid for _, pid in results}


def test_heaviest_items_go_first() -> None:
    # One worker does the items in the order they are handed out.
    done = list(map_in_workers(str, [1, 30, 2, 20], 1, weight=lambda n: n))
    assert done == ["30", "20", "2", "1"]
    assert list(map_in_workers(str, [], 2)) == []  # no items, no pool


def _finding(post_id: str, severity: Severity = "high") -> Finding:
    when = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    evidence = Evidence((post_id,), (), (), (when,), "late", {"age": 3})
    return Finding("RSP001", "x", "AcmeHelp", post_id, "unanswered", severity, evidence)


def _check_result(findings: list[Finding]) -> CheckResult:
    return CheckResult("RSP001", "t", "1", "high", "fail", "s", findings, {"n": 1}, ["note"])


def test_findings_come_back_packed_and_read_back_equal() -> None:
    findings = [_finding("1"), _finding("2", "low")]

    def audit(count: int) -> CheckResult:
        return _check_result(findings[:count])

    by_count = {len(r.findings): r for r in map_in_workers(audit, [0, 2], 2)}
    packed, empty = by_count[2], by_count[0]
    assert isinstance(packed.findings, PackedFindings) and packed.findings.worst == 3
    assert list(packed.findings) == findings and packed == _check_result(findings)
    assert empty.findings == [] and not isinstance(empty.findings, PackedFindings)
    # Only workers pack: this process pickles a CheckResult as it is.
    assert CheckResult not in copyreg.dispatch_table


def test_worker_count() -> None:
    assert worker_count(3) == 3
    assert worker_count(None) == min(os.cpu_count() or 1, 8)


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


@pytest.mark.usefixtures("collector_enabled")
def test_the_cycle_collector_is_paused_for_an_audit_and_restored_after() -> None:
    with cycle_collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with cycle_collector_paused():
        pass
    assert not gc.isenabled()  # left as it was found
