"""RSP002 First response time.

For each customer in each thread, the clock runs from the customer's first post addressed to the
brand to the brand's first public, human reply that answers it, in business time (the policy's
``business_hours``; always open by default). A clock that ran past the target is a finding, with
or without a reply; a clock whose deadline falls after the window's end is pending, counted but
never a finding. Automated replies do not stop the clock unless the policy's
``automated_replies_answer`` says so. Definitions: ``docs/sla.md``.

The metrics carry the count of measured first responses, pending and breached clocks, the
median, p90 and maximum in business and in wall-clock minutes with the share within target,
and the account's activity: customer posts and brand replies by local weekday and hour, when
customers are most active, and customer posts by local month.

Charts for the readable reports (``metrics["charts"]``): ``first_response``, a histogram of the
judged first responses in business minutes (the times the median and p90 come from) over bins
derived from the target T: 0-T/4, T/4-T/2, T/2-3T/4, 3T/4-T, T-1.5T, 1.5T-2T, 2T-4T, 4T-8T,
over 8T, and "no reply" for posts still unanswered past the target (pending posts are in no
bin). A bin holds its upper edge, as the target does: the first four bins are the responses
within target, and the chart's target is the first bin over it. ``activity``, customer posts
by local weekday x hour (the ``activity`` grid), and ``activity_by_month``, customer posts by
local month, only when the window spans at least three calendar months (seasons, not weeks).
The share of judged clocks within target is tracked from audit to audit
(``sla_attained_share``).

## Why it matters
Customers who ask a brand on social media expect an answer within the hour; a first reply that
comes the next day reads as being ignored, in public, for a day.

## Example
Fails (target 60 business minutes, open Mon-Fri 9-17): "@AcmeHelp my card was charged twice"
on Tuesday at 10:00, first answered at 11:30; or posted Friday at 16:30 and answered Monday at
10:00 (90 business minutes).

Passes: the same post answered at 10:40, or posted Friday at 16:30 and answered Monday at 09:15
(45 business minutes).

With a target of 60 minutes the first-response chart's bins read "0-15 min", "15-30 min",
"30-45 min", "45 min-1 h", "1-1.5 h" (the first over the target), "1.5-2 h", "2-4 h", "4-8 h",
"> 8 h" and "no reply"; the 90-minute answer above is in "1-1.5 h".

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

The activity charts count every post of the threads customers opened with the brand, follow-ups
included, in the local time of the calendar's zone; a window of less than three calendar months
has no by-month chart (two bars tell a reader nothing about seasons), so a weekly audit never
shows one.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    local_clock,
    response_histogram,
    thread_index,
    window_months,
)
from auditor.check import (
    CHARTS,
    AuditContext,
    ChartSpec,
    Check,
    CheckOutput,
    CheckParameters,
    Finding,
    Needs,
    PostFindings,
    chart,
    typed_params,
)
from auditor.checks.kinds import ANSWERS, POSTS_AND_MARKERS
from auditor.model import Window
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
    metrics[CHARTS] = charts(tally, target_minutes, metrics["activity"], ctx.window, ctx)
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


# The fewest local calendar months a window spans for the activity-by-month chart: a shorter
# one shows one or two bars, which say nothing a reader needs a chart for.
MONTHS_FOR_SEASONS = 3


def charts(
    tally: ClockTally,
    target_minutes: float,
    active: dict[str, Any],
    window: Window,
    ctx: AuditContext,
) -> dict[str, ChartSpec]:
    """The charts the reports draw (see the docstring's Example), from the figures above."""
    found: dict[str, ChartSpec] = {}
    if tally.judged:
        bins = response_histogram(tally.sorted_business(), tally.unanswered, target_minutes)
        found["first_response"] = chart(
            "bar",
            f"First response times (target {target_minutes:g} business "
            f"{plural(target_minutes, 'minute')})",
            bins.labels,
            {"first responses": _counts(bins.counts)},
            "first responses",
            target=bins.over_target,
        )
    grid: list[list[int]] = active["customer_posts"]
    if any(map(any, grid)):
        found["activity"] = chart(
            "heatmap",
            f"Customer posts by weekday and hour ({active['timezone']})",
            [f"{hour:02d}" for hour in range(24)],
            {day: _counts(row) for day, row in zip(active["weekdays"], grid, strict=True)},
            "customer posts",
        )
    by_month: dict[str, int] = active["customer_posts_by_month"]
    months = window_months(window.start, window.end, local_clock(ctx))
    if by_month and len(months) >= MONTHS_FOR_SEASONS:
        # Every month of the window, a quiet one at 0, and any month of a post before it (a
        # thread that began earlier) too.
        labels = sorted({*months, *by_month})
        found["activity_by_month"] = chart(
            "bar",
            f"Customer posts by month ({active['timezone']})",
            labels,
            {"customer posts": _counts(by_month.get(month, 0) for month in labels)},
            "customer posts",
        )
    return found


def _counts(values: Iterable[int]) -> list[float]:
    # Counts stay ints (the JSON report writes 3, not 3.0); a chart's values are any numbers.
    return list(values)


class RSP002Parameters(CheckParameters, frozen=True):
    target_minutes: Annotated[
        TargetMinutes, Meta(description="Target for the first response, in business minutes.")
    ] = DEFAULT_TARGET_MINUTES


CHECK = Check(
    id="RSP002",
    title="First response time",
    version="1.4.0",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    parameters=RSP002Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=ANSWERS),
    tracked={
        "median_first_response_minutes": ("business_minutes", "median"),
        "sla_attained_share": ("business_minutes", "within_target"),
    },
)
