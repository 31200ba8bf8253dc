"""The twcs reader's Arrow path against its row-by-row path, on small invented files.

Arrow reads a file when every row is plain; anything else goes through the row reader. Both
must give the same records, account data and stats, so each test reads a file twice: as
``read_twcs_file`` does, and with the Arrow path switched off.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

import auditor.sources.twcs.file as twcs_file
from auditor.model import AccountData
from auditor.sources.twcs import TwcsFile, read_twcs_file
from auditor.sources.twcs.arrow import _read_fast

HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id"
WHEN = "Tue Oct 31 22:10:47 +0000 2017"


def line(
    tweet_id: object, author: str, inbound: str, text: str, parent: object = "", when: str = WHEN
) -> str:
    return f"{tweet_id},{author},{inbound},{when},{text},,{parent}"


PLAIN_ROWS = [
    line(1, "200001", "True", "@AcmeHelp my order is late"),
    line(2, "AcmeHelp", "False", "@200001 sorry! which order?", "1.0"),
    line(3, "200001", "True", "@AcmeHelp 5521", "2.0"),
    line(4, "Ship_Co", "False", "@200001 we have it: out for delivery", "1.0"),
    line(5, "200002", "True", "@acmehelp app down?"),
    line(6, "acmehelp", "False", "@200002 not that we know of", "5.0"),
    line(7, "200003", "True", "@Nobody hello?"),
]


def write(path: Path, rows: list[str], ending: str = "\n", prefix: str = "") -> Path:
    path.write_bytes((prefix + HEADER + ending + ending.join(rows) + ending).encode("utf-8"))
    return path


def row_by_row(path: Path, brands: list[str] | None = None) -> TwcsFile:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(twcs_file, "_read_fast", lambda _path: None)
        return read_twcs_file(path, brands)


def summary(data: AccountData) -> list[Any]:
    return [data.key, data.posts, data.window]


def assert_same_as_row_by_row(path: Path, brands: list[str] | None = None) -> TwcsFile:
    fast = read_twcs_file(path, brands)
    slow = row_by_row(path, brands)
    assert asdict(fast.stats) == asdict(slow.stats)
    assert fast.handles() == slow.handles()
    assert list(fast.records()) == list(slow.records())
    for handle in fast.handles():
        assert summary(fast.account_data(handle)) == summary(slow.account_data(handle))
    return fast


def uses_arrow(path: Path) -> bool:
    return _read_fast(path) is not None


def test_plain_file_read_by_arrow_as_row_by_row(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.csv", PLAIN_ROWS)
    assert uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    # Handles equal but for case are separate accounts, in the order the file shows them.
    assert read.handles() == ["AcmeHelp", "acmehelp", "Ship_Co"]
    acme = {record["id"]: record for record in read.records("AcmeHelp") if "id" in record}
    assert set(acme) == {"1", "2", "3"}
    assert acme["2"]["in_reply_to"] == "1"
    assert acme["3"]["thread"] == "1"
    assert read.stats.other_brand_posts == 2
    assert read.stats.posts_without_brand == 1


def test_brand_filter_same_both_ways(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.csv", PLAIN_ROWS)
    read = assert_same_as_row_by_row(path, brands=["@ship_co", "ACMEHELP"])
    assert read.handles() == ["AcmeHelp", "acmehelp", "Ship_Co"]
    read = assert_same_as_row_by_row(path, brands=["ship_co"])
    assert read.handles() == ["Ship_Co"]
    assert read.stats.posts == 3


def test_index_column_bom_and_crlf_with_quoted_line_breaks(tmp_path: Path) -> None:
    rows = [f"{index},{row}" for index, row in enumerate(PLAIN_ROWS)]
    rows.append("7,8,200004,True," + WHEN + ',"@AcmeHelp two\r\nlines, ""quoted""",,1')
    path = tmp_path / "indexed.csv"
    path.write_bytes(("\ufeff," + HEADER + "\r\n" + "\r\n".join(rows) + "\r\n").encode())
    assert uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    texts = {record.get("id"): record.get("text") for record in read.records()}
    assert texts["8"] == '@AcmeHelp two\r\nlines, "quoted"'


def test_bare_carriage_returns_stay_in_the_text(tmp_path: Path) -> None:
    rows = [*PLAIN_ROWS, line(8, "200004", "True", "@AcmeHelp one\rtwo\r\rthree", "6")]
    path = write(tmp_path / "bare_cr.csv", rows)
    assert uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    assert read.stats.rows_rebuilt == 1
    texts = {record.get("id"): record.get("text") for record in read.records()}
    assert texts["8"] == "@AcmeHelp one\rtwo\r\rthree"


def test_many_crlf_lines_and_some_bare_carriage_returns(tmp_path: Path) -> None:
    rows = [
        line(100 + number, f"3{number:05d}", "True", "@AcmeHelp hi" + "\rx" * (number % 50 == 0))
        for number in range(1500)
    ]
    rows += [
        line(5000 + number, "AcmeHelp", "False", "@you hello", 100 + number)
        for number in range(1500)
    ]
    path = write(tmp_path / "many.csv", rows, ending="\r\n")
    assert uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    assert read.stats.rows_rebuilt == 30
    assert read.size("AcmeHelp") == 3000


def test_unusual_values_take_the_row_parsers(tmp_path: Path) -> None:
    rows = [
        *PLAIN_ROWS,
        line("8.0", " @AcmeHelp ", "FALSE", "@200003 float id and padded handle", "7"),
        line(9, "200005.0", " true ", "@AcmeHelp iso date", "", "2017-10-31T22:05:00.5-01:00"),
        line(10, "AcmeHelp", "0", "@200005 other offset", "9", "Tue Oct 31 23:30:00 +0200 2017"),
        line(11, "200006", "1", "@AcmeHelp weekday ignored", "", "Xyz Feb 29 10:00:00 +0000 2016"),
        line("012", "AcmeHelp", "False", "@200006 leading zero id", "11"),
        line(13, "AcmeHelp", "False", "@200006 parent written 012", "012"),
    ]
    path = write(tmp_path / "unusual.csv", rows)
    assert uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    created = {record.get("id"): record.get("created_at") for record in read.records()}
    assert created["9"] == "2017-10-31T23:05:00.500000+00:00"
    assert created["10"] == "2017-10-31T21:30:00+00:00"
    assert created["11"] == "2016-02-29T10:00:00+00:00"
    threads = {record.get("id"): record.get("thread") for record in read.records()}
    assert threads["13"] == "11"


def test_duplicates_cycles_and_missing_parents(tmp_path: Path) -> None:
    rows = [
        line(1, "200001", "True", "a", 3),
        line(2, "AcmeHelp", "False", "b", 1),
        line(3, "200001", "True", "c", 2),
        line(4, "AcmeHelp", "False", "into the cycle", 3),
        line(5, "200002", "True", "replies to itself", 5),
        line(6, "AcmeHelp", "False", "d", 5),
        line(7, "200003", "True", "parent not in file", 999),
        line(8, "AcmeHelp", "False", "e", 7),
        line(2, "AcmeHelp", "False", "a repeated id: dropped", 7),
    ]
    path = write(tmp_path / "cycles.csv", rows)
    assert uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    threads = {record.get("id"): record.get("thread") for record in read.records()}
    assert {threads[tweet] for tweet in ("1", "2", "3", "4")} == {"1"}
    assert threads["6"] == "5"
    assert threads["8"] == "7"
    assert read.stats.duplicates == 1
    assert read.stats.parents_missing == 1


def test_mojibake_repaired_the_same_way(tmp_path: Path) -> None:
    rows = [
        *PLAIN_ROWS,
        line(8, "200004", "True", "@AcmeHelp Itâ€™s late"),
        line(9, "AcmeHelp", "False", "@200004 Café â€” kept as is", 8),
        line(10, "200004", "True", "@AcmeHelp ðŸ˜\x81", 9),
    ]
    path = write(tmp_path / "mojibake.csv", rows)
    assert uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    assert read.stats.mojibake_repaired == 2
    texts = {record.get("id"): record.get("text") for record in read.records()}
    assert texts["8"] == "@AcmeHelp It’s late"
    assert texts["10"] == "@AcmeHelp 😁"


@pytest.mark.parametrize(
    ("name", "extra_row"),
    [
        ("unreadable_date", line(8, "200004", "True", "x", "", "yesterday")),
        ("date_not_ascii", line(8, "200004", "True", "x", "", "Té Oct 31 22:10:47 +0000 2017")),
        ("split_reply_list", "8,200004,True," + WHEN + ",x,1,2,"),
        ("too_few_fields", "8,200004,True"),
        ("mask_byte_and_bare_cr", line(8, "200004", "True", "a\x1eb\rc")),
        ("noncharacter_and_bare_cr", line(8, "200004", "True", "a\uffffb\rc")),
        ("bare_cr_outside_the_text", line(8, "2000\r04", "True", "x")),
        ("field_too_long", line(8, "200004", "True", "x" * 140_000)),
    ],
)
def test_rows_only_the_row_reader_handles(tmp_path: Path, name: str, extra_row: str) -> None:
    path = write(tmp_path / f"{name}.csv", [*PLAIN_ROWS, extra_row])
    assert not uses_arrow(path)
    assert_same_as_row_by_row(path)


def test_bytes_that_are_not_utf8_go_row_by_row(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.csv", PLAIN_ROWS)
    path.write_bytes(path.read_bytes() + line(8, "200004", "True", "caf\xe9", 1).encode("latin-1"))
    assert not uses_arrow(path)
    read = assert_same_as_row_by_row(path)
    texts = {record.get("id"): record.get("text") for record in read.records()}
    assert texts["8"] == "caf\ufffd"


def test_header_only_file(tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", [])
    read = assert_same_as_row_by_row(path)
    assert read.handles() == []
    assert read.stats.rows_read == 0


# Set before the pool forks, as the engine does: children use the parent's Arrow buffers.
_INHERITED: list[TwcsFile] = []


def _posts_in_child(handle: str) -> list[str]:
    return [post.id for post in _INHERITED[0].account_data(handle).posts]


def test_forked_workers_build_account_data(tmp_path: Path) -> None:
    rows = [line(10 + number, f"2{number:05d}", "True", "@AcmeHelp hi") for number in range(300)]
    rows += [
        line(1000 + number, "AcmeHelp", "False", "@you hi", 10 + number) for number in range(300)
    ]
    read = read_twcs_file(write(tmp_path / "big.csv", [*PLAIN_ROWS, *rows]))
    _INHERITED[:] = [read]
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            ids = pool.map(_posts_in_child, read.handles())
    finally:
        _INHERITED.clear()
    assert ids == [
        [str(record["id"]) for record in read.records(handle) if "id" in record]
        for handle in read.handles()
    ]
    assert len(ids[0]) == 603
