"""Notifications after a run: a webhook (a Slack-compatible JSON POST, signed when a secret is
named) and an email (report.md as the body, report.html attached), per client, retried with
a bounded backoff; a failure is a :class:`Delivery` that says why, never an exception.

``summary`` makes a client's :class:`RunSummary` from its report.json and the Slack payload,
``channel`` reads the secrets a channel needs when it sends, ``webhook`` and ``email`` send
one attempt each, ``deliver`` retries them and says how each went (docs/notifications.md).

May import ``auditor.config``, ``auditor.result``, ``auditor.fetch.secrets`` (every secret
read is registered for redaction), ``auditor.untrusted``, ``auditor.wording`` and
``auditor.fsutil``; never the command line, the engine or the store: the command that ran
the audit calls :func:`notify_run` and records what it returns.
"""

from auditor.notify.deliver import Delivery, notify, notify_run
from auditor.notify.summary import FailingCheck, RunSummary, SummaryError, slack_payload, summarize

__all__ = [
    "Delivery",
    "FailingCheck",
    "RunSummary",
    "SummaryError",
    "notify",
    "notify_run",
    "slack_payload",
    "summarize",
]
