"""Charts as inline SVG, drawn by pygal from what the checks computed: every ``ChartSpec`` a
check offers in its metrics (``metrics["charts"]``), drawn generically, and an account's trend
(its tracked ``*_share`` figures over its audits in the history store).

pygal's SVG is made fit for a page here, and only here:

- pygal names each chart with a random uuid and stamps a comment with today's date: the id is
  replaced with one from the chart's place in the page and the comments are dropped, so that the
  same result renders the same bytes;
- each SVG carries the same few KB of CSS: it is taken out (``Svg.css``, its rules one by one)
  for the page to write once;
- the ``<desc>`` elements and the ``<script>`` with the chart's config (written even with
  ``js=[]``) only feed pygal's JavaScript, which a self-contained page does not load: they are
  dropped (a 7 x 24 heatmap shrinks by half), and coordinates are rounded to
  two decimals.

Every text reaching the SVG (titles, labels, series names) is escaped by ElementTree, in pygal and
again when the SVG is written back here; the page inserts the result as it is.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pygal
from pygal.style import Style

from auditor.check import CHARTS
from auditor.result import AuditPoint

SVG_NS = "http://www.w3.org/2000/svg"
_SVG = f"{{{SVG_NS}}}"
# Tracked figures whose name ends so are shares (0..1), drawn in the trend as percentages.
SHARE_SUFFIX = "_share"
# The trend is a line: one audit is a dot, not a trend.
TREND_MIN_POINTS = 2
# Bars over the target, and the series colours (the first is the neutral blue of the page).
FAIL_COLOUR = "#c0392b"
_COLOURS = ("#2e6da4", "#e08e0b", "#5b9a4a", "#8e5ea2", "#7f8c8d", "#16a085", "#d35400")
# One style for every chart, so that their CSS is the same and the page writes it once.
_STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#222222",
    foreground_strong="#111111",
    foreground_subtle="#888888",
    colors=_COLOURS,
    font_family="system-ui, sans-serif",
    title_font_size=14,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)
_COMMON: dict[str, Any] = {
    "js": [],
    "disable_xml_declaration": True,
    "no_prefix": True,
    "style": _STYLE,
    "width": 800,
    "print_values": False,
}
# A heatmap row per weekday: lower than a bar chart.
_HEIGHT = {"bar": 360, "heatmap": 300, "line": 320}
# Attributes holding coordinates: rounded, as no screen shows a thousandth of a pixel.
_COORDINATES = frozenset({"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"})
_COORDINATE_LISTS = frozenset({"d", "points", "transform"})
_FLOAT = re.compile(r"-?\d+\.\d{3,}")
# pygal's CSS, minified: one ``selector{declarations}`` after another.
_CSS_RULE = re.compile(r"[^{}]*\{[^{}]*\}")
# pygal's tooltip data, and its config as a script (even with ``js=[]``; it holds the labels):
# only pygal's JavaScript reads them, which a self-contained page does not load.
_DROPPED = frozenset({"desc", "script"})
# The class pygal gives every chart's root: its CSS rules are scoped to it.
CHART_CLASS = ".pygal-chart"


class ChartError(ValueError):
    """A chart in a check's metrics that cannot be drawn (its shape is not a ChartSpec)."""


@dataclass(frozen=True, slots=True)
class Svg:
    """A drawn chart: its title (for the caption), the SVG element (with no CSS), the CSS rules
    it needs (for the page to write once) and a note for the reader (the target)."""

    title: str
    svg: str
    css: tuple[str, ...]
    note: str | None = None


def _round(match: re.Match[str]) -> str:
    return f"{float(match.group()):.2f}".rstrip("0").rstrip(".")


def _compact(value: str) -> str:
    return _FLOAT.sub(_round, value)


def _scoped(rule: str) -> str | None:
    """One of pygal's rules scoped to the charts (pygal's own prefix, the chart's uuid, is
    off): ``.axis text{...}`` becomes ``.pygal-chart .axis text{...}``; a rule that could end
    the page's style element is dropped."""
    selectors, _, declarations = rule.strip().partition("{")
    if "<" in rule:
        return None
    scoped = ",".join(
        f"{CHART_CLASS} {s.strip()}" if s.strip() else CHART_CLASS for s in selectors.split(",")
    )
    return f"{scoped}{{{declarations}"


def _css_rules(text: str) -> list[str]:
    return [r for m in _CSS_RULE.finditer(text) if (r := _scoped(m.group())) is not None]


def _finish(root: ET.Element, chart_id: str, label: str) -> tuple[str, tuple[str, ...]]:
    """pygal's SVG tree (``render_tree``: not written out and parsed again) made deterministic
    and small: the id from ``chart_id`` (and every inner id prefixed with it, as several charts
    share a page), no comments, no ``<desc>``, no CSS (it is returned apart, rule by rule),
    coordinates rounded."""
    css: list[str] = []
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == "style":
                css.extend(_css_rules(child.text or ""))
                parent.remove(child)
            elif callable(child.tag) or child.tag in _DROPPED:  # a comment's tag is a function
                parent.remove(child)
    for child in list(root):
        if child.tag == "defs" and len(child) == 0:
            root.remove(child)
    for element in root.iter():
        for name, value in element.attrib.items():
            if name == "id":
                element.set(name, f"{chart_id}-{value}")
            elif name in _COORDINATES or name in _COORDINATE_LISTS:
                element.set(name, _compact(value))
    # pygal titles the chart "Pygal" when it is not given the title (the page's caption has it).
    for title in root.findall("title"):
        title.text = label
    root.set("xmlns", SVG_NS)
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("aria-label", label)
    svg = ET.tostring(root, encoding="unicode")
    return svg, tuple(css)


class _NoTooltips:
    """pygal's tooltip data only feeds its JavaScript, which these pages never load: the
    charts skip making it (a fifth of a heatmap's time) rather than make and drop it."""

    def _tooltip_data(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Bar(_NoTooltips, pygal.Bar):  # type: ignore[misc]
    pass


class _Dot(_NoTooltips, pygal.Dot):  # type: ignore[misc]
    pass


class _Line(_NoTooltips, pygal.Line):  # type: ignore[misc]
    pass


def _number(value: Any) -> float | None:
    """A value a chart can draw: a finite number, else a gap (None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _labels(spec: Mapping[str, Any]) -> list[str]:
    x = spec.get("x")
    if not isinstance(x, list):
        raise ChartError("its x labels are not a list")
    return [str(label) for label in x]


def _series(spec: Mapping[str, Any], width: int) -> list[tuple[str, list[float | None]]]:
    series = spec.get("series")
    if not isinstance(series, list) or not series:
        raise ChartError("it has no series")
    drawn = []
    for one in series:
        if not isinstance(one, Mapping) or not isinstance(one.get("values"), list):
            raise ChartError("a series is not {name, values}")
        values = [_number(v) for v in one["values"]]
        if len(values) != width:
            raise ChartError(f"series {one.get('name')!r} has {len(values)} values for {width}")
        drawn.append((str(one.get("name", "")), values))
    return drawn


def _bar(
    spec: Mapping[str, Any], x: list[str], series: list[tuple[str, list[float | None]]]
) -> tuple[Any, str | None]:
    """A bar chart; with a target, the bars at and after it in the failing colour (one series)
    or the target's label marked (several, whose colours tell the series apart)."""
    target = spec.get("target")
    at = x.index(str(target)) if target is not None and str(target) in x else None
    chart = _Bar(height=_HEIGHT["bar"], show_legend=len(series) > 1, **_COMMON)
    if at is not None and len(series) > 1:
        x = [f"{label} (target)" if i == at else label for i, label in enumerate(x)]
    chart.x_labels = x
    chart.y_title = str(spec.get("unit", ""))
    for name, values in series:
        if at is not None and len(series) == 1:
            chart.add(name, [_over_target(v, i >= at) for i, v in enumerate(values)])
        else:
            chart.add(name, values)
    note = None
    if at is not None:
        note = (
            f"target: {x[at]}; bars from it on (in red) are over the target"
            if len(series) == 1
            else f"target: {target}"
        )
    return chart, note


def _over_target(value: float | None, over: bool) -> Any:
    return {"value": value, "color": FAIL_COLOUR} if over and value is not None else value


def _heatmap(
    spec: Mapping[str, Any], x: list[str], series: list[tuple[str, list[float | None]]]
) -> Any:
    """A punch card: a row of dots per series (weekdays), a column per label of x (hours), each
    dot as large as its value, all in one colour (the rows are told apart by their labels)."""
    chart = _Dot(height=_HEIGHT["heatmap"], show_legend=False, **_COMMON)
    chart.x_labels = x
    for name, values in series:
        chart.add(name, [{"value": v, "color": _COLOURS[0]} for v in values])
    return chart


def draw_spec(spec: Mapping[str, Any], chart_id: str) -> Svg:
    """A check's ChartSpec as SVG; raises :class:`ChartError` where it is not one."""
    if not isinstance(spec, Mapping):
        raise ChartError("it is not a mapping")
    kind = spec.get("kind")
    title = str(spec.get("title", ""))
    x = _labels(spec)
    series = _series(spec, len(x))
    note = None
    if kind == "bar":
        chart, note = _bar(spec, x, series)
    elif kind == "heatmap":
        chart = _heatmap(spec, x, series)
    else:
        raise ChartError(f"its kind {kind!r} is neither bar nor heatmap")
    svg, css = _finish(chart.render_tree(), chart_id, title)
    return Svg(title, svg, css, note)


def offered_charts(metrics: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The charts a check offers in its metrics, by name, in the order it gave them."""
    charts = metrics.get(CHARTS)
    return list(charts.items()) if isinstance(charts, Mapping) else []


def _trend_labels(points: Sequence[AuditPoint]) -> list[str]:
    """A label per audit: its day, with the time where two audits share a day."""
    days = [p.started_at.strftime("%Y-%m-%d") for p in points]
    if len(set(days)) == len(days):
        return days
    return [p.started_at.strftime("%Y-%m-%d %H:%M") for p in points]


def share_names(points: Iterable[AuditPoint]) -> list[str]:
    """The tracked shares measured in at least one of the audits, sorted."""
    return sorted(
        {
            name
            for p in points
            for name, value in p.figures.items()
            if name.endswith(SHARE_SUFFIX) and value is not None
        }
    )


def draw_trend(points: Sequence[AuditPoint], chart_id: str) -> Svg | None:
    """Every tracked share over the account's audits, in %; None with fewer than two audits or
    no share measured."""
    names = share_names(points)
    if len(points) < TREND_MIN_POINTS or not names:
        return None
    title = "Tracked shares over the audits (%)"
    chart = _Line(
        height=_HEIGHT["line"], show_legend=True, legend_at_bottom=True, range=(0, 100), **_COMMON
    )
    chart.x_labels = _trend_labels(points)
    chart.y_title = "%"
    for name in names:
        values = [_number(p.figures.get(name)) for p in points]
        chart.add(name, [None if v is None else round(v * 100, 1) for v in values])
    svg, css = _finish(chart.render_tree(), chart_id, title)
    return Svg(title, svg, css)


def page_css(charts: Iterable[Svg], seen: dict[str, None] | None = None) -> dict[str, None]:
    """The CSS rules the charts need, each once, in the order first met (``seen``: the rules
    kept so far, added to)."""
    rules = {} if seen is None else seen
    for chart in charts:
        for rule in chart.css:
            rules.setdefault(rule, None)
    return rules
