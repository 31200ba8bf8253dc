"""The source contract: every input type lists its accounts and reads one, the same way."""

from __future__ import annotations

import ast
import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

import auditor.engine.audit as engine_module
from auditor.model import AccountKey
from auditor.sources.bundle import file_sha256
from auditor.sources.inputs import (
    INPUT_TYPES,
    BundleInput,
    InputError,
    TwcsInput,
    open_inputs,
)

from conftest import WriteBundle, healthy_account, neglected_account

TWCS_DATA = Path(__file__).parent / "data" / "twcs"
ACME, GLOBO = AccountKey("x", "AcmeHelp"), AccountKey("x", "GloboCare")


def test_the_engine_names_no_source_module() -> None:
    tree = ast.parse(Path(engine_module.__file__).read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in modules if m.startswith("auditor.sources")} == {"auditor.sources.inputs"}
    assert "twcs" not in Path(engine_module.__file__).read_text().lower()


def test_each_source_type_has_one_input_type() -> None:
    assert dict(INPUT_TYPES) == {"bundle": BundleInput, "api": BundleInput, "twcs": TwcsInput}


def test_accounts_reading_one_file_the_same_way_share_one_input(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.csv"
    globo_api = AccountKey("x", "Globo")
    inputs = open_inputs(
        [
            ("twcs", two, ACME, {}),
            ("bundle", one, ACME, {}),
            ("api", one, globo_api, {}),  # the bundle a fetch wrote: read as any bundle
            ("twcs", two, GLOBO, {}),
            ("bundle", two, GLOBO, {}),
        ]
    )
    assert [(type(i), i.path, i.wanted) for i in inputs] == [
        (TwcsInput, two, [ACME, GLOBO]),
        (BundleInput, one, [ACME, globo_api]),
        (BundleInput, two, [GLOBO]),
    ]


def test_a_bundle_is_indexed_before_the_run(tmp_path: Path, write_bundle_file: WriteBundle) -> None:
    path = write_bundle_file("b.jsonl", [*healthy_account(), *neglected_account()])
    nobody = AccountKey("x", "Nobody")
    source = BundleInput(path, [GLOBO, nobody, ACME])
    known = source.index()
    assert known.sha256 == file_sha256(path)
    assert known.missing == [(nobody, f"{path}: no records for account x:Nobody")]
    assert source.accounts() == [GLOBO, ACME]  # in the config's order
    assert source.readable_by_account and source.open() is None
    by_key = {data.key: data for data in source.read_all()}
    assert set(by_key) == {ACME, GLOBO}
    for key in (ACME, GLOBO):
        alone = source.read(key)
        assert alone.posts == by_key[key].posts and alone.profile == by_key[key].profile
    # Every byte but the closing end record's is one account's.
    end_line = path.read_bytes().splitlines(keepends=True)[-1]
    assert json.loads(end_line) == {"kind": "end", "records": 8}
    assert source.size(ACME) + source.size(GLOBO) + len(end_line) == path.stat().st_size


def test_a_compressed_bundle_is_read_in_one_pass_only(
    tmp_path: Path, write_bundle_file: WriteBundle
) -> None:
    plain = write_bundle_file("b.jsonl", healthy_account())
    packed = tmp_path / "b.jsonl.gz"
    with plain.open("rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    bundle = BundleInput(packed, [ACME])
    bundle.index()
    assert not bundle.readable_by_account
    assert [data.key for data in bundle.read_all()] == [ACME]


def test_a_bundle_that_cannot_be_read_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape("missing.jsonl: cannot open bundle")):
        BundleInput(tmp_path / "missing.jsonl", [ACME]).index()


def test_a_twcs_file_is_read_in_full_on_its_turn() -> None:
    path = TWCS_DATA / "twcs_indexed.csv"
    acme, nobody = AccountKey("x", "acmehelp"), AccountKey("x", "NoSuchBrand")
    source = TwcsInput(path, [acme, nobody])
    assert source.index() is None and not source.readable_by_account
    known = source.open()
    assert known.sha256 == file_sha256(path)
    assert known.missing == [(nobody, f"{path}: no tweets by brand NoSuchBrand")]
    # The dataset spells the handle AcmeHelp: the account keeps the config's spelling.
    assert source.accounts() == [acme] and source.readable_by_account
    data = source.read(acme)
    assert data.key == acme and len(data.posts) == source.size(acme) > 0
    assert [d.key for d in source.read_all()] == [acme]
    source.close()
    assert not source.readable_by_account


def test_unreadable_twcs_rows_make_every_account_incomplete() -> None:
    path = TWCS_DATA / "twcs_bom_crlf.csv"
    key = AccountKey("x", "ShipFastCare")
    source = TwcsInput(path, [key])
    source.open()
    data = source.read(key)
    assert data.window is not None and data.window.complete is False
    assert data.window.reason is not None and "could not be read" in data.window.reason
    assert any("not a date" in error for error in data.errors)


def test_a_twcs_file_that_cannot_be_read_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(InputError, match=re.escape(f"{path}: cannot read twcs file: ")):
        TwcsInput(path, [ACME]).open()
