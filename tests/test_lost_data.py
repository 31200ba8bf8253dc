"""#11 item 5: a finding the missing data could refute is not a failure.

Every registered check is driven on the demo data (three accounts, every check with findings
somewhere, hidden and deleted posts, conversations, a history of an earlier complete audit) with
each kind of data lost in turn, through the engine's own audit of an account:

- a check that reads the lost kind never passes, and every fail-level finding it still reports
  is one the complete data gives too (nothing the gap could have made up);
- a check that does not read it gives what the complete data gives;
- the declarations are honest: removing a kind's data from a complete window changes a check's
  findings only if the check says it reads that kind, and creates findings only if the check
  says that kind could refute them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from auditor.check import severity_rank
from auditor.config import load_config
from auditor.engine.audit import Engine, record
from auditor.model import DATA_KINDS, AccountData, Post
from auditor.registry import load_registry
from auditor.result import AccountResult, CheckResult
from auditor.sources.bundle import index_bundle, read_bundle
from auditor.store.history import HistoryStore

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "config" / "demo.yaml"
REGISTRY = load_registry()
LATER = timedelta(hours=1)


def _without_posts(keep: Callable[[Post], bool]) -> Callable[[AccountData], None]:
    def remove(data: AccountData) -> None:
        data.posts = [p for p in data.posts if keep(p)]

    return remove


def _no_profile(data: AccountData) -> None:
    data.profile = None


def _no_conversations(data: AccountData) -> None:
    data.conversations = []


def _deletions_unmarked(data: AccountData) -> None:
    # A failed re-check: the kept copy of a deleted post stands as if it were still there.
    for post in data.posts:
        if post.visibility == "deleted":
            post.visibility, post.deleted_by = "public", None


# How each kind of data goes missing in practice; a kind may go more than one way.
REMOVALS: dict[str, list[Callable[[AccountData], None]]] = {
    "profile": [_no_profile],
    "customer_posts": [_without_posts(lambda p: p.by_brand)],
    "brand_posts": [_without_posts(lambda p: not p.by_brand)],
    "conversations": [_no_conversations],
    "hidden": [_without_posts(lambda p: p.visibility != "hidden")],
    "deleted": [_without_posts(lambda p: p.visibility != "deleted"), _deletions_unmarked],
}


def test_every_kind_has_a_way_to_be_lost() -> None:
    assert set(REMOVALS) == DATA_KINDS


class Demo:
    """The demo accounts, audited once complete (recorded in a history store) and then again
    an hour later: the baseline every lossy audit is held to."""

    def __init__(self, folder: Path) -> None:
        config = load_config(DEMO, REGISTRY)
        self.store = HistoryStore(str(folder / "history.sqlite"))
        self.engine = Engine(config, REGISTRY, store=self.store, workers=1)
        index = index_bundle(REPO / "config" / "demo" / "demo.jsonl")
        self.accounts = list(read_bundle(index))
        first = datetime.fromisoformat("2026-11-16T00:00:00+00:00")
        self.store.begin_run("earlier", config.sha256, "test", first)
        for data in self.accounts:
            record(self.store, "earlier", self.engine.audit(copy.deepcopy(data)), first)
        self.store.finish_run("earlier", first, "pass")
        self.baseline = {
            data.key: self.audit(data, lambda _: None, lost=None) for data in self.accounts
        }

    def audit(
        self, data: AccountData, remove: Callable[[AccountData], None], *, lost: str | None
    ) -> AccountResult:
        changed = copy.deepcopy(data)
        remove(changed)
        assert changed.window is not None and changed.window.fetched_at is not None
        changed.window = replace(changed.window, fetched_at=changed.window.fetched_at + LATER)
        if lost is not None:
            changed.window.lose({lost}, f"test: {lost} not fetched")
        return self.engine.audit(changed).result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    made = Demo(tmp_path_factory.mktemp("lost"))
    yield made
    made.store.close()


def _fail_level(check: CheckResult, fail_on: str) -> set[str]:
    return {f.uid for f in check.findings if severity_rank(f.severity) >= severity_rank(fail_on)}


def _cases() -> list[tuple[str, int]]:
    return [(kind, n) for kind, ways in sorted(REMOVALS.items()) for n in range(len(ways))]


@pytest.mark.parametrize(("kind", "way"), _cases())
def test_no_check_passes_or_fails_on_data_that_was_lost(demo: Demo, kind: str, way: int) -> None:
    problems = []
    for data in demo.accounts:
        complete = {c.id: c for c in demo.baseline[data.key].checks}
        lossy = demo.audit(data, REMOVALS[kind][way], lost=kind)
        fail_on = lossy.policy.get("fail_on", "high")
        for check in lossy.checks:
            before = complete[check.id]
            reads = kind in REGISTRY.get(check.id).needs.reads()
            if reads and check.status == "pass":
                problems.append(f"{data.key} {check.id} passes with {kind} lost")
            made_up = _fail_level(check, fail_on) - {f.uid for f in before.findings}
            if made_up:
                problems.append(f"{data.key} {check.id}: {len(made_up)} findings from the gap")
            if reads and check.status == "incomplete":
                assert "not fully fetched" in check.summary, (check.id, check.summary)
            if not reads and (check.status, len(check.findings)) != (
                before.status,
                len(before.findings),
            ):
                problems.append(f"{data.key} {check.id} changed, yet does not read {kind}")
    assert not problems, problems


@pytest.mark.parametrize(("kind", "way"), _cases())
def test_the_declarations_are_honest(demo: Demo, kind: str, way: int) -> None:
    """With a complete window, a check's findings move with a kind only if it reads that
    kind, and new findings appear only if that kind is declared able to refute them."""
    problems = []
    for data in demo.accounts:
        complete = {c.id: c for c in demo.baseline[data.key].checks}
        removed = demo.audit(data, REMOVALS[kind][way], lost=None)
        for check in removed.checks:
            needs = REGISTRY.get(check.id).needs
            before = {f.uid for f in complete[check.id].findings}
            after = {f.uid for f in check.findings}
            if after != before and kind not in needs.reads():
                problems.append(f"{data.key} {check.id}: findings change without {kind}")
            if after - before and kind not in needs.refutable_by():
                problems.append(f"{data.key} {check.id}: {kind} lost makes new findings")
    assert not problems, problems


def test_a_gap_withholds_and_counts_what_it_could_refute(demo: Demo) -> None:
    data = next(d for d in demo.accounts if d.account == "HelioSupport")
    before = {c.id: c for c in demo.baseline[data.key].checks}["RSP001"]
    assert before.status == "fail" and before.findings
    lossy = demo.audit(data, REMOVALS["brand_posts"][0], lost="brand_posts")
    check = {c.id: c for c in lossy.checks}["RSP001"]
    assert check.status == "incomplete" and not check.findings
    assert check.metrics["withheld_findings"] > 0
    assert "possible findings withheld: brand replies not fully fetched" in check.summary
    assert lossy.coverage.complete is False and lossy.coverage.lost == ["brand_posts"]


def test_the_report_exits_as_the_command_when_only_the_window_is_incomplete(
    tmp_path: Path,
) -> None:
    """Every check passed, yet the window lost data: the run is incomplete (3), in the report's
    exit code as on the command line (which used to add the fetch's own list on top)."""
    from auditor.reports import json_report
    from auditor.result import AuditResult, ClientResult, Coverage

    passed = CheckResult("PRF001", "t", "1", "medium", "pass", "hours posted")
    account = AccountResult(
        client="acme",
        platform="x",
        account="AcmeHelp",
        status="pass",
        coverage=Coverage(complete=False, reason="dm_events: HTTP 403", lost=["conversations"]),
        policy={"fail_on": "high"},
        checks=[passed],
    )
    client = ClientResult("acme", [account])
    at = datetime.fromisoformat("2026-11-16T00:00:00+00:00")
    result = AuditResult("0", "run", at, "c.yaml", "sha", None, {}, clients=[client])
    assert result.totals().incomplete == {"x:AcmeHelp": ["data"]}
    (written,) = json_report.write(result, tmp_path)
    assert json.loads(written.read_text())["run"]["exit_code"] == 3
    # The command line names the fetch instead, once.
    assert result.totals({"x:AcmeHelp": "dm_events: HTTP 403"}).incomplete == {
        "x:AcmeHelp": ["fetch"]
    }
