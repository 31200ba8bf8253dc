"""Built-in lexicons for the customer-post classifier, per language (only English is built in).

Other languages come from policy (``lexicons: {fr: {complaint: [...]}}``); see
``auditor.analysis.classify.Lexicons.from_policy``.
"""

from __future__ import annotations

from auditor.analysis.lexicons.en import ENGLISH, ENGLISH_FUNCTION_WORDS, NON_ENGLISH_FUNCTION_WORDS

BUILT_IN: dict[str, dict[str, tuple[str, ...]]] = {"en": ENGLISH}

__all__ = ["BUILT_IN", "ENGLISH", "ENGLISH_FUNCTION_WORDS", "NON_ENGLISH_FUNCTION_WORDS"]
