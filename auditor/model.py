"""The normalised data model every source produces and every check reads.

All datetimes are timezone-aware. Records keep keys they do not know in ``extra`` so that a
bundle read and written again loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

import msgspec

Visibility = Literal["public", "hidden", "deleted"]
DeletedBy = Literal["author", "brand", "unknown"]
Observable = Literal["hidden", "deleted", "conversations", "automated"]
# The parts of a profile a platform can leave out of its answer (``fields``: Mastodon's profile
# fields, kept in ``Profile.extra``).
ProfileField = Literal["display_name", "bio", "website", "hours", "fields"]

VISIBILITIES: frozenset[str] = frozenset({"public", "hidden", "deleted"})
DELETERS: frozenset[str] = frozenset({"author", "brand", "unknown"})
OBSERVABLES: frozenset[str] = frozenset({"hidden", "deleted", "conversations", "automated"})
RECORD_KINDS: frozenset[str] = frozenset({"profile", "post", "conversation", "window"})
PROFILE_FIELDS: frozenset[str] = frozenset({"display_name", "bio", "website", "hours", "fields"})

# The kinds of data a fetch can lose, named once: a window says which it lost, each platform's
# requests say which they carry, and each check says which it reads and which could refute
# its findings. ``hidden`` and ``deleted`` are the markers (hidden replies, deletions seen).
DataKind = Literal["profile", "customer_posts", "brand_posts", "conversations", "hidden", "deleted"]
DATA_KINDS: frozenset[str] = frozenset(
    {"profile", "customer_posts", "brand_posts", "conversations", "hidden", "deleted"}
)
POST_KINDS: frozenset[str] = frozenset({"customer_posts", "brand_posts"})
# Each kind in words, in the order reasons name them.
_KIND_WORDS: dict[str, str] = {
    "profile": "the profile",
    "customer_posts": "customer posts",
    "brand_posts": "brand replies",
    "conversations": "private conversations",
    "hidden": "hidden-post markers",
    "deleted": "deletion markers",
}


def kinds_in_words(kinds: Iterable[str]) -> str:
    """``brand replies and customer posts``: the kinds named in a fixed order."""
    named = [words for kind, words in _KIND_WORDS.items() if kind in set(kinds)]
    if len(named) > 1:
        return f"{', '.join(named[:-1])} and {named[-1]}"
    return named[0] if named else "nothing"


class AccountKey(NamedTuple):
    """One audited brand account: the platform and the brand's handle on it.

    A tuple because every bundle line is matched to one: hashing must be cheap.
    """

    platform: str
    account: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.account}"


@dataclass(slots=True)
class Profile:
    """The brand's profile.

    A field with no value (``None`` or ``""``) is one the platform returned empty: the brand
    left it blank. A field named in ``not_returned`` is one the platform's answer did not
    carry (not requested, not granted, a partial answer): its value, if any, is only what did
    arrive, and nothing may be concluded from its absence.
    """

    platform: str
    account: str
    display_name: str | None = None
    bio: str | None = None
    website: str | None = None
    hours: dict[str, Any] | None = None
    fetched_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    not_returned: frozenset[str] = frozenset()

    def unread(self, *names: str) -> list[str]:
        """Those of ``names`` the platform did not return, in the order given."""
        return [name for name in names if name in self.not_returned]

    def unread_reason(self, *names: str) -> str | None:
        """Why a reader of ``names`` cannot conclude from their absence, or None: "the platform
        did not return the profile's bio and website"."""
        unread = self.unread(*names)
        if not unread:
            return None
        said = " and ".join([", ".join(unread[:-1]), unread[-1]] if len(unread) > 1 else unread)
        return f"the platform did not return the profile's {said}"


class Post(msgspec.Struct):
    """A public post. A msgspec Struct, so that a bundle line decodes straight into one."""

    id: Annotated[str, msgspec.Meta(min_length=1)]
    author: Annotated[str, msgspec.Meta(min_length=1)]
    by_brand: bool
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    text: str = ""
    author_id: str | None = None
    in_reply_to: str | None = None
    thread: str | None = None
    visibility: Visibility = "public"
    deleted_by: DeletedBy | None = None
    url: str | None = None
    source: str | None = None
    automated: bool | None = None
    # The accounts the platform's own mention data says the post mentions (handles, or ids
    # where the platform names no handle); None when the source has no such data, and then
    # who a post mentions is read from its text.
    mentions: list[Annotated[str, msgspec.Meta(min_length=1)]] | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def thread_id(self) -> str:
        """The root post id; a post that names no thread roots its own."""
        return self.thread or self.id


@dataclass(slots=True)
class Message:
    id: str
    by_brand: bool
    created_at: datetime
    text: str = ""


@dataclass(slots=True)
class Conversation:
    id: str
    customer: str
    messages: list[Message]
    resolved_at: datetime | None = None
    linked_post: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Window:
    """The period fetched for one account, and what the source could see in it.

    ``complete`` is ``None`` when nobody said (a bundle with no window record); ``observes`` is
    ``None`` when a bundle made elsewhere did not say, in which case the fields it carries are
    taken at face value. ``lost`` names the kinds of data (:data:`DATA_KINDS`) an incomplete
    window did not fully get; ``None`` on an incomplete window is every kind lost.
    """

    start: datetime
    end: datetime
    complete: bool | None = None
    reason: str | None = None
    observes: frozenset[str] | None = None
    fetched_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    lost: frozenset[str] | None = None

    def can_observe(self, what: str) -> bool:
        return self.observes is None or what in self.observes

    @property
    def lost_kinds(self) -> frozenset[str]:
        """The kinds known to be missing: none unless the window says it is incomplete, and
        then every kind when it does not say which."""
        if self.complete is not False:
            return frozenset()
        return DATA_KINDS if self.lost is None else self.lost

    def lose(self, kinds: Iterable[str], reason: str) -> None:
        """Mark ``kinds`` lost, for ``reason``, on top of what the window already lost."""
        self.lost = self.lost_kinds | frozenset(kinds)
        self.reason = (
            f"{self.reason}; {reason}" if self.complete is False and self.reason else reason
        )
        self.complete = False


@dataclass(slots=True)
class AccountData:
    """Everything known about one account for one audit."""

    key: AccountKey
    profile: Profile | None = None
    posts: list[Post] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    window: Window | None = None
    # Set when records for this account could not be read: the account is audited from what
    # was valid (``--skip-invalid``) or not at all.
    invalid_records: int = 0
    # The kinds of data the invalid records held (every kind for a line that said nothing).
    invalid_kinds: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def platform(self) -> str:
        return self.key.platform

    @property
    def account(self) -> str:
        return self.key.account


def freeze_observes(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(str(v) for v in value)


def extra_of(record: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in known}


@dataclass(frozen=True, slots=True)
class SeenPost:
    """What history knows about a post.

    ``visibility``, ``deleted_by`` and the other descriptive fields are those of the newest
    observation; ``text`` is the newest non-empty text seen, so a post later seen deleted (often
    with its text gone) keeps the text it had as evidence.
    """

    post_id: str
    created_at: datetime
    author: str
    by_brand: bool
    visibility: str
    deleted_by: str | None
    text: str
    url: str | None
    thread: str | None
    first_seen: datetime
    last_seen: datetime
