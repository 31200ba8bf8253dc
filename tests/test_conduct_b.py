"""FUP001, THR001, PRV001, TON001, TON002 and their shared helpers (auditor.analysis.private_channel).

The data-driven cases (tests/cases/<ID>.yaml) hold the realistic texts each check must flag and
must pass; these tests pin the helpers' rules and run the checks on generated demo accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditor.analysis.business_hours import BusinessCalendar
from auditor.analysis.private_channel import (
    analyse_public_threads,
    negated_before,
    phrase_key,
    private_offer,
)
from auditor.check import AuditContext
from auditor.checks.fup001 import BusinessDays, promises_more, resolution_of, thanks
from auditor.checks.prv001 import phone_numbers, public_asks
from auditor.checks.ton001 import DEFAULT_DEFENSIVE_PHRASES, defensive_phrase, phrase_pattern
from auditor.checks.ton002 import signature
from auditor.demo.generator import generate_records
from auditor.engine.audit import effective_window
from auditor.engine.checking import DataGap, needs_unmet, run_check
from auditor.model import AccountData, AccountKey, Conversation, Message
from auditor.registry import load_registry
from auditor.sources.bundle import add_record

from conftest import END, post, window

REGISTRY = load_registry()
MY_CHECKS = ("FUP001", "THR001", "PRV001", "TON001", "TON002")


# ------------------------------------------------------------------------ private channel


@pytest.mark.parametrize(
    "text",
    [
        "@ann sorry! DM us your order number",
        "Please send us a private message with the details",
        "We've sent you a DM, @ann",
        "Let's take this to DM so we can check your account safely",
        "Email us at care@acme.example and we'll sort it",
        "Give us a call on 0800 123 4567",
        "Our DMs are open!",
        "Could you message us the details?",
        "Please don’t share that here, DM us instead",
    ],
)
def test_private_offers_are_recognised(text: str) -> None:
    assert private_offer(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "We'll never ask for your password by DM.",
        "Please don't DM us, we can't see messages on this account",
        "Sorry about that! Which browser are you using?",
        "Your email address is safe with us",  # a datum, not a channel
        "Domestic delivery takes 3 days",  # "dm" inside a word is nothing
    ],
)
def test_non_offers_are_not_offers(text: str) -> None:
    assert private_offer(text) is None


def test_negation_stops_at_the_clause() -> None:
    text = "please don't share your card number here, DM us"
    assert negated_before(text, text.index("share"))
    assert not negated_before(text, text.index("DM"))


def test_template_key_drops_mentions_only() -> None:
    assert phrase_key("@ann sorry! DM us ^JD") == phrase_key("@bob_k sorry! DM us ^JD")
    assert phrase_key("no mention here") == "no mention here"


def _account(*records: dict[str, Any]) -> AccountData:
    data = AccountData(key=AccountKey("x", "AcmeHelp"))
    add_record(data, window())
    for record in records:
        add_record(data, record)
    return data


def test_exchanges_attribute_brand_replies_to_customers() -> None:
    data = _account(
        post("1", "AcmeHelp", 50, "New range out today!"),
        post("2", "Ann", 49, "the checkout errors", in_reply_to="1", thread="1"),
        post("3", "AcmeHelp", 48, "@ann sorry!", in_reply_to="2", thread="1"),
        post("4", "AcmeHelp", 47.9, "also: which browser?", in_reply_to="3", thread="1"),
        post("5", "bob", 47, "love it", in_reply_to="1", thread="1"),
        post("6", "AcmeHelp", 46, "@bob thanks!", in_reply_to="5", thread="1"),
        post("7", "AcmeHelp", 45, "hidden reply", in_reply_to="5", thread="1", visibility="hidden"),
        # A reply to a post missing from the data belongs to the customer who started the thread.
        post("8", "cat", 44, "@AcmeHelp app down?"),
        post("9", "AcmeHelp", 43, "@cat fixed now", in_reply_to="missing", thread="8"),
        post("10", "jo_staff", 42, "@cat looking", in_reply_to="8", thread="8"),
        post("11", "AcmeHelp", 41, "@jo_staff thanks", in_reply_to="10", thread="8"),
    )
    threads = analyse_public_threads(data, excluded_authors=["@Jo_Staff"])
    replies = {(e.thread, e.customer): [p.id for p in e.brand_replies] for e in threads.exchanges}
    assert replies == {("1", "ann"): ["3", "4"], ("1", "bob"): ["6"], ("8", "cat"): ["9"]}
    assert threads.excluded_posts == 1
    assert [p.id for p in threads.by_thread["1"]] == ["1", "2", "3", "4", "5", "6", "7"]


# ------------------------------------------------------------------------ PRV001


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("@ann reply with your order number", ["order"]),
        ("DM us your order number and we'll get it sorted", []),
        ("Please don't share your card number here, DM us", []),
        ("Could you tell us the order number so we can chase it?", ["order"]),
        ("What's your phone number? We'll call you back", ["phone"]),
        ("Which email address did you sign up with?", ["email"]),
        ("Please drop your tracking number below", ["tracking"]),
        ("reply here with your email, or DM us", ["email"]),
        ("Could you tell us if you changed your password recently?", []),
        ("Your tracking number is in the confirmation email we sent you", []),
        ("Did you get a confirmation email?", []),
        ("Sorry! Please send us your order number. Our DMs are open.", []),
        ("Email us at care@acme.example with your order number", []),
        ("Never post your password publicly!", []),
        (
            "please reply with your full account number and the email address on it",
            ["account", "email"],
        ),
    ],
)
def test_public_asks(text: str, kinds: list[str]) -> None:
    assert public_asks(text) == kinds


def test_phone_numbers_need_a_phone_shape_or_context_in_customer_posts() -> None:
    assert phone_numbers("call me on 0161 496 0734", require_context=True) == {"01614960734"}
    assert phone_numbers("+447700900123 is my mobile", require_context=True) == {"447700900123"}
    assert phone_numbers("my order 55213349 never came", require_context=True) == set()
    assert phone_numbers("ring 55213349", require_context=True) == set()  # "ring" is no phone word
    assert phone_numbers("my mobile: 55213349", require_context=True) == {"55213349"}
    assert phone_numbers("about 2 days", require_context=False) == set()


# ------------------------------------------------------------------------ FUP001


def _conversation(
    *messages: tuple[float, bool, str], resolved: datetime | None = None
) -> Conversation:
    return Conversation(
        id="c1",
        customer="ann",
        messages=[
            Message(f"m{i}", by_brand, END - timedelta(hours=hours), text)
            for i, (hours, by_brand, text) in enumerate(messages)
        ],
        resolved_at=resolved,
    )


def test_resolution_rules() -> None:
    silence = timedelta(hours=48)
    at = END - timedelta(hours=100)
    given = resolution_of(_conversation((120, False, "hi"), resolved=at), END, silence)
    assert not isinstance(given, str) and given.at == at and given.method == "resolved_at"
    future = resolution_of(
        _conversation((120, False, "hi"), resolved=END + timedelta(1)), END, silence
    )
    assert future == "pending"
    thanked = resolution_of(
        _conversation((120, False, "hi"), (110, True, "done!"), (109, False, "thx, that worked")),
        END,
        silence,
    )
    assert not isinstance(thanked, str) and thanked.method == "customer_thanked"
    assert thanked.at == END - timedelta(hours=109) and thanked.message == "m2"
    silent = resolution_of(
        _conversation((120, False, "hi"), (100, True, "Unlocked.")), END, silence
    )
    assert not isinstance(silent, str) and silent.method == "customer_silent"
    assert (
        resolution_of(_conversation((120, False, "hi"), (47, True, "Unlocked.")), END, silence)
        == "pending"
    )
    assert resolution_of(_conversation((120, False, "it still fails")), END, silence) == "open"
    assert resolution_of(_conversation(), END, silence) == "open"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Thank you, all sorted now 🙏", True),
        ("ok thanks", True),
        ("appreciate the quick help", True),
        ("thanks, but it still doesn't work", False),
        ("thanks for nothing", False),
        ("thanks?", False),
        ("the card ends in 4412", False),
    ],
)
def test_thanks(text: str, expected: bool) -> None:
    assert thanks(text) is expected


def test_promises_more() -> None:
    assert promises_more("I've passed this on to the team and we'll come back to you.")
    assert promises_more("I've raised this with our specialists; they'll be in touch.")
    assert not promises_more("All done: your refund is on its way.")


def test_business_days_deadline_is_close_of_the_nth_open_day() -> None:
    calendar = BusinessCalendar.from_config(
        {
            "timezone": "America/New_York",
            "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            "closed_dates": ["2026-11-10"],
        }
    )
    friday = datetime(2026, 11, 6, 20, 0, tzinfo=UTC)  # 15:00 in New York
    # Mon 9th, (Tue 10th closed), Wed 11th, Thu 12th: close of Thursday, 17:00 EST = 22:00 UTC.
    assert BusinessDays(calendar, 3).deadline(friday) == datetime(2026, 11, 12, 22, tzinfo=UTC)
    always = BusinessDays(BusinessCalendar.always_open(), 3)
    assert always.deadline(friday) == friday + timedelta(days=3)


# ------------------------------------------------------------------------ TON001 / TON002


def test_defensive_phrases() -> None:
    pattern = phrase_pattern(DEFAULT_DEFENSIVE_PHRASES)
    assert defensive_phrase("As we already said, it's an estimate", pattern) == "as we already said"
    assert defensive_phrase("you should've read the terms", pattern) == "you should've"
    assert defensive_phrase("you should have received it by now, sorry", pattern) is None
    assert defensive_phrase("it's not your fault", pattern) is None
    assert defensive_phrase("notour fault", pattern) is None
    assert phrase_pattern(()) is None


@pytest.mark.parametrize(
    "text, mark",
    [
        ("@ann so sorry! On its way. ^JD", "^JD"),
        ("Glad we could help -Anna", "-Anna"),
        ("happy to help — Sam 😊", "— Sam"),
        ("Sorted now. Thanks, Priya", "Thanks, Priya"),
        ("All done ~Kate #support", "~Kate"),
        ("on its way /MK https://acme.example/t/1", "/MK"),
        ("Thanks for reaching out! Have a great day.", None),
        ("Thanks @ann", None),
        ("We're open 9am-5pm ET", None),
    ],
)
def test_signatures(text: str, mark: str | None) -> None:
    assert signature(text) == mark


# ------------------------------------------------------------------------ on demo data


def _demo_accounts() -> dict[str, AccountData]:
    accounts: dict[str, AccountData] = {}
    for record in generate_records(6000, 2, seed=11):
        key = AccountKey(record["platform"], record["account"])
        data = accounts.setdefault(str(key), AccountData(key=key))
        add_record(data, record)
    return accounts


@pytest.fixture(scope="module")
def demo_accounts() -> list[AccountData]:
    exemplary, negligent = _demo_accounts().values()  # plan_accounts: exemplary first
    return [exemplary, negligent]


def _run(check_id: str, data: AccountData, params: dict[str, Any] | None = None) -> Any:
    check = REGISTRY.get(check_id)
    win = effective_window(data)
    assert win is not None and needs_unmet(check, data, win, history=False) is None
    context = AuditContext(
        account=data,
        window=win,
        check=check,
        params={**check.defaults, **(params or {})},
        severity=check.severity,
        policy={"exclude_authors": frozenset()},
    )
    result = run_check(check, context, DataGap.of(check, win))
    assert result.error is None, result.error
    return result


@pytest.mark.parametrize(
    "check_id, params",
    [
        ("FUP001", None),
        ("THR001", None),
        ("TON001", None),
        ("TON002", {"min_signed_share": 0.8}),
        ("PRV001", None),
    ],
)
def test_demo_exemplary_passes_and_negligent_fails(
    demo_accounts: list[AccountData], check_id: str, params: dict[str, Any] | None
) -> None:
    exemplary, negligent = demo_accounts
    assert _run(check_id, negligent, params).status == "fail"
    assert _run(check_id, exemplary, params).status == "pass"


def test_demo_findings_carry_their_evidence(demo_accounts: list[AccountData]) -> None:
    negligent = demo_accounts[1]
    result = _run("FUP001", negligent)
    finding = result.findings[0]
    data = finding.evidence.data
    assert finding.evidence.conversation_ids and finding.evidence.post_ids
    assert data["resolution_method"] in ("resolved_at", "customer_thanked", "customer_silent")
    assert data["deadline"] > data["resolved_at"] and data["thread"]
    assert result.metrics["judged"] == result.metrics["followed_up"] + len(result.findings)


def test_fup001_is_not_applicable_without_observed_conversations() -> None:
    check = REGISTRY.get("FUP001")
    data = _account(post("1", "ann", 10, "@AcmeHelp help"))
    data.window = effective_window(data)
    assert data.window is not None
    data.window.observes = frozenset({"deleted"})
    assert needs_unmet(check, data, data.window, history=False) is not None


@pytest.mark.parametrize("check_id", MY_CHECKS)
def test_parameters_have_valid_defaults(check_id: str) -> None:
    from jsonschema import Draft202012Validator

    check = REGISTRY.get(check_id)
    Draft202012Validator.check_schema(check.parameters)
    Draft202012Validator(check.parameters).validate(check.defaults)
