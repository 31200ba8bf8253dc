"""Deterministic demo and benchmark bundles (``auditor demo generate``).

``generator`` builds the records (its entry point is ``generate_records``); ``plan`` chooses the
accounts and how each behaves; ``people``, ``profile`` and ``ids`` make the customers, the
profile and staffed hours, and the ids and URLs; ``texts`` reads the corpora in ``data/`` (YAML);
``draw`` holds the seeded draws they all share.

May import ``auditor.model`` and ``auditor.sources``; nothing imports it but the CLI, the tests and
the benchmarks.
"""
