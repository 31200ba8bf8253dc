"""The complaint model's scorer: is this English customer post a complaint, how sure, and why.

The model is a logistic regression over tf-idf features of the normalised text (word 1-2-grams
and ``char_wb`` 2-5-grams, each block l2-normalised, with sublinear term frequencies, as
scikit-learn's ``TfidfVectorizer`` computes them) plus a few signals the rules already compute
(a lexicon complaint sign, a problem term, a praise phrase, a question mark, VADER's scores). It
is trained by ``benchmarks/train_complaints.py`` on the complaints data set of Preoţiuc-Pietro,
Găman and Aletras (ACL 2019) and ships as ``models/complaints.json``: the n-grams, their idf
and coefficients, the intercept, the decision threshold and the analyzer settings; no tweet
text. This module rebuilds the same features in plain Python (scikit-learn is needed only to
train; a test holds this scorer to scikit-learn's ``predict_proba`` to 1e-9).

Reasons: each feature's contribution to the decision (its value times its coefficient) is
summed per readable key: a word n-gram is its own key ("why is", "?"); a character n-gram counts
towards the word it was cut from ("broken"), since "rok" means nothing to a reader; a signal is
named for what it is ("complaint phrase", "negative sentiment").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

MODEL_FORMAT = "auditor-complaint-model"
MODEL_FORMAT_VERSION = 1
BUILT_IN_MODEL = "complaints.json"
# The signals, in the order the model's coefficients expect them (``Classifier`` computes them).
SIGNAL_NAMES: tuple[str, ...] = (
    "complaint phrase",
    "problem word",
    "praise phrase",
    "?",
    "sentiment",
    "negative sentiment",
    "positive sentiment",
)
MAX_REASONS = 5
# The per-word memory of character n-grams is dropped when it grows past this many words.
MAX_REMEMBERED_WORDS = 200_000
# A word with nothing but punctuation keeps its punctuation as its name ("??", ":(").
_EDGE_PUNCTUATION = "\"'.,;:!()[]{}*-_"


@dataclass(frozen=True, slots=True)
class ComplaintScore:
    probability: float  # the model's probability that the post is a complaint, 0..1
    is_complaint: bool  # probability >= the model's threshold
    towards: tuple[str, ...]  # what pushed most towards "complaint", strongest first
    away: tuple[str, ...]  # what pushed most away from it, strongest first

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the decision went the way it did."""
        return self.towards if self.is_complaint else self.away

    @property
    def confidence(self) -> float:
        """The model's probability for the decision taken: p for a complaint, 1 - p otherwise."""
        return self.probability if self.is_complaint else 1.0 - self.probability


@dataclass(frozen=True, slots=True)
class _Block:
    """One tf-idf block: n-gram -> (idf, idf x coefficient)."""

    weights: Mapping[str, tuple[float, float]]
    sublinear_tf: bool


class ComplaintModel:
    """A trained complaint model, loaded from its JSON document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if document.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a complaint model: format {document.get('format')!r}")
        if document.get("format_version") != MODEL_FORMAT_VERSION:
            raise ValueError(f"unsupported model format_version {document.get('format_version')}")
        word, char = document["word"], document["char_wb"]
        self.version: str = str(document["version"])
        self.threshold: float = float(document["threshold"])
        self.intercept: float = float(document["intercept"])
        self._token_re = re.compile(word["token_pattern"])
        self._word_n = _ngram_range(word["ngram_range"])
        self._char_n = _ngram_range(char["ngram_range"])
        self._word = _block(word)
        self._char = _block(char)
        signals = document["signals"]
        if tuple(signals["names"]) != SIGNAL_NAMES:
            raise ValueError(f"model signals {signals['names']} are not {list(SIGNAL_NAMES)}")
        self._signal_coefficients: tuple[float, ...] = tuple(map(float, signals["coefficients"]))
        # Words recur from post to post, and a word's character n-grams depend on it alone:
        # remembering the known ones per word makes scoring several times faster.
        self._grams_of_word: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_json(cls, text: str | bytes) -> ComplaintModel:
        return cls(json.loads(text))

    def __len__(self) -> int:
        """How many n-grams the model knows."""
        return len(self._word.weights) + len(self._char.weights)

    def score(self, normalised: str, signals: Sequence[float]) -> ComplaintScore:
        """Score a normalised text (``classify.normalise``) with its signals (``SIGNAL_NAMES``)."""
        if len(signals) != len(SIGNAL_NAMES):
            raise ValueError(f"expected {len(SIGNAL_NAMES)} signals, got {len(signals)}")
        contributions: dict[str, float] = {}
        decision = self.intercept
        decision += _block_decision(self._word, self._word_counts(normalised), contributions)
        decision += _block_decision(self._char, self._char_counts(normalised), contributions)
        for name, value, coefficient in zip(
            SIGNAL_NAMES, signals, self._signal_coefficients, strict=True
        ):
            if value:
                part = value * coefficient
                decision += part
                key = _signal_reason(name, value)
                contributions[key] = contributions.get(key, 0.0) + part
        probability = _sigmoid(decision)
        ranked = sorted(contributions.items(), key=lambda item: (-item[1], item[0]))
        towards = tuple(key for key, part in ranked[:MAX_REASONS] if part > 0.0)
        away = tuple(key for key, part in reversed(ranked[-MAX_REASONS:]) if part < 0.0)
        return ComplaintScore(probability, probability >= self.threshold, towards, away)

    def _word_counts(self, normalised: str) -> dict[str, tuple[int, str]]:
        """Known word n-grams -> (count, reason key); scikit-learn's word analyzer."""
        tokens = self._token_re.findall(normalised)
        low, high = self._word_n
        weights = self._word.weights
        counts: dict[str, tuple[int, str]] = {}
        for n in range(low, min(high, len(tokens)) + 1):
            for start in range(len(tokens) - n + 1):
                gram = " ".join(tokens[start : start + n])
                if gram in weights:
                    seen = counts.get(gram)
                    counts[gram] = (seen[0] + 1 if seen else 1, gram)
        return counts

    def _char_counts(self, normalised: str) -> dict[str, tuple[int, str]]:
        """Known ``char_wb`` n-grams -> (count, the word they were cut from)."""
        counts: dict[str, tuple[int, str]] = {}
        grams_of_word = self._grams_of_word
        for word in normalised.split():
            grams = grams_of_word.get(word)
            if grams is None:
                if len(grams_of_word) >= MAX_REMEMBERED_WORDS:
                    grams_of_word.clear()
                grams = grams_of_word[word] = self._known_char_grams(word)
            if not grams:
                continue
            reason = word.strip(_EDGE_PUNCTUATION) or word
            for gram in grams:
                seen = counts.get(gram)
                # An n-gram found in several words is credited to the first.
                counts[gram] = (seen[0] + 1, seen[1]) if seen else (1, reason)
        return counts

    def _known_char_grams(self, word: str) -> tuple[str, ...]:
        """The word's ``char_wb`` n-grams the model knows, repeats kept (scikit-learn's rule)."""
        low, high = self._char_n
        weights = self._char.weights
        padded = f" {word} "
        length = len(padded)
        grams: list[str] = []
        for n in range(low, high + 1):
            # scikit-learn counts a word shorter than n once, whole, and then stops.
            grams.extend(
                gram
                for start in range(max(length - n + 1, 1))
                if (gram := padded[start : start + n]) in weights
            )
            if length <= n:
                break
        return tuple(grams)


def _block_decision(
    block: _Block, counts: Mapping[str, tuple[int, str]], contributions: dict[str, float]
) -> float:
    """This block's share of the decision (tf-idf, l2-normalised, times the coefficients).

    The norm divides every feature alike, so the sums per reason are taken first and divided
    once: a text has far fewer words than n-grams."""
    if not counts:
        return 0.0
    weights = block.weights
    sublinear = block.sublinear_tf
    by_reason: dict[str, float] = {}
    squares = 0.0
    for gram, (count, reason) in counts.items():
        idf, idf_coefficient = weights[gram]
        if count == 1:
            squares += idf * idf
            by_reason[reason] = by_reason.get(reason, 0.0) + idf_coefficient
            continue
        tf = 1.0 + math.log(count) if sublinear else float(count)
        squares += tf * tf * idf * idf
        by_reason[reason] = by_reason.get(reason, 0.0) + tf * idf_coefficient
    norm = math.sqrt(squares)
    total = 0.0
    for reason, raw in by_reason.items():
        part = raw / norm
        total += part
        contributions[reason] = contributions.get(reason, 0.0) + part
    return total


def _signal_reason(name: str, value: float) -> str:
    if name == "sentiment":
        return f"sentiment {value:+.2f}"
    return name


def _sigmoid(decision: float) -> float:
    if decision >= 0:
        return 1.0 / (1.0 + math.exp(-decision))
    exponential = math.exp(decision)
    return exponential / (1.0 + exponential)


def _ngram_range(value: Sequence[int]) -> tuple[int, int]:
    low, high = (int(v) for v in value)
    if not 1 <= low <= high:
        raise ValueError(f"bad ngram_range {list(value)}")
    return low, high


def _block(section: Mapping[str, Any]) -> _Block:
    features = section["features"]
    weights = {
        gram: (float(idf), float(idf) * float(coef)) for gram, (idf, coef) in features.items()
    }
    return _Block(weights, bool(section["sublinear_tf"]))


@cache
def built_in_model() -> ComplaintModel:
    """The model shipped in the package (``auditor/analysis/models/complaints.json``)."""
    resource = files("auditor.analysis.models").joinpath(BUILT_IN_MODEL)
    return ComplaintModel.from_json(resource.read_bytes())


__all__ = [
    "MODEL_FORMAT",
    "SIGNAL_NAMES",
    "ComplaintModel",
    "ComplaintScore",
    "built_in_model",
]
