"""The result object the engine returns and every report writer reads. Nothing else."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from auditor.check import SEVERITIES, Finding, Status, severity_rank

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3
# Another process has what the command needs: a scheduler holds the history store's lease, or
# a client asked for is being audited by another process (``auditor run --wait`` waits).
EXIT_BUSY = 4
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


def worst_exit_code(codes: Iterable[int]) -> int:
    """The exit code of several outcomes (one run's, the clients of ``auditor schedule
    --once``, a run some of whose clients were busy), by the one precedence of the exit codes:
    a stop signal > bad input > busy > a failing finding > incomplete > clean."""
    order = [EXIT_BAD_INPUT, EXIT_BUSY, EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK]
    chosen = list(codes)
    signals = [code for code in chosen if code >= EXIT_SIGNAL_BASE]
    if signals:
        return signals[0]
    known = [code for code in chosen if code in order]
    return min(known, key=order.index) if known else EXIT_OK


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _HeldSignals:
    depth = 0
    pending: int | None = None


def interrupt(signum: int) -> None:
    """What a stop signal's handler does with the first signal: raise :class:`Interrupted`
    where the run is, or, inside :func:`stop_signals_held`, as soon as the block is left."""
    if _HeldSignals.depth:
        _HeldSignals.pending = signum
        return
    raise Interrupted(signum)


@contextmanager
def stop_signals_held() -> Iterator[None]:
    """A step that must be done whole or not at all (an account handed to the writers, the
    reports closed): a first stop signal that comes meanwhile is raised when it is done."""
    _HeldSignals.depth += 1
    try:
        yield
    finally:
        _HeldSignals.depth -= 1
    if _HeldSignals.depth == 0 and _HeldSignals.pending is not None:
        signum, _HeldSignals.pending = _HeldSignals.pending, None
        raise Interrupted(signum)


# Worst first: how an account's status follows from its checks'.
ACCOUNT_STATUS_ORDER: tuple[str, ...] = ("error", "fail", "incomplete", "pass", "not_applicable")


def worst_status(statuses: Iterable[str], default: str = "not_applicable") -> str:
    """The worst of ``statuses`` by :data:`ACCOUNT_STATUS_ORDER` (an account's, a client's)."""
    present = set(statuses)
    return next((s for s in ACCOUNT_STATUS_ORDER if s in present), default)


# The gate (a baseline, the config's suppressions): what it makes of a finding, and of a check
# whose failing findings it all took (the check's raw status stays ``fail``; its gated status
# is one of these, and it no longer fails the run).
OPEN = "open"
EXISTING = "existing"
SUPPRESSED = "suppressed"
# fail_on that no finding reaches: nothing fails the run.
FAIL_ON_NEVER = "never"


def fail_on_rank(fail_on: str) -> int:
    """The rank a finding must reach to fail the run; ``never`` is above every severity."""
    return len(SEVERITIES) if fail_on == FAIL_ON_NEVER else severity_rank(fail_on)


def finding_state(finding: Finding) -> str:
    """``open``, ``existing`` (in the baseline) or ``suppressed``. The gate writes the state
    into the finding's own attributes only where it is not open, so that it travels with the
    finding, packed or not, and a report writes it beside the finding's other keys."""
    state: str = vars(finding).get("state", OPEN)
    return state


def finding_suppression(finding: Finding) -> Mapping[str, Any] | None:
    """The suppression a suppressed finding carries: index, line, reason, owner, expires."""
    suppression: Mapping[str, Any] | None = vars(finding).get("suppression")
    return suppression


def mark_finding(
    finding: Finding, state: str, suppression: Mapping[str, Any] | None = None
) -> None:
    """Set a finding's gate state (``existing``, ``suppressed`` with its suppression)."""
    attributes = vars(finding)
    attributes["state"] = state
    if suppression is not None:
        attributes["suppression"] = suppression


@dataclass(slots=True)
class CheckGate:
    """What the gate made of one check's findings, set only on a check where it took one."""

    # The gated outcome: the raw status, or ``existing`` / ``suppressed`` for a check that
    # failed only on findings the gate took (existing when one of them is in the baseline).
    status: str
    # Its findings still open, by severity: what the exit code counts.
    open: dict[str, int]
    existing: int = 0
    suppressed: int = 0
    # The indexes of the suppressions that matched one of its findings.
    suppressions: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SuppressionInfo:
    """A suppression of the config as reports show it; ``problem`` says why one is not
    applied (expired, malformed)."""

    index: int
    line: int | None
    check: str | None
    account: str | None
    finding: str | None
    reason: str | None
    owner: str | None
    expires: str | None
    problem: str | None = None

    @property
    def label(self) -> str:
        """``suppressions[2]``: its key path in the config, as messages name it."""
        return f"suppressions[{self.index}]"


@dataclass(slots=True)
class GatingSetup:
    """What a run gates by, as its reports say it: the baseline and the suppressions."""

    baseline: str | None = None
    baseline_findings: int = 0
    applied: list[SuppressionInfo] = field(default_factory=list)
    expired: list[SuppressionInfo] = field(default_factory=list)
    malformed: list[SuppressionInfo] = field(default_factory=list)


def gated_status(check: CheckResult) -> str:
    """The check's status once the gate has looked: its raw status unless the gate took
    every finding it failed on."""
    return check.status if check.gate is None else check.gate.status


@runtime_checkable
class EncodedFindings(Protocol):
    """Findings that arrive already written as JSON (from a worker process): writers embed
    ``json`` as it is, and ``worst``, the rank of the most severe (-1 for none), is known
    without decoding them."""

    json: bytes
    worst: int
    # How many findings of each severity.
    severities: Mapping[str, int]


def worst_severity(findings: Sequence[Finding]) -> int:
    """The rank of the most severe finding, -1 for none; packed findings know it unopened."""
    if isinstance(findings, EncodedFindings):
        return findings.worst
    return max((severity_rank(f.severity) for f in findings), default=-1)


def count_at_or_above(findings: Sequence[Finding], rank: int) -> int:
    """The findings whose severity ranks ``rank`` or more; packed findings know it unopened."""
    if isinstance(findings, EncodedFindings):
        return sum(
            n for severity, n in findings.severities.items() if severity_rank(severity) >= rank
        )
    return sum(1 for f in findings if severity_rank(f.severity) >= rank)


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
    # Set by the gate where it took one of the findings (baseline, suppression).
    gate: CheckGate | None = None


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


@dataclass(frozen=True, slots=True)
class ResolvedFinding:
    """A finding of the last audit that this one no longer has."""

    uid: str
    check_id: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One tracked figure in the last audit and in this one (None: not measured then)."""

    name: str
    before: float | None
    after: float | None


@dataclass(slots=True)
class SinceLast:
    """What changed since the last audit of the same account that was not interrupted
    (``auditor.engine.since_last``): findings by uid, and the tracked metrics."""

    previous_run: str
    previous_started_at: datetime
    # The uids of this audit's findings that the last audit did not have; the others are
    # still open.
    new: frozenset[str]
    still_open: int
    resolved: list[ResolvedFinding]
    metrics: list[MetricChange]

    def change(self, uid: str) -> str:
        """``new`` or ``still open``: what a finding of this audit is since the last one."""
        return "new" if uid in self.new else "still open"


@dataclass(frozen=True, slots=True)
class AuditPoint:
    """One audit of an account as its trend shows it: the run, when it started, the account's
    status then, and the figures its checks tracked (``Check.tracked``; None: not measured)."""

    run: str
    started_at: datetime
    status: str
    figures: Mapping[str, float | None]


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
    # The line of the account's entry in the config file (where a SARIF alert points).
    config_line: int | None = None
    # Change since the account's last audit; None on its first (or with no history store).
    since_last: SinceLast | None = None
    # The account's audits in the history store, oldest first, ending with this one; empty
    # without a store (``auditor.engine.since_last``).
    trend: list[AuditPoint] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.account}"


@dataclass(slots=True)
class ClientResult:
    name: str
    accounts: list[AccountResult] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """What a writer may say of a check beyond its results: a SARIF rule's descriptions."""

    title: str
    severity: str
    rationale: str
    remediation: str


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
    # Per check id, its docs in brief (title, default severity, why, how to fix).
    check_info: dict[str, CheckInfo] = field(default_factory=dict)
    clients: list[ClientResult] = field(default_factory=list)
    # Bad input found (a bundle line, a missing account): the run exits 2 whatever else.
    input_errors: list[str] = field(default_factory=list)
    finished_at: datetime | None = None
    # The signal that stopped the run, if one did (its unfinished accounts are incomplete).
    interrupted: int | None = None
    # A stop signal that came as the run was being closed: it waited until the reports were
    # written and the store closed (the run is whole), then the command stops as asked.
    stopped_after: int | None = None
    # --soft-fail: exit 1 and 3 become 0 (the reports still say what the code would have been).
    soft_fail: bool = False
    # The baseline and suppressions the run gates by; None when it has neither.
    gating: GatingSetup | None = None

    # Every account the run has given out, in figures: what the exit code is computed from,
    # whether the accounts themselves are kept (``clients``) or streamed to the writers.
    tally: Tally = field(default_factory=lambda: Tally(), repr=False, compare=False)

    def __post_init__(self) -> None:
        for account in self.accounts():
            self.tally.add(account)

    def accounts(self) -> list[AccountResult]:
        return [a for c in self.clients for a in c.accounts]

    def add(self, account: AccountResult, *, keep: bool) -> None:
        """One more account of the run, in config order: counted, and kept in ``clients`` when
        ``keep`` (a run whose accounts stream to writers keeps none of them)."""
        self.tally.add(account)
        if not keep:
            return
        if not self.clients or self.clients[-1].name != account.client:
            self.clients.append(ClientResult(account.client))
        self.clients[-1].accounts.append(account)

    def exit_code(self) -> int:
        """130/143 interrupted, else 2 bad input, else 1 a failure at or above fail_on, else 3
        incomplete or error, else 0."""
        return self.totals().code

    def totals(self, fetch_incomplete: Mapping[str, str] | None = None) -> Totals:
        """The run in figures and the reasons for its exit code; ``fetch_incomplete`` (account
        key: reason) adds the accounts whose fetch was incomplete, as the command exits."""
        totals = self.tally.totals(
            self.input_errors, self.interrupted, fetch_incomplete or {}, soft_fail=self.soft_fail
        )
        if self.gating is not None:
            used = self.tally.suppressions_used
            unmatched = [s for s in self.gating.applied if s.index not in used]
            totals = replace(totals, unmatched_suppressions=unmatched)
        return totals


# What Tally.incomplete holds for an account whose data is known to be missing and whose checks
# did not say so: "data", unless its fetch said it first.
_DATA = "data"
# The labels of an account that failed before its checks: its fetch, or its input.
_FETCH = "fetch"
_NOT_AUDITED = "not audited"


@dataclass(slots=True)
class Tally:
    """A run's accounts in figures, added one at a time: the exit code and the closing line
    follow from it, and it keeps nothing of an account but its key and a few counts, so that
    a run of any size can stream its accounts to the writers."""

    accounts: int = 0
    account_statuses: Counter[str] = field(default_factory=Counter)
    # Checks by status.
    statuses: Counter[str] = field(default_factory=Counter)
    # Per account key: its findings at or above its fail_on, in checks that failed.
    failing: dict[str, int] = field(default_factory=dict)
    fail_on: dict[str, str] = field(default_factory=dict)
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    # Findings the gate took, and the suppressions (by index) that matched one.
    existing: int = 0
    suppressed: int = 0
    suppressions_used: set[int] = field(default_factory=set)

    def add(self, account: AccountResult) -> None:
        self.accounts += 1
        self.account_statuses[account.status] += 1
        key = account.key
        threshold = self.fail_on[key] = account.policy.get("fail_on", "high")
        rank = fail_on_rank(threshold)
        labels: list[str] = []
        if account.status == "error" and not account.checks:
            labels = [_NOT_AUDITED]
        if account.coverage.reason == INTERRUPTED and not account.checks:
            labels = [INTERRUPTED]
        for check in account.checks:
            gate = check.gate
            self.statuses[check.status if gate is None else gate.status] += 1
            if gate is not None:
                self.existing += gate.existing
                self.suppressed += gate.suppressed
                self.suppressions_used.update(gate.suppressions)
                if gate.status == "fail":
                    self._count_failing(key, _open_at_or_above(gate, rank))
            elif check.status == "fail" and worst_severity(check.findings) >= rank:
                self._count_failing(key, count_at_or_above(check.findings, rank))
            elif check.status in ("incomplete", "error"):
                labels.append(check.id if check.status == "incomplete" else f"{check.id} error")
        if not labels and account.coverage.complete is False:
            # Data known to be missing is incomplete whatever the checks made of it (each
            # passed, or could not apply): the report's exit code is the command's.
            labels = [_DATA]
        if labels:
            self.incomplete[key] = labels

    def _count_failing(self, key: str, findings: int) -> None:
        if findings:
            self.failing[key] = self.failing.get(key, 0) + findings

    def totals(
        self,
        input_errors: Sequence[str],
        interrupted: int | None,
        fetch_incomplete: Mapping[str, str],
        *,
        soft_fail: bool = False,
    ) -> Totals:
        incomplete: dict[str, list[str]] = {}
        for key, labels in self.incomplete.items():
            if key in fetch_incomplete:
                # The fetch's own reason says why the data is missing; "data" would repeat it.
                labels = [label for label in labels if label != _DATA]
            if labels or key in fetch_incomplete:
                incomplete[key] = list(labels)
        for key in fetch_incomplete:
            incomplete.setdefault(key, []).insert(0, _FETCH)
        raised = [
            code
            for code, holds in (
                (EXIT_BAD_INPUT, bool(input_errors)),
                (EXIT_FAILED, bool(self.failing)),
                (EXIT_INCOMPLETE, bool(incomplete)),
            )
            if holds
        ]
        if interrupted is not None:
            raised.append(EXIT_SIGNAL_BASE + interrupted)
        code = worst_exit_code(raised)
        softened_from = None
        if soft_fail and code in (EXIT_FAILED, EXIT_INCOMPLETE):
            # --soft-fail reports as usual and lets the pipeline go on: only a failure or an
            # incomplete audit is softened, never bad input or a stop signal.
            softened_from, code = code, EXIT_OK
        return Totals(
            code=code,
            accounts=self.accounts,
            checks=dict(self.statuses),
            failing=dict(self.failing),
            fail_on=dict(self.fail_on),
            incomplete=incomplete,
            input_errors=len(input_errors),
            interrupted=None if interrupted is None else signal_name(interrupted),
            existing=self.existing,
            suppressed=self.suppressed,
            softened_from=softened_from,
        )


def _open_at_or_above(gate: CheckGate, rank: int) -> int:
    return sum(n for severity, n in gate.open.items() if severity_rank(severity) >= rank)


@dataclass(frozen=True, slots=True)
class Totals:
    """A run in a few figures and why it exits as it does: what the terminal's closing line
    says, computed by the same rule as the exit code."""

    code: int
    accounts: int
    # Checks by status.
    checks: dict[str, int]
    # Per account key: its findings at or above its fail_on, in checks that failed.
    failing: dict[str, int]
    # Per account key: its fail_on.
    fail_on: dict[str, str]
    # Per account key: what is incomplete (check ids, "RSP001 error", "fetch", "not audited").
    incomplete: dict[str, list[str]]
    input_errors: int
    # The name of the signal that stopped the run (SIGINT, SIGTERM), if one did.
    interrupted: str | None = None
    # Findings the gate took: in the baseline, suppressed.
    existing: int = 0
    suppressed: int = 0
    # The code --soft-fail turned into 0 (1 or 3), if it did.
    softened_from: int | None = None
    # The suppressions that matched no finding of the run.
    unmatched_suppressions: list[SuppressionInfo] = field(default_factory=list)

    def failing_findings(self) -> int:
        """The findings at or above their account's fail_on, in the failing checks."""
        return sum(self.failing.values())

    def failed_accounts(self) -> list[str]:
        """The keys of the accounts whose fetch failed or that were not audited at all."""
        return [
            key
            for key, labels in self.incomplete.items()
            if _FETCH in labels or _NOT_AUDITED in labels
        ]


class AccountSink(Protocol):
    """Where a run's accounts go as they are audited: ``begin`` once, then ``account`` for each
    in config order (whatever order they finish in), then ``end`` once the run is closed. A
    run that fails on the way calls ``abort`` instead of ``end``: nothing half made may stay."""

    def begin(self, run: AuditResult) -> None: ...

    def account(self, account: AccountResult) -> None: ...

    def end(self, run: AuditResult) -> None: ...

    def abort(self) -> None: ...
