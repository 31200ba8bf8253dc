"""Identifiers and URLs of generated posts and conversations, in each platform's own shape.

Imports ``auditor.demo.draw`` and nothing else of the project.
"""

from __future__ import annotations

import string
from typing import Protocol

from auditor.demo.draw import stable_int

_TWITTER_EPOCH_MS = 1288834974657
_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_IG_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _encode(value: int, alphabet: str, width: int = 0) -> str:
    base = len(alphabet)
    digits: list[str] = []
    while value:
        value, rest = divmod(value, base)
        digits.append(alphabet[rest])
    return "".join(reversed(digits)).rjust(width, alphabet[0])


def _did(name: str) -> str:
    return "did:plc:" + _encode(stable_int(name) ** 2, _B32_SORTABLE, 24)[-24:]


def platform_user_id(platform: str, handle: str) -> str:
    value = stable_int(f"{platform}:{handle}")
    if platform == "x":
        return str(10**17 + value % (9 * 10**18))
    if platform == "facebook":
        return str(10**14 + value % (9 * 10**15))
    if platform == "instagram":
        return str(17841400000000000 + value % 10**11)
    if platform == "mastodon":
        return str(10**17 + value % (9 * 10**17))
    return _did(handle)


class Parent(Protocol):
    """What a reply's id and URL need of the post it replies to."""

    @property
    def thread(self) -> str: ...

    # The root's Facebook object id or Instagram shortcode.
    @property
    def root_ref(self) -> str: ...


class IdMint:
    """Post ids unique per platform across the whole bundle.

    Each platform has one counter; ids mix it with the post's time in that platform's id shape
    so that two posts can only collide after millions of posts on one platform.
    """

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def take(self, platform: str) -> int:
        value = self._counters.get(platform, 0)
        self._counters[platform] = value + 1
        return value

    def post_id(
        self, platform: str, ts: int, author: str, author_id: str, parent: Parent | None
    ) -> tuple[str, str, str]:
        """Returns the id, the URL and the root reference of a new post."""
        count = self.take(platform)
        if platform == "x":
            ms = ts * 1000 + count % 1000 - _TWITTER_EPOCH_MS
            post_id = str((ms << 22) | (count & 0x3FFFFF))
            return post_id, f"https://x.com/{author}/status/{post_id}", post_id
        if platform == "mastodon":
            post_id = str(((ts * 1000 + count % 1000) << 16) | (count & 0xFFFF))
            user, _, instance = author.partition("@")
            return post_id, f"https://{instance or 'mastodon.social'}/@{user}/{post_id}", post_id
        if platform == "facebook":
            obj = str(10**15 + (count * 7919 + 104729) % (9 * 10**15))
            if parent is None:
                post_id = f"{author_id}_{obj}"
                return post_id, f"https://www.facebook.com/{post_id}", obj
            post_id = f"{parent.root_ref}_{obj}"
            url = f"https://www.facebook.com/{parent.thread}?comment_id={obj}"
            return post_id, url, parent.root_ref
        if platform == "instagram":
            serial = (count * 9973 + 7777) % 10**16
            if parent is None:
                post_id = str(17 * 10**16 + serial)
                shortcode = _encode(int(post_id), _IG_ALPHABET)
                return post_id, f"https://www.instagram.com/p/{shortcode}/", shortcode
            post_id = str(18 * 10**16 + serial)
            url = f"https://www.instagram.com/p/{parent.root_ref}/c/{post_id}/"
            return post_id, url, parent.root_ref
        # bluesky: a TID (microseconds and a clock id) in an at:// URI of the author's repo.
        micros = ts * 1_000_000 + count % 1_000_000
        tid = _encode((micros << 10) | (count // 1_000_000 % 1024), _B32_SORTABLE, 13)
        post_id = f"at://{author_id}/app.bsky.feed.post/{tid}"
        return post_id, f"https://bsky.app/profile/{author}/post/{tid}", tid

    def conversation_id(self, platform: str, brand_id: str, customer_id: str) -> str:
        count = self.take(platform)
        if platform == "x":
            return f"{brand_id}-{customer_id}-{count}"
        if platform == "facebook":
            return f"t_{10**15 + (count * 6151) % (9 * 10**15)}"
        return str(10**17 + count)

    def message_id(self, platform: str, ts: int) -> str:
        count = self.take(platform)
        if platform == "facebook":
            return f"m_{_encode((ts << 20) | (count & 0xFFFFF), _IG_ALPHABET)}"
        return str(((ts * 1000 - _TWITTER_EPOCH_MS) << 22) | (count & 0x3FFFFF))
