"""Which fictional brand accounts a demo bundle has, and how each runs its customer care.

A :class:`Behaviour` is a set of knobs that decide how a brand answers: whether it answers, how
fast, whether it deletes or hides complaints, uses bots and canned texts, moves customers to DMs,
signs its replies and so on. The knobs map onto the audit checks so that one account can pass a
check while another fails it. ``plan_accounts`` picks a deterministic mix of accounts.

Imports ``auditor.demo.draw``, ``auditor.demo.texts`` and nothing else of the project.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from auditor.demo.draw import pick, randint
from auditor.demo.texts import AGENT_SIGNATURES, BRAND_INSTANCES, BRANDS, HANDLE_SUFFIXES

# The time zones a mixed brand states its hours in, with the label its bio gives each.
TZ_LABELS: dict[str, str] = {
    "America/New_York": "ET",
    "America/Chicago": "CT",
    "America/Los_Angeles": "PT",
    "Europe/London": "UK time",
    "Europe/Berlin": "CET",
    "Australia/Sydney": "AEST",
}
# Realistic share of customer-care accounts per platform, as a cycle.
_PLATFORM_CYCLE = ("x", "facebook", "instagram", "x", "mastodon", "bluesky", "facebook", "x",
                   "instagram", "bluesky")  # fmt: skip


@dataclass(frozen=True)
class Behaviour:
    """How one brand account runs its customer care; each knob drives one or more checks.

    Rates are probabilities in [0, 1]; minutes are medians of a log-normal delay (capped at eight
    times the median) measured from the moment the brand is staffed.
    """

    name: str = "mixed"
    # PRF001 / RSP004: the hours the brand states in its profile and whether it keeps them.
    states_hours: bool = True  # the bio and the profile's ``hours`` state them
    always_open: bool = False  # the stated hours are 24/7
    timezone: str = "America/New_York"
    open_hour: int = 8  # stated opening hour, local time (when not always open)
    close_hour: int = 17  # stated closing hour, local time
    weekends: bool = False  # stated hours include Saturday and Sunday
    hours_kept: bool = True  # staffed as stated; False: staffed hours are narrower
    # PRF002: a help URL, "DM us" or an email address in the profile.
    lists_support_channel: bool = True
    # RSP001-RSP003: who gets an answer and how fast.
    answer_rate: float = 1.0  # chance a customer's post gets a first answer
    first_response_minutes: float = 15.0
    next_response_minutes: float = 10.0
    # MOD001 / MOD002: complaints the brand removes instead of answering.
    delete_complaint_rate: float = 0.0
    hide_complaint_rate: float = 0.0
    # AUT001: instant bot acknowledgements and identical canned texts.
    bot_reply_rate: float = 0.0
    canned_reply_rate: float = 0.0
    # FUP001: moving a complaint to private messages, resolving it, saying so in public.
    dm_rate: float = 0.3
    dm_resolve_rate: float = 1.0
    public_followup_rate: float = 1.0
    # THR001: how many public back-and-forths a complaint can take before it ends.
    max_public_exchanges: int = 2
    # PRV001: asking for account numbers and emails in public rather than by DM.
    public_private_info_rate: float = 0.0
    # TON001 / TON002: defensive replies; agent signatures ("^JD", "-Anna"), empty: unsigned.
    defensive_rate: float = 0.0
    signatures: tuple[str, ...] = ("^JD", "-Anna", "^MK", "-Sam")
    # CRS001: one hour with a surge of complaints, and whether the brand posts a statement.
    crisis: bool = True
    crisis_statement: bool = True
    # The customers' side.
    spam_rate: float = 0.0
    non_english_rate: float = 0.04
    burst_rate: float = 0.15  # chance an impatient customer posts again before any answer
    thanks_rate: float = 0.35  # chance a customer closes a thread with "thanks!"

    def __post_init__(self) -> None:
        for field_name in (
            "answer_rate",
            "delete_complaint_rate",
            "hide_complaint_rate",
            "bot_reply_rate",
            "canned_reply_rate",
            "dm_rate",
            "dm_resolve_rate",
            "public_followup_rate",
            "public_private_info_rate",
            "defensive_rate",
            "spam_rate",
            "non_english_rate",
            "burst_rate",
            "thanks_rate",
        ):
            value = getattr(self, field_name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Behaviour.{field_name} must be within [0, 1], got {value}")
        if self.delete_complaint_rate + self.hide_complaint_rate > 1.0:
            raise ValueError("delete_complaint_rate + hide_complaint_rate must not exceed 1")
        if self.first_response_minutes <= 0 or self.next_response_minutes <= 0:
            raise ValueError("response medians must be positive")
        if self.max_public_exchanges < 1:
            raise ValueError("max_public_exchanges must be at least 1")
        if not (0 <= self.open_hour < self.close_hour <= 24):
            raise ValueError("need 0 <= open_hour < close_hour <= 24")
        ZoneInfo(self.timezone)  # fails early on an unknown zone

    @classmethod
    def exemplary(cls) -> Behaviour:
        """Passes every check: 24/7 as stated, answers everything within minutes, signs."""
        return cls(
            name="exemplary",
            states_hours=True,
            always_open=True,
            hours_kept=True,
            lists_support_channel=True,
            answer_rate=1.0,
            first_response_minutes=12.0,
            next_response_minutes=10.0,
            dm_rate=0.35,
            dm_resolve_rate=1.0,
            public_followup_rate=1.0,
            max_public_exchanges=2,
            signatures=("^JD", "-Anna", "^MK", "-Sam", "-Priya"),
            crisis=True,
            crisis_statement=True,
            spam_rate=0.0,
        )

    @classmethod
    def negligent(cls) -> Behaviour:
        """Fails most checks: claims 24/7 but is not, slow, deletes, bots, canned, defensive."""
        return cls(
            name="negligent",
            states_hours=True,
            always_open=True,
            hours_kept=False,
            lists_support_channel=False,
            answer_rate=0.45,
            first_response_minutes=540.0,
            next_response_minutes=900.0,
            delete_complaint_rate=0.08,
            hide_complaint_rate=0.10,
            bot_reply_rate=0.5,
            canned_reply_rate=0.6,
            dm_rate=0.3,
            dm_resolve_rate=0.3,
            public_followup_rate=0.0,
            max_public_exchanges=8,
            public_private_info_rate=0.6,
            defensive_rate=0.25,
            signatures=(),
            crisis=True,
            crisis_statement=False,
            spam_rate=0.05,
            non_english_rate=0.06,
            burst_rate=0.3,
        )

    @classmethod
    def mixed(cls, rng: random.Random) -> Behaviour:
        """A random brand: each group of knobs is independently good or bad."""

        def good(probability: float = 0.5) -> bool:
            return rng.random() < probability

        def between(low: float, high: float) -> float:
            return round(rng.uniform(low, high), 3)

        always_open = good(0.3)
        open_hour = pick(rng, (7, 8, 9))
        return cls(
            name="mixed",
            states_hours=good(0.65),
            always_open=always_open,
            timezone=pick(rng, tuple(TZ_LABELS)),
            open_hour=open_hour,
            close_hour=pick(rng, (17, 18, 20, 22)),
            weekends=good(0.4),
            hours_kept=good(0.6),
            lists_support_channel=good(0.6),
            answer_rate=between(0.92, 1.0) if good(0.55) else between(0.4, 0.8),
            first_response_minutes=between(8, 45) if good() else between(120, 900),
            next_response_minutes=between(5, 40) if good() else between(120, 1200),
            delete_complaint_rate=0.0 if good(0.6) else between(0.02, 0.1),
            hide_complaint_rate=0.0 if good(0.6) else between(0.02, 0.12),
            bot_reply_rate=0.0 if good(0.6) else between(0.3, 0.9),
            canned_reply_rate=between(0.0, 0.05) if good() else between(0.3, 0.8),
            dm_rate=between(0.1, 0.5),
            dm_resolve_rate=between(0.4, 1.0),
            public_followup_rate=between(0.8, 1.0) if good() else between(0.0, 0.3),
            max_public_exchanges=randint(rng, 2, 3) if good(0.6) else randint(rng, 5, 9),
            public_private_info_rate=0.0 if good(0.6) else between(0.2, 0.6),
            defensive_rate=0.0 if good(0.6) else between(0.05, 0.3),
            signatures=tuple(rng.sample(AGENT_SIGNATURES, randint(rng, 2, 5))) if good() else (),
            crisis=good(0.5),
            crisis_statement=good(0.5),
            spam_rate=between(0.0, 0.06),
            non_english_rate=between(0.0, 0.1),
            burst_rate=between(0.05, 0.3),
            thanks_rate=between(0.2, 0.5),
        )


@dataclass(frozen=True)
class AccountPlan:
    """One fictional brand account to generate."""

    platform: str
    handle: str
    display_name: str
    behaviour: Behaviour


def _brand_handle(platform: str, brand: str, suffix: str, rng: random.Random) -> str:
    if platform == "x":
        return f"{brand}{suffix}"[:15]
    if platform == "facebook":
        return f"{brand}{suffix}"
    if platform == "instagram":
        return f"{brand.lower()}{pick(rng, ('.', '_', ''))}{suffix.lower()}"
    if platform == "mastodon":
        return f"{brand}{suffix}@{pick(rng, BRAND_INSTANCES)}"
    return pick(rng, (f"{suffix.lower()}.{brand.lower()}.example",
                       f"{brand.lower()}{suffix.lower()}.bsky.social"))  # fmt: skip


def plan_accounts(accounts: int, seed: int) -> list[AccountPlan]:
    """A deterministic mix of accounts: the first exemplary, the second negligent, then mixed."""
    if accounts < 0:
        raise ValueError("accounts must not be negative")
    rng = random.Random(f"social-care-auditor/plan/{seed}")
    brands = list(BRANDS)
    rng.shuffle(brands)
    taken: set[tuple[str, str]] = set()
    plans: list[AccountPlan] = []
    for index in range(accounts):
        if index == 0:
            behaviour, platform = Behaviour.exemplary(), "x"
        elif index == 1:
            behaviour, platform = Behaviour.negligent(), "x"
        else:
            behaviour = Behaviour.mixed(rng)
            platform = _PLATFORM_CYCLE[(index - 2 + seed) % len(_PLATFORM_CYCLE)]
        brand = brands[index % len(brands)]
        suffix = pick(rng, HANDLE_SUFFIXES)
        handle = _brand_handle(platform, brand, suffix, rng)
        number = 2
        while (platform, handle.lower()) in taken:
            # Same brand twice on one platform: regional accounts ("AcmeHelp2") are common.
            handle = _brand_handle(platform, f"{brand}{number}", suffix, rng)
            number += 1
        taken.add((platform, handle.lower()))
        plans.append(AccountPlan(platform, handle, f"{brand} {suffix}", behaviour))
    return plans
