"""Tests for auditor.analysis.business_hours: properties over generated calendars and named examples."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auditor.analysis.business_hours import BusinessCalendar, CalendarError

SCHEMA_PATH = (
    Path(__file__).resolve().parents[1] / "config" / "schema" / "business_hours.schema.json"
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = DAYS[:5]
ZONES = ("America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Lord_Howe", "UTC")
FIXED_OFFSET_ZONES = ("Asia/Tokyo", "UTC")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
ONE_US = timedelta(microseconds=1)

EXAMPLE_CONFIG_YAML = """
business_hours:
  timezone: America/New_York
  weekly:
    mon: [["09:00", "17:00"]]
    tue: [["09:00", "12:00"], ["13:00", "17:00"]]
    wed: [["09:00", "17:00"]]
    thu: [["09:00", "17:00"]]
    fri: [["09:00", "17:00"], ["21:00", "02:00"]]
  always_open: false
  from_profile: false
  holidays: {country: US, subdivision: NY}
  closed_dates: ["2026-12-24"]
  closures:
    - {start: "2026-07-01T12:00:00+00:00", end: "2026-07-01T18:00:00+00:00", reason: "office move"}
"""

settings.register_profile(
    "business_hours",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROPERTY_SETTINGS = settings(settings.get_profile("business_hours"))


# --------------------------------------------------------------------------- helpers


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def calendar_for(
    timezone: str, weekly: Mapping[str, list[list[str]]], **extra: Any
) -> BusinessCalendar:
    return BusinessCalendar.from_config({"timezone": timezone, "weekly": dict(weekly), **extra})


def nine_to_five(timezone: str = "America/New_York", **extra: Any) -> BusinessCalendar:
    return calendar_for(timezone, {day: [["09:00", "17:00"]] for day in WEEKDAYS}, **extra)


def every_day(interval: list[str], timezone: str) -> BusinessCalendar:
    return calendar_for(timezone, {day: [interval] for day in DAYS})


# --------------------------------------------------------------------------- strategies

# Interval ends are "24:00" sometimes and before the start sometimes (overnight).
interval_minutes = st.tuples(st.integers(0, 24 * 60 - 1), st.integers(0, 24 * 60)).filter(
    lambda pair: pair[0] != pair[1]
)


@st.composite
def weekly_hours(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    weekly: dict[str, list[list[str]]] = {}
    for day in DAYS:
        pairs = draw(st.lists(interval_minutes, max_size=3))
        if pairs:
            weekly[day] = [[hhmm(start), hhmm(end)] for start, end in pairs]
    assume(weekly)
    return weekly


@st.composite
def calendars(draw: st.DrawFn, zones: tuple[str, ...] = ZONES) -> tuple[BusinessCalendar, str]:
    timezone = draw(st.sampled_from(zones))
    return calendar_for(timezone, draw(weekly_hours())), timezone


# Daylight-saving weeks of the generated zones, so that transitions are hit often.
DST_ANCHORS = tuple(
    datetime(year, month, day, tzinfo=UTC)
    for year, month, day in [
        (2024, 3, 10), (2024, 3, 31), (2024, 4, 7), (2024, 10, 6), (2024, 10, 27),
        (2024, 11, 3), (2026, 3, 8), (2026, 3, 29), (2026, 4, 5), (2026, 10, 4),
        (2026, 10, 25), (2026, 11, 1),
    ]
)  # fmt: skip
LOW = datetime(2020, 1, 1, tzinfo=UTC)
SPAN_US = (datetime(2030, 1, 1, tzinfo=UTC) - LOW) // ONE_US
WEEK_US = 7 * 86_400 * 1_000_000

instants = st.one_of(
    st.integers(0, SPAN_US).map(lambda us: LOW + timedelta(microseconds=us)),
    st.tuples(st.sampled_from(DST_ANCHORS), st.integers(-WEEK_US // 2, WEEK_US // 2)).map(
        lambda pair: pair[0] + timedelta(microseconds=pair[1])
    ),
    # whole minutes, which land exactly on interval boundaries
    st.tuples(st.sampled_from(DST_ANCHORS), st.integers(-5 * 24 * 60, 5 * 24 * 60)).map(
        lambda pair: pair[0] + timedelta(minutes=pair[1])
    ),
)
durations = st.one_of(
    st.integers(0, 3 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    st.integers(0, 10 * 86_400 * 1_000_000).map(lambda us: timedelta(microseconds=us)),
)
gaps = st.integers(0, 4 * 86_400 * 1_000_000).map(lambda us: timedelta(microseconds=us))


def oracle_open(weekly: Mapping[str, list[list[str]]], local: datetime) -> bool:
    """Open by reading the weekly table directly (valid where the UTC offset is constant)."""
    minute = local.hour * 60 + local.minute
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    for start_text, end_text in weekly.get(today, []):
        start, end = minutes_of(start_text), minutes_of(end_text)
        if start <= minute < (end if end > start else 24 * 60):
            return True
    for start_text, end_text in weekly.get(yesterday, []):
        start, end = minutes_of(start_text), minutes_of(end_text)
        if end < start and minute < end:
            return True
    return False


def minutes_of(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


# --------------------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(calendars(), instants, durations)
def test_between_of_deadline_is_the_duration(
    generated: tuple[BusinessCalendar, str], start: datetime, duration: timedelta
) -> None:
    calendar, _ = generated
    due = calendar.deadline(start, duration)
    assert due.tzinfo is UTC
    assert due >= start
    assert calendar.between(start, due) == duration
    # earliest: a microsecond earlier is not enough
    if duration > timedelta(0):
        assert calendar.between(start, due - ONE_US) < duration
    else:
        assert calendar.is_open(due)


@PROPERTY_SETTINGS
@given(calendars(), instants, gaps)
def test_deadline_of_between_returns_an_open_instant(
    generated: tuple[BusinessCalendar, str], start: datetime, gap: timedelta
) -> None:
    calendar, _ = generated
    end = start + gap
    strictly_open = calendar.is_open(end) and (end == start or calendar.is_open(end - ONE_US))
    assume(strictly_open)
    assert calendar.deadline(start, calendar.between(start, end)) == end


@PROPERTY_SETTINGS
@given(calendars(), instants, gaps, gaps)
def test_between_is_additive_and_monotone(
    generated: tuple[BusinessCalendar, str], start: datetime, first: timedelta, second: timedelta
) -> None:
    calendar, _ = generated
    middle, end = start + first, start + first + second
    whole = calendar.between(start, end)
    assert whole == calendar.between(start, middle) + calendar.between(middle, end)
    assert calendar.between(start, middle) <= whole
    assert whole <= end - start
    assert calendar.between(end, start) == timedelta(0) or end == start


@PROPERTY_SETTINGS
@given(calendars(), instants, gaps)
def test_open_intervals_agree_with_between_and_closed_time_never_counts(
    generated: tuple[BusinessCalendar, str], start: datetime, gap: timedelta
) -> None:
    calendar, _ = generated
    end = start + gap
    intervals = calendar.open_intervals(start, end)
    assert sum((high - low for low, high in intervals), timedelta(0)) == calendar.between(
        start, end
    )
    previous_end: datetime | None = None
    for low, high in intervals:
        assert start <= low < high <= end
        assert calendar.is_open(low) and calendar.is_open(high - ONE_US)
        if previous_end is not None:
            # merged: a real closed gap separates consecutive intervals
            assert previous_end < low
            assert not calendar.is_open(previous_end)
            assert calendar.between(previous_end, low) == timedelta(0)
        previous_end = high


@PROPERTY_SETTINGS
@given(calendars(), instants)
def test_is_open_matches_one_microsecond_of_business_time(
    generated: tuple[BusinessCalendar, str], instant: datetime
) -> None:
    calendar, _ = generated
    expected = ONE_US if calendar.is_open(instant) else timedelta(0)
    assert calendar.between(instant, instant + ONE_US) == expected


@PROPERTY_SETTINGS
@given(
    st.sampled_from(ZONES),
    weekly_hours(),
    st.integers(0, (SPAN_US // 1_000_000) // 60),
    st.integers(0, 3 * 24 * 60),
)
def test_business_minutes_match_the_weekly_table(
    timezone: str, weekly: dict[str, list[list[str]]], start_minute: int, length: int
) -> None:
    zone = ZoneInfo(timezone)
    start = LOW + timedelta(minutes=start_minute)
    end = start + timedelta(minutes=length)
    # Away from offset changes, wall time is a plain shift of UTC, so the table can be read
    # directly; transitions themselves are covered by the named daylight-saving examples.
    margin = timedelta(days=2)
    assume(
        (start - margin).astimezone(zone).utcoffset() == (end + margin).astimezone(zone).utcoffset()
    )
    calendar = calendar_for(timezone, weekly)
    expected_minutes = sum(
        oracle_open(weekly, (start + timedelta(minutes=offset)).astimezone(zone))
        for offset in range(length)
    )
    assert calendar.between(start, end) == timedelta(minutes=expected_minutes)


# --------------------------------------------------------------------------- named examples


def test_friday_afternoon_post_is_due_monday_morning() -> None:
    calendar = nine_to_five()
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=NEW_YORK)
    assert friday.weekday() == 4
    due = calendar.deadline(friday, timedelta(minutes=60))
    assert due == datetime(2026, 3, 9, 9, 30, tzinfo=NEW_YORK)
    assert calendar.between(friday, due) == timedelta(minutes=60)


def test_post_before_opening_is_due_two_hours_after_opening() -> None:
    calendar = nine_to_five()
    early = datetime(2026, 5, 12, 7, 0, tzinfo=NEW_YORK)
    assert not calendar.is_open(early)
    assert calendar.deadline(early, timedelta(minutes=120)) == datetime(
        2026, 5, 12, 11, 0, tzinfo=NEW_YORK
    )
    assert calendar.deadline(early, timedelta(0)) == datetime(2026, 5, 12, 9, 0, tzinfo=NEW_YORK)


def test_deadline_zero_at_an_open_instant_is_the_instant_in_utc() -> None:
    calendar = nine_to_five()
    open_instant = datetime(2026, 5, 12, 10, 15, 7, 123, tzinfo=NEW_YORK)
    due = calendar.deadline(open_instant, timedelta(0))
    assert due == open_instant and due.tzinfo is UTC


def test_deadline_can_end_exactly_at_closing_time() -> None:
    calendar = nine_to_five()
    start = datetime(2026, 5, 12, 16, 0, tzinfo=NEW_YORK)
    assert calendar.deadline(start, timedelta(hours=1)) == datetime(
        2026, 5, 12, 17, 0, tzinfo=NEW_YORK
    )


def test_overnight_shift_belongs_to_the_day_it_starts() -> None:
    calendar = calendar_for("Europe/London", {"mon": [["21:00", "02:00"]]})
    monday_night = datetime(2026, 5, 11, 20, 0, tzinfo=LONDON)
    assert monday_night.weekday() == 0
    tuesday_early = datetime(2026, 5, 12, 1, 30, tzinfo=LONDON)
    assert calendar.is_open(tuesday_early)
    assert not calendar.is_open(datetime(2026, 5, 12, 2, 0, tzinfo=LONDON))
    assert not calendar.is_open(datetime(2026, 5, 11, 1, 30, tzinfo=LONDON))  # Sunday's night
    assert calendar.between(monday_night, monday_night + timedelta(days=1)) == timedelta(hours=5)
    assert calendar.deadline(monday_night, timedelta(hours=4)) == datetime(
        2026, 5, 12, 1, 0, tzinfo=LONDON
    )


def test_split_shift_skips_the_lunch_break() -> None:
    calendar = calendar_for("America/New_York", {"tue": [["09:00", "12:00"], ["13:00", "17:00"]]})
    start = datetime(2026, 5, 12, 11, 30, tzinfo=NEW_YORK)
    assert not calendar.is_open(datetime(2026, 5, 12, 12, 30, tzinfo=NEW_YORK))
    assert calendar.deadline(start, timedelta(minutes=45)) == datetime(
        2026, 5, 12, 13, 15, tzinfo=NEW_YORK
    )
    assert calendar.between(start, datetime(2026, 5, 12, 18, tzinfo=NEW_YORK)) == timedelta(
        hours=4, minutes=30
    )


def test_whole_days_do_not_lose_the_minute_at_midnight() -> None:
    calendar = calendar_for(
        "America/New_York", {"mon": [["00:00", "24:00"]], "tue": [["00:00", "24:00"]]}
    )
    before_midnight = datetime(2026, 5, 11, 23, 59, tzinfo=NEW_YORK)
    after_midnight = datetime(2026, 5, 12, 0, 1, tzinfo=NEW_YORK)
    assert calendar.between(before_midnight, after_midnight) == timedelta(minutes=2)
    assert calendar.is_open(datetime(2026, 5, 12, 0, 0, tzinfo=NEW_YORK))
    intervals = calendar.open_intervals(
        datetime(2026, 5, 10, tzinfo=NEW_YORK), datetime(2026, 5, 15, tzinfo=NEW_YORK)
    )
    assert intervals == [
        (
            datetime(2026, 5, 11, tzinfo=NEW_YORK).astimezone(UTC),
            datetime(2026, 5, 13, tzinfo=NEW_YORK).astimezone(UTC),
        )
    ]


def test_evening_interval_and_next_morning_merge_seamlessly() -> None:
    calendar = calendar_for(
        "Asia/Tokyo", {"mon": [["21:00", "24:00"], ["22:00", "03:00"]], "tue": [["00:00", "02:00"]]}
    )
    start = datetime(2026, 5, 11, 21, 0, tzinfo=TOKYO)
    intervals = calendar.open_intervals(start, start + timedelta(days=1))
    assert intervals == [(start.astimezone(UTC), (start + timedelta(hours=6)).astimezone(UTC))]


def test_public_holiday_from_the_package_is_closed() -> None:
    calendar = nine_to_five(holidays={"country": "US", "subdivision": "NY"})
    independence_day = datetime(2025, 7, 4, 12, 0, tzinfo=NEW_YORK)
    assert independence_day.weekday() == 4
    assert not calendar.is_open(independence_day)
    thursday = datetime(2025, 7, 3, 16, 30, tzinfo=NEW_YORK)
    assert calendar.deadline(thursday, timedelta(hours=1)) == datetime(
        2025, 7, 7, 9, 30, tzinfo=NEW_YORK
    )
    # the same calendar without holidays is open that Friday
    assert nine_to_five().is_open(independence_day)


def test_christmas_and_boxing_day_in_england() -> None:
    calendar = nine_to_five("Europe/London", holidays={"country": "GB", "subdivision": "ENG"})
    christmas_eve = datetime(2025, 12, 24, 16, 30, tzinfo=LONDON)
    assert calendar.deadline(christmas_eve, timedelta(hours=1)) == datetime(
        2025, 12, 29, 9, 30, tzinfo=LONDON
    )


def test_explicit_closed_date_and_one_off_closure() -> None:
    calendar = nine_to_five(
        closed_dates=["2026-12-23"],
        closures=[
            {
                "start": "2026-07-01T15:00:00+00:00",
                "end": "2026-07-01T18:00:00+00:00",
                "reason": "move",
            }
        ],
    )
    assert not calendar.is_open(datetime(2026, 12, 23, 12, tzinfo=NEW_YORK))
    assert calendar.is_open(datetime(2026, 12, 22, 12, tzinfo=NEW_YORK))
    wednesday = datetime(2026, 7, 1, tzinfo=NEW_YORK)
    # 9-17 local is 13:00-21:00 UTC; 15:00-18:00 UTC is closed
    assert calendar.between(wednesday, wednesday + timedelta(days=1)) == timedelta(hours=5)
    assert not calendar.is_open(datetime(2026, 7, 1, 16, 0, tzinfo=UTC))
    assert calendar.is_open(datetime(2026, 7, 1, 18, 0, tzinfo=UTC))


def test_closed_date_cancels_its_own_night_shift_and_cuts_the_previous_one() -> None:
    calendar = every_day(["21:00", "02:00"], "UTC")
    closed = BusinessCalendar.from_config(
        {"timezone": "UTC", "weekly": {day: [["21:00", "02:00"]] for day in DAYS},
         "closed_dates": ["2026-05-12"]}
    )  # fmt: skip
    monday_evening = datetime(2026, 5, 11, 20, tzinfo=UTC)
    two_days = monday_evening + timedelta(days=2)
    assert calendar.between(monday_evening, two_days) == timedelta(hours=10)
    # Monday's shift stops at the closed day's midnight; Tuesday's shift is cancelled entirely
    assert closed.between(monday_evening, two_days) == timedelta(hours=3)
    assert not closed.is_open(datetime(2026, 5, 13, 1, tzinfo=UTC))


def test_fall_back_day_has_twenty_five_hours_in_new_york_and_london() -> None:
    for zone, day in ((NEW_YORK, date(2026, 11, 1)), (LONDON, date(2026, 10, 25))):
        calendar = every_day(["00:00", "24:00"], zone.key)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        end = start + timedelta(days=1)
        assert calendar.between(start, end) == timedelta(hours=25)
        assert calendar.deadline(start, timedelta(hours=25)) == end


def test_spring_forward_day_has_twenty_three_hours_in_new_york_and_london() -> None:
    for zone, day in ((NEW_YORK, date(2026, 3, 8)), (LONDON, date(2026, 3, 29))):
        calendar = every_day(["00:00", "24:00"], zone.key)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        assert calendar.between(start, start + timedelta(days=1)) == timedelta(hours=23)


def test_repeated_autumn_hour_counts_in_real_time() -> None:
    calendar = every_day(["01:00", "03:00"], "America/New_York")
    day = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert calendar.between(day, day + timedelta(days=1)) == timedelta(hours=3)
    first_one_thirty = datetime(2026, 11, 1, 1, 30, fold=0, tzinfo=NEW_YORK)
    second_one_thirty = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)
    assert calendar.is_open(first_one_thirty) and calendar.is_open(second_one_thirty)
    assert calendar.between(first_one_thirty, second_one_thirty) == timedelta(hours=1)


def test_interval_ending_in_the_repeated_hour_ends_at_its_second_occurrence() -> None:
    calendar = every_day(["00:00", "01:30"], "America/New_York")
    day = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    # 00:00 EDT (04:00 UTC) to the second 01:30, in EST (06:30 UTC)
    assert calendar.open_intervals(day, day + timedelta(days=1)) == [
        (datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC))
    ]


@pytest.mark.parametrize(
    "timezone", [*ZONES, "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Santiago"]
)
def test_long_spans_lose_nothing_at_day_or_cache_boundaries(timezone: str) -> None:
    zone = ZoneInfo(timezone)
    start = datetime(2025, 12, 31, 21, 30, tzinfo=zone)
    end = datetime(2027, 2, 3, 21, 30, tzinfo=zone)
    around_the_clock = every_day(["00:00", "24:00"], timezone)
    assert around_the_clock.between(start, end) == end - start
    assert around_the_clock.deadline(start, end - start) == end
    # open 22:00 to 21:00 the next day: one closed hour per local day, DST or not
    overnight = every_day(["22:00", "21:00"], timezone)
    days = (end.date() - start.date()).days
    assert overnight.between(start, end) == end - start - timedelta(hours=days)
    assert overnight.deadline(start, end - start - timedelta(hours=days)) == datetime(
        2027, 2, 3, 21, 0, tzinfo=zone
    )


def test_interval_starting_in_the_spring_gap_starts_after_the_gap() -> None:
    calendar = every_day(["02:30", "05:00"], "America/New_York")
    day = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    intervals = calendar.open_intervals(day, day + timedelta(days=1))
    assert intervals == [
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), datetime(2026, 3, 8, 9, 0, tzinfo=UTC))
    ]
    # London skips 01:00-02:00 on 2026-03-29; the transition is 01:00 UTC
    london_day = datetime(2026, 3, 29, tzinfo=LONDON)
    next_day = london_day + timedelta(days=1)
    inside_gap = every_day(["01:15", "01:45"], "Europe/London")
    assert inside_gap.between(london_day, next_day) == timedelta(0)
    starting_in_gap = every_day(["01:30", "02:30"], "Europe/London")
    assert starting_in_gap.open_intervals(london_day, next_day) == [
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    ]
    ending_in_gap = every_day(["00:30", "01:30"], "Europe/London")
    assert ending_in_gap.open_intervals(london_day, next_day) == [
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    ]


def test_deadline_across_spring_forward_weekend() -> None:
    calendar = nine_to_five()
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=NEW_YORK)  # EST
    due = calendar.deadline(friday, timedelta(hours=2))
    assert due == datetime(2026, 3, 9, 10, 0, tzinfo=NEW_YORK)  # EDT
    assert due == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_utc_saturday_evening_is_sunday_morning_in_tokyo() -> None:
    post = datetime(2026, 5, 9, 23, 30, tzinfo=UTC)
    assert post.weekday() == 5 and post.astimezone(TOKYO).weekday() == 6
    sunday_open = calendar_for("Asia/Tokyo", {"sun": [["08:00", "12:00"]]})
    saturday_only = calendar_for("Asia/Tokyo", {"sat": [["00:00", "24:00"]]})
    assert sunday_open.is_open(post)
    assert not saturday_only.is_open(post)
    assert saturday_only.deadline(post, timedelta(0)) == datetime(2026, 5, 16, tzinfo=TOKYO)


def test_always_open_is_plain_elapsed_time() -> None:
    calendar = BusinessCalendar.always_open()
    assert calendar.timezone is None
    start = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    end = datetime(2026, 11, 2, 0, 0, tzinfo=NEW_YORK)  # same tzinfo: wall difference is 24 h
    assert calendar.between(start, end) == timedelta(hours=25)
    assert calendar.deadline(start, timedelta(hours=25)) == end
    assert calendar.deadline(start, timedelta(hours=25)).tzinfo is UTC
    assert calendar.is_open(start)
    assert calendar.open_intervals(start, end) == [(start, end)]
    configured = BusinessCalendar.from_config({"always_open": True, "timezone": "Europe/London"})
    assert configured.timezone == LONDON
    assert configured.between(end, start) == timedelta(0)


def test_calendar_with_different_input_zones_agrees() -> None:
    calendar = nine_to_five()
    start = datetime(2026, 5, 12, 10, tzinfo=TOKYO)
    end = datetime(2026, 5, 13, 10, tzinfo=LONDON)
    assert calendar.between(start, end) == calendar.between(
        start.astimezone(UTC), end.astimezone(UTC)
    )


# --------------------------------------------------------------------------- errors


def test_calendar_without_open_time_is_a_config_error() -> None:
    with pytest.raises(CalendarError, match="weekly"):
        BusinessCalendar.from_config({"timezone": "UTC", "weekly": {}})
    with pytest.raises(CalendarError, match="weekly"):
        BusinessCalendar.from_config({"timezone": "UTC", "weekly": {"mon": []}})


def test_unknown_timezone_is_named() -> None:
    with pytest.raises(CalendarError, match="Mars/Olympus_Mons") as raised:
        BusinessCalendar.from_config({"timezone": "Mars/Olympus_Mons", "weekly": {}})
    assert "timezone" in str(raised.value)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"timezone": "UTC", "weekly": {"mon": [["9:00", "17:00"]]}}, "weekly.mon[0][0]"),
        ({"timezone": "UTC", "weekly": {"mon": [["09:00", "24:30"]]}}, "weekly.mon[0][1]"),
        ({"timezone": "UTC", "weekly": {"mon": [["24:00", "02:00"]]}}, "weekly.mon[0][0]"),
        ({"timezone": "UTC", "weekly": {"mon": [["09:00", "09:00"]]}}, "weekly.mon[0]"),
        ({"timezone": "UTC", "weekly": {"monday": [["09:00", "17:00"]]}}, "weekly.monday"),
        ({"weekly": {"mon": [["09:00", "17:00"]]}}, "timezone"),
        ({"timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}, "hours": 1}, "hours"),
        ({"always_open": "yes"}, "always_open"),
        (
            {"timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}, "closed_dates": ["24/12"]},
            "closed_dates[0]",
        ),
        (
            {
                "timezone": "UTC",
                "weekly": {"mon": [["09:00", "17:00"]]},
                "closures": [{"start": "2026-07-01T12:00:00", "end": "2026-07-01T18:00:00Z"}],
            },
            "closures[0].start",
        ),
        (
            {
                "timezone": "UTC",
                "weekly": {"mon": [["09:00", "17:00"]]},
                "closures": [{"start": "2026-07-01T18:00:00Z", "end": "2026-07-01T12:00:00Z"}],
            },
            "closures[0].end",
        ),
        ({"from_profile": True}, "from_profile"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(CalendarError) as raised:
        BusinessCalendar.from_config(config)
    assert f"business_hours.{key}" in str(raised.value)


def test_unquoted_yaml_times_get_a_hint() -> None:
    config = yaml.safe_load("timezone: UTC\nweekly: {mon: [[09:00, 17:00]]}")
    with pytest.raises(CalendarError, match="quote times") as raised:
        BusinessCalendar.from_config(config)
    assert "business_hours.weekly.mon[0][1]" in str(raised.value)


def test_unknown_holiday_country_and_subdivision_are_named() -> None:
    with pytest.raises(CalendarError, match=r"holidays\.country.*'XQ'"):
        nine_to_five(holidays={"country": "XQ"})
    with pytest.raises(CalendarError, match=r"holidays\.subdivision.*'ZZ'"):
        nine_to_five(holidays={"country": "US", "subdivision": "ZZ"})


def test_naive_datetimes_are_rejected() -> None:
    calendar = nine_to_five()
    naive = datetime(2026, 5, 12, 10, 0)
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        calendar.is_open(naive)
    with pytest.raises(ValueError, match="naive"):
        calendar.between(naive, aware)
    with pytest.raises(ValueError, match="naive"):
        calendar.deadline(naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="naive"):
        BusinessCalendar.always_open().between(aware, naive)


def test_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        nine_to_five().deadline(datetime(2026, 5, 12, tzinfo=UTC), timedelta(minutes=-1))


# --------------------------------------------------------------------------- schema


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_schema_accepts_the_example_config_and_so_does_the_calendar() -> None:
    config = yaml.safe_load(EXAMPLE_CONFIG_YAML)["business_hours"]
    jsonschema.Draft202012Validator(load_schema()).validate(config)
    calendar = BusinessCalendar.from_config(config)
    assert calendar.timezone == NEW_YORK
    # Christmas Eve is an explicit closed date; the Friday-night shift runs past midnight
    assert not calendar.is_open(datetime(2026, 12, 24, 10, tzinfo=NEW_YORK))
    assert calendar.is_open(datetime(2026, 5, 16, 1, 0, tzinfo=NEW_YORK))


@pytest.mark.parametrize(
    "config",
    [
        {"always_open": True},
        {"from_profile": True},
        {"timezone": "UTC", "weekly": {"sat": [["21:00", "02:00"], ["00:00", "24:00"]]}},
    ],
)
def test_schema_accepts_other_valid_shapes(config: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(load_schema()).validate(config)


@pytest.mark.parametrize(
    "config",
    [
        {"timezone": "UTC"},
        {"weekly": {"mon": [["09:00", "17:00"]]}},
        {"timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}, "extra": 1},
        {"timezone": "UTC", "weekly": {"mon": [["24:00", "17:00"]]}},
        {"timezone": "UTC", "weekly": {"mon": [["09:00"]]}},
        {"timezone": "UTC", "weekly": {"funday": []}},
        {"always_open": True, "holidays": {"subdivision": "NY"}},
        {"always_open": True, "closures": [{"start": "2026-07-01T12:00:00", "end": "x"}]},
    ],
)
def test_schema_rejects_invalid_shapes(config: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(load_schema())
    assert not validator.is_valid(config)
