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
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from auditor.analysis.business_hours import CalendarError
from auditor.analysis.sla import validate_business_hours
from auditor.check import CHECK_ID, Check, severity_rank
from auditor.fsutil import safe_name
from auditor.model import AccountKey
from auditor.registry import Registry
from auditor.sources.files import MAX_CONFIG_BYTES, FileTooLarge, read_limited
from auditor.yaml_shape import shape_problem

PathPart = str | int


# A message quoting a value is cut here: a value can be a whole (expanded) subtree.
_MAX_MESSAGE = 400


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)


def _brief(value: Any) -> str:
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring = 2, 4, 4, 60
    return short.repr(value)


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is one line naming file, line and key."""

    def __init__(self, path: Path, message: str, line: int | None = None, key: str = "") -> None:
        # One line, whatever the file holds: control characters (line and record separators
        # among them) are shown escaped, as repr() would.
        message, key = _escaped(message), _escaped(key)
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        self.path, self.line, self.key, self.message = path, line, key, message
        where = _escaped(f"{path}:{line}" if line else str(path))
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


def resource_text(*parts: str) -> str:
    return resources.files("auditor.resources").joinpath(*parts).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(resource_text("schema", name))
    return schema


def default_policy() -> dict[str, Any]:
    policy: dict[str, Any] = yaml.safe_load(resource_text("policy.default.yaml"))
    return policy


# ---------------------------------------------------------------------------------------------
# YAML with positions


def _format_path(parts: Sequence[PathPart]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _node_at(node: yaml.Node | None, parts: Sequence[PathPart]) -> yaml.Node | None:
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            return None
    return node


def _key_node(node: yaml.Node | None, parts: Sequence[PathPart], key: str) -> yaml.Node | None:
    parent = _node_at(node, parts)
    if isinstance(parent, yaml.MappingNode):
        return next((k for k, _ in parent.value if k.value == key), None)
    return None


def _line(node: yaml.Node | None) -> int | None:
    return None if node is None else node.start_mark.line + 1


def _reject_duplicate_keys(
    path: Path, node: yaml.Node, parts: list[PathPart], visited: set[int] | None = None
) -> None:
    # An aliased node is one object however often it is referred to: checked once.
    visited = set() if visited is None else visited
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise ConfigError(
                    path, "duplicate key", _line(key), _format_path([*parts, key.value])
                )
            seen.add(key.value)
            _reject_duplicate_keys(path, value, [*parts, key.value], visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _reject_duplicate_keys(path, item, [*parts, index], visited)


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: Any
    root: yaml.Node | None

    def line(self, parts: Sequence[PathPart]) -> int | None:
        return _line(_node_at(self.root, parts))

    def error(self, parts: Sequence[PathPart], message: str) -> ConfigError:
        return ConfigError(self.path, message, self.line(parts), _format_path(parts))


def read_yaml(path: Path) -> YamlDocument:
    try:
        # A regular file of bounded size: a device or a FIFO would never end, or block.
        text = read_limited(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileTooLarge as error:
        raise ConfigError(path, f"cannot read config: {error}") from None
    except OSError as error:
        raise ConfigError(path, f"cannot read config: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "config is not UTF-8 text") from None
    try:
        problem = shape_problem(text)
        if problem is not None:
            raise ConfigError(path, f"the config {problem.message}", problem.line)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(path, f"invalid YAML: {error.problem or error}", line) from None
    except yaml.YAMLError as error:
        raise ConfigError(path, f"invalid YAML: {error}") from None
    if root is not None:
        _reject_duplicate_keys(path, root, [])
    return YamlDocument(path, data, root)


# ---------------------------------------------------------------------------------------------
# Schema errors as one line


def _schema_error(document: YamlDocument, error: ValidationError) -> ConfigError:
    parts: list[PathPart] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            key = str(extra[0])
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = (
                f" (did you mean '{hint[0]}'?)" if hint else f"; allowed: {', '.join(allowed)}"
            )
            line = _line(_key_node(document.root, parts, key))
            return ConfigError(
                document.path, f"unknown key '{key}'{suggestion}", line, _format_path([*parts, key])
            )
    if error.validator == "required":
        return document.error(parts, error.message.replace("is a required property", "is missing"))
    if error.validator == "enum":
        allowed_values: Any = error.validator_value
        options = ", ".join(str(o) for o in allowed_values)
        return document.error(parts, f"{_brief(error.instance)} is not one of: {options}")
    if error.validator == "type":
        return document.error(
            parts, f"expected {error.validator_value}, got {_brief(error.instance)}"
        )
    if error.validator == "pattern" and isinstance(schema.get("message"), str):
        # The schema says what the value must be (a platform's handle syntax) in words.
        return document.error(parts, f"{error.instance!r} is not {schema['message']}")
    if error.validator == "oneOf" and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        inner = _schema_error(document, best)
        return inner if inner.key else document.error(parts, inner.message)
    return document.error(parts, error.message)


def validate(document: YamlDocument, schema: Mapping[str, Any]) -> None:
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document.data), key=lambda e: list(map(str, e.path)))
    if errors:
        # The deepest error is the most specific; one line is what the user gets.
        first = max(errors[:1] + errors, key=lambda e: len(list(e.absolute_path)))
        raise _schema_error(document, first)


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

    @property
    def key(self) -> AccountKey:
        return AccountKey(self.platform, self.handle)


@dataclass(frozen=True)
class ClientConfig:
    name: str
    accounts: tuple[AccountConfig, ...]


@dataclass(frozen=True)
class PrivacyConfig:
    pseudonymize_customers: bool = False
    key_env: str | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    sha256: str
    output_dir: Path
    formats: tuple[str, ...]
    store_path: Path
    retention_days: int
    privacy: PrivacyConfig
    exclude_authors: tuple[str, ...]
    clients: tuple[ClientConfig, ...]
    document: YamlDocument = field(repr=False)
    fetch: FetchConfig = field(default_factory=FetchConfig)

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


def _resolve(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def api_bundle_path(fetch_dir: Path, platform: str, handle: str) -> Path:
    """Where an api account's fetched bundle goes: one deterministic file per account."""
    return fetch_dir / safe_name(platform) / f"{safe_name(handle)}.jsonl"


def _source(base: Path, value: Any, platform: str, handle: str, fetch_dir: Path) -> SourceConfig:
    if isinstance(value, str):
        return SourceConfig("bundle", _resolve(base, value))
    if value["type"] == "api":
        options: dict[str, Any] = dict(value.get("options", {}))
        for key in ("token_env", "base_url"):
            if key in value:
                options[key] = value[key]
        if "token_file" in value:
            options["token_file"] = str(_resolve(base, value["token_file"]))
        return SourceConfig("api", api_bundle_path(fetch_dir, platform, handle), options)
    options = {k: v for k, v in value.items() if k not in ("type", "path")}
    path = _resolve(base, value["path"]) if "path" in value else None
    return SourceConfig(value["type"], path, options)


# Keys that would put a secret into the config file itself.
_SECRET_KEYS = frozenset(
    {"token", "access_token", "bearer_token", "api_key", "secret", "password", "app_password"}
)


def _reject_inline_secrets(document: YamlDocument) -> None:
    """A token written into the config is refused before anything else is said about it, and
    a source naming two places for its token is told to choose one."""
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
            for parts, mapping in places:
                if not isinstance(mapping, Mapping):
                    continue
                for key in mapping:
                    if str(key).lower() in _SECRET_KEYS:
                        raise document.error(
                            [*parts, str(key)],
                            "tokens never go in the config: name an environment variable "
                            "(token_env: X_BEARER_TOKEN) or a file (token_file: path) instead",
                        )


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
        dir=_resolve(base, section.get("dir", str(defaults.dir))),
        max_wait_seconds=float(section.get("max_wait_seconds", defaults.max_wait_seconds)),
        concurrency=section.get("concurrency", defaults.concurrency),
        workers=section.get("workers", defaults.workers),
        account_deadline_seconds=float(
            section.get("account_deadline_seconds", defaults.account_deadline_seconds)
        ),
    )


def load_config(path: Path, registry: Registry) -> Config:
    """Read, validate and resolve a config; raises :class:`ConfigError`."""
    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise ConfigError(path, "the config must be a mapping with a 'clients' list", 1)
    _reject_inline_secrets(document)
    validate(document, load_schema("config.schema.json"))
    data: dict[str, Any] = document.data
    base = path.resolve().parent
    fetch = _fetch_config(base, data)
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
            )
            if config.key in seen_accounts:
                raise document.error(
                    ["clients", ci, "accounts", ai, "handle"],
                    f"account {config.key} is listed twice",
                )
            seen_accounts.add(config.key)
            accounts.append(config)
        clients.append(ClientConfig(name, tuple(accounts)))

    output = data.get("output", {})
    store = data.get("store", {})
    privacy = data.get("privacy", {})
    loaded = Config(
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        output_dir=_resolve(base, output.get("dir", "out")),
        formats=tuple(output.get("formats", ["json"])),
        store_path=_resolve(base, store.get("path", "out/history.sqlite")),
        retention_days=store.get("retention_days", 90),
        privacy=PrivacyConfig(
            pseudonymize_customers=privacy.get("pseudonymize_customers", False),
            key_env=privacy.get("key_env"),
            key_file=_resolve(base, privacy["key_file"]) if "key_file" in privacy else None,
        ),
        exclude_authors=tuple(data.get("exclude_authors", [])),
        clients=tuple(clients),
        document=document,
        fetch=fetch,
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
        document = config.document
        merged: dict[str, Any] = {}
        hours_where: tuple[PathPart, ...] = ()
        for where, layer in account.policy_layers:
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
            _check_params(document, account, check, values)
            params[check.id] = values
        severity = {c.id: merged.get("severity", {}).get(c.id, c.severity) for c in registry}
        return cls(
            enabled=enabled,
            severity=severity,
            params=params,
            fail_on=merged.get("fail_on", "high"),
            exclude_authors=excluded_authors(config, account),
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
    document: YamlDocument, account: AccountConfig, check: Check, values: Mapping[str, Any]
) -> None:
    validator = Draft202012Validator(check.parameters)
    error = next(iter(sorted(validator.iter_errors(values), key=lambda e: e.path)), None)
    if error is None:
        return
    # Point at the most specific layer that sets this check's parameters.
    for where, layer in reversed(account.policy_layers):
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
