"""The findings as CSV: one file per client, ``findings.csv`` beside its ``report.json``, one
row per finding.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula, and every cell here can hold text from outside (client names,
handles, messages quoting posts): such a cell gets a leading apostrophe, which spreadsheets
show as text. Streams like the JSON writer: each account's rows go to an unnamed temporary
file as it arrives; each client's file is written whole and renamed at the end.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from auditor.reports.findings import (
    ClientSpool,
    RunFolders,
    finding_rows,
    finding_state,
    write_client_file,
    write_clients,
)
from auditor.result import AccountResult, AuditResult, CheckResult, Totals

FILE_NAME = "findings.csv"
COLUMNS = (
    "client",
    "platform",
    "account",
    "check_id",
    "check_title",
    "severity",
    "check_status",
    "state",
    "state_reason",
    # new / still open since the account's last audit; empty on its first.
    "change",
    "uid",
    "evidence_id",
    "message",
    "excerpt",
    "url",
)
# What a spreadsheet may take for the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CHARS = frozenset(_FORMULA_START)


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text: an apostrophe before a formula's first character."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _csv_bytes(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode("utf-8")


def _check_rows(account: AccountResult, check: CheckResult) -> list[list[str]]:
    """The rows of one check's findings, every cell neutralised (the cells shared by the
    check's rows once; a large audit writes hundreds of thousands of rows, so the others
    inline rather than through a call per cell)."""
    before = [
        neutralise(cell)
        for cell in (account.client, account.platform, account.account, check.id, check.title)
    ]
    rows = []
    since = account.since_last
    for finding in finding_rows(check):
        state = finding_state(check, finding)
        evidence = finding.evidence
        # Severity, status, state, change and uid are the tool's own words: only the cells
        # that can hold outside text are neutralised.
        outside = (
            state.reason or "",
            finding.evidence_id,
            finding.message,
            evidence.excerpt or "",
            evidence.urls[0] if evidence.urls else "",
        )
        reason, evidence_id, message, excerpt, url = (
            "'" + c if c[:1] in _FORMULA_CHARS else c for c in outside
        )
        rows.append(
            [
                *before,
                finding.severity,
                check.status,
                state.kind,
                reason,
                "" if since is None else since.change(finding.uid),
                finding.uid,
                evidence_id,
                message,
                excerpt,
                url,
            ]
        )
    return rows


class CsvReports:
    """The streaming CSV writer (``begin``, ``account``, ``end``; ``abort`` on failure)."""

    def __init__(self, output_dir: Path, folders: RunFolders | None = None) -> None:
        self.folders = folders or RunFolders(output_dir)
        self._spool: ClientSpool | None = None
        self._clients: list[str] = []

    def begin(self, run: AuditResult) -> None:
        self._spool = ClientSpool(self.folders.output_dir, ".findings-csv.")

    def account(self, account: AccountResult) -> None:
        assert self._spool is not None, "account() before begin()"
        if not self._clients or self._clients[-1] != account.client:
            self._clients.append(account.client)
        rows = [row for check in account.checks for row in _check_rows(account, check)]
        if rows:
            self._spool.write(account.client, _csv_bytes(rows))

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        assert self._spool is not None, "end() before begin()"
        header = _csv_bytes([[neutralise(name) for name in COLUMNS]])
        spool = self._spool

        def write(client: str) -> Path:
            folder = self.folders.client(client, run.started_at, run.run_id)
            return write_client_file(folder / FILE_NAME, header, spool, client, b"")

        try:
            return write_clients(spool, self._clients, write)
        finally:
            self.abort()

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
