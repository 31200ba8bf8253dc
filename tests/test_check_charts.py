"""The charts checks offer the readable reports (``metrics["charts"]``, ``auditor.check.chart``):
the builder's checks, and what RSP002 and CRS001 chart and leave out. The charted values are
held to hand counts in tests/cases/RSP002.yaml and CRS001.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from auditor.analysis.sla import LocalClock, response_histogram, window_months
from auditor.check import CHARTS, chart
from auditor.testing import Case, run_case


def test_chart_refuses_a_series_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="series 'posts' has 2 values"):
        chart("bar", "Posts", ["a", "b", "c"], {"posts": [1, 2]}, "posts")


def test_chart_refuses_a_target_that_is_not_a_label() -> None:
    with pytest.raises(ValueError, match="target 'd' is not a label of x"):
        chart("bar", "Posts", ["a", "b"], {"posts": [1, 2]}, "posts", target="d")


def test_chart_keeps_what_it_is_given() -> None:
    spec = chart("heatmap", "Grid", ["00", "01"], {"mon": [1, 0], "tue": [0, 2]}, "posts")
    assert spec == {
        "kind": "heatmap",
        "title": "Grid",
        "x": ["00", "01"],
        "series": [{"name": "mon", "values": [1, 0]}, {"name": "tue", "values": [0, 2]}],
        "unit": "posts",
    }


def test_histogram_bins_hold_their_upper_edge_like_the_target() -> None:
    # Exactly T/4 and exactly T are in the bins they close; a hair over is in the next.
    histogram = response_histogram([15.0, 15.001, 60.0, 60.001, 480.0, 480.5], 3, 60)
    assert histogram.counts == [1, 1, 0, 1, 1, 0, 0, 1, 1, 3]
    assert sum(histogram.counts[:4]) == 3  # the responses within target
    assert histogram.over_target == "1-1.5 h"


def test_histogram_labels_stay_distinct_for_a_tiny_target() -> None:
    labels = response_histogram([], 0, 0.0001).labels
    assert len(set(labels)) == len(labels) == 10
    assert labels[-2:] == ["> 0.0008 min", "no reply"]


@pytest.mark.parametrize(
    ("start", "end", "zone", "months"),
    [
        ("2026-11-30T12:00:00+00:00", "2027-01-01T00:00:00+00:00", None, 3),
        ("2026-11-02T00:00:00+00:00", "2026-11-16T00:00:00+00:00", None, 1),
        # 31 December 23:30 UTC is already January in Tokyo, still December in New York.
        ("2026-10-15T00:00:00+00:00", "2026-12-31T23:30:00+00:00", "Asia/Tokyo", 4),
        ("2026-10-15T00:00:00+00:00", "2026-12-31T23:30:00+00:00", "America/New_York", 3),
    ],
)
def test_window_months_in_local_time(start: str, end: str, zone: str | None, months: int) -> None:
    clock = LocalClock(ZoneInfo(zone) if zone else None)
    found = window_months(datetime.fromisoformat(start), datetime.fromisoformat(end), clock)
    assert len(found) == months
    assert found == sorted(found)
    assert found[0] == f"{datetime.fromisoformat(start).astimezone(clock.timezone or UTC):%Y-%m}"


_ANSWERED = [
    {"id": "1", "author": "ann", "at": "2026-10-05T10:00:00+00:00", "text": "@AcmeHelp a"},
    {
        "id": "2",
        "author": "AcmeHelp",
        "at": "2026-10-05T10:10:00+00:00",
        "text": "@ann a",
        "in_reply_to": "1",
    },
]


def test_no_month_chart_on_a_window_of_two_months() -> None:
    # 20 October to 16 November: two calendar months, no seasons to show.
    case = Case(
        "RSP002",
        "two months",
        {
            "window": {"window_start": "2026-10-20T00:00:00+00:00"},
            "posts": [{**p, "at": p["at"].replace("10-05", "10-25")} for p in _ANSWERED],
            "expect": {"status": "pass"},
        },
    )
    result = run_case(case)
    assert set(result.metrics[CHARTS]) == {"first_response", "activity"}
    assert result.metrics["activity"]["customer_posts_by_month"] == {"2026-10": 1}


def test_no_charts_without_customer_posts() -> None:
    case = Case("RSP002", "nothing", {"posts": [], "expect": {"status": "not_applicable"}})
    result = run_case(case)
    assert result.status == "not_applicable"
    assert result.metrics[CHARTS] == {}


def test_only_pending_posts_chart_activity_but_no_response_times() -> None:
    post = {"id": "1", "author": "ann", "hours_before_end": 0.5, "text": "@AcmeHelp hi"}
    result = run_case(Case("RSP002", "pending", {"posts": [post], "expect": {"status": "pass"}}))
    assert result.metrics["pending"] == 1
    assert set(result.metrics[CHARTS]) == {"activity"}


def test_no_complaint_chart_when_the_brand_answered_no_thread() -> None:
    post = {"id": "1", "author": "ann", "hours_before_end": 5, "text": "@AcmeHelp this is broken"}
    result = run_case(Case("CRS001", "unanswered", {"posts": [post], "expect": {"status": "pass"}}))
    assert result.metrics["classification"]["frustration"]["engagements"] == 0
    assert result.metrics[CHARTS] == {}
