"""What the reports read at a glance show (HTML, Markdown, the terminal): one row per account
with a cell per check, and per client its status, its failing checks and its trend.

Made from the result alone, one account at a time as the run streams them, so that every
readable format shows the same figures: a writer keeps these rows (a few numbers per check),
never the accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from auditor.reports.findings import finding_rows, since_last_line
from auditor.result import AccountResult, CheckResult, gated_status, worst_status

# Findings a readable report lists per check; the rest are counted ("and 212 more") and point
# at the CSV, which has every one.
SHOWN_PER_CHECK = 10
# The checks a readable report details under an account: those someone has to act on.
LISTED_STATUSES = frozenset({"fail", "incomplete", "error"})
# What a readable report makes a link of: anything else (javascript:, data:) is shown as text.
_LINK_SCHEMES = frozenset({"http", "https"})


def web_link(url: str | None) -> str | None:
    """``url`` when a report may make a link of it (http or https, with a host), else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in _LINK_SCHEMES and parts.hostname else None


def shown_time(moment: datetime | None) -> str:
    """A time as the readable reports show it: ISO 8601 to the second, "-" for none."""
    return "-" if moment is None else moment.isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class CheckCell:
    """One check of one account: its status once the gate looked, its findings, and how many
    of them are new since the account's last audit (None: no last audit to compare with)."""

    check_id: str
    status: str
    findings: int
    new: int | None


@dataclass(frozen=True, slots=True)
class TrendStep:
    """One past or present audit in a trend: when it started, and the status it gave."""

    run: str
    started_at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class AccountRow:
    client: str
    key: str
    status: str
    cells: dict[str, CheckCell]
    # "since last audit: 3 new, 2 resolved, ..." (None on the account's first audit).
    since_last: str | None
    trend: list[TrendStep]

    @property
    def failing(self) -> list[str]:
        """The ids of its checks that fail once the gate looked."""
        return [c.check_id for c in self.cells.values() if c.status == "fail"]


def _new_findings(check: CheckResult, account: AccountResult) -> int | None:
    since = account.since_last
    if since is None:
        return None
    if not check.findings or not since.new:
        return 0
    return sum(1 for row in finding_rows(check) if row.uid in since.new)


def account_row(account: AccountResult) -> AccountRow:
    """An account as the summary matrix shows it."""
    cells = {
        check.id: CheckCell(
            check.id, gated_status(check), len(check.findings), _new_findings(check, account)
        )
        for check in account.checks
    }
    return AccountRow(
        client=account.client,
        key=account.key,
        status=account.status,
        cells=cells,
        since_last=None if account.since_last is None else since_last_line(account.since_last),
        trend=[TrendStep(p.run, p.started_at, p.status) for p in account.trend],
    )


@dataclass(slots=True)
class ClientGlance:
    """A client at a glance: its accounts' rows, in config order."""

    name: str
    rows: list[AccountRow] = field(default_factory=list)

    @property
    def status(self) -> str:
        return worst_status((row.status for row in self.rows), "pass")

    @property
    def failing_checks(self) -> list[str]:
        """Every check id that fails on one of its accounts, sorted."""
        return sorted({check_id for row in self.rows for check_id in row.failing})

    @property
    def check_ids(self) -> list[str]:
        """The columns of its summary matrix: every check of its accounts, sorted."""
        return sorted({check_id for row in self.rows for check_id in row.cells})

    @property
    def trend(self) -> list[TrendStep]:
        """The client's status at each run that audited one of its accounts (the worst of
        those accounts' statuses then), oldest first."""
        return client_trend(self.rows)


def client_trend(rows: Iterable[AccountRow]) -> list[TrendStep]:
    started: dict[str, datetime] = {}
    statuses: dict[str, list[str]] = {}
    for row in rows:
        for step in row.trend:
            started.setdefault(step.run, step.started_at)
            statuses.setdefault(step.run, []).append(step.status)
    ordered = sorted(started, key=lambda run: (started[run], run))
    return [TrendStep(run, started[run], worst_status(statuses[run], "pass")) for run in ordered]


class Glances:
    """The clients of a run at a glance, filled one account at a time (config order)."""

    def __init__(self) -> None:
        self.clients: list[ClientGlance] = []

    def add(self, account: AccountResult) -> AccountRow:
        row = account_row(account)
        if not self.clients or self.clients[-1].name != account.client:
            self.clients.append(ClientGlance(account.client))
        self.clients[-1].rows.append(row)
        return row

    def client(self, name: str) -> ClientGlance:
        return next(c for c in self.clients if c.name == name)


def trend_marks(steps: Sequence[TrendStep], last: int = 8) -> str:
    """The last few statuses of a trend in words, oldest first: "pass -> fail -> fail"."""
    return " -> ".join(step.status for step in steps[-last:])


def relative_link(base: Path, target: Path) -> str:
    """A link from a file in ``base`` to ``target`` (a client's report, from an overview in the
    output folder): relative, with "/", every character a link could stop at percent-encoded."""
    return quote(target.relative_to(base).as_posix(), safe="/")
