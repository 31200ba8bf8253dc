"""The pipeline end to end through the CLI: statuses, exit codes, reports, history, plug-ins."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

import auditor.engine.audit as engine_module
from auditor.config import load_config, load_schema
from auditor.engine.audit import Audited, Engine
from auditor.engine.parallel import map_in_workers
from auditor.model import Post
from auditor.registry import load_registry
from auditor.reports import json_report
from auditor.result import EncodedFindings
from auditor.sources.inputs import BundleInput
from auditor.store.history import HistoryStore

from conftest import (
    END,
    WriteBundle,
    WriteConfig,
    healthy_account,
    neglected_account,
    post,
    profile,
    read_reports,
    window,
)
from tests_support import run_cli

Audit = Callable[..., Path]

RAISING_CHECK = '''
"""ZZZ001 Always raises.

## Why it matters
Tests.

## Example
None.

## How to fix
Nothing.
"""
from auditor.check import Check, Needs

def run(ctx):
    raise RuntimeError("boom")

CHECK = Check(id="ZZZ001", title="Raises", version="0.1", severity="low",
              rationale="r", remediation="r", docs=__doc__, run=run, needs=Needs(posts=True))
'''

COUNTING_CHECK = '''
"""LOC001 Counts brand posts.

## Why it matters
Tests.

## Example
None.

## How to fix
Nothing.
"""
from auditor.check import Check, CheckOutput, Needs

def run(ctx):
    brand = [p for p in ctx.account.posts if p.by_brand]
    limit = ctx.params["max_brand_posts"]
    findings = [ctx.finding(p.id, "too many") for p in brand[limit:]]
    return CheckOutput(findings=findings, metrics={"brand_posts": len(brand)},
                       summary=f"{len(brand)} brand posts")

CHECK = Check(id="LOC001", title="Counts", version="0.1", severity="info",
              rationale="r", remediation="r", docs=__doc__, run=run, needs=Needs(posts=True),
              fail_severity="info",
              parameters={"type": "object", "additionalProperties": False,
                          "properties": {"max_brand_posts": {"type": "integer", "default": 5}}})
'''


@pytest.fixture
def audit(tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig) -> Audit:
    """Write bundles and a config for two clients; return a function that runs the CLI."""

    def make(
        acme: list[dict[str, Any]] | None = None,
        globo: list[dict[str, Any]] | None = None,
        extra_config: str = "",
        client_name: str = "acme",
    ) -> Path:
        acme_path = write_bundle_file("acme.jsonl", healthy_account() if acme is None else acme)
        globo_path = write_bundle_file(
            "globo.jsonl", neglected_account() if globo is None else globo
        )
        config = write_config(f"""
            output: {{dir: out}}
            store: {{path: out/history.sqlite}}
            {extra_config}
            clients:
              - name: {json.dumps(client_name)}
                accounts:
                  - {{platform: x, handle: AcmeHelp, source: {acme_path}}}
              - name: globo
                accounts:
                  - {{platform: x, handle: GloboCare, source: {globo_path}}}
        """)
        return config

    return make


def test_demo_like_run_fails_with_exit_1_and_writes_reports(audit: Audit, tmp_path: Path) -> None:
    config = audit()
    code, out, _ = run_cli(["run", str(config)])
    assert code == 1
    assert "globo / x:GloboCare: FAIL" in out and "acme / x:AcmeHelp: pass" in out
    reports = read_reports(tmp_path / "out")
    assert set(reports) == {"acme", "globo"}
    globo = reports["globo"]["accounts"][0]
    rsp = next(c for c in globo["checks"] if c["id"] == "RSP001")
    assert rsp["status"] == "fail" and len(rsp["findings"]) == 2
    assert rsp["findings"][0]["evidence"]["urls"] == ["https://x.com/dora/status/10"]
    assert rsp["metrics"]["response_rate"] == 0.0


def test_exit_0_when_nothing_fails(audit: Audit) -> None:
    config = audit(globo=healthy_account("GloboCare"))
    assert run_cli(["run", str(config)])[0] == 0


def test_fail_on_threshold_from_command_line_wins(audit: Audit) -> None:
    config = audit(extra_config="policy: {fail_on: medium}")
    assert run_cli(["run", str(config), "--fail-on", "critical"])[0] == 0
    assert run_cli(["run", str(config), "--fail-on", "low"])[0] == 1
    assert run_cli(["run", str(config), "--fail-on", "urgent"])[0] == 2


def test_severity_override_changes_exit(audit: Audit) -> None:
    config = audit(extra_config="policy: {severity: {RSP001: low, PRF001: low}}")
    assert run_cli(["run", str(config)])[0] == 0


def test_incomplete_window_exits_3_and_never_passes(audit: Audit, tmp_path: Path) -> None:
    records = healthy_account("GloboCare")
    records[1] = window("GloboCare", complete=False, reason="mentions page 2 failed")
    config = audit(globo=records)
    code, _, _ = run_cli(["run", str(config)])
    assert code == 3
    report = read_reports(tmp_path / "out")["globo"]["accounts"][0]
    assert report["status"] == "incomplete"
    assert report["coverage"]["reason"] == "mentions page 2 failed"
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["PRF001"] == "pass"  # the profile arrived whole
    assert "pass" not in {s for k, s in statuses.items() if k.startswith("RSP")}
    rsp = next(c for c in report["checks"] if c["id"] == "RSP001")
    assert rsp["status"] == "incomplete"


def test_bad_bundle_line_exits_2_others_still_audited(audit: Audit, tmp_path: Path) -> None:
    config = audit()
    bundle = tmp_path / "globo.jsonl"
    lines = bundle.read_text().splitlines()
    lines[2] = lines[2].replace('"by_brand":false', '"by_brand":"nope"')
    bundle.write_text("\n".join(lines) + "\n")
    code, out, _ = run_cli(["run", str(config)])
    assert code == 2
    assert f"{bundle}:3: x:GloboCare: 'by_brand' must be true or false" in out
    reports = read_reports(tmp_path / "out")
    assert reports["globo"]["accounts"][0]["status"] == "error"
    assert reports["globo"]["accounts"][0]["checks"] == []
    assert reports["acme"]["accounts"][0]["status"] == "pass"

    code, out, _ = run_cli(["run", str(config), "--skip-invalid"])
    # The skipped line does not say whose post it was: it may have been the brand's answer,
    # so the valid post's "unanswered" is withheld and the run is incomplete.
    assert code == 3
    globo = read_reports(tmp_path / "out")["globo"]["accounts"][0]
    assert globo["coverage"]["invalid_records"] == 1
    assert globo["coverage"]["lost"] == ["brand_posts", "customer_posts"]
    # The profile's own findings (below fail_on) still stand; the posts' are withheld.
    assert globo["status"] == "fail"
    rsp = next(c for c in globo["checks"] if c["id"] == "RSP001")
    assert rsp["findings"] == [] and rsp["metrics"]["withheld_findings"] == 1


def test_skip_invalid_marks_account_incomplete(audit: Audit, tmp_path: Path) -> None:
    records = [*healthy_account("GloboCare"), post("9", "x", 1, account="GloboCare", by_brand=3)]
    config = audit(globo=records)
    assert run_cli(["run", str(config)])[0] == 2
    code, _, _ = run_cli(["run", str(config), "--skip-invalid"])
    assert code == 3
    globo = read_reports(tmp_path / "out")["globo"]["accounts"][0]
    assert globo["status"] == "incomplete"


def test_skipped_records_make_coverage_incomplete_too(audit: Audit, tmp_path: Path) -> None:
    # Coverage and the checks give one answer: records left out by --skip-invalid make the
    # window incomplete, with how many, for the report's coverage and for every check.
    records = [*healthy_account("GloboCare"), post("9", "x", 1, account="GloboCare", by_brand=3)]
    config = audit(globo=records)
    code, out, _ = run_cli(["run", str(config), "--skip-invalid"])
    assert code == 3
    globo = read_reports(tmp_path / "out")["globo"]["accounts"][0]
    assert globo["coverage"]["complete"] is False
    assert globo["coverage"]["reason"] == "1 invalid record skipped"
    reading_posts = [c for c in globo["checks"] if not c["id"].startswith("PRF")]
    assert reading_posts and "pass" not in {c["status"] for c in reading_posts}
    assert "(incomplete: 1 invalid record skipped)" in out


def test_a_skipped_record_is_never_taken_for_a_deleted_post(
    audit: Audit, tmp_path: Path, write_bundle_file: WriteBundle
) -> None:
    # A complaint seen by an earlier audit whose line is now invalid was skipped, not deleted:
    # with the window incomplete MOD001 cannot judge deletions, and raises no finding.
    config = audit()
    assert run_cli(["run", str(config)])[0] == 1
    later = [
        window("GloboCare", window_end=(END + timedelta(days=1)).isoformat(),
               fetched_at=(END + timedelta(days=1)).isoformat()),
        *[r for r in neglected_account() if r["kind"] != "window"],
    ]  # fmt: skip
    bundle = write_bundle_file("globo.jsonl", later)
    lines = bundle.read_text().splitlines()
    broken = next(i for i, line in enumerate(lines) if '"id":"10"' in line)
    lines[broken] = lines[broken].replace('"by_brand":false', '"by_brand":"nope"')
    bundle.write_text("\n".join(lines) + "\n")
    run_cli(["run", str(config), "--skip-invalid"])
    globo = read_reports(tmp_path / "out")["globo"]["accounts"][0]
    mod = next(c for c in globo["checks"] if c["id"] == "MOD001")
    assert mod["findings"] == [] and mod["status"] != "pass"


def test_account_missing_from_its_bundle_is_an_error(audit: Audit, tmp_path: Path) -> None:
    config = audit(globo=healthy_account("SomeoneElse"))
    code, _, err = run_cli(["run", str(config)])
    assert code == 2 and "no records for account x:GloboCare" in err


def test_missing_bundle_file_is_bad_input(audit: Audit, tmp_path: Path) -> None:
    config = audit()
    (tmp_path / "globo.jsonl").unlink()
    code, _, err = run_cli(["run", str(config)])
    assert code == 2 and "globo.jsonl: cannot open bundle" in err
    assert read_reports(tmp_path / "out")["acme"]["accounts"][0]["status"] == "pass"


def test_no_profile_is_not_applicable_not_pass(audit: Audit, tmp_path: Path) -> None:
    config = audit(acme=healthy_account()[1:])
    run_cli(["run", str(config)])
    acme = read_reports(tmp_path / "out")["acme"]["accounts"][0]
    prf = next(c for c in acme["checks"] if c["id"] == "PRF001")
    assert prf["status"] == "not_applicable" and prf["summary"] == "no profile in the data"


def test_raising_check_is_error_others_run_exit_3(audit: Audit, tmp_path: Path) -> None:
    checks = tmp_path / "local_checks"
    checks.mkdir()
    (checks / "raises.py").write_text(RAISING_CHECK)
    config = audit(globo=healthy_account("GloboCare"))
    code, _, _ = run_cli(["run", str(config), "--checks-dir", str(checks)])
    assert code == 3
    acme = read_reports(tmp_path / "out")["acme"]["accounts"][0]
    statuses = {c["id"]: c["status"] for c in acme["checks"]}
    assert statuses["ZZZ001"] == "error"
    assert statuses["PRF001"] == "pass" and statuses["RSP001"] == "pass"
    error = next(c for c in acme["checks"] if c["id"] == "ZZZ001")["error"]
    assert error.startswith("RuntimeError: boom (raises.py:")


def test_check_from_checks_dir_runs_with_its_parameters(audit: Audit, tmp_path: Path) -> None:
    checks = tmp_path / "local_checks"
    checks.mkdir()
    (checks / "counting.py").write_text(COUNTING_CHECK)
    config = audit(extra_config="policy: {checks: {LOC001: {max_brand_posts: 0}}}")
    # Without the plug-in the config names an unknown check: exit 2.
    code, _, err = run_cli(["run", str(config)])
    assert code == 2 and "unknown check id LOC001" in err
    code, out, _ = run_cli(["run", str(config), "--checks-dir", str(checks)])
    acme = read_reports(tmp_path / "out")["acme"]["accounts"][0]
    loc = next(c for c in acme["checks"] if c["id"] == "LOC001")
    assert loc["status"] == "fail" and loc["metrics"] == {"brand_posts": 1}
    code, out, _ = run_cli(["checks", "list", "--checks-dir", str(checks)])
    assert "LOC001" in out and "counting.py" in out


def test_duplicate_check_id_is_refused(tmp_path: Path) -> None:
    checks = tmp_path / "dups"
    checks.mkdir()
    (checks / "one.py").write_text(COUNTING_CHECK)
    (checks / "two.py").write_text(COUNTING_CHECK)
    code, _, err = run_cli(["checks", "list", "--checks-dir", str(checks)])
    assert code == 2 and "duplicate check id LOC001" in err


def test_check_from_an_entry_point(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "thirdparty_checks-1.0.dist-info").mkdir(parents=True)
    (site / "thirdparty_checks.py").write_text(COUNTING_CHECK.replace("LOC001", "TPC001"))
    (site / "thirdparty_checks-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: thirdparty-checks\nVersion: 1.0\n"
    )
    (site / "thirdparty_checks-1.0.dist-info" / "entry_points.txt").write_text(
        "[social_care_auditor.checks]\nTPC001 = thirdparty_checks:CHECK\n"
    )
    completed = subprocess.run(
        [sys.executable, "-m", "auditor", "checks", "show", "TPC001"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": ""},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("TPC001 Counts")
    assert "max_brand_posts (default 5)" in completed.stdout


def test_report_is_valid_against_its_schema(audit: Audit, tmp_path: Path) -> None:
    config = audit(extra_config="privacy: {pseudonymize_customers: true, key_env: TEST_KEY}")
    import os

    os.environ["TEST_KEY"] = "s3cret"
    try:
        run_cli(["run", str(config)])
    finally:
        del os.environ["TEST_KEY"]
    validator = Draft202012Validator(
        load_schema("report.schema.json"), format_checker=FormatChecker()
    )
    reports = read_reports(tmp_path / "out")
    for report in reports.values():
        errors = list(validator.iter_errors(report))
        assert not errors, errors[0].message
    assert reports["globo"]["inputs"][0]["path"].endswith("globo.jsonl")
    globo = reports["globo"]
    policy = globo["policies"][globo["accounts"][0]["policy"]]
    assert policy["checks"]["RSP001"] == {"grace_hours": 8}


def test_pseudonymised_customers_never_reach_report_or_store(
    audit: Audit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = audit(extra_config="privacy: {pseudonymize_customers: true, key_env: TEST_KEY}")
    code, _, err = run_cli(["run", str(config)])
    assert code == 2 and "TEST_KEY is empty" in err
    monkeypatch.setenv("TEST_KEY", "s3cret")
    run_cli(["run", str(config)])
    text = "".join(p.read_text() for p in (tmp_path / "out").rglob("report.json"))
    assert "cust-" in text
    for customer in ("bob", "dora", "ed"):
        assert not re.search(rf"\b{customer}\b", text)
    with sqlite3.connect(tmp_path / "out" / "history.sqlite") as db:
        rows = list(db.execute("SELECT author, text, url FROM posts"))
    assert "AcmeHelp" in {row[0] for row in rows}
    for customer in ("bob", "dora", "ed"):
        assert not any(re.search(rf"\b{customer}\b", str(v)) for row in rows for v in row)


def _strip_times(report: dict[str, Any]) -> dict[str, Any]:
    report = dict(json.loads(json.dumps(report)))
    report["run"].pop("started_at")
    report["run"].pop("finished_at")
    for account in report["accounts"]:
        for point in account.get("trend", ()):
            point.pop("started_at")  # the run's own start (a rerun replaces the run)
    return report


def test_replay_gives_the_same_report_twice(audit: Audit, tmp_path: Path) -> None:
    config = audit()
    run_cli(["run", str(config), "--output", str(tmp_path / "one")])
    run_cli(["run", str(config), "--output", str(tmp_path / "two")])
    one, two = read_reports(tmp_path / "one"), read_reports(tmp_path / "two")
    assert {k: _strip_times(v) for k, v in one.items()} == {
        k: _strip_times(v) for k, v in two.items()
    }


def _history(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    # last_observed_at is the wall clock's (when the run read each post, for retention only):
    # a rerun moves it on, and everything else must stay the same.
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(posts)")]
        kept = ", ".join(c for c in columns if c != "last_observed_at")
        return {
            "posts": sorted(db.execute(f"SELECT {kept} FROM posts")),
            "findings": sorted(db.execute("SELECT * FROM findings")),
            "runs": sorted(db.execute("SELECT run_key, config_hash FROM runs")),
        }


def test_history_is_idempotent_across_two_runs(audit: Audit, tmp_path: Path) -> None:
    config = audit()
    run_cli(["run", str(config)])
    first = _history(tmp_path / "out" / "history.sqlite")
    run_cli(["run", str(config)])
    assert _history(tmp_path / "out" / "history.sqlite") == first
    assert len(first["runs"]) == 1 and len(first["posts"]) == 4 and len(first["findings"]) >= 3


def test_crash_mid_run_leaves_history_intact_and_rerun_completes(
    audit: Audit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = audit()
    registry = load_registry()
    config = load_config(config_path, registry)
    clean_path = tmp_path / "clean.sqlite"
    with HistoryStore(clean_path) as store:
        Engine(config, registry, store=store).run(started_at=END)
    clean = _history(clean_path)

    real = engine_module.record

    def crashing(posts: Iterable[Post]) -> Iterator[Post]:
        items = list(posts)
        if items and items[0].author == "dora":
            yield items[0]
            raise KeyboardInterrupt("power cut")
        yield from items

    def crashing_record(
        store: HistoryStore, run_id: str, audited: Audited, read_at: datetime, *rest: Any
    ) -> None:
        audited.posts = crashing(audited.posts)
        real(store, run_id, audited, read_at, *rest)

    store_path = tmp_path / "out" / "history.sqlite"
    store_path.parent.mkdir()
    monkeypatch.setattr(engine_module, "record", crashing_record)
    with HistoryStore(store_path) as store, pytest.raises(KeyboardInterrupt):
        Engine(config, registry, store=store).run(started_at=END)
    partial = _history(store_path)
    assert not any(row for row in partial["posts"] if "GloboCare" in row)  # rolled back
    assert any(row for row in partial["posts"] if "AcmeHelp" in row)  # earlier account kept

    monkeypatch.setattr(engine_module, "record", real)
    with HistoryStore(store_path) as store:
        Engine(config, registry, store=store).run(started_at=END)
    assert _history(store_path) == clean


def test_an_export_dated_after_the_run_does_not_prune_the_run_that_audited_it(
    audit: Audit, tmp_path: Path
) -> None:
    # Posts are kept by the data's clock, runs by the wall clock: data newer than the run's
    # retention must not delete the run itself (a tiled benchmark export reaches 2052).
    config = load_config(audit(), load_registry())
    with HistoryStore(tmp_path / "h.sqlite") as store:
        result = Engine(config, load_registry(), store=store).run(
            started_at=END - timedelta(days=400)
        )
        assert [run.run_key for run in store.runs()] == [result.run_id]
    kept = _history(tmp_path / "h.sqlite")
    assert kept["findings"] and kept["posts"]


def test_client_names_never_escape_the_output_folder(audit: Audit, tmp_path: Path) -> None:
    config = audit(client_name="../../etc/passwd")
    run_cli(["run", str(config)])
    written = list(tmp_path.rglob("report.json"))
    assert written and all((tmp_path / "out") in p.parents for p in written)
    assert not (tmp_path.parent / "etc").exists()


def test_client_filter(audit: Audit, tmp_path: Path) -> None:
    config = audit()
    code, out, _ = run_cli(["run", str(config), "--client", "acme"])
    assert code == 0 and "GloboCare" not in out
    assert set(read_reports(tmp_path / "out")) == {"acme"}
    assert run_cli(["run", str(config), "--client", "nobody"])[0] == 2


def test_python_dash_m_and_version() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "auditor", "--version"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0 and completed.stdout.startswith("social-care-auditor ")


def test_unknown_check_show_exits_2() -> None:
    code, _, err = run_cli(["checks", "show", "NOPE001"])
    assert code == 2 and "unknown check id NOPE001" in err


def test_profile_kept_in_bundle_for_other_platform(
    write_bundle_file: WriteBundle, write_config: WriteConfig, tmp_path: Path
) -> None:
    records = [
        profile("acme", platform="mastodon", bio="Support 24/7"),
        window("acme", platform="mastodon"),
        post("1", "ann", 20, "@acme hi", account="acme", platform="mastodon"),
    ]
    path = write_bundle_file("m.jsonl", records)
    config = write_config(
        textwrap.dedent(f"""
        output: {{dir: out}}
        store: {{path: out/h.sqlite}}
        clients:
          - name: m
            accounts: [{{platform: mastodon, handle: acme, source: {path}}}]
    """)
    )
    code, out, _ = run_cli(["run", str(config)])
    assert code == 1 and "mastodon:acme" in out and "hours stated in the bio" in out


def test_parallel_audit_gives_the_sequential_result(
    tmp_path: Path, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.demo.generator import generate_records, plan_accounts
    from auditor.sources.bundle import write_bundle

    bundle = tmp_path / "demo.jsonl"
    write_bundle(bundle, generate_records(3000, 4, seed=3))
    accounts = "\n".join(
        f"      - {{platform: {p.platform}, handle: {json.dumps(p.handle)}, source: demo.jsonl}}"
        for p in plan_accounts(4, 3)
    )
    config_path = write_config(f"clients:\n  - name: c\n    accounts:\n{accounts}\n")
    registry = load_registry()
    config = load_config(config_path, registry)
    monkeypatch.setattr(BundleInput, "parallel_min_size", 0)
    pooled: list[int] = []

    def spy(
        function: Callable[[Any], Any], items: Sequence[Any], workers: int, **options: Any
    ) -> Iterator[Any]:
        pooled.append(len(items))
        yield from map_in_workers(function, items, workers, **options)

    monkeypatch.setattr(engine_module, "map_in_workers", spy)
    outputs = {}
    for workers in (1, 2):
        with HistoryStore(tmp_path / f"h{workers}.sqlite") as store:
            result = Engine(config, registry, store=store, workers=workers).run(started_at=END)
        result.finished_at = None
        outputs[workers] = (result, _history(tmp_path / f"h{workers}.sqlite"))
    assert pooled == [4]  # only the two-worker run used the pool
    sequential, parallel = outputs[1], outputs[2]
    # Findings came back from the workers as JSON, and read back the same.
    checks = [c for a in parallel[0].accounts() for c in a.checks if c.findings]
    assert checks and all(isinstance(c.findings, EncodedFindings) for c in checks)
    assert parallel[0].accounts() == sequential[0].accounts()
    assert parallel[1]["posts"] == sequential[1]["posts"]
    assert parallel[1]["findings"] == sequential[1]["findings"]
    # The JSON report embeds packed findings as they came: the same bytes.
    written = [
        json_report.write(outputs[w][0], tmp_path / f"report{w}")[0].read_bytes() for w in (1, 2)
    ]
    assert written[0] == written[1] and b'"evidence_id"' in written[0]
    assert sum(len(c.findings) for a in sequential[0].accounts() for c in a.checks) > 0


TWCS_DATA = Path(__file__).parent / "data" / "twcs"


def test_twcs_source_is_audited_and_unreadable_rows_make_it_incomplete(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    clean, messy = TWCS_DATA / "twcs_indexed.csv", TWCS_DATA / "twcs_bom_crlf.csv"
    config = write_config(f"""
        output: {{dir: out}}
        store: {{path: out/h.sqlite}}
        policy: {{select: [RSP001]}}
        clients:
          - name: real
            accounts:
              - {{platform: x, handle: acmehelp, source: {{type: twcs, path: {clean}}}}}
              - {{platform: x, handle: ShipFastCare, source: {{type: twcs, path: {messy}}}}}
    """)
    code, _, err = run_cli(["run", str(config)])
    assert code == 3, err  # a row of the messy file could not be read: never a pass
    report = read_reports(tmp_path / "out")["real"]
    clean_account, messy_account = report["accounts"]
    assert clean_account["account"] == "acmehelp" and clean_account["status"] == "pass"
    assert clean_account["coverage"]["complete"] is None  # a dataset says nothing of completeness
    assert messy_account["status"] == "incomplete"
    assert "1 row of" in messy_account["coverage"]["reason"]
    assert any("not a date" in e for e in messy_account["errors"])
    assert {i["path"] for i in report["inputs"]} == {str(clean), str(messy)}


def test_twcs_source_without_the_brand_is_bad_input(write_config: WriteConfig) -> None:
    config = write_config(f"""
        output: {{dir: out}}
        store: {{path: out/h.sqlite}}
        clients:
          - name: real
            accounts:
              - {{platform: x, handle: NoSuchBrand, source: {{type: twcs, path: {TWCS_DATA / "twcs_indexed.csv"}}}}}
    """)
    code, _, err = run_cli(["run", str(config)])
    assert code == 2 and "no tweets by brand NoSuchBrand" in err
