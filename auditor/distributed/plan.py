"""Planning a run for the workers (``auditor enqueue``, the scheduler with ``engine: celery``),
and the periodic requeue of what dead workers left.

A plan begins the run in the history store, writes its ledger (every account ``queued``) and
enqueues one task per account. Nothing is enqueued before the ledger is written: a task always
finds its row. A task lost on the way (the broker restarted without persistence, a publish that
failed half-way) leaves its account queued past its delivery time, and the requeue enqueues it
again, as it does an account whose worker died (its lease expired) and a complete run whose
finalize never ran.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from auditor import __version__
from auditor.distributed.context import Enqueue, lease_length
from auditor.store.ledger import PlannedAccount

if TYPE_CHECKING:
    from auditor.config import AccountConfig, Config
    from auditor.store.history import HistoryStore

log = logging.getLogger("auditor.distributed")


def new_run_key() -> str:
    """A planned run's id: unique (its inputs are fetched by the workers, after it is made)."""
    return uuid.uuid4().hex[:24]


def plan_run(
    config: Config,
    store: HistoryStore,
    accounts: Sequence[AccountConfig],
    clients: Sequence[str] | None,
    now: datetime,
    run_key: str | None = None,
) -> str:
    """Begin the run and write its ledger (not enqueued yet: :func:`enqueue_run`); its key."""
    key = run_key or new_run_key()
    store.begin_run(key, config.sha256, __version__, now)
    planned = [PlannedAccount(a.client, a.platform, a.handle) for a in accounts]
    store.plan_run(key, planned, now, now + lease_length(config), clients)
    return key


def enqueue_run(
    config: Config, accounts: Sequence[AccountConfig], run_key: str, enqueue: Enqueue
) -> None:
    """One task per account of the planned run."""
    path = str(config.path.resolve())
    for account in accounts:
        enqueue.audit(path, run_key, account.client, account.platform, account.handle)


def requeue_expired(config: Config, store: HistoryStore, enqueue: Enqueue, now: datetime) -> int:
    """Enqueue again what dead workers left (accounts whose lease expired, tasks never
    delivered, finalizes that never ran); how many tasks."""
    path = str(config.path.resolve())
    expired = store.expired_leases(now, now + lease_length(config))
    for item in expired:
        if item.account is None:
            log.warning("run %s: its finalize is enqueued again", item.run_key)
            enqueue.finalize(path, item.run_key)
        else:
            assert item.client is not None and item.platform is not None
            log.warning(
                "run %s: %s:%s is enqueued again (its worker stopped, or its task was lost)",
                item.run_key,
                item.platform,
                item.account,
            )
            enqueue.audit(path, item.run_key, item.client, item.platform, item.account)
    return len(expired)
