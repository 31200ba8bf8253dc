"""Report writers, one module per format, registered by name in ``WRITERS``.

Each implements the streaming interface of :mod:`auditor.reports.stream` (``begin``,
``account`` per account in config order, ``end``) and reads only the result objects it is
given: a writer may import ``auditor.result``, ``auditor.check``, ``auditor.model`` and
``auditor.fsutil`` (atomic writes), never the engine, the config, the store, a source or a check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from auditor.reports import csv_report, html, json_report, junit, markdown, sarif
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
    "markdown": markdown.MarkdownReports,
}
# The terminal's table is printed unless --quiet, whatever the formats: it is no file.
TERMINAL = "terminal"
# Every name a user may give: the files, and the terminal.
FORMATS: tuple[str, ...] = (*WRITERS, TERMINAL)
# The readable reports list a few findings per check and point at findings.csv for the rest
# ("and 212 more in findings.csv"): choosing one of them writes the CSV too.
POINT_AT_CSV: frozenset[str] = frozenset({"html", "markdown"})


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
    """The report files to write: JSON always, first, then the others named, and the CSV when a
    readable report points at it (the terminal is not a file: it is printed unless --quiet)."""
    csv = ["csv"] if POINT_AT_CSV.intersection(formats) else []
    return [name for name in dict.fromkeys(("json", *formats, *csv)) if name != TERMINAL]
