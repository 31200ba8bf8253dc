"""Fetching: the I/O around the sans-I/O platform protocols.

``http`` is the one HTTP layer (waits, retries, rate limits, redaction), ``secrets`` reads tokens
from the environment or files and keeps them out of every log, ``driver`` walks one protocol's
requests (and its deletion re-checks) through ``http``, ``run`` fetches every api account of a
config into bundles, merged with what the history store kept, and ``preflight`` answers
``--dry-run`` and ``config validate --secrets`` without a request.

Names no platform: what differs between platforms is their protocols' business. May import
``auditor.sources.platforms`` (the registry) and ``auditor.sources.platforms.base``, never a
platform module by name; ``auditor.sources.bundle``, ``auditor.store``, ``auditor.config`` and the
contract; never the engine, a check or a writer.
"""
