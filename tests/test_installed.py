"""An installed copy finds its schemas and default policy without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import auditor

from conftest import WriteBundle, WriteConfig, healthy_account

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import auditor, auditor.config as c
from importlib import resources
print(auditor.__file__)
print(resources.files("auditor.resources").joinpath("schema", "config.schema.json"))
c.load_schema("config.schema.json"); c.load_schema("report.schema.json")
c.load_schema("bundle.schema.json"); print(sorted(c.default_policy()))
"""


def test_resources_load_from_outside_the_source_tree(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    module_file, schema_file, policy_keys = probe.stdout.splitlines()
    assert "fail_on" in policy_keys and "select" in policy_keys
    if os.environ.get("CI"):
        # CI installs with a plain `pip install .`: nothing may come from the checkout.
        assert REPO / "auditor" not in Path(module_file).resolve().parents
        assert REPO / "config" not in Path(schema_file).resolve().parents
    bundle = write_bundle_file("acme.jsonl", healthy_account())
    config = write_config(f"""
        output: {{dir: out}}
        store: {{path: out/h.sqlite}}
        clients:
          - name: acme
            accounts: [{{platform: x, handle: AcmeHelp, source: {bundle}}}]
    """)
    run = subprocess.run(
        # HTML too: its templates are package data, loaded from the installed package.
        [sys.executable, "-m", "auditor", "run", str(config), "--format", "html"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert run.returncode in (0, 1, 3), run.stderr
    assert "x:AcmeHelp" in run.stdout
    assert list((tmp_path / "out").rglob("report.json"))
    assert list((tmp_path / "out").rglob("report.html"))


def test_package_version_is_the_distribution_version() -> None:
    assert auditor.__version__ != "0.0.0+unknown"
