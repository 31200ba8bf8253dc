"""RSP004 Posted hours kept.

The hours a brand posts on its profile (read as ``PRF001`` reads them: the platform's hours
field, Mastodon profile fields, or the bio) are a promise. Of the customer posts addressed to
the brand while it says it is open, the share answered within the target (in business time of
the posted hours) must be at least a policy share. And a brand that posts "24/7" must be there
at night: when it answers nothing at night (local 22:00-06:00) on most of the nights on which
customers wrote to it, it fails. Posts whose deadline falls after the window's end are pending.
A closing post ("thanks!", "done, thanks!", 👍 after the brand's answer) awaits no answer and
is not counted, by day or at night. Definitions: ``docs/sla.md``.

## Why it matters
Posted hours set the customer's expectation. Missing them is worse than posting none: the
customer was told someone would be there.

## Example
Fails: the bio says "We reply 8am-5pm ET, Mon-Fri" and only 70% of the posts made in those hours
get an answer within 60 business minutes; or the bio says "24/7" and the brand answers nothing
between 22:00 and 06:00 on 9 of the 12 nights customers wrote.

Passes: 95% of the posts made in the posted hours answered within the hour.

## How to fix
Staff the hours you post, or post the hours you staff.

## Known problems
The hours are read from the profile as fetched and applied to the whole window: a brand that
changed its posted hours during the window is judged against the new ones. Text that reads as
hours but is not about replies ("24/7 streaming", shop opening hours) is taken as the promise
(see PRF001).

On the night test, one answer to anyone at night makes the whole night answered, however many
customers waited. Nights are 22:00-06:00 in the posted hours' time zone, else the policy's, else
UTC: a "24/7" promise with no zone is judged on UTC nights, which are daytime in the Americas
and Asia.

Only posts made inside the posted hours are judged, by design: a brand that answers nothing
outside them passes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from msgspec import Meta

from auditor.analysis.business_hours import BusinessCalendar, CalendarError
from auditor.analysis.closing import Awaiting, awaiting_answer
from auditor.analysis.sla import (
    DEFAULT_TARGET_MINUTES,
    MET,
    PENDING,
    LocalClock,
    Stopwatch,
    TargetMinutes,
    closing_phrases,
    index_metrics,
    policy_timezone,
    profile_hours,
    shared_calendar,
    thread_index,
)
from auditor.analysis.threads import ThreadIndex
from auditor.check import (
    AuditContext,
    Check,
    CheckOutput,
    CheckParameters,
    Evidence,
    Finding,
    Needs,
    typed_params,
)
from auditor.checks.kinds import ANSWERS, POSTS_AND_MARKERS, PROFILE
from auditor.wording import count, part_of, plural

EXAMPLES = 10


def _night_zone(hours: dict[str, Any], ctx: AuditContext) -> str:
    zone = hours.get("timezone") or policy_timezone(ctx.policy)
    return zone if isinstance(zone, str) else "UTC"


def _awaiting(ctx: AuditContext, index: ThreadIndex) -> list[Awaiting]:
    """Each conversation's posts that await an answer: closing posts are not counted."""
    closing = closing_phrases(ctx)
    return [awaiting_answer(engagement, closing) for engagement in index.engagements]


def _kept_share(
    ctx: AuditContext, calendar: BusinessCalendar, conversations: list[Awaiting]
) -> tuple[dict[str, Any], Finding | None]:
    assert ctx.window is not None
    end = ctx.window.end
    params = typed_params(ctx, RSP004Parameters)
    target_minutes, min_share = params.target_minutes, params.min_share
    stopwatch = Stopwatch(calendar, end, target_minutes)
    always_open = calendar.is_always_open
    inside = met = judged = pending = 0
    missed: list[str] = []
    is_open = calendar.is_open
    judge = stopwatch.judge
    for awaiting in conversations:
        for post, answer in zip(awaiting.posts, awaiting.answers, strict=True):
            created = post.created_at
            if created > end or not (always_open or is_open(created)):
                continue
            inside += 1
            outcome, _, _ = judge(created, answer.created_at if answer else None)
            if outcome == PENDING:
                pending += 1
                continue
            judged += 1
            if outcome == MET:
                met += 1
            elif len(missed) < EXAMPLES:
                missed.append(post.id)
    share = met / judged if judged else None
    metrics = {
        "posts_in_hours": inside,
        "judged": judged,
        "pending": pending,
        "within_target": met,
        "share_within_target": None if share is None else round(share, 4),
        "min_share": min_share,
        "target_minutes": target_minutes,
    }
    if share is None or share >= min_share:
        return metrics, None
    finding = ctx.finding(
        "posted-hours",
        f"only {share:.0%} of the {judged} customer posts made in the posted hours were answered "
        f"within {target_minutes:g} business minutes (at least {min_share:.0%} expected)",
        evidence=Evidence(post_ids=tuple(missed), data={"share": round(share, 4)}),
    )
    return metrics, finding


def _nights(
    ctx: AuditContext, clock: LocalClock, index: ThreadIndex, conversations: list[Awaiting]
) -> tuple[dict[str, Any], Finding | None]:
    """Nights on which customers wrote (a closing post asks for nobody at night), and those on
    which the brand answered nobody."""
    assert ctx.window is not None
    start, end = ctx.window.start, ctx.window.end
    first_night = clock.night_of(clock.bucket(start))
    last_night = clock.night_of(clock.bucket(end))
    asked: dict[date, int] = {}
    answered: set[date] = set()
    for awaiting in conversations:
        for post in awaiting.posts:
            night = clock.night_of(clock.bucket(post.created_at))
            if night is not None and start <= post.created_at <= end:
                asked[night] = asked.get(night, 0) + 1
    for engagement in index.engagements:
        for answer in engagement.answers:
            night = clock.night_of(clock.bucket(answer.created_at))
            if night is not None:
                answered.add(night)
    # Only whole nights inside the window: a night the window cuts cannot be judged.
    nights = [n for n in asked if n not in (first_night, last_night)]
    silent = sorted(n for n in nights if n not in answered)
    min_nights = typed_params(ctx, RSP004Parameters).min_nights
    metrics = {
        "timezone": clock.name,
        "nights_with_customer_posts": len(nights),
        "silent_nights": len(silent),
        "silent_night_dates": [n.isoformat() for n in silent],
    }
    if len(nights) < min_nights or len(silent) * 2 <= len(nights):
        return metrics, None
    finding = ctx.finding(
        "night-hours",
        f"the profile says 24/7 but the brand answered nobody at night (22:00-06:00 "
        f"{clock.name}) on {len(silent)} of the {len(nights)} nights customers wrote",
        evidence=Evidence(data={"silent_nights": metrics["silent_night_dates"]}),
    )
    return metrics, finding


def run(ctx: AuditContext) -> CheckOutput:
    assert ctx.window is not None
    posted = profile_hours(ctx)
    if posted.hours is None:
        reason = posted.problem or "the profile states no response hours"
        return CheckOutput(not_applicable=f"{reason}, so there are none to keep")
    try:
        calendar = shared_calendar(posted.hours)
    except CalendarError as error:
        return CheckOutput(not_applicable=f"the posted hours cannot be used: {error}")
    index = thread_index(ctx)
    metrics: dict[str, Any] = {"posted_hours": posted.hours, "hours_source": posted.source}
    conversations = _awaiting(ctx, index)
    kept, finding = _kept_share(ctx, calendar, conversations)
    metrics["kept"] = kept
    metrics["closing_posts"] = sum(a.closing_posts for a in conversations)
    findings = [finding] if finding else []
    if calendar.is_always_open:
        clock = LocalClock(ZoneInfo(_night_zone(posted.hours, ctx)))
        night_metrics, night_finding = _nights(ctx, clock, index, conversations)
        metrics["nights"] = night_metrics
        findings += [night_finding] if night_finding else []
    metrics.update(index_metrics(index))
    if kept["judged"] == 0 and kept["pending"] == 0:
        return CheckOutput(
            findings=findings,
            metrics=metrics,
            not_applicable=None if findings else "no customer posts in the posted hours",
        )
    share = kept["share_within_target"]
    summary = (
        f"{share:.0%} of {count(kept['judged'], 'post')} in the posted hours answered within "
        f"{kept['target_minutes']:g} {plural(kept['target_minutes'], 'business minute')}"
        if share is not None
        else f"{count(kept['pending'], 'post')} in the posted hours pending"
    )
    if "nights" in metrics:
        nights = metrics["nights"]
        silent = part_of(nights["silent_nights"], nights["nights_with_customer_posts"], "night")
        summary += f"; silent on {silent}"
    return CheckOutput(findings=findings, metrics=metrics, summary=summary)


class RSP004Parameters(CheckParameters, frozen=True):
    target_minutes: Annotated[
        TargetMinutes,
        Meta(
            description=(
                "Target for answering posts made in the posted hours, in business minutes of "
                "those hours."
            )
        ),
    ] = DEFAULT_TARGET_MINUTES
    min_share: Annotated[
        float,
        Meta(
            ge=0,
            le=1,
            description="Least share of posts in the posted hours answered within target.",
        ),
    ] = 0.9
    min_nights: Annotated[
        int,
        Meta(
            ge=1,
            description=(
                "Nights with customer posts needed before a 24/7 promise is judged at night."
            ),
        ),
    ] = 3


CHECK = Check(
    id="RSP004",
    title="Posted hours kept",
    version="1.4.1",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    parameters=RSP004Parameters,
    needs=Needs(
        profile=True,
        posts=True,
        data=PROFILE | POSTS_AND_MARKERS,
        refuted_by=PROFILE | ANSWERS,
    ),
)
