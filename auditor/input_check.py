"""Would ``run`` read a config's inputs? ``auditor config validate`` asks this module.

Every bundle and twcs file must exist and be readable; with ``deep``, each is read whole through
the source contract ``run`` reads it through, so that a bad line gets the same ``file:line``
message here as there. ``api`` accounts have no input file until the run fetches them.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from auditor.config import AccountConfig, Config
from auditor.sources.files import open_regular
from auditor.sources.inputs import InputError, open_inputs
from auditor.wording import count

# Input files named by source type; ``api`` accounts have none until the run fetches them.
_FILE_KINDS = {"bundle": "bundle", "twcs": "twcs file"}


@dataclass(slots=True)
class InputCheck:
    """What validating a config's inputs found.

    ``errors`` are what ``run`` rejects (bad input, exit 2); ``warnings`` are what it reads but
    audits as incomplete (exit 3), such as twcs rows it cannot read.
    """

    files: int = 0
    api_accounts: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _input_files(config: Config) -> dict[tuple[str, Path], list[AccountConfig]]:
    """Each input file (source type, path) and the accounts read from it, in config order."""
    files: dict[tuple[str, Path], list[AccountConfig]] = {}
    for account in config.accounts():
        if account.source.type in _FILE_KINDS and account.source.path is not None:
            files.setdefault((account.source.type, account.source.path), []).append(account)
    return files


def _probe(kind: str, path: Path) -> str | None:
    """Why a file cannot be read, from its first block (unzipped for .gz); None if it can."""
    try:
        with open_regular(path) as stream:
            head = stream.read(1 << 16)
    except OSError as error:
        return f"{path}: cannot open {kind}: {error.strerror or error}"
    if path.suffix == ".gz" and head:
        try:
            gzip.GzipFile(fileobj=io.BytesIO(head)).read(1)
        except EOFError:
            pass  # more than the first block is compressed: the rest is read by --deep
        except (OSError, zlib.error) as error:
            return f"{path}: cannot read {kind}: {error}"
    return None


def check_inputs(config: Config, *, deep: bool = False) -> InputCheck:
    """Whether every input file of ``config`` exists and can be read; with ``deep``, every one
    read whole through the same readers ``run`` uses, so that a bad line gets the same
    ``file:line`` message here as there."""
    found = InputCheck(api_accounts=sum(1 for a in config.accounts() if a.source.type == "api"))
    files = _input_files(config)
    found.files = len(files)
    for (source_type, path), accounts in files.items():
        problem = _probe(_FILE_KINDS[source_type], path)
        if problem is not None:
            found.errors.append(problem)
        elif deep:
            _read_whole(source_type, path, accounts, found)
    return found


def _read_whole(
    source_type: str, path: Path, accounts: list[AccountConfig], found: InputCheck
) -> None:
    (source,) = open_inputs((source_type, path, a.key, a.source.options) for a in accounts)
    try:
        known = source.index() or source.open()
        found.errors.extend(message for _, message in (known.missing if known else []))
        for data in source.read_all():
            if data.invalid_records:
                found.errors.extend(data.errors)
                invalid = count(data.invalid_records, "invalid record")
                found.errors.append(
                    f"{data.key}: {invalid}: run rejects the account "
                    "(run --skip-invalid audits the valid records, as incomplete)"
                )
            elif data.errors:
                found.warnings.extend(data.errors)
                reason = data.window.reason if data.window is not None else None
                found.warnings.append(f"{data.key}: audited as incomplete: {reason}")
    except InputError as error:
        found.errors.append(str(error))
    finally:
        source.close()
