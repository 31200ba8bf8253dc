"""Places a run writes to are checked before any work starts: one line, exit 2.

Before, an output path that was a file surfaced as a NotADirectoryError traceback after the
history store had been written, with exit 1 ("a check failed").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.sources.bundle import write_bundle

from conftest import assert_one_line_exit_2, healthy_account, run_auditor


def write_config(folder: Path, *, output: str = "out", store: str = "out/history.sqlite") -> Path:
    write_bundle(folder / "acme.jsonl", healthy_account("AcmeHelp"))
    config = folder / "audit.yaml"
    config.write_text(
        f"output: {{dir: {output}, formats: [json]}}\n"
        f"store: {{path: {store}}}\n"
        "clients:\n"
        "  - name: Acme\n"
        "    accounts:\n"
        "      - {platform: x, handle: AcmeHelp, source: acme.jsonl}\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize(
    ("where", "what"),
    [("config", "output folder"), ("option", "output folder"), ("store", "history store folder")],
)
def test_a_file_where_a_folder_goes_stops_the_run_before_any_work(
    tmp_path: Path, where: str, what: str
) -> None:
    (tmp_path / "taken").write_text("a file, not a folder\n", encoding="utf-8")
    config = write_config(
        tmp_path,
        output="taken/reports" if where == "config" else "out",
        store="taken/history.sqlite" if where == "store" else "elsewhere/history.sqlite",
    )
    extra = ["--output", str(tmp_path / "taken")] if where == "option" else []
    process = run_auditor("run", str(config), *extra, cwd=tmp_path)
    assert_one_line_exit_2(process, what, "taken is not a folder")
    # Nothing was done: no history store, no report anywhere.
    assert not list(tmp_path.rglob("*.sqlite")), "the store was written before the check"
    assert not list(tmp_path.rglob("report.json"))


def test_a_store_path_that_is_a_folder_stops_the_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, store="out/history.sqlite")
    (tmp_path / "out" / "history.sqlite").mkdir(parents=True)
    process = run_auditor("run", str(config), cwd=tmp_path)
    assert_one_line_exit_2(process, "history.sqlite is a folder, not a file")


def test_a_bundle_folder_that_is_a_file_stops_the_fetch(tmp_path: Path) -> None:
    (tmp_path / "bundles").write_text("a file\n", encoding="utf-8")
    config = tmp_path / "audit.yaml"
    config.write_text(
        "store: {path: out/history.sqlite}\n"
        "fetch: {dir: bundles/here}\n"
        "clients:\n"
        "  - name: Acme\n"
        "    accounts:\n"
        "      - {platform: mastodon, handle: acme@social.example,\n"
        "         source: {type: api, base_url: 'http://127.0.0.1:9'}}\n",
        encoding="utf-8",
    )
    for command in ("fetch", "run"):
        process = run_auditor(command, str(config), cwd=tmp_path)
        assert_one_line_exit_2(process, "fetch.dir", "bundles is not a folder")
    assert not (tmp_path / "out").exists()


def test_a_usable_new_output_folder_is_made(tmp_path: Path) -> None:
    config = write_config(tmp_path, output="new/deeper/reports")
    process = run_auditor("run", str(config), "--quiet", cwd=tmp_path)
    assert "Traceback" not in process.stderr
    assert process.returncode in (0, 1), process.stderr
    assert list((tmp_path / "new" / "deeper" / "reports").rglob("report.json"))
