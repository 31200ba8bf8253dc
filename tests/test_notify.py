"""Notifications: the summary a client's run makes, the Slack payload, the webhook (a local
server that fails once, then accepts; the signature verified), the email (a local aiosmtpd
server, with a login), retries bounded with injected sleeps, secrets never in an error or a
log line even when a server echoes them, and the config's notify sections."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from readable_results import STARTED, account, audit, check, findings
from werkzeug import Request, Response

from auditor.config import ConfigError, load_config
from auditor.config_notify import EmailConfig, NotifyConfig, SecretSource, SmtpConfig
from auditor.config_notify import WebhookConfig as Hook
from auditor.notify import (
    Delivery,
    RunSummary,
    deliver,
    notify,
    notify_run,
    slack_payload,
    summarize,
    webhook,
)
from auditor.registry import load_registry
from auditor.reports import WRITERS, RunFolders, file_formats
from auditor.reports.stream import write_result
from auditor.result import (
    AuditResult,
    CheckGate,
    ResolvedFinding,
    SinceLast,
    Totals,
    mark_finding,
)

from tests_support import no_hang, unavailable

HOSTILE_TITLE = "<!channel> & <http://evil.example|click> *bold*"
WEBHOOK_SECRET = "whsec-test-5b1f9a0c77"
SMTP_PASSWORD = "smtp-test-pw-8e21c4"


@dataclass
class Reports:
    result: AuditResult
    totals: Totals
    folder: Path


def write_reports(out: Path, formats: list[str], *, first_audit: bool = False) -> Reports:
    """Client Acme's reports of one run: x:AcmeHelp fails RSP001 on 3 findings, one of them in
    the baseline; x:AcmeCare fails a plug-in check with a hostile title and passes RSP002."""
    help_findings = findings("RSP001", "AcmeHelp", 3)
    mark_finding(help_findings[0], "existing")
    rsp001 = check("RSP001", "fail", help_findings, title="First response time")
    rsp001.gate = CheckGate("fail", {"high": 2}, existing=1)
    care_findings = findings("EXT001", "AcmeCare", 1)
    accounts = [
        account("Acme", "AcmeHelp", [rsp001]),
        account(
            "Acme",
            "AcmeCare",
            [check("EXT001", "fail", care_findings, title=HOSTILE_TITLE), check("RSP002", "pass")],
        ),
    ]
    if not first_audit:
        resolved = [ResolvedFinding("gone-1", "RSP001", "high", "answered at last")]
        accounts[0].since_last = SinceLast(
            "run-0000", STARTED, frozenset(f.uid for f in help_findings[1:]), 1, resolved, []
        )
        accounts[1].since_last = SinceLast("run-0000", STARTED, frozenset(), 1, [], [])
    result = audit(accounts)
    folders = RunFolders(out)
    for name in file_formats(formats):
        write_result(result, WRITERS[name](out, folders))
    return Reports(result, result.totals(), folders.made()["Acme"])


@pytest.fixture
def reports(tmp_path: Path) -> Reports:
    return write_reports(tmp_path / "out", ["json", "html", "markdown"])


@pytest.fixture
def summary(reports: Reports) -> RunSummary:
    return summarize(reports.result, reports.totals, "Acme", reports.folder)


class Sleeps:
    def __init__(self) -> None:
        self.waited: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


# ---------------------------------------------------------------------------------------------
# The summary and the payload


def test_the_summary_says_what_the_clients_report_says(
    reports: Reports, summary: RunSummary
) -> None:
    assert summary.client == "Acme"
    assert summary.run_id == "run-0001"
    assert summary.started_at == STARTED
    assert summary.status == "fail"
    assert summary.exit_code == reports.totals.code == 1
    assert summary.accounts == 2
    # The baseline's finding is not open: RSP001 counts 2 of its 3.
    assert [tuple(c) for c in summary.failing_checks] == [
        ("EXT001", HOSTILE_TITLE, 1),
        ("RSP001", "First response time", 2),
    ]
    assert (summary.new_findings, summary.resolved_findings) == (2, 1)
    assert summary.report_html == reports.folder / "report.html"
    assert summary.report_md == reports.folder / "report.md"
    assert summary.report == summary.report_html


def test_a_first_audit_has_no_change_to_tell(tmp_path: Path) -> None:
    first = write_reports(tmp_path / "out", ["json"], first_audit=True)
    summary = summarize(first.result, first.totals, "Acme", first.folder)
    assert (summary.new_findings, summary.resolved_findings) == (None, None)
    assert (summary.report_html, summary.report_md) == (None, None)
    assert summary.report == first.folder / "report.json"
    fields = slack_payload(summary)["blocks"][1]["fields"]
    assert "first audit" in fields[3]["text"]


def test_the_slack_payload_has_the_figures_and_escapes_what_came_from_outside(
    summary: RunSummary,
) -> None:
    payload = slack_payload(summary)
    assert payload["text"] == "[social-care-auditor] Acme: fail (2 failing checks)"
    header, section, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Acme: fail (2 failing checks)"},
    }
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in section["fields"]}
    assert all(f["type"] == "mrkdwn" for f in section["fields"])
    assert fields["*Status*"] == "fail"
    assert fields["*Exit code*"] == "1"
    assert fields["*Accounts*"] == "2"
    assert fields["*Since last audit*"] == "2 new, 1 resolved"
    checks = fields["*Failing checks*"]
    assert "RSP001 First response time: 2 open findings" in checks
    # A plug-in's title can neither ping the channel nor make a link in what Slack shows.
    assert "<!channel>" not in json.dumps([payload["text"], payload["blocks"]])
    assert "&lt;!channel&gt; &amp; &lt;http://evil.example|click&gt;" in checks
    assert context["type"] == "context"
    assert str(summary.report_html) in context["elements"][0]["text"]
    assert payload["auditor"]["failing_checks"][1] == {
        "check_id": "RSP001",
        "title": "First response time",
        "findings": 2,
    }


def test_a_client_whose_report_is_missing_fails_each_channel_with_one_line(
    reports: Reports,
) -> None:
    config = NotifyConfig(
        webhook=Hook(SecretSource("notify.webhook.url", value="http://127.0.0.1:9/x")),
        email=EmailConfig(("a@b.example",), "c@d.example", SmtpConfig("127.0.0.1", 9)),
    )
    (reports.folder / "report.json").unlink()
    sleeps = Sleeps()
    deliveries = notify_run(
        config, reports.result, reports.totals, "Acme", reports.folder, sleep=sleeps
    )
    assert [(d.channel, d.ok, d.attempts) for d in deliveries] == [
        ("webhook", False, 0),
        ("email", False, 0),
    ]
    assert all(
        "report.json: cannot read the client's report" in (d.error or "") for d in deliveries
    )
    assert sleeps.waited == []
    assert notify_run(NotifyConfig(), reports.result, reports.totals, "Acme", reports.folder) == []


# ---------------------------------------------------------------------------------------------
# The webhook


@dataclass
class Hooked:
    """A webhook receiver: answers ``statuses`` in turn (the last one for ever after) and
    keeps every request's headers and body."""

    statuses: list[int]
    body: str = "ok"
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), request.get_data()))
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return Response(self.body, status=status)


def hook_config(url: str, monkeypatch: pytest.MonkeyPatch, *, signed: bool = True) -> NotifyConfig:
    monkeypatch.setenv("AUDITOR_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    secret = SecretSource("notify.webhook.secret_env", env="AUDITOR_TEST_WEBHOOK_SECRET")
    return NotifyConfig(
        webhook=Hook(SecretSource("notify.webhook.url", value=url), secret if signed else None)
    )


def test_a_webhook_that_fails_once_is_retried_and_its_post_is_signed(
    httpserver: HTTPServer, summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Hooked([500, 200])
    httpserver.expect_request("/hooks/T0", method="POST").respond_with_handler(receiver)
    sleeps = Sleeps()
    with no_hang(30):
        deliveries = notify(
            hook_config(httpserver.url_for("/hooks/T0"), monkeypatch), summary, sleep=sleeps
        )
    assert deliveries == [Delivery("webhook", True, 2)]
    assert sleeps.waited == [2.0]
    headers, body = receiver.requests[-1]
    # What a receiver does (docs/notifications.md): recompute the HMAC over the bytes it got.
    timestamp = headers["X-Auditor-Timestamp"]
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(headers["X-Auditor-Signature"], f"sha256={expected}")
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["auditor"]["status"] == "fail"
    assert [c["check_id"] for c in payload["auditor"]["failing_checks"]] == ["EXT001", "RSP001"]
    assert (payload["auditor"]["new_findings"], payload["auditor"]["resolved_findings"]) == (2, 1)
    assert payload["auditor"]["report"] == str(summary.report_html)
    assert payload["blocks"] == slack_payload(summary)["blocks"]


def test_the_receivers_check_in_the_docs_accepts_the_signature_and_nothing_else(
    httpserver: HTTPServer, summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "notifications.md").read_text("utf-8")
    (example,) = re.findall(r"```python\n(import hashlib.*?)```", docs, re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(example, namespace)  # the docs' own code, as a receiver would paste it
    receiver = Hooked([200])
    httpserver.expect_request("/h", method="POST").respond_with_handler(receiver)
    notify(hook_config(httpserver.url_for("/h"), monkeypatch), summary, sleep=Sleeps())
    headers, body = receiver.requests[0]
    verified = namespace["verified"]
    assert verified(WEBHOOK_SECRET.encode(), headers, body)
    assert not verified(WEBHOOK_SECRET.encode(), headers, body.replace(b"fail", b"pass"))
    assert not verified(b"another-secret", headers, body)
    stale = {**headers, "X-Auditor-Timestamp": str(int(headers["X-Auditor-Timestamp"]) - 3600)}
    assert not verified(WEBHOOK_SECRET.encode(), stale, body)


def test_an_unsigned_webhook_sends_no_signature(
    httpserver: HTTPServer, summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Hooked([204])
    httpserver.expect_request("/h", method="POST").respond_with_handler(receiver)
    config = hook_config(httpserver.url_for("/h"), monkeypatch, signed=False)
    assert notify(config, summary, sleep=Sleeps()) == [Delivery("webhook", True, 1)]
    headers, _ = receiver.requests[0]
    assert "X-Auditor-Signature" not in headers and "X-Auditor-Timestamp" not in headers


def test_a_webhook_that_never_succeeds_is_tried_a_bounded_number_of_times(
    httpserver: HTTPServer,
    summary: RunSummary,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = Hooked([503], body="upstream\nbusy")
    httpserver.expect_request("/h", method="POST").respond_with_handler(receiver)
    sleeps = Sleeps()
    with caplog.at_level(logging.INFO, logger="auditor.notify"), no_hang(30):
        (delivery,) = notify(
            hook_config(httpserver.url_for("/h"), monkeypatch), summary, sleep=sleeps
        )
    assert (delivery.ok, delivery.attempts, len(receiver.requests)) == (False, 4, 4)
    assert delivery.error == f"{httpserver.host} answered HTTP 503: upstream busy"
    assert sleeps.waited == [2.0, 4.0, 8.0]
    assert sum(sleeps.waited) <= 60
    lines = [r.getMessage() for r in caplog.records if r.name == "auditor.notify"]
    assert len(lines) == 4 and all("\n" not in line for line in lines)
    assert "failed after 4 attempt(s)" in lines[-1]


def test_a_webhook_answering_a_client_error_is_not_retried(
    httpserver: HTTPServer, summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Hooked([404], body="no_service")
    httpserver.expect_request("/h", method="POST").respond_with_handler(receiver)
    sleeps = Sleeps()
    (delivery,) = notify(hook_config(httpserver.url_for("/h"), monkeypatch), summary, sleep=sleeps)
    assert (delivery.ok, delivery.attempts, sleeps.waited) == (False, 1, [])
    assert delivery.error == f"{httpserver.host} answered HTTP 404: no_service"


def test_a_server_echoing_the_secret_and_url_never_gets_them_into_an_error_or_a_log(
    httpserver: HTTPServer,
    summary: RunSummary,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The URL is a secret too (Slack's is): named by url_env, echoed with the signing secret.
    url = httpserver.url_for("/services/T0/B0/xoxsecretpath")
    monkeypatch.setenv("AUDITOR_TEST_WEBHOOK_URL", url)
    monkeypatch.setenv("AUDITOR_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    receiver = Hooked([500], body=f"bad request to {url} signed with {WEBHOOK_SECRET}")
    httpserver.expect_request("/services/T0/B0/xoxsecretpath").respond_with_handler(receiver)
    config = NotifyConfig(
        webhook=Hook(
            SecretSource("notify.webhook.url_env", env="AUDITOR_TEST_WEBHOOK_URL"),
            SecretSource("notify.webhook.secret_env", env="AUDITOR_TEST_WEBHOOK_SECRET"),
        )
    )
    with caplog.at_level(logging.INFO, logger="auditor.notify"):
        (delivery,) = notify(config, summary, sleep=Sleeps(), attempts=2)
    assert delivery.error is not None and "***" in delivery.error
    logged = [r.getMessage() for r in caplog.records if r.name == "auditor.notify"]
    said = "\n".join([delivery.error, *logged])
    assert WEBHOOK_SECRET not in said and "xoxsecretpath" not in said


def test_a_missing_secret_fails_the_webhook_with_one_line_naming_its_key(
    httpserver: HTTPServer, summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Hooked([200])
    httpserver.expect_request("/h").respond_with_handler(receiver)
    config = hook_config(httpserver.url_for("/h"), monkeypatch)
    monkeypatch.delenv("AUDITOR_TEST_WEBHOOK_SECRET")
    (delivery,) = notify(config, summary, sleep=Sleeps())
    assert delivery == Delivery(
        "webhook",
        False,
        1,
        "notify.webhook.secret_env: environment variable AUDITOR_TEST_WEBHOOK_SECRET is not set",
    )
    assert receiver.requests == []


def test_a_bug_in_a_channel_is_a_failed_delivery_not_an_exception(
    summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(config: Hook, summary: RunSummary) -> None:
        raise KeyError("blocks")

    monkeypatch.setattr(webhook, "send", broken)
    config = NotifyConfig(
        webhook=Hook(SecretSource("notify.webhook.url", value="http://x.example"))
    )
    (delivery,) = deliver.notify(config, summary, sleep=Sleeps())
    assert delivery == Delivery("webhook", False, 1, "KeyError: 'blocks'")


def test_an_unreachable_webhook_is_a_failed_delivery(
    summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = hook_config(f"http://127.0.0.1:{free_port()}/h", monkeypatch)
    sleeps = Sleeps()
    with no_hang(30):
        (delivery,) = notify(config, summary, sleep=sleeps, attempts=3, first_wait=0.5)
    assert (delivery.ok, delivery.attempts, sleeps.waited) == (False, 3, [0.5, 1.0])
    assert delivery.error is not None and delivery.error.startswith("127.0.0.1: ConnectError")


# ---------------------------------------------------------------------------------------------
# The email


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps every message; ``answer`` is what DATA gets."""

    answer: str = "250 Message accepted"
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return self.answer


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox, list[tuple[bytes, bytes]]]]:
    """An SMTP server on 127.0.0.1 that asks for a login (AUTH without TLS: the tests' server
    has no certificate, so STARTTLS is not exercised here) and accepts only the test's."""
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
    except ImportError as error:
        unavailable("aiosmtpd", str(error))
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        logins.append((data.login, data.password))
        # handled=False: the server answers 535 itself (True would leave the answer to us).
        return AuthResult(success=data.password == SMTP_PASSWORD.encode(), handled=False)

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port, mailbox, logins
    finally:
        controller.stop()


def mail_config(port: int, monkeypatch: pytest.MonkeyPatch) -> NotifyConfig:
    monkeypatch.setenv("AUDITOR_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    password = SecretSource("notify.email.smtp.password_env", env="AUDITOR_TEST_SMTP_PASSWORD")
    smtp = SmtpConfig("127.0.0.1", port, starttls=False, user="auditor", password=password)
    return NotifyConfig(
        email=EmailConfig(("compliance@acme.example",), "auditor@agency.example", smtp)
    )


def test_the_email_carries_the_markdown_report_and_the_html_attached(
    smtp_server: tuple[int, Mailbox, list[tuple[bytes, bytes]]],
    summary: RunSummary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, mailbox, logins = smtp_server
    with no_hang(30):
        deliveries = notify(mail_config(port, monkeypatch), summary, sleep=Sleeps())
    assert deliveries == [Delivery("email", True, 1)]
    assert logins == [(b"auditor", SMTP_PASSWORD.encode())]
    assert mailbox.envelopes == [("auditor@agency.example", ["compliance@acme.example"])]
    (mail,) = mailbox.messages
    assert mail["Subject"] == "[social-care-auditor] Acme: fail (2 failing checks)"
    assert mail["To"] == "compliance@acme.example"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    # SMTP carries lines ended by CRLF.
    text = body.get_content().replace("\r\n", "\n")
    assert text == (summary.report_md or Path()).read_text(encoding="utf-8")
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "report.html"
    assert attachment.get_content_type() == "text/html"
    assert attachment.get_payload(decode=True) == (summary.report_html or Path()).read_bytes()


def test_without_a_markdown_report_the_body_is_the_summary(
    smtp_server: tuple[int, Mailbox, list[tuple[bytes, bytes]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, mailbox, _ = smtp_server
    written = write_reports(tmp_path / "out", ["json"])
    summary = summarize(written.result, written.totals, "Acme", written.folder)
    (delivery,) = notify(mail_config(port, monkeypatch), summary, sleep=Sleeps())
    assert delivery.ok
    (mail,) = mailbox.messages
    assert not mail.is_multipart()
    text = mail.get_content()
    assert "Status:      fail (exit code 1)" in text
    assert "Since last:  2 new, 1 resolved" in text
    assert str(written.folder / "report.json") in text
    assert "- RSP001 First response time: 2 open findings" in text


def test_a_mail_server_echoing_the_password_never_gets_it_into_an_error_or_a_log(
    smtp_server: tuple[int, Mailbox, list[tuple[bytes, bytes]]],
    summary: RunSummary,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, mailbox, _ = smtp_server
    mailbox.answer = f"554 5.7.1 rejected: you logged in with {SMTP_PASSWORD}"
    sleeps = Sleeps()
    with caplog.at_level(logging.INFO, logger="auditor.notify"):
        (delivery,) = notify(mail_config(port, monkeypatch), summary, sleep=sleeps)
    # A 5xx answer is final: no retry.
    assert (delivery.ok, delivery.attempts, sleeps.waited) == (False, 1, [])
    assert delivery.error == "127.0.0.1: SMTP 554 5.7.1 rejected: you logged in with ***"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SMTP_PASSWORD not in logged and "rejected" in logged


def test_a_refused_login_is_one_line_and_not_retried(
    smtp_server: tuple[int, Mailbox, list[tuple[bytes, bytes]]],
    summary: RunSummary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, mailbox, _ = smtp_server
    config = mail_config(port, monkeypatch)
    monkeypatch.setenv("AUDITOR_TEST_SMTP_PASSWORD", "not-the-password")
    (delivery,) = notify(config, summary, sleep=Sleeps())
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error is not None and delivery.error.startswith("127.0.0.1: SMTP 535")
    assert "not-the-password" not in delivery.error
    assert mailbox.messages == []


def test_an_unreachable_mail_server_is_retried_a_bounded_number_of_times(
    summary: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = Sleeps()
    with no_hang(30):
        (delivery,) = notify(mail_config(free_port(), monkeypatch), summary, sleep=sleeps)
    assert (delivery.ok, delivery.attempts, sleeps.waited) == (False, 4, [2.0, 4.0, 8.0])
    assert delivery.error is not None and "ConnectionRefusedError" in delivery.error


# ---------------------------------------------------------------------------------------------
# The config


CONFIG = """\
notify:
  webhook: {url: "https://hooks.example/T0/B0/x", secret_env: AUDITOR_WEBHOOK_SECRET}
  email:
    to: [compliance@acme.example]
    from: auditor@agency.example
    smtp: {host: smtp.agency.example, port: 2525, user: auditor, password_file: smtp.pw}
clients:
  - name: Acme
    accounts: [{platform: x, handle: AcmeHelp, source: a.jsonl}]
  - name: Quiet
    notify: {}
    accounts: [{platform: x, handle: QuietHelp, source: a.jsonl}]
  - name: Own
    notify:
      webhook: {url_env: OWN_WEBHOOK_URL}
    accounts: [{platform: x, handle: OwnHelp, source: a.jsonl}]
"""


def load(tmp_path: Path, text: str) -> NotifyConfig:
    path = tmp_path / "audit.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, load_registry()).clients[0].notify


def test_a_clients_notify_replaces_the_top_levels_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    acme, quiet, own = (c.notify for c in load_config(path, load_registry()).clients)
    assert acme.webhook == Hook(
        SecretSource("notify.webhook.url", value="https://hooks.example/T0/B0/x"),
        SecretSource("notify.webhook.secret_env", env="AUDITOR_WEBHOOK_SECRET"),
    )
    assert acme.email == EmailConfig(
        ("compliance@acme.example",),
        "auditor@agency.example",
        SmtpConfig(
            "smtp.agency.example",
            2525,
            starttls=True,
            user="auditor",
            password=SecretSource("notify.email.smtp.password_file", file=tmp_path / "smtp.pw"),
        ),
    )
    assert not quiet.enabled
    assert own == NotifyConfig(
        webhook=Hook(SecretSource("clients[2].notify.webhook.url_env", env="OWN_WEBHOOK_URL"))
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "secret_env: AUDITOR_WEBHOOK_SECRET",
            "secret: s3cret-value",
            "audit.yaml:2: notify.webhook.secret: secrets never go in the config: name an "
            "environment variable (secret_env: NAME) or a file (secret_file: path) instead",
        ),
        (
            "password_file: smtp.pw",
            "password: hunter2-pw",
            "audit.yaml:6: notify.email.smtp.password: secrets never go in the config: name an "
            "environment variable (password_env: NAME) or a file (password_file: path) instead",
        ),
        (
            "port: 2525",
            "prot: 2525",
            "audit.yaml:6: notify.email.smtp.prot: unknown key 'prot' (did you mean 'port'?)",
        ),
        (
            "{url_env: OWN_WEBHOOK_URL}",
            "{url_env: OWN_WEBHOOK_URL, url: 'https://x.example'}",
            "audit.yaml:15: clients[2].notify.webhook.url_env: name either url or url_env, "
            "not both",
        ),
        (
            "{url_env: OWN_WEBHOOK_URL}",
            "{secret_env: OWN_SECRET}",
            "audit.yaml:15: clients[2].notify.webhook: name the webhook's url, url_env or url_file",
        ),
        (
            "user: auditor, ",
            "",
            "audit.yaml:6: notify.email.smtp: a password needs a user to log in as",
        ),
    ],
)
def test_a_bad_notify_section_is_one_line_with_its_place(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in CONFIG
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, CONFIG.replace(old, new))
    assert str(raised.value) == str(tmp_path / message)
    assert "s3cret-value" not in str(raised.value) and "hunter2-pw" not in str(raised.value)
