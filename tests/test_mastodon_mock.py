"""`auditor run` against a Mastodon API server nobody on this project wrote (mastodon-mock).

The server runs on 127.0.0.1 (``mastodon_mock_server.py``); the brand and its customers are
seeded through its own API; faults are injected through its control plane. Only the clock is
ours: the run's "now" is two days after the posts (so the 8-hour grace of RSP001 has run out)
and every wait the HTTP layer asks for passes at once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mastodon_mock_server import MOCK_DOMAIN, MockMastodon, server_unavailable
from typer.testing import CliRunner

from auditor.cli import app
from auditor.fetch import run as fetch_module
from auditor.fetch.http import ManualClock

from tests_support import write_api_config

runner = CliRunner()
TOKEN_ENV = "AUDITOR_TEST_MOCK_MASTODON_TOKEN"
TWO_DAYS = 2 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Seeded:
    """Status ids of the seeded scenario, by what the audit must make of them."""

    answered: str
    unanswered: str
    brand_reply: str


def seed_brand(server: MockMastodon) -> tuple[str, Seeded]:
    """A brand, two customers who mention it (one answered, one not), and a bystander.

    Returns the brand's token and the ids that matter.
    """
    brand = server.account(
        "acmehelp", "Acme Help", note="Acme support. We reply 9am-5pm UTC, Mon-Fri."
    )
    carla = server.account("carla", "Carla")
    dmitri = server.account("dmitri", "Dmitri")
    bystander = server.account("erin", "Erin")
    server.post(brand, "Our spring sale starts Monday!")
    asked = server.post(carla, "@acmehelp my order 5521 never arrived, can you help?")
    reply = server.post(brand, "@carla sorry about that, a replacement ships today.", asked)
    ignored = server.post(dmitri, "@acmehelp the app crashes every time I log in. Please help")
    server.post(bystander, "Lovely weather today, nothing to do with any brand.")
    return brand.token, Seeded(str(asked["id"]), str(ignored["id"]), str(reply["id"]))


def write_config(folder: Path, handle: str, base_url: str) -> Path:
    source = f'{{type: api, token_env: {TOKEN_ENV}, base_url: "{base_url}"}}'
    return write_api_config(
        folder,
        [f'{{platform: mastodon, handle: "{handle}", source: {source}}}'],
        max_wait_seconds=900,
    )


@dataclass(frozen=True, slots=True)
class Audit:
    exit_code: int
    output: str
    account: dict[str, Any]
    bundle: list[dict[str, Any]]

    def check(self, check_id: str) -> dict[str, Any]:
        found = [c for c in self.account["checks"] if c["id"] == check_id]
        assert len(found) == 1, [c["id"] for c in self.account["checks"]]
        check: dict[str, Any] = found[0]
        return check

    def finding_posts(self, check_id: str) -> set[str]:
        return {str(f.get("evidence_id")) for f in self.check(check_id)["findings"]}


def run_audit(
    folder: Path, monkeypatch: pytest.MonkeyPatch, server: MockMastodon, token: str, handle: str
) -> Audit:
    clock = ManualClock(time.time() + TWO_DAYS)
    monkeypatch.setattr(fetch_module, "default_clock", lambda: clock)
    monkeypatch.setenv(TOKEN_ENV, token)
    config = write_config(folder, handle, server.base_url)
    result = runner.invoke(app, ["run", str(config)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    reports = sorted((folder / "out").rglob("report.json"))
    assert len(reports) == 1, result.output
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    (account,) = report["accounts"]
    bundles = sorted((folder / "out" / "bundles").rglob("*.jsonl"))
    assert len(bundles) == 1, bundles
    lines = bundles[0].read_text(encoding="utf-8").splitlines()
    return Audit(result.exit_code, result.output, account, [json.loads(line) for line in lines])


def assert_expected_findings(audit: Audit, seeded: Seeded) -> None:
    assert audit.account["coverage"]["complete"] is True, audit.account["coverage"]
    posts = {str(r["id"]): r for r in audit.bundle if r["kind"] == "post"}
    assert {seeded.answered, seeded.unanswered, seeded.brand_reply} <= posts.keys()
    assert posts[seeded.brand_reply]["by_brand"] is True
    rsp001 = audit.check("RSP001")
    assert rsp001["status"] == "fail", rsp001
    # The ignored mention is flagged, the answered one is not.
    assert audit.finding_posts("RSP001") == {seeded.unanswered}, rsp001["findings"]
    assert rsp001["metrics"]["answered"] >= 1 and rsp001["metrics"]["unanswered"] == 1
    assert audit.exit_code == 1, audit.output


def assert_no_deletion(audit: Audit) -> None:
    deleted = [r["id"] for r in audit.bundle if r.get("visibility") == "deleted"]
    assert deleted == [], f"a failed request was taken for a deletion: {deleted}"


def test_a_complete_audit_of_a_real_mastodon_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mastodon_mock: MockMastodon
) -> None:
    token, seeded = seed_brand(mastodon_mock)
    audit = run_audit(tmp_path, monkeypatch, mastodon_mock, token, "acmehelp")
    assert_expected_findings(audit, seeded)
    assert_no_deletion(audit)


def test_a_name_at_instance_brand_sees_its_unanswered_mention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mastodon_mock: MockMastodon
) -> None:
    # The README's form of the handle. The server renders the mention as "@acmehelp" in the
    # HTML; only the status's mentions[] (id, acct) says it is addressed to this brand.
    token, seeded = seed_brand(mastodon_mock)
    audit = run_audit(tmp_path, monkeypatch, mastodon_mock, token, f"acmehelp@{MOCK_DOMAIN}")
    assert_expected_findings(audit, seeded)


RATE_LIMITED = {"type": "ratelimit"}
SERVER_ERROR = {"type": "status", "status": 500}
TRUNCATED = {"type": "malformed", "truncate": True}
NOTIFICATIONS = r"^/api/v1/notifications$"
OWN_STATUSES = r"^/api/v1/accounts/\d+/statuses$"
LOOKUP = r"^/api/v1/accounts/lookup$"


@pytest.mark.parametrize(
    ("path_regex", "effect"),
    [
        (NOTIFICATIONS, RATE_LIMITED),
        (OWN_STATUSES, RATE_LIMITED),
        (NOTIFICATIONS, SERVER_ERROR),
        (OWN_STATUSES, SERVER_ERROR),
        (LOOKUP, SERVER_ERROR),
        (NOTIFICATIONS, TRUNCATED),
        (OWN_STATUSES, TRUNCATED),
    ],
    ids=[
        "429-mentions",
        "429-own",
        "500-mentions",
        "500-own",
        "500-lookup",
        "cut-mentions",
        "cut-own",
    ],
)
def test_a_passing_fault_ends_complete_after_retries(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mastodon_mock: MockMastodon,
    path_regex: str,
    effect: dict[str, Any],
) -> None:
    token, seeded = seed_brand(mastodon_mock)
    mastodon_mock.fault(path_regex, effect, count=2)
    audit = run_audit(tmp_path, monkeypatch, mastodon_mock, token, "acmehelp")
    assert mastodon_mock.faults_left() == [], "the fault never fired: the test proves nothing"
    assert_expected_findings(audit, seeded)
    assert_no_deletion(audit)


@pytest.mark.parametrize(
    ("path_regex", "effect", "purpose"),
    [
        (NOTIFICATIONS, RATE_LIMITED, "mentions"),
        (OWN_STATUSES, SERVER_ERROR, "own_posts"),
        (NOTIFICATIONS, TRUNCATED, "mentions"),
        (LOOKUP, SERVER_ERROR, "profile"),
    ],
    ids=["429-mentions", "500-own", "cut-mentions", "500-lookup"],
)
def test_a_lasting_fault_ends_incomplete_with_the_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mastodon_mock: MockMastodon,
    path_regex: str,
    effect: dict[str, Any],
    purpose: str,
) -> None:
    token, _ = seed_brand(mastodon_mock)
    mastodon_mock.fault(path_regex, effect, count=None)
    audit = run_audit(tmp_path, monkeypatch, mastodon_mock, token, "acmehelp")
    coverage = audit.account["coverage"]
    assert coverage["complete"] is False, coverage
    assert purpose in (coverage["reason"] or ""), coverage
    # Never a pass on data that did not arrive.
    rsp001 = audit.check("RSP001")
    assert rsp001["status"] != "pass", rsp001
    assert audit.exit_code != 0, audit.output
    assert_no_deletion(audit)


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), (None, pytest.skip.Exception)]
)
def test_a_missing_server_skips_locally_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="not installed"):
        server_unavailable("the mastodon_mock package is not installed")
