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
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

MODEL_FORMAT = "auditor-complaint-model"
MODEL_FORMAT_VERSION = 2
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
        _require_norms(word, "l2", sublinear_tf=True)
        _require_norms(char, "l1", sublinear_tf=False)
        self._char_weight = float(char["weight"])
        signals = document["signals"]
        if tuple(signals["names"]) != SIGNAL_NAMES:
            raise ValueError(f"model signals {signals['names']} are not {list(SIGNAL_NAMES)}")
        self._signal_coefficients: tuple[float, ...] = tuple(map(float, signals["coefficients"]))
        # Words recur from post to post, and a word's character n-grams depend on it alone:
        # remembering their sums per word makes scoring several times faster.
        self._char_sums_of_word: dict[str, tuple[float, float, str]] = {}

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
        decision += self._word_decision(normalised, contributions)
        decision += self._char_decision(normalised, contributions)
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

    def _word_decision(self, normalised: str, contributions: dict[str, float]) -> float:
        """The word block's share of the decision: tf-idf with sublinear tf, l2-normalised,
        times the coefficients; each word n-gram is its own reason."""
        weights = self._word.weights
        counts = Counter(gram for gram in self._word_grams(normalised) if gram in weights)
        if not counts:
            return 0.0
        parts: list[tuple[str, float]] = []
        squares = 0.0
        for gram, count in counts.items():
            idf, idf_coefficient = weights[gram]
            tf = 1.0 + math.log(count) if count > 1 else 1.0
            squares += tf * tf * idf * idf
            parts.append((gram, tf * idf_coefficient))
        # The norm divides every feature alike: the raw parts are divided once it is known.
        norm = math.sqrt(squares)
        total = 0.0
        for gram, raw in parts:
            part = raw / norm
            total += part
            contributions[gram] = contributions.get(gram, 0.0) + part
        return total

    def _word_grams(self, normalised: str) -> list[str]:
        """The text's word n-grams, repeats kept; scikit-learn's word analyzer."""
        tokens: list[str] = self._token_re.findall(normalised)
        low, high = self._word_n
        grams = list(tokens) if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            grams.extend(
                " ".join(tokens[start : start + n]) for start in range(len(tokens) - n + 1)
            )
        return grams

    def _char_decision(self, normalised: str, contributions: dict[str, float]) -> float:
        """The ``char_wb`` block's share of the decision: raw tf-idf, l1-normalised, weighted.

        Its n-grams never cross a word, so the share is (sum over words of idf x coefficient)
        over (sum over words of idf), both kept per word."""
        sums_of_word = self._char_sums_of_word
        by_reason: dict[str, float] = {}
        numerator = denominator = 0.0
        for word in normalised.split():
            sums = sums_of_word.get(word)
            if sums is None:
                if len(sums_of_word) >= MAX_REMEMBERED_WORDS:
                    sums_of_word.clear()
                sums = sums_of_word[word] = self._char_sums(word)
            weighted, idf, reason = sums
            if idf:
                numerator += weighted
                denominator += idf
                by_reason[reason] = by_reason.get(reason, 0.0) + weighted
        if not denominator:
            return 0.0
        for reason, weighted in by_reason.items():
            contributions[reason] = contributions.get(reason, 0.0) + weighted / denominator
        return numerator / denominator

    def _char_sums(self, word: str) -> tuple[float, float, str]:
        """The word's sums of weighted idf x coefficient and of idf over its known ``char_wb``
        n-grams (repeats counted, scikit-learn's rule), and the name its share goes under."""
        low, high = self._char_n
        weights = self._char.weights
        padded = f" {word} "
        length = len(padded)
        weighted = idf = 0.0
        for n in range(low, high + 1):
            # scikit-learn counts a word shorter than n once, whole, and then stops.
            for start in range(max(length - n + 1, 1)):
                known = weights.get(padded[start : start + n])
                if known is not None:
                    idf += known[0]
                    weighted += known[1]
            if length <= n:
                break
        return weighted * self._char_weight, idf, word.strip(_EDGE_PUNCTUATION) or word


def _require_norms(section: Mapping[str, Any], norm: str, *, sublinear_tf: bool) -> None:
    """The scorer computes each block one way only; a model built otherwise is refused."""
    if section.get("norm") != norm or bool(section["sublinear_tf"]) != sublinear_tf:
        raise ValueError(
            f"unsupported block: norm {section.get('norm')!r}, sublinear_tf "
            f"{section['sublinear_tf']} (this scorer needs {norm!r}, {sublinear_tf})"
        )


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
