"""The platform protocols, sans-I/O: one module per platform (x, facebook, instagram, mastodon,
bluesky), each turning recorded API pages into bundle records and choosing the next request.

A new platform is a new module here, a ``Protocol`` subclass of ``base``. May import
``auditor.sources.platforms.base`` and nothing else of the project: the HTTP layer that waits,
retries and rate-limits is ``auditor.fetch``, which drives these.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True, slots=True)
class Observability:
    """One row of ``observes.yaml``: what a platform's fetch can see."""

    observes: frozenset[str]
    rechecked: frozenset[str]

    @property
    def everything(self) -> frozenset[str]:
        """What a complete fetch whose re-check succeeded observes."""
        return self.observes | self.rechecked


@cache
def observability() -> dict[str, Observability]:
    text = resources.files(__name__).joinpath("observes.yaml").read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    return {
        platform: Observability(frozenset(row["observes"]), frozenset(row["rechecked"]))
        for platform, row in table.items()
    }
