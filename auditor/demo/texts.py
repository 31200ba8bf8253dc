"""The demo generator's texts: the corpora in ``data/`` (YAML, shipped in the wheel), read once.

``words.yaml`` holds names and the values of the slots that texts pick from a list,
``customers.yaml`` what customers write, ``brand.yaml`` what brands write and ``questions.yaml``
questions with the answers that fit them. This module turns them into typed, pre-parsed
templates and fills their slots; which text is used when is the generator's business.

Imports ``auditor.demo.draw`` and nothing else of the project.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from auditor.demo.draw import pick, randint, stable_int

# The C loader reads the corpora about ten times faster than the pure-Python one.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Slots the generator fills from the post itself rather than from ``SLOTS``: the brand's mention,
# the customer's mention and the customer's own e-mail address.
CONTEXT_SLOTS: frozenset[str] = frozenset({"h", "c", "email"})


@dataclass(frozen=True, slots=True)
class Template:
    """A text with ``{slot}`` fields, parsed once."""

    text: str
    fields: tuple[str, ...]


Templates = tuple[Template, ...]


def _load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_LOADER)
    if not isinstance(data, dict):
        raise ValueError(f"demo data {name}: expected a mapping")
    return data


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"demo data {where}: expected a non-empty list of strings")
    return tuple(value)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"demo data {where}: expected a string")
    return value


def _apps(value: Any, where: str) -> tuple[str | None, ...]:
    # null is an app too: a post whose API names no client.
    if not isinstance(value, list) or not all(v is None or isinstance(v, str) for v in value):
        raise ValueError(f"demo data {where}: expected a list of app names or nulls")
    return tuple(value)


def parse_templates(value: Any, where: str) -> Templates:
    """Texts as templates; refuses a slot that nothing fills."""
    formatter = string.Formatter()
    parsed = []
    for text in _strings(value, where):
        fields = tuple(dict.fromkeys(f for _, f, _, _ in formatter.parse(text) if f))
        unknown = [f for f in fields if f not in CONTEXT_SLOTS and f not in SLOTS]
        if unknown:
            raise ValueError(f"demo data {where}: unknown slot {{{unknown[0]}}} in {text!r}")
        parsed.append(Template(text, fields))
    return tuple(parsed)


def _by_topic(value: Any, where: str) -> dict[str, Templates]:
    if not isinstance(value, dict):
        raise ValueError(f"demo data {where}: expected templates by topic")
    return {
        str(topic): parse_templates(texts, f"{where}.{topic}") for topic, texts in value.items()
    }


def _pairs(value: Any, where: str) -> tuple[tuple[Templates, Templates], ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"demo data {where}: expected a list of asks with their answers")
    return tuple(
        (
            parse_templates(pair["asks"], f"{where}.asks"),
            parse_templates(pair["answers"], f"{where}.answers"),
        )
        for pair in value
    )


# --- words.yaml: names, apps and slot values --------------------------------------------------

_WORDS = _load("words.yaml")
BRANDS = _strings(_WORDS["brands"], "brands")
HANDLE_SUFFIXES = _strings(_WORDS["handle_suffixes"], "handle_suffixes")
BRAND_INSTANCES = _strings(_WORDS["brand_instances"], "brand_instances")
AGENT_SIGNATURES = _strings(_WORDS["agent_signatures"], "agent_signatures")
FIRST_NAMES = _strings(_WORDS["first_names"], "first_names")
LAST_NAMES = _strings(_WORDS["last_names"], "last_names")
CUSTOMER_INSTANCES = _strings(_WORDS["customer_instances"], "customer_instances")
EMAIL_DOMAINS = _strings(_WORDS["email_domains"], "email_domains")
CUSTOMER_APPS: dict[str, tuple[str | None, ...]] = {
    platform: _apps(apps, f"apps.customers.{platform}")
    for platform, apps in _WORDS["apps"]["customers"].items()
}
BRAND_AGENT_APPS: dict[str, tuple[str | None, ...]] = {
    platform: _apps(apps, f"apps.brand_agents.{platform}")
    for platform, apps in _WORDS["apps"]["brand_agents"].items()
}
BOT_APPS = _strings(_WORDS["apps"]["bots"], "apps.bots")
_SLOT_VALUES: dict[str, tuple[str, ...]] = {
    slot: _strings(values, f"slots.{slot}") for slot, values in _WORDS["slots"].items()
}


def _listed(slot: str) -> Callable[[random.Random], str]:
    values = _SLOT_VALUES[slot]
    return lambda rng: pick(rng, values)


def _order_number(rng: random.Random) -> str:
    pattern = rng.randrange(4)
    if pattern == 0:
        return f"#{randint(rng, 100000, 9999999)}"
    if pattern == 1:
        return f"{pick(rng, 'ABCDEFGHKLMNPRSTW')}{randint(rng, 10000, 999999)}"
    if pattern == 2:
        return f"#{pick(rng, 'ABCDEFGHKLMNPRSTW')}-{randint(rng, 1000, 99999)}"
    return f"no. {randint(rng, 1000000, 99999999)}"


def _postcode(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"{randint(rng, 10000, 99999)}"  # a US ZIP code
    district = f"{pick(rng, 'BDLMS')}{randint(rng, 1, 20)}"
    return f"{district} {randint(rng, 1, 9)}{pick(rng, 'ABDEHJ')}{pick(rng, 'NPQRTUW')}"


def _email(rng: random.Random) -> str:
    first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
    return f"{first}.{last}{randint(rng, 1, 99)}@{pick(rng, EMAIL_DOMAINS)}"


# How each slot of a template is filled; the order of the draws is part of every bundle's bytes.
SLOTS: dict[str, Callable[[random.Random], str]] = {
    "order": _order_number,
    "days": lambda r: str(randint(r, 2, 12)),
    "weeks": lambda r: str(randint(r, 2, 6)),
    "hours": lambda r: str(randint(r, 2, 30)),
    "minutes": lambda r: str(randint(r, 5, 55)),
    "item": _listed("item"),
    "city": _listed("city"),
    "weekday": _listed("weekday"),
    "amount": lambda r: f"{randint(r, 9, 480)}.{randint(r, 0, 99):02d}",
    "device": _listed("device"),
    "feature": _listed("feature"),
    "country": _listed("country"),
    "email": _email,
    "acct": lambda r: str(randint(r, 10_000_000, 9_999_999_999)),
    "code": lambda r: f"{pick(r, 'EX')}-{randint(r, 100, 999)}",
    "version": lambda r: f"{randint(r, 4, 7)}.{randint(r, 0, 14)}.{randint(r, 0, 9)}",
    "eta": _listed("eta"),
    "opens": _listed("opens"),
    "closes": _listed("closes"),
    "ticket": lambda r: f"{randint(r, 100000, 999999)}",
    "last4": lambda r: f"{randint(r, 0, 9999):04d}",
    "postcode": _postcode,
}


def fill(template: Template, rng: random.Random, context: Mapping[str, str]) -> str:
    """The template's text with its slots filled: ``context`` ones as given, others drawn."""
    if not template.fields:
        return template.text
    values = {
        name: context[name] if name in context else SLOTS[name](rng) for name in template.fields
    }
    return template.text.format_map(values).strip()


# --- customers.yaml ---------------------------------------------------------------------------

_CUSTOMERS = _load("customers.yaml")
COMPLAINTS = _by_topic(_CUSTOMERS["complaints"], "complaints")
NON_ENGLISH_COMPLAINTS = parse_templates(
    _CUSTOMERS["non_english_complaints"], "non_english_complaints"
)
FOLLOW_UPS = _by_topic(_CUSTOMERS["follow_ups"], "follow_ups")
BURSTS = parse_templates(_CUSTOMERS["bursts"], "bursts")
PUBLIC_INFO_LEAKS = parse_templates(_CUSTOMERS["public_info_leaks"], "public_info_leaks")
PRAISE = parse_templates(_CUSTOMERS["praise"], "praise")
SPAM = parse_templates(_CUSTOMERS["spam"], "spam")
THANKS = parse_templates(_CUSTOMERS["thanks"], "thanks")
NON_ENGLISH_THANKS = parse_templates(_CUSTOMERS["non_english_thanks"], "non_english_thanks")
DM_OPENERS = parse_templates(_CUSTOMERS["dm_openers"], "dm_openers")
DM_DIRECT_OPENERS = parse_templates(_CUSTOMERS["dm_direct_openers"], "dm_direct_openers")

# --- brand.yaml -------------------------------------------------------------------------------

_BRAND = _load("brand.yaml")
_PROFILE = _BRAND["profile"]
PROFILE_INTROS = _strings(_PROFILE["intros"], "profile.intros")
PROFILE_ALWAYS_OPEN = _strings(_PROFILE["always_open"], "profile.always_open")
PROFILE_STATED_HOURS = _string(_PROFILE["stated_hours"], "profile.stated_hours")
PROFILE_SUPPORT_CHANNELS = _strings(_PROFILE["support_channels"], "profile.support_channels")
PROFILE_NO_SUPPORT_CHANNEL = _strings(_PROFILE["no_support_channel"], "profile.no_support_channel")
ANNOUNCEMENTS = parse_templates(_BRAND["announcements"], "announcements")
CRISIS_STATEMENTS = parse_templates(_BRAND["crisis_statements"], "crisis_statements")
FIRST_REPLIES = _by_topic(_BRAND["first_replies"], "first_replies")
TROUBLESHOOTING = parse_templates(_BRAND["troubleshooting"], "troubleshooting")
RESOLUTIONS = _by_topic(_BRAND["resolutions"], "resolutions")
DM_REQUESTS = parse_templates(_BRAND["dm_requests"], "dm_requests")
PUBLIC_INFO_ASKS = parse_templates(_BRAND["public_info_asks"], "public_info_asks")
DEFENSIVE = parse_templates(_BRAND["defensive"], "defensive")
CANNED = parse_templates(_BRAND["canned"], "canned")
CANNED_THANKS_REPLIES = parse_templates(_BRAND["canned_thanks_replies"], "canned_thanks_replies")
BOT_REPLIES = parse_templates(_BRAND["bot_replies"], "bot_replies")
PRAISE_REPLIES = parse_templates(_BRAND["praise_replies"], "praise_replies")
THANKS_REPLIES = parse_templates(_BRAND["thanks_replies"], "thanks_replies")
PUBLIC_FOLLOW_UPS = parse_templates(_BRAND["public_follow_ups"], "public_follow_ups")
DM_CHECKING = parse_templates(_BRAND["dm_checking"], "dm_checking")
DM_RESOLUTIONS = _by_topic(_BRAND["dm_resolutions"], "dm_resolutions")
_OWN_OPENERS = _strings(_BRAND["own_words"]["openers"], "own_words.openers")
_OWN_LINES = _strings(_BRAND["own_words"]["lines"], "own_words.lines")
_OWN_CLOSERS = _strings(_BRAND["own_words"]["closers"], "own_words.closers")

# --- questions.yaml ---------------------------------------------------------------------------

_QUESTIONS = _load("questions.yaml")
QUESTIONS = _pairs(_QUESTIONS["public"], "public")
DM_QUESTIONS = _pairs(_QUESTIONS["dm"], "dm")


def in_own_words(text: str, seed: str) -> str:
    """A stock answer with a greeting, a line and a sign-off of the agent's choosing.

    The choice comes from a hash of ``seed``, not the generator's random stream, so adding the
    variation leaves every other generated value as it was.
    """
    value = stable_int(seed)
    parts = []
    if value % 4:
        parts.append(_OWN_OPENERS[(value >> 4) % len(_OWN_OPENERS)])
    parts.append(text)
    if (value >> 12) % 5 < 3:
        parts.append(_OWN_LINES[(value >> 16) % len(_OWN_LINES)])
    if (value >> 24) % 4:
        parts.append(_OWN_CLOSERS[(value >> 28) % len(_OWN_CLOSERS)])
    return " ".join(parts)
