"""Time AUT001's template grouping at 100,000 and 1,000,000 brand replies: linear, not pairwise.

The replies mix canned texts (30 stock answers, each with the customer's handle, an order number
and an agent signature, and one word in five of them changed) with replies written for each
customer (random sentences from a 3,000-word vocabulary), in the same proportions at both sizes.
Grouping is ``auditor.analysis.templates.group_templates`` as AUT001 calls it: normalise every
reply, then MinHash/LSH leader clustering over the distinct keys. A linear method takes about ten
times as long for ten times the replies; a pairwise one would take a hundred times.

    python benchmarks/bench_templates.py [--sizes 100000 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import random
import time

import auditor.analysis.templates
from auditor.analysis.templates import DEFAULT_BANDS, LEADERS_PER_BUCKET, group_templates

SIGNATURES = ("^JD", "^MK", "-Anna", "-Sam", "~Priya", "")


def stock_answers(rng: random.Random, vocabulary: list[str]) -> list[str]:
    return [" ".join(rng.choices(vocabulary, k=rng.randint(8, 20))) for _ in range(30)]


def replies(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    vocabulary = [f"{rng.choice('bcdfghklmnprstvw')}{rng.choice('aeiou')}{i}" for i in range(3000)]
    stock = stock_answers(rng, vocabulary)
    out = []
    for index in range(count):
        handle = f"@cust{rng.randrange(count)}"
        if rng.random() < 0.3:
            words = rng.choice(stock).split()
            if rng.random() < 0.2:
                words[rng.randrange(len(words))] = rng.choice(vocabulary)
            text = " ".join(words)
            out.append(f"{handle} {text} order #{rng.randrange(10**6)} {rng.choice(SIGNATURES)}")
        else:
            text = " ".join(rng.choices(vocabulary, k=rng.randint(6, 30)))
            out.append(f"{handle} {text} {index} {rng.choice(SIGNATURES)}")
    return out


class CountingJaccard:
    """Counts exact comparisons: at most bands x leaders per bucket for each distinct key."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = auditor.analysis.templates.jaccard

    def __call__(self, left: frozenset[int], right: frozenset[int]) -> float:
        self.calls += 1
        return self.real(left, right)


def comparisons_per_key(texts: list[str]) -> float:
    counter = CountingJaccard()
    auditor.analysis.templates.jaccard = counter
    try:
        groups = group_templates(texts, min_words=4)
    finally:
        auditor.analysis.templates.jaccard = counter.real
    return counter.calls / len(groups.keys)


def timed(texts: list[str]) -> tuple[float, int]:
    # As in an audit (auditor.engine.audit pauses the cycle collector): otherwise each automatic
    # collection rescans every string built so far, which is what grows faster than linearly.
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        groups = group_templates(texts, min_words=4)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    return elapsed, len(set(groups.group))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        texts = replies(size, args.seed)
        elapsed, groups = timed(texts)
        results.append((size, elapsed))
        print(
            f"{size:>9,} replies: {elapsed:6.2f} s  ({size / elapsed:,.0f} replies/s, "
            f"{groups:,} groups, {comparisons_per_key(texts):.2f} exact comparisons per "
            f"distinct text; at most "
            f"{DEFAULT_BANDS * LEADERS_PER_BUCKET})"
        )
    if len(results) >= 2:
        (small, small_time), (large, large_time) = results[0], results[-1]
        print(
            f"time ratio {large_time / small_time:.1f} for {large / small:.0f}x the replies "
            f"(linear: {large / small:.0f}, pairwise: {(large / small) ** 2:.0f})"
        )


if __name__ == "__main__":
    main()
