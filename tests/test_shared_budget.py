"""One rate-limit budget per API token within a process: the scheduler's pattern of one
HttpClient passed to one fetch after another (client after client), on a local fake of X's
rate limit (tests/fetch_fakes.py BudgetX) and a manual clock.

The first fetch's answer says the token's budget is spent; a later fetch of another client
whose account uses the same token waits for the reset before it asks, and earns no 429. Another
token does not wait. However a fetch ends (an account failing, its deadline, a stop signal), the
shared client stays open and usable for the next one.
"""

from __future__ import annotations

import logging
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from auditor.config import Config, load_config
from auditor.fetch.http import HttpClient, HttpConfig, ManualClock
from auditor.fetch.run import AccountFetch, fetch_api_accounts, http_client_for
from auditor.registry import load_registry
from auditor.result import Interrupted
from auditor.sources.platforms.mastodon import MastodonProtocol, read_mastodon_rate_limit
from auditor.store.history import HistoryStore

from fetch_fakes import NOW, X_TOKEN, BudgetX, serve

OTHER_TOKEN = "AAAAx-test-bearer-other-77e1b0"
# What the fake's window says is left after the first lookup: nothing, for 10 minutes.
WINDOW = 600


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW.timestamp())


@pytest.fixture
def budget_x(clock: ManualClock) -> BudgetX:
    return BudgetX(clock.now, allowance=1, window=WINDOW)


@pytest.fixture
def budget_server(budget_x: BudgetX) -> Iterator[HTTPServer]:
    yield from serve(budget_x)


def two_clients(folder: Path, url: str, *, deadline_seconds: float = 1800) -> Config:
    """Acme and Globo, each with one X account; their tokens come from two variables."""
    text = textwrap.dedent(
        f"""\
        output: {{dir: out, formats: [json]}}
        store: {{path: out/history.sqlite}}
        fetch:
          lookback_days: 14
          dir: out/bundles
          max_wait_seconds: 900
          account_deadline_seconds: {deadline_seconds}
        clients:
          - name: Acme
            accounts:
              - platform: x
                handle: acmehelp
                source: {{type: api, token_env: ACME_X_TOKEN, base_url: "{url}"}}
          - name: Globo
            accounts:
              - platform: x
                handle: globocare
                source: {{type: api, token_env: GLOBO_X_TOKEN, base_url: "{url}"}}
        """
    )
    path = folder / "audit.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, load_registry([]))
    config.store_path.parent.mkdir(parents=True, exist_ok=True)
    return config


def fetch_client(
    config: Config,
    name: str,
    shared: HttpClient,
    clock: ManualClock,
    environ: dict[str, str],
) -> list[AccountFetch]:
    """One client's fetch, as the scheduler runs it: its accounts only, the shared client."""
    accounts = [a for a in config.accounts() if a.client == name]
    with HistoryStore(config.store_path) as store:
        report = fetch_api_accounts(
            config, store, accounts, clock=clock, http_client=shared, environ=environ
        )
    return report.accounts


SAME_TOKEN = {"ACME_X_TOKEN": X_TOKEN, "GLOBO_X_TOKEN": X_TOKEN}


def test_a_later_client_on_the_same_token_waits_for_the_reset_it_learned_before(
    tmp_path: Path,
    budget_server: HTTPServer,
    budget_x: BudgetX,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = two_clients(tmp_path, budget_server.url_for("/"))
    caplog.set_level(logging.DEBUG)
    with http_client_for(config, clock) as shared:
        first = fetch_client(config, "Acme", shared, clock, SAME_TOKEN)
        assert [r.complete for r in first] == [True], [r.reason for r in first]
        assert clock.sleeps == []  # the budget was not spent yet
        second = fetch_client(config, "Globo", shared, clock, SAME_TOKEN)
    assert [r.complete for r in second] == [True], [r.reason for r in second]
    start = NOW.timestamp()
    # The second client's first request waited out the window the first one's answer named.
    assert clock.sleeps == [WINDOW]
    assert budget_x.lookups == [("acmehelp", start, 200), ("globocare", start + WINDOW, 200)]
    assert f"waiting {WINDOW:.1f}s for the reset" in caplog.text
    assert X_TOKEN not in caplog.text


def test_another_token_has_a_budget_of_its_own(
    tmp_path: Path, budget_server: HTTPServer, budget_x: BudgetX, clock: ManualClock
) -> None:
    config = two_clients(tmp_path, budget_server.url_for("/"))
    environ = {"ACME_X_TOKEN": X_TOKEN, "GLOBO_X_TOKEN": OTHER_TOKEN}
    with http_client_for(config, clock) as shared:
        first = fetch_client(config, "Acme", shared, clock, environ)
        second = fetch_client(config, "Globo", shared, clock, environ)
    assert all(r.complete for r in [*first, *second])
    start = NOW.timestamp()
    assert clock.sleeps == []
    assert budget_x.lookups == [("acmehelp", start, 200), ("globocare", start, 200)]


def _stop_signal(done: AccountFetch, count: int, total: int) -> None:
    raise Interrupted(signal.SIGTERM)  # what the signal handler raises in the calling thread


@pytest.mark.parametrize("ending", ["server errors", "account deadline", "stop signal"])
def test_the_shared_client_outlives_a_fetch_that_ends_badly(
    tmp_path: Path, budget_server: HTTPServer, budget_x: BudgetX, clock: ManualClock, ending: str
) -> None:
    # 500s forever: five attempts, 1 + 2 + 4 + 8 s of backoff (and jitter) between them; a
    # 5 s deadline is reached before the third retry.
    deadline = 5 if ending == "account deadline" else 1800
    config = two_clients(tmp_path, budget_server.url_for("/"), deadline_seconds=deadline)
    acme_lookup = "/2/users/by/username/acmehelp"
    if ending != "stop signal":
        budget_x.broken[acme_lookup] = 500
    accounts = [a for a in config.accounts() if a.client == "Acme"]
    with http_client_for(config, clock) as shared:
        with HistoryStore(config.store_path) as store:
            if ending == "stop signal":
                with pytest.raises(Interrupted):
                    fetch_api_accounts(
                        config,
                        store,
                        accounts,
                        clock=clock,
                        http_client=shared,
                        environ=SAME_TOKEN,
                        progress=_stop_signal,
                    )
            else:
                (first,) = fetch_api_accounts(
                    config, store, accounts, clock=clock, http_client=shared, environ=SAME_TOKEN
                ).accounts
                expected = {
                    "server errors": "HTTP 500 (gave up after 5 attempts)",
                    "account deadline": "fetch deadline of 5 s reached",
                }[ending]
                assert not first.complete and expected in str(first.reason), first.reason
        assert not shared.stopping
        second = fetch_client(config, "Globo", shared, clock, SAME_TOKEN)
    assert [r.complete for r in second] == [True], [r.reason for r in second]
    assert ("globocare", clock.now(), 200) in budget_x.lookups


def test_a_stop_of_the_shared_client_reaches_every_scope_and_a_scope_stops_alone() -> None:
    with HttpClient(HttpConfig(), clock=ManualClock()) as shared:
        first, second = shared.scoped(), shared.scoped()
        first.stop()
        assert first.stopping and not second.stopping and not shared.stopping
        shared.stop()
        assert second.stopping and shared.scoped().stopping


def _spend(client: HttpClient, url: str, purpose: str) -> None:
    bucket = MastodonProtocol.rate_limits[purpose].bucket
    client.request_json(
        platform="mastodon",
        read_rate_limit=read_mastodon_rate_limit,
        url=url,
        purpose=purpose,
        bucket=bucket,
    )


def test_purposes_of_one_documented_bucket_spend_one_budget(httpserver: HTTPServer) -> None:
    # Mastodon counts every API call against one budget: a profile lookup that spent it makes
    # a thread's context wait, though it is asked for another purpose.
    clock = ManualClock(NOW.timestamp())
    reset = NOW.timestamp() + 60
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2024-05-15T00:01:00Z"}
    httpserver.expect_request("/profile").respond_with_json({}, headers=spent)
    httpserver.expect_request("/context").respond_with_json({})
    with HttpClient(HttpConfig(), clock=clock) as client:
        _spend(client, httpserver.url_for("/profile"), "profile")
        assert clock.sleeps == []
        _spend(client, httpserver.url_for("/context"), "context")
    assert clock.sleeps == [reset - NOW.timestamp()]


def test_the_scheduler_runs_clients_on_one_token_against_one_budget(
    tmp_path: Path,
    budget_server: HTTPServer,
    budget_x: BudgetX,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`auditor schedule --once` end to end: Acme's audit spends the token's budget, and
    Globo's, audited after it by the same process, waits for the reset instead of earning a 429."""
    from typer.testing import CliRunner

    from auditor.cli import app
    from auditor.fetch import run as fetch_run

    config = two_clients(tmp_path, budget_server.url_for("/"))
    monkeypatch.setattr(fetch_run, "default_clock", lambda: clock)
    for name, token in SAME_TOKEN.items():
        monkeypatch.setenv(name, token)
    result = CliRunner().invoke(app, ["schedule", str(config.path), "--once"])
    assert result.exit_code in (0, 1, 3), result.output
    start = NOW.timestamp()
    assert budget_x.lookups == [("acmehelp", start, 200), ("globocare", start + WINDOW, 200)]
    assert clock.sleeps == [WINDOW]
    with HistoryStore(config.store_path) as store:
        records = store.client_records(["Acme", "Globo"], NOW)
    assert [records[name].outcome for name in ("Acme", "Globo")] == ["ok", "ok"]
