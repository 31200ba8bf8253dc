"""What ``auditor classify`` reads and prints: texts labelled as the conduct checks would.

Texts come one per line, or from a column of a CSV file or a key of a JSONL file, from a file
(regular files only, lines of bounded length: ``auditor.sources.files``) or standard input,
read as UTF-8 (a byte-order mark skipped). They are classified in batches of ``BATCH`` (the
classifier labels each distinct text once) and printed as they go, so that an input of any size
streams: tab-separated rows after a header, or JSON lines. Whatever is printed is escaped
(``auditor.untrusted``): a text cannot act on the terminal, start a line or split a cell.

Bad input is :class:`UnreadableTexts`, whose ``str()`` is the one line to print (``file:line:
what``); the rows before it have been printed. This module sits beside the engine, under the
command line; it imports the classifier, the input files and the escaping, nothing above them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from auditor.analysis.classify import Classification, Classifier
from auditor.sources.files import MAX_LINE_BYTES, open_regular
from auditor.untrusted import clip, escape_controls
from auditor.wording import count

# Texts classified together: the classifier batches, and output still streams.
BATCH = 512
# Characters of each text shown in a tab-separated row (JSON lines leave the text out).
TEXT_CHARS = 80
FORMATS = ("lines", "csv", "jsonl")
DEFAULT_TEXT_COLUMN = "text"
CONFIDENCE_DECIMALS = 4
_FORMAT_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class UnreadableTexts(Exception):
    """Input ``classify`` cannot read; ``str()`` is the one line to print."""


@dataclass(frozen=True, slots=True)
class NumberedText:
    line: int  # where it is in the input (a CSV row: the line it ends on)
    id: str | None
    text: str


def input_format(source: str, chosen: str | None) -> str:
    """``chosen``, or the format ``source``'s extension names; one text per line otherwise."""
    if chosen is not None:
        if chosen not in FORMATS:
            raise UnreadableTexts(f"--format must be one of {', '.join(FORMATS)}, not {chosen!r}")
        return chosen
    return "lines" if source == "-" else _FORMAT_BY_SUFFIX.get(Path(source).suffix, "lines")


def open_texts(source: str, stdin: IO[bytes]) -> IO[str]:
    """``source`` (a file, or ``-`` for ``stdin``) as UTF-8 text, line ends kept as they are
    for the CSV reader."""
    binary = stdin
    if source != "-":
        try:
            binary = open_regular(Path(source))
        except OSError as error:
            raise UnreadableTexts(f"{source}: {error.strerror or error}") from None
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def read_texts(
    stream: IO[str], name: str, form: str, column: str | None, id_column: str | None
) -> Iterator[NumberedText]:
    """The texts of ``stream`` in format ``form``; ``column`` and ``id_column`` only for CSV and
    JSONL (the text's column defaults to ``text``)."""
    if form == "lines":
        if column or id_column:
            raise UnreadableTexts("--column and --id-column read CSV or JSONL: give --format")
        return _from_lines(stream, name)
    reader = _from_csv if form == "csv" else _from_jsonl
    return reader(stream, name, column or DEFAULT_TEXT_COLUMN, id_column)


def _numbered_lines(stream: IO[str], name: str) -> Iterator[tuple[int, str]]:
    # A line longer than the input bound is refused rather than read into memory whole.
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise UnreadableTexts(f"{name}:{number}: line longer than {MAX_LINE_BYTES} characters")
        yield number, line.rstrip("\r\n")


def _from_lines(stream: IO[str], name: str) -> Iterator[NumberedText]:
    for number, line in _numbered_lines(stream, name):
        if line.strip():  # a blank line has nothing to classify
            yield NumberedText(number, None, line)


def _from_csv(
    stream: IO[str], name: str, column: str, id_column: str | None
) -> Iterator[NumberedText]:
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, [])
        for wanted in (column, id_column):
            if wanted is not None and wanted not in header:
                columns = ", ".join(header) or "none"
                raise UnreadableTexts(f"{name}: no column {wanted!r} (columns: {columns})")
        text_at = header.index(column)
        id_at = None if id_column is None else header.index(id_column)
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                raise UnreadableTexts(
                    f"{name}:{reader.line_num}: {count(len(row), 'field')} where the header "
                    f"has {len(header)}"
                )
            yield NumberedText(reader.line_num, None if id_at is None else row[id_at], row[text_at])
    except csv.Error as error:
        raise UnreadableTexts(f"{name}:{reader.line_num}: malformed CSV: {error}") from None


def _from_jsonl(
    stream: IO[str], name: str, column: str, id_column: str | None
) -> Iterator[NumberedText]:
    for number, line in _numbered_lines(stream, name):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise UnreadableTexts(f"{name}:{number}: not JSON: {error}") from None
        if not isinstance(record, dict):
            raise UnreadableTexts(f"{name}:{number}: not a JSON object")
        text = record.get(column)
        if not isinstance(text, str):
            what = "no" if column not in record else "a non-string"
            raise UnreadableTexts(f"{name}:{number}: {what} {column!r} value")
        if id_column is not None and id_column not in record:
            raise UnreadableTexts(f"{name}:{number}: no {id_column!r} value")
        yield NumberedText(number, None if id_column is None else str(record[id_column]), text)


def labelled(
    texts: Iterable[NumberedText],
    name: str,
    classifier: Classifier,
    *,
    with_ids: bool,
    as_json: bool,
) -> Iterator[str]:
    """The output, a batch of rows at a time (after the header for tab-separated rows). Input
    that turns out unreadable part way raises :class:`UnreadableTexts` once the rows before it
    are given."""
    header = (
        ""
        if as_json
        else "\t".join(
            [
                "line",
                *(["id"] if with_ids else []),
                "label",
                "confidence",
                "language",
                "reasons",
                "text",
            ]
        )
    )
    batch: list[NumberedText] = []
    problem: UnreadableTexts | None = None
    try:
        for item in texts:
            batch.append(item)
            if len(batch) >= BATCH:
                yield "\n".join(filter(None, [header, _rows(batch, classifier, with_ids, as_json)]))
                header = ""  # once, before the first rows
                batch.clear()
    except UnicodeDecodeError:
        problem = UnreadableTexts(f"{name}: not UTF-8 text")
    except OSError as error:
        problem = UnreadableTexts(f"{name}: {error.strerror or error}")
    except UnreadableTexts as error:
        problem = error
    rows = _rows(batch, classifier, with_ids, as_json) if batch else ""
    if rows or (header and problem is None):  # no text at all: the header alone says so
        yield "\n".join(filter(None, [header, rows]))
    if problem is not None:
        raise problem


def _rows(batch: list[NumberedText], classifier: Classifier, with_ids: bool, as_json: bool) -> str:
    results = classifier.classify_many(item.text for item in batch)
    if as_json:
        rows = (
            _json_row(item, result, with_ids) for item, result in zip(batch, results, strict=True)
        )
        return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    return "\n".join(
        "\t".join(_cell(cell) for cell in _tsv_row(item, result, with_ids))
        for item, result in zip(batch, results, strict=True)
    )


def _json_row(item: NumberedText, result: Classification, with_ids: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"line": item.line}
    if with_ids:
        row["id"] = escape_controls(item.id or "")
    confidence = result.confidence
    return row | {
        "label": result.label,
        "confidence": None if confidence is None else round(confidence, CONFIDENCE_DECIMALS),
        "language": result.language,
        "reasons": [escape_controls(reason) for reason in result.reasons],
    }


def _tsv_row(item: NumberedText, result: Classification, with_ids: bool) -> list[str]:
    confidence = "-" if result.confidence is None else f"{result.confidence:.3f}"
    return [
        str(item.line),
        *([item.id or ""] if with_ids else []),
        result.label,
        confidence,
        result.language or "unknown",
        "; ".join(result.reasons) or "-",
        clip(" ".join(item.text.split()), TEXT_CHARS),
    ]


def _cell(value: str) -> str:
    # One line, and no tab of its own: a cell must not split the row it is in.
    return escape_controls(value).replace("\t", "\\t")
