"""Faults in inputs (#12 items 4 and 6): each gets a clear answer, never a wrong verdict.

A bundle cut short is incomplete (its closing end record is missing); a wrong count, a key
written twice, a post id with two different posts and a time out of range are line errors
naming ``file:line``; an identical copy of a post is read once; anything but a regular file,
and a line over the limit, is one line naming the file and exit 2, never a hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auditor.model import AccountData, AccountKey
from auditor.sources.bundle import (
    NO_END_REASON,
    dump_record,
    end_record,
    index_bundle,
    read_bundle,
    read_span,
)
from auditor.sources.files import MAX_LINE_BYTES

from conftest import WriteBundle, WriteConfig, healthy_account, neglected_account, post
from tests_support import run_cli

ACME = AccountKey("x", "AcmeHelp")
GLOBO = AccountKey("x", "GloboCare")


def _lines(records: Iterable[Mapping[str, Any]]) -> list[bytes]:
    return [dump_record(record) for record in records]


def _both_ways(path: Path, **options: Any) -> list[AccountData]:
    """Every account streamed, after checking that reading each by its span agrees."""
    index = index_bundle(path, **options)
    streamed = list(read_bundle(index))
    if index.seekable:
        for data in streamed:
            assert read_span(index, data.key) == data
    return streamed


# --- the closing end record ----------------------------------------------------------------


def test_a_bundle_cut_at_a_line_boundary_is_incomplete_for_every_account(
    tmp_path: Path, write_bundle_file: WriteBundle
) -> None:
    whole = write_bundle_file("whole.jsonl", [*healthy_account(), *neglected_account()])
    assert [d.window.complete for d in _both_ways(whole) if d.window] == [True, True]
    lines = whole.read_bytes().splitlines(keepends=True)
    for keep in (len(lines) - 1, len(lines) - 2, 3):  # the end record, then posts, cut away
        cut = tmp_path / f"cut{keep}.jsonl"
        cut.write_bytes(b"".join(lines[:keep]))
        for data in _both_ways(cut):
            assert data.window is not None and data.window.complete is False, keep
            assert data.window.reason is not None and NO_END_REASON in data.window.reason
            assert not data.errors  # incomplete, not invalid: what was read is audited


def test_the_legacy_flag_reads_a_bundle_without_end_record_as_whole(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    old.write_bytes(b"".join(_lines(healthy_account())))
    (data,) = _both_ways(old, require_end=False)
    assert data.window is not None and data.window.complete is True


def test_the_legacy_flag_is_a_config_key_of_the_bundle_source(
    tmp_path: Path, write_config: WriteConfig
) -> None:
    old = tmp_path / "old.jsonl"
    old.write_bytes(b"".join(_lines(healthy_account())))
    for flag, complete in (("", False), (", legacy_no_end: true", True)):
        config = write_config(
            f"""
            output: {{dir: {tmp_path}/out{flag != ""}, formats: [json]}}
            clients:
              - name: Acme
                accounts:
                  - {{platform: x, handle: AcmeHelp, source: {{type: bundle, path: {old}{flag}}}}}
            """
        )
        run_cli(["run", str(config)])
        (report,) = (tmp_path / f"out{flag != ''}").rglob("report.json")
        (account,) = json.loads(report.read_text())["accounts"]
        assert account["coverage"]["complete"] is complete, account["coverage"]


@pytest.mark.parametrize("change", ["drop", "add", "second end wrong"])
def test_an_end_record_whose_count_is_wrong_is_an_error_naming_its_line(
    tmp_path: Path, change: str
) -> None:
    lines = _lines(healthy_account())
    if change == "drop":
        body = [*lines[:2], *lines[3:], dump_record(end_record(len(lines)))]
    elif change == "add":
        body = [*lines, lines[2].replace(b'"id":"1"', b'"id":"9"'), dump_record(end_record(4))]
    else:  # two bundles joined: each end record counts its own part
        more = _lines([post("7", "bob", 3, "@AcmeHelp again")])
        body = [*lines, dump_record(end_record(4)), *more, dump_record(end_record(2))]
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"".join(body))
    (data,) = _both_ways(path)
    end_line = len(body)
    assert data.invalid_records == 1
    assert data.errors[0].startswith(f"{path}:{end_line}: the end record counts")
    # Joined bundles with right counts read whole.
    if change == "second end wrong":
        body[-1] = dump_record(end_record(1))
        path.write_bytes(b"".join(body))
        (joined,) = _both_ways(path)
        assert not joined.errors and len(joined.posts) == 3
        assert joined.window is not None and joined.window.complete is True


def test_records_after_the_end_record_make_the_bundle_incomplete(tmp_path: Path) -> None:
    lines = _lines(healthy_account())
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"".join([*lines[:3], dump_record(end_record(3)), lines[3]]))
    (data,) = _both_ways(path)
    assert data.window is not None and data.window.complete is False
    assert NO_END_REASON in (data.window.reason or "")


# --- duplicates ------------------------------------------------------------------------------


def test_an_identical_copy_of_a_post_is_read_once(write_bundle_file: WriteBundle) -> None:
    records = healthy_account()
    path = write_bundle_file("b.jsonl", [*records, records[2], records[3]])
    (data,) = _both_ways(path)
    assert [p.id for p in data.posts] == ["1", "2"] and not data.errors


def test_two_different_posts_under_one_id_are_an_error_naming_both_lines(
    write_bundle_file: WriteBundle,
) -> None:
    records = healthy_account()
    changed = {**records[2], "text": "@AcmeHelp never mind"}
    path = write_bundle_file("b.jsonl", [*records, *neglected_account(), changed])
    acme = next(d for d in _both_ways(path) if d.key == ACME)
    assert acme.invalid_records == 1
    assert acme.errors == [
        f"{path}:9: x:AcmeHelp: post '1' is on lines 3 and 9 with different values"
    ]
    assert [p.text for p in acme.posts if p.id == "1"] == ["@AcmeHelp my order is late"]


@pytest.mark.parametrize("key", ["account", "platform", "kind", "by_brand", "id"])
@pytest.mark.parametrize("spaced", [False, True])
def test_a_line_that_writes_a_key_twice_is_rejected_and_moves_nothing(
    tmp_path: Path, write_bundle_file: WriteBundle, key: str, spaced: bool
) -> None:
    # Written whole (every key, as this project's writer does), then with a second key at
    # the end: the value a decoder would keep.
    whole = write_bundle_file("whole.jsonl", [*healthy_account(), *neglected_account()])
    full = [r for d in _both_ways(whole) for r in _records(d)]
    second = {"account": "GloboCare", "platform": "mastodon", "kind": "profile"}.get(key)
    value = json.dumps(second if second is not None else {"by_brand": True, "id": "77"}[key])
    lines = _lines(full)
    sep = " : " if spaced else ":"
    lines[2] = lines[2].rstrip(b"}\n") + f',"{key}"{sep}{value}}}\n'.encode()
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"".join([*lines, dump_record(end_record(len(lines)))]))
    by_key = {d.key: d for d in _both_ways(path)}
    acme = by_key[ACME]
    assert acme.errors == [f"{path}:3: x:AcmeHelp: duplicate key {key!r}: " + _SAME_LINE]
    assert [p.id for p in acme.posts] == ["2"]
    assert [p.id for p in by_key[GLOBO].posts] == ["10", "11"]  # nothing moved here
    assert set(by_key) == {ACME, GLOBO}


_SAME_LINE = "the line means different things to different readers"


def _records(data: AccountData) -> list[dict[str, Any]]:
    from auditor.sources.bundle import account_records

    return list(account_records(data))


# --- times out of range ----------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"])
@pytest.mark.parametrize("every_key", [False, True])
def test_a_time_out_of_range_is_a_line_error(
    tmp_path: Path, write_bundle_file: WriteBundle, when: str, every_key: bool
) -> None:
    records = healthy_account()
    if every_key:
        records = _records(_both_ways(write_bundle_file("w.jsonl", records))[0])
    records[3] = {**records[3], "created_at": when}
    path = write_bundle_file("b.jsonl", records)
    (data,) = _both_ways(path)
    assert data.invalid_records == 1
    assert data.errors[0].startswith(f"{path}:4: x:AcmeHelp: 'created_at' is ")
    assert [p.id for p in data.posts] == ["1"]


def test_rsp004_does_not_raise_on_a_post_at_the_start_of_the_calendar() -> None:
    """Readers refuse such times; the analysis must stand anyway (a post added in memory to
    a demo account whose profile posts its hours)."""
    from auditor.config import load_config
    from auditor.engine.audit import Engine
    from auditor.registry import load_registry

    repo = Path(__file__).resolve().parents[1]
    registry = load_registry()
    config = load_config(repo / "config" / "demo.yaml", registry)
    data = next(iter(read_bundle(index_bundle(repo / "config" / "demo" / "demo.jsonl"))))
    customer = next(p for p in data.posts if not p.by_brand)
    first = datetime.min.replace(tzinfo=UTC)
    data.posts.append(msgspec.structs.replace(customer, id="999", created_at=first))
    result = Engine(config, registry, workers=1).audit(data).result
    (check,) = [c for c in result.checks if c.id == "RSP004"]
    assert check.status != "error", check.summary


# --- files that are not files, lines without end ---------------------------------------------


def _auditor(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, so that a hang is a timeout and not a stuck suite."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        # Away from the source tree: `-m` puts the working folder first on the path, and the
        # tree's `auditor` is not the installed one (its data files install elsewhere).
        cwd=tempfile.gettempdir(),
    )


def test_auditor_run_on_dev_zero_is_one_line_and_exit_2() -> None:
    run = _auditor("run", "/dev/zero")
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "error: /dev/zero: cannot read config: is a character device, not a regular file"
    ]


@pytest.mark.parametrize("kind", ["bundle", "twcs"])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "directory", "long line"])
def test_an_input_that_is_no_regular_file_or_has_an_endless_line_is_exit_2(
    tmp_path: Path, write_config: WriteConfig, kind: str, special: str
) -> None:
    if special == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif special == "directory":
        path = tmp_path / "folder"
        path.mkdir()
    elif special == "long line":
        path = tmp_path / "zeros"
        path.write_bytes(b"\0" * (MAX_LINE_BYTES + 1))
    else:
        path = Path(special)
    config = write_config(
        f"""
        output: {{dir: {tmp_path}/out, formats: [json]}}
        clients:
          - name: Acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {{type: {kind}, path: {path}}}}}
        """
    )
    run = _auditor("run", str(config))
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0], run.stderr
    expected = "line longer than 10 MB" if special == "long line" else "not a regular file"
    assert expected in errors[0]
    # A long line is found by reading the file whole (--deep); the rest on opening it.
    deep = ["--deep"] if special == "long line" else []
    validate = _auditor("config", "validate", str(config), *deep)
    assert validate.returncode == 2 and str(path) in validate.stderr


def test_a_line_whose_account_is_not_utf8_is_a_line_error(
    tmp_path: Path, write_bundle_file: WriteBundle
) -> None:
    # Found by the fuzz test: the first pass's prefix match decoded it and raised.
    good = write_bundle_file("good.jsonl", healthy_account()).read_bytes()
    path = tmp_path / "b.jsonl"
    path.write_bytes(good.replace(b'"account":"AcmeHelp"', b'"account":"\x80cmeHelp"', 1))
    (data,) = _both_ways(path)
    assert data.errors[0].startswith(f"{path}:1: not JSON: ")
