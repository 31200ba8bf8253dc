"""The deployment files of deploy/, the Dockerfile and docs/deploy.md, held by tests.

Each file is checked by the tool its platform trusts (``systemd-analyze verify``, hadolint,
``kubernetes-validate`` against the Kubernetes schemas, offline), and against the CLI itself:
the commands it runs parse with ``auditor``'s own options, the exit codes it names are the
CLI's, the configs it ships load and write only where the platform lets the scheduler write.
docs/deploy.md quotes every file; the quotes are checked byte for byte. A tool that is missing
skips its test locally and fails it under ``CI=true``.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import typer.main
import yaml
from typer.core import TyperGroup

from auditor.cli import app
from auditor.config import Config, load_config
from auditor.registry import load_registry
from auditor.result import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INCOMPLETE

from tests_support import run_cli, unavailable

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
SYSTEMD = DEPLOY / "systemd"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = REPO / "Dockerfile"
DOC = REPO / "docs" / "deploy.md"
# Where the units install the scheduler; the tests point it at this environment's auditor.
INSTALLED_AUDITOR = "/opt/social-care-auditor/bin/auditor"
MACHINE_CONFIG = "/etc/social-care-auditor/audit.yaml"
MACHINE_STATE = PurePosixPath("/var/lib/social-care-auditor")
CONTAINER_CONFIG = "/config/audit.yaml"
CONTAINER_DATA = PurePosixPath("/data")
# A Kubernetes release whose schemas kubernetes-validate ships.
KUBERNETES_VERSION = "1.34.0"


def deploy_files() -> list[Path]:
    """Every file an operator installs, each quoted by docs/deploy.md (deploy/scale/ is the
    distributed engine's, quoted by docs/scale.md: tests/test_deploy_scale.py)."""
    found = sorted(
        path
        for path in DEPLOY.rglob("*")
        if path.is_file() and not path.is_relative_to(DEPLOY / "scale")
    )
    return [*found, DOCKERFILE, REPO / ".dockerignore"]


def tool(name: str) -> str:
    """The path of a program: the test extra's (beside this Python) first, else on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        unavailable(name, f"{name} is not installed (.ci/run and the test extra install it)")
    return found


def parsed(argv: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The subcommand ``auditor argv`` runs and its parameters, parsed by the CLI itself (an
    unknown option or a missing argument raises)."""
    assert argv[0] == "auditor", argv
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    command = group.commands[argv[1]]
    context = command.make_context(argv[1], list(argv[2:]))
    return argv[1], dict(context.params)


def assert_scheduler(argv: Sequence[str], config: str, *, once: bool) -> None:
    command, params = parsed(argv)
    assert command == "schedule"
    assert str(params["config_path"]) == config
    assert params["once"] is once


def assert_health_probe(argv: Sequence[str], config: str) -> None:
    command, params = parsed(argv)
    assert command == "status"
    assert str(params["config_path"]) == config
    assert params["check_health"] is True


# docs/deploy.md


def quoted_files(doc: Path = DOC) -> dict[str, str]:
    """``doc``'s blocks that quote a file (```LANG file=PATH), by path."""
    text = doc.read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]* file=(\S+)\n(.*?)^```$", text, flags=re.M | re.S)
    paths = [path for path, _ in blocks]
    assert len(paths) == len(set(paths)), f"a file is quoted twice: {paths}"
    return dict(blocks)


def test_the_doc_quotes_every_deploy_file_byte_for_byte() -> None:
    quoted = quoted_files()
    expected = {str(path.relative_to(REPO)) for path in deploy_files()}
    assert set(quoted) == expected
    for name, block in quoted.items():
        assert block == (REPO / name).read_text(encoding="utf-8"), f"docs/deploy.md: {name}"


def test_the_readme_links_the_doc() -> None:
    assert "(docs/deploy.md)" in (REPO / "README.md").read_text(encoding="utf-8")


# systemd


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SYSTEMD / name).read_text(encoding="utf-8"))
    return parser


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    auditor = Path(sys.executable).with_name("auditor")
    assert auditor.exists(), "the project is installed in this environment"
    # verify wants the ExecStart program to exist: the copies run this environment's auditor.
    copies = []
    for source in sorted(SYSTEMD.iterdir()):
        text = source.read_text(encoding="utf-8")
        assert INSTALLED_AUDITOR in text or source.suffix != ".service"
        copy = tmp_path / source.name
        copy.write_text(text.replace(INSTALLED_AUDITOR, str(auditor)), encoding="utf-8")
        copies.append(str(copy))
    run = subprocess.run(
        [analyze, "verify", "--man=no", "--generators=no", *copies],
        capture_output=True,
        text=True,
        check=False,
    )
    # An unknown or misspelt key is only a warning (exit 0): any word from verify is a failure.
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    on_calendar = unit("social-care-auditor-once.timer")["Timer"]["OnCalendar"]
    calendar = subprocess.run(
        [analyze, "calendar", on_calendar], capture_output=True, text=True, check=False
    )
    assert calendar.returncode == 0, calendar.stderr
    assert "Normalized form: *-*-* *:00/15:00" in calendar.stdout


def test_systemd_services_run_the_scheduler_with_the_cli_s_options() -> None:
    daemon = unit("social-care-auditor.service")["Service"]
    once = unit("social-care-auditor-once.service")["Service"]
    assert daemon["Type"] == "simple"
    assert once["Type"] == "oneshot"
    for service, is_once in ((daemon, False), (once, True)):
        argv = shlex.split(service["ExecStart"])
        assert argv[0] == INSTALLED_AUDITOR
        assert_scheduler(["auditor", *argv[1:]], MACHINE_CONFIG, once=is_once)
        assert service["User"] != "root"
        assert service["EnvironmentFile"].startswith("/etc/social-care-auditor/")
        assert service["KillSignal"] == "SIGTERM"
        assert service["KillMode"] == "mixed"
        assert int(service["TimeoutStopSec"]) >= 120
    assert daemon["Restart"] == "on-failure"
    assert int(daemon["RestartPreventExitStatus"]) == EXIT_BAD_INPUT
    # Findings and incomplete data are audits that ran: not a failed unit.
    assert {int(code) for code in once["SuccessExitStatus"].split()} == {
        EXIT_FAILED,
        EXIT_INCOMPLETE,
    }


HARDENING = (
    "StateDirectory",
    "ReadWritePaths",
    "NoNewPrivileges",
    "ProtectSystem",
    "ProtectHome",
    "PrivateTmp",
    "PrivateDevices",
    "CapabilityBoundingSet",
    "SystemCallFilter",
    "RestrictAddressFamilies",
)


def test_systemd_services_are_hardened_alike() -> None:
    daemon = unit("social-care-auditor.service")["Service"]
    once = unit("social-care-auditor-once.service")["Service"]
    for key in HARDENING:
        assert daemon[key] == once[key], key
    assert daemon["NoNewPrivileges"] == "yes"
    assert daemon["ProtectSystem"] == "strict"
    assert daemon["PrivateTmp"] == "yes"
    assert daemon["CapabilityBoundingSet"] == ""
    assert PurePosixPath(daemon["ReadWritePaths"]) == MACHINE_STATE
    assert PurePosixPath("/var/lib") / daemon["StateDirectory"] == MACHINE_STATE


# cron

CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)


def cron_field_ok(field: str, low: int, high: int) -> bool:
    """A numeric crontab(5) field: ``*``, ``N``, ``N-M``, each with an optional ``/STEP``,
    comma separated, every number in range."""
    for item in field.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", item)
        if match is None:
            return False
        numbers = [int(n) for n in match.group(2, 3) if n is not None]
        if any(not low <= n <= high for n in numbers) or numbers != sorted(numbers):
            return False
        if match.group(4) is not None and not 1 <= int(match.group(4)) <= high:
            return False
    return True


def crontab_entries() -> list[list[str]]:
    lines = (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines()
    return [
        line.split(maxsplit=5)
        for line in lines
        if line.strip() and not line.startswith("#") and not re.match(r"[A-Z_]+=", line)
    ]


def test_cron_fields_are_valid() -> None:
    # The validator itself rejects what cron would.
    assert not cron_field_ok("*/0", 0, 59)
    assert not cron_field_ok("*/15x", 0, 59)
    assert not cron_field_ok("60", 0, 59)
    assert not cron_field_ok("9-3", 0, 23)
    [entry] = crontab_entries()
    for value, (name, low, high) in zip(entry[:5], CRON_FIELDS, strict=True):
        assert cron_field_ok(value, low, high), f"crontab {name} field {value!r}"
    assert entry[:5] == ["*/15", "*", "*", "*", "*"]


def test_the_crontab_runs_one_pass_at_a_time_into_a_log() -> None:
    [entry] = crontab_entries()
    command = entry[5]
    # cron turns an unescaped % into a newline.
    assert "%" not in command
    words = shlex.split(command)
    assert words[:4] == ["flock", "-n", "-E", "4"]
    assert words[4].startswith(str(MACHINE_STATE))
    assert words[5:7] == ["sh", "-c"]
    assert words[8:] == [">>/var/log/social-care-auditor/schedule.log", "2>&1"]
    steps = [shlex.split(step) for step in words[7].split("&&")]
    assert steps[0] == ["set", "-a"]
    assert steps[1] == [".", "/etc/social-care-auditor/secrets.env"]
    assert steps[2][0] == "exec"
    assert_scheduler(steps[2][1:], MACHINE_CONFIG, once=True)
    path = re.search(r"^PATH=(.*)$", (DEPLOY / "crontab").read_text(encoding="utf-8"), re.M)
    assert path is not None
    assert str(PurePosixPath(INSTALLED_AUDITOR).parent) in path.group(1).split(":")


# The configs the files ship


def load(text: str, folder: Path) -> Config:
    config = folder / "audit.yaml"
    config.write_text(text, encoding="utf-8")
    return load_config(config, load_registry([]))


def configmap_audit_yaml() -> str:
    documents = yaml.safe_load_all((KUBERNETES / "config.yaml").read_text(encoding="utf-8"))
    [configmap] = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    text = configmap["data"]["audit.yaml"]
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize(
    ("text", "writable"),
    [
        pytest.param(
            (DEPLOY / "audit.yaml").read_text(encoding="utf-8"), MACHINE_STATE, id="machine"
        ),
        pytest.param(configmap_audit_yaml(), CONTAINER_DATA, id="kubernetes"),
    ],
)
def test_shipped_configs_load_and_write_only_where_allowed(
    tmp_path: Path, text: str, writable: PurePosixPath
) -> None:
    config = load(text, tmp_path)
    for written in (config.output_dir, config.store_path, config.fetch.dir):
        assert PurePosixPath(written).is_relative_to(writable), written
    sources = [account.source for account in config.accounts()]
    assert sources
    for source in sources:
        # A token is named (its variable comes from the secrets), never written in the config.
        assert source.type == "api"
        assert source.options.get("token_env")
        assert source.path is not None
        assert PurePosixPath(source.path).is_relative_to(writable), source.path


def test_the_probe_command_reads_the_shipped_config(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(configmap_audit_yaml(), encoding="utf-8")
    code, stdout, stderr = run_cli(["status", str(config), "--health"])
    assert (code, stderr) == (1, "")
    assert stdout.startswith(
        f"unhealthy: no heartbeat file at {CONTAINER_DATA}/history.sqlite.heartbeat.json"
    )


# The container image


def dockerfile_instructions() -> dict[str, list[str]]:
    """The Dockerfile's instructions by keyword, their arguments joined across ``\\``."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.setdefault(keyword.upper(), []).append(" ".join(rest.split()))
    return found


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = tool("hadolint")
    # An empty config of our own: no user's or folder's config can ignore a rule.
    settings = tmp_path / "hadolint.yaml"
    settings.write_text("ignored: []\n", encoding="utf-8")
    run = subprocess.run(
        [
            hadolint,
            "--config",
            str(settings),
            "--no-color",
            "--failure-threshold",
            "style",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_dockerfile_runs_the_scheduler_as_a_non_root_user() -> None:
    found = dockerfile_instructions()
    assert found["FROM"] == ["python:3.11-slim"]
    entrypoint = json.loads(found["ENTRYPOINT"][0])
    command = json.loads(found["CMD"][0])
    assert_scheduler([*entrypoint, *command], CONTAINER_CONFIG, once=False)
    assert_scheduler([*entrypoint, *command, "--once"], CONTAINER_CONFIG, once=True)
    healthcheck = found["HEALTHCHECK"][0]
    assert_health_probe(json.loads(healthcheck[healthcheck.index("CMD ") + 4 :]), CONTAINER_CONFIG)
    [user] = found["USER"]
    assert user.split(":")[0] not in {"0", "root"}
    assert json.loads(found["VOLUME"][0]) == [
        str(PurePosixPath(CONTAINER_CONFIG).parent),
        str(CONTAINER_DATA),
    ]
    assert found["STOPSIGNAL"] == ["SIGTERM"]
    assert all("--no-cache-dir" in run for run in found["RUN"] if "pip install" in run)


def test_dockerignore_keeps_what_the_image_copies() -> None:
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*") + 1 :][:4] == [
        "!pyproject.toml",
        "!README.md",
        "!auditor/",
        "!config/",
    ]
    copied = {
        source.rstrip("/")
        for copy in dockerfile_instructions()["COPY"]
        for source in copy.split()[:-1]
    }
    assert copied == {"pyproject.toml", "README.md", "auditor", "config"}


# Kubernetes


def manifests(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((KUBERNETES / name).read_text(encoding="utf-8")))


def kubernetes_validate(folder: Path) -> list[str]:
    """The resources of ``folder``'s manifests, each passed by ``kubernetes-validate
    --strict`` (offline, against the schemas it ships); fails on any error or warning."""
    validate = tool("kubernetes-validate")
    files = sorted(str(path) for path in folder.glob("*.yaml"))
    run = subprocess.run(
        [validate, "--strict", "--kubernetes-version", KUBERNETES_VERSION, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARN" not in run.stdout + run.stderr
    return sorted(re.findall(r"^INFO .* passed for resource (\S+) ", run.stdout, re.M))


def test_kubernetes_manifests_validate_strictly() -> None:
    assert kubernetes_validate(KUBERNETES) == [
        "configmap/social-care-auditor",
        "cronjob/social-care-auditor",
        "deployment/social-care-auditor",
        "persistentvolumeclaim/social-care-auditor-data",
    ]


def pod_of(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    assert isinstance(pod, dict)
    return pod


def assert_pod_like_the_image(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod's one container, checked: non-root, the config and data where the image has its
    volumes, the secrets from the Secret, time to stop cleanly."""
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] >= 120
    [container] = pod["containers"]
    assert isinstance(container, dict)
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    [claim] = [doc for doc in manifests("config.yaml") if doc["kind"] == "PersistentVolumeClaim"]
    data = volumes[mounts[str(CONTAINER_DATA)]]
    assert data["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    config = volumes[mounts[str(PurePosixPath(CONTAINER_CONFIG).parent)]]
    assert config["configMap"]["name"] == "social-care-auditor"
    assert container["envFrom"] == [{"secretRef": {"name": "social-care-auditor"}}]
    return container


def test_the_cronjob_runs_one_pass_at_a_time() -> None:
    [cronjob] = manifests("cronjob.yaml")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    [entry] = crontab_entries()
    assert cronjob["spec"]["schedule"] == " ".join(entry[:5])
    assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    container = assert_pod_like_the_image(pod_of(cronjob))
    entrypoint = json.loads(dockerfile_instructions()["ENTRYPOINT"][0])
    assert "command" not in container
    assert_scheduler([*entrypoint, *container["args"]], CONTAINER_CONFIG, once=True)


def test_the_deployment_runs_one_scheduler_with_a_liveness_probe() -> None:
    [deployment] = manifests("deployment.yaml")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = assert_pod_like_the_image(pod_of(deployment))
    entrypoint = json.loads(dockerfile_instructions()["ENTRYPOINT"][0])
    assert "command" not in container
    assert_scheduler([*entrypoint, *container["args"]], CONTAINER_CONFIG, once=False)
    assert_health_probe(container["livenessProbe"]["exec"]["command"], CONTAINER_CONFIG)
