"""The audit engine: accounts in, one :class:`~auditor.result.AuditResult` out.

It reads each bundle once, audits each account as soon as its records are complete, runs every
enabled check from the registry (it names none), keeps history in the store, and leaves rendering
to the writers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.bundle import BundleError, BundleStats, read_bundle
from auditor.check import AuditContext, Check, CheckOutput, status_of
from auditor.config import AccountConfig, Config, EffectivePolicy
from auditor.model import AccountData, AccountKey, Post, Window
from auditor.registry import Registry
from auditor.result import (
    ACCOUNT_STATUS_ORDER,
    AccountResult,
    AuditResult,
    CheckResult,
    ClientResult,
    Coverage,
    InputFile,
)
from auditor.store import FindingRecord, HistoryStore, PostObservation


@dataclass(frozen=True, slots=True)
class StoreHistory:
    """What earlier audits saw of one account, read on demand."""

    store: HistoryStore
    platform: str
    account: str
    before: datetime

    def previous_posts(self) -> Mapping[str, Any]:
        return self.store.previous_posts(self.platform, self.account, self.before)


def effective_window(data: AccountData) -> Window | None:
    """The bundle's window, or the span of the posts with completeness unknown."""
    if data.window is not None:
        return data.window
    if not data.posts:
        return None
    times = [p.created_at for p in data.posts]
    return Window(start=min(times), end=max(times), complete=None)


_MENTION = re.compile(r"@([A-Za-z0-9_.]+)")


def pseudonymise(data: AccountData, key: bytes, excluded: frozenset[str]) -> None:
    """Replace customer handles with stable keyed hashes, before any check or store sees them.

    Handles go from authors, author ids, links and @mentions in every text, so that neither a
    report nor the history store can name a customer.
    """
    brand = data.account.lower().lstrip("@")

    def alias(handle: str) -> str:
        digest = hmac.new(key, handle.lower().encode(), hashlib.sha256).hexdigest()
        return f"cust-{digest[:12]}"

    customers: dict[str, str] = {}
    for post in data.posts:
        author = post.author.lower().lstrip("@")
        if not post.by_brand and author != brand and author not in excluded:
            customers.setdefault(author, alias(author))
    for conversation in data.conversations:
        customers.setdefault(conversation.customer.lower(), alias(conversation.customer))

    def replace_mention(match: re.Match[str]) -> str:
        return "@" + customers.get(match.group(1).lower(), match.group(1))

    for post in data.posts:
        author = post.author.lower().lstrip("@")
        if author in customers and not post.by_brand:
            if post.url:
                post.url = post.url.replace(post.author, customers[author])
            post.author = customers[author]
            if post.author_id is not None:
                post.author_id = alias(post.author_id)
        if "@" in post.text:
            post.text = _MENTION.sub(replace_mention, post.text)
    for conversation in data.conversations:
        conversation.customer = customers[conversation.customer.lower()]
        for message in conversation.messages:
            if "@" in message.text:
                message.text = _MENTION.sub(replace_mention, message.text)


def _needs_unmet(
    check: Check, data: AccountData, window: Window | None, history: bool
) -> str | None:
    needs = check.needs
    if needs.profile and data.profile is None:
        return "no profile in the data"
    if needs.posts and window is None:
        return "no posts in the data"
    if needs.conversations and (window is None or not window.can_observe("conversations")):
        return "private conversations are not observed on this platform"
    if needs.history and not history:
        return "no history store"
    for what in sorted(needs.observes):
        if window is None or not window.can_observe(what):
            return f"the source cannot observe {what} posts"
    if needs.complete_window and (window is None or window.complete is not True):
        return "the window is not known to be complete"
    return None


def _data_complete(check: Check, data: AccountData, window_complete: bool | None) -> bool | None:
    """Skipped records leave every check short of data; a partial window only those reading it."""
    if data.invalid_records:
        return False
    needs = check.needs
    return window_complete if needs.posts or needs.conversations or needs.history else True


def run_check(check: Check, context: AuditContext, data_complete: bool | None) -> CheckResult:
    try:
        output = check.run(context)
        if not isinstance(output, CheckOutput):
            raise TypeError(f"returned {type(output).__name__}, not CheckOutput")
    except Exception as error:  # a check that raises must not stop the others
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
        return CheckResult(
            id=check.id, title=check.title, version=check.version, severity=context.severity,
            status="error", summary=message, error=message,
        )
    status = status_of(check, output, data_complete=data_complete)
    summary = output.summary or output.not_applicable or ""
    if status == "incomplete":
        summary = f"{summary} (data incomplete)" if summary else "data incomplete"
    return CheckResult(
        id=check.id,
        title=check.title,
        version=check.version,
        severity=context.severity,
        status=status,
        summary=summary,
        findings=output.findings,
        metrics=output.metrics,
        notes=output.notes,
    )


def worst_status(statuses: Iterable[str], default: str = "not_applicable") -> str:
    present = set(statuses)
    return next((s for s in ACCOUNT_STATUS_ORDER if s in present), default)


def coverage(data: AccountData, window: Window | None, threads: int) -> Coverage:
    brand_posts = sum(1 for p in data.posts if p.by_brand)
    return Coverage(
        posts=len(data.posts),
        customer_posts=len(data.posts) - brand_posts,
        brand_posts=brand_posts,
        threads=threads,
        conversations=len(data.conversations),
        window_start=window.start if window else None,
        window_end=window.end if window else None,
        complete=window.complete if window else None,
        reason=window.reason if window else None,
        observes=None if window is None or window.observes is None else sorted(window.observes),
        invalid_records=data.invalid_records,
    )


def _observations(posts: Iterable[Post]) -> Iterator[PostObservation]:
    for p in posts:
        yield PostObservation(
            post_id=p.id,
            created_at=p.created_at,
            author=p.author,
            by_brand=p.by_brand,
            visibility=p.visibility,
            deleted_by=p.deleted_by,
            text=p.text,
            url=p.url,
            thread=p.thread_id,
        )


class Engine:
    def __init__(
        self,
        config: Config,
        registry: Registry,
        *,
        store: HistoryStore | None = None,
        fail_on: str | None = None,
        skip_invalid: bool = False,
        clients: Iterable[str] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.fail_on = fail_on
        self.skip_invalid = skip_invalid
        self.client_filter = None if clients is None else set(clients)
        self.pseudonym_key = config.pseudonym_key()

    def accounts(self) -> list[AccountConfig]:
        return [
            a
            for a in self.config.accounts()
            if self.client_filter is None or a.client in self.client_filter
        ]

    def run(self, started_at: datetime | None = None) -> AuditResult:
        started = started_at or datetime.now(UTC)
        accounts = self.accounts()
        result = AuditResult(
            tool_version=__version__,
            run_id="",
            started_at=started,
            config_path=str(self.config.path),
            config_sha256=self.config.sha256,
            fail_on=self.fail_on,
            checks={c.id: c.version for c in self.registry},
        )
        by_path: dict[Path, list[AccountConfig]] = {}
        for account in accounts:
            assert account.source.path is not None
            by_path.setdefault(account.source.path, []).append(account)

        opened: list[tuple[Path, Iterator[AccountData], BundleStats]] = []
        results: dict[AccountKey, AccountResult] = {}
        for path, wanted in by_path.items():
            try:
                stream, stats = read_bundle(path, [a.key for a in wanted])
            except BundleError as error:
                result.input_errors.append(str(error))
                for account in wanted:
                    results[account.key] = self._error_result(account, [str(error)])
                continue
            opened.append((path, stream, stats))
            result.inputs.append(InputFile(str(path), stats.sha256))

        result.run_id = self._run_key(result)
        if self.store is not None:
            self.store.begin_run(result.run_id, self.config.sha256, __version__, started)
        newest: datetime | None = None
        configs = {a.key: a for a in accounts}
        for path, stream, stats in opened:
            try:
                for data in stream:
                    account_result = self._audit(configs[data.key], data, result.run_id)
                    results[data.key] = account_result
                    end = account_result.coverage.window_end
                    newest = end if newest is None or (end and end > newest) else newest
            except BundleError as error:
                result.input_errors.append(str(error))
            if not self.skip_invalid:
                bad_lines = stats.unattributed + stats.invalid
                result.input_errors.extend(str(e) for e in bad_lines[:20])
                if len(bad_lines) > 20:
                    result.input_errors.append(f"{path}: {len(bad_lines) - 20} more invalid lines")
            for account in by_path[path]:
                if account.key not in results:
                    message = f"{path}: no records for account {account.key}"
                    result.input_errors.append(message)
                    results[account.key] = self._error_result(account, [message])

        for client in self.config.clients:
            if self.client_filter is not None and client.name not in self.client_filter:
                continue
            result.clients.append(
                ClientResult(client.name, [results[a.key] for a in client.accounts])
            )
        result.finished_at = datetime.now(UTC)
        if self.store is not None:
            statuses = [a.status for a in result.accounts()]
            self.store.finish_run(
                result.run_id, result.finished_at, worst_status(statuses, default="pass")
            )
            if newest is not None:
                self.store.prune(newest)
        return result

    def _run_key(self, result: AuditResult) -> str:
        # The same config, inputs, tool and options are the same audit: rerunning it replaces
        # that run in the history instead of adding another.
        parts = [__version__, self.config.sha256, str(self.fail_on), str(self.skip_invalid)]
        parts += sorted(f"{i.path}={i.sha256}" for i in result.inputs)
        parts += sorted(self.client_filter or ())
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]

    def _policy(self, account: AccountConfig) -> EffectivePolicy:
        return EffectivePolicy.resolve(self.config, account, self.registry)

    def _error_result(self, account: AccountConfig, errors: list[str]) -> AccountResult:
        policy = self._policy(account).as_dict()
        if self.fail_on:
            policy["fail_on"] = self.fail_on
        return AccountResult(
            client=account.client,
            platform=account.platform,
            account=account.handle,
            status="error",
            coverage=Coverage(),
            policy=policy,
            errors=errors,
            source=str(account.source.path),
        )

    def _audit(self, account: AccountConfig, data: AccountData, run_id: str) -> AccountResult:
        policy = self._policy(account)
        policy_dict = policy.as_dict()
        if self.fail_on:
            policy_dict["fail_on"] = self.fail_on
        if data.invalid_records and not self.skip_invalid:
            errors = [*data.errors, "rerun with --skip-invalid to audit the valid records"]
            return AccountResult(
                client=account.client,
                platform=account.platform,
                account=account.handle,
                status="error",
                coverage=coverage(data, data.window, 0),
                policy=policy_dict,
                errors=errors,
                source=str(account.source.path),
            )
        if self.pseudonym_key is not None:
            pseudonymise(data, self.pseudonym_key, policy.exclude_authors)
        window = effective_window(data)
        window_complete = window.complete if window is not None else None
        observed_at = (window.fetched_at or window.end) if window is not None else None
        history = (
            StoreHistory(self.store, data.platform, data.account, observed_at)
            if self.store is not None and observed_at is not None
            else None
        )
        check_policy = {**policy.raw, "exclude_authors": policy.exclude_authors}
        cache: dict[str, Any] = {}
        checks: list[CheckResult] = []
        for check_id in policy.enabled:
            check = self.registry.get(check_id)
            severity = policy.severity[check_id]
            unmet = _needs_unmet(check, data, window, history is not None)
            if unmet is not None:
                checks.append(
                    CheckResult(
                        id=check.id,
                        title=check.title,
                        version=check.version,
                        severity=severity,
                        status="not_applicable",
                        summary=unmet,
                    )
                )
                continue
            context = AuditContext(
                account=data,
                window=window,
                check=check,
                params=policy.params[check_id],
                severity=severity,  # type: ignore[arg-type]
                policy=check_policy,
                history=history,
                cache=cache,
            )
            checks.append(run_check(check, context, _data_complete(check, data, window_complete)))

        index = cache.get("threads")
        threads = index.threads if index is not None else len({p.thread_id for p in data.posts})
        status = worst_status(c.status for c in checks)
        if data.invalid_records and status in ("pass", "not_applicable"):
            status = "incomplete"
        result = AccountResult(
            client=account.client,
            platform=account.platform,
            account=account.handle,
            status=status,
            coverage=coverage(data, window, threads),
            policy=policy_dict,
            checks=checks,
            errors=list(data.errors),
            source=str(account.source.path),
        )
        if self.store is not None and observed_at is not None:
            self.store.record_account(
                run_id,
                data.platform,
                data.account,
                status,
                observed_at,
                _observations(data.posts),
                (
                    FindingRecord(
                        uid=f.uid,
                        check_id=f.check_id,
                        severity=f.severity,
                        message=f.message,
                        evidence_id=f.evidence_id,
                    )
                    for c in checks
                    for f in c.findings
                ),
            )
        return result
