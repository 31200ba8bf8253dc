"""The contract between the engine and every check, built-in or third-party.

A check is a :class:`Check` value: metadata, docs, a parameter schema and a pure function from an
:class:`AuditContext` to a :class:`CheckOutput`. The engine decides the status from what the
function returns (see :func:`status_of`), so every check follows the same rules.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from auditor.model import AccountData, Post, SeenPost, Window

Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["pass", "fail", "incomplete", "not_applicable", "error"]

SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}
CHECK_ID = re.compile(r"^[A-Z]{1,8}[0-9]{3}$")
DOC_SECTIONS = ("Why it matters", "Example", "How to fix")

T = TypeVar("T")


def severity_rank(severity: str) -> int:
    return _RANK[severity]


@dataclass(frozen=True, slots=True)
class Needs:
    """What data a check needs; without it the check is ``not_applicable``, never ``pass``."""

    profile: bool = False
    posts: bool = False
    conversations: bool = False
    history: bool = False
    # What the window must have been able to see (``hidden``, ``deleted``, ...).
    observes: frozenset[str] = frozenset()
    # True for checks that conclude from absence (a post no longer there): they need to know
    # that everything in the window arrived.
    complete_window: bool = False


# Evidence and findings are built by the hundred thousand in a large audit: plain slotted
# dataclasses, since a frozen one sets each field through object.__setattr__ (twice the cost).
@dataclass(slots=True)
class Evidence:
    post_ids: tuple[str, ...] = ()
    conversation_ids: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    timestamps: tuple[datetime, ...] = ()
    excerpt: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, ...]:
        # Findings travel from worker processes by the hundred thousand: a plain tuple pickles
        # in C, where the dataclass default calls fields() for every object (14 us a finding).
        return (
            Evidence,
            (
                self.post_ids,
                self.conversation_ids,
                self.urls,
                self.timestamps,
                self.excerpt,
                self.data,
            ),
        )


@dataclass(slots=True)
class Finding:
    check_id: str
    platform: str
    account: str
    evidence_id: str
    message: str
    severity: Severity
    evidence: Evidence = field(default_factory=Evidence)
    # Stable across runs: the same problem on the same post has the same uid.
    uid: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        key = "\x1f".join((self.check_id, self.platform, self.account, self.evidence_id))
        self.uid = hashlib.sha256(key.encode()).hexdigest()[:20]

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            Finding,
            (
                self.check_id,
                self.platform,
                self.account,
                self.evidence_id,
                self.message,
                self.severity,
                self.evidence,
            ),
        )


@dataclass(slots=True)
class CheckOutput:
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    # A check may decide from the data that it cannot judge (say, no customer posts at all).
    not_applicable: str | None = None


class History(Protocol):
    """What earlier audits saw of this account (the history store, read-only)."""

    def previous_posts(self) -> Mapping[str, SeenPost]: ...


@dataclass(slots=True)
class AuditContext:
    account: AccountData
    window: Window | None
    check: Check
    params: Mapping[str, Any]
    severity: Severity
    policy: Mapping[str, Any]
    history: History | None = None
    # Shared by every check of one account: derived data computed once (thread analysis ...).
    cache: dict[str, Any] = field(default_factory=dict)

    def finding(
        self,
        evidence_id: str,
        message: str,
        *,
        severity: Severity | None = None,
        evidence: Evidence | None = None,
    ) -> Finding:
        return Finding(
            self.check.id,
            self.account.platform,
            self.account.account,
            evidence_id,
            message,
            severity or self.severity,
            evidence if evidence is not None else Evidence(),
        )

    def derived(self, name: str, compute: Callable[[], T]) -> T:
        if name not in self.cache:
            self.cache[name] = compute()
        value: T = self.cache[name]
        return value


def excerpt(text: str, limit: int = 140) -> str:
    short = " ".join(text[: limit * 2].split())
    return short if len(short) <= limit else short[: limit - 1] + "…"


def post_evidence(post: Post, *, excerpt_chars: int = 140, **data: Any) -> Evidence:
    return Evidence(
        post_ids=(post.id,),
        urls=(post.url,) if post.url else (),
        timestamps=(post.created_at,),
        excerpt=excerpt(post.text, excerpt_chars),
        data=data,
    )


@dataclass(frozen=True)
class Check:
    """One check's metadata and its function. Third-party checks are built the same way."""

    id: str
    title: str
    version: str
    severity: Severity
    rationale: str
    remediation: str
    docs: str
    run: Callable[[AuditContext], CheckOutput]
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    needs: Needs = Needs()
    # Findings below this severity are notes: they do not make the check fail.
    fail_severity: Severity = "low"

    @property
    def defaults(self) -> dict[str, Any]:
        properties = self.parameters.get("properties", {})
        return {name: spec["default"] for name, spec in properties.items() if "default" in spec}

    def missing_doc_sections(self) -> list[str]:
        return [s for s in DOC_SECTIONS if not re.search(rf"^#+\s*{s}\s*$", self.docs, re.M)]


def status_of(check: Check, output: CheckOutput, *, data_complete: bool | None) -> Status:
    """The one rule for every check's status.

    ``fail`` when a finding is at or above the check's failing severity (even on an incomplete
    window: what did arrive is enough to fail), ``not_applicable`` when the check said so,
    ``incomplete`` when the data was known to be incomplete, else ``pass``.
    """
    threshold = severity_rank(check.fail_severity)
    if any(severity_rank(f.severity) >= threshold for f in output.findings):
        return "fail"
    if output.not_applicable:
        return "not_applicable"
    if data_complete is False:
        return "incomplete"
    return "pass"
