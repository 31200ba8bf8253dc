"""The one HTTP layer every platform goes through.

Timeouts (per read, per request in all, and a caller's :class:`Deadline` over many requests),
retries with exponential backoff and jitter, proactive throttling on what each
platform's rate-limit headers say (its protocol reads them: ``Protocol.read_rate_limit``), a
concurrency limit per (platform, token) and token redaction live here and nowhere else. The clock
and the sleep are injected so that tests of waiting take no time.

One client lives as long as the process may (the scheduler audits client after client with it):
what it learns of each token's rate-limit budget carries over from one run to the next, and
:meth:`HttpClient.scoped` gives each run a client of its own to stop without stopping the rest.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpcore
import httpx

from auditor.fetch.limits import BudgetKey, LocalRateLimiter, RateLimiter, SharedLimitsUnavailable
from auditor.fetch.secrets import RedactingFilter, Secret, redact
from auditor.sources.platforms.base import RateInfo, RateLimit, RateLimitReader, header_float

log = logging.getLogger(__name__)


def _package_version() -> str:
    try:
        return metadata.version("social-care-auditor")
    except metadata.PackageNotFoundError:
        return "0.0.0"


USER_AGENT = f"social-care-auditor/{_package_version()} (+https://github.com/social-care-auditor)"


class Clock(Protocol):
    """Wall time in epoch seconds, and a way to wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def sleep_unless(self, seconds: float, stop: threading.Event) -> None:
        """Sleeps ``seconds``, or less when ``stop`` is set meanwhile."""
        if seconds > 0:
            stop.wait(seconds)


class ManualClock:
    """A clock for tests: sleeping advances it instantly; every sleep is kept in ``sleeps``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)


# --- waits the server asks for -------------------------------------------------------------


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds to wait: either a number of seconds or an HTTP date."""
    if not value:
        return None
    seconds = header_float(value.strip())
    if seconds is not None:
        return max(0.0, seconds)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


# --- configuration, answers, errors ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    # Giving up: no single wait, nor all waits for one request together, may exceed this.
    max_wait: float = 900.0
    # Fraction of a backoff delay added at random, so that many workers do not retry in step.
    jitter: float = 0.5


@dataclass(frozen=True, slots=True)
class HttpConfig:
    connect_timeout: float = 10.0
    # Per read: a server that drips a byte within it each time is cut off by request_deadline.
    read_timeout: float = 30.0
    # One attempt in all (connect, send, headers, body): no single request may take longer.
    request_deadline: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Requests in flight at once per (platform, token); ``per_platform`` overrides it.
    concurrency: int = 4
    per_platform_concurrency: Mapping[str, int] = field(default_factory=dict)
    user_agent: str = USER_AGENT


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment by which everything a caller asks for must be done (one account's fetch: all
    its requests, retries and waits); ``reason`` says so when it passes.

    Counted on the client's clock (the waits it sleeps) and on the monotonic clock (the time
    requests take) at once, whichever runs out first: the two are one clock in a real run, and
    a test's manual clock, whose sleeps take no time, still cannot let real requests run on.
    """

    at: float
    monotonic_at: float
    reason: str

    @classmethod
    def after(cls, clock: Clock, seconds: float, what: str = "fetch") -> Deadline:
        reason = f"{what} deadline of {seconds:g} s reached"
        return cls(clock.now() + seconds, time.monotonic() + seconds, reason)

    def left(self, clock: Clock) -> float:
        return min(self.at - clock.now(), self.monotonic_at - time.monotonic())


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any
    attempts: int


class HttpError(Exception):
    """A request that did not succeed after the retries; the message never holds a token."""

    def __init__(self, reason: str, *, attempts: int, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
        self.status = status


STOPPED_REASON = "interrupted"


class Stopped(HttpError):
    """The client was stopped (:meth:`HttpClient.stop`): the request was not made, or was cut
    off; nothing is retried."""

    def __init__(self, *, attempts: int) -> None:
        super().__init__(STOPPED_REASON, attempts=attempts)


@dataclass(slots=True)
class _Attempt:
    """One try's outcome: an answer to return, or a retryable failure and how long to wait."""

    response: Response | None = None
    failure: str | None = None
    server_wait: float | None = None
    status: int | None = None


class SemaphoreRegistry:
    """One semaphore per key, created on first use, with a size chosen per key."""

    def __init__(self, size_of: Callable[[tuple[str, str]], int]) -> None:
        self._size_of = size_of
        self._lock = threading.Lock()
        self._semaphores: dict[tuple[str, str], threading.BoundedSemaphore] = {}

    def get(self, key: tuple[str, str]) -> threading.BoundedSemaphore:
        with self._lock:
            semaphore = self._semaphores.get(key)
            if semaphore is None:
                semaphore = threading.BoundedSemaphore(max(1, self._size_of(key)))
                self._semaphores[key] = semaphore
            return semaphore


# --- a deadline on every read ---------------------------------------------------------------

# The monotonic moment the current thread's attempt must be done by, and the stop signal of the
# client making it (httpx is synchronous: an attempt runs on its caller's thread from connect to
# the last byte of the body). Per attempt, not per connection: pooled connections serve every
# scope of a client, each stopped on its own.
_current_attempt = threading.local()


def _attempt_stopped() -> bool:
    stop: threading.Event | None = getattr(_current_attempt, "stop", None)
    return stop is not None and stop.is_set()


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the current attempt; past it, a timeout at once."""
    until: float | None = getattr(_current_attempt, "until", None)
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise httpcore.TimeoutException("request deadline reached")
    return left if timeout is None else min(timeout, left)


# How often a read that waits looks whether the client was stopped: how long, at most, a stop
# signal waits for the requests in flight.
STOP_POLL_SECONDS = 0.2


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the attempt's deadline: httpx's read
    timeout is per read, so a server sending a byte now and then would hold a request open.

    A read that waits does so in slices of :data:`STOP_POLL_SECONDS`, so that a stopped client
    (a stop signal) does not wait out a slow server's read timeout: a socket read that timed out
    has consumed nothing, so the next slice reads on where it left off."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            if _attempt_stopped():
                raise httpcore.ReadError(STOPPED_REASON)
            left = _bounded(None if until is None else until - time.monotonic())
            if left is not None and left <= 0:
                raise httpcore.ReadTimeout("read timeout")
            try:
                return self._inner.read(
                    max_bytes, min(STOP_POLL_SECONDS, left or STOP_POLL_SECONDS)
                )
            except httpcore.ReadTimeout:
                continue  # a slice ended: look at the stop and at the time left again

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _bounded(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, _bounded(timeout), socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport, its connections wrapped in :class:`_DeadlineStream` (which end
    their reads when the client making the attempt is stopped).

    httpx takes no network backend, so the pool's is swapped in place; should a later httpx
    rename it, requests still have their per-read timeout and the caller's :class:`Deadline`
    between attempts (tests/test_fetch_deadline.py fails loudly first)."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return transport


# --- the client -----------------------------------------------------------------------------


# httpx logs every request URL at INFO; for Graph API tokens travel in the query string.
_LIBRARY_LOGGERS = ("httpx", "httpcore", "httpcore.http11", "httpcore.connection")


def _guard_library_loggers() -> None:
    """Redacts registered secrets in what httpx and httpcore log (a logger's own filters
    apply to the records it creates, whatever handler they reach)."""
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


@dataclass(slots=True)
class _Shared:
    """What every scope of one client shares: the connections, the concurrency limits and the
    rate limiter (what the servers said of each token's rate-limit budget)."""

    client: httpx.Client
    semaphores: SemaphoreRegistry
    rng: random.Random
    limiter: RateLimiter
    rng_lock: threading.Lock = field(default_factory=threading.Lock)


class HttpClient:
    """A thread-safe JSON client shared by every account of a run, and by every run of a
    process that passes it on (see :meth:`scoped`).

    ``limiter`` keeps the tokens' rate-limit budgets (closed with the client): by default this
    process's own (``LocalRateLimiter``); ``RedisRateLimiter`` shares them between processes."""

    def __init__(
        self,
        config: HttpConfig | None = None,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        _guard_library_loggers()
        self.config = config or HttpConfig()
        self.clock: Clock = clock or SystemClock()
        # Set by stop(): no request starts after it, and reads under way end (a stop signal).
        self._stopping = threading.Event()
        self._scopes: weakref.WeakSet[HttpClient] = weakref.WeakSet()
        self._scopes_lock = threading.Lock()
        self._owns_connections = True
        timeout = httpx.Timeout(
            connect=self.config.connect_timeout,
            read=self.config.read_timeout,
            write=self.config.read_timeout,
            pool=None,
        )
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        client = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": self.config.user_agent, "Accept": "application/json"},
            transport=transport if transport is not None else _deadline_transport(limits),
            limits=limits,
            follow_redirects=False,
        )
        self._shared = _Shared(
            client,
            SemaphoreRegistry(self._concurrency_for),
            rng or random.Random(),
            limiter if limiter is not None else LocalRateLimiter(self.clock.now),
        )

    def scoped(self) -> HttpClient:
        """A client for one run that shares this one's connections, concurrency limits and
        rate-limit budgets (what one run learned a token has left, the next one knows), yet
        stops on its own: its :meth:`stop` (an interrupted run) leaves this client usable,
        while this client's :meth:`stop` reaches every scope of it. Closing a scope closes
        nothing shared."""
        scope = object.__new__(HttpClient)
        scope.config, scope.clock, scope._shared = self.config, self.clock, self._shared
        scope._stopping = threading.Event()
        scope._scopes = weakref.WeakSet()
        scope._scopes_lock = threading.Lock()
        scope._owns_connections = False
        with self._scopes_lock:
            self._scopes.add(scope)
            if self._stopping.is_set():
                scope.stop()
        return scope

    def close(self) -> None:
        if self._owns_connections:
            self._shared.client.close()
            self._shared.limiter.close()

    def stop(self) -> None:
        """From any thread: every request after this raises :class:`Stopped` unmade; one under
        way is cut off within :data:`STOP_POLL_SECONDS` (with the default transport) and not
        retried, and no wait for a retry or a rate limit goes on. The same for every scope."""
        with self._scopes_lock:
            self._stopping.set()
            scopes = list(self._scopes)
        for scope in scopes:
            scope.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _concurrency_for(self, key: tuple[str, str]) -> int:
        return self.config.per_platform_concurrency.get(key[0], self.config.concurrency)

    def request_json(
        self,
        *,
        platform: str,
        read_rate_limit: RateLimitReader,
        url: str,
        params: Sequence[tuple[str, str]] = (),
        token: Secret | None = None,
        purpose: str = "request",
        bucket: str | None = None,
        rate_limit: RateLimit | None = None,
        method: str = "GET",
        auth_style: str = "bearer",
        deadline: Deadline | None = None,
    ) -> Response:
        """Sends one request, retrying what is worth retrying; raises :class:`HttpError`.

        ``read_rate_limit`` is the platform protocol's reader of its rate-limit headers: when an
        answer says no calls are left, the next request of this platform's server, token and
        ``bucket`` (the platform's name for the budget it counts against; by default the
        ``purpose``) waits for the reset instead of earning a 429, whichever account or run of
        this client (or of a scope of it) asks. ``rate_limit`` is the platform's documented
        limit for that bucket, which a shared limiter spends evenly (None: unknown).

        Answers that retrying cannot change (2xx, and 4xx other than 429) are returned as
        they are: the caller decides what a 404 means.

        Each attempt ends within ``config.request_deadline`` (every read counts, not each read
        alone); with a ``deadline``, attempts, retries and waits together end by it too, and
        what it cuts short raises :class:`HttpError` with its reason.
        """
        token_key = token.fingerprint() if token is not None else "anonymous"
        host = urlsplit(url).netloc.rpartition("@")[2]  # a user or password in it is no key
        budget_key = (platform, host, token_key, bucket or purpose)
        headers, query = self._auth(token, auth_style, params)
        retry = self.config.retry
        waited = 0.0
        last_failure = "no attempt made"
        for attempt in range(1, retry.max_attempts + 1):
            self._unless_stopped(attempt - 1)
            waited += self._wait_for_budget(budget_key, rate_limit, waited, attempt, deadline)
            semaphore = self._shared.semaphores.get((platform, token_key))
            if not semaphore.acquire(timeout=self._time_left(deadline, attempt)):
                raise self._past(deadline, attempt - 1, "waiting for a free connection")
            try:
                self._unless_stopped(attempt - 1)  # stopped while it waited for the connection
                left = self._time_left(deadline, attempt)
                budget = self.config.request_deadline if left is None else left
                budget = min(self.config.request_deadline, budget)
                outcome = self._attempt(
                    read_rate_limit, method, url, query, headers, budget_key, token, budget
                )
            except SharedLimitsUnavailable as error:
                raise _limits_failed(error, attempt) from None
            finally:
                semaphore.release()
            if outcome.response is not None:
                return Response(
                    outcome.response.status,
                    outcome.response.headers,
                    outcome.response.body,
                    attempt,
                )
            last_failure = outcome.failure or "failed"
            self._unless_stopped(attempt)
            if attempt == retry.max_attempts:
                break
            delay = self._delay(attempt, outcome.server_wait)
            if deadline is not None and delay >= deadline.left(self.clock):
                raise self._past(deadline, attempt, last_failure)
            if delay > retry.max_wait or waited + delay > retry.max_wait:
                raise HttpError(
                    f"{last_failure}; giving up: waiting {delay:.0f}s more would exceed "
                    f"max wait {retry.max_wait:.0f}s",
                    attempts=attempt,
                    status=outcome.status,
                )
            log.info(
                "%s %s: %s; retry %d in %.1fs", platform, purpose, last_failure, attempt, delay
            )
            self._sleep(delay, attempt)
            waited += delay
        raise HttpError(
            f"{last_failure} (gave up after {retry.max_attempts} attempts)",
            attempts=retry.max_attempts,
        )

    def _unless_stopped(self, attempts: int) -> None:
        if self._stopping.is_set():
            raise Stopped(attempts=attempts)

    def _sleep(self, seconds: float, attempts: int) -> None:
        """The clock's sleep; a real clock's ends early when the client is stopped (a test's
        manual clock takes no time anyway)."""
        if isinstance(self.clock, SystemClock):
            self.clock.sleep_unless(seconds, self._stopping)
        else:
            self.clock.sleep(seconds)
        self._unless_stopped(attempts)

    def _time_left(self, deadline: Deadline | None, attempt: int) -> float | None:
        """Seconds left before ``deadline`` (None: no deadline); none left raises."""
        if deadline is None:
            return None
        left = deadline.left(self.clock)
        if left <= 0:
            raise self._past(deadline, attempt - 1)
        return left

    @staticmethod
    def _past(deadline: Deadline | None, attempts: int, detail: str = "") -> HttpError:
        reason = deadline.reason if deadline is not None else "deadline reached"
        return HttpError(f"{reason} ({detail})" if detail else reason, attempts=attempts)

    def _auth(
        self, token: Secret | None, auth_style: str, params: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, str], list[tuple[str, str]]]:
        query = list(params)
        if token is None:
            return {}, query
        if auth_style.startswith("query:"):
            query.append((auth_style.removeprefix("query:"), token.reveal()))
            return {}, query
        return {"Authorization": f"Bearer {token.reveal()}"}, query

    def _attempt(
        self,
        read_rate_limit: RateLimitReader,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        budget_key: BudgetKey,
        token: Secret | None,
        budget: float,
    ) -> _Attempt:
        # httpx replaces a URL's own query with ``params``: keep a next link's query.
        base, _, own_query = url.partition("?")
        pairs: list[tuple[str, str | int | float | bool | None]] = [
            *parse_qsl(own_query, keep_blank_values=True),
            *query,
        ]
        _current_attempt.until = time.monotonic() + budget
        _current_attempt.stop = self._stopping
        try:
            answer = self._shared.client.request(method, base, params=pairs, headers=headers)
        except httpx.TimeoutException as exc:
            if time.monotonic() >= _current_attempt.until:
                return _Attempt(failure=f"no complete answer within {budget:g} s")
            return _Attempt(failure=f"timeout ({type(exc).__name__})")
        except httpx.TransportError as exc:
            # The message can quote the URL, which for query-token platforms holds the token.
            secrets = [token] if token is not None else []
            detail = redact(str(exc), secrets) or type(exc).__name__
            return _Attempt(failure=f"connection error ({type(exc).__name__}: {detail})")
        finally:
            _current_attempt.until = None
            _current_attempt.stop = None
        lowered = {k.lower(): v for k, v in answer.headers.items()}
        now = self.clock.now()
        info = read_rate_limit(lowered, now)
        status = answer.status_code
        retried = status == 429 or status >= 500
        server_wait = self._server_wait(lowered, info, now) if retried else None
        # A 429 keeps every spender of the budget away, not only this request's retry.
        self._shared.limiter.record(budget_key, info, server_wait if status == 429 else None, now)
        if retried:
            return _Attempt(failure=f"HTTP {status}", server_wait=server_wait, status=status)
        if 200 <= status < 300:
            body, problem = _parse_json(answer.content)
            if problem is not None:
                return _Attempt(failure=problem, status=status)
            return _Attempt(response=Response(status, lowered, body, 0))
        body, _ = _parse_json(answer.content)
        return _Attempt(response=Response(status, lowered, body, 0))

    @staticmethod
    def _server_wait(headers: Mapping[str, str], info: RateInfo, now: float) -> float | None:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        if retry_after is not None:
            return retry_after
        if info.reset_at is not None:
            return max(0.0, info.reset_at - now)
        return None

    def _delay(self, attempt: int, server_wait: float | None) -> float:
        """The server's word when it gave one; else exponential backoff with jitter."""
        if server_wait is not None:
            return server_wait
        retry = self.config.retry
        base = min(retry.max_delay, retry.base_delay * (2.0 ** (attempt - 1)))
        with self._shared.rng_lock:
            spread = self._shared.rng.uniform(0.0, retry.jitter * base)
        return base + spread

    def _wait_for_budget(
        self,
        key: BudgetKey,
        limit: RateLimit | None,
        waited: float,
        attempt: int,
        deadline: Deadline | None = None,
    ) -> float:
        """Waits until the limiter lets a request on ``key`` go (a reset after an answer said
        no calls are left, not a 429); returns the seconds waited."""
        waits: list[float] = []

        def wait(delay: float, what: str) -> None:
            if deadline is not None and delay >= deadline.left(self.clock):
                raise self._past(
                    deadline, attempt - 1, f"the rate limit {what} in {delay:.0f}s, after it"
                )
            if waited + sum(waits) + delay > self.config.retry.max_wait:
                raise HttpError(
                    f"rate limit exhausted; {what} in {delay:.0f}s, beyond max wait "
                    f"{self.config.retry.max_wait:.0f}s",
                    attempts=attempt - 1,
                )
            if what == "resets":  # a shared bucket's pacing between requests is worth no line
                log.info(
                    "%s %s: rate limit exhausted; waiting %.1fs for the reset", *key[::3], delay
                )
            self._sleep(delay, attempt - 1)
            waits.append(delay)

        try:
            self._shared.limiter.acquire(key, limit, wait)
        except SharedLimitsUnavailable as error:
            raise _limits_failed(error, attempt - 1) from None
        return sum(waits)


def _limits_failed(error: SharedLimitsUnavailable, attempts: int) -> HttpError:
    """A request the shared rate limits could not clear: never made without them."""
    return HttpError(f"shared rate limits unavailable: {error}", attempts=attempts)


def _parse_json(content: bytes) -> tuple[Any, str | None]:
    if not content.strip():
        return None, None
    try:
        return json.loads(content), None
    except ValueError:
        return None, f"invalid or truncated JSON body ({len(content)} bytes)"


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` goes to the host of ``base_url`` (tokens go nowhere else)."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
