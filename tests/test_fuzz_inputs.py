"""Malformed bundles and twcs files thrown at ``auditor run`` (#12): whatever the damage, the
answer is a report or exit 2 with lines naming the file, never a traceback, never a hang, and
never a pass on data that went missing.

Each example starts from a good input and damages it the ways files get damaged: cut at any
byte or line, a line dropped, repeated or swapped, bytes flipped, a value of another type, a
key written twice, garbage or NUL bytes, a very long line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.sources.bundle import dump_record

from conftest import healthy_account, neglected_account
from tests_support import no_hang, run_cli

# Seconds one audit of these small files may take before it counts as a hang.
HANG_SECONDS = 20

TWCS_HEADER = (
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
)
TWCS_ROWS = [
    "1,bob,True,Tue Oct 31 22:10:47 +0000 2017,@AcmeHelp my order is late,2,\n",
    "2,AcmeHelp,False,Tue Oct 31 22:15:00 +0000 2017,@bob sorry! Please DM us,,1\n",
    "3,carla,True,Tue Oct 31 23:00:00 +0000 2017,@AcmeHelp still waiting,,\n",
]


def _good_bundle() -> bytes:
    records = [*healthy_account(), *neglected_account()]
    return b"".join(dump_record(r) for r in [*records, {"kind": "end", "records": len(records)}])


def _good_twcs() -> bytes:
    return (TWCS_HEADER + "".join(TWCS_ROWS)).encode()


@st.composite
def damaged(draw: st.DrawFn, good: bytes) -> tuple[bytes, bool]:
    """A damaged copy of ``good`` and whether the damage can only lose data (cut, dropped)."""
    lines = good.splitlines(keepends=True)
    how = draw(
        st.sampled_from(
            ["cut byte", "cut line", "drop", "repeat", "swap", "flip", "retype", "twice", "junk"]
        )
    )
    at = draw(st.integers(0, len(lines) - 1))
    if how == "cut byte":
        cut = good[: draw(st.integers(0, len(good) - 1))]
        # Only the last line break cut: nothing is lost.
        return cut, cut != good.rstrip(b"\n")
    if how == "cut line":
        return b"".join(lines[:at]), True
    if how == "drop":
        return b"".join(lines[:at] + lines[at + 1 :]), True
    if how == "repeat":
        return b"".join(lines[: at + 1] + lines[at:]), False
    if how == "swap":
        other = draw(st.integers(0, len(lines) - 1))
        lines[at], lines[other] = lines[other], lines[at]
        return b"".join(lines), False
    if how == "flip":
        data = bytearray(good)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data), False
    if how == "retype":
        value = draw(st.sampled_from([b"null", b"[]", b"{}", b"-1", b'"0001-01-01T00:00:00Z"']))
        line = lines[at]
        colon = line.find(b'":', draw(st.integers(0, max(len(line) - 1, 0))))
        if colon > 0:
            end = line.find(b",", colon)
            lines[at] = line[: colon + 2] + value + (line[end:] if end > 0 else b"}\n")
        return b"".join(lines), False
    if how == "twice":
        key = draw(st.sampled_from([b"account", b"platform", b"kind", b"id", b"by_brand"]))
        lines[at] = lines[at].rstrip(b"}\n") + b',"' + key + b'":"Other"}\n'
        return b"".join(lines), False
    junk = draw(st.sampled_from([b"\x00" * 64, b"\xff\xfe garbage", b"{", b"[1,2]", b"x" * 5000]))
    return b"".join([*lines[:at], junk + b"\n", *lines[at:]]), False


def _audit(tmp_path: Path, kind: str, data: bytes) -> tuple[int, str, dict[str, Any] | None]:
    folder = tmp_path / "run"
    folder.mkdir()
    source = folder / ("input.jsonl" if kind == "bundle" else "input.csv")
    source.write_bytes(data)
    accounts = ["AcmeHelp", "GloboCare"] if kind == "bundle" else ["AcmeHelp"]
    lines = [
        f"output: {{dir: {folder}/out, formats: [json]}}",
        "clients:",
        "  - name: Acme",
        "    accounts:",
        *(
            f"      - {{platform: x, handle: {a}, source: {{type: {kind}, path: {source}}}}}"
            for a in accounts
        ),
    ]
    config = folder / "audit.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with no_hang(HANG_SECONDS):
        # catch_exceptions=False: a traceback fails the example.
        code, out, err = run_cli(["run", str(config)])
    reports = list((folder / "out").rglob("report.json"))
    report = json.loads(reports[0].read_text()) if reports else None
    return code, out + err, report


def _check(code: int, output: str, report: dict[str, Any] | None, loses: bool, path: str) -> None:
    assert "Traceback" not in output, output
    assert code in (0, 1, 2, 3), (code, output)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    if code == 2:
        assert errors and all(path in line for line in errors), output
    if report is None:
        assert code == 2, output
        return
    if loses:
        # Data went missing: no account passes on it as if it were whole.
        for account in report["accounts"]:
            whole = account["status"] == "pass" and account["coverage"].get("complete") is True
            assert not whole, (account["account"], account["status"], account["coverage"])


@pytest.mark.parametrize("kind", ["bundle", "twcs"])
def test_a_good_input_is_audited_whole(tmp_path: Path, kind: str) -> None:
    code, output, report = _audit(
        tmp_path, kind, _good_bundle() if kind == "bundle" else _good_twcs()
    )
    assert code in (0, 1, 3) and report is not None, output
    assert "Traceback" not in output


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=damaged(_good_bundle()))
def test_a_damaged_bundle_gets_a_report_or_exit_2_naming_it(
    tmp_path_factory: pytest.TempPathFactory, damage: tuple[bytes, bool]
) -> None:
    data, loses = damage
    tmp_path = tmp_path_factory.mktemp("bundle")
    code, output, report = _audit(tmp_path, "bundle", data)
    _check(code, output, report, loses, str(tmp_path / "run" / "input.jsonl"))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damage=damaged(_good_twcs()))
def test_a_damaged_twcs_file_gets_a_report_or_exit_2_naming_it(
    tmp_path_factory: pytest.TempPathFactory, damage: tuple[bytes, bool]
) -> None:
    data, _ = damage
    tmp_path = tmp_path_factory.mktemp("twcs")
    code, output, report = _audit(tmp_path, "twcs", data)
    # A twcs file has no end marker: a cut one reads as what it holds (rows count as read).
    _check(code, output, report, False, str(tmp_path / "run" / "input.csv"))
