"""The engine: accounts in, one ``AuditResult`` out (``audit``).

It runs every enabled check the registry holds (it names none) and reads every input through
the source contract (``auditor.sources.inputs``: it names no source). ``audit`` may import the
contract (``auditor.model``, ``auditor.check``, ``auditor.result``, ``auditor.registry``),
``auditor.config``, ``auditor.sources.inputs``, ``auditor.store``, ``parallel`` and ``gating``
(baselines and suppressions: the contract, ``auditor.config`` and ``auditor.fsutil``); never a
check, a writer, another source module, the fetch layer or the CLI. ``parallel`` (worker pools,
how results travel between processes) runs the function it is handed and imports nothing of
the engine: only ``auditor.check`` and ``auditor.result``.
"""
