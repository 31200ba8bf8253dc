"""Privacy (#11 item 8): with ``privacy.pseudonymize_customers`` on, nothing the tool writes
names a customer.

A fetch from local Mastodon and X servers (their documented shapes, mention data included) and
the audit that follows it run through the command line; then every output is searched for
every raw customer handle, display name and id: the history store's SQLite file as bytes and
every table's text, the fetched bundles, every report format, the terminal output and the logs
at debug level. The brand's own handle must still be there, and the audit's verdicts must be
the same as without pseudonymisation: only names differ.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import auditor.fetch.run as fetch_run
from auditor.fetch.http import ManualClock

from fetch_fakes import json_response, serve
from tests_support import run_cli, write_api_config

NOW = datetime(2024, 5, 15, tzinfo=UTC)
KEY = "a-test-pseudonym-key-5d1e"

# --- Mastodon: brand acmehelp@social.example; a local and a remote customer ------------------

M_BRAND_ID = "109350000000000001"
M_BRAND = {"id": M_BRAND_ID, "username": "acmehelp", "acct": "acmehelp", "display_name": "Acme"}
M_ZOLTAN = {
    "id": "109477700000000021",
    "username": "zoltanlocal",
    "acct": "zoltanlocal",  # a local account: its acct is the bare username
    "display_name": "Zoltan Quibblewick",
    "url": "https://social.example/@zoltanlocal",
}
M_YVETTE = {
    "id": "109477700000000022",
    "username": "yvettefar",
    "acct": "yvettefar@far.example",
    "display_name": "Yvette Farrowby",
    "url": "https://far.example/@yvettefar",
}


def mention_of(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": account["id"],
        "username": account["username"],
        "acct": account["acct"],
        "url": account.get("url", f"https://social.example/@{account['username']}"),
    }


def m_status(
    ident: str,
    account: dict[str, Any],
    created: str,
    html: str,
    mentions: list[dict[str, Any]],
    reply_to: tuple[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "id": ident,
        "created_at": created,
        "in_reply_to_id": reply_to[0] if reply_to else None,
        "in_reply_to_account_id": reply_to[1] if reply_to else None,
        "visibility": "public",
        "url": f"https://social.example/@{account['acct']}/{ident}",
        "uri": f"https://social.example/users/{account['username']}/statuses/{ident}",
        "content": html,
        "account": account,
        "mentions": [mention_of(m) for m in mentions],
        "application": None,
    }


def h_card(account: dict[str, Any]) -> str:
    return (
        f'<span class="h-card"><a href="{account.get("url", "")}" class="u-url mention">'
        f"@<span>{account['username']}</span></a></span>"
    )


ZOLTAN_ASKS = m_status(
    "112477700000000101",
    M_ZOLTAN,
    "2024-05-12T09:15:00.000Z",
    f"<p>{h_card(M_BRAND)} {h_card(M_YVETTE)} my invoice is wrong, same as hers</p>",
    [M_BRAND, M_YVETTE],
)
YVETTE_ASKS = m_status(
    "112477700000000102",
    M_YVETTE,
    "2024-05-13T10:00:00.000Z",
    f"<p>{h_card(M_BRAND)} still no refund after two weeks</p>",
    [M_BRAND],
)
BRAND_ANSWERS = m_status(
    "112477700000000103",
    M_BRAND,
    "2024-05-12T09:40:00.000Z",
    f"<p>{h_card(M_ZOLTAN)} sorry about that, we have corrected the invoice</p>",
    [M_ZOLTAN],
    reply_to=("112477700000000101", M_ZOLTAN["id"]),
)


def fake_mastodon(request: Request) -> Response:
    path = request.path
    if path == "/api/v1/accounts/lookup":
        return json_response({**M_BRAND, "note": "<p>Help: weekdays 9-17 CET</p>", "fields": []})
    if path == "/api/v1/notifications":
        if "since_id" in request.args:
            return json_response([])
        return json_response(
            [
                {
                    "id": f"3497{n}",
                    "type": "mention",
                    "created_at": s["created_at"],
                    "account": s["account"],
                    "status": s,
                }
                for n, s in enumerate([YVETTE_ASKS, ZOLTAN_ASKS])
            ]
        )
    if path == "/api/v1/notifications/requests":
        return json_response([])
    if path == f"/api/v1/accounts/{M_BRAND_ID}/statuses":
        return json_response([] if "since_id" in request.args else [BRAND_ANSWERS])
    if path.startswith("/api/v1/statuses/") and path.endswith("/context"):
        status_id = path.split("/")[4]
        if status_id == ZOLTAN_ASKS["id"]:
            return json_response({"ancestors": [], "descendants": [BRAND_ANSWERS]})
        if status_id == BRAND_ANSWERS["id"]:
            return json_response({"ancestors": [ZOLTAN_ASKS], "descendants": []})
        return json_response({"ancestors": [], "descendants": []})
    return json_response({"error": "Record not found"}, 404)


# --- X: brand acmehelp; two customers, one answered, and a private conversation -----------------

X_BRAND_ID = "1500000000000000001"
X_BRAND = {"id": X_BRAND_ID, "name": "Acme Help", "username": "acmehelp"}
X_QUENTIN = {"id": "7700000000000000931", "name": "Quentin Rawlinson", "username": "quentin_rawx"}
X_WILMA = {"id": "7700000000000000932", "name": "Wilma Rawcliffe", "username": "wilma_rawx"}


def x_mention(user: dict[str, Any], start: int) -> dict[str, Any]:
    return {
        "start": start,
        "end": start + len(user["username"]) + 1,
        "username": user["username"],
        "id": user["id"],
    }


def tweet(
    ident: str,
    user: dict[str, Any],
    created: str,
    text: str,
    mentions: list[dict[str, Any]],
    reply_to: tuple[str, str] | None = None,
    conversation: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ident,
        "text": text,
        "author_id": user["id"],
        "created_at": created,
        "conversation_id": conversation or ident,
        "edit_history_tweet_ids": [ident],
        "entities": {"mentions": [x_mention(m, text.find("@" + m["username"])) for m in mentions]},
    }
    if reply_to is not None:
        body["referenced_tweets"] = [{"type": "replied_to", "id": reply_to[0]}]
        body["in_reply_to_user_id"] = reply_to[1]
    return body


QUENTIN_ASKS = tweet(
    "1790000000000000201",
    X_QUENTIN,
    "2024-05-12T08:00:00.000Z",
    "@acmehelp @wilma_rawx my parcel is a week late, like hers",
    [X_BRAND, X_WILMA],
)
WILMA_ASKS = tweet(
    "1790000000000000202",
    X_WILMA,
    "2024-05-13T08:00:00.000Z",
    "@acmehelp where is my refund?",
    [X_BRAND],
)
X_BRAND_ANSWERS = tweet(
    "1790000000000000203",
    X_BRAND,
    "2024-05-12T08:20:00.000Z",
    "@quentin_rawx sorry! We have sent you a DM",
    [X_QUENTIN],
    reply_to=(QUENTIN_ASKS["id"], X_QUENTIN["id"]),
    conversation=QUENTIN_ASKS["id"],
)
DM_CONVERSATION = f"{X_BRAND_ID}-{X_QUENTIN['id']}"


def dm(ident: str, sender: dict[str, Any], created: str, text: str) -> dict[str, Any]:
    return {
        "id": ident,
        "event_type": "MessageCreate",
        "text": text,
        "created_at": created,
        "sender_id": sender["id"],
        "dm_conversation_id": DM_CONVERSATION,
        "participant_ids": [X_BRAND_ID, X_QUENTIN["id"]],
    }


def fake_x(request: Request) -> Response:
    path, args = request.path, request.args
    users = {"users": [X_BRAND, X_QUENTIN, X_WILMA]}
    if path == "/2/users/by/username/acmehelp":
        return json_response({"data": {**X_BRAND, "description": "Help 9-17 CET", "url": ""}})
    if path == f"/2/users/{X_BRAND_ID}/mentions":
        data = [] if "since_id" in args else [WILMA_ASKS, QUENTIN_ASKS]
        return json_response({"data": data, "includes": users, "meta": {"result_count": len(data)}})
    if path == f"/2/users/{X_BRAND_ID}/tweets":
        data = [] if "since_id" in args else [X_BRAND_ANSWERS]
        return json_response(
            {
                "data": data,
                "includes": {**users, "tweets": [QUENTIN_ASKS]},
                "meta": {"result_count": len(data)},
            }
        )
    if path == "/2/tweets":
        wanted = set(args.get("ids", "").split(","))
        every = [QUENTIN_ASKS, WILMA_ASKS, X_BRAND_ANSWERS]
        return json_response({"data": [t for t in every if t["id"] in wanted], "includes": users})
    if path == "/2/dm_events":
        events = [
            dm(
                "1790000000000000303",
                X_QUENTIN,
                "2024-05-12T08:30:00.000Z",
                "order 5521, thanks. @wilma_rawx had the same",
            ),
            dm(
                "1790000000000000304",
                X_BRAND,
                "2024-05-12T08:45:00.000Z",
                "Found it, it ships today",
            ),
        ]
        return json_response({"data": events, "includes": users, "meta": {"result_count": 2}})
    return json_response({"title": "Not Found", "detail": path}, 404)


# Every raw value that names or identifies a customer, as the platforms sent it.
RAW_CUSTOMER_VALUES = [
    value
    for account in (M_ZOLTAN, M_YVETTE, X_QUENTIN, X_WILMA)
    for value in (
        account["id"],
        account["username"],
        account.get("acct", account["username"]),
        account.get("display_name") or account["name"],
    )
]


@pytest.fixture
def mastodon_server() -> Iterator[HTTPServer]:
    yield from serve(fake_mastodon)


@pytest.fixture
def x_server() -> Iterator[HTTPServer]:
    yield from serve(fake_x)


def write_config(folder: Path, x_url: str, mastodon_url: str, pseudonymise: bool) -> Path:
    privacy = "{pseudonymize_customers: true, key_env: AUDITOR_TEST_PSEUDONYM_KEY}"
    x_source = f'{{type: api, token_env: T_X, base_url: "{x_url}", options: {{dm: true}}}}'
    mastodon_source = f'{{type: api, token_env: T_M, base_url: "{mastodon_url}"}}'
    return write_api_config(
        folder,
        [
            f"{{platform: x, handle: acmehelp, source: {x_source}}}",
            f"{{platform: mastodon, handle: acmehelp@social.example, source: {mastodon_source}}}",
        ],
        top=f"privacy: {privacy if pseudonymise else '{pseudonymize_customers: false}'}",
    )


def fetch_and_audit(
    folder: Path,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    pseudonymise: bool,
) -> str:
    """``auditor run`` (fetch, then audit) as a user runs it, at NOW; its terminal output."""
    folder.mkdir()
    config = write_config(folder, x_server.url_for("/"), mastodon_server.url_for("/"), pseudonymise)
    monkeypatch.setenv("T_X", "x-test-token")
    monkeypatch.setenv("T_M", "m-test-token")
    monkeypatch.setenv("AUDITOR_TEST_PSEUDONYM_KEY", KEY)
    monkeypatch.setattr(fetch_run, "default_clock", lambda: ManualClock(NOW.timestamp()))
    code, stdout, stderr = run_cli(["run", str(config), "--workers", "1"])
    assert code in (0, 1), stdout + stderr  # audited, findings or not; fetched complete
    return stdout + stderr


def every_output(folder: Path, terminal: str, logs: str) -> dict[str, bytes]:
    """What the tool wrote: each file as bytes, each store table as text, the terminal, logs."""
    outputs = {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "audit.yaml"
    }
    with sqlite3.connect(folder / "out" / "history.sqlite") as db:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')"
            )
        ]
        for table in tables:
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
            outputs[f"table {table}"] = json.dumps(rows, default=str).encode()
    outputs["terminal"] = terminal.encode()
    outputs["logs"] = logs.encode()
    return outputs


def verdicts(folder: Path) -> list[tuple[Any, ...]]:
    """Every check's status, finding count and metrics, per account: what must not depend on
    pseudonymisation."""
    (path,) = (folder / "out" / "Acme").glob("*/report.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    return [
        (
            account["account"],
            check["id"],
            check["status"],
            len(check["findings"]),
            json.dumps(check.get("metrics"), sort_keys=True),
        )
        for account in report["accounts"]
        for check in account["checks"]
    ]


def test_nothing_written_names_a_customer_and_the_verdicts_do_not_change(
    tmp_path: Path,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plain_folder, private_folder = tmp_path / "plain", tmp_path / "private"
    fetch_and_audit(plain_folder, x_server, mastodon_server, monkeypatch, pseudonymise=False)
    caplog.clear()
    terminal = fetch_and_audit(
        private_folder, x_server, mastodon_server, monkeypatch, pseudonymise=True
    )
    outputs = every_output(private_folder, terminal, caplog.text)

    # The test sees what it should: the fetch ran, the reports and the store are there.
    plain = every_output(plain_folder, "", "")
    assert any(b"quentin_rawx" in data for data in plain.values())
    assert {"out/bundles/x/acmehelp.jsonl", "table posts", "table conversations"} <= set(outputs)
    assert any(name.endswith("report.json") for name in outputs)

    leaks = [
        f"{raw!r} in {name}"
        for raw in RAW_CUSTOMER_VALUES
        for name, data in outputs.items()
        if raw.lower().encode() in data.lower()
    ]
    assert leaks == []
    # The brand is never pseudonymised: its handle is in the bundles, the store and the report.
    report = next(name for name in outputs if name.endswith("report.json"))
    for name in ("out/bundles/x/acmehelp.jsonl", "table posts", report):
        assert b"acmehelp" in outputs[name], name
    # Only names differ: every check's status, findings and metrics are the same.
    assert verdicts(private_folder) == verdicts(plain_folder)
    assert any(count for *_, count, _ in verdicts(private_folder))


def test_without_a_key_nothing_is_fetched_or_written(
    tmp_path: Path,
    x_server: HTTPServer,
    mastodon_server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, x_server.url_for("/"), mastodon_server.url_for("/"), True)
    monkeypatch.delenv("AUDITOR_TEST_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("T_X", "x-test-token")
    monkeypatch.setenv("T_M", "m-test-token")
    for command in (["fetch", str(config)], ["run", str(config)]):
        code, stdout, stderr = run_cli(command)
        assert code == 2, stdout + stderr
        assert "AUDITOR_TEST_PSEUDONYM_KEY is empty" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out" / "bundles").exists()
