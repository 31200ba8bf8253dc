"""``auditor lint``: texts the tests write must be flagged, or must not, with the file and line;
bad input is one line and exit 2; the pre-commit hook fails a bad template and passes a good one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

from auditor.lint import LintInputError, lint, read_files
from auditor.registry import load_registry

from tests_support import run_cli, unavailable

REPO = Path(__file__).resolve().parents[1]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _findings(path: Path, *args: str) -> tuple[int, list[str]]:
    """The exit code and the file:line lines the command prints, one per finding."""
    code, out, _ = run_cli(["lint", str(path), "--quiet", *args])
    return code, [line for line in out.splitlines() if line.startswith(str(path))]


MUST_FLAG = [
    pytest.param(
        "asks.txt",
        "Please reply with your full account number.\n",
        "asks.txt:1:",
        "PRV001 high",
        id="public-ask",
    ),
    pytest.param(
        "ask.md",
        "# Order status\n\nHi there!\n\nCan you post your tracking number here?\n",
        "ask.md:5:",
        "PRV001 high",
        id="ask-on-its-markdown-line",
    ),
    pytest.param(
        "rude.yaml",
        "templates:\n  ok: So sorry, DM us!\n  rude: |\n    Hello.\n    As we already said, it ships Monday.\n",
        "rude.yaml:5:",
        "TON001 medium",
        id="defensive-in-block-scalar",
    ),
    pytest.param(
        "bio.md",
        "---\nkind: profile\n---\nOfficial Acme account. News and launches.\n",
        "bio.md:4:",
        "PRF001 medium",
        id="profile-without-hours",
    ),
    pytest.param(
        "bio.yaml",
        "profile: We reply Mon-Fri 9am-5pm GMT. News and launches.\n",
        "bio.yaml:1:",
        "PRF002 low",
        id="profile-without-channel",
    ),
    pytest.param(
        "hours.yaml",
        "profile:\n  bio: Here 9-5. DM us anytime.\n",
        "hours.yaml:2:",
        "PRF001 medium",
        id="hours-stated-but-unreadable",
    ),
]


@pytest.mark.parametrize(("name", "text", "where", "rule"), MUST_FLAG)
def test_must_flag(tmp_path: Path, name: str, text: str, where: str, rule: str) -> None:
    path = _write(tmp_path, name, text)
    _, lines = _findings(path)
    assert any(line.startswith(str(tmp_path / where)) and rule in line for line in lines), lines


MUST_NOT_FLAG = [
    pytest.param("dm.txt", "So sorry! DM us your order number and we'll sort it.\n", id="dm-ask"),
    pytest.param(
        "negated.md", "Please don't share your card number here, send us a DM.\n", id="negated"
    ),
    pytest.param(
        "sympathy.txt", "You should have received a refund email by now, sorry!\n", id="sympathy"
    ),
    pytest.param(
        "profile.yaml",
        "profile:\n  bio: Official Acme support. We reply Mon-Fri 9am-5pm GMT.\n"
        "  website: https://help.acme.example\n",
        id="good-profile",
    ),
]


@pytest.mark.parametrize(("name", "text"), MUST_NOT_FLAG)
def test_must_not_flag(tmp_path: Path, name: str, text: str) -> None:
    code, lines = _findings(_write(tmp_path, name, text), "--fail-on", "info")
    assert (code, lines) == (0, [])


def test_signature_follows_the_policy(tmp_path: Path) -> None:
    """TON002 is off under the default policy; a config's min_signed_share turns it on, and a
    mark written with a placeholder counts as a signature."""
    templates = _write(
        tmp_path,
        "t/replies.yaml",
        "templates:\n  signed: |\n    So sorry! DM us.\n    ^{{initials}}\n"
        "  unsigned: |\n    So sorry! DM us.\n    We'll fix it.\n",
    )
    code, lines = _findings(templates, "--fail-on", "low")
    assert code == 0 and lines == []
    config = _write(
        tmp_path,
        "audit.yaml",
        "policy:\n  checks: {TON002: {min_signed_share: 1}}\n"
        "clients: [{name: Acme, accounts: [{platform: x, handle: AcmeHelp, source: b.jsonl}]}]\n",
    )
    code, lines = _findings(templates, "--config", str(config), "--fail-on", "low")
    assert code == 1
    assert lines == [
        f"{templates}:7: template 'unsigned' is not signed: end it with the agent's "
        "mark (^{{initials}}, -Name, Thanks, Name) [TON002 low]"
    ]


def test_policy_from_config_selects_and_grades(tmp_path: Path) -> None:
    bad = _write(tmp_path, "t/bad.txt", "Please reply with your account number.\n")
    config = _write(
        tmp_path,
        "audit.yaml",
        "policy: {ignore: [PRV001], severity: {TON001: critical}}\n"
        "clients: [{name: Acme, accounts: [{platform: x, handle: AcmeHelp, source: b.jsonl}]}]\n",
    )
    code, lines = _findings(bad, "--config", str(config))
    assert (code, lines) == (0, [])
    code, lines = _findings(bad)
    assert code == 1 and len(lines) == 1


def test_exit_codes_follow_fail_on(tmp_path: Path) -> None:
    rude = _write(tmp_path, "rude.txt", "As we already said, it ships Monday.\n")
    assert _findings(rude)[0] == 0  # medium, under the default fail_on high
    assert _findings(rude, "--fail-on", "medium")[0] == 1
    code, _, err = run_cli(["lint", str(rude), "--fail-on", "loud"])
    assert code == 2 and "--fail-on" in err


def test_a_folder_is_its_files_and_the_result_is_a_run_result(tmp_path: Path) -> None:
    folder = tmp_path / "support"
    _write(folder, "a.txt", "Please reply with your account number.\n")
    _write(folder, "deep/b.md", "So sorry, DM us!\n")
    _write(folder, ".hidden/c.txt", "Please reply with your account number.\n")
    _write(folder, "notes.json", "{}")
    files = read_files([folder])
    assert [Path(f.path).relative_to(folder).as_posix() for f in files] == ["a.txt", "deep/b.md"]
    result = lint(files, load_registry([]))
    assert [a.key for a in result.accounts()] == [f"file:{f.path}" for f in files]
    assert result.exit_code() == 1
    finding = result.accounts()[0].checks[0].findings[0]
    assert finding.evidence.data["location"] == {"path": files[0].path, "line": 1}
    # The uid names the template, not the line: moving the text keeps it.
    _write(folder, "a.txt", "\n\nPlease reply with your account number.\n")
    moved = lint(read_files([folder / "a.txt"]), load_registry([])).accounts()[0]
    assert moved.checks[0].findings[0].uid == finding.uid
    assert moved.checks[0].findings[0].message.startswith(f"{folder / 'a.txt'}:3:")


def test_json_report_is_written_and_valid(tmp_path: Path) -> None:
    import jsonschema

    bad = _write(tmp_path, "t/bad.txt", "Please reply with your account number.\n")
    code, out, _ = run_cli(["lint", str(bad), "--output", str(tmp_path / "out")])
    assert code == 1
    (report_path,) = (tmp_path / "out" / "lint").glob("*/report.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    schema = json.loads((REPO / "config/schema/report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(report)
    assert report["run"]["exit_code"] == 1
    assert report["inputs"][0]["path"] == str(bad)
    assert f"wrote {report_path}" in out


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("bad.yaml", "templates:\n\ta: hi\n", "bad.yaml:2: invalid YAML"),
        ("twice.yaml", "templates:\n  a: hi\n  a: again\n", "twice.yaml:3: key 'a' written twice"),
        ("typo.yaml", "template:\n  a: hi\n", "typo.yaml:1: unknown key 'template'"),
        ("num.yaml", "templates:\n  a: 12\n", "num.yaml:2: template 'a' must be text"),
        ("empty.md", "---\nkind: template\n---\n\n", "empty.md:5: no template text"),
        ("kind.md", "---\nkind: bio\n---\nhi\n", "kind.md:1: front matter kind 'bio'"),
        ("latin1.txt", None, "latin1.txt: not UTF-8 text"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, name: str, text: str | None, says: str
) -> None:
    good = _write(tmp_path, "good.txt", "So sorry, DM us!\n")
    path = tmp_path / name
    if text is None:
        path.write_bytes("Caf\xe9".encode("latin-1"))
    else:
        path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(["lint", str(good), str(path), "--output", str(tmp_path / "out")])
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {tmp_path}/{says}"), err
    assert out == "" and not (tmp_path / "out").exists()  # nothing judged, nothing written


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(LintInputError, match="no such file"):
        read_files([tmp_path / "nope.md"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(LintInputError, match="holds no"):
        read_files([tmp_path / "empty"])


def test_pre_commit_hooks_file_names_the_command() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "social-care-lint"
    assert hook["entry"] == "auditor lint"
    assert hook["language"] == "python"
    import re

    files = re.compile(hook["files"])
    assert files.search("support/templates/refund.md")
    assert files.search("profiles/x.yaml") and files.search("macros/a.txt")
    assert not files.search("README.md")


def _unavailable(reason: str) -> NoReturn:
    unavailable("pre-commit try-repo", reason)


def test_pre_commit_try_repo_fails_the_bad_template_and_passes_the_good(tmp_path: Path) -> None:
    """The hook as a pre-commit user gets it: ``try-repo`` installs it from this repository
    (pip, from the local source: it needs the package index for the dependencies) into a
    scratch repository holding one good and one bad template."""
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    git = shutil.which("git")
    if not Path(pre_commit).exists() or git is None:
        _unavailable("pre-commit or git is not installed")
    if not (REPO / ".git").exists():
        _unavailable("no git checkout of the source to install the hook from")
    scratch = tmp_path / "brand"
    _write(scratch, "templates/good.txt", "So sorry! DM us your order number and we'll sort it.\n")
    _write(scratch, "templates/bad.txt", "Please reply with your full account number here.\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t"}
    subprocess.run([git, "init", "-q"], cwd=scratch, check=True)
    subprocess.run([git, "add", "."], cwd=scratch, check=True)
    run = subprocess.run(
        [pre_commit, "try-repo", str(REPO), "social-care-lint", "--all-files"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    if "- hook id: social-care-lint" not in output and "Passed" not in output:
        _unavailable(f"the hook's environment was not installed: {output.strip()[-300:]}")
    assert run.returncode == 1, output
    assert "templates/bad.txt:1: template 'bad' asks in public for account [PRV001 high]" in output
    assert "lint / file:templates/good.txt: pass" in output
    assert "templates/good.txt:" not in output.replace("file:templates/good.txt", "")
