"""The import rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import auditor
import auditor.checks
import auditor.reports

FORBIDDEN_FOR_CHECKS = (
    "auditor.cli",
    "auditor.engine.audit",
    "auditor.store.history",
    "auditor.config",
    "auditor.registry",
    "auditor.reports",
)
ALLOWED_FOR_WRITERS = ("auditor.result", "auditor.check", "auditor.fsutil", "auditor.reports")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _project(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] == "auditor"}


def _modules(package) -> list[Path]:
    return sorted(Path(package.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", _modules(auditor.checks), ids=lambda p: p.name)
def test_checks_never_import_cli_engine_store_or_writers(path):
    bad = {n for n in _project(_imports(path)) if n.startswith(FORBIDDEN_FOR_CHECKS)}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", _modules(auditor.reports), ids=lambda p: p.name)
def test_writers_read_only_the_result(path):
    bad = {n for n in _project(_imports(path)) if not n.startswith(ALLOWED_FOR_WRITERS)}
    assert not bad, f"{path.name} imports {bad}"


def test_engine_names_no_check():
    root = Path(auditor.__file__).parent
    for name in ("engine/audit.py", "registry.py", "cli.py"):
        assert not any(n.startswith("auditor.checks") for n in _imports(root / name)), name
        assert (
            "PRF001" not in (root / name).read_text() and "RSP001" not in (root / name).read_text()
        )


def test_model_imports_nothing_of_the_project():
    assert not _project(_imports(Path(auditor.__file__).parent / "model.py"))
