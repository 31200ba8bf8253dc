"""The config's ``notify`` sections (docs/notifications.md): who hears about a client's runs.

``notify`` at the top level is every client's; a client's own ``notify`` replaces it whole
(``{}`` or ``null``: none for that client). Secrets (a signing secret, an SMTP password, a
webhook URL that is one) are named here, by environment variable or file, and read only when
a notification is sent (auditor.notify); one written into the config is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.config_secrets import SecretSource, reject_inline_secrets, secret_source
from auditor.yaml_document import PathPart, YamlDocument

__all__ = ["SecretSource"]

SMTP_SUBMISSION_PORT = 587


@dataclass(frozen=True)
class WebhookConfig:
    url: SecretSource
    # Signs each POST (HMAC-SHA256) when set.
    secret: SecretSource | None = None


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = SMTP_SUBMISSION_PORT
    starttls: bool = True
    # Logs in only when a password is named too.
    user: str | None = None
    password: SecretSource | None = None


@dataclass(frozen=True)
class EmailConfig:
    to: tuple[str, ...]
    sender: str
    smtp: SmtpConfig


@dataclass(frozen=True)
class NotifyConfig:
    """A client's notifications; neither channel: nobody is notified."""

    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None

    @property
    def enabled(self) -> bool:
        return self.webhook is not None or self.email is not None


def reject_inline_notify_secrets(document: YamlDocument) -> None:
    """A password or signing secret written into a ``notify`` section is refused (before the
    schema would call it an unknown key), naming the ``_env`` / ``_file`` keys to use."""
    clients = _get(document.data, "clients")
    sections: list[list[PathPart]] = [["notify"]]
    sections += (
        [["clients", ci, "notify"] for ci in range(len(clients))]
        if isinstance(clients, list)
        else []
    )
    for where in sections:
        notify = _at(document.data, where)
        email = _get(notify, "email")
        places = [
            (where, notify),
            ([*where, "webhook"], _get(notify, "webhook")),
            ([*where, "email"], email),
            ([*where, "email", "smtp"], _get(email, "smtp")),
        ]
        reject_inline_secrets(document, places)


def notify_config(
    document: YamlDocument, where: list[PathPart], base: Path, default: NotifyConfig
) -> NotifyConfig:
    """The (schema-valid) ``notify`` section at ``where``, or ``default`` where there is none;
    relative files are taken from ``base``, the config's folder."""
    owner = _at(document.data, where[:-1])
    if where[-1] not in owner:
        return default
    section = owner[where[-1]] or {}
    webhook = email = None
    if "webhook" in section:
        hook: list[PathPart] = [*where, "webhook"]
        url = secret_source(document, hook, base, section["webhook"], "url")
        if url is None:
            raise document.error(hook, "name the webhook's url, url_env or url_file")
        secret = secret_source(document, hook, base, section["webhook"], "secret")
        webhook = WebhookConfig(url, secret)
    if "email" in section:
        mail, smtp = section["email"], section["email"]["smtp"]
        password = secret_source(document, [*where, "email", "smtp"], base, smtp, "password")
        if password is not None and "user" not in smtp:
            raise document.error([*where, "email", "smtp"], "a password needs a user to log in as")
        email = EmailConfig(
            to=tuple(mail["to"]),
            sender=mail["from"],
            smtp=SmtpConfig(
                host=smtp["host"],
                port=smtp.get("port", SMTP_SUBMISSION_PORT),
                starttls=smtp.get("starttls", True),
                user=smtp.get("user"),
                password=password,
            ),
        )
    return NotifyConfig(webhook, email)


def _at(value: Any, parts: Sequence[PathPart]) -> Any:
    for part in parts:
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and part < len(value) else None
        else:
            value = _get(value, part)
    return value


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None
