"""``auditor enqueue CONFIG`` and ``auditor worker CONFIG``: the commands of the distributed
engine (``engine: {kind: celery}``, docs/scale.md). Part of the face (``auditor.cli`` adds them).

``enqueue`` plans a run in the history store's ledger and enqueues one task per account; it
prints the run's id. ``worker`` is a Celery worker (prefork pool) with the project's tasks;
``--beat`` also runs the periodic requeue of what dead workers left (run one worker so, or the
scheduler: ``auditor schedule`` requeues on every wake when the engine is celery).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.cli_common import (
    ChecksDirs,
    LogFormatOption,
    check_paths_before_work,
    chosen_accounts,
    echo,
    fail,
    load,
    open_store,
    progress_for,
)
from auditor.result import EXIT_OK

if TYPE_CHECKING:
    from celery import Celery

    from auditor.config import Config

ConfigArgument = Annotated[Path, typer.Argument(metavar="CONFIG", help="The audit config (YAML).")]


def celery_app(config: Config) -> Celery:
    """The config's Celery app, its broker reached once; one line and exit 2 when the engine is
    not celery, the broker's password is missing, or the broker cannot be reached."""
    from auditor.distributed.app import BrokerError, check_broker, make_app
    from auditor.fetch.secrets import SecretUnavailable

    if config.engine.kind != "celery":
        fail(
            f"{config.path}: engine.kind is {config.engine.kind}; this command needs"
            " engine: {kind: celery, broker: {url: redis://...}} (docs/scale.md)"
        )
    try:
        app = make_app(config)
    except SecretUnavailable as error:
        fail(f"{config.path}: {error}")
    try:
        check_broker(app, config)
    except BrokerError as error:
        fail(str(error))
    return app


def plan_and_enqueue(config: Config, app: Celery, clients: list[str] | None) -> str:
    """Plan a run of ``clients`` (None: all) and enqueue its accounts; its run id. A broker
    that fails half-way is one line, exit 2: the accounts not enqueued stay queued in the
    ledger and the periodic requeue enqueues them."""
    from auditor.cli_runs import utc_now
    from auditor.distributed.app import CeleryQueue, broker_text
    from auditor.distributed.plan import enqueue_run, plan_run
    from auditor.fetch.secrets import server_text

    accounts = chosen_accounts(config, clients)
    with open_store(config) as store:
        run_key = plan_run(config, store, accounts, clients, utc_now())
    try:
        enqueue_run(config, accounts, run_key, CeleryQueue(app))
    except Exception as error:
        fail(
            f"run {run_key} is planned but the broker {broker_text(config)} failed while its"
            f" accounts were enqueued ({server_text(str(error))}); the requeue (worker --beat,"
            " or the scheduler) enqueues the rest once it is back"
        )
    return run_key


def enqueue_command(
    config_path: ConfigArgument,
    clients: Annotated[
        list[str] | None,
        typer.Option("--client", metavar="NAME", help="Only this client (repeatable)."),
    ] = None,
    checks_dir: ChecksDirs = None,
) -> None:
    """Plan a run of CONFIG's accounts (or --client's) in the history store's ledger and
    enqueue one task per account for `auditor worker`; print the run id. Exit 0 enqueued; 2 a
    config error, or the broker cannot be reached."""
    from auditor.cli_common import guard_logs

    guard_logs()
    _, config = load(config_path, checks_dir)
    app = celery_app(config)
    accounts = chosen_accounts(config, clients)
    check_paths_before_work(config, accounts, reports_dir=config.output_dir)
    run_key = plan_and_enqueue(config, app, clients)
    echo(run_key)
    raise typer.Exit(EXIT_OK)


def worker_command(
    config_path: ConfigArgument,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, help="Pool processes, each auditing one account at a time (default: cores)."
        ),
    ] = None,
    beat: Annotated[
        bool,
        typer.Option(
            "--beat",
            help="Also requeue, periodically, what dead workers left (run one worker so, "
            "unless the scheduler runs).",
        ),
    ] = False,
    checks_dir: ChecksDirs = None,
    log_format: LogFormatOption = "text",
) -> None:
    """A Celery worker with the project's tasks, for CONFIG's broker (engine: celery): audits
    accounts of planned runs and finalizes them. Runs until SIGTERM (a warm stop: the accounts
    in progress finish) or SIGINT. Exit 0 after a stop; 2 a config error, or no broker."""
    progress_for(log_format, quiet=False, level=logging.INFO, timed=True)
    _, config = load(config_path, checks_dir)
    app = celery_app(config)
    from auditor.distributed.app import QUEUE
    from auditor.distributed.tasks import CHECKS_DIRS_SETTING

    # The pool processes load the config with the same checks.
    app.conf[CHECKS_DIRS_SETTING] = [str(folder.resolve()) for folder in checks_dir or ()]
    argv = [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency or os.cpu_count() or 1}",
        "--loglevel=INFO",
        f"--queues={QUEUE}",
        f"--hostname=auditor-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        schedule_file = config.store_path.with_name(config.store_path.name + ".beat")
        argv += ["--beat", f"--schedule={schedule_file}"]
    app.worker_main(argv)
    raise typer.Exit(EXIT_OK)


def ledger_lines(config: Config) -> list[str]:
    """For ``auditor status`` (engine: celery): each planned run the workers have not finished,
    with its accounts counted; nothing without a store."""
    from auditor.cli_common import store_failure
    from auditor.fetch.store_location import open_config_store
    from auditor.store.history import StoreError

    if config.engine.kind != "celery":
        return []
    if config.store_url is None and not config.store_path.is_file():
        return []
    try:
        with open_config_store(config) as store:
            progress = store.open_ledgers()
    except StoreError as error:
        return [f"distributed runs: {store_failure(config, error)}"]
    return [
        f"distributed run {p.run_key} (planned {p.planned_at.isoformat(timespec='minutes')}):"
        f" {p.done + p.failed}/{p.total} accounts finished"
        + (f", {p.failed} failed" if p.failed else "")
        for p in progress
    ]
