"""The history store (an SQLite file, or a PostgreSQL database shared by many machines): every
run, every post seen, findings by uid, fetch cursors, the scheduler's lease and client runs.

Callers import from ``auditor.store.history`` (:class:`~auditor.store.history.HistoryStore` and
its types, ``StoreLocation``, ``open_history_store``); the other modules are its parts. May
import ``auditor.model`` and ``auditor.untrusted`` (errors kept on one line) and nothing else of
the project; psycopg only in ``backend_postgres``, imported when a store is a database.
"""
