"""Template keys and near-duplicate grouping (auditor/templates.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import auditor.analysis.templates as templates
from auditor.analysis.templates import (
    EMPTY,
    group_keys,
    group_templates,
    jaccard,
    minhash,
    shingles,
    template_key,
)


@pytest.mark.parametrize(
    "text,key",
    [
        ("@ann Sorry! Order #5521 ships today ^JD", "sorry order ships today"),
        ("@ben sorry, order 77 ships today -Anna", "sorry order ships today"),
        ("@cat@mastodon.social Sorry!! order 9 ships today ~Sam", "sorry order ships today"),
        ("Sorry, order 4 ships today. https://acme.example/t/4 *TB", "sorry order ships today"),
        ("@dan.bsky.social SORRY order 12 ships today - Priya", "sorry order ships today"),
        ("We’re on it ^ jd", "we re on it"),
        ("Thanks for your e-mail, the check-in desk opens at 9", "thanks for your e mail the "
         "check in desk opens at"),
        ("", ""),
    ],
)  # fmt: skip
def test_template_key_strips_what_varies_between_customers(text: str, key: str) -> None:
    assert template_key(text) == key


def test_a_dash_inside_the_text_is_not_a_signature() -> None:
    assert template_key("Sorry - Anna from our team will call you") == (
        "sorry anna from our team will call you"
    )


@given(st.text(max_size=200))
def test_template_key_is_idempotent(text: str) -> None:
    key = template_key(text)
    assert template_key(key) == key


def test_near_duplicates_are_grouped_and_different_texts_are_not() -> None:
    texts = [
        "@ann We're sorry to hear that. Please send us a DM with more details. ^JD",
        "@ben Hi, we're sorry to hear that! Please send us a DM with more details -Anna",
        "@cat We are sorry to hear that. Please send us a DM with more details.",
        "@dan Your refund for order 8841 went out on Monday, it shows in 3-5 days ^MK",
        "@eve The courier has your sofa at the Leeds depot, delivery Friday -Sam",
    ]
    groups = group_templates(texts)
    assert groups.group[0] == groups.group[1] == groups.group[2]
    assert len({groups.group[0], groups.group[3], groups.group[4]}) == 3
    assert groups.key_of(groups.group[2]) == template_key(texts[0])


def test_short_keys_are_left_out() -> None:
    groups = group_templates(["Thank you! ^JD", "thank you", "Thanks for the photo, checking now"],
                             min_words=4)  # fmt: skip
    assert groups.group[:2] == [-1, -1] and groups.group[2] >= 0


def test_leaders_do_not_chain() -> None:
    # a~b and b~c but a is far from c: leader clustering keeps c out of a's group.
    words = [f"w{i}" for i in range(30)]
    a = " ".join(words[:20])
    b = " ".join(words[3:23])
    c = " ".join(words[6:26])
    assert jaccard(shingles(a), shingles(b)) >= 0.7 and jaccard(shingles(a), shingles(c)) < 0.7
    assert group_keys([a, b, c], 0.7) == [0, 0, 2]


def test_minhash_estimates_jaccard() -> None:
    rng = random.Random(3)
    vocabulary = [f"word{i}" for i in range(400)]
    errors = []
    for _ in range(200):
        base = rng.sample(vocabulary, 30)
        other = base[:]
        for position in rng.sample(range(30), rng.randint(0, 15)):
            other[position] = rng.choice(vocabulary)
        left, right = shingles(" ".join(base)), shingles(" ".join(other))
        sig_left, sig_right = minhash(left, 64), minhash(right, 64)
        # One permutation hashing's estimator: agreement among bins either set fell in.
        used = [(x, y) for x, y in zip(sig_left, sig_right, strict=True) if min(x, y) != EMPTY]
        estimate = sum(x == y for x, y in used) / len(used)
        errors.append(abs(estimate - jaccard(left, right)))
    assert sum(errors) / len(errors) < 0.08


def test_recall_of_near_duplicates_and_no_false_groups() -> None:
    rng = random.Random(7)
    vocabulary = [f"word{i}" for i in range(2000)]
    keys, expected_pairs = [], []
    for _ in range(300):
        base = rng.sample(vocabulary, 20)
        variant = base[:]
        variant[rng.randrange(20)] = rng.choice(vocabulary)  # one word changed: Jaccard >= 0.8
        keys += [" ".join(base), " ".join(variant)]
        expected_pairs.append((len(keys) - 2, len(keys) - 1))
    leaders = group_keys(keys, 0.7)
    found = sum(leaders[a] == leaders[b] for a, b in expected_pairs)
    assert found >= 0.95 * len(expected_pairs)
    # Nothing from different bases ever shares a group (every join is checked exactly).
    for index, leader in enumerate(leaders):
        assert leader == index or leader == index - 1


def test_grouping_compares_each_key_with_a_bounded_number_of_leaders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    real = templates.jaccard

    def counting(left: frozenset[int], right: frozenset[int]) -> float:
        nonlocal calls
        calls += 1
        return real(left, right)

    monkeypatch.setattr(templates, "jaccard", counting)
    rng = random.Random(1)
    vocabulary = [f"w{i}" for i in range(50)]  # a small vocabulary: many band collisions
    keys = [" ".join(rng.choices(vocabulary, k=12)) for _ in range(2000)]
    group_keys(keys, 0.7)
    assert calls <= templates.DEFAULT_BANDS * templates.LEADERS_PER_BUCKET * len(keys)


def test_grouping_is_deterministic() -> None:
    texts = [f"@u{i} Sorry about order {i}, we're checking it now ^JD" for i in range(50)]
    texts += [f"Thanks {i}, the refund is on its way to card ending {i}" for i in range(50)]
    assert group_templates(texts).group == group_templates(list(texts)).group
