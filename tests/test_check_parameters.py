"""Typed check parameters: the JSON Schema each built-in check derives from its parameter type
accepts and rejects what its hand-written schema did, with the same defaults in the same order
(the effective policy in every report is written from them), and the contract still takes a
plain schema mapping from plug-ins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from auditor.check import (
    AuditContext,
    Check,
    CheckOutput,
    CheckParameters,
    parameters_schema,
    typed_params,
)
from auditor.checks.rsp004 import RSP004Parameters
from auditor.checks.ton001 import DEFAULT_ACKNOWLEDGEMENT_PHRASES, DEFAULT_DEFENSIVE_PHRASES
from auditor.model import AccountData, AccountKey
from auditor.registry import load_registry

from tests_support import run_cli

REGISTRY = load_registry()

# The properties of the hand-written schemas the built-in checks had before their parameters were
# typed (every one an object with additionalProperties false), descriptions left out.
TODAYS_SCHEMAS: dict[str, dict[str, Any]] = {
    "AUT001": {
        "max_ratio": {"type": "number", "default": 0.2, "minimum": 0, "maximum": 1},
        "min_customers": {"type": "integer", "default": 5, "minimum": 2},
        "similarity": {"type": "number", "default": 0.7, "exclusiveMinimum": 0, "maximum": 1},
        "min_template_words": {"type": "integer", "default": 4, "minimum": 1},
        "fast_reply_seconds": {"type": "number", "default": 30, "minimum": 0},
        "min_replies": {"type": "integer", "default": 10, "minimum": 1},
        "top_templates": {"type": "integer", "default": 5, "minimum": 1},
    },
    "CRS001": {
        "floor_per_hour": {"type": "integer", "minimum": 1, "default": 10},
        "z_threshold": {"type": "number", "minimum": 0, "default": 3.5},
        "baseline_hours": {"type": "integer", "minimum": 1, "default": 168},
        "min_baseline_hours": {"type": "integer", "minimum": 0, "default": 24},
        "statement_lead_minutes": {"type": "number", "minimum": 0, "default": 60},
        "statement_grace_minutes": {"type": "number", "minimum": 0, "default": 120},
    },
    "FUP001": {
        "followup_days": {"type": "integer", "minimum": 1, "default": 3},
        "silence_hours": {"type": "number", "exclusiveMinimum": 0, "default": 48},
        "match_hours": {"type": "number", "exclusiveMinimum": 0, "default": 72},
    },
    "RSP001": {
        "grace_hours": {"type": "number", "exclusiveMinimum": 0, "default": 8},
    },
    "RSP002": {
        "target_minutes": {"type": "number", "exclusiveMinimum": 0, "default": 60},
    },
    "RSP003": {
        "target_minutes": {"type": "number", "exclusiveMinimum": 0, "default": 60},
    },
    "RSP004": {
        "target_minutes": {"type": "number", "exclusiveMinimum": 0, "default": 60},
        "min_share": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.9},
        "min_nights": {"type": "integer", "minimum": 1, "default": 3},
    },
    "THR001": {
        "max_brand_replies": {"type": "integer", "minimum": 1, "default": 4},
    },
    "TON001": {
        "defensive_phrases": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "default": list(DEFAULT_DEFENSIVE_PHRASES),
        },
        "acknowledgement_phrases": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "default": list(DEFAULT_ACKNOWLEDGEMENT_PHRASES),
        },
    },
    "TON002": {
        "min_signed_share": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 1,
            "default": None,
        },
    },
}


NUMBER_PROBES: list[Any] = [-1, -0.001, 0, 0.001, 0.5, 1, 1.001, 2, 3.5, 10**6, 2.0]
OTHER_PROBES: list[Any] = [None, True, False, "1", [], {}, [""], ["x"], ["x", ""], [1], "x"]


def _today(check_id: str) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": TODAYS_SCHEMAS[check_id]}


def _probes(check: Check) -> Iterator[dict[str, Any]]:
    """Parameter sets around every limit of every parameter, one parameter changed at a time."""
    defaults = check.defaults
    yield defaults
    yield {}
    yield {**defaults, "no_such_parameter": 1}
    for name in defaults:
        for value in NUMBER_PROBES + OTHER_PROBES:
            yield {**defaults, name: value}


@pytest.mark.parametrize("check_id", sorted(TODAYS_SCHEMAS))
def test_derived_schema_judges_values_as_todays_did(check_id: str) -> None:
    check = REGISTRY.get(check_id)
    assert check.parameter_type is not None, "built-in checks declare typed parameters"
    today = Draft202012Validator(_today(check_id))
    derived = Draft202012Validator(check.parameters)
    accepted = rejected = 0
    for values in _probes(check):
        verdict = today.is_valid(values)
        assert derived.is_valid(values) == verdict, values
        if verdict:
            accepted += 1
        else:
            rejected += 1
            # A config error prints the message: the same one as before.
            before, after = (
                best_match(today.iter_errors(values)),
                best_match(derived.iter_errors(values)),
            )
            assert (before.message, before.validator) == (after.message, after.validator), values
    assert accepted > 1 and rejected > 1


@pytest.mark.parametrize("check_id", sorted(TODAYS_SCHEMAS))
def test_defaults_are_todays_in_the_same_order(check_id: str) -> None:
    check = REGISTRY.get(check_id)
    today = {name: spec["default"] for name, spec in TODAYS_SCHEMAS[check_id].items()}
    # Compared as JSON text: 60 and 60.0 differ in a report, and so does the order of keys.
    assert json.dumps(check.defaults) == json.dumps(today)
    # The type's own defaults are the schema's: one definition.
    assert check.parameter_type is not None
    instance = check.parameter_type()
    assert check.defaults == msgspec.json.decode(msgspec.json.encode(instance))
    for name, spec in check.parameters["properties"].items():
        assert spec["description"], f"{check_id}.{name}"


def test_checks_without_parameters_accept_only_nothing() -> None:
    plain = [c for c in REGISTRY if c.id not in TODAYS_SCHEMAS]
    assert {c.id for c in plain} == {"MOD001", "MOD002", "PRF001", "PRF002", "PRV001"}
    for check in plain:
        validator = Draft202012Validator(check.parameters)
        assert check.defaults == {} and validator.is_valid({})
        assert not validator.is_valid({"anything": 1})


class _Window(CheckParameters, frozen=True):
    hours: Annotated[int, msgspec.Meta(ge=1)] = 8


class _Example(CheckParameters, frozen=True):
    """Parameters of an example check."""

    share: Annotated[
        Annotated[float, msgspec.Meta(ge=0, le=1)] | None, msgspec.Meta(description="A share.")
    ] = None
    words: tuple[str, ...] = ("a", "b")
    window: _Window = _Window()


def test_parameters_schema_of_a_struct_with_optional_and_nested_values() -> None:
    schema = parameters_schema(_Example)
    share = schema["properties"]["share"]
    assert share == {
        "description": "A share.",
        "type": ["number", "null"],
        "minimum": 0,
        "maximum": 1,
        "default": None,
    }
    assert schema["properties"]["words"]["default"] == ["a", "b"]  # JSON data, not a tuple
    assert schema["additionalProperties"] is False and "title" not in schema
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"window": {"hours": 2}})
    assert not validator.is_valid({"window": {"hours": 0}})  # through $defs
    assert not validator.is_valid({"share": 2})


def _context(params: dict[str, Any]) -> AuditContext:
    return AuditContext(
        account=AccountData(key=AccountKey("x", "AcmeHelp")),
        window=None,
        check=REGISTRY.get("RSP004"),
        params=params,
        severity="medium",
        policy={},
    )


def test_typed_params_reads_the_mapping_the_engine_gives() -> None:
    params = typed_params(
        _context({"target_minutes": 30, "min_share": 0.5, "min_nights": 5.0}), RSP004Parameters
    )
    assert (params.target_minutes, params.min_share, params.min_nights) == (30.0, 0.5, 5)
    assert isinstance(params.min_nights, int)
    with pytest.raises(msgspec.ValidationError):
        typed_params(_context({"target_minutes": 30, "nope": 1}), RSP004Parameters)


def _run(ctx: AuditContext) -> CheckOutput:
    return CheckOutput()


DOCS = """ZZZ001 Example.

## Why it matters
Customers notice.
Really.

Second paragraph.

## Example
None.

## How to fix
Do better.
"""


def test_a_check_built_as_plugins_build_them_keeps_its_strings_and_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 5}}}
    check = Check("ZZZ001", "Example", "0.1", "low", "r", "m", DOCS, _run, schema)
    assert (check.rationale, check.remediation) == ("r", "m")
    assert check.parameters is schema and check.parameter_type is None
    assert check.defaults == {"n": 5} and check.fail_severity == "low"


def test_rationale_and_remediation_default_to_the_docs() -> None:
    check = Check(id="ZZZ001", title="Example", version="0.1", severity="low", docs=DOCS, run=_run)
    assert check.rationale == "Customers notice. Really."
    assert check.remediation == "Do better."
    assert check.missing_doc_sections() == ["Known problems"]
    with pytest.raises(TypeError, match="run is required"):
        Check(id="ZZZ001", title="Example", version="0.1", severity="low", docs=DOCS)


def test_checks_show_prints_known_problems_and_typed_parameters() -> None:
    code, out, _ = run_cli(["checks", "show", "rsp004"])
    assert code == 0 and out.startswith("RSP004 Posted hours kept")
    assert "## Known problems\nThe hours are read from the profile" in out
    assert "- target_minutes (default 60): Target for answering posts" in out
    assert out.index("## Known problems") < out.index("## Parameters")
    assert "[number > 0]" in out and "[number >= 0, <= 1]" in out and "[integer >= 1]" in out
    _, ton002, _ = run_cli(["checks", "show", "TON002"])
    assert "[number >= 0, <= 1, or null]" in ton002
    _, ton001, _ = run_cli(["checks", "show", "TON001"])
    assert "[list of strings]" in ton001
