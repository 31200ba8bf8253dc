"""Per-brand first response times of a twcs file, the way an analyst would compute them: pandas.

The peer of the auditor's RSP002 in ``benchmarks/bench_twcs_pandas.py``. Same definition
(``docs/sla.md``, ``auditor/analysis/threads.py``), vectorised:

* threads are rebuilt from the reply links: a tweet's thread is its topmost ancestor in the file;
* a thread belongs to every brand (``inbound`` false) that posts in it and is judged under each;
  under brand B, B's tweets are the brand's and every other author a customer, except the other
  brands, whose tweets are left out (a brand is never another brand's customer);
* per (brand, thread, customer): a customer tweet is addressed to the brand when it replies to a
  brand tweet, mentions ``@brand``, or sits in a thread the customer started that mentions the
  brand (its root's text) or that the brand answered; the brand answers the customer with a
  brand tweet replying to one of the customer's tweets in that thread;
* the clock starts at the customer's first addressed tweet and stops at the first answer after
  it; only answered clocks count (an answer is always inside the brand's window here, whose end
  is the brand's last tweet), and the median is over their wall-clock minutes.

Rows the C parser cannot split into the columns (an unquoted, spreadsheet-mangled reply list),
rows whose id, date or ``inbound`` cannot be read, and repeated tweet ids after the first are
dropped, and counted on stderr.

    python benchmarks/pandas_first_response.py twcs.csv [--out result.json]

Prints (or writes) ``{"brands": {brand: {"count": n, "median": minutes}}, "rows": n}``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no stubs in the bench extra

COLUMNS = ("tweet_id", "author_id", "inbound", "created_at", "text", "in_response_to_tweet_id")
DATE_FORMAT = "%a %b %d %H:%M:%S %z %Y"
INBOUND = {"true": True, "false": False, "1": True, "0": False}
KEY = ["brand", "root", "customer"]


def read_tweets(path: Path) -> pd.DataFrame:
    """The tweets of a twcs file, one row each in file order, with clean types.

    Lines end at ``\\n`` only, so that a bare carriage return stays inside its (unquoted) text.
    """
    raw = pd.read_csv(
        path,
        encoding="utf-8-sig",
        lineterminator="\n",
        dtype=str,
        keep_default_na=False,
        on_bad_lines="skip",
        usecols=lambda name: name.strip() in COLUMNS,
    )
    raw.columns = [name.strip() for name in raw.columns]
    tweets = pd.DataFrame(
        {
            "tweet_id": pd.to_numeric(raw["tweet_id"].str.strip(), errors="coerce"),
            "author": raw["author_id"].str.strip().str.lstrip("@"),
            "inbound": raw["inbound"].str.strip().str.lower().map(INBOUND),
            "created": pd.to_datetime(
                raw["created_at"].str.strip(), format=DATE_FORMAT, errors="coerce", utc=True
            ),
            "text": raw["text"],
            "parent": pd.to_numeric(raw["in_response_to_tweet_id"].str.strip(), errors="coerce"),
        }
    )
    readable = tweets.dropna(subset=["tweet_id", "inbound", "created"])
    readable = readable[readable["author"] != ""]
    unique = readable.drop_duplicates("tweet_id", keep="first").reset_index(drop=True)
    dropped = len(raw) - len(unique)
    if dropped:
        print(f"{path.name}: {dropped} rows dropped (unreadable or repeated)", file=sys.stderr)
    unique["tweet_id"] = unique["tweet_id"].astype("int64")
    unique["inbound"] = unique["inbound"].astype(bool)
    # Whole seconds since the epoch: the dataset has no finer times.
    unique["seconds"] = (unique["created"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return unique


def add_threads(tweets: pd.DataFrame) -> None:
    """``parent_row`` (-1 when the parent is not in the file) and ``root_row`` of each tweet."""
    ids = pd.Index(tweets["tweet_id"])
    parent_row = ids.get_indexer(tweets["parent"].fillna(-1).astype("int64"))
    tweets["parent_row"] = parent_row
    rows = np.arange(len(tweets))
    root = np.where(parent_row >= 0, parent_row, rows)
    # Pointer jumping: each pass doubles how far up the chain every tweet sees. A cycle of
    # replies (only a corrupt file has one) never settles; 64 passes end it anyway.
    for _ in range(64):
        higher = root[root]
        if np.array_equal(higher, root):
            break
        root = higher
    tweets["root_row"] = root


def account_tweets(tweets: pd.DataFrame) -> pd.DataFrame:
    """Every tweet under every brand that posts in its thread (a customer's tweet can appear
    twice), but for other brands' tweets."""
    brand_tweets = tweets.loc[~tweets["inbound"], ["root_row", "author"]]
    owners = brand_tweets.drop_duplicates().rename(columns={"author": "brand"})
    rows = tweets.merge(owners, on="root_row", how="inner")
    return rows[rows["inbound"] | (rows["author"] == rows["brand"])]


def mentions_brand(texts: pd.Series, brands: pd.Series) -> pd.Series:
    """Whether each text mentions its row's brand (``@Acme``, not ``@AcmeHelp``)."""
    found = pd.Series(False, index=texts.index)
    has_at = texts.str.contains("@", regex=False)
    for brand, rows in texts[has_at].groupby(brands[has_at]):
        pattern = rf"@{re.escape(str(brand))}(?![A-Za-z0-9_])"
        found.loc[rows.index] = rows.str.contains(pattern, flags=re.IGNORECASE, regex=True)
    return found


def per_brand(path: Path) -> dict[str, dict[str, Any]]:
    tweets = read_tweets(path)
    add_threads(tweets)
    author_lower = tweets["author"].str.lower().to_numpy()
    inbound = tweets["inbound"].to_numpy()
    rows = account_tweets(tweets)
    rows["brand_lower"] = rows["brand"].str.lower()
    rows["author_lower"] = rows["author"].str.lower()
    customer = rows["inbound"] & (rows["author_lower"] != rows["brand_lower"])
    parent = rows["parent_row"].to_numpy()
    has_parent = parent >= 0
    parent_inbound = np.where(has_parent, inbound[np.maximum(parent, 0)], True)
    parent_author = np.where(has_parent, author_lower[np.maximum(parent, 0)], "")
    # A reply to another brand's tweet replies to no post of this brand's account.
    parent_is_brand = ~parent_inbound & (parent_author == rows["brand_lower"].to_numpy())

    # Answers: brand tweets replying to a customer's tweet (a customer of this brand).
    reply = ~rows["inbound"] & has_parent & parent_inbound & (parent_author != rows["brand_lower"])
    answers = pd.DataFrame(
        {
            "brand": rows["brand"][reply],
            "root": rows["root_row"][reply],
            "customer": parent_author[reply.to_numpy()],
            "answered": rows["seconds"][reply],
        }
    )

    posts = rows[customer]
    posts = pd.DataFrame(
        {
            "brand": posts["brand"],
            "root": posts["root_row"],
            "customer": posts["author_lower"],
            "seconds": posts["seconds"],
            "replies_to_brand": parent_is_brand[customer.to_numpy()],
            "mentions": mentions_brand(posts["text"], posts["brand"]),
        }
    )
    # The thread counts as addressed for a customer who started it, when the brand answered
    # them there or the first tweet mentions the brand.
    started = posts["customer"].to_numpy() == author_lower[posts["root"].to_numpy()]
    root_mentions = mentions_brand(
        pd.Series(tweets["text"].to_numpy()[posts["root"].to_numpy()], index=posts.index),
        posts["brand"],
    )
    answered_keys = pd.MultiIndex.from_frame(answers[KEY].drop_duplicates())
    was_answered = pd.MultiIndex.from_frame(posts[KEY]).isin(answered_keys)
    thread_addressed = started & (was_answered | root_mentions.to_numpy())
    addressed = posts[thread_addressed | posts["replies_to_brand"] | posts["mentions"]]

    clocks = addressed.groupby(KEY, sort=False)["seconds"].min().rename("started").reset_index()
    timed = clocks.merge(answers, on=KEY)
    timed = timed[timed["answered"] > timed["started"]]
    first = timed.groupby(KEY, sort=False)["answered"].min()
    started = clocks.set_index(KEY)["started"].reindex(first.index)
    minutes = ((first - started) / 60).rename("minutes").reset_index()
    summary = minutes.groupby("brand")["minutes"].agg(["count", "median"])
    return {
        str(brand): {"count": int(row["count"]), "median": round(float(row["median"]), 2)}
        for brand, row in summary.iterrows()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    args = parser.parse_args()
    result = json.dumps({"brands": per_brand(args.path)}, indent=1, sort_keys=True)
    if args.out is None:
        print(result)
    else:
        args.out.write_text(result + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
