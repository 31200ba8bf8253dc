"""The complaint model (#13): the pure-Python scorer equals scikit-learn, the shipped file is
what it claims, retraining is reproducible, and the Classifier's confidence and reasons follow
the contract (docs/complaints.md)."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from auditor.analysis.classify import Classifier, normalise, tokenise
from auditor.analysis.complaint_model import (
    MAX_REASONS,
    SIGNAL_NAMES,
    ComplaintModel,
    built_in_model,
)

REPO = Path(__file__).resolve().parents[1]
MODEL_FILE = REPO / "auditor" / "analysis" / "models" / "complaints.json"

_GOOD = ["thanks", "love", "great", "quick", "helpful", "perfect", "fixed", "sorted", "happy"]
_BAD = ["broken", "late", "refund", "still", "never", "cancelled", "waiting", "wrong", "charged"]
_NEUTRAL = [
    "my", "order", "the", "app", "today", "phone", "is", "was", "again", "your", "team", "a",
    "delivery", "i", "it", "for", "week", "café", "naïve", "x2", "l'app", "e-mail", "🙏",
]  # fmt: skip
_PUNCTUATION = ["?", "!", "??", ":(", ",", ".", "...", ""]


def _training() -> ModuleType:
    path = REPO / "benchmarks" / "train_complaints.py"
    spec = importlib.util.spec_from_file_location("train_complaints", path)
    assert spec is not None and spec.loader is not None
    if spec.name in sys.modules:
        return sys.modules[spec.name]
    module = importlib.util.module_from_spec(spec)
    # Registered first: its dataclasses look their module up while they are built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _synthetic(rng: random.Random, count: int) -> list[tuple[str, int]]:
    """Own texts: a complaint holds a bad word (and, sometimes, a good one: noise)."""
    examples = []
    for _ in range(count):
        complaint = rng.random() < 0.4
        words = rng.choices(_NEUTRAL, k=rng.randint(1, 12))
        words += rng.choices(_BAD if complaint else _GOOD, k=rng.randint(1, 2))
        if rng.random() < 0.2:
            words += rng.choices(_GOOD if complaint else _BAD, k=1)
        rng.shuffle(words)
        text = " ".join(words) + rng.choice(_PUNCTUATION)
        if rng.random() < 0.2:
            text = f"@acme {text.upper()} https://t.co/x{rng.randint(0, 99)}"
        examples.append((text, int(complaint)))
    return examples


def _fitted(training: ModuleType, seed: int) -> tuple[Any, bytes]:
    examples = _synthetic(random.Random(seed), 300)
    texts = [normalise(text) for text, _ in examples]
    labels = training.np.array([label for _, label in examples])
    pipeline = training.fit(texts, labels, 3.0)
    document = training.export(pipeline, 0.5, c=3.0, trained_on="synthetic")
    return pipeline, training.dump(document)


def test_the_scorer_equals_scikit_learns_predict_proba() -> None:
    training = _training()
    pipeline, document = _fitted(training, seed=1)
    model = ComplaintModel.from_json(document)
    signals = Classifier(rules_only=True)
    unseen = [normalise(text) for text, _ in _synthetic(random.Random(2), 300)]
    unseen += ["", "?", "a", "zzzz qqqq", "broken broken broken broken", "late?? late!! late..."]
    expected = pipeline.predict_proba(unseen)[:, 1]
    for text, probability in zip(unseen, expected, strict=True):
        scored = model.score(text, tokenise(text), signals.complaint_signals(text)).probability
        assert abs(scored - float(probability)) <= 1e-9, text


def test_retraining_gives_the_same_bytes() -> None:
    training = _training()
    assert _fitted(training, seed=1)[1] == _fitted(training, seed=1)[1]
    assert _fitted(training, seed=1)[1] != _fitted(training, seed=3)[1]


def test_the_shipped_model_is_small_cited_and_holds_no_tweet_text() -> None:
    raw = MODEL_FILE.read_bytes()
    assert len(raw) < 2_000_000
    document = json.loads(raw)
    assert "Preoţiuc-Pietro" in document["citation"] and "ACL 2019" in document["citation"]
    assert document["version"] and 0.0 < document["threshold"] < 1.0
    assert document["signals"]["names"] == list(SIGNAL_NAMES)
    # n-grams only: at most two words, at most five characters.
    assert all(len(gram.split()) <= 2 for gram in document["word"]["features"])
    assert all(len(gram) <= 5 for gram in document["word_chars"]["features"])
    assert len(built_in_model()) == len(document["word"]["features"]) + len(
        document["word_chars"]["features"]
    )


def test_a_document_that_is_not_a_complaint_model_is_refused() -> None:
    document = json.loads(MODEL_FILE.read_bytes())
    with pytest.raises(ValueError, match="not a complaint model"):
        ComplaintModel({**document, "format": "something-else"})
    with pytest.raises(ValueError, match="signals"):
        ComplaintModel({**document, "signals": {"names": ["?"], "coefficients": [1.0]}})
    with pytest.raises(ValueError, match="expected 7 signals"):
        built_in_model().score("my order is late", ("my", "order", "is", "late"), [0.0])


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def test_a_complaint_carries_the_models_probability_and_its_reasons(
    classifier: Classifier,
) -> None:
    text = "still no refund after three weeks, why is my order broken?"
    result = classifier.classify(text)
    assert result.label == "complaint"
    score = built_in_model().score(
        normalise(text), tokenise(normalise(text)), classifier.complaint_signals(text)
    )
    assert result.confidence == score.probability >= built_in_model().threshold
    assert 1 <= len(result.reasons) <= MAX_REASONS
    # Readable: words of the text, its word n-grams, or the signals' names.
    words = set(normalise(text).replace(",", " ").replace("?", " ").split())
    for reason in result.reasons:
        assert (
            reason in SIGNAL_NAMES
            or set(reason.split()) <= words | {"?"}
            or reason.startswith("sentiment ")
        ), reason


def test_a_non_complaint_carries_the_probability_that_it_is_not_one(
    classifier: Classifier,
) -> None:
    text = "love the new update, thank you so much!"
    result = classifier.classify(text)
    assert result.label == "praise"
    score = built_in_model().score(
        normalise(text), tokenise(normalise(text)), classifier.complaint_signals(text)
    )
    assert not score.is_complaint
    assert result.confidence == pytest.approx(1.0 - score.probability)
    assert result.reasons == score.away and result.reasons


def test_the_model_decides_complaints_the_rules_missed(classifier: Classifier) -> None:
    # A broken expectation phrased as a question, without a complaint word.
    text = "why is my bill so high this month?"
    assert Classifier(rules_only=True).classify(text).label == "question"
    assert classifier.classify(text).label == "complaint"


def test_spam_and_other_languages_stay_with_the_rules(classifier: Classifier) -> None:
    spam = classifier.classify("you are an idiot, free crypto giveaway click here")
    assert spam.label == "spam" and spam.confidence is None and spam.reasons == ()
    french = classifier.classify("Mon colis n'est toujours pas arrivé, c'est inadmissible")
    assert (french.label, french.language, french.confidence) == ("unclassified", "fr", None)


def test_rules_only_carries_no_confidence() -> None:
    result = Classifier(rules_only=True).classify("my screen arrived broken")
    assert result.label == "complaint" and result.confidence is None and result.reasons == ()


def test_a_model_given_to_the_classifier_is_the_one_used() -> None:
    training = _training()
    _, document = _fitted(training, seed=1)
    model = ComplaintModel.from_json(document)
    text = "the delivery was late and broken"
    result = Classifier(complaint_model=model).classify(text)
    probability = model.score(
        normalise(text), tokenise(normalise(text)), Classifier().complaint_signals(text)
    ).probability
    expected = probability if probability >= 0.5 else 1.0 - probability
    assert result.confidence == pytest.approx(expected)
