"""The addressed/answered rules, per (thread, customer), on threads with several customers."""

from __future__ import annotations

from typing import Any

from auditor.analysis.threads import ThreadIndex, analyse
from auditor.model import AccountData, AccountKey
from auditor.sources.bundle import add_record

from conftest import post


def _account(*records: dict[str, Any]) -> AccountData:
    data = AccountData(key=AccountKey("x", "AcmeHelp"))
    for record in records:
        add_record(data, record)
    return data


def _status(index: ThreadIndex) -> dict[str, str | None]:
    """post id -> id of the brand post that answered it, or None."""
    return {p.id: (a.id if a else None) for _, p, a in index.answered_posts()}


def test_brand_post_with_comments_from_several_customers() -> None:
    index = analyse(
        _account(
            post("1", "AcmeHelp", 50, "Our app update is out today"),
            post("2", "ann", 49, "it crashes on start", in_reply_to="1", thread="1"),
            post("3", "ben", 48, "can't log in since the update", in_reply_to="1", thread="1"),
            post("4", "AcmeHelp", 47, "@ann sorry, fix coming", in_reply_to="2", thread="1"),
            post("5", "cat", 46, "@ann same here lol", in_reply_to="2", thread="1"),
        )
    )
    # ann is answered; ben's reply to the brand post is addressed but unanswered; cat replied to
    # another customer without mentioning the brand: not addressed.
    assert _status(index) == {"2": "4", "3": None}
    assert index.not_addressed == 1
    assert len(index.engagements) == 2


def test_answer_to_one_customer_does_not_answer_another() -> None:
    index = analyse(
        _account(
            post("1", "ann", 10, "@AcmeHelp where is my parcel?"),
            post("2", "ben", 9, "@AcmeHelp @ann mine too!", in_reply_to="1", thread="1"),
            post("3", "AcmeHelp", 8, "@ann sorry, DM us", in_reply_to="1", thread="1"),
        )
    )
    assert _status(index) == {"1": "3", "2": None}


def test_customer_thread_answered_by_brand_counts_later_posts_without_mention() -> None:
    index = analyse(
        _account(
            post("1", "ann", 10, "@AcmeHelp my card was charged twice"),
            post("2", "AcmeHelp", 9, "@ann sorry! which card?", in_reply_to="1", thread="1"),
            post("3", "ann", 8, "the visa one", in_reply_to="2", thread="1"),
            post("4", "ann", 7, "hello??", in_reply_to="3", thread="1"),
        )
    )
    # 3 replies to a brand post; 4 replies to her own post but the thread is hers and answered.
    assert _status(index) == {"1": "2", "3": None, "4": None}


def test_thread_not_mentioning_or_answered_by_brand_is_not_addressed() -> None:
    index = analyse(
        _account(
            post("1", "ann", 10, "Anyone else's Acme parcel late?"),
            post("2", "ben", 9, "yes mine", in_reply_to="1", thread="1"),
        )
    )
    assert _status(index) == {}
    assert index.not_addressed == 2


def test_automated_and_hidden_brand_replies_do_not_answer() -> None:
    index = analyse(
        _account(
            post("1", "ann", 10, "@AcmeHelp refund?"),
            post(
                "2",
                "AcmeHelp",
                9.9,
                "Thanks for reaching out!",
                in_reply_to="1",
                thread="1",
                automated=True,
            ),
            post("3", "ben", 10, "@AcmeHelp refund too?"),
            post("4", "AcmeHelp", 9.9, "We'll look", in_reply_to="3", thread="3", source="BotDesk"),
            post("5", "cat", 10, "@AcmeHelp hello"),
            post("6", "AcmeHelp", 9.9, "hi", in_reply_to="5", thread="5", visibility="hidden"),
        ),
        automation_sources={"BotDesk"},
    )
    assert _status(index) == {"1": None, "3": None, "5": None}
    assert index.automated_brand_replies == 2


def test_excluded_authors_and_a_longer_handle_are_not_customers_or_mentions() -> None:
    index = analyse(
        _account(
            post("1", "AcmeStaffer", 10, "@AcmeHelp FYI outage"),
            post("2", "ann", 9, "@AcmeHelpDesk is this you?"),
        ),
        excluded_authors={"acmestaffer"},
    )
    assert _status(index) == {}
    assert index.excluded_posts == 1 and index.not_addressed == 1


def test_answer_must_come_after_the_post() -> None:
    index = analyse(
        _account(
            post("1", "ann", 10, "@AcmeHelp hi"),
            post("2", "AcmeHelp", 9, "hello!", in_reply_to="1", thread="1"),
            post("3", "ann", 8, "still broken", in_reply_to="2", thread="1"),
            post("4", "AcmeHelp", 7, "looking", in_reply_to="3", thread="1"),
            post("5", "ann", 6, "thanks", in_reply_to="4", thread="1"),
        )
    )
    assert _status(index) == {"1": "2", "3": "4", "5": None}


# ---------------------------------------------------------------------------------------------
# Who a post mentions: the platform's own mention data first, the text (every form) otherwise


def _addressed(account: str, platform: str, *records: dict[str, Any]) -> set[str]:
    data = AccountData(key=AccountKey(platform, account))
    for record in records:
        add_record(data, {**record, "platform": platform, "account": account})
    return {p.id for _, p, _ in analyse(data).answered_posts()}


MASTODON_BRAND = "acmehelp@social.example"


def test_a_mastodon_mention_of_a_name_at_instance_brand_is_seen_in_the_mention_data() -> None:
    # Mastodon renders every mention as @username; mentions[] says which account it is.
    addressed = _addressed(
        MASTODON_BRAND,
        "mastodon",
        post(
            "1",
            "anna@mastodon.example",
            30,
            "@acmehelp my invoice is wrong",
            mentions=["acmehelp@social.example"],
        ),
        post("2", "ben", 30, "@AcmeHelp hello?", mentions=["ACMEHELP"]),
        # Another instance's acmehelp, rendered the same way: not the brand.
        post("3", "cara", 30, "@acmehelp love your work", mentions=["acmehelp@other.example"]),
        # The mention data says nobody is mentioned: the text does not overrule it.
        post("4", "dan", 30, "@acmehelp (not a link)", mentions=[]),
    )
    assert addressed == {"1", "2"}


def test_without_mention_data_every_form_of_the_handle_in_the_text_is_a_mention() -> None:
    addressed = _addressed(
        MASTODON_BRAND,
        "mastodon",
        post("1", "anna", 30, "@acmehelp my invoice is wrong"),
        post("2", "ben", 30, "hey @AcmeHelp@Social.Example, refund?"),
        post("3", "cara", 30, "see https://social.example/@acmehelp, they never answer"),
        post("4", "dan", 30, "@acmehelp@other.example is someone else"),
        post("5", "eve", 30, "@acmehelpdesk is someone else too"),
    )
    assert addressed == {"1", "2", "3"}
    on_x = _addressed(
        "AcmeHelp",
        "x",
        post("1", "ann", 30, "https://x.com/acmehelp why no answer", account="AcmeHelp"),
        post("2", "ben", 30, "twitter.com/AcmeHelp/status/5 is wrong", account="AcmeHelp"),
        post("3", "cat", 30, "fox.com/acmehelp is not a profile", account="AcmeHelp"),
    )
    assert on_x == {"1", "2"}


def test_mention_data_naming_the_brand_by_its_account_id_is_a_mention() -> None:
    # Bluesky facets name accounts by DID; the brand's DID is its own posts' author id.
    brand = "acme.bsky.social"
    addressed = _addressed(
        brand,
        "bluesky",
        post("b", brand, 50, "Our status page", account=brand, author_id="did:plc:acme"),
        post("1", "ann.bsky.social", 30, "@acme my order", mentions=["did:plc:acme"]),
        post("2", "ben.bsky.social", 30, "@acme.bsky.social", mentions=["did:plc:other"]),
    )
    assert addressed == {"1"}
