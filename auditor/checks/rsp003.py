"""RSP003 Next response time.

Once the brand has answered a customer in a thread, every later run of that customer's posts
starts a clock at its oldest post, and the brand's next answer to that customer stops it: a
burst of three posts before one reply is one clock. A closing post ("thanks!", "done, thanks!",
"ok bye", 👍; the same definition as RSP001 and RSP004, ``docs/sla.md``) opens no clock; "thanks,
still broken", "thanks?" and "thanks 👎" do. Clocks run in
business time (the policy's ``business_hours``) against a target; a clock whose deadline falls
after the window's end is pending. Definitions: ``docs/sla.md``.

## Why it matters
A fast first reply followed by silence is still silence: the customer who answers the brand's
questions and then waits a day has been dropped mid-conversation, in public.

## Example
Fails (target 60 business minutes): the brand asks "can you DM us the order number?", the
customer replies "done, sent it" at 10:00 and "hello??" at 10:20, and the brand's next answer
comes at 11:45 (one clock from 10:00, 105 minutes).

Passes: the next answer at 10:50; or the customer's last word is "thanks, all sorted 🙏", which
opens no clock.

## How to fix
Keep conversations assigned to an agent until the customer is done, and alert on customers who
replied and are waiting.

## Known problems
Closing posts are recognised by word lists (the policy's ``closing_phrases``, English by
default): "merci !" or "perfect, cheers Sarah" (a word not in the lists) opens a clock that the
brand need not answer, and so does a follow-up that needs no reply ("ok, I'll try that
tonight").

A customer's posts before the brand's next answer make one clock from the oldest: a new question
added hours later is timed from the first post of the run, not from itself. Next answers sent
privately or in another thread are not seen.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.closing import ClosingPhrases, is_closing_post
from auditor.analysis.sla import (
    DEFAULT_TARGET_MINUTES,
    LATE,
    ClockTally,
    Stopwatch,
    TargetMinutes,
    calendar_choice,
    closing_phrases,
    index_metrics,
    thread_index,
)
from auditor.analysis.threads import Engagement
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
from auditor.model import Post
from auditor.wording import count, part_of, plural

_CREATED = attrgetter("created_at")


@dataclass(slots=True)
class NextClocks:
    """One customer's clocks after the brand's first answer in a thread."""

    clocks: list[tuple[Post, Post | None]] = field(default_factory=list)
    closing_posts: int = 0


def next_clocks(engagement: Engagement, closing: ClosingPhrases) -> NextClocks:
    """Each later run's oldest post and the answer that stopped it (None: not yet answered).

    Nothing for a customer the brand never answered. The later posts are those the first
    answer did not answer (a post in the same second as that answer counts as later unless the
    answer replies to it). A closing post (``is_closing_post``) opens no clock and is counted;
    the run's clock starts at its oldest post that is not a closing.
    """
    result = NextClocks()
    if not engagement.answers:
        return result
    posts = engagement.posts
    first_answer = engagement.answers[0]
    current: Post | None = None
    current_answer: Post | None = None
    answers = engagement.first_answers()
    start = bisect_left(posts, first_answer.created_at, key=_CREATED)
    for index in range(start, len(posts)):
        post = posts[index]
        answer = answers[index]
        if answer is first_answer:
            continue  # answered by the first answer: part of the first response
        if is_closing_post(post, engagement, closing):
            result.closing_posts += 1
            continue
        if current is not None and answer is current_answer:
            continue  # same run: the clock already started at its oldest post
        if current is not None:
            result.clocks.append((current, current_answer))
        current, current_answer = post, answer
    if current is not None:
        result.clocks.append((current, current_answer))
    return result


def run(ctx: AuditContext) -> CheckOutput:
    assert ctx.window is not None
    index = thread_index(ctx)
    choice = calendar_choice(ctx)
    closing = closing_phrases(ctx)
    target_minutes = typed_params(ctx, RSP003Parameters).target_minutes
    end = ctx.window.end
    tally = ClockTally(Stopwatch(choice.calendar, end, target_minutes))
    findings: list[Finding] = []
    make_finding = PostFindings(ctx).make
    judge = tally.judge
    closings = answered_customers = 0
    for engagement in index.engagements:
        answers = engagement.answers
        if not answers:
            continue
        answered_customers += 1
        if engagement.posts[-1].created_at < answers[0].created_at:
            continue  # nothing written after the first answer (the usual case)
        found = next_clocks(engagement, closing)
        closings += found.closing_posts
        for start, answer in found.clocks:
            if start.created_at > end:
                continue
            breach = judge(start.created_at, answer.created_at if answer is not None else None)
            if breach is None:
                continue
            waited = f"{breach.business_minutes:.0f} business minutes"
            data: dict[str, Any] = {"thread": engagement.thread}
            if breach.outcome == LATE:
                what = f"next reply to {start.author} after {waited}"
                if answer is not None:
                    data["answer"] = answer.id
            else:
                what = f"no next reply to {start.author} after {waited}"
            findings.append(make_finding(start, f"{what} (target {target_minutes:g})", data))
    metrics = {
        **tally.metrics(target_minutes),
        "closing_posts": closings,
        "answered_customers": answered_customers,
        **index_metrics(index),
        "calendar": choice.describe(),
    }
    judged, pending = tally.judged, tally.pending
    notes = [choice.note] if choice.note else []
    if judged == 0 and pending == 0:
        reason = (
            "no customer wrote again after the brand's answer"
            if answered_customers
            else "the brand answered no customer"
        )
        return CheckOutput(metrics=metrics, notes=notes, not_applicable=reason)
    summary = (
        f"{part_of(tally.late + tally.unanswered, judged, 'next response')} over "
        f"{target_minutes:g} {plural(target_minutes, 'business minute')}"
        + (f", {count(pending, 'response')} pending" if pending else "")
    )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


class RSP003Parameters(CheckParameters, frozen=True):
    target_minutes: Annotated[
        TargetMinutes, Meta(description="Target for each next response, in business minutes.")
    ] = DEFAULT_TARGET_MINUTES


CHECK = Check(
    id="RSP003",
    title="Next response time",
    version="1.4.0",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    parameters=RSP003Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=ANSWERS),
)
