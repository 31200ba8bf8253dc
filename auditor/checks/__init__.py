"""The built-in checks, one module each (``<id>.py`` with a ``CHECK`` value).

They are registered through the entry-point group ``social_care_auditor.checks`` exactly as a
third-party check is. A check may import the contract (``auditor.check``, ``auditor.model``) and
``auditor.analysis``; never the engine, the store, a source, the fetch layer, a writer or the CLI.
"""
