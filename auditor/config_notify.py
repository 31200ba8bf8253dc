"""The config's ``notify`` sections (docs/notifications.md): who hears about a client's runs.

``notify`` at the top level is every client's; a client's own ``notify`` replaces it whole
(``{}`` or ``null``: none for that client). Secrets (a signing secret, an SMTP password, a
webhook URL that is one) are named here, by environment variable or file, and read only when
a notification is sent (auditor.notify); one written into the config is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.yaml_document import PathPart, YamlDocument

# Keys that would put a secret into the config file itself.
SECRET_KEYS = frozenset(
    {"token", "access_token", "bearer_token", "api_key", "secret", "password", "app_password"}
)
SMTP_SUBMISSION_PORT = 587


@dataclass(frozen=True)
class SecretSource:
    """Where a notification's secret is: an environment variable or a file, read only when
    sending. ``value`` is for a webhook ``url`` written in the config, the one such setting
    that may be; ``key`` is its key path (``clients[0].notify.webhook.secret_env``), which
    every message about it names."""

    key: str
    env: str | None = None
    file: Path | None = None
    value: str | None = None


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
        for parts, mapping in places:
            for key in mapping if isinstance(mapping, Mapping) else ():
                if str(key).lower() in SECRET_KEYS:
                    stem = "password" if "password" in str(key).lower() else "secret"
                    raise document.error(
                        [*parts, str(key)],
                        "secrets never go in the config: name an environment variable "
                        f"({stem}_env: NAME) or a file ({stem}_file: path) instead",
                    )


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
        url = _secret_source(document, hook, base, section["webhook"], "url")
        if url is None:
            raise document.error(hook, "name the webhook's url, url_env or url_file")
        secret = _secret_source(document, hook, base, section["webhook"], "secret")
        webhook = WebhookConfig(url, secret)
    if "email" in section:
        mail, smtp = section["email"], section["email"]["smtp"]
        password = _secret_source(document, [*where, "email", "smtp"], base, smtp, "password")
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


def _secret_source(
    document: YamlDocument, where: list[PathPart], base: Path, section: Mapping[str, Any], name: str
) -> SecretSource | None:
    """The one of ``name``, ``name_env``, ``name_file`` that ``section`` names (``name`` itself
    only where the schema allows a value in the config: a webhook's url)."""
    named = [key for key in (name, f"{name}_env", f"{name}_file") if key in section]
    if len(named) > 1:
        raise document.error([*where, named[1]], f"name either {named[0]} or {named[1]}, not both")
    if not named:
        return None
    key, value = named[0], section[named[0]]
    return SecretSource(
        key=_key_path([*where, key]),
        env=value if key.endswith("_env") else None,
        file=_resolve(base, value) if key.endswith("_file") else None,
        value=value if key == name else None,
    )


def _resolve(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _key_path(parts: Sequence[PathPart]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def _at(value: Any, parts: Sequence[PathPart]) -> Any:
    for part in parts:
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and part < len(value) else None
        else:
            value = _get(value, part)
    return value


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None
