"""The pandas peer of the twcs benchmark computes RSP002's count and median, brand by brand.

``benchmarks/pandas_first_response.py`` restates the first-response definition in pandas; this
checks it against the auditor on the small twcs files of ``tests/data/twcs`` and on an invented
file with every case the definition has. Skipped when pandas is not installed (it is only in
the ``bench`` extra).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_engine_twcs import write_twcs_file

from auditor.config import load_config
from auditor.engine.audit import Engine
from auditor.registry import load_registry
from auditor.sources.twcs import read_twcs_file

from conftest import END, WriteConfig

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "twcs"
Figures = dict[str, dict[str, Any]]


def pandas_peer() -> ModuleType:
    path = REPO / "benchmarks" / "pandas_first_response.py"
    spec = importlib.util.spec_from_file_location("pandas_first_response", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def auditor_figures(data: Path, write_config: WriteConfig) -> Figures:
    """RSP002's count and wall-clock median for every brand of the file (always open)."""
    accounts = "\n".join(
        f"      - {{platform: x, handle: {handle}, source: {{type: twcs, path: {data}}}}}"
        for handle in read_twcs_file(data).handles()
    )
    config_path = write_config(
        "policy: {select: [RSP002], business_hours: {always_open: true}}\n"
        f"clients:\n  - name: c\n    accounts:\n{accounts}\n",
        name=f"{data.stem}.yaml",
    )
    registry = load_registry()
    result = Engine(load_config(config_path, registry), registry, workers=1).run(END)
    figures: Figures = {}
    for account in result.accounts():
        (check,) = account.checks
        if check.metrics.get("count"):
            figures[account.account] = {
                "count": check.metrics["count"],
                "median": check.metrics["wall_minutes"]["median"],
            }
    return figures


@pytest.mark.parametrize("name", ["twcs_indexed.csv", "twcs_bom_crlf.csv", "invented"])
def test_pandas_peer_agrees_with_rsp002(
    name: str, tmp_path: Path, write_config: WriteConfig
) -> None:
    data = write_twcs_file(tmp_path / "invented.csv") if name == "invented" else DATA / name
    expected = auditor_figures(data, write_config)
    assert expected  # some brand answered someone: the comparison says something
    assert pandas_peer().per_brand(data) == expected


def test_invented_file_has_the_cases_that_tell_definitions_apart(
    tmp_path: Path, write_config: WriteConfig
) -> None:
    data = write_twcs_file(tmp_path / "invented.csv")
    figures = auditor_figures(data, write_config)
    # Every brand answered several customers, and the medians are not all alike.
    assert len(figures) == 4 and all(f["count"] >= 5 for f in figures.values())
    assert len({f["median"] for f in figures.values()}) > 1
