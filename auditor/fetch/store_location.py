"""Where the config's history store is, with its password read: what every command opens.

The store layer never reads the config or a secret: this turns ``store: {path: ...}`` into an
SQLite file's location and ``store: {url: ..., password_env|password_file: ...}`` into a
PostgreSQL database's, the password read through :func:`auditor.fetch.secrets.read_secret`
(registered for redaction from then on).
"""

from __future__ import annotations

from auditor.config import Config
from auditor.fetch.secrets import SecretUnavailable, read_secret
from auditor.store.history import HistoryStore, StoreError, StoreLocation, open_history_store


def store_location(config: Config) -> StoreLocation:
    """The config's store; a password that cannot be read is a StoreError naming its key."""
    if config.store_url is None:
        return StoreLocation(path=config.store_path)
    password, key = None, "store.password_env"
    if config.store_password is not None:
        key = config.store_password.key
        try:
            password = read_secret(config.store_password).reveal()
        except SecretUnavailable as exc:
            raise StoreError(str(exc)) from None
    return StoreLocation(url=config.store_url, password=password, password_key=key)


def open_config_store(config: Config) -> HistoryStore:
    """The config's history store, open and migrated (a new SQLite file made as needed)."""
    return open_history_store(store_location(config), config.retention_days)


def store_name(config: Config) -> str:
    """How messages name the config's store: its file, or its URL (which holds no password)."""
    return config.store_url if config.store_url is not None else str(config.store_path)
