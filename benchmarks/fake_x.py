"""A local X API v2 for the fetch benchmarks: latency, per-token limits enforced, and a log.

A threaded server on 127.0.0.1 answers the three calls an X account's fetch makes (the profile,
the mentions and the account's own posts, two pages of five posts each) after ``latency``
seconds. Like the real API it counts each token's calls per endpoint in 15-minute windows, at
X's documented limits for an app token (users/by/username 300, users/:id/mentions 450,
users/:id/tweets 1500), says what is left in ``x-rate-limit-*`` headers, and answers 429 past
a limit; it also answers 429 past ``max_in_flight`` requests at once (all tokens together).

It logs, per token: calls served, 429 answers, the most calls in flight at once and the most
calls started within any one second; :meth:`FakeX.report` returns them for the benchmark to
print and check. Used by bench_fetch.py (one token, one process) and bench_scale.py (20 tokens,
Celery workers).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WINDOW_SECONDS = 15 * 60
# X API v2's documented limits per app token and 15-minute window, by endpoint.
LIMITS = {"users/by/username": 300, "users/:id/mentions": 450, "users/:id/tweets": 1500}
BRAND_ID_BASE = 1_000_000


@dataclass
class TokenLog:
    """What one token did: calls served and refused, the most at once and within a second."""

    served: int = 0
    rejected: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    started_per_second: Counter[int] = field(default_factory=Counter)
    spent: Counter[str] = field(default_factory=Counter)

    @property
    def peak_per_second(self) -> int:
        return max(self.started_per_second.values(), default=0)


class FakeXState:
    """The server's counters, under one lock."""

    def __init__(self, max_in_flight: int) -> None:
        self.lock = threading.Lock()
        self.max_allowed_in_flight = max_in_flight
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0
        self.rejected = 0
        self.window_start = time.time()
        self.tokens: defaultdict[str, TokenLog] = defaultdict(TokenLog)

    def enter(self, token: str) -> bool:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            log = self.tokens[token]
            log.in_flight += 1
            log.max_in_flight = max(log.max_in_flight, log.in_flight)
            log.started_per_second[int(time.monotonic())] += 1
            return self.in_flight <= self.max_allowed_in_flight

    def leave(self, token: str) -> None:
        with self.lock:
            self.in_flight -= 1
            self.tokens[token].in_flight -= 1

    def spend(self, token: str, endpoint: str) -> tuple[bool, int, int, int]:
        """One call from the token's budget for ``endpoint``: (allowed, limit, remaining,
        reset epoch)."""
        limit = LIMITS[endpoint]
        with self.lock:
            now = time.time()
            if now - self.window_start >= WINDOW_SECONDS:
                self.window_start = now
                for log in self.tokens.values():
                    log.spent.clear()
            spent = self.tokens[token].spent
            allowed = spent[endpoint] < limit
            if allowed:
                spent[endpoint] += 1
            return allowed, limit, limit - spent[endpoint], int(self.window_start + WINDOW_SECONDS)

    def answered(self, token: str, status: int) -> None:
        with self.lock:
            log = self.tokens[token]
            if status == 429:
                self.rejected += 1
                log.rejected += 1
            else:
                self.served += 1
                log.served += 1


def _tweet(
    tweet_id: int, author_id: int, text: str, created: datetime, reply_to: int | None
) -> Any:
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
            _tweet(base + i, 9_000 + i, f"@brand help with order {base + i}", now, None)
            for i in range(5)
        ]
    else:
        data = [
            _tweet(base + 500 + i, user_id, "@customer sorted, thanks!", now, base + i)
            for i in range(5)
        ]
    body: dict[str, Any] = {
        "data": data,
        "includes": {
            "users": [*customers, {"id": str(user_id), "username": f"brand{user_id}"}],
            "tweets": [_tweet(base + i, 9_000 + i, "@brand help", now, None) for i in range(5)],
        },
        "meta": {"result_count": len(data), "newest_id": data[0]["id"]},
    }
    if page == 1:
        body["meta"]["next_token"] = f"{kind}-page-2"
    return body


def profile(user_id: int, handle: str) -> dict[str, Any]:
    """A brand's profile with a bio and a website, as a support account states them (so that
    the profile checks have what they read, as on a real account)."""
    return {
        "id": str(user_id),
        "name": handle,
        "username": handle,
        "description": f"Support Mon-Fri 9:00-17:00 UTC. DM us or email help@{handle}.example",
        "url": f"https://{handle}.example/help",
    }


def _endpoint(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[:3] == ["2", "users", "by"]:
        return "users/by/username"
    return f"users/:id/{parts[3]}"


def make_handler(state: FakeXState, latency: float) -> type[BaseHTTPRequestHandler]:
    now = datetime.now(UTC) - timedelta(hours=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body go out in two writes: with Nagle's algorithm the body waits
        # for the client's delayed ACK of the headers (40 ms on Linux), nearly doubling the
        # 50 ms latency of every sequential call.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # thousands of access lines would only slow the run down; TokenLog counts

        def do_GET(self) -> None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            within_concurrency = state.enter(token)
            try:
                time.sleep(latency)
                url = urlsplit(self.path)
                allowed, limit, remaining, reset = state.spend(token, _endpoint(url.path))
                headers = {
                    "x-rate-limit-limit": str(limit),
                    "x-rate-limit-remaining": str(remaining),
                    "x-rate-limit-reset": str(reset),
                }
                if not within_concurrency or not allowed:
                    self.answer(token, 429, {"title": "Too Many Requests"}, headers)
                    return
                self.answer(token, 200, self.route(url.path, parse_qs(url.query)), headers)
            finally:
                state.leave(token)

        def route(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
            parts = path.strip("/").split("/")
            if parts[:3] == ["2", "users", "by"]:
                handle = parts[-1]
                user_id = BRAND_ID_BASE + int(handle.removeprefix("brand"))
                return {"data": profile(user_id, handle)}
            user_id, kind = int(parts[2]), parts[3]
            page = 2 if "pagination_token" in query else 1
            return timeline_page(user_id, kind, page, now)

        def answer(self, token: str, status: int, body: Any, headers: dict[str, str]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            state.answered(token, status)

    return Handler


class FakeX:
    """The server, started in a thread: ``with FakeX(...) as server: server.base_url``."""

    def __init__(self, *, latency: float = 0.05, max_in_flight: int = 20) -> None:
        self.state = FakeXState(max_in_flight)
        ThreadingHTTPServer.request_queue_size = 1024  # the default backlog of 5 drops connects
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state, latency))
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeX:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def report(self) -> dict[str, dict[str, int]]:
        """Per token (by its position in first-seen order, never the token): served, 429s, the
        most in flight at once, the most started within one second."""
        with self.state.lock:
            return {
                f"token{index}": {
                    "served": log.served,
                    "rejected": log.rejected,
                    "max_in_flight": log.max_in_flight,
                    "peak_per_second": log.peak_per_second,
                }
                for index, log in enumerate(self.state.tokens.values())
            }
