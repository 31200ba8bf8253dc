"""How a long run shows itself: the log handler every command writes through, in plain text or
JSON lines, and the progress of a run (accounts done of all, posts, the current account, an ETA).

On a terminal, progress is one status line redrawn in place on stderr and erased at the end; in
a log (stderr not a terminal, or ``--log-format json``) it is one INFO line per account. Every
log line passes the token redaction first (:class:`auditor.fetch.secrets.RedactingFilter` on the
handler, and the JSON lines' extra fields redacted here), and every value from outside (a name,
a handle) is escaped before it reaches a terminal. See docs/logging.md.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from threading import Timer
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

from auditor.fetch.secrets import install_log_redaction, redact
from auditor.untrusted import escape_controls
from auditor.wording import plural

if TYPE_CHECKING:
    from auditor.reports.stream import ReportWriter
    from auditor.result import AccountResult, AuditResult, Totals

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

Clock = Callable[[], float]

# A slow terminal (a serial console, ssh over a bad link) must not spend the run redrawing.
REDRAW_EVERY_SECONDS = 0.1
_CLEAR_LINE = "\r\x1b[K"  # back to the line's start, and erase to its end


# --- logging ------------------------------------------------------------------------------


# What every record has; anything else on a record came as ``extra`` (client, account, event).
_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class TextLogFormatter(logging.Formatter):
    """``LEVEL logger: message``, the message's control characters escaped (one line each);
    ``timed``: after the record's time, UTC, ISO 8601 (a daemon's log file needs it)."""

    def __init__(self, timed: bool = False) -> None:
        super().__init__(f"%(asctime)s {TEXT_FORMAT}" if timed else TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601 with its offset), ``level``,
    ``logger``, ``message``, then the record's ``extra`` fields, every string redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name, value in record.__dict__.items():
            if name not in _RECORD_FIELDS and name not in line:
                line[name] = _json_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(record.stack_info)
        # json.dumps escapes every control character (\u001b): a value cannot break the line.
        return json.dumps(line, ensure_ascii=False)


def _json_value(value: object) -> object:
    """An extra field as JSON keeps it: figures as they are, anything else as redacted text
    (a field may hold a URL or an error that carries a token)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return redact(str(value))


class StderrLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (test runners swap it), and
    lifts a live status line out of the way of the record."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        with _status_lines_hidden():
            super().emit(record)


def configure_logging(
    log_format: LogFormat = "text", level: int = logging.WARNING, *, timed: bool = False
) -> None:
    """Logs go to stderr through one handler, in ``log_format``, at ``level`` and above for the
    auditor's own loggers (libraries stay at WARNING: httpx logs every request at INFO), with
    the token redaction installed. Replaces the stderr handler a previous call (or
    ``guard_logs``) installed, so that calling it again does not print a record twice."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrLogHandler) or _writes_to_stderr(handler):
            root.removeHandler(handler)
    handler = StderrLogHandler()
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else TextLogFormatter(timed))
    root.addHandler(handler)
    # Below the root's level the auditor's loggers need their own; at or above it, none, so
    # that a later caller (a test's caplog) can still lower the root's.
    auditor = logging.getLogger("auditor")
    auditor.setLevel(level if level < root.getEffectiveLevel() else logging.NOTSET)
    install_log_redaction(root)


def _writes_to_stderr(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return stream is not None and stream in (sys.stderr, sys.__stderr__)


# --- progress -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """Where a run stands after one more account: what the faces show."""

    verb: str  # "audited", "fetched"
    client: str
    account: str
    posts: int
    done: int
    total: int
    posts_so_far: int
    eta_seconds: float  # 0 once every account is done


def eta_words(seconds: float) -> str:
    """'under 1 min', '2 min' (rounded up), '1 h 5 min'."""
    if seconds < 60:
        return "under 1 min"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class _Face(Protocol):
    def started(self, verb: str, total: int) -> None: ...

    def current(self, account: str) -> None: ...

    def step(self, step: Step) -> None: ...

    def finished(self) -> None: ...


class Progress:
    """A run's progress: ``start`` with the number of accounts, ``account_done`` after each
    (``account_started`` names the one under way, where the caller knows it), ``finish``.

    Make one with :meth:`for_stream`; its face is a status line on a terminal, log lines
    otherwise, or nothing (quiet). The ETA is the mean time per account so far times the
    accounts left, from ``clock`` (``time.monotonic``; tests pass their own)."""

    def __init__(self, face: _Face, clock: Clock = time.monotonic) -> None:
        self._face = face
        self._clock = clock
        self._verb = "audited"
        self._total = 0
        self._done = 0
        self._posts = 0
        self._started_at = 0.0

    @classmethod
    def for_stream(
        cls,
        stream: TextIO,
        log_format: LogFormat = "text",
        *,
        quiet: bool = False,
        clock: Clock = time.monotonic,
        environ: Mapping[str, str] = os.environ,
    ) -> Progress:
        """A status line on ``stream`` when it is a terminal (not ``TERM=dumb``) and the logs
        are text; one INFO log line per account otherwise (JSON lines stay parseable: no
        status line is drawn among them); nothing when ``quiet``."""
        if quiet:
            return cls(_Silent(), clock)
        on_terminal = stream.isatty() and environ.get("TERM", "") != "dumb"
        if on_terminal and log_format == "text":
            return cls(_StatusLine(stream, clock), clock)
        return cls(_LogLines(), clock)

    @property
    def live(self) -> bool:
        """A status line on a terminal (not log lines, not silent)."""
        return isinstance(self._face, _StatusLine)

    @property
    def log_level(self) -> int:
        """The level ``configure_logging`` should show: INFO where progress is log lines (they
        are INFO records), WARNING under a status line or when quiet."""
        return logging.INFO if isinstance(self._face, _LogLines) else logging.WARNING

    def start(self, total_accounts: int, verb: str = "audited") -> None:
        self._verb, self._total = verb, total_accounts
        self._done = self._posts = 0
        self._started_at = self._clock()
        self._face.started(verb, total_accounts)

    def account_started(self, key: str) -> None:
        self._face.current(key)

    def account_done(self, client: str, key: str, posts: int) -> None:
        self._done += 1
        self._posts += posts
        elapsed = self._clock() - self._started_at
        left = max(0, self._total - self._done)
        eta = elapsed / self._done * left
        self._face.step(
            Step(self._verb, client, key, posts, self._done, self._total, self._posts, eta)
        )

    def finish(self) -> None:
        self._face.finished()


class _Silent:
    def started(self, verb: str, total: int) -> None:
        pass

    def current(self, account: str) -> None:
        pass

    def step(self, step: Step) -> None:
        pass

    def finished(self) -> None:
        pass


class _LogLines:
    """One INFO record per account, its figures as extra fields (JSON lines carry them)."""

    log = logging.getLogger("auditor.progress")

    def started(self, verb: str, total: int) -> None:
        pass

    def current(self, account: str) -> None:
        pass

    def step(self, step: Step) -> None:
        eta = f", ETA {eta_words(step.eta_seconds)}" if step.eta_seconds else ""
        self.log.info(
            "%s %d/%d %s: %s (%s %s)%s",
            step.verb,
            step.done,
            step.total,
            plural(step.total, "account"),
            step.account,
            f"{step.posts:,}",
            plural(step.posts, "post"),
            eta,
            extra={
                "event": f"account_{step.verb}",
                "client": step.client,
                "account": step.account,
                "done": step.done,
                "total": step.total,
                "posts": step.posts,
                "eta_seconds": round(step.eta_seconds),
            },
        )

    def finished(self) -> None:
        pass


# The status lines being shown: a log record erases them, is written, and redraws them.
_live_lines: list[_StatusLine] = []
_live_lock = threading.RLock()


@contextmanager
def _status_lines_hidden() -> Iterator[None]:
    with _live_lock:
        for line in _live_lines:
            line.erase()
        try:
            yield
        finally:
            for line in _live_lines:
                line.redraw()


class _StatusLine:
    """One line redrawn in place (``\\r``, erase to the end), cut to the terminal's width (a
    wrapped line cannot be redrawn in place), erased at the end. Redrawn at most every
    :data:`REDRAW_EVERY_SECONDS`: a change inside that time is drawn when it is over (a
    timer), so that the line never stays behind the run after a burst of accounts."""

    def __init__(self, stream: TextIO, clock: Clock) -> None:
        self.stream = stream
        self._clock = clock
        self._shown = False  # between started and finished
        self._drawn = False  # on the screen now (not erased for a log record)
        self._last_draw: float | None = None
        self._timer: Timer | None = None
        self._verb = "audited"
        self._total = 0
        self._current = ""
        self._last: Step | None = None

    def started(self, verb: str, total: int) -> None:
        self._verb, self._total = verb, total
        with _live_lock:
            self._shown = True
            if self not in _live_lines:
                _live_lines.append(self)
            self._draw()

    def current(self, account: str) -> None:
        self._current = account
        self._show()

    def step(self, step: Step) -> None:
        self._last, self._current = step, step.account
        self._show()

    def finished(self) -> None:
        with _live_lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.erase()
            self._shown = False
            if self in _live_lines:
                _live_lines.remove(self)

    def erase(self) -> None:
        if self._drawn:
            self.stream.write(_CLEAR_LINE)
            self.stream.flush()
            self._drawn = False

    def redraw(self) -> None:
        """Back after a log record: not counted against the throttle (the record is the
        change), so that the next account's step is not held back by it."""
        if self._shown and not self._drawn:
            last_draw = self._last_draw
            self._draw()
            self._last_draw = last_draw

    def _show(self) -> None:
        with _live_lock:
            if self._timer is not None:
                return  # a redraw is coming: it will show this change too
            since = None if self._last_draw is None else self._clock() - self._last_draw
            if since is None or since >= REDRAW_EVERY_SECONDS:
                self._draw()
            else:
                self._timer = Timer(REDRAW_EVERY_SECONDS - since, self._draw_late)
                self._timer.daemon = True
                self._timer.start()

    def _draw_late(self) -> None:
        with _live_lock:
            self._timer = None
            if self._shown:
                self._draw()

    def _draw(self) -> None:
        self._last_draw = self._clock()
        self.stream.write(_CLEAR_LINE + self._line())
        self.stream.flush()
        self._drawn = True

    def _line(self) -> str:
        step = self._last
        done = step.done if step is not None else 0
        parts = [f"{self._verb} {done}/{self._total} {plural(self._total, 'account')}"]
        if step is not None:
            parts.append(f"{step.posts_so_far:,} {plural(step.posts_so_far, 'post')}")
        if self._current:
            parts.append(escape_controls(self._current))
        if step is not None and step.done < step.total:
            parts.append(f"ETA {eta_words(step.eta_seconds)}")
        # One column short of the width: a line that fills it wraps on some terminals.
        width = shutil.get_terminal_size().columns - 1
        return " · ".join(parts)[: max(width, 1)]


# --- the engine's account stream --------------------------------------------------------------


class ProgressWriter:
    """A :class:`auditor.reports.ReportWriter` that writes no file: each audited account the
    engine streams to the writers moves ``progress`` on (``total``: the accounts chosen).

    ``printing``: a writer that prints to the terminal as it goes (the table); it is run
    inside this one, with the status line lifted, so that its lines do not run into it."""

    def __init__(
        self, progress: Progress, total: int, printing: ReportWriter | None = None
    ) -> None:
        self.progress = progress
        self.total = total
        self.printing = printing

    def begin(self, run: AuditResult) -> None:
        self.progress.start(self.total, "audited")
        if self.printing is not None:
            with _status_lines_hidden():
                self.printing.begin(run)

    def account(self, account: AccountResult) -> None:
        if self.printing is not None:
            with _status_lines_hidden():
                self.printing.account(account)
        self.progress.account_done(account.client, account.key, account.coverage.posts)

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        self.progress.finish()
        return self.printing.end(run, totals) if self.printing is not None else []

    def abort(self) -> None:
        self.progress.finish()
        if self.printing is not None:
            self.printing.abort()
