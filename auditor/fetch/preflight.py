"""Before fetching: what a fetch would ask (``--dry-run``) and whether its tokens are there
(``config validate --secrets``). Neither makes a request nor shows a token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auditor.config import AccountConfig, Config, ConfigError
from auditor.fetch.driver import FetchPlan, LimitShare, limit_shares, plan
from auditor.fetch.http import Clock, SystemClock
from auditor.fetch.run import (
    api_accounts,
    default_clock,
    make_protocol,
    make_spec,
    now_from,
    pseudonymiser_for,
    saved_cursor,
    token_for,
)
from auditor.fetch.secrets import SecretUnavailable, read_secret
from auditor.fetch.store_location import open_config_store
from auditor.sources.platforms import protocol_class
from auditor.sources.platforms.base import Protocol, Request
from auditor.store.history import HistoryStore, StoreError


@dataclass(frozen=True, slots=True)
class AccountPlan:
    account: AccountConfig
    plan: FetchPlan
    token: str
    # The deletion re-checks of posts kept from earlier runs (platforms that can re-check).
    rechecks: list[Request]


@dataclass(frozen=True, slots=True)
class DryRun:
    accounts: list[AccountPlan]
    # Summed over accounts: the same token's budget is shared by every account using it.
    totals: list[LimitShare]


def dry_run(
    config: Config,
    accounts: Sequence[AccountConfig] | None = None,
    *,
    clock: Clock | None = None,
    store: HistoryStore | None = None,
    environ: Mapping[str, str] | None = None,
    pseudonym_key: bytes | None = None,
) -> DryRun:
    """What a fetch would ask, per account, and which share of each limit; requests nothing.
    ``pseudonym_key`` opens cursors sealed when customers are pseudonymised."""
    now = now_from(clock or SystemClock())
    base_dir = config.path.resolve().parent
    plans: list[AccountPlan] = []
    protocols: list[Protocol] = []
    for account in api_accounts(config.accounts() if accounts is None else accounts):
        pseudonymiser = pseudonymiser_for(config, account, pseudonym_key)
        cursor = saved_cursor(store, account, pseudonymiser) if store else {}
        spec = make_spec(account, now, config.fetch.lookback_days, cursor)
        protocol = make_protocol(spec)
        # A fresh one for the totals: planning has already asked this one to start.
        protocols.append(make_protocol(spec))
        lookup = token_for(account, protocol, environ, base_dir)
        token = "present" if lookup.secret is not None else (lookup.problem or "missing token")
        if lookup.secret is None and not protocol.requires_token:
            token = "none needed (public API)"
        rechecks: list[Request] = []
        if protocol.rechecks_deletions and store is not None:
            kept = store.fetched_posts(account.platform, account.handle, spec.window_start)
            live = [str(p.get("id", "")) for p in kept if p.get("visibility") != "deleted"]
            rechecks = protocol.recheck_requests(live)
        plans.append(AccountPlan(account, plan(protocol), token, rechecks))
    return DryRun(plans, limit_shares(protocols))


def render_dry_run(result: DryRun) -> str:
    lines: list[str] = []
    for item in result.accounts:
        account = item.account
        lines.append(
            f"{account.client} / {account.platform}:{account.handle} -> {account.source.path}"
        )
        lines.append(f"  token: {item.token}")
        for request in item.plan.requests:
            lines.append(f"  {request.method} {request.url}  ({request.purpose})")
        if item.rechecks:
            count, shape = len(item.rechecks), _request_shape(item.rechecks[0])
            lines.append(f"  then {count} deletion re-check batch(es): {shape}")
        lines.append("  then pages as the answers lead; least share of each rate limit:")
        lines += [f"    {_share_line(s)}" for s in item.plan.shares]
    if result.accounts:
        lines.append("all accounts together (a token's budget is shared):")
        lines += [f"  {_share_line(s)}" for s in result.totals]
    else:
        lines.append("no account with source {type: api}: nothing to fetch")
    lines.append("dry run: no request was made")
    return "\n".join(lines)


def dry_run_text(config: Config, accounts: Sequence[AccountConfig]) -> str:
    """The fetch plan ``run --dry-run`` prints for the api accounts, from the store's cursors
    and kept posts if there is a store (none is created)."""
    store = None
    if config.store_url is not None or config.store_path.is_file():
        try:
            store = open_config_store(config)
        except StoreError:
            store = None
    try:
        key = config.pseudonym_key()
    except ConfigError:
        key = None  # sealed cursors stay shut: the plan is that of a first fetch
    try:
        plans = dry_run(config, accounts, clock=default_clock(), store=store, pseudonym_key=key)
    finally:
        if store is not None:
            store.close()
    return render_dry_run(plans)


def _request_shape(request: Request) -> str:
    """``GET /2/tweets?ids=``: method, path and the first parameter, the one that varies."""
    first = f"?{request.params[0][0]}=" if request.params else ""
    return f"{request.method} {request.path}{first}"


def _share_line(share: LimitShare) -> str:
    if share.limit is None or share.share is None:
        return f"{share.bucket}: {share.requests} requests (limit not documented)"
    per = f"{share.window_seconds // 60} min" if share.window_seconds else "window"
    return (
        f"{share.bucket}: {share.requests} of {share.limit} per {per} ({share.scope})"
        f" = {share.share:.1%}"
    )


@dataclass(frozen=True, slots=True)
class SecretProblem:
    account: AccountConfig
    problem: str

    def __str__(self) -> str:
        return f"{self.account.client} / {self.account.platform}:{self.account.handle}: " + (
            self.problem
        )


def check_service_passwords(config: Config) -> tuple[int, list[str]]:
    """The passwords of the services the config names (the PostgreSQL store, the Celery broker,
    the shared rate limits' Redis) present? Returns (passwords checked, one line per problem
    naming its key); reads them, never shows them."""
    limits = config.fetch.shared_limits
    named = [
        config.store_password,
        config.engine.broker_password,
        limits.password if limits is not None else None,
    ]
    sources = [source for source in named if source is not None]
    problems = []
    for source in sources:
        try:
            read_secret(source)
        except SecretUnavailable as missing:
            problems.append(str(missing))
    return len(sources), problems


def check_secrets(
    config: Config, environ: Mapping[str, str] | None = None
) -> tuple[int, list[SecretProblem]]:
    """Every named token present? Returns (tokens checked, problems). Reads, never shows them.

    A platform that needs a token is checked for its default variable too; one that does not
    (Bluesky's public API) only when the account names a token.
    """
    base_dir = config.path.resolve().parent
    checked = 0
    problems: list[SecretProblem] = []
    for account in api_accounts(config.accounts()):
        protocol = protocol_class(account.platform)
        options = account.source.options
        named = "token_env" in options or "token_file" in options
        if not named and not protocol.requires_token:
            continue
        checked += 1
        lookup = token_for(account, protocol, environ, base_dir)
        if lookup.secret is None:
            problems.append(SecretProblem(account, lookup.problem or "missing token"))
    return checked, problems
