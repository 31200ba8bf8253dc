"""Posts the classifier could not judge are counted and named by language (issue #11, item 10).

The YAML cases (tests/cases/<ID>.yaml) check each check's metrics and notes; here the shared
helper (``conduct.UnclassifiedPosts``), language names, and that the summaries name the posts
(the case harness reads notes and metrics, not summaries).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.analysis.classify import UNKNOWN_LANGUAGE, Classification, language_name
from auditor.analysis.conduct import UnclassifiedPosts
from auditor.testing import assert_case, load_cases

CASES_DIR = Path(__file__).parent / "cases"


def _result(label: str, language: str | None) -> Classification:
    return Classification(label, 0.0, language, False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("fr", "French"),
        ("es", "Spanish"),
        ("de", "German"),
        ("zh", "Chinese"),
        (None, UNKNOWN_LANGUAGE),
        ("qq", UNKNOWN_LANGUAGE),
    ],
)
def test_language_names_come_from_the_detector(code: str | None, name: str) -> None:
    assert language_name(code) == name


def test_unclassified_posts_counted_by_language_most_first() -> None:
    results = [
        _result("unclassified", "es"),
        _result("complaint", "en"),
        _result("unclassified", "fr"),
        _result("unclassified", "de"),
        _result("unclassified", "fr"),
        _result("unclassified", None),
        None,
    ]
    unclassified = UnclassifiedPosts.among(results)
    assert unclassified.by_language == {"fr": 2, "de": 1, "es": 1, "unknown": 1}
    assert list(unclassified.by_language) == ["fr", "de", "es", "unknown"]
    assert unclassified.posts == 5
    assert unclassified.described("hidden post") == (
        "5 hidden posts in French, German, Spanish and an unknown language not classified"
    )
    assert unclassified.metrics()["languages"] == ["French", "German", "Spanish", UNKNOWN_LANGUAGE]


def test_one_post_in_one_language_is_singular() -> None:
    unclassified = UnclassifiedPosts.among([_result("unclassified", "fr")])
    assert unclassified.described("removed post") == "1 removed post in French not classified"


def test_classified_posts_leave_nothing_to_name() -> None:
    unclassified = UnclassifiedPosts.among([_result("complaint", "en"), _result("other", "fr")])
    assert not unclassified
    assert unclassified.metrics() == {"posts": 0, "by_language": {}, "languages": []}


@pytest.mark.parametrize(
    ("check", "case_name", "phrase"),
    [
        (
            "MOD002",
            "hidden posts in French and Spanish are named, not silently passed over",
            "0 complaints among 3 hidden customer posts; "
            "2 hidden posts in French and Spanish not classified",
        ),
        (
            "MOD001",
            "removed posts in French and Spanish are named, not silently passed over",
            "no complaint removed; 3 removed posts in French and Spanish not classified",
        ),
        (
            "CRS001",
            'customer posts in French and Spanish are named beside "no complaint surge"',
            "; 3 customer posts in French and Spanish not classified",
        ),
        (
            "TON001",
            "English complaints are judged; the Spanish customer's replies are counted apart",
            "; 1 customer post in Spanish not classified; 2 replies to them not judged",
        ),
    ],
)
def test_summaries_name_the_unclassified_posts(check: str, case_name: str, phrase: str) -> None:
    cases = load_cases(CASES_DIR / f"{check}.yaml")
    case = next(c for c in cases.cases if c.name == case_name)
    result = assert_case(case)
    assert phrase in result.summary


def test_not_applicable_reason_names_the_unjudged_replies() -> None:
    cases = load_cases(CASES_DIR / "TON001.yaml")
    case = next(c for c in cases.cases if c.name.startswith("a defensive reply to a French"))
    result = assert_case(case)
    assert "1 customer post in French not classified; 1 reply to them not judged" in (
        result.summary
    )
