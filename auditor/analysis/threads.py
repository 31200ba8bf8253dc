"""Who addressed the brand, and which brand reply answered them: shared by every response check.

The rules, per conversation, as ``docs/sla.md`` states them:

- A conversation is one customer in one thread (its root). A customer is any author who is not
  the account, one of its *aliases* (the brand's other handles: a main or regional account),
  an excluded author, or another brand of the same source (the ``twcs`` source leaves those
  posts out already).
- A customer's *counted* posts are those not deleted, not spam and not by an excluded author.
  When any of them mentions the brand or an alias, replies to a post of the account or of an
  alias, or is replied to by a public human post of the account before the window's end, the
  conversation is *addressed*: all of the customer's counted posts in it are addressed, earlier
  ones included (the first-response clock starts at the earliest); otherwise none is.
- A post mentions the brand (or an alias) when the platform's own mention data
  (``Post.mentions``) names it, by any form of its handle or by its account id; a post without
  such data (a source that has none) mentions it when its text does, in any form of the handle
  (:func:`mention_pattern`).
- A post is *answered* by the first later brand post in the same thread that replies to one of
  that customer's posts. Only the account's public, human posts answer: never an alias's, and
  not automated ones (flagged, or sent from a source in the policy's ``automation_sources``),
  unless the caller says automated replies answer (the policy's ``automated_replies_answer``).
- Alias posts are no customer's and answer nobody: left out and counted (``alias_posts``).
- Posts whose ids are in ``spam_ids`` (the classifier's spam) are left out and counted.
- A customer post its author (or anyone) deleted awaits no answer and is counted
  (``deleted_posts``); a brand reply to it still answers that customer.
- Later means strictly later: a brand reply in the same second as a customer post does not
  answer it (with timestamps to the second, such replies are in practice automated).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from auditor.model import AccountData, Post


def handle_forms(handle: str) -> frozenset[str]:
    """The names, lower-cased and without "@", under which mention data may name an account.

    A Mastodon handle ``name@instance`` is named ``name`` by its own instance (``acct`` is
    relative to the server asked) and ``name@instance`` by every other one.
    """
    full = handle.strip().lstrip("@").lower()
    name, _, instance = full.partition("@")
    return frozenset({full, name}) if instance else frozenset({full})


# Where a profile URL names an account (a Mastodon instance's ``/@name`` is added per handle);
# the host must start there: fox.com/name is no x.com profile.
_PROFILE_URL = (
    r"(?<![\w.-])(?:www\.|mobile\.)?"
    r"(?:x\.com|twitter\.com|facebook\.com|instagram\.com|bsky\.app/profile)/"
)


def mention_pattern(handle: str) -> re.Pattern[str]:
    """A mention of the account in a text, in any form of its handle and in any case.

    ``@name``; for ``name@instance``, ``@name@instance`` and ``@name`` (as Mastodon renders a
    mention), but not ``@name@another.instance``, another account; a profile URL
    (``x.com/name``, ``bsky.app/profile/name``, ``https://instance/@name``).
    """
    full = handle.strip().lstrip("@")
    name, _, instance = full.partition("@")
    # A handle is a mention only where it ends: @Acme must not match @AcmeHelp.
    end = r"(?![A-Za-z0-9_])"
    forms = [rf"@{re.escape(full)}{end}", rf"{_PROFILE_URL}{re.escape(full)}{end}"]
    if instance:
        forms += [
            rf"@{re.escape(name)}(?![A-Za-z0-9_@])",
            rf"(?<![\w.-]){re.escape(instance)}/(?:@|users/){re.escape(name)}{end}",
        ]
    return re.compile("|".join(forms), re.IGNORECASE)


class BrandMentions:
    """Whether a post mentions the account or one of its aliases: by the platform's mention
    data where the post has it, by its text where it has none."""

    def __init__(
        self,
        handle: str,
        account_ids: Collection[str] = (),
        aliases: Collection[str] = (),
        alias_ids: Collection[str] = (),
    ) -> None:
        handles = [handle, *aliases]
        names: set[str] = {i.lower() for i in (*account_ids, *alias_ids)}
        for one in handles:
            names |= handle_forms(one)
        self.names = frozenset(names)
        self._in_text = re.compile(
            "|".join(mention_pattern(one).pattern for one in handles), re.IGNORECASE
        ).search
        # Every text form of a handle holds its name (``name`` of ``name@instance``): a text
        # without any of them, lower-cased, cannot match, and most texts end there.
        self._needles = tuple(
            sorted({one.strip().lstrip("@").partition("@")[0].lower() for one in handles})
        )

    def __call__(self, post: Post) -> bool:
        if post.mentions is not None:
            names = self.names
            return any(m.lower().lstrip("@") in names for m in post.mentions)
        # "@" is in every form but a bare profile URL; "/" in every URL.
        text = post.text
        if "@" not in text and "/" not in text:
            return False
        # str.lower and the regex's case-insensitive match agree on ASCII; other texts (rare)
        # go straight to the regex, so that no form is missed.
        if text.isascii():
            lowered = text.lower()
            if not any(needle in lowered for needle in self._needles):
                return False
        return self._in_text(text) is not None


def brand_account_ids(data: AccountData) -> set[str]:
    """The brand's account ids the data shows (its own posts' author ids)."""
    return {p.author_id for p in data.posts if p.by_brand and p.author_id}


def is_automated(post: Post, automation_sources: Collection[str] = ()) -> bool:
    return post.automated is True or (post.source is not None and post.source in automation_sources)


@dataclass(slots=True)
class Engagement:
    """One customer in one thread: their posts to the brand and the brand's answers to them."""

    thread: str
    customer: str
    posts: list[Post] = field(default_factory=list)
    answers: list[Post] = field(default_factory=list)
    _first_answers: list[Post | None] | None = None

    def first_answers(self) -> list[Post | None]:
        """The answer to each of ``posts``, in order: the first answer strictly later than the
        post, or None. Worked out once, in one merge walk (every RSP check asks it)."""
        if self._first_answers is None:
            answers = self.answers
            if not answers:
                self._first_answers = [None] * len(self.posts)
                return self._first_answers
            found: list[Post | None] = []
            next_answer, count = 0, len(answers)
            for post in self.posts:
                created = post.created_at
                while next_answer < count and answers[next_answer].created_at <= created:
                    next_answer += 1
                found.append(answers[next_answer] if next_answer < count else None)
            self._first_answers = found
        return self._first_answers


@dataclass(slots=True)
class ThreadIndex:
    engagements: list[Engagement]
    threads: int
    customer_posts: int
    not_addressed: int
    excluded_posts: int
    automated_brand_replies: int
    spam_posts: int = 0
    deleted_posts: int = 0
    alias_posts: int = 0

    def answered_posts(self) -> Iterable[tuple[Engagement, Post, Post | None]]:
        """Every addressed post with its answer (``Engagement.first_answers``), or None."""
        for engagement in self.engagements:
            for post, answer in zip(engagement.posts, engagement.first_answers(), strict=True):
                yield engagement, post, answer


_CREATED = attrgetter("created_at")


def fold_handle(handle: str) -> str:
    """A handle as compared: lower-cased, without a leading "@"."""
    return handle.lower().lstrip("@")


def alias_account_ids(data: AccountData, aliases: Collection[str]) -> set[str]:
    """The aliases' account ids the data shows (their posts' author ids)."""
    names = {fold_handle(a) for a in aliases}
    return {p.author_id for p in data.posts if p.author_id and fold_handle(p.author) in names}


def _is_addressed(
    engagement: Engagement,
    own_post_ids: set[str],
    mentions_brand: BrandMentions,
    window_end: datetime | None,
) -> bool:
    """Whether any counted post of the conversation was addressed to the brand (the rule in
    the module's docstring): then all of them are."""
    counted = {p.id for p in engagement.posts}
    for answer in engagement.answers:
        seen = window_end is None or answer.created_at <= window_end
        if seen and answer.in_reply_to in counted:
            return True
    return any(
        (post.in_reply_to is not None and post.in_reply_to in own_post_ids) or mentions_brand(post)
        for post in engagement.posts
    )


def analyse(
    data: AccountData,
    excluded_authors: Collection[str] = (),
    automation_sources: Collection[str] = (),
    *,
    automated_replies_answer: bool = False,
    spam_ids: Collection[str] = (),
    aliases: Collection[str] = (),
    window_end: datetime | None = None,
) -> ThreadIndex:
    """Conversations, addressed and answered, under the rules of the module's docstring.

    ``window_end``: a brand reply after it does not make a conversation addressed (None: every
    reply the data holds does)."""
    brand = fold_handle(data.account)
    alias_names = {fold_handle(a) for a in aliases} - {brand}
    excluded = {fold_handle(a) for a in excluded_authors}
    with_mention_data = any(p.mentions for p in data.posts)
    mentions_brand = BrandMentions(
        brand,
        brand_account_ids(data) if with_mention_data else (),
        aliases=sorted(alias_names),
        alias_ids=alias_account_ids(data, alias_names) if with_mention_data else (),
    )
    skip_automated = not automated_replies_answer
    threads: dict[str, list[Post]] = defaultdict(list)
    # Sorting the account once (nearly free: sources write posts in time order) leaves every
    # thread in time order too.
    for post in sorted(data.posts, key=_CREATED):
        threads[post.thread or post.id].append(post)
    # Handles repeat across an account's posts: fold each one once.
    folded: dict[str, str] = {}

    engagements: list[Engagement] = []
    customer_posts = not_addressed = excluded_posts = automated = spam = deleted = 0
    alias_posts = 0
    for thread_id, posts in threads.items():
        per_customer: dict[str, Engagement] = {}
        brand_replies: list[Post] = []
        # Posts of the account or an alias, whatever their visibility: a reply to one is
        # addressed to the brand.
        own_post_ids: set[str] = set()
        deleted_by_customer: dict[str, str] = {}  # deleted post id -> its author's key
        for post in posts:
            if post.by_brand:
                own_post_ids.add(post.id)
                if post.visibility != "public":
                    continue
                if skip_automated and (
                    post.automated is True
                    or (post.source is not None and post.source in automation_sources)
                ):
                    automated += 1
                    continue
                brand_replies.append(post)
                continue
            author = folded.get(post.author)
            if author is None:
                author = folded[post.author] = fold_handle(post.author)
            if author == brand:
                continue
            if author in alias_names:
                alias_posts += 1
                own_post_ids.add(post.id)
                continue
            if author in excluded:
                excluded_posts += 1
                continue
            if spam_ids and post.id in spam_ids:
                spam += 1
                continue
            if post.visibility == "deleted":
                # A post taken down awaits no answer (deletion checks judge it), but a brand
                # reply to it still answered its author.
                deleted += 1
                deleted_by_customer[post.id] = author
                continue
            customer_posts += 1
            engagement = per_customer.get(author)
            if engagement is None:
                engagement = per_customer[author] = Engagement(thread_id, post.author)
            engagement.posts.append(post)

        # Most threads have brand replies and customers; the rest need no look-up table.
        if brand_replies and (per_customer or deleted_by_customer):
            customer_of_post = {p.id: k for k, e in per_customer.items() for p in e.posts}
            if deleted_by_customer:
                customer_of_post.update(deleted_by_customer)
            for reply in brand_replies:
                customer = customer_of_post.get(reply.in_reply_to or "")
                if customer is not None and customer in per_customer:
                    per_customer[customer].answers.append(reply)

        for engagement in per_customer.values():
            if _is_addressed(engagement, own_post_ids, mentions_brand, window_end):
                engagements.append(engagement)
            else:
                not_addressed += len(engagement.posts)

    engagements.sort(key=lambda e: (e.posts[0].created_at, e.thread, e.customer))
    return ThreadIndex(
        engagements=engagements,
        threads=len(threads),
        customer_posts=customer_posts,
        not_addressed=not_addressed,
        excluded_posts=excluded_posts,
        automated_brand_replies=automated,
        spam_posts=spam,
        deleted_posts=deleted,
        alias_posts=alias_posts,
    )
