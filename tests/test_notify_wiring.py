"""Notifications sent by the commands: `auditor run` and `auditor schedule --once` notify each
client after its run, a webhook on 127.0.0.1 that fails once is retried, and one that never
succeeds leaves the reports in place, the exit code as it was, and `auditor status` saying so."""

from __future__ import annotations

import json
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

import auditor.cli_runs
from auditor.cli import app

runner = CliRunner()
DEMO = Path(__file__).resolve().parents[1] / "config" / "demo" / "demo.jsonl"


class Hook:
    """A webhook receiver that answers 500 to its first ``failures`` POSTs, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[dict[str, object]] = []

    def __call__(self, request: Request) -> Response:
        self.bodies.append(json.loads(request.get_data()))
        if len(self.bodies) <= self.failures:
            return Response("upstream down", status=500)
        return Response("ok", status=200)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(auditor.cli_runs, "NOTIFY_SLEEP", sleeps.append)
    return sleeps


def write_config(folder: Path, hook_url: str) -> Path:
    shutil.copy(DEMO, folder / "demo.jsonl")
    config = folder / "audit.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            output: {{dir: out, formats: [json, markdown]}}
            store: {{path: out/history.sqlite}}
            notify:
              webhook: {{url: "{hook_url}"}}
            clients:
              - name: Driftly
                accounts:
                  - {{platform: x, handle: DriftlyHelp, source: demo.jsonl}}
              - name: Helio
                notify: {{}}
                accounts:
                  - {{platform: x, handle: HelioSupport, source: demo.jsonl}}
            """
        ),
        encoding="utf-8",
    )
    return config


def notify_errors(store: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(store) as db:
        return list(db.execute("SELECT client, notify_error FROM client_runs ORDER BY id"))


def test_run_notifies_each_client_and_retries_a_webhook_that_failed_once(
    tmp_path: Path, httpserver: HTTPServer, no_waiting: list[float]
) -> None:
    hook = Hook(failures=1)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    config = write_config(tmp_path, httpserver.url_for("/hook"))
    result = runner.invoke(app, ["run", str(config), "-q"])
    assert result.exit_code == 1, result.output  # the demo's findings: the code is the audit's
    assert len(hook.bodies) == 2 and hook.bodies[0] == hook.bodies[1]  # Helio has notify: {}
    assert no_waiting == [2.0]
    text = json.dumps(hook.bodies[-1])
    assert "Driftly" in text and "Helio" not in text
    assert notify_errors(tmp_path / "out" / "history.sqlite") == [
        ("Driftly", None),
        ("Helio", None),
    ]


def test_a_notification_that_never_succeeds_keeps_the_report_and_shows_in_status(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    hook = Hook(failures=10**6)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    config = write_config(tmp_path, httpserver.url_for("/hook"))
    result = runner.invoke(app, ["schedule", str(config), "--once"])
    assert result.exit_code == 1, result.output  # as without notifications
    assert len(hook.bodies) == 4  # bounded: four attempts, then it gives up
    reports = sorted((tmp_path / "out").rglob("report.json"))
    assert [json.loads(p.read_text(encoding="utf-8"))["client"] for p in reports] == [
        "Driftly",
        "Helio",
    ]
    store = tmp_path / "out" / "history.sqlite"
    (driftly, error), helio = notify_errors(store)
    assert driftly == "Driftly" and error is not None and error.startswith("webhook: ")
    assert "500" in error
    assert helio == ("Helio", None)

    status = runner.invoke(app, ["status", str(config), "--json"])
    assert status.exit_code == 0, status.output
    clients = {c["client"]: c for c in json.loads(status.stdout)["clients"]}
    assert clients["Driftly"]["last_run"]["outcome"] == "ok"  # the audit itself went well
    assert clients["Driftly"]["last_run"]["notify_error"] == error
    table = runner.invoke(app, ["status", str(config)])
    assert "notification failed: webhook" in table.stdout


def test_config_validate_secrets_checks_the_notification_secrets_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(DEMO, tmp_path / "demo.jsonl")
    config = tmp_path / "audit.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            notify:
              webhook: {url_env: AUDITOR_TEST_HOOK_URL, secret_file: hook.secret}
            clients:
              - name: Driftly
                accounts: [{platform: x, handle: DriftlyHelp, source: demo.jsonl}]
              - name: Helio
                accounts: [{platform: x, handle: HelioSupport, source: demo.jsonl}]
                notify:
                  email:
                    to: [a@example.org]
                    from: b@example.org
                    smtp: {host: 127.0.0.1, user: u, password_env: AUDITOR_TEST_SMTP_PASSWORD}
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.delenv("AUDITOR_TEST_HOOK_URL", raising=False)
    monkeypatch.setenv("AUDITOR_TEST_SMTP_PASSWORD", "hunter2-very-secret")
    missing = runner.invoke(app, ["config", "validate", str(config), "--secrets"])
    assert missing.exit_code == 2
    errors = [line for line in missing.output.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: notify.webhook.url_env: environment variable AUDITOR_TEST_HOOK_URL is not set",
        f"error: notify.webhook.secret_file: cannot read {tmp_path / 'hook.secret'} "
        "(No such file or directory)",
    ]
    assert "hunter2" not in missing.output

    monkeypatch.setenv("AUDITOR_TEST_HOOK_URL", "http://127.0.0.1:9/hook")
    (tmp_path / "hook.secret").write_text("s3cret\n", encoding="utf-8")
    present = runner.invoke(app, ["config", "validate", str(config), "--secrets"])
    assert present.exit_code == 0, present.output
    assert "notification secrets: 3 named, all present" in present.output
    assert "s3cret" not in present.output and "hunter2" not in present.output
