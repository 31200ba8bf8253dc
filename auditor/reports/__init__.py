"""Report writers, one module per format, registered by name in ``WRITERS``.

Each implements the streaming interface of :mod:`auditor.reports.stream` (``begin``,
``account`` per account in config order, ``end``) and reads only the result objects it is
given: a writer may import ``auditor.result``, ``auditor.check``, ``auditor.model`` and
``auditor.fsutil`` (atomic writes), never the engine, the config, the store, a source or a check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from auditor.reports import json_report
from auditor.reports.stream import Reports, ReportWriter, write_result

__all__ = ["WRITERS", "ReportWriter", "Reports", "write_result"]

# File formats named in the config's output.formats, each made for one output folder; the
# terminal table is always printed (unless --quiet).
WRITERS: dict[str, Callable[[Path], ReportWriter]] = {"json": json_report.JsonReports}
