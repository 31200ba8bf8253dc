"""FUP001 Public follow-up after private resolution.

When the brand moves a customer from a public thread to a private channel ("DM us", "send us a
private message", "email us at ...") and the private conversation resolves the problem, the brand
says so in that public thread: onlookers saw the complaint, not the fix.

How it is judged (``docs/conduct.md``):

- **The move**: the brand's first public reply to the customer in the thread that offers a private
  channel (``auditor.analysis.private_channel``).
- **The conversation**: the private conversation whose ``linked_post`` is a post of that thread;
  without one, that customer's conversation whose first message comes closest to the move,
  between an hour before it and ``match_hours`` after it. Each conversation serves one thread.
- **The resolution**: ``resolved_at`` when the bundle has it (a help-desk export). Otherwise the
  last customer message, when it thanks the brand ("thanks, all sorted"), or the brand's last
  message, once the customer has been silent after it for ``silence_hours`` (wall-clock time: the
  customer's silence does not follow office hours). A brand's last message that promises more
  ("we'll come back to you", "I've passed this on to the team") resolves nothing.
- **The deadline**: the brand's follow-up is due ``followup_days`` business days after the
  resolution: at the close of the last open interval of the Nth local day with open time after the
  resolution's day, in the policy's ``business_hours`` calendar (``docs/business_hours.md``); with
  an always-open calendar, N x 24 hours after the resolution. Staff write follow-ups, so their
  deadline is in business time.
- **The follow-up**: a public, human brand reply to that customer in the thread after the
  resolution. None by the deadline is a finding; a deadline after the window's end is pending,
  counted and never a finding. A follow-up after the deadline is a finding too ("late").
  A conversation whose customer has not yet been silent for ``silence_hours`` is pending too
  (``resolution_pending``).

Without observed conversations the check is ``not_applicable``. Metrics: moves, matched
conversations (by link or by customer and time), resolutions by how they were decided, followed
up, late, missing, pending.

## Why it matters
The public thread shows an angry customer and the brand saying "DM us". If the story ends in the
DMs, everyone who saw the complaint believes it was never solved. One public line closes the
loop, and shows other customers that asking works.

## Example
Fails: "@AcmeHelp my refund is three weeks late" - "@ann sorry! DM us your order number" - the
DM ends with "All done: your refund is on its way" on Monday, and nothing more is posted in the
public thread by Thursday's close of business.

Passes: on Tuesday the brand replies in the thread "@ann thanks for chatting with us in DM, glad
we could sort out your refund!"

## How to fix
Close every private case with one public reply in the thread it came from: thank the customer and
say the problem is solved (without personal details). Help-desk tools can remind agents when a
case that came from a public post is closed.

## Known problems
Any later public, human brand reply to the customer in the thread counts as the follow-up, even
one that says nothing about the resolution ("sorry, could you DM us again?"). A follow-up posted
as a new top-level post, or in another thread, is not seen, and the case is a finding.

Resolutions are inferred when ``resolved_at`` is missing: a customer's last message that thanks
the brand ("thanks, I'll try that") resolves the case although nothing may be fixed, and a
customer who gave up after the brand's last message is "resolved" by silence after
``silence_hours``; both can flag a missing follow-up for a problem that was never solved.

Without ``linked_post``, a conversation is matched by the customer's handle and time: where the
private handle differs from the public one the move has no conversation and is not judged; a
customer with two conversations near the move may be matched to the wrong one. Only the first
move to a private channel per customer and thread is judged.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.business_hours import BusinessCalendar
from auditor.analysis.private_channel import (
    PublicExchange,
    customer_key,
    private_offer,
    public_threads,
    reply_offer,
)
from auditor.analysis.sla import calendar_choice
from auditor.analysis.threads import is_automated
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
from auditor.checks.kinds import BRAND_POSTS, CONVERSATIONS, POSTS_AND_MARKERS
from auditor.model import Conversation, Message, Post
from auditor.wording import count, part_of

# A conversation that starts a little before the public move still belongs to it ("we've sent you
# a DM" is often posted after the DM).
MATCH_SLACK = timedelta(hours=1)
# How many local days a business-day deadline may look ahead for open time.
_MAX_DAYS_AHEAD = 400

_THANKS = re.compile(
    r"\b(?:thanks|thank\s+(?:you|u)|thx|ty|cheers|ta|much\s+appreciated|grateful"
    r"|appreciate\s+(?:it|that|the|your|you|all))\b",
    re.IGNORECASE,
)
# A thank-you with any of these is not a closing: "thanks, but it still fails", "thanks?".
_NOT_CLOSING = re.compile(
    r"\b(?:but|still|not|never|nothing|again|yet|however|though|useless)\b|n't\b|n’t\b|\?",
    re.IGNORECASE,
)
_PROMISES_MORE = re.compile(
    r"\b(?:we|i|they|the\s+team|someone|our\s+\w+)(?:'ll|’ll|\s+will|\s+are\s+going\s+to)\s+"
    r"(?:get\s+back|come\s+back|be\s+in\s+touch|update\s+you|let\s+you\s+know|follow\s+up|"
    r"reach\s+out|contact\s+you|call\s+you|keep\s+you\s+posted)"
    r"|\b(?:passed|escalated|raised|forwarded|referred)\b[^.!?]{0,40}\b(?:on|team|specialists?|"
    r"colleagues|department|manager)\b"
    r"|\bstill\s+(?:looking|checking|investigating|working)\b|\bbear\s+with\s+(?:us|me)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Resolution:
    at: datetime
    method: str  # "resolved_at" | "customer_thanked" | "customer_silent"
    message: str | None  # the message it was decided at, when decided from messages


@dataclass(slots=True)
class Move:
    exchange: PublicExchange
    offer: Post
    phrase: str


def thanks(text: str) -> bool:
    return _THANKS.search(text) is not None and _NOT_CLOSING.search(text) is None


def promises_more(text: str) -> bool:
    return _PROMISES_MORE.search(text) is not None


def resolution_of(
    conversation: Conversation, end: datetime, silence: timedelta
) -> Resolution | str:
    """When the conversation was resolved, or why it is not (``"pending"`` or ``"open"``)."""
    if conversation.resolved_at is not None:
        if conversation.resolved_at > end:
            return "pending"
        return Resolution(conversation.resolved_at, "resolved_at", None)
    messages = [m for m in conversation.messages if m.created_at <= end]
    if not messages:
        return "open"
    messages.sort(key=lambda m: m.created_at)
    last = messages[-1]
    if last.by_brand and promises_more(last.text):
        return "open"
    last_customer = next((m for m in reversed(messages) if not m.by_brand), None)
    if last_customer is not None and thanks(last_customer.text):
        return Resolution(last_customer.created_at, "customer_thanked", last_customer.id)
    if not last.by_brand:
        return "open"
    if end - last.created_at < silence:
        return "pending"
    return Resolution(last.created_at, "customer_silent", last.id)


class BusinessDays:
    """Deadlines ``days`` business days after an instant (see the module docs), cached by day."""

    def __init__(self, calendar: BusinessCalendar, days: int) -> None:
        self._calendar = calendar
        self._days = days
        self._by_date: dict[date, datetime] = {}

    def deadline(self, start: datetime) -> datetime:
        calendar = self._calendar
        if calendar.is_always_open or calendar.timezone is None:
            return start + timedelta(days=self._days)
        zone = calendar.timezone
        local_day = start.astimezone(zone).date()
        due = self._by_date.get(local_day)
        if due is None:
            due = self._by_date[local_day] = self._close_of_business(local_day)
        return due

    def _close_of_business(self, local_day: date) -> datetime:
        zone = self._calendar.timezone
        counted = 0
        for offset in range(1, _MAX_DAYS_AHEAD):
            day = local_day + timedelta(days=offset)
            opens = self._calendar.open_intervals(
                datetime.combine(day, time(0), zone),
                datetime.combine(day + timedelta(days=1), time(0), zone),
            )
            if opens:
                counted += 1
                if counted == self._days:
                    return opens[-1][1]
        raise ValueError(f"no {self._days} business days within {_MAX_DAYS_AHEAD} days")


def moves(
    exchanges: Iterable[PublicExchange], offer: Callable[[str], str | None] = private_offer
) -> list[Move]:
    """Each exchange's first public brand reply that offers a private channel."""
    found = []
    for exchange in exchanges:
        for reply in exchange.brand_replies:
            phrase = offer(reply.text)
            if phrase is not None:
                found.append(Move(exchange, reply, phrase))
                break
    return found


def match_conversations(
    found: list[Move],
    conversations: list[Conversation],
    posts_thread: Mapping[str, str],
    match_window: timedelta,
) -> tuple[dict[int, tuple[Conversation, str]], int]:
    """Pair moves with conversations: by ``linked_post`` first, else by customer and time.

    Returns {move index: (conversation, how)} and the number of linked conversations whose
    thread had no move.
    """
    by_key = {(m.exchange.thread, m.exchange.customer): i for i, m in enumerate(found)}
    by_thread: dict[str, list[int]] = {}
    for index, move in enumerate(found):
        by_thread.setdefault(move.exchange.thread, []).append(index)
    matched: dict[int, tuple[Conversation, str]] = {}
    unlinked: dict[str, list[Conversation]] = {}
    linked_without_move = 0
    for conversation in conversations:
        if not conversation.messages and conversation.resolved_at is None:
            continue
        customer = customer_key(conversation.customer)
        thread = posts_thread.get(conversation.linked_post or "")
        if thread is None:
            unlinked.setdefault(customer, []).append(conversation)
            continue
        move_index = by_key.get((thread, customer))
        if move_index is None and len(by_thread.get(thread, ())) == 1:
            move_index = by_thread[thread][0]  # the link names the thread; the handle may differ
        if move_index is None or move_index in matched:
            linked_without_move += 1 if move_index is None else 0
            continue
        matched[move_index] = (conversation, "linked_post")
    used: set[str] = set()
    for index, move in enumerate(found):
        if index in matched:
            continue
        moved_at = move.offer.created_at
        best: Conversation | None = None
        best_gap: timedelta | None = None
        for conversation in unlinked.get(move.exchange.customer, ()):
            if conversation.id in used or not conversation.messages:
                continue
            first = min(m.created_at for m in conversation.messages)
            if not moved_at - MATCH_SLACK <= first <= moved_at + match_window:
                continue
            gap = abs(first - moved_at)
            if best_gap is None or gap < best_gap:
                best, best_gap = conversation, gap
        if best is not None:
            used.add(best.id)
            matched[index] = (best, "customer_and_time")
    return matched, linked_without_move


def _human_replies_after(
    replies: list[Post], after: datetime, automation_sources: frozenset[str]
) -> list[Post]:
    times = [r.created_at for r in replies]
    later = replies[bisect_right(times, after) :]
    return [r for r in later if not is_automated(r, automation_sources)]


def _timestamp(value: datetime) -> str:
    return value.isoformat()


def _resolution_message(conversation: Conversation, message_id: str | None) -> Message | None:
    return next((m for m in conversation.messages if m.id == message_id), None)


def run(ctx: AuditContext) -> CheckOutput:
    assert ctx.window is not None
    end = ctx.window.end
    params = typed_params(ctx, FUP001Parameters)
    silence = timedelta(hours=params.silence_hours)
    match_window = timedelta(hours=params.match_hours)
    choice = calendar_choice(ctx)
    business_days = BusinessDays(choice.calendar, params.followup_days)
    automation_sources = frozenset(ctx.policy.get("automation_sources") or ())
    threads = public_threads(ctx)
    found = moves(threads.exchanges, lambda text: reply_offer(ctx, text))
    conversations = ctx.account.conversations
    posts_thread = {p.id: p.thread_id for p in ctx.account.posts} if conversations else {}
    matched, linked_without_move = match_conversations(
        found, conversations, posts_thread, match_window
    )

    counts = {
        "followed_up": 0,
        "late": 0,
        "missing": 0,
        "pending": 0,
        "not_resolved": 0,
        "resolution_pending": 0,
    }
    methods = {"resolved_at": 0, "customer_thanked": 0, "customer_silent": 0}
    how_matched = {"linked_post": 0, "customer_and_time": 0}
    findings: list[Finding] = []
    for index, move in enumerate(found):
        pair = matched.get(index)
        if pair is None:
            continue
        conversation, how = pair
        how_matched[how] += 1
        resolution = resolution_of(conversation, end, silence)
        if resolution == "open":
            counts["not_resolved"] += 1
            continue
        if isinstance(resolution, str):
            counts["resolution_pending"] += 1
            continue
        methods[resolution.method] += 1
        due = business_days.deadline(resolution.at)
        replies = _human_replies_after(
            move.exchange.brand_replies, resolution.at, automation_sources
        )
        follow_up = next((r for r in replies if r.created_at <= end), None)
        if follow_up is not None and follow_up.created_at <= due:
            counts["followed_up"] += 1
            continue
        if follow_up is None and due > end:
            counts["pending"] += 1
            continue
        counts["late" if follow_up is not None else "missing"] += 1
        findings.append(_finding(ctx, move, conversation, how, resolution, due, follow_up))

    judged = counts["followed_up"] + counts["late"] + counts["missing"]
    rate = counts["followed_up"] / judged if judged else None
    metrics: dict[str, Any] = {
        "moves_to_private": len(found),
        "conversations": len(conversations),
        "matched": how_matched,
        "moves_without_conversation": len(found) - len(matched),
        "linked_without_public_move": linked_without_move,
        "resolved": methods,
        **counts,
        "judged": judged,
        "followup_rate": None if rate is None else round(rate, 4),
        "followup_days": params.followup_days,
        "calendar": choice.describe(),
    }
    notes = [choice.note] if choice.note else []
    waiting = counts["pending"] + counts["resolution_pending"]
    if judged == 0 and waiting == 0:
        return CheckOutput(
            metrics=metrics,
            notes=notes,
            not_applicable="no public thread moved to a private conversation that was resolved",
        )
    summary = (
        f"{part_of(counts['missing'] + counts['late'], judged, 'privately resolved thread')} "
        "without a timely public follow-up"
        + (f" ({rate:.0%} followed up)" if rate is not None else "")
        + (f", {count(waiting, 'thread')} pending" if waiting else "")
    )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


def _finding(
    ctx: AuditContext,
    move: Move,
    conversation: Conversation,
    how: str,
    resolution: Resolution,
    due: datetime,
    follow_up: Post | None,
) -> Finding:
    offer = move.offer
    resolved_by = {
        "resolved_at": "resolved_at in the data",
        "customer_thanked": "the customer's last message thanks the brand",
        "customer_silent": "the brand's last message, then customer silence",
    }[resolution.method]
    message = _resolution_message(conversation, resolution.message)
    if follow_up is None:
        what = f"no public follow-up in thread {move.exchange.thread} after private resolution"
    else:
        late_days = (follow_up.created_at - resolution.at).total_seconds() / 86400
        what = f"public follow-up {late_days:.1f} days after private resolution, past the deadline"
    post_ids = (offer.id,) + ((follow_up.id,) if follow_up is not None else ())
    urls = tuple(p.url for p in (offer, follow_up) if p is not None and p.url)
    return ctx.finding(
        f"{move.exchange.thread}:{conversation.id}",
        f"{what} ({resolved_by}, {resolution.at:%Y-%m-%d %H:%M %Z})",
        evidence=Evidence(
            post_ids=post_ids,
            conversation_ids=(conversation.id,),
            urls=urls,
            timestamps=(offer.created_at, resolution.at, due),
            excerpt=excerpt(offer.text),
            data={
                "thread": move.exchange.thread,
                "customer": conversation.customer,
                "moved_at": _timestamp(offer.created_at),
                "offer": move.phrase,
                "matched_by": how,
                "resolved_at": _timestamp(resolution.at),
                "resolution_method": resolution.method,
                "resolution_message": resolution.message,
                "resolution_excerpt": excerpt(message.text) if message is not None else None,
                "deadline": _timestamp(due),
                "follow_up": follow_up.id if follow_up is not None else None,
            },
        ),
    )


class FUP001Parameters(CheckParameters, frozen=True):
    followup_days: Annotated[
        int,
        Meta(
            ge=1,
            description=(
                "Business days after the private resolution by which the brand must post in "
                "the public thread: the close of the Nth local day with open time in the "
                "policy's business_hours (N x 24 hours when always open)."
            ),
        ),
    ] = 3
    silence_hours: Annotated[
        float,
        Meta(
            gt=0,
            description=(
                "Without resolved_at, a conversation whose last message is the brand's is "
                "resolved at that message once the customer has been silent this long "
                "(wall-clock hours)."
            ),
        ),
    ] = 48
    match_hours: Annotated[
        float,
        Meta(
            gt=0,
            description=(
                "Without linked_post, a customer's conversation matches the public move to a "
                "private channel when its first message is at most this many hours after the "
                "move (or up to an hour before it)."
            ),
        ),
    ] = 72


CHECK = Check(
    id="FUP001",
    title="Public follow-up after private resolution",
    version="1.0.1",
    severity="medium",
    docs=__doc__ or "",
    run=run,
    parameters=FUP001Parameters,
    needs=Needs(
        posts=True,
        conversations=True,
        data=POSTS_AND_MARKERS | CONVERSATIONS,
        refuted_by=BRAND_POSTS,
    ),
)
