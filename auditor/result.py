"""The result object the engine returns and every report writer reads. Nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from auditor.check import Finding, Status, severity_rank

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3

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

    def accounts(self) -> list[AccountResult]:
        return [a for c in self.clients for a in c.accounts]

    def exit_code(self) -> int:
        """0 clean, 1 a failure at or above fail_on, 2 bad input, 3 incomplete or error."""
        if self.input_errors:
            return EXIT_BAD_INPUT
        incomplete = False
        for account in self.accounts():
            threshold = account.policy.get("fail_on", "high")
            if account.status == "error":
                incomplete = True
            for check in account.checks:
                failing = worst_severity(check.findings) >= severity_rank(threshold)
                if check.status == "fail" and failing:
                    return EXIT_FAILED
                if check.status in ("incomplete", "error"):
                    incomplete = True
        return EXIT_INCOMPLETE if incomplete else EXIT_OK
