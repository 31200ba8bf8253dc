"""`auditor fetch`, `auditor run` with api accounts, `--dry-run` and `config validate --secrets`,
end to end against local servers on 127.0.0.1 with the clock injected."""

from __future__ import annotations

import json
import logging
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pytest_httpserver import HTTPServer
from test_fetch import of_kind, write_config
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_schema
from auditor.fetch import run as fetch_module
from auditor.fetch.http import ManualClock

from conftest import healthy_account
from fetch_fakes import MASTODON_TOKEN, NOW, X_TOKEN, FakeMastodon, FakeX, serve

runner = CliRunner()


@pytest.fixture(autouse=True)
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The command line's clock: "now" is 2024-05-15, and every wait returns at once."""
    clock = ManualClock(NOW.timestamp())
    monkeypatch.setattr(fetch_module, "default_clock", lambda: clock)
    return clock


@pytest.fixture
def env_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_TEST_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("AUDITOR_TEST_MASTODON_TOKEN", MASTODON_TOKEN)


def bundle_account(folder: Path) -> str:
    """A third account read from a bundle file, as before fetching existed."""
    from auditor.sources.bundle import write_bundle

    write_bundle(folder / "acme-bsky.jsonl", healthy_account("acme_bundled"))
    return textwrap.indent(
        textwrap.dedent(
            """\
            - name: Acme Bundles
              accounts:
                - platform: x
                  handle: acme_bundled
                  source: acme-bsky.jsonl
            """
        ),
        "  ",
    )


def reports(folder: Path) -> dict[str, dict[str, Any]]:
    """The report.json files under ``folder``, by client."""
    found = {}
    for path in sorted(folder.rglob("report.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        found[report["client"]] = report
    return found


def accounts_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{a['platform']}:{a['account']}": a for a in report["accounts"]}


def expected_exit(all_reports: dict[str, dict[str, Any]]) -> int:
    """1 when a check failed at or above its account's fail_on, else 3 (something incomplete)."""
    ranks = ["info", "low", "medium", "high", "critical"]
    for report in all_reports.values():
        for account in report["accounts"]:
            threshold = ranks.index(report["policies"][account["policy"]]["fail_on"])
            for check in account["checks"]:
                if check["status"] == "fail" and any(
                    ranks.index(f["severity"]) >= threshold for f in check["findings"]
                ):
                    return 1
    return 3


def every_file_text(folder: Path) -> str:
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    )


def test_run_audits_the_others_when_one_account_has_no_token(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fake_mastodon: FakeMastodon,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AUDITOR_TEST_X_TOKEN", X_TOKEN)
    monkeypatch.delenv("AUDITOR_TEST_MASTODON_TOKEN", raising=False)
    config = write_config(
        tmp_path,
        x_server.url_for("/"),
        mastodon_server.url_for("/"),
        extra_accounts=bundle_account(tmp_path),
    )
    result = runner.invoke(app, ["run", str(config)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    found = reports(tmp_path / "out")
    assert set(found) == {"Acme", "Acme Bundles"}
    assert result.exit_code == expected_exit(found) in (1, 3)
    for report in found.values():
        Draft202012Validator(load_schema("report.schema.json")).validate(report)
    acme = accounts_of(found["Acme"])
    mastodon = acme["mastodon:acmehelp@social.example"]
    assert mastodon["coverage"]["complete"] is False
    assert "AUDITOR_TEST_MASTODON_TOKEN" in mastodon["coverage"]["reason"]
    assert mastodon["status"] in ("incomplete", "fail", "not_applicable")
    assert fake_mastodon.requests == []
    x_account = acme["x:acmehelp"]
    assert x_account["coverage"]["complete"] is True and x_account["coverage"]["pages"] == 5
    assert x_account["coverage"]["posts"] == 7
    assert x_account["coverage"]["not_observable"] == ["automated", "conversations", "hidden"]
    assert x_account["checks"] and x_account["status"] != "error"
    bundled = accounts_of(found["Acme Bundles"])["x:acme_bundled"]
    assert bundled["coverage"]["pages"] is None and bundled["checks"]
    assert "incomplete fetch: mastodon:acmehelp@social.example" in result.output
    # The token is nowhere: logs, output, reports, bundles, the history store.
    assert caplog.records, "the run logged nothing at all: the assertion below would be empty"
    for record in caplog.records:
        assert X_TOKEN not in record.getMessage()
    assert X_TOKEN not in caplog.text and X_TOKEN not in result.output
    assert X_TOKEN not in every_file_text(tmp_path / "out")
    assert X_TOKEN not in config.read_text(encoding="utf-8")


def test_a_replayed_bundle_gives_the_same_report(
    tmp_path: Path, env_tokens: None, x_server: HTTPServer, mastodon_server: HTTPServer
) -> None:
    live_dir = tmp_path / "live"
    live_dir.mkdir()
    config = write_config(live_dir, x_server.url_for("/"), mastodon_server.url_for("/"))
    live = runner.invoke(app, ["run", str(config), "--quiet"])
    bundles = live_dir / "out" / "bundles"
    # What CI gets: the fetched bundles, audited from a config that names them as files.
    replay_dir = tmp_path / "replay"
    shutil.copytree(bundles, replay_dir / "bundles")
    x_bundle, mastodon_bundle = (
        sorted((replay_dir / "bundles" / "x").iterdir())[0],
        sorted((replay_dir / "bundles" / "mastodon").iterdir())[0],
    )
    replay_config = replay_dir / "audit.yaml"
    replay_config.write_text(
        textwrap.dedent(
            f"""\
            output: {{dir: out, formats: [json]}}
            store: {{path: out/history.sqlite}}
            clients:
              - name: Acme
                accounts:
                  - {{platform: x, handle: acmehelp, source: "{x_bundle}"}}
                  - {{platform: mastodon, handle: acmehelp@social.example,
                      source: "{mastodon_bundle}"}}
            """
        ),
        encoding="utf-8",
    )
    replay = runner.invoke(app, ["run", str(replay_config), "--quiet"])
    assert replay.exit_code == live.exit_code
    live_accounts = reports(live_dir / "out")["Acme"]["accounts"]
    replay_accounts = reports(replay_dir / "out")["Acme"]["accounts"]
    for account in (*live_accounts, *replay_accounts):
        account.pop("source")
        # Each store holds only its own run: the trend is that run, its id and start differ.
        (point,) = account["trend"]
        point.pop("run"), point.pop("started_at")
    assert replay_accounts == live_accounts
    assert sum(len(c["findings"]) for a in live_accounts for c in a["checks"]) > 0


def test_fetch_writes_bundles_without_auditing(
    tmp_path: Path,
    env_tokens: None,
    fake_mastodon: FakeMastodon,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
) -> None:
    config = write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/"))
    result = runner.invoke(app, ["fetch", str(config), "--account", "x:AcmeHelp"])
    assert result.exit_code == 0, result.output
    x_bundle = tmp_path / "out" / "bundles" / "x" / "acmehelp.jsonl"
    assert x_bundle.is_file() and f"wrote {x_bundle}" in result.output
    assert "fetched x:acmehelp: 5 pages, 7 posts" in result.output
    assert not (tmp_path / "out" / "bundles" / "mastodon").exists()
    assert fake_mastodon.requests == []
    assert not list((tmp_path / "out").rglob("report.json"))


def test_fetch_exits_3_when_an_account_is_left_incomplete(
    tmp_path: Path, env_tokens: None, mastodon_server: HTTPServer
) -> None:
    broken = FakeX(broken={"/2/users/by/username/acmehelp": 401})
    for server in serve(broken):
        config = write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/"))
        result = runner.invoke(app, ["fetch", str(config)])
    assert result.exit_code == 3
    assert "incomplete fetch: x:acmehelp: profile: HTTP 401 unauthorized" in result.output
    assert len(broken.requests) == 1  # a 401 is not retried
    window = json.loads(
        (tmp_path / "out" / "bundles" / "x" / "acmehelp.jsonl").read_text().splitlines()[0]
    )
    assert window["kind"] == "window" and window["complete"] is False


@pytest.mark.parametrize("command", ["fetch", "run"])
def test_dry_run_makes_no_request_and_prints_the_shares(
    tmp_path: Path,
    env_tokens: None,
    command: str,
    fake_x: FakeX,
    fake_mastodon: FakeMastodon,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
) -> None:
    config = write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/"))
    result = runner.invoke(app, [command, str(config), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert fake_x.requests == [] and fake_mastodon.requests == []
    assert f"GET {x_server.url_for('/2/users/by/username/acmehelp')}" in result.output
    assert "x:users/by/username: 1 of 300 per 15 min (app) = 0.3%" in result.output
    assert "mastodon:api: 4 of 300 per 5 min (account)" in result.output
    assert "dry run: no request was made" in result.output
    assert not (tmp_path / "out").exists()  # no bundle, no store, no report
    assert X_TOKEN not in result.output


def test_config_validate_secrets_names_the_missing_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/", "http://127.0.0.1:9/")
    monkeypatch.setenv("AUDITOR_TEST_X_TOKEN", X_TOKEN)
    monkeypatch.delenv("AUDITOR_TEST_MASTODON_TOKEN", raising=False)
    plain = runner.invoke(app, ["config", "validate", str(config)])
    assert plain.exit_code == 0
    missing = runner.invoke(app, ["config", "validate", str(config), "--secrets"])
    assert missing.exit_code == 2
    assert (
        "mastodon:acmehelp@social.example: missing token: env AUDITOR_TEST_MASTODON_TOKEN not set"
        in missing.output
    )
    assert "AUDITOR_TEST_X_TOKEN" not in missing.output and X_TOKEN not in missing.output
    monkeypatch.setenv("AUDITOR_TEST_MASTODON_TOKEN", MASTODON_TOKEN)
    present = runner.invoke(app, ["config", "validate", str(config), "--secrets"])
    assert present.exit_code == 0 and "tokens: 2 named, all present" in present.output
    assert MASTODON_TOKEN not in present.output and X_TOKEN not in present.output


def test_a_token_in_the_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            clients:
              - name: Acme
                accounts:
                  - platform: x
                    handle: acmehelp
                    source: {type: api, token: not-a-real-token}
            """
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "validate", str(config)])
    assert result.exit_code == 2
    assert "audit.yaml:6: clients[0].accounts[0].source.token: tokens never go in the config" in (
        result.output
    )
    assert "token_env" in result.output


def test_a_second_run_of_the_command_is_incremental(
    tmp_path: Path,
    env_tokens: None,
    manual_clock: ManualClock,
    fake_x: FakeX,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
) -> None:
    config = write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/"))
    assert runner.invoke(app, ["fetch", str(config), "-q"]).exit_code == 0
    bundle = tmp_path / "out" / "bundles" / "x" / "acmehelp.jsonl"
    first = [json.loads(line) for line in bundle.read_text().splitlines()]
    fake_x.requests.clear()
    manual_clock.sleep(3600)  # an hour later
    assert runner.invoke(app, ["fetch", str(config), "-q"]).exit_code == 0
    assert all("since_id" in args for args in fake_x.asked("/mentions"))
    assert all("start_time" not in args for args in fake_x.asked("/mentions"))
    second = [json.loads(line) for line in bundle.read_text().splitlines()]
    assert {p["id"] for p in of_kind(second, "post")} == {p["id"] for p in of_kind(first, "post")}
