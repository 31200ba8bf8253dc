"""RSP001 Unanswered customer posts.

Every customer post addressed to the brand gets a public, human reply from the brand within a
grace period, measured in business time (the policy's ``business_hours``; always open by
default, see ``docs/sla.md``). A post still unanswered when the grace period has run out at the
window's end is a finding; one whose grace period ends after the window is pending, counted but
never a finding.

Addressed and answered are judged per conversation, a customer in a thread (``docs/sla.md``):
when any of the customer's posts there replies to a post of the brand or one of its aliases,
mentions the brand or an alias, or is answered by the brand, all of their posts there are
addressed; a post is answered by the first later brand post in that thread that replies to one
of that customer's posts. Automated replies and alias posts do not answer.
A closing post ("thanks!", "done, thanks!", 👍 after the brand's answer; ``docs/sla.md``)
awaits no answer: it is counted as ``closing_posts``, never unanswered.

## Why it matters
An unanswered complaint stays in public view with the brand's silence beside it. About 40% of
customers who ask on social media expect an answer within the hour; none expect to be ignored.

## Example
Fails: "@AcmeHelp my parcel is a week late, order 5521" with no reply from @AcmeHelp in that
thread after 8 business hours, or only an automated "Thanks for reaching out!".

Passes: the brand replies in the thread to that customer, even if it then moves to DMs.

## How to fix
Route every mention and reply to the care team's queue, staff the hours you post, and reply in
the thread, at least to acknowledge and move the conversation to a private channel.

## Known problems
Any later brand reply to the customer in the thread answers every earlier post of theirs,
whatever it says: "we're looking into it" or "sorry, we can't help with that" counts as an
answer.

Answers the data does not show are missed: a reply in another thread, a new top-level post, a
private message, or a reply from another of the brand's accounts leaves the post unanswered, and
a finding.

Every post that mentions the brand is addressed, asked or not: praise, a news share tagging the
brand or thanks to another customer wait for an answer too (only the classifier's spam is left
out). A customer who writes in a thread someone else started, without mentioning the brand or
replying to it, is not addressed, even when the post is a question for the brand. With the
default always-open calendar a post made at night counts hours the brand never promised.

Closings are known by their words alone (English unless the policy's ``closing_phrases`` says
otherwise) and only after the brand answered that customer: "thanks Sarah!", a "thanks!" in
another language or a 👍 under a brand announcement still waits for an answer, and a sarcastic
"great." after an unhelpful answer is taken as a goodbye.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from msgspec import Meta

from auditor.analysis.closing import awaiting_answer
from auditor.analysis.sla import (
    OpenTimeTo,
    calendar_choice,
    closing_phrases,
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
from auditor.wording import count, part_of

__all__ = ["CHECK", "thread_index"]  # thread_index: kept importable for older third-party checks


def _age(hours: float) -> str:
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def run(ctx: AuditContext) -> CheckOutput:
    assert ctx.window is not None
    index = thread_index(ctx)
    choice = calendar_choice(ctx)
    calendar = choice.calendar
    grace = timedelta(hours=typed_params(ctx, RSP001Parameters).grace_hours)
    end = ctx.window.end
    closing = closing_phrases(ctx)
    answered = unanswered = pending = closing_posts = 0
    findings: list[Finding] = []
    make_finding = PostFindings(ctx).make
    always_open = calendar.is_always_open
    open_to_end = OpenTimeTo(calendar, end)
    for engagement in index.engagements:
        awaiting = awaiting_answer(engagement, closing)
        closing_posts += awaiting.closing_posts
        posts, first_answers = awaiting.posts, awaiting.answers
        if not posts:
            continue  # nothing but a closing after the brand's answer
        if (
            first_answers[-1] is not None
            and posts[-1].created_at <= end
            and engagement.answers[-1].created_at <= end
        ):
            # The usual case, counted whole: the last post has an answer, so every earlier one
            # does too, and the window saw every post and answer.
            answered += len(posts)
            continue
        thread = engagement.thread
        for post, answer in zip(posts, first_answers, strict=True):
            created = post.created_at
            if created > end:
                continue
            if answer is not None and answer.created_at <= end:
                answered += 1
                continue
            if (created + grace if always_open else calendar.deadline(created, grace)) > end:
                pending += 1
                continue
            unanswered += 1
            age_hours = (end - created).total_seconds() / 3600
            rounded_age = round(age_hours, 2)
            if always_open:
                # Open all the time, business time is wall time (created <= end here).
                rounded_business = rounded_age
                open_time = ""
            else:
                business_hours = open_to_end(created).total_seconds() / 3600
                rounded_business = round(business_hours, 2)
                open_time = f" ({business_hours:.1f} business hours)"
            findings.append(
                make_finding(
                    post,
                    f"post by {post.author} unanswered after {_age(age_hours)}{open_time}",
                    {
                        "thread": thread,
                        "age_hours": rounded_age,
                        "business_hours": rounded_business,
                    },
                )
            )
    judged = answered + unanswered
    rate = answered / judged if judged else None
    metrics = {
        "addressed_posts": judged + pending,
        "answered": answered,
        "unanswered": unanswered,
        "pending": pending,
        "closing_posts": closing_posts,
        "response_rate": None if rate is None else round(rate, 4),
        **index_metrics(index),
        "threads": index.threads,
        "calendar": choice.describe(),
    }
    notes = [choice.note] if choice.note else []
    if judged == 0 and pending == 0:
        return CheckOutput(
            metrics=metrics, notes=notes, not_applicable="no customer posts addressed the brand"
        )
    summary = (
        f"{part_of(unanswered, judged, 'customer post')} unanswered"
        + (f" ({rate:.0%} answered)" if rate is not None else "")
        + (f", {count(pending, 'post')} pending" if pending else "")
    )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


class RSP001Parameters(CheckParameters, frozen=True):
    grace_hours: Annotated[
        float,
        Meta(
            gt=0,
            description=(
                "How long a post may wait for a reply before it is unanswered, in business "
                "hours (the policy's business_hours)."
            ),
        ),
    ] = 8


CHECK = Check(
    id="RSP001",
    title="Unanswered customer posts",
    version="1.5.0",
    severity="high",
    docs=__doc__ or "",
    run=run,
    parameters=RSP001Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=ANSWERS),
    tracked={"answered_share": ("response_rate",)},
)
