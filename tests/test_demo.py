"""Tests of the deterministic demo/benchmark bundle generator (auditor.demo.generator)."""

from __future__ import annotations

import gzip
import json
import re
import statistics
import tomllib
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from auditor.demo import texts as corpora
from auditor.demo.generator import (
    DEFAULT_END,
    AccountPlan,
    Behaviour,
    generate_records,
    plan_accounts,
)
from auditor.sources.bundle import write_bundle
from auditor.sources.platforms import observability

# The platforms, and what a complete fetch of each observes: the sources' table, which the demo
# follows.
PLATFORMS: tuple[str, ...] = tuple(observability())
OBSERVES: dict[str, frozenset[str]] = {
    platform: row.everything for platform, row in observability().items()
}

Record = dict[str, Any]

POSTS, ACCOUNTS, SEED = 2400, 8, 7


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return list(generate_records(POSTS, ACCOUNTS, SEED))


@pytest.fixture(scope="module")
def contrast() -> dict[str, list[Record]]:
    """An exemplary and a negligent account on the same platform, records by behaviour name."""
    plans = [
        AccountPlan("x", "GoodHelp", "Good Help", Behaviour.exemplary()),
        AccountPlan("x", "BadHelp", "Bad Help", Behaviour.negligent()),
    ]
    out: dict[str, list[Record]] = {"exemplary": [], "negligent": []}
    for record in generate_records(1600, 2, 11, plans=plans):
        out["exemplary" if record["account"] == "GoodHelp" else "negligent"].append(record)
    return out


def by_account(records: list[Record]) -> dict[tuple[str, str], list[Record]]:
    grouped: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in records:
        grouped[(record["platform"], record["account"])].append(record)
    return grouped


def posts_of(records: list[Record]) -> list[Record]:
    return [r for r in records if r["kind"] == "post"]


def parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None and moment.utcoffset() is not None, value
    return moment


def unanswered(posts: list[Record]) -> list[Record]:
    """Customer posts with no later brand reply to them or to a later post of the same customer
    in the same thread (the module docstring's definition)."""
    by_id = {p["id"]: p for p in posts}
    chains: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for post in posts:
        if not post["by_brand"]:
            chains[(post["thread"], post["author"])].append(post)
    answered: set[str] = set()
    for post in posts:
        parent = by_id.get(post["in_reply_to"] or "")
        if not post["by_brand"] or parent is None or parent["by_brand"]:
            continue
        for earlier in chains[(parent["thread"], parent["author"])]:
            if parse(earlier["created_at"]) <= parse(parent["created_at"]):
                answered.add(earlier["id"])
    return [p for p in posts if not p["by_brand"] and p["id"] not in answered]


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bundle.jsonl", "bundle.jsonl.gz"])
def test_same_seed_gives_identical_bytes(tmp_path: Path, name: str) -> None:
    first, second = tmp_path / "a" / name, tmp_path / "b" / name
    first.parent.mkdir()
    second.parent.mkdir()
    count = write_bundle(first, generate_records(900, 5, 3))
    assert write_bundle(second, generate_records(900, 5, 3)) == count
    assert first.read_bytes() == second.read_bytes()


def test_different_seed_gives_different_records() -> None:
    assert list(generate_records(300, 3, 1)) != list(generate_records(300, 3, 2))


def test_plan_accounts_is_deterministic_and_starts_exemplary_then_negligent() -> None:
    plans = plan_accounts(30, 5)
    assert plans == plan_accounts(30, 5)
    assert plans != plan_accounts(30, 6)
    assert plans[0].behaviour == Behaviour.exemplary()
    assert plans[1].behaviour == Behaviour.negligent()
    assert {p.behaviour.name for p in plans[2:]} == {"mixed"}
    assert len({p.behaviour for p in plans[2:]}) == 28  # each mixed brand is its own
    assert {p.platform for p in plans} == set(PLATFORMS)
    keys = [(p.platform, p.handle.lower()) for p in plans]
    assert len(set(keys)) == len(keys)


def test_x_handles_fit_the_platform_limit() -> None:
    for plan in plan_accounts(100, 9):
        if plan.platform == "x":
            assert re.fullmatch(r"[A-Za-z0-9_]{1,15}", plan.handle), plan.handle


# --- shape ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("posts", "accounts"), [(0, 3), (1, 3), (7, 3), (1001, 7), (333, 1)])
def test_post_count_is_exact_and_split_evenly(posts: int, accounts: int) -> None:
    records = list(generate_records(posts, accounts, 4))
    counts = Counter((r["platform"], r["account"]) for r in records if r["kind"] == "post")
    assert sum(counts.values()) == posts
    per_account = [counts.get(key, 0) for key in by_account(records)]
    assert len(per_account) == accounts
    assert max(per_account) - min(per_account) <= 1


def test_records_are_grouped_by_account_in_kind_order(records: list[Record]) -> None:
    order = {"profile": 0, "window": 1, "post": 2, "conversation": 3}
    seen: list[tuple[str, str]] = []
    for record in records:
        key = (record["platform"], record["account"])
        if not seen or seen[-1] != key:
            assert key not in seen, f"{key} appears in two places"
            seen.append(key)
    assert len(seen) == ACCOUNTS
    for account_records in by_account(records).values():
        kinds = [r["kind"] for r in account_records]
        assert kinds[:2] == ["profile", "window"]
        assert kinds.count("profile") == kinds.count("window") == 1
        assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
        times = [parse(r["created_at"]) for r in account_records if r["kind"] == "post"]
        assert times == sorted(times)


KEY_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "profile": {
        "display_name": (str,),
        "bio": (str,),
        "website": (str,),
        "hours": (dict, type(None)),
        "fetched_at": (str,),
    },
    "window": {
        "window_start": (str,),
        "window_end": (str,),
        "complete": (bool,),
        "reason": (str, type(None)),
        "observes": (list,),
        "fetched_at": (str,),
    },
    "post": {
        "id": (str,),
        "author": (str,),
        "author_id": (str,),
        "by_brand": (bool,),
        "created_at": (str,),
        "text": (str,),
        "in_reply_to": (str, type(None)),
        "thread": (str,),
        "visibility": (str,),
        "deleted_by": (str, type(None)),
        "url": (str,),
        "source": (str, type(None)),
        "automated": (bool, type(None)),
        "mentions": (type(None),),
    },
    "conversation": {
        "id": (str,),
        "customer": (str,),
        "messages": (list,),
        "resolved_at": (str, type(None)),
        "linked_post": (str, type(None)),
    },
}


def test_every_record_has_the_required_keys_with_the_right_types(records: list[Record]) -> None:
    assert {r["kind"] for r in records} == set(KEY_TYPES)
    for record in records:
        assert record["platform"] in PLATFORMS
        assert isinstance(record["account"], str) and record["account"]
        expected = KEY_TYPES[record["kind"]]
        assert set(record) == {"kind", "platform", "account", *expected}, record
        for key, types in expected.items():
            assert isinstance(record[key], types), (key, record)
        if record["kind"] == "post":
            assert record["visibility"] in {"public", "hidden", "deleted"}
            assert (record["deleted_by"] is None) == (record["visibility"] != "deleted")
            assert record["deleted_by"] in {None, "author", "brand", "unknown"}
            assert record["url"].startswith("https://")
        if record["kind"] == "conversation":
            assert record["messages"]
            for message in record["messages"]:
                assert set(message) == {"id", "by_brand", "created_at", "text"}
                assert isinstance(message["by_brand"], bool) and message["text"]
    # The records are plain JSON.
    assert json.loads(json.dumps(records)) == records


def test_profiles_state_hours_in_the_common_shape(records: list[Record]) -> None:
    days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    for profile in (r for r in records if r["kind"] == "profile"):
        hours = profile["hours"]
        if hours is None:
            assert profile["platform"] != "facebook" or "We reply" not in profile["bio"]
            continue
        assert profile["platform"] == "facebook"  # the only platform with an hours field
        if hours.get("always_open"):
            assert hours == {"always_open": True}
            continue
        ZoneInfo(hours["timezone"])
        assert hours["weekly"] and set(hours["weekly"]) <= days
        for intervals in hours["weekly"].values():
            for start, end in intervals:
                assert re.fullmatch(r"\d\d:\d\d", start) and re.fullmatch(r"\d\d:\d\d", end)


def test_times_have_offsets_and_lie_inside_the_window(records: list[Record]) -> None:
    end = DEFAULT_END
    start = end - timedelta(days=14)
    for record in records:
        kind = record["kind"]
        if kind in ("profile", "window"):
            assert parse(record["fetched_at"]) == end
        if kind == "window":
            assert parse(record["window_start"]) == start
            assert parse(record["window_end"]) == end
            assert record["complete"] is True
            assert set(record["observes"]) == OBSERVES[record["platform"]]
            assert len(record["observes"]) == len(OBSERVES[record["platform"]])
        if kind == "post":
            assert start <= parse(record["created_at"]) <= end
        if kind == "conversation":
            times = [parse(m["created_at"]) for m in record["messages"]]
            assert times == sorted(times)
            assert all(start <= moment <= end for moment in times)
            if record["resolved_at"] is not None:
                assert times[0] <= parse(record["resolved_at"]) <= end


def test_a_custom_end_and_window_length_are_respected() -> None:
    end = datetime(2025, 3, 30, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    records = list(generate_records(400, 3, 8, end=end, days=3))
    assert sum(r["kind"] == "post" for r in records) == 400
    for record in records:
        if record["kind"] == "post":
            assert end - timedelta(days=3) <= parse(record["created_at"]) <= end
        if record["kind"] == "window":
            assert parse(record["window_end"]) == end
            assert parse(record["window_start"]) == end - timedelta(days=3)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        list(generate_records(10, 1, 1, end=datetime(2026, 1, 1)))  # naive
    with pytest.raises(ValueError):
        list(generate_records(-1, 1, 1))
    with pytest.raises(ValueError):
        list(generate_records(10, 0, 1))
    with pytest.raises(ValueError):
        list(generate_records(10, 2, 1, plans=plan_accounts(3, 1)))
    twice = plan_accounts(1, 1) * 2
    with pytest.raises(ValueError):
        list(generate_records(10, 2, 1, plans=twice))
    with pytest.raises(ValueError):
        Behaviour(answer_rate=1.5)


# --- threads ----------------------------------------------------------------------------------


def test_replies_point_to_earlier_posts_of_the_same_account(records: list[Record]) -> None:
    for account_records in by_account(records).values():
        posts = {p["id"]: p for p in posts_of(account_records)}
        for post in posts.values():
            if post["in_reply_to"] is None:
                assert post["thread"] == post["id"]
                continue
            parent = posts[post["in_reply_to"]]
            assert post["thread"] == parent["thread"]
            assert parse(parent["created_at"]) < parse(post["created_at"])
            if post["by_brand"]:
                assert not parent["by_brand"], "brand replies answer customer posts"
        for conversation in (r for r in account_records if r["kind"] == "conversation"):
            if conversation["linked_post"] is not None:
                linked = posts[conversation["linked_post"]]
                assert linked["author"] == conversation["customer"]


def test_post_ids_are_unique_per_platform() -> None:
    records = list(generate_records(6000, 20, 12))
    ids = [(r["platform"], r["id"]) for r in records if r["kind"] == "post"]
    assert len(set(ids)) == len(ids)
    conversation_ids = [(r["platform"], r["id"]) for r in records if r["kind"] == "conversation"]
    assert len(set(conversation_ids)) == len(conversation_ids)


def test_customer_posts_address_the_brand(records: list[Record]) -> None:
    for account_records in by_account(records).values():
        posts = {p["id"]: p for p in posts_of(account_records)}
        for post in posts.values():
            if post["by_brand"]:
                assert post["author"] == post["account"]
                continue
            assert post["author"] != post["account"]
            root = posts[post["thread"]]
            # A customer thread either starts at a brand post or mentions the brand at its root.
            assert root["by_brand"] or root["author"] == post["author"]


def test_platforms_only_show_what_they_can_observe(records: list[Record]) -> None:
    records = list(generate_records(5000, 12, 21))
    for record in records:
        observes = OBSERVES[record["platform"]]
        if record["kind"] == "conversation":
            assert "conversations" in observes
        if record["kind"] == "post" and record["visibility"] != "public":
            assert record["visibility"] in observes


def test_windows_observe_what_a_complete_fetch_of_the_platform_would() -> None:
    windows = {
        record["platform"]: record["observes"]
        for record in generate_records(1200, 12, 3)
        if record["kind"] == "window"
    }
    # In the order bundles have always listed them; X sees deletions through its re-check.
    assert windows == {
        "x": ["deleted", "conversations"],
        "facebook": ["hidden", "conversations"],
        "instagram": ["hidden"],
        "mastodon": ["conversations"],
        "bluesky": ["deleted", "hidden"],
    }


def test_deleted_complaints_vanish_where_deletions_are_not_observed() -> None:
    behaviour = Behaviour(delete_complaint_rate=0.3, crisis=False)

    def visibilities(platform: str, handle: str) -> Counter[str]:
        plans = [AccountPlan(platform, handle, "Shop Help", behaviour)]
        posts = posts_of(list(generate_records(1500, 1, 4, plans=plans)))
        return Counter(post["visibility"] for post in posts)

    # Bluesky shows the deleted complaints as deleted; Mastodon's fetch never sees them.
    assert visibilities("bluesky", "shop.example")["deleted"] > 30
    assert visibilities("mastodon", "ShopHelp@mastodon.social") == Counter({"public": 1500})


# --- behaviour --------------------------------------------------------------------------------


def test_exemplary_answers_every_customer_post(contrast: dict[str, list[Record]]) -> None:
    posts = posts_of(contrast["exemplary"])
    assert sum(not p["by_brand"] for p in posts) > 100
    assert unanswered(posts) == []


def test_exemplary_accounts_from_plans_answer_everything() -> None:
    for seed in range(3):
        records = list(generate_records(500, 1, seed))
        assert unanswered(posts_of(records)) == []


def test_negligent_leaves_some_customer_posts_unanswered(contrast: dict[str, list[Record]]) -> None:
    posts = posts_of(contrast["negligent"])
    customer_posts = [p for p in posts if not p["by_brand"]]
    assert len(unanswered(posts)) > len(customer_posts) // 5


def first_reply_minutes(posts: list[Record]) -> list[float]:
    by_id = {p["id"]: p for p in posts}
    delays = []
    for post in posts:
        parent = by_id.get(post["in_reply_to"] or "")
        if post["by_brand"] and not post["automated"] and parent and not parent["by_brand"]:
            gap = parse(post["created_at"]) - parse(parent["created_at"])
            delays.append(gap.total_seconds() / 60)
    return delays


def test_response_speed_follows_the_behaviour(contrast: dict[str, list[Record]]) -> None:
    fast = statistics.median(first_reply_minutes(posts_of(contrast["exemplary"])))
    slow = statistics.median(first_reply_minutes(posts_of(contrast["negligent"])))
    assert fast < 30 < 120 < slow


def test_negligent_moderates_automates_and_argues(contrast: dict[str, list[Record]]) -> None:
    good, bad = posts_of(contrast["exemplary"]), posts_of(contrast["negligent"])
    brand_deleted = [p for p in bad if p["visibility"] == "deleted" and p["deleted_by"] != "author"]
    assert brand_deleted and all(not p["by_brand"] for p in brand_deleted)
    assert not [p for p in good if p["visibility"] == "deleted" and p["deleted_by"] != "author"]
    bots = [p for p in bad if p["automated"]]
    assert bots and all(p["source"] in {"Sprinklr", "Zendesk"} for p in bots)
    assert not [p for p in good if p["automated"] or p["source"] in {"Sprinklr", "Zendesk"}]
    # Canned texts: the same reply word for word to many customers.
    bad_texts = Counter(p["text"] for p in bad if p["by_brand"] and p["in_reply_to"])
    good_texts = Counter(p["text"] for p in good if p["by_brand"] and p["in_reply_to"])
    assert bad_texts.most_common(1)[0][1] >= 10
    assert good_texts.most_common(1)[0][1] <= 2
    signed = re.compile(r"(\^[A-Z]{2}|-[A-Z][a-z]+)$")
    good_replies = [p for p in good if p["by_brand"] and p["in_reply_to"]]
    assert all(signed.search(p["text"]) for p in good_replies)
    assert not any(signed.search(p["text"]) for p in bad if p["by_brand"])
    assert any("account number" in p["text"] for p in bad if p["by_brand"])
    assert any("@example." in p["text"] for p in bad if not p["by_brand"])
    assert not any("@example." in p["text"] for p in good)


def thread_lengths(posts: list[Record]) -> list[int]:
    return list(Counter(p["thread"] for p in posts if p["in_reply_to"] is not None).values())


def test_negligent_threads_run_longer(contrast: dict[str, list[Record]]) -> None:
    good = posts_of(contrast["exemplary"])
    bad = posts_of(contrast["negligent"])
    good_top = [p for p in good if p["in_reply_to"] is None and not p["by_brand"]]
    # Exemplary customer threads stay short; some negligent ones go on and on.
    longest_good = max(
        n for t, n in Counter(p["thread"] for p in good).items() if t in {p["id"] for p in good_top}
    )
    assert longest_good <= 12
    assert max(thread_lengths(bad)) > longest_good


def test_conversations_and_public_follow_ups(contrast: dict[str, list[Record]]) -> None:
    good = contrast["exemplary"]
    conversations = [r for r in good if r["kind"] == "conversation"]
    linked = [c for c in conversations if c["linked_post"]]
    assert linked and all(c["resolved_at"] for c in linked[:-3])
    posts = {p["id"]: p for p in posts_of(good)}
    follow_ups = [
        p for p in posts.values() if p["by_brand"] and p["in_reply_to"] and "DM" in p["text"]
    ]
    assert follow_ups
    bad_conversations = [r for r in contrast["negligent"] if r["kind"] == "conversation"]
    assert any(c["resolved_at"] is None for c in bad_conversations)
    # Some customers skip the public post and write a DM straight away.
    assert any(c["linked_post"] is None for c in conversations + bad_conversations)


def test_profiles_follow_the_behaviour(contrast: dict[str, list[Record]]) -> None:
    good = contrast["exemplary"][0]
    bad = contrast["negligent"][0]
    # X has no hours field: the bio says it.
    assert good["platform"] == "x" and good["hours"] is None and "24/7" in good["bio"]
    assert re.search(r"DM us|help|support@", good["bio"], re.IGNORECASE)
    assert not re.search(r"DM us|/help|support@", bad["bio"])


def test_crisis_hour_with_and_without_a_statement(contrast: dict[str, list[Record]]) -> None:
    def surge(posts: list[Record]) -> tuple[datetime, int]:
        """The start of the 60 minutes with the most new customer threads, and their count."""
        starts = sorted(
            parse(p["created_at"]) for p in posts if not p["by_brand"] and p["in_reply_to"] is None
        )
        best, begin = (starts[0], 0), 0
        for end, moment in enumerate(starts):
            while moment - starts[begin] >= timedelta(hours=1):
                begin += 1
            if end - begin + 1 > best[1]:
                best = (starts[begin], end - begin + 1)
        return best

    for name, expect_statement in (("exemplary", True), ("negligent", False)):
        posts = posts_of(contrast[name])
        start, complaints = surge(posts)
        assert complaints >= 10
        statements = [
            p
            for p in posts
            if p["by_brand"]
            and p["in_reply_to"] is None
            and start <= parse(p["created_at"]) < start + timedelta(hours=1)
        ]
        assert bool(statements) == expect_statement


def test_replies_wait_for_staffed_hours() -> None:
    behaviour = Behaviour(
        always_open=False,
        timezone="America/Chicago",
        open_hour=9,
        close_hour=17,
        weekends=False,
        hours_kept=True,
        crisis=False,
    )
    plans = [AccountPlan("mastodon", "ShopHelp@mastodon.social", "Shop Help", behaviour)]
    posts = posts_of(list(generate_records(1500, 1, 2, plans=plans)))
    by_id = {p["id"]: p for p in posts}
    zone = ZoneInfo("America/Chicago")
    checked = 0
    for post in posts:
        parent = by_id.get(post["in_reply_to"] or "")
        if not post["by_brand"] or parent is None:
            continue
        asked = parse(parent["created_at"]).astimezone(zone)
        answered = parse(post["created_at"]).astimezone(zone)
        if asked.weekday() >= 5 or asked.hour < 9 or asked.hour >= 17:
            checked += 1
            assert answered.weekday() < 5 and answered.hour >= 9, (asked, answered)
            assert answered.date() >= asked.date()
    assert checked > 20


# --- texts ------------------------------------------------------------------------------------


def test_texts_vary(records: list[Record]) -> None:
    texts = [p["text"] for p in posts_of(records)]
    assert len(set(texts)) > len(texts) * 0.5
    customer_texts = {p["text"] for p in posts_of(records) if not p["by_brand"]}
    assert len(customer_texts) > 400
    topics = {
        "delivery": r"order|package|deliver|courier",
        "refund": r"refund",
        "login": r"log ?in|password|locked",
        "billing": r"charge|bill|invoice",
        "crash": r"crash|freez",
        "question": r"\?$",
        "praise": r"thank|love|best",
    }
    for topic, pattern in topics.items():
        assert any(re.search(pattern, t, re.IGNORECASE) for t in customer_texts), topic


def test_some_customer_posts_are_not_in_english() -> None:
    texts = [p["text"] for p in posts_of(list(generate_records(3000, 4, 5))) if not p["by_brand"]]
    foreign = re.compile(r"pedido|Bestellung|commande|ordine|bestelling|sesión|App stürzt")
    assert 0 < sum(bool(foreign.search(t)) for t in texts) < len(texts) // 10


def test_urls_have_each_platform_shape() -> None:
    shapes = {
        "x": r"https://x\.com/\w+/status/\d+",
        "facebook": r"https://www\.facebook\.com/\d+_\d+(\?comment_id=\d+)?",
        "instagram": r"https://www\.instagram\.com/p/[\w-]+/(c/\d+/)?",
        "mastodon": r"https://[\w.]+/@\w+/\d+",
        "bluesky": r"https://bsky\.app/profile/[\w.-]+/post/[2-7a-z]{13}",
    }
    records = list(generate_records(1200, 12, 3))
    assert {r["platform"] for r in records} == set(PLATFORMS)
    for post in posts_of(records):
        assert re.fullmatch(shapes[post["platform"]], post["url"]), post["url"]
        if post["platform"] == "bluesky":
            assert post["id"].startswith("at://did:plc:")
            assert post["id"].endswith(post["url"].rsplit("/", 1)[1])


def test_every_topic_has_its_texts_on_both_sides() -> None:
    topics = set(corpora.COMPLAINTS)
    assert {"delivery", "refund", "login", "billing", "crash", "outage"} == topics
    for by_topic in (corpora.FOLLOW_UPS, corpora.FIRST_REPLIES, corpora.RESOLUTIONS):
        assert set(by_topic) == topics
    assert set(corpora.DM_RESOLUTIONS) == topics | {"direct"}


def test_corpora_are_read_from_the_data_files() -> None:
    assert len(corpora.BRANDS) == 40 and corpora.BRANDS[0] == "Acme"
    assert corpora.CUSTOMER_APPS["mastodon"][-1] is None  # an app the API does not name
    complaint = corpora.COMPLAINTS["delivery"][0]
    assert complaint.text.startswith("{h} my order {order} was supposed to arrive {weekday}")
    assert complaint.fields == ("h", "order", "weekday", "days")
    assert all(isinstance(text, str) and text for text in corpora.PROFILE_INTROS)
    asks, answers = corpora.QUESTIONS[0]
    assert len(asks) == 3 and len(answers) == 3


def test_a_template_with_an_unknown_slot_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown slot \{colour\}"):
        corpora.parse_templates(["{h} my {colour} jacket"], "complaints.delivery")
    with pytest.raises(ValueError, match="non-empty list of strings"):
        corpora.parse_templates(["fine", None], "praise")


def test_demo_data_files_ship_in_the_wheel() -> None:
    data = Path(corpora.__file__).parent / "data"
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["auditor.demo"]
    names = sorted(path.name for path in data.iterdir())
    assert names == ["brand.yaml", "customers.yaml", "questions.yaml", "words.yaml"]
    for name in names:
        assert any(fnmatch(f"data/{name}", glob) for glob in globs), name


# --- writing ----------------------------------------------------------------------------------


def test_write_jsonl_round_trips_plain_and_gzip(tmp_path: Path) -> None:
    expected = list(generate_records(200, 2, 6))
    plain, zipped = tmp_path / "b.jsonl", tmp_path / "b.jsonl.gz"
    assert write_bundle(plain, iter(expected)) == len(expected)
    assert write_bundle(zipped, iter(expected)) == len(expected)
    closed = [*expected, {"kind": "end", "records": len(expected)}]
    assert [json.loads(line) for line in plain.read_text("utf-8").splitlines()] == closed
    with gzip.open(zipped, "rt", encoding="utf-8") as stream:
        assert [json.loads(line) for line in stream] == closed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl", "b.jsonl.gz"]


def test_write_jsonl_leaves_no_file_when_records_fail(tmp_path: Path) -> None:
    def broken() -> Any:
        yield {"kind": "profile"}
        raise RuntimeError("boom")

    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        write_bundle(target, broken())
    assert list(tmp_path.iterdir()) == []


def test_generation_is_lazy() -> None:
    stream = generate_records(10**9, 1000, 1)  # far too many to build in memory
    first = [next(stream) for _ in range(2)]
    assert [r["kind"] for r in first] == ["profile", "window"]
    assert parse(first[0]["fetched_at"]) == DEFAULT_END.astimezone(UTC)
