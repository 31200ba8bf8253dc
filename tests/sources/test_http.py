"""The shared HTTP layer against local servers on 127.0.0.1 (the protocols read their own rate-limit headers: see their tests)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from auditor.fetch.http import (
    USER_AGENT,
    HttpError,
    ManualClock,
    parse_retry_after,
)
from auditor.fetch.secrets import (
    RedactingFilter,
    Secret,
    install_log_redaction,
    load_token,
    redact,
)
from auditor.sources.platforms.facebook import read_graph_rate_limit
from auditor.sources.platforms.mastodon import read_mastodon_rate_limit
from auditor.sources.platforms.x import read_x_rate_limit

from .conftest import HttpFactory

TOKEN = "AAAAtest-bearer-7f3c9e1d2b"
NOW = 1_700_000_000.0


# --- Retry-After ------------------------------------------------------------------------------


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after(formatdate(NOW + 30, usegmt=True), NOW) == pytest.approx(30)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


# --- retries and waits ----------------------------------------------------------------------


def test_429_waits_for_the_announced_reset_on_the_injected_clock(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    reset = int(clock.now()) + 37
    httpserver.expect_ordered_request("/2/users/by/username/acme").respond_with_json(
        {"title": "Too Many Requests"},
        status=429,
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
    )
    httpserver.expect_ordered_request("/2/users/by/username/acme").respond_with_json(
        {"data": {"id": "1"}}
    )
    started = clock.now()
    response = http_factory().request_json(
        platform="x",
        read_rate_limit=read_x_rate_limit,
        url=httpserver.url_for("/2/users/by/username/acme"),
        token=Secret(TOKEN),
    )
    assert response.body == {"data": {"id": "1"}} and response.attempts == 2
    assert clock.now() - started == pytest.approx(37)
    httpserver.check_assertions()


def test_retry_after_takes_precedence(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    httpserver.expect_ordered_request("/x").respond_with_data(
        "", status=429, headers={"Retry-After": "5"}
    )
    httpserver.expect_ordered_request("/x").respond_with_json([])
    http_factory().request_json(
        platform="mastodon", read_rate_limit=read_mastodon_rate_limit, url=httpserver.url_for("/x")
    )
    assert clock.sleeps == [5.0]


def test_500_then_success_backs_off_with_jitter(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    httpserver.expect_ordered_request("/x").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/x").respond_with_data("oops", status=502)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": True})
    response = http_factory().request_json(
        platform="x", read_rate_limit=read_x_rate_limit, url=httpserver.url_for("/x")
    )
    assert response.body == {"ok": True} and response.attempts == 3
    first, second = clock.sleeps
    assert 1.0 <= first <= 1.5 and 2.0 <= second <= 3.0


def test_read_timeout_is_retried(threaded_server: HTTPServer, http_factory: HttpFactory) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response("{}", content_type="application/json")

    # Threaded, so that the retry is not queued behind the slow answer.
    threaded_server.expect_ordered_request("/x").respond_with_handler(slow)
    threaded_server.expect_ordered_request("/x").respond_with_json({"fast": True})
    response = http_factory(read_timeout=0.1).request_json(
        platform="x", read_rate_limit=read_x_rate_limit, url=threaded_server.url_for("/x")
    )
    assert response.body == {"fast": True} and response.attempts == 2


def test_truncated_json_is_retried(httpserver: HTTPServer, http_factory: HttpFactory) -> None:
    httpserver.expect_ordered_request("/x").respond_with_data(
        '{"data": [{"id": "1", "te', content_type="application/json"
    )
    httpserver.expect_ordered_request("/x").respond_with_json({"data": []})
    response = http_factory().request_json(
        platform="x", read_rate_limit=read_x_rate_limit, url=httpserver.url_for("/x")
    )
    assert response.body == {"data": []} and response.attempts == 2


def test_body_cut_short_of_its_content_length_is_retried(http_factory: HttpFactory) -> None:
    """A raw server: the first answer promises 200 bytes and hangs up after 14."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def serve() -> None:
        for body, length in ((b'{"data": [{"id', 200), (b'{"data": []}', None)):
            connection, _ = listener.accept()
            connection.recv(65536)
            size = length if length is not None else len(body)
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
            connection.sendall(head.encode() + body)
            connection.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        response = http_factory().request_json(
            platform="x", read_rate_limit=read_x_rate_limit, url=f"http://127.0.0.1:{port}/x"
        )
    finally:
        server.join(timeout=5)
        listener.close()
    assert response.body == {"data": []} and response.attempts == 2


def test_a_request_that_never_succeeds_gives_up_with_the_reason(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    httpserver.expect_request("/x").respond_with_data("down", status=503)
    with pytest.raises(HttpError) as caught:
        http_factory(max_attempts=3).request_json(
            platform="x", read_rate_limit=read_x_rate_limit, url=httpserver.url_for("/x")
        )
    assert caught.value.attempts == 3
    assert "HTTP 503" in str(caught.value) and "3 attempts" in str(caught.value)
    assert len(clock.sleeps) == 2
    assert len(httpserver.log) == 3


def test_a_wait_beyond_the_maximum_gives_up_at_once(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    reset = int(clock.now()) + 7200
    httpserver.expect_request("/x").respond_with_data(
        "", status=429, headers={"x-rate-limit-reset": str(reset)}
    )
    with pytest.raises(HttpError, match="max wait 600s"):
        http_factory(max_wait=600).request_json(
            platform="x", read_rate_limit=read_x_rate_limit, url=httpserver.url_for("/x")
        )
    assert clock.sleeps == [] and len(httpserver.log) == 1


def test_exhausted_budget_waits_for_the_reset_instead_of_eating_a_429(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    reset = int(clock.now()) + 60
    httpserver.expect_ordered_request("/x").respond_with_json(
        {"page": 1}, headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    )
    httpserver.expect_ordered_request("/x").respond_with_json(
        {"page": 2}, headers={"x-rate-limit-remaining": "449"}
    )
    client = http_factory()
    client.request_json(
        platform="x",
        read_rate_limit=read_x_rate_limit,
        url=httpserver.url_for("/x"),
        purpose="mentions",
    )
    assert clock.sleeps == []
    second = client.request_json(
        platform="x",
        read_rate_limit=read_x_rate_limit,
        url=httpserver.url_for("/x"),
        purpose="mentions",
    )
    assert second.body == {"page": 2}
    assert clock.sleeps == [pytest.approx(60)]
    assert [r.status_code for _, r in httpserver.log] == [200, 200]


def test_client_errors_are_returned_not_retried(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    httpserver.expect_request("/x").respond_with_json({"error": "Record not found"}, status=404)
    response = http_factory().request_json(
        platform="mastodon", read_rate_limit=read_mastodon_rate_limit, url=httpserver.url_for("/x")
    )
    assert response.status == 404 and response.body == {"error": "Record not found"}
    assert clock.sleeps == []


def test_headers_and_next_link_query_are_sent(
    httpserver: HTTPServer, http_factory: HttpFactory
) -> None:
    httpserver.expect_request(
        "/api/v1/notifications",
        query_string="max_id=5&types%5B%5D=mention&limit=80",
        headers={"Authorization": f"Bearer {TOKEN}", "User-Agent": USER_AGENT},
    ).respond_with_json([])
    http_factory().request_json(
        platform="mastodon",
        read_rate_limit=read_mastodon_rate_limit,
        url=httpserver.url_for("/api/v1/notifications") + "?max_id=5&types%5B%5D=mention",
        params=(("limit", "80"),),
        token=Secret(TOKEN),
    )
    httpserver.check_assertions()
    assert USER_AGENT.startswith("social-care-auditor/")
    assert "(+https://github.com/social-care-auditor)" in USER_AGENT


def test_query_token_never_reaches_an_error_message(
    http_factory: HttpFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Port 9 on 127.0.0.1: nothing listens, the connection is refused at once.
    with pytest.raises(HttpError) as caught:
        http_factory(max_attempts=2).request_json(
            platform="facebook",
            read_rate_limit=read_graph_rate_limit,
            url="http://127.0.0.1:9/v19.0/me",
            token=Secret(TOKEN),
            auth_style="query:access_token",
        )
    assert "connection error" in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert TOKEN not in caplog.text


def test_query_token_is_redacted_from_library_logs(
    httpserver: HTTPServer, http_factory: HttpFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/v19.0/me", query_string={"access_token": TOKEN}).respond_with_json(
        {"id": "1"}
    )
    http_factory().request_json(
        platform="facebook",
        read_rate_limit=read_graph_rate_limit,
        url=httpserver.url_for("/v19.0/me"),
        token=Secret(TOKEN),
        auth_style="query:access_token",
    )
    httpserver.check_assertions()
    # The test server's own access log (werkzeug) is not ours; everything else is checked.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "access_token=***" in ours, "httpx logged the request, redacted"
    assert TOKEN not in ours


# --- concurrency ----------------------------------------------------------------------------


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


class ConcurrencyCounter:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.now = 0
        self.max_seen = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.now += 1
            self.max_seen = max(self.max_seen, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return Response("{}", content_type="application/json")


def test_concurrency_limit_per_platform_and_token(
    threaded_server: HTTPServer, http_factory: HttpFactory
) -> None:
    counter = ConcurrencyCounter(0.05)
    threaded_server.expect_request("/x").respond_with_handler(counter)
    client = http_factory(concurrency=2)
    token = Secret(TOKEN)

    def one() -> None:
        client.request_json(
            platform="x",
            read_rate_limit=read_x_rate_limit,
            url=threaded_server.url_for("/x"),
            token=token,
        )

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(threaded_server.log) == 8
    assert counter.max_seen == 2, "at most two at once, and the two did run together"


def test_other_tokens_have_their_own_limit(
    threaded_server: HTTPServer, http_factory: HttpFactory
) -> None:
    counter = ConcurrencyCounter(0.1)
    threaded_server.expect_request("/x").respond_with_handler(counter)
    client = http_factory(concurrency=1)
    tokens = [Secret(f"{TOKEN}-{i}") for i in range(3)]
    threads = [
        threading.Thread(
            target=client.request_json,
            kwargs={
                "platform": "x",
                "read_rate_limit": read_x_rate_limit,
                "url": threaded_server.url_for("/x"),
                "token": t,
            },
        )
        for t in tokens
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.max_seen == 3


# --- secrets --------------------------------------------------------------------------------


def test_secret_never_prints_itself() -> None:
    secret = Secret(TOKEN)
    assert str(secret) == repr(secret) == "***"
    assert TOKEN not in f"{secret} {secret!r} {[secret]} { ({'t': secret}) }"
    assert secret.reveal() == TOKEN
    assert TOKEN not in secret.fingerprint()


def test_redact_replaces_every_occurrence() -> None:
    text = f"GET https://graph.example/me?access_token={TOKEN}&x={TOKEN}"
    assert redact(text, [Secret(TOKEN)]) == "GET https://graph.example/me?access_token=***&x=***"
    assert redact("nothing to hide", ["abcd"]) == "nothing to hide"


def test_log_filter_redacts_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Secret(TOKEN)  # registered when read
    logger = logging.getLogger("auditor.test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="auditor.test"):
        logger.info("token is %s", TOKEN)
        logger.info(f"inline {TOKEN}")
        try:
            raise ValueError(f"bad token {TOKEN}")
        except ValueError:
            logger.exception("failed")
    assert caplog.text.count("***") >= 3
    assert TOKEN not in caplog.text


def test_install_log_redaction_covers_handlers_of_child_loggers() -> None:
    root = logging.getLogger("auditor.redaction-test")
    root.propagate = False
    stream: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stream.append(self.format(record))

    root.addHandler(ListHandler())
    install_log_redaction(root)
    Secret(TOKEN)
    logging.getLogger("auditor.redaction-test.child").warning("leak %s?", TOKEN)
    assert stream == ["leak ***?"]


def test_load_token_from_env_file_or_missing(tmp_path: Path) -> None:
    found = load_token({"token_env": "MY_TOKEN"}, environ={"MY_TOKEN": f" {TOKEN}\n"})
    assert found.secret is not None and found.secret.reveal() == TOKEN and found.problem is None

    default = load_token({}, default_env="X_BEARER_TOKEN", environ={})
    assert default.secret is None
    assert default.problem == "missing token: env X_BEARER_TOKEN not set"

    (tmp_path / "token.txt").write_text(TOKEN + "\n")
    from_file = load_token({"token_file": "token.txt"}, base_dir=tmp_path, environ={})
    assert from_file.secret is not None and from_file.secret.reveal() == TOKEN

    absent = load_token({"token_file": "nope.txt"}, base_dir=tmp_path, environ={})
    assert absent.secret is None and "nope.txt" in (absent.problem or "")
    assert load_token({}, environ={}).problem == (
        "missing token: no token_env or token_file configured"
    )


def test_secrets_refuse_pickling() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret(TOKEN))
