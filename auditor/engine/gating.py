"""The gate: which findings still fail a run once a baseline and the config's suppressions have
had their say.

A **baseline** is a file of finding uids (``auditor baseline create``): a finding in it is
``existing``. A **suppression** (the config's ``suppressions`` list) takes the findings of a
check id or prefix, on every account or one, or one finding by uid, for a stated reason until an
optional date: those are ``suppressed``. Neither hides a finding: it stays in every report with
its state; it only stops counting towards the exit code.

The gate is applied in one place, :meth:`Gate.apply`, as each account's audit ends (in the
worker process that audited it, before its findings are packed): the state travels inside
each finding, and the check's gated outcome (:class:`~auditor.result.CheckGate`) beside it, so
that the tally, the JSON report and every other writer read the same thing, and the parent
never decodes a finding for it. A run with no baseline and no suppression has no gate at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson

from auditor import __version__
from auditor.check import Finding, severity_rank
from auditor.config import Config
from auditor.fsutil import atomic_write_bytes
from auditor.result import (
    EXISTING,
    SUPPRESSED,
    AccountResult,
    AuditResult,
    CheckGate,
    CheckResult,
    EncodedFindings,
    GatingSetup,
    SuppressionInfo,
    mark_finding,
)

BASELINE_FORMAT = "social-care-auditor-baseline"
# The major version a reader must know; a minor addition keeps it.
BASELINE_VERSION = 1
_UID = re.compile(r"^[0-9a-f]{20}$")
# A check id (ABC001) or the start of one (ABC, ABC00), as policy.select takes them.
_CHECK_SELECTOR = re.compile(r"^[A-Z]{1,8}[0-9]{0,3}$")


_SEVERITY = attrgetter("severity")


class GatingError(Exception):
    """A baseline that cannot be used; ``str()`` is one line naming the file."""


# ---------------------------------------------------------------------------------------------
# Suppressions


@dataclass(frozen=True, slots=True)
class Suppression:
    """One applied suppression, ready to match: what it takes, and what a finding it takes
    carries (``mark``)."""

    info: SuppressionInfo
    check: str
    platform: str | None
    handle: str | None
    finding: str | None
    mark: Mapping[str, Any]

    @property
    def index(self) -> int:
        return self.info.index

    def covers_account(self, platform: str, handle: str) -> bool:
        if self.handle is not None and self.handle != _folded(handle):
            return False
        return self.platform is None or self.platform == platform.lower()

    def covers_check(self, check_id: str) -> bool:
        return check_id.startswith(self.check)


def _folded(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _expiry(value: Any) -> date | None:
    """``expires`` as a date: YAML reads ``2027-01-31`` as one, a quoted one is text."""
    if isinstance(value, datetime):
        return None  # a time is not a date: the day it ends on would be a guess
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _problem(entry: Mapping[str, Any]) -> str | None:
    """Why a suppression that passed the schema cannot be applied as written, or None."""
    check = str(entry.get("check", "")).strip().upper()
    if not _CHECK_SELECTOR.match(check):
        return (
            f"check {entry.get('check')!r} is neither a check id (ABC001) nor the start of one "
            "(ABC)"
        )
    account = entry.get("account")
    if account is not None:
        platform, _, handle = str(account).rpartition(":")
        if not _folded(handle) or (":" in str(account) and not platform.strip()):
            return f"account {account!r} is not [platform:]handle"
    finding = entry.get("finding")
    if finding is not None and not _UID.match(str(finding)):
        return f"finding {finding!r} is not a finding uid (20 hex digits, as reports show it)"
    if "expires" in entry and _expiry(entry["expires"]) is None:
        return f"expires {entry['expires']!r} is not a date (YYYY-MM-DD)"
    return None


def read_suppressions(
    config: Config, today: date
) -> tuple[list[Suppression], list[SuppressionInfo], list[SuppressionInfo]]:
    """The config's suppressions: those applied, those expired before ``today``, those
    malformed (the schema has checked their keys and types; this checks their values)."""
    entries = config.document.data.get("suppressions") or []
    applied: list[Suppression] = []
    expired: list[SuppressionInfo] = []
    malformed: list[SuppressionInfo] = []
    for index, entry in enumerate(entries):
        expires = _expiry(entry.get("expires"))
        info = SuppressionInfo(
            index=index,
            line=config.document.line(["suppressions", index]),
            check=_text(entry.get("check")),
            account=_text(entry.get("account")),
            finding=_text(entry.get("finding")),
            reason=_text(entry.get("reason")),
            owner=_text(entry.get("owner")),
            expires=expires.isoformat() if expires else _text(entry.get("expires")),
        )
        problem = _problem(entry)
        if problem is not None:
            malformed.append(_with_problem(info, problem))
        elif expires is not None and expires < today:
            expired.append(_with_problem(info, f"expired on {expires.isoformat()}"))
        else:
            applied.append(_suppression(info))
    return applied, expired, malformed


def _with_problem(info: SuppressionInfo, problem: str) -> SuppressionInfo:
    return SuppressionInfo(**{**_as_dict(info), "problem": problem})


def _as_dict(info: SuppressionInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in info.__slots__}


def _suppression(info: SuppressionInfo) -> Suppression:
    assert info.check is not None
    platform, handle = None, None
    if info.account is not None:
        named_platform, _, named_handle = info.account.rpartition(":")
        platform = named_platform.strip().lower() or None
        handle = _folded(named_handle)
    mark = {
        "index": info.index,
        "line": info.line,
        "reason": info.reason,
        "owner": info.owner,
        "expires": info.expires,
    }
    return Suppression(
        info, info.check.strip().upper(), platform, handle, _text(info.finding), mark
    )


# ---------------------------------------------------------------------------------------------
# Baselines


def read_baseline(path: Path) -> frozenset[str]:
    """The finding uids a baseline file holds; :class:`GatingError` (one line) when it cannot
    be read or is not a baseline."""
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as error:
        raise GatingError(f"baseline {path}: cannot read it: {error.strerror or error}") from None
    except orjson.JSONDecodeError as error:
        raise GatingError(
            f"baseline {path}: not JSON ({error}); recreate it with 'auditor baseline create'"
        ) from None
    if not isinstance(document, dict) or document.get("format") != BASELINE_FORMAT:
        raise GatingError(
            f'baseline {path}: not a baseline (no "format": "{BASELINE_FORMAT}"); create one '
            "with 'auditor baseline create CONFIG -o FILE'"
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != BASELINE_VERSION:
        raise GatingError(
            f"baseline {path}: version {version!r} is not {BASELINE_VERSION}, the version this "
            "tool reads; recreate it with 'auditor baseline create'"
        )
    findings = document.get("findings")
    if not isinstance(findings, dict):
        raise GatingError(f'baseline {path}: "findings" is not an object of finding uids')
    bad = next((uid for uid in findings if not _UID.match(uid)), None)
    if bad is not None:
        raise GatingError(f'baseline {path}: {bad[:40]!r} in "findings" is not a finding uid')
    return frozenset(findings)


def baseline_document(
    findings: Mapping[str, tuple[str, str]], created_at: datetime, config: Path
) -> bytes:
    """A baseline file's bytes: per uid (sorted) its check id and account, for a reader."""
    document = {
        "format": BASELINE_FORMAT,
        "version": BASELINE_VERSION,
        "tool_version": __version__,
        "created_at": created_at.isoformat(),
        "config": str(config),
        "findings": {
            uid: {"check": check, "account": account}
            for uid, (check, account) in sorted(findings.items())
        },
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def write_baseline(
    path: Path, findings: Mapping[str, tuple[str, str]], created_at: datetime, config: Path
) -> Path:
    """Write a baseline atomically: the old file stays whole until the new one replaces it."""
    return atomic_write_bytes(path, baseline_document(findings, created_at, config))


class BaselineFindings:
    """A sink that collects every finding's uid, check and account as accounts are handed on
    (``begin``, ``account``, ``end``, ``abort``: :class:`~auditor.result.AccountSink`)."""

    def __init__(self) -> None:
        self.findings: dict[str, tuple[str, str]] = {}

    def begin(self, run: AuditResult) -> None:
        self.findings.clear()

    def account(self, account: AccountResult) -> None:
        where = account.key
        for check in account.checks:
            for uid in _uids(check):
                self.findings[uid] = (check.id, where)

    def end(self, run: AuditResult) -> None:
        return None

    def abort(self) -> None:
        self.findings.clear()


def _uids(check: CheckResult) -> list[str]:
    findings = check.findings
    if isinstance(findings, EncodedFindings):
        # Packed findings are read as plain JSON for their uids, not made into objects.
        return [item["uid"] for item in orjson.loads(findings.json)]
    return [finding.uid for finding in findings]


# ---------------------------------------------------------------------------------------------
# The gate


@dataclass(frozen=True, slots=True)
class Gate:
    """The baseline's uids and the applied suppressions, applied to each account's checks."""

    baseline: frozenset[str]
    suppressions: Sequence[Suppression]
    setup: GatingSetup

    def apply(
        self,
        platform: str,
        handle: str,
        checks: Sequence[CheckResult],
        fail_severity: Callable[[str], str],
    ) -> None:
        """Mark the findings of one account's checks the gate takes, and set each such
        check's gated outcome; ``fail_severity(check_id)`` is the check's failing severity."""
        rules = [s for s in self.suppressions if s.covers_account(platform, handle)]
        if not rules and not self.baseline:
            return
        for check in checks:
            if check.findings:
                self._apply_to_check(
                    check,
                    [s for s in rules if s.covers_check(check.id)],
                    severity_rank(fail_severity(check.id)),
                )

    def _apply_to_check(self, check: CheckResult, rules: list[Suppression], failing: int) -> None:
        if not rules and not self.baseline:
            return
        # A suppression naming the finding first, then one naming none, in config order.
        by_uid: dict[str, Suppression] = {}
        for rule in rules:
            if rule.finding is not None:
                by_uid.setdefault(rule.finding, rule)
        whole = next((rule for rule in rules if rule.finding is None), None)
        used: set[int] = {rule.index for rule in rules if rule.finding is None}
        baseline = self.baseline
        # A large audit gates hundreds of thousands of findings: the loop only sorts them,
        # and the severities are counted after it, in C.
        existing: list[Finding] = []
        suppressed = 0
        open_findings: list[Finding] = []
        for finding in check.findings:
            uid = finding.uid
            taker = by_uid.get(uid) if by_uid else None
            if taker is not None:
                used.add(taker.index)
            else:
                taker = whole
            if taker is not None:
                mark_finding(finding, SUPPRESSED, taker.mark)
                suppressed += 1
            elif uid in baseline:
                # What mark_finding(finding, EXISTING) does, without a call per finding.
                finding.__dict__["state"] = EXISTING
                existing.append(finding)
            else:
                open_findings.append(finding)
        if not existing and not suppressed:
            return
        open_severities = Counter(map(_SEVERITY, open_findings))
        status: str = check.status
        if status == "fail" and not any(severity_rank(s) >= failing for s in open_severities):
            existing_failing = any(
                severity_rank(s) >= failing for s in set(map(_SEVERITY, existing))
            )
            status = EXISTING if existing_failing else SUPPRESSED
        check.gate = CheckGate(
            status, dict(open_severities), len(existing), suppressed, tuple(sorted(used))
        )


def build_gate(config: Config, baseline: Path | None, today: date) -> Gate | None:
    """The run's gate, or None when it has no baseline and the config no suppression (the
    audit then does nothing extra). Raises :class:`GatingError` for an unusable baseline."""
    uids = read_baseline(baseline) if baseline is not None else frozenset()
    applied, expired, malformed = read_suppressions(config, today)
    if baseline is None and not (applied or expired or malformed):
        return None
    setup = GatingSetup(
        baseline=None if baseline is None else str(baseline),
        baseline_findings=len(uids),
        applied=[s.info for s in applied],
        expired=expired,
        malformed=malformed,
    )
    return Gate(uids, applied, setup)
