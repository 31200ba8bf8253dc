"""Delivering a run's notifications: each configured channel tried, retried with a bounded
exponential backoff, and how it went returned as a :class:`Delivery`; never an exception.

A failed attempt is logged (logger ``auditor.notify``) with one line, every secret masked:
the secrets a channel reads are registered for redaction before it sends, and every line is
scrubbed of them here too (a log handler without the redacting filter sees none). With the
defaults a channel that never succeeds is tried 4 times, 2 + 4 + 8 = 14 s apart in all, plus
each attempt's timeout (10 s for the webhook, 30 s for SMTP): a notification never holds the
next client's audit for long, and it never touches the reports already written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from auditor.config_notify import NotifyConfig
from auditor.fetch.secrets import redact
from auditor.notify import email, webhook
from auditor.notify.channel import AttemptFailed
from auditor.notify.summary import RunSummary, SummaryError, summarize
from auditor.result import AuditResult, Totals
from auditor.untrusted import clip, escape_controls

log = logging.getLogger("auditor.notify")

Channel = Literal["webhook", "email"]
ATTEMPTS = 4
FIRST_WAIT_SECONDS = 2.0
# An error line is cut past this: enough for any cause, never a whole echoed page.
_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one channel went: delivered or not, after how many attempts, and why not."""

    channel: Channel
    ok: bool
    attempts: int
    error: str | None = None


def notify(
    config: NotifyConfig,
    summary: RunSummary,
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = ATTEMPTS,
    first_wait: float = FIRST_WAIT_SECONDS,
) -> list[Delivery]:
    """Send ``summary`` by every channel of ``config`` (webhook first, then email)."""
    channels: list[tuple[Channel, Callable[[], None]]] = []
    if config.webhook is not None:
        hook = config.webhook
        channels.append(("webhook", lambda: webhook.send(hook, summary)))
    if config.email is not None:
        mail = config.email
        channels.append(("email", lambda: email.send(mail, summary)))
    return [
        _deliver(channel, send, summary.client, sleep, attempts, first_wait)
        for channel, send in channels
    ]


def notify_run(
    config: NotifyConfig,
    result: AuditResult,
    totals: Totals,
    client: str,
    report_dir: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = ATTEMPTS,
    first_wait: float = FIRST_WAIT_SECONDS,
) -> list[Delivery]:
    """A client's run summarized and notified, as ``run`` and the scheduler call it after a
    run that was not interrupted: [] when the client has no notifications; a report that
    cannot be read fails every channel with its one line."""
    channels: list[Channel] = []
    if config.webhook is not None:
        channels.append("webhook")
    if config.email is not None:
        channels.append("email")
    if not channels:
        return []
    try:
        summary = summarize(result, totals, client, report_dir)
    except SummaryError as error:
        line = _clean(str(error))
        log.error("notify: client %s: no notification sent: %s", escape_controls(client), line)
        return [Delivery(channel, False, 0, line) for channel in channels]
    return notify(config, summary, sleep=sleep, attempts=attempts, first_wait=first_wait)


def _deliver(
    channel: Channel,
    send: Callable[[], None],
    client: str,
    sleep: Callable[[float], None],
    attempts: int,
    first_wait: float,
) -> Delivery:
    who = f"notify: {channel} for client {escape_controls(client)}"
    wait = first_wait
    attempt = 0
    while True:
        attempt += 1
        try:
            send()
        except AttemptFailed as failure:
            line, permanent = _clean(failure.message), failure.permanent
        except Exception as error:  # a bug in a channel: a failed delivery, not a failed run
            line, permanent = _clean(f"{type(error).__name__}: {error}"), True
        else:
            log.info("%s: delivered (attempt %d)", who, attempt)
            return Delivery(channel, True, attempt)
        if permanent or attempt >= attempts:
            log.error("%s: failed after %d attempt(s): %s", who, attempt, line)
            return Delivery(channel, False, attempt, line)
        log.warning(
            "%s: attempt %d of %d failed: %s; retrying in %g s", who, attempt, attempts, line, wait
        )
        sleep(wait)
        wait *= 2


def _clean(text: str) -> str:
    """One line, every registered secret masked, control characters written out, bounded."""
    return clip(escape_controls(" ".join(redact(text).split())), _ERROR_CHARS)
