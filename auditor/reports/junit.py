"""JUnit XML, as GitLab, Jenkins and Azure DevOps read it: one file per client, ``junit.xml``
beside its ``report.json``, valid against Jenkins' junit-10.xsd.

A testsuite per account, a testcase per check: ``failure`` for a check that failed (its open
findings listed), ``error`` for one that raised or is incomplete, ``skipped`` for one that does
not apply or whose findings are all suppressed (with the reason); each testsuite carries its
tests/failures/errors/skipped counts. An account that was not audited (bad input, a stop
signal) is a suite with one ``account`` testcase in error, so that no CI counts it as passed.

Written as a stream of text (the accounts spooled to an unnamed temporary file), with every
value escaped, and the characters XML 1.0 cannot carry at all (most C0 controls, lone
surrogates) shown as ``\\xNN`` escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from auditor.reports.findings import (
    ClientSpool,
    FindingRow,
    RunFolders,
    finding_rows,
    finding_state,
    since_last_line,
    write_client_file,
    write_clients,
)
from auditor.result import AccountResult, AuditResult, CheckResult, Totals

FILE_NAME = "junit.xml"
# A failing testcase lists this many of its findings (a CI page shows the text whole); the
# rest are counted, and every one is in report.json and findings.csv.
LISTED_FINDINGS = 100

# Not allowed anywhere in an XML 1.0 document, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _text(value: str) -> str:
    return escape(_xml_safe(value))


def _attr(value: str) -> str:
    return '"' + escape(_xml_safe(value), _ATTRIBUTE_ENTITIES) + '"'


@dataclass(slots=True)
class _Counts:
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0

    def add(self, other: _Counts) -> None:
        self.tests += other.tests
        self.failures += other.failures
        self.errors += other.errors
        self.skipped += other.skipped


@dataclass(slots=True)
class _Client:
    name: str
    counts: _Counts
    suite_names: set[str]


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``(3)``... if the suite already has it."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    taken.add(candidate)
    return candidate


def _finding_line(finding: FindingRow, note: str = "") -> str:
    where = f" {finding.url}" if finding.url else ""
    return f"[{finding.severity}] {finding.message}{note} (uid {finding.uid}){where}"


def _outcome(check: CheckResult) -> tuple[str | None, str, str]:
    """The testcase's element (failure, error, skipped or None for a pass), its message and
    its text."""
    rows = finding_rows(check)
    states = [(row, finding_state(check, row)) for row in rows]
    open_rows = [row for row, state in states if state.kind == "open"]
    others = [
        _finding_line(row, f" [{state.kind}: {state.reason or 'no reason given'}]")
        for row, state in states
        if state.kind != "open"
    ]
    if check.status == "fail" and open_rows:
        listed = [_finding_line(row) for row in open_rows[:LISTED_FINDINGS]]
        if len(open_rows) > LISTED_FINDINGS:
            listed.append(
                f"... and {len(open_rows) - LISTED_FINDINGS} more: see report.json or findings.csv"
            )
        return "failure", check.summary, "\n".join([*listed, *others])
    if check.status == "fail":  # every finding suppressed or baselined
        reasons = sorted({state.reason or state.kind for _, state in states})
        kinds = sorted({state.kind for _, state in states})
        element = "skipped" if "suppressed" in kinds else None
        return element, f"{' and '.join(kinds)}: {'; '.join(reasons)}", "\n".join(others)
    if check.status == "error":
        return "error", check.error or check.summary, check.summary
    if check.status == "incomplete":
        return "error", f"incomplete: {check.summary}", "\n".join(check.notes)
    if check.status == "not_applicable":
        return "skipped", f"not applicable: {check.summary}", ""
    return None, check.summary, "\n".join(others)


def _testcase(
    classname: str,
    name: str,
    outcome: tuple[str | None, str, str],
    counts: _Counts,
    kind_of: str = "",
) -> str:
    """One testcase; ``outcome`` is its element, message and text; ``kind_of`` its type
    (the check's status: fail, error or incomplete)."""
    element, message, text = outcome
    counts.tests += 1
    head = f'<testcase name={_attr(name)} classname={_attr(classname)} time="0"'
    if element is None:
        out = f"<system-out>{_text(text)}</system-out>" if text else ""
        return f"{head}>{out}</testcase>" if out else f"{head}/>"
    if element == "failure":
        counts.failures += 1
    elif element == "error":
        counts.errors += 1
    else:
        counts.skipped += 1
    kind = "" if element == "skipped" else f" type={_attr(kind_of)}"
    body = f"<{element}{kind} message={_attr(message)}>{_text(text)}</{element}>"
    return f"{head}>{body}</testcase>"


def _account_testcases(account: AccountResult, classname: str, counts: _Counts) -> list[str]:
    if not account.checks:  # not audited: bad input, or a stop signal came first
        reason = "; ".join(account.errors) or account.coverage.reason or account.status
        outcome = ("error", f"not audited: {reason}", "")
        return [_testcase(classname, "account", outcome, counts, account.status)]
    names: set[str] = set()
    cases = []
    for check in account.checks:
        name = _unique(f"{check.id} {check.title}", names)
        cases.append(_testcase(classname, name, _outcome(check), counts, check.status))
    return cases


class JunitReports:
    """The streaming JUnit writer (``begin``, ``account``, ``end``; ``abort`` on failure)."""

    def __init__(self, output_dir: Path, folders: RunFolders | None = None) -> None:
        self.folders = folders or RunFolders(output_dir)
        self._spool: ClientSpool | None = None
        self._clients: list[_Client] = []
        self._timestamp = ""

    def begin(self, run: AuditResult) -> None:
        self._spool = ClientSpool(self.folders.output_dir, ".junit.")
        self._timestamp = run.started_at.isoformat()

    def account(self, account: AccountResult) -> None:
        assert self._spool is not None, "account() before begin()"
        if not self._clients or self._clients[-1].name != account.client:
            self._clients.append(_Client(account.client, _Counts(), set()))
        client = self._clients[-1]
        key = f"{account.platform}:{account.account}"
        suite = _unique(key, client.suite_names)
        counts = _Counts()
        cases = _account_testcases(account, f"{account.client}.{key}", counts)
        properties = [("client", account.client), ("status", account.status)]
        if account.source:
            properties.append(("source", account.source))
        if account.since_last is not None:
            properties.append(("since_last_audit", since_last_line(account.since_last)))
        props = "".join(f"<property name={_attr(n)} value={_attr(v)}/>" for n, v in properties)
        head = (
            f"<testsuite name={_attr(suite)} package={_attr(account.client)}"
            f' tests="{counts.tests}" failures="{counts.failures}" errors="{counts.errors}"'
            f' skipped="{counts.skipped}" time="0" timestamp={_attr(self._timestamp)}>'
        )
        xml = f"{head}<properties>{props}</properties>{''.join(cases)}</testsuite>\n"
        self._spool.write(account.client, xml.encode("utf-8"))
        client.counts.add(counts)

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        assert self._spool is not None, "end() before begin()"
        try:
            return write_clients(self._spool, self._clients, lambda c: self._write_client(run, c))
        finally:
            self.abort()

    def _write_client(self, run: AuditResult, client: _Client) -> Path:
        counts = client.counts
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<testsuites name={_attr(f'social-care-auditor: {client.name}')}"
            f' tests="{counts.tests}" failures="{counts.failures}" errors="{counts.errors}"'
            ' time="0">\n'
        )
        folder = self.folders.client(client.name, run.started_at, run.run_id)
        assert self._spool is not None
        return write_client_file(
            folder / FILE_NAME, head.encode(), self._spool, client.name, b"</testsuites>\n"
        )

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
