"""PRF001 Response hours posted.

The brand's profile must tell customers when to expect replies: a line in the bio such as
"We reply 8am-5pm ET, Mon-Fri" or "24/7", or the platform's own hours field.

## Why it matters
Customers who ask on social media expect an answer within the hour. A brand that cannot answer
around the clock keeps that expectation fair only by saying when it is there; without it, every
evening and weekend looks like being ignored.

## Example
Fails: a bio that reads "Official support for Acme products. Tweets by the Acme care team."

Passes: "Official Acme support. We reply 8am-8pm ET, 7 days a week." or a Facebook page whose
hours field is filled in.

## How to fix
Add the hours the team answers, with their time zone, to the bio (or the platform's hours field),
for example "Here to help Mon-Fri 9am-6pm GMT".
"""

from __future__ import annotations

import re

from auditor.check import AuditContext, Check, CheckOutput, Evidence, Needs

_TIME = r"\d{1,2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\.?)?"
_RANGE = re.compile(rf"\b{_TIME}\s*(?:-|–|—|to|until|till|and)\s*{_TIME}", re.IGNORECASE)
_CLOCK_MARK = re.compile(r"\d\s*(?:[ap]\.?m\b|[:.]\d{2})", re.IGNORECASE)
_ALWAYS = re.compile(
    r"\b24\s*/\s*7\b|\b24x7\b|\b24 hours a day\b|\baround the clock\b|\bround[- ]the[- ]clock\b",
    re.IGNORECASE,
)
_DAYS_OR_ZONE = re.compile(
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\bdaily\b|\bweekdays?\b|\bdays a week\b|"
    r"\b(?:[ECMP][SD]?T|GMT|UTC|BST|CET|CEST|AEST|JST|IST|ET|PT|CT|MT)\b",
    re.IGNORECASE,
)


def states_hours(text: str) -> bool:
    """Whether free text tells readers when the brand is there."""
    if _ALWAYS.search(text):
        return True
    for match in _RANGE.finditer(text):
        if _CLOCK_MARK.search(match.group(0)) or _DAYS_OR_ZONE.search(text):
            return True
    return False


def run(ctx: AuditContext) -> CheckOutput:
    profile = ctx.account.profile
    assert profile is not None  # guaranteed by needs.profile
    bio = " ".join((profile.bio or "").split())
    if profile.hours:
        return CheckOutput(
            summary="hours stated in the platform's hours field",
            metrics={"hours_source": "platform_field", "hours": profile.hours},
        )
    if states_hours(bio):
        return CheckOutput(
            summary="hours stated in the bio", metrics={"hours_source": "bio", "hours": None}
        )
    quoted = f"“{bio}”" if bio else "an empty bio"
    finding = ctx.finding(
        "profile",
        f"the profile does not say when the brand responds: {quoted}",
        evidence=Evidence(urls=(profile.website,) if profile.website else (), excerpt=bio[:280]),
    )
    return CheckOutput(
        findings=[finding],
        summary="no response hours on the profile",
        metrics={"hours_source": None, "hours": None},
    )


CHECK = Check(
    id="PRF001",
    title="Response hours posted",
    version="1.0.0",
    severity="medium",
    rationale="Customers can only expect replies when the brand says when it is there.",
    remediation="State the answering hours and time zone in the bio or the hours field.",
    docs=__doc__ or "",
    run=run,
    needs=Needs(profile=True),
)
