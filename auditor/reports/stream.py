"""The streaming writer interface every report format implements, and the sink that hands a
run's accounts to the writers chosen.

A run gives its accounts out one at a time, in config order, as they are audited
(:class:`auditor.result.AccountSink`); a writer keeps what it has written on disk, not in
memory, so that a run of any size needs the memory of its largest account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from auditor.result import AccountResult, AuditResult, Totals


class ReportWriter(Protocol):
    """One report format: ``begin`` once, ``account`` for each account in config order,
    ``end`` with the run's totals (what it wrote), or ``abort`` (nothing may stay)."""

    def begin(self, run: AuditResult) -> None: ...

    def account(self, account: AccountResult) -> None: ...

    def end(self, run: AuditResult, totals: Totals) -> list[Path]: ...

    def abort(self) -> None: ...


class Reports:
    """The writers one run streams to (an :class:`auditor.result.AccountSink`); at the end
    each gets the totals the command exits by (``fetch_incomplete``: the accounts whose fetch
    was incomplete, key: reason), the same in every report; ``written`` lists their files."""

    def __init__(
        self, writers: Sequence[ReportWriter], fetch_incomplete: Mapping[str, str] | None = None
    ) -> None:
        self.writers = list(writers)
        self.fetch_incomplete = dict(fetch_incomplete or {})
        self.written: list[Path] = []

    def begin(self, run: AuditResult) -> None:
        for writer in self.writers:
            writer.begin(run)

    def account(self, account: AccountResult) -> None:
        for writer in self.writers:
            writer.account(account)

    def end(self, run: AuditResult) -> None:
        totals = run.totals(self.fetch_incomplete)
        try:
            for writer in self.writers:
                self.written += writer.end(run, totals)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        for writer in self.writers:
            writer.abort()

    def write(self, run: AuditResult) -> None:
        """A run kept whole (rebuilt from the store), written by every writer; none is left
        half-written if one fails."""
        self.begin(run)
        try:
            for account in run.accounts():
                self.account(account)
        except BaseException:
            self.abort()
            raise
        self.end(run)


def write_result(result: AuditResult, writer: ReportWriter) -> list[Path]:
    """A run kept whole (``Engine.run`` without a sink), written by a streaming writer."""
    reports = Reports([writer])
    reports.write(result)
    return reports.written
