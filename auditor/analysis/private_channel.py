"""Public conversations with one customer, and the brand's offers to continue them privately.

Shared by FUP001 (public follow-up after a private resolution), THR001 (lengthy public threads),
PRV001 (personal data in public), TON001 (defensive replies) and TON002 (signed replies).
Definitions, also in ``docs/conduct.md``:

- An **exchange** is one customer in one public thread: that customer's posts there, and the
  brand's public replies to them. A brand reply belongs to the customer whose post it replies to;
  a brand reply to a brand post belongs to whoever that brand post belonged to; a reply to a post
  missing from the data belongs to the customer who started the thread, if one did. Brand posts
  that belong to nobody (announcements, replies to them) are in no exchange.
- A **private-channel offer** is a phrase that moves the conversation out of public view: "DM us",
  "send us a private message", "check your DMs", "email us at ...", "give us a call", "live chat".
  An offer negated earlier in its clause ("we will never ask for your password by DM") is not one.

Everything per account is computed once and kept in ``ctx.cache`` (``ctx.derived``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from auditor.check import AuditContext
from auditor.model import AccountData, Post

__all__ = [
    "NEGATION",
    "WORD_END",
    "WORD_START",
    "PublicExchange",
    "PublicThreads",
    "analyse_public_threads",
    "customer_key",
    "lowered",
    "negated_before",
    "offers_private_channel",
    "phrase_key",
    "private_offer",
    "public_threads",
    "reply_offer",
]

# Every pattern here (and in the checks that use them) matches *lowered* text (``lowered``)
# without re.IGNORECASE, and marks word edges with look-arounds: in Python's re that is several
# times faster than case-insensitive matching with \b, and brand replies are half of all posts.
WORD_START = r"(?<!\w)"
WORD_END = r"(?!\w)"

_PRIVATE_OFFER = re.compile(
    WORD_START + r"(?:"
    # Direct messages under every name platforms give them.
    r"d\.?m(?:'?s|'?d|ed|ing)?|direct[\s-]*messages?|private[\s-]*messages?|privately"
    r"|private\s+(?:chat|channel|conversation)|p\.?m\.?\s+(?:us|me)|inbox\s+(?:us|me)"
    r"|(?:our|your)\s+inbox|messenger|whats\s?app"
    r"|(?:message|msg)\s+(?:us|me|our\s+team)|send\s+(?:us|me)\s+an?\s+(?:message|msg|note)"
    # Email and phone: the brand's channel, not a customer's address in public.
    r"|e-?mail\s+(?:us|me|our\s+team|the\s+team|it\s+to\s+us)|e-?mailed\s+you"
    r"|(?:drop|send|shoot)\s+(?:us|me)\s+an?\s+e-?mail|sent\s+you\s+an?\s+e-?mail"
    # ("by phone until 6pm" states opening hours; "call us" offers the channel.)
    r"|(?:by|via|over)\s+e-?mail"
    r"|(?:call|phone|ring)\s+(?:us|our\s+team|the\s+team)|give\s+us\s+a\s+(?:call|ring)"
    r"|live\s+chat|chat\s+with\s+us|web\s+chat"
    r")" + WORD_END
)
# Every offer above contains one of these: most replies contain none, and this search is cheap.
_OFFER_HINT = re.compile(
    r"dm|d\.m|direct|private|pm|p\.m|inbox|messenger|whats|message|msg|mail|phone|call|ring|chat"
)

# Words that negate what follows them in the same clause.
NEGATION = re.compile(
    WORD_START + r"(?:never|not|no|don'?t|do\s+not|won'?t|will\s+not|can'?t|cannot|"
    r"shouldn'?t|please\s+avoid|avoid|neither|nor)" + WORD_END
)
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n()]|(?<!\w)(?:but|so|instead)(?!\w)")
# How far back a negation reaches: "we'll never ask for your password by DM" (30 characters).
_NEGATION_REACH = 60


def lowered(text: str) -> str:
    """What the phrase patterns read: lower case, typographic apostrophes made plain."""
    text = text.lower()
    return text.replace("’", "'") if "’" in text else text


def negated_before(text: str, position: int) -> bool:
    """Whether a negation precedes ``position`` of a *lowered* text in the same clause (within a
    short reach)."""
    start = max(0, position - _NEGATION_REACH)
    window = text[start:position]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    if breaks:
        window = window[breaks[-1].end() :]
    return NEGATION.search(window) is not None


def private_offer(text: str) -> str | None:
    """The first phrase in ``text`` that offers a private channel (lowered), or None."""
    text = lowered(text)
    if _OFFER_HINT.search(text) is None:
        return None
    for match in _PRIVATE_OFFER.finditer(text):
        if not negated_before(text, match.start()):
            return match.group(0)
    return None


def offers_private_channel(text: str) -> bool:
    return private_offer(text) is not None


_MENTION = re.compile(r"@[\w.-]+")


def phrase_key(text: str) -> str:
    """The text without @mentions: what phrase detection sees, and the key its results are
    cached under, since brand replies repeat templates addressed to different customers."""
    return _MENTION.sub("@", text) if "@" in text else text


def reply_offer(ctx: AuditContext, text: str) -> str | None:
    """``private_offer`` of a brand reply, decided once per template per account."""
    memo: dict[str, str | None] = ctx.derived("private_channel.offers", dict)
    key = phrase_key(text)
    if key in memo:
        return memo[key]
    found = memo[key] = private_offer(key)
    return found


def customer_key(handle: str) -> str:
    """How customers are compared: handles are case-insensitive, the "@" is optional."""
    return handle.lower().lstrip("@")


@dataclass(slots=True)
class PublicExchange:
    """One customer in one public thread: their posts and the brand's public replies to them."""

    thread: str
    customer: str  # the customer's key (``customer_key``)
    customer_posts: list[Post] = field(default_factory=list)
    brand_replies: list[Post] = field(default_factory=list)


@dataclass(slots=True)
class PublicThreads:
    """Every thread's posts in time order, and the exchanges that have a brand reply."""

    by_thread: dict[str, list[Post]]
    exchanges: list[PublicExchange]
    excluded_posts: int


def analyse_public_threads(
    data: AccountData, excluded_authors: Collection[str] = ()
) -> PublicThreads:
    brand = customer_key(data.account)
    excluded = {customer_key(a) for a in excluded_authors}
    by_thread: dict[str, list[Post]] = {}
    for post in data.posts:
        thread = post.thread or post.id
        posts = by_thread.get(thread)
        if posts is None:
            by_thread[thread] = [post]
        else:
            posts.append(post)

    exchanges: list[PublicExchange] = []
    excluded_posts = 0
    for thread_id, posts in by_thread.items():
        if len(posts) == 1 and not posts[0].by_brand:
            continue  # a lone customer post: no exchange, and the commonest case by far
        posts.sort(key=lambda p: p.created_at)
        # Post id -> the customer it belongs to; "" for posts that belong to nobody.
        owner: dict[str, str] = {}
        per_customer: dict[str, PublicExchange] = {}
        root = posts[0] if posts[0].id == thread_id else None
        root_customer: str | None = None
        for post in posts:
            author = customer_key(post.author)
            if post.by_brand or author == brand:
                parent = post.in_reply_to
                belongs = None if parent is None else owner.get(parent)
                if belongs is None and parent is not None:
                    belongs = root_customer  # the parent is missing from the data
                owner[post.id] = belongs or ""
                if belongs and post.visibility == "public":
                    per_customer[belongs].brand_replies.append(post)
                continue
            if author in excluded:
                excluded_posts += 1
                owner[post.id] = ""
                continue
            if post is root:
                root_customer = author
            owner[post.id] = author
            exchange = per_customer.get(author)
            if exchange is None:
                exchange = per_customer[author] = PublicExchange(thread_id, author)
            exchange.customer_posts.append(post)
        exchanges.extend(e for e in per_customer.values() if e.brand_replies)
    exchanges.sort(key=lambda e: (e.brand_replies[0].created_at, e.thread, e.customer))
    return PublicThreads(by_thread, exchanges, excluded_posts)


def public_threads(ctx: AuditContext) -> PublicThreads:
    """The account's public threads and exchanges under its policy, computed once."""
    return ctx.derived(
        "private_channel.public_threads",
        lambda: analyse_public_threads(ctx.account, ctx.policy.get("exclude_authors", ())),
    )
