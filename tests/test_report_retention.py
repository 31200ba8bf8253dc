"""Retention of report folders (``output.keep_days``): old run folders go by the start time in
their names, and nothing else in a client's folder is ever touched; end to end through
``auditor run``."""

from __future__ import annotations

import logging
import os
import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.fsutil import new_run_folder, run_folder
from auditor.reports.html import FILE_NAME, INDEX_NAME, STARTED_META, write_index
from auditor.reports.retention import prune_report_folders, run_folder_started

from tests_support import run_cli

NOW = datetime(2026, 11, 16, 9, 30, 0, tzinfo=UTC)
DEMO = Path(__file__).resolve().parents[1] / "config" / "demo" / "demo.jsonl"


def report_folder(client_folder: Path, started: datetime, run_id: str = "a1b2c3d4e5f6") -> Path:
    """A run folder as a run names it, holding a report.html the index can list."""
    folder = new_run_folder(client_folder, started, run_id)
    (folder / FILE_NAME).write_text(
        f'<meta name="{STARTED_META}" content="{started.isoformat()}">', encoding="utf-8"
    )
    return folder


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.mark.parametrize(
    ("name", "started"),
    [
        ("20261116T093000Z", NOW),
        ("20261116T093000Z-a1b2c3d4", NOW),
        ("20261116T093000Z-a1b2c3d4-2", NOW),
        ("20261116T093000Z-17", NOW),
        ("20260101T000000Z-00000000-9999", datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_run_folder_name_gives_its_start(name: str, started: datetime) -> None:
    assert run_folder_started(name) == started


@pytest.mark.parametrize(
    "name",
    [
        "notes",
        "20261116T093000Z.bak",
        "20261116T093000Z-A1B2C3D4",  # a run id prefix is lowercase hex
        "20261116T093000Z-a1b2c3d4-1",  # the first retry is -2
        "20261116T093000Z-a1b2c3d4-10000",
        "20261316T093000Z-a1b2c3d4",  # month 13
        "2026111T093000Z-a1b2c3d4x",
        "x20261116T093000Z",
        "20261116T093000",
        "index.html",
    ],
)
def test_any_other_name_is_no_run_folder(name: str) -> None:
    assert run_folder_started(name) is None


def test_every_name_new_run_folder_writes_is_read_back(tmp_path: Path) -> None:
    started = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    for run_id in ("", "0123456789abcdef", "0123456789abcdef", "fedcba98"):
        folder = new_run_folder(tmp_path, started, run_id)
        assert run_folder_started(folder.name) == started, folder.name
    assert run_folder(started) == "20250203T040506Z"


def test_old_folders_go_recent_ones_and_the_current_run_stay(tmp_path: Path) -> None:
    client = tmp_path / "Acme"
    old = [report_folder(client, days_ago(d)) for d in (31, 400)]
    recent = [report_folder(client, days_ago(d)) for d in (1, 29.9)]
    # The run just written is kept even though its (wrong) clock puts it a year back.
    current = report_folder(client, days_ago(365), run_id="ffff0000ffff")

    removed = prune_report_folders(tmp_path, {"Acme": current}, 30, NOW)

    assert sorted(removed) == sorted(old)
    assert not any(folder.exists() for folder in old)
    assert all((folder / FILE_NAME).is_file() for folder in [*recent, current])


def test_a_folder_exactly_keep_days_old_stays_and_one_second_more_goes(tmp_path: Path) -> None:
    client = tmp_path / "Acme"
    exactly = report_folder(client, days_ago(30))
    older = report_folder(client, days_ago(30) - timedelta(seconds=1))
    current = report_folder(client, NOW, run_id="ffff0000ffff")

    assert prune_report_folders(tmp_path, {"Acme": current}, 30, NOW) == [older]
    assert exactly.is_dir() and not older.exists()


def test_the_age_is_the_name_not_the_modification_time(tmp_path: Path) -> None:
    client = tmp_path / "Acme"
    restored_old = report_folder(client, days_ago(90))  # copied back today: mtime is now
    touched_long_ago = report_folder(client, days_ago(2))
    long_ago = (NOW - timedelta(days=1000)).timestamp()
    os.utime(touched_long_ago, (long_ago, long_ago))
    current = report_folder(client, NOW, run_id="ffff0000ffff")

    assert prune_report_folders(tmp_path, {"Acme": current}, 30, NOW) == [restored_old]
    assert touched_long_ago.is_dir()


def test_what_the_tool_did_not_name_is_never_touched(tmp_path: Path) -> None:
    client = tmp_path / "Acme"
    current = report_folder(client, NOW, run_id="ffff0000ffff")
    notes = client / "notes"
    notes.mkdir()
    (notes / "keep.txt").write_text("mine", encoding="utf-8")
    renamed = client / f"{run_folder(days_ago(90))}-a1b2c3d4-old"
    renamed.mkdir()
    a_file = client / f"{run_folder(days_ago(90))}-a1b2c3d4"  # a run folder's name, a file
    a_file.write_text("not a folder", encoding="utf-8")

    assert prune_report_folders(tmp_path, {"Acme": current}, 30, NOW) == []
    assert (notes / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert renamed.is_dir() and a_file.is_file()


def test_a_symbolic_link_named_as_an_old_run_folder_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = tmp_path / "out" / "Acme"
    current = report_folder(client, NOW, run_id="ffff0000ffff")
    elsewhere = report_folder(tmp_path / "archive", days_ago(90))
    link = client / elsewhere.name
    link.symlink_to(elsewhere, target_is_directory=True)
    caplog.set_level(logging.INFO, logger="auditor.retention")

    assert prune_report_folders(tmp_path / "out", {"Acme": current}, 30, NOW) == []
    assert link.is_symlink() and (elsewhere / FILE_NAME).is_file()
    assert f"{link} not pruned: a symbolic link" in caplog.text


def test_a_client_folder_that_is_a_symbolic_link_is_not_pruned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    real = tmp_path / "disk" / "Acme"
    old = report_folder(real, days_ago(90))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "Acme").symlink_to(real, target_is_directory=True)
    current = report_folder(tmp_path / "out" / "Acme", NOW, run_id="ffff0000ffff")

    assert prune_report_folders(tmp_path / "out", {"Acme": current}, 30, NOW) == []
    assert (old / FILE_NAME).is_file()
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "report folders of Acme not pruned" in warning.getMessage()
    assert "is a symbolic link" in warning.getMessage()


def test_a_folder_that_cannot_be_removed_is_one_warning_and_the_rest_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = tmp_path / "Acme"
    stuck = report_folder(client, days_ago(60))
    gone = report_folder(client, days_ago(90))
    current = report_folder(client, NOW, run_id="ffff0000ffff")
    remove = shutil.rmtree

    def refuse_one(path: Path) -> None:
        if Path(path) == stuck:
            raise PermissionError(13, "Permission denied", str(path))
        remove(path)

    monkeypatch.setattr(shutil, "rmtree", refuse_one)
    caplog.set_level(logging.INFO, logger="auditor.retention")

    assert prune_report_folders(tmp_path, {"Acme": current}, 30, NOW) == [gone]
    assert stuck.is_dir() and not gone.exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"cannot remove old report folder {stuck}: Permission denied"]
    assert "pruned 1 report folder of Acme older than 30 days" in caplog.text


def test_the_index_is_rewritten_without_the_pruned_reports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = tmp_path / "Acme"
    old = [report_folder(client, days_ago(d)) for d in (45, 60, 90)]
    recent = report_folder(client, days_ago(3))
    current = report_folder(client, NOW, run_id="ffff0000ffff")
    write_index(client, "Acme")
    before = (client / INDEX_NAME).read_text(encoding="utf-8")
    assert all(folder.name in before for folder in old)  # else the check below proves nothing
    caplog.set_level(logging.INFO, logger="auditor.retention")

    prune_report_folders(tmp_path, {"Acme": current}, 30, NOW)

    index = (client / INDEX_NAME).read_text(encoding="utf-8")
    assert not any(folder.name in index for folder in old)
    assert recent.name in index and current.name in index
    [line] = [r for r in caplog.records if r.name == "auditor.retention"]
    assert line.levelno == logging.INFO
    assert line.getMessage() == "pruned 3 report folders of Acme older than 30 days"


def test_no_index_is_made_where_there_was_none(tmp_path: Path) -> None:
    client = tmp_path / "Acme"
    report_folder(client, days_ago(90))
    current = report_folder(client, NOW, run_id="ffff0000ffff")

    assert len(prune_report_folders(tmp_path, {"Acme": current}, 30, NOW)) == 1
    assert not (client / INDEX_NAME).exists()


def test_only_the_clients_of_this_run_are_pruned(tmp_path: Path) -> None:
    other = report_folder(tmp_path / "Helio", days_ago(90))
    old = report_folder(tmp_path / "Acme", days_ago(90))
    current = report_folder(tmp_path / "Acme", NOW, run_id="ffff0000ffff")

    assert prune_report_folders(tmp_path, {"Acme": current}, 30, NOW) == [old]
    assert other.is_dir()


def test_keep_days_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        prune_report_folders(tmp_path, {}, 0, NOW)


# --- end to end -----------------------------------------------------------------------------


def write_config(folder: Path, keep_days: int | None) -> Path:
    shutil.copy(DEMO, folder / "demo.jsonl")
    keep = "" if keep_days is None else f", keep_days: {keep_days}"
    config = folder / "audit.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            output: {{dir: out, formats: [json, html]{keep}}}
            store: {{path: out/history.sqlite}}
            clients:
              - name: Driftly
                accounts:
                  - {{platform: x, handle: DriftlyHelp, source: demo.jsonl}}
            """
        ),
        encoding="utf-8",
    )
    return config


def past_folders(client: Path) -> tuple[Path, Path, Path]:
    """An old and a recent run folder of an earlier run, and a user's notes folder."""
    now = datetime.now(UTC)
    old = report_folder(client, now - timedelta(days=60), run_id="0123456789ab")
    recent = report_folder(client, now - timedelta(days=5), run_id="0123456789ab")
    notes = client / "notes"
    notes.mkdir()
    return old, recent, notes


def test_auditor_run_prunes_old_report_folders_and_rewrites_the_index(tmp_path: Path) -> None:
    config = write_config(tmp_path, keep_days=30)
    client = tmp_path / "out" / "Driftly"
    old, recent, notes = past_folders(client)

    code, _, stderr = run_cli(["run", str(config), "--quiet"])

    assert code == 1, stderr  # the demo has failing findings
    assert not old.exists() and recent.is_dir() and notes.is_dir()
    [current] = [
        f for f in client.iterdir() if f.is_dir() and f not in (recent, notes) and f != old
    ]
    assert (current / "report.json").is_file() and (current / FILE_NAME).is_file()
    index = (client / INDEX_NAME).read_text(encoding="utf-8")
    assert current.name in index and recent.name in index and old.name not in index


def test_auditor_run_logs_what_it_pruned(tmp_path: Path) -> None:
    config = write_config(tmp_path, keep_days=30)
    old, _, _ = past_folders(tmp_path / "out" / "Driftly")

    code, _, stderr = run_cli(["run", str(config)])  # stderr is no terminal: INFO lines

    assert code == 1, stderr
    assert not old.exists()
    assert "auditor.retention: pruned 1 report folder of Driftly older than 30 days" in stderr


def test_without_keep_days_auditor_run_keeps_every_report_folder(tmp_path: Path) -> None:
    config = write_config(tmp_path, keep_days=None)
    client = tmp_path / "out" / "Driftly"
    old, recent, notes = past_folders(client)

    code, _, stderr = run_cli(["run", str(config), "--quiet"])

    assert code == 1, stderr
    assert old.is_dir() and recent.is_dir() and notes.is_dir()
    assert len([f for f in client.iterdir() if f.is_dir()]) == 4
    assert old.name in (client / INDEX_NAME).read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "'30'", "true"])
def test_a_bad_keep_days_is_one_line_naming_the_key(tmp_path: Path, value: str) -> None:
    config = write_config(tmp_path, keep_days=None)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("formats: [json, html]", f"formats: [json, html], keep_days: {value}"),
        encoding="utf-8",
    )

    code, _, stderr = run_cli(["run", str(config), "--quiet"])

    assert code == 2
    [line] = stderr.strip().splitlines()
    assert line.startswith("error: ") and "keep_days" in line and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()
