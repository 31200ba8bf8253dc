"""`auditor classify FILE|-`: texts labelled as the conduct checks would, through the real CLI.

The texts are written for these tests. Where a test needs a confidence and reasons (which only a
scoring classifier gives), the classifier's batch method is replaced by one that returns them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor import label_texts
from auditor.analysis.classify import Classification, Classifier
from auditor.cli import app

from tests_support import run_cli

COMPLAINT = "@AcmeHelp my parcel never arrived and nobody answers the phone"
PRAISE = "thanks so much, you fixed it in minutes!"
FRENCH = "mon colis n'est toujours pas arrivé et personne ne répond, c'est inadmissible"


def run_with_stdin(args: list[str], stdin: str | bytes) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def tsv(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.splitlines()]


def scored(texts: Iterable[str]) -> list[Classification]:
    """A stand-in for a scoring model: every text a complaint, sure to 0.91, for two reasons."""
    return [
        Classification("complaint", -0.5, "en", False, 0.91234, ("never arrived", "\x1b[2Jnobody"))
        for _ in texts
    ]


@pytest.fixture
def scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Classifier, "classify_many", lambda self, texts: scored(texts))


def test_one_text_per_line_is_labelled_with_its_language(tmp_path: Path) -> None:
    source = tmp_path / "posts.txt"
    source.write_text(f"{COMPLAINT}\n\n{PRAISE}\r\n{FRENCH}\n", encoding="utf-8")
    code, out, err = run_cli(["classify", str(source)])
    assert code == 0, err
    header, *rows = tsv(out)
    assert header == ["line", "label", "confidence", "language", "reasons", "text"]
    # The blank line 2 is skipped; line numbers say where each text is.
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("1", "complaint", "en"),
        ("3", "praise", "en"),
        ("4", "unclassified", "fr"),
    ]
    # The complaint model's score and reasons for English; the French post has none: "-".
    english = Classifier().classify(COMPLAINT)
    assert english.confidence is not None
    assert rows[0][2] == f"{english.confidence:.3f}" and rows[0][4] == "; ".join(english.reasons)
    assert rows[2][2] == "-" and rows[2][4] == "-"
    assert rows[1][5] == PRAISE


def test_json_lines_carry_label_confidence_language_and_reasons(tmp_path: Path) -> None:
    source = tmp_path / "posts.txt"
    source.write_text(f"{COMPLAINT}\n{FRENCH}\n", encoding="utf-8")
    code, out, _ = run_cli(["classify", "--json", str(source)])
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    english = Classifier().classify(COMPLAINT)
    assert english.confidence is not None
    confidence = round(english.confidence, label_texts.CONFIDENCE_DECIMALS)
    reasons = list(english.reasons)
    assert rows == [
        {
            "line": 1,
            "label": "complaint",
            "confidence": confidence,
            "language": "en",
            "reasons": reasons,
        },
        {"line": 2, "label": "unclassified", "confidence": None, "language": "fr", "reasons": []},
    ]


def test_confidence_and_reasons_are_printed_escaped(tmp_path: Path, scoring: None) -> None:
    source = tmp_path / "posts.txt"
    source.write_text("where is my refund\n", encoding="utf-8")
    code, out, _ = run_cli(["classify", str(source)])
    assert code == 0
    (row,) = tsv(out)[1:]
    assert row[1:5] == ["complaint", "0.912", "en", "never arrived; \\x1b[2Jnobody"]
    code, out, _ = run_cli(["classify", "--json", str(source)])
    assert json.loads(out) == {
        "line": 1,
        "label": "complaint",
        "confidence": 0.9123,
        "language": "en",
        "reasons": ["never arrived", "\\x1b[2Jnobody"],
    }
    assert "\x1b" not in out


def test_csv_column_and_ids_with_a_quoted_multi_line_text(tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    source.write_text(
        f'tweet_id,body,domain\n11,"{COMPLAINT}",retail\n12,"thanks so much,\nyou fixed it '
        'in minutes!",food\n',
        encoding="utf-8",
    )
    code, out, err = run_cli(
        ["classify", str(source), "--column", "body", "--id-column", "tweet_id"]
    )
    assert code == 0, err
    header, *rows = tsv(out)
    assert header[:3] == ["line", "id", "label"]
    # A CSV row's line is the line it ends on.
    assert [(r[0], r[1], r[2]) for r in rows] == [("2", "11", "complaint"), ("4", "12", "praise")]
    assert rows[1][-1] == "thanks so much, you fixed it in minutes!"


def test_jsonl_from_stdin_with_the_default_key() -> None:
    lines = [json.dumps({"id": 7, "text": COMPLAINT}), "", json.dumps({"id": 8, "text": PRAISE})]
    code, out, _ = run_with_stdin(
        ["classify", "-", "--format", "jsonl", "--id-column", "id", "--json"], "\n".join(lines)
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["line"], r["id"], r["label"]) for r in rows] == [
        (1, "7", "complaint"),
        (3, "8", "praise"),
    ]


def test_stdin_is_one_text_per_line_by_default() -> None:
    code, out, _ = run_with_stdin(["classify", "-"], f"{PRAISE}\n{COMPLAINT}\n")
    assert code == 0
    assert [r[1] for r in tsv(out)[1:]] == ["praise", "complaint"]


def test_a_text_cannot_forge_a_cell_or_a_line_or_act_on_the_terminal(tmp_path: Path) -> None:
    source = tmp_path / "posts.csv"
    source.write_text('text\n"my order\tis late\x1b]0;owned\x07"\n', encoding="utf-8")
    code, out, _ = run_cli(["classify", str(source)])
    assert code == 0
    (row,) = tsv(out)[1:]
    assert len(row) == 6
    assert row[-1] == "my order is late\\x1b]0;owned\\x07"
    assert "\x1b" not in out and "\x07" not in out


def test_texts_are_classified_in_batches_and_printed_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    original = Classifier.classify_many

    def counting(self: Classifier, texts: Iterable[str]) -> list[Classification]:
        listed = list(texts)
        batches.append(len(listed))
        return original(self, listed)

    monkeypatch.setattr(Classifier, "classify_many", counting)
    monkeypatch.setattr(label_texts, "BATCH", 2)
    source = tmp_path / "posts.txt"
    source.write_text("\n".join([COMPLAINT, PRAISE] * 3) + "\n", encoding="utf-8")
    code, out, _ = run_cli(["classify", str(source)])
    assert code == 0
    assert batches == [2, 2, 2]
    assert [r[1] for r in tsv(out)[1:]] == ["complaint", "praise"] * 3
    assert out.count("line\tlabel") == 1


def test_an_empty_input_prints_the_header_alone() -> None:
    code, out, _ = run_with_stdin(["classify", "-"], "")
    assert code == 0
    assert out.splitlines() == ["line\tlabel\tconfidence\tlanguage\treasons\ttext"]


BAD_INPUTS = [
    ("missing.txt", None, [], "missing.txt: No such file or directory"),
    ("posts.csv", "id,body\n1,hello\n", [], "posts.csv: no column 'text' (columns: id, body)"),
    ("posts.csv", "text\nok\n", ["--id-column", "tweet_id"], "no column 'tweet_id'"),
    ("posts.csv", 'text\n"never closed\n', [], "posts.csv:2: malformed CSV"),
    ("posts.csv", "id,text\n1,fine\n2\n", [], "posts.csv:3: 1 field where the header has 2"),
    ("posts.jsonl", '{"text": "fine"}\n{"text": \n', [], "posts.jsonl:2: not JSON"),
    ("posts.jsonl", "[1, 2]\n", [], "posts.jsonl:1: not a JSON object"),
    ("posts.jsonl", '{"body": "x"}\n', [], "posts.jsonl:1: no 'text' value"),
    ("posts.jsonl", '{"text": 3}\n', [], "posts.jsonl:1: a non-string 'text' value"),
    ("posts.txt", b"caf\xe9 was awful\n", [], "posts.txt: not UTF-8 text"),
    ("posts.txt", "x\n", ["--column", "body"], "--column and --id-column read CSV or JSONL"),
    ("posts.txt", "x\n", ["--format", "xml"], "--format must be one of lines, csv, jsonl"),
]


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"), BAD_INPUTS, ids=[b[3][:40] for b in BAD_INPUTS]
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, name: str, content: str | bytes | None, extra: list[str], message: str
) -> None:
    source = tmp_path / name
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        source.write_text(content, encoding="utf-8")
    code, _, err = run_cli(["classify", str(source), *extra])
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("error: ") and message in line


def test_a_folder_is_refused(tmp_path: Path) -> None:
    code, _, err = run_cli(["classify", str(tmp_path)])
    assert code == 2 and "not a regular file" in err


def test_rows_before_a_bad_line_are_printed(tmp_path: Path) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_text(json.dumps({"text": PRAISE}) + "\nnot json\n", encoding="utf-8")
    code, out, err = run_cli(["classify", str(source)])
    assert code == 2
    assert [r[1] for r in tsv(out)[1:]] == ["praise"]
    assert "posts.jsonl:2: not JSON" in err


def test_help_says_what_is_printed() -> None:
    code, out, _ = run_cli(["classify", "--help"])
    assert code == 0
    for words in ("--column", "--id-column", "--format", "--json", "reasons", "confidence"):
        assert words in out
