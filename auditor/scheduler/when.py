"""A client's schedule: a weekday (or every day), a local wall time and an IANA time zone.

The config writes it as one string: ``"monday 09:00 Europe/London"``, ``"daily 06:30 UTC"``
(weekdays in full or their first three letters, any case). Left out, it is
:data:`DEFAULT_SCHEDULE`: weekly, ``"monday 09:00 UTC"``.

A slot is the instant the audit is meant to start. It is the same *local* wall time on every
slot's day, whatever the clocks did in between: "monday 09:00 Europe/London" is 09:00 GMT
(09:00 UTC) in winter and 09:00 BST (08:00 UTC) in summer. Two days a year a local time may not
be there as written, and then:

- **it does not exist** (spring forward: 01:30 on the last Sunday of March in Europe/London,
  the clocks going from 01:00 straight to 02:00): the slot is the first instant after the gap,
  02:00 BST = 01:00 UTC;
- **it exists twice** (fall back: 01:30 on the last Sunday of October in Europe/London): the
  slot is the first of the two, 01:30 BST = 00:30 UTC (``fold=0``), and the audit runs once.

Both are one rule: the slot is the first instant at which the local clock reads the time or
later. 09:00 is never in a gap or a fold in any zone that moves its clocks at night, so the
usual schedules never meet these rules.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_SCHEDULE", "EXAMPLE", "Schedule", "parse_schedule"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAILY = "daily"
EXAMPLE = '"monday 09:00 Europe/London" or "daily 06:30 UTC"'
_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_WEEK = timedelta(days=7)
_DAY = timedelta(days=1)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{now.isoformat()} has no time zone: pass an aware datetime")
    return now.astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """When a client is audited: ``weekday`` (0 is Monday; None every day) at ``at`` in ``zone``."""

    weekday: int | None
    at: time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday {self.weekday} is not 0 (Monday) to 6 (Sunday)")
        if self.at.tzinfo is not None:
            raise ValueError("the time of day is local to the schedule's zone: give it no tzinfo")

    def __str__(self) -> str:
        day = DAILY if self.weekday is None else WEEKDAYS[self.weekday]
        return f"{day} {self.at:%H:%M} {self.zone.key}"

    @property
    def interval(self) -> timedelta:
        """From one slot to the next in local wall-clock terms: 7 days, or 1 for daily.

        An hour more or less in UTC across a clock change; a run in progress longer than this
        has a slot pass while it runs (it is taken once, when the run ends)."""
        return _DAY if self.weekday is None else _WEEK

    def runs_on(self, day: date) -> bool:
        """Whether ``day`` (a local date) has a slot."""
        return self.weekday is None or day.weekday() == self.weekday

    def on(self, day: date) -> datetime:
        """The instant (UTC) of ``at`` local on ``day``, with the gap and fold rules above.

        ``day`` need not be a slot's day: it is the local time resolved, nothing more."""
        local = datetime.combine(day, self.at, tzinfo=self.zone)  # fold=0: the first of two
        instant = local.astimezone(UTC)
        if instant.astimezone(self.zone).replace(tzinfo=None) == local.replace(tzinfo=None):
            return instant
        return self._end_of_gap(local)

    def _end_of_gap(self, local: datetime) -> datetime:
        """The first instant after the gap holding the (non-existent) wall time ``local``.

        In a gap, fold=1 reads the wall time with the offset after the change (an instant
        before it) and fold=0 with the offset before (an instant after it); the change lies
        between, and is found by halving to the microsecond."""
        before = local.replace(fold=1).astimezone(UTC)
        after = local.replace(fold=0).astimezone(UTC)
        if before > after:
            before, after = after, before
        offset_after = after.astimezone(self.zone).utcoffset()
        while after - before > timedelta(microseconds=1):
            middle = before + (after - before) / 2
            if middle.astimezone(self.zone).utcoffset() == offset_after:
                after = middle
            else:
                before = middle
        return after

    def latest_at_or_before(self, now: datetime) -> datetime:
        """The latest slot at or before ``now`` (aware), in UTC."""
        now = _aware(now)
        day = now.astimezone(self.zone).date() + _DAY
        for _ in range(16):  # a slot within 8 days, and a day either side for the gap rule
            if self.runs_on(day) and (slot := self.on(day)) <= now:
                return slot
            day -= _DAY
        raise AssertionError(f"no slot of {self} found before {now}")  # pragma: no cover

    def next_after(self, now: datetime) -> datetime:
        """The first slot strictly after ``now`` (aware), in UTC."""
        now = _aware(now)
        day = now.astimezone(self.zone).date() - _DAY
        for _ in range(16):
            if self.runs_on(day) and (slot := self.on(day)) > now:
                return slot
            day += _DAY
        raise AssertionError(f"no slot of {self} found after {now}")  # pragma: no cover


def _weekday(word: str) -> int | None:
    folded = word.lower()
    if folded == DAILY:
        return None
    for index, name in enumerate(WEEKDAYS):
        if folded in (name, name[:3]):
            return index
    hint = difflib.get_close_matches(folded, [*WEEKDAYS, DAILY], n=1)
    suggestion = f" (did you mean {hint[0]}?)" if hint else ""
    raise ValueError(
        f"{word!r} is not a weekday{suggestion}: write monday to sunday, mon to sun, or daily"
    )


def _time_of_day(word: str) -> time:
    match = _TIME.match(word)
    if match is None:
        raise ValueError(f"{word!r} is not a time of day: write HH:MM, 00:00 to 23:59")
    return time(int(match.group(1)), int(match.group(2)))


def _zone(word: str) -> ZoneInfo:
    try:
        return ZoneInfo(word)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a key at all ("../x", an absolute path); OSError: a folder ("Europe").
        raise ValueError(
            f"{word!r} is not an IANA time zone (Europe/London, America/New_York, UTC ...)"
        ) from None


def parse_schedule(text: str) -> Schedule:
    """``"WEEKDAY|daily HH:MM ZONE"`` as a :class:`Schedule`; ValueError says what is wrong."""
    words = text.split()
    if len(words) != 3:
        raise ValueError(
            f"{text!r} is not a schedule: write a weekday or daily, a local time and a time "
            f"zone, e.g. {EXAMPLE}"
        )
    day, at, zone = words
    try:
        return Schedule(_weekday(day), _time_of_day(at), _zone(zone))
    except ValueError as error:
        raise ValueError(f"{error}; e.g. {EXAMPLE}") from None


DEFAULT_SCHEDULE = parse_schedule("monday 09:00 UTC")
