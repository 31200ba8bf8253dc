"""Secrets the config names but never holds: ``NAME_env`` (an environment variable) or
``NAME_file`` (a file, relative to the config's folder), and where each is written.

Notifications (auditor/config_notify.py), the history store's database password, the Celery
broker's and the shared rate limiter's Redis passwords are all named this way; each is read
only when it is needed (:func:`auditor.fetch.secrets.read_secret`) and registered for
redaction from then on.
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


@dataclass(frozen=True)
class SecretSource:
    """Where a secret is: an environment variable or a file, read only when needed. ``value``
    is for a setting written in the config that may be a secret elsewhere (a webhook's url);
    ``key`` is its key path (``clients[0].notify.webhook.secret_env``), which every message
    about it names."""

    key: str
    env: str | None = None
    file: Path | None = None
    value: str | None = None


def secret_source(
    document: YamlDocument, where: list[PathPart], base: Path, section: Mapping[str, Any], name: str
) -> SecretSource | None:
    """The one of ``name``, ``name_env``, ``name_file`` that ``section`` (at ``where``) names
    (``name`` itself only where the schema allows a value in the config: a webhook's url);
    relative files are taken from ``base``, the config's folder."""
    named = [key for key in (name, f"{name}_env", f"{name}_file") if key in section]
    if len(named) > 1:
        raise document.error([*where, named[1]], f"name either {named[0]} or {named[1]}, not both")
    if not named:
        return None
    key, value = named[0], section[named[0]]
    return SecretSource(
        key=key_path([*where, key]),
        env=value if key.endswith("_env") else None,
        file=resolve_path(base, value) if key.endswith("_file") else None,
        value=value if key == name else None,
    )


def reject_inline_secrets(
    document: YamlDocument,
    places: Sequence[tuple[list[PathPart], Any]],
    *,
    tokens: bool = False,
) -> None:
    """A password, token or secret written into one of the mappings ``places`` names is refused
    (before the schema would call it an unknown key), naming the ``_env`` / ``_file`` keys to
    use instead (``token_env`` / ``token_file`` where ``tokens``: an account's source)."""
    for parts, mapping in places:
        for key in mapping if isinstance(mapping, Mapping) else ():
            if str(key).lower() not in SECRET_KEYS:
                continue
            if tokens:
                advice = (
                    "tokens never go in the config: name an environment variable "
                    "(token_env: X_BEARER_TOKEN) or a file (token_file: path) instead"
                )
            else:
                stem = "password" if "password" in str(key).lower() else "secret"
                advice = (
                    "secrets never go in the config: name an environment variable "
                    f"({stem}_env: NAME) or a file ({stem}_file: path) instead"
                )
            raise document.error([*parts, str(key)], advice)


def resolve_path(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def key_path(parts: Sequence[PathPart]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
