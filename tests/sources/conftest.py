"""Shared helpers for the source tests: recorded payloads, specs, a walker, fast clients."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.fetch.http import HttpClient, HttpConfig, ManualClock, RetryPolicy
from auditor.sources.platforms.base import FetchSpec, Page, Protocol, Record, Request

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "payloads"

WINDOW_START = datetime(2024, 5, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 5, 15, tzinfo=UTC)


def payload(platform: str, name: str) -> Any:
    return json.loads((PAYLOADS / platform / f"{name}.json").read_text(encoding="utf-8"))


def payload_bytes(platform: str, name: str) -> bytes:
    return (PAYLOADS / platform / f"{name}.json").read_bytes()


def make_spec(platform: str, account: str, **kwargs: Any) -> FetchSpec:
    values: dict[str, Any] = {
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
        "fetched_at": WINDOW_END,
    }
    values.update(kwargs)
    return FetchSpec(platform=platform, account=account, **values)


Answer = Page | str  # a page (2xx, or a refusal with its body), or a failure reason


def walk(
    protocol: Protocol, answer: Callable[[Request], Answer]
) -> tuple[list[Record], dict[str, Any], list[Request]]:
    """Drives a protocol without any HTTP: ``answer`` maps each request to a page or a failure.

    As the driver does: a 2xx page is received, any other page refused (with its body), a
    reason string failed."""
    queue = list(protocol.start())
    seen: list[Request] = []
    records: list[Record] = []
    while queue:
        request = queue.pop(0)
        seen.append(request)
        assert len(seen) < 1000, "runaway paging"
        result = answer(request)
        if not isinstance(result, Page):
            step = protocol.failed(request, result)
        elif 200 <= result.status < 300:
            step = protocol.receive(request, result)
        else:
            step = protocol.refused(request, result)
        records.extend(step.records)
        queue.extend(step.requests)
    closing, cursor = protocol.finish()
    return records + closing, cursor, seen


def ok(body: Any, headers: dict[str, str] | None = None) -> Page:
    return Page(200, headers or {}, body)


def refusal(status: int, body: Any) -> Page:
    """A 4xx answer with its body: a recorded platform error, or None for a non-JSON one."""
    return Page(status, {}, body)


def drive(
    protocol: Protocol, route: Callable[[Request], Any]
) -> tuple[list[Record], dict[str, Any], list[Request]]:
    """walk() for routes that answer with a JSON body, a Page (a refusal with its body) or an
    int: the HTTP status of a failure."""

    def answer(request: Request) -> Answer:
        body = route(request)
        if isinstance(body, Page):
            return body
        return f"HTTP {body} error" if isinstance(body, int) else ok(body)

    return walk(protocol, answer)


def posts_by_id(records: list[Record]) -> dict[str, Record]:
    return {r["id"]: r for r in records if r["kind"] == "post"}


def window_of(records: list[Record]) -> Record:
    (window,) = [r for r in records if r["kind"] == "window"]
    return window


def of_kind(records: list[Record], kind: str) -> list[Record]:
    return [r for r in records if r["kind"] == kind]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


class HttpFactory(typing.Protocol):
    """The ``http_factory`` fixture: a client on the manual clock; the keywords override the
    test defaults."""

    def __call__(
        self,
        *,
        max_attempts: int = 4,
        max_wait: float = 900.0,
        read_timeout: float = 2.0,
        concurrency: int = 4,
    ) -> HttpClient: ...


@pytest.fixture
def http_factory(clock: ManualClock) -> Iterator[HttpFactory]:
    """HTTP clients on the manual clock, short timeouts, small backoff; closed after the test."""
    made: list[HttpClient] = []

    def build(
        *,
        max_attempts: int = 4,
        max_wait: float = 900.0,
        read_timeout: float = 2.0,
        concurrency: int = 4,
    ) -> HttpClient:
        retry = RetryPolicy(
            max_attempts=max_attempts,
            base_delay=1.0,
            max_delay=30.0,
            max_wait=max_wait,
            jitter=0.5,
        )
        config = HttpConfig(
            connect_timeout=1.0,
            read_timeout=read_timeout,
            retry=retry,
            concurrency=concurrency,
        )
        client = HttpClient(config, clock=clock)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()
