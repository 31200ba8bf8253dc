"""Business-time arithmetic: how much open time lies between two instants, and when a target
measured in open time falls due.

Every check that measures a response time against a target in business hours goes through
:class:`BusinessCalendar`; nothing else in the project does calendar arithmetic.

Configuration (the ``hours`` shape, see ``docs/business_hours.md`` and
``config/schema/business_hours.schema.json``)::

    timezone: America/New_York          # IANA name; required unless always_open
    weekly: {mon: [["09:00", "17:00"]], tue: [["09:00", "12:00"], ["13:00", "17:00"]]}
    always_open: false                  # true: 24/7, every other key except timezone ignored
    from_profile: false                 # resolved by the caller; accepted and ignored here
    holidays: {country: US, subdivision: NY}
    closed_dates: ["2026-12-24"]
    closures: [{start: "2026-07-01T12:00:00+00:00", end: "2026-07-01T18:00:00+00:00"}]

Semantics and the choices made where the issue left room:

* Open time is a set of half-open UTC intervals ``[start, end)``. ``is_open(t)`` is true at an
  interval's start and false at its end. Touching or overlapping intervals merge, so
  ``mon 21:00-24:00`` followed by ``tue 00:00-02:00``, or an overnight interval running into the
  next day's first interval, form one seamless stretch.
* A weekly interval belongs to the local date on which it starts. ``["21:00", "02:00"]`` on Monday
  runs from Monday 21:00 to Tuesday 02:00; ``"24:00"`` (and ``"00:00"`` as an end) means the next
  midnight, so ``["00:00", "24:00"]`` covers the whole day without losing the minute at midnight.
  An interval whose start equals its end is rejected as ambiguous.
* Each local wall time is converted with the offset in force on that date (``zoneinfo``), so the
  arithmetic is exact across daylight-saving changes and measures real elapsed time:
  a wall time inside a spring-forward gap (02:30 in New York) maps to the first valid instant after
  the gap (the transition itself), whether it starts or ends an interval. In the repeated autumn
  hour a start uses the first occurrence (``fold=0``) and an end the second (``fold=1``), so
  01:00-03:00 on the New York fall-back day is three real hours and 00:00-24:00 is 25 hours.
* A holiday (from the ``holidays`` package, public holidays including the package's "observed"
  days) or an entry of ``closed_dates`` closes that whole local calendar day: the intervals that
  start on it are cancelled, including any part after midnight (it belongs to the closed day),
  and the tail of the previous evening's overnight interval stops at the closed day's midnight.
* ``closures`` are absolute instants (an offset is required) subtracted from open time.
* ``between(a, b)`` is the open time in ``[a, b)``, zero when ``b <= a``.
  ``deadline(a, d)`` for ``d > 0`` is the earliest instant ``t`` with ``between(a, t) == d``;
  that instant can be the end of an interval (a closed instant). ``deadline(a, 0)`` is the first
  open instant at or after ``a`` (``a`` itself when open).
* A calendar without any weekly open time (and not ``always_open``) raises :class:`CalendarError`.
  Closures and closed dates are finite, so such a calendar always has open time in the future;
  ``deadline`` still gives up with ``ValueError`` after ten years without open time.

Speed: instants are turned into integer microseconds since the Unix epoch (exact, no floats).
The UTC time line is cut into fixed chunks of 28 days; each chunk is built once, on first use,
from the per-local-date open intervals (cached per date, already in UTC) minus closed days and
closures, and holds sorted interval starts and ends with the cumulative open time before and after
each interval. A query is a dictionary look-up, a ``bisect`` and a little integer arithmetic; an
always-open calendar short-circuits to plain subtraction/addition.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

__all__ = ["BusinessCalendar", "CalendarError", "WeeklyInterval"]

DAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CONFIG_KEYS: frozenset[str] = frozenset(
    {"timezone", "weekly", "always_open", "from_profile", "holidays", "closed_dates", "closures"}
)
HOLIDAY_KEYS: frozenset[str] = frozenset({"country", "subdivision"})
CLOSURE_KEYS: frozenset[str] = frozenset({"start", "end", "reason"})

MINUTES_PER_DAY = 24 * 60
_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
# Chunk width: small enough that building one is cheap, large enough that a typical span fits
# in one or two chunks.
_CHUNK_US = 28 * _US_PER_DAY
# How far deadline() searches for open time before declaring the calendar effectively closed.
_MAX_EMPTY_CHUNKS = (10 * 366 * _US_PER_DAY) // _CHUNK_US
# A date's intervals reach at most two days past its midnight; UTC offsets stay within a day.
_DATES_BEFORE_CHUNK = 3
_DATES_AFTER_CHUNK = 2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_NO_TIME = timedelta(0)
_TIME_PATTERN = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")

UsInterval = tuple[int, int]


class CalendarError(ValueError):
    """A business-hours configuration is invalid; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class WeeklyInterval:
    """Open time on one weekday, in minutes after that day's local midnight.

    ``end_minute`` is greater than ``start_minute`` and at most ``2 * MINUTES_PER_DAY``: values
    past ``MINUTES_PER_DAY`` reach into the next day (an overnight interval).
    """

    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Merged open intervals clipped to one chunk of the UTC time line, in microseconds."""

    starts: list[int]
    ends: list[int]
    open_before: list[int]  # open time in the chunk before interval i starts
    open_after: list[int]  # open time in the chunk up to the end of interval i
    total: int

    def open_until(self, instant_us: int) -> int:
        """Open time in this chunk before ``instant_us``."""
        index = bisect.bisect_right(self.starts, instant_us) - 1
        if index < 0:
            return 0
        return self.open_before[index] + min(instant_us, self.ends[index]) - self.starts[index]

    def instant_at(self, open_us: int) -> int:
        """Earliest instant by which ``open_us`` (0 < open_us <= total) of open time has passed."""
        index = bisect.bisect_left(self.open_after, open_us)
        return self.starts[index] + open_us - self.open_before[index]

    def first_open_at_or_after(self, instant_us: int) -> int | None:
        index = bisect.bisect_right(self.starts, instant_us) - 1
        if index >= 0 and instant_us < self.ends[index]:
            return instant_us
        if index + 1 < len(self.starts):
            return self.starts[index + 1]
        return None


class BusinessCalendar:
    """Open hours of one brand, answering business-time questions about UTC instants."""

    def __init__(
        self,
        *,
        timezone: ZoneInfo | None,
        weekly: Mapping[int, Sequence[WeeklyInterval]],
        always_open: bool = False,
        holiday_country: str | None = None,
        holiday_subdivision: str | None = None,
        closed_dates: Iterable[date] = (),
        closures: Iterable[UsInterval] = (),
    ) -> None:
        if not always_open:
            if timezone is None:
                raise CalendarError("business_hours.timezone: required unless always_open")
            if not any(weekly.get(day) for day in range(7)):
                raise CalendarError("business_hours.weekly: no open time in any day")
        self._timezone = timezone
        self._always_open = always_open
        self._weekly: tuple[tuple[WeeklyInterval, ...], ...] = tuple(
            tuple(weekly.get(day, ())) for day in range(7)
        )
        self._holiday_country = holiday_country
        self._holiday_subdivision = holiday_subdivision
        self._closed_dates = frozenset(closed_dates)
        self._closures = _merge(sorted(closures))
        self._closure_starts = [start for start, _ in self._closures]
        self._holidays_by_year: dict[int, frozenset[date]] = {}
        self._intervals_by_date: dict[date, tuple[UsInterval, ...]] = {}
        self._chunks: dict[int, _Chunk] = {}

    # ----------------------------------------------------------------- construction

    @classmethod
    def always_open(cls) -> BusinessCalendar:
        return cls(timezone=None, weekly={}, always_open=True)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from the ``hours`` shape; raises :class:`CalendarError`."""
        if not isinstance(config, Mapping):
            raise CalendarError("business_hours: expected a mapping")
        unknown = sorted(set(config) - CONFIG_KEYS)
        if unknown:
            raise CalendarError(f"business_hours.{unknown[0]}: unknown key")
        always_open = _parse_bool(config, "always_open")
        from_profile = _parse_bool(config, "from_profile")
        timezone = _parse_timezone(config.get("timezone"))
        if always_open:
            return cls(timezone=timezone, weekly={}, always_open=True)
        if from_profile and "weekly" not in config:
            raise CalendarError(
                "business_hours.from_profile: the caller must resolve the profile's hours "
                "before building a calendar"
            )
        if timezone is None:
            raise CalendarError("business_hours.timezone: required unless always_open")
        country, subdivision = _parse_holidays(config.get("holidays"))
        return cls(
            timezone=timezone,
            weekly=_parse_weekly(config.get("weekly")),
            holiday_country=country,
            holiday_subdivision=subdivision,
            closed_dates=_parse_closed_dates(config.get("closed_dates")),
            closures=_parse_closures(config.get("closures")),
        )

    # ----------------------------------------------------------------- public API

    @property
    def timezone(self) -> ZoneInfo | None:
        return self._timezone

    @property
    def is_always_open(self) -> bool:
        return self._always_open

    def is_open(self, instant: datetime) -> bool:
        instant_us = _to_us(instant)
        if self._always_open:
            return True
        chunk = self._chunk(instant_us // _CHUNK_US)
        index = bisect.bisect_right(chunk.starts, instant_us) - 1
        return index >= 0 and instant_us < chunk.ends[index]

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time in ``[start, end)``; zero when ``end <= start``."""
        start_us = _to_us(start)
        end_us = _to_us(end)
        if end_us <= start_us:
            return _NO_TIME
        if self._always_open:
            return timedelta(microseconds=end_us - start_us)
        return timedelta(microseconds=self._between_us(start_us, end_us))

    def deadline(self, start: datetime, duration: timedelta) -> datetime:
        """Earliest instant at which ``duration`` of open time has elapsed since ``start``."""
        start_us = _to_us(start)
        if duration < _NO_TIME:
            raise ValueError("duration must not be negative")
        duration_us = duration // _ONE_US
        if self._always_open:
            return _from_us(start_us + duration_us)
        if duration_us == 0:
            return _from_us(self._first_open_at_or_after(start_us))
        return _from_us(self._deadline_us(start_us, duration_us))

    def open_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Merged open intervals inside ``[start, end)``, clipped to it, as UTC datetimes."""
        start_us = _to_us(start)
        end_us = _to_us(end)
        if end_us <= start_us:
            return []
        if self._always_open:
            return [(_from_us(start_us), _from_us(end_us))]
        merged: list[list[int]] = []
        for chunk_index in range(start_us // _CHUNK_US, (end_us - 1) // _CHUNK_US + 1):
            chunk = self._chunk(chunk_index)
            first = max(bisect.bisect_right(chunk.starts, start_us) - 1, 0)
            for piece_start, piece_end in zip(
                chunk.starts[first:], chunk.ends[first:], strict=True
            ):
                if piece_start >= end_us:
                    break
                low, high = max(piece_start, start_us), min(piece_end, end_us)
                if low >= high:
                    continue
                if merged and merged[-1][1] >= low:
                    merged[-1][1] = max(merged[-1][1], high)
                else:
                    merged.append([low, high])
        return [(_from_us(low), _from_us(high)) for low, high in merged]

    # ----------------------------------------------------------------- arithmetic

    def _between_us(self, start_us: int, end_us: int) -> int:
        first_index = start_us // _CHUNK_US
        last_index = end_us // _CHUNK_US
        first = self._chunk(first_index)
        if first_index == last_index:
            return first.open_until(end_us) - first.open_until(start_us)
        total = first.total - first.open_until(start_us)
        for chunk_index in range(first_index + 1, last_index):
            total += self._chunk(chunk_index).total
        return total + self._chunk(last_index).open_until(end_us)

    def _deadline_us(self, start_us: int, duration_us: int) -> int:
        chunk_index = start_us // _CHUNK_US
        chunk = self._chunk(chunk_index)
        wanted = chunk.open_until(start_us) + duration_us
        empty_chunks = 0
        while wanted > chunk.total:
            wanted -= chunk.total
            empty_chunks = empty_chunks + 1 if chunk.total == 0 else 0
            if empty_chunks > _MAX_EMPTY_CHUNKS:
                raise ValueError("business_hours: no open time within ten years")
            chunk_index += 1
            chunk = self._chunk(chunk_index)
        return chunk.instant_at(wanted)

    def _first_open_at_or_after(self, instant_us: int) -> int:
        chunk_index = instant_us // _CHUNK_US
        for _ in range(_MAX_EMPTY_CHUNKS + 1):
            found = self._chunk(chunk_index).first_open_at_or_after(instant_us)
            if found is not None:
                return found
            chunk_index += 1
        raise ValueError("business_hours: no open time within ten years")

    # ----------------------------------------------------------------- caches

    def _chunk(self, chunk_index: int) -> _Chunk:
        chunk = self._chunks.get(chunk_index)  # hot path: one dictionary look-up
        if chunk is None:
            chunk = self._build_chunk(chunk_index)
            self._chunks[chunk_index] = chunk
        return chunk

    def _build_chunk(self, chunk_index: int) -> _Chunk:
        chunk_start = chunk_index * _CHUNK_US
        chunk_end = chunk_start + _CHUNK_US
        first_date = _from_us(chunk_start).date() - timedelta(days=_DATES_BEFORE_CHUNK)
        last_date = _from_us(chunk_end).date() + timedelta(days=_DATES_AFTER_CHUNK)
        candidates: list[UsInterval] = []
        blocked: list[UsInterval] = []
        local_date = first_date
        while local_date <= last_date:
            candidates.extend(self._intervals_on(local_date))
            if self._is_closed_date(local_date):
                blocked.append(self._day_span(local_date))
            local_date += timedelta(days=1)
        blocked.extend(self._closures_overlapping(chunk_start, chunk_end))
        open_intervals = _subtract(_merge(sorted(candidates)), _merge(sorted(blocked)))
        clipped = [
            (max(start, chunk_start), min(end, chunk_end))
            for start, end in open_intervals
            if start < chunk_end and end > chunk_start
        ]
        return _make_chunk(clipped)

    def _intervals_on(self, local_date: date) -> tuple[UsInterval, ...]:
        """UTC intervals of the weekly hours starting on ``local_date`` (unless it is closed)."""
        cached = self._intervals_by_date.get(local_date)
        if cached is not None:
            return cached
        intervals: list[UsInterval] = []
        if not self._is_closed_date(local_date):
            midnight = datetime.combine(local_date, time())
            for weekly in self._weekly[local_date.weekday()]:
                start = self._local_to_us(midnight + timedelta(minutes=weekly.start_minute), 0)
                end = self._local_to_us(midnight + timedelta(minutes=weekly.end_minute), 1)
                if end > start:  # an interval wholly inside a DST gap has no real time
                    intervals.append((start, end))
        result = tuple(intervals)
        self._intervals_by_date[local_date] = result
        return result

    def _day_span(self, local_date: date) -> UsInterval:
        midnight = datetime.combine(local_date, time())
        return (
            self._local_to_us(midnight, 0),
            self._local_to_us(midnight + timedelta(days=1), 1),
        )

    def _local_to_us(self, wall: datetime, fold: int) -> int:
        """Microseconds of a naive local wall time; gaps map to the instant after the gap."""
        assert self._timezone is not None
        first = wall.replace(tzinfo=self._timezone, fold=0)
        second = wall.replace(tzinfo=self._timezone, fold=1)
        first_offset, second_offset = first.utcoffset(), second.utcoffset()
        assert first_offset is not None and second_offset is not None
        if first_offset == second_offset:
            return _to_us(first)
        if first_offset > second_offset:  # repeated hour: the offset drops when clocks go back
            return _to_us(second if fold else first)
        return self._gap_end_us(wall, first_offset, second_offset)

    def _gap_end_us(self, wall: datetime, before: timedelta, after: timedelta) -> int:
        """The transition instant of the spring-forward gap that contains ``wall``."""
        assert self._timezone is not None
        # The transition lies in (wall - after, wall - before]; search it to the second, which
        # is the resolution of tz database transitions.
        low = _to_us((wall - after).replace(tzinfo=UTC)) // _US_PER_SECOND
        high = _to_us((wall - before).replace(tzinfo=UTC)) // _US_PER_SECOND
        while high - low > 1:
            middle = (low + high) // 2
            if _from_us(middle * _US_PER_SECOND).astimezone(self._timezone).utcoffset() == after:
                high = middle
            else:
                low = middle
        return high * _US_PER_SECOND

    def _is_closed_date(self, local_date: date) -> bool:
        if local_date in self._closed_dates:
            return True
        if self._holiday_country is None:
            return False
        year_holidays = self._holidays_by_year.get(local_date.year)
        if year_holidays is None:
            year_holidays = _load_holidays(
                self._holiday_country, self._holiday_subdivision, local_date.year
            )
            self._holidays_by_year[local_date.year] = year_holidays
        return local_date in year_holidays

    def _closures_overlapping(self, start_us: int, end_us: int) -> list[UsInterval]:
        index = max(bisect.bisect_right(self._closure_starts, start_us) - 1, 0)
        overlapping: list[UsInterval] = []
        for closure_start, closure_end in self._closures[index:]:
            if closure_start >= end_us:
                break
            if closure_end > start_us:
                overlapping.append((closure_start, closure_end))
        return overlapping


# --------------------------------------------------------------------- interval helpers


def _merge(intervals: Sequence[UsInterval]) -> list[UsInterval]:
    """Merge sorted intervals that overlap or touch."""
    merged: list[UsInterval] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(intervals: Sequence[UsInterval], removed: Sequence[UsInterval]) -> list[UsInterval]:
    """``intervals`` minus ``removed``; both sorted and merged."""
    result: list[UsInterval] = []
    removed_index = 0
    for start, end in intervals:
        while removed_index < len(removed) and removed[removed_index][1] <= start:
            removed_index += 1
        cursor = start
        probe = removed_index
        while probe < len(removed) and removed[probe][0] < end:
            cut_start, cut_end = removed[probe]
            if cut_start > cursor:
                result.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
            probe += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def _make_chunk(intervals: Sequence[UsInterval]) -> _Chunk:
    open_before: list[int] = []
    open_after: list[int] = []
    running = 0
    for start, end in intervals:
        open_before.append(running)
        running += end - start
        open_after.append(running)
    return _Chunk(
        starts=[start for start, _ in intervals],
        ends=[end for _, end in intervals],
        open_before=open_before,
        open_after=open_after,
        total=running,
    )


def _to_us(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: a timezone is required")
    try:
        return (instant - _EPOCH) // _ONE_US
    except TypeError as error:  # a tzinfo whose utcoffset() is None
        raise ValueError(f"naive datetime {instant.isoformat()}: no UTC offset") from error


def _from_us(instant_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=instant_us)


# --------------------------------------------------------------------- config parsing


def _parse_bool(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise CalendarError(f"business_hours.{key}: expected true or false, got {value!r}")
    return value


def _parse_timezone(value: Any) -> ZoneInfo | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise CalendarError(f"business_hours.timezone: expected an IANA name, got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CalendarError(f"business_hours.timezone: unknown timezone {value!r}") from error


def _parse_minute(value: Any, key: str) -> int:
    match = _TIME_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        # YAML 1.1 reads an unquoted 17:00 as the base-60 integer 1020
        hint = ' (quote times in YAML: "17:00")' if isinstance(value, int) else ""
        raise CalendarError(f"{key}: expected a time HH:MM (00:00-24:00), got {value!r}{hint}")
    hours, minutes = (match.group(1), match.group(2)) if match.group(1) else ("24", "00")
    return int(hours) * 60 + int(minutes)


def _parse_interval(value: Any, key: str) -> WeeklyInterval:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise CalendarError(f"{key}: expected [start, end], got {value!r}")
    start = _parse_minute(value[0], f"{key}[0]")
    end = _parse_minute(value[1], f"{key}[1]")
    if start == MINUTES_PER_DAY:
        raise CalendarError(f"{key}[0]: an interval cannot start at 24:00")
    if end == start:
        raise CalendarError(f"{key}: start equals end; use 00:00-24:00 for a whole day")
    if end < start:  # crosses midnight: belongs to the day it starts
        end += MINUTES_PER_DAY
    return WeeklyInterval(start, end)


def _parse_weekly(value: Any) -> dict[int, list[WeeklyInterval]]:
    if value is None:
        raise CalendarError("business_hours.weekly: required unless always_open")
    if not isinstance(value, Mapping):
        raise CalendarError("business_hours.weekly: expected a mapping of mon..sun")
    weekly: dict[int, list[WeeklyInterval]] = {}
    for day_key, intervals in value.items():
        if day_key not in DAY_KEYS:
            raise CalendarError(f"business_hours.weekly.{day_key}: unknown day (use mon..sun)")
        key = f"business_hours.weekly.{day_key}"
        if intervals is None:
            continue
        if not isinstance(intervals, Sequence) or isinstance(intervals, str):
            raise CalendarError(f"{key}: expected a list of [start, end] intervals")
        weekly[DAY_KEYS.index(day_key)] = [
            _parse_interval(interval, f"{key}[{position}]")
            for position, interval in enumerate(intervals)
        ]
    return weekly


def _parse_holidays(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        raise CalendarError("business_hours.holidays: expected {country, subdivision}")
    unknown = sorted(set(value) - HOLIDAY_KEYS)
    if unknown:
        raise CalendarError(f"business_hours.holidays.{unknown[0]}: unknown key")
    country = value.get("country")
    subdivision = value.get("subdivision")
    if not isinstance(country, str) or not country:
        raise CalendarError(f"business_hours.holidays.country: expected a code, got {country!r}")
    if subdivision is not None and not isinstance(subdivision, str):
        raise CalendarError(
            f"business_hours.holidays.subdivision: expected a code, got {subdivision!r}"
        )
    try:
        holidays_package.country_holidays(country)
    except NotImplementedError as error:
        raise CalendarError(
            f"business_hours.holidays.country: unknown country {country!r}"
        ) from error
    if subdivision is not None:
        try:
            holidays_package.country_holidays(country, subdiv=subdivision)
        except NotImplementedError as error:
            raise CalendarError(
                f"business_hours.holidays.subdivision: unknown subdivision {subdivision!r} "
                f"of {country!r}"
            ) from error
    return country, subdivision


def _load_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    calendar = holidays_package.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(calendar.keys())


def _parse_closed_dates(value: Any) -> list[date]:
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise CalendarError("business_hours.closed_dates: expected a list of YYYY-MM-DD dates")
    closed: list[date] = []
    for position, item in enumerate(value):
        if isinstance(item, date) and not isinstance(item, datetime):
            closed.append(item)  # YAML loaders turn bare dates into date objects
            continue
        try:
            closed.append(date.fromisoformat(item))
        except (TypeError, ValueError) as error:
            raise CalendarError(
                f"business_hours.closed_dates[{position}]: expected YYYY-MM-DD, got {item!r}"
            ) from error
    return closed


def _parse_instant(value: Any, key: str) -> int:
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(value)
        except (TypeError, ValueError) as error:
            raise CalendarError(f"{key}: expected an ISO 8601 instant, got {value!r}") from error
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(f"{key}: the instant needs a UTC offset, got {value!r}")
    return _to_us(instant)


def _parse_closures(value: Any) -> list[UsInterval]:
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise CalendarError("business_hours.closures: expected a list of {start, end, reason}")
    closures: list[UsInterval] = []
    for position, item in enumerate(value):
        key = f"business_hours.closures[{position}]"
        if not isinstance(item, Mapping):
            raise CalendarError(f"{key}: expected {{start, end, reason}}")
        unknown = sorted(set(item) - CLOSURE_KEYS)
        if unknown:
            raise CalendarError(f"{key}.{unknown[0]}: unknown key")
        start = _parse_instant(item.get("start"), f"{key}.start")
        end = _parse_instant(item.get("end"), f"{key}.end")
        if end <= start:
            raise CalendarError(f"{key}.end: must be after start")
        closures.append((start, end))
    return closures
