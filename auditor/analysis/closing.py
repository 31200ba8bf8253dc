"""Closing posts: a customer's last word after the brand's answer ("thanks!", "done, thanks!",
👍), which awaits no answer. One definition, shared by RSP001, RSP003 and RSP004 (``docs/sla.md``,
"Closing posts"); the words are data, ``closing.yaml`` beside this module.

Imports the thread analysis and the model only.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from operator import attrgetter

from auditor.analysis.lexicons import phrase_lists
from auditor.analysis.threads import Engagement
from auditor.model import Post

__all__ = [
    "CLOSING_WORDS",
    "DEFAULT_CLOSING_PHRASES",
    "Awaiting",
    "ClosingPhrases",
    "ClosingWords",
    "awaiting_answer",
    "is_closing_post",
    "read_closing_words",
]

_CREATED = attrgetter("created_at")


@dataclass(frozen=True, slots=True)
class ClosingWords:
    """What closing posts are made of (``closing.yaml`` beside this module explains each list)."""

    phrases: tuple[str, ...]
    fillers: tuple[str, ...]
    marks: tuple[str, ...]


def read_closing_words(text: str, name: str) -> ClosingWords:
    """A closing-words file's lists; refuses a list missing, unknown or mistyped."""
    lists = phrase_lists(text, name)
    expected = {f.name for f in fields(ClosingWords)}
    if set(lists) != expected:
        raise ValueError(f"{name}: expected the lists {sorted(expected)}, found {sorted(lists)}")
    return ClosingWords(**lists)


CLOSING_WORDS = read_closing_words(
    resources.files(__package__).joinpath("closing.yaml").read_text(encoding="utf-8"),
    "closing.yaml",
)
DEFAULT_CLOSING_PHRASES: tuple[str, ...] = CLOSING_WORDS.phrases


class ClosingPhrases:
    """Whether a text is nothing but a closing ("thanks!", "done, thanks 🙏", "bye @Acme").

    Its words must be a run of closing phrases and fillers with at least one phrase, and it
    must carry no mark that asks or complains ("thanks?", "ok :(", "ok 👎"). A text of emoji
    alone ("👍") is a closing; one with no words and no emoji (a bare mention, a link: the
    screenshot the brand asked for) is not.
    """

    def __init__(self, phrases: Iterable[str], words: ClosingWords = CLOSING_WORDS) -> None:
        self._phrases = {tuple(_words(p)) for p in phrases if _words(p)}
        fillers = {tuple(_words(f)) for f in words.fillers if _words(f)}
        self._pieces = self._phrases | fillers
        self._longest = max((len(p) for p in self._pieces), default=0)
        self._first_words = {p[0] for p in self._pieces}
        self._marks = tuple(words.marks)
        self._seen: dict[str, bool] = {}  # texts repeat (templates, "thanks!"): decide once

    def only_closing(self, text: str) -> bool:
        known = self._seen.get(text)
        if known is None:
            known = self._seen[text] = self._decide(text)
        return known

    def _decide(self, text: str) -> bool:
        bare = _MENTION_OR_LINK.sub(" ", text)
        if any(mark in bare for mark in self._marks):
            return False  # "thanks?", "ok 👎": not a goodbye, whatever the words say
        words = _words(text)
        if not words:
            # An acknowledgement ("👍"), unless there is nothing to acknowledge with: a bare
            # mention or a link (the screenshot or order page the brand asked for).
            return _has_emoji(bare) and _LINK.search(text) is None
        return self._made_of_closing_phrases(words)

    def _made_of_closing_phrases(self, words: list[str]) -> bool:
        if words[0] not in self._first_words:
            return False
        # reachable[i]: the first i words split into pieces; 2 when a closing phrase (not only
        # fillers) is among them. "done, thanks" closes, "done" alone does not.
        reachable = [1] + [0] * len(words)
        for position in range(len(words)):
            if not reachable[position]:
                continue
            for size in range(1, min(self._longest, len(words) - position) + 1):
                piece = tuple(words[position : position + size])
                if piece in self._pieces:
                    closes = 2 if piece in self._phrases else reachable[position]
                    reachable[position + size] = max(reachable[position + size], closes)
        return reachable[-1] == 2


_MENTION_OR_LINK = re.compile(r"@[\w.]+|https?://\S+|www\.\S+")
_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^\w\s]|_")


def _words(text: str) -> list[str]:
    text = _MENTION_OR_LINK.sub(" ", text.lower()).replace("'", "").replace("’", "")
    return _NOT_WORD.sub(" ", text).split()


def _has_emoji(text: str) -> bool:
    """Whether a text holds a pictograph (a Unicode "other symbol": 👍, ❤, ✅)."""
    return any(unicodedata.category(char) == "So" for char in text)


def is_closing_post(post: Post, engagement: Engagement, closing: ClosingPhrases) -> bool:
    """A closing post: one the customer wrote at or after the brand's first answer to them in
    the conversation, made of nothing but closing words. It awaits no answer (docs/sla.md)."""
    answers = engagement.answers
    return (
        bool(answers)
        and post.created_at >= answers[0].created_at
        and closing.only_closing(post.text)
    )


@dataclass(frozen=True, slots=True)
class Awaiting:
    """One conversation's posts that await an answer, each with its answer (None: not yet),
    and how many closing posts were left out."""

    posts: Sequence[Post]
    answers: Sequence[Post | None]
    closing_posts: int


def awaiting_answer(engagement: Engagement, closing: ClosingPhrases) -> Awaiting:
    """The posts of ``engagement`` that await an answer: all but its closing posts."""
    posts, answers = engagement.posts, engagement.first_answers()
    if not engagement.answers or posts[-1].created_at < engagement.answers[0].created_at:
        return Awaiting(posts, answers, 0)  # nothing written after the first answer: usual
    first_after = bisect_left(posts, engagement.answers[0].created_at, key=_CREATED)
    kept = list(range(first_after)) + [
        i for i in range(first_after, len(posts)) if not closing.only_closing(posts[i].text)
    ]
    if len(kept) == len(posts):
        return Awaiting(posts, answers, 0)
    return Awaiting([posts[i] for i in kept], [answers[i] for i in kept], len(posts) - len(kept))
