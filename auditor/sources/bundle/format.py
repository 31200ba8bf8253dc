"""The bundle format, defined once: one typed record per ``kind`` (``docs/bundle.md``).

These Structs say which keys each record has, which are required, and what each may hold. The
JSON Schema (``config/schema/bundle.schema.json``) is generated from them (:func:`json_schema`;
``python -m auditor.sources.bundle`` prints it, and a test holds the file to it), and the
key sets the reader keeps unknown keys by are taken from them. The reader does not decode into
these types: it validates by hand so that each error names its key in plain words, and decodes
plain post lines straight into the model; ``tests/test_bundle_format.py`` holds both ways to the
verdicts of these types for any line.

Field order is the order this project's writer puts keys in (after ``kind``, ``platform`` and
``account``, which come first on every line).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Final

import msgspec

from auditor.model import DataKind, DeletedBy, Observable, ProfileField, Visibility

SCHEMA_ID: Final = "https://social-care-auditor.dev/schema/bundle.schema.json"

# An id: exports often write numeric ids unquoted; they are read as their decimal string.
Id = Annotated[
    Annotated[str, msgspec.Meta(min_length=1)] | int,
    msgspec.Meta(description="A non-empty string, or an integer read as its decimal string."),
]
OptionalId = Annotated[
    str | int | None,
    msgspec.Meta(description="A string, an integer read as its decimal string, or null."),
]
# Free text (a name, a link, a reason); a number is read as its decimal string, as ids are.
OptionalText = Annotated[
    str | int | None,
    msgspec.Meta(description="A string or null; a number is read as its decimal string."),
]
# The common form of an ISO 8601 time with an offset. The reader takes any ISO 8601 time that
# ``datetime.fromisoformat`` reads, as long as it has an offset and falls in 2000-2099 (UTC; the
# schema bounds the year as written).
TIME_PATTERN: Final = (
    r"^20\d{2}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$"
)
Time = Annotated[
    str,
    msgspec.Meta(
        pattern=TIME_PATTERN,
        description="ISO 8601 with a UTC offset, e.g. 2026-11-16T09:30:00+00:00; from "
        "2000-01-01 to before 2100-01-01 (UTC).",
    ),
]
Hours = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description='{"timezone": "America/New_York", "weekly": {"mon": [["09:00", "17:00"]]}}'
        ' or {"always_open": true}'
    ),
]


class Record(msgspec.Struct, tag_field="kind", kw_only=True):
    """What every line has: its kind, the platform and the brand's account on it."""

    platform: Id
    account: Id


class ProfileRecord(Record, tag="profile", kw_only=True):
    """The brand account's profile; ``bio`` is the about/description text. A field that is
    absent, null or "" has no value (the brand left it blank); ``not_returned`` names the fields
    the platform's answer did not carry, whatever their value says."""

    display_name: OptionalText = None
    bio: OptionalText = None
    website: OptionalText = None
    hours: Hours | None = None
    fetched_at: Time | None = None
    not_returned: (
        Annotated[
            list[ProfileField],
            msgspec.Meta(
                description="The fields the platform did not return (not requested, not "
                "granted, a partial answer): nothing is concluded from their absence."
            ),
        ]
        | None
    ) = None


class WindowRecord(Record, tag="window", kw_only=True):
    """The period fetched and what the source could see in it; ``window_end`` is not before
    ``window_start``. ``complete`` is true, false or null (unknown), with ``reason``; ``lost``
    names the kinds of data an incomplete window did not fully get."""

    window_start: Time
    window_end: Time
    complete: bool | None = None
    reason: OptionalText = None
    observes: list[Observable] | None = None
    fetched_at: Time | None = None
    lost: (
        Annotated[
            list[DataKind],
            msgspec.Meta(
                description="The kinds of data an incomplete window did not fully get; absent "
                "or null on an incomplete window: every kind. Checks that read a lost kind are "
                "incomplete, and findings a lost kind could refute are withheld."
            ),
        ]
        | None
    ) = None

    def __post_init__(self) -> None:
        # The one rule across keys; a JSON Schema cannot say it, the reader checks it.
        if datetime.fromisoformat(self.window_end) < datetime.fromisoformat(self.window_start):
            raise ValueError("'window_end' is before 'window_start'")


class PostRecord(Record, tag="post", kw_only=True):
    """A public post. ``thread`` is the root post id (a post without one roots its own);
    ``visibility`` null means public; ``source`` is the client app; ``automated`` null means
    unknown; ``mentions`` lists the accounts the platform says the post mentions (null: the
    source has no mention data, and the text is read instead)."""

    id: Id
    author: Id
    author_id: OptionalId = None
    by_brand: bool
    created_at: Time
    text: str | None = None
    in_reply_to: OptionalId = None
    thread: OptionalId = None
    visibility: Visibility | None = None
    deleted_by: DeletedBy | None = None
    url: OptionalText = None
    source: OptionalText = None
    automated: bool | None = None
    mentions: (
        Annotated[
            list[Annotated[str, msgspec.Meta(min_length=1)]],
            msgspec.Meta(
                description="The accounts the platform's own mention data says the post "
                "mentions, each a handle (name, or name@instance on Mastodon) or, where the "
                "platform names no handle, an account id (a Bluesky DID). [] says it mentions "
                "nobody; null or absent: no such data, the text is read instead."
            ),
        ]
        | None
    ) = None


class MessageRecord(msgspec.Struct, kw_only=True):
    """One private message of a conversation."""

    id: Id
    by_brand: bool
    created_at: Time
    text: OptionalText = None


class ConversationRecord(Record, tag="conversation", kw_only=True):
    """Private messages with one customer; ``linked_post`` is the public post they came from."""

    id: Id
    customer: Id
    messages: list[MessageRecord]
    resolved_at: Time | None = None
    linked_post: OptionalId = None


class EndRecord(msgspec.Struct, tag="end", tag_field="kind", kw_only=True):
    """The last line of a bundle: how many records come before it (since the previous end
    record, when bundles were joined one after the other). A bundle without it may have been
    cut short; a count that does not match means lines were lost or added."""

    records: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="The records (non-blank lines) before this one, since the previous "
            "end record if any.",
        ),
    ]


BundleRecord = ProfileRecord | WindowRecord | PostRecord | ConversationRecord | EndRecord
# The records of an account (the end record belongs to the file, not to an account).
RECORD_TYPES: Final[tuple[type[Record], ...]] = (
    ProfileRecord,
    WindowRecord,
    PostRecord,
    ConversationRecord,
)

# The keys of each kind, ``kind`` included: anything else on a line is kept in ``extra``.
PROFILE_KEYS: Final = frozenset({"kind", *ProfileRecord.__struct_fields__})
WINDOW_KEYS: Final = frozenset({"kind", *WindowRecord.__struct_fields__})
POST_KEYS: Final = frozenset({"kind", *PostRecord.__struct_fields__})
CONVERSATION_KEYS: Final = frozenset({"kind", *ConversationRecord.__struct_fields__})


def check_record(record: Any) -> BundleRecord:
    """The record as these types read it; raises ``msgspec.ValidationError`` when it breaks the
    format. Slow next to the reader, and its messages are msgspec's: for tests and tools."""
    checked: BundleRecord = msgspec.convert(record, BundleRecord)
    return checked


# The format's version: the minor number grows with keys a reader of the older format may ignore,
# the major one with a change that breaks such readers (CHANGELOG.md lists each). 2.0: the
# closing ``end`` record, a kind that readers of 1.x reject.
FORMAT_VERSION = "2.0"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one bundle line, generated from the types above."""
    generated = msgspec.json.schema(BundleRecord)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "social-care-auditor bundle record",
        "version": FORMAT_VERSION,
        "description": (
            "One line of a bundle (JSON Lines, plain or .gz). Unknown keys are kept, not "
            "rejected. Generated from auditor/sources/bundle/format.py; see docs/bundle.md."
        ),
        **generated,
    }


def schema_text() -> str:
    """The schema as the file ``config/schema/bundle.schema.json`` holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
