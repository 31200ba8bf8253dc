"""SARIF 2.1.0 for GitHub code scanning: one file per client, ``report.sarif`` beside its
``report.json``, one run each.

``ruleId`` is the check id; each rule has its title, why it matters (full description), how
to fix it (help) and a ``security-severity`` from its default severity. A result's location is
the config file and the line of the account's entry (an account has no source file of its
own: its entry is what a person edits), and ``partialFingerprints`` carries the finding uid, so
that an alert is the same alert in every run. ``automationDetails.id`` names the client, so
that code scanning keeps each client's alerts as a category of its own: a run of one client
(``--client``) closes none of another's. Suppressed findings carry ``suppressions``; existing
ones (in the baseline) ``baselineState: unchanged``. Run without a baseline file, the last
audit of the account is the baseline: ``new`` or ``unchanged`` by its findings, and each finding
it had that this audit has not is an ``absent`` result (``kind: pass``). Checks that raised
or are incomplete are the invocation's notifications. Streams like the JSON writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from auditor.fsutil import safe_name
from auditor.reports.findings import (
    OPEN,
    ClientSpool,
    FindingState,
    RunFolders,
    finding_rows,
    finding_state,
    write_client_file,
    write_clients,
)
from auditor.result import (
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    EXIT_OK,
    AccountResult,
    AuditResult,
    CheckInfo,
    CheckResult,
    SinceLast,
    Totals,
)

FILE_NAME = "report.sarif"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub reads a rule's security-severity as a score: over 9.0 critical, 7.0-8.9 high,
# 4.0-6.9 medium, 0.1-3.9 low; info findings carry none of those levels.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# The uid's fingerprint key: versioned, so that a new uid scheme can never match an old one.
FINGERPRINT = "findingUid/v1"
# Exit codes of a run that did what it was asked (found problems or not).
_SUCCESSFUL = frozenset({EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE})


def _config_location(config_path: str) -> dict[str, Any]:
    """The config file as a SARIF artifact location: relative to the source root (the working
    folder, where a CI job checks the repository out) when it lies there, else a file: URI."""
    path = Path(config_path)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": "%SRCROOT%"}


def _rule(check_id: str, info: CheckInfo | None, title: str | None) -> dict[str, Any]:
    name = info.title if info else title or check_id
    severity = info.severity if info else "medium"
    rule: dict[str, Any] = {
        "id": check_id,
        "name": name,
        "shortDescription": {"text": name},
        "fullDescription": {"text": (info.rationale if info else "") or name},
        "defaultConfiguration": {"level": LEVEL.get(severity, "warning")},
        "properties": {
            "security-severity": SECURITY_SEVERITY.get(severity, "5.5"),
            "tags": ["social-care"],
        },
    }
    remediation = info.remediation if info else ""
    if remediation:
        rule["help"] = {"text": remediation, "markdown": remediation}
    return rule


def _suppressed(result: dict[str, Any], state: FindingState) -> None:
    if state.kind == "suppressed":
        suppression = {"kind": "external", "state": "accepted"}
        if state.reason:
            suppression["justification"] = state.reason
        result["suppressions"] = [suppression]
    elif state.kind == "existing":
        result["baselineState"] = "unchanged"


def _results(
    account: AccountResult,
    check: CheckResult,
    location: dict[str, Any],
    since: SinceLast | None,
) -> list[dict[str, Any]]:
    """One check's findings as SARIF results (a large audit has hundreds of thousands: what is
    the same for all of them is built once)."""
    physical: dict[str, Any] = {"artifactLocation": location}
    if account.config_line is not None:
        physical["region"] = {"startLine": account.config_line}
    key = f"{account.platform}:{account.account}"
    logical = {"name": key, "fullyQualifiedName": f"{account.client}/{key}", "kind": "module"}
    locations = [{"physicalLocation": physical, "logicalLocations": [logical]}]
    prefix = f"{account.client} / {key}: "
    rule_id = check.id
    results = []
    for finding in finding_rows(check):
        uid = finding.uid
        properties = {"uid": uid, "severity": finding.severity, "evidence_id": finding.evidence_id}
        evidence = finding.evidence
        if evidence.urls:
            properties["url"] = evidence.urls[0]
        if evidence.excerpt:
            properties["excerpt"] = evidence.excerpt
        result = {
            "ruleId": rule_id,
            "level": LEVEL.get(finding.severity, "warning"),
            "message": {"text": prefix + finding.message},
            "locations": locations,
            "partialFingerprints": {FINGERPRINT: uid},
            "properties": properties,
        }
        if since is not None:
            result["baselineState"] = "new" if uid in since.new else "unchanged"
        state = finding_state(check, finding)
        if state is not OPEN:
            _suppressed(result, state)
        results.append(result)
    return results


def _absent_results(
    account: AccountResult, since: SinceLast, location: dict[str, Any]
) -> list[dict[str, Any]]:
    """The last audit's findings this one no longer has (resolved), as ``absent`` results."""
    physical: dict[str, Any] = {"artifactLocation": location}
    if account.config_line is not None:
        physical["region"] = {"startLine": account.config_line}
    prefix = f"{account.client} / {account.key}: "
    return [
        {
            "ruleId": resolved.check_id,
            "kind": "pass",
            "level": "none",
            "baselineState": "absent",
            "message": {"text": f"{prefix}resolved since the last audit: {resolved.message}"},
            "locations": [{"physicalLocation": physical}],
            "partialFingerprints": {FINGERPRINT: resolved.uid},
            "properties": {"uid": resolved.uid, "severity": resolved.severity},
        }
        for resolved in since.resolved
    ]


def _notification(account: AccountResult, check: CheckResult) -> dict[str, Any] | None:
    if check.status not in ("error", "incomplete"):
        return None
    what = check.error or check.summary
    return {
        "level": "error" if check.status == "error" else "warning",
        "message": {"text": f"{account.client} / {account.key}: {check.id} {check.status}: {what}"},
        "associatedRule": {"id": check.id},
    }


class SarifReports:
    """The streaming SARIF writer (``begin``, ``account``, ``end``; ``abort`` on failure)."""

    def __init__(self, output_dir: Path, folders: RunFolders | None = None) -> None:
        self.folders = folders or RunFolders(output_dir)
        self._spool: ClientSpool | None = None
        self._clients: list[str] = []
        self._has_results: set[str] = set()
        # Per client: the checks that raised or are incomplete (a few per account at most).
        self._notifications: dict[str, list[dict[str, Any]]] = {}
        # Check titles seen in the results, for rules the run's check_info does not describe.
        self._titles: dict[str, str] = {}
        self._location: dict[str, Any] = {}
        # With a baseline file, baselineState says what the baseline says; without one, it
        # compares with the account's last audit.
        self._baseline_file = False

    def begin(self, run: AuditResult) -> None:
        self._spool = ClientSpool(self.folders.output_dir, ".sarif.")
        self._location = _config_location(run.config_path)
        self._baseline_file = run.gating is not None and run.gating.baseline is not None

    def account(self, account: AccountResult) -> None:
        assert self._spool is not None, "account() before begin()"
        client = account.client
        if not self._clients or self._clients[-1] != client:
            self._clients.append(client)
            self._notifications[client] = []
        since = None if self._baseline_file else account.since_last
        results: list[dict[str, Any]] = []
        for check in account.checks:
            self._titles.setdefault(check.id, check.title)
            notification = _notification(account, check)
            if notification is not None:
                self._notifications[client].append(notification)
            results += _results(account, check, self._location, since)
        if since is not None:
            results += _absent_results(account, since, self._location)
        if not account.checks and (account.errors or account.coverage.reason):
            reason = "; ".join(account.errors) or account.coverage.reason or ""
            self._notifications[client].append(
                {"level": "error", "message": {"text": f"{client} / {account.key}: {reason}"}}
            )
        if results:
            data = orjson.dumps(results)[1:-1]  # the array's items, without its brackets
            self._spool.write(client, data if client not in self._has_results else b"," + data)
            self._has_results.add(client)

    def end(self, run: AuditResult, totals: Totals) -> list[Path]:
        assert self._spool is not None, "end() before begin()"
        try:
            return write_clients(
                self._spool, self._clients, lambda c: self._write_client(run, totals, c)
            )
        finally:
            self.abort()

    def _rules(self, run: AuditResult) -> list[dict[str, Any]]:
        ids = sorted({*run.checks, *run.check_info, *self._titles})
        return [_rule(i, run.check_info.get(i), self._titles.get(i)) for i in ids]

    def _write_client(self, run: AuditResult, totals: Totals, client: str) -> Path:
        invocation: dict[str, Any] = {
            "executionSuccessful": totals.code in _SUCCESSFUL,
            "exitCode": totals.code,
        }
        if run.started_at:
            invocation["startTimeUtc"] = run.started_at.isoformat()
        if run.finished_at:
            invocation["endTimeUtc"] = run.finished_at.isoformat()
        if self._notifications.get(client):
            invocation["toolExecutionNotifications"] = self._notifications[client]
        sarif_run = {
            "tool": {
                "driver": {
                    "name": "social-care-auditor",
                    "version": run.tool_version,
                    "rules": self._rules(run),
                }
            },
            "automationDetails": {"id": f"social-care-auditor/{safe_name(client)}/{run.run_id}"},
            "invocations": [invocation],
            "properties": {"client": client, "config_sha256": run.config_sha256},
            "results": [],
        }
        log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [sarif_run]}
        head = orjson.dumps(log)
        # The log's last key is runs, the run's last key results: its "[]" and the closing
        # brackets are cut, the results copied in, and everything closed again.
        closing = b"[]}]}"
        assert head.endswith(closing)
        folder = self.folders.client(client, run.started_at, run.run_id)
        assert self._spool is not None
        return write_client_file(
            folder / FILE_NAME, head[: -len(closing)] + b"[", self._spool, client, b"]}]}\n"
        )

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
