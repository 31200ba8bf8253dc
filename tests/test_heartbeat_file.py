"""The scheduler's heartbeat file (auditor.heartbeat, issue #16): where it sits, what a beat
holds once written and read back, when it is stale, and a file that is not one this version
writes refused with a ValueError that says what is wrong (never another exception)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from auditor.heartbeat import HEARTBEAT_SCHEMA, Beat, heartbeat_path, read_beat, write_beat

T0 = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
STALE = timedelta(seconds=120)


def a_beat(**changes: Any) -> Beat:
    fields: dict[str, Any] = {
        "holder": "0b9e-uuid",
        "pid": 4242,
        "host": "audit-7f9c",
        "started_at": T0,
        "beat_at": T0 + timedelta(minutes=5),
        "state": "auditing",
        "stale_after": STALE,
        "client": "Acme",
    }
    return Beat(**(fields | changes))


def written(tmp_path: Path, beat: Beat) -> dict[str, Any]:
    path = tmp_path / "hb.json"
    write_beat(path, beat)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_the_file_sits_beside_the_store() -> None:
    assert heartbeat_path(Path("/data/out/history.sqlite")) == Path(
        "/data/out/history.sqlite.heartbeat.json"
    )


def test_a_beat_written_reads_back_the_same_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "hb.json"
    paris = timezone(timedelta(hours=2))
    beat = a_beat(started_at=T0.astimezone(paris), stale_after=timedelta(seconds=40.5))
    write_beat(path, beat)
    read = read_beat(path)
    assert read == beat
    assert read is not None and read.started_at.utcoffset() == timedelta(0)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema"] == HEARTBEAT_SCHEMA
    assert document["started_at"] == "2026-03-30T08:00:00+00:00"
    assert document["stale_after_seconds"] == 40.5
    # Written again, the file is replaced whole.
    write_beat(path, a_beat(state="idle", client=None))
    assert read_beat(path) == a_beat(state="idle", client=None)
    assert [p.name for p in tmp_path.iterdir()] == ["hb.json"]  # no temporary file left


def test_no_file_is_none(tmp_path: Path) -> None:
    assert read_beat(tmp_path / "missing.json") is None


def test_a_beat_is_stale_from_its_stale_period_on() -> None:
    beat = a_beat()
    assert beat.age(beat.beat_at + timedelta(seconds=30)) == timedelta(seconds=30)
    assert not beat.is_stale(beat.beat_at + STALE - timedelta(microseconds=1))
    assert beat.is_stale(beat.beat_at + STALE)
    # A reader whose clock is behind the writer's sees a beat from the future: alive.
    assert not beat.is_stale(beat.beat_at - timedelta(minutes=10))


def test_a_naive_time_is_refused_rather_than_taken_for_local() -> None:
    with pytest.raises(ValueError) as caught:
        a_beat(beat_at=datetime(2026, 3, 30, 8, 5))
    assert str(caught.value) == "beat_at 2026-03-30T08:05:00 has no time zone"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"schema": 2}, "not a heartbeat file of schema 1"),
        ({"state": "asleep"}, "state 'asleep' is not one of"),
        ({"client": 7}, "client is not a name"),
        ({"host": None}, "holder or host missing"),
        ({"pid": True}, "pid is not a process id"),
        ({"pid": "4242"}, "pid is not a process id"),
        ({"pid": 0}, "pid is not a process id"),
        ({"stale_after_seconds": 0}, "stale_after_seconds is not a positive number"),
        ({"stale_after_seconds": True}, "stale_after_seconds is not a positive number"),
        ({"stale_after_seconds": float("inf")}, "stale_after_seconds is not a positive number"),
        ({"stale_after_seconds": float("nan")}, "stale_after_seconds is not a positive number"),
        ({"stale_after_seconds": 1e30}, "stale_after_seconds 1e+30 is out of range"),
        # Times are read by the bundle's rule (auditor.sources.bundle.records.parse_time).
        ({"beat_at": "yesterday"}, "'beat_at' is not an ISO 8601 time: 'yesterday'"),
        ({"beat_at": "2026-03-30T08:05:00"}, "'beat_at' has no UTC offset: '2026-03-30T08:05:00'"),
        ({"started_at": 1774857600}, "'started_at' must be an ISO 8601 string with an offset"),
        (
            {"started_at": "0001-01-01T00:00:00+05:00"},
            "'started_at' is before 2000: '0001-01-01T00:00:00+05:00'",
        ),
    ],
)
def test_a_field_this_version_does_not_write_is_named(
    tmp_path: Path, change: dict[str, Any], problem: str
) -> None:
    path = tmp_path / "hb.json"
    path.write_text(json.dumps(written(tmp_path, a_beat()) | change), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        read_beat(path)
    assert str(caught.value).startswith(problem)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"{half", "not JSON"),
        (b"[" * 100_000, "not JSON"),  # nested past the parser's recursion limit
        (b"[1, 2]", "not a heartbeat file"),
        (b"null", "not a heartbeat file"),
    ],
)
def test_garbage_is_a_value_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "hb.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        read_beat(path)
    assert str(caught.value).startswith(problem)
