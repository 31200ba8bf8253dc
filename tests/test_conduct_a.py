"""MOD001 with history, MOD002/AUT001/CRS001 beyond the data-driven cases, the classification
metrics, and the demo generator's contrast for these checks."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.check import AuditContext
from auditor.checks.crs001 import find_surges
from auditor.demo.generator import AccountPlan, Behaviour, generate_records
from auditor.engine.audit import effective_window
from auditor.engine.checking import DataGap, run_check
from auditor.model import AccountData, AccountKey
from auditor.registry import load_registry
from auditor.result import CheckResult
from auditor.sources.bundle import add_record
from auditor.store.history import SeenPost

from conftest import END, WriteBundle, WriteConfig, post, read_reports, window
from tests_support import run_cli

REGISTRY = load_registry()
BRAND = "AcmeHelp"


@dataclass
class FakeHistory:
    posts: dict[str, SeenPost]

    def previous_posts(self) -> Mapping[str, Any]:
        return self.posts


def account(*records: dict[str, Any], brand: str = BRAND, platform: str = "x") -> AccountData:
    data = AccountData(key=AccountKey(platform, brand))
    for record in records:
        add_record(data, record)
    return data


def audit(
    check_id: str,
    data: AccountData,
    *,
    history: FakeHistory | None = None,
    params: Mapping[str, Any] | None = None,
    policy: Mapping[str, Any] | None = None,
) -> CheckResult:
    check = REGISTRY.get(check_id)
    win = effective_window(data)
    context = AuditContext(
        account=data,
        window=win,
        check=check,
        params={**check.defaults, **(params or {})},
        severity=check.severity,
        policy={"exclude_authors": frozenset(), **(policy or {})},
        history=history,
    )
    return run_check(check, context, DataGap.of(check, win))


def seen(
    post_id: str,
    text: str,
    hours_before_end: float,
    *,
    author: str = "ann",
    by_brand: bool = False,
    visibility: str = "public",
    deleted_by: str | None = None,
) -> SeenPost:
    created = END - timedelta(hours=hours_before_end)
    return SeenPost(
        post_id=post_id,
        created_at=created,
        author=author,
        by_brand=by_brand,
        visibility=visibility,
        deleted_by=deleted_by,
        text=text,
        url=f"https://x.com/{author}/status/{post_id}",
        thread=post_id,
        first_seen=created + timedelta(minutes=5),
        last_seen=END - timedelta(days=1),
    )


# --------------------------------------------------------------------------------- MOD001


def test_mod001_complaint_seen_before_and_missing_now_is_removed_deleter_unknown() -> None:
    data = account(window(), post("2", "ben", 10, "@AcmeHelp do you ship to Canada?"))
    history = FakeHistory(
        {
            "1": seen("1", "@AcmeHelp you charged me twice and nobody answers", 40),
            "2": seen("2", "@AcmeHelp do you ship to Canada?", 10, author="ben"),
            "3": seen("3", "@AcmeHelp I'm not angry, just asking about sizes", 30, author="cat"),
        }
    )
    result = audit("MOD001", data, history=history)
    assert result.status == "fail"
    (finding,) = result.findings
    assert finding.evidence_id == "1" and finding.severity == "medium"
    assert "deleter unknown" in finding.message
    assert finding.evidence.excerpt == "@AcmeHelp you charged me twice and nobody answers"
    assert finding.evidence.data["first_seen"] == history.posts["1"].first_seen.isoformat()
    assert finding.evidence.data["last_seen"] == history.posts["1"].last_seen.isoformat()
    assert finding.evidence.urls == ("https://x.com/ann/status/1",)
    assert result.metrics["missing_from_fetch"] == 2  # the question went too, and is no finding
    assert result.metrics["removed_by_label"] == {"complaint": 1, "question": 1}
    assert not result.notes


def test_mod001_history_knows_the_brand_deleted_it() -> None:
    data = account(window())
    history = FakeHistory(
        {
            "1": seen(
                "1",
                "@AcmeHelp great, my order is lost again. Third time this month, thanks a lot",
                40,
                visibility="deleted",
                deleted_by="brand",
            )
        }
    )
    result = audit("MOD001", data, history=history)
    assert [f.severity for f in result.findings] == ["high"]


def test_mod001_a_post_older_than_the_window_is_not_judged() -> None:
    data = account(window(days=2))
    history = FakeHistory({"1": seen("1", "@AcmeHelp you charged me twice, sort it out", 100)})
    result = audit("MOD001", data, history=history)
    assert result.status == "pass" and not result.findings
    assert result.metrics["outside_window"] == 1


def test_mod001_incomplete_fetch_is_never_reported() -> None:
    data = account(window(complete=False, reason="rate limited"))
    history = FakeHistory({"1": seen("1", "@AcmeHelp still no refund after 3 weeks", 40)})
    # Missing from a fetch that lost posts proves nothing: withheld, counted, incomplete.
    result = audit("MOD001", data, history=history)
    assert result.status == "incomplete" and result.findings == []
    assert result.metrics["withheld_findings"] == 1


def test_mod001_deleted_text_gone_from_the_bundle_keeps_the_text_history_saw() -> None:
    data = account(window(), post("1", "ann", 40, " ", visibility="deleted", deleted_by="brand"))
    data.posts[0].text = ""
    history = FakeHistory({"1": seen("1", "@AcmeHelp still no refund after 3 weeks", 40)})
    result = audit("MOD001", data, history=history)
    (finding,) = result.findings
    assert finding.severity == "high" and "no refund" in (finding.evidence.excerpt or "")


def test_mod001_excluded_authors_and_brand_posts_are_not_customers() -> None:
    data = account(window())
    history = FakeHistory(
        {
            "1": seen("1", "@AcmeHelp broken again, escalating", 30, author="acme_jo"),
            "2": seen("2", "Outage: the app is broken", 30, author=BRAND, by_brand=True),
        }
    )
    result = audit("MOD001", data, history=history, policy={"exclude_authors": {"acme_jo"}})
    assert result.status == "pass" and result.metrics["removed_posts"] == 0


def test_mod001_two_audits_through_the_cli(
    write_bundle_file: WriteBundle, write_config: WriteConfig, tmp_path: Path
) -> None:
    """A complaint in Monday's fetch and gone from Tuesday's complete fetch of the same days."""
    complaint = post("1", "ann", 40, "@AcmeHelp you charged me twice and nobody answers")
    question = post("2", "ben", 38, "@AcmeHelp do you ship to Canada?")
    earlier = END - timedelta(days=1)
    first_window = window(
        window_end=earlier.isoformat(), fetched_at=earlier.isoformat(), observes=["conversations"]
    )
    write_bundle_file("monday.jsonl", [first_window, complaint, question])
    write_bundle_file("tuesday.jsonl", [window(observes=["conversations"]), question])
    write_bundle_file(
        "partial.jsonl", [window(complete=False, observes=["conversations"]), question]
    )
    for name in ("monday", "tuesday", "partial"):
        write_config(
            f"""
            version: 1
            output: {{dir: out/{name}}}
            store: {{path: out/history.sqlite}}
            policy: {{select: [MOD001]}}
            clients:
              - name: acme
                accounts:
                  - {{platform: x, handle: AcmeHelp, source: {name}.jsonl}}
            """,
            name=f"{name}.yaml",
        )
    statuses = {}
    for name in ("monday", "tuesday", "partial"):
        code, _, _ = run_cli(["run", str(tmp_path / f"{name}.yaml"), "--quiet"])
        report = read_reports(tmp_path / "out" / name)["acme"]
        (check,) = report["accounts"][0]["checks"]
        statuses[name] = (code, check["status"], [f["evidence_id"] for f in check["findings"]])
    assert statuses["monday"] == (0, "pass", [])
    # Gone without saying who deleted it: medium, below the default fail_on (high), so exit 0.
    assert statuses["tuesday"] == (0, "fail", ["1"])
    # A partial fetch lost posts: the deletion it might show is withheld, and said to be.
    assert statuses["partial"][:2] == (3, "incomplete")


# --------------------------------------------------------------------------------- MOD002


def test_mod002_abuse_authors_match_case_and_at_sign_insensitively() -> None:
    data = account(
        window(observes=["hidden"]),
        post("1", "Grumbler", 30, "@AcmeHelp worst service ever, awful", visibility="hidden"),
    )
    result = audit("MOD002", data, policy={"abuse_authors": ["@grumbler"]})
    assert result.status == "pass" and result.metrics["exempt_abuse_author_ids"] == ["1"]


def test_mod002_help_desk_spam_label_exempts() -> None:
    record = post("1", "ann", 30, "@AcmeHelp my order is late", visibility="hidden", label="spam")
    result = audit("MOD002", account(window(observes=["hidden"]), record))
    assert result.status == "pass" and result.metrics["exempt_spam"] == 1


# --------------------------------------------------------------------------------- CRS001

PARAMS = {
    "floor_per_hour": 10,
    "z_threshold": 3.5,
    "baseline_hours": 168,
    "min_baseline_hours": 24,
}


def _hourly(counts: list[int], start: datetime) -> list[datetime]:
    times = []
    for hour, count in enumerate(counts):
        for index in range(count):
            times.append(start + timedelta(hours=hour, minutes=index * 59 / max(count, 1)))
    return times


def test_crs001_busy_hours_against_a_busy_baseline_are_no_surge() -> None:
    rng = random.Random(4)
    start = END - timedelta(days=14)
    counts = [max(0, round(rng.gauss(14, 3))) for _ in range(14 * 24)]
    surges, peak, _ = find_surges(_hourly(counts, start), start, END, PARAMS)
    assert peak >= 14 and surges == []


def test_crs001_a_spike_over_the_baseline_is_a_surge_with_robust_statistics() -> None:
    rng = random.Random(5)
    start = END - timedelta(days=14)
    counts = [max(0, round(rng.gauss(6, 2))) for _ in range(14 * 24)]
    counts[200] = 40
    surges, _, _ = find_surges(_hourly(counts, start), start, END, PARAMS)
    (surge,) = surges
    assert surge.start >= start + timedelta(hours=199) and surge.peak >= 40
    assert 4 <= surge.baseline_median <= 8 and surge.baseline_mad >= 1
    assert surge.z >= 3.5


def test_crs001_threshold_decides_for_a_moderate_spike() -> None:
    start = END - timedelta(days=14)
    counts = [4, 6] * (7 * 24)  # median 5, MAD 1: scale 1.48
    counts[250] = 12
    times = _hourly(counts, start)
    assert find_surges(times, start, END, {**PARAMS, "z_threshold": 3.5})[0]
    assert not find_surges(times, start, END, {**PARAMS, "z_threshold": 6.0})[0]


def test_crs001_publishes_the_classification_metrics() -> None:
    data = account(
        window(),
        post("1", "ann", 30, "@AcmeHelp my parcel never arrived, this is ridiculous"),
        post("2", BRAND, 29, "@ann so sorry! DM us the order number ^JD", in_reply_to="1",
             thread="1"),
        post("3", "ann", 28, "@AcmeHelp thanks, sorted now", in_reply_to="2", thread="1"),
        post("4", "ben", 20, "@AcmeHelp how do I reset my password?"),
        post("5", "cat", 10, "@AcmeHelp love the new app, best update yet"),
        post("6", "dan", 9, "@AcmeHelp mi pedido lleva dos semanas de retraso y nadie contesta"),
        post("7", "eve", 8, "@AcmeHelp crypto giveaway, check my profile"),
    )  # fmt: skip
    result = audit("CRS001", data)
    metrics = result.metrics["classification"]
    assert metrics["customer_posts"] == 6 and metrics["unclassified"] == 1
    assert metrics["labels"]["complaint"] == 1 and metrics["labels"]["spam"] == 1
    assert metrics["shares"]["complaint"] == pytest.approx(1 / 5, abs=1e-4)
    assert metrics["help_page_answerable"] == 1
    frustration = metrics["frustration"]
    assert frustration["before_first_reply"] == 1.0 and frustration["after_first_reply"] == 0.0


# --------------------------------------------------------------------------------- demo


def _demo_accounts(plans: list[AccountPlan], posts: int) -> dict[str, AccountData]:
    accounts: dict[str, AccountData] = {}
    for record in generate_records(posts, len(plans), 11, plans=plans):
        key = record["account"]
        data = accounts.setdefault(key, AccountData(AccountKey(record["platform"], key)))
        add_record(data, record)
    return accounts


@pytest.fixture(scope="module")
def demo() -> dict[str, AccountData]:
    plans = [
        AccountPlan("bluesky", "good.example", "Good Help", Behaviour.exemplary()),
        AccountPlan("bluesky", "bad.example", "Bad Help", Behaviour.negligent()),
    ]
    return _demo_accounts(plans, 1600)


@pytest.mark.parametrize("check_id", ["MOD001", "MOD002", "AUT001", "CRS001"])
def test_demo_data_passes_for_the_exemplary_and_fails_for_the_negligent(
    demo: dict[str, AccountData], check_id: str
) -> None:
    good = audit(check_id, demo["good.example"])
    bad = audit(check_id, demo["bad.example"])
    assert (good.status, bad.status) == ("pass", "fail"), (good.summary, bad.summary)
