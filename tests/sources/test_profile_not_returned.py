"""A profile field the platform did not return is not an empty field (#11, item 4).

Each platform's profile answer, recorded in its documented shape, goes through the platform's
protocol into a bundle profile record, and that record through the engine's PRF001 and PRF002
(``auditor.testing``, as ``auditor run`` audits an account). A field the answer left out
(X without ``description`` when the field was not requested or granted; a Mastodon answer cut
short; a Graph API or AppView answer that is not the object asked for) makes the checks
``incomplete``, naming it; a field returned empty makes them ``fail``. Where a platform's answer
leaves out a field to say it is empty (the Graph API omits fields without a value; Bluesky's
lexicon makes ``description`` optional), absence is empty there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from auditor.analysis.hours_text import read_profile_hours
from auditor.model import Profile
from auditor.result import CheckResult
from auditor.sources.platforms.base import Page, Protocol, Record
from auditor.sources.platforms.bluesky import BlueskyProtocol
from auditor.sources.platforms.facebook import FacebookProtocol
from auditor.sources.platforms.instagram import InstagramProtocol
from auditor.sources.platforms.mastodon import MastodonProtocol
from auditor.sources.platforms.x import XProtocol
from auditor.testing import Case, run_case

from .conftest import make_spec, payload

PROTOCOLS: dict[str, Callable[[], Protocol]] = {
    "x": lambda: XProtocol(make_spec("x", "acmehelp")),
    "mastodon": lambda: MastodonProtocol(make_spec("mastodon", "acmehelp@social.example")),
    "bluesky": lambda: BlueskyProtocol(make_spec("bluesky", "acmecoffee.bsky.social")),
    "facebook": lambda: FacebookProtocol(make_spec("facebook", "104000000000001")),
    "instagram": lambda: InstagramProtocol(
        make_spec("instagram", "acmecoffee", options={"ig_user_id": "17841400000000001"})
    ),
}


def profile_record(platform: str, body: Any) -> Record:
    """The profile record the platform's protocol makes of ``body``, its answer to the profile
    request."""
    protocol = PROTOCOLS[platform]()
    (request,) = [r for r in protocol.start() if r.purpose == "profile"]
    step = protocol.receive(request, Page(200, {}, body))
    (record,) = [r for r in step.records if r["kind"] == "profile"]
    return record


def without(body: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def audited(record: Record, check: str) -> CheckResult:
    """The check's result on an account whose profile is ``record`` (read as a bundle line)."""
    fields = {k: v for k, v in record.items() if k not in ("kind", "platform", "account")}
    return run_case(Case(check, "profile", {"profile": fields, "expect": {"status": "any"}}))


X_FULL = payload("x", "users_by_username")
MASTODON_FULL = payload("mastodon", "accounts_lookup")

# (platform, answer, the fields not returned, PRF001's status, PRF002's status)
ANSWERS: list[tuple[str, str, Any, list[str], str, str]] = [
    # The case: X answers with its default fields only (description and url were not
    # requested, or not granted): nothing says the brand left them blank.
    (
        "x without description",
        "x",
        payload("x", "users_by_username_default_fields"),
        ["bio", "website"],
        "incomplete",
        "incomplete",
    ),
    ("x blank profile", "x", payload("x", "users_by_username_blank"), [], "fail", "fail"),
    # The description is missing but the link that did arrive is a help page: a channel.
    (
        "x without description, help link",
        "x",
        {"data": without(X_FULL["data"], "description")},
        ["bio"],
        "incomplete",
        "pass",
    ),
    ("x full profile", "x", X_FULL, [], "pass", "pass"),
    (
        "mastodon cut short",
        "mastodon",
        without(MASTODON_FULL, "note", "fields"),
        ["bio", "website", "fields"],
        "incomplete",
        "incomplete",
    ),
    # The note is missing, but the hours field did arrive: hours are stated.
    (
        "mastodon without note",
        "mastodon",
        without(MASTODON_FULL, "note"),
        ["bio"],
        "pass",
        "incomplete",
    ),
    (
        "mastodon blank profile",
        "mastodon",
        payload("mastodon", "accounts_lookup_blank"),
        [],
        "fail",
        "fail",
    ),
    (
        "bluesky blank profile",
        "bluesky",
        payload("bluesky", "profile_blank"),
        [],
        "fail",
        "fail",
    ),
    (
        "bluesky answer that is no profile view",
        "bluesky",
        {"error": "InternalServerError", "message": "Internal Server Error"},
        ["display_name", "bio"],
        "incomplete",
        "incomplete",
    ),
    (
        "facebook blank page",
        "facebook",
        payload("facebook", "profile_blank"),
        [],
        "fail",
        "fail",
    ),
    (
        "facebook answer that is no page",
        "facebook",
        {"data": []},
        ["display_name", "bio", "website", "hours"],
        "incomplete",
        "incomplete",
    ),
    (
        "instagram blank account",
        "instagram",
        payload("instagram", "profile_blank"),
        [],
        "fail",
        "fail",
    ),
    (
        "instagram answer that is no account",
        "instagram",
        "<html><body>502 Bad Gateway</body></html>",
        ["display_name", "bio", "website"],
        "incomplete",
        "incomplete",
    ),
]


@pytest.mark.parametrize(
    "platform,body,not_returned,prf001,prf002",
    [answer[1:] for answer in ANSWERS],
    ids=[answer[0] for answer in ANSWERS],
)
def test_a_field_not_returned_is_incomplete_an_empty_one_fails(
    platform: str, body: Any, not_returned: list[str], prf001: str, prf002: str
) -> None:
    record = profile_record(platform, body)
    assert record["not_returned"] == not_returned
    hours, channel = audited(record, "PRF001"), audited(record, "PRF002")
    assert (hours.status, channel.status) == (prf001, prf002), (hours.summary, channel.summary)
    for result in (hours, channel):
        if result.status == "incomplete":
            assert not result.findings
            assert any("did not return" in note for note in result.notes), result.notes
            assert "did not return" in result.summary


def test_the_reason_names_what_did_not_arrive() -> None:
    record = profile_record("x", payload("x", "users_by_username_default_fields"))
    hours, channel = audited(record, "PRF001"), audited(record, "PRF002")
    assert hours.metrics["not_returned"] == ["bio"]
    assert "the platform did not return the profile's bio" in hours.notes[0]
    assert channel.metrics["not_returned"] == ["bio", "website"]
    assert "the platform did not return the profile's bio and website" in channel.notes[0]


def test_every_platform_says_what_it_did_not_return() -> None:
    # Every protocol writes the key, so that a bundle tells "all arrived" from "nobody said".
    full = {
        "x": X_FULL,
        "mastodon": MASTODON_FULL,
        "bluesky": payload("bluesky", "profile"),
        "facebook": payload("facebook", "profile"),
        "instagram": payload("instagram", "profile"),
    }
    for platform, body in full.items():
        assert profile_record(platform, body)["not_returned"] == [], platform


def test_hours_read_from_the_profile_say_why_none_were_found() -> None:
    # RSP004 and business_hours.from_profile read the same hours: their reason tells "not
    # returned" from "not stated".
    unread = Profile("x", "acmehelp", bio=None, not_returned=frozenset({"bio", "website"}))
    assert read_profile_hours(unread).problem == "the platform did not return the profile's bio"
    assert read_profile_hours(Profile("x", "acmehelp", bio="")).problem is None
    stated = Profile("x", "acmehelp", hours={"always_open": True}, not_returned=frozenset({"bio"}))
    assert read_profile_hours(stated).hours == {"always_open": True}
    record = profile_record("x", payload("x", "users_by_username_default_fields"))
    kept = audited(record, "RSP004")
    assert kept.status == "not_applicable"
    assert "did not return the profile's bio" in kept.summary
