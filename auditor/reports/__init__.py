"""Report writers, one module per format, registered by name in ``WRITERS``.

Each reads only the :class:`auditor.result.AuditResult` it is given: a writer may import
``auditor.result``, ``auditor.check``, ``auditor.model`` and ``auditor.fsutil`` (atomic
writes), never the engine, the config, the store, a source or a check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from auditor.reports import json_report
from auditor.result import AuditResult

Writer = Callable[[AuditResult, Path], list[Path]]

# File formats named in the config's output.formats; the terminal table is always printed.
WRITERS: dict[str, Writer] = {"json": json_report.write}
