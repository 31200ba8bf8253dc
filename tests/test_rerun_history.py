"""Reruns are identical: what later weeks added to the store changes no earlier week's report."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.model import Post
from auditor.store.history import HistoryStore

from conftest import END, WriteBundle, WriteConfig, post, profile, window
from tests_support import run_cli

COMPLAINT = "@AcmeHelp you charged me twice and nobody answers"


def _week(week: int, posts: list[dict[str, Any]], days: int = 14) -> list[dict[str, Any]]:
    """A bundle fetched at the end of ``week`` (END + 7 days per week), its times shifted so."""
    shift = timedelta(days=7 * week)
    end = (END + shift).isoformat()
    records = [profile(fetched_at=end), window(days=days, window_end=end, fetched_at=end)]
    records[1]["window_start"] = (END + shift - timedelta(days=days)).isoformat()
    for record in posts:
        created = datetime.fromisoformat(record["created_at"]) + shift
        records.append({**record, "created_at": created.isoformat()})
    return records


def _report(folder: Path) -> dict[str, Any]:
    (path,) = folder.rglob("report.json")
    report: dict[str, Any] = json.loads(path.read_text())
    for account in report["accounts"]:
        for point in account.get("trend", ()):
            if point["run"] == report["run"]["id"]:  # this run's own point: its start
                point.pop("started_at")
    for key in ("id", "started_at", "finished_at"):
        report["run"].pop(key)
    return report


def test_rerunning_a_week_after_a_later_one_gives_the_same_report(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    # Week 0 sees a complaint; week 1's complete fetch no longer has it (a finding: last seen in
    # week 0); week 2 sees it again, marked deleted by its author.
    weeks = [
        [post("1", "bob", 30, COMPLAINT)],
        [post("2", "cy", 20, "@AcmeHelp where is my parcel")],
        [post("1", "bob", 30 + 14 * 24, COMPLAINT, visibility="deleted", deleted_by="author")],
    ]
    configs = []
    for week, posts in enumerate(weeks):
        bundle = write_bundle_file(f"week{week}.jsonl", _week(week, posts, days=21))
        configs.append(
            write_config(
                f"""
                output: {{dir: out/week{week}}}
                store: {{path: history.sqlite}}
                clients:
                  - name: acme
                    accounts: [{{platform: x, handle: AcmeHelp, source: {bundle}}}]
                """,
                name=f"week{week}.yaml",
            )
        )
    assert run_cli(["run", str(configs[0]), "-q"])[0] != 2
    assert run_cli(["run", str(configs[1]), "-q"])[0] != 2
    first = _report(tmp_path / "out" / "week1")
    mod001 = next(c for c in first["accounts"][0]["checks"] if c["id"] == "MOD001")
    assert [f["evidence"]["data"]["deleted_by"] for f in mod001["findings"]] == ["unknown"]

    assert run_cli(["run", str(configs[2]), "-q"])[0] != 2
    for path in (tmp_path / "out" / "week1").rglob("report.json"):
        path.unlink()
    run_cli(["run", str(configs[1]), "-q"])
    assert _report(tmp_path / "out" / "week1") == first


def test_history_before_a_time_leaves_out_what_was_seen_since(history: HistoryStore) -> None:
    complaint = Post(id="1", author="bob", by_brand=False, created_at=END, text=COMPLAINT)
    gone = Post(
        id="1",
        author="bob",
        by_brand=False,
        created_at=END,
        visibility="deleted",
        deleted_by="author",
    )
    weeks = [END + timedelta(days=7 * n) for n in range(3)]
    for n, (at, posts) in enumerate(zip(weeks, [[complaint], [], [gone]], strict=True)):
        history.begin_run(f"week{n}", "c", "t", at)
        history.record_account(f"week{n}", "x", "AcmeHelp", "pass", at, posts, [])
        history.finish_run(f"week{n}", at, "pass")
    seen = history.previous_posts("x", "AcmeHelp", weeks[1])["1"]
    assert (seen.first_seen, seen.last_seen) == (weeks[0], weeks[0])
    assert (seen.visibility, seen.deleted_by) == ("public", None)
    # Before week 2 itself nothing changes: its own observation is not history yet.
    assert history.previous_posts("x", "AcmeHelp", weeks[2])["1"].last_seen == weeks[0]


def test_history_before_each_week_is_the_same_whatever_order_weeks_were_recorded(
    tmp_path: Path,
) -> None:
    complaint = Post(id="1", author="bob", by_brand=False, created_at=END, text=COMPLAINT)
    hidden = Post(
        id="1", author="bob", by_brand=False, created_at=END, text=COMPLAINT, visibility="hidden"
    )
    weeks = [END + timedelta(days=7 * n) for n in range(4)]
    seen = [[complaint], [hidden], [], [complaint]]

    def views(order: list[int], name: str) -> list[Any]:
        with HistoryStore(tmp_path / name) as store:
            for n in order:
                store.begin_run(f"week{n}", "c", "t", weeks[n])
                store.record_account(f"week{n}", "x", "AcmeHelp", "pass", weeks[n], seen[n], [])
                store.finish_run(f"week{n}", weeks[n], "pass")
            return [store.previous_posts("x", "AcmeHelp", at).get("1") for at in weeks]

    in_order = views([0, 1, 2, 3], "a.sqlite")
    assert [None if s is None else (s.last_seen, s.visibility) for s in in_order] == [
        None,
        (weeks[0], "public"),
        (weeks[1], "hidden"),
        (weeks[1], "hidden"),
    ]
    assert views([3, 1, 0, 2], "b.sqlite") == in_order
