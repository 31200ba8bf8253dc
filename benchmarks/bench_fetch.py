"""Fetch throughput: 200 X accounts x 5 pages through the real driver and HTTP layer.

A local threaded server on 127.0.0.1 (fake_x.py) plays the X API v2 with 50 ms of latency per
answer. It announces X's documented limits per token in ``x-rate-limit-*`` headers and allows
at most 20 requests in flight: it counts them, records the most it saw, and answers 429 beyond
either limit. The auditor fetches with a concurrency limit of 20 (on more worker threads than
that, so that the limit, not the thread count, is what holds).

Run: ``python benchmarks/bench_fetch.py``. Serially this would take over 50 s (1,000 requests x
50 ms); the target is under 10 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta

from fake_x import FakeX

from auditor.fetch.driver import AccountJob, fetch_accounts
from auditor.fetch.http import HttpClient, HttpConfig, RetryPolicy
from auditor.fetch.secrets import Secret
from auditor.sources.platforms.base import FetchSpec
from auditor.sources.platforms.x import XProtocol

LATENCY = 0.05
MAX_CONCURRENT = 20
TOKEN = "bench-token-not-a-real-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=MAX_CONCURRENT)
    args = parser.parse_args()

    server = FakeX(latency=LATENCY, max_in_flight=MAX_CONCURRENT).__enter__()
    state, base_url = server.state, server.base_url

    end = datetime.now(UTC)
    token = Secret(TOKEN)
    jobs = [
        AccountJob(
            XProtocol(
                FetchSpec(
                    platform="x",
                    account=f"brand{i}",
                    window_start=end - timedelta(days=14),
                    window_end=end,
                    options={"base_url": base_url},
                    fetched_at=end,
                )
            ),
            token,
        )
        for i in range(args.accounts)
    ]
    config = HttpConfig(
        connect_timeout=5.0,
        read_timeout=10.0,
        retry=RetryPolicy(max_attempts=3, base_delay=0.2),
        concurrency=args.concurrency,
    )
    with HttpClient(config) as client:
        started = time.perf_counter()
        outcomes = fetch_accounts(jobs, client, workers=args.workers)
        wall = time.perf_counter() - started
    server.__exit__()

    requests_made = sum(o.requests_made for o in outcomes)
    pages = sum(o.pages for o in outcomes)
    incomplete = [o.missing for o in outcomes if not o.complete]
    serial = requests_made * LATENCY
    print(f"accounts:            {len(outcomes)}")
    print(f"pages:               {pages}")
    print(f"requests made:       {requests_made} (server answered {state.served})")
    print(f"wall time:           {wall:.2f} s (serially >= {serial:.0f} s)")
    print(f"max concurrency:     {state.max_in_flight} (server allows {MAX_CONCURRENT})")
    print(f"429 answers:         {state.rejected}")
    print(f"incomplete windows:  {len(incomplete)}")

    assert state.max_in_flight <= MAX_CONCURRENT, "exceeded the announced concurrency"
    assert state.rejected == 0, "the server had to refuse requests"
    assert not incomplete, incomplete[:3]
    assert pages == 5 * args.accounts, pages
    if wall >= 10.0:
        print("target (< 10 s): MISSED")
        return 1
    print("target (< 10 s): met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
