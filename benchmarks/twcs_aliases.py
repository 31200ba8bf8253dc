"""Which anonymised ids of a twcs file are a brand's other handles (its aliases), and why.

In twcs every author but the support accounts is an anonymised number, the brands' main
accounts included (``@TMobile`` is ``@115911``): customers write to such a number and the
support account (``TMobileHelp``) answers them. An id X is established as an alias of brand B
when, counting the threads in which a customer's tweet (not X's own) mentions ``@X`` and some
brand posts:

* at least ``--min-threads`` (5) of those threads are B's, from as many different customers;
* in every one of B's, B replied directly to a tweet mentioning ``@X``;
* at least ``--min-share`` (85%) of all those threads are B's: X is not a handle shared by
  several brands, nor one customers mention to any brand (a courier, a carrier, a celebrity).

What the rule cannot tell is whether X is the brand's or a person's (a CEO whom customers
address by name): ``--not`` leaves such ids out, and docs/twcs-real-data.md says which and why.

    python benchmarks/twcs_aliases.py [twcs.csv] [--not 115913]

Prints one line per alias (the evidence), then the YAML ``aliases`` lines by brand.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

from pandas_first_response import add_threads, read_tweets

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "twcs"
MENTION = re.compile(r"@(\d+)(?![A-Za-z0-9_])")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", default=REAL / "twcs_first5001.csv")
    parser.add_argument("--min-threads", type=int, default=5)
    parser.add_argument("--min-share", type=float, default=0.85)
    parser.add_argument("--not", dest="left_out", nargs="*", default=[], metavar="ID")
    args = parser.parse_args()
    tweets = read_tweets(args.path)
    add_threads(tweets)
    brand_rows = tweets[~tweets["inbound"]]
    brands_of_root = brand_rows.groupby("root_row")["author"].agg(set).to_dict()
    replied_by: dict[int, set[str]] = defaultdict(set)
    for parent, brand in zip(brand_rows["parent_row"], brand_rows["author"], strict=True):
        if parent >= 0:
            replied_by[int(parent)].add(str(brand))
    # id -> brand -> [threads, customers, threads where the brand replied to such a tweet]
    seen: dict[str, dict[str, tuple[set[int], set[str], set[int]]]] = defaultdict(dict)
    for row, (author, text, root, inbound) in enumerate(
        zip(tweets["author"], tweets["text"], tweets["root_row"], tweets["inbound"], strict=True)
    ):
        if not inbound:
            continue
        for named in set(MENTION.findall(text)) - {author}:
            for brand in brands_of_root.get(int(root), ()):
                threads, customers, answered = seen[named].setdefault(brand, (set(), set(), set()))
                threads.add(int(root))
                customers.add(str(author))
                if brand in replied_by.get(row, ()):
                    answered.add(int(root))
    aliases: dict[str, list[str]] = defaultdict(list)
    for named, by_brand in sorted(seen.items()):
        brand, (threads, customers, answered) = max(by_brand.items(), key=lambda b: len(b[1][0]))
        everywhere = sum(len(t) for t, _, _ in by_brand.values())
        share = len(threads) / everywhere
        if (
            min(len(threads), len(customers)) < args.min_threads
            or answered != threads
            or share < args.min_share
        ):
            continue
        others = {b: len(t) for b, (t, _, _) in by_brand.items() if b != brand}
        left_out = " (left out: --not)" if named in args.left_out else ""
        print(
            f"{named}: {brand} answered in all {len(threads)} of its threads naming it "
            f"({len(customers)} customers, {share:.0%} of such threads; others: {others or '-'})"
            + left_out
        )
        if not left_out:
            aliases[brand].append(named)
    print()
    for brand in sorted(aliases, key=str.casefold):
        names = ", ".join(f'"{a}"' for a in aliases[brand])
        print(f"{brand}: aliases: [{names}]")


if __name__ == "__main__":
    main()
