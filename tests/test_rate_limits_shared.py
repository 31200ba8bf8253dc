"""One token's rate limit kept across HTTP clients that share it through Redis
(``fetch.shared_limits``): two clients on two threads, and two processes of their own (as
Celery workers are), spend one token's budget against a local API that answers 429 past
5 requests a second; it never does. The same load through clients that each keep their own
budget (the default) earns 429s: the limit is real.

Serial (tests/conftest.py): the API measures seconds and the second test starts processes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator

import pytest

from auditor.fetch.http import HttpClient, HttpConfig, RetryPolicy, SystemClock

from rate_limits_support import LIMIT, LimitedApi, shared_client, spend, spend_in_process
from services import RedisServer

TOKEN = "shared-test-token-3c9e"
PER_CLIENT = 8


@pytest.fixture
def api() -> Iterator[LimitedApi]:
    server = LimitedApi()
    yield server
    server.close()


def on_threads(clients: list[HttpClient], url: str) -> list[str]:
    """Every client spends ``PER_CLIENT`` requests of TOKEN at once, each on its own thread."""
    failures: list[str] = []
    lock = threading.Lock()

    def run(client: HttpClient) -> None:
        lost = spend(client, url, TOKEN, PER_CLIENT)
        with lock:
            failures.extend(lost)

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


def test_two_clients_on_two_threads_keep_one_token_within_its_limit(
    api: LimitedApi, redis_server: RedisServer, redis_url: str
) -> None:
    clients = [shared_client(redis_server.url(), redis_server.password) for _ in range(2)]
    try:
        failures = on_threads(clients, f"{api.base_url}/ok")
    finally:
        for client in clients:
            client.close()
    assert failures == []
    assert api.refused() == []
    assert len(api.served()) == 2 * PER_CLIENT


def test_clients_that_keep_their_own_budgets_pass_the_limit(api: LimitedApi) -> None:
    # The control: the same load, each client with the default (local) limiter, is refused.
    config = HttpConfig(retry=RetryPolicy(max_attempts=1))
    clients = [HttpClient(config, clock=SystemClock()) for _ in range(2)]
    try:
        failures = on_threads(clients, f"{api.base_url}/ok")
    finally:
        for client in clients:
            client.close()
    assert len(api.served()) == LIMIT.requests
    assert len(api.refused()) == 2 * PER_CLIENT - LIMIT.requests
    assert len(failures) == len(api.refused())


def test_two_processes_keep_one_token_within_its_limit(
    api: LimitedApi, redis_server: RedisServer, redis_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(
            target=spend_in_process,
            args=(
                redis_server.url(),
                redis_server.password,
                f"{api.base_url}/ok",
                TOKEN,
                PER_CLIENT,
                start,
                results,
            ),
        )
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    try:
        failures = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert [process.exitcode for process in processes] == [0, 0]
    assert failures == [[], []]
    assert api.refused() == []
    assert len(api.served()) == 2 * PER_CLIENT
