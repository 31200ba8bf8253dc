"""Classify customer posts as complaint, question, praise, spam or other, with VADER sentiment.

How a post is classified
------------------------
1. The text is normalised (``normalise``): links and @mentions removed, whitespace collapsed,
   lower-cased, typographic apostrophes made plain. Results are cached by the normalised text
   (plus whether it had a link, because a link is spam evidence), so a repeated text is
   classified once.
2. Language: texts with fewer than three words default to English rather than guessing, unless
   they are written in a non-Latin script. Texts with no non-ASCII letters that contain English
   function words and none of the common French/Spanish/German/Italian/Portuguese/Dutch ones are
   English without asking the detector (that cheap test lets most posts skip detection). The
   rest go to *Lingua* (``lingua-language-detector``), restricted to common languages plus the
   ones the classifier has lexicons for; low-accuracy mode when only English is classified,
   full accuracy when policy adds languages. A post stays English when Lingua gives English a
   confidence of at least 0.15, unless two or more non-English function words outnumber the
   English ones. A post whose language has no lexicons (or that Lingua cannot decide) is
   ``unclassified`` with sentiment 0.0, never guessed at.
3. Phrases from the language's lexicons are matched on whole tokens; where sentiment phrases
   overlap the longest one wins ("no problem" hides "problem", "thanks for nothing" hides
   "thanks"). A phrase preceded within three tokens of the same clause by a negation is negated.
   Negated praise ("not happy"), negated outcomes ("can't log in", "no reply") and negated
   resolutions ("never arrived", "still not fixed") are complaint signs; negated complaint words
   and problem terms ("not angry", "never had a problem") count for nothing.
4. The label, first rule that applies:
   - ``spam``: an abuse or spam phrase; promo words together with a link (unless the post also
     complains), or three promo words.
   - ``complaint``: a complaint phrase or one of the negated signs above. This wins over
     questions ("why is my package 3 days late??") and over positive words (sarcasm: "great, my
     order is lost again"). Exception: when every complaint sign comes before a "but"/"however"
     and praise comes after it, the post is praise.
   - ``complaint``: a problem term ("error", "issue") in a post that asks nothing and reports
     no resolution.
   - ``question``: a question mark or a question phrase ("I'm not angry, just asking").
   - ``praise``: a praise phrase ("no problem at all, thanks for the quick fix!").
   - English only, from VADER alone: compound <= -0.5 is a complaint, >= 0.6 praise (unless a
     neutral set phrase such as "happy friday" explains the positive score).
   - otherwise ``other``.
5. English posts the rules do not call spam go to the complaint model
   (``auditor.analysis.complaint_model``; ``docs/complaints.md``): a logistic regression over
   the normalised text's word and character n-grams and the evidence above (a complaint sign, a
   problem term, praise, a question mark, VADER's scores), trained on labelled tweets. Its
   decision replaces the rules' on complaints: a complaint when its probability reaches the
   model's threshold; otherwise the rules' label, or, where the rules said complaint,
   question / praise / other by the rules below complaint. ``confidence`` is the model's
   probability for the decision taken (p for a complaint, 1 - p for the rest) and ``reasons``
   the features that pushed most that way (words, word pairs, "?", signal names), strongest
   first, at most five. Spam, other languages and ``Classifier(rules_only=True)`` (the rules
   alone, as before #13) have ``confidence`` None and no reasons.
6. ``help_page_answerable`` is set on questions and complaints that ask something and mention a
   help-page topic (password reset, login, account settings, order tracking, refund policy,
   opening hours...).

Sentiment is VADER's compound score of the normalised text (so ALL-CAPS emphasis, which
normalisation removes, does not count). VADER is English; for other languages that policy gives
lexicons for, it is still reported but usually near 0.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, get_args

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from auditor.analysis.complaint_model import ComplaintModel, ComplaintScore, built_in_model
from auditor.analysis.lexicons import BUILT_IN, ENGLISH_FUNCTION_WORDS, NON_ENGLISH_FUNCTION_WORDS

if TYPE_CHECKING:
    from lingua import LanguageDetector

Label = Literal["complaint", "question", "praise", "spam", "other", "unclassified"]
LABELS: tuple[Label, ...] = get_args(Label)

# VADER's own convention: a compound score at or below -0.05 is negative.
NEGATIVE_COMPOUND = -0.05
# Below this, the VADER-only fallback calls a post without lexicon evidence a complaint...
FALLBACK_COMPLAINT_COMPOUND = -0.5
# ...and above this, praise. Both are strict so that mild wording stays "other".
FALLBACK_PRAISE_COMPOUND = 0.6

# Languages the detector chooses between besides the ones with lexicons: the common Latin-script
# ones (which is where confusion with English happens) and the major non-Latin scripts (which
# Lingua separates by script at almost no cost). More languages make detection slower and less
# accurate on short texts.
COMMON_LANGUAGES: tuple[str, ...] = (
    "en", "fr", "es", "de", "it", "pt", "nl",
    "ru", "uk", "ar", "he", "el", "hi", "th", "ja", "zh", "ko",
)  # fmt: skip

# What ``language_name`` says of a post whose language was not decided.
UNKNOWN_LANGUAGE = "an unknown language"

# The cache is dropped when it grows past this, so a long-running scheduler stays bounded.
DEFAULT_MAX_CACHE = 1_000_000

SHORT_TEXT_WORDS = 3
# Short English posts made only of content words ("best pizza ever") get English confidences
# around 0.2-0.35 from the detector while real French/Spanish/German... posts get at most about
# 0.1; so a post stays English when English is at least this plausible (not guessed away).
ENGLISH_PLAUSIBLE_CONFIDENCE = 0.15
NEGATION_WINDOW = 3
CLAUSE_BREAKS: frozenset[str] = frozenset(
    {".", ",", ";", ":", "!", "?", "but", "however", "although", "though"}
)
CONTRASTS: frozenset[str] = frozenset({"but", "however"})
# "not only fast but friendly" is not a negation of "fast"; "never been so angry" intensifies.
_NEGATION_EXEMPT_NEXT: frozenset[str] = frozenset({"only", "just"})
_NEVER_INTENSIFIERS: frozenset[str] = frozenset({"so", "this", "such", "more"})

_URL_RE = re.compile(
    r"(?:\bhttps?://|\bwww\.)\S+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ly|co|xyz|info|biz|link|site|online|shop|app|gg)"
    r"/\S*",
    re.IGNORECASE,
)
# Covers X/Instagram handles, Mastodon's @user@host and Bluesky's @name.bsky.social.
# The look-behind sits after the "@" so that the engine can scan for the literal "@" quickly.
_MENTION_RE = re.compile(r"@(?<![\w@]@)[\w.-]+(?:@[\w.-]+)*")
_LANGUAGE_CODE_RE = re.compile(r"[a-z]{2}")
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
# Emoji modifiers that would otherwise become tokens of their own between an emoji and the next.
_IGNORED_TOKENS: frozenset[str] = frozenset(
    {"\ufe0f", "\ufe0e", "\u200d", *(chr(c) for c in range(0x1F3FB, 0x1F400))}
)
# Letters above Latin Extended-B belong to other scripts (Greek, Cyrillic, Arabic, CJK...).
_LAST_LATIN_CODEPOINT = 0x24F

_SENTIMENT_CATEGORIES: tuple[str, ...] = (
    # Precedence for a phrase listed in several categories: the first wins.
    "complaint", "problem_terms", "resolutions", "outcomes", "praise", "neutral",
)  # fmt: skip
_COUNTED_CATEGORIES: tuple[str, ...] = ("question", "spam", "promo", "abuse", "help_topics")


def normalise(text: str) -> str:
    """Strip links and @mentions, collapse whitespace and lower-case; the cache key."""
    return _normalise_with_link_flag(text)[0]


def _normalise_with_link_flag(text: str) -> tuple[str, bool]:
    # Lower-casing first keeps this idempotent ("İ" lower-cases to "i" plus a combining dot,
    # which would otherwise turn a following "@x" into a mention only on a second pass). The
    # substring tests skip the regular expressions for most posts; they are about ten times
    # cheaper than running the expressions, which matters at 25,000 posts/s.
    text = text.lower()
    links = 0
    if "/" in text or "www." in text:
        text, links = _URL_RE.subn(" ", text)
    if "@" in text:
        text = _MENTION_RE.sub(" ", text)
    if not text.isascii():
        text = text.replace("\u2019", "'")
    return " ".join(text.split()), links > 0


def _cache_key(text: str) -> tuple[str, bool]:
    """The normalised text, and whether the post had a link (spam evidence normalising drops)."""
    return _normalise_with_link_flag(text)


def tokenise(normalised: str) -> tuple[str, ...]:
    # A tuple, so that phrase matching compares slices without building new tuples.
    return tuple(t for t in _TOKEN_RE.findall(normalised) if t not in _IGNORED_TOKENS)


def _normalise_phrase(phrase: str) -> str:
    return " ".join(tokenise(normalise(phrase)))


@dataclass(frozen=True, slots=True)
class Classification:
    label: Label
    sentiment: float  # VADER compound, -1..1
    language: str | None
    help_page_answerable: bool
    # How sure the label is, 0..1, where the classifier can say (None: a rule, not a score).
    confidence: float | None = None
    # Why: the phrases or features that weighed most towards the label, strongest first.
    reasons: Sequence[str] = ()


@dataclass(frozen=True)
class Lexicons:
    """Phrases for one language; ``auditor/analysis/lexicons/en.yaml`` says what each means."""

    complaint: frozenset[str] = frozenset()
    problem_terms: frozenset[str] = frozenset()
    praise: frozenset[str] = frozenset()
    outcomes: frozenset[str] = frozenset()
    resolutions: frozenset[str] = frozenset()
    neutral: frozenset[str] = frozenset()
    question: frozenset[str] = frozenset()
    spam: frozenset[str] = frozenset()
    promo: frozenset[str] = frozenset()
    abuse: frozenset[str] = frozenset()
    help_topics: frozenset[str] = frozenset()
    negations: frozenset[str] = frozenset()

    @classmethod
    def categories(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_phrases(cls, phrases: Mapping[str, Iterable[str]]) -> Lexicons:
        return cls().extended(phrases)

    @classmethod
    def english(cls) -> Lexicons:
        return cls.from_phrases(BUILT_IN["en"])

    def extended(self, extra: Mapping[str, Iterable[str]]) -> Lexicons:
        """A copy with ``extra`` phrases added per category (normalised like post texts)."""
        known = self.categories()
        merged: dict[str, frozenset[str]] = {}
        for category, phrases in extra.items():
            if category not in known:
                raise ValueError(
                    f"unknown lexicon category {category!r}; known: {', '.join(known)}"
                )
            if isinstance(phrases, str) or not isinstance(phrases, Iterable):
                raise ValueError(f"lexicon category {category!r} must be a list of phrases")
            cleaned = {_normalise_phrase(str(phrase)) for phrase in phrases}
            merged[category] = getattr(self, category) | {p for p in cleaned if p}
        return Lexicons(**{name: merged.get(name, getattr(self, name)) for name in known})

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any] | None) -> dict[str, Lexicons]:
        """Built-in English plus policy extensions, per language.

        ``policy`` is ``{"en": {"complaint": [...extra phrases]}, "fr": {...}}``, or a mapping
        holding that under a ``lexicons`` key (so a whole policy can be passed; one without the
        key must then be the language mapping itself, and other keys are rejected as not being
        language codes). Languages other than English start empty.
        """
        by_language: dict[str, Lexicons] = {"en": cls.english()}
        section = policy.get("lexicons", policy) if policy else None
        if not section:
            return by_language
        if not isinstance(section, Mapping):
            raise ValueError("lexicons policy must map language codes to categories")
        for language, extra in section.items():
            code = str(language).strip().lower()
            if not _LANGUAGE_CODE_RE.fullmatch(code):
                raise ValueError(f"lexicons key {language!r} is not an ISO 639-1 language code")
            if not isinstance(extra, Mapping):
                raise ValueError(f"lexicons for {language!r} must map categories to phrases")
            by_language[code] = by_language.get(code, cls()).extended(extra)
        return by_language


@dataclass(slots=True)
class _PhraseIndex:
    """Phrases of one language keyed by their first token, longest first."""

    by_first_token: dict[str, list[tuple[tuple[str, ...], str]]]
    negations: frozenset[str]

    @classmethod
    def build(cls, lexicons: Lexicons) -> _PhraseIndex:
        entries: dict[tuple[tuple[str, ...], str], None] = {}
        taken: set[str] = set()
        for category in (*_SENTIMENT_CATEGORIES, *_COUNTED_CATEGORIES):
            for phrase in sorted(getattr(lexicons, category)):
                if category in _SENTIMENT_CATEGORIES and phrase in taken:
                    continue
                entries[(tuple(phrase.split()), category)] = None
            if category in _SENTIMENT_CATEGORIES:
                taken.update(getattr(lexicons, category))
        by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for words, category in entries:
            by_first.setdefault(words[0], []).append((words, category))
        for candidates in by_first.values():
            candidates.sort(key=lambda entry: (-len(entry[0]), entry[0], entry[1]))
        return cls(by_first, lexicons.negations)


@dataclass(slots=True)
class _Evidence:
    complaint_at: list[int] = field(default_factory=list)
    praise_at: list[int] = field(default_factory=list)
    problem_terms: int = 0
    resolutions: int = 0
    neutral_phrases: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _is_negated(tokens: Sequence[str], start: int, negations: frozenset[str]) -> bool:
    for position in range(start - 1, max(start - 1 - NEGATION_WINDOW, -1), -1):
        token = tokens[position]
        if token in CLAUSE_BREAKS:
            return False
        if token in negations:
            following = tokens[position + 1]
            if following in _NEGATION_EXEMPT_NEXT:
                return False
            return not (token == "never" and following in _NEVER_INTENSIFIERS)
    return False


def _gather_evidence(tokens: tuple[str, ...], index: _PhraseIndex) -> _Evidence:
    evidence = _Evidence()
    sentiment_hits: list[tuple[int, int, str]] = []
    for start, token in enumerate(tokens):
        candidates = index.by_first_token.get(token)
        if candidates is None:
            continue
        for words, category in candidates:
            end = start + len(words)
            if tokens[start:end] != words:
                continue
            if category in _COUNTED_CATEGORIES:
                evidence.counts[category] = evidence.counts.get(category, 0) + 1
            else:
                sentiment_hits.append((start, end, category))
    # Longest phrase wins where sentiment phrases overlap; ties go to the earlier one.
    sentiment_hits.sort(key=lambda hit: (hit[0] - hit[1], hit[0]))
    covered: set[int] = set()
    for start, end, category in sentiment_hits:
        span = range(start, end)
        if covered.intersection(span):
            continue
        covered.update(span)
        _record(evidence, category, start, _is_negated(tokens, start, index.negations))
    return evidence


def _record(evidence: _Evidence, category: str, start: int, negated: bool) -> None:
    if category == "complaint" and not negated:
        evidence.complaint_at.append(start)
    elif category == "praise":
        (evidence.complaint_at if negated else evidence.praise_at).append(start)
    elif category in ("outcomes", "resolutions"):
        if negated:
            evidence.complaint_at.append(start)
        elif category == "resolutions":
            evidence.resolutions += 1
    elif category == "problem_terms" and not negated:
        evidence.problem_terms += 1
    elif category == "neutral":
        evidence.neutral_phrases += 1


def _praise_after_contrast(tokens: Sequence[str], evidence: _Evidence) -> bool:
    contrast_at = max((i for i, token in enumerate(tokens) if token in CONTRASTS), default=-1)
    return (
        contrast_at >= 0
        and max(evidence.complaint_at) < contrast_at
        and any(position > contrast_at for position in evidence.praise_at)
    )


def _asks(tokens: Sequence[str], evidence: _Evidence) -> bool:
    return "?" in tokens or bool(evidence.counts.get("question"))


def _decide(
    tokens: Sequence[str], has_link: bool, evidence: _Evidence, sentiment: float, english: bool
) -> Label:
    counts = evidence.counts
    promo = counts.get("promo", 0)
    if counts.get("abuse") or counts.get("spam"):
        return "spam"
    if (has_link and promo and not evidence.complaint_at) or promo >= 3:
        return "spam"
    asks = _asks(tokens, evidence)
    if evidence.complaint_at:
        return "praise" if _praise_after_contrast(tokens, evidence) else "complaint"
    if evidence.problem_terms and not evidence.resolutions and not asks:
        return "complaint"
    if asks:
        return "question"
    if evidence.praise_at:
        return "praise"
    if english and sentiment <= FALLBACK_COMPLAINT_COMPOUND:
        return "complaint"
    # A set phrase like "happy friday" explains a positive score without praising anyone.
    if english and sentiment >= FALLBACK_PRAISE_COMPOUND and not evidence.neutral_phrases:
        return "praise"
    return "other"


def _non_complaint_label(tokens: Sequence[str], evidence: _Evidence, sentiment: float) -> Label:
    """The label of an English post the model says is no complaint (``_decide`` without the
    complaint rules; spam is decided before)."""
    if _asks(tokens, evidence):
        return "question"
    if evidence.praise_at:
        return "praise"
    if sentiment >= FALLBACK_PRAISE_COMPOUND and not evidence.neutral_phrases:
        return "praise"
    return "other"


def _signals(
    tokens: Sequence[str], evidence: _Evidence, scores: Mapping[str, float]
) -> list[float]:
    """The rules' evidence as the complaint model's signals (``complaint_model.SIGNAL_NAMES``)."""
    return [
        float(bool(evidence.complaint_at)),
        float(evidence.problem_terms > 0),
        float(bool(evidence.praise_at)),
        float("?" in tokens),
        float(scores["compound"]),
        float(scores["neg"]),
        float(scores["pos"]),
    ]


def _has_non_latin_letters(text: str) -> bool:
    return not text.isascii() and any(
        ord(char) > _LAST_LATIN_CODEPOINT and char.isalpha() for char in text
    )


def _has_non_ascii_letters(text: str) -> bool:
    return not text.isascii() and any(ord(char) > 127 and char.isalpha() for char in text)


class Classifier:
    """Classifies customer posts; results are cached by normalised text."""

    def __init__(
        self,
        lexicons: Mapping[str, Lexicons] | None = None,
        languages: Collection[str] = ("en",),
        *,
        max_cache: int = DEFAULT_MAX_CACHE,
        complaint_model: ComplaintModel | None = None,
        rules_only: bool = False,
    ) -> None:
        """``complaint_model``: the model that decides English complaints (default: the built-in
        one); ``rules_only``: no model, the lexicon rules alone decide (the classifier before
        #13, kept as the benchmark's baseline)."""
        available = dict(lexicons) if lexicons is not None else Lexicons.from_policy(None)
        self.languages: tuple[str, ...] = tuple(sorted({code.lower() for code in languages}))
        missing = [code for code in self.languages if code not in available]
        if missing:
            raise ValueError(f"no lexicons for language(s): {', '.join(missing)}")
        self._indexes = {code: _PhraseIndex.build(available[code]) for code in self.languages}
        self._detector_languages = tuple(
            sorted({*COMMON_LANGUAGES, *self.languages}, key=_common_first)
        )
        _validate_language_codes(self._detector_languages)
        # With English alone, only "English or not?" matters, and low-accuracy mode (trigram
        # models: about 0.2 s to load, about 40,000 texts/s) answers it well with the function
        # word and plausibility rules. With other languages to classify, the exact language
        # matters, so the full models are worth their load time (about 3 s for the Latin-script
        # languages, once per process).
        self._accurate_detection = len(self.languages) > 1
        self._detector: LanguageDetector | None = None
        self._vader = SentimentIntensityAnalyzer()
        self._model: ComplaintModel | None = (
            None if rules_only else complaint_model or built_in_model()
        )
        self._cache: dict[tuple[str, bool], Classification] = {}
        self._max_cache = max_cache

    def classify(self, text: str) -> Classification:
        key = _cache_key(text)
        cached = self._cache.get(key)
        if cached is None:
            self._bound_cache()
            cached = self._cache[key] = self._classify_key(*key)
        return cached

    def classify_many(self, texts: Iterable[str]) -> list[Classification]:
        """Classify ``texts`` in order, each distinct normalised text once."""
        self._bound_cache()
        keys_by_text: dict[str, tuple[str, bool]] = {}
        keys: list[tuple[str, bool]] = []
        for text in texts:
            key = keys_by_text.get(text)
            if key is None:
                key = keys_by_text[text] = _cache_key(text)
            keys.append(key)
        for key in dict.fromkeys(keys):
            if key not in self._cache:
                self._cache[key] = self._classify_key(*key)
        return [self._cache[key] for key in keys]

    def clear_cache(self) -> None:
        self._cache.clear()

    def _bound_cache(self) -> None:
        if len(self._cache) >= self._max_cache:
            self._cache.clear()

    def _classify_key(self, normalised: str, has_link: bool) -> Classification:
        tokens = tokenise(normalised)
        language = self._language_of(normalised, tokens)
        index = self._indexes.get(language) if language is not None else None
        if index is None:
            return Classification("unclassified", 0.0, language, False)
        scores = self._vader.polarity_scores(normalised)
        sentiment = float(scores["compound"])
        evidence = _gather_evidence(tokens, index)
        label = _decide(tokens, has_link, evidence, sentiment, english=language == "en")
        score: ComplaintScore | None = None
        if language == "en" and label != "spam" and self._model is not None:
            score = self._model.score(normalised, tokens, _signals(tokens, evidence, scores))
            if score.is_complaint:
                label = "complaint"
            elif label == "complaint":
                label = _non_complaint_label(tokens, evidence, sentiment)
        help_page_answerable = (
            label in ("question", "complaint")
            and bool(evidence.counts.get("help_topics"))
            and _asks(tokens, evidence)
        )
        if score is None:
            return Classification(label, sentiment, language, help_page_answerable)
        return Classification(
            label, sentiment, language, help_page_answerable, score.confidence, score.reasons
        )

    def complaint_signals(self, text: str) -> list[float]:
        """The complaint model's signals for ``text`` as English, as classification computes
        them (for training the model on exactly what runs)."""
        normalised = normalise(text)
        tokens = tokenise(normalised)
        evidence = _gather_evidence(tokens, self._indexes["en"])
        return _signals(tokens, evidence, self._vader.polarity_scores(normalised))

    def _language_of(self, normalised: str, tokens: Sequence[str]) -> str | None:
        words = [token for token in tokens if token[0].isalnum()]
        if len(words) < SHORT_TEXT_WORDS and not _has_non_latin_letters(normalised):
            return "en"
        english_hits = len(ENGLISH_FUNCTION_WORDS.intersection(words))
        foreign_hits = len(NON_ENGLISH_FUNCTION_WORDS.intersection(words))
        if english_hits and not foreign_hits and not _has_non_ascii_letters(normalised):
            return "en"
        # Several French/Spanish/German... function words outweighing English ones settle that
        # a post is not English even where the detector, on a short text, would say it is.
        english_ruled_out = foreign_hits >= 2 and foreign_hits > english_hits
        return _detected_language(self._language_detector(), normalised, english_ruled_out)

    def _language_detector(self) -> LanguageDetector:
        if self._detector is None:
            self._detector = _build_detector(self._detector_languages, self._accurate_detection)
        return self._detector


def _common_first(code: str) -> tuple[int, str]:
    order = COMMON_LANGUAGES.index(code) if code in COMMON_LANGUAGES else len(COMMON_LANGUAGES)
    return order, code


def _validate_language_codes(codes: Iterable[str]) -> None:
    from lingua import IsoCode639_1

    for code in codes:
        try:
            IsoCode639_1.from_str(code)
        except ValueError:
            raise ValueError(f"unknown ISO 639-1 language code {code!r}") from None


def _build_detector(codes: Sequence[str], accurate: bool) -> LanguageDetector:
    # Imported here so that importing this module stays cheap. The models ship inside the wheel
    # and load lazily, per language, the first time a text needs them; nothing is downloaded.
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in codes]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    return builder.build() if accurate else builder.with_low_accuracy_mode().build()


def _detected_language(
    detector: LanguageDetector, normalised: str, english_ruled_out: bool
) -> str | None:
    """The text's language: English whenever that is a plausible reading and not ruled out."""
    confidences = [
        confidence
        for confidence in detector.compute_language_confidence_values(normalised)
        if confidence.value > 0.0
    ]
    codes = [confidence.language.iso_code_639_1.name.lower() for confidence in confidences]
    if "en" in codes:
        english = confidences[codes.index("en")].value
        if english >= ENGLISH_PLAUSIBLE_CONFIDENCE and not english_ruled_out:
            return "en"
    candidates = [code for code in codes if code != "en" or not english_ruled_out]
    return candidates[0] if candidates else None


def language_name(code: str | None) -> str:
    """The English name of a detector language code ("fr" -> "French"), from Lingua's own table.

    ``None`` (the detector could not decide) and codes Lingua does not know are "an unknown
    language", so that a summary can always say "in <name>".
    """
    if code is None:
        return UNKNOWN_LANGUAGE
    from lingua import IsoCode639_1, Language

    try:
        language = Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
    except ValueError:
        return UNKNOWN_LANGUAGE
    return language.name.title()


def label_counts(results: Iterable[Classification]) -> dict[Label, int]:
    """How many results have each label (every label present, zeros included)."""
    counts: dict[Label, int] = dict.fromkeys(LABELS, 0)
    for result in results:
        counts[result.label] += 1
    return counts


@cache
def default_classifier() -> Classifier:
    """A shared classifier with the built-in English lexicons only."""
    return Classifier()


def frustration(texts: Iterable[str], classifier: Classifier | None = None) -> float:
    """Share of classifiable posts whose VADER compound is <= -0.05 (VADER's "negative").

    Meant for before/after-first-reply comparisons: the customer's posts before the brand's
    first reply against those after it. ``unclassified`` posts (languages without lexicons) have
    no meaningful sentiment and are left out. Returns 0.0 when no post is left. The share is
    used rather than the mean compound because one furious post should not outweigh several
    calm ones.
    """
    results = (classifier or default_classifier()).classify_many(texts)
    scored = [result.sentiment for result in results if result.label != "unclassified"]
    if not scored:
        return 0.0
    return sum(1 for score in scored if score <= NEGATIVE_COMPOUND) / len(scored)


__all__ = [
    "COMMON_LANGUAGES",
    "LABELS",
    "NEGATIVE_COMPOUND",
    "UNKNOWN_LANGUAGE",
    "Classification",
    "Classifier",
    "Label",
    "Lexicons",
    "default_classifier",
    "frustration",
    "label_counts",
    "language_name",
    "normalise",
]
