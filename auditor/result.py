"""The result object the engine returns and every report writer reads. Nothing else."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from auditor.check import Finding, Status, severity_rank

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3
# A run stopped by a signal exits 128 + its number, as a shell reports it: 130 for SIGINT
# (Ctrl-C), 143 for SIGTERM (systemd, Kubernetes, cron).
EXIT_SIGNAL_BASE = 128
# An account a stop signal left unaudited: its coverage's reason, and what the totals list.
INTERRUPTED = "interrupted"


class Interrupted(BaseException):
    """A stop signal reached the run (SIGINT or SIGTERM: one rule for both).

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` (a check's error,
    a source's) takes it for a failure of its own: it reaches the engine, which stops its
    workers and keeps what finished, or the command line."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_SIGNAL_BASE + self.signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# Worst first: how an account's status follows from its checks'.
ACCOUNT_STATUS_ORDER: tuple[str, ...] = ("error", "fail", "incomplete", "pass", "not_applicable")


@runtime_checkable
class EncodedFindings(Protocol):
    """Findings that arrive already written as JSON (from a worker process): writers embed
    ``json`` as it is, and ``worst``, the rank of the most severe (-1 for none), is known
    without decoding them."""

    json: bytes
    worst: int


def worst_severity(findings: Sequence[Finding]) -> int:
    """The rank of the most severe finding, -1 for none; packed findings know it unopened."""
    if isinstance(findings, EncodedFindings):
        return findings.worst
    return max((severity_rank(f.severity) for f in findings), default=-1)


@dataclass(slots=True)
class CheckResult:
    id: str
    title: str
    version: str
    severity: str
    status: Status
    summary: str
    findings: Sequence[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class Coverage:
    posts: int = 0
    customer_posts: int = 0
    brand_posts: int = 0
    threads: int = 0
    conversations: int = 0
    window_start: datetime | None = None
    window_end: datetime | None = None
    complete: bool | None = None
    reason: str | None = None
    # The kinds of data an incomplete window did not fully get (``Window.lost``).
    lost: list[str] | None = None
    observes: list[str] | None = None
    invalid_records: int = 0
    # Pages the fetch read (the window record's ``pages``); None for bundles made elsewhere.
    pages: int | None = None
    # What the source could not observe (hidden, deleted, conversations, automated).
    not_observable: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AccountResult:
    client: str
    platform: str
    account: str
    status: str
    coverage: Coverage
    policy: dict[str, Any]
    checks: list[CheckResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    source: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.account}"


@dataclass(slots=True)
class ClientResult:
    name: str
    accounts: list[AccountResult] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class InputFile:
    path: str
    sha256: str


@dataclass(slots=True)
class AuditResult:
    tool_version: str
    run_id: str
    started_at: datetime
    config_path: str
    config_sha256: str
    fail_on: str | None
    checks: dict[str, str]
    inputs: list[InputFile] = field(default_factory=list)
    clients: list[ClientResult] = field(default_factory=list)
    # Bad input found (a bundle line, a missing account): the run exits 2 whatever else.
    input_errors: list[str] = field(default_factory=list)
    finished_at: datetime | None = None
    # The signal that stopped the run, if one did (its unfinished accounts are incomplete).
    interrupted: int | None = None

    def accounts(self) -> list[AccountResult]:
        return [a for c in self.clients for a in c.accounts]

    def exit_code(self) -> int:
        """130/143 interrupted, else 2 bad input, else 1 a failure at or above fail_on, else 3
        incomplete or error, else 0."""
        return self.totals().code

    def totals(self, fetch_incomplete: Mapping[str, str] | None = None) -> Totals:
        """The run in figures and the reasons for its exit code; ``fetch_incomplete`` (account
        key: reason) adds the accounts whose fetch was incomplete, as the command exits."""
        statuses: Counter[str] = Counter()
        failing: dict[str, list[CheckResult]] = {}
        incomplete: dict[str, list[str]] = {}
        fail_on: dict[str, str] = {}
        for account in self.accounts():
            threshold = fail_on[account.key] = account.policy.get("fail_on", "high")
            if account.status == "error" and not account.checks:
                incomplete[account.key] = ["not audited"]
            if account.coverage.reason == INTERRUPTED and not account.checks:
                incomplete[account.key] = [INTERRUPTED]
            for check in account.checks:
                statuses[check.status] += 1
                failing_check = worst_severity(check.findings) >= severity_rank(threshold)
                if check.status == "fail" and failing_check:
                    failing.setdefault(account.key, []).append(check)
                elif check.status in ("incomplete", "error"):
                    label = check.id if check.status == "incomplete" else f"{check.id} error"
                    incomplete.setdefault(account.key, []).append(label)
            fetched = account.key in (fetch_incomplete or {})
            if account.coverage.complete is False and account.key not in incomplete and not fetched:
                # Data known to be missing is incomplete whatever the checks made of it (each
                # passed, or could not apply): the report's exit code is the command's.
                incomplete[account.key] = ["data"]
        for key in fetch_incomplete or {}:
            incomplete.setdefault(key, []).insert(0, "fetch")
        # The precedence of the exit codes, in this one place: interrupted > bad input > a
        # failing finding > incomplete or error > clean.
        if self.interrupted is not None:
            code = EXIT_SIGNAL_BASE + self.interrupted
        elif self.input_errors:
            code = EXIT_BAD_INPUT
        elif failing:
            code = EXIT_FAILED
        else:
            code = EXIT_INCOMPLETE if incomplete else EXIT_OK
        return Totals(
            code=code,
            accounts=len(self.accounts()),
            checks=dict(statuses),
            failing=failing,
            fail_on=fail_on,
            incomplete=incomplete,
            input_errors=len(self.input_errors),
            interrupted=None if self.interrupted is None else signal_name(self.interrupted),
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """A run in a few figures and why it exits as it does: what the terminal's closing line
    says, computed by the same rule as the exit code."""

    code: int
    accounts: int
    # Checks by status.
    checks: dict[str, int]
    # Per account key: its checks that failed with a finding at or above its fail_on.
    failing: dict[str, list[CheckResult]]
    # Per account key: its fail_on.
    fail_on: dict[str, str]
    # Per account key: what is incomplete (check ids, "RSP001 error", "fetch", "not audited").
    incomplete: dict[str, list[str]]
    input_errors: int
    # The name of the signal that stopped the run (SIGINT, SIGTERM), if one did.
    interrupted: str | None = None

    def failing_findings(self) -> int:
        """The findings at or above their account's fail_on, in the failing checks (findings
        packed by a worker are decoded only here, and only for those checks)."""
        total = 0
        for key, checks in self.failing.items():
            threshold = severity_rank(self.fail_on[key])
            total += sum(
                1 for c in checks for f in c.findings if severity_rank(f.severity) >= threshold
            )
        return total
