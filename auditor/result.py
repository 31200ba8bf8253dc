"""The result object the engine returns and every report writer reads. Nothing else."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, overload

import orjson

from auditor.check import Evidence, Finding, Status, severity_rank

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3

# Worst first: how an account's status follows from its checks'.
ACCOUNT_STATUS_ORDER: tuple[str, ...] = ("error", "fail", "incomplete", "pass", "not_applicable")


_SEVERITY = attrgetter("severity")


class PackedFindings(Sequence[Finding]):
    """A check's findings as one JSON document, for the trip from a worker process.

    A large audit sends hundreds of thousands of findings to the parent: pickled as objects
    they cost several microseconds each on both sides, as JSON one orjson call, and the JSON
    report embeds them as they are. They are decoded only if something asks for them.
    """

    __slots__ = ("_items", "json", "length", "worst")

    def __init__(self, json: bytes, length: int, worst: int) -> None:
        self.json, self.length, self.worst = json, length, worst
        self._items: list[Finding] | None = None

    @classmethod
    def pack(cls, findings: Sequence[Finding]) -> PackedFindings:
        # Severities are few: rank each distinct one (a set built in C), not every finding.
        severities = set(map(_SEVERITY, findings))
        worst = max(map(severity_rank, severities), default=-1)
        return cls(orjson.dumps(list(findings)), len(findings), worst)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedFindings, (self.json, self.length, self.worst))

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Finding]: ...
    def __getitem__(self, index: int | slice) -> Finding | Sequence[Finding]:
        return self._decoded()[index]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def _decoded(self) -> list[Finding]:
        if self._items is None:
            self._items = [_finding(item) for item in orjson.loads(self.json)]
        return self._items


def _finding(item: dict[str, Any]) -> Finding:
    evidence = item["evidence"]
    return Finding(
        check_id=item["check_id"],
        platform=item["platform"],
        account=item["account"],
        evidence_id=item["evidence_id"],
        message=item["message"],
        severity=item["severity"],
        evidence=Evidence(
            post_ids=tuple(evidence["post_ids"]),
            conversation_ids=tuple(evidence["conversation_ids"]),
            urls=tuple(evidence["urls"]),
            timestamps=tuple(datetime.fromisoformat(t) for t in evidence["timestamps"]),
            excerpt=evidence["excerpt"],
            data=evidence["data"],
        ),
    )


def worst_severity(findings: Sequence[Finding]) -> int:
    """The rank of the most severe finding, -1 for none; packed findings know it unopened."""
    if isinstance(findings, PackedFindings):
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
