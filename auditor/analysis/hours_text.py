"""Reading the response hours a brand posts: from bio text, Facebook's hours keys and Mastodon
profile fields, into the project's ``hours`` shape.

Forms read from text (case-insensitive; en and em dashes count as hyphens):

* "24/7", "24x7", "24 hours a day", "around the clock" -> ``{"always_open": true}``.
* A time range: "8AM-5PM", "9am to 6pm", "9–17", "09:00 - 17:30", "between 8 AM and 5 PM",
  "from 9 until noon", "10pm-2am" (crosses midnight, belongs to the day it starts).
  A bare-number range ("9-17", "9-5") is read only when the same clause names days or the text
  names a time zone, and never when a unit follows it ("1-2 days"). Without am/pm, "9-5" is
  9:00-17:00 (an end before the start that becomes after it in the afternoon); "22-6" is an
  overnight range. An am/pm on one side only carries to the other ("9-5pm" is 9am-5pm).
* Days, in the clause of the range: "Mon-Fri", "Monday to Friday", "Sat & Sun", "Mon, Wed, Fri",
  "weekdays", "weekends", "daily", "every day", "7 days a week". When a clause starts with days,
  each range takes the days before it ("Mon-Fri 9-5, Sat 10-2"); otherwise the days after it
  ("9am-5pm weekdays, 10am-2pm weekends"). A range with no days is every day: that is what the
  text promises.
* A time zone anywhere in the text: an IANA name ("Europe/London") or a common abbreviation
  (upper case: "EST", "ET", "PT", "CET", "GMT", "UK" ...), mapped to the IANA zone whose local
  time people mean by it, so "EST" follows New York's daylight saving as brands intend.

Text that looks like hours but cannot be read (no time zone, say) gives a reading with a
``problem`` and no ``hours``: callers report that the hours could not be read, never guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditor.model import Profile
from auditor.platform_formats import GRAPH_HOURS_KEY, hours_from_graph, html_to_text

__all__ = [
    "HoursReading",
    "ProfileHours",
    "read_hours",
    "read_profile_hours",
    "states_hours",
]

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS: frozenset[int] = frozenset(range(7))
MINUTES_PER_DAY = 24 * 60

# Abbreviations mean the local time of a place, daylight saving included: brands write "EST"
# all year for New York time.
ZONE_ABBREVIATIONS: Mapping[str, str] = {
    "ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
    "CT": "America/Chicago", "CST": "America/Chicago", "CDT": "America/Chicago",
    "MT": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
    "PT": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "AKST": "America/Anchorage", "AKT": "America/Anchorage", "HST": "Pacific/Honolulu",
    "GMT": "Europe/London", "BST": "Europe/London", "UK": "Europe/London",
    "UTC": "UTC", "WET": "Europe/Lisbon", "WEST": "Europe/Lisbon",
    "CET": "Europe/Berlin", "CEST": "Europe/Berlin",
    "EET": "Europe/Athens", "EEST": "Europe/Athens", "MSK": "Europe/Moscow",
    "IST": "Asia/Kolkata", "SGT": "Asia/Singapore", "HKT": "Asia/Hong_Kong",
    "JST": "Asia/Tokyo", "KST": "Asia/Seoul",
    "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney", "ACST": "Australia/Adelaide",
    "AWST": "Australia/Perth", "NZST": "Pacific/Auckland", "NZDT": "Pacific/Auckland",
    "BRT": "America/Sao_Paulo",
}  # fmt: skip
# "Central" and "Mountain" need "time" after them: "central London" names no zone.
ZONE_WORDS: Mapping[str, str] = {
    "eastern time": "America/New_York",
    "central time": "America/Chicago",
    "mountain time": "America/Denver",
    "pacific time": "America/Los_Angeles",
    "uk time": "Europe/London",
    "eastern": "America/New_York",
    "pacific": "America/Los_Angeles",
}

ALWAYS = re.compile(
    r"\b24\s*[/-]\s*7\b|\b24x7\b|\b24 hours a day\b|\baround the clock\b|\bround[- ]the[- ]clock\b",
    re.IGNORECASE,
)
_CLOCK_MARK = re.compile(r"\d\s*(?:[ap]\.?m\b|[:.]\d{2})|\bnoon\b|\bmidnight\b", re.IGNORECASE)
_LOOSE_TIME = r"\d{1,2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\.?)?"
_LOOSE_RANGE = re.compile(
    rf"\b{_LOOSE_TIME}\s*(?:-|–|—|to|until|till|and)\s*{_LOOSE_TIME}", re.IGNORECASE
)

_TIME = (
    r"(?:(?P<h{n}>\d{{1,2}})(?:[:.](?P<m{n}>\d{{2}}))?\s*(?:(?P<ap{n}>[ap])(?:\.?m)?\.?(?![a-z]))?"
    r"|(?P<word{n}>noon|midday|midnight))"
)
_RANGE = re.compile(
    r"(?<![\d:.$£€/])(?:(?P<lead>between|from)\s+)?"
    + _TIME.format(n=1)
    + r"(?<!\d(?=\d))\s*(?P<sep>-|to|until|till|through|thru|and)\s*"
    + _TIME.format(n=2)
    + r"(?![\d:/])",
    re.IGNORECASE,
)
# A range followed by a unit is a duration or a quantity, not opening hours.
_UNIT_AFTER = re.compile(
    r"\s*(?:business\s+|working\s+)?(?:days?|hours?|hrs?|h\b|weeks?|wks?|minutes?|mins?|"
    r"months?|years?|yrs?|seconds?|secs?|x|items?|people|stars?)\b|\s*%",
    re.IGNORECASE,
)
_DAY = (
    r"(?:mon(?:day)?s?|tue(?:s|sday)?s?|wed(?:nesday)?s?|thu(?:r|rs|rsday)?s?|fri(?:day)?s?|"
    r"sat(?:urday)?s?|sun(?:day)?s?)\.?"
)
_DAY_SPEC = re.compile(
    rf"\b(?P<range>{_DAY}\s*(?:-|–|—|to|through|thru|until|till)\s*{_DAY})(?![a-z])"
    rf"|\b(?P<list>{_DAY}(?:\s*(?:,|&|\+|/|and)\s*{_DAY})*)(?![a-z])"
    r"|\b(?P<weekdays>week\s?days?|business days|working days)\b"
    r"|\b(?P<weekends>week\s?ends?)\b"
    r"|\b(?P<all>daily|every\s?day|7 days(?: a week)?|seven days(?: a week)?|all week)\b",
    re.IGNORECASE,
)
_DAY_NAME = re.compile(_DAY, re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[;\n|•]|\.(?!\d)(?=\s|$)")
_ZONE_ABBREVIATION = re.compile(r"(?<![A-Za-z])(" + "|".join(ZONE_ABBREVIATIONS) + r")(?![A-Za-z])")
_ZONE_WORD = re.compile(r"\b(" + "|".join(ZONE_WORDS) + r")\b", re.IGNORECASE)
_IANA = re.compile(r"\b(?:[A-Z][A-Za-z_]+/[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_]+)?|UTC)\b")

Source = Literal["platform_field", "profile_field", "bio"]


@dataclass(frozen=True, slots=True)
class HoursReading:
    """What one text says about hours: ``hours`` in the hours shape, or a ``problem``."""

    hours: dict[str, Any] | None
    fragment: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileHours:
    """The hours a profile posts, where they were found, and whether they could be read."""

    source: Source | None
    hours: dict[str, Any] | None
    fragment: str | None = None
    problem: str | None = None

    @property
    def stated(self) -> bool:
        return self.source is not None


def states_hours(text: str) -> bool:
    """Whether free text tells readers when the brand is there (read or not)."""
    if ALWAYS.search(text):
        return True
    for match in _LOOSE_RANGE.finditer(text):
        if _UNIT_AFTER.match(text, match.end()):
            continue
        if _CLOCK_MARK.search(match.group(0)) or _DAY_SPEC.search(text) or find_timezone(text):
            return True
    return False


def read_hours(text: str, default_timezone: str | None = None) -> HoursReading | None:
    """The hours ``text`` states, or None when it states none that this module recognises.

    ``default_timezone`` is used when the text names no zone (a policy's calendar zone).
    """
    text = _normalise(text)
    always = ALWAYS.search(text)
    zone_name = find_timezone(text)
    if always:
        # The zone, when named, says whose night a 24/7 promise covers.
        zone = {"timezone": zone_name} if zone_name else {}
        return HoursReading({"always_open": True, **zone}, always.group(0))
    weekly: dict[int, list[tuple[int, int]]] = {}
    fragments: list[str] = []
    for clause in _clauses(text):
        for days, interval, fragment in _clause_intervals(clause, zone_name is not None):
            for day in sorted(days):
                weekly.setdefault(day, []).append(interval)
            fragments.append(fragment)
    if not weekly:
        if states_hours(text):
            return HoursReading(None, text.strip(), "the hours in the text could not be read")
        return None
    fragment = "; ".join(fragments)
    shape = {"weekly": _weekly_shape(weekly)}
    zone_name = zone_name or default_timezone
    if zone_name is None:
        return HoursReading(None, fragment, "the hours name no time zone")
    return HoursReading({"timezone": zone_name, **shape}, fragment)


def find_timezone(text: str) -> str | None:
    """The first time zone the text names, as an IANA name."""
    candidates: list[tuple[int, str]] = []
    for match in _IANA.finditer(text):
        if _valid_zone(match.group(0)):
            candidates.append((match.start(), match.group(0)))
    abbreviation = _ZONE_ABBREVIATION.search(text)
    if abbreviation:
        candidates.append((abbreviation.start(), ZONE_ABBREVIATIONS[abbreviation.group(1)]))
    word = _ZONE_WORD.search(text)
    if word:
        candidates.append((word.start(), ZONE_WORDS[word.group(1).lower()]))
    return min(candidates)[1] if candidates else None


# The profile fields hours are read from, in the order they are read.
HOURS_READ_FROM = ("hours", "fields", "bio")


def read_profile_hours(profile: Profile, default_timezone: str | None = None) -> ProfileHours:
    """The hours a profile posts: the platform's hours field first, then Mastodon profile
    fields, then the bio. ``default_timezone`` fills in a zone the profile does not name. When
    none states hours and one of them was not returned, ``problem`` says which."""
    from_field = _platform_field_hours(profile, default_timezone)
    if from_field is not None and from_field.hours is not None:
        return from_field
    first_problem: ProfileHours | None = from_field
    for source, text in _profile_texts(profile):
        reading = read_hours(text, default_timezone)
        if reading is None:
            continue
        if reading.hours is not None:
            return ProfileHours(source, reading.hours, reading.fragment)
        first_problem = first_problem or ProfileHours(
            source, None, reading.fragment, reading.problem
        )
    # Nothing stated in what arrived: unknown, not "none", when a field was not returned.
    return first_problem or ProfileHours(None, None, None, profile.unread_reason(*HOURS_READ_FROM))


# --------------------------------------------------------------------------------- internals


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _normalise(text: str) -> str:
    text = text.replace("–", "-").replace("—", "-").replace("\u2009", " ").replace("\xa0", " ")
    # "a.m." -> "am" so that the full stop does not end a clause
    return re.sub(r"\b([ap])\.m\.", r"\1m", text, flags=re.IGNORECASE)


def _clauses(text: str) -> list[str]:
    return [part for part in _CLAUSE_BREAK.split(text) if part.strip()]


def _day_set(match: re.Match[str]) -> frozenset[int]:
    if match.group("range"):
        names = [_day_index(m.group(0)) for m in _DAY_NAME.finditer(match.group("range"))]
        first, last = names[0], names[-1]
        return frozenset((first + step) % 7 for step in range((last - first) % 7 + 1))
    if match.group("list"):
        return frozenset(_day_index(m.group(0)) for m in _DAY_NAME.finditer(match.group("list")))
    if match.group("weekdays"):
        return frozenset(range(5))
    if match.group("weekends"):
        return frozenset({5, 6})
    return ALL_DAYS


def _day_index(name: str) -> int:
    return DAYS.index(name[:3].lower())


def _minute(match: re.Match[str], n: int) -> tuple[int, str | None] | None:
    """Minutes after midnight and the am/pm marker of time ``n``; None when not a time."""
    word = match.group(f"word{n}")
    if word:
        return (24 * 60, "word") if word.lower() == "midnight" else (12 * 60, "word")
    hour = int(match.group(f"h{n}"))
    minute = int(match.group(f"m{n}") or 0)
    meridiem = (match.group(f"ap{n}") or "").lower() or None
    if minute >= 60 or hour > 24 or (meridiem and not 1 <= hour <= 12):
        return None
    return hour * 60 + minute, meridiem


def _apply_meridiem(minute: int, meridiem: str | None) -> int:
    if meridiem not in ("a", "p"):
        return minute
    hour, rest = divmod(minute, 60)
    hour = hour % 12 + (12 if meridiem == "p" else 0)
    return hour * 60 + rest


def _interval(match: re.Match[str]) -> tuple[int, int] | None:
    """Start and end in minutes after midnight; an end before the start crosses midnight."""
    first, second = _minute(match, 1), _minute(match, 2)
    if first is None or second is None:
        return None
    (start, start_mark), (end, end_mark) = first, second
    # An am/pm on one side only carries to the other, unless that would reverse the range.
    if start_mark in ("a", "p") and end_mark is None:
        end_mark = start_mark
        if _apply_meridiem(end, end_mark) <= _apply_meridiem(start, start_mark):
            end_mark = "p" if start_mark == "a" else "a"
    elif end_mark in ("a", "p") and start_mark is None:
        start_mark = end_mark
        if _apply_meridiem(start, start_mark) >= _apply_meridiem(end, end_mark):
            start_mark = "a" if end_mark == "p" else "p"
    start, end = _apply_meridiem(start, start_mark), _apply_meridiem(end, end_mark)
    start %= MINUTES_PER_DAY  # "midnight-6am" starts at 00:00
    unmarked = start_mark in (None, "word") and end_mark in (None, "word")
    if unmarked and 0 < end < start <= 12 * 60:
        end += 12 * 60  # "9-5" is office hours, not an overnight shift ("22-6" is one)
    if end == 0:
        end = MINUTES_PER_DAY  # "10pm-12am" ends at midnight
    if start == end % MINUTES_PER_DAY:
        return None
    return start, end


def _clause_intervals(
    clause: str, zone_named: bool
) -> Iterable[tuple[frozenset[int], tuple[int, int], str]]:
    day_specs = list(_DAY_SPEC.finditer(clause))
    ranges = []
    for match in _RANGE.finditer(clause):
        if match.group("sep").lower() == "and" and not match.group("lead"):
            continue
        if _UNIT_AFTER.match(clause, match.end()):
            continue
        marked = any(match.group(f"ap{n}") or match.group(f"word{n}") for n in (1, 2)) or any(
            match.group(f"m{n}") for n in (1, 2)
        )
        if not (marked or day_specs or zone_named):
            continue
        interval = _interval(match)
        if interval is not None:
            ranges.append((match, interval))
    if not ranges:
        return
    days_first = bool(day_specs) and day_specs[0].start() < ranges[0][0].start()
    for position, (match, interval) in enumerate(ranges):
        if days_first:
            before = [d for d in day_specs if d.end() <= match.start()]
            spec = before[-1] if before else None
        else:
            limit = ranges[position + 1][0].start() if position + 1 < len(ranges) else len(clause)
            after = [d for d in day_specs if match.end() <= d.start() < limit]
            spec = after[0] if after else None
        days = _day_set(spec) if spec is not None else ALL_DAYS
        fragment = match.group(0).strip()
        if spec is not None:
            fragment = (
                f"{spec.group(0).strip()} {fragment}"
                if days_first
                else (f"{fragment} {spec.group(0).strip()}")
            )
        yield days, interval, fragment


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _weekly_shape(weekly: Mapping[int, Sequence[tuple[int, int]]]) -> dict[str, list[list[str]]]:
    shape: dict[str, list[list[str]]] = {}
    for day in range(7):
        intervals = sorted(set(weekly.get(day, ())))
        if intervals:
            shape[DAYS[day]] = [
                [_clock(start), "24:00" if end == MINUTES_PER_DAY else _clock(end)]
                for start, end in intervals
            ]
    return shape


def _profile_texts(profile: Profile) -> list[tuple[Source, str]]:
    texts: list[tuple[Source, str]] = []
    fields = profile.extra.get("fields")
    if isinstance(fields, list):
        for item in fields:
            if isinstance(item, Mapping):
                name = html_to_text(str(item.get("name") or ""))
                value = html_to_text(str(item.get("value") or ""))
                if value:
                    texts.append(("profile_field", f"{name}: {value}" if name else value))
    if profile.bio:
        texts.append(("bio", profile.bio))
    return texts


def _platform_field_hours(profile: Profile, default_timezone: str | None) -> ProfileHours | None:
    """The profile's ``hours`` field: the hours shape, or Facebook's raw ``mon_1_open`` keys."""
    hours = profile.hours
    if not hours:
        return None
    if any(isinstance(k, str) and GRAPH_HOURS_KEY.match(k) for k in hours):
        zone = hours.get("timezone") or profile.extra.get("timezone") or default_timezone
        if not isinstance(zone, str) or not _valid_zone(zone):
            return ProfileHours(
                "platform_field", None, None, "the hours field names no valid time zone"
            )
        converted = hours_from_graph(hours, zone)
        if not converted:
            return None
        return ProfileHours("platform_field", converted)
    shape = dict(hours)
    if not shape.get("always_open") and "timezone" not in shape and default_timezone:
        shape["timezone"] = default_timezone
    return ProfileHours("platform_field", shape)
