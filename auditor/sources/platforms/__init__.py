"""The platform protocols, sans-I/O: one module per platform (x, facebook, instagram, mastodon,
bluesky), each turning recorded API pages into bundle records and choosing the next request.

A new platform is a new module here, a ``Protocol`` subclass of ``base``. May import
``auditor.sources.platforms.base`` and nothing else of the project: the HTTP layer that waits,
retries and rate-limits is ``auditor.fetch``, which drives these.
"""
