"""The platform formats both sources and analysis read: Mastodon's HTML and Graph API hours."""

from __future__ import annotations

import pytest

from auditor.platform_formats import GRAPH_HOURS_KEY, hours_from_graph, html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello &amp; welcome</p><p>Second</p>", "Hello & welcome\n\nSecond"),
        ("<p>line one<br>line two<br />three</p>", "line one\nline two\nthree"),
        (
            '<p><a href="https://a.example/x"><span class="invisible">https://</span>'
            '<span class="ellipsis">a.example/x</span><span class="invisible"></span></a></p>',
            "https://a.example/x",
        ),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(html: str | None, text: str) -> None:
    assert html_to_text(html) == text


def test_hours_from_graph_orders_intervals_and_skips_unknown_keys() -> None:
    hours = hours_from_graph(
        {
            "tue_2_open": "14:00",
            "tue_2_close": "16:00",
            "tue_1_open": "08:00",
            "tue_1_close": "11:00",
            "holiday_note": "closed",
            "wed_1_open": "25:00",
        },
        "Europe/Paris",
    )
    assert hours["timezone"] == "Europe/Paris"
    assert hours["weekly"]["tue"] == [["08:00", "11:00"], ["14:00", "16:00"]]
    assert hours["weekly"]["wed"] == []
    assert set(hours["weekly"]) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


def test_hours_from_graph_all_day_every_day_is_always_open_and_empty_is_nothing() -> None:
    every_day = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        every_day[f"{day}_1_open"] = "00:00"
        every_day[f"{day}_1_close"] = "00:00"
    assert hours_from_graph(every_day, "UTC") == {"always_open": True}
    assert hours_from_graph({}, "UTC") == {}


@pytest.mark.parametrize(
    ("key", "matches"),
    [("mon_1_open", True), ("sun_12_close", True), ("holiday_1_open", False), ("mon_open", False)],
)
def test_graph_hours_keys_name_a_day_an_interval_and_an_edge(key: str, matches: bool) -> None:
    assert bool(GRAPH_HOURS_KEY.match(key)) is matches
