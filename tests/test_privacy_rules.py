"""The pseudonymisation rules (auditor.privacy), field by field, on every platform's shapes."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from auditor.fetch.run import _QueriesLeftOut
from auditor.model import AccountData, AccountKey
from auditor.privacy import Pseudonymiser, is_pseudonym
from auditor.sources.bundle import add_record

KEY = b"rules-test-key"
BRAND_DID = "did:plc:brandbrandbrand"
CUSTOMER_DID = "did:plc:rawcustomerdid"
OTHER_DID = "did:plc:rawotherdid"


def bluesky_records() -> list[dict[str, Any]]:
    root = f"at://{CUSTOMER_DID}/app.bsky.feed.post/3kroot"
    base = {"kind": "post", "platform": "bluesky", "account": "acme.bsky.social"}
    return [
        {
            **base,
            "id": root,
            "author": "rawcust.bsky.social",
            "author_id": CUSTOMER_DID,
            "by_brand": False,
            "created_at": "2024-05-12T09:00:00+00:00",
            "text": "@acme.bsky.social @rawother.bsky.social mail me at rawcust@example.org",
            "thread": root,
            "url": "https://bsky.app/profile/rawcust.bsky.social/post/3kroot",
            "mentions": ["acme.bsky.social", OTHER_DID, "rawother.bsky.social"],
        },
        {
            **base,
            "id": f"at://{BRAND_DID}/app.bsky.feed.post/3kanswer",
            "author": "acme.bsky.social",
            "author_id": BRAND_DID,
            "by_brand": True,
            "created_at": "2024-05-12T09:30:00+00:00",
            "text": "@rawcust.bsky.social sorry, see bsky.app/profile/rawcust.bsky.social",
            "in_reply_to": root,
            "thread": root,
            "url": "https://bsky.app/profile/acme.bsky.social/post/3kanswer",
            "mentions": [CUSTOMER_DID],
        },
    ]


def pseudonymiser(**options: Any) -> Pseudonymiser:
    return Pseudonymiser(KEY, "acme.bsky.social", **options)


def test_a_bluesky_thread_names_no_customer_and_keeps_its_shape() -> None:
    asked, answer = pseudonymiser().records(bluesky_records())
    every = repr([asked, answer])
    for raw in (CUSTOMER_DID, OTHER_DID, "rawcust.bsky", "rawother"):
        assert raw not in every
    customer = asked["author"]
    assert is_pseudonym(customer) and is_pseudonym(asked["author_id"])
    # One customer, one pseudonym per identity; the thread still hangs together.
    assert answer["in_reply_to"] == answer["thread"] == asked["id"] == asked["thread"]
    assert answer["text"].startswith(f"@{customer} ") and answer["text"].endswith(customer)
    assert asked["url"] == f"https://bsky.app/profile/{customer}/post/3kroot"
    # The brand stays itself: its handle in texts and mentions, its DID in its post's URI.
    assert asked["text"].startswith("@acme.bsky.social @cust-")
    assert asked["mentions"][0] == "acme.bsky.social"
    assert answer["id"] == f"at://{BRAND_DID}/app.bsky.feed.post/3kanswer"
    assert answer["author"] == "acme.bsky.social" and answer["author_id"] == BRAND_DID
    # An e-mail address is not a mention.
    assert asked["text"].endswith("rawcust@example.org")


def test_pseudonyms_are_keyed_stable_and_never_hashed_twice() -> None:
    once = pseudonymiser().records(bluesky_records())
    assert pseudonymiser().records(bluesky_records()) == once
    assert pseudonymiser().records(once) == once
    other_key = Pseudonymiser(b"another-key", "acme.bsky.social").records(bluesky_records())
    assert other_key[0]["author"] != once[0]["author"]


def test_the_engine_and_the_fetch_give_the_same_pseudonyms() -> None:
    """The model objects an input is read into and the records a fetch writes: one rule."""
    fetched = AccountData(AccountKey("bluesky", "acme.bsky.social"))
    for record in pseudonymiser().records(bluesky_records()):
        add_record(fetched, record)
    read = AccountData(AccountKey("bluesky", "acme.bsky.social"))
    for record in bluesky_records():
        add_record(read, record)
    pseudonymiser().account(read)
    assert read.posts == fetched.posts
    # Data already pseudonymised (a fetched bundle audited) is left as it is.
    pseudonymiser().account(fetched)
    assert fetched.posts == read.posts


def test_aliases_excluded_authors_and_brand_ids_are_never_replaced() -> None:
    post = {
        "kind": "post",
        "platform": "x",
        "account": "acmehelp",
        "id": "1",
        "author": "AcmeNews",
        "author_id": "555",
        "by_brand": False,
        "created_at": "2024-05-12T09:00:00+00:00",
        "text": "@AcmeHelp @AcmeCorp @helpbot @rawx_cust see x.com/rawx_cust and x.com/AcmeCorp",
        "mentions": ["AcmeHelp", "AcmeCorp", "helpbot", "rawx_cust"],
        "in_reply_to_user_id": "1500",
    }
    profile = {"kind": "profile", "platform": "x", "account": "acmehelp", "user_id": "1500"}
    rules = Pseudonymiser(KEY, "acmehelp", aliases=["AcmeCorp", "AcmeNews"], excluded=["helpbot"])
    _, out = rules.records([profile, post])
    assert out["author"] == "AcmeNews" and out["author_id"] == "555"  # an alias posting
    assert out["in_reply_to_user_id"] == "1500"  # the brand's id, from its profile
    assert out["mentions"][:3] == ["AcmeHelp", "AcmeCorp", "helpbot"]
    assert is_pseudonym(out["mentions"][3])
    code = out["mentions"][3]
    assert (
        out["text"] == f"@AcmeHelp @AcmeCorp @helpbot @{code} see x.com/{code} and x.com/AcmeCorp"
    )


def test_a_mastodon_remote_mention_is_one_customer_in_text_and_mention_data() -> None:
    rules = Pseudonymiser(KEY, "acmehelp@social.example")
    post = {
        "kind": "post",
        "platform": "mastodon",
        "account": "acmehelp@social.example",
        "id": "11",
        "author": "zed",  # a local account: its acct is the bare name
        "author_id": "10947",
        "by_brand": False,
        "created_at": "2024-05-12T09:00:00+00:00",
        "text": "@acmehelp @yve same problem as @zed@social.example",
        "url": "https://social.example/@zed/11",
        "mentions": ["acmehelp@social.example", "yve@far.example"],
    }
    (out,) = rules.records([post])
    yve, zed = rules.pseudonym("yve@far.example"), rules.pseudonym("zed")
    assert out["mentions"] == ["acmehelp@social.example", yve]
    # The brand's own instance is the same account with or without it.
    assert out["text"] == f"@acmehelp @{yve} same problem as @{zed}"
    assert out["author"] == zed and out["url"] == f"https://social.example/@{zed}/11"


def test_private_conversations_name_no_participant() -> None:
    conversation = {
        "kind": "conversation",
        "platform": "x",
        "account": "acmehelp",
        "id": "1500-7700931",  # X: the two participants' ids
        "customer": "rawx_dm",
        "linked_post": f"at://{CUSTOMER_DID}/app.bsky.feed.post/3kroot",
        "opened_by": {"name": "rawx_dm"},  # a key the tool does not know
        "messages": [
            {
                "id": "m1",
                "by_brand": False,
                "created_at": "2024-05-12T08:30:00+00:00",
                "text": "@rawx_friend had it too",
            },
        ],
    }
    (out,) = Pseudonymiser(KEY, "acmehelp").records([conversation])
    assert "7700931" not in repr(out) and "rawx" not in repr(out)
    assert CUSTOMER_DID not in repr(out) and out["linked_post"].endswith("/3kroot")
    assert is_pseudonym(out["customer"]) and is_pseudonym(out["id"])
    again = Pseudonymiser(KEY, "acmehelp").records([conversation])
    assert again == [out]  # one conversation, one id, run after run


def test_request_logs_leave_out_queries_when_customers_are_pseudonymised() -> None:
    url = httpx.URL("https://bsky.example/xrpc/app.bsky.feed.getPostThread?uri=at://did:plc:raw")
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"', ("GET", url, 200), None
    )
    assert _QueriesLeftOut().filter(record)
    assert "did:plc:raw" not in record.getMessage()
    assert "getPostThread" in record.getMessage()
