"""Customer pseudonyms: one rule for everything the tool writes.

With ``privacy.pseudonymize_customers`` on, every value that names or identifies a customer is
replaced by a keyed hash (HMAC-SHA256 with the configured secret) before anything is written:
the fetched bundle, the history store's posts and conversations, the reports and the logs. The
fetch applies it to the platform's records (:meth:`Pseudonymiser.record`), the engine to data
read from any other input (:meth:`Pseudonymiser.account`): both call the same field rules, so
the same customer has the same pseudonym in a bundle, the store and a report, and threads,
first responses and mentions are worked out exactly as on the raw data.

The brand's own handle, ids and aliases, and the authors the policy excludes, are never
replaced: a post that mentions the brand still mentions it. A pseudonym is never hashed again
(a pseudonymised bundle audited with the same key stays as it is).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from auditor.model import AccountData, Conversation, Post

PSEUDONYM_PREFIX = "cust-"
# The one key of a sealed cursor in the history store.
SEALED_CURSOR = "sealed"
_PSEUDONYM = re.compile(r"cust-[0-9a-f]{12}")

# A mention in a text: ``@name``, ``@name@instance``, ``@handle.bsky.social``; not the middle of
# an e-mail address or of another mention.
_TEXT_MENTION = re.compile(
    r"(?<![\w@.])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?"
    r"(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)"
)
# A profile link in a text (x.com/name, bsky.app/profile/name, https://instance/@name).
_PROFILE_LINK = re.compile(
    r"(?<![\w.-])((?:www\.|mobile\.)?(?:x\.com|twitter\.com|facebook\.com|instagram\.com"
    r"|bsky\.app/profile)/)([A-Za-z0-9_](?:[A-Za-z0-9_.:-]*[A-Za-z0-9_])?)"
)
# A Bluesky post's URI names its author's DID: at://did:plc:xyz/app.bsky.feed.post/3k...
_AT_URI = re.compile(r"\Aat://([^/]+)(/.*)?\Z", re.DOTALL)

# Record keys that hold one account id, other than ``author_id`` (kept in ``Post.extra`` when a
# bundle is read).
_ID_KEYS = ("in_reply_to_user_id",)
# What the tool knows a post, a conversation and a message hold; anything else is searched
# whole (a platform's extra keys).
_POST_FIELDS = frozenset(
    {
        "kind",
        "platform",
        "account",
        "id",
        "author",
        "author_id",
        "by_brand",
        "text",
        "url",
        "mentions",
        "thread",
        "in_reply_to",
        "created_at",
        *_ID_KEYS,
    }
)
_CONVERSATION_FIELDS = frozenset(
    {"kind", "platform", "account", "id", "customer", "messages", "linked_post", "resolved_at"}
)
_MESSAGE_FIELDS = frozenset({"id", "by_brand", "created_at"})
# Profile keys that hold the brand's own id on some platform.
_BRAND_ID_KEYS = ("account_id", "user_id", "did", "page_id", "ig_user_id", "id")


def is_pseudonym(value: str) -> bool:
    return _PSEUDONYM.fullmatch(value) is not None


def _bare(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


class Pseudonymiser:
    """The pseudonyms of one brand account's customers.

    ``brand`` is the account's handle as configured (``name`` or ``name@instance``); ``aliases``
    the brand's other handles; ``excluded`` the authors the policy leaves out of the audit (they
    must stay recognisable to be left out). The brand's own account ids are learnt from its
    profile and its own posts.
    """

    def __init__(
        self,
        key: bytes,
        brand: str,
        *,
        aliases: Iterable[str] = (),
        excluded: Iterable[str] = (),
    ) -> None:
        if not key:
            raise ValueError("a pseudonym key must not be empty")
        self._key = key
        full = _bare(brand)
        _, _, self._instance = full.partition("@")
        self._kept: set[str] = set()
        for handle in (brand, *aliases, *excluded):
            bare = _bare(handle)
            self._kept |= {bare, bare.partition("@")[0]}
        self._kept.discard("")
        self._brand_ids: set[str] = set()

    # -- the rule for one value --

    def pseudonym(self, value: str) -> str:
        """The customer's stable pseudonym. A handle is keyed without its ``@`` and case, and
        without the brand's own Mastodon instance (``alice`` and ``alice@social.example`` are
        one account there)."""
        if is_pseudonym(value):
            return value
        name = _bare(value)
        if self._instance and name.endswith("@" + self._instance):
            name = name[: -len(self._instance) - 1]
        digest = hmac.new(self._key, name.encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:12]

    def keeps(self, handle: str) -> bool:
        """Whether a handle or id is the brand's, an alias or excluded (never replaced)."""
        bare = _bare(handle)
        return bare in self._kept or bare in self._brand_ids or is_pseudonym(bare)

    def handle(self, value: str) -> str:
        return value if self.keeps(value) else self.pseudonym(value)

    def account_id(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        text = str(value)
        return value if text in self._brand_ids or is_pseudonym(text) else self.pseudonym(text)

    def learn_brand(self, ids: Iterable[Any]) -> None:
        self._brand_ids |= {str(i) for i in ids if i}

    def text(self, text: str, mentioned: Iterable[str] = ()) -> str:
        """A text with every customer's @mention and profile link replaced.

        ``mentioned`` is the post's mention data: Mastodon shows a remote account's mention as
        ``@name``, its data names ``name@instance``, and both must give one pseudonym.
        """
        if "@" in text:
            whole = {m.partition("@")[0].lower(): m for m in mentioned if "@" in m.lstrip("@")}

            def replace(found: re.Match[str]) -> str:
                name = found.group(1)
                if self.keeps(name):
                    return found.group(0)
                return "@" + self.pseudonym(whole.get(name.lower(), name))

            text = _TEXT_MENTION.sub(replace, text)
        if "/" in text:
            text = _PROFILE_LINK.sub(lambda m: m.group(1) + self.handle(m.group(2)), text)
        return text

    def post_id(self, value: Any) -> Any:
        """A post id; a Bluesky URI names its author's DID, which is replaced."""
        if not isinstance(value, str) or not value.startswith("at://"):
            return value
        found = _AT_URI.match(value)
        if found is None:
            return value
        return "at://" + self.account_id(found.group(1)) + (found.group(2) or "")

    def url(self, url: Any, identities: Iterable[str]) -> Any:
        """A post's link with the path segments that name its author replaced."""
        if not isinstance(url, str) or not url:
            return url
        names = {_bare(i) for i in identities if i}
        names |= {n.partition("@")[0] for n in names}
        names.discard("")
        if not names:
            return url
        segments = url.split("/")
        for at, segment in enumerate(segments):
            if at < 3:  # scheme and host
                continue
            bare = segment.lstrip("@").lower()
            if bare in names:
                prefix = "@" if segment.startswith("@") else ""
                segments[at] = prefix + self.pseudonym(segment.lstrip("@"))
        return "/".join(segments)

    def mentions(self, mentions: Any) -> Any:
        if not isinstance(mentions, list):
            return mentions
        return [self.handle(m) if isinstance(m, str) else m for m in mentions]

    def conversation_id(self, value: Any) -> Any:
        """A private conversation's id. Some name their participants (X: two user ids joined
        by a dash), so every conversation id is keyed whole: the same conversation keeps one
        id from run to run."""
        if not isinstance(value, str) or not value or is_pseudonym(value):
            return value
        return self.pseudonym("conversation:" + value)

    # -- whole records --

    def record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A bundle record (a dict, as a fetch makes it) with its customers pseudonymised."""
        out = dict(record)
        kind = out.get("kind")
        if kind == "profile":
            self.learn_brand(str(out[k]) for k in _BRAND_ID_KEYS if out.get(k))
        elif kind == "post":
            self._post_fields(out)
        elif kind == "conversation":
            self._conversation_fields(out)
        return out

    def records(self, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Records of one account: the brand's ids are learnt from all of them first."""
        records = list(records)
        self.learn_brand(_brand_ids_of_records(records))
        return [self.record(r) for r in records]

    def account(self, data: AccountData) -> None:
        """Every customer of one account's data (the engine's model objects), in place."""
        brand_ids = [p.author_id for p in data.posts if p.by_brand and p.author_id]
        if data.profile is not None:
            brand_ids += [
                str(data.profile.extra[k]) for k in _BRAND_ID_KEYS if data.profile.extra.get(k)
            ]
        self.learn_brand(brand_ids)
        for post in data.posts:
            self._post(post)
        for conversation in data.conversations:
            self._conversation(conversation)

    # -- the fetch's cursor --

    def seal_cursor(self, cursor: Mapping[str, Any]) -> dict[str, Any]:
        """The cursor encrypted with a key derived from the pseudonym key.

        A cursor must stay usable: Bluesky's names the threads to re-read by their root's URI,
        which holds the customer's DID, so it cannot be pseudonymised, only sealed.
        """
        plain = json.dumps(dict(cursor), sort_keys=True).encode()
        return {SEALED_CURSOR: self._cursor_cipher().encrypt(plain).decode("ascii")}

    def open_cursor(self, cursor: Mapping[str, Any]) -> dict[str, Any] | None:
        """A cursor as :meth:`seal_cursor` sealed it (one saved unsealed, as it is); None when
        it was sealed with another key."""
        sealed = cursor.get(SEALED_CURSOR)
        if not isinstance(sealed, str):
            return dict(cursor)
        try:
            opened = json.loads(self._cursor_cipher().decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError):
            return None
        return opened if isinstance(opened, dict) else None

    def _cursor_cipher(self) -> Fernet:
        derived = hmac.new(self._key, b"social-care-auditor cursor seal", hashlib.sha256)
        return Fernet(base64.urlsafe_b64encode(derived.digest()))

    # -- the field rules, shared by records and model objects --

    def _post_fields(self, post: MutableMapping[str, Any]) -> None:
        author, author_id = post.get("author"), post.get("author_id")
        customer = not post.get("by_brand") and not self.keeps(str(author or ""))
        identities = {str(i) for i in (author, author_id) if i} if customer else set()
        if customer:
            post["url"] = self.url(post.get("url"), identities)
            post["author"] = self.pseudonym(str(author)) if author else author
            post["author_id"] = self.account_id(author_id)
        for key in ("id", "thread", "in_reply_to"):
            if key in post:
                post[key] = self.post_id(post[key])
        if isinstance(post.get("text"), str):
            mentioned = post.get("mentions")
            post["text"] = self.text(
                post["text"],
                [m for m in mentioned if isinstance(m, str)] if isinstance(mentioned, list) else (),
            )
        if "mentions" in post:
            post["mentions"] = self.mentions(post["mentions"])
        for key in _ID_KEYS:
            if key in post:
                post[key] = self.account_id(post[key])
        for key in [k for k in post if k not in _POST_FIELDS]:
            post[key] = self._value(post[key], identities)

    def _post(self, post: Post) -> None:
        fields: dict[str, Any] = {
            "author": post.author,
            "author_id": post.author_id,
            "by_brand": post.by_brand,
            "url": post.url,
            "id": post.id,
            "thread": post.thread,
            "in_reply_to": post.in_reply_to,
            "text": post.text,
            "mentions": post.mentions,
            **post.extra,
        }
        self._post_fields(fields)
        post.author, post.author_id, post.url = (
            fields.pop("author"),
            fields.pop("author_id"),
            fields.pop("url"),
        )
        post.id, post.thread, post.in_reply_to = (
            fields.pop("id"),
            fields.pop("thread"),
            fields.pop("in_reply_to"),
        )
        post.text, post.mentions = fields.pop("text"), fields.pop("mentions")
        fields.pop("by_brand")
        post.extra = fields

    def _conversation_fields(self, conversation: MutableMapping[str, Any]) -> None:
        conversation["id"] = self.conversation_id(conversation.get("id"))
        customer = conversation.get("customer")
        identities: set[str] = set()
        if isinstance(customer, str) and customer and not self.keeps(customer):
            identities.add(customer)
            conversation["customer"] = self.pseudonym(customer)
        if "linked_post" in conversation:
            conversation["linked_post"] = self.post_id(conversation["linked_post"])
        messages = conversation.get("messages")
        if isinstance(messages, list):
            conversation["messages"] = [self._message(m, identities) for m in messages]
        for key in [k for k in conversation if k not in _CONVERSATION_FIELDS]:
            conversation[key] = self._value(conversation[key], identities)

    def _message(self, message: Any, identities: set[str]) -> Any:
        if not isinstance(message, Mapping):
            return message
        return {
            key: self.text(value)
            if key == "text" and isinstance(value, str)
            else value
            if key in _MESSAGE_FIELDS
            else self._value(value, identities)
            for key, value in message.items()
        }

    def _conversation(self, conversation: Conversation) -> None:
        fields: dict[str, Any] = {
            "id": conversation.id,
            "customer": conversation.customer,
            "linked_post": conversation.linked_post,
            **conversation.extra,
        }
        self._conversation_fields(fields)
        conversation.id, conversation.customer = fields.pop("id"), fields.pop("customer")
        conversation.linked_post = fields.pop("linked_post")
        conversation.extra = fields
        for message in conversation.messages:
            message.text = self.text(message.text)

    def _value(self, value: Any, identities: set[str]) -> Any:
        """A field the tool does not know: a customer's identity in it, whole, is replaced, and
        mentions in its text; nested lists and objects likewise."""
        if isinstance(value, str):
            if value in identities:
                return self.pseudonym(value)
            return self.text(value)
        if isinstance(value, list):
            return [self._value(v, identities) for v in value]
        if isinstance(value, Mapping):
            return {k: self._value(v, identities) for k, v in value.items()}
        return value


def _brand_ids_of_records(records: Iterable[Mapping[str, Any]]) -> set[str]:
    ids: set[str] = set()
    for record in records:
        if record.get("kind") == "post" and record.get("by_brand") and record.get("author_id"):
            ids.add(str(record["author_id"]))
        elif record.get("kind") == "profile":
            ids |= {str(record[k]) for k in _BRAND_ID_KEYS if record.get(k)}
    return ids
