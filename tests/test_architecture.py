"""The layout and the import rules of docs/architecture.md, held by tests.

The import rules themselves are import-linter contracts in pyproject.toml (``lint-imports``,
which .ci/run also runs); this file runs them under pytest too and checks what a contract
cannot say: the engine names no check, every package says what it may import, modules stay
small.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

# The source tree beside these tests (CI tests an installed copy; the rules are the source's).
REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "auditor"
# Past this a module mixes things a reader should find apart; data files do not count.
MAX_MODULE_LINES = 700


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (it comes with the test extra)")
    run = subprocess.run(
        [str(lint_imports), "--no-cache", str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 0, run.stdout[run.stdout.find("Broken contracts") :]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("name", ["engine", "registry.py", "cli.py"])
def test_the_engine_names_no_check(name: str) -> None:
    paths = (
        sorted((PACKAGE / name).rglob("*.py")) if (PACKAGE / name).is_dir() else [PACKAGE / name]
    )
    for path in paths:
        imported = _imported_modules(path)
        assert not any(m.startswith("auditor.checks") for m in imported), path
        text = path.read_text(encoding="utf-8")
        assert "PRF001" not in text and "RSP001" not in text, f"{path} names a check"


@pytest.mark.parametrize(
    "package",
    sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE),
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_every_sub_package_says_what_it_may_import(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    assert docstring, f"{package} has no docstring"
    assert "import" in docstring, f"{package}'s docstring does not say what it may import"


@pytest.mark.parametrize(
    "module",
    sorted(PACKAGE.rglob("*.py")),
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_modules_stay_small(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module.name}: {lines} lines"
