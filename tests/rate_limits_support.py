"""For the shared rate-limit tests: a local API on 127.0.0.1 that enforces a per-token limit the
way a platform does (past it, a 429), and clients that spend one token's budget through Redis
from threads or from processes of their own.

The API counts each token's requests over the last ``window_seconds`` (a sliding window: any
window the platform might use, wherever it starts) and answers 429 to one past the limit; it
keeps every answer, so that a test asserts on what the server saw, not on the client's word.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from auditor.fetch.http import HttpClient, HttpConfig, HttpError, RetryPolicy, SystemClock
from auditor.fetch.limits import RedisRateLimiter
from auditor.fetch.secrets import Secret
from auditor.sources.platforms.base import RateInfo, RateLimit, header_float, header_int

# Small, so that the tests take seconds: 5 requests per second per token.
LIMIT = RateLimit("api", 5, 1)
PLATFORM = "testapi"


@dataclass(frozen=True)
class Answer:
    token: str
    path: str
    status: int
    at: float  # the server's monotonic clock


def read_test_rate_limit(headers: Mapping[str, str], now: float) -> RateInfo:
    """The test API's headers: ``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (epoch)."""
    return RateInfo(
        header_int(headers.get("x-rate-limit-remaining")),
        header_float(headers.get("x-rate-limit-reset")),
    )


class LimitedApi:
    """``/ok``: counted against the token's limit (429 past it). ``/retry-after/<s>``: a 429
    asking to come back in ``s`` seconds. ``/spent/<s>``: a 200 whose headers say nothing is
    left until ``s`` seconds from now."""

    def __init__(self, limit: RateLimit = LIMIT) -> None:
        self.limit = limit
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._recent: dict[str, list[float]] = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers = api.answer(self.headers.get("Authorization", ""), self.path)
                body = json.dumps({"status": status}).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, authorization: str, path: str) -> tuple[int, dict[str, str]]:
        token = authorization.removeprefix("Bearer ")
        now = time.monotonic()
        status, headers = 200, {}
        with self._lock:
            if path.startswith("/retry-after/"):
                status, headers = 429, {"Retry-After": path.rsplit("/", 1)[1]}
            elif path.startswith("/spent/"):
                reset = time.time() + float(path.rsplit("/", 1)[1])
                headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": f"{reset:.3f}"}
            else:
                window = self.limit.window_seconds
                recent = [t for t in self._recent.get(token, []) if t > now - window]
                if len(recent) >= self.limit.requests:
                    status, headers = 429, {"Retry-After": str(window)}
                else:
                    recent.append(now)
                self._recent[token] = recent
            self.answers.append(Answer(token, path, status, now))
        return status, headers

    def refused(self, path: str = "/ok") -> list[Answer]:
        """The answers to ``path`` that were 429: a client past the limit."""
        with self._lock:
            return [a for a in self.answers if a.path == path and a.status == 429]

    def served(self, path: str = "/ok") -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.path == path and a.status == 200]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def shared_client(
    redis_url: str, password: str, *, max_wait: float = 30.0, clock: SystemClock | None = None
) -> HttpClient:
    """An HTTP client whose budgets are kept in the Redis at ``redis_url`` (no password in it),
    making one attempt per request: a 429 is an error, never hidden by a retry."""
    limiter = RedisRateLimiter.connect(redis_url, Secret(password), max_block=max_wait)
    config = HttpConfig(retry=RetryPolicy(max_attempts=1, max_wait=max_wait))
    return HttpClient(config, clock=clock or SystemClock(), limiter=limiter)


def spend(client: HttpClient, url: str, token: str, count: int) -> list[str]:
    """``count`` requests one after another on ``token``'s budget; the failures' reasons."""
    failures = []
    for _ in range(count):
        try:
            client.request_json(
                platform=PLATFORM,
                read_rate_limit=read_test_rate_limit,
                url=url,
                token=Secret(token),
                bucket=LIMIT.bucket,
                rate_limit=LIMIT,
            )
        except HttpError as error:
            failures.append(error.reason)
    return failures


def spend_in_process(
    redis_url: str,
    password: str,
    url: str,
    token: str,
    count: int,
    start: Barrier,
    results: Queue[list[str]],
) -> None:
    """A process of its own spending ``token``'s budget (a Celery worker's share): it starts
    with the others (``start``) and puts its failures on ``results``."""
    with shared_client(redis_url, password) as client:
        start.wait(timeout=60)
        results.put(spend(client, url, token, count))
