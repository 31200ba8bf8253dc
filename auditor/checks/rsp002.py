"""RSP002 First response time.

For each customer in each thread, the clock runs from the customer's first post addressed to the
brand to the brand's first public, human reply that answers it, in business time (the policy's
``business_hours``; always open by default). A clock that ran past the target is a finding, with
or without a reply; a clock whose deadline falls after the window's end is pending, counted but
never a finding. Automated replies do not stop the clock unless the policy's
``automated_replies_answer`` says so. Definitions: ``docs/sla.md``.

The metrics carry the count of measured first responses, pending and breached clocks, the
median, p90 and maximum in business and in wall-clock minutes with the share within target,
and the account's activity: customer posts and brand replies by local weekday and hour, and when
customers are most active.

## Why it matters
Customers who ask a brand on social media expect an answer within the hour; a first reply that
comes the next day reads as being ignored, in public, for a day.

## Example
Fails (target 60 business minutes, open Mon-Fri 9-17): "@AcmeHelp my card was charged twice"
on Tuesday at 10:00, first answered at 11:30; or posted Friday at 16:30 and answered Monday at
10:00 (90 business minutes).

Passes: the same post answered at 10:40, or posted Friday at 16:30 and answered Monday at 09:15
(45 business minutes).

## How to fix
Staff the posted hours for the volume customers bring (see the activity metrics for when they
come), route mentions to the care queue, and acknowledge first, then solve.

## Known problems
The clock is per customer and thread: a customer who opens a second thread starts a second
clock, and one whose thread began before the window (the bundle starts mid-conversation) is
timed from their first post in the bundle, which may be a follow-up rather than a first ask.

Any public human reply stops the clock, whatever it says ("please see our FAQ"); a first answer
sent privately, in another thread or from another of the brand's accounts is not seen, so the
post is late or unanswered. Posts that mention the brand without asking anything (praise, a
news share) start clocks too.

With the default always-open calendar, night and weekend posts count minutes the brand never
promised; set ``business_hours`` (or ``from_profile: true``) to judge against posted hours.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.sla import (
    DEFAULT_TARGET_MINUTES,
    LATE,
    ClockTally,
    Stopwatch,
    TargetMinutes,
    activity,
    calendar_choice,
    index_metrics,
    thread_index,
)
from auditor.check import (
    AuditContext,
    Check,
    CheckOutput,
    CheckParameters,
    Finding,
    Needs,
    PostFindings,
    typed_params,
)
from auditor.checks.kinds import ANSWERS, POSTS_AND_MARKERS
from auditor.wording import business_minutes, count, part_of, plural


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run(ctx: AuditContext) -> CheckOutput:
    assert ctx.window is not None
    index = thread_index(ctx)
    choice = calendar_choice(ctx)
    target_minutes = typed_params(ctx, RSP002Parameters).target_minutes
    end = ctx.window.end
    tally = ClockTally(Stopwatch(choice.calendar, end, target_minutes))
    findings: list[Finding] = []
    make_finding = PostFindings(ctx).make
    judge = tally.judge
    for engagement in index.engagements:
        first = engagement.posts[0]
        if first.created_at > end:
            continue
        answer = engagement.first_answers()[0]
        breach = judge(first.created_at, answer.created_at if answer is not None else None)
        if breach is None:
            continue
        waited = f"{breach.business_minutes:.0f} business minutes"
        data: dict[str, Any] = {"thread": engagement.thread}
        if breach.outcome == LATE and answer is not None:
            what = f"first reply to {first.author} after {waited}"
            data["answer"] = answer.id
            data["business_minutes"] = _rounded(breach.business_minutes)
            data["wall_minutes"] = _rounded(breach.wall_minutes)
        else:
            what = f"no reply to {first.author} after {waited}"
        findings.append(make_finding(first, f"{what} (target {target_minutes:g})", data))
    metrics = {
        **tally.metrics(target_minutes),
        **index_metrics(index),
        "calendar": choice.describe(),
        "activity": activity(ctx),
    }
    judged, pending = tally.judged, tally.pending
    notes = [choice.note] if choice.note else []
    if judged == 0 and pending == 0:
        return CheckOutput(
            metrics=metrics, notes=notes, not_applicable="no customer posts addressed the brand"
        )
    median = metrics["business_minutes"]["median"]
    summary = (
        f"{part_of(tally.late + tally.unanswered, judged, 'first response')} over "
        f"{target_minutes:g} {plural(target_minutes, 'business minute')}"
        + (f", median {business_minutes(median)}" if median is not None else "")
        + (f", {count(pending, 'response')} pending" if pending else "")
    )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


class RSP002Parameters(CheckParameters, frozen=True):
    target_minutes: Annotated[
        TargetMinutes, Meta(description="Target for the first response, in business minutes.")
    ] = DEFAULT_TARGET_MINUTES


CHECK = Check(
    id="RSP002",
    title="First response time",
    version="1.3.0",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    parameters=RSP002Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=ANSWERS),
    tracked={"median_first_response_minutes": ("business_minutes", "median")},
)
