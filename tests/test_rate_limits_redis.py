"""The Redis rate limiter (``fetch.shared_limits``) against a real redis-server on loopback:
what one client learns of a budget (a 429's Retry-After, a reset header) keeps the others away;
two tokens never share a bucket; Redis holds fingerprints, never a token, and nothing without
a time to live; a hostile reset header cannot block past the max wait; and a Redis that is
down, refuses the password or is no Redis is one line naming the key, at start (exit 2) and
mid-run (the request fails, never made without its limit).
"""

from __future__ import annotations

import math
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pytest_httpserver import HTTPServer

from auditor.config import Config, ConfigError, load_config
from auditor.fetch.http import HttpClient, HttpConfig, ManualClock, RetryPolicy, SystemClock
from auditor.fetch.limits import BudgetKey, RedisRateLimiter, bucket_shape, limiter_for
from auditor.fetch.run import fetch_api_accounts
from auditor.fetch.secrets import Secret
from auditor.registry import load_registry
from auditor.sources.platforms.base import RateInfo, RateLimit
from auditor.store.history import HistoryStore

from fetch_fakes import NOW, X_TOKEN, FakeX
from rate_limits_support import LIMIT, PLATFORM, LimitedApi, shared_client, spend
from services import RedisServer
from tests_support import run_cli

TOKEN = "redis-test-token-71ab"
OTHER_TOKEN = "redis-test-token-other-02fd"


class RecordingClock(SystemClock):
    """The system clock, keeping every wait it is asked for."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep_unless(self, seconds: float, stop: object) -> None:
        self.sleeps.append(seconds)
        time.sleep(seconds)


class Refused(Exception):
    """Raised by :func:`refuse`: the limiter asked its caller to wait."""


def refuse(seconds: float, what: str) -> None:
    raise Refused(seconds, what)


@pytest.fixture
def api() -> Iterator[LimitedApi]:
    server = LimitedApi()
    yield server
    server.close()


@pytest.fixture
def limiter(redis_server: RedisServer, redis_url: str) -> Iterator[RedisRateLimiter]:
    made = RedisRateLimiter.connect(redis_server.url(), Secret(redis_server.password), max_block=30)
    yield made
    made.close()


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def key_of(token: str, bucket: str = "api") -> BudgetKey:
    return (PLATFORM, "127.0.0.1", Secret(token).fingerprint(), bucket)


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the bucket and the block ---------------------------------------------------------------


def test_a_bucket_lets_its_burst_through_then_paces_and_tokens_do_not_share_one(
    limiter: RedisRateLimiter,
) -> None:
    limit = RateLimit("api", 20, 60)
    capacity, per_token = bucket_shape(limit)
    assert (capacity, per_token) == (10, 60 / 10)  # at most 20 in any 60 s window
    for _ in range(capacity):
        limiter.acquire(key_of(TOKEN), limit, refuse)
    with pytest.raises(Refused) as waited:
        limiter.acquire(key_of(TOKEN), limit, refuse)
    seconds, what = waited.value.args
    assert 0 < seconds <= per_token and what == "frees a request"
    # Another token, and another bucket of the same token, have their own budgets.
    limiter.acquire(key_of(OTHER_TOKEN), limit, refuse)
    limiter.acquire(key_of(TOKEN, "other"), limit, refuse)


def test_a_block_is_the_latest_one_asked_for_and_expires_with_it(
    limiter: RedisRateLimiter, raw_redis: redis.Redis
) -> None:
    key = key_of(TOKEN)
    now = time.time()
    limiter.record(key, RateInfo(0, now + 20), None, now)
    limiter.record(key, RateInfo(None, None), 5.0, now)  # an earlier end changes nothing
    with pytest.raises(Refused) as waited:
        limiter.acquire(key, None, refuse)  # even a bucket with no documented limit waits
    seconds, what = waited.value.args
    assert 19 < seconds <= 20 and what == "resets"
    blocked = limiter.redis_keys(key)[1]
    assert 19_000 < raw_redis.pttl(blocked) <= 20_001
    # Calls left, a reset already past, or one that is no number, block nobody.
    limiter.record(key_of(OTHER_TOKEN), RateInfo(3, now + 20), None, now)
    limiter.record(key_of(OTHER_TOKEN), RateInfo(0, now - 1), None, now)
    limiter.record(key_of(OTHER_TOKEN), RateInfo(0, math.nan), math.nan, now)
    limiter.acquire(key_of(OTHER_TOKEN), None, refuse)
    # A reset at infinity blocks for the longest block allowed (the max wait), no longer.
    limiter.record(key_of(OTHER_TOKEN), RateInfo(0, math.inf), None, now)
    assert 29_000 < raw_redis.pttl(limiter.redis_keys(key_of(OTHER_TOKEN))[1]) <= 30_001


@pytest.mark.parametrize("path", ["/retry-after/1", "/spent/1"], ids=["429", "reset-header"])
def test_what_one_client_learns_keeps_another_client_away(
    path: str, api: LimitedApi, redis_server: RedisServer, redis_url: str
) -> None:
    clock = RecordingClock()
    with (
        shared_client(redis_server.url(), redis_server.password) as first,
        shared_client(redis_server.url(), redis_server.password, clock=clock) as second,
    ):
        spend(first, f"{api.base_url}{path}", TOKEN, 1)
        assert spend(second, f"{api.base_url}/ok", TOKEN, 1) == []
    told, served = api.answers[0], api.served()[0]
    assert len(clock.sleeps) == 1 and 0.5 < clock.sleeps[0] <= 1.0
    # The server saw the second client only once the first one's block had passed.
    assert served.at - told.at >= 0.9


def test_a_hostile_reset_header_blocks_no_longer_than_the_max_wait(
    api: LimitedApi, redis_server: RedisServer, redis_url: str, raw_redis: redis.Redis
) -> None:
    clock = RecordingClock()
    with (
        shared_client(redis_server.url(), redis_server.password, max_wait=1) as first,
        shared_client(redis_server.url(), redis_server.password, max_wait=1, clock=clock) as second,
    ):
        spend(first, f"{api.base_url}/spent/1000000000", TOKEN, 1)
        [blocked] = raw_redis.keys("*:blocked")
        assert 0 < raw_redis.pttl(blocked) <= 1001
        assert spend(second, f"{api.base_url}/ok", TOKEN, 1) == []
    assert sum(clock.sleeps) <= 1.0


def test_redis_holds_fingerprints_never_a_token_and_every_key_expires(
    api: LimitedApi, redis_server: RedisServer, redis_url: str, raw_redis: redis.Redis
) -> None:
    with shared_client(redis_server.url(), redis_server.password) as client:
        assert spend(client, f"{api.base_url}/spent/30", TOKEN, 1) == []
        # A URL with a user and password in it (a proxy's): they are no part of a key either.
        in_url = api.base_url.replace("http://", "http://agency:pass-in-url-55@")
        assert spend(client, f"{in_url}/ok", OTHER_TOKEN, 2) == []
    keys = [key.decode() if isinstance(key, bytes) else key for key in raw_redis.keys("*")]
    assert len(keys) == 3  # TOKEN's bucket and block, OTHER_TOKEN's bucket
    assert any(Secret(TOKEN).fingerprint() in key for key in keys)
    assert any(Secret(OTHER_TOKEN).fingerprint() in key for key in keys)
    everything = " ".join(keys) + repr([raw_redis.dump(key) for key in keys])
    assert TOKEN not in everything and OTHER_TOKEN not in everything
    assert "pass-in-url-55" not in everything and "agency" not in everything
    assert all(0 < raw_redis.pttl(key) <= LIMIT.window_seconds * 1000 + 30_001 for key in keys)


# --- Redis that cannot be used --------------------------------------------------------------


def test_redis_lost_mid_run_fails_the_request_unmade_with_one_line(api: LimitedApi) -> None:
    port = dead_port()
    url = f"redis://127.0.0.1:{port}/0"
    gone = RedisRateLimiter(redis.Redis.from_url(url), url=url, max_block=30)
    config = HttpConfig(retry=RetryPolicy(max_attempts=1))
    with HttpClient(config, clock=SystemClock(), limiter=gone) as client:
        failures = spend(client, f"{api.base_url}/ok", TOKEN, 1)
    assert len(failures) == 1
    assert failures[0].startswith(
        f"shared rate limits unavailable: cannot reach Redis at redis://127.0.0.1:{port}/0 ("
    )
    assert "\n" not in failures[0]
    assert api.answers == []  # never sent without its limit


def test_an_account_whose_limiter_is_lost_is_incomplete_with_one_line(
    tmp_path: Path, fake_x: FakeX, x_server: HTTPServer
) -> None:
    config = load(write_config(tmp_path, None, base_url=x_server.url_for("/")))
    config.store_path.parent.mkdir(parents=True)
    port = dead_port()
    url = f"redis://127.0.0.1:{port}/0"
    gone = RedisRateLimiter(redis.Redis.from_url(url), url=url, max_block=30)
    with (
        HttpClient(HttpConfig(), clock=ManualClock(NOW.timestamp()), limiter=gone) as client,
        HistoryStore(config.store_path) as store,
    ):
        report = fetch_api_accounts(
            config, store, clock=client.clock, http_client=client, environ={"ACME_X_TOKEN": X_TOKEN}
        )
    [account] = report.accounts
    assert not account.complete and account.reason is not None
    assert "shared rate limits unavailable: cannot reach Redis at " in account.reason
    assert f"redis://127.0.0.1:{port}/0" in account.reason and "\n" not in account.reason
    assert fake_x.requests == []  # nothing was asked without its limit


def write_config(
    folder: Path, shared_limits: str | None, base_url: str = "http://127.0.0.1:9"
) -> Path:
    limits = "" if shared_limits is None else f"shared_limits: {shared_limits}"
    text = textwrap.dedent(
        f"""\
        output: {{dir: out, formats: [json]}}
        store: {{path: out/history.sqlite}}
        fetch:
          dir: out/bundles
          {limits}
        clients:
          - name: Acme
            accounts:
              - platform: x
                handle: acmehelp
                source: {{type: api, token_env: ACME_X_TOKEN, base_url: "{base_url}"}}
        """
    )
    path = folder / "audit.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path) -> Config:
    return load_config(path, load_registry([]))


def limiter_problem(config: Config) -> str:
    with pytest.raises(ConfigError) as raised:
        limiter_for(config, max_block=30)
    return str(raised.value)


def test_a_wrong_password_or_a_server_down_or_no_redis_is_one_line_naming_the_key(
    tmp_path: Path,
    redis_server: RedisServer,
    api: LimitedApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDITOR_REDIS_PASSWORD", "not-the-password-4411")
    named = "password_env: AUDITOR_REDIS_PASSWORD"
    wrong = limiter_problem(load(write_config(tmp_path, f"{{url: {redis_server.url()}, {named}}}")))
    assert f"fetch.shared_limits: Redis at {redis_server.url()} refused access" in wrong
    down = limiter_problem(
        load(write_config(tmp_path, f"{{url: 'redis://127.0.0.1:{dead_port()}/1', {named}}}"))
    )
    assert "fetch.shared_limits: cannot reach Redis at redis://127.0.0.1:" in down
    not_redis = limiter_problem(
        load(write_config(tmp_path, f"{{url: 'redis://{api.base_url[7:]}/0', {named}}}"))
    )
    # It closes the connection on Redis's first words.
    assert f"Redis at redis://{api.base_url[7:]}/0 (Connection closed by server.)" in not_redis
    monkeypatch.delenv("AUDITOR_REDIS_PASSWORD")
    unset = limiter_problem(load(write_config(tmp_path, f"{{url: {redis_server.url()}, {named}}}")))
    assert "fetch.shared_limits.password_env: environment variable AUDITOR_REDIS_PASSWORD" in unset
    for line in (wrong, down, not_redis, unset):
        assert "\n" not in line and "not-the-password-4411" not in line
        assert redis_server.password not in line


def test_the_right_password_from_a_file_connects(tmp_path: Path, redis_server: RedisServer) -> None:
    (tmp_path / "redis.password").write_text(redis_server.password + "\n", encoding="utf-8")
    config = load(
        write_config(tmp_path, f"{{url: {redis_server.url()}, password_file: redis.password}}")
    )
    shared = limiter_for(config, max_block=30)
    assert isinstance(shared, RedisRateLimiter)
    shared.close()
    assert limiter_for(load(write_config(tmp_path, None)), max_block=30) is None


@pytest.mark.parametrize("command", [["fetch"], ["run", "-q"], ["schedule", "--once"]])
def test_the_commands_exit_2_with_one_line_when_redis_is_down(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_X_TOKEN", "acme-x-token-7781")
    config = write_config(tmp_path, f"{{url: 'redis://127.0.0.1:{dead_port()}/1'}}")
    code, out, err = run_cli([command[0], str(config), *command[1:]])
    assert code == 2, (out, err)
    [line] = err.strip().splitlines()
    assert "fetch.shared_limits: cannot reach Redis at redis://127.0.0.1:" in line
    assert not (tmp_path / "out" / "bundles").exists()


# --- the config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shared_limits", "problem"),
    [
        (
            "{url: 'redis://:hunter2@cache.example:6379/1'}",
            "fetch.shared_limits.url: a password never goes in the URL",
        ),
        (
            "{url: 'redis://cache.example/1', password: hunter2}",
            "fetch.shared_limits.password: secrets never go in the config",
        ),
        (
            "{url: 'redis://cache.example/1', password_env: A, password_file: b}",
            "fetch.shared_limits.password_file: name either password_env or password_file",
        ),
        ("{url: 'http://cache.example/1'}", "fetch.shared_limits.url"),
        ("{url: 'redis://cache.example/1', pasword_env: A}", "pasword_env"),
    ],
    ids=["password-in-url", "inline-password", "env-and-file", "not-redis", "misspelt"],
)
def test_the_config_refuses_a_password_it_would_hold_and_what_is_not_a_redis_url(
    shared_limits: str, problem: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(write_config(tmp_path, shared_limits))
    message = str(raised.value)
    assert problem in message and "\n" not in message
    assert "hunter2" not in message
