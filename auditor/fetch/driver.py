"""Runs a sans-I/O protocol against the shared HTTP layer.

:func:`fetch_account` executes one account's requests in order (start → receive, refused
or failed → finish); :func:`recheck_deletions` asks a platform that can say so which kept
posts are gone; :func:`fetch_accounts` runs many accounts on threads, the HTTP layer's
per-(platform, token) semaphores keeping each token within its concurrency limit. :func:`plan`
answers ``--dry-run``: the first requests and the share of each documented rate limit they use.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from auditor.fetch.http import STOPPED_REASON, Deadline, HttpClient, HttpError, Stopped, same_origin
from auditor.fetch.secrets import Secret, load_token, redact, registered, server_text
from auditor.sources.platforms.base import (
    Cursor,
    Page,
    Protocol,
    RateLimit,
    Record,
    Request,
    UnansweredRecheck,
    refusal_reason,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_REQUESTS = 2_000


@dataclass(slots=True)
class FetchOutcome:
    """What one account's fetch produced. Holds no token: safe to print, log or store."""

    records: list[Record]
    cursor: Cursor
    pages: int
    requests_made: int
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


def resolve_url(base_url: str, path: str) -> str:
    """``path`` under ``base_url``; an absolute ``path`` (a platform's next link) as it is."""
    if path.startswith(("http://", "https://")):
        return path
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def fetch_account(
    protocol: Protocol,
    http_client: HttpClient,
    *,
    token: Secret | None,
    token_problem: str | None = None,
    base_url: str | None = None,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    deadline: Deadline | None = None,
) -> FetchOutcome:
    """Runs ``protocol`` to the end. Failures are recorded in the window, never raised.

    With no token (and a platform that needs one) nothing is requested: the window says why.
    ``max_requests`` bounds a runaway pagination; what it cuts off makes the window incomplete.
    ``deadline`` bounds the time it all takes: what is still to ask for after it fails with
    its reason, unasked.
    """
    if token is None and protocol.requires_token:
        protocol.abandon(token_problem or "missing token")
        closing, cursor = _finish(protocol, token)
        return FetchOutcome(closing, cursor, 0, 0, list(protocol.missing))
    root = (base_url or protocol.base_url()).rstrip("/")
    queue: deque[Request] = deque(protocol.start())
    records: list[Record] = []
    pages = 0
    requests_made = 0
    while queue:
        request = queue.popleft()
        if http_client.stopping:
            # A stop signal: what is left fails unasked, silently (the command says it once).
            step = protocol.failed(request, STOPPED_REASON)
        elif requests_made >= max_requests:
            step = protocol.failed(request, f"request budget of {max_requests} used up")
        elif deadline is not None and deadline.left(http_client.clock) <= 0:
            step = protocol.failed(request, deadline.reason)
        else:
            url = resolve_url(root, request.path)
            if not same_origin(url, root):
                # A next link to another host would carry the token there.
                step = protocol.failed(request, "refused: link leads outside the base URL")
            else:
                try:
                    response = http_client.request_json(
                        platform=protocol.platform,
                        read_rate_limit=protocol.read_rate_limit,
                        url=url,
                        params=request.params,
                        token=token,
                        purpose=request.purpose,
                        bucket=rate_bucket(protocol, request.purpose),
                        rate_limit=protocol.rate_limits.get(request.purpose),
                        method=request.method,
                        auth_style=protocol.auth_style,
                        deadline=deadline,
                    )
                except Stopped as stopped:
                    requests_made += stopped.attempts
                    step = protocol.failed(request, STOPPED_REASON)
                except HttpError as error:
                    requests_made += error.attempts
                    log.warning(
                        "%s:%s %s failed: %s",
                        protocol.platform,
                        protocol.spec.account,
                        request.purpose,
                        server_text(error.reason, [token]),
                    )
                    step = protocol.failed(request, error.reason)
                else:
                    requests_made += response.attempts
                    page = Page(response.status, response.headers, response.body)
                    if 200 <= response.status < 300:
                        pages += 1
                        step = protocol.receive(request, page)
                    else:
                        # The body goes along: only the platform's own words can make a 4xx
                        # mean more than a failed page (a post it says no longer exists).
                        step = protocol.refused(request, page)
        records.extend(step.records)
        queue.extend(step.requests)
    closing, cursor = _finish(protocol, token)
    secrets = _secrets(token)
    records = [*(_redacted(record, secrets) for record in records), *closing]
    return FetchOutcome(records, cursor, pages, requests_made, list(protocol.missing))


def rate_bucket(protocol: Protocol, purpose: str) -> str:
    """The rate-limit budget a request of ``purpose`` counts against: the platform's documented
    bucket (every Mastodon call spends one budget), else the purpose alone."""
    limit = protocol.rate_limits.get(purpose)
    return limit.bucket if limit is not None else purpose


def _finish(protocol: Protocol, token: Secret | None) -> tuple[list[Record], Cursor]:
    """The protocol's closing records, from reasons made fit to keep.

    The protocols are sans-I/O and know no token, yet their reasons quote servers (an error's
    detail, a refusal's body): here, the one place that knows the token, each reason is
    redacted and cut (:func:`server_text`) before the window record is built from them, so that
    no bundle, store, report, log or terminal ever receives one raw.
    """
    # Past a deadline every request still queued fails alike: one line says it for them all.
    reasons = (server_text(reason, [token]) for reason in protocol.missing)
    protocol.missing[:] = list(dict.fromkeys(reasons))
    closing, cursor = protocol.finish()
    secrets = _secrets(token)
    return [_redacted(record, secrets) for record in closing], cursor


def _secrets(token: Secret | None) -> tuple[str, ...]:
    """Every secret to mask in records: this fetch's token and every other one read."""
    return (*registered(), *([token.reveal()] if token is not None else []))


def _redacted(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` (a record, or anything in one) with every secret masked in every string: a
    server may echo the token into any field, not only into its errors."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {key: _redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, secrets) for item in value]
    return value


@dataclass(slots=True)
class Recheck:
    """What re-checking kept posts found. Holds no token: safe to print, log or store."""

    deleted: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    pages: int = 0
    requests_made: int = 0

    @property
    def succeeded(self) -> bool:
        """Every batch answered: only then does the window observe what re-checks show."""
        return not self.problems


def recheck_deletions(
    protocol: Protocol,
    http_client: HttpClient,
    *,
    token: Secret | None,
    post_ids: Sequence[str],
    deadline: Deadline | None = None,
) -> Recheck:
    """Asks again for ``post_ids`` through the protocol's re-check requests.

    Only what the protocol reads as an explicit "not found" counts as deleted: a batch that
    fails leaves its posts as they were and names the failure in ``problems``; past
    ``deadline`` the batches left are not asked for, and the deadline is the problem.
    """
    result = Recheck()
    root = protocol.base_url().rstrip("/")
    for request in protocol.recheck_requests(post_ids):
        if http_client.stopping:
            result.problems.append(f"{request.purpose}: {STOPPED_REASON}")
            break
        if deadline is not None and deadline.left(http_client.clock) <= 0:
            result.problems.append(f"{request.purpose}: {deadline.reason}")
            break
        try:
            response = http_client.request_json(
                platform=protocol.platform,
                read_rate_limit=protocol.read_rate_limit,
                url=resolve_url(root, request.path),
                params=request.params,
                token=token,
                purpose=request.purpose,
                bucket=rate_bucket(protocol, request.purpose),
                rate_limit=protocol.rate_limits.get(request.purpose),
                method=request.method,
                auth_style=protocol.auth_style,
                deadline=deadline,
            )
        except HttpError as error:
            result.requests_made += error.attempts
            result.problems.append(server_text(f"{request.purpose}: {error.reason}", [token]))
            continue
        result.requests_made += response.attempts
        page = Page(response.status, response.headers, response.body)
        if not 200 <= response.status < 300:
            refusal = f"{request.purpose}: {refusal_reason(page)}"
            result.problems.append(server_text(refusal, [token]))
            continue
        result.pages += 1
        try:
            result.deleted |= protocol.parse_recheck(request, page)
        except UnansweredRecheck as unanswered:
            # What it did say is kept; the rest is unknown, so the batch counts as failed.
            result.deleted |= unanswered.deleted
            result.problems.append(f"{request.purpose}: {unanswered}")
    return result


def run_account(
    protocol: Protocol,
    http_client: HttpClient,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    max_requests: int = DEFAULT_MAX_REQUESTS,
) -> FetchOutcome:
    """:func:`fetch_account` with the token the account's options name (token_env/file)."""
    lookup = load_token(
        protocol.spec.options,
        default_env=protocol.default_token_env,
        environ=environ,
        base_dir=base_dir,
    )
    return fetch_account(
        protocol,
        http_client,
        token=lookup.secret,
        token_problem=lookup.problem,
        max_requests=max_requests,
    )


@dataclass(frozen=True, slots=True)
class AccountJob:
    protocol: Protocol
    token: Secret | None
    token_problem: str | None = None
    base_url: str | None = None


def fetch_accounts(
    jobs: Sequence[AccountJob],
    http_client: HttpClient,
    *,
    workers: int = 8,
    max_requests: int = DEFAULT_MAX_REQUESTS,
) -> list[FetchOutcome]:
    """Fetches accounts on ``workers`` threads; outcomes come back in the order of ``jobs``.

    ``http_client`` is shared, never closed nor left stopped: an interrupt stops this call's
    requests only (:meth:`HttpClient.scoped`)."""

    def run(job: AccountJob, client: HttpClient) -> FetchOutcome:
        return fetch_account(
            job.protocol,
            client,
            token=job.token,
            token_problem=job.token_problem,
            base_url=job.base_url,
            max_requests=max_requests,
        )

    if not jobs:
        return []
    with (
        http_client.scoped() as scope,
        stopped_on_the_way_out(ThreadPoolExecutor(max_workers=max(1, workers)), scope) as pool,
    ):
        return list(pool.map(lambda job: run(job, scope), jobs))


@contextmanager
def stopped_on_the_way_out(
    pool: ThreadPoolExecutor, client: HttpClient
) -> Iterator[ThreadPoolExecutor]:
    """``pool``, shut down at the end; when the calling thread leaves early (a stop signal's
    :class:`~auditor.result.Interrupted`, or any error) no queued account starts and those in
    flight stop at once: ``client`` starts no new request and cuts off those under way. Pass a
    client of this call's own (:meth:`HttpClient.scoped` of a shared one): stopped, it stays so.

    (A ``with`` on the pool itself would wait for every queued fetch to run first; the
    interpreter's exit waits for the pool's threads too, so they must end, not be left.)
    """
    try:
        yield pool
    except BaseException:
        client.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# --- dry-run plans -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    purpose: str
    method: str
    url: str


@dataclass(frozen=True, slots=True)
class LimitShare:
    """How much of one documented rate-limit bucket the planned requests would use."""

    bucket: str
    requests: int
    limit: int | None
    window_seconds: int | None
    scope: str | None

    @property
    def share(self) -> float | None:
        return self.requests / self.limit if self.limit else None


@dataclass(slots=True)
class FetchPlan:
    requests: list[PlannedRequest]
    shares: list[LimitShare]


def plan(protocol: Protocol, base_url: str | None = None) -> FetchPlan:
    """The requests ``protocol`` would make first, and the least share of each limit a fetch
    uses (from :meth:`Protocol.estimate`). Makes no request."""
    root = (base_url or protocol.base_url()).rstrip("/")
    planned = [PlannedRequest(r.purpose, r.method, _display_url(root, r)) for r in protocol.start()]
    return FetchPlan(planned, limit_shares([protocol]))


def limit_shares(protocols: Iterable[Protocol]) -> list[LimitShare]:
    """Estimated requests per rate-limit bucket, summed over accounts (they share a token's
    budget when they share a platform), as ``count / limit``."""
    counts: dict[tuple[str, str], int] = {}
    limits: dict[tuple[str, str], RateLimit | None] = {}
    for protocol in protocols:
        for purpose, count in protocol.estimate().items():
            limit = protocol.rate_limits.get(purpose)
            bucket = limit.bucket if limit is not None else purpose
            key = (protocol.platform, bucket)
            counts[key] = counts.get(key, 0) + count
            limits[key] = limit
    shares = []
    for key in sorted(counts):
        limit = limits[key]
        shares.append(
            LimitShare(
                bucket=f"{key[0]}:{key[1]}",
                requests=counts[key],
                limit=limit.requests if limit else None,
                window_seconds=limit.window_seconds if limit else None,
                scope=limit.scope if limit else None,
            )
        )
    return shares


def _display_url(root: str, request: Request) -> str:
    url = resolve_url(root, request.path)
    return f"{url}?{urlencode(request.params)}" if request.params else url
