"""The history store (SQLite): every run, every post seen, findings by uid, fetch cursors.

May import ``auditor.model`` and nothing else of the project.
"""
