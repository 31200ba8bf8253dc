"""Deterministic demo and benchmark bundles.

``generate_records`` streams bundle records (``docs/bundle.md``) for a set of fictional brand
accounts. Everything derives from the seed and the ``end`` instant: the same arguments give the
same records in the same order, so a written bundle is byte-identical from run to run.

Each account follows a :class:`Behaviour`, a set of knobs that decide how the brand runs its
customer care: whether it answers, how fast, whether it deletes or hides complaints, uses bots and
canned texts, moves customers to DMs, signs its replies and so on. The knobs map onto the audit
checks so that one account can pass a check while another fails it.

Conventions the generated data keeps (tests rely on them):

- Customer posts are addressed to the brand: either top-level posts that mention it, or replies in
  a thread the brand started (announcements), or replies to the brand's replies.
- A brand reply has ``in_reply_to`` set to a customer post and shares its ``thread``.
- A customer post counts as *answered* when a later brand post replies to it or to a later post of
  the same customer in the same thread (a customer who posts "hello??" twice gets one reply to the
  last of them).
- Customer posts happen no later than three hours before ``end`` so that a brand that answers fast
  has answered everything when the window closes; slower brands leave posts pending.
- What a platform cannot observe does not appear: a complaint deleted on a platform whose window
  does not observe deletions is missing from the bundle, a hidden one appears public, and
  conversations exist only where the window observes them.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import string
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

_T = TypeVar("_T")

DEFAULT_END: datetime = datetime(2026, 11, 16, tzinfo=UTC)

PLATFORMS: tuple[str, ...] = ("x", "facebook", "instagram", "mastodon", "bluesky")

# What each platform's API lets the auditor see; it becomes the window record's ``observes``.
OBSERVES: dict[str, tuple[str, ...]] = {
    "x": ("deleted", "conversations"),
    "facebook": ("hidden", "conversations"),
    "instagram": ("hidden",),
    "mastodon": ("deleted", "conversations"),
    "bluesky": ("deleted", "hidden"),
}

# Customers stop posting this long before ``end``: see the module docstring.
CUSTOMER_CUTOFF_SECONDS = 3 * 3600

_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TZ_LABELS = {
    "America/New_York": "ET",
    "America/Chicago": "CT",
    "America/Los_Angeles": "PT",
    "Europe/London": "UK time",
    "Europe/Berlin": "CET",
    "Australia/Sydney": "AEST",
}
_AGENT_SIGNATURES = ("^JD", "^MK", "^SR", "^TL", "-Anna", "-Sam", "-Priya", "-Luis", "-Kate")
_SUFFIX_WORDS = frozenset({"help", "support", "care", "cares", "team", "service"})


def _pick(rng: random.Random, options: Sequence[_T]) -> _T:
    """``rng.choice`` without its rejection sampling: several times faster, bias below 1e-12."""
    return options[int(rng.random() * len(options))]


def _randint(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


# --------------------------------------------------------------------------------------------
# Behaviour profiles
# --------------------------------------------------------------------------------------------


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
        open_hour = _pick(rng, (7, 8, 9))
        return cls(
            name="mixed",
            states_hours=good(0.65),
            always_open=always_open,
            timezone=_pick(rng, tuple(_TZ_LABELS)),
            open_hour=open_hour,
            close_hour=_pick(rng, (17, 18, 20, 22)),
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
            max_public_exchanges=_randint(rng, 2, 3) if good(0.6) else _randint(rng, 5, 9),
            public_private_info_rate=0.0 if good(0.6) else between(0.2, 0.6),
            defensive_rate=0.0 if good(0.6) else between(0.05, 0.3),
            signatures=tuple(rng.sample(_AGENT_SIGNATURES, _randint(rng, 2, 5))) if good() else (),
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


# --------------------------------------------------------------------------------------------
# Account plans
# --------------------------------------------------------------------------------------------

_BRANDS = (
    "Acme", "Nimbus", "Pinecrest", "Fjordly", "Orbitel", "Helio", "Kestrel", "Lumen",
    "Tandem", "Verdant", "Brisk", "Copper", "Harbor", "Juniper", "Mosaic", "Northway",
    "Quill", "Riverton", "Sable", "Tidewell", "Umbra", "Vanta", "Willow", "Zephyr",
    "Alder", "Beacon", "Cobalt", "Driftly", "Ember", "Flint", "Granite", "Halcyon",
    "Ionic", "Jasper", "Keel", "Larkspur", "Meridian", "Nova", "Oakline", "Parcel",
)  # fmt: skip
_HANDLE_SUFFIXES = ("Help", "Support", "Care", "Cares", "Team")
# Realistic share of customer-care accounts per platform, as a cycle.
_PLATFORM_CYCLE = ("x", "facebook", "instagram", "x", "mastodon", "bluesky", "facebook", "x",
                   "instagram", "bluesky")  # fmt: skip
_BRAND_INSTANCES = ("mastodon.social", "mastodon.online", "mstdn.social")


def _brand_handle(platform: str, brand: str, suffix: str, rng: random.Random) -> str:
    if platform == "x":
        return f"{brand}{suffix}"[:15]
    if platform == "facebook":
        return f"{brand}{suffix}"
    if platform == "instagram":
        return f"{brand.lower()}{_pick(rng, ('.', '_', ''))}{suffix.lower()}"
    if platform == "mastodon":
        return f"{brand}{suffix}@{_pick(rng, _BRAND_INSTANCES)}"
    return _pick(rng, (f"{suffix.lower()}.{brand.lower()}.example",
                       f"{brand.lower()}{suffix.lower()}.bsky.social"))  # fmt: skip


def plan_accounts(accounts: int, seed: int) -> list[AccountPlan]:
    """A deterministic mix of accounts: the first exemplary, the second negligent, then mixed."""
    if accounts < 0:
        raise ValueError("accounts must not be negative")
    rng = random.Random(f"social-care-auditor/plan/{seed}")
    brands = list(_BRANDS)
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
        suffix = _pick(rng, _HANDLE_SUFFIXES)
        handle = _brand_handle(platform, brand, suffix, rng)
        number = 2
        while (platform, handle.lower()) in taken:
            # Same brand twice on one platform: regional accounts ("AcmeHelp2") are common.
            handle = _brand_handle(platform, f"{brand}{number}", suffix, rng)
            number += 1
        taken.add((platform, handle.lower()))
        plans.append(AccountPlan(platform, handle, f"{brand} {suffix}", behaviour))
    return plans


# --------------------------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Template:
    text: str
    fields: tuple[str, ...]


def _templates(*texts: str) -> tuple[_Template, ...]:
    formatter = string.Formatter()
    return tuple(
        _Template(text, tuple(dict.fromkeys(f for _, f, _, _ in formatter.parse(text) if f)))
        for text in texts
    )


_ITEMS = ("sofa", "running shoes", "phone case", "coffee machine", "headphones", "winter jacket",
          "desk lamp", "blender", "laptop bag", "gift card", "birthday cake", "router",
          "office chair", "kettle", "smart watch", "rain boots", "bike helmet",
          "SIM card")  # fmt: skip
_CITIES = ("Boston", "Denver", "Leeds", "Austin", "Toronto", "Dublin", "Portland", "Glasgow",
           "Phoenix", "Cork", "Bristol", "Tampa", "Calgary", "Madison", "Sydney")  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DEVICES = ("iPhone 15", "Pixel 8", "Galaxy S23", "iPad", "Android tablet", "old iPhone 11",
            "Windows laptop", "MacBook")  # fmt: skip
_FEATURES = ("checkout", "account page", "cart", "order tracking", "payments page",
             "settings screen", "search", "rewards tab", "notifications screen")  # fmt: skip
_COUNTRIES = ("Canada", "Ireland", "Mexico", "Australia", "Germany", "Norway", "Portugal")
_ETAS = ("3-5 business days", "48 hours", "a week", "2-3 working days", "24 hours")
_FIRST_NAMES = ("maria", "james", "aisha", "tom", "lena", "carlos", "yuki", "omar", "sophie",
                "dan", "priya", "lukas", "chloe", "mateo", "grace", "ivan", "nora", "sam",
                "fatima", "ben", "elena", "kofi", "hannah", "raj", "zoe", "marco", "ines",
                "liam", "mia", "jon", "ana", "felix", "olga", "tariq", "ruth", "kai")  # fmt: skip
_LAST_NAMES = ("garcia", "smith", "khan", "nguyen", "muller", "rossi", "okafor", "silva",
               "brown", "kowalski", "tanaka", "dubois", "jensen", "patel", "murphy", "lopez",
               "novak", "hughes", "ali", "berg", "costa", "walsh", "kim", "fischer")  # fmt: skip
_CUSTOMER_INSTANCES = ("mastodon.social", "mastodon.online", "hachyderm.io", "fosstodon.org",
                       "mstdn.social", "infosec.exchange", "chaos.social", "mas.to")  # fmt: skip


def _order_number(rng: random.Random) -> str:
    pattern = rng.randrange(4)
    if pattern == 0:
        return f"#{_randint(rng, 100000, 9999999)}"
    if pattern == 1:
        return f"{_pick(rng, 'ABCDEFGHKLMNPRSTW')}{_randint(rng, 10000, 999999)}"
    if pattern == 2:
        return f"#{_pick(rng, 'ABCDEFGHKLMNPRSTW')}-{_randint(rng, 1000, 99999)}"
    return f"no. {_randint(rng, 1000000, 99999999)}"


def _postcode(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"{_randint(rng, 10000, 99999)}"  # a US ZIP code
    district = f"{_pick(rng, 'BDLMS')}{_randint(rng, 1, 20)}"
    return f"{district} {_randint(rng, 1, 9)}{_pick(rng, 'ABDEHJ')}{_pick(rng, 'NPQRTUW')}"


def _email(rng: random.Random) -> str:
    first, last = _pick(rng, _FIRST_NAMES), _pick(rng, _LAST_NAMES)
    return f"{first}.{last}{_randint(rng, 1, 99)}@{_pick(rng, ('example.com', 'example.org'))}"


_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "order": _order_number,
    "days": lambda r: str(_randint(r, 2, 12)),
    "weeks": lambda r: str(_randint(r, 2, 6)),
    "hours": lambda r: str(_randint(r, 2, 30)),
    "minutes": lambda r: str(_randint(r, 5, 55)),
    "item": lambda r: _pick(r, _ITEMS),
    "city": lambda r: _pick(r, _CITIES),
    "weekday": lambda r: _pick(r, _WEEKDAYS),
    "amount": lambda r: f"{_randint(r, 9, 480)}.{_randint(r, 0, 99):02d}",
    "device": lambda r: _pick(r, _DEVICES),
    "feature": lambda r: _pick(r, _FEATURES),
    "country": lambda r: _pick(r, _COUNTRIES),
    "email": _email,
    "acct": lambda r: str(_randint(r, 10_000_000, 9_999_999_999)),
    "code": lambda r: f"{_pick(r, 'EX')}-{_randint(r, 100, 999)}",
    "version": lambda r: f"{_randint(r, 4, 7)}.{_randint(r, 0, 14)}.{_randint(r, 0, 9)}",
    "eta": lambda r: _pick(r, _ETAS),
    "opens": lambda r: _pick(r, ("8am", "9am", "10am", "9:30am")),
    "closes": lambda r: _pick(r, ("6pm", "7pm", "8pm", "9pm", "5:30pm")),
    "ticket": lambda r: f"{_randint(r, 100000, 999999)}",
    "last4": lambda r: f"{_randint(r, 0, 9999):04d}",
    "postcode": _postcode,
}

_COMPLAINT_TOPICS = ("delivery", "refund", "login", "billing", "crash")

_COMPLAINTS: dict[str, tuple[_Template, ...]] = {
    "delivery": _templates(
        "{h} my order {order} was supposed to arrive {weekday} and it's still not here. "
        "{days} days late now",
        "{h} where is my package?? Tracking hasn't moved since {weekday}",
        "Ordered a {item} from {h} {days} days ago and it still says 'processing'. What's up?",
        "{h} the courier marked {order} as delivered but there is nothing at my door",
        "{h} third time asking: when will my {item} ship? Order {order}",
        "Really disappointed with {h}. Paid for express delivery, {days} days later still waiting",
        "{h} my {item} arrived damaged, box completely crushed. Order {order}",
        "{h} you sent me the wrong {item}. I ordered size M, got XXL 🙄",
        "{h} delivery window was 9-1 today, waited in all day and nobody came",
        "hey {h} half my order is missing, only got 2 of 5 items ({order})",
    ),
    "refund": _templates(
        "{h} I returned the {item} {weeks} weeks ago and still no refund of ${amount}",
        "{h} how long does a refund take?? It's been {days} days since you got my return",
        "{h} you confirmed my refund for {order} on {weekday} but the money never showed up",
        "Still waiting on a ${amount} refund from {h}. Every agent tells me something different",
        "{h} cancelled order {order} within an hour and was still charged. I want my money back",
        "{h} your returns portal says my return was 'not found'. I have the receipt!",
        "{h} refund for the {item} was ${amount} short. Why?",
    ),
    "login": _templates(
        "{h} can't log in to the app, keeps saying 'session expired'",
        "{h} password reset email never arrives. Tried {hours} times",
        "{h} locked out of my account after the update, error {code}",
        "{h} the 2FA code never comes through so I can't get into my account",
        "{h} why does the app log me out every {minutes} minutes?",
        "{h} login page just spins forever on my {device}",
        "{h} my account got locked and the unlock link is expired before I even open it",
    ),
    "billing": _templates(
        "{h} you charged me twice this month (${amount} x2). Please fix",
        "{h} why did my bill go up by ${amount} without any notice?",
        "{h} I cancelled my plan in {weekday}'s call and I'm still being billed",
        "{h} there's a ${amount} charge on my card I don't recognise, ref {ticket}",
        "{h} my promo discount disappeared from this month's invoice",
        "{h} autopay failed with error {code} and now there's a late fee. Not my fault!",
        "{h} I've been overcharged for {weeks} months straight. Who do I talk to?",
    ),
    "crash": _templates(
        "{h} the app crashes every time I open the {feature} on my {device}",
        "{h} version {version} is broken, crashes on launch",
        "{h} app freezes on the {feature} and then closes. {device}, latest update",
        "{h} can't finish checkout, the app just closes on me. {device}",
        "{h} since the last update the {feature} shows a blank screen",
        "{h} your app drains my battery and crashes twice a day. {device}",
        "{h} getting error {code} whenever I tap the {feature}",
    ),
    "outage": _templates(
        "{h} is the app down? can't log in",
        "{h} website won't load for me in {city}",
        "{h} anyone else getting error {code}? nothing works",
        "{h} payments failing right now, tried 3 cards",
        "{h} is there an outage? app says 'something went wrong'",
        "{h} down again?? I need to get my order in today",
        "{h} site is completely broken, checkout times out",
        "{h} can't access my account at all right now. What's happening?",
    ),
}

_NON_ENGLISH_COMPLAINTS = _templates(
    "{h} mi pedido {order} lleva {days} días de retraso. ¿Qué pasa?",
    "{h} no puedo iniciar sesión en la app desde ayer",
    "{h} meine Bestellung {order} ist seit {days} Tagen überfällig",
    "{h} die App stürzt bei jedem Start ab. Bitte beheben!",
    "{h} toujours pas de remboursement pour la commande {order}...",
    "{h} impossible de me connecter à mon compte, erreur {code}",
    "{h} meu pedido {order} ainda não chegou, já são {days} dias",
    "{h} il mio ordine {order} è in ritardo di {days} giorni",
    "{h} ik ben twee keer belast voor dezelfde bestelling",
)

# Each question comes with the answers that fit it.
_QUESTIONS: tuple[tuple[tuple[_Template, ...], tuple[_Template, ...]], ...] = (
    (
        _templates(
            "{h} what time does your {city} store open on {weekday}?",
            "{h} are you open on public holidays?",
            "{h} can I pick up my order at the {city} store instead?",
        ),
        _templates(
            "Hi {c}! Our {city} store opens at {opens} and closes at {closes}.",
            "{c} most stores keep their usual hours on holidays; the store finder has each one.",
            "{c} yes, choose 'collect in store' at checkout and we'll text you when it's ready.",
        ),
    ),
    (
        _templates(
            "{h} is customer service open on weekends?",
            "{h} how late can I reach your support team?",
        ),
        _templates(
            "Hi {c}, our support team is here every day; stores keep their own hours.",
            "{c} you can reach us here any time, and by phone until {closes}.",
        ),
    ),
    (
        _templates("{h} do you ship to {country}?", "{h} how long is shipping to {country}?"),
        _templates(
            "{c} yes, we ship to {country}; delivery takes {eta}.",
            "Hi {c}, delivery to {country} usually takes {eta}.",
        ),
    ),
    (
        _templates(
            "{h} will the {item} be back in stock soon?",
            "{h} any idea when the {item} restocks?",
        ),
        _templates(
            "Great question, {c}. Restocks usually land on {weekday}, keep an eye on the app.",
            "{c} we expect more on {weekday}. Tap 'notify me' on the product page!",
        ),
    ),
    (
        _templates(
            "{h} can I change the delivery address on order {order}?",
            "{h} how do I update my payment card in the app?",
        ),
        _templates(
            "{c} you can change that under 'My orders' until the order ships.",
            "{c} you can update your card in settings > payments. Any trouble, let us know!",
        ),
    ),
    (
        _templates(
            "{h} do you price match?",
            "{h} is there a student discount?",
            "{h} what's your returns window for sale items?",
        ),
        _templates(
            "Thanks for asking, {c}! Our pricing and discount details are on the FAQ page.",
            "{c} returns on sale items are accepted within 30 days.",
            "Hi {c}, yes: students get 10% off with a verified student email.",
        ),
    ),
)

_PRAISE = _templates(
    "Shoutout to {h}, my {item} arrived a day early 🙌",
    "{h} thank you! Fixed my issue in 5 minutes",
    "Honestly {h} has the best support team. Quick and friendly",
    "{h} love the new {feature}, so much easier now",
    "Big thanks to {h} for sorting my refund so fast",
    "{h} the staff at your {city} store were brilliant today",
    "Been a customer for {weeks} years and {h} never lets me down",
)

_SPAM = _templates(
    "{h} 💰 Earn $500/day from home, DM me for details",
    "{h} Get 10k followers fast → bit.ly/grow{ticket}",
    "{h} CRYPTO GIVEAWAY 🚀 send 0.1 ETH receive 1 ETH back",
    "{h} check my profile for exclusive deals!!! 🔥🔥",
    "{h} I can fix your account issues, contact my WhatsApp",
)

_BURSTS = _templates(
    "hello??",
    "{h} anyone there?",
    "still waiting...",
    "still no answer. great service",
    "bump",
    "{h} helloooo",
    "Is anyone actually reading these?",
    "I'll take my business elsewhere if nobody replies",
)

_FOLLOW_UPS: dict[str, tuple[_Template, ...]] = {
    "delivery": _templates(
        "It's order {order}",
        "Tracking just says 'in transit' since {weekday}",
        "I already checked with my neighbours, nothing",
        "ok but I need it by {weekday}, it's a gift",
        "{days} days ago. The {item} was meant to be here by now",
        "The tracking number ends in {last4} if that helps",
        "Left a note for the driver too. Nothing.",
    ),
    "refund": _templates(
        "It was order {order}, ${amount}",
        "I returned it at the {city} store, have the receipt",
        "Already waited the {eta} you told me last time",
        "Sent it back on {weekday}, tracking shows you got it",
        "Paid by card, the one ending {last4}",
    ),
    "login": _templates(
        "tried that already, still the same",
        "cleared cache and reinstalled, still error {code}",
        "yes it's the latest version, {version}",
        "same on the website, not just the app",
        "{device}, logging in with email",
    ),
    "billing": _templates(
        "The charges are on {weekday} and the day after",
        "Invoice ref {ticket}",
        "I did, nobody called me back",
        "Both charges are ${amount}, same day",
        "Direct debit, been the same account for {weeks} years",
    ),
    "crash": _templates(
        "{device}, app version {version}",
        "restarted the phone, still crashing",
        "it only happens when I open the {feature}",
        "updated to {version}, no change",
        "Wi-Fi and mobile data, same thing",
    ),
    "outage": _templates(
        "still down for me",
        "any update?",
        "still getting {code} in {city}",
        "how long will this take? I need to pay a bill today",
    ),
}

_PUBLIC_INFO_LEAKS = _templates(
    "sure, my email is {email} and account number {acct}",
    "account no. {acct}, email {email}",
    "It's {email}, acct {acct}",
)

_THANKS = _templates(
    "thanks!",
    "Thank you, all sorted now 🙏",
    "great, thanks",
    "appreciate the quick help",
    "thx, that worked",
    "Perfect, thank you!",
    "ok thanks {h}",
)

_NON_ENGLISH_THANKS = _templates("¡gracias!", "danke!", "merci !", "obrigado!", "grazie mille")

_ANNOUNCEMENTS = _templates(
    "New: track your order right in the app. Update to {version} to try it.",
    "Our {city} store is now open late on Thursdays until {closes}.",
    "Planned maintenance tonight from 1am to 3am. The app may be unavailable for a while.",
    "Holiday delivery cut-off dates are here. Order by {weekday} for delivery before the weekend.",
    "Tip: you can manage returns yourself in the app. No call needed.",
    "We're hiring support agents in {city}! Come work with us.",
    "Weekend sale: 20% off every {item}. Ends {weekday}.",
    "Heads up: we'll never ask for your password by DM. Stay safe out there.",
    "Thanks for 100k followers! Tell us what you'd like to see next.",
    "Our new returns policy gives you 60 days on most items.",
)

_CRISIS_STATEMENTS = _templates(
    "We're aware that some customers can't log in right now. Our engineers are on it and we'll "
    "post updates here.",
    "Some of you are seeing errors at checkout. We know, we're fixing it, and we'll update this "
    "thread every 30 minutes.",
    "Service update: the app and website are having problems. No need to report it, we're "
    "working on a fix. Sorry for the trouble.",
)

# Brand replies. {c} is the customer's mention; human replies get a signature appended.
_FIRST_REPLIES: dict[str, tuple[_Template, ...]] = {
    "delivery": _templates(
        "Hi {c}, sorry your order hasn't arrived yet. Could you DM us the order number so we can "
        "chase it with the courier?",
        "{c} that's not the experience we want for you. Which postcode is the delivery going to?",
        "Sorry about this, {c}. Could you send us a photo of the label on the box?",
        "Oh no {c}, we're sorry. When did the tracking last update?",
    ),
    "refund": _templates(
        "Hi {c}, sorry for the wait on your refund. When did you send the return back?",
        "{c} we're sorry about this. Was the return made in store or by post?",
        "Thanks for flagging, {c}. Refunds usually take {eta}; let's check yours.",
    ),
    "login": _templates(
        "Hi {c}, sorry you're locked out. Which device and app version are you using?",
        "{c} sorry about that! Could you try signing out, clearing the cache and logging in again?",
        "Thanks {c}. Are you logging in with email or with a social account?",
    ),
    "billing": _templates(
        "Hi {c}, sorry about the confusion with your bill. Which dates were the charges on?",
        "{c} we can look into that charge for you. Is it on a card or on direct debit?",
        "Sorry {c}, that doesn't look right. Did you get an email receipt for both charges?",
    ),
    "crash": _templates(
        "Sorry {c}! Could you update to the latest version and restart the app?",
        "Hi {c}, thanks for reporting this. Which device and OS version are you on?",
        "{c} sorry for the trouble. Does it happen every time you open the {feature}?",
    ),
    "outage": _templates(
        "Hi {c}, sorry for the trouble. We're aware of the issue and working on a fix; updates "
        "in our latest post.",
        "{c} we know, and we're sorry. Our team is on it right now.",
        "Thanks for your patience, {c}. It's a known issue and we expect a fix shortly.",
    ),
}

_TROUBLESHOOTING = _templates(
    "Thanks {c}. Could you try once more and tell us if anything changes?",
    "Got it, {c}. We've passed this to the team; one more question: is this on Wi-Fi or mobile "
    "data?",
    "Thanks for the details, {c}. We're checking this now.",
    "Understood, {c}. Could you send us the order number by DM so we can look it up?",
    "Sorry this is dragging on, {c}. We've escalated it to our specialists.",
)

_RESOLUTIONS: dict[str, tuple[_Template, ...]] = {
    "delivery": _templates(
        "Thanks {c}. The courier confirms it'll be with you on {weekday}. Sorry again!",
        "{c} we've sent a replacement by express, it should arrive within {eta}.",
    ),
    "refund": _templates(
        "{c} your refund has been issued and should show within {eta}.",
        "All sorted, {c}: the missing ${amount} is on its way back to your card.",
    ),
    "login": _templates(
        "{c} we've reset your session on our side, you should be able to log in now.",
        "Thanks {c}, a fix for this is in version {version}. Updating should do it.",
    ),
    "billing": _templates(
        "{c} we've reversed the duplicate charge; you'll see it within {eta}.",
        "Sorted, {c}. The discount is back on your account from this month.",
    ),
    "crash": _templates(
        "Thanks {c}, our developers found the bug. A fix ships in {version} this week.",
        "{c} reinstalling should fix it for now, and a permanent fix is on its way.",
    ),
    "outage": _templates(
        "{c} it should be working again now. Sorry for the disruption!",
        "Good news {c}, the issue is fixed. Thanks for bearing with us.",
    ),
}

_DM_REQUESTS = _templates(
    "{c} sorry about this! DM us your order number and we'll get it sorted.",
    "Hi {c}, please send us a DM with your account email so we can take a closer look.",
    "{c} we'd like to help. Could you DM us the details? Please don't share them here.",
    "Sorry {c}, let's take this to DM so we can check your account safely.",
    "{c} we've sent you a DM so we can look into this privately.",
)

_PUBLIC_INFO_ASKS = _templates(
    "{c} please reply with your full account number and the email address on the account.",
    "{c} reply here with your email and account number and we'll check.",
    "Can you post your account number and email so we can look you up, {c}?",
)

_DEFENSIVE = _templates(
    "{c} as stated in our terms, delivery times are estimates and not guaranteed.",
    "{c} we've already answered this. Please read our FAQ.",
    "{c} this is not an issue on our side.",
    "{c} your bank is responsible for that charge, not us.",
    "{c} if you had read the instructions this wouldn't have happened.",
    "{c} we don't comment on individual cases. Our policy is clear.",
    "{c} plenty of customers use the app without any problems.",
)

_CANNED = _templates(
    "We're sorry to hear that. Please send us a DM with more details.",
    "Thanks for reaching out. Please visit our help center for assistance.",
    "We apologize for any inconvenience. Our team is looking into it.",
)

_BOT_REPLIES = _templates(
    "Thanks for your message! A member of our team will get back to you as soon as possible.",
    "Hi! 👋 We've received your message. Our typical response time is 24 hours.",
    "Thank you for contacting us. Your request has been logged.",
)

_PRAISE_REPLIES = _templates(
    "Thank you so much, {c}! We'll pass this on to the team.",
    "{c} this made our day! Enjoy your {item}.",
    "Aw, thanks {c}! Happy to help any time.",
    "{c} so glad to hear it. Thanks for being with us!",
)

_THANKS_REPLIES = _templates(
    "Glad we could help, {c}!",
    "Any time, {c}! Have a great day.",
    "You're welcome {c}, enjoy!",
    "Happy to help, {c}. Take care!",
)

_CANNED_THANKS_REPLIES = _templates("Thanks for reaching out! Have a great day.")

_PUBLIC_FOLLOW_UPS = _templates(
    "{c} thanks for chatting with us in DM. Glad we could sort it out!",
    "Following up here: {c}'s issue is resolved. Thanks for your patience!",
    "{c} great talking to you in DM, and sorry again for the trouble.",
)

_DM_OPENERS = _templates(
    "Hi, it's about order {order}. Email on the account is {email}",
    "Hello, account number {acct}, the problem is still there",
    "Hi there, order {order}, I paid ${amount}",
    "Hey, my email is {email}. Ticket {ticket} from last week too",
)

# A brand question in a DM and the customer answers that fit it.
_DM_QUESTIONS: tuple[tuple[tuple[_Template, ...], tuple[_Template, ...]], ...] = (
    (
        _templates("Thanks! Could you confirm the postcode on the account?"),
        _templates("Sure, it's {postcode}", "{postcode}", "it should be {postcode}"),
    ),
    (
        _templates("Got it. Can you confirm the last 4 digits of the card you paid with?"),
        _templates("The card ends in {last4}", "{last4}", "ends with {last4}"),
    ),
    (
        _templates(
            "Thanks for that. I can see the order; give me a moment to check with the team.",
            "Thanks, I'm looking into it now. Did you get a confirmation email?",
        ),
        _templates("ok thanks", "Yes I did", "sure, take your time"),
    ),
)

_DM_RESOLUTIONS: dict[str, tuple[_Template, ...]] = {
    "delivery": _templates(
        "A replacement ships today by express. Sorry again for the trouble!",
        "The courier has it now; it'll be with you on {weekday}. Anything else?",
    ),
    "refund": _templates(
        "All done: your refund is on its way and you'll see it within {eta}.",
        "I've pushed the refund through; expect it within {eta}.",
    ),
    "login": _templates(
        "Your account is unlocked. You should be able to log in now.",
        "I've reset your login; the email with a new link is on its way.",
    ),
    "billing": _templates(
        "The duplicate charge is reversed; you'll see it within {eta}.",
        "I've fixed the bill on your account now. Anything else I can help with?",
    ),
    "crash": _templates(
        "Thanks! Version {version} fixes this; it's rolling out now.",
        "Our developers fixed it on our side. Could you reopen the app?",
    ),
    "outage": _templates("Everything should be working again now. Sorry for the disruption!"),
    "direct": _templates(
        "Done! Your subscription is cancelled and you won't be billed again.",
        "All sorted, the address on your order is updated.",
    ),
}

_DM_CHECKING = _templates(
    "Thanks for waiting. I've passed this on to the team and we'll come back to you.",
    "I've raised this with our specialists; they'll be in touch.",
)

_DM_DIRECT_OPENERS = _templates(
    "Hi, quick question about my order {order}",
    "Hello, I'd like to cancel my subscription please",
    "Hi! Can I still change the address on {order}?",
)

_CUSTOMER_SOURCES: dict[str, tuple[str | None, ...]] = {
    "x": ("Twitter for iPhone", "Twitter for Android", "Twitter Web App"),
    "mastodon": ("Web", "Ivory for iOS", "Tusky", "Elk", None),
}
_BRAND_HUMAN_SOURCES: dict[str, tuple[str | None, ...]] = {
    "x": ("Sprout Social", "Hootsuite Inc.", "Twitter Web App"),
    "mastodon": ("Web", "Hootsuite"),
}
_BOT_SOURCES = ("Sprinklr", "Zendesk")
# Platforms that label automated posts (X's automated-account label, Mastodon's bot flag).
_LABELS_AUTOMATION = frozenset({"x", "mastodon"})
# Platforms whose API names the client app of a post.
_NAMES_SOURCE = frozenset({"x", "mastodon"})

# Share of episodes that start with a brand post customers then reply to (Instagram and Facebook
# care happens mostly in comments; on X customers mention the brand).
_ANNOUNCEMENT_SHARE = {"x": 0.05, "mastodon": 0.06, "bluesky": 0.07, "facebook": 0.2,
                       "instagram": 0.35}  # fmt: skip
_AUTHOR_DELETE_RATE = 0.01
_DIRECT_MESSAGE_RATE = 0.05  # customers who skip the public post and write a DM
_REPEAT_CUSTOMER_RATE = 0.15

# Relative posting activity by local hour, midnight first.
_HOUR_WEIGHTS = (1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 4.5,
                 4.5, 4.5, 4.2, 4.0, 4.0, 4.2, 4.5, 4.5, 4.0, 3.2, 2.4, 1.6)  # fmt: skip
_MAX_HOUR_WEIGHT = max(_HOUR_WEIGHTS)


# --------------------------------------------------------------------------------------------
# Identifiers and URLs
# --------------------------------------------------------------------------------------------

_TWITTER_EPOCH_MS = 1288834974657
_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_IG_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _stable_int(text: str) -> int:
    """A hash that is the same in every process (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


# Human agents write around the team's stock answers: a greeting, a line of their own, a
# sign-off. Without this every human reply would be one of a few dozen texts, which AUT001
# rightly calls canned. Neutral wording only (no apology, thanks, DM or personal-data words),
# so the tone and privacy checks judge the stock answer, not the variation.
_OWN_OPENERS = (
    "Hey there!", "Hello!", "Hi again!", "Hey!", "Good morning!", "Good afternoon!", "Evening!",
    "Hello there.", "Hi hi!", "Hey, good to hear from you.", "Hi, care team here.",
    "Hi, picking this up now.", "Hey, jumping in here.", "Right, let's see.", "Okay!",
    "Hi from the team.", "Hello again.", "Hey, it's us.", "Hi, quick one.", "Morning!",
)  # fmt: skip
_OWN_LINES = (
    "We've read through the whole thread.", "I'm looking at this myself.",
    "That's not how it should go.", "We want to get this right.", "I've got your post open here.",
    "Let's get you moving again.", "We'll stay with you on this.", "I'll keep an eye on it.",
    "Good question, actually.", "That one's on our radar now.", "I've made a note of it.",
    "I'll take it from here.", "One of us will follow it through.", "Bear with me a moment.",
    "I checked with a colleague just now.", "We've seen this before and it's fixable.",
)  # fmt: skip
_OWN_CLOSERS = (
    "Speak soon.", "Here if you need us.", "Take care.", "Have a good one!", "We've got you.",
    "Anything else, just shout.", "Hope that helps!", "Keep us posted.", "All the best.",
    "Enjoy the rest of your day.", "Chat soon!", "We're around all day.",
    "Let us know how you get on.", "Shout if anything changes.", "Happy to keep going.",
    "Speak later!", "Have a lovely evening.", "Wishing you a good week.", "Until next time!",
    "Over to you.",
)  # fmt: skip


def _in_own_words(text: str, seed: str) -> str:
    """A stock answer with a greeting, a line and a sign-off of the agent's choosing.

    The choice comes from a hash of ``seed``, not the generator's random stream, so adding the
    variation leaves every other generated value as it was.
    """
    value = _stable_int(seed)
    parts = []
    if value % 4:
        parts.append(_OWN_OPENERS[(value >> 4) % len(_OWN_OPENERS)])
    parts.append(text)
    if (value >> 12) % 5 < 3:
        parts.append(_OWN_LINES[(value >> 16) % len(_OWN_LINES)])
    if (value >> 24) % 4:
        parts.append(_OWN_CLOSERS[(value >> 28) % len(_OWN_CLOSERS)])
    return " ".join(parts)


def _encode(value: int, alphabet: str, width: int = 0) -> str:
    base = len(alphabet)
    digits: list[str] = []
    while value:
        value, rest = divmod(value, base)
        digits.append(alphabet[rest])
    return "".join(reversed(digits)).rjust(width, alphabet[0])


def _did(name: str) -> str:
    return "did:plc:" + _encode(_stable_int(name) ** 2, _B32_SORTABLE, 24)[-24:]


def _platform_user_id(platform: str, handle: str) -> str:
    value = _stable_int(f"{platform}:{handle}")
    if platform == "x":
        return str(10**17 + value % (9 * 10**18))
    if platform == "facebook":
        return str(10**14 + value % (9 * 10**15))
    if platform == "instagram":
        return str(17841400000000000 + value % 10**11)
    if platform == "mastodon":
        return str(10**17 + value % (9 * 10**17))
    return _did(handle)


@dataclass(slots=True)
class _Node:
    """A generated post while its account is being built."""

    ts: int
    order: int
    id: str
    thread: str
    # Platform detail the URLs of replies need: the root's Facebook object id or Instagram
    # shortcode.
    root_ref: str
    author: str
    record: dict[str, Any]


class _IdMint:
    """Post ids unique per platform across the whole bundle.

    Each platform has one counter; ids mix it with the post's time in that platform's id shape
    so that two posts can only collide after millions of posts on one platform.
    """

    def __init__(self) -> None:
        self._counters = dict.fromkeys(PLATFORMS, 0)

    def take(self, platform: str) -> int:
        value = self._counters[platform]
        self._counters[platform] = value + 1
        return value

    def post_id(
        self, platform: str, ts: int, author: str, author_id: str, parent: _Node | None
    ) -> tuple[str, str, str]:
        """Returns the id, the URL and the root reference of a new post."""
        count = self.take(platform)
        if platform == "x":
            ms = ts * 1000 + count % 1000 - _TWITTER_EPOCH_MS
            post_id = str((ms << 22) | (count & 0x3FFFFF))
            return post_id, f"https://x.com/{author}/status/{post_id}", post_id
        if platform == "mastodon":
            post_id = str(((ts * 1000 + count % 1000) << 16) | (count & 0xFFFF))
            user, _, instance = author.partition("@")
            return post_id, f"https://{instance or 'mastodon.social'}/@{user}/{post_id}", post_id
        if platform == "facebook":
            obj = str(10**15 + (count * 7919 + 104729) % (9 * 10**15))
            if parent is None:
                post_id = f"{author_id}_{obj}"
                return post_id, f"https://www.facebook.com/{post_id}", obj
            post_id = f"{parent.root_ref}_{obj}"
            url = f"https://www.facebook.com/{parent.thread}?comment_id={obj}"
            return post_id, url, parent.root_ref
        if platform == "instagram":
            serial = (count * 9973 + 7777) % 10**16
            if parent is None:
                post_id = str(17 * 10**16 + serial)
                shortcode = _encode(int(post_id), _IG_ALPHABET)
                return post_id, f"https://www.instagram.com/p/{shortcode}/", shortcode
            post_id = str(18 * 10**16 + serial)
            url = f"https://www.instagram.com/p/{parent.root_ref}/c/{post_id}/"
            return post_id, url, parent.root_ref
        # bluesky: a TID (microseconds and a clock id) in an at:// URI of the author's repo.
        micros = ts * 1_000_000 + count % 1_000_000
        tid = _encode((micros << 10) | (count // 1_000_000 % 1024), _B32_SORTABLE, 13)
        post_id = f"at://{author_id}/app.bsky.feed.post/{tid}"
        return post_id, f"https://bsky.app/profile/{author}/post/{tid}", tid

    def conversation_id(self, platform: str, brand_id: str, customer_id: str) -> str:
        count = self.take(platform)
        if platform == "x":
            return f"{brand_id}-{customer_id}-{count}"
        if platform == "facebook":
            return f"t_{10**15 + (count * 6151) % (9 * 10**15)}"
        return str(10**17 + count)

    def message_id(self, platform: str, ts: int) -> str:
        count = self.take(platform)
        if platform == "facebook":
            return f"m_{_encode((ts << 20) | (count & 0xFFFFF), _IG_ALPHABET)}"
        return str(((ts * 1000 - _TWITTER_EPOCH_MS) << 22) | (count & 0x3FFFFF))


# --------------------------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------------------------


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


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


def _staffed_intervals(behaviour: Behaviour, start_ts: int, end_ts: int) -> list[tuple[int, int]]:
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


# --------------------------------------------------------------------------------------------
# Generation of one account
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Customer:
    handle: str
    author_id: str
    mention: str
    email: str


@dataclass(frozen=True, slots=True)
class _Budget:
    posts: int
    start_ts: int
    end_ts: int


def _brand_slug(display_name: str) -> str:
    words = [w for w in display_name.lower().split() if w not in _SUFFIX_WORDS]
    return re.sub(r"[^a-z0-9]", "", "".join(words) or display_name.lower()) or "brand"


class _AccountGenerator:
    """Builds one account's records; memory is bounded by that account's posts."""

    def __init__(
        self,
        plan: AccountPlan,
        budget: _Budget,
        rng: random.Random,
        ids: _IdMint,
        end_iso: str,
        start_iso: str,
    ) -> None:
        self.plan = plan
        self.platform = plan.platform
        self.behaviour = plan.behaviour
        self.rng = rng
        self.ids = ids
        self.budget = budget
        self.start_ts = budget.start_ts
        self.end_ts = budget.end_ts
        self.cutoff_ts = self.end_ts - CUSTOMER_CUTOFF_SECONDS
        self.end_iso = end_iso
        self.start_iso = start_iso
        self.brand_id = _platform_user_id(self.platform, plan.handle)
        self.slug = _brand_slug(plan.display_name)
        self.observes = frozenset(OBSERVES[self.platform])
        self.staffed = _staffed_intervals(self.behaviour, self.start_ts, self.end_ts)
        self.staffed_closes = [close for _, close in self.staffed]
        zone = ZoneInfo(self.behaviour.timezone)
        middle = datetime.fromtimestamp((self.start_ts + self.end_ts) // 2, zone)
        offset = middle.utcoffset()
        self.local_offset = int(offset.total_seconds()) if offset else 0
        self.brand_mention = self._brand_mention()
        self.recent_customers: list[_Customer] = []
        self.order = 0
        # The episode being built; it is kept only if it fits the remaining post budget.
        self.episode_posts: list[_Node] = []
        self.episode_conversations: list[tuple[int, dict[str, Any]]] = []
        # Brand posts keep out of this span: a crisis the brand stays silent about.
        self.silent_from, self.silent_until = 0, 0

    # -- records -------------------------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        yield self._profile()
        yield self._window()
        posts, conversations = self._build()
        posts.sort(key=lambda node: (node.ts, node.order))
        for node in posts:
            yield node.record
        conversations.sort(key=lambda item: item[0])
        for _, conversation in conversations:
            yield conversation

    def _profile(self) -> dict[str, Any]:
        behaviour, plan = self.behaviour, self.plan
        website = f"https://www.{self.slug}.example"
        parts = [_pick(self.rng, (
            f"Official customer care for {plan.display_name.split()[0]}.",
            f"We're here to help with your {plan.display_name.split()[0]} orders and account.",
            f"The {plan.display_name} team.",
        ))]  # fmt: skip
        if behaviour.states_hours:
            if behaviour.always_open:
                parts.append(_pick(self.rng, ("We're here 24/7.", "Replies 24/7.")))
            else:
                label = _TZ_LABELS.get(behaviour.timezone, behaviour.timezone)
                days = "every day" if behaviour.weekends else "Mon-Fri"
                hours = f"{_hour_label(behaviour.open_hour)}-{_hour_label(behaviour.close_hour)}"
                parts.append(f"We reply {hours} {label} {days}.")
        if behaviour.lists_support_channel:
            parts.append(_pick(self.rng, (
                f"Need help? DM us or visit {website}/help",
                f"Email support@{self.slug}.example",
                f"Help centre: {website}/support",
                "DM us your order number and we'll take it from there.",
            )))  # fmt: skip
        else:
            parts.append(_pick(self.rng, ("News, offers and more.", "Follow for deals!")))
        return {
            "kind": "profile",
            "platform": self.platform,
            "account": plan.handle,
            "display_name": plan.display_name,
            "bio": " ".join(parts),
            "website": website,
            # Only Facebook pages have an hours field; elsewhere the bio is all there is.
            "hours": (
                _stated_hours(behaviour)
                if behaviour.states_hours and self.platform == "facebook"
                else None
            ),
            "fetched_at": self.end_iso,
        }

    def _window(self) -> dict[str, Any]:
        return {
            "kind": "window",
            "platform": self.platform,
            "account": self.plan.handle,
            "window_start": self.start_iso,
            "window_end": self.end_iso,
            "complete": True,
            "reason": None,
            "observes": list(OBSERVES[self.platform]),
            "fetched_at": self.end_iso,
        }

    # -- budget ----------------------------------------------------------------------------

    def _build(self) -> tuple[list[_Node], list[tuple[int, dict[str, Any]]]]:
        posts: list[_Node] = []
        conversations: list[tuple[int, dict[str, Any]]] = []
        remaining = self.budget.posts

        def keep_episode() -> bool:
            nonlocal remaining
            if len(self.episode_posts) > remaining:
                return False
            posts.extend(self.episode_posts)
            conversations.extend(self.episode_conversations)
            remaining -= len(self.episode_posts)
            return True

        if self.behaviour.crisis and remaining >= 40:
            self._begin_episode()
            self._crisis(max_posts=remaining * 3 // 10)
            keep_episode()
        misses = 0
        while remaining > 0 and misses < 8:
            self._begin_episode()
            self._random_episode()
            misses = 0 if keep_episode() else misses + 1
        # What no episode fits any more is filled with brand posts, which need no answer.
        for _ in range(remaining):
            ts = self._brand_post_time(self.end_ts)
            posts.append(self._brand_post(ts, self._text(_ANNOUNCEMENTS), None, keep=False))
        return posts, conversations

    def _begin_episode(self) -> None:
        self.episode_posts = []
        self.episode_conversations = []

    def _random_episode(self) -> None:
        rng = self.rng
        if rng.random() < _ANNOUNCEMENT_SHARE[self.platform]:
            self._announcement()
            return
        self._customer_episode(self._customer_time(), None)
        if "conversations" in self.observes and rng.random() < _DIRECT_MESSAGE_RATE:
            # Some customers write a DM straight away: a conversation with no public post.
            self._conversation(self._customer(), None, self._customer_time(), "direct")

    def _customer_episode(self, ts: int, parent: _Node | None) -> None:
        behaviour, draw = self.behaviour, self.rng.random()
        if draw < behaviour.spam_rate:
            self._spam(ts, parent)
        elif draw < behaviour.spam_rate + 0.12:
            self._praise(ts, parent)
        elif draw < behaviour.spam_rate + 0.28:
            self._question(ts, parent)
        else:
            self._complaint(ts, parent, _pick(self.rng, _COMPLAINT_TOPICS))

    # -- time ------------------------------------------------------------------------------

    def _customer_time(self) -> int:
        span = self.cutoff_ts - self.start_ts
        rng = self.rng
        while True:
            ts = self.start_ts + int(rng.random() * span)
            hour = (ts + self.local_offset) // 3600 % 24
            if rng.random() * _MAX_HOUR_WEIGHT < _HOUR_WEIGHTS[hour]:
                return ts

    def _brand_post_time(self, latest: int) -> int:
        """When the brand posts something of its own (outside a crisis it keeps silent about)."""
        while True:
            ts = self.start_ts + int(self.rng.random() * (latest - self.start_ts))
            if not self.silent_from <= ts < self.silent_until:
                return ts

    def _after(self, ts: int, median_minutes: float) -> int:
        """A customer's own pace: a log-normal delay after ``ts``."""
        return ts + 20 + int(self.rng.lognormvariate(math.log(median_minutes * 60), 0.8))

    def _response_time(self, ts: int, median_minutes: float) -> int:
        """When the brand answers a post made at ``ts``: the next staffed moment plus a delay."""
        ts += 30
        index = bisect_right(self.staffed_closes, ts)
        if index == len(self.staffed):
            return self.end_ts + 86400
        opens = self.staffed[index][0]
        median = median_minutes * 60
        delay = min(self.rng.lognormvariate(math.log(median), 0.7), 8 * median)
        return max(ts, opens) + int(delay)

    # -- people and texts --------------------------------------------------------------------

    def _brand_mention(self) -> str:
        if self.platform == "facebook":
            return self.plan.display_name.split()[0]
        if self.platform == "mastodon":
            return "@" + self.plan.handle.partition("@")[0]
        return "@" + self.plan.handle

    def _customer(self) -> _Customer:
        rng = self.rng
        if self.recent_customers and rng.random() < _REPEAT_CUSTOMER_RATE:
            return _pick(rng, self.recent_customers)
        first, last = _pick(rng, _FIRST_NAMES), _pick(rng, _LAST_NAMES)
        number = _randint(rng, 1, 99)
        platform = self.platform
        if platform == "x":
            handle = _pick(rng, (
                f"{first}{last[0]}{number}", f"{first}_{last}", f"{first.title()}{last.title()}",
                f"real{first}{number}", f"{first}{last}{number}"
            ))[:15]  # fmt: skip
            mention = "@" + handle
        elif platform == "instagram":
            handle = _pick(rng, (f"{first}.{last}", f"{first}_{last}{number}", f"{first}{number}"))
            mention = "@" + handle
        elif platform == "facebook":
            handle = f"{first.title()} {last.title()}"
            mention = first.title()
        elif platform == "mastodon":
            user = _pick(rng, (first, f"{first}{number}", f"{first}_{last}"))
            handle = f"{user}@{_pick(rng, _CUSTOMER_INSTANCES)}"
            mention = "@" + user
        else:
            handle = _pick(rng, (f"{first}{last}.bsky.social", f"{first}{number}.bsky.social",
                                 f"{first}.{last}.example"))  # fmt: skip
            mention = "@" + handle
        email = f"{first}.{last}{number}@{_pick(rng, ('example.com', 'example.org'))}"
        customer = _Customer(handle, _platform_user_id(platform, handle), mention, email)
        if len(self.recent_customers) >= 64:
            self.recent_customers[rng.randrange(64)] = customer
        else:
            self.recent_customers.append(customer)
        return customer

    def _text(self, templates: Sequence[_Template], customer: _Customer | None = None) -> str:
        template = _pick(self.rng, templates)
        if not template.fields:
            return template.text
        values: dict[str, str] = {}
        for name in template.fields:
            if name == "h":
                values[name] = self.brand_mention
            elif name == "c":
                values[name] = customer.mention if customer else ""
            elif name == "email" and customer:
                values[name] = customer.email
            else:
                values[name] = _SLOTS[name](self.rng)
        return template.text.format_map(values).strip()

    # -- posts -----------------------------------------------------------------------------

    def _node(
        self,
        ts: int,
        author: str,
        author_id: str,
        by_brand: bool,
        text: str,
        parent: _Node | None,
        source: str | None,
        automated: bool | None,
        keep: bool = True,
    ) -> _Node:
        post_id, url, root_ref = self.ids.post_id(self.platform, ts, author, author_id, parent)
        thread = parent.thread if parent is not None else post_id
        record = {
            "kind": "post",
            "platform": self.platform,
            "account": self.plan.handle,
            "id": post_id,
            "author": author,
            "author_id": author_id,
            "by_brand": by_brand,
            "created_at": _iso(ts),
            "text": text,
            "in_reply_to": parent.id if parent is not None else None,
            "thread": thread,
            "visibility": "public",
            "deleted_by": None,
            "url": url,
            "source": source,
            "automated": automated,
        }
        self.order += 1
        node = _Node(ts, self.order, post_id, thread, root_ref, author, record)
        if keep:
            self.episode_posts.append(node)
        return node

    def _customer_post(
        self, ts: int, customer: _Customer, text: str, parent: _Node | None
    ) -> _Node:
        sources = _CUSTOMER_SOURCES.get(self.platform)
        source = _pick(self.rng, sources) if sources else None
        return self._node(
            ts, customer.handle, customer.author_id, False, text, parent, source, None
        )

    def _brand_post(
        self, ts: int, text: str, parent: _Node | None, *, bot: bool = False, keep: bool = True
    ) -> _Node:
        platform = self.platform
        if bot:
            # Bot replies name their tool on every platform, so AUT001 has a signal even where
            # the platform does not label automated posts.
            source: str | None = _pick(self.rng, _BOT_SOURCES)
        elif platform in _NAMES_SOURCE:
            source = _pick(self.rng, _BRAND_HUMAN_SOURCES[platform])
        else:
            source = None
        automated = bot if platform in _LABELS_AUTOMATION else None
        return self._node(
            ts, self.plan.handle, self.brand_id, True, text, parent, source, automated, keep
        )

    def _brand_reply(self, ts: int, text: str, parent: _Node, agent: str | None) -> _Node:
        text = _in_own_words(text, f"{self.plan.handle}/{ts}/{parent.id}")
        return self._brand_post(ts, f"{text} {agent}" if agent else text, parent)

    def _agent(self) -> str | None:
        signatures = self.behaviour.signatures
        return _pick(self.rng, signatures) if signatures else None

    def _remove(self, node: _Node, by: str) -> None:
        """The brand or the author deletes a post, or the brand hides it."""
        if by == "hidden":
            if "hidden" in self.observes:
                node.record["visibility"] = "hidden"
            return
        if "deleted" in self.observes:
            node.record["visibility"] = "deleted"
            node.record["deleted_by"] = by
        elif by != "author":
            # The platform never shows it. Only unanswered complaints are removed this way, so
            # no reply is left pointing at a missing post.
            self.episode_posts.remove(node)

    # -- episodes --------------------------------------------------------------------------

    def _announcement(self) -> None:
        rng = self.rng
        ts = self._brand_post_time(self.cutoff_ts)
        post = self._brand_post(ts, self._text(_ANNOUNCEMENTS), None)
        replies = _randint(rng, 0, 12 if self.platform == "instagram" else 6)
        for _ in range(replies):
            reply_ts = self._after(ts, 45)
            if reply_ts <= self.cutoff_ts:
                self._customer_episode(reply_ts, post)

    def _opening_text(self, templates: Sequence[_Template], customer: _Customer) -> str:
        if self.rng.random() < self.behaviour.non_english_rate:
            return self._text(_NON_ENGLISH_COMPLAINTS, customer)
        return self._text(templates, customer)

    def _spam(self, ts: int, parent: _Node | None) -> None:
        post = self._customer_post(ts, self._customer(), self._text(_SPAM), parent)
        if self.rng.random() < 0.5:
            self._remove(post, "hidden")

    def _praise(self, ts: int, parent: _Node | None) -> None:
        customer = self._customer()
        post = self._customer_post(ts, customer, self._text(_PRAISE), parent)
        if self.rng.random() < self.behaviour.answer_rate:
            reply_ts = self._response_time(ts, self.behaviour.first_response_minutes)
            if reply_ts <= self.end_ts:
                if self.rng.random() < self.behaviour.canned_reply_rate:
                    self._brand_post(reply_ts, self._text(_CANNED_THANKS_REPLIES), post)
                else:
                    text = self._text(_PRAISE_REPLIES, customer)
                    self._brand_reply(reply_ts, text, post, self._agent())

    def _question(self, ts: int, parent: _Node | None) -> None:
        behaviour, rng = self.behaviour, self.rng
        customer = self._customer()
        questions, answers = _pick(rng, _QUESTIONS)
        post = self._customer_post(ts, customer, self._text(questions, customer), parent)
        if rng.random() < behaviour.bot_reply_rate:
            self._brand_post(ts + _randint(rng, 2, 40), self._text(_BOT_REPLIES), post, bot=True)
        if rng.random() >= behaviour.answer_rate:
            return
        reply_ts = self._response_time(ts, behaviour.first_response_minutes)
        if reply_ts > self.end_ts:
            return
        if rng.random() < behaviour.canned_reply_rate:
            reply = self._brand_post(reply_ts, self._text(_CANNED), post)
        else:
            text = self._text(answers, customer)
            reply = self._brand_reply(reply_ts, text, post, self._agent())
        self._maybe_thanks(customer, reply, None)

    def _maybe_thanks(self, customer: _Customer, brand_post: _Node, agent: str | None) -> None:
        behaviour, rng = self.behaviour, self.rng
        if rng.random() >= behaviour.thanks_rate:
            return
        ts = self._after(brand_post.ts, 30)
        if ts > self.cutoff_ts:
            return
        templates = _NON_ENGLISH_THANKS if rng.random() < behaviour.non_english_rate else _THANKS
        thanks = self._customer_post(ts, customer, self._text(templates), brand_post)
        if rng.random() >= behaviour.answer_rate:
            return
        reply_ts = self._response_time(ts, behaviour.next_response_minutes)
        if reply_ts > self.end_ts:
            return
        if rng.random() < behaviour.canned_reply_rate:
            self._brand_post(reply_ts, self._text(_CANNED_THANKS_REPLIES), thanks)
        else:
            text = self._text(_THANKS_REPLIES, customer)
            self._brand_reply(reply_ts, text, thanks, agent or self._agent())

    def _complaint(self, ts: int, parent: _Node | None, topic: str) -> None:
        behaviour, rng = self.behaviour, self.rng
        customer = self._customer()
        first = self._customer_post(
            ts, customer, self._opening_text(_COMPLAINTS[topic], customer), parent
        )
        moderation = rng.random()
        if moderation < behaviour.delete_complaint_rate:
            # X and Bluesky only say that a post is gone; a brand's own Mastodon instance says who.
            self._remove(first, "brand" if self.platform == "mastodon" else "unknown")
            return
        if moderation < behaviour.delete_complaint_rate + behaviour.hide_complaint_rate:
            self._remove(first, "hidden")
            return
        last = first
        for _ in range(3):
            if rng.random() >= behaviour.burst_rate:
                break
            burst_ts = self._after(last.ts, 12)
            if burst_ts > self.cutoff_ts:
                break
            last = self._customer_post(burst_ts, customer, self._text(_BURSTS), last)
        if rng.random() < behaviour.bot_reply_rate:
            self._brand_post(ts + _randint(rng, 2, 40), self._text(_BOT_REPLIES), first, bot=True)
        if rng.random() >= behaviour.answer_rate:
            return
        last_brand = self._complaint_exchanges(customer, last, topic)
        if last_brand is not None:
            if rng.random() < _AUTHOR_DELETE_RATE:
                self._remove(first, "author")
            self._maybe_thanks(customer, last_brand, None)

    def _complaint_exchanges(self, customer: _Customer, last: _Node, topic: str) -> _Node | None:
        """Public back-and-forth on one complaint; returns the brand's last public post."""
        behaviour, rng = self.behaviour, self.rng
        limit = behaviour.max_public_exchanges
        exchanges = min(limit, 1 + int(limit * rng.random() ** 1.5))
        to_dm = rng.random() < behaviour.dm_rate
        asks_in_public = not to_dm and rng.random() < behaviour.public_private_info_rate
        agent = self._agent()
        keeps_going = (1.0 + behaviour.answer_rate) / 2
        brand_post: _Node | None = None
        for exchange in range(exchanges):
            median = behaviour.next_response_minutes
            if exchange == 0:
                median = behaviour.first_response_minutes
            reply_ts = self._response_time(last.ts, median)
            if reply_ts > self.end_ts:
                return brand_post
            final = exchange == exchanges - 1
            brand_post = self._complaint_reply(
                reply_ts, customer, last, topic, agent, final and to_dm,
                exchange == 0 and asks_in_public, final, exchange == 0,
            )  # fmt: skip
            if final:
                break
            customer_ts = self._after(reply_ts, 25)
            if customer_ts > self.cutoff_ts:
                return brand_post
            leak = exchange == 0 and asks_in_public
            text = self._text(_PUBLIC_INFO_LEAKS if leak else _FOLLOW_UPS[topic], customer)
            last = self._customer_post(customer_ts, customer, text, brand_post)
            if rng.random() >= keeps_going:
                return brand_post
        if to_dm and brand_post is not None:
            resolved_ts = self._conversation(customer, last, brand_post.ts, topic)
            if resolved_ts is not None and rng.random() < behaviour.public_followup_rate:
                follow_ts = resolved_ts + _randint(rng, 120, 1800)
                if follow_ts <= self.end_ts:
                    text = self._text(_PUBLIC_FOLLOW_UPS, customer)
                    brand_post = self._brand_reply(follow_ts, text, last, agent)
        return brand_post

    def _complaint_reply(
        self,
        ts: int,
        customer: _Customer,
        parent: _Node,
        topic: str,
        agent: str | None,
        dm_request: bool,
        public_info_ask: bool,
        final: bool,
        first: bool,
    ) -> _Node:
        behaviour, rng = self.behaviour, self.rng
        if rng.random() < behaviour.canned_reply_rate:
            return self._brand_post(ts, self._text(_CANNED), parent)
        if dm_request:
            templates: Sequence[_Template] = _DM_REQUESTS
        elif public_info_ask:
            templates = _PUBLIC_INFO_ASKS
        elif rng.random() < behaviour.defensive_rate:
            templates = _DEFENSIVE
        elif first and not final:
            templates = _FIRST_REPLIES[topic]
        elif final and (not first or rng.random() < 0.5):
            templates = _RESOLUTIONS[topic]
        elif final:
            templates = _FIRST_REPLIES[topic]
        else:
            templates = _TROUBLESHOOTING
        return self._brand_reply(ts, self._text(templates, customer), parent, agent)

    def _conversation(
        self, customer: _Customer, linked: _Node | None, start_ts: int, topic: str
    ) -> int | None:
        """A private conversation; returns when it was resolved, if it was."""
        behaviour, rng = self.behaviour, self.rng
        messages: list[dict[str, Any]] = []

        def message(ts: int, by_brand: bool, text: str) -> None:
            messages.append({
                "id": self.ids.message_id(self.platform, ts),
                "by_brand": by_brand,
                "created_at": _iso(ts),
                "text": text,
            })  # fmt: skip

        ts = first_ts = self._after(start_ts, 8)
        if ts > self.end_ts:
            return None
        opener = _DM_OPENERS if linked is not None else _DM_DIRECT_OPENERS
        message(ts, False, self._text(opener, customer))
        resolved_ts: int | None = None
        resolves = rng.random() < behaviour.dm_resolve_rate
        rounds = _randint(rng, 1, 3)
        for round_number in range(rounds):
            ts = self._response_time(ts, behaviour.next_response_minutes)
            if ts > self.end_ts:
                break
            if round_number == rounds - 1:
                if resolves:
                    message(ts, True, self._text(_DM_RESOLUTIONS[topic], customer))
                    resolved_ts = ts
                else:
                    message(ts, True, self._text(_DM_CHECKING, customer))
                break
            questions, answers = _pick(rng, _DM_QUESTIONS)
            message(ts, True, self._text(questions, customer))
            ts = self._after(ts, 10)
            if ts > self.end_ts:
                break
            message(ts, False, self._text(answers, customer))
        if "conversations" in self.observes:
            self.episode_conversations.append((first_ts, {
                "kind": "conversation",
                "platform": self.platform,
                "account": self.plan.handle,
                "id": self.ids.conversation_id(self.platform, self.brand_id, customer.author_id),
                "customer": customer.handle,
                "messages": messages,
                "resolved_at": _iso(resolved_ts) if resolved_ts is not None else None,
                "linked_post": linked.id if linked is not None else None,
            }))  # fmt: skip
        return resolved_ts

    def _crisis(self, max_posts: int) -> None:
        """An hour in which many customers report the same outage."""
        rng = self.rng
        for _ in range(1000):
            start = min(self._customer_time(), self.cutoff_ts - 3600)
            local_hour = (start + self.local_offset) // 3600 % 24
            if 9 <= local_hour <= 17:
                break
        if self.behaviour.crisis_statement:
            statement_ts = start + _randint(rng, 600, 1500)
            self._brand_post(statement_ts, self._text(_CRISIS_STATEMENTS), None)
        else:
            # No promo posts either, or a check could take one for a statement.
            self.silent_from, self.silent_until = start - 3 * 3600, start + 4 * 3600
        for _ in range(min(60, max(10, max_posts // 3))):
            posts_before = len(self.episode_posts)
            conversations_before = len(self.episode_conversations)
            self._complaint(start + _randint(rng, 0, 3599), None, "outage")
            if len(self.episode_posts) > max_posts:
                # Whole complaints only: cutting one short could drop the brand's answer.
                del self.episode_posts[posts_before:]
                del self.episode_conversations[conversations_before:]
                break


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def generate_records(
    posts: int,
    accounts: int,
    seed: int,
    *,
    end: datetime = DEFAULT_END,
    days: int = 14,
    plans: Sequence[AccountPlan] | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the records of a demo bundle, account after account.

    ``posts`` is the exact number of post records over all accounts, split evenly (the first
    ``posts % accounts`` accounts get one more); conversation records come on top. Each account's
    records come together: profile, window, posts by ``created_at``, then conversations.
    """
    if posts < 0:
        raise ValueError("posts must not be negative")
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if end.tzinfo is None or end.utcoffset() is None:
        raise ValueError("end must be timezone-aware")
    chosen = list(plans) if plans is not None else plan_accounts(accounts, seed)
    if len(chosen) != accounts:
        raise ValueError(f"{len(chosen)} plans given for {accounts} accounts")
    keys = [(plan.platform, plan.handle) for plan in chosen]
    if len(set(keys)) != len(keys):
        raise ValueError("two plans share a platform and handle")
    for plan in chosen:
        if plan.platform not in OBSERVES:
            raise ValueError(f"unknown platform {plan.platform!r}")
    return _generate(posts, chosen, seed, end, days)


def _generate(
    posts: int, plans: list[AccountPlan], seed: int, end: datetime, days: int
) -> Iterator[dict[str, Any]]:
    end_utc = end.astimezone(UTC)
    start_utc = end_utc - timedelta(days=days)
    # Post times are whole seconds inside the window.
    start_ts = math.ceil(start_utc.timestamp())
    end_ts = math.floor(end_utc.timestamp())
    ids = _IdMint()
    share, extra = divmod(posts, len(plans))
    for index, plan in enumerate(plans):
        budget = _Budget(share + (1 if index < extra else 0), start_ts, end_ts)
        rng = random.Random(f"social-care-auditor/{seed}/{index}/{plan.platform}/{plan.handle}")
        generator = _AccountGenerator(
            plan, budget, rng, ids, end_utc.isoformat(), start_utc.isoformat()
        )
        yield from generator.records()
