"""The order in which the fetch starts its accounts."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from itertools import zip_longest
from typing import TypeVar

Item = TypeVar("Item")


def token_by_token(
    items: Sequence[Item], token_of: Callable[[Item], Hashable]
) -> list[tuple[int, Item]]:
    """``items`` with their positions, in the order the fetch threads start them: one of each
    token in turn, in their own order within a token. In config order a client's accounts (one
    token) come together, and the threads would queue on that token's limit of requests in
    flight (``fetch.concurrency``) while every other token sat idle."""
    by_token: dict[Hashable, list[tuple[int, Item]]] = {}
    for index, item in enumerate(items):
        by_token.setdefault(token_of(item), []).append((index, item))
    turns = zip_longest(*by_token.values())
    return [started for turn in turns for started in turn if started is not None]
