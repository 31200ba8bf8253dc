"""Rate-limit budgets: what a request must wait for before it spends a token's budget.

:class:`RateLimiter` is what :class:`auditor.fetch.http.HttpClient` asks before each request
and tells after each answer. :class:`LocalRateLimiter`, the default, keeps what the servers said
of each budget in this process: the next request on a spent budget waits for its reset.
:class:`RedisRateLimiter` keeps each budget in Redis, for processes that share tokens (Celery
workers, several schedulers): a token bucket per budget at the platform's documented rate, and a
shared "blocked until" that a reset header or a 429's ``Retry-After`` seen by one process sets
for them all. Both name a token by its fingerprint only (:data:`BudgetKey`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from auditor.config import Config, ConfigError
from auditor.fetch.secrets import Secret, SecretUnavailable, read_secret, server_text
from auditor.sources.platforms.base import RateInfo, RateLimit

if TYPE_CHECKING:
    import redis

# (platform, server host, token fingerprint, bucket): one rate-limit budget, the server's and the
# token's whoever spends it. The fingerprint keeps the token itself out of every key.
BudgetKey = tuple[str, str, str, str]


# The caller's way to wait (seconds, what) before it asks again: it sleeps (ending early on a
# stop signal) or raises when the wait would pass its deadline or its max wait. ``what`` ends
# "the rate limit ... in 12s" ("resets", "frees a request") in what it logs or raises.
Wait = Callable[[float, str], None]


class RateLimiter(Protocol):
    """What the HTTP layer asks before a request and tells after an answer."""

    def acquire(self, key: BudgetKey, limit: RateLimit | None, wait: Wait) -> None:
        """Returns once a request on ``key`` may go (``limit``: the platform's documented limit
        for its bucket, None when unknown), calling ``wait`` for as long as it must not."""
        ...

    def record(self, key: BudgetKey, info: RateInfo, blocked_for: float | None, now: float) -> None:
        """What an answer said of ``key``'s budget: its rate-limit headers (``info``, read at
        ``now``) and, for a 429, how long the server asked everyone to stay away."""
        ...

    def close(self) -> None: ...


class LocalRateLimiter:
    """Budgets as this process learned them: when the last answer on a budget said nothing is
    left, the next request waits for the reset it named instead of earning a 429."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._budgets: dict[BudgetKey, RateInfo] = {}

    def acquire(self, key: BudgetKey, limit: RateLimit | None, wait: Wait) -> None:
        with self._lock:
            info = self._budgets.get(key)
        if info is None or info.remaining is None or info.remaining > 0:
            return
        if info.reset_at is None:
            return
        delay = info.reset_at - self._now()
        if delay <= 0:
            return
        wait(delay, "resets")
        with self._lock:
            # Whoever wakes first may spend the refilled budget; the next answer corrects it.
            if self._budgets.get(key) is info:
                self._budgets[key] = RateInfo(None, None)

    def record(self, key: BudgetKey, info: RateInfo, blocked_for: float | None, now: float) -> None:
        # A 429's Retry-After is the request's own retry wait (HttpClient); the budget is what
        # the headers said.
        if info.remaining is None and info.reset_at is None:
            return
        with self._lock:
            self._budgets[key] = info

    def close(self) -> None:
        pass


class SharedLimitsUnavailable(Exception):
    """Redis could not be asked or told about a budget; one line, with no password in it."""


# The share of a documented limit one burst may spend; the rest comes back evenly over the
# window. A bucket of C tokens refilled at (N - C) per window lets through at most N requests in
# any window of the documented length, wherever the platform's window starts. Half: a weekly
# audit spends a token's budget in one burst (an agency's token serves tens of accounts, each a
# few calls per bucket), so a larger burst is worth more than a faster refill after it.
BURST_SHARE = 2


def bucket_shape(limit: RateLimit) -> tuple[int, float]:
    """``limit`` as a token bucket: its capacity, and the seconds one token takes to return."""
    capacity = max(1, limit.requests // BURST_SHARE)
    refilled = max(1, limit.requests - capacity)
    return capacity, limit.window_seconds / refilled


def shown_url(url: str) -> str:
    """``url`` without any user or password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RedisRateLimiter:
    """Budgets kept in Redis for every process that shares the tokens: a token bucket per
    :data:`BudgetKey` with a documented limit, and a "blocked until" per key that the reset
    headers and 429s set; both in one Lua script (``token_bucket.lua``) run on Redis's clock.

    ``max_block`` caps a block any answer may set (the HTTP layer's max wait): a hostile or
    mistaken reset header cannot keep every process away for longer.
    """

    KEY_PREFIX = "auditor:ratelimit"

    def __init__(
        self, client: redis.Redis, *, url: str, max_block: float, password: Secret | None = None
    ) -> None:
        self._client = client
        self._shown = shown_url(url)
        self._password = password
        self._max_block = max(0.0, max_block)
        script = resources.files("auditor.fetch").joinpath("token_bucket.lua").read_text("utf-8")
        self._script = client.register_script(script)

    @classmethod
    def connect(
        cls, url: str, password: Secret | None, *, max_block: float, timeout: float = 5.0
    ) -> RedisRateLimiter:
        """A limiter on the Redis at ``url``, asked once now (PING) so that a server that is
        down, refuses the password or is no Redis says so before anything is fetched."""
        import redis
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            url,
            password=password.reveal() if password is not None else None,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # A blip (a restart, a failover) is retried; a server that stays away is said
            # within a second rather than redis-py's default of several.
            retry=Retry(ExponentialWithJitterBackoff(cap=0.4, base=0.05), 3),
        )
        limiter = cls(client, url=url, max_block=max_block, password=password)
        limiter._call(lambda: client.ping())
        return limiter

    def acquire(self, key: BudgetKey, limit: RateLimit | None, wait: Wait) -> None:
        capacity, per_token = bucket_shape(limit) if limit is not None else (0, 1.0)
        # Past its window an untouched bucket is full again: its key may go.
        ttl_ms = math.ceil(limit.window_seconds * 1000) + 1000 if limit is not None else 1000
        per_token_us = max(1, round(per_token * 1_000_000))
        while True:
            micros, why = self._run(key, "take", capacity, per_token_us, ttl_ms)
            if micros <= 0:
                return
            wait(micros / 1_000_000, "resets" if why == "blocked" else "frees a request")

    def record(self, key: BudgetKey, info: RateInfo, blocked_for: float | None, now: float) -> None:
        # Reset moments are the platform's; turned into "for how long" here, so that Redis's
        # clock, not this process's, says when the block ends for everyone.
        spent_until = None
        if info.remaining is not None and info.remaining <= 0 and info.reset_at is not None:
            spent_until = info.reset_at - now
        said = [s for s in (spent_until, blocked_for) if s is not None and not math.isnan(s)]
        longest = max(said, default=0.0)
        if longest <= 0:
            return
        self._run(key, "block", round(min(longest, self._max_block) * 1_000_000))

    def close(self) -> None:
        self._client.close()

    def redis_keys(self, key: BudgetKey) -> list[str]:
        """The bucket's and the block's keys in Redis: the fingerprint, never the token."""
        name = "|".join(key)
        # One hash tag, so that a Redis Cluster keeps both keys of a budget on one node.
        return [f"{self.KEY_PREFIX}:{{{name}}}:bucket", f"{self.KEY_PREFIX}:{{{name}}}:blocked"]

    def _run(self, key: BudgetKey, *args: str | int) -> tuple[int, str]:
        """The script's answer: microseconds to wait (0: go) and why (``blocked``, ``bucket``)."""
        answer = self._call(lambda: self._script(keys=self.redis_keys(key), args=list(args)))
        match answer:
            case [int() as micros, bytes() as why]:
                return micros, why.decode("ascii", "replace")
            case [int() as micros, str() as why]:  # a URL asking for decode_responses
                return micros, why
        raise SharedLimitsUnavailable(
            f"Redis at {self._shown} answered {server_text(repr(answer))} to the rate-limit "
            "script, not a wait"
        )

    def _call(self, ask: Callable[[], Any]) -> Any:
        import redis

        try:
            return ask()
        except redis.AuthenticationError as error:
            raise SharedLimitsUnavailable(
                f"Redis at {self._shown} refused access ({self._detail(error)})"
            ) from None
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise SharedLimitsUnavailable(
                f"cannot reach Redis at {self._shown} ({self._detail(error)})"
            ) from None
        except redis.RedisError as error:
            raise SharedLimitsUnavailable(
                f"Redis at {self._shown} answered an error ({self._detail(error)})"
            ) from None

    def _detail(self, error: Exception) -> str:
        text = " ".join(str(error).split()) or type(error).__name__
        return server_text(text, [self._password])


def limiter_for(config: Config, *, max_block: float) -> RedisRateLimiter | None:
    """The shared limiter ``fetch.shared_limits`` names, its password read now and the server
    asked once (None: not configured, each process keeps its own budgets). A Redis that cannot
    be used is a :class:`ConfigError` naming the key, before anything is fetched."""
    shared = config.fetch.shared_limits
    if shared is None:
        return None
    line = config.document.line(["fetch", "shared_limits"])
    try:
        password = read_secret(shared.password) if shared.password is not None else None
        return RedisRateLimiter.connect(shared.url, password, max_block=max_block)
    except SecretUnavailable as error:
        raise ConfigError(config.path, str(error), line) from None
    except SharedLimitsUnavailable as error:
        raise ConfigError(
            config.path,
            f"{error}; start that Redis or correct the url and password, or leave "
            "fetch.shared_limits out to keep each process's budgets to itself",
            line,
            "fetch.shared_limits",
        ) from None
