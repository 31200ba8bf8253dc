"""A planned run's finalize, once its ledger is complete: the run closed in the history store,
each client's reports written from what the workers stored (as ``auditor report RUN_ID`` writes
them), the scheduler's client runs closed with their outcomes, and the clients' notifications.

Exactly once: :meth:`~auditor.store.ledger.LedgerRecords.claim_finalize` lets one caller in.
A finalizer that dies before it marks the run finalized leaves its claim to expire; the periodic
requeue enqueues the finalize again and the reports are written again, to the same folders.
Each client's notifications are marked in the ledger as soon as they went (or failed after
their retries), before the run is marked finalized: a finalize that takes over sends only the
clients not marked. A client is notified twice only if its finalizer dies between sending and
marking (one store write), and never not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from auditor import __version__
from auditor.distributed.context import WorkerContext, lease_length
from auditor.untrusted import escape_controls

if TYPE_CHECKING:
    from auditor.cli_common import AuditRun
    from auditor.config import Config
    from auditor.registry import Registry
    from auditor.result import AuditResult
    from auditor.store.history import HistoryStore
    from auditor.store.ledger import LedgerRow

log = logging.getLogger("auditor.distributed")


@dataclass(frozen=True)
class Finalized:
    """What a finalize did: the run, its exit code as ``run``'s, its report folders per client,
    the notification failures per client."""

    run_key: str
    code: int
    folders: dict[str, str]
    notify_errors: dict[str, str]


def finalize_run(context: WorkerContext, config_path: str, run_key: str) -> Finalized | None:
    """The task ``finalize_run``; None when another caller finalizes (or finalized) the run, or
    its ledger is not complete."""
    registry, config = context.load(config_path)
    with context.store(config) as store:
        now = context.clock()
        if not store.claim_finalize(run_key, context.worker, now + lease_length(config), now):
            return None
        done = _close_run(context, config, registry, store, run_key)
        outcomes = _close_client_runs(context, config, store, done)
        notify_errors = _notify(config, store, run_key, done, outcomes)
        if not store.finish_finalize(run_key, context.worker, context.clock()):
            log.warning("run %s: another finalizer took over meanwhile", run_key)
            return None
    log.info(
        "run %s finalized: exit %d, reports in %s",
        run_key,
        done.totals.code,
        ", ".join(str(folder) for folder in done.folders.values()) or "no folder",
        extra={"event": "run_finalized", "run": run_key, "exit_code": done.totals.code},
    )
    return Finalized(
        run_key,
        done.totals.code,
        {client: str(folder) for client, folder in done.folders.items()},
        notify_errors,
    )


def _run_result(
    config: Config, registry: Registry, run_key: str, planned_at: datetime, rows: list[LedgerRow]
) -> AuditResult:
    """The run's part of the report, as the engine would have made it (no accounts yet)."""
    from auditor.engine.gating import build_gate
    from auditor.result import AuditResult, CheckInfo, InputFile

    gate = build_gate(config, None, planned_at.date())
    inputs = {
        row.outcome.input_path: row.outcome.input_sha256
        for row in rows
        if row.outcome.input_path is not None and row.outcome.input_sha256 is not None
    }
    return AuditResult(
        tool_version=__version__,
        run_id=run_key,
        started_at=planned_at,
        config_path=str(config.path),
        config_sha256=config.sha256,
        fail_on=None,
        checks={c.id: c.version for c in registry},
        check_info={
            c.id: CheckInfo(c.title, c.severity, c.rationale, c.remediation) for c in registry
        },
        inputs=[InputFile(path, sha) for path, sha in sorted(inputs.items())],
        input_errors=list(dict.fromkeys(r.error for r in rows if r.state == "failed" and r.error)),
        gating=None if gate is None else gate.setup,
    )


def _close_run(
    context: WorkerContext, config: Config, registry: Registry, store: HistoryStore, run_key: str
) -> AuditRun:
    """The run finished in the store, and its reports written from it."""
    from auditor.cli_common import AuditRun
    from auditor.engine.stored_run import rebuild, run_document
    from auditor.result import worst_status
    from auditor.store.history import AccountReport, StoreError

    planned = store.ledger_run(run_key)
    if planned is None:
        raise StoreError(f"run {run_key} is not planned in {config.store_path}")
    rows = store.ledger(run_key)
    result = _run_result(config, registry, run_key, planned.planned_at, rows)
    result.finished_at = context.clock()
    fetch_incomplete = {
        f"{row.platform}:{row.account}": row.outcome.fetch_reason
        for row in rows
        if row.outcome.fetch_reason is not None
    }
    positions = {
        (account.platform, account.handle): n
        for n, account in enumerate(config.accounts())
        if planned.clients is None or account.client in planned.clients
    }
    # The accounts no audit recorded (an input that failed), as their workers reported them.
    unrecorded = [
        (
            row.platform,
            row.account,
            AccountReport(
                positions.get((row.platform, row.account), 0), row.outcome.report.encode()
            ),
        )
        for row in rows
        if row.outcome.report is not None
    ]
    document = run_document(result, fetch_incomplete)
    # Closed first as it stands, then read back whole (the workers' accounts with those no
    # audit recorded) for the run's status and its reports.
    store.finish_run(run_key, result.finished_at, "running", document, unrecorded)
    stored = store.run_report(run_key)
    assert stored is not None
    rebuilt, _ = rebuild(stored)
    status = worst_status(rebuilt.tally.account_statuses, "pass")
    store.finish_run(run_key, result.finished_at, status, document)
    store.prune(planned.planned_at)
    written, folders = _write_reports(config, rebuilt, fetch_incomplete, context.clock())
    return AuditRun(rebuilt, rebuilt.totals(fetch_incomplete), written, folders, fetch_incomplete)


def _write_reports(
    config: Config, result: AuditResult, fetch_incomplete: dict[str, str], now: datetime
) -> tuple[list[Path], dict[str, Path]]:
    """Every client's reports in the config's formats, each in its run folder under
    ``output.dir``, as ``auditor run`` writes them; report folders past ``output.keep_days``
    pruned after."""
    from auditor.reports import WRITERS, Reports, RunFolders, file_formats

    out_dir = config.output_dir
    folders = RunFolders(out_dir)
    reports = Reports(
        [WRITERS[name](out_dir, folders) for name in file_formats(config.formats)],
        fetch_incomplete,
    )
    reports.write(result)
    if config.keep_days is not None:
        from auditor.reports.retention import prune_report_folders

        prune_report_folders(out_dir, folders.made(), config.keep_days, now)
    return list(reports.written), folders.made()


def _close_client_runs(
    context: WorkerContext, config: Config, store: HistoryStore, done: AuditRun
) -> dict[int, tuple[str, str]]:
    """The scheduler's client runs of this run closed with their outcomes (as ``schedule``
    records them); (client run id) -> (client, outcome) of those closed."""
    from auditor.cli_runs import client_outcomes
    from auditor.store.history import StoreError

    accounts = [a for a in config.accounts() if _in(done, a.client)]
    outcomes = client_outcomes(done, accounts)
    closed: dict[int, tuple[str, str]] = {}
    for run_id, client in store.client_runs_of(done.result.run_id):
        outcome = outcomes.get(client)
        if outcome is None:
            continue
        try:
            store.finish_client_run(
                run_id,
                outcome.outcome,
                done.result.run_id,
                outcome.error,
                context.clock(),
                report_dir=outcome.report_dir,
            )
        except StoreError as error:  # recorded interrupted meanwhile (its scheduler stopped)
            log.warning("client %s: %s", escape_controls(client), error)
            continue
        closed[run_id] = (client, outcome.outcome)
    return closed


def _in(done: AuditRun, client: str) -> bool:
    return any(c.name == client for c in done.result.clients)


def _notify(
    config: Config,
    store: HistoryStore,
    run_key: str,
    done: AuditRun,
    closed: dict[int, tuple[str, str]],
) -> dict[str, str]:
    """Each client's notifications of the run (its ``notify``, else the config's), but for
    the clients an earlier finalizer notified; the failures, also kept with the client's run
    when the scheduler recorded one."""
    from auditor.cli_runs import notify_client

    run_of = {client: run_id for run_id, (client, _) in closed.items()}
    notified = store.notified_clients(run_key)
    failures: dict[str, str] = {}
    for client in done.folders:
        if client in notified:
            continue
        error = notify_client(config, done, client)
        store.mark_notified(run_key, client)
        if error is None:
            continue
        failures[client] = error
        if client in run_of:
            store.set_client_run_notify_error(run_of[client], error)
    return failures
