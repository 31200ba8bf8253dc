"""The driver end to end: protocols, the HTTP layer and local servers on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WsgiRequest
from werkzeug import Response

from auditor.fetch.driver import (
    AccountJob,
    fetch_account,
    fetch_accounts,
    limit_shares,
    plan,
    recheck_deletions,
    resolve_url,
    run_account,
)
from auditor.fetch.http import HttpClient, ManualClock, same_origin
from auditor.fetch.secrets import Secret
from auditor.sources.platforms.base import (
    Cursor,
    Page,
    Protocol,
    Record,
    Request,
    Step,
    window_record,
)
from auditor.sources.platforms.mastodon import MastodonProtocol
from auditor.sources.platforms.x import XProtocol

from .conftest import HttpFactory, make_spec, of_kind, payload

TOKEN = "AAAAdriver-secret-token-91b2"
BRAND_ID = "1500000000000000001"


class FakeX:
    """Serves the recorded X payloads; ``broken`` paths answer with that status forever."""

    def __init__(self, broken: dict[str, int] | None = None) -> None:
        self.broken = broken or {}
        self.auth_headers: list[str | None] = []

    def __call__(self, request: WsgiRequest) -> Response:
        self.auth_headers.append(request.headers.get("Authorization"))
        key = request.path + (":page2" if "pagination_token" in request.args else "")
        if key in self.broken:
            status = self.broken[key]
            return Response(json.dumps({"title": "error"}), status=status)
        name = {
            "/2/users/by/username/acmehelp": "users_by_username",
            f"/2/users/{BRAND_ID}/mentions": "mentions_page1",
            f"/2/users/{BRAND_ID}/mentions:page2": "mentions_page2",
            f"/2/users/{BRAND_ID}/tweets": "tweets_page1",
            "/2/tweets": "tweets_lookup",
        }.get(key)
        if name is None:
            return Response("{}", status=404)
        body = json.dumps(payload("x", name))
        return Response(
            body,
            content_type="application/json",
            headers={"x-rate-limit-remaining": "440", "x-rate-limit-reset": "1700000900"},
        )


def x_protocol(server: HTTPServer, **options: Any) -> XProtocol:
    options.setdefault("base_url", server.url_for("/"))
    return XProtocol(make_spec("x", "acmehelp", options=options))


def test_x_fetch_over_http(httpserver: HTTPServer, http_factory: HttpFactory) -> None:
    fake = FakeX()
    httpserver.expect_request("").respond_with_handler(fake)
    outcome = fetch_account(x_protocol(httpserver), http_factory(), token=Secret(TOKEN))
    assert outcome.pages == 5 and outcome.requests_made == 5
    assert outcome.missing == [] and outcome.complete
    assert len(of_kind(outcome.records, "post")) == 7
    (window,) = of_kind(outcome.records, "window")
    assert window["complete"] is True
    assert outcome.cursor["user_id"] == BRAND_ID
    assert fake.auth_headers == [f"Bearer {TOKEN}"] * 5


def test_a_page_that_never_succeeds_marks_the_window_and_keeps_the_rest(
    httpserver: HTTPServer, http_factory: HttpFactory, clock: ManualClock
) -> None:
    fake = FakeX(broken={f"/2/users/{BRAND_ID}/mentions:page2": 503})
    httpserver.expect_request("").respond_with_handler(fake)
    outcome = fetch_account(
        x_protocol(httpserver), http_factory(max_attempts=3), token=Secret(TOKEN)
    )
    (window,) = of_kind(outcome.records, "window")
    assert window["complete"] is False
    assert window["reason"] == "mentions: HTTP 503 (gave up after 3 attempts)"
    assert of_kind(outcome.records, "profile")
    assert {p["id"] for p in of_kind(outcome.records, "post")} >= {
        "1787000000000000101",  # first mentions page
        "1787000000000000201",  # the brand's own timeline
    }
    assert outcome.requests_made == 4 + 3
    assert len(clock.sleeps) == 2


def test_a_client_error_names_the_purpose(
    httpserver: HTTPServer, http_factory: HttpFactory
) -> None:
    fake = FakeX(broken={f"/2/users/{BRAND_ID}/tweets": 403})
    httpserver.expect_request("").respond_with_handler(fake)
    outcome = fetch_account(x_protocol(httpserver), http_factory(), token=Secret(TOKEN))
    assert outcome.missing == [
        "own_posts: HTTP 403 forbidden (token lacks access or scope): error"  # X's own title
    ]


def test_missing_token_makes_no_request(httpserver: HTTPServer, http_factory: HttpFactory) -> None:
    httpserver.expect_request("").respond_with_handler(FakeX())
    outcome = run_account(x_protocol(httpserver), http_factory(), environ={})
    assert len(httpserver.log) == 0 and outcome.requests_made == 0
    (window,) = outcome.records
    assert window["kind"] == "window" and window["complete"] is False
    assert window["reason"] == "missing token: env X_BEARER_TOKEN not set"


def test_token_named_by_options_is_used(httpserver: HTTPServer, http_factory: HttpFactory) -> None:
    fake = FakeX()
    httpserver.expect_request("").respond_with_handler(fake)
    protocol = x_protocol(httpserver, token_env="ACME_X")
    outcome = run_account(protocol, http_factory(), environ={"ACME_X": TOKEN})
    assert outcome.complete and fake.auth_headers[0] == f"Bearer {TOKEN}"


def test_token_appears_in_no_log_error_or_result(
    httpserver: HTTPServer, http_factory: HttpFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeX(broken={f"/2/users/{BRAND_ID}/mentions": 401, f"/2/users/{BRAND_ID}/tweets": 500})
    httpserver.expect_request("").respond_with_handler(fake)
    outcome = fetch_account(
        x_protocol(httpserver, dm=True), http_factory(max_attempts=2), token=Secret(TOKEN)
    )
    assert not outcome.complete and len(outcome.missing) == 3
    assert caplog.records, "the failures were logged"
    everything = "\n".join(
        [
            str(outcome),
            repr(outcome),
            json.dumps(outcome.records),
            json.dumps(outcome.cursor),
            caplog.text,
            *outcome.missing,
        ]
    )
    assert TOKEN not in everything
    assert fake.auth_headers[0] == f"Bearer {TOKEN}", "yet the token was sent"


# --- Mastodon through the driver: Link header pagination over HTTP ---------------------------


def test_mastodon_fetch_over_http(httpserver: HTTPServer, http_factory: HttpFactory) -> None:
    base = httpserver.url_for("/").rstrip("/")
    brand = payload("mastodon", "accounts_lookup")
    next_link = f'<{base}/api/v1/notifications?max_id=34975899>; rel="next"'
    httpserver.expect_request(
        "/api/v1/accounts/lookup", query_string="acct=acmehelp"
    ).respond_with_json(brand)
    httpserver.expect_request(
        "/api/v1/notifications", query_string="types%5B%5D=mention&limit=80"
    ).respond_with_json(payload("mastodon", "notifications_page1"), headers={"Link": next_link})
    httpserver.expect_request(
        "/api/v1/notifications", query_string="types%5B%5D=mention&limit=80&max_id=34975899"
    ).respond_with_json(payload("mastodon", "notifications_page2"))
    httpserver.expect_request("/api/v1/notifications/requests").respond_with_json(
        {"error": "Not found"}, status=404
    )
    httpserver.expect_request(f"/api/v1/accounts/{brand['id']}/statuses").respond_with_json(
        payload("mastodon", "account_statuses"),
        headers={"X-RateLimit-Remaining": "250", "X-RateLimit-Reset": "2024-05-15T00:05:00Z"},
    )
    httpserver.expect_request("/api/v1/statuses/112400000000000102/context").respond_with_json(
        payload("mastodon", "status_context")
    )

    spec = make_spec("mastodon", "acmehelp@social.example", options={"base_url": base})
    outcome = fetch_account(MastodonProtocol(spec), http_factory(), token=Secret(TOKEN))
    assert outcome.missing == []
    assert outcome.pages == 5  # lookup, 2 notification pages, statuses, context (404 not a page)
    assert len(of_kind(outcome.records, "conversation")) == 1
    assert of_kind(outcome.records, "profile")[0]["website"] == "https://acme.example"


# --- guards, concurrency, plans --------------------------------------------------------------


class LinkFollower(Protocol):
    """A protocol that asks for whatever absolute link it is given."""

    platform: ClassVar[str] = "x"
    observes: ClassVar[frozenset[str]] = frozenset()

    def start(self) -> list[Request]:
        return [Request("outside", "http://203.0.113.9/steal")]

    def receive(self, request: Request, page: Page) -> Step:
        return Step()

    def finish(self) -> tuple[list[Record], Cursor]:
        window = window_record(
            self.spec, missing=self.missing, observes=(), fetched_at=self.fetched_at()
        )
        return [window], {}


def test_links_to_other_hosts_get_no_token(http_factory: HttpFactory) -> None:
    spec = make_spec("x", "acmehelp", options={"base_url": "http://127.0.0.1:9"})
    outcome = fetch_account(LinkFollower(spec), http_factory(), token=Secret(TOKEN))
    assert outcome.requests_made == 0
    assert outcome.missing == ["outside: refused: link leads outside the base URL"]


def test_resolve_url_and_same_origin() -> None:
    assert resolve_url("http://h:1/", "/2/tweets") == "http://h:1/2/tweets"
    assert resolve_url("http://h:1", "https://o/x") == "https://o/x"
    assert same_origin("http://h:1/a?b=1", "http://h:1")
    assert not same_origin("http://h:2/a", "http://h:1")
    assert not same_origin("https://h:1/a", "http://h:1")


def test_request_budget_bounds_a_run(httpserver: HTTPServer, http_factory: HttpFactory) -> None:
    httpserver.expect_request("").respond_with_handler(FakeX())
    outcome = fetch_account(
        x_protocol(httpserver), http_factory(), token=Secret(TOKEN), max_requests=2
    )
    assert outcome.requests_made == 2
    assert any("request budget of 2 used up" in m for m in outcome.missing)


def test_many_accounts_share_the_token_limit(
    httpserver: HTTPServer, http_factory: HttpFactory
) -> None:
    httpserver.expect_request("").respond_with_handler(FakeX())
    client: HttpClient = http_factory(concurrency=2)
    token = Secret(TOKEN)
    jobs = [AccountJob(x_protocol(httpserver), token) for _ in range(6)]
    jobs.append(AccountJob(x_protocol(httpserver), None, "missing token: env X_OTHER not set"))
    outcomes = fetch_accounts(jobs, client, workers=4)
    assert [o.complete for o in outcomes] == [True] * 6 + [False]
    assert outcomes[-1].missing == ["missing token: env X_OTHER not set"]
    assert len(httpserver.log) == 6 * 5


def test_plan_makes_no_request_and_sums_shares() -> None:
    protocols = [XProtocol(make_spec("x", f"brand{i}")) for i in range(3)]
    result = plan(protocols[0])
    assert [r.purpose for r in result.requests] == ["profile"]
    assert result.requests[0].url.startswith("https://api.x.com/2/users/by/username/brand0")
    shares = {s.bucket: s for s in limit_shares(protocols)}
    assert shares["x:users/:id/mentions"].requests == 3
    assert shares["x:users/:id/mentions"].share == pytest.approx(3 / 450)
    assert shares["x:users/:id/tweets"].share == pytest.approx(3 / 1500)
    mastodon = MastodonProtocol(make_spec("mastodon", "a@social.example"))
    (api,) = [s for s in limit_shares([mastodon]) if s.bucket == "mastodon:api"]
    assert api.requests == 4 and api.limit == 300 and api.window_seconds == 300


# --- deletion re-checks ---------------------------------------------------------------------


class FakeLookup:
    """``GET /2/tweets?ids=``: the recorded re-check answer; the first ``failing`` calls 503."""

    def __init__(self, failing: int = 0) -> None:
        self.failing = failing
        self.asked: list[list[str]] = []

    def __call__(self, request: WsgiRequest) -> Response:
        self.asked.append(request.args["ids"].split(","))
        if len(self.asked) <= self.failing:
            return Response(json.dumps({"title": "Service Unavailable"}), status=503)
        return Response(json.dumps(payload("x", "tweets_recheck")), content_type="application/json")


KEPT = [str(1786900000000000000 + n) for n in range(11, 14)]


def test_a_recheck_finds_the_posts_the_platform_says_are_gone(
    httpserver: HTTPServer, http_factory: HttpFactory
) -> None:
    fake = FakeLookup()
    httpserver.expect_request("/2/tweets").respond_with_handler(fake)
    result = recheck_deletions(
        x_protocol(httpserver), http_factory(), token=Secret(TOKEN), post_ids=KEPT
    )
    assert fake.asked == [KEPT]
    assert result.deleted == {"1786900000000000012"} and result.succeeded
    assert (result.pages, result.requests_made, result.problems) == (1, 1, [])


def test_a_failed_recheck_batch_deletes_nothing_and_says_why(
    httpserver: HTTPServer, http_factory: HttpFactory
) -> None:
    fake = FakeLookup(failing=2)
    httpserver.expect_request("/2/tweets").respond_with_handler(fake)
    ids = [str(1786900000000000000 + n) for n in range(11, 111)] + ["1786900000000000200"]
    result = recheck_deletions(
        x_protocol(httpserver), http_factory(max_attempts=2), token=Secret(TOKEN), post_ids=ids
    )
    # The first batch of 100 fails both attempts; the second (one id) is answered.
    assert [len(a) for a in fake.asked] == [100, 100, 1]
    # The one id of the second batch is not in the recorded answer: that batch failed too.
    assert result.problems == [
        "recheck: HTTP 503 (gave up after 2 attempts)",
        "recheck: the answer accounts for 0 of 1 posts asked (neither found nor not found)",
    ]
    assert not result.succeeded and result.deleted == set()
    assert (result.pages, result.requests_made) == (1, 3)


def test_a_proxys_404_on_a_recheck_deletes_nothing(
    httpserver: HTTPServer, http_factory: HttpFactory
) -> None:
    # X says "deleted" only with errors[].type resource-not-found inside a 200 answer.
    httpserver.expect_request("/2/tweets").respond_with_data(
        "404 page not found", status=404, content_type="text/plain"
    )
    result = recheck_deletions(
        x_protocol(httpserver), http_factory(), token=Secret(TOKEN), post_ids=KEPT
    )
    assert result.deleted == set() and not result.succeeded
    assert result.problems == [
        "recheck: HTTP 404 not found (no error from the platform in the body)"
    ]


def test_a_protocol_that_cannot_recheck_says_so() -> None:
    protocol = MastodonProtocol(make_spec("mastodon", "acmehelp@social.example"))
    assert not protocol.rechecks_deletions
    with pytest.raises(NotImplementedError):
        protocol.recheck_requests(["1"])
