"""Retention of report folders: after a run, each client's run folders older than
``output.keep_days`` are removed and its ``index.html`` rewritten to list what remains.

A folder's age is the start time in its name (``fsutil.run_folder``), not its mtime, so a
copied or restored folder keeps its age. Only what this tool writes is ever removed: a folder
whose name is not exactly a run folder name (a user's notes, an unknown name), a file, and a
symbolic link (to a run folder or in place of the client's folder) are left alone. The run
just written is kept whatever its clock said. A folder that cannot be removed is one warning;
the run still succeeds.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.fsutil import run_folder, safe_name
from auditor.reports.html import INDEX_NAME, write_index
from auditor.wording import count

log = logging.getLogger("auditor.retention")

# What ``fsutil.new_run_folder`` names a folder: the start time, the run id's first 8 hex
# digits (none for a run without an id), then ``-2``... when that name was taken.
_RUN_FOLDER = re.compile(r"(\d{8}T\d{6}Z)(?:-[0-9a-f]{8})?(?:-(?:[2-9]|[1-9][0-9]{1,3}))?")


def run_folder_started(name: str) -> datetime | None:
    """When the run that wrote the folder ``name`` started (UTC), or None when ``name`` is not
    a run folder's name exactly as this tool writes it."""
    match = _RUN_FOLDER.fullmatch(name)
    if match is None:
        return None
    stamp = match.group(1)
    try:
        started = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:  # month 13, say
        return None
    # strptime is lenient about widths; only the very text run_folder writes counts.
    return started if run_folder(started) == stamp else None


def prune_report_folders(
    output_dir: Path, written: Mapping[str, Path], keep_days: int, now: datetime
) -> list[Path]:
    """Remove, in the folder of each client in ``written`` (client name -> the run folder this
    run wrote, which is kept), the run folders that started more than ``keep_days`` days before
    ``now``: one exactly ``keep_days`` old stays. Rewrites the client's ``index.html`` when it
    has one; logs one INFO line per client that lost folders. Returns the folders removed."""
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1, not {keep_days}")
    cutoff = now - timedelta(days=keep_days)
    removed: list[Path] = []
    for client, kept in written.items():
        client_folder = output_dir / safe_name(client)
        if client_folder.is_symlink():
            log.warning(
                "report folders of %s not pruned: %s is a symbolic link (left alone)",
                client,
                client_folder,
            )
            continue
        if not client_folder.is_dir():
            continue
        old = _old_run_folders(client_folder, kept.name, cutoff)
        pruned = [folder for folder in old if _remove(folder)]
        # Even a folder only partly removed may have lost its report.html.
        if old and (client_folder / INDEX_NAME).is_file():
            _rewrite_index(client_folder, client)
        if not pruned:
            continue
        removed += pruned
        log.info(
            "pruned %s of %s older than %s",
            count(len(pruned), "report folder"),
            client,
            count(keep_days, "day"),
            extra={
                "event": "reports_pruned",
                "client": client,
                "pruned": len(pruned),
                "keep_days": keep_days,
            },
        )
    return removed


def _old_run_folders(client_folder: Path, kept: str, cutoff: datetime) -> list[Path]:
    """The real folders in ``client_folder`` named for runs that started before ``cutoff``,
    but ``kept``; a symbolic link so named is noted and left alone."""
    old = []
    try:
        with os.scandir(client_folder) as entries:
            for entry in entries:
                started = run_folder_started(entry.name)
                if entry.name == kept or started is None or started >= cutoff:
                    continue
                if entry.is_symlink():
                    log.info("%s not pruned: a symbolic link (left alone)", entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    old.append(Path(entry.path))
    except OSError as error:
        log.warning("cannot list %s to prune it: %s", client_folder, error.strerror or error)
    return sorted(old)


def _remove(folder: Path) -> bool:
    try:
        # On a real folder only (checked by the caller); rmtree never follows a link inside it,
        # and refuses a folder swapped for a link meanwhile.
        shutil.rmtree(folder)
    except OSError as error:
        log.warning("cannot remove old report folder %s: %s", folder, error.strerror or error)
        return False
    return True


def _rewrite_index(client_folder: Path, client: str) -> None:
    try:
        write_index(client_folder, client)
    except OSError as error:
        log.warning("cannot rewrite %s: %s", client_folder / INDEX_NAME, error.strerror or error)
