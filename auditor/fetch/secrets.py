"""API tokens: where they come from, and keeping them out of every log, error and result.

A token is wrapped in :class:`Secret` the moment it is read; its ``str`` and ``repr`` are
``***`` so that an f-string, a dataclass repr or a traceback of local variables cannot leak it.
Every secret read is also registered, so that :func:`redact` and :class:`RedactingFilter` can
scrub its value from text that reached it by some other way (a URL with ``access_token=``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditor.config_secrets import SecretSource
from auditor.untrusted import clip, escape_controls

MASK = "***"

_registry_lock = threading.Lock()
_registered: set[str] = set()


class Secret:
    """A token value that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)

    def reveal(self) -> str:
        """The value, for the one place that needs it: the outgoing request."""
        return self._value

    def fingerprint(self) -> str:
        """A short stable name for grouping (one semaphore per token) that reveals nothing."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return MASK

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        # Pickling (multiprocessing, caches) would write the value out in the clear.
        raise TypeError("Secret values cannot be pickled")


def register(value: str) -> None:
    """Make :func:`redact` (with no explicit list) and the log filter scrub ``value``."""
    # Very short values would turn every log line into asterisks and protect nothing.
    if len(value) >= 4:
        with _registry_lock:
            _registered.add(value)


def registered() -> list[str]:
    with _registry_lock:
        # Longest first, so that a token containing another is masked whole.
        return sorted(_registered, key=len, reverse=True)


def redact(text: str, secrets: Iterable[Secret | str] | None = None) -> str:
    """``text`` with every given secret (default: every registered one) replaced by ``***``,
    also where it appears URL-encoded (a token echoed in a URL or a path)."""
    values = registered() if secrets is None else [_value_of(s) for s in secrets]
    for form in _masked_forms(tuple(values)):
        text = text.replace(form, MASK)
    return text


@lru_cache(maxsize=64)
def _masked_forms(values: tuple[str, ...]) -> tuple[str, ...]:
    """Each value as it is and URL-encoded, longest first (a token containing another is
    masked whole). Cached: redaction runs on every string of every fetched record."""
    forms = {form for value in values if value for form in (value, quote(value, safe=""))}
    return tuple(sorted(forms, key=len, reverse=True))


def server_text(text: str, secrets: Iterable[Secret | None] = ()) -> str:
    """What a server said (an error detail, a title, a reason built on a body), fit to keep.

    Every registered secret and every one of ``secrets`` is masked first (a server may echo the
    request's Authorization header into its error), then the text is cut to
    :data:`~auditor.untrusted.MAX_SERVER_TEXT` characters: in that order, so that a cut never
    leaves part of a token behind. Every such string passes here before it is stored, written,
    logged or printed.
    """
    given = [s for s in secrets if s is not None]
    return clip(redact(redact(text), given))


def _value_of(secret: Secret | str) -> str:
    return secret.reveal() if isinstance(secret, Secret) else secret


class RedactingFilter(logging.Filter):
    """Scrubs every registered secret from a record's message, arguments and traceback, and
    escapes their control characters (``\\x1b``: a logged value cannot act on the terminal
    that shows the log, nor start a forged line of its own).

    Install it on handlers (:func:`install_log_redaction`): filters on a logger do not see
    records that propagate up from child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = escape_controls(redact(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = escape_controls(redact(record.exc_text), keep_newlines=True)
        if record.stack_info:
            record.stack_info = escape_controls(redact(record.stack_info), keep_newlines=True)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Adds one :class:`RedactingFilter` to every handler of ``logger`` (default: root)."""
    target = logger or logging.getLogger()
    redacting = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
    return redacting


@dataclass(frozen=True, slots=True)
class TokenLookup:
    """A token, or why there is none (a sentence naming the variable or file, never a value)."""

    secret: Secret | None
    problem: str | None = None


def load_token(
    options: Mapping[str, Any],
    *,
    default_env: str = "",
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> TokenLookup:
    """Reads the token an account's options name: ``token_env`` or ``token_file``.

    With neither, ``default_env`` (the platform's usual variable) is tried. Relative files are
    taken from ``base_dir`` (the config file's folder).
    """
    env = os.environ if environ is None else environ
    token_file = options.get("token_file")
    if token_file:
        return _token_from_file(Path(str(token_file)), base_dir)
    variable = str(options.get("token_env") or default_env)
    if not variable:
        return TokenLookup(None, "missing token: no token_env or token_file configured")
    value = env.get(variable, "").strip()
    if not value:
        return TokenLookup(None, f"missing token: env {variable} not set")
    return TokenLookup(Secret(value))


def _token_from_file(path: Path, base_dir: Path | None) -> TokenLookup:
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        return TokenLookup(None, f"missing token: file {path} unreadable ({exc.strerror})")
    if not value:
        return TokenLookup(None, f"missing token: file {path} is empty")
    return TokenLookup(Secret(value))


class SecretUnavailable(Exception):
    """A secret the config names is not there: the message names its key and the variable or
    file, never a value."""


def read_secret(source: SecretSource) -> Secret:
    """The secret ``source`` names, read now and registered for redaction (every log line and
    error scrubs it from then on); missing or empty: :class:`SecretUnavailable`."""
    if source.value is not None:
        return Secret(source.value)
    if source.file is not None:
        try:
            value = source.file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SecretUnavailable(
                f"{source.key}: cannot read {source.file} ({error.strerror})"
            ) from None
        if not value:
            raise SecretUnavailable(f"{source.key}: {source.file} is empty")
        return Secret(value)
    name = source.env or ""
    value = os.environ.get(name, "").strip()
    if not value:
        raise SecretUnavailable(f"{source.key}: environment variable {name} is not set")
    return Secret(value)
