"""When a client is due, with an injected clock (plain datetimes, no sleeping): slots in local
wall time across daylight saving, the spring-gap and autumn-fold rules, catch-up after downtime,
runs longer than the interval, failures and their early retry, interrupted runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.scheduler.due import (
    ClientRecord,
    Due,
    Outcome,
    RetryPolicy,
    due_clients,
    next_due_at,
    overruns,
)
from auditor.scheduler.when import Schedule, parse_schedule

MINUTE, HOUR, DAY, WEEK = (
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=7),
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ok(started: datetime, took: timedelta = 10 * MINUTE) -> ClientRecord:
    return ClientRecord(started, started + took, "ok")


# ---------------------------------------------------------------------------------------------
# Slots: 09:00 local on both sides of each clock change


def _mondays(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    slots, now = [], start
    for _ in range(count):
        now = schedule.next_after(now)
        slots.append(now)
    return slots


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # Europe/London: BST from 29 March, GMT again from 25 October 2026.
        ("Europe/London", utc(2026, 3, 20), [utc(2026, 3, 23, 9), utc(2026, 3, 30, 8)]),
        ("Europe/London", utc(2026, 10, 16), [utc(2026, 10, 19, 8), utc(2026, 10, 26, 9)]),
        # America/New_York: EDT from 8 March, EST again from 1 November 2026.
        ("America/New_York", utc(2026, 2, 27), [utc(2026, 3, 2, 14), utc(2026, 3, 9, 13)]),
        ("America/New_York", utc(2026, 10, 23), [utc(2026, 10, 26, 13), utc(2026, 11, 2, 14)]),
        # Australia/Sydney: AEDT ends 5 April, starts again 4 October 2026 (southern summer).
        ("Australia/Sydney", utc(2026, 3, 27), [utc(2026, 3, 29, 22), utc(2026, 4, 5, 23)]),
        ("Australia/Sydney", utc(2026, 9, 25), [utc(2026, 9, 27, 23), utc(2026, 10, 4, 22)]),
    ],
)
def test_nine_local_on_both_sides_of_a_clock_change(
    zone: str, start: datetime, expected: list[datetime]
) -> None:
    schedule = parse_schedule(f"monday 09:00 {zone}")
    slots = _mondays(schedule, start, 2)
    assert slots == expected
    for slot in slots:
        local = slot.astimezone(ZoneInfo(zone))
        assert (local.weekday(), local.time()) == (0, time(9, 0))
    # Seven local days apart: 7 days less or more an hour in UTC.
    assert slots[1] - slots[0] in (WEEK - HOUR, WEEK + HOUR)


def test_weekly_slots_over_a_year_are_all_nine_local() -> None:
    schedule = parse_schedule("mon 09:00 Europe/London")
    slots = _mondays(schedule, utc(2026, 1, 1), 52)
    assert len(set(slots)) == 52
    assert all(s.astimezone(schedule.zone).time() == time(9) for s in slots)
    assert {s.astimezone(schedule.zone).weekday() for s in slots} == {0}
    assert {s.hour for s in slots} == {8, 9}  # UTC: summer and winter


@pytest.mark.parametrize(
    ("text", "day", "slot", "local_wall"),
    [
        # Spring gap: the clocks skip the time; the slot is the first instant after the gap.
        ("sunday 01:30 Europe/London", date(2026, 3, 29), utc(2026, 3, 29, 1), time(2, 0)),
        ("sunday 02:30 America/New_York", date(2026, 3, 8), utc(2026, 3, 8, 7), time(3, 0)),
        ("sunday 02:30 Australia/Sydney", date(2026, 10, 4), utc(2026, 10, 3, 16), time(3, 0)),
        # Autumn fold: the time comes twice; the slot is the first.
        ("sunday 01:30 Europe/London", date(2026, 10, 25), utc(2026, 10, 25, 0, 30), time(1, 30)),
        ("sunday 01:30 America/New_York", date(2026, 11, 1), utc(2026, 11, 1, 5, 30), time(1, 30)),
        ("sunday 02:30 Australia/Sydney", date(2026, 4, 5), utc(2026, 4, 4, 15, 30), time(2, 30)),
    ],
)
def test_spring_gap_and_autumn_fold(text: str, day: date, slot: datetime, local_wall: time) -> None:
    schedule = parse_schedule(text)
    assert schedule.on(day) == slot
    assert slot.astimezone(schedule.zone).time() == local_wall
    assert schedule.latest_at_or_before(slot) == slot
    just_before = slot - timedelta(microseconds=1)
    assert schedule.latest_at_or_before(just_before) == schedule.on(day - WEEK)
    assert schedule.next_after(just_before) == slot


def test_a_repeated_time_runs_once() -> None:
    schedule = parse_schedule("sunday 01:30 Europe/London")
    first = utc(2026, 10, 25, 0, 30)  # 01:30 BST
    second = first + HOUR  # 01:30 GMT: the same wall time again
    assert second.astimezone(schedule.zone).time() == time(1, 30)
    clients = [("acme", schedule)]
    records = {"acme": ok(utc(2026, 10, 18, 0, 30))}
    assert due_clients(clients, records, first) == [Due("acme", first, "scheduled")]
    records = {"acme": ok(first)}
    assert due_clients(clients, records, second) == []
    assert schedule.latest_at_or_before(second) == first
    assert next_due_at(schedule, records["acme"], second) == utc(2026, 11, 1, 1, 30)


def test_a_daily_time_in_the_gap_runs_at_its_end_that_day_only() -> None:
    schedule = parse_schedule("daily 01:30 Europe/London")
    assert schedule.latest_at_or_before(utc(2026, 3, 29, 0, 59)) == utc(2026, 3, 28, 1, 30)
    assert schedule.latest_at_or_before(utc(2026, 3, 29, 1)) == utc(2026, 3, 29, 1)
    assert schedule.next_after(utc(2026, 3, 29, 1)) == utc(2026, 3, 30, 0, 30)  # 01:30 BST


def test_now_in_any_zone_is_the_same_instant() -> None:
    schedule = parse_schedule("monday 09:00 Europe/London")
    now = utc(2026, 3, 30, 12)
    for zone in (timezone(timedelta(hours=-5)), ZoneInfo("Asia/Tokyo")):
        assert schedule.latest_at_or_before(now.astimezone(zone)) == utc(2026, 3, 30, 8)
        assert schedule.latest_at_or_before(now.astimezone(zone)).tzinfo is UTC


ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Dublin",  # "negative" daylight saving in the data: winter is the offset's DST
    "America/New_York",
    "America/St_Johns",  # half-hour offset
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute clock change
    "Asia/Kathmandu",
    "Pacific/Apia",  # skipped 30 December 2011 whole
    "America/Santiago",  # changes at midnight
]
TIMES = [time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(9, 0), time(23, 59)]
schedules = st.builds(
    Schedule,
    st.none() | st.integers(0, 6),
    st.sampled_from(TIMES) | st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.sampled_from(ZONES).map(ZoneInfo),
)
instants = st.datetimes(
    min_value=datetime(1995, 1, 1), max_value=datetime(2045, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(schedules, instants)
def test_latest_and_next_bracket_now_one_interval_apart(schedule: Schedule, now: datetime) -> None:
    latest, upcoming = schedule.latest_at_or_before(now), schedule.next_after(now)
    assert latest <= now < upcoming
    assert latest.tzinfo is UTC and upcoming.tzinfo is UTC
    assert schedule.next_after(latest) == upcoming
    assert schedule.latest_at_or_before(upcoming - timedelta(microseconds=1)) == latest

    def slot_day(slot: datetime) -> date:
        local_day = slot.astimezone(schedule.zone).date()
        # A time in a gap resolves after the gap, which may be the next local day.
        day = next(d for d in (local_day, local_day - DAY) if schedule.on(d) == slot)
        assert schedule.runs_on(day)
        return day

    # One interval apart in local wall-clock terms: 7 days (1 for daily) between their dates.
    assert slot_day(upcoming) - slot_day(latest) == schedule.interval
    # Each slot is the first instant at which the local clock reads the time or later.
    for slot in (latest, upcoming):
        target = datetime.combine(slot_day(slot), schedule.at)
        assert slot.astimezone(schedule.zone).replace(tzinfo=None) >= target
        before = slot - timedelta(microseconds=1)
        assert before.astimezone(schedule.zone).replace(tzinfo=None) < target


# ---------------------------------------------------------------------------------------------
# What is due


WEEKLY = parse_schedule("monday 09:00 Europe/London")
MONDAY = utc(2026, 3, 2, 9)  # a Monday 09:00 GMT


def test_never_audited_is_due_at_once() -> None:
    now = MONDAY + 2 * DAY
    assert due_clients([("acme", WEEKLY)], {}, now) == [Due("acme", MONDAY, "never audited")]
    assert next_due_at(WEEKLY, None, now) == now


def test_clients_come_in_config_order_each_on_its_own_schedule() -> None:
    daily = parse_schedule("daily 06:00 UTC")
    clients = [("zeta", WEEKLY), ("acme", daily), ("mid", WEEKLY)]
    now = MONDAY + DAY + 7 * HOUR  # Tuesday 16:00
    records = {"zeta": ok(MONDAY), "acme": ok(MONDAY), "mid": ok(MONDAY - DAY)}
    assert due_clients(clients, records, now) == [
        Due("acme", utc(2026, 3, 3, 6), "scheduled"),
        Due("mid", MONDAY, "scheduled"),
    ]


@dataclass
class Simulation:
    """The scheduler's loop in miniature: every ``step`` it starts what is due, and a run ends
    ``took`` after it started with the outcome ``outcomes`` gives (default ok)."""

    schedule: Schedule
    took: timedelta = 10 * MINUTE
    step: timedelta = 5 * MINUTE
    policy: RetryPolicy = RetryPolicy()  # noqa: RUF009 (frozen, immutable)

    def run(
        self, start: datetime, end: datetime, outcomes: list[Outcome] | None = None
    ) -> list[tuple[datetime, str]]:
        outcomes = list(outcomes or [])
        outcome: Outcome
        started: list[tuple[datetime, str]] = []
        record: ClientRecord | None = None
        now = start
        while now < end:
            if record and record.in_progress and now >= record.started_at + self.took:
                outcome = outcomes.pop(0) if outcomes else "ok"
                record = ClientRecord(
                    record.started_at, now, outcome, record.attempts, last_slot=record.last_slot
                )
            due = due_clients(
                [("acme", self.schedule)], {"acme": record} if record else {}, now, self.policy
            )
            if due:
                (one,) = due
                # Only a retry runs a slot again in these stories: its attempt counts on.
                assert (one.attempt > 1) == (one.reason == "retry after failure")
                record = ClientRecord(now, None, "running", one.attempt, last_slot=one.slot)
                started.append((now, one.reason))
            now += self.step
        return started


def test_weekly_runs_over_several_weeks() -> None:
    started = Simulation(WEEKLY).run(MONDAY - 3 * DAY, MONDAY + 5 * WEEK + HOUR)
    assert started == [
        (MONDAY - 3 * DAY, "never audited"),
        (utc(2026, 3, 2, 9), "scheduled"),
        (utc(2026, 3, 9, 9), "scheduled"),
        (utc(2026, 3, 16, 9), "scheduled"),
        (utc(2026, 3, 23, 9), "scheduled"),
        (utc(2026, 3, 30, 8), "scheduled"),  # BST: 09:00 local
        (utc(2026, 4, 6, 8), "scheduled"),
    ]


def test_catch_up_after_five_missed_weeks_is_one_run() -> None:
    record = ok(MONDAY)
    back = MONDAY + 5 * WEEK + 2 * DAY  # the machine was off for five Mondays
    latest = utc(2026, 4, 6, 8)
    due = due_clients([("acme", WEEKLY)], {"acme": record}, back, watching_since=back)
    assert due == [Due("acme", latest, "missed while stopped")]
    # Without knowing when the scheduler started (--once), it is simply scheduled.
    assert due_clients([("acme", WEEKLY)], {"acme": record}, back)[0].reason == "scheduled"
    # Once run, nothing more is due until the next Monday: not once per missed week.
    caught_up = ok(back)
    for later in (back + MINUTE, back + DAY, utc(2026, 4, 13, 7, 59)):
        assert due_clients([("acme", WEEKLY)], {"acme": caught_up}, later) == []
    assert next_due_at(WEEKLY, caught_up, back + MINUTE) == utc(2026, 4, 13, 8)
    assert due_clients([("acme", WEEKLY)], {"acme": caught_up}, utc(2026, 4, 13, 8)) == [
        Due("acme", utc(2026, 4, 13, 8), "scheduled")
    ]


def test_a_slot_passed_while_watching_is_scheduled_not_missed() -> None:
    record = ok(MONDAY)
    now = MONDAY + WEEK + MINUTE
    due = due_clients([("acme", WEEKLY)], {"acme": record}, now, watching_since=MONDAY + DAY)
    assert due == [Due("acme", MONDAY + WEEK, "scheduled")]


def test_a_run_longer_than_the_interval_never_overlaps_the_next() -> None:
    daily = parse_schedule("daily 06:00 UTC")
    slot = utc(2026, 3, 2, 6)
    running = ClientRecord(slot, None, "running")
    for now in (slot + HOUR, slot + DAY, slot + DAY + HOUR, slot + 2 * DAY + HOUR):
        assert due_clients([("acme", daily)], {"acme": running}, now) == []
        assert next_due_at(daily, running, now) is None
    assert not overruns(daily, running, slot + DAY - MINUTE)
    assert overruns(daily, running, slot + DAY)
    # It ends after two more slots passed: due once, for the latest.
    ended = ClientRecord(slot, slot + 2 * DAY + 3 * HOUR, "ok")
    now = slot + 2 * DAY + 3 * HOUR
    assert due_clients([("acme", daily)], {"acme": ended}, now) == [
        Due("acme", slot + 2 * DAY, "scheduled")
    ]
    # And in a running loop: 26-hour runs of a daily schedule start back to back, never two.
    started = Simulation(daily, took=26 * HOUR).run(slot, slot + 6 * DAY)
    starts = [at for at, _ in started]
    assert all(b - a >= 26 * HOUR for a, b in pairwise(starts))
    assert [reason for _, reason in started[1:]] == ["scheduled"] * (len(started) - 1)
    assert len(started) == 6  # 1 + one per ~26 hours over six days, not one per slot plus


def test_a_failed_slot_gets_one_early_retry_then_waits_for_the_next() -> None:
    failed = ClientRecord(MONDAY, MONDAY + 10 * MINUTE, "failed", attempts=1, last_slot=MONDAY)
    retry_at = MONDAY + 70 * MINUTE
    assert due_clients([("acme", WEEKLY)], {"acme": failed}, retry_at - MINUTE) == []
    assert next_due_at(WEEKLY, failed, retry_at - MINUTE) == retry_at
    assert due_clients([("acme", WEEKLY)], {"acme": failed}, retry_at) == [
        Due("acme", MONDAY, "retry after failure", attempt=2)
    ]
    # The retry fails too: no more early retries; the next Monday is the next chance.
    failed_again = ClientRecord(
        retry_at, retry_at + 5 * MINUTE, "failed", attempts=2, last_slot=MONDAY
    )
    for now in (retry_at + 2 * HOUR, MONDAY + 6 * DAY):
        assert due_clients([("acme", WEEKLY)], {"acme": failed_again}, now) == []
    assert next_due_at(WEEKLY, failed_again, retry_at + HOUR) == MONDAY + WEEK
    assert due_clients([("acme", WEEKLY)], {"acme": failed_again}, MONDAY + WEEK) == [
        Due("acme", MONDAY + WEEK, "scheduled")
    ]
    # The whole story in a running loop.
    started = Simulation(WEEKLY).run(MONDAY, MONDAY + WEEK + HOUR, outcomes=["failed", "failed"])
    assert started == [
        (MONDAY, "never audited"),
        (MONDAY + 10 * MINUTE + HOUR, "retry after failure"),
        (MONDAY + WEEK, "scheduled"),
    ]


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_max_early_retries_bounds_the_retries(retries: int) -> None:
    policy = RetryPolicy(retry_after=30 * MINUTE, max_early_retries=retries)
    simulation = Simulation(WEEKLY, policy=policy)
    started = simulation.run(MONDAY, MONDAY + 2 * DAY, outcomes=["failed"] * 10)
    assert [reason for _, reason in started] == ["never audited"] + [
        "retry after failure"
    ] * retries
    assert [b - a for (a, _), (b, _) in pairwise(started)] == [
        40 * MINUTE
    ] * retries  # 10 minutes' run, then 30 minutes' wait


def test_a_retry_later_than_the_next_slot_gives_way_to_it() -> None:
    daily = parse_schedule("daily 06:00 UTC")
    policy = RetryPolicy(retry_after=30 * HOUR)
    slot = utc(2026, 3, 2, 6)
    failed = ClientRecord(slot, slot + HOUR, "failed")
    assert next_due_at(daily, failed, slot + 2 * HOUR, policy) == slot + DAY
    assert due_clients([("acme", daily)], {"acme": failed}, slot + DAY, policy) == [
        Due("acme", slot + DAY, "scheduled")
    ]


def test_a_successful_run_after_the_slot_satisfies_it() -> None:
    manual = ok(MONDAY + 3 * HOUR)  # an `auditor run` after the slot, ok
    assert due_clients([("acme", WEEKLY)], {"acme": manual}, MONDAY + 6 * DAY) == []
    before = ok(MONDAY - MINUTE)  # one just before the slot does not
    assert due_clients([("acme", WEEKLY)], {"acme": before}, MONDAY) == [
        Due("acme", MONDAY, "scheduled")
    ]


@pytest.mark.parametrize("finished", [None, MONDAY + 20 * MINUTE])
def test_an_interrupted_run_is_due_again_at_once(finished: datetime | None) -> None:
    stopped = ClientRecord(MONDAY, finished, "interrupted")
    now = MONDAY + 30 * MINUTE
    assert due_clients([("acme", WEEKLY)], {"acme": stopped}, now) == [
        Due("acme", MONDAY, "interrupted")
    ]
    assert next_due_at(WEEKLY, stopped, now) == now
    # Its rerun is the slot's next attempt when the stopped run was of the same slot; a rerun
    # of last week's stopped run is this slot's first.
    of_this_slot = ClientRecord(MONDAY, finished, "interrupted", attempts=1, last_slot=MONDAY)
    assert due_clients([("acme", WEEKLY)], {"acme": of_this_slot}, now) == [
        Due("acme", MONDAY, "interrupted", attempt=2)
    ]
    last_week = ClientRecord(MONDAY, finished, "interrupted", attempts=3, last_slot=MONDAY - WEEK)
    assert due_clients([("acme", WEEKLY)], {"acme": last_week}, now) == [
        Due("acme", MONDAY, "interrupted", attempt=1)
    ]


def test_records_and_policies_refuse_what_cannot_be() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        ClientRecord(datetime(2026, 3, 2), None, "running")
    with pytest.raises(ValueError, match="finished_at must be None"):
        ClientRecord(MONDAY, MONDAY + HOUR, "running")
    with pytest.raises(ValueError, match="needs its finished_at"):
        ClientRecord(MONDAY, None, "ok")
    with pytest.raises(ValueError, match="attempt 1 or later"):
        ClientRecord(MONDAY, MONDAY, "failed", attempts=0)
    with pytest.raises(ValueError, match="positive"):
        RetryPolicy(retry_after=timedelta(0))
    with pytest.raises(ValueError, match="0 or more"):
        RetryPolicy(max_early_retries=-1)
    with pytest.raises(ValueError, match="no time zone"):
        due_clients([("acme", WEEKLY)], {}, datetime(2026, 3, 2))


OUTCOMES: tuple[Outcome, ...] = ("ok", "failed", "interrupted", "running")


@st.composite
def now_and_record(draw: st.DrawFn) -> tuple[datetime, ClientRecord | None]:
    """An instant, and the client's latest run as the store holds it then (in its past)."""
    now = draw(instants)
    if draw(st.booleans()) and draw(st.booleans()):
        return now, None
    started = now - draw(st.timedeltas(timedelta(0), timedelta(days=20)))
    outcome = draw(st.sampled_from(OUTCOMES))
    finished = None
    if outcome != "running" and (outcome != "interrupted" or draw(st.booleans())):
        finished = started + draw(st.timedeltas(timedelta(0), now - started))
    return now, ClientRecord(started, finished, outcome, draw(st.integers(1, 4)))


@settings(max_examples=300, deadline=None)
@given(
    schedules,
    now_and_record(),
    st.builds(RetryPolicy, st.timedeltas(MINUTE, 3 * DAY), st.integers(0, 3)),
)
def test_next_due_at_agrees_with_due_clients(
    schedule: Schedule, state: tuple[datetime, ClientRecord | None], policy: RetryPolicy
) -> None:
    now, record = state
    records = {"acme": record} if record else {}

    def due_at(at: datetime) -> bool:
        return bool(due_clients([("acme", schedule)], records, at, policy))

    upcoming = next_due_at(schedule, record, now, policy)
    if upcoming is None:
        assert record is not None and record.in_progress and not due_at(now)
        return
    assert upcoming >= now
    assert due_at(now) == (upcoming == now)
    assert due_at(upcoming)
    if upcoming > now:  # nothing in between
        assert not due_at(upcoming - timedelta(microseconds=1))
