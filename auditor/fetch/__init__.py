"""Fetching: the I/O around the sans-I/O platform protocols.

``http`` is the one HTTP layer (waits, retries, rate limits, redaction), ``secrets`` reads tokens
from the environment or files and keeps them out of every log, ``driver`` walks one protocol's
requests through ``http``, and ``run`` fetches every api account of a config into bundles,
merged with what the history store kept. May import ``auditor.sources``, ``auditor.store``,
``auditor.config`` and the contract; never the engine, a check or a writer.
"""
