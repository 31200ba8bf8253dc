"""The complaint model's scorer: is this English customer post a complaint, how sure, and why.

The model is a logistic regression over three blocks of features of the normalised text,
trained by ``benchmarks/train_complaints.py`` on the complaints data set of Preoţiuc-Pietro,
Găman and Aletras (ACL 2019) and shipped as ``models/complaints.json`` (n-grams with their idf
and coefficients, intercept, threshold, analyzer settings; no tweet text):

- ``word``: tf-idf of word 1-2-grams, l2-normalised, sublinear term frequencies, as
  scikit-learn's ``TfidfVectorizer`` computes them;
- ``word_chars``: each distinct word's own ``char_wb`` 2-5-gram tf-idf vector, l2-normalised,
  summed over the text's distinct words and divided by the square root of their number. A
  word's share of the decision depends on the word alone, so it is computed once per word
  and remembered: scoring a text costs a dictionary lookup per word, where character n-grams
  of the whole text cost hundreds (the block measured as well as whole-text character
  n-grams in cross-validation: docs/complaints.md);
- the signals the rules already compute (a lexicon complaint sign, a problem term, a praise
  phrase, a question mark, VADER's scores).

This module rebuilds those features in plain Python (scikit-learn is needed only to train; a
test holds this scorer to scikit-learn's ``predict_proba`` to 1e-9).

Reasons: each feature's contribution to the decision (its value times its coefficient) is
summed per readable key: a word n-gram is its own key ("why is", "?"); a word's character
n-grams count towards the word ("broken"), since "rok" means nothing to a reader; a signal is
named for what it is ("complaint phrase", "negative sentiment"). They are worked out only when
asked for: a run asks for them only for the posts its checks judged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib.resources import files
from itertools import pairwise
from typing import Any, overload

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
# The word block's tokens: ``classify.tokenise``'s, less one-character tokens other than "?"
# (as scikit-learn's default pattern drops "a" and "i"; the question mark is a complaint cue).
WORD_TOKENS = "classify.tokenise, 2+ characters or ?"
# The per-word memory is dropped when it grows past this many words.
MAX_REMEMBERED_WORDS = 200_000
_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
# A word with nothing but punctuation keeps its punctuation as its name ("??", ":(").
_EDGE_PUNCTUATION = "\"'.,;:!()[]{}*-_"


class ComplaintScore:
    """The model's decision on one text; its reasons are worked out on first use."""

    __slots__ = (
        "_model", "_reasons", "_signals", "_text", "_tokens", "is_complaint", "probability",
    )  # fmt: skip

    def __init__(
        self,
        model: ComplaintModel,
        text: str,
        tokens: Sequence[str],
        signals: Sequence[float],
        decision: float,
    ) -> None:
        self.probability = _sigmoid(decision)  # the probability that the post is a complaint
        self.is_complaint = self.probability >= model.threshold
        self._model = model
        self._text = text
        self._tokens = tokens
        self._signals = signals
        self._reasons: tuple[str, ...] | None = None

    @property
    def confidence(self) -> float:
        """The model's probability for the decision taken: p for a complaint, 1 - p otherwise."""
        return self.probability if self.is_complaint else 1.0 - self.probability

    @property
    def reasons(self) -> Reasons:
        """Why the decision went the way it did, strongest first (at most ``MAX_REASONS``)."""
        return Reasons(self)

    @property
    def towards(self) -> tuple[str, ...]:
        """What pushed most towards "complaint", strongest first."""
        ranked = self._model.contributions(self._text, self._tokens, self._signals)
        return tuple(key for key, part in ranked[:MAX_REASONS] if part > 0.0)

    @property
    def away(self) -> tuple[str, ...]:
        """What pushed most away from "complaint", strongest first."""
        ranked = self._model.contributions(self._text, self._tokens, self._signals)
        return tuple(key for key, part in reversed(ranked[-MAX_REASONS:]) if part < 0.0)

    def _reason_tuple(self) -> tuple[str, ...]:
        if self._reasons is None:
            self._reasons = self.towards if self.is_complaint else self.away
        return self._reasons


class Reasons(Sequence[str]):
    """A score's reasons as a read-only sequence of strings, computed when first read."""

    __slots__ = ("_score",)

    def __init__(self, score: ComplaintScore) -> None:
        self._score = score

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._score._reason_tuple()[index]

    def __len__(self) -> int:
        return len(self._score._reason_tuple())

    def __iter__(self) -> Iterator[str]:
        return iter(self._score._reason_tuple())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._score._reason_tuple() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._score._reason_tuple())

    def __repr__(self) -> str:
        return repr(self._score._reason_tuple())


class ComplaintModel:
    """A trained complaint model, loaded from its JSON document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if document.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a complaint model: format {document.get('format')!r}")
        if document.get("format_version") != MODEL_FORMAT_VERSION:
            raise ValueError(f"unsupported model format_version {document.get('format_version')}")
        word, chars = document["word"], document["word_chars"]
        self.version: str = str(document["version"])
        self.threshold: float = float(document["threshold"])
        self.intercept: float = float(document["intercept"])
        if (word.get("tokens"), word.get("ngram_range"), word.get("binary")) != (
            WORD_TOKENS,
            [1, 2],
            True,
        ):
            raise ValueError("the word block must be binary 1-2-grams of classify's tokens")
        self._unigrams: dict[str, tuple[float, float]] = {}
        self._bigrams: dict[tuple[str, ...], tuple[float, float]] = {}
        for gram, (idf, coefficient) in word["features"].items():
            parts = tuple(gram.split(" "))
            weights = (float(idf) ** 2, float(idf) * float(coefficient))
            if len(parts) == 1:
                self._unigrams[gram] = weights
            else:
                self._bigrams[parts] = weights
        self._char_n = _ngram_range(chars["ngram_range"])
        self._char_sublinear = bool(chars["sublinear_tf"])
        self._char_weights = _weights(chars["features"])
        signals = document["signals"]
        if tuple(signals["names"]) != SIGNAL_NAMES:
            raise ValueError(f"model signals {signals['names']} are not {list(SIGNAL_NAMES)}")
        self._signal_coefficients: tuple[float, ...] = tuple(map(float, signals["coefficients"]))
        self._word_share: dict[str, float] = {}

    @classmethod
    def from_json(cls, text: str | bytes) -> ComplaintModel:
        return cls(json.loads(text))

    def __len__(self) -> int:
        """How many n-grams the model knows."""
        return len(self._unigrams) + len(self._bigrams) + len(self._char_weights)

    def score(
        self, normalised: str, tokens: Sequence[str], signals: Sequence[float]
    ) -> ComplaintScore:
        """Score a normalised text (``classify.normalise``), given its tokens
        (``classify.tokenise``) and its signals (``SIGNAL_NAMES``)."""
        if len(signals) != len(SIGNAL_NAMES):
            raise ValueError(f"expected {len(SIGNAL_NAMES)} signals, got {len(signals)}")
        decision = self.intercept
        squares = raw = 0.0
        for squared_idf, idf_coefficient in self._known_word_grams(model_tokens(tokens)).values():
            squares += squared_idf
            raw += idf_coefficient
        if squares:
            decision += raw / math.sqrt(squares)
        words = set(character_words(normalised))
        if words:
            decision += sum(map(self._share, words)) / math.sqrt(len(words))
        for value, coefficient in zip(signals, self._signal_coefficients, strict=True):
            decision += value * coefficient
        return ComplaintScore(self, normalised, tokens, signals, decision)

    def contributions(
        self, normalised: str, tokens: Sequence[str], signals: Sequence[float]
    ) -> list[tuple[str, float]]:
        """Each readable key's share of the decision, largest first (ties by key)."""
        parts: dict[str, float] = {}
        known = self._known_word_grams(model_tokens(tokens))
        if known:
            norm = math.sqrt(sum(weights[0] for weights in known.values()))
            for gram, weights in known.items():
                parts[" ".join(gram)] = weights[1] / norm
        folded_words = character_words(normalised)
        scale = 1.0 / math.sqrt(len(set(folded_words))) if folded_words else 0.0
        seen: set[str] = set()
        # Each distinct folded word once, named by the first word of the text it stands for.
        for folded, word in zip(folded_words, normalised.split(), strict=True):
            if folded in seen:
                continue
            seen.add(folded)
            share = self._share(folded)
            if share:
                key = word.strip(_EDGE_PUNCTUATION) or word
                parts[key] = parts.get(key, 0.0) + share * scale
        for name, value, coefficient in zip(
            SIGNAL_NAMES, signals, self._signal_coefficients, strict=True
        ):
            if value:
                key = f"sentiment {value:+.2f}" if name == "sentiment" else name
                parts[key] = parts.get(key, 0.0) + value * coefficient
        return sorted(parts.items(), key=lambda item: (-item[1], item[0]))

    def _known_word_grams(
        self, tokens: Sequence[str]
    ) -> dict[tuple[str, ...], tuple[float, float]]:
        """The text's distinct word 1- and 2-grams the model knows -> (idf², idf x coefficient).

        Presence, not counts (the block is trained with ``binary=True``), so each distinct
        n-gram weighs its idf."""
        known: dict[tuple[str, ...], tuple[float, float]] = {}
        unigrams, bigrams = self._unigrams, self._bigrams
        for token in tokens:
            weights = unigrams.get(token)
            if weights is not None:
                known[(token,)] = weights
        for pair in pairwise(tokens):
            weights = bigrams.get(pair)
            if weights is not None:
                known[pair] = weights
        return known

    def _share(self, word: str) -> float:
        """The word's share of the decision before the division by sqrt(distinct words)."""
        share = self._word_share.get(word)
        if share is None:
            if len(self._word_share) >= MAX_REMEMBERED_WORDS:
                self._word_share.clear()
            share = self._word_share[word] = self._char_share(word)
        return share

    def _char_share(self, word: str) -> float:
        """The word's ``char_wb`` tf-idf vector, l2-normalised, times the coefficients.

        Every new word of every post comes here once (order numbers, names), so the common
        case, each known n-gram once, takes sums without counting."""
        weights = self._char_weights
        known = [weights[gram] for gram in self._char_grams(word) if gram in weights]
        if not known:
            return 0.0
        if len(known) > len({id(entry) for entry in known}):
            return self._repeated_char_share(word)
        squares = raw = 0.0
        for squared_idf, idf_coefficient in known:
            squares += squared_idf
            raw += idf_coefficient
        return raw / math.sqrt(squares)

    def _repeated_char_share(self, word: str) -> float:
        """As ``_char_share``, for a word with an n-gram more than once ("aaaa", "hahaha")."""
        counts: dict[str, int] = {}
        for gram in self._char_grams(word):
            if gram in self._char_weights:
                counts[gram] = counts.get(gram, 0) + 1
        squares = raw = 0.0
        for gram, count in counts.items():
            squared_idf, idf_coefficient = self._char_weights[gram]
            tf = _tf(count, self._char_sublinear)
            squares += tf * tf * squared_idf
            raw += tf * idf_coefficient
        return raw / math.sqrt(squares)

    def _char_grams(self, word: str) -> list[str]:
        """The word's ``char_wb`` n-grams, repeats kept (scikit-learn's rule)."""
        low, high = self._char_n
        padded = f" {word} "
        length = len(padded)
        grams: list[str] = []
        for n in range(low, high + 1):
            if length <= n:
                # scikit-learn counts a word shorter than n once, whole, and then stops.
                grams.append(padded)
                break
            grams += [padded[start : start + n] for start in range(length - n + 1)]
        return grams


def character_words(normalised: str) -> list[str]:
    """The words whose character n-grams the model reads: the text's words with every ASCII
    digit written 0. Which digits an order number or a price holds says nothing of a
    complaint, and folded, "#8161736" and "#5503921" are one word the scorer works out once."""
    return normalised.translate(_DIGITS_AS_ZERO).split()


def model_tokens(tokens: Sequence[str]) -> list[str]:
    """The word block's tokens (``WORD_TOKENS``) of a text's ``classify.tokenise`` tokens."""
    return [token for token in tokens if len(token) > 1 or token == "?"]


def _tf(count: int, sublinear: bool) -> float:
    if count == 1:
        return 1.0
    return 1.0 + math.log(count) if sublinear else float(count)


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


def _weights(features: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """n-gram -> (idf², idf x coefficient)."""
    return {
        gram: (float(idf) ** 2, float(idf) * float(coef)) for gram, (idf, coef) in features.items()
    }


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
    "Reasons",
    "built_in_model",
    "character_words",
    "model_tokens",
]
