"""The Celery tasks: thin wrappers that call the work (``account``, ``finalize``, ``plan``) with
the worker process's context. Their arguments are the config's path and names, never a secret:
each worker reads the same config file (and the secrets it names) itself."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.distributed.context import WorkerContext

if TYPE_CHECKING:
    from celery import Celery, Task

log = logging.getLogger("auditor.distributed")

_contexts: dict[int, WorkerContext] = {}


# The app's setting that carries ``auditor worker --checks-dir`` to its pool processes.
CHECKS_DIRS_SETTING = "auditor_checks_dirs"


def worker_context(app: Celery) -> WorkerContext:
    """This process's context: a forked pool process makes its own (nothing is shared with
    the process it was forked from: connections, HTTP clients)."""
    pid = os.getpid()
    context = _contexts.get(pid)
    if context is None:
        _contexts.clear()
        dirs = tuple(Path(d) for d in app.conf.get(CHECKS_DIRS_SETTING) or ())
        context = _contexts[pid] = WorkerContext(checks_dirs=dirs)
    return context


def register(app: Celery) -> None:
    """Add the project's tasks to ``app``."""
    from auditor.distributed.app import TASK_AUDIT, TASK_FINALIZE, TASK_REQUEUE, CeleryQueue

    @app.task(name=TASK_AUDIT, bind=True)  # type: ignore[untyped-decorator]
    def audit_account(
        task: Task, config_path: str, run_key: str, client: str, platform: str, account: str
    ) -> str:
        from auditor.distributed.account import audit_account as audit

        queue = CeleryQueue(task.app)
        return audit(
            worker_context(task.app), queue, config_path, run_key, client, platform, account
        )

    @app.task(name=TASK_FINALIZE, bind=True)  # type: ignore[untyped-decorator]
    def finalize_run(task: Task, config_path: str, run_key: str) -> int | None:
        from auditor.distributed.finalize import finalize_run as finalize

        done = finalize(worker_context(task.app), config_path, run_key)
        return None if done is None else done.code

    @app.task(name=TASK_REQUEUE, bind=True)  # type: ignore[untyped-decorator]
    def requeue_expired(task: Task, config_path: str) -> int:
        from auditor.distributed.plan import requeue_expired as requeue

        context = worker_context(task.app)
        _, config = context.load(config_path)
        with context.store(config) as store:
            return requeue(config, store, CeleryQueue(task.app), context.clock())
