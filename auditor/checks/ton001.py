"""TON001 Defensive replies.

Replies to complaints should acknowledge the problem and, where it is due, apologise; they should
not blame the customer or argue. A public brand reply to a customer who complained in that thread
(the customer's post replied to, or an earlier post of theirs in the thread, is classified a
complaint by ``auditor.analysis.classify``) is a finding when it contains one of
``defensive_phrases``:
"you should have", "as we already said", "not our fault", "if you had read", "your bank is
responsible" ... Phrases match whole words, case-insensitively, typographic apostrophes included.
"You should have received an email" states what the brand owed, and "you shouldn't have to wait"
is sympathy: a phrase followed by "received", "got", "had", "been", "heard", "seen" or "to" does
not count, nor one negated earlier in its clause ("it's not your fault").

The metric is the share of complaint replies that acknowledge or apologise (any of
``acknowledgement_phrases``: "sorry", "apologise", "our mistake", "thanks for letting us know",
"we understand" ...), with the counts of complaint replies and defensive ones. Automated replies
are included: a customer reads them all the same.

## Why it matters
A defensive answer to a complaint turns one unhappy customer into a public argument that others
join, and it is the reply people screenshot. An acknowledgement costs nothing and calms most
complaints.

## Example
Fails: "@AcmeHelp my order arrived broken" - "@ann if you had read the instructions this
wouldn't have happened", or "@ann as we already said, delivery dates are estimates".

Passes: "@ann so sorry it arrived broken! DM us a photo and we'll send a replacement", or "@ann
you should have received a refund email by now, sorry, we'll chase it".

## How to fix
Train agents to acknowledge first ("sorry", "that's not the experience we want"), explain without
blaming, and take responsibility where it is due; keep a list of phrases never to use and review
replies to complaints.

## Known problems
Only the listed phrases are found, whole words, in English: a defensive reply phrased otherwise
("that's simply how it works, read our terms") or in another language passes.

A listed phrase is flagged whatever surrounds it: "sorry! as we already said in DM, a refund is
on its way" is a finding. The acknowledgement share counts any acknowledgement phrase, so "sorry,
we can't help with that" counts as acknowledging. Replies are judged only in threads where the
classifier found a complaint by that customer: a misread complaint leaves its replies unjudged.
Replies to customers who wrote in a language without lexicons (``unclassified``) are not judged
either; they are counted in the metrics (``unjudged_replies``, and ``unclassified``: those
customers' posts by language) and named in the summary and a note ("3 customer posts in French
not classified; 2 replies to them not judged").

Each finding names the complaint it answers and why that post is a complaint
(``complaint_classification``: the classifier's label, confidence and reasons). The metrics list
the customer posts of every exchange the brand replied to, with their label, confidence and
reasons (``judged_posts``: the non-complaints whose replies were left unjudged too, the first 100
listed, all counted in ``total``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.classify import Classification
from auditor.analysis.conduct import (
    UnclassifiedPosts,
    classification_data,
    customer_classes,
    judged_posts,
)
from auditor.analysis.private_channel import (
    PublicExchange,
    lowered,
    negated_before,
    phrase_key,
    public_threads,
)
from auditor.check import (
    AuditContext,
    Check,
    CheckOutput,
    CheckParameters,
    Finding,
    Needs,
    post_evidence,
    typed_params,
)
from auditor.checks.kinds import POSTS_AND_MARKERS
from auditor.model import Post
from auditor.wording import count, part_of

DEFAULT_DEFENSIVE_PHRASES: tuple[str, ...] = (
    "you should have", "you should've", "you shouldn't have", "you need to read",
    "if you had read", "if you'd read", "had you read", "if you had followed", "you failed to",
    "you didn't read", "did you even", "as we already said", "as we've already said",
    "as we said", "as we have said", "as previously stated", "as previously mentioned",
    "as already mentioned", "as stated in our terms", "as stated in our policy",
    "as mentioned before", "as we explained", "we've already answered", "we have already answered",
    "we already told you", "we've already told you", "not our fault", "not our problem",
    "not our responsibility", "not on our side", "not an issue on our side", "not on our end",
    "your own fault", "your fault", "user error", "is responsible for that, not us", "not us",
    "nothing to do with us", "your bank is responsible", "is your responsibility",
    "our policy is clear", "it's clearly stated", "clearly stated", "you agreed to",
    "plenty of customers", "no one else has", "nobody else has", "works fine for everyone",
    "calm down", "that's on you",
)  # fmt: skip
DEFAULT_ACKNOWLEDGEMENT_PHRASES: tuple[str, ...] = (
    "sorry", "apologise", "apologize", "apologies", "apology", "our mistake", "our fault",
    "our bad", "my mistake", "we messed up", "we got this wrong", "that's on us",
    "we understand", "i understand", "understandably", "frustrating", "frustration",
    "not the experience", "not good enough", "not ok", "not okay", "you're right", "fair point",
    "thanks for letting us know", "thanks for flagging", "thank you for flagging",
    "thanks for reporting", "thank you for reporting", "thanks for bringing",
    "thanks for your patience", "thank you for your patience", "we hear you", "oh no",
)  # fmt: skip
# What the brand owed, or sympathy, not blame: "you should have received ...", "you shouldn't
# have to wait".
_NOT_BLAME_NEXT = re.compile(
    r"\s*(?:received|receive|got|gotten|had|been|heard|seen|arrived|get|to)\b"
)


@lru_cache(maxsize=64)
def phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation of whole-word phrases, longest first; None for an empty list."""
    cleaned = sorted({" ".join(lowered(p).split()) for p in phrases if p.strip()}, key=len)
    if not cleaned:
        return None
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in reversed(cleaned))
    # Lowered text, no re.IGNORECASE: several times faster (see auditor.analysis.private_channel).
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])")


def defensive_phrase(text: str, pattern: re.Pattern[str] | None) -> str | None:
    """The first defensive phrase in ``text``; negated ones ("it's not your fault") and
    expectations ("you should have received") do not count."""
    if pattern is None:
        return None
    text = lowered(text)
    for match in pattern.finditer(text):
        if _NOT_BLAME_NEXT.match(text, match.end()) is None and not negated_before(
            text, match.start()
        ):
            return match.group(0)
    return None


def acknowledges(text: str, pattern: re.Pattern[str] | None) -> bool:
    """Whether ``text`` acknowledges or apologises; "not our fault" does not."""
    if pattern is None:
        return False
    text = lowered(text)
    return any(not negated_before(text, m.start()) for m in pattern.finditer(text))


def _complaints_among(posts: Sequence[Post], complaints: frozenset[str]) -> list[Post]:
    return [p for p in posts if p.id in complaints]


def _unread_and_answered(
    exchange: PublicExchange, classes: Mapping[str, Classification]
) -> tuple[list[Classification], int]:
    """The exchange's unclassified customer posts, and the brand replies after the first."""
    unread = [
        (post, result)
        for post in exchange.customer_posts
        if (result := classes.get(post.id)) is not None and result.label == "unclassified"
    ]
    if not unread:
        return [], 0
    first = min(post.created_at for post, _ in unread)
    answered = sum(1 for reply in exchange.brand_replies if reply.created_at >= first)
    return [result for _, result in unread], answered


def run(ctx: AuditContext) -> CheckOutput:
    classes = customer_classes(ctx)
    complaints = frozenset(i for i, c in classes.items() if c.label == "complaint")
    params = typed_params(ctx, TON001Parameters)
    defensive = phrase_pattern(params.defensive_phrases)
    acknowledging = phrase_pattern(params.acknowledgement_phrases)
    threads = public_threads(ctx)
    # Replies repeat templates addressed to different customers: judge each template once.
    judged: dict[str, tuple[bool, str | None]] = {}
    replies = acknowledged = unjudged_replies = 0
    unread: list[Classification] = []
    findings: list[Finding] = []
    for exchange in threads.exchanges:
        complained = _complaints_among(exchange.customer_posts, complaints)
        if not complained:
            # A customer the classifier could not read may have complained: its replies are
            # not judged, and say so rather than vanish from the denominator.
            unread_posts, answered = _unread_and_answered(exchange, classes)
            if answered:
                unread.extend(unread_posts)
                unjudged_replies += answered
            continue
        first_complaint = complained[0]
        for reply in exchange.brand_replies:
            if reply.created_at < first_complaint.created_at:
                continue
            replies += 1
            key = phrase_key(reply.text)
            verdict = judged.get(key)
            if verdict is None:
                verdict = judged[key] = (
                    acknowledges(key, acknowledging),
                    defensive_phrase(key, defensive),
                )
            acknowledged += verdict[0]
            phrase = verdict[1]
            if phrase is None:
                continue
            latest = [p for p in complained if p.created_at <= reply.created_at][-1]
            findings.append(
                ctx.finding(
                    reply.id,
                    f'defensive reply to a complaint by {latest.author}: "{phrase}"',
                    evidence=post_evidence(
                        reply,
                        thread=exchange.thread,
                        phrase=phrase,
                        complaint=latest.id,
                        complaint_excerpt=" ".join(latest.text.split())[:140],
                        complaint_classification=classification_data(classes[latest.id]),
                    ),
                )
            )
    share = acknowledged / replies if replies else None
    unclassified = UnclassifiedPosts.among(unread)
    metrics: dict[str, Any] = {
        "complaints": len(complaints),
        "complaint_replies": replies,
        "defensive": len(findings),
        "acknowledging": acknowledged,
        "acknowledge_share": None if share is None else round(share, 4),
        "defensive_share": round(len(findings) / replies, 4) if replies else None,
        "unjudged_replies": unjudged_replies,
        "unclassified": unclassified.metrics(),
        "judged_posts": judged_posts(
            (post.id, classes.get(post.id))
            for exchange in threads.exchanges
            for post in exchange.customer_posts
        ),
    }
    notes = []
    unjudged = ""
    if unclassified:
        unjudged = (
            f"{unclassified.described('customer post')}; "
            f"{count(unjudged_replies, 'reply', 'replies')} to them not judged"
        )
        notes.append(
            unclassified.note(
                ctx, "customer post", "complaints among them are unknown, the replies unjudged"
            )
        )
    if replies == 0:
        reason = "no brand replies to complaints" + (f" ({unjudged})" if unjudged else "")
        return CheckOutput(metrics=metrics, notes=notes, not_applicable=reason)
    summary = (
        f"{part_of(len(findings), replies, 'reply', 'replies')} to complaints defensive; "
        f"{share:.0%} acknowledge or apologise" + (f"; {unjudged}" if unjudged else "")
    )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


Phrases = tuple[Annotated[str, Meta(min_length=1)], ...]


class TON001Parameters(CheckParameters, frozen=True):
    defensive_phrases: Annotated[
        Phrases,
        Meta(
            description=(
                "Phrases that blame the customer or argue (whole words, case-insensitive); "
                "a reply to a complaint containing one is a finding. Replaces the built-in "
                "list."
            )
        ),
    ] = DEFAULT_DEFENSIVE_PHRASES
    acknowledgement_phrases: Annotated[
        Phrases,
        Meta(
            description=(
                "Phrases that acknowledge the problem or apologise; the share of complaint "
                "replies with one is reported as acknowledge_share."
            )
        ),
    ] = DEFAULT_ACKNOWLEDGEMENT_PHRASES


CHECK = Check(
    id="TON001",
    title="Defensive replies",
    version="1.2.0",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    parameters=TON001Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS),
)
