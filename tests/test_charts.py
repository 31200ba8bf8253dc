"""Charts as inline SVG (auditor/reports/charts.py): any ChartSpec a check offers, drawn by pygal
and made deterministic, small and safe: the same spec gives the same bytes, no script or
tooltip data stays, CSS comes apart (scoped, for the page to write once), and text is escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from auditor.check import CHARTS, chart
from auditor.reports import charts
from auditor.result import AuditPoint

NS = {"svg": charts.SVG_NS}
HOURS = [f"{hour:02d}" for hour in range(24)]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
EVIL = "<script>alert(1)</script>"


def _histogram(target: str | None = "60-120") -> charts.Svg:
    spec = chart(
        "bar",
        "First response",
        ["0-15", "15-30", "30-60", "60-120", "120+"],
        {"replies": [5.0, 3.0, 2.0, 4.0, 1.0]},
        "replies",
        target=target,
    )
    return charts.draw_spec(spec, "account-1-chart1")


def _svg(drawn: charts.Svg) -> ET.Element:
    return ET.fromstring(drawn.svg)


def _bar_fills(drawn: charts.Svg) -> list[str | None]:
    bars = _svg(drawn).iterfind(".//svg:g[@class='bar']", NS)
    return [bar.get("style") for bar in bars]


def test_bars_at_and_after_the_target_are_in_the_failing_colour() -> None:
    fills = _bar_fills(_histogram())
    assert len(fills) == 5
    assert fills[:3] == [None, None, None]
    assert all(f is not None and charts.FAIL_COLOUR in f for f in fills[3:])
    assert _bar_fills(_histogram(target=None)) == [None] * 5
    note = _histogram().note
    assert note is not None and "60-120" in note


def test_several_series_keep_their_colours_and_mark_the_targets_label() -> None:
    spec = chart("bar", "t", ["a", "b"], {"x": [1.0, 2.0], "y": [2.0, 1.0]}, "posts", target="b")
    drawn = charts.draw_spec(spec, "c")
    assert _bar_fills(drawn) == [None] * 4
    labels = [t.text for t in _svg(drawn).iterfind(".//svg:g[@class='axis x']//svg:text", NS)]
    assert "b (target)" in labels


def test_the_same_spec_draws_the_same_bytes_with_the_id_given() -> None:
    first, second = _histogram(), _histogram()
    assert first == second
    root = _svg(first)
    assert root.get("id") == "account-1-chart1"
    assert root.get("aria-label") == "First response"
    # pygal's uuid, date-stamped comment, tooltip data and config script are gone.
    for gone in ("<!--", "<desc", "<script", "<style", "Pygal", "pygal.org"):
        assert gone not in first.svg
    # Inner ids are prefixed with the chart's, so that two charts on a page never share one.
    inner = [e.get("id") for e in root.iter() if e.get("id") and e is not root]
    assert all(str(i).startswith("account-1-chart1-") for i in inner)


def test_a_heatmap_is_a_punch_card_of_every_cell_and_stays_small() -> None:
    values = {day: [float((d * 24 + h) % 9) for h in range(24)] for d, day in enumerate(DAYS)}
    drawn = charts.draw_spec(chart("heatmap", "Activity", HOURS, values, "posts"), "h")
    circles = list(_svg(drawn).iterfind(".//svg:circle", NS))
    assert len(circles) == 7 * 24
    # Raw pygal writes about 64 KB for this; tooltip data, CSS and long decimals make most.
    assert len(drawn.svg) < 40_000
    texts = {e.text for e in _svg(drawn).iter() if e.text}
    assert set(DAYS) <= texts and set(HOURS) <= texts


def test_text_reaching_the_svg_is_escaped() -> None:
    spec = chart("bar", EVIL, [EVIL, "b"], {EVIL: [1.0, 2.0], "other": [2.0, 1.0]}, "posts")
    drawn = charts.draw_spec(spec, "x")
    assert "<script" not in drawn.svg
    assert "&lt;script&gt;" in drawn.svg
    root = _svg(drawn)  # well-formed XML, with the name as text
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    texts = [e.text for e in root.iter() if e.text]
    assert EVIL in texts


def test_the_css_comes_apart_scoped_to_the_charts_and_once_per_page() -> None:
    bar = _histogram()
    heat = charts.draw_spec(chart("heatmap", "h", ["0", "1"], {"Mon": [1.0, 2.0]}, "posts"), "h")
    assert bar.css and all(rule.startswith(charts.CHART_CLASS) for rule in bar.css)
    assert all("<" not in rule for rule in bar.css + heat.css)
    rules = charts.page_css([bar, heat, bar])
    assert len(rules) == len(set(bar.css) | set(heat.css))
    assert len(rules) < len(bar.css) + len(heat.css)


def _points(shares: list[float | None]) -> list[AuditPoint]:
    start = datetime(2026, 10, 5, 9, tzinfo=UTC)
    return [
        AuditPoint(
            f"run{i}",
            start + timedelta(days=7 * i),
            "fail",
            {
                "answered_share": share,
                "automated_share": 0.1,
                "median_first_response_minutes": 42.0,
            },
        )
        for i, share in enumerate(shares)
    ]


def test_the_trend_draws_every_share_in_percent_from_two_audits_on() -> None:
    assert charts.draw_trend(_points([0.9]), "t") is None
    assert charts.draw_trend([], "t") is None
    drawn = charts.draw_trend(_points([0.9, None, 0.95]), "t")
    assert drawn is not None
    texts = {e.text for e in _svg(drawn).iter() if e.text}
    assert {"answered_share", "automated_share"} <= texts
    assert "median_first_response_minutes" not in texts  # minutes, not a share
    assert {"2026-10-05", "2026-10-12", "2026-10-19"} <= texts
    # Three audits, one share unmeasured in the second: 2 + 3 dots.
    assert len(list(_svg(drawn).iterfind(".//svg:circle", NS))) == 5


def test_no_share_measured_draws_no_trend() -> None:
    points = [
        AuditPoint("a", datetime(2026, 1, 1, tzinfo=UTC), "pass", {"answered_share": None}),
        AuditPoint("b", datetime(2026, 1, 8, tzinfo=UTC), "pass", {"median_x": 3.0}),
    ]
    assert charts.draw_trend(points, "t") is None


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (
            {"kind": "pie", "title": "t", "x": ["a"], "series": [{"name": "s", "values": [1]}]},
            "kind",
        ),
        ({"kind": "bar", "title": "t", "x": "a", "series": []}, "x labels"),
        ({"kind": "bar", "title": "t", "x": ["a"], "series": []}, "no series"),
        (
            {"kind": "bar", "title": "t", "x": ["a"], "series": [{"name": "s", "values": [1, 2]}]},
            "2 values",
        ),
        ("not a chart", "mapping"),
    ],
)
def test_a_malformed_spec_is_a_chart_error(spec: object, problem: str) -> None:
    with pytest.raises(charts.ChartError, match=problem):
        charts.draw_spec(spec, "c")  # type: ignore[arg-type]


def test_values_that_are_no_numbers_are_gaps() -> None:
    spec = {
        "kind": "bar",
        "title": "t",
        "x": ["a", "b", "c"],
        "unit": "posts",
        "series": [{"name": "s", "values": [1, "two", float("nan")]}],
    }
    drawn = charts.draw_spec(spec, "c")
    assert len(_bar_fills(drawn)) == 1


def test_offered_charts_are_read_from_the_metrics_in_order() -> None:
    first = chart("bar", "a", ["x"], {"s": [1.0]}, "posts")
    second = chart("heatmap", "b", ["x"], {"s": [1.0]}, "posts")
    assert charts.offered_charts({CHARTS: {"one": first, "two": second}}) == [
        ("one", first),
        ("two", second),
    ]
    assert charts.offered_charts({}) == []
    assert charts.offered_charts({CHARTS: ["not", "a", "mapping"]}) == []
