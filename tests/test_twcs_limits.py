"""The line limit of a twcs file holds whatever ends its lines, and however a row is shaped.

A line (or a row: a quoted field may hold line breaks) over 10 MB makes the run exit 2 with one
line naming the file, read no further than the limit; one under it is a row like any other
(here unreadable: a field beyond the csv module's size limit), counted, and the run goes on.
Lines that end in a lone CR (old Mac files) were split by a text stream that read each line
whole, and only the csv module's field size limit refused a long one, as an unreadable row.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.sources.files import MAX_LINE_BYTES, LineTooLong, bounded_universal_lines

from tests_support import run_cli

HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id"
BRAND_REPLY = "1,AcmeHelp,False,Tue Oct 31 22:10:47 +0000 2017,On it!,,2"
CUSTOMER_POST = "2,115712,True,Tue Oct 31 22:00:47 +0000 2017,@AcmeHelp help,1,"
LINE_ENDS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}
MB = 1 << 20


def _one_field(size: int, end: str) -> str:
    """A line that is one huge field and nothing else."""
    return "y" * size


def _huge_text(size: int, end: str) -> str:
    """A tweet whose text is huge."""
    return f"3,115713,True,Tue Oct 31 22:01:47 +0000 2017,{'z' * size},1,"


def _quoted_fields_over_lines(size: int, end: str) -> str:
    """One row over many lines: quoted fields of 100 KB (under the csv module's field limit),
    each holding a line break."""
    field = '"' + "q" * 50_000 + end + "q" * 50_000 + '"'
    return ",".join([field] * (size // len(field) + 1))


SHAPES: dict[str, Callable[[int, str], str]] = {
    "one field": _one_field,
    "huge text": _huge_text,
    "quoted fields over lines": _quoted_fields_over_lines,
}


def _twcs(folder: Path, style: str, shape: str, size: int) -> Path:
    end = LINE_ENDS[style]
    lines = [HEADER, BRAND_REPLY, SHAPES[shape](size, end), CUSTOMER_POST]
    path = folder / f"twcs-{style}.csv"
    path.write_bytes((end.join(lines) + end).encode())
    return path


def _config(folder: Path, twcs: Path) -> Path:
    config = folder / "audit.yaml"
    config.write_text(
        f"""\
output: {{dir: {folder}/out, formats: [json]}}
store: {{path: {folder}/out/history.sqlite}}
clients:
  - name: Acme
    accounts:
      - {{platform: x, handle: AcmeHelp, source: {{type: twcs, path: {twcs}}}}}
""",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("style", list(LINE_ENDS))
def test_a_line_over_10_mb_is_exit_2_with_one_line_naming_the_file(
    tmp_path: Path, style: str, shape: str
) -> None:
    twcs = _twcs(tmp_path, style, shape, 11 * MB)
    code, stdout, stderr = run_cli(["run", str(_config(tmp_path, twcs)), "-q"])
    assert code == 2, stdout + stderr
    assert "Traceback" not in stdout + stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert f"{twcs}:3: " in errors[0] and "longer than 10 MB" in errors[0], errors[0]


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("style", list(LINE_ENDS))
def test_a_line_under_10_mb_is_read_as_a_row(tmp_path: Path, style: str, shape: str) -> None:
    twcs = _twcs(tmp_path, style, shape, 9 * MB)
    code, stdout, stderr = run_cli(["run", str(_config(tmp_path, twcs)), "-q"])
    assert code != 2, stdout + stderr
    assert "error:" not in stderr and "longer than" not in stdout + stderr
    (report,) = (tmp_path / "out").rglob("report.json")
    (account,) = json.loads(report.read_text(encoding="utf-8"))["accounts"]
    # The rows around the long one are read: the customer's post and the brand's reply.
    assert account["coverage"]["posts"] == 2, account["coverage"]


@pytest.mark.parametrize("style", list(LINE_ENDS))
def test_lines_are_split_as_text_mode_splits_them_and_bounded(style: str) -> None:
    end = LINE_ENDS[style].encode()
    data = b"a" + end + b"bb\r\n" + b"c" * 100 + end + b"d"
    lines = list(bounded_universal_lines(io.BytesIO(data), Path("f.csv"), limit=200))
    text = io.TextIOWrapper(io.BytesIO(data), encoding="ascii", newline="").readlines()
    assert [line.decode() for line in lines] == text
    with pytest.raises(LineTooLong, match=r"^f\.csv:3: line longer than"):
        list(bounded_universal_lines(io.BytesIO(data), Path("f.csv"), limit=100))


def test_a_line_is_refused_before_it_is_read_whole() -> None:
    class Endless(io.RawIOBase):
        """An endless first line: bytes, and never a line end."""

        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            buffer[:] = b"x" * len(buffer)
            self.served += len(buffer)
            return len(buffer)

    source = Endless()
    with pytest.raises(LineTooLong):
        list(bounded_universal_lines(io.BufferedReader(source), Path("f.csv")))
    assert source.served <= MAX_LINE_BYTES + 2 * MB
