"""The scheduler's heartbeat file: what a running ``auditor schedule`` is doing, rewritten
atomically at every heartbeat, for ``auditor status`` and monitoring (``status --health``).

The history store's lease says who holds the store; this file says more (the client being
audited, the scheduler's state) and can be read without opening the store: a liveness probe
reads one small JSON file. By default it sits beside the store, ``<store>.heartbeat.json``.
Times are UTC, ISO 8601 (read by the bundle's rule for times). It may import ``auditor.fsutil``
and ``auditor.sources.bundle.records`` only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast, get_args

from auditor.fsutil import atomic_write_bytes
from auditor.sources.bundle.records import parse_time

__all__ = ["HEARTBEAT_SCHEMA", "Beat", "State", "heartbeat_path", "read_beat", "write_beat"]

HEARTBEAT_SCHEMA = 1
State = Literal["starting", "idle", "auditing", "stopping", "stopped"]
_STATES = frozenset(get_args(State))


def heartbeat_path(store_path: Path) -> Path:
    """Where the scheduler of the store at ``store_path`` keeps its heartbeat file."""
    return store_path.with_name(store_path.name + ".heartbeat.json")


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat: which scheduler (its lease holder id, pid, host, since when), when it
    last beat, what it is doing (``client`` while ``auditing``), and after how long without a
    beat it counts as dead (the lease's stale period)."""

    holder: str
    pid: int
    host: str
    started_at: datetime
    beat_at: datetime
    state: State
    stale_after: timedelta
    client: str | None = None

    def __post_init__(self) -> None:
        # A naive time would be written as if local: refused, as everywhere in the project.
        for name, moment in (("started_at", self.started_at), ("beat_at", self.beat_at)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"{name} {moment.isoformat()} has no time zone")

    def age(self, now: datetime) -> timedelta:
        return now - self.beat_at

    def is_stale(self, now: datetime) -> bool:
        """Whether no beat came within the stale period: the scheduler is dead or frozen."""
        return self.age(now) >= self.stale_after


def write_beat(path: Path, beat: Beat) -> None:
    """Replace the heartbeat file with ``beat`` (atomically: a reader never sees half)."""
    document = {
        "schema": HEARTBEAT_SCHEMA,
        "holder": beat.holder,
        "pid": beat.pid,
        "host": beat.host,
        "started_at": beat.started_at.astimezone(UTC).isoformat(),
        "beat_at": beat.beat_at.astimezone(UTC).isoformat(),
        "state": beat.state,
        "client": beat.client,
        "stale_after_seconds": beat.stale_after.total_seconds(),
    }
    atomic_write_bytes(path, (json.dumps(document, indent=2) + "\n").encode())


def _aware(text: object, key: str) -> datetime:
    # The bundle's rule for a time: ISO 8601 with an offset, within the years data may hold.
    return parse_time(text, key).astimezone(UTC)


def _stale_after(seconds: object) -> timedelta:
    # bool is an int to Python, and JSON reads Infinity and NaN: none is a stale period.
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError("stale_after_seconds is not a positive number")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("stale_after_seconds is not a positive number")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"stale_after_seconds {seconds!r} is out of range") from None


def read_beat(path: Path) -> Beat | None:
    """The heartbeat in ``path``, or None if there is no file; raises ValueError (naming the
    key) when the file is not a heartbeat this version writes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON ({error})") from None
    except RecursionError:
        raise ValueError("not JSON (nested too deep)") from None
    if not isinstance(document, dict) or document.get("schema") != HEARTBEAT_SCHEMA:
        raise ValueError(f"not a heartbeat file of schema {HEARTBEAT_SCHEMA}")
    state, client = document.get("state"), document.get("client")
    if state not in _STATES:
        raise ValueError(f"state {state!r} is not one of {', '.join(sorted(_STATES))}")
    if client is not None and not isinstance(client, str):
        raise ValueError("client is not a name")
    pid, stale, holder, host = (
        document.get("pid"),
        document.get("stale_after_seconds"),
        document.get("holder"),
        document.get("host"),
    )
    if not isinstance(holder, str) or not isinstance(host, str):
        raise ValueError("holder or host missing")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid < 1:
        raise ValueError("pid is not a process id")
    return Beat(
        holder=holder,
        pid=pid,
        host=host,
        started_at=_aware(document.get("started_at"), "started_at"),
        beat_at=_aware(document.get("beat_at"), "beat_at"),
        state=cast(State, state),
        stale_after=_stale_after(stale),
        client=client,
    )
