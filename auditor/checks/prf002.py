"""PRF002 Support channel stated.

The profile tells customers where to get help: a help-centre link ("help.acme.example",
"acme.example/support"), an invitation to message the brand ("DM us", "send us a private
message"), a phone number or an email address. The bio, the website field and profile fields
(Mastodon) are read. The metrics list each channel found. When the platform did not return
one of those fields (the profile's ``not_returned``) and what did arrive names no channel, the
check is ``incomplete`` and names the fields; an empty bio fails.

## Why it matters
A customer with a problem looks at the profile first. Without a channel there, the complaint goes
on the public timeline, and an account number may go with it.

## Example
Fails: "Official Acme account. News, launches and more."

Passes: "Need help? DM us or visit help.acme.example" or "Support: care@acme.example,
0800 123 4567".

## How to fix
Add one line to the bio: where to go for help (a help-centre link, "DM us", a phone number or an
email address).

## Known problems
A link counts as a help link when a part of its host or path starts with a help word, so
"careers.acme.example" (care...) passes as a support channel. Any run of seven or more digits
that is not a date, a time range or a thousands-separated count is a phone number: "Company no.
01234567" passes.

A plain homepage link ("acme.example") is not a channel even when its help pages are one click
away, and help words and "DM us" phrasings are read in English (plus a few German, French and
Spanish help words): a channel stated in another language may be missed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from auditor.check import AuditContext, Check, CheckOutput, Needs
from auditor.checks.kinds import PROFILE
from auditor.checks.profile_statement import not_stated
from auditor.model import Profile

# The profile fields channels are read from (``profile_texts``).
CHANNELS_READ_FROM = ("bio", "website", "fields")
_HELP_WORDS = r"help|support|care|contact|faq|service|assist|kundenservice|aide|ayuda|hilfe"
_URL = re.compile(
    r"(?<![@\w.])(?:https?://)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:/[^\s,;)]*)?",
    re.IGNORECASE,
)
_HELP_URL = re.compile(rf"(?:^|[./-])(?:{_HELP_WORDS})", re.IGNORECASE)
_DIRECT_MESSAGE = re.compile(
    r"\b(?:dm|pm|inbox|message)\s+(?:us|me)\b|\bsend\s+(?:us\s+)?an?\s+(?:dm|pm|direct message|"
    r"private message|message)\b|\bdirect\s+message\b|\bdms?\s+(?:are\s+)?open\b|"
    r"\bprivate\s+message\b|\blive\s+chat\b|\bchat\s+with\s+us\b|\bwhats\s?app\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w:])(?:\+|\b)\d[\d ().-]{5,}\d\b")
_MIN_PHONE_DIGITS = 7
# Years and dates have the digits of a phone number: "2024-2025", "2026-11-16"; so do hours
# written with dots ("09.00-17.00") and counts with thousands separators ("10.000.000").
_YEARS_OR_DATE = re.compile(r"^(?:19|20)\d{2}(?:\s*[-/.]\s*\d{1,4}){1,2}$")
_TIME_RANGE = re.compile(r"^\d{1,2}[.:][0-5]\d\s*-\s*\d{1,2}[.:][0-5]\d$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


def _not_a_phone(candidate: str) -> bool:
    return any(p.match(candidate) for p in (_YEARS_OR_DATE, _TIME_RANGE, _THOUSANDS))


def profile_texts(profile: Profile) -> list[str]:
    texts = [profile.bio or "", profile.website or ""]
    fields = profile.extra.get("fields")
    if isinstance(fields, list):
        texts += [
            f"{f.get('name', '')}: {f.get('value', '')}" for f in fields if isinstance(f, Mapping)
        ]
    return [t for t in texts if t]


def channels(text: str) -> dict[str, list[str]]:
    """Support channels in ``text``, by kind: help_url, direct_message, phone, email."""
    found: dict[str, list[str]] = {}
    emails = [m.group(0) for m in _EMAIL.finditer(text)]
    without_emails = _EMAIL.sub(" ", text)
    urls = [m.group(0) for m in _URL.finditer(without_emails) if _HELP_URL.search(_host_path(m))]
    phones = [
        m.group(0).strip()
        for m in _PHONE.finditer(without_emails)
        if sum(c.isdigit() for c in m.group(0)) >= _MIN_PHONE_DIGITS
        and not _not_a_phone(m.group(0).strip())
    ]
    messages = [m.group(0) for m in _DIRECT_MESSAGE.finditer(text)]
    for kind, values in (
        ("help_url", urls),
        ("direct_message", messages),
        ("phone", phones),
        ("email", emails),
    ):
        if values:
            found[kind] = list(dict.fromkeys(values))
    return found


def _host_path(match: re.Match[str]) -> str:
    return re.sub(r"^https?://", "", match.group(0), flags=re.IGNORECASE)


def run(ctx: AuditContext) -> CheckOutput:
    profile = ctx.account.profile
    assert profile is not None  # guaranteed by needs.profile
    found: dict[str, list[str]] = {}
    for text in profile_texts(profile):
        for kind, values in channels(text).items():
            found.setdefault(kind, [])
            found[kind] += [v for v in values if v not in found[kind]]
    metrics = {"channels": sorted(found), "found": found}
    if found:
        return CheckOutput(
            summary="support channel stated: " + ", ".join(k.replace("_", " ") for k in found),
            metrics=metrics,
        )
    return not_stated(
        ctx,
        profile,
        what="support channel",
        finding="where customers can get help",
        read_from=CHANNELS_READ_FROM,
        metrics=metrics,
    )


CHECK = Check(
    id="PRF002",
    title="Support channel stated",
    version="1.2.1",
    severity="low",
    docs=__doc__ or "",
    run=run,
    needs=Needs(profile=True, data=PROFILE, refuted_by=PROFILE),
)
