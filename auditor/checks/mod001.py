"""MOD001 Deleted complaints.

A customer's complaint is gone: either the bundle marks it deleted (``visibility: deleted``), or
an earlier audit saw it (the history store) and this fetch no longer has it although the fetch
was complete and its window still covers the post's creation time. One finding per complaint,
with the text last seen, when it was first and last seen, and its url.

Platforms rarely say who deleted a post, so the severity follows what is known:
``deleted_by: brand`` is the check's severity (``high``); ``unknown`` (or not said, and every
post that simply went missing) is reported as "removed, deleter unknown" at ``medium``; a
customer who deleted their own complaint is ``info``, a note that does not fail the check.

Never reported when the fetch was incomplete (``complete`` false or unknown: the check is then
``not_applicable``) or when the window does not cover the post's creation time (counted as
``outside_window``): absence proves nothing there. This holds for posts the bundle marks
deleted too, so one rule covers both ways of seeing a deletion. Without a history store only the
bundle's marks are read (the check says so in a note); without a history store and on a platform
that cannot observe deletions the check is ``not_applicable``. Complaints are what the shared
classifier says of the text last seen (``docs/conduct.md``).

Each finding's evidence says why the post is a complaint: the classifier's ``label``,
``confidence`` and ``reasons`` (the phrases or features that weighed most; empty where a rule,
not a score, decided). The metrics list every removed customer post the window covers with its
label, confidence and reasons (``judged_posts``: non-complaints too, the first 100 listed, all
counted in ``total``).

## Why it matters
Never delete a complaint, even a false one: archives and screenshots keep it, and a brand caught
deleting criticism turns one complaint into a story about censorship.

## Example
Fails: "@AcmeHelp you charged me twice and nobody answers" seen in Monday's audit, missing from
Tuesday's complete fetch of the same period; or present with `visibility: deleted,
deleted_by: brand`.

Passes: the complaint still there, answered; a complaint its author deleted (an `info` note); a
post that left the window (older than the fetch's start).

## How to fix
Stop deleting complaints: answer them in public or move them to a private channel. Remove only
spam, abuse and posts exposing personal data, and keep a record of why.

## Known problems
A post missing from a complete fetch is taken as deleted (deleter unknown, ``medium``): a post
its author made private, a suspended or deactivated customer account, or a platform that
silently drops posts from its API all look the same, and are findings.

Without a history store only the bundle's own deletion marks are read, and most sources cannot
mark deletions: a complaint deleted before it was ever fetched is never seen. ``deleted_by`` is
taken as the platform states it.

Only what the classifier labels a complaint is reported, from the text last seen: a deleted
angry question is counted under its label, not reported. A removed post in a language without
lexicons is ``unclassified``: counted by language in the metrics (``unclassified``) and named in
the summary and a note ("2 removed posts in French and Spanish not classified"), but a
complaint among them is not a finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.analysis.classify import Classification
from auditor.analysis.conduct import (
    UnclassifiedPosts,
    brand_handle,
    classification_data,
    classifier_for,
    customer_classes,
    handle_of,
    is_customer_post,
    judged_posts,
)
from auditor.check import AuditContext, Check, CheckOutput, Evidence, Finding, Needs, excerpt
from auditor.checks.kinds import POSTS_AND_MARKERS
from auditor.model import Post, SeenPost
from auditor.wording import count


@dataclass(frozen=True, slots=True)
class Removed:
    """A customer post that is gone, with what is known of it."""

    post_id: str
    author: str
    created_at: datetime
    text: str
    url: str | None
    deleted_by: str
    how: str  # "marked deleted" or "missing"
    first_seen: datetime | None
    last_seen: datetime | None


def _severity_for(ctx: AuditContext, deleted_by: str) -> Any:
    if deleted_by == "brand":
        return ctx.severity
    if deleted_by == "author":
        return "info"
    # Deleter unknown: medium, unless policy set the whole check lower.
    return "medium" if ctx.severity in ("high", "critical") else ctx.severity


def _marked(post: Post, seen: SeenPost | None) -> Removed:
    return Removed(
        post.id,
        post.author,
        post.created_at,
        post.text or (seen.text if seen is not None else ""),
        post.url or (seen.url if seen is not None else None),
        post.deleted_by or "unknown",
        "marked deleted",
        seen.first_seen if seen is not None else None,
        seen.last_seen if seen is not None else None,
    )


def _missing(seen: SeenPost) -> Removed:
    deleted_by = seen.deleted_by if seen.visibility == "deleted" and seen.deleted_by else "unknown"
    return Removed(
        seen.post_id,
        seen.author,
        seen.created_at,
        seen.text,
        seen.url,
        deleted_by,
        "missing",
        seen.first_seen,
        seen.last_seen,
    )


def _gone(ctx: AuditContext, history: Mapping[str, SeenPost]) -> tuple[list[Removed], int]:
    """Removed customer posts the window covers, and how many it does not cover."""
    window = ctx.window
    assert window is not None
    present: set[str] = set()
    removed: list[Removed] = []
    outside = 0
    for post in ctx.account.posts:
        present.add(post.id)
        if post.visibility != "deleted" or not is_customer_post(ctx, post):
            continue
        if window.start <= post.created_at <= window.end:
            removed.append(_marked(post, history.get(post.id)))
        else:
            outside += 1
    brand = brand_handle(ctx)
    excluded = ctx.policy.get("exclude_authors", ())
    for post_id, seen in history.items():
        if post_id in present or seen.by_brand:
            continue
        author = handle_of(seen.author)
        if author == brand or author in excluded:
            continue
        if window.start <= seen.created_at <= window.end:
            removed.append(_missing(seen))
        else:
            outside += 1
    return removed, outside


def _classes(ctx: AuditContext, removed: list[Removed]) -> list[Classification]:
    known = customer_classes(ctx)
    bundle_texts = {p.id: p.text for p in ctx.account.posts}
    results: list[Classification | None] = [
        known.get(r.post_id) if bundle_texts.get(r.post_id) == r.text else None for r in removed
    ]
    unknown = [i for i, result in enumerate(results) if result is None]
    fresh = classifier_for(ctx.policy).classify_many(removed[i].text for i in unknown)
    for index, result in zip(unknown, fresh, strict=True):
        results[index] = result
    return [r for r in results if r is not None]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _finding(ctx: AuditContext, gone: Removed, result: Classification) -> Finding:
    who = {"brand": "deleted by the brand", "author": "deleted by its author"}.get(
        gone.deleted_by, "removed, deleter unknown"
    )
    how = "missing from a complete fetch" if gone.how == "missing" else "marked deleted"
    times = tuple(t for t in (gone.created_at, gone.first_seen, gone.last_seen) if t is not None)
    return ctx.finding(
        gone.post_id,
        f"complaint by {gone.author} {who} ({how})",
        severity=_severity_for(ctx, gone.deleted_by),
        evidence=Evidence(
            post_ids=(gone.post_id,),
            urls=(gone.url,) if gone.url else (),
            timestamps=times,
            excerpt=excerpt(gone.text) if gone.text else None,
            data={
                "deleted_by": gone.deleted_by,
                "how": gone.how,
                "created_at": gone.created_at.isoformat(),
                "first_seen": _iso(gone.first_seen),
                "last_seen": _iso(gone.last_seen),
                **classification_data(result),
            },
        ),
    )


def run(ctx: AuditContext) -> CheckOutput:
    assert ctx.window is not None
    history: Mapping[str, SeenPost] = ctx.history.previous_posts() if ctx.history else {}
    notes: list[str] = []
    if ctx.history is None:
        if not ctx.window.can_observe("deleted"):
            return CheckOutput(
                not_applicable="no history store, and the source cannot observe deleted posts"
            )
        notes.append("no history store: only posts the bundle marks deleted were checked")
    removed, outside = _gone(ctx, history)
    findings: list[Finding] = []
    by_deleter = {"brand": 0, "unknown": 0, "author": 0}
    labels: dict[str, int] = {}
    classes = _classes(ctx, removed)
    for gone, result in zip(removed, classes, strict=True):
        labels[result.label] = labels.get(result.label, 0) + 1
        if result.label != "complaint":
            continue
        by_deleter[gone.deleted_by if gone.deleted_by in by_deleter else "unknown"] += 1
        findings.append(_finding(ctx, gone, result))
    unclassified = UnclassifiedPosts.among(classes)
    metrics: dict[str, Any] = {
        "history_posts": len(history),
        "removed_posts": len(removed),
        "marked_deleted": sum(1 for r in removed if r.how == "marked deleted"),
        "missing_from_fetch": sum(1 for r in removed if r.how == "missing"),
        "outside_window": outside,
        "removed_by_label": dict(sorted(labels.items())),
        "deleted_complaints": len(findings),
        "deleted_complaints_by": by_deleter,
        "unclassified": unclassified.metrics(),
        "judged_posts": judged_posts(
            (gone.post_id, result) for gone, result in zip(removed, classes, strict=True)
        ),
    }
    removed_by_others = by_deleter["brand"] + by_deleter["unknown"]
    parts = []
    if removed_by_others:
        parts.append(
            f"{count(removed_by_others, 'complaint')} removed ({by_deleter['brand']} by the "
            f"brand, {by_deleter['unknown']} deleter unknown)"
        )
    if by_deleter["author"]:
        authors = by_deleter["author"]
        parts.append(
            f"{count(authors, 'complaint')} deleted by "
            + ("its author" if authors == 1 else "their authors")
        )
    summary = ", ".join(parts) if parts else "no complaint removed"
    if unclassified:
        summary += f"; {unclassified.described('removed post')}"
        notes.append(
            unclassified.note(ctx, "removed post", "complaints among them are not reported")
        )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


CHECK = Check(
    id="MOD001",
    title="Deleted complaints",
    version="1.2.0",
    severity="high",
    docs=__doc__ or "",
    run=run,
    # Concluding from absence needs a complete fetch; history is used when there is a store.
    needs=Needs(
        posts=True,
        complete_window=True,
        data=POSTS_AND_MARKERS,
        refuted_by=POSTS_AND_MARKERS,
    ),
)
