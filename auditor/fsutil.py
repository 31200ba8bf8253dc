"""File helpers shared by every writer: safe names from data, atomic writes."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# What safe_name appends to a name it had to change: a name that already ends so is hashed too,
# or ``Acme/EU`` (cleaned to ``Acme-EU-<hash>``) and a client named ``Acme-EU-<hash>`` would
# share a folder.
_HASHED = re.compile(r"-[0-9a-f]{8}$")


def safe_name(name: str, limit: int = 60) -> str:
    """A file name made from data (a client name, a handle) that cannot escape its folder.

    Injective: a name is kept as it is only when it is already safe and does not end the way a
    changed name does; any other gets a short hash of the exact original, so that two
    different names never share a file.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("-", ascii_name).strip("-.")[:limit] or "unnamed"
    if cleaned != name or _HASHED.search(name):
        cleaned = f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return cleaned


def run_folder(started_at: datetime) -> str:
    return started_at.strftime("%Y%m%dT%H%M%SZ")


def new_run_folder(parent: Path, started_at: datetime, run_id: str) -> Path:
    """A folder of its own for one run's files under ``parent``, created here and empty:
    ``<start time>-<run id prefix>``, then ``-2``, ``-3``... if another run (the same inputs
    again in the same second, in this process or another) took that name first. Creation is
    exclusive (mkdir), so no two runs ever share a folder and nothing is overwritten."""
    parent.mkdir(parents=True, exist_ok=True)
    base = f"{run_folder(started_at)}-{safe_name(run_id[:8])}" if run_id else run_folder(started_at)
    for attempt in range(1, 10_000):
        folder = parent / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"{parent}: no free folder name for run {base}")


# The temporary files of the atomic writes under way (in any thread): a process that must exit
# at once (a second stop signal) removes them first, so that none is ever left behind.
_TEMPORARY: set[str] = set()


def remove_temporary_files() -> None:
    """Remove the temporary files of the atomic writes under way (their targets stay as they
    were): for a process about to exit without finishing them."""
    for temp in list(_TEMPORARY):
        Path(temp).unlink(missing_ok=True)
        _TEMPORARY.discard(temp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[bytes]]:
    """A file that appears at ``path`` whole or not at all: written beside it, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    _TEMPORARY.add(temp)
    try:
        # mkstemp makes private files; a report or bundle gets the usual permissions.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    finally:
        _TEMPORARY.discard(temp)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    with atomic_writer(path) as stream:
        stream.write(data)
    return path
