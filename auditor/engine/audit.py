"""The audit engine: accounts in, one :class:`~auditor.result.AuditResult` out.

It reads each input once through the source contract (it names no source), audits each account
as soon as its records are complete, runs every enabled check from the registry (it names none),
keeps history in the store, and leaves rendering to the writers. Worker processes are
``auditor.engine.parallel``'s business: the engine hands it the function to run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditor import __version__
from auditor.check import AuditContext
from auditor.config import AccountConfig, Config, EffectivePolicy
from auditor.engine.checking import DataGap, needs_unmet, run_check
from auditor.engine.gating import Gate
from auditor.engine.order import ConfigOrder
from auditor.engine.parallel import cycle_collector_paused, map_in_workers, worker_count
from auditor.engine.since_last import (
    Tracked,
    compare,
    pack_findings,
    stored_report,
    tracked_of,
    trend_points,
)
from auditor.engine.stored_run import run_document
from auditor.model import (
    OBSERVABLES,
    AccountData,
    AccountKey,
    Post,
    SeenPost,
    Window,
)
from auditor.privacy import Pseudonymiser
from auditor.registry import Registry
from auditor.result import (
    INTERRUPTED,
    AccountResult,
    AccountSink,
    AuditResult,
    CheckInfo,
    CheckResult,
    Coverage,
    InputFile,
    Interrupted,
    stop_signals_held,
    worst_status,
)
from auditor.sources.inputs import AccountInput, Indexed, InputError, Source, open_inputs
from auditor.store.history import HistoryStore, StoreLocation
from auditor.wording import count

# The error of an account its input failed before reaching (the input's own error says why).
NOT_AUDITED = "not audited: its input failed before this account was read"


@dataclass(frozen=True, slots=True)
class StoreHistory:
    """What earlier audits saw of one account, read on demand through a connection of its own
    (an audit may run in a worker process, which must not share the parent's)."""

    location: StoreLocation
    platform: str
    account: str
    before: datetime

    def previous_posts(self) -> Mapping[str, SeenPost]:
        with HistoryStore(self.location) as store:
            return store.previous_posts(self.platform, self.account, self.before)


def effective_window(data: AccountData) -> Window | None:
    """The input's window, or the span of the posts with completeness unknown."""
    if data.window is not None:
        return data.window
    if not data.posts:
        return None
    times = [p.created_at for p in data.posts]
    return Window(start=min(times), end=max(times), complete=None)


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
        lost=sorted(window.lost_kinds) if window is not None and window.complete is False else None,
        observes=None if window is None or window.observes is None else sorted(window.observes),
        invalid_records=data.invalid_records,
        pages=_pages(window),
        not_observable=_not_observable(window),
    )


def _with_skipped_records(data: AccountData, window: Window | None) -> Window | None:
    """The window as the checks and the coverage must see it when --skip-invalid left records
    out: incomplete, with how many and the kinds of data they held, so that coverage and the
    checks give one answer and no check takes a skipped record for a missing (deleted) one."""
    if window is None or not data.invalid_records:
        return window
    window.lose(data.invalid_kinds, f"{count(data.invalid_records, 'invalid record')} skipped")
    return window


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


class _AuditInWorker:
    """What each worker process runs for one account (an input's position, the account's key).

    Workers inherit it by fork, with all it holds: the engine (its config, registry and
    plug-ins) and the inputs. Each worker writes its accounts to the history store through a
    connection of its own, opened on its first account (a connection must never be used across
    fork), and sends back only the result: millions of post rows never cross between processes.
    """

    def __init__(
        self, engine: Engine, inputs: list[AccountInput], run_id: str, started: datetime
    ) -> None:
        self.engine, self.inputs, self.run_id, self.started = engine, inputs, run_id, started
        self.store: HistoryStore | None = None

    def tasks(self) -> list[tuple[int, AccountKey]]:
        return [(n, key) for n, source in enumerate(self.inputs) for key in source.accounts()]

    def size(self, task: tuple[int, AccountKey]) -> int:
        position, key = task
        return self.inputs[position].size(key)

    def __call__(self, task: tuple[int, AccountKey]) -> Audited:
        position, key = task
        engine = self.engine
        audited = engine.audit(self.inputs[position].read(key))
        if engine.store is not None:
            if self.store is None:
                self.store = HistoryStore(engine.store.location, engine.config.retention_days)
            record(
                self.store, self.run_id, audited, self.started, engine.position(key), engine.tracked
            )
            audited.posts = []
        return audited


def record(
    store: HistoryStore,
    run_id: str,
    audited: Audited,
    read_at: datetime,
    position: int = 0,
    tracked: Tracked = (),
) -> None:
    """Keep one audited account in the history store, in one transaction, with its report, its
    change since the last audit and its trend (both set on the result here); ``read_at`` is the
    run's start by the wall clock, when its posts were read (for retention, and this audit's
    point of the trend); ``position``: its place in config order; ``tracked``: the figures
    compared with the last audit."""
    if audited.observed_at is None:
        return
    account = audited.result
    findings = pack_findings(account)
    # One read of the account's earlier audits gives the trend and, its last, the previous
    # audit; both are set before the stored report is made, which shows them (and ``auditor
    # report`` writes them again from there).
    earlier = store.audit_trend(account.platform, account.account, run_id, audited.observed_at)
    previous = (
        store.audit_findings(account.platform, account.account, earlier[-1]) if earlier else None
    )
    account.since_last = compare(account, findings, previous, tracked)
    account.trend = trend_points(earlier, account, run_id, read_at, tracked)
    store.record_account(
        run_id,
        account.platform,
        account.account,
        account.status,
        audited.observed_at,
        audited.posts,
        findings,
        observed_now=read_at,
        report=stored_report(account, position, tracked),
    )
    audited.recorded = True


class Engine:
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
        gate: Gate | None = None,
        soft_fail: bool = False,
        fetch_incomplete: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.fail_on = fail_on
        self.skip_invalid = skip_invalid
        self.client_filter = None if clients is None else set(clients)
        self.workers = worker_count(workers)
        # Baseline and suppressions, applied as each account's audit ends (in its worker).
        self.gate = gate
        self.soft_fail = soft_fail
        self.pseudonym_key = config.pseudonym_key()
        self._configs = {a.key: a for a in self.accounts()}
        self._positions = {key: n for n, key in enumerate(self._configs)}
        # The figures each account is compared on with its last audit, as the checks declare.
        self.tracked = tracked_of(registry)
        # What the store keeps of the run for ``auditor report``: the accounts whose fetch was
        # incomplete (they count in the exit code), and the accounts no audit recorded.
        self.fetch_incomplete = dict(fetch_incomplete or {})
        self._recorded: set[AccountKey] = set()
        self._unrecorded: list[AccountResult] = []
        self._policies: dict[tuple[int, ...], EffectivePolicy] = {}
        # What the reports show of each policy (by the id of one in _policies, which keeps it):
        # one dict per policy, shared by its accounts.
        self._policy_dicts: dict[int, dict[str, Any]] = {}

    def position(self, key: AccountKey) -> int:
        """An account's place in the run's config order."""
        return self._positions[key]

    def accounts(self) -> list[AccountConfig]:
        return [
            a
            for a in self.config.accounts()
            if self.client_filter is None or a.client in self.client_filter
        ]

    def run(
        self, started_at: datetime | None = None, sink: AccountSink | None = None
    ) -> AuditResult:
        """Audit every account. With a ``sink`` (the report writers), each account is handed to
        it in config order as soon as it and those before it are done, and the result keeps
        none of them (memory is bounded by the largest account, not the run); without one, the
        result keeps them all in ``clients``."""
        with cycle_collector_paused():
            return self._run(started_at, sink)

    def _run(self, started_at: datetime | None, sink: AccountSink | None) -> AuditResult:
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
            check_info={
                c.id: CheckInfo(c.title, c.severity, c.rationale, c.remediation)
                for c in self.registry
            },
            soft_fail=self.soft_fail,
            gating=None if self.gate is None else self.gate.setup,
        )

        def hand_on(account: AccountResult) -> None:
            with stop_signals_held():
                key = AccountKey(account.platform, account.account)
                if self.store is not None and key not in self._recorded:
                    self._unrecorded.append(account)
                result.add(account, keep=sink is None)
                if sink is not None:
                    sink.account(account)

        order = ConfigOrder([a.key for a in accounts], hand_on)
        if sink is not None:
            sink.begin(result)
        try:
            self._audit_run(result, order, started, sink)
        except BaseException:
            order.close()
            if sink is not None:
                sink.abort()
            raise
        return result

    def _audit_run(
        self,
        result: AuditResult,
        order: ConfigOrder,
        started: datetime,
        sink: AccountSink | None,
    ) -> None:
        # First what can be learnt of each input without reading its accounts (a bundle's
        # index): its hash keys the run. Inputs that must be read in full wait for their turn.
        indexed: list[AccountInput] = []
        unread: list[AccountInput] = []
        for source in open_inputs(self._sources(self.accounts())):
            try:
                known = source.index()
            except InputError as error:
                self._input_failed(source, str(error), result, order)
                continue
            if known is None:
                unread.append(source)
            else:
                self._input_indexed(source, known, result, order)
                indexed.append(source)

        result.run_id = self._run_key(result)
        if self.store is not None:
            self.store.begin_run(result.run_id, self.config.sha256, __version__, started)
        audits = self._audit_all(indexed, unread, result, order)
        try:
            self._collect(audits, result, order, started)
        except Interrupted as stop:
            # A stop signal: no account starts, those in flight stop with the worker pool
            # (their store transactions roll back), those done are kept.
            audits.close()
            result.interrupted = stop.signum
        # Closing the run is done whole: a stop signal that comes meanwhile waits until the
        # reports and the store agree; the run is whole, and the command stops as asked.
        try:
            with stop_signals_held():
                self._finish(result, order, started, sink)
        except Interrupted as late:
            result.stopped_after = late.signum

    def _collect(
        self,
        audits: Iterator[Audited],
        result: AuditResult,
        order: ConfigOrder,
        started: datetime,
    ) -> None:
        for audited in audits:
            account = audited.result
            key = AccountKey(account.platform, account.account)
            if self.store is not None and not audited.recorded:
                record(
                    self.store, result.run_id, audited, started, self.position(key), self.tracked
                )
            if audited.recorded:
                self._recorded.add(key)
            result.input_errors.extend(audited.input_errors)
            order.add(AccountKey(account.platform, account.account), account)
        # Inputs read in full (no index) are hashed only as they are read: the key taken
        # before the accounts were audited lacks them, so the run is keyed again.
        final_key = self._run_key(result)
        if final_key != result.run_id:
            if self.store is not None:
                self.store.rename_run(result.run_id, final_key)
            result.run_id = final_key

    def _finish(
        self,
        result: AuditResult,
        order: ConfigOrder,
        started: datetime,
        sink: AccountSink | None,
    ) -> None:
        """The accounts not handed on yet, then the reports, then the run closed in the store:
        an interrupted run's unfinished accounts are incomplete (``interrupted``), and the run
        is marked so."""
        unaudited: list[AccountKey] = []

        def stand_in(key: AccountKey) -> AccountResult:
            unaudited.append(key)
            if result.interrupted is not None:
                return self._interrupted_result(self._configs[key])
            # Its input failed before reaching it (the input's error says why).
            return self._error_result(self._configs[key], [NOT_AUDITED])

        order.finish(stand_in)
        result.input_errors = list(dict.fromkeys(result.input_errors))
        result.finished_at = datetime.now(UTC)
        if sink is not None:
            sink.end(result)
        if self.store is None:
            return
        if result.interrupted is not None:
            # The store says what the report says: an account the run lists as not audited
            # has no row in it, even if a worker wrote one as the signal came.
            self.store.forget_accounts(result.run_id, unaudited)
            self._finish_in_store(result, INTERRUPTED)
            return
        self._finish_in_store(result, worst_status(result.tally.account_statuses, "pass"))
        # Retention goes by the wall clock (when posts were last fetched or read), never
        # by the data's time.
        self.store.prune(started)

    def _finish_in_store(self, result: AuditResult, status: str) -> None:
        """The run closed in the store, with what its reports need to be written again."""
        assert self.store is not None
        unrecorded = [
            (
                a.platform,
                a.account,
                stored_report(a, self.position(AccountKey(a.platform, a.account)), self.tracked),
            )
            for a in self._unrecorded
        ]
        assert result.finished_at is not None
        self.store.finish_run(
            result.run_id,
            result.finished_at,
            status,
            report=run_document(result, self.fetch_incomplete),
            accounts=unrecorded,
        )

    def _sources(self, accounts: list[AccountConfig]) -> Iterator[Source]:
        for account in accounts:
            assert account.source.path is not None
            yield account.source.type, account.source.path, account.key, account.source.options

    def _input_failed(
        self,
        source: AccountInput,
        message: str,
        result: AuditResult,
        order: ConfigOrder,
    ) -> None:
        result.input_errors.append(message)
        for key in source.wanted:
            order.add(key, self._error_result(self._configs[key], [message]))

    def _input_indexed(
        self,
        source: AccountInput,
        known: Indexed,
        result: AuditResult,
        order: ConfigOrder,
    ) -> None:
        result.inputs.append(InputFile(str(source.path), known.sha256))
        for key, message in known.missing:
            result.input_errors.append(message)
            order.add(key, self._error_result(self._configs[key], [message]))

    def _audit_all(
        self,
        indexed: list[AccountInput],
        unread: list[AccountInput],
        result: AuditResult,
        order: ConfigOrder,
    ) -> Generator[Audited]:
        """Every account's audit, on pools of worker processes where there is enough work.

        The indexed inputs first: those whose accounts can be read one by one share one pool
        per input type (many small bundles of api accounts make one big audit); the others are
        read here. Then each input that must be read in full, one at a time, its accounts on a
        pool of their own or here.
        """
        pooled: set[AccountInput] = set()
        by_type: dict[type[AccountInput], list[AccountInput]] = {}
        for source in indexed:
            if source.readable_by_account:
                by_type.setdefault(type(source), []).append(source)
        for batch in by_type.values():
            if self._worth_a_pool(batch):
                yield from self._audit_in_workers(batch, result)
                for source in batch:
                    source.close()
                pooled.update(batch)
        for source in [*indexed, *unread]:
            if source in pooled:
                continue
            try:
                known = source.open()
            except InputError as error:
                self._input_failed(source, str(error), result, order)
                continue
            if known is not None:
                self._input_indexed(source, known, result, order)
            yield from self._audit_input(source, result)
            source.close()

    def _audit_input(self, source: AccountInput, result: AuditResult) -> Iterator[Audited]:
        """One input's accounts, on a pool of their own when there is enough work, else here."""
        if self._worth_a_pool([source]):
            yield from self._audit_in_workers([source], result)
            return
        try:
            for data in source.read_all():
                yield self.audit(data)
        except InputError as error:
            result.input_errors.append(str(error))

    def _worth_a_pool(self, inputs: list[AccountInput]) -> bool:
        """Several accounts, each readable on its own, and more work than starting processes
        costs (inputs of one type: their sizes share a unit)."""
        if self.workers < 2 or not all(source.readable_by_account for source in inputs):
            return False
        keys = [(source, key) for source in inputs for key in source.accounts()]
        work = sum(source.size(key) for source, key in keys)
        return len(keys) > 1 and work >= type(inputs[0]).parallel_min_size

    def _audit_in_workers(
        self, inputs: list[AccountInput], result: AuditResult
    ) -> Iterator[Audited]:
        worker = _AuditInWorker(self, inputs, result.run_id, result.started_at)
        yield from map_in_workers(worker, worker.tasks(), self.workers, weight=worker.size)

    def _run_key(self, result: AuditResult) -> str:
        # The same config, inputs, tool and options are the same audit: rerunning it replaces
        # that run in the history instead of adding another.
        parts = [__version__, self.config.sha256, str(self.fail_on), str(self.skip_invalid)]
        parts += sorted(f"{i.path}={i.sha256}" for i in result.inputs)
        parts += sorted(self.client_filter or ())
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]

    def _policy(self, account: AccountConfig) -> EffectivePolicy:
        # One per distinct set of layers, not per account: ten thousand accounts under one
        # client policy share one (an account's own empty layer is no layer).
        layers = tuple(id(layer) for _, layer in account.policy_layers if layer)
        policy = self._policies.get(layers)
        if policy is None:
            policy = self._policies[layers] = EffectivePolicy.resolve(
                self.config, account, self.registry
            )
        return policy

    def _policy_dict(self, account: AccountConfig) -> dict[str, Any]:
        policy = self._policy(account)
        as_dict = self._policy_dicts.get(id(policy))
        if as_dict is None:
            as_dict = self._policy_dicts[id(policy)] = policy.as_dict()
            if self.fail_on:
                as_dict["fail_on"] = self.fail_on
        return as_dict

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
            config_line=account.line,
        )

    def _interrupted_result(self, account: AccountConfig) -> AccountResult:
        """An account a stop signal left unaudited: incomplete, for that reason."""
        return AccountResult(
            client=account.client,
            platform=account.platform,
            account=account.handle,
            status="incomplete",
            coverage=Coverage(complete=False, reason=INTERRUPTED),
            policy=self._policy_dict(account),
            source=str(account.source.path),
            config_line=account.line,
        )

    def _fail_severity(self, check_id: str) -> str:
        return self.registry.get(check_id).fail_severity

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
                    config_line=account.line,
                ),
                None,
                [],
                data.errors,
            )
        if self.pseudonym_key is not None:
            # The brand's aliases are the brand's: never pseudonymised.
            Pseudonymiser(
                self.pseudonym_key,
                data.account,
                aliases=account.aliases,
                excluded=policy.exclude_authors,
            ).account(data)
        window = _with_skipped_records(data, effective_window(data))
        observed_at = (window.fetched_at or window.end) if window is not None else None
        history = (
            StoreHistory(self.store.location, data.platform, data.account, observed_at)
            if self.store is not None and observed_at is not None
            else None
        )
        check_policy = {
            **policy.raw,
            "exclude_authors": policy.exclude_authors,
            "aliases": account.aliases,
        }
        cache: dict[str, Any] = {}
        checks: list[CheckResult] = []
        for check_id in policy.enabled:
            check = self.registry.get(check_id)
            severity = policy.severity[check_id]
            gap = DataGap.of(check, window, data)
            unmet = needs_unmet(check, data, window, history is not None)
            if unmet is not None:
                # No profile is nothing to judge, unless the profile was asked for and lost.
                absent = check.needs.profile and data.profile is None and "profile" in gap.missing
                checks.append(
                    CheckResult(
                        id=check.id,
                        title=check.title,
                        version=check.version,
                        severity=severity,
                        status="incomplete" if absent else "not_applicable",
                        summary=gap.reason() if absent else unmet,
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
            checks.append(run_check(check, context, gap))
        if self.gate is not None:
            # Here, where the account's findings are still objects: the state travels inside
            # them (packed or not) to the tally and every writer.
            self.gate.apply(account.platform, account.handle, checks, self._fail_severity)

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
            config_line=account.line,
        )
        return Audited(result, observed_at, data.posts, [])
