"""``auditor lint``: profile texts and reply templates kept in files, checked before they are
published with the rules the audit applies to live posts (``docs/lint.md``).

A lint run is a result object like ``auditor run``'s (:class:`auditor.result.AuditResult`): one
client, ``lint``, with an account per file (platform ``file``, named by its path) and a check
result per rule, so that every report writer renders it and the exit code follows the same
rule. Each finding names its file and line, first in its message and as
``evidence.data.location`` (``{path, line}``); its uid is made from the check, the file and the
template's name (not the line), so that it stays the same while the text around it moves.

It may import the engine's ``checking`` (a check run as the engine runs it), the config (the
policy), the registry, the checks and the analysis (their own functions); only the command
line imports it (the ``layers`` contract in ``pyproject.toml``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from auditor import __version__
from auditor.check import SEVERITIES
from auditor.config import Config, EffectivePolicy, resource_text
from auditor.lint.rules import PLATFORM, lint_file
from auditor.lint.texts import LintInputError, TextFile, collect, read_file
from auditor.registry import Registry
from auditor.reports import WRITERS, RunFolders, file_formats, write_result
from auditor.result import AuditResult, InputFile

__all__ = [
    "CLIENT",
    "DEFAULT_POLICY",
    "PLATFORM",
    "LintInputError",
    "finding_lines",
    "lint",
    "read_files",
    "write_reports",
]

# The one client of a lint run: its reports go to <output>/lint/<time>-<run id>/.
CLIENT = "lint"
# What a report names as its config when no --config was given.
DEFAULT_POLICY = "built-in default policy"


def read_files(paths: Sequence[Path]) -> list[TextFile]:
    """Every file the paths name, read whole before anything is judged: the first that
    cannot be read raises :class:`LintInputError`, and nothing is reported."""
    return [read_file(path) for path in collect(paths)]


def lint(
    files: Sequence[TextFile],
    registry: Registry,
    config: Config | None = None,
    fail_on: str | None = None,
) -> AuditResult:
    """The files judged under ``config``'s top-level policy (else the default policy);
    ``fail_on`` overrides the policy's, as ``auditor run --fail-on`` does."""
    if fail_on is not None and fail_on not in SEVERITIES:
        raise LintInputError(
            "--fail-on", f"must be one of {', '.join(SEVERITIES)}, not {fail_on!r}"
        )
    policy = EffectivePolicy.for_texts(config, registry)
    policy_dict = policy.as_dict()
    if fail_on is not None:
        policy_dict["fail_on"] = fail_on
    if config is not None:
        config_path, config_sha256 = str(config.path), config.sha256
    else:
        default = resource_text("policy.default.yaml").encode()
        config_path, config_sha256 = DEFAULT_POLICY, hashlib.sha256(default).hexdigest()
    inputs = [InputFile(f.path, f.sha256) for f in files]
    result = AuditResult(
        tool_version=__version__,
        run_id=_run_id(config_sha256, fail_on, inputs),
        started_at=datetime.now(UTC),
        config_path=config_path,
        config_sha256=config_sha256,
        fail_on=fail_on,
        checks={c.id: c.version for c in registry},
        inputs=inputs,
    )
    for file in files:
        result.add(lint_file(file, policy, registry, CLIENT, policy_dict), keep=True)
    result.finished_at = datetime.now(UTC)
    return result


def write_reports(result: AuditResult, output: Path, formats: Sequence[str]) -> list[Path]:
    """The result in these formats (JSON always), under ``output`` as ``auditor run`` writes
    them: ``<output>/lint/<time>-<run id>/``."""
    folders = RunFolders(output)
    return [
        path
        for name in file_formats(formats)
        for path in write_result(result, WRITERS[name](output, folders))
    ]


def finding_lines(result: AuditResult) -> list[str]:
    """One line per finding, as compilers and editors read them: ``path:line: message [ID
    severity]`` (the message starts with the path and line)."""
    return [
        f"{finding.message} [{check.id} {finding.severity}]"
        for account in result.accounts()
        for check in account.checks
        for finding in check.findings
    ]


def _run_id(config_sha256: str, fail_on: str | None, inputs: Sequence[InputFile]) -> str:
    # The same texts under the same policy and tool are the same lint, as the engine keys runs.
    parts = ["lint", __version__, config_sha256, str(fail_on)]
    parts += sorted(f"{i.path}={i.sha256}" for i in inputs)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
