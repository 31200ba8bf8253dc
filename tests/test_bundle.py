"""The bundle reader: streaming, file:line errors, and agreement with the JSON Schema."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from auditor.config import load_schema
from auditor.model import AccountData, AccountKey, Post, Profile
from auditor.sources.bundle import (
    BundleError,
    RecordError,
    account_records,
    add_record,
    dump_record,
    index_bundle,
    read_bundle,
    read_span,
    record_key,
    write_bundle,
)
from auditor.sources.bundle.reader import _post_run

from conftest import WriteBundle, healthy_account, neglected_account, post, profile, window

VALIDATOR = Draft202012Validator(load_schema("bundle.schema.json"))

GOOD: list[dict[str, Any]] = [
    *healthy_account(),
    post("7", "zoe", 3, visibility="hidden", deleted_by=None, automated=None, source="web"),
    post("8", "zoe", 2, visibility="deleted", deleted_by="author", custom_field={"kept": True}),
    {
        "kind": "conversation",
        "platform": "x",
        "account": "AcmeHelp",
        "id": "c1",
        "customer": "bob",
        "resolved_at": None,
        "linked_post": "1",
        "messages": [
            {
                "id": "m1",
                "by_brand": False,
                "created_at": "2026-11-10T10:00:00Z",
                "text": "order 5521",
            }
        ],
    },
    window(complete=None, observes=None, reason=None),
    {**profile(not_returned=["bio", "fields"]), "bio": None},
    profile(not_returned=None),
    {
        "kind": "post",
        "platform": "x",
        "account": 12345,
        "id": 99,
        "author": 7,
        "by_brand": False,
        "created_at": "2026-11-10T10:00:00.123+05:30",
    },
]

BAD: list[tuple[dict[str, Any], str]] = [
    ({"platform": "x", "account": "A", "id": "1"}, "'kind' must be one of"),
    ({"kind": "tweet", "platform": "x", "account": "A"}, "'kind' must be one of"),
    ({"kind": "post", "platform": "x", "id": "1"}, "missing 'account'"),
    (post("1", "bob", 1, by_brand="no"), "'by_brand' must be true or false"),
    ({**post("1", "bob", 1), "created_at": "2026-11-10 10:00"}, "no UTC offset"),
    ({**post("1", "bob", 1), "created_at": "yesterday"}, "not an ISO 8601 time"),
    ({k: v for k, v in post("1", "bob", 1).items() if k != "author"}, "missing 'author'"),
    (post("1", "bob", 1, visibility="secret"), "'visibility' must be one of"),
    (post("1", "bob", 1, deleted_by="mods"), "'deleted_by' must be"),
    ({**post("1", "bob", 1), "text": 42}, "'text' must be a string"),
    (post("1", "bob", 1, automated="yes"), "'automated' must be true, false or null"),
    (window(observes=["likes"]), "'observes' has 'likes'"),
    (profile(not_returned=["about"]), "'not_returned' has 'about'; allowed: bio, display_name"),
    (profile(not_returned="bio"), "'not_returned' must be a list of field names"),
    (profile(not_returned=[1]), "'not_returned' must be a list of field names"),
    (window(complete="yes"), "'complete' must be true, false or null"),
    (post("1", "bob", 1, mentions="AcmeHelp"), "'mentions' must be a list of handles or ids"),
    (post("1", "bob", 1, mentions=["AcmeHelp", ""]), "'mentions' must be a list of handles"),
    (post("1", "bob", 1, mentions=[7]), "'mentions' must be a list of handles or ids"),
    (
        {
            "kind": "conversation",
            "platform": "x",
            "account": "A",
            "id": "c",
            "customer": "b",
            "messages": [{"id": "m", "by_brand": False}],
        },
        "messages[0]: 'created_at'",
    ),
    (
        {"kind": "conversation", "platform": "x", "account": "A", "id": "c", "customer": "b"},
        "'messages' must be a list",
    ),
]


def _parse(record: dict[str, Any]) -> None:
    data = AccountData(key=record_key(record))
    add_record(data, record)


@pytest.mark.parametrize("record", GOOD, ids=lambda r: f"{r.get('kind')}-{r.get('id', '')}")
def test_good_records_pass_reader_and_schema(record: dict[str, Any]) -> None:
    _parse(record)
    assert not list(VALIDATOR.iter_errors(json.loads(json.dumps(record))))


@pytest.mark.parametrize("record,message", BAD, ids=lambda v: str(v)[:30])
def test_bad_records_fail_reader_and_schema(record: dict[str, Any], message: str) -> None:
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _parse(record)
    assert list(VALIDATOR.iter_errors(record)), "the schema must reject what the reader rejects"


def _read(path: Path, wanted: Iterable[AccountKey] | None = None) -> list[AccountData]:
    return list(read_bundle(index_bundle(path), wanted))


def _fields(post: Post) -> dict[str, Any]:
    return {name: getattr(post, name) for name in Post.__struct_fields__}


def test_round_trip_keeps_unknown_keys(write_bundle_file: WriteBundle) -> None:
    (data,) = _read(write_bundle_file("b.jsonl", GOOD[:7]))
    (reread,) = _read(write_bundle_file("again.jsonl", account_records(data)))
    # The same fields (the decoders' classes differ: every key written, or some left out).
    assert [_fields(p) for p in reread.posts] == [_fields(p) for p in data.posts]
    assert reread.posts[-1].extra == {"custom_field": {"kept": True}}
    assert reread.conversations[0].messages[0].text == "order 5521"


def _with_bad_lines(tmp_path: Path) -> Path:
    path = tmp_path / "b.jsonl"
    lines = [json.dumps(r) for r in healthy_account()]
    lines.insert(2, '{"kind": "post", "platform": "x", "account": "AcmeHelp", "id": "5"')
    lines.insert(4, json.dumps(post("6", "bob", 1, by_brand="maybe")))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_line_reported_as_file_and_line(tmp_path: Path) -> None:
    path = _with_bad_lines(tmp_path)
    index = index_bundle(path)
    assert str(index.unattributed[0]).startswith(f"{path}:3: not JSON")
    (data,) = list(read_bundle(index))
    # The unparseable line could have been this account's: it counts against it too.
    assert data.invalid_records == 2
    assert data.errors[0] == f"{path}:5: x:AcmeHelp: 'by_brand' must be true or false"
    assert data.errors[1].startswith(f"{path}:3: not JSON")
    assert len(data.posts) == 2


def test_read_span_gives_what_streaming_gives(
    tmp_path: Path, write_bundle_file: WriteBundle
) -> None:
    path = write_bundle_file("b.jsonl", healthy_account() + GOOD[4:9] + neglected_account())
    index = index_bundle(path)
    assert index.grouped and index.seekable
    streamed = {d.key: d for d in read_bundle(index)}
    for key in index.spans:
        assert read_span(index, key) == streamed[key]
    bad = _with_bad_lines(tmp_path)
    bad_index = index_bundle(bad)
    (streamed_bad,) = list(read_bundle(bad_index))
    assert read_span(bad_index, streamed_bad.key) == streamed_bad


def test_grouped_bundle_streams_one_account_at_a_time(
    write_bundle_file: WriteBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_bundle_file("b.jsonl", healthy_account() + neglected_account())
    index = index_bundle(path)
    assert index.grouped and index.lines == len(healthy_account()) + len(neglected_account()) + 1
    assert index.ended  # the writer closes every bundle with its end record
    parsed: list[int] = []
    import auditor.sources.bundle.reader as bundle_module

    real = bundle_module._parse_line

    def counting(*args: Any) -> AccountData | None:
        parsed.append(args[1])
        return real(*args)

    monkeypatch.setattr(bundle_module, "_parse_line", counting)
    stream = read_bundle(index)
    first = next(stream)
    assert first.key == AccountKey("x", "AcmeHelp")
    assert max(parsed) == len(healthy_account())  # the second account is not read yet
    second = next(stream)
    assert second.key == AccountKey("x", "GloboCare") and len(second.posts) == 2


def test_interleaved_bundle_is_read_whole(write_bundle_file: WriteBundle) -> None:
    a, b = healthy_account(), neglected_account()
    mixed = [r for pair in zip(a, b, strict=True) for r in pair]
    path = write_bundle_file("b.jsonl", mixed)
    assert not index_bundle(path).grouped
    accounts = {d.account: d for d in _read(path)}
    assert len(accounts["AcmeHelp"].posts) == 2 and len(accounts["GloboCare"].posts) == 2
    assert accounts["AcmeHelp"].profile is not None


def test_hand_written_key_order_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    records = [dict(reversed(list(r.items()))) for r in healthy_account()]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    (data,) = _read(path)
    assert len(data.posts) == 2 and not data.errors


def test_gzip_bundle_and_its_hash(write_bundle_file: WriteBundle) -> None:
    path = write_bundle_file("b.jsonl.gz", healthy_account())
    with gzip.open(path, "rt") as stream:
        assert stream.readline().startswith('{"kind":"profile","platform":"x","account":')
    index = index_bundle(path)
    assert not index.seekable
    assert len(next(read_bundle(index)).posts) == 2
    import hashlib

    assert index.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_wanted_accounts_only(write_bundle_file: WriteBundle) -> None:
    path = write_bundle_file("b.jsonl", healthy_account() + neglected_account())
    assert [d.account for d in _read(path, [AccountKey("x", "GloboCare")])] == ["GloboCare"]


def test_unreadable_bundles_raise_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="cannot open bundle"):
        index_bundle(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(BundleError, match="cannot read bundle"):
        index_bundle(broken)


def test_several_windows_merge_and_stay_incomplete(write_bundle_file: WriteBundle) -> None:
    records = [
        window(),
        window(
            window_start="2026-10-20T00:00:00+00:00",
            window_end="2026-11-02T00:00:00+00:00",
            complete=False,
            reason="mentions page 3 failed",
        ),
    ]
    (data,) = _read(write_bundle_file("b.jsonl", records))
    merged = data.window
    assert merged is not None and merged.complete is False
    assert merged.reason == "mentions page 3 failed"
    assert merged.start.isoformat() == "2026-10-20T00:00:00+00:00"


def test_writer_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    write_bundle(path, healthy_account())
    before = path.read_bytes()

    def failing() -> Iterator[dict[str, Any]]:
        yield from healthy_account()
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        write_bundle(path, failing())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["b.jsonl"]


def test_demo_bundle_is_valid_against_schema() -> None:
    from auditor.demo.generator import generate_records

    for record in generate_records(300, 3, seed=4):
        errors = list(VALIDATOR.iter_errors(json.loads(json.dumps(record, default=str))))
        assert not errors, (record, errors[0].message)
        _parse(record)


_SPAN_LINES: dict[str, Callable[[int], bytes]] = {
    "profile": lambda n: dump_record(profile("AcmeHelp")),
    "window": lambda n: dump_record(window("AcmeHelp")),
    "post": lambda n: dump_record(post(str(n), "bob", n % 50, "where is my parcel?")),
    "brand post": lambda n: dump_record(post(str(n), "AcmeHelp", 1, by_brand=True)),
    "extra key": lambda n: dump_record(post(str(n), "bob", 2, extra={"lang": "en"})),
    "bad value": lambda n: dump_record(post(str(n), "bob", 3, by_brand="maybe")),
    "cut": lambda n: dump_record(post(str(n), "bob", 4))[:60] + b"\n",
    "blank": lambda n: b"\n",
}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(sorted(_SPAN_LINES)), min_size=1, max_size=20))
def test_read_span_decodes_a_run_of_posts_at_once_as_line_by_line(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[str]
) -> None:
    """read_span decodes an account's run of post lines in one call when every one is plain;
    whatever the lines, it gives what streaming line by line gives, line numbers included."""
    path = tmp_path_factory.mktemp("span") / "b.jsonl"
    lines = [_SPAN_LINES[kind](number) for number, kind in enumerate(kinds, start=1)]
    before = [dump_record(record) for record in neglected_account()]
    after = [dump_record(record) for record in healthy_account("ZedCare")]
    path.write_bytes(b"".join(before + lines + after))
    index = index_bundle(path)
    key = AccountKey("x", "AcmeHelp")
    if key not in index.spans:
        return
    streamed = {d.key: d for d in read_bundle(index)}
    assert read_span(index, key) == streamed[key]


def test_a_clean_run_of_posts_is_decoded_in_one_call(write_bundle_file: WriteBundle) -> None:
    loose = write_bundle_file("loose.jsonl", healthy_account() + neglected_account())
    # As this project's writer writes them: every key of every post.
    path = write_bundle_file("b.jsonl", [r for d in _read(loose) for r in account_records(d)])
    index = index_bundle(path)
    key = AccountKey("x", "AcmeHelp")
    span = index.spans[key]
    block = path.read_bytes()[span.start : span.end]
    run = _post_run(block, key)
    assert run is not None
    start, end, posts = run
    assert end <= len(block)
    assert block[:start].count(b"\n") == 2  # the profile and the window come first
    assert [p.id for p in posts] == [p.id for p in read_span(index, key).posts]
    broken = block.replace(b'"by_brand":false', b'"by_brand":"no"', 1)
    assert _post_run(broken, key) is None
    # A key written twice, or a time out of range, sends the run line by line too.
    twice = block.replace(b'"url":', b'"account":"GloboCare","url":', 1)
    assert _post_run(twice, key) is None
    old = block.replace(b'"created_at":"2026', b'"created_at":"1999', 1)
    assert _post_run(old, key) is None


def test_truncated_line_of_a_known_account_counts_against_it(
    tmp_path: Path, write_bundle_file: WriteBundle
) -> None:
    path = write_bundle_file("b.jsonl", healthy_account() + neglected_account())
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2][:60] + b"\n"  # cut mid-record: the account prefix survives
    lines[3] = lines[3].replace(b'"kind":"post"', b'"kind":"tweet"')
    path.write_bytes(b"".join(lines))
    index = index_bundle(path)
    assert not index.unattributed
    accounts = {d.account: d for d in read_bundle(index)}
    acme = accounts["AcmeHelp"]
    assert acme.invalid_records == 2 and not accounts["GloboCare"].errors
    assert acme.errors[0].startswith(f"{path}:3: x:AcmeHelp: not JSON")
    assert acme.errors[1] == (
        f"{path}:4: x:AcmeHelp: 'kind' must be one of conversation, post, profile, window: 'tweet'"
    )
    assert read_span(index, AccountKey("x", "AcmeHelp")) == acme


def _reference_index(
    path: Path,
) -> tuple[dict[AccountKey, tuple[int, int, int, int]], bool, list[int]]:
    """The index worked out the plain way: every line parsed on its own."""
    spans: dict[AccountKey, tuple[int, int, int, int]] = {}
    grouped, previous, unattributed = True, None, []
    offset = 0
    for number, line in enumerate(path.read_bytes().splitlines(keepends=True), start=1):
        start, offset = offset, offset + len(line)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = AccountKey(str(record["platform"]), str(record["account"]))
        except (ValueError, KeyError, TypeError):
            unattributed.append(number)
            continue
        if key in spans:
            grouped = grouped and key == previous
            spans[key] = (spans[key][0], number, spans[key][2], offset)
        else:
            spans[key] = (number, number, start, offset)
        previous = key
    return spans, grouped, unattributed


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.sampled_from(["A", "B", "Acme", "AcmeX"]), st.sampled_from(["post", "window"])
            ),
            st.sampled_from(["blank", "broken"]),
        ),
        max_size=25,
    )
)
def test_index_agrees_with_parsing_every_line(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple[str, str] | str]
) -> None:
    path = tmp_path_factory.mktemp("idx") / "b.jsonl"
    out = []
    for item in lines:
        if item == "blank":
            out.append(b"\n")
        elif item == "broken":
            out.append(b'{"kind": "post", "platf\n')
        elif isinstance(item, tuple):
            account, kind = item
            record = post("1", "ann", 1, account=account) if kind == "post" else window(account)
            out.append(dump_record(record))
    path.write_bytes(b"".join(out))
    index = index_bundle(path)
    spans, grouped, unattributed = _reference_index(path)
    assert {k: (s.first_line, s.last_line, s.start, s.end) for k, s in index.spans.items()} == spans
    assert index.grouped == grouped
    assert [e.line for e in index.unattributed] == unattributed


@pytest.mark.parametrize(
    "record",
    [
        *GOOD,
        *(r for r, _ in BAD),
        post("9", "ann", 1, extra={"x": 1}),
        post("9", "ann", 1, extra={}),
        post("", "ann", 1),
    ],
    ids=lambda r: f"{r.get('kind')}-{str(r)[:40]}",
)
def test_a_line_reads_as_its_record_does(tmp_path: Path, record: dict[str, Any]) -> None:
    """The one-call decoder of canonical post lines agrees with the general path."""
    path = tmp_path / "b.jsonl"
    path.write_bytes(dump_record(record))
    try:
        key = record_key(record)
    except RecordError:
        assert not [d for d in _read(path) if d.posts]
        return
    expected = AccountData(key=key)
    try:
        add_record(expected, record)
        problem = None
    except RecordError as error:
        problem = str(error)
    (data,) = _read(path)
    if problem is None:
        assert [vars_of(p) for p in data.posts] == [vars_of(p) for p in expected.posts]
        assert not data.errors
    else:
        assert data.errors == [f"{path}:1: {key}: {problem}"] and not data.posts


def vars_of(post: Post) -> dict[str, Any]:
    return {f: getattr(post, f) for f in Post.__struct_fields__}


def _profile_of(record: dict[str, Any]) -> Profile:
    data = AccountData(key=record_key(record))
    add_record(data, record)
    assert data.profile is not None
    return data.profile


def test_a_profile_field_not_returned_is_told_from_an_empty_one() -> None:
    # Listed in not_returned: the platform did not send it. Absent, null or "": sent empty, as
    # every bundle before not_returned existed meant (exporters that drop empty keys included).
    unread = _profile_of({**profile(not_returned=["bio", "website"]), "bio": None})
    assert unread.not_returned == {"bio", "website"}
    assert unread.unread("hours", "fields", "bio") == ["bio"]
    for blank in (profile(bio=""), {**profile(), "bio": None}):
        assert _profile_of(blank).not_returned == frozenset()
    without_key = {k: v for k, v in profile().items() if k != "bio"}
    assert _profile_of(without_key).bio is None
    assert _profile_of(without_key).not_returned == frozenset()


def test_not_returned_survives_writing_and_reading(write_bundle_file: WriteBundle) -> None:
    path = write_bundle_file(
        "unread.jsonl", [{**profile(not_returned=["fields", "bio"]), "bio": None}, window()]
    )
    (account,) = _read(path)
    assert account.profile is not None
    assert account.profile.not_returned == {"bio", "fields"}
    (written, *_) = account_records(account)
    assert written["not_returned"] == ["bio", "fields"]
    assert _profile_of(json.loads(dump_record(written))).not_returned == {"bio", "fields"}


def test_the_platforms_mention_data_is_kept_on_every_path(write_bundle_file: WriteBundle) -> None:
    written = [
        post("1", "ann", 3, "@acmehelp hi", mentions=["acmehelp@social.example"]),
        post("2", "ben", 2, "@acmehelp hi", mentions=[]),
        post("3", "cat", 1, "@acmehelp hi"),
        {**post("4", "dan", 1, mentions=["did:plc:acme"]), "lang": "en"},  # the general path
    ]
    path = write_bundle_file("m.jsonl", written)
    (streamed,) = _read(path)
    index = index_bundle(path)
    (span_read,) = [read_span(index, key) for key in index.spans]
    for data in (streamed, span_read):
        assert [p.mentions for p in data.posts] == [
            ["acmehelp@social.example"],
            [],
            None,
            ["did:plc:acme"],
        ]
    (reread,) = _read(write_bundle_file("again.jsonl", account_records(streamed)))
    assert reread.posts == streamed.posts
