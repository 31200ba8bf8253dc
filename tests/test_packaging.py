"""What the wheel installs: one top-level package, ``auditor``, and every sub-package in it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib.metadata import distribution
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "social-care-auditor"


def _installed_from_a_wheel() -> bool:
    """Whether the distribution found is a plain install, not an editable one and not the
    source tree's own ``*.egg-info`` (which ``python -m pytest`` puts on the path)."""
    found = distribution(DISTRIBUTION)
    if Path(str(found.locate_file(""))).resolve() == REPO:
        return False
    direct_url = found.read_text("direct_url.json")
    return not (direct_url and json.loads(direct_url).get("dir_info", {}).get("editable"))


def _wheel_files(tmp_path: Path) -> list[PurePosixPath]:
    """The files of the wheel: the installed copy's RECORD after a plain ``pip install .``
    (what CI does), else a wheel built from the source tree (an editable install)."""
    if _installed_from_a_wheel():
        files = distribution(DISTRIBUTION).files or []
        return [PurePosixPath(str(f)) for f in files if not str(f).startswith("..")]
    if not (REPO / "pyproject.toml").exists():
        pytest.skip("no source tree to build a wheel from")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return [PurePosixPath(name) for name in archive.namelist()]


def test_the_wheel_installs_only_the_auditor_namespace(tmp_path: Path) -> None:
    files = _wheel_files(tmp_path)
    top_level = {f.parts[0] for f in files if not f.parts[0].endswith((".dist-info", ".data"))}
    # Top-level `checks` and `reports` packages would collide with other distributions.
    assert top_level == {"auditor"}, top_level
    names = {str(f) for f in files}
    for package in sorted((REPO / "auditor").rglob("__init__.py")):
        relative = package.relative_to(REPO).as_posix()
        assert relative in names, f"{relative} is not in the wheel: name it in pyproject.toml"
    for data in (
        "auditor/resources/schema/config.schema.json",
        "auditor/resources/policy.default.yaml",
        "auditor/sources/platforms/observes.yaml",
        "auditor/reports/templates/report_head.html.j2",
    ):
        assert data in names, data
