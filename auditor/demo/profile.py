"""What a demo brand says about itself (its profile: bio, stated hours) and when somebody actually
answers (its staffed hours), which ``Behaviour.hours_kept`` may make narrower.

Imports ``auditor.demo.draw``, ``auditor.demo.plan`` and ``auditor.demo.texts``; nothing else of
the project.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from auditor.demo import texts
from auditor.demo.draw import pick
from auditor.demo.plan import TZ_LABELS, AccountPlan, Behaviour

_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Words of a display name ("Acme Help") that are not the brand's name, for its domain name.
_SUFFIX_WORDS = frozenset({"help", "support", "care", "cares", "team", "service"})


def _brand_slug(display_name: str) -> str:
    words = [w for w in display_name.lower().split() if w not in _SUFFIX_WORDS]
    return re.sub(r"[^a-z0-9]", "", "".join(words) or display_name.lower()) or "brand"


def profile_record(plan: AccountPlan, rng: random.Random, fetched_at: str) -> dict[str, Any]:
    """The account's profile record: a bio that may state hours and a support channel."""
    behaviour = plan.behaviour
    slug = _brand_slug(plan.display_name)
    website = f"https://www.{slug}.example"
    words = {
        "brand": plan.display_name.split()[0],
        "name": plan.display_name,
        "website": website,
        "slug": slug,
    }
    parts = [pick(rng, texts.PROFILE_INTROS).format_map(words)]
    if behaviour.states_hours:
        if behaviour.always_open:
            parts.append(pick(rng, texts.PROFILE_ALWAYS_OPEN))
        else:
            parts.append(texts.PROFILE_STATED_HOURS.format_map({
                "hours": f"{_hour_label(behaviour.open_hour)}-{_hour_label(behaviour.close_hour)}",
                "zone": TZ_LABELS.get(behaviour.timezone, behaviour.timezone),
                "days": "every day" if behaviour.weekends else "Mon-Fri",
            }))  # fmt: skip
    if behaviour.lists_support_channel:
        parts.append(pick(rng, texts.PROFILE_SUPPORT_CHANNELS).format_map(words))
    else:
        parts.append(pick(rng, texts.PROFILE_NO_SUPPORT_CHANNEL))
    return {
        "kind": "profile",
        "platform": plan.platform,
        "account": plan.handle,
        "display_name": plan.display_name,
        "bio": " ".join(parts),
        "website": website,
        # Only Facebook pages have an hours field; elsewhere the bio is all there is.
        "hours": (
            _stated_hours(behaviour)
            if behaviour.states_hours and plan.platform == "facebook"
            else None
        ),
        "fetched_at": fetched_at,
    }


def _hour_label(hour: int) -> str:
    if hour in (0, 24):
        return "12am"
    if hour == 12:
        return "12pm"
    return f"{hour}am" if hour < 12 else f"{hour - 12}pm"


def _staffed_days(behaviour: Behaviour, stated: bool) -> tuple[int, ...]:
    if stated or behaviour.hours_kept:
        return tuple(range(7)) if behaviour.weekends or behaviour.always_open else tuple(range(5))
    return tuple(range(4))  # a brand that does not keep its hours skips Fridays and weekends


def _stated_hours(behaviour: Behaviour) -> dict[str, Any]:
    if behaviour.always_open:
        return {"always_open": True}
    interval = [f"{behaviour.open_hour:02d}:00", f"{behaviour.close_hour:02d}:00"]
    return {
        "timezone": behaviour.timezone,
        "weekly": {_DAY_KEYS[day]: [list(interval)] for day in _staffed_days(behaviour, True)},
    }


def staffed_intervals(behaviour: Behaviour, start_ts: int, end_ts: int) -> list[tuple[int, int]]:
    """Epoch-second intervals in which somebody actually answers, covering the window.

    ``hours_kept`` False narrows the stated hours: 24/7 becomes 8am-8pm, business hours lose two
    hours at each end and Fridays and weekends.
    """
    if behaviour.always_open and behaviour.hours_kept:
        return [(start_ts - 86400, end_ts + 30 * 86400)]
    if behaviour.always_open:
        open_hour, close_hour, days = 8, 20, tuple(range(7))
    elif behaviour.hours_kept:
        open_hour, close_hour = behaviour.open_hour, behaviour.close_hour
        days = _staffed_days(behaviour, True)
    else:
        open_hour = behaviour.open_hour + 2
        close_hour = max(open_hour + 1, behaviour.close_hour - 2)
        days = _staffed_days(behaviour, False)
    zone = ZoneInfo(behaviour.timezone)
    first = datetime.fromtimestamp(start_ts, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_ts, zone).date() + timedelta(days=30)
    intervals: list[tuple[int, int]] = []
    day: date = first
    while day <= last:
        if day.weekday() in days:
            opens = datetime.combine(day, time(open_hour), zone)
            closes = (
                datetime.combine(day + timedelta(days=1), time(0), zone)
                if close_hour == 24
                else datetime.combine(day, time(close_hour), zone)
            )
            intervals.append((int(opens.timestamp()), int(closes.timestamp())))
        day += timedelta(days=1)
    return intervals
