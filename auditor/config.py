"""Loading and validating the audit config, and working out each account's effective policy.

Every error names the file, the key path and the line, and is raised before anything is fetched
or written. Policies inherit: built-in defaults < top-level policy < client < account.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator

from auditor.analysis.business_hours import CalendarError
from auditor.analysis.sla import validate_business_hours
from auditor.check import CHECK_ID, Check, severity_rank
from auditor.config_notify import NotifyConfig, notify_config, reject_inline_notify_secrets
from auditor.config_secrets import SecretSource, reject_inline_secrets, resolve_path, secret_source
from auditor.fsutil import safe_name
from auditor.model import AccountKey
from auditor.registry import Registry
from auditor.scheduler.due import RetryPolicy
from auditor.scheduler.when import DEFAULT_SCHEDULE, Schedule, parse_schedule
from auditor.store.scheduler import DEFAULT_STALE_AFTER
from auditor.yaml_document import ConfigError, PathPart, YamlDocument, read_yaml, validate

__all__ = ["ConfigError", "read_yaml", "validate"]  # the errors and reader of every config file


def resource_text(*parts: str) -> str:
    return resources.files("auditor.resources").joinpath(*parts).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(resource_text("schema", name))
    return schema


def default_policy() -> dict[str, Any]:
    policy: dict[str, Any] = yaml.safe_load(resource_text("policy.default.yaml"))
    return policy


# ---------------------------------------------------------------------------------------------
# The config model


@dataclass(frozen=True)
class SourceConfig:
    """Where an account's records come from.

    ``bundle`` and ``twcs`` name a file. ``api`` fetches from the platform: ``options`` are the
    platform protocol's options (``token_env`` or ``token_file``, ``base_url``, ``dm``,
    ``page_id`` ...) and ``path`` is the bundle the fetch writes and the audit reads.
    """

    type: str
    path: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SharedLimitsConfig:
    """``fetch.shared_limits``: the Redis that keeps every token's rate-limit budget for all the
    processes that share the tokens (``url`` holds no password; ``password`` names where it is)."""

    url: str
    password: SecretSource | None = None


@dataclass(frozen=True)
class FetchConfig:
    """The top-level ``fetch`` section: how api accounts are fetched."""

    lookback_days: int = 14
    dir: Path = Path("out/bundles")
    max_wait_seconds: float = 900.0
    # Requests in flight at once per (platform, token).
    concurrency: int = 4
    # Accounts fetched at once (threads).
    workers: int = 16
    # All one account's fetch may take (requests, retries, waits, deletion re-checks); above
    # max_wait_seconds, so that waiting out one rate-limit window (X: 15 min) still fits.
    account_deadline_seconds: float = 1800.0
    # Rate-limit budgets kept in Redis for every process; None: each process keeps its own.
    shared_limits: SharedLimitsConfig | None = None


@dataclass(frozen=True)
class AccountConfig:
    client: str
    platform: str
    handle: str
    source: SourceConfig
    # The policy layers that apply, bottom first; resolved against a registry by EffectivePolicy.
    policy_layers: tuple[tuple[tuple[PathPart, ...], Mapping[str, Any]], ...]
    # The brand's other handles on the platform (a main or regional account), folded: what
    # mentions or replies to them is addressed to the brand; they are never customers.
    aliases: frozenset[str] = frozenset()
    # The line of the account's entry in the config file (None for accounts made in code).
    line: int | None = None

    @property
    def key(self) -> AccountKey:
        return AccountKey(self.platform, self.handle)


@dataclass(frozen=True)
class ClientConfig:
    name: str
    accounts: tuple[AccountConfig, ...]
    # When the scheduler audits it: its own ``schedule``, else the config's, else the default.
    schedule: Schedule = DEFAULT_SCHEDULE
    # Who hears about its runs: its own ``notify`` (whole), else the config's
    # (auditor/config_notify.py).
    notify: NotifyConfig = field(default_factory=NotifyConfig)


@dataclass(frozen=True)
class PrivacyConfig:
    pseudonymize_customers: bool = False
    key_env: str | None = None
    key_file: Path | None = None


# --- engine: where audits run (docs/scale.md) ---


@dataclass(frozen=True)
class EngineConfig:
    """The top-level ``engine`` section: ``local`` (this process and its worker processes, the
    default) or ``celery`` (a run planned in the store's ledger, its accounts audited by
    ``auditor worker`` processes through the broker at ``broker_url``)."""

    kind: str = "local"
    broker_url: str | None = None
    broker_password: SecretSource | None = None
    # The broker's redelivery of an unacknowledged task, and an account's lease in the ledger.
    visibility_timeout_seconds: float = 3600.0


def _engine_config(document: YamlDocument, base: Path, data: Mapping[str, Any]) -> EngineConfig:
    section = data.get("engine", {})
    broker = section.get("broker", {})
    url = broker.get("url")
    if url is not None:
        from urllib.parse import urlsplit

        if urlsplit(url).password is not None:
            raise document.error(
                ["engine", "broker", "url"],
                "a password never goes in the URL: name it with password_env or password_file",
            )
    if section.get("kind", "local") == "celery" and url is None:
        raise document.error(["engine"], "engine kind celery needs broker: {url: redis://...}")
    return EngineConfig(
        kind=section.get("kind", "local"),
        broker_url=url,
        broker_password=secret_source(document, ["engine", "broker"], base, broker, "password"),
        visibility_timeout_seconds=float(section.get("visibility_timeout_seconds", 3600)),
    )


def _reject_inline_engine_secrets(document: YamlDocument) -> None:
    engine = _get(document.data, "engine")
    reject_inline_secrets(document, [(["engine", "broker"], _get(engine, "broker"))])


# --- end of engine ---


@dataclass(frozen=True)
class Config:
    path: Path
    sha256: str
    output_dir: Path
    formats: tuple[str, ...]
    # Report folders older than this many days are pruned after a run; None keeps them all.
    keep_days: int | None
    # The SQLite history store; with ``store_url`` (PostgreSQL) not a store at all, only where
    # the scheduler's heartbeat file goes: ``<output dir>/history.heartbeat.json``.
    store_path: Path
    retention_days: int
    privacy: PrivacyConfig
    exclude_authors: tuple[str, ...]
    clients: tuple[ClientConfig, ...]
    document: YamlDocument = field(repr=False)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    # The top-level ``schedule`` (each client's unless it names its own) and ``scheduler``.
    schedule: Schedule = DEFAULT_SCHEDULE
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # A scheduler (or manual run) whose heartbeat is older than this is taken for dead.
    stale_after: timedelta = DEFAULT_STALE_AFTER
    engine: EngineConfig = field(default_factory=EngineConfig)
    # The history store on PostgreSQL (``store.url``, never with a password) and where its
    # password is (``store.password_env`` / ``password_file``); None: the SQLite file.
    store_url: str | None = None
    store_password: SecretSource | None = None

    def accounts(self) -> list[AccountConfig]:
        return [account for client in self.clients for account in client.accounts]

    def pseudonym_key(self) -> bytes | None:
        """The secret for customer pseudonyms, read only when it is asked for."""
        if not self.privacy.pseudonymize_customers:
            return None
        if self.privacy.key_file is not None:
            try:
                key = self.privacy.key_file.read_bytes().strip()
            except OSError as error:
                raise ConfigError(
                    self.path,
                    f"cannot read {self.privacy.key_file}: {error.strerror}",
                    self.document.line(["privacy", "key_file"]),
                    "privacy.key_file",
                ) from None
        else:
            name = self.privacy.key_env or "AUDITOR_PSEUDONYM_KEY"
            key = os.environ.get(name, "").encode()
            if not key:
                raise ConfigError(
                    self.path,
                    f"privacy.pseudonymize_customers is on but environment variable {name} is "
                    "empty; set it to a secret key, or name a key_file",
                    self.document.line(["privacy"]),
                    "privacy",
                )
        return key


def api_bundle_path(fetch_dir: Path, platform: str, handle: str) -> Path:
    """Where an api account's fetched bundle goes: one deterministic file per account."""
    return fetch_dir / safe_name(platform) / f"{safe_name(handle)}.jsonl"


def _source(base: Path, value: Any, platform: str, handle: str, fetch_dir: Path) -> SourceConfig:
    if isinstance(value, str):
        return SourceConfig("bundle", resolve_path(base, value))
    if value["type"] == "api":
        options: dict[str, Any] = dict(value.get("options", {}))
        for key in ("token_env", "base_url"):
            if key in value:
                options[key] = value[key]
        if "token_file" in value:
            options["token_file"] = str(resolve_path(base, value["token_file"]))
        return SourceConfig("api", api_bundle_path(fetch_dir, platform, handle), options)
    options = {k: v for k, v in value.items() if k not in ("type", "path")}
    path = resolve_path(base, value["path"]) if "path" in value else None
    return SourceConfig(value["type"], path, options)


def _reject_inline_secrets(document: YamlDocument) -> None:
    """A token written into the config is refused before anything else is said about it, and
    a source naming two places for its token is told to choose one."""
    limits: list[PathPart] = ["fetch", "shared_limits"]
    reject_inline_secrets(document, [(limits, _get(_get(document.data, "fetch"), "shared_limits"))])
    for ci, client in enumerate(_list(_get(document.data, "clients"))):
        for ai, account in enumerate(_list(_get(client, "accounts"))):
            where: list[PathPart] = ["clients", ci, "accounts", ai]
            places: list[tuple[list[PathPart], Any]] = [(where, account)]
            source = _get(account, "source")
            places.append(([*where, "source"], source))
            places.append(([*where, "source", "options"], _get(source, "options")))
            if isinstance(source, Mapping) and {"token_env", "token_file"} <= source.keys():
                raise document.error(
                    [*where, "source", "token_file"],
                    "name either token_env or token_file, not both",
                )
            reject_inline_secrets(document, places, tokens=True)


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _aliases(
    document: YamlDocument, where: list[PathPart], account: Mapping[str, Any]
) -> frozenset[str]:
    """An account's ``aliases``, lower-cased without "@"; a value that is no other handle of
    the brand is an error at its line."""
    own = account["handle"].strip().lstrip("@").lower()
    folded: set[str] = set()
    for index, alias in enumerate(account.get("aliases", [])):
        name = alias.strip().lstrip("@").lower()
        if not name or any(c.isspace() for c in name) or "/" in name:
            raise document.error(
                [*where, "aliases", index],
                f"{alias!r} is not a handle: write the account's name as on the platform "
                "(AcmeMain, @AcmeMain, acme@social.example)",
            )
        if name == own:
            raise document.error(
                [*where, "aliases", index], f"{alias!r} is the account's own handle, not an alias"
            )
        if name in folded:
            raise document.error([*where, "aliases", index], f"alias {alias!r} is listed twice")
        folded.add(name)
    return frozenset(folded)


def _fetch_config(base: Path, data: Mapping[str, Any]) -> FetchConfig:
    section = data.get("fetch", {})
    defaults = FetchConfig()
    return FetchConfig(
        lookback_days=section.get("lookback_days", defaults.lookback_days),
        dir=resolve_path(base, section.get("dir", str(defaults.dir))),
        max_wait_seconds=float(section.get("max_wait_seconds", defaults.max_wait_seconds)),
        concurrency=section.get("concurrency", defaults.concurrency),
        workers=section.get("workers", defaults.workers),
        account_deadline_seconds=float(
            section.get("account_deadline_seconds", defaults.account_deadline_seconds)
        ),
    )


def _shared_limits(document: YamlDocument, base: Path) -> SharedLimitsConfig | None:
    """``fetch.shared_limits``, its URL refused when it holds a password (the URL is shown in
    messages; the password is named by ``password_env`` or ``password_file``)."""
    where: list[PathPart] = ["fetch", "shared_limits"]
    section = _get(_get(document.data, "fetch"), "shared_limits")
    if not isinstance(section, Mapping):
        return None
    url = section["url"]
    if urlsplit(url).password is not None:
        raise document.error(
            [*where, "url"],
            "a password never goes in the URL: remove it, and name an environment variable "
            "(password_env: AUDITOR_REDIS_PASSWORD) or a file (password_file: path) instead",
        )
    return SharedLimitsConfig(url, secret_source(document, where, base, section, "password"))


def _schedule(document: YamlDocument, where: list[PathPart], default: Schedule) -> Schedule:
    """The ``schedule`` string at ``where`` (a mapping's key) parsed, or ``default`` if absent."""
    owner = document.data
    for part in where[:-1]:
        owner = owner[part]
    if where[-1] not in owner:
        return default
    try:
        return parse_schedule(owner[where[-1]])
    except ValueError as error:
        raise document.error(where, str(error)) from None


def _retry_policy(data: Mapping[str, Any]) -> RetryPolicy:
    section = data.get("scheduler", {})
    defaults = RetryPolicy()
    minutes = section.get("retry_after_minutes")
    return RetryPolicy(
        retry_after=defaults.retry_after if minutes is None else timedelta(minutes=minutes),
        max_early_retries=section.get("max_early_retries", defaults.max_early_retries),
    )


# --- store: an SQLite file (path) or a PostgreSQL database (url + password_env/password_file) --


def _store_path(base: Path, store: Mapping[str, Any], output: Mapping[str, Any]) -> Path:
    if "url" in store:
        return resolve_path(base, output.get("dir", "out")) / "history"
    return resolve_path(base, store.get("path", "out/history.sqlite"))


def _store_url(document: YamlDocument, store: Mapping[str, Any]) -> str | None:
    from urllib.parse import urlsplit

    if "url" not in store:
        for key in ("password_env", "password_file"):
            if key in store:
                raise document.error(["store", key], "a password is for a store url (PostgreSQL)")
        return None
    if "path" in store:
        raise document.error(["store", "url"], "name either path (SQLite) or url, not both")
    url = str(store["url"])
    try:
        parts = urlsplit(url)
        has_password, port = parts.password is not None, parts.port
    except ValueError as exc:
        raise document.error(["store", "url"], f"not a usable url: {exc}") from None
    if has_password:
        raise document.error(
            ["store", "url"],
            "the url holds a password: remove it and name it with password_env (an environment"
            " variable) or password_file (a file) instead",
        )
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or port == 0:
        raise document.error(["store", "url"], "must be postgresql://USER@HOST[:PORT]/DATABASE")
    return url


def load_config(path: Path, registry: Registry) -> Config:
    """Read, validate and resolve a config; raises :class:`ConfigError`."""
    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise ConfigError(path, "the config must be a mapping with a 'clients' list", 1)
    _reject_inline_secrets(document)
    reject_inline_notify_secrets(document)
    _reject_inline_engine_secrets(document)
    store_section = _get(document.data, "store")
    reject_inline_secrets(document, [(["store"], store_section)])
    validate(document, load_schema("config.schema.json"))
    data: dict[str, Any] = document.data
    base = path.resolve().parent
    fetch = replace(_fetch_config(base, data), shared_limits=_shared_limits(document, base))
    top_schedule = _schedule(document, ["schedule"], DEFAULT_SCHEDULE)
    top_notify = notify_config(document, ["notify"], base, NotifyConfig())
    defaults = default_policy()
    top_policy = data.get("policy", {})

    clients: list[ClientConfig] = []
    seen_clients: set[str] = set()
    seen_accounts: set[AccountKey] = set()
    for ci, client in enumerate(data["clients"]):
        name = client["name"]
        if name in seen_clients:
            raise document.error(["clients", ci, "name"], f"duplicate client name {name!r}")
        seen_clients.add(name)
        accounts = []
        for ai, account in enumerate(client["accounts"]):
            layers: tuple[tuple[tuple[PathPart, ...], Mapping[str, Any]], ...] = (
                ((), defaults),
                (("policy",), top_policy),
                (("clients", ci, "policy"), client.get("policy", {})),
                (("clients", ci, "accounts", ai, "policy"), account.get("policy", {})),
            )
            config = AccountConfig(
                client=name,
                platform=account["platform"],
                handle=account["handle"],
                source=_source(
                    base, account["source"], account["platform"], account["handle"], fetch.dir
                ),
                policy_layers=layers,
                aliases=_aliases(document, ["clients", ci, "accounts", ai], account),
                line=document.line(["clients", ci, "accounts", ai]),
            )
            if config.key in seen_accounts:
                raise document.error(
                    ["clients", ci, "accounts", ai, "handle"],
                    f"account {config.key} is listed twice",
                )
            seen_accounts.add(config.key)
            accounts.append(config)
        schedule = _schedule(document, ["clients", ci, "schedule"], top_schedule)
        notify = notify_config(document, ["clients", ci, "notify"], base, top_notify)
        clients.append(ClientConfig(name, tuple(accounts), schedule, notify))

    output = data.get("output", {})
    store = data.get("store", {})
    privacy = data.get("privacy", {})
    loaded = Config(
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        output_dir=resolve_path(base, output.get("dir", "out")),
        formats=tuple(output.get("formats", ["json"])),
        keep_days=output.get("keep_days"),
        store_path=_store_path(base, store, output),
        retention_days=store.get("retention_days", 90),
        store_url=_store_url(document, store),
        store_password=secret_source(document, ["store"], base, store, "password"),
        privacy=PrivacyConfig(
            pseudonymize_customers=privacy.get("pseudonymize_customers", False),
            key_env=privacy.get("key_env"),
            key_file=resolve_path(base, privacy["key_file"]) if "key_file" in privacy else None,
        ),
        exclude_authors=tuple(data.get("exclude_authors", [])),
        clients=tuple(clients),
        document=document,
        fetch=fetch,
        schedule=top_schedule,
        retry=_retry_policy(data),
        stale_after=timedelta(
            seconds=data.get("scheduler", {}).get(
                "stale_after_seconds", DEFAULT_STALE_AFTER.total_seconds()
            )
        ),
        engine=_engine_config(document, base, data),
    )
    for account in loaded.accounts():
        EffectivePolicy.resolve(loaded, account, registry)  # every policy error surfaces now
    return loaded


# ---------------------------------------------------------------------------------------------
# Effective policy


def excluded_authors(config: Config, account: AccountConfig) -> frozenset[str]:
    """Who is never ``account``'s customer, folded: the config's ``exclude_authors`` and its
    policy's (a list is replaced whole, so the innermost layer that names some wins)."""
    layered = [
        layer["exclude_authors"] for _, layer in account.policy_layers if "exclude_authors" in layer
    ]
    names = [*config.exclude_authors, *(layered[-1] if layered else ())]
    return frozenset(name.lower().lstrip("@") for name in names)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def selector_matches(selector: str, check_id: str) -> bool:
    return selector == "ALL" or check_id.startswith(selector)


@dataclass(frozen=True)
class EffectivePolicy:
    """One account's policy after inheritance, with every check's parameters filled in."""

    enabled: tuple[str, ...]
    severity: Mapping[str, str]
    params: Mapping[str, Mapping[str, Any]]
    fail_on: str
    exclude_authors: frozenset[str]
    raw: Mapping[str, Any]

    @classmethod
    def resolve(cls, config: Config, account: AccountConfig, registry: Registry) -> EffectivePolicy:
        return cls._from_layers(
            config.document,
            account.policy_layers,
            registry,
            excluded_authors(config, account),
        )

    @classmethod
    def for_texts(cls, config: Config | None, registry: Registry) -> EffectivePolicy:
        """The policy texts kept in files are linted under (``auditor lint``): the config's
        top-level ``policy`` over the built-in defaults, or the defaults alone."""
        defaults = default_policy()
        if config is None:
            document = YamlDocument(Path("policy.default.yaml"), defaults, None)
            return cls._from_layers(document, (((), defaults),), registry, frozenset())
        top_policy = config.document.data.get("policy", {})
        layers = (((), defaults), (("policy",), top_policy))
        authors = [*config.exclude_authors, *top_policy.get("exclude_authors", ())]
        excluded = frozenset(name.lower().lstrip("@") for name in authors)
        return cls._from_layers(config.document, layers, registry, excluded)

    @classmethod
    def _from_layers(
        cls,
        document: YamlDocument,
        layers: Sequence[tuple[tuple[PathPart, ...], Mapping[str, Any]]],
        registry: Registry,
        exclude_authors: frozenset[str],
    ) -> EffectivePolicy:
        merged: dict[str, Any] = {}
        hours_where: tuple[PathPart, ...] = ()
        for where, layer in layers:
            _check_ids(document, registry, where, layer)
            merged = _merge(merged, layer)
            if "business_hours" in layer:  # a calendar is replaced whole, never merged
                merged["business_hours"] = layer["business_hours"]
                hours_where = where
        _check_business_hours(document, hours_where, merged.get("business_hours"))
        enabled = tuple(
            c.id
            for c in registry
            if any(selector_matches(s, c.id) for s in merged.get("select", ["ALL"]))
            and not any(selector_matches(s, c.id) for s in merged.get("ignore", []))
        )
        params: dict[str, dict[str, Any]] = {}
        for check in registry:
            values = _merge(check.defaults, merged.get("checks", {}).get(check.id, {}))
            _check_params(document, layers, check, values)
            params[check.id] = values
        severity = {c.id: merged.get("severity", {}).get(c.id, c.severity) for c in registry}
        return cls(
            enabled=enabled,
            severity=severity,
            params=params,
            fail_on=merged.get("fail_on", "high"),
            exclude_authors=exclude_authors,
            raw=merged,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": list(self.enabled),
            "fail_on": self.fail_on,
            "severity": dict(self.severity),
            "exclude_authors": sorted(self.exclude_authors),
            "checks": {k: dict(v) for k, v in self.params.items()},
        }

    def fails(self, severity: str, fail_on: str | None = None) -> bool:
        threshold = fail_on or self.fail_on
        # fail_on "never" (auditor.result.FAIL_ON_NEVER) ranks above every severity.
        return threshold != "never" and severity_rank(severity) >= severity_rank(threshold)


def _check_ids(
    document: YamlDocument,
    registry: Registry,
    where: tuple[PathPart, ...],
    layer: Mapping[str, Any],
) -> None:
    known = registry.ids()

    def unknown(parts: list[PathPart], check_id: str) -> ConfigError:
        hint = difflib.get_close_matches(check_id, known, n=1)
        suggestion = f" (did you mean {hint[0]}?)" if hint else ""
        return document.error(parts, f"unknown check id {check_id}{suggestion}")

    for key in ("select", "ignore"):
        for index, selector in enumerate(layer.get(key, [])):
            if selector != "ALL" and not any(selector_matches(selector, c) for c in known):
                raise unknown([*where, key, index], selector)
    for key in ("severity", "checks"):
        for check_id in layer.get(key, {}):
            if check_id not in registry:
                parts = [*where, key, check_id]
                if CHECK_ID.match(check_id):
                    raise unknown(parts, check_id)
                raise document.error(parts, f"{check_id!r} is not a check id like RSP001")


_CALENDAR_KEY = re.compile(r"[A-Za-z_]+|\[(\d+)\]")


def _check_business_hours(document: YamlDocument, where: tuple[PathPart, ...], hours: Any) -> None:
    """A calendar that cannot be built is a config error at the key that breaks it."""
    if hours is None:
        return
    try:
        validate_business_hours(hours)
    except CalendarError as error:
        key, _, message = str(error).partition(": ")
        parts: list[PathPart] = [
            int(m.group(1)) if m.group(1) else m.group(0) for m in _CALENDAR_KEY.finditer(key)
        ]
        if not parts or parts[0] != "business_hours":
            parts, message = ["business_hours"], str(error)
        raise document.error([*where, *parts], message) from None


def _check_params(
    document: YamlDocument,
    layers: Sequence[tuple[tuple[PathPart, ...], Mapping[str, Any]]],
    check: Check,
    values: Mapping[str, Any],
) -> None:
    validator = Draft202012Validator(check.parameters)
    error = next(iter(sorted(validator.iter_errors(values), key=lambda e: e.path)), None)
    if error is None:
        return
    # Point at the most specific layer that sets this check's parameters.
    for where, layer in reversed(layers):
        if check.id in layer.get("checks", {}):
            parts: list[PathPart] = [*where, "checks", check.id, *error.absolute_path]
            break
    else:
        parts = ["policy", "checks", check.id]
    if error.validator == "additionalProperties":
        allowed = list(check.parameters.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        hint = difflib.get_close_matches(str(extra[0]), allowed, n=1) if extra else []
        message = f"unknown parameter '{extra[0] if extra else '?'}' for {check.id}" + (
            f" (did you mean '{hint[0]}'?)" if hint else f"; allowed: {', '.join(allowed)}"
        )
        if extra:
            parts.append(str(extra[0]))
        raise document.error(parts, message)
    raise document.error(parts, error.message)
