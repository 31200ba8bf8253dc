"""Fake X and Mastodon APIs for the fetch tests: local servers on 127.0.0.1 that serve the
recorded payloads in tests/data/payloads (the platforms' documented shapes) and remember every
request, so that tests can assert what was asked, and what not."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PAYLOADS = Path(__file__).resolve().parent / "data" / "payloads"
X_BRAND_ID = "1500000000000000001"
MASTODON_BRAND_ID = "109350000000000001"
X_TOKEN = "AAAAx-test-bearer-5f0c1e77d2"
MASTODON_TOKEN = "masto-test-token-9a41c2"
# The fetch runs "now" = 2024-05-15 00:00 UTC: the recorded payloads fall in its 14 days.
NOW = datetime(2024, 5, 15, tzinfo=UTC)


def payload(platform: str, name: str) -> Any:
    return json.loads((PAYLOADS / platform / f"{name}.json").read_text(encoding="utf-8"))


def _x_tweets() -> dict[str, dict[str, Any]]:
    """Every tweet in the recorded X payloads, by id (what a lookup by id can return)."""
    tweets: dict[str, dict[str, Any]] = {}
    for path in sorted((PAYLOADS / "x").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(body, dict):
            continue
        data = body.get("data")
        items = [
            *(data if isinstance(data, list) else []),
            *body.get("includes", {}).get("tweets", []),
        ]
        for tweet in items:
            if isinstance(tweet, dict) and "created_at" in tweet:
                tweets[str(tweet["id"])] = tweet
    return tweets


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, content_type="application/json", headers=headers
    )


class FakeX:
    """X API v2 on recorded payloads. ``broken`` keys (path, or path + ":page2") answer their
    status forever; ``gone`` ids are "Not Found" to lookups; ``new_mentions`` are what a
    ``since_id`` request of the mentions timeline returns."""

    def __init__(
        self,
        broken: dict[str, int] | None = None,
        gone: set[str] | None = None,
        new_mentions: list[dict[str, Any]] | None = None,
    ) -> None:
        self.broken = broken or {}
        self.gone = gone or set()
        self.new_mentions = new_mentions or []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.tweets = _x_tweets()

    def __call__(self, request: Request) -> Response:
        args = dict(request.args.items())
        self.requests.append((request.path, args))
        key = request.path + (":page2" if "pagination_token" in args else "")
        if key in self.broken:
            return json_response({"title": "Service Unavailable"}, self.broken[key])
        headers = {"x-rate-limit-remaining": "440", "x-rate-limit-reset": "1715731200"}
        if request.path == "/2/tweets":
            return json_response(self.lookup(args["ids"].split(",")), headers=headers)
        if "since_id" in args:
            return json_response(self.since_page(request.path), headers=headers)
        name = {
            "/2/users/by/username/acmehelp": "users_by_username",
            f"/2/users/{X_BRAND_ID}/mentions": "mentions_page1",
            f"/2/users/{X_BRAND_ID}/mentions:page2": "mentions_page2",
            f"/2/users/{X_BRAND_ID}/tweets": "tweets_page1",
        }.get(key)
        if name is None:
            return json_response({"title": "Not Found"}, 404)
        return json_response(payload("x", name), headers=headers)

    def lookup(self, ids: list[str]) -> dict[str, Any]:
        data = [self.tweets[i] for i in ids if i in self.tweets and i not in self.gone]
        errors = [
            {
                "value": i,
                "detail": f"Could not find tweet with ids: [{i}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "ids",
                "resource_id": i,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for i in ids
            if i in self.gone
        ]
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return body

    def since_page(self, path: str) -> dict[str, Any]:
        if not path.endswith("/mentions") or not self.new_mentions:
            empty: dict[str, Any] = payload("x", "empty_timeline")
            return empty
        return {
            "data": self.new_mentions,
            "includes": {"users": [{"id": "907", "name": "Sam", "username": "sam_q"}]},
            "meta": {
                "result_count": len(self.new_mentions),
                "newest_id": self.new_mentions[0]["id"],
                "oldest_id": self.new_mentions[-1]["id"],
            },
        }

    def asked(self, path_end: str) -> list[dict[str, str]]:
        return [args for path, args in self.requests if path.endswith(path_end)]


class BudgetX(FakeX):
    """FakeX that answers a profile lookup of any username and keeps X's rate limit on them: per
    token, ``allowance`` lookups in a window of ``window`` seconds (from the first lookup, on
    the ``now`` clock), said in ``x-rate-limit-remaining`` / ``x-rate-limit-reset``; a lookup past
    the allowance earns a 429. ``lookups`` keeps (username, when, status) of each; a ``broken``
    lookup answers as FakeX's do, and counts against nothing."""

    def __init__(self, now: Callable[[], float], allowance: int = 1, window: int = 600) -> None:
        super().__init__()
        self.now = now
        self.allowance = allowance
        self.window = window
        self.windows: dict[str, tuple[float, int]] = {}  # token -> (reset at, lookups made)
        self.lookups: list[tuple[str, float, int]] = []

    def __call__(self, request: Request) -> Response:
        prefix = "/2/users/by/username/"
        if not request.path.startswith(prefix) or request.path in self.broken:
            return super().__call__(request)
        now, token = self.now(), request.headers.get("Authorization", "")
        reset_at, used = self.windows.get(token, (0.0, 0))
        if now >= reset_at:
            reset_at, used = now + self.window, 0
        status = 429 if used >= self.allowance else 200
        used += status == 200
        self.windows[token] = (reset_at, used)
        self.lookups.append((request.path.removeprefix(prefix), now, status))
        headers = {
            "x-rate-limit-remaining": str(self.allowance - used),
            "x-rate-limit-reset": str(int(reset_at)),
        }
        if status == 429:
            return json_response({"title": "Too Many Requests"}, 429, headers)
        return json_response(payload("x", "users_by_username"), headers=headers)


class FakeMastodon:
    """A Mastodon instance on recorded payloads; ``since_id`` requests find nothing new."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.base_url = ""

    def __call__(self, request: Request) -> Response:
        args = dict(request.args.items())
        self.requests.append((request.path, args))
        path = request.path
        if path == "/api/v1/accounts/lookup":
            return json_response(payload("mastodon", "accounts_lookup"))
        if path == "/api/v1/notifications":
            if "since_id" in args:
                return json_response([])
            if "max_id" in args:
                return json_response(payload("mastodon", "notifications_page2"))
            link = f'<{self.base_url}api/v1/notifications?max_id=34975899>; rel="next"'
            return json_response(payload("mastodon", "notifications_page1"), headers={"Link": link})
        if path == "/api/v1/notifications/requests":
            return json_response(payload("mastodon", "notification_requests"))
        if path == f"/api/v1/accounts/{MASTODON_BRAND_ID}/statuses":
            if "since_id" in args:
                return json_response([])
            return json_response(payload("mastodon", "account_statuses"))
        if path.startswith("/api/v1/statuses/") and path.endswith("/context"):
            return json_response(payload("mastodon", "status_context"))
        return json_response({"error": "Record not found"}, 404)

    def asked(self, path_end: str) -> list[dict[str, str]]:
        return [args for path, args in self.requests if path.endswith(path_end)]


def serve(handler: Callable[[Request], Response]) -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("").respond_with_handler(handler)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()
