"""The commands on a PostgreSQL history store (``store: {url: ..., password_env: ...}``): two
audits in a row say what changed since the first, ``auditor status`` and ``auditor report
RUN_ID`` read it back, and the config's mistakes and a store that cannot be reached are one
line each, the password never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_history import WEEKS, _assert_reported_again, _findings, _json, _week
from test_report_history import _configs as weekly_configs

from conftest import WriteBundle, WriteConfig
from services import PostgresServer
from tests_support import run_cli

PASSWORD_ENV = "AUDITOR_TEST_STORE_PASSWORD"


def _configs(url: str, write_bundle_file: WriteBundle, write_config: WriteConfig) -> list[Path]:
    store = f'{{url: "{url}", password_env: {PASSWORD_ENV}}}'
    return weekly_configs(write_bundle_file, write_config, store)


@pytest.fixture
def configs(
    write_bundle_file: WriteBundle,
    write_config: WriteConfig,
    postgres_server: PostgresServer,
    postgres_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> list[Path]:
    """The weeks' configs on the test database, its password in the environment."""
    monkeypatch.setenv(PASSWORD_ENV, postgres_server.password)
    return _configs(postgres_database, write_bundle_file, write_config)


def test_two_audits_on_postgresql_say_what_changed_and_read_back(
    tmp_path: Path, configs: list[Path], postgres_server: PostgresServer, postgres_database: str
) -> None:
    assert run_cli(["run", str(configs[0]), "-q"])[0] == 1
    code, table, err = run_cli(["run", str(configs[1])])
    assert code == 1, err
    first, second = _json(tmp_path / "out" / "week0"), _json(tmp_path / "out" / "week1")
    since = second["accounts"][0]["since_last"]
    assert since["previous_run"] == first["run"]["id"]
    before, after = _findings(first, "RSP001"), _findings(second, "RSP001")
    assert after["12"] in since["new"] and before["10"] in {r["uid"] for r in since["resolved"]}
    assert "since last audit: " in table
    assert postgres_server.password not in table + err

    code, out, err = run_cli(["status", str(configs[1]), "--json"])
    assert code == 0, err
    assert f'"store": "{postgres_database}"' in out and '"store_exists": true' in out
    assert postgres_server.password not in out + err

    run_id = second["run"]["id"]
    _assert_reported_again(configs[1], run_id, tmp_path / "again", tmp_path / "out" / "week1")
    code, out, _ = run_cli(["report", "--list", "--config", str(configs[1])])
    assert code == 0 and first["run"]["id"] in out and run_id in out


def test_a_wrong_password_is_one_line_exit_2_and_never_shown(
    write_bundle_file: WriteBundle,
    write_config: WriteConfig,
    postgres_server: PostgresServer,
    postgres_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "wrong-" + postgres_server.password
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    configs = _configs(postgres_database, write_bundle_file, write_config)
    code, out, err = run_cli(["run", str(configs[0]), "-q"])
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: history store {postgres_database}: password authentication failed;"
        f" check store.password_env"
    ]
    assert wrong not in out + err and "Traceback" not in err


def test_a_password_that_is_not_set_names_the_key_and_the_variable(
    write_bundle_file: WriteBundle,
    write_config: WriteConfig,
    postgres_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    configs = _configs(postgres_database, write_bundle_file, write_config)
    code, _, err = run_cli(["run", str(configs[0]), "-q"])
    assert code == 2
    assert err.strip() == (
        f"error: history store {postgres_database}: store.password_env: environment variable"
        f" {PASSWORD_ENV} is not set"
    )


@pytest.mark.parametrize(
    ("store", "says"),
    [
        (
            "{url: 'postgresql://auditor:hunter2@db.example/audits', password_env: X}",
            "store.url: the url holds a password: remove it and name it with password_env",
        ),
        (
            "{url: 'postgresql://auditor@db.example/audits', password: hunter2}",
            "store.password: secrets never go in the config",
        ),
        (
            "{url: 'postgresql://auditor@db.example/audits', path: h.sqlite}",
            "store.url: name either path (SQLite) or url, not both",
        ),
        (
            "{url: 'postgresql://auditor@db.example/audits', pasword_env: X}",
            "pasword_env",
        ),
        ("{path: h.sqlite, password_env: X}", "a password is for a store url"),
        ("{url: 'mysql://auditor@db.example/audits'}", "store.url"),
    ],
)
def test_config_validate_refuses_a_store_it_cannot_use(
    write_config: WriteConfig, write_bundle_file: WriteBundle, store: str, says: str
) -> None:
    bundle = write_bundle_file("week0.jsonl", _week(0, WEEKS[0]))
    config = write_config(
        f"""
        store: {store}
        clients:
          - name: acme
            accounts: [{{platform: x, handle: AcmeHelp, source: {bundle}}}]
        """
    )
    code, out, err = run_cli(["config", "validate", str(config)])
    assert code == 2
    assert says in err and "hunter2" not in out + err
    assert len(err.strip().splitlines()) <= 2


def test_the_scheduler_runs_what_is_due_on_postgresql_and_status_reads_it(
    tmp_path: Path, configs: list[Path], postgres_server: PostgresServer
) -> None:
    config = configs[0]
    code, _, err = run_cli(["schedule", str(config), "--once"])
    assert code == 1, err  # the client was due (never audited), and its audit has findings
    code, out, err = run_cli(["status", str(config), "--json"])
    assert code == 0, err
    status = json.loads(out)
    (client,) = status["clients"]
    assert client["last_run"]["outcome"] == "ok"
    # The heartbeat file of a scheduler on a PostgreSQL store: in the output folder.
    beat_file = tmp_path / "out" / "week0" / "history.heartbeat.json"
    assert status["scheduler"]["heartbeat_file"] == str(beat_file) and beat_file.is_file()
    assert status["scheduler"]["state"] == "stopped"
    assert postgres_server.password not in out + err
