"""The bundle's typed definition (``auditor.sources.bundle.format``) against everything else that
knows the format: the JSON Schema file, the writer's key order, the one-call post decoder, and
the hand-written validation, which must give the definition's verdict for any record."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from msgspec import inspect

from auditor.config import load_schema
from auditor.model import AccountData, AccountKey, Conversation, Message, Post, Profile, Window
from auditor.sources.bundle import (
    RECORD_TYPES,
    MessageRecord,
    PostRecord,
    RecordError,
    account_records,
    add_record,
    check_record,
    dump_record,
    end_record,
    index_bundle,
    read_bundle,
    read_span,
    record_key,
)
from auditor.sources.bundle.format import TIME_PATTERN, schema_text
from auditor.sources.bundle.reader import _PostLine

SCHEMA_FILE = Path(__file__).parents[1] / "config" / "schema" / "bundle.schema.json"


def test_the_schema_file_is_the_one_generated_from_the_definition() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "regenerate it: python -m auditor.sources.bundle > config/schema/bundle.schema.json"
    )
    assert load_schema("bundle.schema.json") == json.loads(schema_text())


def _keys(kind: str) -> list[str]:
    (record_type,) = [t for t in RECORD_TYPES if t.__struct_config__.tag == kind]
    return ["kind", *record_type.__struct_fields__]


def test_the_writer_writes_the_keys_of_the_definition_in_its_order() -> None:
    at = datetime(2026, 11, 10, 10, tzinfo=UTC)
    data = AccountData(
        key=AccountKey("x", "AcmeHelp"),
        profile=Profile("x", "AcmeHelp"),
        window=Window(start=at, end=at),
        posts=[Post(id="1", author="ann", by_brand=False, created_at=at)],
        conversations=[Conversation("c", "ann", [Message("m", False, at)])],
    )
    written = list(account_records(data))
    assert [r["kind"] for r in written] == ["profile", "window", "post", "conversation"]
    for record in written:
        assert list(record) == _keys(record["kind"])
        assert list(json.loads(dump_record(record))) == _keys(record["kind"])
    assert list(written[-1]["messages"][0]) == list(MessageRecord.__struct_fields__)


def test_the_one_call_post_decoder_has_the_keys_of_the_definition() -> None:
    # Its own "extra" field is where the model keeps unknown keys; a line never sets it.
    assert set(_PostLine.__struct_fields__) == set(_keys("post")) - {"kind"} | {"extra"}
    assert "extra" not in _PostLine.__struct_encode_fields__  # on a line, an unknown key
    assert _PostLine.__struct_config__.tag == "post"


# ---------------------------------------------------------------------------------------------
# Records made from the definition: each key valid for its type, another JSON value, or absent


VALID_TIMES = [
    "2026-11-10T10:00:00+00:00",
    "2026-11-10T10:00:00Z",
    "2026-11-10 09:30+05:30",
    "2026-11-09T23:59:59.123456-04:00",
]
# JSON values of every type, some of them valid for some keys: the definition decides.
OTHER_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    7,
    1.0,
    1.5,
    "",
    "x",
    "post",
    "public",
    "deleted",
    "brand",
    "conversations",
    "likes",
    "yesterday",
    "2026-11-10",
    "2026-11-10 10:00",
    *VALID_TIMES,
    [],
    ["deleted", "deleted"],
    ["likes"],
    [{"id": "m", "by_brand": True, "created_at": "2026-11-10T10:00:00Z"}],
    [{"id": "m"}],
    ["text"],
    {},
    {"always_open": True},
]


def _valid(info: inspect.Type, plain: bool) -> st.SearchStrategy[Any]:
    """Values the definition accepts for one key's type; ``plain``: only those this project's
    writer writes (string ids, a text, a visibility, times with a "T"), which send a post line
    to the one-call decoder."""
    if isinstance(info, inspect.Metadata):
        return _valid(info.type, plain)
    if isinstance(info, inspect.UnionType):
        types = [t for t in info.types if not plain or not isinstance(t, inspect.IntType)]
        if plain and len(types) > 1 and not isinstance(types[0], inspect.LiteralType):
            types = [t for t in types if not isinstance(t, inspect.NoneType)]
        return st.one_of([_valid(t, plain) for t in types])
    if isinstance(info, inspect.StrType):
        if info.pattern == TIME_PATTERN:
            return st.sampled_from([t for t in VALID_TIMES if "T" in t or not plain])
        return st.text(min_size=info.min_length or 0, max_size=8)
    if isinstance(info, inspect.IntType):
        return st.integers(-(2**62), 2**62)
    if isinstance(info, inspect.BoolType):
        return st.booleans()
    if isinstance(info, inspect.NoneType):
        return st.none()
    if isinstance(info, inspect.LiteralType):
        return st.sampled_from([v for v in info.values if v is not None or not plain])
    if isinstance(info, inspect.ListType):
        return st.lists(_valid(info.item_type, plain), max_size=3)
    if isinstance(info, inspect.DictType):
        return st.dictionaries(st.text(max_size=5), st.integers(0, 9) | st.text(max_size=5))
    if isinstance(info, inspect.StructType):
        return _record(info, None, plain)
    raise AssertionError(f"no strategy for {info}")


def _sometimes_wrong(
    valid: st.SearchStrategy[Any], odds: int, absent: object
) -> st.SearchStrategy[Any]:
    """A valid value, or one time in ``odds`` another JSON value, and as often none."""
    return st.integers(0, odds).flatmap(
        lambda pick: (
            st.sampled_from(OTHER_VALUES) if pick == 0 else st.just(absent) if pick == 1 else valid
        )
    )


def _record(
    info: inspect.StructType, tag: str | None, plain: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """A record of one type: mostly valid keys, now and then another value, a missing key or
    an unknown one."""
    absent = object()
    keys: dict[str, st.SearchStrategy[Any]] = {}
    for field in info.fields:
        # Picked by weight so that about half of the records of a type break it in one key.
        keys[field.name] = _sometimes_wrong(_valid(field.type, plain), 4 * len(info.fields), absent)
    # "extra" too: the model's name for unknown keys, but on a line a key like any other.
    unknown = st.dictionaries(
        st.sampled_from(["lang", "label", "extra"]),
        st.integers(0, 9) | st.sampled_from([{}, {"lang": "en"}]),
        max_size=1,
    )

    # The tag too: now and then another value, or none.
    kind = _sometimes_wrong(st.just(tag), 30, absent)

    def build(kind: Any, values: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
        record = {} if tag is None or kind is absent else {"kind": kind}
        record.update((k, v) for k, v in values.items() if v is not absent)
        return {**record, **more}

    return st.builds(build, kind, st.fixed_dictionaries(keys), unknown)


RECORDS = st.one_of(
    [_record(inspect.type_info(t), t.__struct_config__.tag) for t in RECORD_TYPES]  # type: ignore[arg-type]
    + [_record(inspect.type_info(PostRecord), "post", plain=True)]  # type: ignore[arg-type]
)


def _definition_accepts(record: dict[str, Any]) -> bool:
    try:
        check_record(record)
    except msgspec.ValidationError:
        return False
    return True


def _reader(record: dict[str, Any]) -> tuple[AccountData | None, str | None]:
    """The account the hand-written validation makes of one record, or what is wrong."""
    try:
        data = AccountData(key=record_key(record))
        add_record(data, record)
    except RecordError as error:
        return None, str(error)
    return data, None


# Falsy values of ``visibility`` read as public: a leniency of the reader the definition and
# the schema do not share (kept: behaviour is unchanged by the restructure).
def _lenient_visibility(record: dict[str, Any]) -> bool:
    value = record.get("visibility")
    return record.get("kind") == "post" and value is not None and not value


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_the_reader_gives_the_definitions_verdict_on_any_record(record: dict[str, Any]) -> None:
    _, problem = _reader(record)
    if _lenient_visibility(record):
        accepted = _definition_accepts({**record, "visibility": None})
    else:
        accepted = _definition_accepts(record)
    assert (problem is None) == accepted, (record, problem)


PLAIN_POST = {
    "kind": "post",
    "platform": "x",
    "account": "AcmeHelp",
    "id": "1",
    "author": "ann",
    "by_brand": False,
    "created_at": "2026-11-10T10:00:00+00:00",
}


def _as_model(data: AccountData) -> AccountData:
    fields = Post.__struct_fields__
    posts = [Post(**{name: getattr(post, name) for name in fields}) for post in data.posts]
    return dataclasses.replace(data, posts=posts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
@example(PLAIN_POST)
@example(  # every key written, a backslash: proven as a run, refused as a line alone
    {
        **PLAIN_POST,
        "author": "\\",
        **dict.fromkeys(["author_id", "in_reply_to", "thread", "deleted_by", "url"]),
        **dict.fromkeys(["source", "automated", "mentions"]),
        "text": "",
        "visibility": "deleted",
    }
)
@example({**PLAIN_POST, "extra": {}})
@example({**PLAIN_POST, "extra": {"lang": "en"}})
@example({**PLAIN_POST, "account": ""})
def test_every_way_of_reading_a_line_gives_the_same_account(
    tmp_path_factory: pytest.TempPathFactory, record: dict[str, Any]
) -> None:
    """The one-call decoder of plain post lines, the run decoder of ``read_span`` and the
    hand-written validation give the same records, or the same error, for any line."""
    path = tmp_path_factory.mktemp("line") / "b.jsonl"
    path.write_bytes(dump_record(record) + dump_record(end_record(1)))
    expected, problem = _reader(record)
    index = index_bundle(path)
    streamed = list(read_bundle(index))
    if not streamed:
        # No account could be told: the line is listed against the file, not parsed.
        with pytest.raises(RecordError):
            record_key(record)
        assert [e.line for e in index.unattributed] == [1]
        return
    (data,) = streamed
    # The same posts, whichever decoder made them (a run may be proven where a line alone is
    # not, and a line's decoder type carries its platform and account besides the post).
    assert _as_model(read_span(index, data.key)) == _as_model(data)
    if problem is not None:
        assert data.errors == [f"{path}:1: {data.key}: {problem}"]
        assert not (data.posts or data.conversations or data.profile or data.window)
        return
    assert expected is not None and not data.errors
    assert [_fields(p) for p in data.posts] == [_fields(p) for p in expected.posts]
    assert (data.profile, data.window) == (expected.profile, expected.window)
    assert data.conversations == expected.conversations


def _fields(post: Post) -> dict[str, Any]:
    return {name: getattr(post, name) for name in Post.__struct_fields__}
