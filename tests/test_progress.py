"""Progress and logs (#16): a status line redrawn in place on a terminal, one log line per
account elsewhere, JSON lines under ``--log-format json``; no token in any of them, and no
value from outside acting on the terminal. Clocks are injected: nothing sleeps."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_fetch import write_config as write_fetch_config
from typer.testing import CliRunner

from auditor.cli import app
from auditor.cli_common import guard_logs
from auditor.config import load_config
from auditor.engine.audit import Engine
from auditor.fetch import run as fetch_module
from auditor.fetch.http import ManualClock
from auditor.fetch.secrets import Secret
from auditor.progress import (
    LOG_FORMATS,
    REDRAW_EVERY_SECONDS,
    Progress,
    ProgressWriter,
    configure_logging,
    eta_words,
)
from auditor.registry import load_registry
from auditor.reports import Reports
from auditor.reports.json_report import JsonReports
from auditor.result import AccountResult, AuditResult, Coverage, Totals

from conftest import WriteBundle, WriteConfig, healthy_account, read_reports
from fetch_fakes import MASTODON_TOKEN, NOW, X_TOKEN

HOSTILE = "Acme\x1b]0;pwned\x07\rERROR forged"
_TERMINAL_CODES = re.compile(r"(\r\x1b\[K|\n)")


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def screen(written: str) -> list[str]:
    """What a terminal shows after ``written``: a CR + erase-line starts its line afresh."""
    lines = [""]
    for part in _TERMINAL_CODES.split(written):
        if part == "\n":
            lines.append("")
        elif part == "\r\x1b[K":
            lines[-1] = ""
        else:
            lines[-1] += part
    return lines


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """configure_logging changes the process's logging: each test gets it back as it was."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    auditor_level = logging.getLogger("auditor").level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    logging.getLogger("auditor").setLevel(auditor_level)


class Timers:
    """Stands in for threading.Timer: the late redraws, run when the test says."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.waiting: list[Timers.Timer] = []

    def __call__(self, interval: float, function: Callable[[], None]) -> Timers.Timer:
        return Timers.Timer(self, interval, function)

    def fire(self, only_due: bool = False) -> None:
        """Runs the waiting timers (``only_due``: those whose time is up on ``clock``)."""
        due = [t for t in self.waiting if not only_due or t.due <= self.clock.now]
        for timer in due:
            self.waiting.remove(timer)
            timer.function()

    class Timer:
        def __init__(self, timers: Timers, interval: float, function: Callable[[], None]) -> None:
            self.timers, self.interval, self.function = timers, interval, function
            self.daemon = False
            self.due = 0.0

        def start(self) -> None:
            self.due = self.timers.clock.now + self.interval
            self.timers.waiting.append(self)

        def cancel(self) -> None:
            self.timers.waiting.remove(self)


@pytest.fixture
def timers(monkeypatch: pytest.MonkeyPatch) -> Timers:
    timers = Timers()
    monkeypatch.setattr("auditor.progress.Timer", timers)
    return timers


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, timers: Timers) -> FakeTty:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    return FakeTty()


def _account(client: str, handle: str, posts: int) -> AccountResult:
    return AccountResult(client, "x", handle, "pass", Coverage(posts=posts), {"fail_on": "high"})


# --- the terminal face ----------------------------------------------------------------------


def test_a_terminal_shows_one_line_redrawn_in_place_and_erased_at_the_end(
    terminal: FakeTty,
) -> None:
    clock = Clock()
    progress = Progress.for_stream(terminal, clock=clock)
    assert progress.live and progress.log_level == logging.WARNING
    progress.start(40, "audited")
    assert screen(terminal.getvalue()) == ["audited 0/40 accounts"]
    clock.now += 60  # 60 s for the first account: 39 left at that pace
    progress.account_done("Acme", "x:AcmeHelp", 4021)
    assert screen(terminal.getvalue()) == [
        "audited 1/40 accounts · 4,021 posts · x:AcmeHelp · ETA 39 min"
    ]
    clock.now += 30  # 90 s for two: 45 s each, 38 left
    progress.account_done("Acme", "mastodon:acme@example.social", 179_381)
    assert screen(terminal.getvalue()) == [
        "audited 2/40 accounts · 183,402 posts · mastodon:acme@example.social · ETA 29 min"
    ]
    progress.finish()
    assert "\n" not in terminal.getvalue()  # never a second line: the one line is redrawn
    assert screen(terminal.getvalue()) == [""]


def test_the_account_under_way_is_shown_before_it_is_done(terminal: FakeTty) -> None:
    clock = Clock()
    progress = Progress.for_stream(terminal, clock=clock)
    progress.start(2, "fetched")
    clock.now += 1
    progress.account_started("x:AcmeHelp")
    assert screen(terminal.getvalue()) == ["fetched 0/2 accounts · x:AcmeHelp"]


def test_redraws_are_throttled_on_a_terminal_and_the_last_change_drawn_late(
    terminal: FakeTty, timers: Timers
) -> None:
    clock = timers.clock
    progress = Progress.for_stream(terminal, clock=clock)
    progress.start(100)
    for n in range(100):  # 100 accounts in 1 s: at most 10 redraws a second, and the start
        clock.now += 0.01
        timers.fire(only_due=True)
        progress.account_done("Acme", f"x:a{n}", 1)
    redraws = terminal.getvalue().count("\r\x1b[K")
    assert 1 / REDRAW_EVERY_SECONDS - 1 <= redraws <= 1 / REDRAW_EVERY_SECONDS + 2
    assert not screen(terminal.getvalue())[0].startswith("audited 100/100")
    assert len(timers.waiting) == 1  # the burst's end is drawn once its time is up
    assert all(0 < t.interval <= REDRAW_EVERY_SECONDS and t.daemon for t in timers.waiting)
    timers.fire()
    assert screen(terminal.getvalue()) == ["audited 100/100 accounts · 100 posts · x:a99"]
    clock.now += 0.01
    progress.account_done("Acme", "x:late", 1)
    progress.finish()  # a redraw due after the end draws nothing
    assert timers.waiting == []
    assert screen(terminal.getvalue()) == [""]


def test_a_hostile_handle_is_escaped_on_the_status_line(terminal: FakeTty) -> None:
    clock = Clock()
    progress = Progress.for_stream(terminal, clock=clock)
    progress.start(1)
    clock.now += 1
    progress.account_done("Acme", f"x:{HOSTILE}", 3)
    shown = terminal.getvalue()
    assert "\x1b]" not in shown and "\x07" not in shown
    assert "x:Acme\\x1b]0;pwned\\x07\\x0dERROR forged" in screen(shown)[0]
    assert shown.count("\r") == shown.count("\r\x1b[K")  # the only CRs are the redraws


def test_the_status_line_is_cut_to_the_terminal_width(
    terminal: FakeTty, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    clock = Clock()
    progress = Progress.for_stream(terminal, clock=clock)
    progress.start(3)
    clock.now += 1
    progress.account_done("Acme", "x:" + "a" * 80, 3)
    assert len(screen(terminal.getvalue())[0]) == 29  # a full line would wrap: redraws break


def test_a_log_record_is_written_above_the_status_line(
    terminal: FakeTty, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stderr", terminal)
    configure_logging("text")
    clock = Clock()
    progress = Progress.for_stream(terminal, clock=clock)
    progress.start(2)
    clock.now += 1
    progress.account_done("Acme", "x:AcmeHelp", 5)
    logging.getLogger("auditor.test").warning("rate limit low")
    assert screen(terminal.getvalue()) == [
        "WARNING auditor.test: rate limit low",
        "audited 1/2 accounts · 5 posts · x:AcmeHelp · ETA under 1 min",
    ]
    progress.finish()
    logging.getLogger("auditor.test").warning("after")
    assert screen(terminal.getvalue()) == [
        "WARNING auditor.test: rate limit low",
        "WARNING auditor.test: after",
        "",
    ]


@pytest.mark.parametrize(
    ("term", "log_format", "quiet"),
    [("dumb", "text", False), ("xterm", "json", False), ("xterm", "text", True)],
)
def test_no_status_line_on_a_dumb_terminal_under_json_logs_or_when_quiet(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    term: str,
    log_format: Any,
    quiet: bool,
) -> None:
    monkeypatch.setenv("TERM", term)
    stream = FakeTty()
    progress = Progress.for_stream(stream, log_format, quiet=quiet, clock=Clock())
    configure_logging(log_format, progress.log_level)
    progress.start(1)
    progress.account_done("Acme", "x:AcmeHelp", 5)
    progress.finish()
    assert not progress.live and stream.getvalue() == ""
    logged = capsys.readouterr().err
    assert ("x:AcmeHelp (5 posts)" in logged) is not quiet


# --- the log face ---------------------------------------------------------------------------


def test_without_a_terminal_each_account_is_one_info_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock()
    progress = Progress.for_stream(io.StringIO(), clock=clock)
    assert not progress.live and progress.log_level == logging.INFO
    configure_logging("text", progress.log_level)
    progress.start(3, "audited")
    clock.now += 120
    progress.account_done("Acme", "x:AcmeHelp", 4021)
    clock.now += 60
    progress.account_done("Acme", "x:AcmeOther", 1)
    clock.now += 60
    progress.account_done("Beta", "x:BetaHelp", 0)
    progress.finish()
    assert capsys.readouterr().err.splitlines() == [
        "INFO auditor.progress: audited 1/3 accounts: x:AcmeHelp (4,021 posts), ETA 4 min",
        "INFO auditor.progress: audited 2/3 accounts: x:AcmeOther (1 post), ETA 2 min",
        "INFO auditor.progress: audited 3/3 accounts: x:BetaHelp (0 posts)",
    ]


def test_json_lines_carry_the_progress_fields(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    progress = Progress.for_stream(FakeTty(), "json", clock=clock)
    configure_logging("json", progress.log_level)
    before = datetime.now(UTC)
    progress.start(4, "audited")
    clock.now += 90
    progress.account_done("Acme", "x:AcmeHelp", 4021)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["level"] == "INFO" and line["logger"] == "auditor.progress"
    assert line["message"] == "audited 1/4 accounts: x:AcmeHelp (4,021 posts), ETA 5 min"
    logged_at = datetime.fromisoformat(line["time"])
    assert logged_at.utcoffset() == timedelta(0)
    assert before.replace(microsecond=0) <= logged_at <= datetime.now(UTC)
    assert {k: line[k] for k in ("event", "client", "account", "done", "total", "posts")} == {
        "event": "account_audited",
        "client": "Acme",
        "account": "x:AcmeHelp",
        "done": 1,
        "total": 4,
        "posts": 4021,
    }
    assert line["eta_seconds"] == 270  # 90 s an account, 3 left


def test_json_lines_carry_any_extra_field_and_the_exception(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", logging.INFO)
    log = logging.getLogger("auditor.scheduler.test")
    log.info("audit started", extra={"event": "audit_started", "client": "Acme", "run_id": "r1"})
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("audit failed", extra={"client": "Acme"})
    started, failed = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert started["event"] == "audit_started" and started["run_id"] == "r1"
    assert started["message"] == "audit started"
    assert failed["level"] == "ERROR" and "ValueError: bad value" in failed["exception"]


def test_libraries_stay_at_warning_when_the_auditor_logs_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("text", logging.INFO)
    logging.getLogger("httpx").info("HTTP Request: GET https://api.example/")
    logging.getLogger("auditor.fetch.http").info("x profile: HTTP 503; retry 1 in 2.0s")
    assert capsys.readouterr().err.splitlines() == [
        "INFO auditor.fetch.http: x profile: HTTP 503; retry 1 in 2.0s"
    ]


# --- tokens, hostile text, one handler ---------------------------------------------------------


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_token_never_reaches_a_log_line(
    capsys: pytest.CaptureFixture[str], log_format: Any
) -> None:
    token = Secret("AAAAprogress-log-token-7f31c2")
    configure_logging(log_format, logging.INFO)
    logging.getLogger("auditor.test").warning(
        "GET https://api.example/?access_token=%s failed",
        token.reveal(),
        extra={"url": f"https://api.example/?access_token={token.reveal()}", "tries": 2},
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert token.reveal() not in err and "access_token=***" in err
    if log_format == "json":
        line = json.loads(err)
        assert line["url"] == "https://api.example/?access_token=***" and line["tries"] == 2
        assert line["message"] == "GET https://api.example/?access_token=*** failed"


def test_hostile_values_cannot_act_on_the_terminal_or_forge_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for log_format in LOG_FORMATS:
        configure_logging(log_format, logging.INFO)
        progress = Progress.for_stream(io.StringIO(), log_format, clock=Clock())
        progress.start(1)
        progress.account_done(HOSTILE, f"x:{HOSTILE}", 1)
    text_line, json_line = capsys.readouterr().err.splitlines()
    for raw in (text_line, json_line):
        assert "\x1b" not in raw and "\x07" not in raw and "\r" not in raw
    assert "x:Acme\\x1b]0;pwned\\x07\\x0dERROR forged (1 post)" in text_line
    assert json.loads(json_line)["client"] == HOSTILE  # JSON keeps the value, escaped


def test_configuring_twice_or_after_guard_logs_prints_each_record_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    guard_logs()
    configure_logging("json")
    configure_logging("text")
    configure_logging("text")
    logging.getLogger("auditor.test").warning("once")
    assert capsys.readouterr().err == "WARNING auditor.test: once\n"


def test_eta_words() -> None:
    assert [eta_words(s) for s in (0, 59, 60, 61, 3540, 3600, 3601, 7200 + 300)] == [
        "under 1 min",
        "under 1 min",
        "1 min",
        "2 min",
        "59 min",
        "1 h",
        "1 h 1 min",
        "2 h 5 min",
    ]


# --- the engine's account stream ---------------------------------------------------------------


def _run() -> AuditResult:
    return AuditResult("0", "run1", datetime(2026, 11, 16, tzinfo=UTC), "c.yaml", "sha", None, {})


def test_the_progress_writer_writes_no_file(tmp_path: Path) -> None:
    def written(with_progress: bool) -> list[Path]:
        out = tmp_path / f"out-{with_progress}"
        progress = Progress.for_stream(io.StringIO(), quiet=True)
        writers: list[Any] = [JsonReports(out)]
        if with_progress:
            writers.insert(0, ProgressWriter(progress, 2))
        reports = Reports(writers)
        run = _run()
        reports.begin(run)
        for account in (_account("Acme", "a", 3), _account("Beta", "b", 4)):
            run.add(account, keep=False)
            reports.account(account)
        reports.end(run)
        return [p.relative_to(out) for p in reports.written]

    without = written(with_progress=False)
    assert without  # the JSON writer wrote something to compare
    assert written(with_progress=True) == without


class PrintingWriter:
    """A writer that prints as it goes, as the terminal table does."""

    def __init__(self, stream: FakeTty) -> None:
        self.stream = stream
        self.aborted = False

    def begin(self, run: AuditResult) -> None:
        self.stream.write("Client / account\n")

    def account(self, account: AccountResult) -> None:
        self.stream.write(f"{account.key}  pass\n")

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        self.stream.write("all passed\n")
        return []

    def abort(self) -> None:
        self.aborted = True


def test_a_printing_writer_prints_above_the_status_line(terminal: FakeTty) -> None:
    table = PrintingWriter(terminal)
    clock = Clock()
    writer = ProgressWriter(Progress.for_stream(terminal, clock=clock), 2, printing=table)
    run = _run()
    writer.begin(run)
    clock.now += 1
    writer.account(_account("Acme", "a", 3))
    assert screen(terminal.getvalue()) == [
        "Client / account",
        "x:a  pass",
        "audited 1/2 accounts · 3 posts · x:a · ETA under 1 min",
    ]
    writer.account(_account("Acme", "b", 4))
    assert writer.end(run, run.totals()) == []
    assert screen(terminal.getvalue()) == [
        "Client / account",
        "x:a  pass",
        "x:b  pass",
        "all passed",
        "",
    ]
    writer.abort()
    assert table.aborted


def test_the_engine_streams_each_account_to_the_progress(
    tmp_path: Path,
    write_bundle_file: WriteBundle,
    write_config: WriteConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="auditor.progress")
    acme = write_bundle_file("acme.jsonl", healthy_account("AcmeHelp"))
    beta = write_bundle_file("beta.jsonl", healthy_account("BetaHelp"))
    config_path = write_config(
        f"""
        clients:
          - name: Acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {acme}}}
          - name: Beta
            accounts:
              - {{platform: x, handle: BetaHelp, source: {beta}}}
        """
    )
    config = load_config(config_path, load_registry())
    progress = Progress.for_stream(io.StringIO(), clock=Clock())
    sink = Reports([ProgressWriter(progress, 2), JsonReports(tmp_path / "out")])
    Engine(config, load_registry(), workers=1).run(sink=sink)
    steps = [r for r in caplog.records if r.name == "auditor.progress"]
    reports = read_reports(tmp_path / "out")
    expected = [
        (client, f"x:{a['account']}", a["coverage"]["posts"])
        for client in ("Acme", "Beta")  # config order, as the engine hands accounts on
        for a in reports[client]["accounts"]
    ]
    assert [(r.client, r.account, r.posts) for r in steps] == expected  # type: ignore[attr-defined]
    assert [(r.done, r.total) for r in steps] == [(1, 2), (2, 2)]  # type: ignore[attr-defined]
    assert all(posts > 0 for *_, posts in expected)


# --- auditor fetch ------------------------------------------------------------------------------


def test_fetch_logs_json_lines_and_keeps_its_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("AUDITOR_TEST_MASTODON_TOKEN", MASTODON_TOKEN)
    clock = ManualClock(NOW.timestamp())
    monkeypatch.setattr(fetch_module, "default_clock", lambda: clock)
    config = write_fetch_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/"))
    result = CliRunner().invoke(app, ["fetch", str(config), "--log-format", "json"])
    assert result.exit_code == 0, result.output
    logged = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    steps = [line for line in logged if line["logger"] == "auditor.progress"]
    fetched = [line for line in result.stdout.splitlines() if line.startswith("fetched ")]
    assert len(fetched) == 2  # the command's own output on stdout is as before
    assert [(s["event"], s["done"], s["total"]) for s in steps] == [
        ("account_fetched", 1, 2),
        ("account_fetched", 2, 2),
    ]
    for step in steps:  # each as its stdout line says: "fetched KEY: N pages, P posts ..."
        assert f"fetched {step['account']}: " in result.stdout
        assert re.search(
            rf"fetched {re.escape(step['account'])}: \d+ pages, {step['posts']} posts",
            result.stdout,
        )
    assert X_TOKEN not in result.stderr and MASTODON_TOKEN not in result.stderr
