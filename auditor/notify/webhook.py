"""The webhook: one JSON POST of the Slack-compatible payload, signed when a secret is named.

The signature: ``X-Auditor-Timestamp: <unix seconds>`` and ``X-Auditor-Signature:
sha256=<hex HMAC-SHA256, keyed by the secret, of "<timestamp>.<body>">``; a receiver recomputes
it over the body bytes it got and rejects an old timestamp (docs/notifications.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import orjson

from auditor.config_notify import WebhookConfig
from auditor.fetch.secrets import Secret, server_text
from auditor.notify.channel import AttemptFailed, read_secret
from auditor.notify.summary import RunSummary, slack_payload

TIMEOUT_SECONDS = 10.0
SIGNATURE_HEADER = "X-Auditor-Signature"
TIMESTAMP_HEADER = "X-Auditor-Timestamp"
# Client errors that another attempt may get past: a timeout, too early, too many requests.
_TRANSIENT_4XX = frozenset({408, 425, 429})
# What is read of an error's body (the line keeps less: auditor.untrusted.MAX_SERVER_TEXT).
_ERROR_BODY_BYTES = 4096


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``<timestamp>.<body>`` keyed by ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def send(
    config: WebhookConfig,
    summary: RunSummary,
    *,
    now: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """POST the summary; raises :class:`AttemptFailed` unless the server answers 2xx."""
    url = read_secret(config.url)
    secret = read_secret(config.secret) if config.secret is not None else None
    body = orjson.dumps(slack_payload(summary))
    headers = {"Content-Type": "application/json", "User-Agent": "social-care-auditor"}
    if secret is not None:
        timestamp = int(now())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = signature(secret.reveal(), timestamp, body)
    host = urlsplit(url.reveal()).hostname or "the webhook"
    try:
        # A redirect is not a delivery: where it points was not configured.
        with (
            httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client,
            client.stream("POST", url.reveal(), content=body, headers=headers) as response,
        ):
            if response.is_success:
                return
            status, text = response.status_code, _head(response) or response.reason_phrase
    except httpx.HTTPError as error:
        raise AttemptFailed(
            _said(f"{host}: {type(error).__name__}: {error}", url, secret)
        ) from None
    raise AttemptFailed(
        f"{host} answered HTTP {status}: {_said(text, url, secret)}",
        permanent=400 <= status < 500 and status not in _TRANSIENT_4XX,
    )


def _head(response: httpx.Response) -> str:
    """The start of an error's body: enough to say why, never a whole page held in memory."""
    read = b""
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= _ERROR_BODY_BYTES:
            break
    return read[:_ERROR_BODY_BYTES].decode("utf-8", "replace").strip()


def _said(text: str, url: Secret, secret: Secret | None) -> str:
    """What a server (or the connection) said, the URL and the secret masked, on one line."""
    return " ".join(server_text(text, [url, secret]).split())
