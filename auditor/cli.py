"""The ``auditor`` command line. Exit codes: 0 clean, 1 failed, 2 bad input, 3 incomplete."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
import yaml

from auditor import __version__
from auditor.check import SEVERITIES
from auditor.cli_gating import BaselineFile, SoftFail, baseline_app, gate_for_run, warn_unmatched
from auditor.cli_report import report_command
from auditor.config import AccountConfig, Config, ConfigError, EffectivePolicy, load_config
from auditor.fetch.secrets import install_log_redaction
from auditor.fsutil import remove_temporary_files
from auditor.registry import Registry, RegistryError, describe, load_registry
from auditor.result import (
    EXIT_BAD_INPUT,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_SIGNAL_BASE,
    FAIL_ON_NEVER,
    INTERRUPTED,
    Interrupted,
    interrupt,
    signal_name,
)
from auditor.untrusted import escape_controls
from auditor.wording import count

if TYPE_CHECKING:
    from auditor.fetch.run import FetchReport
    from auditor.result import AccountSink, AuditResult
    from auditor.store.history import HistoryStore

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
FAIL_ON_CHOICES = (*SEVERITIES, FAIL_ON_NEVER)

ChecksDirs = Annotated[
    list[Path] | None,
    typer.Option("--checks-dir", help="Also load checks from the *.py modules in this folder."),
]
Formats = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        metavar="json,csv,junit,sarif,html,markdown,terminal",
        help="Report formats, comma-separated or repeated (wins over the config's "
        "output.formats); JSON is always written, and CSV with HTML (its findings beyond the "
        "first few).",
    ),
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    _echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _echo(text: str, err: bool = False, *, lines: bool = False) -> None:
    """Prints ``text`` with its control characters escaped (``\\x1b``): it holds names,
    handles and reasons from configs, bundles and servers, which must not act on a terminal.
    One line (a newline in a value shows as ``\\n``) unless ``lines``: text laid out here."""
    typer.echo(escape_controls(text, keep_newlines=lines), err=err)


def _registry(checks_dirs: list[Path] | None) -> Registry:
    try:
        return load_registry(checks_dirs or [])
    except RegistryError as error:
        fail(str(error))


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
    _guard_logs()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (test runners swap it)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _guard_logs() -> None:
    """Warnings go to stderr, and no log line can carry a token (redacted on every handler)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = _StderrHandler()
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    install_log_redaction(root)


DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Print, per api account, the requests a fetch would make and the share of each "
        "rate limit they would use; make none.",
    ),
]


def _load(config_path: Path, checks_dir: list[Path] | None) -> tuple[Registry, Config]:
    registry = _registry(checks_dir)
    try:
        return registry, load_config(config_path, registry)
    except ConfigError as error:
        fail(str(error))


def _chosen_accounts(
    config: Config, clients: list[str] | None, accounts: list[str] | None = None
) -> list[AccountConfig]:
    """The config's accounts, narrowed by --client and --account PLATFORM:HANDLE."""
    unknown = sorted(set(clients or ()) - {c.name for c in config.clients})
    if unknown:
        fail(f"--client {unknown[0]!r} is not in {config.path}")
    chosen = [a for a in config.accounts() if not clients or a.client in clients]
    if accounts:
        wanted = []
        for text in accounts:
            platform, _, handle = text.partition(":")
            matches = [
                a
                for a in chosen
                if a.platform == platform.lower() and a.handle.lower() == handle.lower()
            ]
            if not handle or not matches:
                fail(f"--account {text!r}: no such account (PLATFORM:HANDLE, e.g. x:AcmeHelp)")
            wanted += [a for a in matches if a not in wanted]
        chosen = wanted
    return chosen


def _unusable_folder(folder: Path) -> str | None:
    """Why ``folder`` cannot be made or written to, or None; looks, creates nothing."""
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # a missing folder is made later: its nearest ancestor decides
    if not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def _check_paths_before_work(
    config: Config, accounts: list[AccountConfig], reports_dir: Path | None
) -> None:
    """Fails with one line, exit 2, before anything is fetched, audited or stored, when a
    place the run will write to cannot take it (a file where a folder goes, say)."""
    places = [("history store folder", config.store_path.parent)]
    if config.store_path.is_dir():
        fail(f"history store {config.store_path} is a folder, not a file")
    if any(a.source.type == "api" for a in accounts):
        places.append(("fetch.dir", config.fetch.dir))
    if reports_dir is not None:
        places.append(("output folder", reports_dir))
    for what, folder in places:
        problem = _unusable_folder(folder)
        if problem is not None:
            fail(f"{what} {folder}: {problem}")


def _open_store(config: Config) -> HistoryStore:
    from auditor.store.history import HistoryStore, StoreError

    try:
        config.store_path.parent.mkdir(parents=True, exist_ok=True)
        return HistoryStore(config.store_path, config.retention_days)
    except (StoreError, OSError) as error:
        fail(f"history store {config.store_path}: {error}")


def audit_accounts(
    config: Config,
    registry: Registry,
    chosen: list[AccountConfig],
    *,
    quiet: bool,
    sink_for: Callable[[dict[str, str]], SinkT],
    **engine_options: Any,
) -> tuple[AuditResult, SinkT, dict[str, str]]:
    """Fetch the chosen api accounts and audit every account into the sink ``sink_for`` makes
    from the incomplete fetches (account key -> why), as ``run`` and ``baseline create`` do;
    a config error is one line, exit 2."""
    from auditor.engine.audit import Engine

    try:
        with _open_store(config) as store:
            fetched = (
                _fetch(config, store, chosen, quiet)
                if any(a.source.type == "api" for a in chosen)
                else None
            )
            fetch_incomplete = {
                done.key: done.reason or "fetch incomplete"
                for done in (fetched.incomplete if fetched is not None else [])
            }
            sink = sink_for(fetch_incomplete)
            engine = Engine(
                config, registry, store=store, fetch_incomplete=fetch_incomplete, **engine_options
            )
            return engine.run(sink=sink), sink, fetch_incomplete
    except ConfigError as error:
        fail(str(error))


def _print_dry_run(config: Config, accounts: list[AccountConfig]) -> None:
    from auditor.fetch import preflight

    _echo(preflight.dry_run_text(config, accounts), lines=True)
    for account in accounts:
        if account.source.type != "api":
            _echo(f"{account.client} / {account.key}: reads {account.source.path}")


def _fetch(
    config: Config, store: HistoryStore, accounts: list[AccountConfig], quiet: bool
) -> FetchReport:
    from auditor.fetch import run as fetch
    from auditor.store.history import StoreError

    show_progress = not quiet and sys.stdout.isatty()

    def progress(done: fetch.AccountFetch, count: int, total: int) -> None:
        _echo(f"[{count}/{total}] fetched {fetch.describe(done)}")

    try:
        return fetch.fetch_api_accounts(
            config,
            store,
            accounts,
            clock=fetch.default_clock(),
            progress=progress if show_progress else None,
        )
    except StoreError as error:
        fail(f"history store {config.store_path}: {error}")
    except ConfigError as error:  # pseudonymisation on and no key: nothing is fetched
        fail(str(error))


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
) -> None:
    """Fetch the api accounts in CONFIG, audit every account, print a table, write reports;
    exit 0/1/2/3."""
    from auditor.reports import WRITERS, Reports, RunFolders, file_formats, parse_formats, terminal

    if fail_on is not None and fail_on not in FAIL_ON_CHOICES:
        fail(f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not {fail_on!r}")
    try:  # an unknown format fails before anything is read or written
        chosen_formats = None if formats is None else parse_formats(formats)
    except ValueError as error:
        fail(f"--format {error}")
    registry, config = _load(config_path, checks_dir)
    chosen = _chosen_accounts(config, client)
    if dry_run:
        _print_dry_run(config, chosen)
        raise typer.Exit(EXIT_OK)
    gate = gate_for_run(config, baseline)
    out_dir = output or config.output_dir
    _check_paths_before_work(config, chosen, reports_dir=out_dir)
    formats_wanted = file_formats(chosen_formats or config.formats)
    colour = terminal.wants_colour(sys.stdout)  # decided once: the table and the closing line

    def report_writers(fetch_incomplete: dict[str, str]) -> Reports:
        # Printed and written as the accounts are audited, in config order: the run keeps none.
        folders = RunFolders(out_dir)  # a client's files, in every format, in one folder
        writers = [WRITERS[name](out_dir, folders) for name in formats_wanted]
        if not quiet:
            writers.insert(0, terminal.TerminalTable(lambda t: typer.echo(t, color=colour), colour))
        return Reports(writers, fetch_incomplete)

    result, reports, fetch_incomplete = audit_accounts(
        config,
        registry,
        chosen,
        quiet=quiet,
        sink_for=report_writers,
        fail_on=fail_on,
        skip_invalid=skip_invalid,
        clients=client,
        workers=workers,
        gate=gate,
        soft_fail=soft_fail,
    )
    for message in result.input_errors:
        _echo(f"error: {message}", err=True)
    for key, reason in fetch_incomplete.items():
        _echo(f"incomplete fetch: {key}: {reason}", err=True)
    totals = result.totals(fetch_incomplete)
    warn_unmatched(config, totals.unmatched_suppressions)
    if not quiet:
        for path in reports.written:
            _echo(f"wrote {path}")
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
    raise typer.Exit(totals.code)


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
    registry = _registry(checks_dir)
    config = _load(config_path, checks_dir)[1] if config_path else None
    if output is not None and (problem := _unusable_folder(output)) is not None:
        fail(f"output folder {output}: {problem}")
    try:
        result = lint.lint(lint.read_files(paths), registry, config, fail_on)
        formats_wanted = chosen_formats or (config.formats if config is not None else ("json",))
        written = lint.write_reports(result, output, formats_wanted) if output else []
    except lint.LintInputError as error:
        fail(str(error))
    if not quiet:
        _echo(terminal.render(result), lines=True)
    totals = result.totals()
    closing = [] if quiet else [*(f"wrote {p}" for p in written), terminal.closing_line(totals)]
    for line in lint.finding_lines(result) + closing:
        _echo(line)
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
) -> None:
    """Fetch the api accounts of CONFIG into bundles (the canonical format), without auditing,
    so that CI can replay the audit; exit 0, 2 (bad config) or 3 (some account incomplete)."""
    _, config = _load(config_path, checks_dir)
    chosen = _chosen_accounts(config, client, account)
    if account and any(a.source.type != "api" for a in chosen):
        other = next(a for a in chosen if a.source.type != "api")
        fail(f"--account {other.key}: its source is {other.source.type}, not api: nothing to fetch")
    if dry_run:
        _print_dry_run(config, chosen)
        raise typer.Exit(EXIT_OK)
    _check_paths_before_work(config, chosen, reports_dir=None)
    with _open_store(config) as store:
        report = _fetch(config, store, chosen, quiet)
    if not report.accounts and not quiet:
        typer.echo("no account with source {type: api}: nothing to fetch")
    if not quiet and not sys.stdout.isatty():  # on a terminal, progress said it already
        from auditor.fetch.run import describe

        for done in report.accounts:
            _echo(f"fetched {describe(done)}")
    for done in report.incomplete:
        _echo(f"incomplete fetch: {done.key}: {done.reason}", err=True)
    if not quiet:
        for done in report.accounts:
            _echo(f"wrote {done.path}")
    raise typer.Exit(EXIT_INCOMPLETE if report.incomplete else EXIT_OK)


@checks_app.command("list")
def checks_list(checks_dir: ChecksDirs = None) -> None:
    """List every registered check."""
    from tabulate import tabulate

    registry = _registry(checks_dir)
    rows = [[c.id, c.title, c.severity, c.version, registry.origin(c.id)] for c in registry]
    typer.echo(tabulate(rows, headers=["id", "title", "severity", "version", "from"]))


@checks_app.command("show")
def checks_show(
    check_id: Annotated[str, typer.Argument(metavar="ID")], checks_dir: ChecksDirs = None
) -> None:
    """Print a check's documentation and parameters."""
    registry = _registry(checks_dir)
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

    _, config = _load(config_path, checks_dir)
    found = check_inputs(config, deep=deep)
    for message in dict.fromkeys(found.errors):
        _echo(f"error: {message}", err=True)
    for message in dict.fromkeys(found.warnings):
        _echo(f"warning: {message}", err=True)
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
        from auditor.fetch.preflight import check_secrets

        checked, problems = check_secrets(config)
        for problem in problems:
            _echo(f"error: {problem}", err=True)
        if problems:
            raise typer.Exit(EXIT_BAD_INPUT)
        typer.echo(f"tokens: {checked} named, all present")
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
    registry = _registry(checks_dir)
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
