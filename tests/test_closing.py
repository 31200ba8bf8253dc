"""Closing posts (issue #11 item 3): one definition, shared by RSP001, RSP003 and RSP004.

A customer's last word after the brand's answer ("thanks!", "done, thanks!", 👍) awaits no
answer; a thank-you that still complains or asks does. The words are data
(``auditor/analysis/closing.yaml``); the checks are driven through the real engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditor.analysis.closing import (
    CLOSING_WORDS,
    DEFAULT_CLOSING_PHRASES,
    ClosingPhrases,
    awaiting_answer,
    is_closing_post,
    read_closing_words,
)
from auditor.analysis.threads import Engagement
from auditor.model import Post
from auditor.testing import Case, run_case

# What customers write after the brand has answered them, as they write it.
CLOSINGS = [
    "thanks!",
    "@AcmeHelp Thanks!!",
    "done, thanks!",
    "Done. Thank you so much 🙏🏼",
    "perfect",
    "Perfect, thank you!",
    "got it",
    "got it, thanks team",
    "that worked",
    "thx, that worked",
    "That did the trick, cheers!",
    "👍",
    "👍🏽👍🏽",
    "❤️",
    "🎃",
    "all sorted",
    "Thank you, all sorted now 🙏",
    "appreciate the quick help",
    "ok thanks @AcmeHelp",
    "great, solved.",
    "Cheers @AcmeHelp https://t.co/x1",
    "it's working now, thanks again!",
    "thanks for your help, have a great day",
    "no worries, bye",
]

# Thank-yous and acknowledgements that still ask, complain or bring something to look at.
NOT_CLOSINGS = [
    "thanks, but it's still broken",
    "Thanks but it's still not working",
    "thanks for nothing",
    "thank you for nothing 🙄",
    "thanks? it still doesn't work",
    "thanks?",
    "ok?",
    "thanks! when will it ship?",
    "thanks! when will it ship",
    "thanks, one more thing: my invoice is wrong",
    "done, sent it",
    "done",
    "ok 👎",
    "ok 👎🏽",
    "thanks 😡",
    "thanks 🤦‍♀️",
    "great. just great.",
    "ok :(",
    "not fixed",
    "still broken, thanks",
    "thanks, any update on the refund",
    "@AcmeHelp",
    "@AcmeHelp https://example.com/screenshot.png",
    "???",
    "thanks, it happened again",
]


@pytest.mark.parametrize("text", CLOSINGS)
def test_a_closing_is_recognised(text: str) -> None:
    assert ClosingPhrases(DEFAULT_CLOSING_PHRASES).only_closing(text)


@pytest.mark.parametrize("text", NOT_CLOSINGS)
def test_a_thanks_that_asks_or_complains_is_not_a_closing(text: str) -> None:
    assert not ClosingPhrases(DEFAULT_CLOSING_PHRASES).only_closing(text)


def test_fillers_close_nothing_alone() -> None:
    closing = ClosingPhrases(DEFAULT_CLOSING_PHRASES)
    for filler in CLOSING_WORDS.fillers:
        assert not closing.only_closing(filler), filler
        assert closing.only_closing(f"{filler}, thanks!"), filler


def test_every_listed_phrase_closes_alone_and_no_mark_closes() -> None:
    closing = ClosingPhrases(DEFAULT_CLOSING_PHRASES)
    for phrase in CLOSING_WORDS.phrases:
        assert closing.only_closing(phrase), phrase
        for mark in CLOSING_WORDS.marks:
            assert not closing.only_closing(f"{phrase} {mark}"), (phrase, mark)
            assert not closing.only_closing(f"{phrase}{mark}"), (phrase, mark)
    for mark in CLOSING_WORDS.marks:
        assert not closing.only_closing(mark), mark


def test_the_policy_phrases_replace_the_built_in_ones_but_not_the_fillers_or_marks() -> None:
    closing = ClosingPhrases(["merci"])
    assert closing.only_closing("Merci ! 👍")
    assert closing.only_closing("done, merci")
    assert not closing.only_closing("thanks!")
    assert not closing.only_closing("merci ?")
    assert not closing.only_closing("merci 👎")


def test_the_closing_words_file_refuses_a_slip() -> None:
    good = "phrases: [thanks]\nfillers: [done]\nmarks: ['?']\n"
    assert read_closing_words(good, "x.yaml").phrases == ("thanks",)
    with pytest.raises(ValueError, match=r"x\.yaml: expected the lists"):
        read_closing_words("phrases: [thanks]\n", "x.yaml")
    with pytest.raises(ValueError, match=r"'phrases' must be a list of non-empty strings"):
        # An unquoted "no" arrives as a boolean.
        read_closing_words(good.replace("[thanks]", "[thanks, no]"), "x.yaml")


# ----------------------------------------------------------------- after the brand's answer

_T0 = datetime(2026, 11, 10, 12, tzinfo=UTC)


def _post(post_id: str, minutes: float, text: str, by_brand: bool = False) -> Post:
    return Post(
        id=post_id,
        author="AcmeHelp" if by_brand else "ann",
        created_at=_T0 + timedelta(minutes=minutes),
        text=text,
        url=f"https://x.example/{post_id}",
        by_brand=by_brand,
        thread="1",
        in_reply_to=None if post_id == "1" else "1",
    )


def _engagement(posts: list[Post], answers: list[Post]) -> Engagement:
    return Engagement("1", "ann", posts=posts, answers=answers)


def test_only_a_post_at_or_after_the_brands_first_answer_can_close() -> None:
    closing = ClosingPhrases(DEFAULT_CLOSING_PHRASES)
    before = _post("1", 0, "@AcmeHelp thanks!")
    same_second = _post("3", 10, "@AcmeHelp ok thanks")
    after = _post("4", 20, "@AcmeHelp 👍")
    answer = _post("2", 10, "@ann you're welcome, anything else?", by_brand=True)
    engagement = _engagement([before, same_second, after], [answer])
    assert not is_closing_post(before, engagement, closing)
    assert is_closing_post(same_second, engagement, closing)
    assert is_closing_post(after, engagement, closing)
    assert not is_closing_post(after, _engagement([after], []), closing)  # never answered

    awaiting = awaiting_answer(engagement, closing)
    assert [p.id for p in awaiting.posts] == ["1"]
    assert awaiting.answers == [answer]
    assert awaiting.closing_posts == 2


def test_awaiting_keeps_each_post_with_its_own_answer() -> None:
    closing = ClosingPhrases(DEFAULT_CLOSING_PHRASES)
    posts = [
        _post("1", 0, "@AcmeHelp the app logs me out"),
        _post("3", 20, "@AcmeHelp thanks!"),
        _post("4", 30, "@AcmeHelp it happened again"),
    ]
    answers = [
        _post("2", 10, "@ann update to 4.2", by_brand=True),
        _post("5", 90, "@ann sorry, DM us", by_brand=True),
    ]
    awaiting = awaiting_answer(_engagement(posts, answers), closing)
    assert [
        (p.id, a.id if a else None) for p, a in zip(awaiting.posts, awaiting.answers, strict=True)
    ] == [
        ("1", "2"),
        ("4", "5"),
    ]
    assert awaiting.closing_posts == 1


# ----------------------------------------------------------------- one definition, three checks


def _conversation_case(check: str, last_word: str) -> Case:
    """A complaint answered within the hour, inside posted 24/7 hours, then the customer's
    last word, unanswered long past every grace period and target."""
    spec: dict[str, Any] = {
        "name": last_word,
        "profile": {"bio": "Here for you 24/7"},
        "posts": [
            {"id": "1", "author": "ann", "hours_before_end": 50, "text": "@AcmeHelp app crashes"},
            {
                "id": "2",
                "author": "AcmeHelp",
                "hours_before_end": 49.5,
                "text": "@ann update to 4.2, that fixes it",
                "in_reply_to": "1",
            },
            {
                "id": "3",
                "author": "ann",
                "hours_before_end": 49,
                "text": f"@AcmeHelp {last_word}",
                "in_reply_to": "2",
            },
        ],
        "expect": {"status": "pass"},
    }
    return Case(check, last_word, spec)


@pytest.mark.parametrize("last_word", [*CLOSINGS[:6], *NOT_CLOSINGS[:6]])
def test_rsp001_rsp003_and_rsp004_agree_on_what_closes(last_word: str) -> None:
    closes = last_word in CLOSINGS
    unanswered = run_case(_conversation_case("RSP001", last_word))
    next_response = run_case(_conversation_case("RSP003", last_word))
    kept = run_case(_conversation_case("RSP004", last_word))

    # RSP001: a closing is never unanswered; anything else is.
    assert [f.evidence_id for f in unanswered.findings] == ([] if closes else ["3"])
    assert unanswered.metrics["closing_posts"] == int(closes)
    # RSP003: a closing opens no clock; anything else opens one, unanswered.
    assert [f.evidence_id for f in next_response.findings] == ([] if closes else ["3"])
    assert next_response.metrics["closing_posts"] == int(closes)
    # RSP004: a closing is not counted in the posted hours; anything else is, and missed.
    assert kept.metrics["closing_posts"] == int(closes)
    assert kept.metrics["kept"]["posts_in_hours"] == (1 if closes else 2)
    assert kept.metrics["kept"]["within_target"] == 1
