"""Fetching the accounts whose source is ``{type: api}``: platform pages in, one bundle out.

For each account: the protocol of its platform (``auditor.sources.*``) runs through the shared
HTTP layer on a thread of its own, from the cursor the history store saved last time; then the
new records are merged with what the store kept of the lookback window (an incremental run asks
the platform only for what is new, yet the audit must see the whole window); where the platform's
protocol can re-check deletions, kept posts this fetch did not bring back are asked for again;
the account's bundle is written
atomically; last, the store keeps the records and, only when the fetch was complete, the new
cursor. Failures stay with their account: its window says ``complete: false`` and why.

The store is touched only from the calling thread (SQLite connections are not shared across
threads): cursors and kept records are read before the fetches start and written as each
account finishes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from auditor.config import AccountConfig, Config, excluded_authors
from auditor.fetch.driver import (
    FetchOutcome,
    Recheck,
    fetch_account,
    recheck_deletions,
    stopped_on_the_way_out,
)
from auditor.fetch.http import Clock, Deadline, HttpClient, HttpConfig, RetryPolicy, SystemClock
from auditor.fetch.limits import limiter_for
from auditor.fetch.order import token_by_token
from auditor.fetch.secrets import TokenLookup, load_token, server_text
from auditor.model import AccountData, AccountKey
from auditor.privacy import Pseudonymiser
from auditor.sources.bundle import RecordError, add_record, dump_record, parse_time, write_bundle
from auditor.sources.platforms import protocol_class
from auditor.sources.platforms.base import (
    FetchSpec,
    Protocol,
    Record,
    lost_kinds,
    window_record,
)
from auditor.store.history import FetchedConversation, FetchedPost, HistoryStore

log = logging.getLogger(__name__)


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountFetch:
    """What fetching one account did. Holds no token: safe to print, log or report."""

    client: str
    platform: str
    handle: str
    path: Path
    complete: bool
    reason: str | None
    pages: int
    requests_made: int
    posts: int
    posts_fetched: int
    posts_kept: int
    deleted_found: int
    conversations: int
    cursor_saved: bool

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.handle}"


@dataclass(slots=True)
class FetchReport:
    accounts: list[AccountFetch] = field(default_factory=list)

    @property
    def incomplete(self) -> list[AccountFetch]:
        return [a for a in self.accounts if not a.complete]


ProgressCallback = Callable[[AccountFetch, int, int], None]


# --- preparing ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    """One account ready to fetch: everything read from the store and the environment."""

    account: AccountConfig
    protocol: Protocol
    token: TokenLookup
    kept_posts: list[Record]
    kept_conversations: list[Record]
    # Set when customers are pseudonymised: applied to every record before it is written.
    pseudonymiser: Pseudonymiser | None = None


@dataclass(slots=True)
class _Fetched:
    outcome: FetchOutcome
    # None when no re-check ran (the platform cannot, or the fetch itself got nowhere).
    recheck: Recheck | None = None


def default_clock() -> Clock:
    """The clock the command line uses (tests replace it with a manual one)."""
    return SystemClock()


def api_accounts(accounts: Iterable[AccountConfig]) -> list[AccountConfig]:
    return [a for a in accounts if a.source.type == "api"]


def now_from(clock: Clock) -> datetime:
    """The run's ``now`` from the injected clock, to the second (bundles read better)."""
    return datetime.fromtimestamp(clock.now(), UTC).replace(microsecond=0)


def make_spec(
    account: AccountConfig, now: datetime, lookback_days: int, cursor: Mapping[str, Any]
) -> FetchSpec:
    return FetchSpec(
        platform=account.platform,
        account=account.handle,
        window_start=now - timedelta(days=lookback_days),
        window_end=now,
        cursor=dict(cursor),
        options=dict(account.source.options),
        fetched_at=now,
    )


def make_protocol(spec: FetchSpec) -> Protocol:
    return protocol_class(spec.platform)(spec)


def token_for(
    account: AccountConfig,
    protocol: type[Protocol] | Protocol,
    environ: Mapping[str, str] | None,
    base_dir: Path,
) -> TokenLookup:
    return load_token(
        account.source.options,
        default_env=protocol.default_token_env,
        environ=environ,
        base_dir=base_dir,
    )


def http_client_for(config: Config, clock: Clock) -> HttpClient:
    """The HTTP client of ``config``'s fetch settings. Made once and passed to every
    :func:`fetch_api_accounts` of a process (the scheduler's clients, one after another), it
    keeps one rate-limit budget per token across them all (in Redis, shared with every process,
    with ``fetch.shared_limits``: a Redis that cannot be used raises :class:`ConfigError`); the
    caller closes it at the end."""
    retry = RetryPolicy(max_wait=config.fetch.max_wait_seconds)
    limiter = limiter_for(config, max_block=retry.max_wait)
    http_config = HttpConfig(retry=retry, concurrency=config.fetch.concurrency)
    return HttpClient(http_config, clock=clock, limiter=limiter)


# --- fetching -----------------------------------------------------------------------------


def fetch_api_accounts(
    config: Config,
    store: HistoryStore,
    accounts: Sequence[AccountConfig] | None = None,
    *,
    clock: Clock | None = None,
    http_client: HttpClient | None = None,
    environ: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> FetchReport:
    """Fetches every api account (default: all of the config's) and writes their bundles.

    ``clock`` gives ``now`` (the window's end) and, when no ``http_client`` is given, the
    HTTP layer's waits; tests pass a manual clock so that nothing waits for real.

    A given ``http_client`` is shared and never closed nor left stopped, whatever happens here
    (a failing account, a deadline, an interrupt, which stops this call's requests only): what
    it learned of each token's rate-limit budget carries over to the next call.
    """
    clock = clock or (http_client.clock if http_client is not None else SystemClock())
    chosen = api_accounts(config.accounts() if accounts is None else accounts)
    report = FetchReport()
    if not chosen:
        return report
    now = now_from(clock)
    key = config.pseudonym_key()
    prepared = [_prepare(config, store, account, now, environ, key) for account in chosen]
    # A scope of a shared client, so that stopping this call's requests stops no one else's.
    client = http_client_for(config, clock) if http_client is None else http_client.scoped()
    quiet_queries = _QueriesLeftOut() if key is not None else None
    if quiet_queries is not None:
        logging.getLogger("httpx").addFilter(quiet_queries)
    try:
        workers = max(1, min(config.fetch.workers, len(prepared)))
        with stopped_on_the_way_out(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch"), client
        ) as pool:
            pending: dict[Future[_Fetched], tuple[int, _Prepared]] = {
                pool.submit(_fetch_one, item, client, config.fetch.account_deadline_seconds): (
                    index,
                    item,
                )
                for index, item in token_by_token(prepared, budget_of)
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                # In config order among those done, so that output is stable.
                for future in sorted(done, key=lambda f: pending[f][0]):
                    _, item = pending.pop(future)
                    fetched = _result_of(future, item)
                    result = _finish(store, item, fetched, now)
                    report.accounts.append(result)
                    if progress is not None:
                        progress(result, len(report.accounts), len(prepared))
    finally:
        client.close()  # a scope closes nothing of the client it shares
        if quiet_queries is not None:
            logging.getLogger("httpx").removeFilter(quiet_queries)
    order = {a.key: i for i, a in enumerate(chosen)}
    report.accounts.sort(key=lambda a: order[AccountKey(a.platform, a.handle)])
    return report


def budget_of(item: _Prepared) -> tuple[str, str | None]:
    """Whose rate-limit budget and requests in flight an account's fetch spends."""
    secret = item.token.secret
    return item.account.platform, None if secret is None else secret.fingerprint()


class _QueriesLeftOut(logging.Filter):
    """With customers pseudonymised, the HTTP client's log of each request leaves out the URL's
    query: a query can name a customer (Bluesky's ``getPostThread?uri=at://did:...`` holds the
    author's DID)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


def _prepare(
    config: Config,
    store: HistoryStore,
    account: AccountConfig,
    now: datetime,
    environ: Mapping[str, str] | None,
    pseudonym_key: bytes | None = None,
) -> _Prepared:
    pseudonymiser = pseudonymiser_for(config, account, pseudonym_key)
    spec = make_spec(
        account, now, config.fetch.lookback_days, saved_cursor(store, account, pseudonymiser)
    )
    protocol = make_protocol(spec)
    return _Prepared(
        account=account,
        protocol=protocol,
        token=token_for(account, protocol, environ, config.path.resolve().parent),
        kept_posts=kept_posts(store, account, spec.window_start),
        kept_conversations=store.fetched_conversations(
            account.platform, account.handle, spec.window_start
        ),
        pseudonymiser=pseudonymiser,
    )


def saved_cursor(
    store: HistoryStore, account: AccountConfig, pseudonymiser: Pseudonymiser | None
) -> dict[str, Any]:
    """Where the account's last complete fetch got to; with customers pseudonymised the store
    keeps it sealed (it may name customers' posts), and a cursor sealed with another key is
    no cursor: the whole lookback window is fetched again."""
    cursor = store.get_cursor(account.platform, account.handle)
    if pseudonymiser is None:
        return cursor
    opened = pseudonymiser.open_cursor(cursor)
    if opened is None:
        log.warning(
            "%s:%s the saved cursor was sealed with another pseudonym key: fetching the whole"
            " lookback window",
            account.platform,
            account.handle,
        )
        return {}
    return opened


def pseudonymiser_for(
    config: Config, account: AccountConfig, key: bytes | None
) -> Pseudonymiser | None:
    """The account's pseudonymiser when customers are pseudonymised (``key`` given): the brand's
    handle and aliases, and the authors its policy excludes, stay as they are."""
    if key is None:
        return None
    excluded = excluded_authors(config, account)
    return Pseudonymiser(key, account.handle, aliases=account.aliases, excluded=excluded)


# Parents of parents are followed this far up a thread, no further.
CONTEXT_DEPTH = 8


def kept_posts(store: HistoryStore, account: AccountConfig, since: datetime) -> list[Record]:
    """The posts the store kept of the window, and the posts before it that they reply to
    (their threads' context, which an earlier fetch brought along)."""
    posts = store.fetched_posts(account.platform, account.handle, since)
    known = {str(p.get("id")) for p in posts}
    wanted = _referenced(posts) - known
    for _ in range(CONTEXT_DEPTH):
        if not wanted:
            break
        found = store.fetched_posts_by_id(account.platform, account.handle, wanted)
        posts += found
        known |= {str(p.get("id")) for p in found}
        wanted = _referenced(found) - known
    return posts


def _referenced(posts: Iterable[Record]) -> set[str]:
    return {
        str(p[key]) for p in posts for key in ("in_reply_to", "thread") if p.get(key) is not None
    }


def _fetch_one(item: _Prepared, client: HttpClient, deadline_seconds: float) -> _Fetched:
    """Runs on a worker thread: the protocol, then (where it can) the deletion re-check, both
    within the account's deadline (counted from when its fetch starts, not from the run's)."""
    protocol, token = item.protocol, item.token.secret
    deadline = Deadline.after(client.clock, deadline_seconds)
    outcome = fetch_account(
        protocol, client, token=token, token_problem=item.token.problem, deadline=deadline
    )
    if not protocol.rechecks_deletions or (token is None and protocol.requires_token):
        return _Fetched(outcome)
    if not any(r.get("kind") == "profile" for r in outcome.records):
        # The account itself never answered: asking after its posts would prove nothing.
        return _Fetched(outcome)
    returned = {str(r.get("id")) for r in outcome.records if r.get("kind") == "post"}
    post_ids = [
        str(p.get("id", ""))
        for p in item.kept_posts
        if str(p.get("id")) not in returned and p.get("visibility") != "deleted"
    ]
    recheck = recheck_deletions(protocol, client, token=token, post_ids=post_ids, deadline=deadline)
    return _Fetched(outcome, recheck)


def _result_of(future: Future[_Fetched], item: _Prepared) -> _Fetched:
    """The worker's answer; a bug in a protocol stays with its account, like any failure."""
    try:
        return future.result()
    except Exception as error:  # one account's crash must not stop the others
        reason = server_text(f"fetch failed: {type(error).__name__}: {error}", [item.token.secret])
        log.error("%s:%s %s", item.account.platform, item.account.handle, reason)
        spec = item.protocol.spec
        closing = window_record(spec, missing=[reason], observes=(), fetched_at=spec.window_end)
        return _Fetched(FetchOutcome([closing], dict(spec.cursor), 0, 0, [reason]))


# --- merging and writing ------------------------------------------------------------------


@dataclass(slots=True)
class Merged:
    records: list[Record]
    posts_fetched: int
    posts_kept: int
    deleted_found: int
    problems: list[str]


def merge_records(
    fetched: Sequence[Record],
    kept_posts: Sequence[Record],
    kept_conversations: Sequence[Record],
    *,
    window_start: datetime,
    window_end: datetime,
    deleted: Iterable[str] = (),
) -> Merged:
    """The bundle of one account: what arrived, plus what the store kept of the window.

    Kept posts come in when they were created inside the window, or when a post of the bundle
    replies to them or roots its thread in them (context from before the window). Fetched
    records win over kept ones (a post deleted since keeps its last known text as evidence);
    kept posts named in ``deleted`` become ``deleted`` (by ``unknown``). Records
    that the bundle reader would refuse are dropped and named in ``problems``. Order is the
    canonical one: profile, window, posts (by time), conversations (by id).
    """
    profile: Record | None = None
    window: Record | None = None
    posts: dict[str, Record] = {}
    conversations: dict[str, Record] = {}
    fetched_ids: set[str] = set()
    for record in fetched:
        kind = record.get("kind")
        if kind == "profile":
            profile = record
        elif kind == "window":
            window = record
        elif kind == "post":
            fetched_ids.add(str(record.get("id")))
        elif kind == "conversation":
            conversations[str(record.get("id"))] = record
    context: dict[str, Record] = {}
    for record in kept_posts:
        if _inside(record.get("created_at"), window_start, window_end):
            posts[str(record.get("id"))] = dict(record)
        else:
            context[str(record.get("id"))] = record
    fetched_posts = [r for r in fetched if r.get("kind") == "post"]
    wanted = _referenced([*posts.values(), *fetched_posts])
    while wanted & context.keys():
        found = [context.pop(i) for i in sorted(wanted & context.keys())]
        posts.update((str(r.get("id")), dict(r)) for r in found)
        wanted = _referenced(found)
    gone = set(deleted)
    for post_id in gone & posts.keys():
        if post_id not in fetched_ids:
            posts[post_id].update(visibility="deleted", deleted_by="unknown")
    for record in fetched_posts:
        post_id = str(record.get("id"))
        posts[post_id] = _newer_post(posts.get(post_id), record)
    for record in kept_conversations:
        conversation_id = str(record.get("id"))
        conversations[conversation_id] = _merged_conversation(
            record, conversations.get(conversation_id)
        )
    ordered: list[Record] = []
    if profile is not None:
        ordered.append(profile)
    if window is not None:
        ordered.append(window)
    ordered += sorted(posts.values(), key=lambda p: (str(p.get("created_at")), str(p.get("id"))))
    ordered += [conversations[k] for k in sorted(conversations)]
    usable, problems = _usable(ordered)
    return Merged(
        records=usable,
        posts_fetched=len(fetched_ids),
        posts_kept=len(posts.keys() - fetched_ids),
        deleted_found=len(gone & (posts.keys() - fetched_ids)),
        problems=problems,
    )


def _inside(created_at: Any, start: datetime, end: datetime) -> bool:
    if not isinstance(created_at, str):
        return False
    try:
        moment = parse_time(created_at, "created_at")
    except RecordError:
        return False
    return start <= moment <= end


def _newer_post(kept: Record | None, fetched: Record) -> Record:
    if kept is None or fetched.get("visibility") != "deleted" or fetched.get("text"):
        return dict(fetched)
    # A deleted post usually comes back without its text: keep what it said as evidence.
    merged = dict(fetched)
    for key in ("text", "author", "author_id", "url"):
        if not merged.get(key) and kept.get(key):
            merged[key] = kept[key]
    return merged


def _merged_conversation(kept: Record, fetched: Record | None) -> Record:
    """Messages of both, by id (the fetched copy wins), in time order."""
    if fetched is None:
        return dict(kept)
    messages: dict[str, Any] = {}
    for message in [*(kept.get("messages") or []), *(fetched.get("messages") or [])]:
        if isinstance(message, Mapping):
            messages[str(message.get("id"))] = message
    merged = dict(fetched)
    merged["messages"] = sorted(messages.values(), key=lambda m: str(m.get("created_at")))
    return merged


def _usable(records: list[Record]) -> tuple[list[Record], list[str]]:
    """Records the bundle reader accepts; a protocol's malformed record must not make the whole
    run's input bad, only this account's window incomplete."""
    scratch: AccountData | None = None
    usable: list[Record] = []
    problems: list[str] = []
    for record in records:
        try:
            if scratch is None:
                scratch = AccountData(AccountKey(str(record["platform"]), str(record["account"])))
            add_record(scratch, record)
        except (RecordError, KeyError) as error:
            problems.append(f"{record.get('kind')} {record.get('id', '')}: {error}".strip())
            continue
        usable.append(record)
    return usable, problems


def _finish(store: HistoryStore, item: _Prepared, fetched: _Fetched, now: datetime) -> AccountFetch:
    """Merge, write the bundle, then keep records and (if complete) the cursor."""
    account, outcome, recheck = item.account, fetched.outcome, fetched.recheck
    spec = item.protocol.spec
    nothing_arrived = outcome.pages == 0
    fetched_records, kept_posts, kept_conversations = _pseudonymised(item, outcome.records)
    deleted = recheck.deleted if recheck is not None else set()
    if item.pseudonymiser is not None:
        deleted = {item.pseudonymiser.post_id(i) for i in deleted}
    merged = merge_records(
        fetched_records,
        # When nothing arrived, old posts must not pass for the current state of the window.
        [] if nothing_arrived else kept_posts,
        [] if nothing_arrived else kept_conversations,
        window_start=spec.window_start,
        window_end=spec.window_end,
        deleted=deleted,
    )
    missing = [*outcome.missing, *(recheck.problems if recheck is not None else ())]
    if merged.problems:
        # The first problem quotes a record the server sent: kept only as server text is.
        unusable = f"{len(merged.problems)} records unusable: {merged.problems[0]}"
        missing.append(server_text(unusable, [item.token.secret]))
    window = _closing_window(merged.records, spec)
    observes = set(window.get("observes") or [])
    if recheck is not None and recheck.succeeded:
        observes |= item.protocol.rechecked
    window.update(
        complete=not missing,
        reason="; ".join(missing) if missing else None,
        lost=sorted(lost_kinds(spec.platform, missing)) if missing else None,
        observes=sorted(observes),
        pages=outcome.pages + (recheck.pages if recheck is not None else 0),
        requests=outcome.requests_made + (recheck.requests_made if recheck is not None else 0),
        posts_fetched=merged.posts_fetched,
        posts_kept=merged.posts_kept,
    )
    assert account.source.path is not None
    try:
        write_bundle(account.source.path, merged.records)
    except OSError as error:
        # Nothing is kept either: the next run fetches this account again from the old cursor.
        reason = f"cannot write {account.source.path}: {error.strerror or error}"
        log.error("%s:%s %s", account.platform, account.handle, reason)
        return _unwritten(item, reason)
    complete = not missing
    store.record_fetch(
        account.platform,
        account.handle,
        now,
        _observations(merged.records),
        _conversations(merged.records),
        # A cursor past pages that never arrived would skip them for good: keep the old one.
        cursor=_sealed(item, outcome.cursor) if complete else None,
        # The fetch's wall clock: the records' last_observed_at, for retention.
        observed_now=now,
    )
    return AccountFetch(
        client=account.client,
        platform=account.platform,
        handle=account.handle,
        path=account.source.path,
        complete=complete,
        reason=window["reason"],
        pages=window["pages"],
        requests_made=window["requests"],
        posts=sum(1 for r in merged.records if r.get("kind") == "post"),
        posts_fetched=merged.posts_fetched,
        posts_kept=merged.posts_kept,
        deleted_found=merged.deleted_found,
        conversations=sum(1 for r in merged.records if r.get("kind") == "conversation"),
        cursor_saved=complete,
    )


def _sealed(item: _Prepared, cursor: Mapping[str, Any]) -> Mapping[str, Any]:
    return cursor if item.pseudonymiser is None else item.pseudonymiser.seal_cursor(cursor)


def _pseudonymised(
    item: _Prepared, fetched: Sequence[Record]
) -> tuple[list[Record], list[Record], list[Record]]:
    """The fetched and kept records, customers pseudonymised when they must be (before the
    merge, so that nothing raw reaches the bundle or the store). Kept records are passed too: a
    store written before pseudonymisation was turned on holds raw ones; a pseudonym stays as
    it is."""
    pseudonymiser = item.pseudonymiser
    if pseudonymiser is None:
        return list(fetched), item.kept_posts, item.kept_conversations
    split = (len(fetched), len(fetched) + len(item.kept_posts))
    every = pseudonymiser.records([*fetched, *item.kept_posts, *item.kept_conversations])
    return every[: split[0]], every[split[0] : split[1]], every[split[1] :]


def _unwritten(item: _Prepared, reason: str) -> AccountFetch:
    account = item.account
    assert account.source.path is not None
    return AccountFetch(
        client=account.client,
        platform=account.platform,
        handle=account.handle,
        path=account.source.path,
        complete=False,
        reason=reason,
        pages=0,
        requests_made=0,
        posts=0,
        posts_fetched=0,
        posts_kept=0,
        deleted_found=0,
        conversations=0,
        cursor_saved=False,
    )


def _closing_window(records: list[Record], spec: FetchSpec) -> Record:
    for record in records:
        if record.get("kind") == "window":
            return record
    # Every protocol closes with a window record; should one not, the bundle still says what
    # was fetched.
    window = window_record(spec, missing=[], observes=(), fetched_at=spec.window_end)
    records.insert(1 if records and records[0].get("kind") == "profile" else 0, window)
    return window


def _json(record: Record) -> str:
    return dump_record(record).decode().rstrip("\n")


def _observations(records: Iterable[Record]) -> list[FetchedPost]:
    observations = []
    for record in records:
        if record.get("kind") != "post":
            continue
        post_id = str(record["id"])
        observations.append(
            FetchedPost(
                post_id,
                parse_time(record.get("created_at"), "created_at"),
                str(record.get("author")),
                bool(record.get("by_brand")),
                str(record.get("visibility") or "public"),
                record.get("deleted_by"),
                str(record.get("text") or ""),
                record.get("url"),
                str(record.get("thread") or post_id),
                _json(record),
            )
        )
    return observations


def _conversations(records: Iterable[Record]) -> list[FetchedConversation]:
    kept = []
    for record in records:
        if record.get("kind") != "conversation":
            continue
        times = [
            parse_time(m.get("created_at"), "created_at")
            for m in record.get("messages") or []
            if isinstance(m, Mapping)
        ]
        if times:
            kept.append(FetchedConversation(str(record["id"]), max(times), _json(record)))
    return kept


def describe(result: AccountFetch) -> str:
    """One line per account, for progress and summaries."""
    state = "complete" if result.complete else f"INCOMPLETE ({result.reason})"
    kept = f", {result.posts_kept} kept from earlier runs" if result.posts_kept else ""
    deleted = f", {result.deleted_found} found deleted" if result.deleted_found else ""
    return (
        f"{result.key}: {result.pages} pages, {result.posts} posts "
        f"({result.posts_fetched} new{kept}{deleted}), {result.conversations} conversations; "
        f"{state}"
    )
