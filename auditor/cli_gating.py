"""The command line's gating: ``auditor baseline create``, and the gate ``auditor run`` builds
from ``--baseline`` and the config's suppressions.

Part of the face (``auditor.cli`` adds ``baseline_app`` to its commands); kept apart so that
``cli.py`` stays small. The command reuses ``cli_common``'s helpers (config loading, the
fetch, the store), imported when it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.result import EXIT_OK
from auditor.untrusted import escape_controls
from auditor.wording import count

if TYPE_CHECKING:
    from auditor.config import Config
    from auditor.engine.gating import Gate
    from auditor.result import SuppressionInfo

baseline_app = typer.Typer(
    help="Record the current findings, so that a run fails only on new ones.",
    no_args_is_help=True,
)

SoftFail = Annotated[
    bool,
    typer.Option(
        "--soft-fail",
        help="Report as usual, but exit 0 where the run would exit 1 (a failure) or 3 "
        "(incomplete); 2 and 130/143 stay. The closing line says what the code would have been.",
    ),
]
BaselineFile = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        metavar="FILE",
        help="Fail only on findings not in this baseline (auditor baseline create); the others "
        "are reported as existing.",
    ),
]


def _echo(text: str) -> None:
    typer.echo(escape_controls(text), err=True)


def gate_for_run(config: Config, baseline: Path | None) -> Gate | None:
    """The run's gate (None without a baseline or suppressions). A suppression not applied
    (expired, malformed) is one warning line each; an unusable baseline one error line, exit 2,
    before any work."""
    from auditor.engine.gating import GatingError, build_gate

    try:
        gate = build_gate(config, baseline, datetime.now(UTC).date())
    except GatingError as error:
        from auditor.cli_common import fail

        fail(str(error))
    if gate is not None:
        for info in [*gate.setup.expired, *gate.setup.malformed]:
            _echo(f"warning: {_where(config, info)}: {info.problem}; not applied")
    return gate


def _where(config: Config, info: SuppressionInfo) -> str:
    """``audit.yaml:41: suppressions[2]``, as config errors name a key."""
    line = f":{info.line}" if info.line else ""
    return f"{config.path}{line}: {info.label}"


def warn_unmatched(config: Config, unmatched: list[SuppressionInfo]) -> None:
    """The suppressions that matched no finding of the run, one line each."""
    for info in unmatched:
        _echo(f"warning: {_where(config, info)} matched no finding; remove it if it is not needed")


@baseline_app.command("create")
def baseline_create(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="The audit config (YAML).")],
    out: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The baseline file to write.")
    ],
    checks_dir: Annotated[
        list[Path] | None,
        typer.Option("--checks-dir", help="Also load checks from the *.py modules in this folder."),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Skip invalid bundle lines; their accounts are marked incomplete.")
    ] = False,
    client: Annotated[
        list[str] | None, typer.Option(help="Audit only this client (repeatable).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes that audit accounts in parallel (default: cores)."),
    ] = None,
) -> None:
    """Audit CONFIG as run does (fetching its api accounts, keeping history) and write every
    finding's uid to FILE, so that 'auditor run CONFIG --baseline FILE' fails only on new
    findings. Writes no report. Exit 0 written; 2 bad input (nothing written); 130/143
    interrupted (nothing written)."""
    from auditor import cli_common as cli
    from auditor.engine.gating import BaselineFindings, write_baseline

    registry, config = cli.load(config_path, checks_dir)
    chosen = cli.chosen_accounts(config, client)
    cli.check_paths_before_work(config, chosen, reports_dir=None)
    if out.is_dir():
        cli.fail(f"baseline {out} is a folder; name a file")
    problem = cli.unusable_folder(out.absolute().parent)
    if problem is not None:
        cli.fail(f"baseline {out}: {problem}")
    result, findings, fetch_incomplete = cli.audit_accounts(
        config,
        registry,
        chosen,
        progress=cli.progress_for("text", quiet),
        sink_for=lambda _: BaselineFindings(),
        skip_invalid=skip_invalid,
        clients=client,
        workers=workers,
    )
    totals = result.totals(fetch_incomplete)
    for message in result.input_errors:
        _echo(f"error: {message}")
    stopped = result.interrupted if result.interrupted is not None else result.stopped_after
    if stopped is not None:
        _echo(f"baseline {out} not written: the audit was interrupted")
        raise typer.Exit(totals.code if result.interrupted is not None else 128 + stopped)
    if result.input_errors:
        cli.fail(f"baseline {out} not written: fix the input errors above and create it again")
    write_baseline(out, findings.findings, datetime.now(UTC), config_path)
    for key, what in totals.incomplete.items():
        # Findings the missing data could refute were withheld: a later complete audit may
        # report them as new.
        _echo(f"warning: {key} is incomplete ({', '.join(what)}): its baseline may miss findings")
    if not quiet:
        written = count(len(findings.findings), "finding")
        typer.echo(
            escape_controls(f"wrote {out}: {written} in {count(totals.accounts, 'account')}")
        )
    raise typer.Exit(EXIT_OK)
