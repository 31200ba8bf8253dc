"""Finding checks: the entry point group and ``--checks-dir``. Nothing here names a check.

Built-in checks are registered in ``pyproject.toml`` under the same entry point group that
third-party packages use, so the two load the same way.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from auditor.check import CHECK_ID, SEVERITIES, Check

ENTRY_POINT_GROUP = "social_care_auditor.checks"


class RegistryError(Exception):
    """A check that cannot be loaded or clashes with another; the message names it."""


class Registry:
    def __init__(self, checks: Iterable[tuple[Check, str]] = ()) -> None:
        self._checks: dict[str, Check] = {}
        self._origins: dict[str, str] = {}
        for check, origin in checks:
            self.add(check, origin)

    def add(self, check: Check, origin: str) -> None:
        _validate(check, origin)
        if check.id in self._checks:
            raise RegistryError(
                f"duplicate check id {check.id}: from {origin} and {self._origins[check.id]}"
            )
        self._checks[check.id] = check
        self._origins[check.id] = origin

    def __iter__(self) -> Iterator[Check]:
        return iter(sorted(self._checks.values(), key=lambda c: c.id))

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def get(self, check_id: str) -> Check:
        try:
            return self._checks[check_id]
        except KeyError:
            raise RegistryError(f"unknown check id {check_id}") from None

    def origin(self, check_id: str) -> str:
        return self._origins[check_id]

    def ids(self) -> list[str]:
        return sorted(self._checks)


def _validate(check: Any, origin: str) -> None:
    if not isinstance(check, Check):
        raise RegistryError(
            f"{origin}: expected an auditor.check.Check, got {type(check).__name__}"
        )
    if not CHECK_ID.match(check.id):
        raise RegistryError(
            f"{origin}: check id {check.id!r} must be capital letters then three digits"
        )
    if check.severity not in SEVERITIES or check.fail_severity not in SEVERITIES:
        raise RegistryError(f"{origin}: {check.id} has an unknown severity")
    try:
        Draft202012Validator.check_schema(check.parameters)
    except SchemaError as error:
        raise RegistryError(f"{origin}: {check.id} parameter schema: {error.message}") from None


def _entry_point_checks() -> Iterator[tuple[Check, str]]:
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        origin = f"entry point {point.name} = {point.value}"
        try:
            loaded = point.load()
        except Exception as error:  # a broken plug-in must say which one it is
            raise RegistryError(f"{origin}: cannot load: {error}") from error
        yield loaded, origin


def _module_checks(module: ModuleType) -> Iterator[Check]:
    declared = getattr(module, "CHECKS", None)
    if declared is not None:
        yield from declared
    elif isinstance(getattr(module, "CHECK", None), Check):
        yield module.CHECK


def _directory_checks(directory: Path) -> Iterator[tuple[Check, str]]:
    if not directory.is_dir():
        raise RegistryError(f"--checks-dir {directory}: not a directory")
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"auditor_local_checks.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RegistryError(f"{path}: cannot import")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise RegistryError(f"{path}: cannot import: {error}") from error
        for check in _module_checks(module):
            yield check, str(path)


def load_registry(checks_dirs: Iterable[Path] = ()) -> Registry:
    registry = Registry(_entry_point_checks())
    for directory in checks_dirs:
        for check, origin in _directory_checks(directory):
            registry.add(check, origin)
    return registry


_LIMITS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
)


def describe(check: Check) -> str:
    """A check's documentation, parameters and needs, as ``auditor checks show`` prints them."""
    lines = [
        f"{check.id} {check.title}  (severity {check.severity}, version {check.version})",
        "",
        check.docs.strip(),
    ]
    properties = check.parameters.get("properties", {})
    if properties:
        lines += ["", "## Parameters"]
        for name, spec in properties.items():
            default = json.dumps(spec.get("default")) if "default" in spec else "required"
            kind = _parameter_kind(spec)
            lines.append(
                f"- {name} (default {default}): {spec.get('description', '')}"
                + (f" [{kind}]" if kind else "")
            )
    needs = [k for k in ("profile", "posts", "conversations", "history") if getattr(check.needs, k)]
    needs += [f"observes {o}" for o in sorted(check.needs.observes)]
    if check.needs.complete_window:
        needs.append("a complete window")
    if needs:
        lines += ["", f"Needs: {', '.join(needs)}"]
    return "\n".join(lines)


def _parameter_kind(spec: Mapping[str, Any]) -> str:
    """A parameter's type and limits in a few words: "number > 0", "number >= 0, <= 1, or null"."""
    types = spec.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    kind = " or ".join(t for t in names if t != "null")
    items = spec.get("items")
    if kind == "array" and isinstance(items, Mapping):
        kind = f"list of {items.get('type', 'value')}s"
    limits = [f"{sign} {spec[key]}" for key, sign in _LIMITS if key in spec]
    if limits:
        kind = f"{kind} {', '.join(limits)}"
    if "enum" in spec:
        kind = "one of " + ", ".join(json.dumps(v) for v in spec["enum"])
    if "null" in names:
        kind += ", or null"
    return kind.strip(", ")
