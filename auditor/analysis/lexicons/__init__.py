"""Built-in lexicons for the customer-post classifier, per language (only English is built in).

The phrases are data files beside this module, shipped in the wheel and read once at import:
``en.yaml`` (the English categories; its header says what each category is for) and
``function_words.yaml`` (the words of the cheap "clearly English" test). Other languages come
from policy (``lexicons: {fr: {complaint: [...]}}``); see
``auditor.analysis.classify.Lexicons.from_policy``.

Imports nothing of the project.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

# The C loader reads these files about ten times faster than the pure-Python one; both give the
# same values.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def phrase_lists(text: str, name: str) -> dict[str, tuple[str, ...]]:
    """A lexicon file's lists of phrases by key; refuses what a slip in the YAML would produce."""
    table: Any = yaml.load(text, Loader=_LOADER)
    if not isinstance(table, dict):
        raise ValueError(f"{name}: expected a mapping of names to lists of phrases")
    lists: dict[str, tuple[str, ...]] = {}
    for key, phrases in table.items():
        # An unquoted "no" or "on" would arrive as a boolean, a stray "-" as None.
        if not isinstance(phrases, list) or not all(
            isinstance(phrase, str) and phrase.strip() for phrase in phrases
        ):
            raise ValueError(f"{name}: {key!r} must be a list of non-empty strings")
        if len(set(phrases)) != len(phrases):
            raise ValueError(f"{name}: {key!r} lists a phrase twice")
        lists[str(key)] = tuple(phrases)
    return lists


def _load(name: str) -> dict[str, tuple[str, ...]]:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return phrase_lists(text, name)


ENGLISH: dict[str, tuple[str, ...]] = _load("en.yaml")
_FUNCTION_WORDS = _load("function_words.yaml")
ENGLISH_FUNCTION_WORDS: frozenset[str] = frozenset(_FUNCTION_WORDS["english"])
NON_ENGLISH_FUNCTION_WORDS: frozenset[str] = frozenset(_FUNCTION_WORDS["non_english"])

BUILT_IN: dict[str, dict[str, tuple[str, ...]]] = {"en": ENGLISH}

__all__ = [
    "BUILT_IN",
    "ENGLISH",
    "ENGLISH_FUNCTION_WORDS",
    "NON_ENGLISH_FUNCTION_WORDS",
    "phrase_lists",
]
