"""The distributed engine's deployment files (deploy/scale/) and docs/scale.md, held by tests.

As tests/test_deploy.py does for one machine: the Compose file passes ``docker-compose config``
(Debian's docker-compose: it validates against the Compose schema, with no Docker engine), the
Kubernetes manifests pass ``kubernetes-validate --strict``, every command they run parses with
``auditor``'s own options, the shipped configs load and name their passwords rather than hold
them, and docs/scale.md quotes every file byte for byte. A tool that is missing skips its test
locally and fails it under ``CI=true``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.config import Config, load_config
from auditor.registry import load_registry

from test_deploy import (
    REPO,
    dockerfile_instructions,
    kubernetes_validate,
    parsed,
    quoted_files,
)
from tests_support import run_cli, unavailable

SCALE = REPO / "deploy" / "scale"
DOC = REPO / "docs" / "scale.md"
CONTAINER_CONFIG = "/config/audit.yaml"


def scale_files() -> list[Path]:
    return sorted(path for path in SCALE.rglob("*") if path.is_file())


def test_the_doc_quotes_every_scale_file_byte_for_byte() -> None:
    quoted = quoted_files(DOC)
    assert set(quoted) == {str(path.relative_to(REPO)) for path in scale_files()}
    for name, block in quoted.items():
        assert block == (REPO / name).read_text(encoding="utf-8"), f"docs/scale.md: {name}"


def test_readme_links_the_doc() -> None:
    assert "(docs/scale.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def load(text: str, folder: Path) -> Config:
    path = folder / "audit.yaml"
    path.write_text(text, encoding="utf-8")
    code, stdout, stderr = run_cli(["config", "validate", str(path)])
    assert (code, stderr) == (0, ""), stdout + stderr
    return load_config(path, load_registry())


def configmap_audit_yaml() -> str:
    [config] = [doc for doc in manifests("config.yaml") if doc["kind"] == "ConfigMap"]
    text = config["data"]["audit.yaml"]
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("source", ["audit.yaml", "configmap"])
def test_shipped_configs_run_on_celery_postgres_and_shared_limits(
    tmp_path: Path, source: str
) -> None:
    text = (
        (SCALE / "audit.yaml").read_text(encoding="utf-8")
        if source == "audit.yaml"
        else (configmap_audit_yaml())
    )
    config = load(text, tmp_path)
    assert config.engine.kind == "celery"
    assert config.store_url is not None and config.store_url.startswith("postgresql://")
    assert config.fetch.shared_limits is not None
    # Passwords are named, never written.
    document = yaml.safe_load(text)
    assert "password_env" in document["store"]
    assert "password_env" in document["engine"]["broker"]
    assert "password_env" in document["fetch"]["shared_limits"]
    assert not re.search(r"://[^/@\s]*:[^/@\s]*@", text), "a password inside a URL"


# Docker Compose


def compose_file() -> dict[str, Any]:
    loaded = yaml.safe_load((SCALE / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_passes_docker_compose_config(tmp_path: Path) -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        unavailable("docker-compose", "not installed (.ci/run installs Debian's docker-compose)")
    shutil.copy(SCALE / "docker-compose.yml", tmp_path)
    shutil.copy(SCALE / "audit.yaml", tmp_path)
    (tmp_path / "secrets.env").write_text(
        "AUDITOR_STORE_PASSWORD=example\nAUDITOR_REDIS_PASSWORD=example\n", encoding="utf-8"
    )
    run = subprocess.run(
        [compose, "--env-file", "secrets.env", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    resolved = yaml.safe_load(run.stdout)
    assert set(resolved["services"]) == {"postgres", "redis", "scheduler", "worker"}
    # Without the passwords, Compose refuses to start rather than run with empty ones.
    (tmp_path / "secrets.env").write_text("", encoding="utf-8")
    empty = subprocess.run(
        [compose, "--env-file", "secrets.env", "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert empty.returncode != 0
    assert "AUDITOR_STORE_PASSWORD" in empty.stderr


def test_compose_services_run_the_cli_with_its_own_options() -> None:
    services = compose_file()["services"]
    entrypoint = dockerfile_instructions()["ENTRYPOINT"]
    assert entrypoint == ['["auditor", "schedule"]']
    scheduler = services["scheduler"]
    command, params = parsed(["auditor", "schedule", *scheduler["command"]])
    assert str(params["config_path"]) == CONTAINER_CONFIG
    worker = services["worker"]
    command, params = parsed([*worker["entrypoint"], *worker["command"]])
    assert command == "worker"
    assert str(params["config_path"]) == CONTAINER_CONFIG
    for service in ("scheduler", "worker"):
        mounts = services[service]["volumes"]
        assert f"./audit.yaml:{CONTAINER_CONFIG}:ro" in mounts
    # The image's health check is the scheduler's heartbeat: a worker has none.
    assert services["worker"]["healthcheck"] == {"disable": True}


# Kubernetes


def manifests(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((SCALE / "kubernetes" / name).read_text(encoding="utf-8")))


def test_kubernetes_manifests_validate_strictly() -> None:
    assert kubernetes_validate(SCALE / "kubernetes") == [
        "configmap/social-care-auditor-scale",
        "deployment/social-care-auditor-scheduler",
        "deployment/social-care-auditor-worker",
        "persistentvolumeclaim/social-care-auditor-scale-data",
    ]


def container(name: str) -> dict[str, Any]:
    [deployment] = manifests(name)
    [found] = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(found, dict)
    return found


def test_kubernetes_pods_run_the_cli_with_its_own_options() -> None:
    scheduler = container("scheduler.yaml")
    command, params = parsed(["auditor", "schedule", *scheduler["args"]])
    assert str(params["config_path"]) == CONTAINER_CONFIG
    probe, probe_params = parsed(scheduler["livenessProbe"]["exec"]["command"])
    assert (probe, probe_params["check_health"]) == ("status", True)
    worker = container("workers.yaml")
    command, params = parsed([*worker["command"], *worker["args"]])
    assert command == "worker"
    assert str(params["config_path"]) == CONTAINER_CONFIG
    assert "livenessProbe" not in worker


def test_one_scheduler_many_workers_sharing_one_volume() -> None:
    [scheduler] = manifests("scheduler.yaml")
    [workers] = manifests("workers.yaml")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
    assert workers["spec"]["replicas"] > 1
    [claim] = [doc for doc in manifests("config.yaml") if doc["kind"] == "PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for deployment in (scheduler, workers):
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        claims = [
            v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
        ]
        assert claims == [claim["metadata"]["name"]]


def test_config_validate_secrets_checks_the_service_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text((SCALE / "audit.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("X_BEARER_TOKEN", "token-not-shown-7f3a")
    monkeypatch.delenv("AUDITOR_STORE_PASSWORD", raising=False)
    monkeypatch.setenv("AUDITOR_REDIS_PASSWORD", "redis-not-shown-91c2")
    code, stdout, stderr = run_cli(["config", "validate", str(path), "--secrets"])
    assert code == 2
    assert stderr == (
        "error: store.password_env: environment variable AUDITOR_STORE_PASSWORD is not set\n"
    )
    monkeypatch.setenv("AUDITOR_STORE_PASSWORD", "store-not-shown-0b8e")
    code, stdout, stderr = run_cli(["config", "validate", str(path), "--secrets"])
    assert (code, stderr) == (0, "")
    # The store's, the broker's and the rate limiter's: the broker and the limiter share one
    # variable here, and each is checked where the config names it.
    assert "service passwords: 3 named, all present" in stdout
    for secret in ("token-not-shown", "redis-not-shown", "store-not-shown"):
        assert secret not in stdout + stderr
