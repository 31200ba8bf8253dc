"""The engine: accounts in, one ``AuditResult`` out (``audit``).

It runs every enabled check the registry holds (it names none) and reads inputs through the
sources. May import the contract (``auditor.model``, ``auditor.check``, ``auditor.result``,
``auditor.registry``), ``auditor.config``, ``auditor.sources`` and ``auditor.store``; never a
check, a writer, the fetch layer or the CLI.
"""
