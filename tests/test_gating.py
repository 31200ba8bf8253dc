"""Gating through the real command line: --soft-fail, baselines, suppressions, --fail-on never.

Each test writes small bundles and a config, runs ``python -m auditor`` and reads what a
pipeline reads: the exit code, stderr, the closing line and report.json.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from auditor.check import Finding
from auditor.config import load_schema
from auditor.engine.parallel import PackedFindings, map_in_workers
from auditor.result import (
    CheckGate,
    CheckResult,
    finding_state,
    finding_suppression,
    mark_finding,
)
from auditor.sources.bundle import write_bundle

from conftest import (
    assert_one_line_exit_2,
    healthy_account,
    neglected_account,
    post,
    read_reports,
    run_auditor,
    window,
)

ACCOUNTS = """\
clients:
  - name: Acme
    accounts:
      - {platform: x, handle: AcmeHelp, source: acme.jsonl}
      - {platform: x, handle: GloboCare, source: globo.jsonl}
"""


def setup(folder: Path, extra: str = "", globo: list[dict[str, Any]] | None = None) -> Path:
    """AcmeHelp is healthy; GloboCare leaves two customers unanswered (RSP001, high)."""
    write_bundle(folder / "acme.jsonl", healthy_account("AcmeHelp"))
    write_bundle(folder / "globo.jsonl", globo or neglected_account("GloboCare"))
    config = folder / "audit.yaml"
    config.write_text(
        "output: {dir: out, formats: [json]}\nstore: {path: out/history.sqlite}\n"
        + ACCOUNTS
        + extra,
        encoding="utf-8",
    )
    return config


def auditor(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_auditor(*args, cwd=folder)


def report(folder: Path) -> dict[str, Any]:
    document = read_reports(folder / "out")["Acme"]
    Draft202012Validator(
        load_schema("report.schema.json"), format_checker=FormatChecker()
    ).validate(document)
    return document


def checks_of(document: dict[str, Any], account: str) -> dict[str, dict[str, Any]]:
    (found,) = [a for a in document["accounts"] if a["account"] == account]
    return {c["id"]: c for c in found["checks"]}


def closing_line(process: subprocess.CompletedProcess[str]) -> str:
    return process.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------------------------------------
# --soft-fail


def test_soft_fail_turns_a_failure_into_0_and_says_what_it_would_have_been(tmp_path: Path) -> None:
    config = setup(tmp_path)
    assert auditor(tmp_path, "run", str(config), "-q").returncode == 1
    soft = auditor(tmp_path, "run", str(config), "--soft-fail")
    assert soft.returncode == 0, soft.stderr
    assert "exit 0 (--soft-fail; would have been 1): 2 findings at or above high" in closing_line(
        soft
    )
    gating = report(tmp_path)
    assert gating["run"]["exit_code"] == 0
    assert gating["gating"]["soft_fail"] is True
    assert gating["gating"]["exit_code_before_soft_fail"] == 1
    # The findings are reported as usual: soft-fail changes the code, not the audit.
    assert checks_of(gating, "GloboCare")["RSP001"]["gated_status"] == "fail"


def test_soft_fail_turns_an_incomplete_audit_into_0(tmp_path: Path) -> None:
    cut_short = [
        *healthy_account("GloboCare")[:1],
        window("GloboCare", complete=False, reason="HTTP 500 on mentions"),
        *healthy_account("GloboCare")[2:],
    ]
    config = setup(tmp_path, globo=cut_short)
    assert auditor(tmp_path, "run", str(config), "-q").returncode == 3
    soft = auditor(tmp_path, "run", str(config), "--soft-fail")
    assert soft.returncode == 0, soft.stderr
    assert "(--soft-fail; would have been 3): incomplete: x:GloboCare" in closing_line(soft)
    assert report(tmp_path)["gating"]["exit_code_before_soft_fail"] == 3


def test_soft_fail_leaves_bad_input_at_2(tmp_path: Path) -> None:
    config = setup(tmp_path)
    (tmp_path / "globo.jsonl").unlink()
    process = auditor(tmp_path, "run", str(config), "--soft-fail")
    assert process.returncode == 2, process.stderr
    assert "exit 2: 1 input error" in closing_line(process)
    assert "would have been" not in closing_line(process)


@pytest.mark.parametrize("where", ["option", "config"])
def test_fail_on_never_fails_on_nothing(tmp_path: Path, where: str) -> None:
    config = setup(tmp_path, "policy: {fail_on: never}\n" if where == "config" else "")
    option = ["--fail-on", "never"] if where == "option" else []
    process = auditor(tmp_path, "run", str(config), *option)
    assert process.returncode == 0, process.stderr
    assert closing_line(process).endswith("exit 0: fail_on is never")
    document = report(tmp_path)
    assert document["run"]["fail_on_override"] == ("never" if where == "option" else None)
    assert checks_of(document, "GloboCare")["RSP001"]["gated_status"] == "fail"


# ---------------------------------------------------------------------------------------------
# Baselines


def test_a_run_with_a_baseline_fails_only_on_a_new_finding(tmp_path: Path) -> None:
    config = setup(tmp_path)
    created = auditor(tmp_path, "baseline", "create", str(config), "-o", "baseline.json")
    assert created.returncode == 0, created.stderr
    assert "wrote baseline.json: 6 findings in 2 accounts" in created.stdout
    assert not (tmp_path / "out" / "Acme").exists(), "baseline create wrote a report"
    baseline = json.loads((tmp_path / "baseline.json").read_text())
    assert baseline["format"] == "social-care-auditor-baseline" and baseline["version"] == 1
    assert baseline["tool_version"] and baseline["created_at"].endswith("+00:00")
    assert {"check": "RSP001", "account": "x:GloboCare"} in baseline["findings"].values()
    assert len(baseline["findings"]) == 6

    same = auditor(tmp_path, "run", str(config), "--baseline", "baseline.json")
    assert same.returncode == 0, same.stderr
    assert "(4 existing, 12 pass, 14 n/a); findings 6 existing" in closing_line(same)
    assert "no open finding at or above high" in closing_line(same)
    # The table shows the gated status, and what the gate took, on the check's row.
    acme, row = [line for line in same.stdout.splitlines() if line.startswith("RSP001")]
    assert " pass " in acme
    assert " existing " in row and "(findings: 2 existing)" in row and "FAIL" not in row
    rsp001 = checks_of(report(tmp_path), "GloboCare")["RSP001"]
    assert (rsp001["status"], rsp001["gated_status"]) == ("fail", "existing")
    assert [f["state"] for f in rsp001["findings"]] == ["existing", "existing"]

    # A third customer goes unanswered: one new finding, the only one the run fails on.
    write_bundle(
        tmp_path / "globo.jsonl",
        [*neglected_account("GloboCare"), post("12", "fay", 20, account="GloboCare")],
    )
    new = auditor(tmp_path, "run", str(config), "--baseline", "baseline.json")
    assert new.returncode == 1, new.stderr
    assert "exit 1: 1 finding at or above high in 1 account" in closing_line(new)
    document = report(tmp_path)
    rsp001 = checks_of(document, "GloboCare")["RSP001"]
    assert (rsp001["status"], rsp001["gated_status"]) == ("fail", "fail")
    states = {f["evidence_id"]: f.get("state", "open") for f in rsp001["findings"]}
    assert states == {"10": "existing", "11": "existing", "12": "open"}
    assert document["gating"]["baseline"] == {"path": "baseline.json", "findings": 6}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read it"),
        ("{not json", "not JSON"),
        ('{"format": "something-else"}', "not a baseline"),
        ('{"format": "social-care-auditor-baseline", "version": 9, "findings": {}}', "version 9"),
        (
            '{"format": "social-care-auditor-baseline", "version": 1, "findings": {"x": {}}}',
            "'x' in \"findings\" is not a finding uid",
        ),
    ],
)
def test_an_unusable_baseline_stops_the_run_with_one_line(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    config = setup(tmp_path)
    if content is not None:
        (tmp_path / "baseline.json").write_text(content, encoding="utf-8")
    process = auditor(tmp_path, "run", str(config), "--baseline", "baseline.json")
    assert_one_line_exit_2(process, "baseline baseline.json", needle)
    assert not list(tmp_path.rglob("report.json")), "a report was written"
    assert not list(tmp_path.rglob("*.sqlite")), "the run started"


def test_baseline_create_writes_nothing_when_an_input_is_bad(tmp_path: Path) -> None:
    config = setup(tmp_path)
    (tmp_path / "globo.jsonl").unlink()
    process = auditor(tmp_path, "baseline", "create", str(config), "-o", "baseline.json")
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert process.stderr.splitlines()[-1].startswith("error: baseline baseline.json not written")
    assert not (tmp_path / "baseline.json").exists()


# ---------------------------------------------------------------------------------------------
# Suppressions


def uids_of(folder: Path, config: Path, check: str) -> list[str]:
    auditor(folder, "run", str(config), "-q")
    findings = checks_of(report(folder), "GloboCare")[check]["findings"]
    return sorted(f["uid"] for f in findings)


@pytest.mark.parametrize(
    ("check", "account", "exit_code", "suppressed"),
    [
        ("RSP", "x:GloboCare", 0, 4),  # a prefix on one account (platform:handle)
        ("RSP001", "globocare", 0, 2),  # an id on a handle, any platform, any case
        ("RSP001", None, 0, 2),  # every account
        ("RSP002", None, 1, 2),  # another check: RSP001 still fails
        ("RSP001", "x:AcmeHelp", 1, 0),  # another account: matches nothing
    ],
)
def test_a_suppression_takes_a_check_or_prefix_on_an_account(
    tmp_path: Path, check: str, account: str | None, exit_code: int, suppressed: int
) -> None:
    account_line = f"    account: {account}\n" if account else ""
    config = setup(
        tmp_path,
        "suppressions:\n"
        f"  - check: {check}\n{account_line}"
        "    reason: migrating to a new help desk\n    owner: ops@acme.example\n"
        "    expires: 2999-12-31\n",
    )
    process = auditor(tmp_path, "run", str(config))
    assert process.returncode == exit_code, process.stderr
    document = report(tmp_path)
    assert document["gating"]["findings"]["suppressed"] == suppressed
    unmatched = document["gating"]["suppressions"]["unmatched"]
    assert bool(unmatched) == (suppressed == 0)
    if suppressed:
        taken = [
            f
            for c in checks_of(document, "GloboCare").values()
            for f in c["findings"]
            if f.get("state") == "suppressed"
        ]
        assert len(taken) == suppressed
        assert taken[0]["suppression"] == {
            "index": 0,
            "line": 9,
            "reason": "migrating to a new help desk",
            "owner": "ops@acme.example",
            "expires": "2999-12-31",
        }
        assert f"{suppressed} suppressed" in closing_line(process)
    else:
        assert "audit.yaml:9: suppressions[0] matched no finding" in process.stderr
        assert "1 suppression matched nothing" in closing_line(process)


def test_a_suppression_of_one_finding_leaves_the_others_failing(tmp_path: Path) -> None:
    config = setup(tmp_path)
    first, second = uids_of(tmp_path, config, "RSP001")
    setup(
        tmp_path,
        f"suppressions:\n  - {{check: RSP001, finding: '{first}', reason: customer withdrew}}\n",
    )
    process = auditor(tmp_path, "run", str(config))
    assert process.returncode == 1, process.stderr
    assert "exit 1: 1 finding at or above high" in closing_line(process)
    rsp001 = checks_of(report(tmp_path), "GloboCare")["RSP001"]
    assert rsp001["gated_status"] == "fail"
    states = {f["uid"]: f.get("state", "open") for f in rsp001["findings"]}
    assert states == {first: "suppressed", second: "open"}

    both = (
        "suppressions:\n"
        f"  - {{check: RSP001, finding: '{first}', reason: customer withdrew}}\n"
        f"  - {{check: RSP001, finding: '{second}', reason: duplicate}}\n"
    )
    setup(tmp_path, both)
    process = auditor(tmp_path, "run", str(config))
    assert process.returncode == 0, process.stderr
    rsp001 = checks_of(report(tmp_path), "GloboCare")["RSP001"]
    assert (rsp001["status"], rsp001["gated_status"]) == ("fail", "suppressed")
    assert [f["suppression"]["reason"] for f in rsp001["findings"]] == [
        "customer withdrew" if f["uid"] == first else "duplicate" for f in rsp001["findings"]
    ]


def test_expired_and_malformed_suppressions_are_warned_about_and_not_applied(
    tmp_path: Path,
) -> None:
    config = setup(
        tmp_path,
        "suppressions:\n"
        "  - {check: RSP001, reason: until the new hire, expires: 2001-02-03}\n"
        "  - {check: RSP-1, reason: typo in the id}\n"
        "  - {check: RSP001, reason: not a date, expires: next week}\n"
        "  - {check: RSP001, finding: abc, reason: not a uid}\n",
    )
    process = auditor(tmp_path, "run", str(config))
    assert process.returncode == 1, process.stderr
    warnings = [
        line.replace(f"{tmp_path}/", "")
        for line in process.stderr.splitlines()
        if line.startswith("warning: ")
    ]
    assert warnings[:4] == [
        "warning: audit.yaml:9: suppressions[0]: expired on 2001-02-03; not applied",
        "warning: audit.yaml:10: suppressions[1]: check 'RSP-1' is neither a check id (ABC001) "
        "nor the start of one (ABC); not applied",
        "warning: audit.yaml:11: suppressions[2]: expires 'next week' is not a date "
        "(YYYY-MM-DD); not applied",
        "warning: audit.yaml:12: suppressions[3]: finding 'abc' is not a finding uid (20 hex "
        "digits, as reports show it); not applied",
    ]
    gating = report(tmp_path)["gating"]
    assert [s["index"] for s in gating["suppressions"]["expired"]] == [0]
    assert gating["suppressions"]["expired"][0]["problem"] == "expired on 2001-02-03"
    assert [s["index"] for s in gating["suppressions"]["malformed"]] == [1, 2, 3]
    assert gating["suppressions"]["applied"] == [] and gating["findings"]["suppressed"] == 0


@pytest.mark.parametrize(
    ("entry", "needles"),
    [
        (
            "{check: RSP001, reson: typo}",
            ["audit.yaml:9", "suppressions[0].reson", "unknown key 'reson'", "'reason'"],
        ),
        ("{check: RSP001}", ["audit.yaml:9", "suppressions[0]", "'reason' is missing"]),
        ("{check: RSP001, reason: ''}", ["suppressions[0].reason"]),
    ],
)
def test_a_misspelled_or_missing_key_is_a_config_error(
    tmp_path: Path, entry: str, needles: list[str]
) -> None:
    config = setup(tmp_path, f"suppressions:\n  - {entry}\n")
    assert_one_line_exit_2(auditor(tmp_path, "run", str(config)), *needles)
    assert_one_line_exit_2(auditor(tmp_path, "config", "validate", str(config)), *needles)


# ---------------------------------------------------------------------------------------------
# The state travels with packed findings, across worker processes


def _gated_check(number: int) -> CheckResult:
    findings = [Finding("RSP001", "x", "GloboCare", str(n), "unanswered", "high") for n in range(3)]
    mark_finding(findings[0], "existing")
    mark_finding(findings[1], "suppressed", {"index": 0, "line": 9, "reason": "r"})
    gate = CheckGate("fail", {"high": 1}, existing=1, suppressed=1, suppressions=(0,))
    return CheckResult("RSP001", "t", "1", "high", "fail", f"s{number}", findings, gate=gate)


def test_a_worker_sends_the_gate_state_inside_its_packed_findings() -> None:
    (back, _) = list(map_in_workers(_gated_check, [1, 2], workers=2))
    assert isinstance(back.findings, PackedFindings)
    assert back.gate == CheckGate("fail", {"high": 1}, 1, 1, (0,))
    assert b'"state":"existing"' in back.findings.json
    assert [finding_state(f) for f in back.findings] == ["existing", "suppressed", "open"]
    assert (finding_suppression(back.findings[1]) or {})["reason"] == "r"
    assert finding_suppression(back.findings[2]) is None


def test_a_gated_parallel_audit_gives_the_sequential_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from auditor.config import load_config
    from auditor.demo.generator import generate_records, plan_accounts
    from auditor.engine.audit import Engine
    from auditor.engine.gating import build_gate, write_baseline
    from auditor.registry import load_registry
    from auditor.reports import json_report
    from auditor.sources.inputs import BundleInput
    from auditor.store.history import HistoryStore

    from conftest import END

    write_bundle(tmp_path / "demo.jsonl", generate_records(3000, 4, seed=3))
    accounts = "\n".join(
        f"      - {{platform: {p.platform}, handle: {json.dumps(p.handle)}, source: demo.jsonl}}"
        for p in plan_accounts(4, 3)
    )
    first = plan_accounts(4, 3)[0]
    config_path = tmp_path / "audit.yaml"
    config_path.write_text(
        f"clients:\n  - name: c\n    accounts:\n{accounts}\n"
        "suppressions:\n"
        f"  - {{check: RSP, account: '{first.platform}:{first.handle}', reason: r}}\n",
        encoding="utf-8",
    )
    registry = load_registry()
    config = load_config(config_path, registry)
    # A baseline of every other finding of an ungated run.
    with HistoryStore(tmp_path / "h0.sqlite") as store:
        ungated = Engine(config, registry, store=store, workers=1).run(started_at=END)
    every = sorted(
        (f.uid, (c.id, a.key)) for a in ungated.accounts() for c in a.checks for f in c.findings
    )
    assert len(every) > 10
    write_baseline(tmp_path / "b.json", dict(every[::2]), END, config_path)
    monkeypatch.setattr(BundleInput, "parallel_min_size", 0)
    written = {}
    tallies = {}
    for workers in (1, 2):
        gate = build_gate(config, tmp_path / "b.json", date(2026, 11, 16))
        with HistoryStore(tmp_path / f"h{workers}.sqlite") as store:
            engine = Engine(config, registry, store=store, workers=workers, gate=gate)
            result = engine.run(started_at=END)
        result.finished_at = None
        totals = result.totals()
        tallies[workers] = (totals.code, totals.existing, totals.suppressed, totals.checks)
        path = json_report.write(result, tmp_path / f"report{workers}")[0]
        written[workers] = path.read_bytes()
    assert written[1] == written[2]
    assert tallies[1] == tallies[2]
    _, existing, suppressed, _ = tallies[2]
    baseline = {uid for uid, _ in every[::2]}
    document = json.loads(written[2])
    states: dict[str, list[str]] = {"open": [], "existing": [], "suppressed": []}
    for account in document["accounts"]:
        for check in account["checks"]:
            for finding in check["findings"]:
                states[finding.get("state", "open")].append(finding["uid"])
                if finding.get("state") == "suppressed":
                    assert check["id"].startswith("RSP") and account["account"] == first.handle
    assert (len(states["existing"]), len(states["suppressed"])) == (existing, suppressed)
    assert existing and suppressed and states["open"]
    assert set(states["existing"]) <= baseline and not set(states["open"]) & baseline
    assert sum(map(len, states.values())) == len(every)


# ---------------------------------------------------------------------------------------------
# The gate's marks in every file format


def test_suppressed_and_existing_findings_are_marked_in_csv_junit_and_sarif(
    tmp_path: Path,
) -> None:
    """A real run with a baseline and a suppression: the marks travel from the worker, packed,
    to every file writer; JUnit skips the suppressed check, SARIF carries ``suppressions`` and
    ``baselineState``, CSV a state column."""
    import csv
    import xml.etree.ElementTree as ET

    config = setup(tmp_path)
    assert auditor(tmp_path, "baseline", "create", str(config), "-o", "b.json").returncode == 0
    suppression = (
        "suppressions:\n  - {check: RSP, account: GloboCare, reason: migration, owner: ops}\n"
    )
    setup(
        tmp_path,
        suppression,
        [*neglected_account("GloboCare"), post("12", "fay", 20, account="GloboCare")],
    )
    process = auditor(
        tmp_path, "run", str(config), "--baseline", "b.json", "--format", "csv,junit,sarif"
    )
    assert process.returncode == 0, process.stderr
    (folder,) = [p.parent for p in (tmp_path / "out" / "Acme").rglob("report.json")]

    with (folder / "findings.csv").open(newline="", encoding="utf-8") as stream:
        rows = [r for r in csv.DictReader(stream) if r["account"] == "GloboCare"]
    states = {(r["check_id"], r["evidence_id"]): (r["state"], r["state_reason"]) for r in rows}
    # The suppression wins over the baseline, and names its reason and owner.
    assert states[("RSP001", "12")] == ("suppressed", "migration (owner ops)")
    assert states[("RSP001", "10")][0] == "suppressed"
    assert {state for (check, _), (state, _) in states.items() if not check.startswith("RSP")} <= {
        "existing"
    }

    suites = {s.get("name"): s for s in ET.parse(folder / "junit.xml").getroot().iter("testsuite")}
    (globo,) = [s for name, s in suites.items() if "GloboCare" in str(name)]
    rsp001 = next(c for c in globo.iter("testcase") if "RSP001" in str(c.get("name")))
    assert [child.tag for child in rsp001] == ["skipped"]
    assert "migration" in str(rsp001[0].get("message"))
    assert globo.get("failures") == "0"

    sarif = json.loads((folder / "report.sarif").read_text(encoding="utf-8"))
    results = sarif["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert suppressed and all(
        r["suppressions"][0]["justification"].startswith("migration") for r in suppressed
    )
    existing = [r for r in results if r.get("baselineState") == "unchanged"]
    assert {r["ruleId"] for r in existing} == {"PRF001", "PRF002"}
