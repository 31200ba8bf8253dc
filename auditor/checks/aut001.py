"""AUT001 Automated-reply ratio.

The share of the brand's replies that are automated, against a policy maximum (``max_ratio``,
default 0.2). A reply counts as automated when any of four signals says so, and each signal is
counted in the metrics on its own (a reply may show several):

- ``flagged``: the platform labels it automated (``automated: true``);
- ``source``: it was sent from a client app in the policy's ``automation_sources``;
- ``template``: its template (the text without @handles, links, numbers, agent signatures such
  as ``^JD`` or ``-Anna``, case and punctuation) went to at least ``min_customers`` distinct
  customers (default 5), near-duplicates included (Jaccard similarity of word bigrams at least
  ``similarity``, found by MinHash/LSH in linear time: ``auditor/templates.py``);
- ``fast``: it came less than ``fast_reply_seconds`` after the customer post it answers.

A reply is a brand post that replies to a post that is not the brand's own; its customer is the
author of that post, else the first @handle it names. Templates shorter than
``min_template_words`` words ("thank you!") are not templates. Below ``min_replies`` replies the
ratio is reported but does not fail. The evidence lists the top templates with their counts and
an example each; the metrics also count automated replies sent to complaints, where a cheerful
autoresponse does the most harm, and apart those sent to posts the classifier could not read
(another language), by language.

## Why it matters
Customers on social media want a person. An instant "Thanks for reaching out! 😊" to someone
whose order is lost reads as not listening, and the same pasted text under fifty complaints
shows onlookers that nobody reads them.

## Example
Fails: 40 of 100 replies are "We're sorry to hear that. Please send us a DM with more details."
to 40 different customers (ratio 0.4 > 0.2).

Passes: replies written for each customer ("Hi Ann, the courier has your parcel in Leeds, it
should reach you Friday ^JD"), with a bot acknowledgement on fewer than one reply in five.

## How to fix
Answer in the agent's own words, refer to what the customer wrote, and sign. Keep macros as
drafts to edit, not as replies, and switch off auto-acknowledgements on public channels.

## Known problems
The ``fast`` signal is timing alone: an agent working a live queue who answers within
``fast_reply_seconds`` is counted as a bot, and a bot with a built-in delay is not caught by it.

Templates are found from the text alone. An agent who pastes the same right answer ("the app is
back up, please update to 4.2") to many customers during an outage is counted as canned, while
macros that agents reword a little for each customer can fall below ``similarity`` and pass.

The ``source`` signal needs the client app on each post; sources that do not record it (the twcs
dataset, most exports) never raise it. A reply to a post missing from the data takes the first
@handle it names as its customer, which may be someone else the reply mentions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.conduct import (
    UnclassifiedPosts,
    brand_handle,
    customer_classes,
    handle_of,
)
from auditor.analysis.templates import group_templates
from auditor.check import (
    AuditContext,
    Check,
    CheckOutput,
    CheckParameters,
    Evidence,
    Needs,
    excerpt,
    typed_params,
)
from auditor.checks.kinds import BRAND_POSTS, POSTS_AND_MARKERS
from auditor.model import Post
from auditor.wording import part_of

SIGNALS = ("flagged", "source", "template", "fast")
_FIRST_HANDLE = re.compile(r"@([\w.-]+(?:@[\w.-]+)*)")


@dataclass(slots=True)
class Reply:
    post: Post
    parent: Post | None
    customer: str | None
    signals: set[str] = field(default_factory=set)


def _customer_of(post: Post, parent: Post | None, brand: str) -> str | None:
    if parent is not None and not parent.by_brand:
        return handle_of(parent.author)
    if "@" in post.text:
        for match in _FIRST_HANDLE.finditer(post.text):
            handle = match.group(1).lower()
            if handle != brand:
                return handle
    return None


def brand_replies(ctx: AuditContext) -> list[Reply]:
    """The brand's replies to others' posts (not its own thread continuations), oldest first."""
    brand = brand_handle(ctx)
    by_id = {p.id: p for p in ctx.account.posts}
    replies: list[Reply] = []
    for post in ctx.account.posts:
        if not post.by_brand or post.in_reply_to is None or post.visibility == "deleted":
            continue
        parent = by_id.get(post.in_reply_to)
        if parent is not None and parent.by_brand:
            continue
        replies.append(Reply(post, parent, _customer_of(post, parent, brand)))
    replies.sort(key=lambda r: (r.post.created_at, r.post.id))
    return replies


def _mark_templates(ctx: AuditContext, replies: list[Reply]) -> tuple[list[dict[str, Any]], int]:
    """Mark template replies; the top templates (with an example each) and how many there are."""
    params = typed_params(ctx, AUT001Parameters)
    groups = group_templates(
        (r.post.text for r in replies), params.similarity, min_words=params.min_template_words
    )
    customers: dict[int, set[str]] = {}
    members: dict[int, list[int]] = {}
    for index, (reply, group) in enumerate(zip(replies, groups.group, strict=True)):
        if group < 0:
            continue
        members.setdefault(group, []).append(index)
        if reply.customer is not None:
            customers.setdefault(group, set()).add(reply.customer)
    threshold = params.min_customers
    templates = [g for g, people in customers.items() if len(people) >= threshold]
    for group in templates:
        for index in members[group]:
            replies[index].signals.add("template")
    templates.sort(key=lambda g: (-len(members[g]), groups.key_of(g)))
    top = []
    for group in templates[: params.top_templates]:
        example = replies[members[group][0]].post
        top.append(
            {
                "template": groups.key_of(group),
                "replies": len(members[group]),
                "customers": len(customers[group]),
                "example": {"id": example.id, "url": example.url, "text": excerpt(example.text)},
            }
        )
    return top, len(templates)


def _mark_other_signals(
    replies: list[Reply], automation_sources: Collection[str], fast_seconds: float
) -> None:
    for reply in replies:
        post = reply.post
        if post.automated is True:
            reply.signals.add("flagged")
        if post.source is not None and post.source in automation_sources:
            reply.signals.add("source")
        parent = reply.parent
        if parent is not None and not parent.by_brand:
            delay = (post.created_at - parent.created_at).total_seconds()
            if 0 <= delay < fast_seconds:
                reply.signals.add("fast")


def run(ctx: AuditContext) -> CheckOutput:
    replies = brand_replies(ctx)
    if not replies:
        return CheckOutput(not_applicable="the brand sent no replies")
    params = typed_params(ctx, AUT001Parameters)
    sources = frozenset(ctx.policy.get("automation_sources") or ())
    _mark_other_signals(replies, sources, params.fast_reply_seconds)
    top, template_count = _mark_templates(ctx, replies)
    automated = [r for r in replies if r.signals]
    ratio = len(automated) / len(replies)
    signal_counts = Counter(s for r in automated for s in r.signals)
    classes = customer_classes(ctx)
    to_complaints = sum(
        1
        for r in automated
        if r.parent is not None
        and (c := classes.get(r.parent.id)) is not None
        and c.label == "complaint"
    )
    # Whether those replies went to complaints is unknown where the classifier could not read
    # the customer: counted apart, never taken for "not a complaint".
    unread = UnclassifiedPosts.among(
        classes.get(r.parent.id) for r in automated if r.parent is not None
    )
    max_ratio = params.max_ratio
    metrics: dict[str, Any] = {
        "replies": len(replies),
        "automated": len(automated),
        "ratio": round(ratio, 4),
        "max_ratio": max_ratio,
        "signals": {s: signal_counts.get(s, 0) for s in SIGNALS},
        "templates": template_count,
        "top_templates": top,
        "automated_replies_to_complaints": to_complaints,
        "automated_replies_to_unclassified": unread.metrics(),
    }
    summary = f"{part_of(len(automated), len(replies), 'reply', 'replies')} automated ({ratio:.0%})"
    notes: list[str] = []
    enough = len(replies) >= params.min_replies
    if not enough:
        notes.append(
            f"only {len(replies)} repl{'y' if len(replies) == 1 else 'ies'}: the ratio is "
            "reported, not judged"
        )
    if unread:
        notes.append(
            unread.note(
                ctx,
                "customer post",
                "automated replies to them are not counted as replies to complaints or not",
            )
        )
    findings = []
    if enough and ratio > max_ratio:
        findings.append(
            ctx.finding(
                "ratio",
                f"{ratio:.0%} of replies automated (maximum {max_ratio:.0%})",
                evidence=_evidence(automated, top, signal_counts),
            )
        )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


def _evidence(automated: list[Reply], top: list[dict[str, Any]], signals: Counter[str]) -> Evidence:
    # Without a template (bots with varied texts), a few automated replies are the examples.
    examples = [t["example"] for t in top] or [
        {"id": r.post.id, "url": r.post.url, "text": excerpt(r.post.text)} for r in automated[:3]
    ]
    return Evidence(
        post_ids=tuple(e["id"] for e in examples),
        urls=tuple(e["url"] for e in examples if e["url"]),
        excerpt=examples[0]["text"] if examples else None,
        data={"top_templates": top, "signals": {s: signals.get(s, 0) for s in SIGNALS}},
    )


class AUT001Parameters(CheckParameters, frozen=True):
    max_ratio: Annotated[
        float, Meta(ge=0, le=1, description="Highest share of automated replies that passes.")
    ] = 0.2
    min_customers: Annotated[
        int,
        Meta(
            ge=2, description="A template sent to at least this many distinct customers is canned."
        ),
    ] = 5
    similarity: Annotated[
        float,
        Meta(
            gt=0,
            le=1,
            description="Jaccard similarity of word bigrams at which two templates are the same.",
        ),
    ] = 0.7
    min_template_words: Annotated[
        int, Meta(ge=1, description='Shorter templates ("thank you!") are not counted as canned.')
    ] = 4
    fast_reply_seconds: Annotated[
        float,
        Meta(
            ge=0,
            description="A reply sooner than this after the customer's post counts as automated.",
        ),
    ] = 30
    min_replies: Annotated[
        int,
        Meta(ge=1, description="Below this many replies the ratio is reported but does not fail."),
    ] = 10
    top_templates: Annotated[
        int, Meta(ge=1, description="How many top templates the evidence lists.")
    ] = 5


CHECK = Check(
    id="AUT001",
    title="Automated-reply ratio",
    version="1.2.0",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    parameters=AUT001Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=BRAND_POSTS),
    tracked={"automated_share": ("ratio",)},
)
