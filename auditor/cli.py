"""The ``auditor`` command line. Exit codes: 0 clean, 1 failed, 2 bad input, 3 incomplete."""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
import yaml

from auditor import __version__
from auditor.cli_common import (
    FAIL_ON_CHOICES,
    ChecksDirs,
    DryRun,
    Formats,
    LogFormatOption,
    audit_into_reports,
    check_paths_before_work,
    chosen_accounts,
    echo,
    fail,
    fetch_accounts,
    guard_logs,
    load,
    load_registry_or_fail,
    open_store,
    print_dry_run,
    progress_for,
    unusable_folder,
)
from auditor.cli_distributed import enqueue_command, worker_command
from auditor.cli_gating import BaselineFile, SoftFail, baseline_app, gate_for_run, warn_unmatched
from auditor.cli_report import report_command
from auditor.cli_runs import client_outcomes, manual_runs
from auditor.cli_schedule import schedule_command
from auditor.cli_status import status_command
from auditor.config import ConfigError, EffectivePolicy, load_config
from auditor.fsutil import remove_temporary_files
from auditor.registry import RegistryError, describe
from auditor.result import (
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_SIGNAL_BASE,
    INTERRUPTED,
    Interrupted,
    interrupt,
    signal_name,
    worst_exit_code,
)
from auditor.wording import count

if TYPE_CHECKING:
    from auditor.result import AccountSink

SinkT = TypeVar("SinkT", bound="AccountSink")

app = typer.Typer(
    help="Audit how brands run customer service on social media.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
checks_app = typer.Typer(help="List and explain the checks.", no_args_is_help=True)
config_app = typer.Typer(help="Validate and inspect configs.", no_args_is_help=True)
demo_app = typer.Typer(help="Generate demo and benchmark data.", no_args_is_help=True)
app.add_typer(checks_app, name="checks")
app.add_typer(config_app, name="config")
app.add_typer(demo_app, name="demo")
app.add_typer(baseline_app, name="baseline")
app.command("report")(report_command)
app.command("schedule")(schedule_command)
app.command("status")(status_command)
app.command("enqueue")(enqueue_command)
app.command("worker")(worker_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"social-care-auditor {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Audit how brands run customer service on social media."""
    guard_logs()


@app.command()
def run(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="The audit config (YAML).")],
    fail_on: Annotated[
        str | None,
        typer.Option(
            help=f"Exit 1 on a finding at or above this severity ({', '.join(FAIL_ON_CHOICES)})."
        ),
    ] = None,
    soft_fail: SoftFail = False,
    baseline: BaselineFile = None,
    checks_dir: ChecksDirs = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Skip invalid bundle lines; their accounts are marked incomplete.")
    ] = False,
    client: Annotated[
        list[str] | None, typer.Option(help="Audit only this client (repeatable).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write reports here instead of the config's output.dir.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no table.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes that audit accounts in parallel (default: cores)."),
    ] = None,
    dry_run: DryRun = False,
    formats: Formats = None,
    log_format: LogFormatOption = "text",
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for clients another process (the scheduler) is auditing, "
            "instead of skipping them (exit 4).",
        ),
    ] = False,
) -> None:
    """Fetch the api accounts in CONFIG, audit every account, print a table, write reports;
    exit 0/1/2/3, 4 when a client was skipped as busy."""
    from auditor.reports import parse_formats, terminal

    if fail_on is not None and fail_on not in FAIL_ON_CHOICES:
        fail(f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not {fail_on!r}")
    try:  # an unknown format fails before anything is read or written
        chosen_formats = None if formats is None else parse_formats(formats)
    except ValueError as error:
        fail(f"--format {error}")
    registry, config = load(config_path, checks_dir)
    chosen = chosen_accounts(config, client)
    if dry_run:
        print_dry_run(config, chosen)
        raise typer.Exit(EXIT_OK)
    gate = gate_for_run(config, baseline)
    out_dir = output or config.output_dir
    check_paths_before_work(config, chosen, reports_dir=out_dir)
    colour = terminal.wants_colour(sys.stdout)  # decided once: the table and the closing line
    table = terminal.TerminalTable(lambda t: typer.echo(t, color=colour), colour)
    progress = progress_for(log_format, quiet)
    names = list(dict.fromkeys(a.client for a in chosen))
    with (
        open_store(config) as store,
        manual_runs(
            config, store, names, wait=wait, say=lambda line: echo(line, err=True)
        ) as claims,
    ):
        chosen = [a for a in chosen if a.client not in claims.refused]
        if not chosen:
            raise typer.Exit(EXIT_BUSY)
        done = audit_into_reports(
            config,
            registry,
            chosen,
            out_dir=out_dir,
            formats=chosen_formats or config.formats,
            table=None if quiet else table,
            progress=progress,
            fail_on=fail_on,
            skip_invalid=skip_invalid,
            clients=[name for name in names if name not in claims.refused],
            workers=workers,
            gate=gate,
            soft_fail=soft_fail,
        )
        outcomes = client_outcomes(done, chosen)
        claims.finish(outcomes, done.result.run_id)
        for name, why in claims.notify(done, outcomes).items():
            echo(f"notification of {name} failed: {why}", err=True)
    result, totals = done.result, done.totals
    for message in result.input_errors:
        echo(f"error: {message}", err=True)
    for key, reason in done.fetch_incomplete.items():
        echo(f"incomplete fetch: {key}: {reason}", err=True)
    warn_unmatched(config, totals.unmatched_suppressions)
    if not quiet:
        for path in done.written:
            echo(f"wrote {path}")
        typer.echo(terminal.closing_line(totals, colour), color=colour)
    if result.interrupted is not None:
        stopped = sum(1 for what in totals.incomplete.values() if what == [INTERRUPTED])
        typer.echo(
            f"interrupted by {signal_name(result.interrupted)}: {stopped} of "
            f"{count(totals.accounts, 'account')} not audited (reports written)",
            err=True,
        )
    elif result.stopped_after is not None:
        typer.echo(
            f"interrupted by {signal_name(result.stopped_after)} as the run was closing: "
            "every account audited, reports written",
            err=True,
        )
        raise typer.Exit(EXIT_SIGNAL_BASE + result.stopped_after)
    raise typer.Exit(worst_exit_code([totals.code, EXIT_BUSY if claims.refused else EXIT_OK]))


@app.command("lint")
def lint_command(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Files or folders.")],
    config_path: Annotated[Path | None, typer.Option("--config", metavar="FILE")] = None,
    fail_on: Annotated[str | None, typer.Option(help="As for run.")] = None,
    output: Annotated[Path | None, typer.Option(help="Also write reports here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Findings only.")] = False,
    checks_dir: ChecksDirs = None,
    formats: Formats = None,
) -> None:
    """Check profile texts and reply templates in files before they are published (docs/lint.md)."""
    from auditor import lint
    from auditor.reports import parse_formats, terminal

    try:
        chosen_formats = None if formats is None else parse_formats(formats)
    except ValueError as error:
        fail(f"--format {error}")
    registry = load_registry_or_fail(checks_dir)
    config = load(config_path, checks_dir)[1] if config_path else None
    if output is not None and (problem := unusable_folder(output)) is not None:
        fail(f"output folder {output}: {problem}")
    try:
        result = lint.lint(lint.read_files(paths), registry, config, fail_on)
        formats_wanted = chosen_formats or (config.formats if config is not None else ("json",))
        written = lint.write_reports(result, output, formats_wanted) if output else []
    except lint.LintInputError as error:
        fail(str(error))
    if not quiet:
        echo(terminal.render(result), lines=True)
    totals = result.totals()
    closing = [] if quiet else [*(f"wrote {p}" for p in written), terminal.closing_line(totals)]
    for line in lint.finding_lines(result) + closing:
        echo(line)
    raise typer.Exit(totals.code)


@app.command("fetch")
def fetch_command(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="The audit config (YAML).")],
    client: Annotated[
        list[str] | None, typer.Option(help="Fetch only this client's accounts (repeatable).")
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(metavar="PLATFORM:HANDLE", help="Fetch only this account (repeatable)."),
    ] = None,
    dry_run: DryRun = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    checks_dir: ChecksDirs = None,
    log_format: LogFormatOption = "text",
) -> None:
    """Fetch the api accounts of CONFIG into bundles (the canonical format), without auditing,
    so that CI can replay the audit; exit 0, 2 (bad config) or 3 (some account incomplete)."""
    from auditor.fetch import run as fetch

    progress = progress_for(log_format, quiet)  # a status line on a terminal, else log lines
    _, config = load(config_path, checks_dir)
    chosen = chosen_accounts(config, client, account)
    if account and any(a.source.type != "api" for a in chosen):
        other = next(a for a in chosen if a.source.type != "api")
        fail(f"--account {other.key}: its source is {other.source.type}, not api: nothing to fetch")
    if dry_run:
        print_dry_run(config, chosen)
        raise typer.Exit(EXIT_OK)
    check_paths_before_work(config, chosen, reports_dir=None)

    with open_store(config) as store:
        try:
            report = fetch_accounts(config, store, chosen, progress)
        finally:
            progress.finish()
    if not report.accounts and not quiet:
        typer.echo("no account with source {type: api}: nothing to fetch")
    if not quiet:  # the status line is gone: what each fetch did stays on stdout
        for done in report.accounts:
            echo(f"fetched {fetch.describe(done)}")
    for done in report.incomplete:
        echo(f"incomplete fetch: {done.key}: {done.reason}", err=True)
    if not quiet:
        for done in report.accounts:
            echo(f"wrote {done.path}")
    raise typer.Exit(EXIT_INCOMPLETE if report.incomplete else EXIT_OK)


@checks_app.command("list")
def checks_list(checks_dir: ChecksDirs = None) -> None:
    """List every registered check."""
    from tabulate import tabulate

    registry = load_registry_or_fail(checks_dir)
    rows = [[c.id, c.title, c.severity, c.version, registry.origin(c.id)] for c in registry]
    typer.echo(tabulate(rows, headers=["id", "title", "severity", "version", "from"]))


@checks_app.command("show")
def checks_show(
    check_id: Annotated[str, typer.Argument(metavar="ID")], checks_dir: ChecksDirs = None
) -> None:
    """Print a check's documentation and parameters."""
    registry = load_registry_or_fail(checks_dir)
    try:
        check = registry.get(check_id.upper())
    except RegistryError as error:
        fail(f"{error}; see 'auditor checks list'")
    typer.echo(describe(check))


@config_app.command("validate")
def config_validate(
    config_path: Annotated[Path, typer.Argument(metavar="FILE")],
    checks_dir: ChecksDirs = None,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Read every input file whole, every line parsed as run parses it (same "
            "file:line messages); without it, each input is only opened and its start read.",
        ),
    ] = False,
    secrets: Annotated[
        bool,
        typer.Option(
            "--secrets",
            help="Also check that every token the api accounts name is present (environment "
            "variable set and non-empty, or file readable); never prints one.",
        ),
    ] = False,
) -> None:
    """Check a config against its schema and the registered checks, and that every input file
    exists and can be read; exit 2 if run would reject it, 3 if run would audit some account
    as incomplete (--deep: rows it cannot read)."""
    from auditor.input_check import check_inputs

    _, config = load(config_path, checks_dir)
    found = check_inputs(config, deep=deep)
    for message in dict.fromkeys(found.errors):
        echo(f"error: {message}", err=True)
    for message in dict.fromkeys(found.warnings):
        echo(f"warning: {message}", err=True)
    if found.errors:
        errors = count(len(dict.fromkeys(found.errors)), "input error")
        fail(f"{config_path}: the config itself is valid, but run would stop on {errors}")
    inputs = f"{count(found.files, 'input file')} {'read whole' if deep else 'readable'}"
    if found.api_accounts:
        inputs += f", {count(found.api_accounts, 'api account')} to fetch"
    clients, accounts = len(config.clients), len(config.accounts())
    typer.echo(
        f"{config_path}: valid ({count(clients, 'client')}, {count(accounts, 'account')}; {inputs})"
    )
    if secrets:
        from auditor.fetch.preflight import check_secrets, check_service_passwords
        from auditor.notify.channel import missing_secrets

        checked, problems = check_secrets(config)
        notify_checked, notify_problems = missing_secrets(config.clients)
        services_checked, service_problems = check_service_passwords(config)
        for problem in [*map(str, problems), *notify_problems, *service_problems]:
            echo(f"error: {problem}", err=True)
        if problems or notify_problems or service_problems:
            raise typer.Exit(EXIT_BAD_INPUT)
        typer.echo(f"tokens: {checked} named, all present")
        if notify_checked:
            typer.echo(f"notification secrets: {notify_checked} named, all present")
        if services_checked:
            typer.echo(f"service passwords: {services_checked} named, all present")
    if found.warnings:
        raise typer.Exit(EXIT_INCOMPLETE)


@config_app.command("show")
def config_show(
    config_path: Annotated[Path, typer.Argument(metavar="FILE")],
    account: Annotated[str, typer.Option(help="Handle, or PLATFORM:HANDLE.")],
    client: Annotated[
        str | None, typer.Option(help="The client, if the handle is ambiguous.")
    ] = None,
    checks_dir: ChecksDirs = None,
) -> None:
    """Print the effective policy of one account (defaults < policy < client < account)."""
    registry = load_registry_or_fail(checks_dir)
    try:
        config = load_config(config_path, registry)
    except ConfigError as error:
        fail(str(error))
    platform, _, handle = account.rpartition(":")
    matches = [
        a
        for a in config.accounts()
        if a.handle.lower() == handle.lower()
        and (not platform or a.platform == platform)
        and (client is None or a.client == client)
    ]
    if not matches:
        fail(f"no account {account!r} in {config_path}")
    if len(matches) > 1:
        names = ", ".join(f"{a.client}/{a.key}" for a in matches)
        fail(f"{account!r} is ambiguous ({names}); add --client or PLATFORM:")
    chosen = matches[0]
    policy = EffectivePolicy.resolve(config, chosen, registry)
    document = {
        "client": chosen.client,
        "account": str(chosen.key),
        "source": {"type": chosen.source.type, "path": str(chosen.source.path)},
        "policy": policy.as_dict(),
    }
    typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True).rstrip())


@demo_app.command("generate")
def demo_generate(
    out: Annotated[Path, typer.Option(help="Bundle to write (.jsonl or .jsonl.gz).")],
    posts: Annotated[int, typer.Option(min=1, help="Posts in all.")] = 2000,
    accounts: Annotated[int, typer.Option(min=1, help="Brand accounts.")] = 3,
    seed: Annotated[int, typer.Option(help="Same seed, same bundle.")] = 1,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 14,
    end: Annotated[
        str | None, typer.Option(help="Window end, ISO 8601 with offset (default fixed).")
    ] = None,
) -> None:
    """Write a deterministic demo bundle with realistic customer and brand posts."""
    from auditor.demo import generator as demo
    from auditor.sources.bundle import write_bundle

    end_at = demo.DEFAULT_END
    if end is not None:
        try:
            end_at = datetime.fromisoformat(end)
        except ValueError:
            fail(f"--end {end!r} is not an ISO 8601 time")
        if end_at.tzinfo is None:
            fail("--end needs a UTC offset, e.g. 2026-11-16T00:00:00+00:00")
    records = demo.generate_records(posts, accounts, seed, end=end_at, days=days)
    count = write_bundle(out, records)
    typer.echo(f"wrote {count} records to {out}")


@app.command("classify")
def classify_command(
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="Texts to label: a file, or - for stdin.")
    ],
    column: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="The CSV column or JSONL key of the text (default text)."
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="A CSV column or JSONL key printed beside each result."),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="lines|csv|jsonl",
            help="How to read the input (default: by extension, .csv, .jsonl or .ndjson; "
            "otherwise, and for -, one text per line).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per text instead of a TSV row.")
    ] = False,
) -> None:
    """Label texts as the conduct checks would: complaint, question, praise, spam, other, or
    unclassified (a language without lexicons, named, never guessed).

    Prints one tab-separated row per text, after a header, the same on a terminal and in a
    pipe: line (where the text is in the input), id (with --id-column), label, confidence
    (- where a rule, not a score, decided), language, reasons (the phrases or features that
    weighed most, separated by "; ") and the start of the text. Blank lines are skipped. Bad
    input (a missing file, no such column, a malformed CSV or JSONL line) is one error line and
    exit 2; the rows before it are printed."""
    from auditor import label_texts
    from auditor.analysis.classify import default_classifier

    name = "stdin" if source == "-" else source
    try:
        form = label_texts.input_format(source, input_format)
        with label_texts.open_texts(source, typer.get_binary_stream("stdin")) as stream:
            texts = label_texts.read_texts(stream, name, form, column, id_column)
            for rows in label_texts.labelled(
                texts, name, default_classifier(), with_ids=id_column is not None, as_json=as_json
            ):
                typer.echo(rows)
    except label_texts.UnreadableTexts as error:
        fail(str(error))


def _stop_on_signals() -> None:
    """SIGINT (Ctrl-C) and SIGTERM (systemd, Kubernetes, cron), one rule.

    The first raises :class:`~auditor.result.Interrupted` where the run is (or, in a step
    that must be done whole, as it ends: :func:`~auditor.result.stop_signals_held`): the
    engine starts no new account, stops those in flight with its workers, keeps those done,
    writes their reports and marks the run interrupted; the command exits 128 + the signal
    (130, 143). A second signal exits at once, removing the temporary files of writes under
    way (the reports' accounts in progress are in unnamed files, which vanish with the process).
    """

    def at_once(signum: int, frame: object) -> None:
        remove_temporary_files()
        os.write(2, f"interrupted by {signal_name(signum)} again: stopped at once\n".encode())
        os._exit(128 + signum)

    def first(signum: int, frame: object) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, at_once)
        interrupt(signum)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, first)


def main() -> None:
    # Arrow's default allocator (mimalloc) asks the kernel for huge pages; where the kernel
    # compacts memory to find them (transparent huge pages with defrag "madvise", a common
    # setting) reading a large twcs file stalled in the kernel. The system allocator measured
    # steadier and faster (twcs tiled to 1M rows, whole run: 7.44-7.80 s -> 7.13-7.21 s).
    # Set before anything imports pyarrow; a user's own setting wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    _stop_on_signals()
    try:
        app()
    except Interrupted as stop:  # before the audit began, or while its reports were written
        typer.echo(f"interrupted by {stop}", err=True)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
