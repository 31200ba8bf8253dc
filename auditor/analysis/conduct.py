"""What the conduct checks share: each customer post's classification, computed once per account.

The classifier (``auditor.analysis.classify``) labels customer posts complaint, question, praise,
spam, other or unclassified (not in a language policy has lexicons for). Policy keys read here:
``languages`` (default ``[en]``) and ``lexicons`` (per-language extensions of the built-in
phrase lists). Classifiers are kept per process and policy, so that a worker auditing many
accounts classifies each distinct text once.

Also here: who counts as a customer (``is_customer_post``), the policy's ``abuse_authors``,
spam (``is_spam``), the classification figures every report carries
(``classification_metrics``, published in CRS001's metrics under ``classification``), and the
posts the classifier could not judge, counted and named by language (``UnclassifiedPosts``), so
that no check drops them silently from what it judged.

Why a post got its label travels with it: ``classification_data`` is what a finding's evidence
carries (label, confidence, reasons, language), and ``judged_posts`` is the per-post list a
conduct check puts in its metrics under ``judged_posts``: every post it judged, complaints and
non-complaints alike, the first ``JUDGED_POSTS_LIMIT`` (100) listed in the order the check met
them and all of them counted (``total``), so that a report stays bounded on a large account.
Definitions: ``docs/conduct.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditor.analysis.classify import (
    LABELS,
    NEGATIVE_COMPOUND,
    Classification,
    Classifier,
    Lexicons,
    language_name,
)
from auditor.analysis.sla import SPAM_LABELS, thread_index
from auditor.check import AuditContext
from auditor.model import Post
from auditor.wording import count

_CLASSIFIERS: dict[str, Classifier] = {}

# Per-post results a check lists in its metrics (``judged_posts``); past this many only counted,
# so that the report of an account with thousands of hidden posts stays small.
JUDGED_POSTS_LIMIT = 100
# Confidences are reported to this many decimals: more is noise to a reader.
CONFIDENCE_DECIMALS = 4


def classifier_for(policy: Mapping[str, Any]) -> Classifier:
    languages = tuple(policy.get("languages") or ("en",))
    lexicons = policy.get("lexicons") or {}
    key = json.dumps([languages, lexicons], sort_keys=True)
    classifier = _CLASSIFIERS.get(key)
    if classifier is None:
        classifier = _CLASSIFIERS[key] = Classifier(
            Lexicons.from_policy(lexicons), languages=languages
        )
    return classifier


def customer_classes(ctx: AuditContext) -> dict[str, Classification]:
    """Every customer post's classification, by post id (brand posts are not classified)."""

    def compute() -> dict[str, Classification]:
        posts = [p for p in ctx.account.posts if not p.by_brand]
        results = classifier_for(ctx.policy).classify_many(p.text for p in posts)
        return {p.id: r for p, r in zip(posts, results, strict=True)}

    return ctx.derived("customer_classes", compute)


# ----------------------------------------------------------------------------- why a label


def classification_data(result: Classification | None) -> dict[str, Any]:
    """Why a post got its label, as a finding's evidence or a report entry carries it.

    ``None`` (a post the check had no classification for) reads as ``unclassified`` with no
    language, never as a guess.
    """
    if result is None:
        return {"label": "unclassified", "confidence": None, "reasons": [], "language": None}
    confidence = result.confidence
    return {
        "label": result.label,
        "confidence": None if confidence is None else round(confidence, CONFIDENCE_DECIMALS),
        "reasons": list(result.reasons),
        "language": result.language,
    }


def judged_posts(
    judged: Iterable[tuple[str, Classification | None]], limit: int | None = None
) -> dict[str, Any]:
    """The per-post results of the posts a check judged, in the order given: every post
    counted (``total``), the first ``limit`` (default ``JUDGED_POSTS_LIMIT``) listed
    (``posts``) with id, label, confidence, reasons and language."""
    if limit is None:
        limit = JUDGED_POSTS_LIMIT
    listed: list[dict[str, Any]] = []
    total = 0
    for post_id, result in judged:
        total += 1
        if total <= limit:
            listed.append({"post_id": post_id, **classification_data(result)})
    return {"total": total, "limit": limit, "posts": listed}


# --------------------------------------------------------------------------------- customers


def brand_handle(ctx: AuditContext) -> str:
    return ctx.account.account.lstrip("@").lower()


def handle_of(author: str) -> str:
    return author.lstrip("@").lower()


def is_customer_post(ctx: AuditContext, post: Post) -> bool:
    """Not the brand's, not by the brand's handle and not by an excluded author (staff, bots)."""
    if post.by_brand:
        return False
    author = handle_of(post.author)
    return author != brand_handle(ctx) and author not in ctx.policy.get("exclude_authors", ())


def abuse_authors(ctx: AuditContext) -> frozenset[str]:
    """The policy's ``abuse_authors``: trolls whose posts a brand may hide or remove."""
    return frozenset(handle_of(str(a)) for a in ctx.policy.get("abuse_authors") or ())


def is_spam(classification: Classification | None, post: Post) -> bool:
    """The classifier's spam/abuse, or a spam/abuse ``label`` a help desk put on the post."""
    if classification is not None and classification.label == "spam":
        return True
    return bool(post.extra) and post.extra.get("label") in SPAM_LABELS


# --------------------------------------------------------------------------- unclassified

# The ``by_language`` key of posts whose language the detector could not decide.
UNDECIDED_LANGUAGE = "unknown"


@dataclass(frozen=True, slots=True)
class UnclassifiedPosts:
    """Posts the classifier could not judge (a language the policy has no lexicons for).

    A check that judges a set of posts by their label counts these apart and names them, so
    that "no complaint hidden" never silently means "no complaint among the posts we could
    read". ``by_language`` maps the detector's ISO 639-1 code (``unknown`` when it could not
    decide) to the number of posts, most posts first, then by the language's name.
    """

    by_language: Mapping[str, int]

    @classmethod
    def among(cls, results: Iterable[Classification | None]) -> UnclassifiedPosts:
        counts = Counter(
            result.language or UNDECIDED_LANGUAGE
            for result in results
            if result is not None and result.label == "unclassified"
        )
        # Most posts first; ties by name, an undecided language after the named ones.
        ordered = sorted(
            counts.items(),
            key=lambda item: (-item[1], item[0] == UNDECIDED_LANGUAGE, _name_of(item[0])),
        )
        return cls(dict(ordered))

    @property
    def posts(self) -> int:
        return sum(self.by_language.values())

    def __bool__(self) -> bool:
        return self.posts > 0

    def language_names(self) -> list[str]:
        """The languages' English names, most posts first ("French", "an unknown language")."""
        return [
            language_name(None if code == UNDECIDED_LANGUAGE else code) for code in self.by_language
        ]

    def metrics(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "by_language": dict(self.by_language),
            "languages": self.language_names(),
        }

    def described(self, noun: str, plural_form: str | None = None) -> str:
        """'2 hidden posts in French and Spanish not classified'."""
        return f"{count(self.posts, noun, plural_form)} in {_and_list(self.language_names())} " + (
            "not classified"
        )

    def note(self, ctx: AuditContext, noun: str, consequence: str) -> str:
        """The note a check adds when it drew a conclusion without these posts."""
        languages = ", ".join(classifier_for(ctx.policy).languages)
        return (
            f"{self.described(noun)} (the policy's languages: {languages}): {consequence}; "
            "add the language to `languages`, with lexicons, to judge them"
        )


def _name_of(code: str) -> str:
    return language_name(None if code == UNDECIDED_LANGUAGE else code)


def _and_list(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


# --------------------------------------------------------------------------------- metrics


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def classification_metrics(ctx: AuditContext) -> dict[str, Any]:
    """The classification figures for the reports (``docs/conduct.md``), computed once.

    Counts cover customer posts (excluded authors left out). Shares are of *classified* posts:
    ``unclassified`` ones (languages without lexicons) are counted apart, never guessed into a
    label, and named by language (``unclassified_by_language``). Frustration is the share of
    negative posts (VADER compound <= -0.05) a customer wrote to the brand in a thread before
    the brand's first reply to them, and after it, over the (thread, customer) pairs that got a
    reply; beside it, the posts labelled complaint among those same posts, before and after
    (counts and shares).
    """

    def compute() -> dict[str, Any]:
        classes = customer_classes(ctx)
        counts: dict[str, int] = dict.fromkeys(LABELS, 0)
        help_answerable = 0
        customers = 0
        judged: list[Classification] = []
        for post in ctx.account.posts:
            if not is_customer_post(ctx, post):
                continue
            result = classes[post.id]
            judged.append(result)
            customers += 1
            counts[result.label] += 1
            help_answerable += result.help_page_answerable
        classified = customers - counts["unclassified"]
        return {
            "customer_posts": customers,
            "classified": classified,
            "unclassified": counts["unclassified"],
            "unclassified_by_language": dict(UnclassifiedPosts.among(judged).by_language),
            "labels": counts,
            "shares": {
                label: _share(counts[label], classified)
                for label in ("complaint", "question", "praise", "spam")
            },
            "help_page_answerable": help_answerable,
            "frustration": _frustration(ctx, classes),
        }

    return ctx.derived("classification_metrics", compute)


def _frustration(ctx: AuditContext, classes: Mapping[str, Classification]) -> dict[str, Any]:
    before = [0, 0, 0]  # negative, complaints, scored
    after = [0, 0, 0]
    engagements = 0
    for engagement in thread_index(ctx).engagements:
        if not engagement.answers:
            continue
        engagements += 1
        first_reply = engagement.answers[0].created_at
        for post in engagement.posts:
            result = classes.get(post.id)
            if result is None or result.label == "unclassified":
                continue
            side = before if post.created_at < first_reply else after
            side[0] += result.sentiment <= NEGATIVE_COMPOUND
            side[1] += result.label == "complaint"
            side[2] += 1
    return {
        "engagements": engagements,
        "posts_before_first_reply": before[2],
        "posts_after_first_reply": after[2],
        "before_first_reply": _share(before[0], before[2]),
        "after_first_reply": _share(after[0], after[2]),
        "complaints_before_first_reply": before[1],
        "complaints_after_first_reply": after[1],
        "complaint_share_before_first_reply": _share(before[1], before[2]),
        "complaint_share_after_first_reply": _share(after[1], after[2]),
    }
