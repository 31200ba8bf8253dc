"""Why a post counts as a complaint, in the findings and in the report (#13).

Every post a conduct check calls a complaint carries the classifier's label, confidence and
reasons into its finding's evidence, and the checks list every post they judged (the
non-complaints too) in their metrics under ``judged_posts``, bounded. The complaint model
gives English posts a confidence and reasons; the ``scoring`` fixture stands in for it with a
confidence and reasons made from the text, so that the tests see exactly what is carried
through the real engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from auditor.analysis import conduct
from auditor.analysis.classify import Classification, Classifier
from auditor.config import load_schema
from auditor.result import CheckResult
from auditor.sources.bundle import write_bundle
from auditor.testing import BRAND, Case, case_records, run_case

from conftest import read_reports
from tests_support import run_cli

CONFIDENCE = 0.87654


def reasons_for(text: str) -> tuple[str, ...]:
    """Made-up reasons that differ per post: its last two words."""
    return tuple(text.split()[-2:])


@pytest.fixture
def scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = Classifier.classify_many

    def scored(self: Classifier, texts: Iterable[str]) -> list[Classification]:
        listed = list(texts)
        return [
            dataclasses.replace(result, confidence=CONFIDENCE, reasons=reasons_for(text))
            for text, result in zip(listed, rules(self, listed), strict=True)
        ]

    monkeypatch.setattr(Classifier, "classify_many", scored)


def run(check: str, posts: list[dict[str, Any]], **spec: Any) -> CheckResult:
    return run_case(Case(check, "evidence", {"posts": posts, "expect": {"status": "x"}, **spec}))


def judged(result: CheckResult) -> dict[str, Mapping[str, Any]]:
    listed: list[Mapping[str, Any]] = result.metrics["judged_posts"]["posts"]
    return {entry["post_id"]: entry for entry in listed}


HIDDEN = [
    {"id": "1", "author": "ann", "hours_before_end": 30, "visibility": "hidden",
     "text": "@AcmeHelp third week without my refund, this is a joke"},
    {"id": "2", "author": "dan", "hours_before_end": 20, "visibility": "hidden",
     "text": "@AcmeHelp do you ship to Canada?"},
    {"id": "3", "author": "promo9", "hours_before_end": 10, "visibility": "hidden",
     "text": "@AcmeHelp free followers fast, check my profile!!"},
]  # fmt: skip


def test_hidden_complaint_says_why_and_every_hidden_post_is_listed(scoring: None) -> None:
    result = run("MOD002", HIDDEN, window={"observes": ["hidden"]})
    (finding,) = result.findings
    data = finding.evidence.data
    assert data["label"] == "complaint"
    assert data["confidence"] == round(CONFIDENCE, 4)
    assert data["reasons"] == ["a", "joke"]
    assert data["language"] == "en"
    posts = judged(result)
    assert result.metrics["judged_posts"]["total"] == 3
    assert {i: p["label"] for i, p in posts.items()} == {
        "1": "complaint",
        "2": "question",
        "3": "spam",
    }
    # The non-complaints carry why too: a reader can see why they were let be.
    assert posts["2"]["reasons"] == ["to", "Canada?"]


def test_the_complaint_models_confidence_and_reasons_reach_the_evidence() -> None:
    result = run("MOD002", HIDDEN[:1], window={"observes": ["hidden"]})
    data = result.findings[0].evidence.data
    expected = Classifier().classify(str(HIDDEN[0]["text"]))
    assert data["label"] == expected.label == "complaint"
    assert expected.confidence is not None
    assert data["confidence"] == round(expected.confidence, conduct.CONFIDENCE_DECIMALS)
    assert data["reasons"] == list(expected.reasons) and 1 <= len(data["reasons"]) <= 5


def test_rules_say_no_confidence_rather_than_invent_one() -> None:
    result = Classifier(rules_only=True).classify(str(HIDDEN[0]["text"]))
    assert result.label == "complaint"
    assert result.confidence is None and result.reasons == ()


def test_deleted_complaint_says_why_and_deleted_praise_is_listed(scoring: None) -> None:
    posts = [
        {"id": "1", "author": "ann", "hours_before_end": 30, "visibility": "deleted",
         "deleted_by": "brand", "text": "@AcmeHelp you charged me twice and nobody answers"},
        {"id": "2", "author": "eve", "hours_before_end": 20, "visibility": "deleted",
         "deleted_by": "brand", "text": "@AcmeHelp no problem at all, thanks for the quick fix!"},
    ]  # fmt: skip
    result = run("MOD001", posts)
    (finding,) = result.findings
    assert finding.evidence_id == "1"
    data = finding.evidence.data
    assert (data["label"], data["reasons"]) == ("complaint", ["nobody", "answers"])
    assert data["deleted_by"] == "brand"  # what the check said before is still there
    assert {i: p["label"] for i, p in judged(result).items()} == {"1": "complaint", "2": "praise"}


def test_defensive_reply_names_the_complaint_and_why(scoring: None) -> None:
    posts = [
        {"id": "1", "author": "ann", "hours_before_end": 30,
         "text": "@AcmeHelp my blender arrived broken and nobody answers the phone"},
        {"id": "2", "author": BRAND, "hours_before_end": 29, "in_reply_to": "1",
         "text": "@ann if you had read the instructions this wouldn't have happened."},
        {"id": "3", "author": "dan", "hours_before_end": 20, "text": "@AcmeHelp do you ship to Canada?"},
        {"id": "4", "author": BRAND, "hours_before_end": 19, "in_reply_to": "3",
         "text": "@dan we do, in 5 days"},
    ]  # fmt: skip
    result = run("TON001", posts)
    (finding,) = result.findings
    assert finding.evidence.data["complaint"] == "1"
    why = finding.evidence.data["complaint_classification"]
    assert why == {
        "label": "complaint",
        "confidence": round(CONFIDENCE, 4),
        "reasons": ["the", "phone"],
        "language": "en",
    }
    # The question's reply was not judged: the question is listed, with why.
    assert {i: p["label"] for i, p in judged(result).items()} == {"1": "complaint", "3": "question"}


SURGE_TEXTS = [
    "can't log in to the app, keeps saying session expired",
    "your website won't load, error 503",
    "not happy, payment failed three times",
    "locked out of my account, this is ridiculous",
    "app crashes every time I open the basket",
    "still can't log in. fix it please",
    "login error again, useless",
    "checkout broken, I've been trying for 20 minutes",
    "the app froze on the payment screen, so annoying",
    "my parcel never arrived",
    "great, my order is lost again. Third time this month, thanks a lot",
    "charged twice for one order",
]


def test_surge_lists_why_each_complaint_counted(scoring: None) -> None:
    posts = [
        {
            "id": str(n),
            "author": f"c{n}",
            "hours_before_end": 72 - n * 0.05,
            "text": f"@AcmeHelp {t}",
        }
        for n, t in enumerate(SURGE_TEXTS)
    ]
    posts.append(
        {
            "id": "q",
            "author": "dan",
            "hours_before_end": 50,
            "text": "@AcmeHelp do you ship to Canada?",
        }
    )
    result = run("CRS001", posts)
    (finding,) = result.findings
    listed = finding.evidence.data["complaint_classifications"]
    assert [entry["post_id"] for entry in listed] == list(finding.evidence.post_ids)
    assert len(listed) == len(SURGE_TEXTS)
    assert all(entry["label"] == "complaint" for entry in listed)
    assert listed[0]["reasons"] == ["session", "expired"]
    assert judged(result)["q"]["label"] == "question"
    assert result.metrics["judged_posts"]["total"] == len(SURGE_TEXTS) + 1


def test_the_list_is_bounded_and_says_how_many_there_were(
    scoring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conduct, "JUDGED_POSTS_LIMIT", 2)
    result = run("MOD002", HIDDEN, window={"observes": ["hidden"]})
    listing = result.metrics["judged_posts"]
    assert (listing["total"], listing["limit"]) == (3, 2)
    assert [p["post_id"] for p in listing["posts"]] == ["1", "2"]
    assert len(result.findings) == 1  # the bound is on the listing, never on the findings


def test_unclassified_posts_are_listed_with_their_language() -> None:
    posts = [
        {"id": "1", "author": "marie", "hours_before_end": 30, "visibility": "hidden",
         "text": "@AcmeHelp mon colis n'est toujours pas arrivé et personne ne répond"},
    ]  # fmt: skip
    result = run("MOD002", posts, window={"observes": ["hidden"]})
    assert judged(result)["1"] == {
        "post_id": "1",
        "label": "unclassified",
        "confidence": None,
        "reasons": [],
        "language": "fr",
    }


def test_report_carries_the_per_post_results_and_stays_valid(tmp_path: Path, scoring: None) -> None:
    posts = [
        *HIDDEN,
        {"id": "4", "author": "gus", "hours_before_end": 8, "visibility": "deleted",
         "deleted_by": "brand", "text": "@AcmeHelp my parcel never arrived"},
    ]  # fmt: skip
    records = case_records({"posts": posts, "window": {"observes": ["hidden", "deleted"]}})
    write_bundle(tmp_path / "acme.jsonl", records)
    config = {
        "output": {"dir": str(tmp_path / "out"), "formats": ["json"]},
        "store": {"path": str(tmp_path / "out" / "history.sqlite")},
        "clients": [
            {
                "name": "acme",
                "accounts": [
                    {
                        "platform": "x",
                        "handle": BRAND,
                        "source": str(tmp_path / "acme.jsonl"),
                        "policy": {"select": ["MOD001", "MOD002", "TON001", "CRS001"]},
                    }
                ],
            }
        ],
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    code, _, err = run_cli(["run", str(tmp_path / "audit.yaml"), "-q", "--workers", "1"])
    assert code == 1, err
    report = read_reports(tmp_path / "out")["acme"]
    validator = Draft202012Validator(
        load_schema("report.schema.json"), format_checker=FormatChecker()
    )
    errors = list(validator.iter_errors(report))
    assert not errors, errors[0].message
    assert report["report_schema"] == "2.4"
    checks = {check["id"]: check for check in report["accounts"][0]["checks"]}
    hidden = checks["MOD002"]["metrics"]["judged_posts"]["posts"]
    assert [(p["post_id"], p["label"]) for p in hidden] == [
        ("1", "complaint"),
        ("2", "question"),
        ("3", "spam"),
    ]
    assert hidden[1]["confidence"] == round(CONFIDENCE, 4)
    (deleted,) = checks["MOD001"]["findings"]
    assert deleted["evidence"]["data"]["reasons"] == ["never", "arrived"]


def test_the_schema_refuses_a_listing_without_why() -> None:
    # The report schema's own definition, on its own.
    schema = {"$defs": load_schema("report.schema.json")["$defs"], "$ref": "#/$defs/judged_posts"}
    bad = {"total": 1, "limit": 100, "posts": [{"post_id": "1", "label": "complaint"}]}
    good = {
        "total": 1,
        "limit": 100,
        "posts": [
            {
                "post_id": "1",
                "label": "complaint",
                "confidence": 0.5,
                "reasons": [],
                "language": "en",
            }
        ],
    }
    assert list(Draft202012Validator(schema).iter_errors(bad))
    assert not list(Draft202012Validator(schema).iter_errors(good))
