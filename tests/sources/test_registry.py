"""The platform registry and the one table of what each platform can observe; the import rules
that keep platform knowledge inside the protocols."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import auditor
from auditor.sources.platforms import PROTOCOLS, observability, protocol_class
from auditor.sources.platforms.base import Protocol, RateInfo

from .conftest import make_spec

PACKAGE = Path(auditor.__file__).resolve().parent


def test_every_platform_of_the_table_has_a_protocol_and_no_other() -> None:
    assert set(PROTOCOLS) == set(observability())
    assert all(cls.platform == platform for platform, cls in PROTOCOLS.items())


@pytest.mark.parametrize("platform", sorted(PROTOCOLS))
def test_protocols_observe_what_the_table_says(platform: str) -> None:
    cls, row = protocol_class(platform), observability()[platform]
    assert (cls.observes, cls.rechecked) == (row.observes, row.rechecked)


@pytest.mark.parametrize("platform", sorted(PROTOCOLS))
def test_a_protocol_rechecks_deletions_exactly_when_it_can(platform: str) -> None:
    protocol = protocol_class(platform)(make_spec(platform, "acme@social.example"))
    implements = type(protocol).recheck_requests is not Protocol.recheck_requests
    parses = type(protocol).parse_recheck is not Protocol.parse_recheck
    assert protocol.rechecks_deletions == implements == parses


def test_an_unknown_platform_has_no_protocol() -> None:
    with pytest.raises(ValueError, match="no fetcher for platform 'myspace'"):
        protocol_class("myspace")


def test_a_protocol_reads_no_rate_limit_headers_unless_it_says_how() -> None:
    headers = {"x-rate-limit-remaining": "0", "ratelimit-reset": "1700000900"}
    assert Protocol.read_rate_limit(headers, 1_700_000_000.0) == RateInfo()


# --- import rules ---------------------------------------------------------------------------


def imported(module: Path) -> set[str]:
    """Every module ``module`` imports (absolute names; ``from a import b`` gives ``a`` and
    ``a.b``, since ``b`` may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def project_imports(folder: str) -> dict[str, set[str]]:
    return {
        path.name: {n for n in imported(path) if n.startswith("auditor.")}
        for path in sorted((PACKAGE / folder).glob("*.py"))
    }


def test_fetch_names_no_platform_module() -> None:
    platform_modules = {f"auditor.sources.platforms.{name}" for name in PROTOCOLS}
    for module, names in project_imports("fetch").items():
        assert not names & platform_modules, module


def test_analysis_imports_no_source() -> None:
    for module, names in project_imports("analysis").items():
        assert not {n for n in names if n.startswith("auditor.sources")}, module


def test_platform_protocols_import_only_their_own_package_and_the_shared_formats() -> None:
    allowed = ("auditor.sources.platforms", "auditor.platform_formats")
    for module, names in project_imports("sources/platforms").items():
        assert all(n.startswith(allowed) for n in names), (module, names)


def test_platform_formats_import_nothing_of_the_project() -> None:
    assert {
        n for n in imported(PACKAGE / "platform_formats.py") if n.startswith("auditor")
    } == set()
