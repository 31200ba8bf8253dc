"""What the commands share: loading a config and its checks, failing with one line, the history
store, fetching, and auditing chosen accounts into report writers (``run`` and ``auditor
schedule`` run an audit the same way)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from auditor.check import SEVERITIES
from auditor.config import AccountConfig, Config, ConfigError, load_config
from auditor.fetch.secrets import install_log_redaction
from auditor.progress import LogFormat, StderrLogHandler
from auditor.registry import Registry, RegistryError, load_registry
from auditor.result import EXIT_BAD_INPUT, FAIL_ON_NEVER
from auditor.untrusted import escape_controls

if TYPE_CHECKING:
    from auditor.fetch.http import HttpClient
    from auditor.fetch.run import FetchReport
    from auditor.progress import Progress
    from auditor.reports import ReportWriter
    from auditor.result import AccountSink, AuditResult, Totals
    from auditor.store.history import HistoryStore

SinkT = TypeVar("SinkT", bound="AccountSink")
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


class Failed(typer.Exit):
    """A command stopped with one line (printed as ``error: ...``) and an exit code; the
    scheduler records the line as the client's failure and goes on with the others."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(code)
        self.message = message


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="Logs on stderr as text lines or JSON lines (one object per line; no status "
        "line is drawn among them).",
    ),
]


def progress_for(
    log_format: LogFormat, quiet: bool, *, level: int | None = None, timed: bool = False
) -> Progress:
    """The command's progress (a status line on a terminal, log lines otherwise, nothing when
    ``quiet``) with the logs set up to match, at ``level`` if given, text lines with their
    time if ``timed`` (docs/logging.md)."""
    from auditor.progress import Progress, configure_logging

    progress = Progress.for_stream(sys.stderr, log_format, quiet=quiet)
    configure_logging(log_format, progress.log_level if level is None else level, timed=timed)
    return progress


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    echo(f"error: {message}", err=True)
    raise Failed(escape_controls(message), code)


def echo(text: str, err: bool = False, *, lines: bool = False) -> None:
    """Prints ``text`` with its control characters escaped (``\\x1b``): it holds names,
    handles and reasons from configs, bundles and servers, which must not act on a terminal.
    One line (a newline in a value shows as ``\\n``) unless ``lines``: text laid out here."""
    typer.echo(escape_controls(text, keep_newlines=lines), err=err)


def load_registry_or_fail(checks_dirs: list[Path] | None) -> Registry:
    try:
        return load_registry(checks_dirs or [])
    except RegistryError as error:
        fail(str(error))


def guard_logs() -> None:
    """Warnings go to stderr, and no log line can carry a token (redacted on every handler)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = StderrLogHandler()
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


def load(config_path: Path, checks_dir: list[Path] | None) -> tuple[Registry, Config]:
    registry = load_registry_or_fail(checks_dir)
    try:
        return registry, load_config(config_path, registry)
    except ConfigError as error:
        fail(str(error))


def chosen_accounts(
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


def unusable_folder(folder: Path) -> str | None:
    """Why ``folder`` cannot be made or written to, or None; looks, creates nothing."""
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # a missing folder is made later: its nearest ancestor decides
    if not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def check_paths_before_work(
    config: Config, accounts: list[AccountConfig], reports_dir: Path | None
) -> None:
    """Fails with one line, exit 2, before anything is fetched, audited or stored, when a
    place the run will write to cannot take it (a file where a folder goes, say)."""
    # A PostgreSQL store has no folder here: opening it says what is wrong with it.
    places = [] if config.store_url else [("history store folder", config.store_path.parent)]
    if config.store_url is None and config.store_path.is_dir():
        fail(f"history store {config.store_path} is a folder, not a file")
    if any(a.source.type == "api" for a in accounts):
        places.append(("fetch.dir", config.fetch.dir))
    if reports_dir is not None:
        places.append(("output folder", reports_dir))
    for what, folder in places:
        problem = unusable_folder(folder)
        if problem is not None:
            fail(f"{what} {folder}: {problem}")


def open_store(config: Config) -> HistoryStore:
    from auditor.fetch.store_location import open_config_store
    from auditor.store.history import StoreError

    try:
        # The file's folder; for a PostgreSQL store, the output folder its heartbeat file goes in.
        config.store_path.parent.mkdir(parents=True, exist_ok=True)
        return open_config_store(config)
    except (StoreError, OSError) as error:
        fail(store_failure(config, error))


def store_failure(config: Config, error: BaseException) -> str:
    """The one line for a store that failed: named once (a PostgreSQL store's own errors
    already name it, by its URL without a password)."""
    from auditor.fetch.store_location import store_name

    message = str(error)
    return (
        message
        if message.startswith("history store ")
        else f"history store {store_name(config)}: {message}"
    )


def audit_accounts(
    config: Config,
    registry: Registry,
    chosen: list[AccountConfig],
    *,
    progress: Progress | None,
    sink_for: Callable[[dict[str, str]], SinkT],
    http_client: HttpClient | None = None,
    **engine_options: Any,
) -> tuple[AuditResult, SinkT, dict[str, str]]:
    """Fetch the chosen api accounts and audit every account into the sink ``sink_for`` makes
    from the incomplete fetches (account key -> why), as ``run`` and ``baseline create`` do;
    a config error is one line, exit 2."""
    from auditor.engine.audit import Engine

    try:
        with open_store(config) as store:
            fetched = (
                fetch_accounts(config, store, chosen, progress, http_client)
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


@dataclass(frozen=True)
class AuditRun:
    """An audit done and reported: the result, its totals (and exit code), the files written,
    each client's report folder, and the api accounts whose fetch was incomplete (key -> why)."""

    result: AuditResult
    totals: Totals
    written: list[Path]
    folders: dict[str, Path]
    fetch_incomplete: dict[str, str]


def audit_into_reports(
    config: Config,
    registry: Registry,
    chosen: list[AccountConfig],
    *,
    out_dir: Path,
    formats: Sequence[str],
    table: ReportWriter | None,
    progress: Progress | None,
    http_client: HttpClient | None = None,
    **engine_options: Any,
) -> AuditRun:
    """Fetch and audit the chosen accounts, writing each client's reports in ``formats`` (and
    those they need) to its own run folder under ``out_dir`` (``<client>/<start>-<run id>/``),
    and ``table`` first when given, ``progress`` moved on as accounts are fetched and audited;
    ``run`` does this, and the scheduler for each client."""
    from auditor.progress import ProgressWriter
    from auditor.reports import WRITERS, Reports, RunFolders, file_formats

    folders = RunFolders(out_dir)  # a client's files, in every format, in one folder

    def report_writers(fetch_incomplete: dict[str, str]) -> Reports:
        # Printed and written as the accounts are audited, in config order: the run keeps none.
        writers = [WRITERS[name](out_dir, folders) for name in file_formats(formats)]
        shown = table if progress is None else ProgressWriter(progress, len(chosen), table)
        if shown is not None:
            writers.insert(0, shown)
        return Reports(writers, fetch_incomplete)

    result, reports, fetch_incomplete = audit_accounts(
        config,
        registry,
        chosen,
        progress=progress,
        sink_for=report_writers,
        http_client=http_client,
        **engine_options,
    )
    if config.keep_days is not None:
        from datetime import UTC, datetime

        from auditor.reports.retention import prune_report_folders

        prune_report_folders(out_dir, folders.made(), config.keep_days, datetime.now(UTC))
    return AuditRun(
        result,
        result.totals(fetch_incomplete),
        list(reports.written),
        folders.made(),
        fetch_incomplete,
    )


def http_client_for(config: Config) -> HttpClient:
    """The one HTTP client a long-lived process (the scheduler, a worker) passes to each fetch,
    with ``config``'s fetch settings and rate limiter (``fetch.shared_limits``: Redis); a
    Redis that cannot be used is one line, exit 2. The caller closes it."""
    from auditor.fetch import run as fetch

    try:
        return fetch.http_client_for(config, fetch.default_clock())
    except ConfigError as error:
        fail(str(error))


def print_dry_run(config: Config, accounts: list[AccountConfig]) -> None:
    from auditor.fetch import preflight

    echo(preflight.dry_run_text(config, accounts), lines=True)
    for account in accounts:
        if account.source.type != "api":
            echo(f"{account.client} / {account.key}: reads {account.source.path}")


def fetch_accounts(
    config: Config,
    store: HistoryStore,
    accounts: list[AccountConfig],
    progress: Progress | None,
    http_client: HttpClient | None = None,
) -> FetchReport:
    """Fetch the api accounts among ``accounts``, moving ``progress`` on after each; a config
    or store error is one line, exit 2."""
    from auditor.fetch import run as fetch
    from auditor.store.history import StoreError

    def account_fetched(done: fetch.AccountFetch, count: int, total: int) -> None:
        assert progress is not None
        progress.account_done(done.client, done.key, done.posts)

    if progress is not None:
        progress.start(len(fetch.api_accounts(accounts)), "fetched")
    try:
        return fetch.fetch_api_accounts(
            config,
            store,
            accounts,
            clock=fetch.default_clock(),
            http_client=http_client,
            progress=None if progress is None else account_fetched,
        )
    except StoreError as error:
        fail(store_failure(config, error))
    except ConfigError as error:  # pseudonymisation on and no key: nothing is fetched
        fail(str(error))
