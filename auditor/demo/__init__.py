"""Deterministic demo and benchmark bundles (``auditor demo generate``).

May import ``auditor.model`` and ``auditor.sources``; nothing imports it but the CLI and the
benchmarks.
"""
