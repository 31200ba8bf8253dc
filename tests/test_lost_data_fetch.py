"""#11 item 5 end to end: the brand's own timeline fails (500s until the retries are spent)
while the mentions arrive. The run must not call the mentions unanswered: RSP001, RSP002 and
RSP004 are incomplete, naming the brand replies that did not arrive, no fail-level finding
comes from the gap, and the run exits 3 (incomplete), in the report as on the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from auditor.cli import app
from auditor.fetch import run as fetch_module
from auditor.fetch.http import ManualClock
from auditor.model import DATA_KINDS
from auditor.sources.platforms import PROTOCOLS
from auditor.sources.platforms.base import EVERY_KIND, carried, lost_kinds

from fetch_fakes import NOW, X_BRAND_ID, X_TOKEN, FakeX, serve
from tests_support import write_api_config

runner = CliRunner()
ANSWER_CHECKS = ("RSP001", "RSP002", "RSP004")


@pytest.fixture(autouse=True)
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    clock = ManualClock(NOW.timestamp())
    monkeypatch.setattr(fetch_module, "default_clock", lambda: clock)
    return clock


@pytest.fixture
def timeline_down() -> FakeX:
    return FakeX(broken={f"/2/users/{X_BRAND_ID}/tweets": 500})


@pytest.fixture
def server(timeline_down: FakeX) -> Iterator[HTTPServer]:
    yield from serve(timeline_down)


def _config(folder: Path, url: str) -> Path:
    source = f'{{type: api, token_env: AUDITOR_TEST_X_TOKEN, base_url: "{url}"}}'
    return write_api_config(
        folder,
        [f"{{platform: x, handle: acmehelp, source: {source}}}"],
        max_wait_seconds=120,
        top="policy: {business_hours: {always_open: true}}",
    )


def _report(folder: Path) -> dict[str, Any]:
    (path,) = sorted(folder.rglob("report.json"))
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def test_a_stalled_brand_timeline_is_incomplete_not_unanswered(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    timeline_down: FakeX,
    server: HTTPServer,
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_X_TOKEN", X_TOKEN)
    result = runner.invoke(app, ["run", str(_config(tmp_path, server.url_for("/")))])
    assert timeline_down.asked("/mentions"), "the mentions were never asked for"
    assert len(timeline_down.asked("/tweets")) > 1, "the timeline was not retried"
    report = _report(tmp_path / "out")
    (account,) = report["accounts"]
    checks = {c["id"]: c for c in account["checks"]}
    for check_id in ANSWER_CHECKS:
        check = checks[check_id]
        assert check["status"] == "incomplete", (check_id, check["status"], check["summary"])
        assert "brand replies not fully fetched: own_posts:" in check["summary"], check["summary"]
        assert check["findings"] == []
    assert checks["RSP001"]["metrics"]["withheld_findings"] > 0
    # The profile arrived whole: its checks judge it as on any other day.
    assert checks["PRF002"]["status"] in ("pass", "fail")
    assert result.exit_code == 3, result.output
    assert report["run"]["exit_code"] == 3
    assert "exit 3" in result.output
    assert account["coverage"]["complete"] is False
    assert account["coverage"]["lost"] == ["brand_posts"]


def test_every_purpose_a_protocol_asks_for_says_what_it_carries() -> None:
    assert EVERY_KIND == DATA_KINDS
    table = carried()
    assert set(table) == set(PROTOCOLS)
    for platform, protocol in PROTOCOLS.items():
        purposes = table[platform]
        assert all(kinds <= DATA_KINDS and kinds for kinds in purposes.values()), platform
        assert set(protocol.rate_limits) <= set(purposes), platform


@pytest.mark.parametrize(
    ("platform", "reasons", "lost"),
    [
        ("x", ["own_posts: HTTP 500 error"], {"brand_posts"}),
        ("x", ["mentions: HTTP 503"], {"customer_posts"}),
        ("x", ["recheck: timed out"], {"deleted"}),
        ("x", ["dm_events: HTTP 403 forbidden"], {"conversations"}),
        ("x", ["profile: no user in the answer"], DATA_KINDS),
        ("x", ["missing token: AUDITOR_X_TOKEN is not set"], DATA_KINDS),
        (
            "facebook",
            ["feed 123/feed: stopped after 5 pages"],
            {"brand_posts", "customer_posts", "hidden"},
        ),
        ("facebook", ["profile: HTTP 500"], {"profile"}),
        ("x", ["3 records unusable: post 9: 'created_at' has no UTC offset"], DATA_KINDS),
        ("nowhere", ["own_posts: HTTP 500"], DATA_KINDS),
    ],
)
def test_a_reason_loses_what_its_request_carried(
    platform: str, reasons: list[str], lost: set[str]
) -> None:
    assert lost_kinds(platform, reasons) == lost
