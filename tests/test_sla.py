"""The SLA definitions shared by the response checks (auditor/sla.py), the business-hours policy
keys in the config, and the response checks end to end.

The twelve tests the issue names: 1-6 are calendar-level in tests/test_business_hours.py and
again at check level in tests/cases/RSP002.yaml ("test 1" ... "test 6"); 7-12 are check-level
cases in tests/cases/RSP002.yaml and RSP003.yaml, named "test 7" ... "test 12".
"""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import yaml

from auditor.analysis.business_hours import BusinessCalendar, CalendarError
from auditor.analysis.closing import DEFAULT_CLOSING_PHRASES, ClosingPhrases
from auditor.analysis.sla import (
    DEFAULT_BUSINESS_HOURS,
    LATE,
    MET,
    PENDING,
    UNANSWERED,
    ClockTally,
    LocalClock,
    OpenTimeTo,
    Stopwatch,
    _by_month,
    _local_hours,
    _weekday_hour_grid,
    activity,
    calendar_choice,
    distribution,
    p90,
    shared_calendar,
    validate_business_hours,
)
from auditor.check import AuditContext, PostFindings, excerpt, post_evidence
from auditor.config import ConfigError, EffectivePolicy, default_policy, load_config, load_schema
from auditor.model import AccountData, AccountKey, Post, Profile, Window
from auditor.registry import load_registry

from conftest import (
    END,
    WriteBundle,
    WriteConfig,
    healthy_account,
    post,
    profile,
    read_reports,
    window,
)
from tests_support import run_cli

REGISTRY = load_registry()
SCHEMA_DIR = Path(__file__).parents[1] / "config" / "schema"
CASES = sorted((Path(__file__).parent / "cases").glob("[A-Z]*[0-9].yaml"))
OFFICE = {
    "timezone": "America/New_York",
    "weekly": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
}


# ------------------------------------------------------------------ the issue's named tests


@cache
def _case_names() -> frozenset[str]:
    return frozenset(
        case["name"] for path in CASES for case in yaml.safe_load(path.read_text())["cases"]
    )


@pytest.mark.parametrize("number", range(1, 13))
def test_every_named_test_of_the_issue_has_a_check_level_case(number: int) -> None:
    names = _case_names()
    assert any(name.startswith(f"test {number}:") for name in names), number


# ------------------------------------------------------------------ defaults and schema


def test_policy_defaults_match_the_module_defaults() -> None:
    policy = default_policy()
    assert policy["business_hours"] == dict(DEFAULT_BUSINESS_HOURS)
    # The closing phrases are data of their own (auditor/analysis/closing.yaml): a copy in the
    # default policy would shadow them.
    assert "closing_phrases" not in policy
    assert "thanks" in DEFAULT_CLOSING_PHRASES
    assert policy["automation_sources"] == []
    assert policy["automated_replies_answer"] is False


def test_config_schema_inlines_the_business_hours_schema_unchanged() -> None:
    inlined = load_schema("config.schema.json")["$defs"]["business_hours"]
    assert inlined == json.loads((SCHEMA_DIR / "business_hours.schema.json").read_text())
    assert load_schema("config.schema.json")["$defs"]["policy"]["properties"]["business_hours"]


def test_default_policy_validates_as_a_top_level_policy(
    write_config: WriteConfig, write_bundle_file: WriteBundle
) -> None:
    write_bundle_file("acme.jsonl", healthy_account())
    policy = json.dumps(default_policy())
    path = write_config(
        f"policy: {policy}\n"
        "clients: [{name: acme, accounts: [{platform: x, handle: AcmeHelp, source: acme.jsonl}]}]"
    )
    load_config(path, REGISTRY)


# ------------------------------------------------------------------ calendar config errors


def _config(body: str) -> str:
    return body + (
        "clients:\n"
        "  - name: acme\n"
        "    accounts:\n"
        "      - {platform: x, handle: AcmeHelp, source: acme.jsonl}\n"
    )


@pytest.mark.parametrize(
    ("hours", "key", "message"),
    [
        ("{timezone: Mars/Base, weekly: {mon: [['09:00', '17:00']]}}", "timezone", "unknown"),
        ("{timezone: UTC, weekly: {mon: []}}", "weekly", "no open time"),
        ("{timezone: UTC, weekly: {mon: [['09:00', '09:00']]}}", "weekly.mon[0]", "start equals"),
        (
            "{timezone: UTC, weekly: {mon: [['09:00', '17:00']]}, holidays: {country: XX}}",
            "holidays.country",
            "unknown country",
        ),
    ],
)
def test_a_calendar_error_is_a_config_error_with_file_line_and_key(
    write_config: WriteConfig, write_bundle_file: WriteBundle, hours: str, key: str, message: str
) -> None:
    write_bundle_file("acme.jsonl", healthy_account())
    path = write_config(_config(f"policy:\n  fail_on: high\n  business_hours: {hours}\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, REGISTRY)
    assert str(caught.value).startswith(f"{path}:3: policy.business_hours.{key}: ")
    assert message in str(caught.value)
    code, _, err = run_cli(["config", "validate", str(path)])
    assert code == 2 and f"policy.business_hours.{key}" in err


def test_an_account_calendar_error_points_at_the_account(
    write_config: WriteConfig, write_bundle_file: WriteBundle
) -> None:
    write_bundle_file("acme.jsonl", healthy_account())
    path = write_config(
        "clients:\n"
        "  - name: acme\n"
        "    accounts:\n"
        "      - platform: x\n"
        "        handle: AcmeHelp\n"
        "        source: acme.jsonl\n"
        "        policy:\n"
        "          business_hours:\n"
        "            timezone: Nowhere/City\n"
        "            weekly: {mon: [['09:00', '17:00']]}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, REGISTRY)
    assert caught.value.line == 9
    assert caught.value.key == "clients[0].accounts[0].policy.business_hours.timezone"


def test_a_more_specific_calendar_replaces_the_inherited_one(
    write_config: WriteConfig, write_bundle_file: WriteBundle
) -> None:
    write_bundle_file("acme.jsonl", healthy_account())
    path = write_config(
        "policy:\n"
        "  business_hours: {timezone: UTC, weekly: {mon: [['09:00', '17:00']], "
        "sat: [['10:00', '14:00']]}, holidays: {country: GB}}\n"
        "clients:\n"
        "  - name: acme\n"
        "    policy: {business_hours: {timezone: Europe/Paris, weekly: {tue: [['08:00', '12:00']]}}}\n"
        "    accounts:\n"
        "      - {platform: x, handle: AcmeHelp, source: acme.jsonl}\n"
    )
    config = load_config(path, REGISTRY)
    policy = EffectivePolicy.resolve(config, config.accounts()[0], REGISTRY)
    assert policy.raw["business_hours"] == {
        "timezone": "Europe/Paris",
        "weekly": {"tue": [["08:00", "12:00"]]},
    }


def test_from_profile_alone_is_a_valid_calendar_policy() -> None:
    validate_business_hours({"from_profile": True})
    validate_business_hours({"from_profile": True, "holidays": {"country": "US"}})
    with pytest.raises(CalendarError, match=r"holidays\.country"):
        validate_business_hours({"from_profile": True, "holidays": {"country": "XX"}})


# ------------------------------------------------------------------ statistics


def test_median_and_p90_are_the_usual_ones() -> None:
    values = [float(v) for v in range(1, 11)]
    assert statistics.median(values) == 5.5
    assert p90(values) == pytest.approx(9.1)  # numpy.percentile(values, 90), linear
    assert p90([7.0]) == 7.0
    assert p90([10.0, 20.0]) == pytest.approx(19.0)


def test_distribution_counts_unanswered_breaches_as_missed() -> None:
    result = distribution([10.0, 50.0, 70.0], target=60, judged=4)
    assert result == {"median": 50.0, "p90": 66.0, "max": 70.0, "within_target": 0.5}
    assert distribution([], 60, 0) == {
        "median": None,
        "p90": None,
        "max": None,
        "within_target": None,
    }


# ------------------------------------------------------------------ clocks


def test_stopwatch_business_time_and_deadline() -> None:
    calendar = BusinessCalendar.from_config(OFFICE)
    friday = datetime.fromisoformat("2026-11-06T16:30:00-05:00")
    end = datetime.fromisoformat("2026-11-16T00:00:00+00:00")
    watch = Stopwatch(calendar, end, 60)
    monday = datetime.fromisoformat("2026-11-09T09:30:00-05:00")
    assert watch.judge(friday, monday) == (MET, 60.0, (monday - friday) / timedelta(minutes=1))
    assert watch.judge(friday, monday + timedelta(minutes=1))[0] == LATE
    assert watch.judge(friday, None) == (UNANSWERED, None, None)
    late_friday = friday + timedelta(days=7)  # due Monday 16 November 09:30, after the end
    assert watch.judge(late_friday, None) == (PENDING, None, None)
    assert watch.judge(late_friday, end + timedelta(hours=10)) == (PENDING, None, None)


def test_stopwatch_always_open_is_wall_clock() -> None:
    end = datetime(2026, 11, 16, tzinfo=UTC)
    watch = Stopwatch(BusinessCalendar.always_open(), end, 60)
    start = end - timedelta(hours=3)
    assert watch.judge(start, start + timedelta(minutes=45)) == (MET, 45.0, 45.0)
    assert watch.judge(end - timedelta(minutes=59), None)[0] == PENDING
    assert watch.judge(end - timedelta(minutes=60), None)[0] == UNANSWERED
    assert watch.waited(start) == 180.0


@pytest.mark.parametrize(
    ("text", "closing"),
    [
        ("thanks!", True),
        ("@AcmeHelp Thank you so much 🙏🙏", True),
        ("ok thanks, bye", True),
        ("great, solved.", True),
        ("Cheers @AcmeHelp https://t.co/x1", True),
        ("👍", True),
        ("???", False),
        ("thanks, still broken", False),
        ("thanks but where is my refund", False),
        ("not fixed", False),
        ("ok", True),
    ],
)
def test_closing_phrases(text: str, closing: bool) -> None:
    assert ClosingPhrases(DEFAULT_CLOSING_PHRASES).only_closing(text) is closing


def test_closing_phrases_come_from_the_list_given() -> None:
    phrases = ClosingPhrases(["merci", "à bientôt"])
    assert phrases.only_closing("Merci ! À bientôt")
    assert not phrases.only_closing("thanks")


# ------------------------------------------------------------------ calendar choice, activity


def _context(
    policy: dict[str, Any],
    posts: Sequence[Post] = (),
    bio: str | None = None,
) -> AuditContext:
    data = AccountData(key=AccountKey("x", "AcmeHelp"), posts=list(posts))
    if bio is not None:
        data.profile = Profile(platform="x", account="AcmeHelp", bio=bio)
    check = REGISTRY.get("RSP002")
    return AuditContext(
        account=data,
        window=Window(start=END - timedelta(days=14), end=END, complete=True),
        check=check,
        params=check.defaults,
        severity=check.severity,
        policy={"exclude_authors": frozenset(), **policy},
    )


def test_calendar_from_the_profile_keeps_the_policy_closures() -> None:
    ctx = _context(
        {"business_hours": {"from_profile": True, "closed_dates": ["2026-11-10"]}},
        bio="We reply Mon-Fri 9am-5pm ET",
    )
    choice = calendar_choice(ctx)
    assert choice.source == "profile" and choice.note is None
    tuesday_ten = datetime.fromisoformat("2026-11-10T10:00:00-05:00")
    assert not choice.calendar.is_open(tuesday_ten)
    assert choice.calendar.is_open(tuesday_ten + timedelta(days=1))


def test_calendar_from_the_profile_falls_back_to_the_policy_hours() -> None:
    ctx = _context({"business_hours": {"from_profile": True, **OFFICE}}, bio="Acme support")
    choice = calendar_choice(ctx)
    assert choice.source == "policy"
    assert choice.note is not None and "policy's hours" in choice.note


def test_activity_is_in_local_time_and_finds_the_busiest_hour() -> None:
    tokyo = {"timezone": "Asia/Tokyo", "weekly": {"sun": [["08:00", "18:00"]]}}
    saturday_utc = datetime(2026, 11, 14, 23, 30, tzinfo=UTC)  # Sunday 08:30 in Tokyo
    posts = [
        Post(
            id=str(i),
            author=f"c{i}",
            by_brand=False,
            created_at=saturday_utc + timedelta(minutes=i),
            text="@AcmeHelp help",
        )
        for i in range(3)
    ] + [
        Post(
            id="9",
            author="d",
            by_brand=False,
            created_at=saturday_utc + timedelta(hours=5),
            text="@AcmeHelp again",
        )
    ]
    result = activity(_context({"business_hours": tokyo}, posts))
    assert result["timezone"] == "Asia/Tokyo"
    sunday = result["weekdays"].index("sun")
    assert result["customer_posts"][sunday][8] == 3
    assert result["customer_posts"][sunday][13] == 1
    assert sum(map(sum, result["customer_posts"])) == 4
    assert result["most_active"]["weekday_hour"] == {"weekday": "sun", "hour": 8, "posts": 3}
    assert result["most_active"]["top_hours"] == [8, 13]


# ------------------------------------------------------------------ end to end


def test_audit_with_business_hours_end_to_end(
    write_config: WriteConfig, write_bundle_file: WriteBundle, tmp_path: Path
) -> None:
    friday = "2026-11-06T16:30:00-05:00"
    records = [
        profile(bio="We reply Mon-Fri 9am-5pm ET. Need help? DM us"),
        window(),
        post("1", "ann", 0, "@AcmeHelp the app logs me out", created_at=friday),
        post(
            "2",
            "AcmeHelp",
            0,
            "@ann which phone?",
            in_reply_to="1",
            thread="1",
            created_at="2026-11-09T09:20:00-05:00",
        ),
        post("3", "ben", 0, "@AcmeHelp refund?", created_at="2026-11-10T10:00:00-05:00"),
        post(
            "4",
            "AcmeHelp",
            0,
            "@ben checking",
            in_reply_to="3",
            thread="3",
            created_at="2026-11-10T12:00:00-05:00",
        ),
    ]
    write_bundle_file("acme.jsonl", records)
    path = write_config(
        "output: {dir: out}\n"
        "store: {path: out/history.sqlite}\n"
        "policy: {select: [RSP002, PRF], business_hours: {from_profile: true}}\n"
        + _config("").replace("clients:\n", "clients:\n", 1)
    )
    code, _, err = run_cli(["run", str(path), "--quiet"])
    assert code in (0, 1), err
    report = read_reports(tmp_path / "out")["acme"]
    account = report["clients"][0]["accounts"][0] if "clients" in report else report["accounts"][0]
    checks = {c["id"]: c for c in account["checks"]}
    rsp002 = checks["RSP002"]
    assert rsp002["status"] == "fail"
    assert [f["evidence_id"] for f in rsp002["findings"]] == ["3"]
    assert rsp002["metrics"]["calendar"]["source"] == "profile"
    assert rsp002["metrics"]["business_minutes"]["median"] == pytest.approx((50 + 120) / 2)
    assert checks["PRF001"]["status"] == "pass" and checks["PRF002"]["status"] == "pass"


# ------------------------------------------------------------------ the fast paths agree


def test_open_time_to_the_end_is_between_for_starts_in_any_order() -> None:
    # New York office hours across the November DST change, starts asked in a shuffled order.
    calendar = BusinessCalendar.from_config(OFFICE)
    end = datetime(2026, 12, 20, 15, 7, 3, 250_000, tzinfo=UTC)
    rng = random.Random(7)
    first = datetime(2026, 10, 1, tzinfo=UTC)
    starts = [first + timedelta(seconds=rng.randrange(90 * 86_400)) for _ in range(300)]
    starts += [end, end + timedelta(microseconds=1), end - timedelta(microseconds=1)]
    rng.shuffle(starts)
    open_to_end = OpenTimeTo(calendar, end)
    for start in starts:
        assert open_to_end(start) == calendar.between(start, end), start


def test_a_shared_calendar_is_one_per_config_and_answers_as_a_new_one() -> None:
    shared = shared_calendar(OFFICE)
    assert shared_calendar(dict(OFFICE)) is shared
    assert shared_calendar({**OFFICE, "closed_dates": ["2026-11-10"]}) is not shared
    fresh = BusinessCalendar.from_config(OFFICE)
    start = datetime(2026, 11, 6, 21, 30, tzinfo=UTC)
    assert shared.between(start, start + timedelta(days=4)) == fresh.between(
        start, start + timedelta(days=4)
    )
    assert shared.deadline(start, timedelta(hours=3)) == fresh.deadline(start, timedelta(hours=3))
    with pytest.raises(CalendarError):
        shared_calendar({"weekly": OFFICE["weekly"]})  # no timezone: still an error


def test_always_open_arithmetic_judges_as_the_calendar_does() -> None:
    """The stopwatch's plain arithmetic for an always-open calendar gives what walking that
    calendar gives: the same breaches, counts and minutes, every outcome exercised."""
    end = datetime(2026, 11, 16, tzinfo=UTC)
    fast = ClockTally(Stopwatch(BusinessCalendar.always_open(), end, 60))
    general_watch = Stopwatch(BusinessCalendar.always_open(), end, 60)
    general_watch.always_open = False  # through calendar.between and deadline instead
    general = ClockTally(general_watch)
    rng = random.Random(3)
    for _ in range(400):
        start = end - timedelta(seconds=rng.randrange(-3_600, 6 * 3_600), microseconds=17)
        taken = timedelta(seconds=rng.randrange(0, 3 * 3_600))
        answered_at = None if rng.random() < 0.3 else start + taken
        expected = general.judge(start, answered_at)
        assert fast.judge(start, answered_at) == expected
    assert (fast.business, fast.wall) == (general.business, general.wall)
    assert (fast.pending, fast.late, fast.unanswered) == (
        general.pending,
        general.late,
        general.unanswered,
    )
    assert fast.late and fast.unanswered and fast.pending  # every outcome was exercised


@pytest.mark.parametrize("zone", [None, "UTC", "Etc/GMT-5", "Etc/GMT+3", "America/New_York"])
def test_weekday_hour_grid_is_the_local_time_of_each_quarter_hour(zone: str | None) -> None:
    timezone = ZoneInfo(zone) if zone is not None else None
    clock = LocalClock(timezone)
    assert (clock.fixed_offset is None) == (zone == "America/New_York")
    rng = random.Random(11)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    posts = [
        Post(
            id=str(i),
            author="c",
            by_brand=False,
            created_at=start + timedelta(seconds=rng.randrange(60 * 86_400), microseconds=i),
        )
        for i in range(2_000)
    ]
    expected = [[0] * 24 for _ in range(7)]
    months: Counter[str] = Counter()
    for p in posts:
        quarter = int(p.created_at.timestamp()) // 900 * 900
        local = datetime.fromtimestamp(quarter, UTC)
        local = local.astimezone(timezone) if timezone is not None else local
        expected[local.weekday()][local.hour] += 1
        months[f"{local:%Y-%m}"] += 1
    hours = _local_hours(clock, [posts[:700], posts[700:]])
    assert _weekday_hour_grid(hours) == expected
    by_month = _by_month(hours)
    assert by_month == dict(sorted(months.items()))
    assert {"2026-03", "2026-04"} <= set(by_month)  # the posts span months


def _expected_grid(posts: list[Post], clock_zone: ZoneInfo | None) -> list[list[int]]:
    expected = [[0] * 24 for _ in range(7)]
    for p in posts:
        quarter = int(p.created_at.timestamp()) // 900 * 900
        local = datetime.fromtimestamp(quarter, UTC)
        local = local.astimezone(clock_zone) if clock_zone is not None else local
        expected[local.weekday()][local.hour] += 1
    return expected


_POST_ZONES: dict[str, list[tzinfo]] = {
    "plus-2": [timezone(timedelta(hours=2))],
    "minus-9": [timezone(timedelta(hours=-9))],
    "plus-5:45": [timezone(timedelta(hours=5, minutes=45))],
    "two-zones": [UTC, timezone(timedelta(hours=1))],
    "zoneinfo": [ZoneInfo("Europe/Paris")],
}


@pytest.mark.parametrize("posts_in", list(_POST_ZONES))
@pytest.mark.parametrize("zone", [None, "UTC", "Etc/GMT-5", "Etc/GMT+3", "America/New_York"])
def test_weekday_hour_grid_whatever_zone_the_posts_carry(zone: str | None, posts_in: str) -> None:
    # The fast path reads each post's own wall clock: it must hold for posts written in any
    # fixed offset, and give way to the timestamps for quarter-hour offsets, mixed or
    # changing zones.
    clock_zone = ZoneInfo(zone) if zone is not None else None
    zones = _POST_ZONES[posts_in]
    rng = random.Random(zone or "none")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    posts = [
        Post(
            id=str(i),
            author="c",
            by_brand=False,
            created_at=(
                start + timedelta(seconds=rng.randrange(60 * 86_400), microseconds=i)
            ).astimezone(zones[i % len(zones)]),
        )
        for i in range(1_500)
    ]
    expected = _expected_grid(posts, clock_zone)
    hours = _local_hours(LocalClock(clock_zone), [posts[:500], [], posts[500:]])
    assert _weekday_hour_grid(hours) == expected
    assert sum(map(sum, expected)) == len(posts)


_TEXTS = [
    "@AcmeHelp my parcel is late, order 5521",
    "thanks 🙏",
    "two  spaces",
    " leading",
    "trailing ",
    "line\nbreak",
    "tab\there",
    "no-break\u00a0space",
    "line\u2028separator",
    "x" * 140,
    "x" * 141,
    "word " * 60,
    "",
]


@pytest.mark.parametrize("text", _TEXTS)
def test_excerpt_is_the_text_on_one_line_cut_to_the_limit(text: str) -> None:
    short = " ".join(text[:280].split())
    assert excerpt(text) == (short if len(short) <= 140 else short[:139] + "…")


def test_excerpt_of_random_texts_and_limits_is_the_split_and_join_cut() -> None:
    # Clean long texts are cut without splitting: the cut must be the one split and join make.
    rng = random.Random(5)
    alphabet = "ab  \n\t\u00a0é😀."
    texts = ["word " * 60, ("word " * 60).strip(), "a b" * 100, "ab" * 200]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(14))) for _ in range(3000)]
    for text in texts:
        for limit in (1, 2, 3, 5, 140):
            short = " ".join(text[: limit * 2].split())
            assert excerpt(text, limit) == (
                short if len(short) <= limit else short[: limit - 1] + "…"
            )


def test_post_findings_uid_is_finding_uid_even_for_an_unencodable_account() -> None:
    made = Post(id="7", author="c", by_brand=False, created_at=END, thread="7")
    ctx = _context({})
    assert PostFindings(ctx).make(made, "m", {}).uid == ctx.finding("7", "m").uid
    ctx.account.key = AccountKey("x", "bad\ud800")
    fast = PostFindings(ctx)  # nothing fails until a finding is made, as with ctx.finding
    with pytest.raises(UnicodeEncodeError):
        fast.make(made, "m", {})
    with pytest.raises(UnicodeEncodeError):
        ctx.finding("7", "m")


@pytest.mark.parametrize("text", _TEXTS)
@pytest.mark.parametrize("url", [None, "https://x.com/c/status/1"])
def test_post_findings_are_the_findings_ctx_finding_makes(text: str, url: str | None) -> None:
    ctx = _context({})
    made = Post(id="1", author="c", by_brand=False, created_at=END, text=text, url=url, thread="0")
    data: dict[str, Any] = {"thread": "0", "age_hours": 2.5}
    fast = PostFindings(ctx).make(made, "post by c unanswered", dict(data))
    usual = ctx.finding(made.id, "post by c unanswered", evidence=post_evidence(made, **data))
    assert fast == usual and fast.uid == usual.uid
    assert orjson.dumps(fast) == orjson.dumps(usual)
