"""The platform protocols, sans-I/O: one module per platform (x, facebook, instagram, mastodon,
bluesky), each turning recorded API pages into bundle records and choosing the next request.

This package is also their registry: :data:`PROTOCOLS` maps a platform name to its protocol
class, so the fetch layer (``auditor.fetch``, the I/O that waits, retries and rate-limits) names
no platform. A new platform is a new module here, a ``Protocol`` subclass of ``base``, a row in
``observes.yaml`` (what it lets the auditor see) and a line in :data:`PROTOCOLS`.

May import ``auditor.platform_formats`` (formats other layers read too) and nothing else of the
project; the modules import ``base`` and, for Instagram, the Graph API helpers of ``facebook``.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor.sources.platforms.base import Observability, Protocol, observability
from auditor.sources.platforms.bluesky import BlueskyProtocol
from auditor.sources.platforms.facebook import FacebookProtocol
from auditor.sources.platforms.instagram import InstagramProtocol
from auditor.sources.platforms.mastodon import MastodonProtocol
from auditor.sources.platforms.x import XProtocol

__all__ = ["PROTOCOLS", "Observability", "observability", "protocol_class"]

PROTOCOLS: Mapping[str, type[Protocol]] = {
    protocol.platform: protocol
    for protocol in (
        XProtocol,
        MastodonProtocol,
        FacebookProtocol,
        InstagramProtocol,
        BlueskyProtocol,
    )
}


def protocol_class(platform: str) -> type[Protocol]:
    """The protocol of ``platform``; ValueError for a platform nothing fetches."""
    try:
        return PROTOCOLS[platform]
    except KeyError:
        raise ValueError(f"no fetcher for platform {platform!r}") from None
