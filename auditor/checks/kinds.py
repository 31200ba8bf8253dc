"""The kinds of data (``auditor.model.DATA_KINDS``) the built-in checks declare in their
``Needs``: what each reads, and what could refute its findings when it is lost."""

from __future__ import annotations

from typing import Final

PROFILE: Final = frozenset({"profile"})
CONVERSATIONS: Final = frozenset({"conversations"})
BRAND_POSTS: Final = frozenset({"brand_posts"})
# Every post and both markers: which posts count (hidden, deleted) is read from the markers.
POSTS_AND_MARKERS: Final = frozenset({"customer_posts", "brand_posts", "hidden", "deleted"})
# What can show that a customer post was answered after all: a brand reply that did not
# arrive, or a deletion mark that did not (a deleted post is no one's to answer).
ANSWERS: Final = frozenset({"brand_posts", "deleted"})
