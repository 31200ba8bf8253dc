"""Fetching api accounts into bundles: local servers on 127.0.0.1, a manual clock, a real store.

The fakes below serve the recorded payloads in tests/data/payloads (the platforms' documented
shapes) and remember every request, so that tests can assert what was asked, and what not.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WsgiRequest
from werkzeug import Response as WsgiResponse

from auditor.config import Config, api_bundle_path, load_config
from auditor.fetch.http import HttpClient, HttpConfig, ManualClock, RetryPolicy
from auditor.fetch.preflight import check_secrets, dry_run, render_dry_run
from auditor.fetch.run import AccountFetch, fetch_api_accounts, merge_records
from auditor.registry import load_registry
from auditor.sources.bundle import index_bundle, read_bundle
from auditor.sources.platforms.x import XProtocol
from auditor.store.history import HistoryStore

from fetch_fakes import (
    MASTODON_TOKEN,
    NOW,
    X_BRAND_ID,
    X_TOKEN,
    FakeMastodon,
    FakeX,
    json_response,
    serve,
)


def write_config(
    folder: Path,
    x_url: str,
    mastodon_url: str,
    *,
    x_env: str = "AUDITOR_TEST_X_TOKEN",
    mastodon_env: str = "AUDITOR_TEST_MASTODON_TOKEN",
    extra_accounts: str = "",
    policy: str = "",
) -> Path:
    template = textwrap.dedent(
        """\
        output: {dir: out, formats: [json]}
        store: {path: out/history.sqlite}
        fetch: {lookback_days: 14, dir: out/bundles, max_wait_seconds: 120}
        POLICY
        clients:
          - name: Acme
            accounts:
              - platform: x
                handle: acmehelp
                source: {type: api, token_env: X_ENV, base_url: "X_URL"}
              - platform: mastodon
                handle: acmehelp@social.example
                source: {type: api, token_env: MASTODON_ENV, base_url: "MASTODON_URL"}
        """
    )
    text = (
        template.replace("POLICY", policy)
        .replace("X_ENV", x_env)
        .replace("X_URL", x_url)
        .replace("MASTODON_ENV", mastodon_env)
        .replace("MASTODON_URL", mastodon_url)
    )
    config = folder / "audit.yaml"
    config.write_text(text + extra_accounts, encoding="utf-8")
    return config


def load(path: Path) -> Config:
    return load_config(path, load_registry([]))


def tokens(**overrides: str) -> dict[str, str]:
    environ = {"AUDITOR_TEST_X_TOKEN": X_TOKEN, "AUDITOR_TEST_MASTODON_TOKEN": MASTODON_TOKEN}
    environ.update(overrides)
    return environ


def http_client(clock: ManualClock) -> HttpClient:
    retry = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, max_wait=120.0)
    return HttpClient(HttpConfig(connect_timeout=2.0, read_timeout=5.0, retry=retry), clock=clock)


def run_fetch(
    config: Config, environ: dict[str, str], when: datetime = NOW
) -> tuple[list[AccountFetch], ManualClock]:
    clock = ManualClock(when.timestamp())
    config.store_path.parent.mkdir(parents=True, exist_ok=True)
    with HistoryStore(config.store_path) as store, http_client(clock) as client:
        report = fetch_api_accounts(config, store, http_client=client, environ=environ)
    return report.accounts, clock


def bundle_records(path: Path) -> list[dict[str, Any]]:
    """The records of a fetched bundle, after checking its closing end record."""
    *records, end = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert end == {"kind": "end", "records": len(records)}
    return records


def of_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == kind]


# --- end to end ---------------------------------------------------------------------------


def test_fetch_writes_one_canonical_bundle_per_account(
    tmp_path: Path, x_server: HTTPServer, mastodon_server: HTTPServer
) -> None:
    config = load(write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/")))
    results, _ = run_fetch(config, tokens())
    assert [r.key for r in results] == ["x:acmehelp", "mastodon:acmehelp@social.example"]
    assert all(r.complete for r in results), [r.reason for r in results]
    x_result = results[0]
    assert x_result.path == api_bundle_path(tmp_path / "out" / "bundles", "x", "acmehelp")
    records = bundle_records(x_result.path)
    # Canonical order: profile, window, posts, conversations.
    kinds = [r["kind"] for r in records]
    assert kinds[:2] == ["profile", "window"] and set(kinds[2:]) == {"post"}
    window = records[1]
    assert window["complete"] is True and window["reason"] is None
    assert window["window_end"] == NOW.isoformat()
    assert window["window_start"] == (NOW - timedelta(days=14)).isoformat()
    assert window["pages"] == x_result.pages == 5
    assert "deleted" in window["observes"]  # every kept post re-checked (none yet)
    assert x_result.posts == len(of_kind(records, "post")) == x_result.posts_fetched == 7
    # The engine's reader accepts every line.
    (data,) = read_bundle(index_bundle(x_result.path))
    assert len(data.posts) == 7 and data.window is not None and data.window.complete is True
    mastodon_records = bundle_records(results[1].path)
    assert len(of_kind(mastodon_records, "conversation")) == results[1].conversations == 1
    with HistoryStore(config.store_path) as store:
        assert store.get_cursor("x", "acmehelp")["mentions_newest_id"] == "1787000000000000101"
        assert len(store.fetched_posts("x", "acmehelp", NOW - timedelta(days=14))) == 7


def test_a_missing_token_stays_with_its_account(
    tmp_path: Path, x_server: HTTPServer, fake_mastodon: FakeMastodon, mastodon_server: HTTPServer
) -> None:
    config = load(write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/")))
    environ = tokens()
    del environ["AUDITOR_TEST_MASTODON_TOKEN"]
    results, _ = run_fetch(config, environ)
    x_result, mastodon_result = results
    assert x_result.complete
    assert not mastodon_result.complete
    assert mastodon_result.reason == "missing token: env AUDITOR_TEST_MASTODON_TOKEN not set"
    assert fake_mastodon.requests == []  # nothing asked without a token
    (window,) = bundle_records(mastodon_result.path)
    assert window["kind"] == "window" and window["complete"] is False
    assert "AUDITOR_TEST_MASTODON_TOKEN" in window["reason"]
    with HistoryStore(config.store_path) as store:
        assert store.get_cursor("mastodon", "acmehelp@social.example") == {}


def test_a_page_that_never_succeeds_makes_the_window_incomplete_and_deletes_nothing(
    tmp_path: Path, mastodon_server: HTTPServer
) -> None:
    first = FakeX()
    for server in serve(first):
        config = load(write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/")))
        run_fetch(config, tokens())
    first_posts = {
        p["id"]
        for p in of_kind(
            bundle_records(api_bundle_path(tmp_path / "out" / "bundles", "x", "acmehelp")), "post"
        )
    }
    # A day later the mentions timeline fails on every attempt.
    broken = FakeX(broken={f"/2/users/{X_BRAND_ID}/mentions": 503})
    for server in serve(broken):
        config = load(write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/")))
        with HistoryStore(config.store_path) as store:
            cursor_before = store.get_cursor("x", "acmehelp")
        results, clock = run_fetch(config, tokens(), NOW + timedelta(days=1))
    x_result = results[0]
    assert not x_result.complete and "mentions: HTTP 503" in (x_result.reason or "")
    assert len(broken.asked("/mentions")) == 3  # every attempt made, then given up
    assert clock.sleeps and all(s > 0 for s in clock.sleeps)  # backoff on the manual clock
    records = bundle_records(x_result.path)
    assert records[1]["complete"] is False
    # What the failed page would have shown is not taken for deleted: kept posts stay public.
    posts = of_kind(records, "post")
    assert {p["id"] for p in posts} >= first_posts
    assert all(p["visibility"] == "public" for p in posts) and x_result.deleted_found == 0
    with HistoryStore(config.store_path) as store:
        # The cursor stays put, so that the next run asks again for what was lost.
        assert store.get_cursor("x", "acmehelp") == cursor_before


def test_an_incomplete_fetch_reports_no_deletion_when_nothing_answers(
    tmp_path: Path, mastodon_server: HTTPServer
) -> None:
    for server in serve(FakeX()):
        config = load(write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/")))
        run_fetch(config, tokens())
    down = FakeX(broken={"/2/users/by/username/acmehelp": 500, "/2/tweets": 500}, gone={"1"})
    for server in serve(down):
        config = load(write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/")))
        results, _ = run_fetch(config, tokens(), NOW + timedelta(days=1))
    x_result = results[0]
    assert not x_result.complete and x_result.deleted_found == 0
    records = bundle_records(x_result.path)
    assert not any(p["visibility"] == "deleted" for p in of_kind(records, "post"))
    # Nothing arrived: old posts are not passed off as the window's current state.
    assert of_kind(records, "post") == [] and "deleted" not in records[0]["observes"]
    assert down.asked("/2/tweets") == []


def test_a_second_run_asks_only_for_what_is_new_and_keeps_the_whole_window(
    tmp_path: Path, fake_mastodon: FakeMastodon, mastodon_server: HTTPServer
) -> None:
    new_mention = {
        "id": "1787500000000000301",
        "text": "@acmehelp my refund for order #6610 has not arrived yet",
        "author_id": "907",
        "created_at": "2024-05-15T09:30:00.000Z",
        "conversation_id": "1787500000000000301",
        "edit_history_tweet_ids": ["1787500000000000301"],
    }
    fake = FakeX(new_mentions=[new_mention], gone={"1787000000000000102"})
    for server in serve(fake):
        config = load(write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/")))
        first, _ = run_fetch(config, tokens())
        first_posts = {p["id"] for p in of_kind(bundle_records(first[0].path), "post")}
        first_mastodon = bundle_records(first[1].path)
        fake.requests.clear()
        fake_mastodon.requests.clear()
        second, _ = run_fetch(config, tokens(), NOW + timedelta(days=1))
    x_second, mastodon_second = second
    assert x_second.complete and mastodon_second.complete
    # X: since_id on both timelines, no start_time, no second page.
    mentions = fake.asked("/mentions")
    assert [a.get("since_id") for a in mentions] == ["1787000000000000101"]
    assert "start_time" not in mentions[0]
    assert fake.asked("/tweets")[0]["since_id"] == "1787000000000000201"
    # Kept posts are re-checked for deletion in one batch.
    (lookup,) = [a for a in fake.asked("/2/tweets") if a.get("tweet.fields") == "id"]
    assert "1787000000000000102" in lookup["ids"].split(",")
    records = bundle_records(x_second.path)
    posts = {p["id"]: p for p in of_kind(records, "post")}
    assert set(posts) == first_posts | {"1787500000000000301"}
    assert posts["1787000000000000102"]["visibility"] == "deleted"
    assert posts["1787000000000000102"]["deleted_by"] == "unknown"
    assert posts["1787000000000000102"]["text"]  # the text stays as evidence
    assert x_second.posts_fetched == 1 and x_second.deleted_found == 1
    assert records[1]["posts_kept"] == len(first_posts) and records[1]["incremental"] is True
    # Mastodon: since_id from the cursor, the conversation kept from the first run.
    (notifications,) = fake_mastodon.asked("/api/v1/notifications")
    assert notifications["since_id"] == "34975900"
    mastodon_records = bundle_records(mastodon_second.path)
    assert of_kind(mastodon_records, "conversation") == of_kind(first_mastodon, "conversation")
    assert {p["id"] for p in of_kind(mastodon_records, "post")} == {
        p["id"] for p in of_kind(first_mastodon, "post")
    }


def test_a_crashing_protocol_stays_with_its_account(
    tmp_path: Path,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(self: XProtocol, *args: object) -> NoReturn:
        raise RuntimeError(f"bad page for token {X_TOKEN}")

    monkeypatch.setattr(XProtocol, "receive", explode)
    config = load(write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/")))
    x_result, mastodon_result = run_fetch(config, tokens())[0]
    assert mastodon_result.complete
    assert not x_result.complete and "RuntimeError" in (x_result.reason or "")
    assert X_TOKEN not in (x_result.reason or "")
    assert X_TOKEN not in x_result.path.read_text(encoding="utf-8")


def test_dry_run_requests_nothing_and_counts_shares(
    tmp_path: Path, fake_x: FakeX, x_server: HTTPServer, mastodon_server: HTTPServer
) -> None:
    config = load(write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/")))
    result = dry_run(config, environ=tokens())
    text = render_dry_run(result)
    assert fake_x.requests == []
    assert f"GET {x_server.url_for('/2/users/by/username/acmehelp')}" in text
    assert "x:users/by/username: 1 of 300 per 15 min (app) = 0.3%" in text
    assert "mastodon:api: 4 of 300 per 5 min (account) = 1.3%" in text
    assert X_TOKEN not in text and "token: present" in text


def test_dry_run_counts_the_deletion_rechecks_of_kept_posts(
    tmp_path: Path, fake_x: FakeX, x_server: HTTPServer, mastodon_server: HTTPServer
) -> None:
    config = load(write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/")))
    run_fetch(config, tokens())
    fake_x.requests.clear()
    with HistoryStore(config.store_path) as store:
        result = dry_run(config, environ=tokens(), store=store, clock=ManualClock(NOW.timestamp()))
    x_plan, mastodon_plan = result.accounts
    # The seven posts the first fetch kept fit one batch; Mastodon cannot re-check.
    assert [len(dict(r.params)["ids"].split(",")) for r in x_plan.rechecks] == [7]
    assert mastodon_plan.rechecks == []
    assert "then 1 deletion re-check batch(es): GET /2/tweets?ids=" in render_dry_run(result)
    assert fake_x.requests == []


def test_check_secrets_names_the_variable_never_the_value(
    tmp_path: Path, x_server: HTTPServer, mastodon_server: HTTPServer
) -> None:
    config = load(write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/")))
    checked, problems = check_secrets(config, tokens(AUDITOR_TEST_X_TOKEN=""))
    assert checked == 2
    assert [str(p) for p in problems] == [
        "Acme / x:acmehelp: missing token: env AUDITOR_TEST_X_TOKEN not set"
    ]
    assert check_secrets(config, tokens()) == (2, [])


# --- merging ------------------------------------------------------------------------------


def _post(post_id: str, day: int, **extra: Any) -> dict[str, Any]:
    record = {
        "kind": "post",
        "platform": "x",
        "account": "acmehelp",
        "id": post_id,
        "author": "dana_k",
        "by_brand": False,
        "created_at": datetime(2024, 5, day, 12, tzinfo=UTC).isoformat(),
        "text": f"@acmehelp question {post_id}",
        "visibility": "public",
    }
    record.update(extra)
    return record


def _window() -> dict[str, Any]:
    return {
        "kind": "window",
        "platform": "x",
        "account": "acmehelp",
        "window_start": "2024-05-01T00:00:00+00:00",
        "window_end": "2024-05-15T00:00:00+00:00",
        "complete": True,
        "reason": None,
        "observes": [],
        "fetched_at": "2024-05-15T00:00:00+00:00",
    }


def test_merge_keeps_the_window_and_lets_fetched_records_win() -> None:
    kept = [_post("1", 3), _post("2", 4), _post("old", 1, created_at="2024-04-20T00:00:00+00:00")]
    fetched = [
        _window(),
        _post("2", 4, text="edited"),
        _post("3", 10, visibility="deleted", deleted_by="author", text=""),
    ]
    kept.append(_post("3", 10, text="what it said before"))
    merged = merge_records(
        fetched,
        kept,
        [],
        window_start=datetime(2024, 5, 1, tzinfo=UTC),
        window_end=datetime(2024, 5, 15, tzinfo=UTC),
        deleted={"1"},
    )
    posts = {r["id"]: r for r in merged.records if r["kind"] == "post"}
    assert set(posts) == {"1", "2", "3"}  # "old" is outside the window
    assert posts["2"]["text"] == "edited"
    assert posts["3"]["visibility"] == "deleted" and posts["3"]["text"] == "what it said before"
    assert posts["1"]["visibility"] == "deleted" and posts["1"]["deleted_by"] == "unknown"
    assert merged.posts_fetched == 2 and merged.posts_kept == 1 and merged.deleted_found == 1
    assert [r["kind"] for r in merged.records] == ["window", "post", "post", "post"]


def test_merge_joins_conversation_messages_and_drops_unreadable_records() -> None:
    def message(ident: str, day: int) -> dict[str, Any]:
        return {
            "id": ident,
            "by_brand": ident.startswith("b"),
            "created_at": datetime(2024, 5, day, tzinfo=UTC).isoformat(),
            "text": f"message {ident}",
        }

    conversation = {"kind": "conversation", "platform": "x", "account": "acmehelp", "id": "c1"}
    kept = [
        {**conversation, "customer": "rosa_p", "messages": [message("c1", 2), message("b1", 3)]}
    ]
    fetched = [
        _window(),
        {**conversation, "customer": "rosa_p", "messages": [message("c2", 6)]},
        _post("bad", 5, visibility="sideways"),
    ]
    merged = merge_records(
        fetched,
        [],
        kept,
        window_start=datetime(2024, 5, 1, tzinfo=UTC),
        window_end=datetime(2024, 5, 15, tzinfo=UTC),
    )
    (joined,) = [r for r in merged.records if r["kind"] == "conversation"]
    assert [m["id"] for m in joined["messages"]] == ["c1", "b1", "c2"]
    assert not any(r.get("id") == "bad" for r in merged.records)
    assert len(merged.problems) == 1 and "visibility" in merged.problems[0]


# --- Bluesky: only the platform's own "not found" is a deletion ---------------------------

BLUESKY_NOW = datetime(2024, 6, 15, tzinfo=UTC)
BLUESKY_PAYLOADS = Path(__file__).resolve().parent / "data" / "payloads" / "bluesky"


def bluesky_payload(name: str) -> Any:
    return json.loads((BLUESKY_PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


BRAND_ROOT = bluesky_payload("thread_P")["thread"]["post"]["uri"]  # the brand's own post


class FakeBluesky:
    """The public AppView on the recorded payloads. ``proxy_404`` thread URIs are answered the
    way a proxy or gateway in front of it answers: a plain-text 404, not the XRPC error."""

    def __init__(self, proxy_404: frozenset[str] = frozenset()) -> None:
        self.proxy_404 = proxy_404
        self.threads = {
            bluesky_payload(name)["thread"]["post"]["uri"]: bluesky_payload(name)
            for name in ("thread_A", "thread_P")
        }

    def __call__(self, request: WsgiRequest) -> WsgiResponse:
        method = request.path.rsplit("/", 1)[-1]
        if method == "app.bsky.actor.getProfile":
            return json_response(bluesky_payload("profile"))
        if method == "app.bsky.feed.getAuthorFeed":
            page = "author_feed_page2" if request.args.get("cursor") else "author_feed_page1"
            return json_response(bluesky_payload(page))
        uri = request.args.get("uri", "")
        if uri in self.proxy_404:
            return WsgiResponse("404 page not found", status=404, content_type="text/plain")
        if uri in self.threads:
            return json_response(self.threads[uri])
        return json_response(bluesky_payload("error_thread_not_found"), 400)


def bluesky_config(folder: Path, url: str) -> Config:
    text = textwrap.dedent(
        f"""\
        output: {{dir: out, formats: [json]}}
        store: {{path: out/history.sqlite}}
        fetch: {{lookback_days: 14, dir: out/bundles, max_wait_seconds: 120}}
        clients:
          - name: Acme
            accounts:
              - platform: bluesky
                handle: acmecoffee.bsky.social
                source: {{type: api, base_url: "{url}"}}
        """
    )
    path = folder / "audit.yaml"
    path.write_text(text, encoding="utf-8")
    return load(path)


def test_a_proxys_plain_text_404_is_a_failed_page_never_a_deletion(tmp_path: Path) -> None:
    for server in serve(FakeBluesky()):
        config = bluesky_config(tmp_path, server.url_for("/"))
        (first,), _ = run_fetch(config, {}, BLUESKY_NOW)
    assert first.complete, first.reason
    # An hour later a proxy answers the brand's thread with its own 404 page.
    for server in serve(FakeBluesky(proxy_404=frozenset({BRAND_ROOT}))):
        config = bluesky_config(tmp_path, server.url_for("/"))
        (second,), _ = run_fetch(config, {}, BLUESKY_NOW + timedelta(hours=1))
    assert not second.complete
    assert second.reason == ("thread: HTTP 404 not found (no error from the platform in the body)")
    records = bundle_records(second.path)
    assert records[1]["complete"] is False
    posts = {p["id"]: p for p in of_kind(records, "post")}
    assert posts[BRAND_ROOT]["visibility"] == "public" and posts[BRAND_ROOT]["by_brand"]
    assert second.deleted_found == 0
    with HistoryStore(config.store_path) as store:
        (stored,) = store.fetched_posts_by_id("bluesky", "acmecoffee.bsky.social", {BRAND_ROOT})
    assert stored["visibility"] == "public"  # the store keeps no false deletion either


class _SilentLookups(FakeX):
    """X whose id lookups answer 200 with ``{}``: neither found nor not found, for every id."""

    def lookup(self, ids: list[str]) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize("answer", ["empty", "partial"])
def test_a_recheck_answer_that_names_no_post_is_a_failed_page_not_still_there(
    tmp_path: Path, mastodon_server: HTTPServer, answer: str
) -> None:
    for server in serve(FakeX()):
        config = load(write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/")))
        first, _ = run_fetch(config, tokens())
    kept = {p["id"] for p in of_kind(bundle_records(first[0].path), "post")}
    if answer == "empty":
        silent: FakeX = _SilentLookups()
    else:
        # One post explicitly gone, the rest not accounted for: the one is deleted, the batch
        # still failed.
        silent = _SilentLookups(gone={sorted(kept)[0]})
        silent.lookup = lambda ids: FakeX.lookup(silent, [i for i in ids if i in silent.gone])  # type: ignore[method-assign]
    for server in serve(silent):
        config = load(write_config(tmp_path, server.url_for("/"), mastodon_server.url_for("/")))
        second, _ = run_fetch(config, tokens(), NOW + timedelta(days=1))
    x_second = second[0]
    assert silent.asked("/2/tweets"), "kept posts were re-checked"
    assert not x_second.complete
    assert "recheck: the answer accounts for" in (x_second.reason or "")
    window = of_kind(bundle_records(x_second.path), "window")[0]
    assert window["complete"] is False and "deleted" in window["lost"]
    assert "deleted" not in window["observes"]
    deleted = {
        p["id"]
        for p in of_kind(bundle_records(x_second.path), "post")
        if p["visibility"] == "deleted"
    }
    assert deleted == silent.gone


def test_the_workers_start_one_account_of_each_token_in_turn() -> None:
    """Config order lists a client's accounts (one token) together; started in that order,
    the workers would queue on one token's limit of requests in flight while the rest idle."""
    from types import SimpleNamespace

    from auditor.fetch.order import token_by_token
    from auditor.fetch.run import budget_of
    from auditor.fetch.secrets import Secret, TokenLookup

    def prepared(platform: str, token: str | None) -> Any:
        lookup = TokenLookup(None if token is None else Secret(token), None)
        return SimpleNamespace(account=SimpleNamespace(platform=platform), token=lookup)

    items = [
        prepared("x", "acme-token"),
        prepared("x", "acme-token"),
        prepared("x", "acme-token"),
        prepared("x", "globex-token"),
        prepared("mastodon", "acme-token"),  # another platform's budget, though the same text
        prepared("x", None),  # no token: fails on its own, in its turn
        prepared("x", "globex-token"),
    ]
    order = [index for index, _ in token_by_token(items, budget_of)]
    assert order == [0, 3, 4, 5, 1, 6, 2]
    assert [item for _, item in token_by_token(items, budget_of)] == [items[i] for i in order]
