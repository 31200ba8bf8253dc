"""Every kind of config error names file, line and key, and exits 2 before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import ConfigError, EffectivePolicy, load_config
from auditor.registry import load_registry

from conftest import WriteBundle, WriteConfig, healthy_account
from tests_support import run_cli

runner = CliRunner()


@pytest.fixture
def bundle(write_bundle_file: WriteBundle) -> Path:
    return write_bundle_file("acme.jsonl", healthy_account())


def _error(config_path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(config_path, load_registry())
    return caught.value


def test_bad_yaml_names_the_line(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config("""
        clients:
          - name: acme
            accounts: [ {platform: x, handle: AcmeHelp
    """)
    error = _error(path)
    assert str(error).startswith(f"{path}:")
    assert "invalid YAML" in str(error)
    assert error.line is not None and error.line >= 3


def test_unknown_key_suggests_the_right_one(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        clients:
          - name: acme
            polcy: {{fail_on: low}}
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
    """)
    error = _error(path)
    assert error.line == 3
    assert error.key == "clients[0].polcy"
    assert "unknown key 'polcy'" in str(error) and "did you mean 'policy'" in str(error)


def test_wrong_type_names_key_and_line(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        store:
          retention_days: "ninety"
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
    """)
    error = _error(path)
    assert (error.line, error.key) == (2, "store.retention_days")
    assert "expected integer" in str(error)


def test_unknown_platform_lists_the_allowed_ones(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        clients:
          - name: acme
            accounts:
              - {{platform: myspace, handle: AcmeHelp, source: {bundle}}}
    """)
    error = _error(path)
    assert error.key == "clients[0].accounts[0].platform"
    assert "'myspace' is not one of" in str(error) and "bluesky" in str(error)


def test_unknown_check_id_anywhere_in_policy(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        policy:
          severity: {{RSP009: low}}
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
    """)
    error = _error(path)
    assert (error.line, error.key) == (2, "policy.severity.RSP009")
    assert "unknown check id RSP009" in str(error)


def test_unknown_selector_in_account_policy(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        clients:
          - name: acme
            accounts:
              - platform: x
                handle: AcmeHelp
                source: {bundle}
                policy:
                  ignore: [ZZZ]
    """)
    error = _error(path)
    assert error.key == "clients[0].accounts[0].policy.ignore[0]"
    assert error.line == 8


def test_bad_check_parameter_points_at_the_layer_that_set_it(
    write_config: WriteConfig, bundle: Path
) -> None:
    path = write_config(f"""
        clients:
          - name: acme
            policy:
              checks:
                RSP001: {{grace_hour: 4}}
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
    """)
    error = _error(path)
    assert error.key == "clients[0].policy.checks.RSP001.grace_hour"
    assert "did you mean 'grace_hours'" in str(error)
    assert error.line == 5


def test_wrong_parameter_type(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        policy:
          checks:
            RSP001: {{grace_hours: -3}}
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
    """)
    error = _error(path)
    assert error.key == "policy.checks.RSP001.grace_hours"


def test_duplicate_key_is_an_error(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        clients:
          - name: acme
            name: again
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
    """)
    error = _error(path)
    assert "duplicate key" in str(error) and error.line == 3


def test_policies_inherit_defaults_top_client_account(
    write_config: WriteConfig, bundle: Path
) -> None:
    path = write_config(f"""
        exclude_authors: [StaffBot]
        policy:
          fail_on: medium
          checks: {{RSP001: {{grace_hours: 4}}}}
        clients:
          - name: acme
            policy:
              severity: {{PRF001: low}}
            accounts:
              - platform: x
                handle: AcmeHelp
                source: {bundle}
                policy:
                  checks: {{RSP001: {{grace_hours: 2}}}}
                  ignore: [PRF]
              - {{platform: mastodon, handle: AcmeHelp, source: {bundle}}}
    """)
    registry = load_registry()
    config = load_config(path, registry)
    first, second = config.accounts()
    one = EffectivePolicy.resolve(config, first, registry)
    two = EffectivePolicy.resolve(config, second, registry)
    assert one.params["RSP001"]["grace_hours"] == 2 and two.params["RSP001"]["grace_hours"] == 4
    assert "PRF001" not in one.enabled and "PRF001" in two.enabled
    assert one.severity["PRF001"] == "low" and one.fail_on == "medium"
    assert one.exclude_authors == frozenset({"staffbot"})
    assert first.source.path == bundle


def test_cli_validate_exits_2_with_one_line(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config("clients: []\n")
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:1: clients")


def test_cli_validate_ok(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
    """)
    code, out, _ = run_cli(["config", "validate", str(path)])
    assert code == 0 and "valid (1 client, 1 account; 1 input file readable)" in out


def test_config_error_writes_nothing(
    write_config: WriteConfig, bundle: Path, tmp_path: Path
) -> None:
    path = write_config(f"""
        output: {{dir: reports}}
        store: {{path: reports/history.sqlite}}
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}, polic: {{}}}}
    """)
    code, _, err = run_cli(["run", str(path)])
    assert code == 2 and "unknown key 'polic'" in err
    assert not (tmp_path / "reports").exists()


def test_config_show_prints_the_effective_policy(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(f"""
        clients:
          - name: acme
            accounts:
              - platform: x
                handle: AcmeHelp
                source: {bundle}
                policy: {{checks: {{RSP001: {{grace_hours: 3}}}}}}
    """)
    code, out, _ = run_cli(["config", "show", str(path), "--account", "x:acmehelp"])
    assert code == 0
    assert "grace_hours: 3" in out and "fail_on: high" in out
