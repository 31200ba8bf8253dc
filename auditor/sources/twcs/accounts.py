"""Threads and accounts: which tweets each brand account holds, and one account's rows.

Threads are rebuilt with numpy (pointer jumping over parent positions), tweets grouped by
account at once; ``_account_rows`` turns one account's rows into Python values, in forked
worker processes too (single-threaded Arrow calls only).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from auditor.sources.platforms.base import Record
from auditor.sources.twcs.columns import IntArray, _as_bools, _Columns, _id_numbers
from auditor.sources.twcs.dataset import PLATFORM, WINDOW_REASON, TwcsStats

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
else:
    from auditor.sources.twcs.columns import pa, pc


# --- threads and accounts ------------------------------------------------------------------


def _thread_roots(columns: _Columns, stats: TwcsStats) -> tuple[IntArray, IntArray]:
    """The position of each tweet's root, its topmost ancestor present in the file, and of
    each tweet's parent (-1: none, or not in the file).

    Pointer jumping (each round doubles how far every tweet has looked up); the tweets it
    leaves unresolved are in, or lead into, a cycle of replies, which only a corrupt file has:
    those are walked one by one, the cycle rooting at its smallest id so that every member
    agrees.
    """
    count = len(columns.ids)
    parent_at = _parent_positions(columns)
    has_parent = _as_bools(columns.parents.is_valid())
    stats.parents_missing = int((has_parent & (parent_at < 0)).sum())
    is_top = parent_at < 0
    up = np.where(is_top, np.arange(count, dtype=np.int64), parent_at)
    for _ in range(count.bit_length() + 1):
        if is_top[up].all():
            break
        up = up[up]
    unresolved = np.flatnonzero(~is_top[up])
    if len(unresolved):
        _root_cycles(columns, parent_at, up, unresolved.tolist())
    return up, parent_at


def _parent_positions(columns: _Columns) -> IntArray:
    """Where each tweet's parent is, or -1 (no parent, or not in the file)."""
    ids = _id_numbers(columns.ids)
    parents = None if ids is None else _id_numbers(columns.parents)
    if ids is None or parents is None or not len(ids):
        found = pc.index_in(columns.parents, value_set=columns.ids)
        return np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    at = np.minimum(np.searchsorted(ordered, parents), len(ids) - 1)
    found_at: IntArray = np.where((parents >= 0) & (ordered[at] == parents), order[at], -1)
    return found_at


_UNKNOWN: Final = -1
_IN_PROGRESS: Final = -2


def _root_cycles(columns: _Columns, parent_at: IntArray, up: IntArray, starts: list[int]) -> None:
    """Sets ``up`` for the tweets in or leading into reply cycles, as the row walk did."""
    roots = dict.fromkeys(starts, _UNKNOWN)
    for start in starts:
        if roots[start] != _UNKNOWN:
            continue
        chain: list[int] = []
        current = start
        while True:
            known = roots.get(current, int(up[current]))
            if known == _IN_PROGRESS:
                cycle = chain[chain.index(current) :]
                root = min(cycle, key=lambda member: _id_order(columns.ids[member].as_py()))
                break
            if known != _UNKNOWN:
                root = known
                break
            roots[current] = _IN_PROGRESS
            chain.append(current)
            current = int(parent_at[current])
        for member in chain:
            roots[member] = root
    for member, root in roots.items():
        up[member] = root


def _id_order(tweet_id: str) -> tuple[int, str]:
    return (len(tweet_id), tweet_id)


@dataclass(slots=True)
class _Accounts:
    """The tweets, the root of each, and which tweets each brand account holds (positions, in
    file order), accounts in handle order."""

    columns: _Columns
    roots: IntArray
    parent_at: IntArray
    members: dict[str, IntArray]
    # Each tweet's author as a number into author_names: an account's authors are then picked
    # without making a string per post.
    author_codes: IntArray
    author_names: npt.NDArray[np.object_]


def _group_by_account(
    columns: _Columns, brands: Collection[str] | None, stats: TwcsStats
) -> _Accounts:
    """Each thread belongs to every brand posting in it; a brand tweet goes to its own brand
    only (counted in ``other_brand_posts`` for the others)."""
    count = len(columns.ids)
    roots, parent_at = _thread_roots(columns, stats)
    encoded = columns.authors.dictionary_encode()
    author_names: list[str] = encoded.dictionary.to_pylist()
    author_codes = encoded.indices.to_numpy().astype(np.int64)
    names = max(len(author_names), 1)
    brand_rows = np.flatnonzero(~columns.inbound)
    brand_codes = author_codes[brand_rows]
    # Each (thread, brand) pair once, ordered by thread then brand.
    pairs, first_of_pair = np.unique(roots[brand_rows] * names + brand_codes, return_index=True)
    pair_roots, pair_brands = pairs // names, pairs % names
    brands_of_root = np.bincount(pair_roots, minlength=count)
    thread_brands = brands_of_root[roots]
    stats.posts_without_brand += int((thread_brands == 0).sum())
    stats.other_brand_posts = int((thread_brands[brand_rows] - 1).sum())
    # Customers' tweets go to every brand of their thread.
    customers = np.flatnonzero(columns.inbound & (thread_brands > 0))
    shares = thread_brands[customers]
    first_pair = np.searchsorted(pair_roots, roots[customers])
    runs = np.repeat(np.cumsum(shares) - shares, shares)
    pair_of_share = np.repeat(first_pair, shares) + np.arange(len(runs)) - runs
    owner = np.concatenate([brand_codes, pair_brands[pair_of_share]])
    position = np.concatenate([brand_rows, np.repeat(customers, shares)])
    wanted = None if brands is None else {brand.lstrip("@").casefold() for brand in brands}
    if wanted is not None:
        chosen = [
            code for code in np.unique(owner).tolist() if author_names[code].casefold() in wanted
        ]
        keep = np.isin(owner, np.array(chosen, dtype=np.int64))
        owner, position = owner[keep], position[keep]
    ordered = np.sort(owner * count + position)
    owner, position = ordered // max(count, 1), ordered % max(count, 1)
    bounds = np.flatnonzero(np.diff(owner)) + 1
    code_of = {
        author_names[int(owners[0])]: int(owners[0])
        for owners in np.split(owner, bounds)
        if len(owners)
    }
    members = dict(
        zip(code_of, (part for part in np.split(position, bounds) if len(part)), strict=True)
    )

    def account_order(brand: str) -> tuple[str, int, int]:
        # Handles equal but for case keep the order the row walk met them in: by first post,
        # then by the brand's first tweet in that post's thread.
        first = int(members[brand][0])
        rank = 0
        if columns.inbound[first]:
            at = int(np.searchsorted(pairs, roots[first] * names + code_of[brand]))
            rank = int(brand_rows[first_of_pair[at]])
        return (brand.casefold(), first, rank)

    ordered_members = {brand: members[brand] for brand in sorted(members, key=account_order)}
    stats.accounts = len(ordered_members)
    stats.posts = sum(len(positions) for positions in ordered_members.values())
    return _Accounts(
        columns,
        roots,
        parent_at,
        ordered_members,
        author_codes,
        np.array(author_names, dtype=np.object_),
    )


def _window_record(account: str, start: str, end: str) -> Record:
    return {
        "kind": "window",
        "platform": PLATFORM,
        "account": account,
        "window_start": start,
        "window_end": end,
        # The dataset is a sample: nobody knows whether it holds all of an account's posts.
        "complete": None,
        "reason": WINDOW_REASON,
        # A public export cannot show hidden or deleted posts, private conversations or
        # automation.
        "observes": [],
        "fetched_at": None,
    }


@dataclass(slots=True)
class _AccountRows:
    """One account's posts as Python values, in file order."""

    ids: list[str]
    authors: list[str]
    by_brand: list[bool]
    created: list[str]
    texts: list[str]
    parents: list[str | None]
    threads: list[str]
    urls: list[str]


def _account_rows(accounts: _Accounts, handle: str) -> _AccountRows:
    # Single-threaded Arrow calls only: this runs in forked worker processes.
    columns = accounts.columns
    positions = accounts.members[handle]
    rows = pa.array(positions)
    ids = columns.ids.take(rows)
    authors = columns.authors.take(rows)
    urls = pc.binary_join_element_wise(_URL_START, authors, _URL_MIDDLE, ids, "")
    id_list: list[str] = ids.to_pylist()
    own_ids = _OwnIds(columns, positions, np.array(id_list, dtype=np.object_))
    parents = own_ids.of(accounts.parent_at[positions])
    # A parent that is not in the file (or none): its id as written, or None.
    outside = np.flatnonzero(accounts.parent_at[positions] < 0)
    if len(outside):
        written = columns.parents.take(pa.array(positions[outside])).to_pylist()
        parents[outside] = np.array(written, dtype=np.object_)
    return _AccountRows(
        ids=id_list,
        authors=accounts.author_names[accounts.author_codes[positions]].tolist(),
        by_brand=(~columns.inbound[positions]).tolist(),
        created=columns.created.take(rows).to_pylist(),
        texts=columns.texts.take(rows).to_pylist(),
        parents=parents.tolist(),
        threads=own_ids.of(accounts.roots[positions]).tolist(),
        urls=urls.to_pylist(),
    )


@dataclass(slots=True)
class _OwnIds:
    """An account's ids as Python strings, reused for the parents and roots among its own
    posts (most of them) instead of making the same strings again."""

    columns: _Columns
    positions: IntArray  # the account's, ascending
    strings: npt.NDArray[np.object_]

    def of(self, targets: IntArray) -> npt.NDArray[np.object_]:
        """The ids of the tweets at ``targets`` (None where a target is -1)."""
        found = np.minimum(np.searchsorted(self.positions, targets), len(self.positions) - 1)
        own = self.positions[found] == targets
        result = np.full(len(targets), None, dtype=np.object_)
        result[own] = self.strings[found[own]]
        others = np.flatnonzero(~own & (targets >= 0))
        if len(others):
            taken = self.columns.ids.take(pa.array(targets[others]))
            result[others] = np.array(taken.to_pylist(), dtype=np.object_)
        return result


_URL_START: Final = "https://twitter.com/"
_URL_MIDDLE: Final = "/status/"


def _account_records(accounts: _Accounts, handles: Iterable[str]) -> Iterator[Record]:
    for account in handles:
        rows = _account_rows(accounts, account)
        for tweet_id, author, by_brand, created, text, parent, thread, url in zip(
            rows.ids,
            rows.authors,
            rows.by_brand,
            rows.created,
            rows.texts,
            rows.parents,
            rows.threads,
            rows.urls,
            strict=True,
        ):
            yield {
                "kind": "post",
                "platform": PLATFORM,
                "account": account,
                "id": tweet_id,
                "author": author,
                "author_id": author,
                "by_brand": by_brand,
                "created_at": created,
                "text": text,
                "in_reply_to": parent,
                "thread": thread,
                "visibility": "public",
                "deleted_by": None,
                "url": url,
                "source": None,
                "automated": None,
            }
        # Every time is UTC in one ISO format, so the strings order like the times.
        yield _window_record(account, min(rows.created), max(rows.created))
