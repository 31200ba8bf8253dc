"""`auditor config validate` says valid only when `run` would read every input: each bundle and
twcs file exists and is readable, and with --deep every line parses as `run` parses it, with the
same file:line messages."""

from __future__ import annotations

import gzip
from pathlib import Path

from conftest import WriteBundle, WriteConfig, healthy_account, neglected_account
from tests_support import run_cli

TWCS_WITH_A_BAD_ROW = Path(__file__).parent / "data" / "twcs" / "twcs_bom_crlf.csv"


def _config(write_config: WriteConfig, acme: Path, globo: Path, extra: str = "") -> Path:
    return write_config(f"""
        output: {{dir: out}}
        store: {{path: out/history.sqlite}}
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {acme}}}
              - {{platform: mastodon, handle: acmehelp@social.example,
                  source: {{type: api, token_env: AUDITOR_TEST_UNSET_TOKEN}}}}
          - name: globo
            accounts:
              - {{platform: x, handle: GloboCare, source: {globo}}}
              {extra}
    """)


def _break_line(bundle: Path, number: int) -> None:
    """Make line ``number`` of a bundle invalid, as a hand edit would."""
    lines = bundle.read_text().splitlines()
    lines[number - 1] = lines[number - 1].replace('"by_brand":false', '"by_brand":"nope"')
    bundle.write_text("\n".join(lines) + "\n")


def test_a_missing_bundle_is_not_valid(
    write_config: WriteConfig, write_bundle_file: WriteBundle, tmp_path: Path
) -> None:
    acme = write_bundle_file("acme.jsonl", healthy_account())
    config = _config(write_config, acme, tmp_path / "globo.jsonl")
    code, out, err = run_cli(["config", "validate", str(config)])
    assert code == 2, out
    assert f"error: {tmp_path / 'globo.jsonl'}: cannot open bundle: No such file" in err
    assert "valid (" not in out
    # run rejects the same input with the same words.
    run_code, _, run_err = run_cli(["run", str(config), "-q"])
    assert run_code == 2 and f"{tmp_path / 'globo.jsonl'}: cannot open bundle" in run_err


def test_a_folder_or_a_broken_gzip_is_not_a_readable_input(
    write_config: WriteConfig, write_bundle_file: WriteBundle, tmp_path: Path
) -> None:
    acme = write_bundle_file("acme.jsonl", healthy_account())
    (tmp_path / "folder.jsonl").mkdir()
    not_gzip = tmp_path / "globo.jsonl.gz"
    not_gzip.write_bytes(b'{"kind": "profile"}\n')
    config = _config(
        write_config,
        acme,
        not_gzip,
        extra=f"- {{platform: x, handle: Other, source: {tmp_path / 'folder.jsonl'}}}",
    )
    code, _, err = run_cli(["config", "validate", str(config)])
    assert code == 2
    assert f"{not_gzip}: cannot read bundle: Not a gzipped file" in err
    assert (
        f"{tmp_path / 'folder.jsonl'}: cannot open bundle: is a directory, not a regular file"
        in err
    )
    assert "run would stop on 2 input errors" in err


def test_deep_reads_every_line_with_the_messages_run_gives(
    write_config: WriteConfig, write_bundle_file: WriteBundle, tmp_path: Path
) -> None:
    acme = write_bundle_file("acme.jsonl", healthy_account())
    globo = write_bundle_file("globo.jsonl", neglected_account())
    _break_line(globo, 3)
    config = _config(write_config, acme, globo)

    code, out, _ = run_cli(["config", "validate", str(config)])
    assert code == 0  # without --deep a readable file is enough
    assert "valid (2 clients, 3 accounts; 2 input files readable, 1 api account to fetch)" in out

    code, out, err = run_cli(["config", "validate", str(config), "--deep"])
    bad_line = f"{globo}:3: x:GloboCare: 'by_brand' must be true or false"
    assert code == 2 and bad_line in err
    assert "x:GloboCare: 1 invalid record: run rejects the account" in err
    assert "valid (" not in out
    # run names the same line in the same words.
    run_code, _, run_err = run_cli(["run", str(config), "-q"])
    assert run_code == 2 and bad_line in run_err


def test_deep_finds_an_account_missing_from_its_bundle_and_reads_gzip_whole(
    write_config: WriteConfig, write_bundle_file: WriteBundle, tmp_path: Path
) -> None:
    acme = write_bundle_file("acme.jsonl.gz", healthy_account())
    globo = write_bundle_file("globo.jsonl", healthy_account("SomeoneElse"))
    config = _config(write_config, acme, globo)
    code, _, err = run_cli(["config", "validate", str(config), "--deep"])
    assert code == 2 and f"{globo}: no records for account x:GloboCare" in err

    # A gzip cut short after its first block opens fine but cannot be read whole.
    whole = gzip.decompress(acme.read_bytes())
    lines = whole.splitlines(keepends=True)
    filler = [lines[-2].replace(b'"id":"2"', f'"id":"f{n}"'.encode()) for n in range(4000)]
    acme.write_bytes(gzip.compress(b"".join([*lines, *filler]), mtime=0)[:-4000])
    globo = write_bundle_file("globo.jsonl", neglected_account())
    config = _config(write_config, acme, globo)
    assert run_cli(["config", "validate", str(config)])[0] == 0
    code, _, err = run_cli(["config", "validate", str(config), "--deep"])
    assert code == 2 and f"{acme}: cannot read bundle" in err


def test_deep_on_a_clean_config_reads_everything_and_exits_0(
    write_config: WriteConfig, write_bundle_file: WriteBundle
) -> None:
    acme = write_bundle_file("acme.jsonl", healthy_account())
    globo = write_bundle_file("globo.jsonl.gz", neglected_account())
    config = _config(write_config, acme, globo)
    code, out, err = run_cli(["config", "validate", str(config), "--deep"])
    assert code == 0 and not err
    assert "2 input files read whole" in out


def test_deep_says_which_twcs_rows_run_would_skip_and_exits_3(write_config: WriteConfig) -> None:
    config = write_config(f"""
        output: {{dir: out}}
        store: {{path: out/history.sqlite}}
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp,
                  source: {{type: twcs, path: {TWCS_WITH_A_BAD_ROW}}}}}
    """)
    assert run_cli(["config", "validate", str(config)])[0] == 0
    code, out, err = run_cli(["config", "validate", str(config), "--deep"])
    assert code == 3, (out, err)
    assert "warning: twcs_bom_crlf.csv:" in err and "not a date" in err
    assert "x:AcmeHelp: audited as incomplete: 1 row of" in err
    # run audits it as incomplete: the same answer.
    assert run_cli(["run", str(config), "-q"])[0] == 3
