"""The Mastodon protocol on recorded payloads: no HTTP at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.analysis.threads import analyse
from auditor.model import AccountData
from auditor.sources.bundle import accounts_from_records
from auditor.sources.platforms.base import Page, RateInfo, Request
from auditor.sources.platforms.mastodon import MastodonProtocol, next_max_id

from .conftest import Answer, make_spec, of_kind, ok, payload, refusal, walk

BRAND_ID = "109350000000000001"
NEXT = (
    "<https://social.example/api/v1/notifications?max_id=34975899&types%5B%5D=mention>; "
    'rel="next", <https://social.example/api/v1/notifications?min_id=34975900>; rel="prev"'
)


def answers(request: Request, overrides: Mapping[str, Answer] | None = None) -> Answer:
    key = request.purpose + (":page2" if "max_id" in dict(request.params) else "")
    if overrides and key in overrides:
        return overrides[key]
    if key == "profile":
        return ok(payload("mastodon", "accounts_lookup"))
    if key == "mentions":
        return ok(payload("mastodon", "notifications_page1"), {"link": NEXT})
    if key == "mentions:page2":
        # Another next link: ignored, because this page already reaches before the window.
        return ok(payload("mastodon", "notifications_page2"), {"link": NEXT})
    if key == "notification_requests":
        return ok(payload("mastodon", "notification_requests"))
    if key == "own_posts":
        return ok(payload("mastodon", "account_statuses"))
    if key == "context":
        return ok(payload("mastodon", "status_context"))
    raise AssertionError(f"unexpected request {request}")


def run(
    overrides: Mapping[str, Answer] | None = None, **spec: Any
) -> tuple[Any, Any, list[Request]]:
    protocol = MastodonProtocol(make_spec("mastodon", "acmehelp@social.example", **spec))
    return walk(protocol, lambda r: answers(r, overrides))


def test_next_max_id_reads_the_rel_next_link() -> None:
    assert next_max_id({"link": NEXT}) == "34975899"
    prev_only = {"link": '<https://social.example/api/v1/notifications?min_id=1>; rel="prev"'}
    assert next_max_id(prev_only) is None
    assert next_max_id({}) is None


def test_profile_puts_fields_into_the_bio_and_keeps_them_raw() -> None:
    protocol = MastodonProtocol(make_spec("mastodon", "@acmehelp@social.example"))
    assert protocol.base_url() == "https://social.example"
    (first,) = protocol.start()
    assert first.path == "/api/v1/accounts/lookup" and dict(first.params) == {"acct": "acmehelp"}
    step = protocol.receive(first, ok(payload("mastodon", "accounts_lookup")))
    (profile,) = step.records
    assert "Official support for Acme & friends.\nMention us" in profile["bio"]
    assert "Hours: Mon–Fri 09:00–17:00 (Europe/Berlin)" in profile["bio"].splitlines()
    assert "Website: https://acme.example" in profile["bio"].splitlines()
    assert profile["fields"][0]["name"] == "Hours"
    assert profile["website"] == "https://acme.example"
    purposes = sorted(r.purpose for r in step.requests)
    assert purposes == ["mentions", "notification_requests", "own_posts"]
    mentions = next(r for r in step.requests if r.purpose == "mentions")
    assert ("types[]", "mention") in mentions.params
    own = next(r for r in step.requests if r.purpose == "own_posts")
    assert own.path == f"/api/v1/accounts/{BRAND_ID}/statuses"


def test_full_walk() -> None:
    records, cursor, requests = run()
    posts = {p["id"]: p for p in of_kind(records, "post")}

    mention_pages = [r for r in requests if r.purpose == "mentions"]
    assert len(mention_pages) == 2, "followed rel=next once, then stopped at the window start"
    assert dict(mention_pages[1].params)["max_id"] == "34975899"
    assert "112200000000000001" not in posts, "the mention from before the window stays out"

    anna = posts["112400000000000101"]
    assert anna["author"] == "anna@mastodon.example" and anna["by_brand"] is False
    assert anna["text"] == "@acmehelp my invoice for April shows the wrong VAT rate >:("
    assert anna["created_at"] == "2024-05-12T09:15:00+00:00"
    reply = posts["112400000000000201"]
    assert reply["by_brand"] is True and reply["in_reply_to"] == anna["id"]
    assert reply["thread"] == anna["id"]
    assert reply["source"] == "Acme Care Desk"

    # Ben replied inside an older thread: the context call found its root.
    (context,) = [r for r in requests if r.purpose == "context"]
    assert context.path == "/api/v1/statuses/112400000000000102/context"
    assert posts["112400000000000102"]["thread"] == "112300000000000050"
    assert posts["112300000000000060"]["thread"] == "112300000000000050"

    # The filtered mention (notification request) is kept as a post.
    assert posts["112400000000000120"]["author"] == "cara@fosstodon.example"

    # Direct statuses are a conversation, never a public post.
    assert "112400000000000103" not in posts and "112400000000000202" not in posts
    (conversation,) = of_kind(records, "conversation")
    assert conversation["customer"] == "ben"
    assert [m["by_brand"] for m in conversation["messages"]] == [False, True]
    assert "please do not share" in conversation["messages"][0]["text"]

    (window,) = of_kind(records, "window")
    assert window["complete"] is True, window["reason"]
    assert window["observes"] == ["conversations"]
    assert cursor == {
        "account_id": BRAND_ID,
        "mentions_newest_id": "34975900",
        "own_posts_newest_id": "112400000000000203",
    }


def test_cursor_makes_paged_requests_incremental() -> None:
    records, _, requests = run(cursor={"mentions_newest_id": "34975000"})
    first = next(r for r in requests if r.purpose == "mentions")
    assert dict(first.params)["since_id"] == "34975000"
    assert of_kind(records, "window")[0]["incremental"] is True


def test_servers_without_notification_filtering_are_complete() -> None:
    # Mastodon before 4.3 answers a route it lacks with its own JSON 404.
    lacking = refusal(404, payload("mastodon", "error_route_not_found"))
    records, _, _ = run(overrides={"notification_requests": lacking})
    (window,) = of_kind(records, "window")
    assert window["complete"] is True


def test_a_proxys_404_on_notification_requests_is_a_gap() -> None:
    records, _, _ = run(overrides={"notification_requests": refusal(404, None)})
    (window,) = of_kind(records, "window")
    assert window["complete"] is False
    assert window["reason"] == (
        "notification_requests: HTTP 404 not found (no error from the platform in the body)"
    )


def test_partly_readable_filtered_mentions_make_the_window_incomplete() -> None:
    partial = ok(payload("mastodon", "notification_requests_partial"))
    records, _, _ = run(overrides={"notification_requests": partial})
    (window,) = of_kind(records, "window")
    assert window["complete"] is False
    assert "2 filtered mentions from 1 accounts" in window["reason"]


def test_context_limit_is_reported() -> None:
    records, _, requests = run(options={"max_context_requests": 0})
    assert not [r for r in requests if r.purpose == "context"]
    (window,) = of_kind(records, "window")
    assert window["reason"].startswith("context: 1 replies' threads not looked up")


def test_failed_own_statuses_still_finish_with_the_mentions() -> None:
    records, _, _ = run(overrides={"own_posts": "timeout (ReadTimeout) (gave up after 4 attempts)"})
    (window,) = of_kind(records, "window")
    assert window["complete"] is False
    assert window["reason"].startswith("own_posts: timeout")
    assert any(p["id"] == "112400000000000101" for p in of_kind(records, "post"))


def test_handle_without_instance_asks_for_nothing() -> None:
    protocol = MastodonProtocol(make_spec("mastodon", "acmehelp"))
    assert protocol.start() == []
    records, _ = protocol.finish()
    assert records[-1]["complete"] is False
    assert "name@instance" in records[-1]["reason"]


def test_base_url_option_overrides_the_instance() -> None:
    spec = make_spec("mastodon", "acmehelp@social.example", options={"base_url": "http://h:1/"})
    assert MastodonProtocol(spec).base_url() == "http://h:1"


def test_lookup_answer_without_account() -> None:
    protocol = MastodonProtocol(make_spec("mastodon", "acmehelp@social.example"))
    step = protocol.receive(protocol.start()[0], Page(200, {}, {"error": "Record not found"}))
    assert step.records == [] and step.requests == []
    assert protocol.finish()[0][-1]["observes"] == []


def test_rate_limit_reset_is_an_iso_timestamp() -> None:
    now = 1_700_000_000.0
    headers = {"x-ratelimit-remaining": "12", "x-ratelimit-reset": "2023-11-14T22:18:20.000Z"}
    assert MastodonProtocol.read_rate_limit(headers, now) == RateInfo(12, now + 300)
    unreadable = {"x-ratelimit-remaining": "lots", "x-ratelimit-reset": "tomorrow"}
    assert MastodonProtocol.read_rate_limit(unreadable, now) == RateInfo()


def _with_mentions(status_id: str, mentions: list[dict[str, str]]) -> Any:
    """The recorded first mentions page, the status given ``mentions[]`` as Mastodon sends it."""
    page = payload("mastodon", "notifications_page1")
    for notification in page:
        if notification["status"]["id"] == status_id:
            notification["status"]["mentions"] = mentions
    return page


def test_a_mention_of_a_name_at_instance_brand_is_read_from_mentions_and_addresses_it() -> None:
    # Mastodon renders the brand's mention as "@acmehelp"; mentions[] names the account.
    brand = {
        "id": BRAND_ID,
        "username": "acmehelp",
        "acct": "acmehelp",
        "url": "https://social.example/@acmehelp",
    }
    local = {"id": "7", "username": "bob", "acct": "bob", "url": "https://social.example/@bob"}
    remote = {
        "id": "8",
        "username": "zed",
        "acct": "zed@else.example",
        "url": "https://else.example/@zed",
    }
    page = _with_mentions("112400000000000101", [brand, local, remote])
    records, _, _ = run({"mentions": ok(page, {"link": NEXT})})
    data = next(accounts_from_records(records))
    # Before the brand answers (its reply left out), the mention alone addresses the brand:
    # RSP001 must see it unanswered.
    waiting = AccountData(key=data.key, posts=[p for p in data.posts if not p.by_brand])
    unanswered = {p.id for _, p, answer in analyse(waiting).answered_posts() if answer is None}
    assert "112400000000000101" in unanswered, "the customer's mention of the brand is addressed"

    posts = {p["id"]: p for p in of_kind(records, "post")}
    anna = posts["112400000000000101"]
    assert anna["text"].startswith("@acmehelp my invoice")
    assert anna["mentions"] == ["acmehelp@social.example", "bob@social.example", "zed@else.example"]


def test_mention_data_without_the_brand_does_not_address_it() -> None:
    # Another instance's acmehelp is rendered "@acmehelp" too: the mention data tells them apart.
    other = {
        "id": "9",
        "username": "acmehelp",
        "acct": "acmehelp@other.example",
        "url": "https://other.example/@acmehelp",
    }
    page = _with_mentions("112400000000000101", [other])
    records, _, _ = run({"mentions": ok(page, {"link": NEXT})})
    data = next(accounts_from_records(records))
    (anna,) = [p for p in data.posts if p.id == "112400000000000101"]
    assert anna.mentions == ["acmehelp@other.example"]
    # Without the brand's reply (which would address her thread), her post alone:
    thread = [p for p in data.posts if p.thread_id == anna.thread_id and not p.by_brand]
    index = analyse(AccountData(key=data.key, posts=thread))
    assert index.engagements == [] and index.not_addressed == 1
