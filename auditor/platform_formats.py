"""Formats the platforms write that more than one layer reads: Mastodon's HTML text and the
Graph API's ``hours`` map.

The Mastodon and Facebook protocols turn their pages into bundle records with these; the
posted-hours reader (``auditor.analysis.hours_text``) reads the same shapes when a profile keeps
them raw. Pure functions on plain values, at the bottom of the layers: imports nothing of the
project, so sources and analysis may both import it without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

__all__ = ["GRAPH_HOURS_KEY", "hours_from_graph", "html_to_text"]

# --- Mastodon's HTML ------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in {"p", "li", "blockquote"} and self.parts:
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str | None) -> str:
    """Mastodon's HTML (paragraphs, ``<br>``, links split into invisible spans) as text."""
    if not html:
        return ""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = "".join(extractor.parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- the Graph API's hours ------------------------------------------------------------------

_DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A key of a Page's ``hours`` map: day, interval number, edge (``mon_1_open``).
GRAPH_HOURS_KEY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)_(\d+)_(open|close)$")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def hours_from_graph(hours: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """The Page ``hours`` map (``mon_1_open: "09:00"``...) in the bundle's hours shape.

    Every day is listed; a day the Page names no interval for is closed (``[]``). A close of
    ``00:00`` means midnight at the end of the day (``24:00``) unless it opens at 00:00 too,
    in which case the day is open all day. A week of seven all-day intervals is
    ``{"always_open": true}``. An empty map gives ``{}``: the Page states no hours.
    """
    slots: dict[str, dict[int, dict[str, str]]] = {day: {} for day in _DAYS}
    for key, value in hours.items():
        match = GRAPH_HOURS_KEY.match(str(key))
        if not match or not isinstance(value, str) or not _CLOCK.match(value):
            continue
        day, number, edge = match.group(1), int(match.group(2)), match.group(3)
        slots[day].setdefault(number, {})[edge] = value
    if not any(slots.values()):
        return {}
    weekly: dict[str, list[list[str]]] = {}
    for day in _DAYS:
        intervals: list[list[str]] = []
        for number in sorted(slots[day]):
            slot = slots[day][number]
            if "open" not in slot or "close" not in slot:
                continue
            opens, closes = slot["open"], slot["close"]
            if closes == "00:00":
                closes = "24:00"
            intervals.append([opens, closes])
        weekly[day] = intervals
    if all(weekly[day] == [["00:00", "24:00"]] for day in _DAYS):
        return {"always_open": True}
    return {"timezone": timezone, "weekly": weekly}
