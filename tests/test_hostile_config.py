"""Configs written to hurt: alias bombs, deep nesting, malformed YAML, wrong types, unknown keys.

Each is refused fast with one line naming the file (and the line, where there is one) and exit
2: never a traceback, never a hang. The "billion laughs" of 10 levels stood for 10^10 values
and never finished (the duplicate-key check walked every one); 5,000 levels of nesting ended in
a 3,000-line RecursionError.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.sources.bundle import write_bundle

from conftest import healthy_account
from tests_support import no_hang, run_cli

SECONDS_PER_CONFIG = 10


def laughs(levels: int, width: int = 10) -> str:
    """A "billion laughs": each level a list of ``width`` aliases to the one before."""
    lines = ['l0: &l0 "lol"']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def valid_config(folder: Path) -> dict[str, Any]:
    write_bundle(folder / "acme.jsonl", healthy_account("AcmeHelp"))
    return {
        "output": {"dir": "out", "formats": ["json"]},
        "store": {"path": "out/history.sqlite"},
        "clients": [
            {
                "name": "Acme",
                "accounts": [{"platform": "x", "handle": "AcmeHelp", "source": "acme.jsonl"}],
            }
        ],
    }


def validate(config: Path) -> tuple[int, str, str]:
    with no_hang(SECONDS_PER_CONFIG):
        return run_cli(["config", "validate", str(config)])


def assert_refused_in_one_line(code: int, stderr: str, config: Path) -> str:
    assert "Traceback" not in stderr
    assert code == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr[:2000]
    assert lines[0].startswith(f"error: {config}"), lines[0]
    return lines[0]


@pytest.mark.parametrize("levels", [7, 10, 30])
def test_a_billion_laughs_is_refused_in_well_under_a_second(tmp_path: Path, levels: int) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(laughs(levels) + "clients: []\n", encoding="utf-8")
    started = time.monotonic()
    code, _, stderr = validate(config)
    elapsed = time.monotonic() - started
    line = assert_refused_in_one_line(code, stderr, config)
    assert f"error: {config}:7: " in line and "expands to more than 1,000,000 values" in line
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def test_a_bomb_hidden_in_a_merge_key_is_refused_at_its_line(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(
        laughs(5) + f"policy:\n  <<: {{x: [{', '.join(['*l5'] * 10)}]}}\n" + "clients: []\n",
        encoding="utf-8",
    )
    code, _, stderr = validate(config)
    line = assert_refused_in_one_line(code, stderr, config)
    assert f"{config}:8: " in line and "1,000,000" in line


def test_aliases_within_the_bound_still_work(tmp_path: Path) -> None:
    data = valid_config(tmp_path)
    text = yaml.safe_dump(data)
    text = "policy: &shared {fail_on: medium}\n" + text
    text = text.replace("platform: x", "platform: x\n    policy: *shared")
    config = tmp_path / "audit.yaml"
    config.write_text(text, encoding="utf-8")
    code, stdout, stderr = validate(config)
    assert code == 0, stderr
    assert "valid (1 client, 1 account" in stdout


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("[", "]"), ("{a: ", "}")],
    ids=["lists", "mappings"],
)
def test_deep_nesting_is_refused_in_one_line(tmp_path: Path, opening: str, closing: str) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(f"clients: {opening * 5000}1{closing * 5000}\n", encoding="utf-8")
    code, _, stderr = validate(config)
    line = assert_refused_in_one_line(code, stderr, config)
    assert f"{config}:1: " in line and "nests deeper than 64 levels" in line


def test_nesting_through_aliases_counts_as_nesting(tmp_path: Path) -> None:
    lines = ["d0: &d0 [1]"] + [f"d{i}: &d{i} [*d{i - 1}]" for i in range(1, 80)]
    config = tmp_path / "audit.yaml"
    config.write_text("\n".join(lines) + "\nclients: []\n", encoding="utf-8")
    code, _, stderr = validate(config)
    line = assert_refused_in_one_line(code, stderr, config)
    assert "nests deeper than 64 levels" in line


def test_the_cli_in_a_process_refuses_a_bomb_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(laughs(10) + "clients: []\n", encoding="utf-8")
    process = subprocess.run(
        [sys.executable, "-m", "auditor", "run", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,  # away from the source tree: the installed package runs
    )
    assert_refused_in_one_line(process.returncode, process.stderr, config)
    assert not (tmp_path / "out").exists(), "work started before the config was refused"


# --- fuzz ------------------------------------------------------------------------------------

_KEYS = ["output", "store", "fetch", "policy", "clients", "privacy", "exclude_authors", "bogus"]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _replace_at(data: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


_PLACES: list[list[str | int]] = [
    ["output"],
    ["output", "formats"],
    ["store", "path"],
    ["clients"],
    ["clients", 0, "name"],
    ["clients", 0, "accounts"],
    ["clients", 0, "accounts", 0, "handle"],
    ["clients", 0, "accounts", 0, "source"],
    ["clients", 0, "accounts", 0, "policy"],
    ["clients", 0, "accounts", 0, "platform"],
]


@st.composite
def hostile_texts(draw: st.DrawFn, base: dict[str, Any]) -> str:
    """A config text: the base with a value swapped for junk, or junk keys, or a bomb, or deep
    nesting, or bytes that are no YAML at all."""
    kind = draw(st.sampled_from(["swap", "extra-key", "bomb", "deep", "garbage", "cut"]))
    text = yaml.safe_dump(base, sort_keys=False)
    if kind == "swap":
        data = yaml.safe_load(text)
        text = yaml.safe_dump(_replace_at(data, draw(st.sampled_from(_PLACES)), draw(_VALUES)))
    elif kind == "extra-key":
        data = yaml.safe_load(text)
        data[draw(st.sampled_from(_KEYS))] = draw(_VALUES)
        text = yaml.safe_dump(data)
    elif kind == "bomb":
        text = laughs(draw(st.integers(6, 12)), draw(st.integers(10, 40))) + text
    elif kind == "deep":
        depth = draw(st.integers(65, 3000))
        text += f"exclude_authors: {'[' * depth}{']' * depth}\n"
    elif kind == "garbage":
        text = draw(st.text(alphabet=st.sampled_from("{}[]:&*!|>-?#'\"\n \tab1@%`,"), max_size=80))
    else:
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    return text


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_configs_get_one_line_or_pass_never_a_traceback(
    tmp_path: Path, data: st.DataObject
) -> None:
    base = valid_config(tmp_path)
    config = tmp_path / "audit.yaml"
    config.write_text(data.draw(hostile_texts(base)), encoding="utf-8")
    code, _, stderr = validate(config)
    assert "Traceback" not in stderr
    assert code in (0, 2, 3), stderr
    lines = stderr.splitlines()
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), stderr[:2000]
    if code == 2:
        assert any(str(config) in line for line in lines), stderr[:2000]
        refused_itself = [line for line in lines if line.startswith(f"error: {config}")]
        assert len(refused_itself) == 1, stderr[:2000]
