"""Per-brand first response times of a twcs file, the way an analyst would compute them: pandas.

The peer of the auditor's RSP002 in ``benchmarks/bench_twcs_pandas.py``. Same definition
(``docs/sla.md``, ``auditor/analysis/threads.py``), vectorised:

* threads are rebuilt from the reply links: a tweet's thread is its topmost ancestor in the file;
* a thread belongs to every brand (``inbound`` false) that posts in it and is judged under each;
  under brand B, B's tweets are the brand's and every other author a customer, except the other
  brands, whose tweets are left out (a brand is never another brand's customer);
* an alias of a brand (``--aliases``: the ``aliases`` of each account of an auditor config; the
  brand's other handles, in twcs anonymised numbers) is no customer: its tweets are left out of
  the counts and answer nobody;
* per (brand, thread, customer), a conversation: it is addressed to the brand when any of the
  customer's tweets in it mentions the brand or an alias (``@brand``, a profile URL), replies to
  a tweet of the brand or an alias, or is replied to by the brand; then all of the customer's
  tweets in it are addressed. The brand answers the customer with a brand tweet replying to one
  of the customer's tweets in that thread;
* the clock starts at the customer's earliest tweet in an addressed conversation and stops at
  the first answer strictly after it; only answered clocks count (an answer is always inside
  the brand's window here, which holds every tweet of the brand's threads), and the median is
  over their wall-clock minutes.

Rows the C parser cannot split into the columns (an unquoted, spreadsheet-mangled reply list),
rows whose id, date or ``inbound`` cannot be read, and repeated tweet ids after the first are
dropped, and counted on stderr.

    python benchmarks/pandas_first_response.py twcs.csv [--aliases config.yaml] [--out result.json]

Prints (or writes) ``{"brands": {brand: {"count": n, "median": minutes}}, "rows": n}``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no stubs in the bench extra
import yaml

COLUMNS = ("tweet_id", "author_id", "inbound", "created_at", "text", "in_response_to_tweet_id")
DATE_FORMAT = "%a %b %d %H:%M:%S %z %Y"
INBOUND = {"true": True, "false": False, "1": True, "0": False}
KEY = ["brand", "root", "customer"]
Aliases = Mapping[str, frozenset[str]]


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
    # ``row``: the tweet's position in ``tweets`` (the merge renumbers the index).
    rows = tweets.assign(row=np.arange(len(tweets))).merge(owners, on="root_row", how="inner")
    return rows[rows["inbound"] | (rows["author"] == rows["brand"])]


# Where a profile URL names an account: the host must start there (fox.com/name is no
# x.com profile). The same forms as the auditor's text matching (docs/sla.md).
PROFILE_URL = (
    r"(?<![\w.-])(?:www\.|mobile\.)?"
    r"(?:x\.com|twitter\.com|facebook\.com|instagram\.com|bsky\.app/profile)/"
)


def mention_pattern(handles: Iterable[str]) -> str:
    """A mention of any of ``handles`` (``@Acme`` or a profile URL; not ``@AcmeHelp``)."""
    names = "|".join(re.escape(handle) for handle in sorted(handles))
    return rf"(?:@|{PROFILE_URL})(?:{names})(?![A-Za-z0-9_])"


def mentions_brand(texts: pd.Series, brands: pd.Series, aliases: Aliases) -> pd.Series:
    """Whether each text mentions its row's brand or one of the brand's aliases."""
    found = pd.Series(False, index=texts.index)
    # "@" is in every form but a profile URL, "/" in every URL.
    may_mention = texts.str.contains("@", regex=False) | texts.str.contains("/", regex=False)
    for brand, rows in texts[may_mention].groupby(brands[may_mention]):
        handles = {str(brand), *aliases.get(str(brand).lower(), ())}
        pattern = mention_pattern(handles)
        found.loc[rows.index] = rows.str.contains(pattern, flags=re.IGNORECASE, regex=True)
    return found


def _pair_keys(brands: np.ndarray, authors: np.ndarray) -> np.ndarray:
    """One string per (brand, author), both lower-cased, to look pairs up in a set."""
    return np.char.add(np.char.add(brands.astype(str), "\0"), authors.astype(str))


def _alias_pairs(aliases: Aliases) -> list[str]:
    return [f"{brand}\0{alias}" for brand, names in aliases.items() for alias in names]


def first_responses(tweets: pd.DataFrame, aliases: Aliases | None = None) -> pd.DataFrame:
    """One row per addressed conversation (brand, thread root, customer): ``started`` (the
    earliest of the customer's tweets there, seconds), ``answered`` (the brand's first answer
    strictly after it, or NaN) and ``posts`` (the customer's tweets there, all addressed).

    ``aliases``: brand (lower-cased) -> its other handles (lower-cased). An alias's tweets are
    no customer's and answer nobody; a tweet mentioning or replying to an alias is addressed.
    """
    aliases = aliases or {}
    pairs = _alias_pairs(aliases)
    author_lower = tweets["author"].str.lower().to_numpy()
    inbound = tweets["inbound"].to_numpy()
    rows = account_tweets(tweets)
    rows["brand_lower"] = rows["brand"].str.lower()
    rows["author_lower"] = rows["author"].str.lower()
    brand_lower = rows["brand_lower"].to_numpy()
    is_alias = rows["inbound"].to_numpy() & np.isin(
        _pair_keys(brand_lower, rows["author_lower"].to_numpy()), pairs
    )
    customer = rows["inbound"].to_numpy() & (rows["author_lower"] != rows["brand_lower"]).to_numpy()
    customer &= ~is_alias
    parent = rows["parent_row"].to_numpy()
    has_parent = parent >= 0
    parent_inbound = np.where(has_parent, inbound[np.maximum(parent, 0)], True)
    parent_author = np.where(has_parent, author_lower[np.maximum(parent, 0)], "")
    # A reply to another brand's tweet replies to no post of this brand's account; an alias is
    # no brand of the file (its tweets are inbound).
    parent_is_alias = (
        has_parent & parent_inbound & np.isin(_pair_keys(brand_lower, parent_author), pairs)
    )
    parent_is_brand = ~parent_inbound & (parent_author == brand_lower)

    # Answers: brand tweets replying to a customer's tweet (a customer of this brand).
    reply = (
        ~rows["inbound"].to_numpy()
        & has_parent
        & parent_inbound
        & (parent_author != brand_lower)
        & ~parent_is_alias
    )
    answers = pd.DataFrame(
        {
            "brand": rows["brand"].to_numpy()[reply],
            "root": rows["root_row"].to_numpy()[reply],
            "customer": parent_author[reply],
            "answered": rows["seconds"].to_numpy()[reply],
            "parent": parent[reply],
        }
    )

    posts = rows[customer]
    posts = pd.DataFrame(
        {
            "brand": posts["brand"],
            "root": posts["root_row"],
            "customer": posts["author_lower"],
            "seconds": posts["seconds"],
            "tweet_row": posts["row"],
        }
    )
    replied_to = pd.MultiIndex.from_frame(answers[["brand", "parent"]].drop_duplicates())
    signal = (
        (parent_is_brand | parent_is_alias)[customer]
        | mentions_brand(rows["text"][customer], rows["brand"][customer], aliases).to_numpy()
        | pd.MultiIndex.from_arrays([posts["brand"], posts["tweet_row"]]).isin(replied_to)
    )
    # A conversation is addressed when any of the customer's tweets in it is; then all are.
    posts["addressed"] = (
        pd.Series(signal, index=posts.index)
        .groupby([posts["brand"], posts["root"], posts["customer"]], sort=False)
        .transform("any")
    )
    addressed = posts[posts["addressed"]]

    clocks = (
        addressed.groupby(KEY, sort=False)
        .agg(started=("seconds", "min"), posts=("seconds", "size"))
        .reset_index()
    )
    timed = clocks.merge(answers[[*KEY, "answered"]], on=KEY)
    timed = timed[timed["answered"] > timed["started"]]
    first = timed.groupby(KEY, sort=False)["answered"].min()
    return clocks.merge(first.reset_index(), on=KEY, how="left")


def per_brand(path: Path, aliases: Aliases | None = None) -> dict[str, dict[str, Any]]:
    tweets = read_tweets(path)
    add_threads(tweets)
    clocks = first_responses(tweets, aliases).dropna(subset=["answered"])
    clocks["minutes"] = (clocks["answered"] - clocks["started"]) / 60
    summary = clocks.groupby("brand")["minutes"].agg(["count", "median"])
    return {
        str(brand): {"count": int(row["count"]), "median": round(float(row["median"]), 2)}
        for brand, row in summary.iterrows()
    }


def read_aliases(config: Path) -> Aliases:
    """Each account's ``aliases`` in an auditor config, by handle (all lower-cased)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    aliases: Aliases = {}
    for client in data.get("clients") or []:
        for account in client.get("accounts") or []:
            names = [str(a).lstrip("@").lower() for a in account.get("aliases") or []]
            if names:
                aliases[str(account["handle"]).lstrip("@").lower()] = frozenset(names)
    return aliases


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    parser.add_argument(
        "--aliases", type=Path, metavar="CONFIG", help="an auditor config: its accounts' aliases"
    )
    args = parser.parse_args()
    aliases = read_aliases(args.aliases) if args.aliases is not None else None
    result = json.dumps({"brands": per_brand(args.path, aliases)}, indent=1, sort_keys=True)
    if args.out is None:
        print(result)
    else:
        args.out.write_text(result + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
