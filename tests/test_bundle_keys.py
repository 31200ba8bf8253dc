"""No line the reader accepts holds a key twice: the run of post lines that ``read_span``
decodes at once is proven clean by its length (``_spelled_as_written``) or by counting its keys,
and every run built to balance a repeated key against a shorter spelling is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auditor.model import AccountData, AccountKey, Post
from auditor.sources.bundle import (
    account_records,
    dump_record,
    end_record,
    index_bundle,
    read_bundle,
    read_span,
)
from auditor.sources.bundle.reader import (
    _decode_post_lines,
    _post_run,
    _PostLine,
    _spelled_as_written,
)

KEY = AccountKey("x", "AcmeHelp")
START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def _line(number: int, when: datetime | None = None, **fields: Any) -> bytes:
    """One post line as this project's writer writes it (every key, ``kind`` first)."""
    created = when or START + timedelta(minutes=number)
    post = Post(id=str(number), author="bob", by_brand=False, created_at=created, **fields)
    return dump_record(_record(post))


def _proven(run: bytes) -> bool:
    posts = _decode_post_lines(run)
    return _spelled_as_written(run, posts, [post.created_at for post in posts])


def _record(post: Post) -> dict[str, Any]:
    (record,) = account_records(AccountData(key=KEY, posts=[post]))
    return record


def _run(*lines: bytes) -> bytes:
    return b"".join(lines)


def _read_both_ways(tmp_path: Path, run: bytes) -> tuple[AccountData, AccountData]:
    """The account read by its span and streamed, from a bundle of ``run`` and an end record."""
    path = tmp_path / "b.jsonl"
    path.write_bytes(run + dump_record(end_record(run.count(b"\n"))))
    index = index_bundle(path)
    (streamed,) = [data for data in read_bundle(index) if data.key == KEY]
    return read_span(index, KEY), streamed


# --- lines as written are proven without counting ---------------------------------------------


def test_lines_as_written_are_proven_whatever_their_text() -> None:
    """No text makes a writer's line look longer than its post: quotes, backslashes, newlines,
    control and non-ASCII characters, strings that end like a time, mentions, empty values."""
    lines = [
        _line(1, text='@AcmeHelp "quoted" \\ back\\slash\nnew line\ttab \x1b[2J'),
        _line(2, text="@AcmeHelp café 日本 🙂 \u2028 \x7f", mentions=["AcmeHelp", "bob"]),
        _line(3, text="ends like a time 2026-11-10T09:00:00+00:00", source="x+00:00"),
        _line(4, text="", url=None, source=None, thread="1", in_reply_to="1", automated=True),
        _line(5, text='"created_at":"2026-11-10T09:00:00+00:00"', visibility="hidden"),
    ]
    assert _proven(_run(*lines))
    run = _post_run(_run(*lines), KEY)
    assert run is not None and [post.id for post in run[2]] == ["1", "2", "3", "4", "5"]


def test_a_run_at_the_end_of_a_file_without_a_last_newline_is_proven() -> None:
    assert _proven(_run(_line(1), _line(2)).rstrip(b"\n"))


# --- runs balanced against their length are refused ------------------------------------------


def _with_repeat(line: bytes, pair: bytes) -> bytes:
    """``line`` with ``pair`` (a key and a value, and its comma) written after ``kind``: the
    key's own value comes later, so a decoder keeps it and reads the line as it was."""
    return line.replace(b'{"kind":"post",', b'{"kind":"post",' + pair, 1)


def _spell_time(line: bytes, spelled: bytes) -> bytes:
    """``line`` with its time's "+00:00" spelled another way msgspec reads as the same time."""
    return line.replace(b'+00:00","text"', spelled + b'","text"', 1)


BALANCED: dict[str, bytes] = {
    # Two times spelled "Z" free ten bytes; a repeated "id" of ten bytes takes them.
    "Z for +00:00": _run(
        _spell_time(_line(1), b"Z"),
        _spell_time(_line(2), b"Z"),
        _with_repeat(_line(3), b'"id":"xy",'),
    ),
    # A fraction written short (".5" for msgspec's ".500000") frees five bytes a line.
    "short fraction": _run(
        _spell_time(_line(1, START.replace(microsecond=500000)), b"Z").replace(b".500000Z", b".5Z"),
        _spell_time(_line(2, START.replace(microsecond=500000)), b"Z").replace(b".500000Z", b".5Z"),
        _with_repeat(_line(3), b'"id":"xy",'),
    ),
    # An offset written without its colon ("+0530") frees a byte a line.
    "compact offset": _run(
        *(
            _line(n, START.astimezone(timezone(timedelta(hours=5, minutes=30)))).replace(
                b'+05:30","text"', b'+0530","text"'
            )
            for n in range(1, 11)
        ),
        _with_repeat(_line(11), b'"id":"xy",'),
    ),
    # A line without "kind" is 14 bytes short; a repeat of 14 bytes makes up for it.
    "no kind": _run(
        _line(1),
        _line(2).replace(b'"kind":"post",', b""),
        _with_repeat(_line(3), b'"id":"abcdef",'),
        _line(4),
    ),
    # Two posts on one line (the decoder takes them) save a newline each.
    "two posts a line": _run(
        *(_line(n).rstrip(b"\n") + _line(n + 1) for n in range(1, 19, 2)),
        _with_repeat(_line(19), b'"id":"x",'),
    ),
    # A value that ends like a time looks like one spelled as a writer does ("+00:00"").
    "a value like a time": _run(
        _spell_time(_line(1, source="a+00:00"), b"Z"),
        _spell_time(_line(2, source="a+00:00"), b"Z"),
        _with_repeat(_line(3), b'"id":"xy",'),
    ),
}


@pytest.mark.parametrize("name", sorted(BALANCED))
def test_a_run_balanced_against_its_length_is_not_proven(name: str) -> None:
    run = BALANCED[name]
    if name not in ("no kind", "two posts a line"):  # refused before the proof
        assert _proven(run) is False
    # However the repeat hides, the run is read line by line, where it is named.
    assert _post_run(run, KEY) is None


@pytest.mark.parametrize("name", sorted(BALANCED))
def test_a_repeated_key_in_a_balanced_run_is_an_error_either_way(tmp_path: Path, name: str) -> None:
    by_span, streamed = _read_both_ways(tmp_path, BALANCED[name])
    assert by_span == streamed
    assert any("duplicate key" in error for error in by_span.errors)


@pytest.mark.parametrize(
    "name", ["Z for +00:00", "no kind", "two posts a line", "a value like a time"]
)
def test_a_check_of_the_length_alone_would_take_a_balanced_run(name: str) -> None:
    """A check of the length alone, taking every time for one spelled "+00:00", would take
    every balanced run, repeat and all: only the spelling of the times (or the missing
    ``kind``) tells them apart."""
    run = BALANCED[name]
    posts = msgspec.json.Decoder(_PostLine).decode_lines(run)
    encoded = msgspec.json.Encoder().encode_lines(posts)
    written = _line(1)  # what a writer's line of a UTC post measures next to msgspec's
    per_line = len(written) - len(msgspec.json.Encoder().encode_lines(_decode_post_lines(written)))
    assert len(run) == len(encoded) + per_line * len(posts)


# --- the spelling the proof relies on ---------------------------------------------------------


def _shortest_json(character: str) -> int:
    if character in '"\\\b\f\n\r\t':
        return 2
    if ord(character) < 0x20:
        return 6
    return len(character.encode())


def test_msgspec_writes_every_character_in_its_shortest_json_form() -> None:
    """The proof takes msgspec's encoding of a string as its shortest spelling on a line."""
    code_points = [*range(0x3000), *range(0xFF00, 0x10100), 0x10FFFF]
    for code in code_points:
        if 0xD800 <= code < 0xE000:
            continue
        character = chr(code)
        assert len(msgspec.json.encode(character)) - 2 == _shortest_json(character), hex(code)


@pytest.mark.parametrize(
    "spelled",
    [
        "2026-11-10T09:00Z",  # no seconds
        "2026-11-10T09Z",
        "2026-11-10Z",
        "2026-11-10",
        "20261110T090000Z",  # basic format
        "2026-11-10T9:00:00Z",
        "2026-11-1T09:00:00Z",
        "26-11-10T09:00:00Z",
        "2026-11-10T09:00:00",  # no offset
        "2026-11-10T09:00:00+0",
        "2026-11-10T09:00:00+00",
    ],
)
def test_no_spelling_of_a_utc_time_in_whole_seconds_is_shorter_than_msgspecs(
    spelled: str,
) -> None:
    """The proof takes "YYYY-MM-DDTHH:MM:SSZ" as the shortest spelling of such a time."""
    shortest = msgspec.json.encode(START)
    assert len(shortest) == len(b'"2026-11-10T09:00:00Z"')
    with pytest.raises(msgspec.ValidationError):
        _decode_post_lines(_line(1).replace(b"2026-11-10T09:01:00+00:00", spelled.encode()))


def test_two_posts_on_one_line_are_refused_by_span_as_line_by_line(tmp_path: Path) -> None:
    """msgspec's line decoder takes two objects on one line; reading line by line does not."""
    run = _run(_line(1), _line(2).rstrip(b"\n") + _line(3), _line(4))
    by_span, streamed = _read_both_ways(tmp_path, run)
    assert by_span == streamed
    assert [post.id for post in by_span.posts] == ["1", "4"] and by_span.invalid_records == 1


@pytest.mark.parametrize(
    "pair", [b'"acc\\u006funt":"GloboCare",', b'"by_brand" :true,', b'"id"\t:"x",']
)
def test_a_repeat_spelled_another_way_is_an_error_either_way(tmp_path: Path, pair: bytes) -> None:
    by_span, streamed = _read_both_ways(tmp_path, _run(_line(1), _with_repeat(_line(2), pair)))
    assert by_span == streamed
    assert [post.id for post in by_span.posts] == ["1"]
    assert any("duplicate key" in error for error in by_span.errors)
