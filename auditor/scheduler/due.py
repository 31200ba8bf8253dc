"""What is due now: a pure function of the clients' schedules, the store's record of their runs
and the time, so that every rule is tested with an injected clock.

The rules, for each client in config order:

- **never audited**: due at once.
- **a run in progress** is never due again: a run longer than the interval does not overlap the
  next; the slots that pass while it runs are taken once, when it ends.
- **interrupted** (stopped by a signal, or its process died): due again at once, whole; but
  after ``MAX_RERUNS_AT_ONCE`` interrupted runs in a row (an audit that kills its process
  each time, say by running out of memory) it waits for its next slot like a failure, so that
  one client cannot keep a restarting scheduler from the others.
- **scheduled**: due when its latest slot is at or before now and no run started at or after
  that slot (a run started after the slot, a manual one too, satisfies it). After downtime over
  several slots it is due once, for the latest slot, not once per missed week; the reason is
  "missed while stopped" when that slot passed before this scheduler was watching.
- **retry after failure**: a failed run of a slot gets ``max_early_retries`` earlier retries,
  each ``retry_after`` after the last attempt ended; then it waits for the next slot.

Every :class:`Due` names the slot a run started now satisfies: the client's latest slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from auditor.scheduler.when import Schedule

__all__ = [
    "MAX_RERUNS_AT_ONCE",
    "ClientRecord",
    "Due",
    "Outcome",
    "Reason",
    "RetryPolicy",
    "due_clients",
    "next_due_at",
    "overruns",
]

Outcome = Literal["ok", "failed", "interrupted", "running"]
# Interrupted runs in a row after which a client is no longer rerun at once.
MAX_RERUNS_AT_ONCE = 3
Reason = Literal[
    "never audited", "scheduled", "missed while stopped", "retry after failure", "interrupted"
]


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} has no time zone: pass an aware datetime")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class ClientRecord:
    """The history store's record of a client's latest run (scheduled or manual).

    ``finished_at`` is None while it runs, and may be for an interrupted run (its process
    died); ``attempts`` counts the runs of that run's slot, this one included."""

    started_at: datetime
    finished_at: datetime | None
    outcome: Outcome
    attempts: int = 1
    # How many of its latest runs in a row were interrupted (this one included, if it was).
    interrupted_in_a_row: int = 0
    # The slot of its latest scheduled run (None: only manual runs), which ``attempts`` counts.
    last_slot: datetime | None = None

    def __post_init__(self) -> None:
        _utc(self.started_at, "started_at")
        if self.finished_at is not None:
            _utc(self.finished_at, "finished_at")
        if self.last_slot is not None:
            _utc(self.last_slot, "last_slot")
        if self.outcome == "running" and self.finished_at is not None:
            raise ValueError("a run in progress has not finished: finished_at must be None")
        if self.outcome in ("ok", "failed") and self.finished_at is None:
            raise ValueError(f"a run that ended {self.outcome} needs its finished_at")
        if self.attempts < 1:
            raise ValueError(f"attempts {self.attempts}: a recorded run is attempt 1 or later")

    @property
    def in_progress(self) -> bool:
        return self.outcome == "running"


@dataclass(frozen=True)
class RetryPolicy:
    """The config's ``scheduler`` section: how a failed slot is retried before the next."""

    retry_after: timedelta = timedelta(hours=1)
    max_early_retries: int = 1

    def __post_init__(self) -> None:
        if self.retry_after <= timedelta(0):
            raise ValueError(f"retry_after {self.retry_after} must be positive")
        if self.max_early_retries < 0:
            raise ValueError(f"max_early_retries {self.max_early_retries} must be 0 or more")


@dataclass(frozen=True)
class Due:
    """A client to audit now: the slot its run satisfies, why it is due, and which attempt at
    that slot the run is (1: its first)."""

    client: str
    slot: datetime
    reason: Reason
    attempt: int = 1


def _retry_at(record: ClientRecord, latest: datetime, policy: RetryPolicy) -> datetime | None:
    """When the failed latest slot is retried early, or None if it waits for the next slot."""
    if record.outcome != "failed" or _utc(record.started_at, "started_at") < latest:
        return None
    if record.attempts > policy.max_early_retries:
        return None
    ended = record.finished_at if record.finished_at is not None else record.started_at
    return _utc(ended, "finished_at") + policy.retry_after


def _reason(
    schedule: Schedule,
    record: ClientRecord | None,
    now: datetime,
    policy: RetryPolicy,
    watching_since: datetime | None,
) -> Reason | None:
    if record is None:
        return "never audited"
    if record.in_progress:
        return None
    if record.outcome == "interrupted" and record.interrupted_in_a_row < MAX_RERUNS_AT_ONCE:
        return "interrupted"
    latest = schedule.latest_at_or_before(now)
    if _utc(record.started_at, "started_at") < latest:
        if watching_since is not None and latest < _utc(watching_since, "watching_since"):
            return "missed while stopped"
        return "scheduled"
    retry_at = _retry_at(record, latest, policy)
    if retry_at is not None and retry_at <= now:
        return "retry after failure"
    return None


def due_clients(
    clients: Sequence[tuple[str, Schedule]],
    records: Mapping[str, ClientRecord],
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
    *,
    watching_since: datetime | None = None,
) -> list[Due]:
    """The clients due at ``now``, in the order given (config order).

    ``records`` holds each audited client's latest run; a client missing from it was never
    audited. ``watching_since`` is when this scheduler started: a slot that passed before it is
    "missed while stopped" (None, as for ``--once``: every passed slot is "scheduled")."""
    now = _utc(now, "now")
    due: list[Due] = []
    for name, schedule in clients:
        record = records.get(name)
        reason = _reason(schedule, record, now, policy, watching_since)
        if reason is not None:
            slot = schedule.latest_at_or_before(now)
            again = record is not None and record.last_slot == slot
            attempt = record.attempts + 1 if record is not None and again else 1
            due.append(Due(name, slot, reason, attempt))
    return due


def next_due_at(
    schedule: Schedule,
    record: ClientRecord | None,
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
) -> datetime | None:
    """When the client is next due, if no run starts or ends before then: ``now`` if it is
    due now, else its early retry or next slot, whichever comes first. None while a run is in
    progress: it is due again when that run ends if a slot passed meanwhile (:func:`overruns`),
    else at its next slot."""
    now = _utc(now, "now")
    if record is not None and record.in_progress:
        return None
    if _reason(schedule, record, now, policy, None) is not None:
        return now
    assert record is not None  # a client never audited is due now
    upcoming = schedule.next_after(now)
    retry_at = _retry_at(record, schedule.latest_at_or_before(now), policy)
    return min(upcoming, retry_at) if retry_at is not None else upcoming


def overruns(schedule: Schedule, record: ClientRecord | None, now: datetime) -> bool:
    """Whether a run in progress has outlasted its slot: a later slot passed while it ran, to
    be taken once when it ends (for ``auditor status`` and the logs)."""
    if record is None or not record.in_progress:
        return False
    return _utc(record.started_at, "started_at") < schedule.latest_at_or_before(now)
