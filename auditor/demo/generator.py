"""Deterministic demo and benchmark bundles.

``generate_records`` streams bundle records (``docs/bundle.md``) for a set of fictional brand
accounts. Everything derives from the seed and the ``end`` instant: the same arguments give the
same records in the same order, so a written bundle is byte-identical from run to run.

Each account follows a :class:`~auditor.demo.plan.Behaviour` (``plan.py``). This module tells
the account's stories (complaints, questions, praise, spam, private conversations, a crisis) and
builds their records; the texts come from the corpora in ``data/`` (``texts.py``), the people from
``people.py``, ids and URLs from ``ids.py``, the profile and the staffed hours from ``profile.py``.

Conventions the generated data keeps (tests rely on them):

- Customer posts are addressed to the brand: either top-level posts that mention it, or replies in
  a thread the brand started (announcements), or replies to the brand's replies.
- A brand reply has ``in_reply_to`` set to a customer post and shares its ``thread``.
- A customer post counts as *answered* when a later brand post replies to it or to a later post of
  the same customer in the same thread (a customer who posts "hello??" twice gets one reply to the
  last of them).
- Customer posts happen no later than three hours before ``end`` so that a brand that answers fast
  has answered everything when the window closes; slower brands leave posts pending.
- What a platform cannot observe does not appear: a complaint deleted on a platform whose window
  does not observe deletions is missing from the bundle, a hidden one appears public, and
  conversations exist only where the window observes them.

Imports the rest of ``auditor.demo`` and ``auditor.sources.platforms`` (what each platform
observes); nothing else of the project.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from auditor.demo import texts
from auditor.demo.draw import pick, randint
from auditor.demo.ids import IdMint, platform_user_id
from auditor.demo.people import Customer, Customers, brand_mention
from auditor.demo.plan import AccountPlan, Behaviour, plan_accounts
from auditor.demo.profile import profile_record, staffed_intervals
from auditor.demo.texts import Template
from auditor.sources.platforms import observability

DEFAULT_END: datetime = datetime(2026, 11, 16, tzinfo=UTC)

# The order a window record lists what it observes in (the table itself is a set per platform).
_OBSERVES_ORDER = ("deleted", "hidden", "conversations", "automated")

# Customers stop posting this long before ``end``: see the module docstring.
CUSTOMER_CUTOFF_SECONDS = 3 * 3600
# What a mixed brand's customers complain about; "outage" is kept for the crisis.
_COMPLAINT_TOPICS = ("delivery", "refund", "login", "billing", "crash")
# Platforms that label automated posts (X's automated-account label, Mastodon's bot flag).
_LABELS_AUTOMATION = frozenset({"x", "mastodon"})
# Platforms whose API names the client app of a post.
_NAMES_SOURCE = frozenset({"x", "mastodon"})

# Share of episodes that start with a brand post customers then reply to (Instagram and Facebook
# care happens mostly in comments; on X customers mention the brand).
_ANNOUNCEMENT_SHARE = {"x": 0.05, "mastodon": 0.06, "bluesky": 0.07, "facebook": 0.2,
                       "instagram": 0.35}  # fmt: skip
_AUTHOR_DELETE_RATE = 0.01
_DIRECT_MESSAGE_RATE = 0.05  # customers who skip the public post and write a DM

# Relative posting activity by local hour, midnight first.
_HOUR_WEIGHTS = (1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 4.5,
                 4.5, 4.5, 4.2, 4.0, 4.0, 4.2, 4.5, 4.5, 4.0, 3.2, 2.4, 1.6)  # fmt: skip
_MAX_HOUR_WEIGHT = max(_HOUR_WEIGHTS)


@dataclass(slots=True)
class _Node:
    """A generated post while its account is being built."""

    ts: int
    order: int
    id: str
    thread: str
    # Platform detail the URLs of replies need: the root's Facebook object id or Instagram
    # shortcode.
    root_ref: str
    author: str
    record: dict[str, Any]


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


# --------------------------------------------------------------------------------------------
# Generation of one account
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Budget:
    posts: int
    start_ts: int
    end_ts: int


class _AccountGenerator:
    """Builds one account's records; memory is bounded by that account's posts."""

    def __init__(
        self,
        plan: AccountPlan,
        budget: _Budget,
        rng: random.Random,
        ids: IdMint,
        end_iso: str,
        start_iso: str,
    ) -> None:
        self.plan = plan
        self.platform = plan.platform
        self.behaviour = plan.behaviour
        self.rng = rng
        self.ids = ids
        self.budget = budget
        self.start_ts = budget.start_ts
        self.end_ts = budget.end_ts
        self.cutoff_ts = self.end_ts - CUSTOMER_CUTOFF_SECONDS
        self.end_iso = end_iso
        self.start_iso = start_iso
        self.brand_id = platform_user_id(self.platform, plan.handle)
        # What a complete fetch of the platform sees (its re-check of deletions included): the
        # sources' one table, so a demo window observes what a fetched one would.
        self.observes = observability()[self.platform].everything
        self.staffed = staffed_intervals(self.behaviour, self.start_ts, self.end_ts)
        self.staffed_closes = [close for _, close in self.staffed]
        zone = ZoneInfo(self.behaviour.timezone)
        middle = datetime.fromtimestamp((self.start_ts + self.end_ts) // 2, zone)
        offset = middle.utcoffset()
        self.local_offset = int(offset.total_seconds()) if offset else 0
        self.brand_mention = brand_mention(plan)
        self.customers = Customers(self.platform, rng)
        self.order = 0
        # The episode being built; it is kept only if it fits the remaining post budget.
        self.episode_posts: list[_Node] = []
        self.episode_conversations: list[tuple[int, dict[str, Any]]] = []
        # Brand posts keep out of this span: a crisis the brand stays silent about.
        self.silent_from, self.silent_until = 0, 0

    # -- records -------------------------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        yield profile_record(self.plan, self.rng, self.end_iso)
        yield self._window()
        posts, conversations = self._build()
        posts.sort(key=lambda node: (node.ts, node.order))
        for node in posts:
            yield node.record
        conversations.sort(key=lambda item: item[0])
        for _, conversation in conversations:
            yield conversation

    def _window(self) -> dict[str, Any]:
        return {
            "kind": "window",
            "platform": self.platform,
            "account": self.plan.handle,
            "window_start": self.start_iso,
            "window_end": self.end_iso,
            "complete": True,
            "reason": None,
            "observes": sorted(self.observes, key=_OBSERVES_ORDER.index),
            "fetched_at": self.end_iso,
        }

    # -- budget ----------------------------------------------------------------------------

    def _build(self) -> tuple[list[_Node], list[tuple[int, dict[str, Any]]]]:
        posts: list[_Node] = []
        conversations: list[tuple[int, dict[str, Any]]] = []
        remaining = self.budget.posts

        def keep_episode() -> bool:
            nonlocal remaining
            if len(self.episode_posts) > remaining:
                return False
            posts.extend(self.episode_posts)
            conversations.extend(self.episode_conversations)
            remaining -= len(self.episode_posts)
            return True

        if self.behaviour.crisis and remaining >= 40:
            self._begin_episode()
            self._crisis(max_posts=remaining * 3 // 10)
            keep_episode()
        misses = 0
        while remaining > 0 and misses < 8:
            self._begin_episode()
            self._random_episode()
            misses = 0 if keep_episode() else misses + 1
        # What no episode fits any more is filled with brand posts, which need no answer.
        for _ in range(remaining):
            ts = self._brand_post_time(self.end_ts)
            posts.append(self._brand_post(ts, self._text(texts.ANNOUNCEMENTS), None, keep=False))
        return posts, conversations

    def _begin_episode(self) -> None:
        self.episode_posts = []
        self.episode_conversations = []

    def _random_episode(self) -> None:
        rng = self.rng
        if rng.random() < _ANNOUNCEMENT_SHARE[self.platform]:
            self._announcement()
            return
        self._customer_episode(self._customer_time(), None)
        if "conversations" in self.observes and rng.random() < _DIRECT_MESSAGE_RATE:
            # Some customers write a DM straight away: a conversation with no public post.
            self._conversation(self.customers.next(), None, self._customer_time(), "direct")

    def _customer_episode(self, ts: int, parent: _Node | None) -> None:
        behaviour, draw = self.behaviour, self.rng.random()
        if draw < behaviour.spam_rate:
            self._spam(ts, parent)
        elif draw < behaviour.spam_rate + 0.12:
            self._praise(ts, parent)
        elif draw < behaviour.spam_rate + 0.28:
            self._question(ts, parent)
        else:
            self._complaint(ts, parent, pick(self.rng, _COMPLAINT_TOPICS))

    # -- time ------------------------------------------------------------------------------

    def _customer_time(self) -> int:
        span = self.cutoff_ts - self.start_ts
        rng = self.rng
        while True:
            ts = self.start_ts + int(rng.random() * span)
            hour = (ts + self.local_offset) // 3600 % 24
            if rng.random() * _MAX_HOUR_WEIGHT < _HOUR_WEIGHTS[hour]:
                return ts

    def _brand_post_time(self, latest: int) -> int:
        """When the brand posts something of its own (outside a crisis it keeps silent about)."""
        while True:
            ts = self.start_ts + int(self.rng.random() * (latest - self.start_ts))
            if not self.silent_from <= ts < self.silent_until:
                return ts

    def _after(self, ts: int, median_minutes: float) -> int:
        """A customer's own pace: a log-normal delay after ``ts``."""
        return ts + 20 + int(self.rng.lognormvariate(math.log(median_minutes * 60), 0.8))

    def _response_time(self, ts: int, median_minutes: float) -> int:
        """When the brand answers a post made at ``ts``: the next staffed moment plus a delay."""
        ts += 30
        index = bisect_right(self.staffed_closes, ts)
        if index == len(self.staffed):
            return self.end_ts + 86400
        opens = self.staffed[index][0]
        median = median_minutes * 60
        delay = min(self.rng.lognormvariate(math.log(median), 0.7), 8 * median)
        return max(ts, opens) + int(delay)

    # -- people and texts --------------------------------------------------------------------

    def _text(self, templates: Sequence[Template], customer: Customer | None = None) -> str:
        template = pick(self.rng, templates)
        if not template.fields:
            return template.text
        context = {"h": self.brand_mention, "c": customer.mention if customer else ""}
        if customer:
            context["email"] = customer.email
        return texts.fill(template, self.rng, context)

    # -- posts -----------------------------------------------------------------------------

    def _node(
        self,
        ts: int,
        author: str,
        author_id: str,
        by_brand: bool,
        text: str,
        parent: _Node | None,
        source: str | None,
        automated: bool | None,
        keep: bool = True,
    ) -> _Node:
        post_id, url, root_ref = self.ids.post_id(self.platform, ts, author, author_id, parent)
        thread = parent.thread if parent is not None else post_id
        record = {
            "kind": "post",
            "platform": self.platform,
            "account": self.plan.handle,
            "id": post_id,
            "author": author,
            "author_id": author_id,
            "by_brand": by_brand,
            "created_at": _iso(ts),
            "text": text,
            "in_reply_to": parent.id if parent is not None else None,
            "thread": thread,
            "visibility": "public",
            "deleted_by": None,
            "url": url,
            "source": source,
            "automated": automated,
            # Every key of a post, as the bundle writer writes them: such lines take the
            # reader's one-call path (no platform mention data here: the text is read).
            "mentions": None,
        }
        self.order += 1
        node = _Node(ts, self.order, post_id, thread, root_ref, author, record)
        if keep:
            self.episode_posts.append(node)
        return node

    def _customer_post(self, ts: int, customer: Customer, text: str, parent: _Node | None) -> _Node:
        sources = texts.CUSTOMER_APPS.get(self.platform)
        source = pick(self.rng, sources) if sources else None
        return self._node(
            ts, customer.handle, customer.author_id, False, text, parent, source, None
        )

    def _brand_post(
        self, ts: int, text: str, parent: _Node | None, *, bot: bool = False, keep: bool = True
    ) -> _Node:
        platform = self.platform
        if bot:
            # Bot replies name their tool on every platform, so AUT001 has a signal even where
            # the platform does not label automated posts.
            source: str | None = pick(self.rng, texts.BOT_APPS)
        elif platform in _NAMES_SOURCE:
            source = pick(self.rng, texts.BRAND_AGENT_APPS[platform])
        else:
            source = None
        automated = bot if platform in _LABELS_AUTOMATION else None
        return self._node(
            ts, self.plan.handle, self.brand_id, True, text, parent, source, automated, keep
        )

    def _brand_reply(self, ts: int, text: str, parent: _Node, agent: str | None) -> _Node:
        text = texts.in_own_words(text, f"{self.plan.handle}/{ts}/{parent.id}")
        return self._brand_post(ts, f"{text} {agent}" if agent else text, parent)

    def _agent(self) -> str | None:
        signatures = self.behaviour.signatures
        return pick(self.rng, signatures) if signatures else None

    def _remove(self, node: _Node, by: str) -> None:
        """The brand or the author deletes a post, or the brand hides it."""
        if by == "hidden":
            if "hidden" in self.observes:
                node.record["visibility"] = "hidden"
            return
        if "deleted" in self.observes:
            node.record["visibility"] = "deleted"
            node.record["deleted_by"] = by
        elif by != "author":
            # The platform never shows it. Only unanswered complaints are removed this way, so
            # no reply is left pointing at a missing post.
            self.episode_posts.remove(node)

    # -- episodes --------------------------------------------------------------------------

    def _announcement(self) -> None:
        rng = self.rng
        ts = self._brand_post_time(self.cutoff_ts)
        post = self._brand_post(ts, self._text(texts.ANNOUNCEMENTS), None)
        replies = randint(rng, 0, 12 if self.platform == "instagram" else 6)
        for _ in range(replies):
            reply_ts = self._after(ts, 45)
            if reply_ts <= self.cutoff_ts:
                self._customer_episode(reply_ts, post)

    def _opening_text(self, templates: Sequence[Template], customer: Customer) -> str:
        if self.rng.random() < self.behaviour.non_english_rate:
            return self._text(texts.NON_ENGLISH_COMPLAINTS, customer)
        return self._text(templates, customer)

    def _spam(self, ts: int, parent: _Node | None) -> None:
        post = self._customer_post(ts, self.customers.next(), self._text(texts.SPAM), parent)
        if self.rng.random() < 0.5:
            self._remove(post, "hidden")

    def _praise(self, ts: int, parent: _Node | None) -> None:
        customer = self.customers.next()
        post = self._customer_post(ts, customer, self._text(texts.PRAISE), parent)
        if self.rng.random() < self.behaviour.answer_rate:
            reply_ts = self._response_time(ts, self.behaviour.first_response_minutes)
            if reply_ts <= self.end_ts:
                if self.rng.random() < self.behaviour.canned_reply_rate:
                    self._brand_post(reply_ts, self._text(texts.CANNED_THANKS_REPLIES), post)
                else:
                    text = self._text(texts.PRAISE_REPLIES, customer)
                    self._brand_reply(reply_ts, text, post, self._agent())

    def _question(self, ts: int, parent: _Node | None) -> None:
        behaviour, rng = self.behaviour, self.rng
        customer = self.customers.next()
        questions, answers = pick(rng, texts.QUESTIONS)
        post = self._customer_post(ts, customer, self._text(questions, customer), parent)
        if rng.random() < behaviour.bot_reply_rate:
            self._brand_post(
                ts + randint(rng, 2, 40), self._text(texts.BOT_REPLIES), post, bot=True
            )
        if rng.random() >= behaviour.answer_rate:
            return
        reply_ts = self._response_time(ts, behaviour.first_response_minutes)
        if reply_ts > self.end_ts:
            return
        if rng.random() < behaviour.canned_reply_rate:
            reply = self._brand_post(reply_ts, self._text(texts.CANNED), post)
        else:
            text = self._text(answers, customer)
            reply = self._brand_reply(reply_ts, text, post, self._agent())
        self._maybe_thanks(customer, reply, None)

    def _maybe_thanks(self, customer: Customer, brand_post: _Node, agent: str | None) -> None:
        behaviour, rng = self.behaviour, self.rng
        if rng.random() >= behaviour.thanks_rate:
            return
        ts = self._after(brand_post.ts, 30)
        if ts > self.cutoff_ts:
            return
        templates = (
            texts.NON_ENGLISH_THANKS if rng.random() < behaviour.non_english_rate else texts.THANKS
        )
        thanks = self._customer_post(ts, customer, self._text(templates), brand_post)
        if rng.random() >= behaviour.answer_rate:
            return
        reply_ts = self._response_time(ts, behaviour.next_response_minutes)
        if reply_ts > self.end_ts:
            return
        if rng.random() < behaviour.canned_reply_rate:
            self._brand_post(reply_ts, self._text(texts.CANNED_THANKS_REPLIES), thanks)
        else:
            text = self._text(texts.THANKS_REPLIES, customer)
            self._brand_reply(reply_ts, text, thanks, agent or self._agent())

    def _complaint(self, ts: int, parent: _Node | None, topic: str) -> None:
        behaviour, rng = self.behaviour, self.rng
        customer = self.customers.next()
        first = self._customer_post(
            ts, customer, self._opening_text(texts.COMPLAINTS[topic], customer), parent
        )
        moderation = rng.random()
        if moderation < behaviour.delete_complaint_rate:
            # The platforms that observe deletions (X, Bluesky) say that a post is gone, not who
            # removed it.
            self._remove(first, "unknown")
            return
        if moderation < behaviour.delete_complaint_rate + behaviour.hide_complaint_rate:
            self._remove(first, "hidden")
            return
        last = first
        for _ in range(3):
            if rng.random() >= behaviour.burst_rate:
                break
            burst_ts = self._after(last.ts, 12)
            if burst_ts > self.cutoff_ts:
                break
            last = self._customer_post(burst_ts, customer, self._text(texts.BURSTS), last)
        if rng.random() < behaviour.bot_reply_rate:
            self._brand_post(
                ts + randint(rng, 2, 40), self._text(texts.BOT_REPLIES), first, bot=True
            )
        if rng.random() >= behaviour.answer_rate:
            return
        last_brand = self._complaint_exchanges(customer, last, topic)
        if last_brand is not None:
            if rng.random() < _AUTHOR_DELETE_RATE:
                self._remove(first, "author")
            self._maybe_thanks(customer, last_brand, None)

    def _complaint_exchanges(self, customer: Customer, last: _Node, topic: str) -> _Node | None:
        """Public back-and-forth on one complaint; returns the brand's last public post."""
        behaviour, rng = self.behaviour, self.rng
        limit = behaviour.max_public_exchanges
        exchanges = min(limit, 1 + int(limit * rng.random() ** 1.5))
        to_dm = rng.random() < behaviour.dm_rate
        asks_in_public = not to_dm and rng.random() < behaviour.public_private_info_rate
        agent = self._agent()
        keeps_going = (1.0 + behaviour.answer_rate) / 2
        brand_post: _Node | None = None
        for exchange in range(exchanges):
            median = behaviour.next_response_minutes
            if exchange == 0:
                median = behaviour.first_response_minutes
            reply_ts = self._response_time(last.ts, median)
            if reply_ts > self.end_ts:
                return brand_post
            final = exchange == exchanges - 1
            brand_post = self._complaint_reply(
                reply_ts, customer, last, topic, agent, final and to_dm,
                exchange == 0 and asks_in_public, final, exchange == 0,
            )  # fmt: skip
            if final:
                break
            customer_ts = self._after(reply_ts, 25)
            if customer_ts > self.cutoff_ts:
                return brand_post
            leak = exchange == 0 and asks_in_public
            text = self._text(
                texts.PUBLIC_INFO_LEAKS if leak else texts.FOLLOW_UPS[topic], customer
            )
            last = self._customer_post(customer_ts, customer, text, brand_post)
            if rng.random() >= keeps_going:
                return brand_post
        if to_dm and brand_post is not None:
            resolved_ts = self._conversation(customer, last, brand_post.ts, topic)
            if resolved_ts is not None and rng.random() < behaviour.public_followup_rate:
                follow_ts = resolved_ts + randint(rng, 120, 1800)
                if follow_ts <= self.end_ts:
                    text = self._text(texts.PUBLIC_FOLLOW_UPS, customer)
                    brand_post = self._brand_reply(follow_ts, text, last, agent)
        return brand_post

    def _complaint_reply(
        self,
        ts: int,
        customer: Customer,
        parent: _Node,
        topic: str,
        agent: str | None,
        dm_request: bool,
        public_info_ask: bool,
        final: bool,
        first: bool,
    ) -> _Node:
        behaviour, rng = self.behaviour, self.rng
        if rng.random() < behaviour.canned_reply_rate:
            return self._brand_post(ts, self._text(texts.CANNED), parent)
        if dm_request:
            templates: Sequence[Template] = texts.DM_REQUESTS
        elif public_info_ask:
            templates = texts.PUBLIC_INFO_ASKS
        elif rng.random() < behaviour.defensive_rate:
            templates = texts.DEFENSIVE
        elif first and not final:
            templates = texts.FIRST_REPLIES[topic]
        elif final and (not first or rng.random() < 0.5):
            templates = texts.RESOLUTIONS[topic]
        elif final:
            templates = texts.FIRST_REPLIES[topic]
        else:
            templates = texts.TROUBLESHOOTING
        return self._brand_reply(ts, self._text(templates, customer), parent, agent)

    def _conversation(
        self, customer: Customer, linked: _Node | None, start_ts: int, topic: str
    ) -> int | None:
        """A private conversation; returns when it was resolved, if it was."""
        behaviour, rng = self.behaviour, self.rng
        messages: list[dict[str, Any]] = []

        def message(ts: int, by_brand: bool, text: str) -> None:
            messages.append({
                "id": self.ids.message_id(self.platform, ts),
                "by_brand": by_brand,
                "created_at": _iso(ts),
                "text": text,
            })  # fmt: skip

        ts = first_ts = self._after(start_ts, 8)
        if ts > self.end_ts:
            return None
        opener = texts.DM_OPENERS if linked is not None else texts.DM_DIRECT_OPENERS
        message(ts, False, self._text(opener, customer))
        resolved_ts: int | None = None
        resolves = rng.random() < behaviour.dm_resolve_rate
        rounds = randint(rng, 1, 3)
        for round_number in range(rounds):
            ts = self._response_time(ts, behaviour.next_response_minutes)
            if ts > self.end_ts:
                break
            if round_number == rounds - 1:
                if resolves:
                    message(ts, True, self._text(texts.DM_RESOLUTIONS[topic], customer))
                    resolved_ts = ts
                else:
                    message(ts, True, self._text(texts.DM_CHECKING, customer))
                break
            questions, answers = pick(rng, texts.DM_QUESTIONS)
            message(ts, True, self._text(questions, customer))
            ts = self._after(ts, 10)
            if ts > self.end_ts:
                break
            message(ts, False, self._text(answers, customer))
        if "conversations" in self.observes:
            self.episode_conversations.append((first_ts, {
                "kind": "conversation",
                "platform": self.platform,
                "account": self.plan.handle,
                "id": self.ids.conversation_id(self.platform, self.brand_id, customer.author_id),
                "customer": customer.handle,
                "messages": messages,
                "resolved_at": _iso(resolved_ts) if resolved_ts is not None else None,
                "linked_post": linked.id if linked is not None else None,
            }))  # fmt: skip
        return resolved_ts

    def _crisis(self, max_posts: int) -> None:
        """An hour in which many customers report the same outage."""
        rng = self.rng
        for _ in range(1000):
            start = min(self._customer_time(), self.cutoff_ts - 3600)
            local_hour = (start + self.local_offset) // 3600 % 24
            if 9 <= local_hour <= 17:
                break
        if self.behaviour.crisis_statement:
            statement_ts = start + randint(rng, 600, 1500)
            self._brand_post(statement_ts, self._text(texts.CRISIS_STATEMENTS), None)
        else:
            # No promo posts either, or a check could take one for a statement.
            self.silent_from, self.silent_until = start - 3 * 3600, start + 4 * 3600
        for _ in range(min(60, max(10, max_posts // 3))):
            posts_before = len(self.episode_posts)
            conversations_before = len(self.episode_conversations)
            self._complaint(start + randint(rng, 0, 3599), None, "outage")
            if len(self.episode_posts) > max_posts:
                # Whole complaints only: cutting one short could drop the brand's answer.
                del self.episode_posts[posts_before:]
                del self.episode_conversations[conversations_before:]
                break


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def generate_records(
    posts: int,
    accounts: int,
    seed: int,
    *,
    end: datetime = DEFAULT_END,
    days: int = 14,
    plans: Sequence[AccountPlan] | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the records of a demo bundle, account after account.

    ``posts`` is the exact number of post records over all accounts, split evenly (the first
    ``posts % accounts`` accounts get one more); conversation records come on top. Each account's
    records come together: profile, window, posts by ``created_at``, then conversations.
    """
    if posts < 0:
        raise ValueError("posts must not be negative")
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if end.tzinfo is None or end.utcoffset() is None:
        raise ValueError("end must be timezone-aware")
    chosen = list(plans) if plans is not None else plan_accounts(accounts, seed)
    if len(chosen) != accounts:
        raise ValueError(f"{len(chosen)} plans given for {accounts} accounts")
    keys = [(plan.platform, plan.handle) for plan in chosen]
    if len(set(keys)) != len(keys):
        raise ValueError("two plans share a platform and handle")
    for plan in chosen:
        if plan.platform not in observability():
            raise ValueError(f"unknown platform {plan.platform!r}")
    return _generate(posts, chosen, seed, end, days)


def _generate(
    posts: int, plans: list[AccountPlan], seed: int, end: datetime, days: int
) -> Iterator[dict[str, Any]]:
    end_utc = end.astimezone(UTC)
    start_utc = end_utc - timedelta(days=days)
    # Post times are whole seconds inside the window.
    start_ts = math.ceil(start_utc.timestamp())
    end_ts = math.floor(end_utc.timestamp())
    ids = IdMint()
    share, extra = divmod(posts, len(plans))
    for index, plan in enumerate(plans):
        budget = _Budget(share + (1 if index < extra else 0), start_ts, end_ts)
        rng = random.Random(f"social-care-auditor/{seed}/{index}/{plan.platform}/{plan.handle}")
        generator = _AccountGenerator(
            plan, budget, rng, ids, end_utc.isoformat(), start_utc.isoformat()
        )
        yield from generator.records()


__all__ = [
    "CUSTOMER_CUTOFF_SECONDS",
    "DEFAULT_END",
    "AccountPlan",
    "Behaviour",
    "generate_records",
    "plan_accounts",
]
