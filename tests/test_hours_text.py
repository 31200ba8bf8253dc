"""Reading posted hours from bio text and platform fields (auditor/hours_text.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.analysis.business_hours import BusinessCalendar
from auditor.analysis.hours_text import find_timezone, read_hours, read_profile_hours, states_hours
from auditor.model import Profile

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WEEKDAYS, "sat", "sun")


def _weekly(days: tuple[str, ...], *intervals: tuple[str, str]) -> dict[str, Any]:
    return {day: [list(i) for i in intervals] for day in days}


@pytest.mark.parametrize(
    ("text", "zone", "weekly"),
    [
        ("8AM-5PM EST", "America/New_York", _weekly(ALL_DAYS, ("08:00", "17:00"))),
        ("Mon–Fri 9–17 CET", "Europe/Berlin", _weekly(WEEKDAYS, ("09:00", "17:00"))),
        (
            "9am to 6pm PT, 7 days a week",
            "America/Los_Angeles",
            _weekly(ALL_DAYS, ("09:00", "18:00")),
        ),
        (
            "We respond within 60 minutes to inquiries submitted between 8 AM and 5 PM EST",
            "America/New_York",
            _weekly(ALL_DAYS, ("08:00", "17:00")),
        ),
        (
            "Open 9 a.m. to 5 p.m. Monday through Friday, Eastern",
            "America/New_York",
            _weekly(WEEKDAYS, ("09:00", "17:00")),
        ),
        (
            "Mon-Fri 9am-6pm, Sat 10am-4pm GMT",
            "Europe/London",
            {**_weekly(WEEKDAYS, ("09:00", "18:00")), "sat": [["10:00", "16:00"]]},
        ),
        (
            "9am-5pm weekdays, 10am-2pm weekends (UK time)",
            "Europe/London",
            {
                **_weekly(WEEKDAYS, ("09:00", "17:00")),
                **_weekly(("sat", "sun"), ("10:00", "14:00")),
            },
        ),
        (
            "Sun-Thu 8-16 Asia/Jerusalem",
            "Asia/Jerusalem",
            _weekly(("mon", "tue", "wed", "thu", "sun"), ("08:00", "16:00")),
        ),
        (
            "Fri-Mon 10:00-18:30 CET",
            "Europe/Berlin",
            _weekly(("mon", "fri", "sat", "sun"), ("10:00", "18:30")),
        ),
        (
            "Tuesday & Thursday 1pm-3pm PT",
            "America/Los_Angeles",
            _weekly(("tue", "thu"), ("13:00", "15:00")),
        ),
        ("Night desk 10pm-2am ET daily", "America/New_York", _weekly(ALL_DAYS, ("22:00", "02:00"))),
        ("from noon until midnight JST", "Asia/Tokyo", _weekly(ALL_DAYS, ("12:00", "24:00"))),
        ("Hours: 9-5 Mon-Fri ET", "America/New_York", _weekly(WEEKDAYS, ("09:00", "17:00"))),
        ("Mon-Fri 9-5pm PT", "America/Los_Angeles", _weekly(WEEKDAYS, ("09:00", "17:00"))),
        ("weekdays 22-6 UTC", "UTC", _weekly(WEEKDAYS, ("22:00", "06:00"))),
    ],
)
def test_forms_brands_use(text: str, zone: str, weekly: dict[str, Any]) -> None:
    reading = read_hours(text)
    assert reading is not None and reading.problem is None, reading
    assert reading.hours == {"timezone": zone, "weekly": weekly}
    BusinessCalendar.from_config(reading.hours)  # what was read is a usable calendar


@pytest.mark.parametrize(
    "text", ["24/7", "Here for you 24/7!", "24x7 support", "24-7 help", "around the clock"]
)
def test_always_open(text: str) -> None:
    reading = read_hours(text)
    assert reading is not None and reading.hours == {"always_open": True}


def test_always_open_keeps_a_named_zone() -> None:
    reading = read_hours("24/7 support, UK based")
    assert reading is not None and reading.hours == {
        "always_open": True,
        "timezone": "Europe/London",
    }


@pytest.mark.parametrize(
    "text",
    [
        "Official support for Acme products.",
        "Delivery in 1-2 days. Returns within 30 days.",
        "Call 0800 123 4567 or +44 20-7946 0000",
        "Rated 4-5 stars by 10-20 people",
        "Est. 1999 · 10-15% off this week",
        "We reply 9-5",  # a bare range with no days or zone is not read as hours
        "",
    ],
)
def test_texts_that_state_no_hours(text: str) -> None:
    assert read_hours(text) is None


def test_hours_without_a_zone_are_stated_but_unread() -> None:
    reading = read_hours("Here to help Mon-Fri 9am-6pm")
    assert reading is not None and reading.hours is None
    assert reading.problem == "the hours name no time zone"
    assert "9am-6pm" in reading.fragment


def test_a_default_zone_completes_hours_without_one() -> None:
    reading = read_hours("Here to help Mon-Fri 9am-6pm", default_timezone="Europe/Dublin")
    assert reading is not None and reading.hours is not None
    assert reading.hours["timezone"] == "Europe/Dublin"


def test_stated_in_an_unknown_form() -> None:
    reading = read_hours("Team online 9 and 5 CET")
    assert reading is not None and reading.hours is None and reading.problem


def test_zone_abbreviations_are_upper_case_words_only() -> None:
    assert find_timezone("we are pet friendly and set in Mayfair") is None
    assert find_timezone("9-5 in central London") is None
    assert find_timezone("9-5 ET") == "America/New_York"
    assert find_timezone("9-5 Europe/Madrid") == "Europe/Madrid"
    assert find_timezone("9-5 pacific time") == "America/Los_Angeles"


def test_profile_order_platform_field_then_fields_then_bio() -> None:
    profile = Profile(
        platform="mastodon",
        account="acme",
        bio="Mon-Fri 9-17 CET\n\nHours: Sat 10-14 GMT",
        extra={"fields": [{"name": "Hours", "value": "<p>Sat 10-14 GMT</p>"}]},
    )
    found = read_profile_hours(profile)
    assert found.source == "profile_field"
    assert found.hours == {"timezone": "Europe/London", "weekly": {"sat": [["10:00", "14:00"]]}}
    profile.hours = {"always_open": True}
    assert read_profile_hours(profile).source == "platform_field"


def test_facebook_hours_keys_use_the_profile_zone() -> None:
    raw = {
        "tue_1_open": "08:00",
        "tue_1_close": "12:00",
        "tue_2_open": "13:00",
        "tue_2_close": "17:00",
    }
    profile = Profile(
        platform="facebook", account="acme", hours=raw, extra={"timezone": "America/Chicago"}
    )
    found = read_profile_hours(profile)
    assert found.source == "platform_field"
    assert found.hours is not None and found.hours["timezone"] == "America/Chicago"
    assert found.hours["weekly"]["tue"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    assert found.hours["weekly"]["mon"] == []


def test_facebook_hours_keys_without_a_zone_fall_back_to_the_bio() -> None:
    profile = Profile(
        platform="facebook",
        account="acme",
        hours={"mon_1_open": "09:00", "mon_1_close": "17:00"},
        bio="Mon-Fri 9am-5pm ET",
    )
    found = read_profile_hours(profile)
    assert found.source == "bio" and found.hours is not None
    profile.bio = "Acme"
    found = read_profile_hours(profile)
    assert found.source == "platform_field" and found.hours is None and found.problem


def test_states_hours_agrees_with_the_reader_on_what_is_stated() -> None:
    for text in ("We reply 8am-5pm ET, Mon-Fri", "Mon–Fri 9–17 CET", "24/7"):
        assert states_hours(text)
    assert not states_hours("Delivery in 1-2 days")


@given(
    start=st.integers(min_value=0, max_value=23),
    length=st.integers(min_value=1, max_value=12),
    first=st.integers(min_value=0, max_value=6),
    last=st.integers(min_value=0, max_value=6),
)
def test_any_written_24h_schedule_reads_back(
    start: int, length: int, first: int, last: int
) -> None:
    end = (start + length) % 24
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    text = f"{days[first]}-{days[last]} {start:02d}:00-{end:02d}:00 CET"
    reading = read_hours(text)
    assert reading is not None and reading.hours is not None, text
    expected_days = {ALL_DAYS[(first + i) % 7] for i in range((last - first) % 7 + 1)}
    assert set(reading.hours["weekly"]) == expected_days
    interval = [f"{start:02d}:00", "24:00" if end == 0 else f"{end:02d}:00"]
    assert all(v == [interval] for v in reading.hours["weekly"].values())
