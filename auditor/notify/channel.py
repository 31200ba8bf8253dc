"""What every channel shares: the failure of one attempt, and reading a secret when sending
(or, for ``auditor config validate --secrets``, checking that each is there)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.config_notify import SecretSource
from auditor.fetch.secrets import Secret

if TYPE_CHECKING:
    from auditor.config import ClientConfig


class AttemptFailed(Exception):
    """One attempt of a channel failed: ``message`` says why in one line; ``permanent`` when
    trying again cannot help (a missing secret, a 404, a refused login)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def read_secret(source: SecretSource) -> Secret:
    """The secret ``source`` names, read now and registered for redaction (every log line and
    error scrubs it from then on); missing: a permanent failure naming its key."""
    if source.value is not None:
        return Secret(source.value)
    if source.file is not None:
        try:
            value = source.file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise AttemptFailed(
                f"{source.key}: cannot read {source.file} ({error.strerror})", permanent=True
            ) from None
        if not value:
            raise AttemptFailed(f"{source.key}: {source.file} is empty", permanent=True)
        return Secret(value)
    name = source.env or ""
    value = os.environ.get(name, "").strip()
    if not value:
        raise AttemptFailed(f"{source.key}: environment variable {name} is not set", permanent=True)
    return Secret(value)


def missing_secrets(clients: Sequence[ClientConfig]) -> tuple[int, list[str]]:
    """Every secret the clients' notifications name present (``config validate --secrets``)?
    Returns (secrets checked, one line per problem); reads them, never shows them. A section
    the clients share (the top-level ``notify``) is checked once."""
    sources: dict[str, SecretSource] = {}
    for client in clients:
        hook, mail = client.notify.webhook, client.notify.email
        named = [
            hook.url if hook is not None and hook.url.value is None else None,
            hook.secret if hook is not None else None,
            mail.smtp.password if mail is not None else None,
        ]
        for source in named:
            if source is not None:
                sources.setdefault(source.key, source)
    problems = []
    for source in sources.values():
        try:
            read_secret(source)
        except AttemptFailed as failed:
            problems.append(failed.message)
    return len(sources), problems
