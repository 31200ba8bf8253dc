"""``auditor report RUN_ID``: a past run's reports written again from the history store, in any
format, by the same writers as ``run``; ``auditor report --list``: the runs the store holds.

Part of the face (``auditor.cli`` adds the command); kept apart so that ``cli.py`` stays small.
It reuses ``cli_common``'s helpers (config loading, formats), imported when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.result import EXIT_OK
from auditor.untrusted import escape_controls
from auditor.wording import count

if TYPE_CHECKING:
    from auditor.config import Config
    from auditor.store.history import HistoryStore


def _open_existing_store(config: Config) -> HistoryStore:
    """The config's history store, never created here: one line, exit 2, if there is none."""
    from auditor import cli_common as cli
    from auditor.fetch.store_location import open_config_store
    from auditor.store.history import StoreError

    if config.store_url is None and not config.store_path.is_file():
        cli.fail(f"no history store at {config.store_path}: run 'auditor run' first")
    try:
        return open_config_store(config)
    except StoreError as error:
        cli.fail(cli.store_failure(config, error))


def _list_runs(store: HistoryStore) -> None:
    from tabulate import tabulate

    rows = [
        [
            run.run_key,
            run.started_at.isoformat(timespec="seconds"),
            run.status,
            run.accounts if run.reports_kept else "-",
        ]
        for run in store.run_summaries()
    ]
    if not rows:
        typer.echo("no runs in the history store")
        return
    typer.echo(
        escape_controls(
            tabulate(rows, headers=["run", "started", "status", "accounts"]), keep_newlines=True
        )
    )


def _run_key(store: HistoryStore, run_id: str, config: Config) -> str:
    from auditor import cli_common as cli

    keys = store.run_keys(run_id)
    if not keys:
        cli.fail(f"no run {run_id!r} in {store.path}; 'auditor report --list' lists them")
    if len(keys) > 1:
        cli.fail(f"run id {run_id!r} is ambiguous ({count(len(keys), 'run')}): give more of it")
    return keys[0]


def report_command(
    run_id: Annotated[
        str | None, typer.Argument(metavar="RUN_ID", help="A run id, or a unique start of one.")
    ] = None,
    config_path: Annotated[
        Path | None,
        typer.Option("--config", metavar="CONFIG", help="The audit config (its history store)."),
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            metavar="json,csv,junit,sarif,html,markdown,terminal",
            help="As for run: comma-separated or repeated; JSON is always written.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write reports here instead of the config's output.dir.")
    ] = None,
    list_runs: Annotated[
        bool, typer.Option("--list", help="List the runs in the history store instead.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no table.")] = False,
    checks_dir: Annotated[
        list[Path] | None,
        typer.Option("--checks-dir", help="Also load checks from the *.py modules in this folder."),
    ] = None,
) -> None:
    """Write a past run's reports again from the history store (RUN_ID), in any format, or list
    the runs it holds (--list). Exit 0 written; 2 no such run, or bad input."""
    from auditor import cli_common as cli
    from auditor.engine.stored_run import StoredRunError, rebuild
    from auditor.reports import WRITERS, Reports, RunFolders, file_formats, parse_formats, terminal

    try:
        chosen_formats = None if formats is None else parse_formats(formats)
    except ValueError as error:
        cli.fail(f"--format {error}")
    if config_path is None:
        cli.fail("name the audit config with --config CONFIG: its store.path is the history")
    if run_id is None and not list_runs:
        cli.fail("name a run (RUN_ID), or list them with --list")
    _, config = cli.load(config_path, checks_dir)
    with _open_existing_store(config) as store:
        if list_runs:
            _list_runs(store)
            raise typer.Exit(EXIT_OK)
        assert run_id is not None
        key = _run_key(store, run_id, config)
        stored = store.run_report(key)
    if stored is None:
        cli.fail(
            f"run {key} has no stored report (run by an older version, or not finished): "
            "it cannot be written again"
        )
    try:
        result, fetch_incomplete = rebuild(stored)
    except StoredRunError as error:
        cli.fail(f"run {key}: {error}")
    out_dir = output or config.output_dir
    if (problem := cli.unusable_folder(out_dir)) is not None:
        cli.fail(f"output folder {out_dir}: {problem}")
    folders = RunFolders(out_dir)
    writers = [
        WRITERS[name](out_dir, folders) for name in file_formats(chosen_formats or config.formats)
    ]
    colour = terminal.wants_colour(sys.stdout)
    if not quiet:
        writers.insert(0, terminal.TerminalTable(lambda t: typer.echo(t, color=colour), colour))
    reports = Reports(writers, fetch_incomplete)
    reports.write(result)
    if not quiet:
        for path in reports.written:
            typer.echo(escape_controls(f"wrote {path}"))
        typer.echo(terminal.closing_line(result.totals(fetch_incomplete), colour), color=colour)
    raise typer.Exit(EXIT_OK)
