"""Deterministic draws the demo generator makes: from its seeded random streams, or from a hash.

Imports nothing of the project.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TypeVar

_T = TypeVar("_T")


def pick(rng: random.Random, options: Sequence[_T]) -> _T:
    """``rng.choice`` without its rejection sampling: several times faster, bias below 1e-12."""
    return options[int(rng.random() * len(options))]


def randint(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def stable_int(text: str) -> int:
    """A hash that is the same in every process (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
