"""The audit engine: accounts in, one :class:`~auditor.result.AuditResult` out.

It reads each bundle once, audits each account as soon as its records are complete, runs every
enabled check from the registry (it names none), keeps history in the store, and leaves rendering
to the writers.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import multiprocessing
import os
import re
import traceback
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.check import AuditContext, Check, CheckOutput, status_of
from auditor.config import AccountConfig, Config, EffectivePolicy
from auditor.model import OBSERVABLES, AccountData, AccountKey, Post, SeenPost, Window
from auditor.registry import Registry
from auditor.result import (
    ACCOUNT_STATUS_ORDER,
    AccountResult,
    AuditResult,
    CheckResult,
    ClientResult,
    Coverage,
    InputFile,
    PackedFindings,
)
from auditor.sources.bundle import (
    BundleError,
    BundleIndex,
    file_sha256,
    index_bundle,
    read_bundle,
    read_span,
)
from auditor.sources.twcs import TwcsFile, TwcsStats, read_twcs_file
from auditor.store.history import HistoryStore


@dataclass(frozen=True, slots=True)
class StoreHistory:
    """What earlier audits saw of one account, read on demand through a connection of its own
    (an audit may run in a worker process, which must not share the parent's)."""

    path: str
    platform: str
    account: str
    before: datetime

    def previous_posts(self) -> Mapping[str, SeenPost]:
        with HistoryStore(self.path) as store:
            return store.previous_posts(self.platform, self.account, self.before)


def effective_window(data: AccountData) -> Window | None:
    """The bundle's window, or the span of the posts with completeness unknown."""
    if data.window is not None:
        return data.window
    if not data.posts:
        return None
    times = [p.created_at for p in data.posts]
    return Window(start=min(times), end=max(times), complete=None)


_MENTION = re.compile(r"@([A-Za-z0-9_.]+)")


def pseudonymise(data: AccountData, key: bytes, excluded: frozenset[str]) -> None:
    """Replace customer handles with stable keyed hashes, before any check or store sees them.

    Handles go from authors, author ids, links and @mentions in every text, so that neither a
    report nor the history store can name a customer.
    """
    brand = data.account.lower().lstrip("@")

    def alias(handle: str) -> str:
        digest = hmac.new(key, handle.lower().encode(), hashlib.sha256).hexdigest()
        return f"cust-{digest[:12]}"

    customers: dict[str, str] = {}
    for post in data.posts:
        author = post.author.lower().lstrip("@")
        if not post.by_brand and author != brand and author not in excluded:
            customers.setdefault(author, alias(author))
    for conversation in data.conversations:
        customers.setdefault(conversation.customer.lower(), alias(conversation.customer))

    def replace_mention(match: re.Match[str]) -> str:
        return "@" + customers.get(match.group(1).lower(), match.group(1))

    for post in data.posts:
        author = post.author.lower().lstrip("@")
        if author in customers and not post.by_brand:
            if post.url:
                post.url = post.url.replace(post.author, customers[author])
            post.author = customers[author]
            if post.author_id is not None:
                post.author_id = alias(post.author_id)
        if "@" in post.text:
            post.text = _MENTION.sub(replace_mention, post.text)
    for conversation in data.conversations:
        conversation.customer = customers[conversation.customer.lower()]
        for message in conversation.messages:
            if "@" in message.text:
                message.text = _MENTION.sub(replace_mention, message.text)


def _needs_unmet(
    check: Check, data: AccountData, window: Window | None, history: bool
) -> str | None:
    needs = check.needs
    if needs.profile and data.profile is None:
        return "no profile in the data"
    if needs.posts and window is None:
        return "no posts in the data"
    if needs.conversations and (window is None or not window.can_observe("conversations")):
        return "private conversations are not observed on this platform"
    if needs.history and not history:
        return "no history store"
    for what in sorted(needs.observes):
        if window is None or not window.can_observe(what):
            return f"the source cannot observe {what} posts"
    if needs.complete_window and (window is None or window.complete is not True):
        return "the window is not known to be complete"
    return None


def _data_complete(check: Check, data: AccountData, window_complete: bool | None) -> bool | None:
    """Skipped records leave every check short of data; a partial window only those reading it."""
    if data.invalid_records:
        return False
    needs = check.needs
    return window_complete if needs.posts or needs.conversations or needs.history else True


def run_check(check: Check, context: AuditContext, data_complete: bool | None) -> CheckResult:
    try:
        output = check.run(context)
        if not isinstance(output, CheckOutput):
            raise TypeError(f"returned {type(output).__name__}, not CheckOutput")
    except Exception as error:  # a check that raises must not stop the others
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
        return CheckResult(
            id=check.id,
            title=check.title,
            version=check.version,
            severity=context.severity,
            status="error",
            summary=message,
            error=message,
        )
    status = status_of(check, output, data_complete=data_complete)
    summary = output.summary or output.not_applicable or ""
    if status == "incomplete":
        summary = f"{summary} (data incomplete)" if summary else "data incomplete"
    return CheckResult(
        id=check.id,
        title=check.title,
        version=check.version,
        severity=context.severity,
        status=status,
        summary=summary,
        findings=output.findings,
        metrics=output.metrics,
        notes=output.notes,
    )


def worst_status(statuses: Iterable[str], default: str = "not_applicable") -> str:
    present = set(statuses)
    return next((s for s in ACCOUNT_STATUS_ORDER if s in present), default)


def coverage(data: AccountData, window: Window | None, threads: int) -> Coverage:
    brand_posts = sum(1 for p in data.posts if p.by_brand)
    return Coverage(
        posts=len(data.posts),
        customer_posts=len(data.posts) - brand_posts,
        brand_posts=brand_posts,
        threads=threads,
        conversations=len(data.conversations),
        window_start=window.start if window else None,
        window_end=window.end if window else None,
        complete=window.complete if window else None,
        reason=window.reason if window else None,
        observes=None if window is None or window.observes is None else sorted(window.observes),
        invalid_records=data.invalid_records,
        pages=_pages(window),
        not_observable=_not_observable(window),
    )


def _not_observable(window: Window | None) -> list[str]:
    """What the source said it could not see; nothing when it did not say (face value)."""
    if window is None or window.observes is None:
        return []
    return sorted(OBSERVABLES - window.observes)


def _pages(window: Window | None) -> int | None:
    """The pages a fetch read, as its window record says (``pages`` is an extra key)."""
    pages = window.extra.get("pages") if window is not None else None
    return pages if isinstance(pages, int) and not isinstance(pages, bool) and pages >= 0 else None


@dataclass(slots=True)
class Audited:
    """One account's audit, with what the history store keeps of it."""

    result: AccountResult
    observed_at: datetime | None
    # The audited posts themselves, handed to the store as they are.
    posts: Iterable[Post]
    input_errors: list[str]
    # A worker process writes its accounts to the history store itself and sends back only
    # the result: millions of post rows never cross between processes.
    recorded: bool = False


@dataclass(frozen=True, slots=True)
class _Task:
    index: BundleIndex
    key: AccountKey
    run_id: str


# Set in the parent just before the pool forks, so that workers inherit the engine (its
# config, registry and plug-ins) instead of receiving it pickled.
_WORKER_ENGINE: Engine | None = None
# A worker's own connection to the history store, opened on its first account: a connection
# must never be used across fork.
_WORKER_STORE: HistoryStore | None = None


def _forked_pool(processes: int) -> Pool:
    return multiprocessing.get_context("fork").Pool(processes)


def _size(task: _Task) -> int:
    span = task.index.spans[task.key]
    return span.end - span.start


def _audit_in_worker(task: _Task) -> Audited:
    engine = _WORKER_ENGINE
    assert engine is not None
    return _sent_from_worker(engine, task.run_id, engine.audit(read_span(task.index, task.key)))


def _sent_from_worker(engine: Engine, run_id: str, audited: Audited) -> Audited:
    """Record an account in the worker's own store connection; pack what goes to the parent."""
    global _WORKER_STORE
    if engine.store is not None:
        if _WORKER_STORE is None:
            _WORKER_STORE = HistoryStore(engine.store.path, engine.config.retention_days)
        record(_WORKER_STORE, run_id, audited)
        audited.posts, audited.recorded = [], True
    for check in audited.result.checks:
        if check.findings:
            check.findings = PackedFindings.pack(check.findings)
    return audited


@dataclass(frozen=True, slots=True)
class _TwcsJob:
    """One twcs file read in the parent, and what its accounts' audits need besides."""

    twcs: TwcsFile
    accounts: dict[str, AccountConfig]  # by the dataset's handle
    run_id: str


# Set in the parent just before a twcs pool forks: workers inherit the file's tweets (a million
# rows) instead of receiving them pickled.
_WORKER_TWCS: _TwcsJob | None = None
# Below this many posts, starting processes costs more than auditing twcs accounts in parallel
# saves.
TWCS_PARALLEL_MIN_POSTS = 100_000


def _twcs_account(job: _TwcsJob, handle: str) -> AccountData:
    """One twcs account under its config's key, incomplete when rows could not be read."""
    twcs, account = job.twcs, job.accounts[handle]
    # The dataset spells a handle its own way; the config's account is the one audited.
    data = twcs.account_data(handle, account.key)
    stats = twcs.stats
    if stats.rows_unreadable and data.window is not None:
        # The rows that could not be read may have been this brand's.
        data.window.complete = False
        data.window.reason = f"{stats.rows_unreadable} rows of {twcs.path} could not be read"
        data.errors.extend(stats.unreadable_examples)
    return data


def _audit_twcs_in_worker(handle: str) -> Audited:
    engine, job = _WORKER_ENGINE, _WORKER_TWCS
    assert engine is not None and job is not None
    return _sent_from_worker(engine, job.run_id, engine.audit(_twcs_account(job, handle)))


def record(store: HistoryStore, run_id: str, audited: Audited) -> None:
    """Keep one audited account in the history store, in one transaction."""
    if audited.observed_at is None:
        return
    account = audited.result
    store.record_account(
        run_id,
        account.platform,
        account.account,
        account.status,
        audited.observed_at,
        audited.posts,
        (f for c in account.checks for f in c.findings),
    )


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause the cycle collector for the audit.

    An audit allocates millions of small objects that live until their account is done, and
    none of them form cycles: every automatic collection rescans them all for nothing, which
    measured as a third of the run. Forked workers inherit the paused state.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def default_workers() -> int:
    return min(os.cpu_count() or 1, 8)


class Engine:
    # Below this much bundle data the cost of starting processes outweighs what they save.
    PARALLEL_MIN_BYTES = 32 << 20

    def __init__(
        self,
        config: Config,
        registry: Registry,
        *,
        store: HistoryStore | None = None,
        fail_on: str | None = None,
        skip_invalid: bool = False,
        clients: Iterable[str] | None = None,
        workers: int | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.fail_on = fail_on
        self.skip_invalid = skip_invalid
        self.client_filter = None if clients is None else set(clients)
        self.workers = default_workers() if workers is None else workers
        if "fork" not in multiprocessing.get_all_start_methods():
            # Workers inherit the engine by fork; without it (Windows) audits run here.
            self.workers = 1
        self.pseudonym_key = config.pseudonym_key()
        self._configs = {a.key: a for a in self.accounts()}
        self._policies: dict[AccountKey, EffectivePolicy] = {}

    def accounts(self) -> list[AccountConfig]:
        return [
            a
            for a in self.config.accounts()
            if self.client_filter is None or a.client in self.client_filter
        ]

    def run(self, started_at: datetime | None = None) -> AuditResult:
        with _cycle_collector_paused():
            return self._run(started_at)

    def _run(self, started_at: datetime | None) -> AuditResult:
        started = started_at or datetime.now(UTC)
        accounts = self.accounts()
        result = AuditResult(
            tool_version=__version__,
            run_id="",
            started_at=started,
            config_path=str(self.config.path),
            config_sha256=self.config.sha256,
            fail_on=self.fail_on,
            checks={c.id: c.version for c in self.registry},
        )
        by_path: dict[Path, list[AccountConfig]] = {}
        twcs_paths: dict[Path, list[AccountConfig]] = {}
        for account in accounts:
            assert account.source.path is not None
            sources = twcs_paths if account.source.type == "twcs" else by_path
            sources.setdefault(account.source.path, []).append(account)

        results: dict[AccountKey, AccountResult] = {}
        indexes: list[BundleIndex] = []
        for path, wanted in by_path.items():
            try:
                index = index_bundle(path)
            except BundleError as error:
                result.input_errors.append(str(error))
                for account in wanted:
                    results[account.key] = self._error_result(account, [str(error)])
                continue
            indexes.append(index)
            result.inputs.append(InputFile(str(path), index.sha256))
            for account in wanted:
                if account.key not in index.spans:
                    message = f"{path}: no records for account {account.key}"
                    result.input_errors.append(message)
                    results[account.key] = self._error_result(account, [message])

        result.run_id = self._run_key(result)
        if self.store is not None:
            self.store.begin_run(result.run_id, self.config.sha256, __version__, started)
        newest: datetime | None = None
        audits = chain(
            self._audit_all(indexes, by_path, result), self._audit_twcs(twcs_paths, result)
        )
        for audited in audits:
            if self.store is not None and not audited.recorded:
                record(self.store, result.run_id, audited)
            results[AccountKey(audited.result.platform, audited.result.account)] = audited.result
            result.input_errors.extend(audited.input_errors)
            end = audited.result.coverage.window_end
            if end is not None and (newest is None or end > newest):
                newest = end
        result.input_errors = list(dict.fromkeys(result.input_errors))

        for client in self.config.clients:
            if self.client_filter is not None and client.name not in self.client_filter:
                continue
            result.clients.append(
                ClientResult(client.name, [results[a.key] for a in client.accounts])
            )
        result.finished_at = datetime.now(UTC)
        if self.store is not None:
            statuses = [a.status for a in result.accounts()]
            self.store.finish_run(result.run_id, result.finished_at, worst_status(statuses, "pass"))
            if newest is not None:
                self.store.prune(newest, runs_now=started)
        return result

    def _audit_all(
        self,
        indexes: list[BundleIndex],
        by_path: dict[Path, list[AccountConfig]],
        result: AuditResult,
    ) -> Iterator[Audited]:
        """Every account's audit: grouped plain bundles on a pool of processes, the rest here."""
        tasks = [
            _Task(index, account.key, result.run_id)
            for index in indexes
            if index.seekable
            for account in by_path[index.path]
            if account.key in index.spans
        ]
        size = sum(_size(t) for t in tasks)
        parallel = self.workers > 1 and len(tasks) > 1 and size >= self.PARALLEL_MIN_BYTES
        if parallel:
            yield from self._audit_parallel(tasks)
        for index in indexes:
            if parallel and index.seekable:
                continue
            wanted = [a.key for a in by_path[index.path] if a.key in index.spans]
            try:
                for data in read_bundle(index, wanted):
                    yield self.audit(data)
            except BundleError as error:
                result.input_errors.append(str(error))

    def _audit_twcs(
        self, paths: dict[Path, list[AccountConfig]], result: AuditResult
    ) -> Iterator[Audited]:
        """Accounts read from files in the layout of the public twcs dataset.

        Each file is read once, in this process; its accounts are then audited on a pool of
        forked processes when there are several and enough posts, else here.
        """
        global _WORKER_ENGINE, _WORKER_TWCS
        for path, accounts in paths.items():
            wanted = {a.handle.lower(): a for a in accounts}
            try:
                # The file's hash for the report's provenance, on a thread while the reader
                # parses: hashing releases the GIL, and the read is the run's longest serial part.
                with ThreadPoolExecutor(max_workers=1) as hasher:
                    digest = hasher.submit(file_sha256, path)
                    twcs = read_twcs_file(path, wanted, TwcsStats())
                    result.inputs.append(InputFile(str(path), digest.result()))
            except (OSError, ValueError) as error:
                message = f"{path}: cannot read twcs file: {error}"
                result.input_errors.append(message)
                for account in accounts:
                    yield Audited(self._error_result(account, [message]), None, [], [])
                continue
            handles = twcs.handles()
            job = _TwcsJob(twcs, {h: wanted[h.lower()] for h in handles}, result.run_id)
            parallel = (
                self.workers > 1
                and len(handles) > 1
                and twcs.stats.posts >= TWCS_PARALLEL_MIN_POSTS
            )
            if parallel:
                _WORKER_ENGINE, _WORKER_TWCS = self, job
                try:
                    with _forked_pool(min(self.workers, len(handles))) as pool:
                        # Largest accounts first, so that no worker is left with a big one last.
                        ordered = sorted(handles, key=twcs.size, reverse=True)
                        yield from pool.imap_unordered(_audit_twcs_in_worker, ordered)
                finally:
                    _WORKER_ENGINE = _WORKER_TWCS = None
            else:
                for handle in handles:
                    yield self.audit(_twcs_account(job, handle))
            seen = {handle.lower() for handle in handles}
            for handle, account in wanted.items():
                if handle not in seen:
                    message = f"{path}: no tweets by brand {account.handle}"
                    result.input_errors.append(message)
                    yield Audited(self._error_result(account, [message]), None, [], [])

    def _audit_parallel(self, tasks: list[_Task]) -> Iterator[Audited]:
        global _WORKER_ENGINE
        _WORKER_ENGINE = self
        try:
            with _forked_pool(min(self.workers, len(tasks))) as pool:
                # Largest accounts first, so that no worker is left with a big one at the end.
                ordered = sorted(tasks, key=_size, reverse=True)
                yield from pool.imap_unordered(_audit_in_worker, ordered)
        finally:
            _WORKER_ENGINE = None

    def _run_key(self, result: AuditResult) -> str:
        # The same config, inputs, tool and options are the same audit: rerunning it replaces
        # that run in the history instead of adding another.
        parts = [__version__, self.config.sha256, str(self.fail_on), str(self.skip_invalid)]
        parts += sorted(f"{i.path}={i.sha256}" for i in result.inputs)
        parts += sorted(self.client_filter or ())
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]

    def _policy(self, account: AccountConfig) -> EffectivePolicy:
        policy = self._policies.get(account.key)
        if policy is None:
            policy = self._policies[account.key] = EffectivePolicy.resolve(
                self.config, account, self.registry
            )
        return policy

    def _policy_dict(self, account: AccountConfig) -> dict[str, Any]:
        policy = self._policy(account).as_dict()
        if self.fail_on:
            policy["fail_on"] = self.fail_on
        return policy

    def _error_result(self, account: AccountConfig, errors: list[str]) -> AccountResult:
        return AccountResult(
            client=account.client,
            platform=account.platform,
            account=account.handle,
            status="error",
            coverage=Coverage(),
            policy=self._policy_dict(account),
            errors=errors,
            source=str(account.source.path),
        )

    def audit(self, data: AccountData) -> Audited:
        """Audit one account: every enabled check, in a context of its own."""
        account = self._configs[data.key]
        policy = self._policy(account)
        if data.invalid_records and not self.skip_invalid:
            errors = [*data.errors, "rerun with --skip-invalid to audit the valid records"]
            return Audited(
                AccountResult(
                    client=account.client,
                    platform=account.platform,
                    account=account.handle,
                    status="error",
                    coverage=coverage(data, data.window, 0),
                    policy=self._policy_dict(account),
                    errors=errors,
                    source=str(account.source.path),
                ),
                None,
                [],
                data.errors,
            )
        if self.pseudonym_key is not None:
            pseudonymise(data, self.pseudonym_key, policy.exclude_authors)
        window = effective_window(data)
        window_complete = window.complete if window is not None else None
        observed_at = (window.fetched_at or window.end) if window is not None else None
        history = (
            StoreHistory(self.store.path, data.platform, data.account, observed_at)
            if self.store is not None and observed_at is not None
            else None
        )
        check_policy = {**policy.raw, "exclude_authors": policy.exclude_authors}
        cache: dict[str, Any] = {}
        checks: list[CheckResult] = []
        for check_id in policy.enabled:
            check = self.registry.get(check_id)
            severity = policy.severity[check_id]
            unmet = _needs_unmet(check, data, window, history is not None)
            if unmet is not None:
                checks.append(
                    CheckResult(
                        id=check.id,
                        title=check.title,
                        version=check.version,
                        severity=severity,
                        status="not_applicable",
                        summary=unmet,
                    )
                )
                continue
            context = AuditContext(
                account=data,
                window=window,
                check=check,
                params=policy.params[check_id],
                severity=severity,  # type: ignore[arg-type]
                policy=check_policy,
                history=history,
                cache=cache,
            )
            checks.append(run_check(check, context, _data_complete(check, data, window_complete)))

        index = cache.get("threads")
        threads = index.threads if index is not None else len({p.thread_id for p in data.posts})
        status = worst_status(c.status for c in checks)
        if data.invalid_records and status in ("pass", "not_applicable"):
            status = "incomplete"
        result = AccountResult(
            client=account.client,
            platform=account.platform,
            account=account.handle,
            status=status,
            coverage=coverage(data, window, threads),
            policy=self._policy_dict(account),
            checks=checks,
            errors=list(data.errors),
            source=str(account.source.path),
        )
        return Audited(result, observed_at, data.posts, [])
