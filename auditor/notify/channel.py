"""What every channel shares: the failure of one attempt, and reading a secret when sending
(or, for ``auditor config validate --secrets``, checking that each is there)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.config_secrets import SecretSource
from auditor.fetch import secrets as fetch_secrets
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
    """The secret ``source`` names (:func:`auditor.fetch.secrets.read_secret`); missing: a
    permanent failure naming its key."""
    try:
        return fetch_secrets.read_secret(source)
    except fetch_secrets.SecretUnavailable as error:
        raise AttemptFailed(str(error), permanent=True) from None


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
