"""Running the CLI in-process, with stdout and stderr apart."""

from __future__ import annotations

from typer.testing import CliRunner

from auditor.cli import app


def run_cli(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr
