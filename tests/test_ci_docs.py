"""The CI integrations, checked as far as they can be offline: ``action.yml`` (a composite
GitHub Action) and ``docs/ci.md`` (the GitHub workflow, the GitLab job, the Jenkins stage).

Every YAML block parses; every ``auditor`` command line they hold parses with the real command's
options; the paths and links they name exist; the report patterns the GitLab job and the Jenkins
stage hand their CI match the files a real run writes; and the action's bash steps, run as GitHub
runs them (``bash --noprofile --norc -eo pipefail``) with its inputs' defaults substituted, audit
a small config, leave the reports where the upload steps look, and exit with the audit's code.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from auditor.cli import app
from auditor.config import load_config
from auditor.registry import load_registry
from auditor.reports import parse_formats
from auditor.sources.bundle import write_bundle

from conftest import healthy_account, neglected_account
from tests_support import run_cli

REPO = Path(__file__).resolve().parents[1]
ACTION = REPO / "action.yml"
CI_DOC = REPO / "docs" / "ci.md"
# How GitHub runs a step with `shell: bash` (the workflow syntax's "shell" table).
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# An `auditor` command line inside a code block: the word auditor (or a path ending in it)
# after the start of a line, a space or a quote, up to the end of the line or a closing quote.
AUDITOR_LINE = re.compile(r"(?:^|(?<=[\s'\"]))(?:[\w./-]*/)?auditor\s+([^'\"\n]+)", re.M)


# ---------------------------------------------------------------- what the files say


def _action() -> dict[str, Any]:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return action


def _doc() -> str:
    return CI_DOC.read_text(encoding="utf-8")


def _blocks(*languages: str) -> list[str]:
    return [body for lang, body in FENCE.findall(_doc()) if lang in languages]


def _yaml_blocks() -> list[Any]:
    return [yaml.safe_load(body) for body in _blocks("yaml", "yml")]


def _workflow() -> dict[Any, Any]:
    (workflow,) = [block for block in _yaml_blocks() if isinstance(block, dict) and "jobs" in block]
    assert isinstance(workflow, dict)
    return workflow


def _gitlab_job() -> dict[str, Any]:
    (job,) = [
        value
        for block in _yaml_blocks()
        if isinstance(block, dict) and "jobs" not in block
        for value in block.values()
        if isinstance(value, dict) and "script" in value
    ]
    assert isinstance(job, dict)
    return job


def _groovy() -> str:
    (stage,) = _blocks("groovy")
    return stage


def _doc_commands() -> list[list[str]]:
    """Every ``auditor`` command line in docs/ci.md's code blocks, as words after ``auditor``."""
    text = "\n".join(_blocks("sh", "yaml", "yml", "groovy"))
    return [shlex.split(args) for args in AUDITOR_LINE.findall(text)]


def _run_script(action: Mapping[str, Any]) -> str:
    (audit,) = [step for step in action["runs"]["steps"] if step.get("id") == "audit"]
    script: str = audit["run"]
    return script


# ---------------------------------------------------------------- the real command line


def _command(words: list[str]) -> tuple[Any, list[str]]:
    """The click command ``auditor WORDS...`` names (sub-commands followed), and its
    arguments. (Typer vendors its own click: the commands are told apart by what they have.)"""
    command: Any = typer.main.get_command(app)
    while words and words[0] in getattr(command, "commands", {}):
        command, words = command.commands[words[0]], words[1:]
    assert not hasattr(command, "commands"), f"auditor {' '.join(words)}: no such command"
    return command, words


def _options(command: Any) -> set[str]:
    return {name for param in command.params for name in param.opts + param.secondary_opts}


def _all_options() -> set[str]:
    """Every option of every ``auditor`` command."""
    found: set[str] = set()
    pending: list[Any] = [typer.main.get_command(app)]
    while pending:
        command = pending.pop()
        found |= _options(command)
        pending += list(getattr(command, "commands", {}).values())
    return found


def _parses(words: list[str]) -> None:
    """Fails unless ``auditor WORDS`` parses with the real command (options, their values,
    arguments); the report formats are also checked as ``--format`` checks them."""
    command, args = _command(list(words))
    try:
        context = command.make_context(f"auditor {words[0]}", list(args))
    except Exception as error:  # click's UsageError: the message names the option
        if not hasattr(error, "format_message"):
            raise
        pytest.fail(f"auditor {shlex.join(words)}: {error.format_message()}")
    formats = context.params.get("formats")
    if formats:
        parse_formats(formats)


# ---------------------------------------------------------------- a small audit to run


def _workspace(folder: Path) -> Path:
    """A repository as CI checks it out: audit.yaml with two clients (Acme answers its
    customers, Globo does not: exit 1 at fail_on high), their bundles, the history store in
    out/ as docs/ci.md caches it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_bundle(folder / "acme.jsonl", healthy_account("AcmeHelp"))
    write_bundle(folder / "globo.jsonl", neglected_account("GloboCare"))
    (folder / "audit.yaml").write_text(
        "output: {dir: out/reports}\n"
        "store: {path: out/history.sqlite}\n"
        "clients:\n"
        "  - name: Acme\n"
        "    accounts: [{platform: x, handle: AcmeHelp, source: acme.jsonl}]\n"
        "  - name: Globo\n"
        "    accounts: [{platform: x, handle: GloboCare, source: globo.jsonl}]\n",
        encoding="utf-8",
    )
    return folder


def _in(folder: Path, words: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Runs ``auditor WORDS`` in ``folder`` (a CI job's working folder)."""
    monkeypatch.chdir(folder)
    code, _, err = run_cli([*words, "-q"] if words[0] in ("run", "baseline") else words)
    assert "Traceback" not in err
    return code


def _matches(folder: Path, pattern: str) -> list[Path]:
    """The files a CI's ``**`` pattern (GitLab's artifacts, Jenkins' Ant patterns) matches."""
    return sorted(folder / name for name in glob.glob(pattern, root_dir=folder, recursive=True))


# ---------------------------------------------------------------- action.yml, statically


def test_the_action_is_a_composite_action_with_described_inputs_and_outputs() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert action["name"] and action["description"]
    for name, spec in action["inputs"].items():
        assert spec.get("description"), name
        assert spec.get("required") or "default" in spec, f"input {name}: no default"
    assert set(action["outputs"]) == {"exit-code", "reports-dir"}
    steps = action["runs"]["steps"]
    after_audit = steps[[step.get("id") for step in steps].index("audit") + 1 :]
    for step in after_audit:  # the reports are kept, and the code given, whatever failed
        assert "always()" in step.get("if", ""), step["name"]
    for step in action["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", f"{step['name']}: a composite step needs a shell"
        else:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), step["uses"]


def test_every_input_is_used_and_every_expression_names_something_declared() -> None:
    action = _action()
    runs = yaml.safe_dump(action["runs"])
    used = set(re.findall(r"\binputs\.([\w-]+)", runs))
    assert used == set(action["inputs"]), "inputs declared but not used, or used undeclared"
    (audit,) = [step for step in action["runs"]["steps"] if step.get("id") == "audit"]
    written = set(re.findall(r'echo "([\w-]+)(?:=|<<)', audit["run"]))
    read = set(re.findall(r"\bsteps\.audit\.outputs\.([\w-]+)", yaml.safe_dump(action)))
    assert read <= written, f"read but never written: {sorted(read - written)}"
    assert {"exit-code", "reports-dir", "run-folders", "sarif-dir"} <= written


def test_every_option_the_action_passes_exists_on_auditor_run() -> None:
    script = _run_script(_action())
    passed = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", script))
    run, _ = _command(["run"])
    assert passed, "the audit step passes no option"
    assert passed <= _options(run), f"not options of auditor run: {sorted(passed - _options(run))}"
    for value_input, option in [("formats", "--format"), ("fail-on", "--fail-on")]:
        assert option in passed, value_input
    _parses(["run", "audit.yaml", "--format", _action()["inputs"]["formats"]["default"]])


def test_the_action_installs_this_repository_by_default() -> None:
    (install,) = [s for s in _action()["runs"]["steps"] if "pip install" in s.get("run", "")]
    assert install["env"]["AUDITOR_ACTION_PATH"] == "${{ github.action_path }}"
    assert "${AUDITOR_INSTALL:-$AUDITOR_ACTION_PATH}" in install["run"]
    # The action's own folder is the repository root: what pip installs there is the auditor.
    project = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^name = "social-care-auditor"$', project, re.M)
    assert re.search(r'^auditor = "auditor\.cli:main"$', project, re.M)


# ---------------------------------------------------------------- action.yml, run


@dataclass
class ActionRun:
    """What running the action's steps left: the audit step's code and outputs, each GitHub-only
    step that would run with its ``with:`` values resolved, and the code the job ends with."""

    audit_code: int
    outputs: dict[str, str]
    steps_used: dict[str, dict[str, str]] = field(default_factory=dict)
    job_code: int = 0
    stdout: str = ""
    stderr: str = ""


def _read_outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` as GitHub reads it: ``name=value`` lines and ``name<<DELIMITER``
    blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for item in lines:
                if item == delimiter:
                    break
                block.append(item)
            else:
                pytest.fail(f"$GITHUB_OUTPUT: {name}'s block has no closing {delimiter}")
            outputs[name] = "\n".join(block)
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def _resolver(
    inputs: Mapping[str, str], outputs: Mapping[str, str], temp: Path
) -> Callable[[str], str]:
    """The value of each expression the action uses; any other expression fails the test."""

    def value(expression: str) -> str:
        if match := re.fullmatch(r"inputs\.([\w-]+)", expression):
            return inputs[match[1]]
        if match := re.fullmatch(r"steps\.audit\.outputs\.([\w-]+)", expression):
            return outputs.get(match[1], "")
        known = {"github.action_path": str(REPO), "runner.temp": str(temp)}
        assert expression in known, f"an expression the test cannot evaluate: {expression}"
        return known[expression]

    return value


def _substitute(text: str, value: Callable[[str], str]) -> str:
    return EXPRESSION.sub(lambda match: value(match[1]), text)


def _condition(text: str | None, value: Callable[[str], str]) -> bool:
    """An ``if:`` of the forms the action uses: ``always()`` and ``X == 'v'`` / ``X != 'v'``
    joined by ``&&``."""
    if text is None:
        return True
    result = True
    for term in (part.strip() for part in text.split("&&")):
        if term == "always()":
            continue
        match = re.fullmatch(r"([\w.-]+) (==|!=) '([^']*)'", term)
        assert match, f"a condition the test cannot evaluate: {term}"
        equal = value(match[1]) == match[3]
        result = result and (equal if match[2] == "==" else not equal)
    return result


def _run_action(workspace: Path, given: Mapping[str, str]) -> ActionRun:
    """The action's steps in order, as GitHub would run them: its bash steps run (the install
    step excepted: the auditor is installed here already), the others (setup-python, the
    uploads) are recorded with their inputs."""
    action = _action()
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert set(given) <= set(inputs), f"no such inputs: {sorted(set(given) - set(inputs))}"
    inputs.update(given)
    temp = workspace.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    output_file = temp / "github-output"
    output_file.unlink(missing_ok=True)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    run: ActionRun | None = None
    outputs: dict[str, str] = {}
    uses: dict[str, dict[str, str]] = {}
    for step in action["runs"]["steps"]:
        value = _resolver(inputs, outputs, temp)
        if not _condition(step.get("if"), value):
            continue
        if "uses" in step:
            with_values = {k: _substitute(str(v), value) for k, v in step.get("with", {}).items()}
            uses[step["uses"].split("@")[0]] = with_values
            continue
        if "pip install" in step["run"]:
            continue
        env = {k: _substitute(str(v), value) for k, v in step.get("env", {}).items()}
        done = subprocess.run(
            [*GITHUB_BASH, "-c", step["run"]],
            cwd=workspace,
            env={**os.environ, "PATH": path, "GITHUB_OUTPUT": str(output_file), **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if step.get("id") == "audit":
            outputs = _read_outputs(output_file)
            run = ActionRun(done.returncode, outputs, stdout=done.stdout, stderr=done.stderr)
            if done.returncode != 0:
                run.job_code = done.returncode
                break
        else:
            assert run is not None
            run.job_code = done.returncode
    assert run is not None, "the audit step did not run"
    run.steps_used = uses
    return run


def _sarif_categories(folder: Path) -> list[str]:
    """Code scanning's category of each run in each SARIF file: its automationDetails.id up
    to the last slash."""
    categories = []
    for path in sorted(folder.glob("*.sarif")):
        for sarif_run in json.loads(path.read_text(encoding="utf-8"))["runs"]:
            categories.append(sarif_run["automationDetails"]["id"].rpartition("/")[0])
    return categories


SARIF_UPLOAD = "github/codeql-action/upload-sarif"
ARTIFACT_UPLOAD = "actions/upload-artifact"


def test_the_action_with_its_defaults_audits_uploads_and_exits_with_the_audit_code(
    tmp_path: Path,
) -> None:
    workspace = _workspace(tmp_path / "workspace")
    run = _run_action(workspace, {"config": "audit.yaml"})
    assert (run.audit_code, run.job_code) == (0, 1), run.stderr
    assert run.outputs["exit-code"] == "1"
    assert run.outputs["reports-dir"] == "audit-reports"
    folders = [workspace / line for line in run.outputs["run-folders"].splitlines()]
    assert [f.relative_to(workspace).parts[:2] for f in folders] == [
        ("audit-reports", "Acme"),
        ("audit-reports", "Globo"),
    ]
    for folder in folders:  # the default formats, and only those
        assert sorted(p.name for p in folder.iterdir()) == [
            "junit.xml",
            "report.json",
            "report.sarif",
        ]
    assert set(run.steps_used) == {"actions/setup-python", SARIF_UPLOAD, ARTIFACT_UPLOAD}
    assert run.steps_used["actions/setup-python"] == {"python-version": "3.12"}
    artifact = run.steps_used[ARTIFACT_UPLOAD]
    assert artifact["name"] == "audit-reports"
    assert [workspace / p for p in artifact["path"].splitlines()] == folders
    sarif_dir = Path(run.steps_used[SARIF_UPLOAD]["sarif_file"])
    assert "category" not in run.steps_used[SARIF_UPLOAD]  # it would replace each client's own
    assert _sarif_categories(sarif_dir) == [
        "social-care-auditor/Acme",
        "social-care-auditor/Globo",
    ]


def test_a_second_run_uploads_only_its_own_reports(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "workspace")
    first = _run_action(workspace, {"config": "audit.yaml"})
    second = _run_action(workspace, {"config": "audit.yaml", "soft-fail": "true"})
    assert second.job_code == 0, second.stderr
    before, after = first.outputs["run-folders"], second.outputs["run-folders"]
    assert len(after.splitlines()) == 2
    assert not set(before.splitlines()) & set(after.splitlines())
    assert len(list((workspace / "audit-reports").rglob("report.json"))) == 4
    assert len(_sarif_categories(Path(second.steps_used[SARIF_UPLOAD]["sarif_file"]))) == 2


@pytest.mark.parametrize(
    ("given", "code"),
    [
        pytest.param({"soft-fail": "true"}, 0, id="soft-fail"),
        pytest.param({"fail-on": "never"}, 0, id="fail-on never"),
        pytest.param({"fail-on": "critical"}, 0, id="fail-on critical"),
        pytest.param({"fail-on": "low"}, 1, id="fail-on low"),
        pytest.param({"config": "missing.yaml"}, 2, id="no config"),
        pytest.param({"formats": "json,nonsense"}, 2, id="unknown format"),
    ],
)
def test_the_job_ends_with_the_audits_exit_code(
    tmp_path: Path, given: dict[str, str], code: int
) -> None:
    run = _run_action(_workspace(tmp_path / "workspace"), {"config": "audit.yaml", **given})
    assert run.audit_code == 0, run.stderr
    assert (run.outputs["exit-code"], run.job_code) == (str(code), code)
    if code == 2:  # stopped before any work: nothing to upload, the job still fails
        assert "run-folders" not in run.outputs and not run.steps_used.keys() - {
            "actions/setup-python"
        }


def test_the_action_with_a_baseline_fails_only_on_new_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = _workspace(tmp_path / "workspace")
    assert _in(workspace, ["baseline", "create", "audit.yaml", "-o", "base.json"], monkeypatch) == 0
    run = _run_action(workspace, {"config": "audit.yaml", "baseline": "base.json"})
    assert run.job_code == 0, run.stderr
    missing = _run_action(workspace, {"config": "audit.yaml", "baseline": "nope.json"})
    assert missing.job_code == 2


def test_without_sarif_or_with_the_upload_off_nothing_goes_to_code_scanning(
    tmp_path: Path,
) -> None:
    workspace = _workspace(tmp_path / "workspace")
    no_sarif = _run_action(workspace, {"config": "audit.yaml", "formats": "json,csv"})
    assert "sarif-dir" not in no_sarif.outputs and SARIF_UPLOAD not in no_sarif.steps_used
    folders = no_sarif.outputs["run-folders"].splitlines()
    assert sorted(p.name for p in (workspace / folders[0]).iterdir()) == [
        "findings.csv",
        "report.json",
    ]
    off = _run_action(workspace, {"config": "audit.yaml", "upload-sarif": "false"})
    assert "sarif-dir" in off.outputs and SARIF_UPLOAD not in off.steps_used
    assert ARTIFACT_UPLOAD in off.steps_used and off.job_code == 1


def test_a_bad_soft_fail_value_is_one_error_line(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "workspace")
    run = _run_action(workspace, {"config": "audit.yaml", "soft-fail": "yes"})
    assert (run.audit_code, run.job_code) == (2, 2)
    assert run.stdout.splitlines() == ["::error::soft-fail must be true or false, not 'yes'"]
    assert "exit-code" not in run.outputs and not (workspace / "audit-reports").exists()


# ---------------------------------------------------------------- docs/ci.md


def test_every_yaml_block_parses_and_there_are_the_ones_the_doc_promises() -> None:
    blocks = _blocks("yaml", "yml", "json")
    assert len(blocks) >= 4  # the workflow, the GitLab job, a suppression, pre-commit
    for body in _blocks("json"):
        json.loads(body)
    for parsed in _yaml_blocks():
        assert isinstance(parsed, dict | list), parsed


def test_every_auditor_command_line_in_the_doc_parses_with_the_real_options() -> None:
    commands = _doc_commands()
    assert {words[0] for words in commands} >= {"run", "baseline", "lint"}, commands
    for words in commands:
        _parses(words)


def test_every_option_the_doc_names_exists() -> None:
    named = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", _doc()))
    assert named, "the doc names no option"
    assert named <= _all_options(), f"no auditor command has {sorted(named - _all_options())}"


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_links_and_repository_files_the_doc_names_exist() -> None:
    doc = _doc()
    links = re.findall(r"\]\(([^)\s]+)\)", doc)
    local = [link for link in links if not re.match(r"https?://", link)]
    assert local, "the doc links to nothing in the repository"
    for link in local:
        target, _, anchor = link.partition("#")
        path = (CI_DOC.parent / target).resolve()
        assert path.is_file(), link
        if anchor:
            headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
            assert anchor in {_slug(h) for h in headings}, link
    for name in ("action.yml", ".pre-commit-hooks.yaml", "tests/test_ci_docs.py"):
        assert f"`{name}`" in doc and (REPO / name).is_file(), name
    for name in re.findall(r"`([\w./-]+\.(?:ya?ml|py|md))`", doc):
        if (REPO / Path(name).parts[0]).exists():  # a path in this repository, not the user's
            assert (REPO / name).is_file(), name


def test_the_exit_codes_are_the_readmes() -> None:
    def codes(text: str, heading: str) -> set[str]:
        section = text.split(heading, 1)[1].split("\n#", 1)[0]
        return set(re.findall(r"^\| ([\d /]+) \|", section, re.M)) - {" "}

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert codes(_doc(), "## What the exit code means") == codes(readme, "## Exit codes")


def test_the_workflow_runs_the_action_weekly_and_by_hand() -> None:
    action, workflow = _action(), _workflow()
    triggers: dict[str, Any] = workflow.get("on") or workflow[True]  # YAML 1.1: bare `on` is true
    (schedule,) = triggers["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert minute.isdigit() and hour.isdigit(), schedule  # once a week, not every minute of a day
    assert (day, month) == ("*", "*") and re.fullmatch(r"[0-6]", weekday), schedule
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"]["security-events"] == "write"
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    (audit,) = [step for step in steps if step.get("id") == "audit"]
    repository, _, tag = audit["uses"].partition("@")
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag)
    given = set(audit["with"])
    required = {name for name, spec in action["inputs"].items() if spec.get("required")}
    assert given <= set(action["inputs"]) and required <= given, given
    read = set(re.findall(r"steps\.audit\.outputs\.([\w-]+)", _doc()))
    assert read and read <= set(action["outputs"]), read
    # One repository and release everywhere the doc installs from.
    assert set(re.findall(r"github\.com/([\w-]+/[\w-]+)", _doc())) == {repository}
    assert set(re.findall(r"(?:@|rev: )(v\d+\.\d+\.\d+)", _doc())) == {tag}
    cache = next(step for step in steps if step.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == _gitlab_job()["cache"]["paths"][0] == "out/history.sqlite"


def test_the_pre_commit_block_names_this_repositorys_hook() -> None:
    hooks = {hook["id"] for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    (config,) = [b for b in _yaml_blocks() if isinstance(b, dict) and "repos" in b]
    (repo,) = config["repos"]
    assert {hook["id"] for hook in repo["hooks"]} <= hooks


def _run_doc_command(line: str, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    (args,) = AUDITOR_LINE.findall(line)
    return _in(workspace, shlex.split(args), monkeypatch)


def _adoption_commands() -> list[str]:
    (block,) = [body for body in _blocks("sh") if "baseline create" in body]
    return [line for line in block.splitlines() if AUDITOR_LINE.search(line)]


def test_adopting_with_a_baseline_as_the_doc_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = _workspace(tmp_path / "repo")
    create, run = _adoption_commands()
    assert _in(workspace, ["run", "audit.yaml"], monkeypatch) == 1  # findings today
    assert _run_doc_command(create, workspace, monkeypatch) == 0
    assert _run_doc_command(run, workspace, monkeypatch) == 0  # the same findings: existing


def test_the_gitlab_job_collects_the_junit_files_a_run_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _gitlab_job()
    assert job["artifacts"]["when"] == "always"
    pattern = job["artifacts"]["reports"]["junit"]
    workspace = _workspace(tmp_path / "repo")
    _run_doc_command(_adoption_commands()[0], workspace, monkeypatch)  # the baseline it reads
    (audit,) = [line for line in job["script"] if AUDITOR_LINE.search(line)]
    assert _run_doc_command(audit, workspace, monkeypatch) == 0
    written = sorted(workspace.rglob("junit.xml"))
    assert len(written) == 2 and _matches(workspace, pattern) == written
    kept = [p for path in job["artifacts"]["paths"] for p in _matches(workspace, path + "**")]
    assert set(written) <= set(kept)


def test_the_jenkins_stage_reads_the_files_a_run_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = _groovy()
    assert stage.count("{") == stage.count("}") and stage.count("(") == stage.count(")")
    assert "returnStatus: true" in stage and "always {" in stage
    workspace = _workspace(tmp_path / "repo")
    _run_doc_command(_adoption_commands()[0], workspace, monkeypatch)
    (audit,) = [line for line in stage.splitlines() if AUDITOR_LINE.search(line)]
    assert _run_doc_command(audit, workspace, monkeypatch) == 0
    junit = re.search(r"junit testResults: '([^']+)'", stage)
    sarif = re.search(r"sarif\(pattern: '([^']+)'\)", stage)
    archived = re.search(r"archiveArtifacts artifacts: '([^']+)'", stage)
    assert junit and sarif and archived
    assert _matches(workspace, junit[1]) == sorted(workspace.rglob("junit.xml"))
    assert len(_matches(workspace, sarif[1])) == 2
    assert _matches(workspace, sarif[1]) == sorted(workspace.rglob("report.sarif"))
    assert set(workspace.glob("out/reports/*/*/report.json")) <= set(
        _matches(workspace, archived[1])
    )


def test_the_suppression_block_is_a_valid_config_section(tmp_path: Path) -> None:
    (block,) = [b for b in _yaml_blocks() if isinstance(b, dict) and "suppressions" in b]
    workspace = _workspace(tmp_path / "repo")
    config = workspace / "audit.yaml"
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    config.write_text(yaml.safe_dump({**document, **block}), encoding="utf-8")
    loaded = load_config(config, load_registry([]))
    accounts = {f"{a.platform}:{a.handle}" for a in loaded.accounts()}
    assert {s["account"] for s in block["suppressions"]} <= accounts


def test_the_lint_line_writes_where_the_doc_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (line,) = [words for words in _doc_commands() if words[0] == "lint"]
    workspace = _workspace(tmp_path / "repo")
    (workspace / "support").mkdir()
    (workspace / "support" / "refund.md").write_text(
        "So sorry! DM us your order number and we'll sort it. ^JS\n", encoding="utf-8"
    )
    assert _in(workspace, line, monkeypatch) == 0
    assert len(list(workspace.glob("out/lint/*/junit.xml"))) == 1
    assert "out/lint/<time>-<run id>/" in _doc()
