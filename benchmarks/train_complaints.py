"""Train the complaint model and write it as the package's data file.

Usage: python benchmarks/train_complaints.py [--data CSV] [--out JSON] [--check]

Reads the dev half of the complaints data set (Preoţiuc-Pietro, Găman and Aletras, ACL 2019;
``../shared/data/real/complaints/complaints_dev.csv`` by default), tunes C and the decision
threshold by 5-fold cross-validation inside it (stratified by label x domain, seed 0), fits the
model on all of it and writes ``auditor/analysis/models/complaints.json``: n-grams, idf,
coefficients, intercept, threshold, analyzer settings, no tweet text. The same data gives the
same bytes (``--check`` trains twice and compares, then exits 1 if the two differ or differ
from the file in the package). ``benchmarks/complaints_cv.py`` runs this very procedure inside
each of its outer folds; the scorer that runs in the auditor is
``auditor.analysis.complaint_model``, which needs no scikit-learn.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from auditor.analysis.classify import Classifier, normalise, tokenise
from auditor.analysis.complaint_model import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    SIGNAL_NAMES,
    WORD_TOKENS,
    character_words,
    model_tokens,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "real" / "complaints" / "complaints_dev.csv"
MODEL_PATH = REPO / "auditor" / "analysis" / "models" / "complaints.json"
MODEL_VERSION = "2019-acl-dev-2"
CITATION = (
    "Daniel Preoţiuc-Pietro, Mihaela Găman and Nikolaos Aletras. Automatically Identifying "
    "Complaints in Social Media. ACL 2019. Weights derived from the dev half of its data set."
)
SEED = 0
INNER_FOLDS = 5
C_GRID = (1.0, 3.0, 10.0)
# The precision the decision threshold must keep (issue #13's floor), chosen inside training.
PRECISION_FLOOR = 0.78
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
# n-grams seen in fewer tweets than this are dropped: they cannot generalise, and they would
# make the file large and could spell out a single tweet's words.
WORD_MIN_DF = 2
CHAR_MIN_DF = 3


@dataclass(frozen=True)
class Example:
    text: str  # normalised as the auditor normalises at run time
    complaint: int
    domain: str


def load_examples(path: Path) -> list[Example]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Example(normalise(row["text"]), int(row["complaint"]), row["domain"])
            for row in csv.DictReader(handle)
        ]


def strata(examples: Sequence[Example]) -> list[str]:
    return [f"{example.complaint}:{example.domain}" for example in examples]


def word_tokens(text: str) -> list[str]:
    """The word block's tokens, as the scorer takes them at run time."""
    return model_tokens(tokenise(text))


class WordCharGrams(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Each distinct word's ``char_wb`` tf-idf vector (l2-normalised, idf from the training
    texts), summed over a text's distinct words and divided by the square root of their number;
    words as ``complaint_model.character_words`` gives them (digits written 0).

    ``complaint_model.ComplaintModel`` scores this block one word at a time."""

    def __init__(self, ngram_range: tuple[int, int] = CHAR_NGRAMS, min_df: int = CHAR_MIN_DF):
        self.ngram_range = ngram_range
        self.min_df = min_df

    def fit(self, texts: Sequence[str], y: Any = None) -> WordCharGrams:
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            lowercase=False,
            min_df=self.min_df,
            sublinear_tf=True,
        ).fit([" ".join(character_words(text)) for text in texts])
        return self

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        column_of: dict[str, int] = {}
        rows: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        for row, text in enumerate(texts):
            words = dict.fromkeys(character_words(text))
            for word in words:
                rows.append(row)
                columns.append(column_of.setdefault(word, len(column_of)))
                values.append(1.0 / np.sqrt(len(words)))
        shape = (len(texts), len(column_of))
        texts_by_word = csr_matrix((values, (rows, columns)), shape=shape)
        word_vectors = self.vectorizer_.transform(list(column_of))
        return (texts_by_word @ word_vectors).tocsr()


class Signals(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """The rules' signals (``complaint_model.SIGNAL_NAMES``) as computed at run time."""

    def fit(self, texts: Sequence[str], y: Any = None) -> Signals:
        return self

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        classifier = _signal_classifier()
        return csr_matrix(np.array([classifier.complaint_signals(t) for t in texts], dtype=float))


_CLASSIFIER: list[Classifier] = []


def _signal_classifier() -> Classifier:
    if not _CLASSIFIER:
        _CLASSIFIER.append(Classifier(rules_only=True))
    return _CLASSIFIER[0]


def features() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    tokenizer=word_tokens,
                    token_pattern=None,
                    ngram_range=WORD_NGRAMS,
                    lowercase=False,
                    min_df=WORD_MIN_DF,
                    binary=True,
                ),
            ),
            ("word_chars", WordCharGrams()),
            ("signals", Signals()),
        ]
    )


def classifier(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000)


def best_threshold(y: Sequence[int], probabilities: Sequence[float]) -> float:
    """The probability threshold with the best F1 among those whose precision on these
    (out-of-fold) predictions is at least ``PRECISION_FLOOR``; the best F1 overall if none is.

    A false finding costs a brand's trust in every other finding: the floor trades recall for
    precision, and at it the model is more precise than the rules and finds half as many
    complaints again (docs/complaints.md)."""
    precision, recall, thresholds = precision_recall_curve(y, probabilities)
    precision, recall = precision[:-1], recall[:-1]
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    precise = precision >= PRECISION_FLOOR
    candidates = np.where(precise, f1, -1.0) if precise.any() else f1
    return float(thresholds[int(np.argmax(candidates))])


@dataclass(frozen=True)
class Tuned:
    c: float
    threshold: float
    inner_f1: float


def tune(texts: Sequence[str], y: np.ndarray, groups: Sequence[str]) -> Tuned:
    """C and threshold by inner cross-validation on these examples only."""
    folds = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=SEED)
    out_of_fold = {c: np.zeros(len(texts)) for c in C_GRID}
    for train, test in folds.split(texts, groups):
        union = features()
        x_train = union.fit_transform([texts[i] for i in train])
        x_test = union.transform([texts[i] for i in test])
        for c in C_GRID:
            model = classifier(c).fit(x_train, y[train])
            out_of_fold[c][test] = model.predict_proba(x_test)[:, 1]
    best: Tuned | None = None
    for c in C_GRID:
        threshold = best_threshold(y, out_of_fold[c])
        predicted = out_of_fold[c] >= threshold
        f1 = _f1(y, predicted)
        if best is None or f1 > best.inner_f1:
            best = Tuned(c, threshold, f1)
    assert best is not None
    return best


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    true_positives = float(np.sum(predicted & (y == 1)))
    return 2 * true_positives / max(float(np.sum(predicted) + np.sum(y == 1)), 1.0)


def fit(texts: Sequence[str], y: np.ndarray, c: float) -> Pipeline:
    return Pipeline([("features", features()), ("model", classifier(c))]).fit(list(texts), y)


def train(examples: Sequence[Example]) -> tuple[Pipeline, Tuned]:
    """Tune inside ``examples``, then fit on all of them."""
    texts = [example.text for example in examples]
    y = np.array([example.complaint for example in examples])
    tuned = tune(texts, y, strata(examples))
    return fit(texts, y, tuned.c), tuned


def export(pipeline: Pipeline, threshold: float, *, c: float, trained_on: str) -> dict[str, Any]:
    """The JSON document ``auditor.analysis.complaint_model.ComplaintModel`` loads."""
    union: FeatureUnion = pipeline.named_steps["features"]
    model: LogisticRegression = pipeline.named_steps["model"]
    coefficients = [float(v) for v in model.coef_[0]]
    word: TfidfVectorizer = union.named_transformers["word"]
    char: TfidfVectorizer = union.named_transformers["word_chars"].vectorizer_
    word_size, char_size = len(word.vocabulary_), len(char.vocabulary_)
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "version": MODEL_VERSION,
        "citation": CITATION,
        "trained_on": trained_on,
        "trained_with": f"scikit-learn {sklearn.__version__}",
        "C": c,
        "threshold": threshold,
        "intercept": float(model.intercept_[0]),
        "word": {"tokens": WORD_TOKENS, "binary": True, **_block(word, coefficients[:word_size])},
        "word_chars": _block(char, coefficients[word_size : word_size + char_size]),
        "signals": {
            "names": list(SIGNAL_NAMES),
            "coefficients": coefficients[word_size + char_size :],
        },
    }


def _block(vectorizer: TfidfVectorizer, coefficients: Sequence[float]) -> dict[str, Any]:
    by_index = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
    block: dict[str, Any] = {
        "ngram_range": list(vectorizer.ngram_range),
        "sublinear_tf": vectorizer.sublinear_tf,
    }
    block["features"] = {
        gram: [float(vectorizer.idf_[index]), coefficients[index]] for gram, index in by_index
    }
    return block


def dump(document: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys, one feature per line so that a retrain diffs readably."""
    return (json.dumps(document, sort_keys=True, ensure_ascii=False, indent=0) + "\n").encode()


def build(data: Path) -> tuple[bytes, Tuned]:
    examples = load_examples(data)
    pipeline, tuned = train(examples)
    complaints = sum(example.complaint for example in examples)
    trained_on = f"{data.name}: {len(examples)} tweets, {complaints} complaints"
    return dump(export(pipeline, tuned.threshold, c=tuned.c, trained_on=trained_on)), tuned


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument(
        "--check", action="store_true", help="train twice; exit 1 unless same bytes as --out"
    )
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    document, tuned = build(args.data)
    print(f"C {tuned.c}, threshold {tuned.threshold:.4f} (inner CV F1 {tuned.inner_f1:.3f})")
    if args.check:
        again, _ = build(args.data)
        same_twice = again == document
        same_as_file = args.out.is_file() and args.out.read_bytes() == document
        print(f"same bytes twice: {same_twice}; same as {args.out}: {same_as_file}")
        return 0 if same_twice and same_as_file else 1
    args.out.write_bytes(document)
    print(f"wrote {args.out} ({len(document):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
