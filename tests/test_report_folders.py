"""Report folders: one per run, one per client name, never shared and never overwritten."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor import fsutil
from auditor.fsutil import safe_name
from auditor.reports import json_report
from auditor.result import AccountResult, AuditResult, ClientResult, Coverage

from conftest import WriteBundle, WriteConfig, healthy_account
from tests_support import run_cli

STARTED = datetime(2026, 11, 16, 9, 30, 0, tzinfo=UTC)


def _result(run_id: str, *clients: str) -> AuditResult:
    return AuditResult(
        tool_version="test",
        run_id=run_id,
        started_at=STARTED,
        config_path="audit.yaml",
        config_sha256="0" * 64,
        fail_on=None,
        checks={},
        clients=[ClientResult(name, [_account(name)]) for name in clients],
    )


def _account(client: str) -> AccountResult:
    return AccountResult(client, "x", "AcmeHelp", "pass", Coverage(), {"fail_on": "high"})


def test_two_runs_of_one_client_in_the_same_second_keep_both_reports(tmp_path: Path) -> None:
    # The same inputs give the same run id: start time and run id alike, still two folders.
    first = json_report.write(_result("a1b2c3d4e5f6", "Acme"), tmp_path)
    second = json_report.write(_result("a1b2c3d4e5f6", "Acme"), tmp_path)
    other_run = json_report.write(_result("ffff0000aaaa", "Acme"), tmp_path)
    paths = {*first, *second, *other_run}
    assert len(paths) == 3
    assert all(p.is_file() and json.loads(p.read_text())["client"] == "Acme" for p in paths)
    assert all(p.parent.name.startswith("20261116T093000Z-") for p in paths)


def test_a_run_folder_is_created_new_never_reused(tmp_path: Path) -> None:
    taken = {fsutil.new_run_folder(tmp_path, STARTED, "a1b2c3d4") for _ in range(5)}
    assert len(taken) == 5 and all(not any(folder.iterdir()) for folder in taken)


@pytest.mark.parametrize(
    "names",
    [
        ("Acme/EU", f"Acme-EU-{safe_name('Acme/EU').rsplit('-', 1)[1]}"),
        ("Acme EU", "Acme-EU"),
        ("a" * 61, "a" * 60),
        ("Ünï", "Uni"),
    ],
)
def test_different_client_names_never_share_a_folder(
    names: tuple[str, str], tmp_path: Path
) -> None:
    assert safe_name(names[0]) != safe_name(names[1])
    written = json_report.write(_result("a1b2c3d4e5f6", *names), tmp_path)
    by_client = {json.loads(p.read_text())["client"]: p.parents[1] for p in written}
    assert by_client[names[0]] != by_client[names[1]]
    assert all(tmp_path in folder.parents for folder in by_client.values())


def test_the_cli_keeps_every_report_of_reruns_and_of_look_alike_clients(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    handles = ["AcmeHelp", "AcmeCare", "AcmeDesk"]
    bundles = [write_bundle_file(f"{h}.jsonl", healthy_account(h)) for h in handles]
    lookalike = f"Acme-EU-{safe_name('Acme/EU').rsplit('-', 1)[1]}"
    config = write_config(f"""
        output: {{dir: out}}
        clients:
          - name: "Acme/EU"
            accounts: [{{platform: x, handle: AcmeHelp, source: {bundles[0]}}}]
          - name: {json.dumps(lookalike)}
            accounts: [{{platform: x, handle: AcmeCare, source: {bundles[1]}}}]
          - name: "../../escape"
            accounts: [{{platform: x, handle: AcmeDesk, source: {bundles[2]}}}]
    """)
    for _ in range(2):  # the same inputs twice, most likely in the same second
        assert run_cli(["run", str(config), "-q"])[0] == 0
    written = sorted((tmp_path / "out").rglob("report.json"))
    clients = [json.loads(p.read_text())["client"] for p in written]
    assert sorted(clients) == sorted(["Acme/EU", lookalike, "../../escape"] * 2)
    assert len({p.parents[1] for p in written}) == 3
    assert all((tmp_path / "out") in p.parents for p in written)
    assert not (tmp_path.parent / "escape").exists()
