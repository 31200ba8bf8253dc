"""Fetch throughput: 200 X accounts x 5 pages through the real driver and HTTP layer.

A local threaded server on 127.0.0.1 plays the X API v2 with 50 ms of latency per answer. It
announces 5,000 requests per 15 minutes per token in ``x-rate-limit-*`` headers and allows at
most 20 requests in flight: it counts them, records the most it saw, and answers 429 beyond
either limit. The auditor fetches with a concurrency limit of 20 (on more worker threads than
that, so that the limit, not the thread count, is what holds).

Run: ``python benchmarks/bench_fetch.py``. Serially this would take over 50 s (1,000 requests x
50 ms); the target is under 10 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from auditor.fetch.driver import AccountJob, fetch_accounts
from auditor.fetch.http import HttpClient, HttpConfig, RetryPolicy
from auditor.fetch.secrets import Secret
from auditor.sources.platforms.base import FetchSpec
from auditor.sources.platforms.x import XProtocol

LATENCY = 0.05
LIMIT_PER_WINDOW = 5_000
WINDOW_SECONDS = 15 * 60
MAX_CONCURRENT = 20
TOKEN = "bench-token-not-a-real-secret"
BRAND_ID_BASE = 1_000_000


class FakeXState:
    """What the fake server counts: requests in flight, the most seen, the budget per token."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0
        self.rejected = 0
        self.window_start = time.time()
        self.remaining: dict[str, int] = {}

    def enter(self) -> bool:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.in_flight <= MAX_CONCURRENT

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def spend(self, token: str) -> tuple[bool, int, int]:
        """Takes one call from the token's budget: (allowed, remaining, reset epoch)."""
        with self.lock:
            now = time.time()
            if now - self.window_start >= WINDOW_SECONDS:
                self.window_start = now
                self.remaining.clear()
            left = self.remaining.get(token, LIMIT_PER_WINDOW)
            allowed = left > 0
            if allowed:
                left -= 1
                self.remaining[token] = left
            return allowed, left, int(self.window_start + WINDOW_SECONDS)


def tweet(tweet_id: int, author_id: int, text: str, created: datetime, reply_to: int | None) -> Any:
    body: dict[str, Any] = {
        "id": str(tweet_id),
        "text": text,
        "author_id": str(author_id),
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conversation_id": str(reply_to or tweet_id),
        "edit_history_tweet_ids": [str(tweet_id)],
    }
    if reply_to:
        body["referenced_tweets"] = [{"type": "replied_to", "id": str(reply_to)}]
    return body


def timeline_page(user_id: int, kind: str, page: int, now: datetime) -> dict[str, Any]:
    """Two pages per timeline; the brand's replies answer mentions on the same pages."""
    base = user_id * 1_000 + page * 10
    customers = [{"id": str(9_000 + i), "username": f"customer{i}"} for i in range(5)]
    if kind == "mentions":
        data = [
            tweet(base + i, 9_000 + i, f"@brand help with order {base + i}", now, None)
            for i in range(5)
        ]
    else:
        data = [
            tweet(base + 500 + i, user_id, "@customer sorted, thanks!", now, base + i)
            for i in range(5)
        ]
    body: dict[str, Any] = {
        "data": data,
        "includes": {
            "users": [*customers, {"id": str(user_id), "username": f"brand{user_id}"}],
            "tweets": [tweet(base + i, 9_000 + i, "@brand help", now, None) for i in range(5)],
        },
        "meta": {"result_count": len(data), "newest_id": data[0]["id"]},
    }
    if page == 1:
        body["meta"]["next_token"] = f"{kind}-page-2"
    return body


def make_handler(state: FakeXState) -> type[BaseHTTPRequestHandler]:
    now = datetime.now(UTC) - timedelta(hours=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a thousand access lines would only slow the run down

        def do_GET(self) -> None:
            within_limit = state.enter()
            try:
                time.sleep(LATENCY)
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                allowed, remaining, reset = state.spend(token)
                headers = {
                    "x-rate-limit-limit": str(LIMIT_PER_WINDOW),
                    "x-rate-limit-remaining": str(remaining),
                    "x-rate-limit-reset": str(reset),
                }
                if not within_limit or not allowed:
                    with state.lock:
                        state.rejected += 1
                    self.answer(429, {"title": "Too Many Requests"}, headers)
                    return
                self.answer(200, self.route(), headers)
            finally:
                state.leave()

        def route(self) -> dict[str, Any]:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            parts = url.path.strip("/").split("/")
            if parts[:3] == ["2", "users", "by"]:
                handle = parts[-1]
                user_id = BRAND_ID_BASE + int(handle.removeprefix("brand"))
                return {"data": {"id": str(user_id), "name": handle, "username": handle}}
            user_id, kind = int(parts[2]), parts[3]
            page = 2 if "pagination_token" in query else 1
            return timeline_page(user_id, kind, page, now)

        def answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            with state.lock:
                state.served += 1

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=MAX_CONCURRENT)
    args = parser.parse_args()

    state = FakeXState()
    ThreadingHTTPServer.request_queue_size = 256  # the default backlog of 5 drops connects
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"

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
    server.shutdown()

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
