"""Cross-validated complaint figures of the model, beside two baselines (issue #13's protocol).

Usage: python benchmarks/complaints_cv.py [--data CSV] [--folds N]

10-fold cross-validation on the dev half of the complaints data set (Preoţiuc-Pietro, Găman and
Aletras, ACL 2019), stratified by label x domain, seed 0. In each outer fold the whole training
procedure of ``benchmarks/train_complaints.py`` runs on the training folds alone (C and the
decision threshold chosen by an inner 5-fold CV), and the fold held out is scored once. Texts go
through ``classify.normalise`` first, as at run time. Prints F1, precision, recall and PR-AUC
over all domains and over the brand domains alone (every domain but random_tweet and
random_reply), the confusion table, the figures per domain, and the baselines: "everything is a
complaint" and the rules-only classifier (``Classifier(rules_only=True)``, the classifier as it
was before the model, run on the raw texts in-process). Takes about ten minutes on two cores.
"""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_complaints as training

from auditor.analysis.classify import Classifier

RANDOM_DOMAINS = frozenset({"random_tweet", "random_reply"})


def _raw_texts(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def cross_validated(
    examples: Sequence[training.Example], folds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities and decisions, every choice made inside the training folds."""
    texts = [example.text for example in examples]
    probabilities = np.zeros(len(examples))
    decisions = np.zeros(len(examples), dtype=bool)
    outer = StratifiedKFold(folds, shuffle=True, random_state=training.SEED)
    for number, (train, test) in enumerate(outer.split(texts, training.strata(examples)), 1):
        pipeline, tuned = training.train([examples[i] for i in train])
        scored = pipeline.predict_proba([texts[i] for i in test])[:, 1]
        probabilities[test] = scored
        decisions[test] = scored >= tuned.threshold
        print(
            f"  fold {number}: C {tuned.c:g}, threshold {tuned.threshold:.3f}",
            file=sys.stderr,
            flush=True,
        )
    return probabilities, decisions


def _figures(y: np.ndarray, predicted: np.ndarray) -> tuple[int, int, int, int]:
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    tn = int(np.sum(~predicted & (y == 0)))
    return tp, fp, fn, tn


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.3f}" if denominator else "  -  "


def summary_line(name: str, y: np.ndarray, predicted: np.ndarray, scores: np.ndarray | None) -> str:
    tp, fp, fn, _ = _figures(y, predicted)
    pr_auc = (
        f"{average_precision_score(y, scores):.3f}" if scores is not None and y.any() else "  -  "
    )
    return (
        f"{name:<34} F1 {_ratio(2 * tp, 2 * tp + fp + fn)}  precision {_ratio(tp, tp + fp)}  "
        f"recall {_ratio(tp, tp + fn)}  PR-AUC {pr_auc}"
    )


def report(
    examples: Sequence[training.Example],
    probabilities: np.ndarray,
    decisions: np.ndarray,
    rules: np.ndarray,
) -> None:
    y = np.array([example.complaint for example in examples])
    domains = np.array([example.domain for example in examples])
    brand = ~np.isin(domains, sorted(RANDOM_DOMAINS))
    everything = np.ones(len(y), dtype=bool)
    for scope, mask in (("all domains", np.ones(len(y), dtype=bool)), ("brand domains", brand)):
        print(f"\n{scope} ({int(mask.sum())} tweets, {int(y[mask].sum())} complaints)")
        print(summary_line("model (10-fold CV)", y[mask], decisions[mask], probabilities[mask]))
        print(summary_line("baseline: everything a complaint", y[mask], everything[mask], None))
        print(summary_line("baseline: rules only (before #13)", y[mask], rules[mask], None))
    tp, fp, fn, tn = _figures(y, decisions)
    print("\nconfusion (all domains)      predicted complaint  predicted not")
    print(f"  complaint                   {tp:>19}  {fn:>13}")
    print(f"  not a complaint             {fp:>19}  {tn:>13}")
    print("\nper domain        tweets  complaints  predicted  precision  recall     F1  rules F1")
    for domain in sorted(set(domains)):
        mask = domains == domain
        tp, fp, fn, _ = _figures(y[mask], decisions[mask])
        rtp, rfp, rfn, _ = _figures(y[mask], rules[mask])
        print(
            f"  {domain:<15} {int(mask.sum()):>6}  {int(y[mask].sum()):>10}  "
            f"{int(decisions[mask].sum()):>9}  {_ratio(tp, tp + fp):>9}  {_ratio(tp, tp + fn):>6}  "
            f"{_ratio(2 * tp, 2 * tp + fp + fn):>5}  {_ratio(2 * rtp, 2 * rtp + rfp + rfn):>8}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=training.DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=10)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    # Some label x domain strata hold fewer tweets than folds; scikit-learn warns each time.
    warnings.filterwarnings("ignore", message="The least populated class")
    examples = training.load_examples(args.data)
    rules = np.array(
        [
            result.label == "complaint"
            for result in Classifier(rules_only=True).classify_many(_raw_texts(args.data))
        ]
    )
    probabilities, decisions = cross_validated(examples, args.folds)
    print(f"{args.data.name}: {len(examples)} tweets; {args.folds}-fold CV, seed {training.SEED}")
    report(examples, probabilities, decisions, rules)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
