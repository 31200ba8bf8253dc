"""Report writers, one module per format, registered by name in ``WRITERS``.

Each implements the streaming interface of :mod:`auditor.reports.stream` (``begin``,
``account`` per account in config order, ``end``) and reads only the result objects it is
given: a writer may import ``auditor.result``, ``auditor.check``, ``auditor.model`` and
``auditor.fsutil`` (atomic writes), never the engine, the config, the store, a source or a check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from auditor.reports import csv_report, html, json_report, junit, sarif
from auditor.reports.findings import RunFolders
from auditor.reports.stream import Reports, ReportWriter, write_result

__all__ = [
    "FORMATS",
    "WRITERS",
    "ReportWriter",
    "Reports",
    "RunFolders",
    "file_formats",
    "parse_formats",
    "write_result",
]

# File formats named in the config's output.formats and by --format, each made for one output
# folder and the run folders it shares with the others (a client's files go to one folder).
WRITERS: dict[str, Callable[[Path, RunFolders], ReportWriter]] = {
    "json": json_report.JsonReports,
    "csv": csv_report.CsvReports,
    "junit": junit.JunitReports,
    "sarif": sarif.SarifReports,
    "html": html.HtmlReports,
}
# Every name a user may give: the files, and the terminal table (printed unless --quiet).
FORMATS: tuple[str, ...] = (*WRITERS, "table")


def parse_formats(given: Sequence[str]) -> tuple[str, ...]:
    """The formats named on a command line: comma-separated, repeatable, in any case; raises
    ValueError naming an unknown one and the valid ones."""
    names = [n.strip().lower() for value in given for n in value.split(",") if n.strip()]
    for name in names:
        if name not in FORMATS:
            raise ValueError(f"{name!r} is not a report format; valid: {', '.join(FORMATS)}")
    if not names:
        raise ValueError(f"names no format; valid: {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


def file_formats(formats: Sequence[str]) -> list[str]:
    """The report files to write: JSON always, first, then the others named (the terminal
    table is not a file: it is printed unless --quiet); CSV too when HTML is named, as the HTML
    report's "and 212 more" points at findings.csv."""
    needed = ("csv",) if "html" in formats else ()
    return [name for name in dict.fromkeys(("json", *formats, *needed)) if name != "table"]
