"""THR001 Lengthy public threads.

A public back-and-forth with one customer should not run on: after a few replies the brand offers
to continue privately. An exchange (one customer in one public thread, ``docs/conduct.md``) with
more public brand replies than ``max_brand_replies`` is a finding unless one of the brand's replies
up to the one that went over the limit offers a private channel ("DM us", "send us a private
message", "email us at ...", "give us a call"); an offer made only after that comes too late.

Every public brand reply counts, automated ones included: onlookers see them all. Replies to other
customers in the same thread (an announcement with many comments) do not add up: each customer is
an exchange of their own. Metrics: exchanges, how many went over the limit, how many of those were
offered a private channel in time, and the median and maximum brand replies per exchange.

## Why it matters
Eight public replies about one order read like a dispute in the street: every onlooker watches the
problem drag on, and the details needed to solve it (order numbers, addresses) end up in public.

## Example
Fails (limit 4): the brand answers @ann five times under her complaint about a lost parcel, asking
for the tracking number, the postcode, a photo, and never suggests a DM.

Passes: the third reply says "@ann let's take this to DM so we can check your account safely",
even if the brand answers twice more in public afterwards; or a thread with three replies.

## How to fix
Set a rule for agents: by the second or third public reply, invite the customer to a private
channel (DM, email, phone) and continue there; then close the loop in public (see FUP001).

## Known problems
Replies are counted per thread and customer: a customer who keeps the exchange going in new
threads (a fresh mention each time) starts from zero each time, and is never flagged.

Every public brand reply counts, automated acknowledgements included, and the tone of the
exchange is not read: a long, friendly exchange (a customer chatting about a product they love)
is flagged like a dispute. Any reply up to the limit that offers a private channel passes the
exchange, even when the offer is in passing and the thread goes on in public.
"""

from __future__ import annotations

import statistics
from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.private_channel import PublicExchange, public_threads, reply_offer
from auditor.check import (
    AuditContext,
    Check,
    CheckOutput,
    CheckParameters,
    Evidence,
    Finding,
    Needs,
    excerpt,
    typed_params,
)
from auditor.checks.kinds import BRAND_POSTS, POSTS_AND_MARKERS
from auditor.wording import count, part_of


def offer_in_time(ctx: AuditContext, exchange: PublicExchange, limit: int) -> bool:
    """Whether a reply up to the one that went over the limit offers a private channel."""
    return any(reply_offer(ctx, r.text) is not None for r in exchange.brand_replies[: limit + 1])


def run(ctx: AuditContext) -> CheckOutput:
    limit = typed_params(ctx, THR001Parameters).max_brand_replies
    threads = public_threads(ctx)
    counts = [len(e.brand_replies) for e in threads.exchanges]
    lengthy = moved = 0
    findings: list[Finding] = []
    for exchange in threads.exchanges:
        replies = exchange.brand_replies
        if len(replies) <= limit:
            continue
        lengthy += 1
        if offer_in_time(ctx, exchange, limit):
            moved += 1
            continue
        findings.append(_finding(ctx, exchange, limit))
    metrics: dict[str, Any] = {
        "max_brand_replies": limit,
        "exchanges": len(counts),
        "lengthy": lengthy,
        "lengthy_moved_private": moved,
        "flagged": len(findings),
        "brand_replies_per_exchange": {
            "median": statistics.median(counts) if counts else None,
            "max": max(counts) if counts else None,
        },
        "excluded_posts": threads.excluded_posts,
    }
    if not counts:
        return CheckOutput(metrics=metrics, not_applicable="no public brand replies to customers")
    summary = (
        f"{part_of(len(findings), len(counts), 'public exchange')} ran past "
        f"{count(limit, 'brand reply', 'brand replies')} without an offer to continue privately"
    )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary)


def _finding(ctx: AuditContext, exchange: PublicExchange, limit: int) -> Finding:
    replies = exchange.brand_replies
    over = replies[limit]  # the reply that went over the limit
    first_post = exchange.customer_posts[0]
    customer = first_post.author
    return ctx.finding(
        f"{exchange.thread}:{exchange.customer}",
        f"{len(replies)} public brand replies to {customer} in thread {exchange.thread} "
        f"(limit {limit}) without an offer to continue privately",
        evidence=Evidence(
            post_ids=tuple(r.id for r in replies),
            urls=tuple(p.url for p in (first_post, over) if p.url),
            timestamps=(replies[0].created_at, replies[-1].created_at),
            excerpt=excerpt(over.text),
            data={
                "thread": exchange.thread,
                "customer": customer,
                "brand_replies": len(replies),
                "customer_posts": len(exchange.customer_posts),
                "over_limit_reply": over.id,
            },
        ),
    )


class THR001Parameters(CheckParameters, frozen=True):
    max_brand_replies: Annotated[
        int,
        Meta(
            ge=1,
            description=(
                "Most public brand replies to one customer in one thread before the brand "
                "must have offered to continue privately."
            ),
        ),
    ] = 4


CHECK = Check(
    id="THR001",
    title="Lengthy public threads",
    version="1.0.1",
    severity="low",
    docs=__doc__ or "",
    run=run,
    parameters=THR001Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=BRAND_POSTS),
)
