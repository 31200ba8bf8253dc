"""PRF001 Response hours posted.

The brand's profile must tell customers when to expect replies: the platform's own hours field
(Facebook's ``hours``), a Mastodon profile field, or a line in the bio such as "We reply 8am-5pm
ET, Mon-Fri", "Mon–Fri 9–17 CET", "9am to 6pm PT, 7 days a week" or "24/7". The metrics show the
hours read, in the ``hours`` shape that ``business_hours: {from_profile: true}`` and ``RSP004``
use. Hours that are stated but cannot be read (no time zone, an unusual form) pass, with a note
saying so. How text is read: ``auditor/hours_text.py`` and ``docs/sla.md``.

A field the platform did not return is not an empty one: when the answer lacked a field the
hours could be in (X answering without ``description``, Mastodon without ``fields``: the
profile's ``not_returned``) and what did arrive states none, the check is ``incomplete`` and
names the fields; an empty bio fails.

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

## Known problems
Any hours-like text counts, whatever it is about: "Streaming live 24/7" or "Store open 9-5
Mon-Sat" (shop hours, not reply hours) pass. Hours that are stated but cannot be read (no time
zone, an unusual form) pass too, with a note, by design.

Hours written without a time ("we answer weekday mornings", "office hours"), given only in a
pinned post, a linked page or an image, or in a language the reader does not know, are not seen,
and the check fails.
"""

from __future__ import annotations

from typing import Any

from auditor.analysis.business_hours import BusinessCalendar, CalendarError
from auditor.analysis.hours_text import HOURS_READ_FROM, states_hours
from auditor.analysis.sla import profile_hours
from auditor.check import AuditContext, Check, CheckOutput, Needs
from auditor.checks.kinds import PROFILE
from auditor.checks.profile_statement import not_stated

__all__ = ["CHECK", "states_hours"]

_SOURCES = {
    "platform_field": "the platform's hours field",
    "profile_field": "a profile field",
    "bio": "the bio",
}


def run(ctx: AuditContext) -> CheckOutput:
    profile = ctx.account.profile
    assert profile is not None  # guaranteed by needs.profile
    posted = profile_hours(ctx)
    if posted.source is not None:
        where = _SOURCES[posted.source]
        metrics = {
            "hours_source": posted.source,
            "hours": posted.hours,
            "hours_text": posted.fragment,
        }
        problem = posted.problem
        if posted.hours is not None:
            try:
                BusinessCalendar.from_config(posted.hours)
            except CalendarError as error:
                problem = str(error)
                metrics["hours"] = None
        if problem is None:
            return CheckOutput(summary=f"hours stated in {where}", metrics=metrics)
        quoted = f": “{posted.fragment}”" if posted.fragment else ""
        return CheckOutput(
            summary=f"hours stated in {where} but could not be read",
            metrics=metrics,
            notes=[f"the hours in {where} could not be read ({problem}){quoted}"],
        )
    none_read: dict[str, Any] = {"hours_source": None, "hours": None, "hours_text": None}
    return not_stated(
        ctx,
        profile,
        what="response hours",
        finding="when the brand responds",
        read_from=HOURS_READ_FROM,
        metrics=none_read,
    )


CHECK = Check(
    id="PRF001",
    title="Response hours posted",
    version="1.2.1",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    needs=Needs(profile=True, data=PROFILE, refuted_by=PROFILE),
)
