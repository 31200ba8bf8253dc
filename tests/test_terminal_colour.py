"""The terminal in colour: status words coloured on a terminal (a real pty) or under
FORCE_COLOR, plain under NO_COLOR, TERM=dumb or when stdout is no terminal; the colour codes the
only escape sequences printed, a hostile value's own still shown escaped."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from readable_results import account, audit, check, findings

from auditor.reports.terminal import closing_line, render, wants_colour
from auditor.sources.bundle import write_bundle

from conftest import healthy_account, neglected_account
from tests_support import run_cli

# A Select Graphic Rendition sequence: the only escape the table may print.
SGR = re.compile(r"\x1b\[[0-9;]*m")
RED_FAIL = "\x1b[1;31mFAIL\x1b[0m"
GREEN_PASS = "\x1b[32mpass\x1b[0m"


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("environ", "tty", "coloured"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": ""}, True, True),  # set but empty: no-color.org says it does not count
        ({"TERM": "dumb"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": ""}, False, False),
        ({"FORCE_COLOR": "1", "TERM": "dumb"}, False, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, True, False),
    ],
)
def test_colour_is_chosen_by_the_environment_then_the_stream(
    environ: dict[str, str], tty: bool, coloured: bool
) -> None:
    assert wants_colour(_Stream(tty), environ) is coloured


def _write_audit(folder: Path, client: str = "Acme") -> Path:
    write_bundle(folder / "acme.jsonl", healthy_account("AcmeHelp"))
    write_bundle(folder / "globo.jsonl", neglected_account("GloboCare"))
    config = folder / "audit.yaml"
    config.write_text(
        "output: {dir: out}\nstore: {path: out/history.sqlite}\nclients:\n"
        f'  - name: "{client}"\n    accounts:\n'
        "      - {platform: x, handle: AcmeHelp, source: acme.jsonl}\n"
        "      - {platform: x, handle: GloboCare, source: globo.jsonl}\n",
        encoding="utf-8",
    )
    return config


def _shown_lines(stdout: str) -> list[str]:
    """What a run printed but the paths it wrote (each run has a folder of its own)."""
    return [line for line in stdout.splitlines() if not line.startswith("wrote ")]


def test_force_color_colours_the_status_words_and_the_verdict_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write_audit(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    code, coloured, err = run_cli(["run", str(config), "--output", "coloured"])
    assert code == 1, err
    assert RED_FAIL in coloured and GREEN_PASS in coloured
    assert "\x1b[2mn/a\x1b[0m" in coloured or "n/a" not in SGR.sub("", coloured)
    closing = coloured.splitlines()[-1]
    assert "\x1b[1;31mexit 1\x1b[0m:" in closing
    monkeypatch.setenv("NO_COLOR", "1")
    code, plain, err = run_cli(["run", str(config), "--output", "plain"])
    assert code == 1, err
    assert "\x1b" not in plain
    # The colours add codes and nothing else: the columns line up as they do in plain.
    assert _shown_lines(SGR.sub("", coloured)) == _shown_lines(plain)


def test_not_a_terminal_is_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    code, stdout, err = run_cli(["run", str(_write_audit(tmp_path))])
    assert code == 1, err
    assert "FAIL" in stdout and "\x1b" not in stdout


def _run_on_a_pty(folder: Path, config: Path, environ: dict[str, str]) -> str:
    """``auditor run CONFIG`` with its stdout on a pseudo-terminal, as a person runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update({"TERM": "xterm-256color", **environ})
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "auditor", "run", str(config)]
    with subprocess.Popen(
        command, cwd=folder, env=env, stdout=terminal, stderr=subprocess.PIPE
    ) as process:
        os.close(terminal)
        shown = bytearray()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        process.wait(timeout=30)
    os.close(controller)
    assert process.returncode == 1, process.stderr
    return shown.decode("utf-8")


@pytest.mark.parametrize(
    ("environ", "coloured"), [({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False)]
)
def test_a_real_terminal_is_coloured_unless_told_not_to(
    tmp_path: Path, environ: dict[str, str], coloured: bool
) -> None:
    config = _write_audit(tmp_path)
    shown = _run_on_a_pty(tmp_path, config, environ)
    assert "FAIL" in shown
    assert (RED_FAIL in shown) is coloured
    assert ("\x1b" in shown) is coloured


HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07"
HOSTILE_SHOWN = "evil\\x1b[2J\\x1b]0;pwned\\x07"


def test_a_hostile_value_stays_escaped_in_colour() -> None:
    hostile_check = check("RSP001", "fail", findings("RSP001", HOSTILE, 2), title=HOSTILE)
    hostile = account(HOSTILE, HOSTILE, [hostile_check, check("PRF001", "pass")])
    hostile.errors.append(f"server said {HOSTILE}")
    result = audit([hostile])
    table = render(result, colour=True)
    assert RED_FAIL in table and GREEN_PASS in table
    # Every escape left is a colour code of the table's own.
    assert "\x1b" not in SGR.sub("", table)
    assert f"{HOSTILE_SHOWN} / x:{HOSTILE_SHOWN}" in table
    assert f"server said {HOSTILE_SHOWN}" in table
    # An incomplete account's key is in the closing line's reason; the verdict is yellow.
    unfinished = audit([account("Acme", HOSTILE, [check("RSP001", "incomplete")])])
    closing = closing_line(unfinished.totals(), colour=True)
    assert "\x1b[33mexit 3\x1b[0m:" in closing
    assert "\x1b" not in SGR.sub("", closing) and f"x:{HOSTILE_SHOWN}" in closing


def test_new_findings_since_the_last_audit_show_beside_the_status() -> None:
    found = findings("RSP001", "AcmeHelp", 3)
    checks = [check("RSP001", "fail", found), check("PRF001", "pass")]
    row = account("Acme", "AcmeHelp", checks, new=[found[0].uid, found[2].uid])
    table = render(audit([row]))
    (rsp001,) = [line for line in table.splitlines() if line.startswith("RSP001")]
    assert "FAIL (2 new)" in rsp001
    assert "since last audit: 2 new" in table
    (prf001,) = [line for line in table.splitlines() if line.startswith("PRF001")]
    assert "new" not in prf001
    first = render(audit([account("Acme", "AcmeHelp", checks)]))
    assert "new" not in first
