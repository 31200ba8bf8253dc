"""Bundles: the canonical JSON Lines format every source ends in (``docs/bundle.md``).

``format`` is the one typed definition of a line (the JSON Schema is generated from it);
``records`` turns one record into the model with plain-words errors; ``reader`` indexes a bundle
and streams its accounts; ``writer`` writes records in the canonical key order.

May import: ``auditor.model``, ``auditor.fsutil`` and each other. Never the engine, the checks,
the store, the fetch layer, the analysis helpers or the writers.
"""

from auditor.sources.bundle.format import (
    CONVERSATION_KEYS,
    POST_KEYS,
    PROFILE_KEYS,
    RECORD_TYPES,
    WINDOW_KEYS,
    BundleRecord,
    ConversationRecord,
    EndRecord,
    MessageRecord,
    PostRecord,
    ProfileRecord,
    WindowRecord,
    check_record,
    json_schema,
)
from auditor.sources.bundle.reader import (
    NO_END_REASON,
    AccountSpan,
    BundleError,
    BundleIndex,
    LineError,
    file_sha256,
    index_bundle,
    read_bundle,
    read_span,
)
from auditor.sources.bundle.records import (
    RecordError,
    accounts_from_records,
    add_record,
    conversation_from_record,
    kinds_of_record,
    merge_windows,
    parse_time,
    post_from_record,
    profile_from_record,
    record_key,
    window_from_record,
)
from auditor.sources.bundle.writer import account_records, dump_record, end_record, write_bundle

__all__ = [
    "CONVERSATION_KEYS",
    "NO_END_REASON",
    "POST_KEYS",
    "PROFILE_KEYS",
    "RECORD_TYPES",
    "WINDOW_KEYS",
    "AccountSpan",
    "BundleError",
    "BundleIndex",
    "BundleRecord",
    "ConversationRecord",
    "EndRecord",
    "LineError",
    "MessageRecord",
    "PostRecord",
    "ProfileRecord",
    "RecordError",
    "WindowRecord",
    "account_records",
    "accounts_from_records",
    "add_record",
    "check_record",
    "conversation_from_record",
    "dump_record",
    "end_record",
    "file_sha256",
    "index_bundle",
    "json_schema",
    "kinds_of_record",
    "merge_windows",
    "parse_time",
    "post_from_record",
    "profile_from_record",
    "read_bundle",
    "read_span",
    "record_key",
    "window_from_record",
    "write_bundle",
]
