"""The history store (SQLite): every run, every post seen, findings by uid, fetch cursors.

Callers import from ``auditor.store.history`` (:class:`~auditor.store.history.HistoryStore` and
its types); the other modules are its parts. May import ``auditor.model`` and nothing else of
the project.
"""
