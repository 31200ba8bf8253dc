"""One account of a planned run, audited for its task: claimed in the ledger, fetched (an api
account) with the worker's HTTP client, read, audited by the engine and recorded into the run,
then finished in the ledger; the run's finalize is enqueued when the ledger is complete.

Idempotent: a task delivered again finds the account done (or held by a live lease) and does
nothing; one whose worker died finds the lease expired, takes it over and records the account
again (the store replaces the run's rows of it, as a rerun does). One account failing never
stops the others: its ledger row says ``failed`` and why, and the run's report lists it as an
error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from auditor.distributed.context import Enqueue, WorkerContext, lease_length
from auditor.store.ledger import AccountOutcome
from auditor.untrusted import escape_controls

if TYPE_CHECKING:
    from auditor.config import AccountConfig, Config
    from auditor.engine.audit import Audited, Engine
    from auditor.model import AccountData
    from auditor.registry import Registry
    from auditor.store.history import HistoryStore
    from auditor.store.ledger import Claim

log = logging.getLogger("auditor.distributed")

TaskOutcome = Literal["done", "failed", "skipped"]


@dataclass(frozen=True)
class _Read:
    """An account's input read: its data (None when the input failed), the input's sha256 if
    known, and the input's error."""

    data: AccountData | None
    sha256: str | None
    error: str | None


def audit_account(
    context: WorkerContext,
    enqueue: Enqueue,
    config_path: str,
    run_key: str,
    client: str,
    platform: str,
    account: str,
) -> TaskOutcome:
    """The task ``audit_account``: ``skipped`` when another worker holds the account or it is
    finished already, else how it ended in the ledger."""
    registry, config = context.load(config_path)
    lease = lease_length(config)
    with context.store(config) as store:
        now = context.clock()
        claim = store.claim_account(run_key, platform, account, context.worker, now + lease, now)
        if claim is None:
            log.info("run %s: %s:%s is done or held by another worker", run_key, platform, account)
            return "skipped"
        state, error, outcome = _audit_claimed(context, config, registry, store, claim)
        if not store.finish_account(
            run_key, platform, account, context.worker, state, context.clock(), error, outcome
        ):
            log.warning(
                "run %s: %s:%s was taken over by another worker (this one's lease expired)",
                run_key,
                platform,
                escape_controls(account),
            )
        complete = store.ledger_complete(run_key)
    if complete:
        enqueue.finalize(config_path, run_key)
    return state


def _audit_claimed(
    context: WorkerContext,
    config: Config,
    registry: Registry,
    store: HistoryStore,
    claim: Claim,
) -> tuple[Literal["done", "failed"], str | None, AccountOutcome]:
    """Audit the claimed account with its lease renewed meanwhile; never raises an Exception
    (a failure is the account's: ``failed`` and its line)."""
    from auditor.cli_runs import Heartbeat, failure_line

    lease = lease_length(config)

    def renew(beat_store: HistoryStore, now: datetime) -> None:
        beat_store.renew(claim.run_key, claim.platform, claim.account, claim.worker, now + lease)

    def renewal_failed(error: Exception) -> None:
        log.warning("run %s: lease renewal stopped: %s", claim.run_key, error)

    engine: Engine | None = None
    chosen: AccountConfig | None = None
    try:
        with Heartbeat(config, renew, renewal_failed, every=lease / 3, clock=context.clock):
            chosen = _account_config(config, claim)
            engine = _engine(config, registry, store, claim.run_key)
            return _fetch_audit_record(context, config, engine, store, chosen, claim)
    except Exception as error:
        from auditor.fetch.secrets import server_text

        # Kept in the ledger and the report: what an exception says passes the redaction.
        line = server_text(failure_line(error))
        log.warning("run %s: %s:%s failed: %s", claim.run_key, claim.platform, claim.account, line)
        report = None
        if engine is not None and chosen is not None:
            report = _unrecorded_report(engine, engine._error_result(chosen, [line]))
        return "failed", line, AccountOutcome(report=report)


def _account_config(config: Config, claim: Claim) -> AccountConfig:
    for candidate in config.accounts():
        if (candidate.client, candidate.platform, candidate.handle) == (
            claim.client,
            claim.platform,
            claim.account,
        ):
            return candidate
    raise LookupError(
        f"{claim.platform}:{claim.account} of client {claim.client} is no longer in"
        f" {config.path} (the config changed after the run was planned)"
    )


def _engine(config: Config, registry: Registry, store: HistoryStore, run_key: str) -> Engine:
    """The engine as the planned run's (its clients: the same config order and positions)."""
    from auditor.engine.audit import Engine
    from auditor.engine.gating import build_gate

    planned = store.ledger_run(run_key)
    if planned is None:
        raise LookupError(f"run {run_key} is not planned in {config.store_path}")
    gate = build_gate(config, None, planned.planned_at.date())
    return Engine(config, registry, store=store, clients=planned.clients, gate=gate)


def _fetch_audit_record(
    context: WorkerContext,
    config: Config,
    engine: Engine,
    store: HistoryStore,
    account: AccountConfig,
    claim: Claim,
) -> tuple[Literal["done", "failed"], str | None, AccountOutcome]:
    from auditor.engine.audit import record

    fetch_reason = None
    if account.source.type == "api":
        from auditor.cli_common import fetch_accounts

        fetched = fetch_accounts(config, store, [account], None, context.http_client(config))
        for incomplete in fetched.incomplete:
            fetch_reason = incomplete.reason or "fetch incomplete"
    read = _read(account)
    path = str(account.source.path)
    planned = store.ledger_run(claim.run_key)
    assert planned is not None  # _engine found it
    if read.data is None:
        assert read.error is not None
        report = _unrecorded_report(engine, engine._error_result(account, [read.error]))
        return "failed", read.error, AccountOutcome(fetch_reason, path, read.sha256, report)
    audited: Audited = engine.audit(read.data)
    position = engine.position(account.key)
    # The run's start is when its posts count as read (retention) and its point of the trend.
    record(store, claim.run_key, audited, planned.planned_at, position, engine.tracked)
    if audited.recorded:
        return "done", None, AccountOutcome(fetch_reason, path, read.sha256)
    # Not recorded (its records were invalid): the report keeps it, from the ledger.
    error = "; ".join(audited.result.errors) or "not audited"
    report = _unrecorded_report(engine, audited.result)
    return "failed", error, AccountOutcome(fetch_reason, path, read.sha256, report)


def _unrecorded_report(engine: Engine, result: object) -> str:
    from auditor.engine.since_last import stored_report
    from auditor.model import AccountKey
    from auditor.result import AccountResult

    assert isinstance(result, AccountResult)
    position = engine.position(AccountKey(result.platform, result.account))
    return stored_report(result, position, engine.tracked).report.decode()


def _read(account: AccountConfig) -> _Read:
    """The account's records from its input (a bundle a fetch wrote, a bundle, a twcs file)."""
    from auditor.sources.inputs import InputError, open_inputs

    assert account.source.path is not None
    (source,) = open_inputs(
        [(account.source.type, account.source.path, account.key, account.source.options)]
    )
    sha256 = None
    try:
        known = source.index()
        opened = source.open()
        known = known or opened
        if known is not None:
            sha256 = known.sha256
            for _, message in known.missing:
                return _Read(None, sha256, message)
        for data in source.read_all():
            return _Read(data, sha256, None)
        return _Read(None, sha256, f"{account.source.path}: no records for account {account.key}")
    except InputError as error:
        return _Read(None, sha256, str(error))
    finally:
        source.close()
