"""The ``auditor`` command line. Exit codes: 0 clean, 1 failed, 2 bad input, 3 incomplete."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
import yaml

from auditor import __version__
from auditor.check import SEVERITIES
from auditor.config import ConfigError, EffectivePolicy, load_config
from auditor.registry import Registry, RegistryError, load_registry
from auditor.result import EXIT_BAD_INPUT

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

ChecksDirs = Annotated[
    list[Path] | None,
    typer.Option("--checks-dir", help="Also load checks from the *.py modules in this folder."),
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


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


@app.command()
def run(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="The audit config (YAML).")],
    fail_on: Annotated[
        str | None,
        typer.Option(
            help=f"Exit 1 on a finding at or above this severity ({', '.join(SEVERITIES)})."
        ),
    ] = None,
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
) -> None:
    """Audit every account in CONFIG, print a table, write reports; exit 0/1/2/3."""
    from auditor.engine import Engine
    from auditor.store import HistoryStore, StoreError
    from reports import WRITERS, terminal

    if fail_on is not None and fail_on not in SEVERITIES:
        fail(f"--fail-on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    registry = _registry(checks_dir)
    try:
        config = load_config(config_path, registry)
    except ConfigError as error:
        fail(str(error))
    unknown = sorted(set(client or ()) - {c.name for c in config.clients})
    if unknown:
        fail(f"--client {unknown[0]!r} is not in {config_path}")
    try:
        config.store_path.parent.mkdir(parents=True, exist_ok=True)
        store = HistoryStore(config.store_path, config.retention_days)
    except (StoreError, OSError) as error:
        fail(f"history store {config.store_path}: {error}")
    try:
        with store:
            engine = Engine(
                config,
                registry,
                store=store,
                fail_on=fail_on,
                skip_invalid=skip_invalid,
                clients=client,
                workers=workers,
            )
            result = engine.run()
    except ConfigError as error:
        fail(str(error))
    if not quiet:
        typer.echo(terminal.render(result))
    out_dir = output or config.output_dir
    written = []
    for name in config.formats:
        written += WRITERS[name](result, out_dir)
    for message in result.input_errors:
        typer.echo(f"error: {message}", err=True)
    code = result.exit_code()
    if not quiet:
        for path in written:
            typer.echo(f"wrote {path}")
        typer.echo(f"exit {code}")
    raise typer.Exit(code)


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
    typer.echo(f"{check.id} {check.title}  (severity {check.severity}, version {check.version})\n")
    typer.echo(check.docs.strip())
    properties = check.parameters.get("properties", {})
    if properties:
        typer.echo("\n## Parameters")
        for name, spec in properties.items():
            default = json.dumps(spec.get("default")) if "default" in spec else "required"
            typer.echo(f"- {name} (default {default}): {spec.get('description', '')}")
    needs = [k for k in ("profile", "posts", "conversations", "history") if getattr(check.needs, k)]
    needs += [f"observes {o}" for o in sorted(check.needs.observes)]
    if check.needs.complete_window:
        needs.append("a complete window")
    if needs:
        typer.echo(f"\nNeeds: {', '.join(needs)}")


@config_app.command("validate")
def config_validate(
    config_path: Annotated[Path, typer.Argument(metavar="FILE")], checks_dir: ChecksDirs = None
) -> None:
    """Check a config against its schema and the registered checks; exit 2 if it is wrong."""
    registry = _registry(checks_dir)
    try:
        config = load_config(config_path, registry)
    except ConfigError as error:
        fail(str(error))
    accounts = config.accounts()
    typer.echo(f"{config_path}: valid ({len(config.clients)} clients, {len(accounts)} accounts)")


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
    from auditor import demo
    from auditor.bundle import write_bundle

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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
