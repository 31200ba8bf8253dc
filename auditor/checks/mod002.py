"""MOD002 Hidden complaints.

A customer's complaint that the brand hid (``visibility: hidden``) is a finding, one per post.
Hiding leaves the complaint visible to its author and their friends, who see that the brand
buried it instead of answering. Trolls may be ignored: posts the classifier labels spam or abuse
(or that carry a ``label`` of spam or abuse from a help desk) and posts by authors on the
policy's ``abuse_authors`` list are exempt, and listed in the metrics so that the exemption
itself can be audited. Hidden questions, praise and other posts are counted, not reported.

The check is ``not_applicable`` where the window does not observe hidden posts (X, Mastodon):
there, "nothing hidden" would only mean "nothing could be seen". Complaints are what the shared
classifier says (``docs/conduct.md``); hidden posts in languages without lexicons are
``unclassified``: counted by language in the metrics (``unclassified``) and named in the summary
and a note ("2 hidden posts in French and Spanish not classified"), never reported and never
silently left out of "no complaint hidden".

Each finding's evidence says why the post is a complaint: the classifier's ``label``,
``confidence`` and ``reasons`` (the phrases or features that weighed most; empty where a rule,
not a score, decided). The metrics list every hidden customer post with its label, confidence
and reasons (``judged_posts``: exempt and non-complaint posts too, the first 100 listed, all
counted in ``total``).

## Why it matters
Never hide or delete a complaint, even a false one: the customer sees it is hidden, screenshots
travel, and the brand looks like it is hiding something. Only abusive or incomprehensible
trolling may be moderated away.

## Example
Fails: "@AcmeHelp third week without my refund, this is a joke" hidden by the page.

Passes: the same complaint answered in public; "buy followers cheap at spam.example" hidden
(spam); a post by an author on `abuse_authors` hidden.

## How to fix
Unhide the complaints and answer them, in public or by moving to a private channel. Keep hiding
for spam, abuse and personal data, and put persistent trolls on `abuse_authors` with a note of
why.

## Known problems
``visibility: hidden`` is taken to be the brand's doing: posts hidden by the platform's own
automatic filters look the same, and are findings when they are complaints.

The spam and abuse exemption follows the classifier: an angry complaint full of swearing may be
labelled abuse and exempted, and a name on ``abuse_authors`` exempts every post of that author,
genuine complaints included. The metrics list the exempted posts so that this can be reviewed.

Complaints in languages without lexicons are ``unclassified`` and never reported: the summary
and a note name them by language, but a hidden complaint among them is not a finding.
"""

from __future__ import annotations

from typing import Any

from auditor.analysis.classify import Classification
from auditor.analysis.conduct import (
    UnclassifiedPosts,
    abuse_authors,
    classification_data,
    customer_classes,
    handle_of,
    is_customer_post,
    is_spam,
    judged_posts,
)
from auditor.check import AuditContext, Check, CheckOutput, Finding, Needs, post_evidence
from auditor.checks.kinds import POSTS_AND_MARKERS
from auditor.wording import count

# Exempt posts listed in the metrics; beyond this many, only counted.
LISTED_LIMIT = 50


def run(ctx: AuditContext) -> CheckOutput:
    classes = customer_classes(ctx)
    trolls = abuse_authors(ctx)
    findings: list[Finding] = []
    exempt_spam: list[str] = []
    exempt_authors: list[str] = []
    other: dict[str, int] = {}
    judged: list[Classification | None] = []
    every_hidden: list[tuple[str, Classification | None]] = []
    hidden = 0
    for post in ctx.account.posts:
        if post.visibility != "hidden" or not is_customer_post(ctx, post):
            continue
        hidden += 1
        result = classes.get(post.id)
        every_hidden.append((post.id, result))
        if is_spam(result, post):
            exempt_spam.append(post.id)
            continue
        if handle_of(post.author) in trolls:
            exempt_authors.append(post.id)
            continue
        judged.append(result)
        label = result.label if result is not None else "unclassified"
        if label != "complaint":
            other[label] = other.get(label, 0) + 1
            continue
        findings.append(
            ctx.finding(
                post.id,
                f"complaint by {post.author} hidden by the brand",
                evidence=post_evidence(post, thread=post.thread_id, **classification_data(result)),
            )
        )
    metrics: dict[str, Any] = {
        "hidden_posts": hidden,
        "hidden_complaints": len(findings),
        "exempt_spam": len(exempt_spam),
        "exempt_abuse_authors": len(exempt_authors),
        "exempt_spam_ids": exempt_spam[:LISTED_LIMIT],
        "exempt_abuse_author_ids": exempt_authors[:LISTED_LIMIT],
        "hidden_not_complaints": dict(sorted(other.items())),
        "judged_posts": judged_posts(every_hidden),
    }
    unclassified = UnclassifiedPosts.among(judged)
    metrics["unclassified"] = unclassified.metrics()
    if hidden == 0:
        return CheckOutput(metrics=metrics, summary="no customer post hidden")
    exempt = len(exempt_spam) + len(exempt_authors)
    summary = (
        f"{count(len(findings), 'complaint')} among {count(hidden, 'hidden customer post')}"
        + (f" ({exempt} spam or abuse exempt)" if exempt else "")
        + (f"; {unclassified.described('hidden post')}" if unclassified else "")
    )
    notes = []
    if unclassified:
        notes.append(
            unclassified.note(ctx, "hidden post", "complaints among them are not reported")
        )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


CHECK = Check(
    id="MOD002",
    title="Hidden complaints",
    version="1.2.0",
    severity="high",
    docs=__doc__ or "",
    run=run,
    needs=Needs(posts=True, observes=frozenset({"hidden"}), data=POSTS_AND_MARKERS),
)
