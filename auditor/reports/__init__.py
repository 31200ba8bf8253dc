"""Report writers. Each reads only the :class:`auditor.result.AuditResult` it is given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from auditor.reports import json_report
from auditor.result import AuditResult

Writer = Callable[[AuditResult, Path], list[Path]]

# File formats named in the config's output.formats; the terminal table is always printed.
WRITERS: dict[str, Writer] = {"json": json_report.write}
