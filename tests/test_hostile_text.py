"""Hostile text from servers, configs and bundles (#12 items 1-3): a server that echoes the
token into its errors leaks it nowhere; control characters reach no terminal and no log raw;
a handle can neither escape its path segment nor pass the config as something else.

Every server here is local (127.0.0.1) and the clock is injected: nothing touches the internet.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator
from werkzeug import Request as WsgiRequest
from werkzeug import Response as WsgiResponse

from auditor.cli_common import guard_logs
from auditor.config import load_schema
from auditor.demo.plan import plan_accounts
from auditor.fetch import run as fetch_module
from auditor.fetch.driver import fetch_account
from auditor.fetch.http import HttpClient, HttpConfig, ManualClock, RetryPolicy
from auditor.fetch.secrets import Secret, server_text
from auditor.sources.platforms import protocol_class
from auditor.sources.platforms.base import FetchSpec, Page
from auditor.untrusted import MAX_SERVER_TEXT, escape_controls

from conftest import healthy_account
from fetch_fakes import NOW, json_response, serve
from tests_support import run_cli, write_api_config

served = contextmanager(serve)

# Fresh values, used by no other test: a hit can only come from this test's run.
X_TOKEN = "AAAAhostile-x-token-3c9e51b0d7"
MASTODON_TOKEN = "hostile-masto-token-8d2f4a6e19"
GRAPH_TOKEN = "EAAGhostile-graph-token-71f0ce2a"
OSC_TITLE = "\x1b]0;pwned\x07"
CLEAR_SCREEN = "\x1b[2J"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.fixture(autouse=True)
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The command line's clock: every wait returns at once."""
    clock = ManualClock(NOW.timestamp())
    monkeypatch.setattr(fetch_module, "default_clock", lambda: clock)
    return clock


def every_byte(folder: Path) -> bytes:
    """Every file under ``folder`` (bundles, reports, the SQLite store and its journal)."""
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def store_text(path: Path) -> str:
    """Every value of every table of the history store, as text."""
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')
        )


# --- 1. a server's words are redacted and cut before anything keeps them ------------------------


def _echoing_x(request: WsgiRequest) -> WsgiResponse:
    """X answering the profile call 200 with an error that quotes the request's Authorization
    header (and pads it: a whole echoed page must not reach every output)."""
    echoed = request.headers.get("Authorization", "")
    detail = f"Could not find user. Your request: Authorization: {echoed} " + "x" * 5000
    return json_response({"errors": [{"title": "Not Found Error", "detail": detail}]})


def _echoing_mastodon(request: WsgiRequest) -> WsgiResponse:
    """Mastodon refusing with 401, the token quoted in its error."""
    echoed = request.headers.get("Authorization", "")
    return json_response({"error": f"The access token is invalid ({echoed})"}, status=401)


def _echoing_graph(request: WsgiRequest) -> WsgiResponse:
    """The Graph API refusing with 400, quoting the URL's query (which carries the token)."""
    query = request.query_string.decode()
    return json_response(
        {"error": {"message": f"Invalid OAuth access token: {query}", "code": 190}}, status=400
    )


def test_a_server_echoing_the_token_into_its_errors_leaks_it_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HOSTILE_X_TOKEN", X_TOKEN)
    monkeypatch.setenv("HOSTILE_MASTODON_TOKEN", MASTODON_TOKEN)
    monkeypatch.setenv("HOSTILE_GRAPH_TOKEN", GRAPH_TOKEN)
    x_seen: list[str] = []

    def x_handler(request: WsgiRequest) -> WsgiResponse:
        x_seen.append(request.headers.get("Authorization", ""))
        return _echoing_x(request)

    with (
        served(x_handler) as x,
        served(_echoing_mastodon) as mastodon,
        served(_echoing_graph) as graph,
    ):
        config = write_api_config(
            tmp_path,
            [
                "{platform: x, handle: acmehelp, source: {type: api, "
                f'token_env: HOSTILE_X_TOKEN, base_url: "{x.url_for("/")}"}}}}',
                "{platform: mastodon, handle: acmehelp@social.example, source: {type: api, "
                f'token_env: HOSTILE_MASTODON_TOKEN, base_url: "{mastodon.url_for("/")}"}}}}',
                "{platform: facebook, handle: '1234567890', source: {type: api, "
                f'token_env: HOSTILE_GRAPH_TOKEN, base_url: "{graph.url_for("/")}"}}}}',
            ],
        )
        code, stdout, stderr = run_cli(["run", str(config)])
    assert x_seen == [f"Bearer {X_TOKEN}"], "the server must have been sent the token to echo"
    assert code == 3, stderr
    report = next((tmp_path / "out").rglob("report.json"))
    accounts = {a["platform"]: a for a in json.loads(report.read_text())["accounts"]}
    x_reason = accounts["x"]["coverage"]["reason"]
    # The server's words are kept (that is the story), redacted and cut.
    assert x_reason.startswith("profile: Could not find user. Your request: Authorization: Bearer")
    assert "***" in x_reason and len(x_reason) <= MAX_SERVER_TEXT and x_reason.endswith("…")
    assert "***" in accounts["mastodon"]["coverage"]["reason"]
    assert "***" in accounts["facebook"]["coverage"]["reason"]
    assert caplog.records, "the run logged nothing: the log assertion below would be empty"
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    stored = store_text(tmp_path / "out" / "history.sqlite")
    written = every_byte(tmp_path / "out")
    assert list((tmp_path / "out" / "bundles").rglob("*.jsonl")), "no bundle was written"
    for token in (X_TOKEN, MASTODON_TOKEN, GRAPH_TOKEN):
        for where, text in {
            "stdout": stdout,
            "stderr": stderr,
            "log": logged,
            "store": stored,
        }.items():
            assert token not in text, f"{token} in {where}"
        assert token.encode() not in written, f"{token} in a file under out/"


def test_server_text_masks_before_it_cuts() -> None:
    """A cut first could leave the front of a token behind, unmasked."""
    token = Secret("Zq" + "7" * 40)
    text = "e" * (MAX_SERVER_TEXT - 10) + token.reveal() + " and more" * 50
    kept = server_text(text, [token])
    assert "Zq7" not in kept and len(kept) == MAX_SERVER_TEXT and "***" in kept
    assert server_text(f"echo {quote(token.reveal())}", [token]) == "echo ***"


def test_a_token_echoed_into_a_record_is_masked_in_every_field(tmp_path: Path) -> None:
    """Not only errors: a hostile server may put the token into a bio or a post."""
    token = Secret("AAAArecord-echo-token-0b7a22")

    def handler(request: WsgiRequest) -> WsgiResponse:
        if "/2/users/by/username/" in request.path:
            user = {"id": "42", "name": "Acme", "description": f"bio {token.reveal()}"}
            return json_response({"data": user})
        return json_response({"data": [], "meta": {"result_count": 0}})

    with served(handler) as server:
        protocol = protocol_class("x")(_spec("x", "acmehelp", server.url_for("/")))
        with _client() as client:
            outcome = fetch_account(protocol, client, token=token)
    profile = next(r for r in outcome.records if r["kind"] == "profile")
    assert profile["bio"] == "bio ***"
    assert token.reveal() not in json.dumps(outcome.records)


# --- 2. control characters are escaped in everything printed or logged ---------------------------


def test_escape_controls_shows_every_control_character() -> None:
    hostile = f"a{OSC_TITLE}b{CLEAR_SCREEN}c\rd\x7fe\x9b31mf\u202eg\nh\ti"
    shown = escape_controls(hostile)
    assert shown == "a\\x1b]0;pwned\\x07b\\x1b[2Jc\\x0dd\\x7fe\\x9b31mf\\u202eg\\x0ah\ti"
    assert escape_controls("line\nnext", keep_newlines=True) == "line\nnext"
    assert escape_controls("Grüße 👋 – ok") == "Grüße 👋 – ok"


def test_no_control_character_reaches_the_terminal_or_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A client name, a bundle's reason and an API's error text, each holding an OSC title-set
    and a clear-screen: the table (stdout is no terminal here), the errors and the log show
    them escaped, never raw."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HOSTILE_X_TOKEN", X_TOKEN)
    records = healthy_account("acmehelp")
    window = next(r for r in records if r["kind"] == "window")
    window.update(complete=False, reason=f"export stopped{OSC_TITLE}{CLEAR_SCREEN}")
    bundle = tmp_path / "acme.jsonl"
    bundle.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    def handler(request: WsgiRequest) -> WsgiResponse:
        detail = f"Forbidden{OSC_TITLE}{CLEAR_SCREEN}\u202eevil"
        return json_response({"title": "Forbidden", "detail": detail}, status=403)

    with served(handler) as server:
        config = tmp_path / "audit.yaml"
        config.write_text(
            textwrap.dedent(
                f"""\
                output: {{dir: out, formats: [json]}}
                store: {{path: out/history.sqlite}}
                fetch: {{lookback_days: 14, dir: out/bundles, max_wait_seconds: 10}}
                clients:
                  - name: "Acme\\e]0;pwned\\a\\e[2J"
                    accounts:
                      - {{platform: x, handle: acmehelp, source: acme.jsonl}}
                      - platform: x
                        handle: acmecare
                        source: {{type: api, token_env: HOSTILE_X_TOKEN,
                                  base_url: "{server.url_for("/")}"}}
                """
            ),
            encoding="utf-8",
        )
        code, stdout, stderr = run_cli(["run", str(config)])
    assert code in (1, 3), stderr
    logging.getLogger("auditor.test").warning("client %s said %s", "Acme", OSC_TITLE)
    for where, text in {"stdout": stdout, "stderr": stderr, "log": caplog.text}.items():
        for raw in RAW_CONTROLS:
            assert raw not in text, f"{raw!r} reached {where} raw"
    # Shown, escaped: the reader still sees what was there.
    assert "Acme\\x1b]0;pwned\\x07\\x1b[2J / x:acmehelp" in stdout
    assert "export stopped\\x1b]0;pwned\\x07\\x1b[2J" in stdout
    assert "Forbidden\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil" in stderr
    assert "said \\x1b]0;pwned\\x07" in caplog.text


def test_the_cli_log_handler_escapes_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    for handler in before:
        root.removeHandler(handler)
    try:
        guard_logs()  # what every command does first: stderr handler, redaction, escaping
        logging.getLogger("auditor.test").warning("name %s", f"Acme{OSC_TITLE}\nERROR forged")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
    err = capsys.readouterr().err
    assert err == "WARNING auditor.test: name Acme\\x1b]0;pwned\\x07\\x0aERROR forged\n"


# --- 3. handles: checked per platform in the config; path segments always encoded ---------------

TRAVERSAL = "../../../admin/delete?all=1#"


@pytest.mark.parametrize(
    ("platform", "handle"),
    [
        ("x", TRAVERSAL),
        ("x", "acme help"),
        ("x", "SixteenCharsLong"),
        ("mastodon", "acme@evil.example/api/v1/admin"),
        ("mastodon", "acme@"),
        ("bluesky", "did:plc:../../xrpc"),
        ("bluesky", "acme"),
        ("facebook", "123/feed?x=1"),
        ("facebook", "abc"),
        ("instagram", "acme help"),
        ("instagram", "a" * 31),
    ],
)
def test_a_handle_outside_its_platforms_syntax_is_a_config_error(
    tmp_path: Path, platform: str, handle: str
) -> None:
    # Should the check miss, the fetch goes to a closed local port, never to the platform.
    source = '{type: api, base_url: "http://127.0.0.1:9/"}'
    config = write_api_config(
        tmp_path, [f"{{platform: {platform}, handle: {json.dumps(handle)}, source: {source}}}"]
    )
    code, stdout, stderr = run_cli(["run", str(config)])
    assert code == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {config}:7: clients[0].accounts[0].handle: ")
    assert repr(handle) in lines[0] and " is not a" in lines[0]
    assert not (tmp_path / "out").exists(), "nothing may be fetched or written"


@pytest.mark.parametrize(
    ("platform", "handle"),
    [
        ("x", "@AcmeHelp"),
        ("x", "nationalrailenq"),
        ("mastodon", "acmehelp@social.example"),
        ("mastodon", "acme.help"),
        ("bluesky", "acme.bsky.social"),
        ("bluesky", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"),
        ("bluesky", "did:web:support.acme.example"),
        ("facebook", "1234567890"),
        ("facebook", "Acme.Support"),
        ("instagram", "acme.help_"),
        ("instagram", "17841400000000000"),
    ],
)
def test_handles_in_their_platforms_syntax_pass(tmp_path: Path, platform: str, handle: str) -> None:
    config = write_api_config(
        tmp_path, [f"{{platform: {platform}, handle: {json.dumps(handle)}, source: {{type: api}}}}"]
    )
    code, _, stderr = run_cli(["config", "validate", str(config)])
    assert code == 0, stderr


def test_every_handle_the_demo_generates_passes_the_schema() -> None:
    """The rules hold real handles: each platform's, as the demo makes them."""
    validator = Draft202012Validator(load_schema("config.schema.json"))
    for plan in plan_accounts(60, seed=7):
        config = {
            "clients": [
                {
                    "name": "Demo",
                    "accounts": [
                        {"platform": plan.platform, "handle": plan.handle, "source": "b.jsonl"}
                    ],
                }
            ]
        }
        problems = [e.message for e in validator.iter_errors(config)]
        assert problems == [], (plan.platform, plan.handle)


class _RecordingHandler(BaseHTTPRequestHandler):
    """Keeps each request's path exactly as it came on the request line (no decoding)."""

    paths: list[str]

    def do_GET(self) -> None:
        self.paths.append(self.path)
        body = b'{"errors": [{"title": "Not Found Error", "detail": "no such user"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []
    handler = type("Handler", (_RecordingHandler,), {"paths": paths})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", paths
    finally:
        server.shutdown()
        server.server_close()


def _spec(platform: str, account: str, base_url: str, **options: Any) -> FetchSpec:
    end = datetime(2024, 5, 15, tzinfo=UTC)
    return FetchSpec(
        platform, account, end - timedelta(days=14), end, options={"base_url": base_url, **options}
    )


def _client() -> HttpClient:
    retry = RetryPolicy(max_attempts=1, max_wait=1.0)
    return HttpClient(HttpConfig(retry=retry), clock=ManualClock())


@pytest.mark.parametrize("handle", [TRAVERSAL, "..", "a b/c%2F"])
def test_a_handle_that_bypassed_the_config_stays_one_path_segment(
    raw_server: tuple[str, list[str]], handle: str
) -> None:
    """A protocol built directly (no config check): the request still goes to the profile
    route, the handle encoded in its one segment; the token goes nowhere else."""
    root, paths = raw_server
    protocol = protocol_class("x")(_spec("x", handle, root))
    with _client() as client:
        fetch_account(protocol, client, token=Secret("AAAAsegment-token-51e9"))
    assert len(paths) == 1
    path, _, query = paths[0].partition("?")
    encoded = quote(handle, safe="").replace(".", "%2E") if handle == ".." else quote(handle, "")
    assert path == f"/api/2/users/by/username/{encoded}"
    assert query.startswith("user.fields=")


@pytest.mark.parametrize(
    ("platform", "answer", "purpose", "prefix"),
    [
        ("x", {"data": {"id": "../../admin"}}, "mentions", "/2/users/"),
        ("mastodon", {"id": "../../admin", "acct": "acme"}, "own_posts", "/api/v1/accounts/"),
        ("facebook", {"id": "../admin", "name": "Acme"}, "feed", ""),
        ("instagram", {"id": "../admin", "username": "acme"}, "media", ""),
    ],
)
def test_ids_from_a_server_are_encoded_in_the_paths_built_on_them(
    platform: str, answer: dict[str, Any], purpose: str, prefix: str
) -> None:
    account = {"mastodon": "acme@social.example", "facebook": "12345", "instagram": "12345"}
    protocol = protocol_class(platform)(
        _spec(platform, account.get(platform, "acme"), "https://api.example")
    )
    first = protocol.start()[0]
    step = protocol.receive(first, Page(200, {}, answer))
    built = next(r for r in step.requests if r.purpose == purpose)
    assert "admin" in built.path, "the id must be in the path, encoded"
    assert built.path.startswith(f"{prefix}..%2F")
    assert "/admin" not in built.path and "../" not in built.path


def test_config_page_ids_are_numeric(tmp_path: Path) -> None:
    config = write_api_config(
        tmp_path,
        ["{platform: facebook, handle: '12345', source: {type: api, options: {page_id: '1/x'}}}"],
    )
    code, _, stderr = run_cli(["config", "validate", str(config)])
    assert code == 2 and "'1/x' is not a numeric Page id" in stderr


@pytest.mark.parametrize(
    "handle", ["acme@evil.example/api?", "acme@user:pw@evil.example", "acme@127.0.0.1:9"]
)
def test_a_mastodon_instance_that_is_no_domain_name_gets_no_request(handle: str) -> None:
    """The handle's instance is the host the token goes to: a protocol built directly (no
    config check) asks nothing of one that is not a domain name, and says why."""
    spec = _spec("mastodon", handle, "")
    protocol = protocol_class("mastodon")(
        FetchSpec(spec.platform, spec.account, spec.window_start, spec.window_end)
    )
    assert protocol.start() == []
    assert protocol.missing and "no instance known" in protocol.missing[0]
