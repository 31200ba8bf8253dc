"""PRV001 Personal data in public.

Public brand replies must not ask a customer to post personal data in public, nor repeat the
customer's contact details. A reply is a finding when

- it **asks for** an account, customer or membership number, an order, booking or invoice number,
  a tracking number, an email address, a phone number, a postal address, card details (number,
  last four digits, CVV, expiry, bank details) or a password, PIN or one-time code, and the ask
  is public: it says so ("reply with", "post it here", "in the comments", "publicly"), or the
  reply offers no private channel at all ("Can you tell us the order number?" under a public
  post is answered in public). Asking for the same by private message is the recommended practice
  and passes: "DM us your order number", "send us a DM with your account email", "please don't
  share your card number here, DM us".
- it **repeats** an email address or phone number that a customer posted earlier in the thread.

An ask is a request verb ("reply", "post", "share", "send", "tell", "give", "provide", "confirm",
"what's", "which" ...) followed within six words by the data ("your account number", "the order
number", "your email address"), with no "if", "whether", "when" or "how" between them ("tell us if
you changed your password" asks nothing), and no negation before it in its clause ("never post
your password"). A postcode or ZIP code alone is not treated as an address. A phone number in a
customer's post is one with a "+", separators ("0161 496 0000", "555-0100") or a word such as
"phone", "mobile" or "call" in the post; a bare run of digits is more often an order number.

## Why it matters
A public reply is read by everyone and archived for ever. Account numbers, emails and phone
numbers posted in public feed phishing and account takeover, and regulators (GDPR, CCPA) expect
the brand not to invite it.

## Example
Fails: "@ann please reply with your full account number and the email address on the account",
"Can you post your tracking number so we can check?", "@ben we've updated ben.k@example.com".

Passes: "@ann DM us your order number and we'll sort it", "Please don't share your card number
here, send us a private message instead".

## How to fix
Never ask for identifying details in a public reply: invite the customer to a DM, a secure form or
a phone call, and refer to them there. Remove replies that repeat a customer's details.

## Known problems
An ask that does not say where to answer passes whenever the reply offers a private channel
anywhere: "please share your account number and we'll DM you" is not flagged, though the
customer may well post the number in public.

Only the listed kinds of data are asked about: a date of birth, a postcode or a national id number
asked for in public is not flagged. Only emails and phone numbers are checked for repeats: a
reply that repeats the customer's order number or address is not flagged. The verbs and data
are English; asks in other languages are missed.

A phone number in a customer's post needs formatting or a phone word; a bare run of digits is
taken for an order number, so a reply repeating it is not flagged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from auditor.analysis.private_channel import (
    lowered,
    negated_before,
    phrase_key,
    private_offer,
    public_threads,
)
from auditor.check import AuditContext, Check, CheckOutput, Finding, Needs, post_evidence
from auditor.checks.kinds import POSTS_AND_MARKERS
from auditor.model import Post
from auditor.wording import part_of

# The data, one named group per kind (the group name is the kind reported).
_NOUNS = (
    r"(?P<password>\b(?:pass(?:word|code)|pin(?:\s+(?:code|number))?|one[\s-]time\s+"
    r"(?:code|password|passcode)|otp|verification\s+code|2fa\s+code|security\s+"
    r"(?:question|answer)|log-?in\s+(?:details|credentials))\b)"
    r"|(?P<card>\b(?:(?:credit|debit|bank)\s+)?card\s*(?:number|no\b\.?|#|digits|details)|\blast\s+"
    r"(?:4|four)\s+digits\s+(?:of|on)\s+(?:your|the)\s+(?:credit\s+|debit\s+|bank\s+)?card\b|"
    r"\b(?:cvv2?|cvc|cv2|card\s+security\s+code|expiry\s+date|sort\s+code|iban|bank\s+details)\b)"
    r"|(?P<account>\b(?:account|acct|customer|member(?:ship)?|policy|loyalty)\s*(?:number|no\b\.?|#|"
    r"id\b|ref(?:erence)?\b)|\b(?:your|the)\s+account\s+details\b)"
    r"|(?P<order>\b(?:order|booking|reservation|confirmation|invoice)\s*(?:number|no\b\.?|#|id\b|"
    r"ref(?:erence)?\b|code\b))"
    r"|(?P<tracking>\b(?:tracking|consignment|parcel|shipment|waybill)\s*(?:number|no\b\.?|#|id\b|"
    r"code\b|link\b|ref(?:erence)?\b))"
    r"|(?P<email>\b(?:your|the)\s+(?:(?:account|registered|login|contact|full)\s+)?e-?mail"
    r"(?:\s+address)?\b|\be-?mail\s+address(?:es)?\b|\b(?:what|which)\s+e-?mail\b)"
    r"|(?P<phone>\b(?:phone|mobile|cell|contact|telephone|tel)\s*(?:number|no\b\.?|#)|\byour\s+"
    r"(?:mobile|phone|cell)\b)"
    r"|(?P<address>\b(?:your|home|postal|delivery|shipping|billing|street|full|mailing)\s+"
    r"(?:(?:postal|home|delivery|shipping|billing|full)\s+)?address\b)"
)
_KINDS = ("password", "card", "account", "order", "tracking", "email", "phone", "address")
# All patterns read lowered text (``lowered``) without re.IGNORECASE: several times faster.
_HAS_NOUN = re.compile(_NOUNS)
_VERBS = (
    r"reply|respond|post|share|send|tell|give|provide|confirm|drop|leave|include|type|write|"
    r"comment|tweet|add|pop|put|list|paste|need|verify|let\s+us\s+(?:know|have|see)|"
    r"what(?:'s|s|\s+is|\s+was|\s+are)|which|can\s+we\s+(?:get|have|take)|could\s+we\s+"
    r"(?:get|have|take)|may\s+we\s+(?:have|get|take)"
)
# A request verb, up to six words, then the data; "if", "whether" ... between them end the ask.
_ASK = re.compile(
    rf"\b(?:{_VERBS})\b(?:[\s,'\"]+(?!(?:if|whether|when|how|why|that|where|because)\b)"
    rf"[\w'@.-]+){{0,6}}?[\s,'\"]+(?:{_NOUNS})"
)
# Constructions that put the data in public.
_PUBLIC = re.compile(
    r"\b(?:reply|respond|comment|tweet|post)\s+(?:here\s+|below\s+|back\s+|publicly\s+|"
    r"to\s+this\s+(?:post|tweet|comment|thread)\s+)?with\b"
    r"|\b(?:reply|respond|comment)\s+(?:here|below)\b"
    r"|\bpost\s+(?:it|them|your|the)\b"
    r"|\b(?:share|drop|leave|put|pop|write|type|post|add|list|paste|send|tell)\b[^.!?\n]{0,50}?"
    r"\b(?:here|below|in\s+(?:the|a)\s+(?:comments?|replies|reply|thread)|in\s+this\s+thread|"
    r"publicly|in\s+public)\b"
    r"|\bin\s+(?:the\s+)?(?:comments|replies)\b|\bpublicly\b|\bin\s+public\b"
)
_SENTENCE_END = re.compile(r"[.!?\n]+(?:\s|$)")
_EMAIL = re.compile(r"(?<![\w@.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().-]{6,}\d(?!\w)")
_PHONE_WORDS = re.compile(
    r"\b(?:phone|mobile|cell|call|tel|telephone|whatsapp|text\s+me|number\s+is)\b"
)
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15
_DIGITS = re.compile(r"\D")


def _sentence(text: str, start: int, end: int) -> str:
    before = [m.end() for m in _SENTENCE_END.finditer(text, 0, start)]
    after = _SENTENCE_END.search(text, end)
    return text[before[-1] if before else 0 : after.start() if after else len(text)]


def public_asks(text: str) -> list[str]:
    """The kinds of personal data ``text`` asks the customer to post in public (sorted)."""
    text = lowered(text)
    # One scan of the whole text: measured cheaper than any pre-filter for replies that mention
    # numbers, emails or codes as often as brand replies do.
    kinds: set[str] = set()
    offer_anywhere: bool | None = None
    for ask in _ASK.finditer(text):
        if negated_before(text, ask.start()):
            continue
        sentence = _sentence(text, ask.start(), ask.end())
        public = _PUBLIC.search(sentence) is not None
        if offer_anywhere is None:
            offer_anywhere = private_offer(text) is not None
        if not public and offer_anywhere:
            continue
        kind = next(k for k in _KINDS if ask.group(k) is not None)
        kinds.add(kind)
        # The verb may govern several data in a list: "your account number and email address".
        tail = text[ask.end() : ask.end() + 60]
        for extra in _HAS_NOUN.finditer(re.split(r"[.!?\n]", tail, maxsplit=1)[0]):
            kinds.add(next(k for k in _KINDS if extra.group(k) is not None))
    return sorted(kinds)


def phone_numbers(text: str, *, require_context: bool) -> set[str]:
    """Phone numbers in ``text`` as digit strings; see the module docs for what counts."""
    found = set()
    context = _PHONE_WORDS.search(text.lower()) is not None
    for match in _PHONE.finditer(text):
        raw = match.group(0)
        digits = _DIGITS.sub("", raw)
        if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
            continue
        formatted = raw.startswith(("+", "(")) or any(c in raw for c in " .-()")
        if require_context and not (formatted or context):
            continue
        found.add(digits)
    return found


# A phone-like run of digits.
_DIGIT_RUN = re.compile(r"\d[\d\s().-]{5,}\d")


def _may_repeat(text: str) -> bool:
    """Whether ``text`` may hold an email address or a phone number (a cheap first look)."""
    at = text.find("@")
    while at != -1:
        # An "@" after a letter or digit may be an email; an @mention follows a space.
        if at > 0 and text[at - 1].isalnum():
            return True
        at = text.find("@", at + 1)
    return _DIGIT_RUN.search(text) is not None


def repeated_details(reply: Post, thread_posts: Sequence[Post]) -> list[str]:
    """Customer emails and phone numbers from earlier posts in the thread that ``reply`` repeats."""
    text = reply.text
    emails = {e.lower() for e in _EMAIL.findall(text)}
    phones = phone_numbers(text, require_context=False)
    if not emails and not phones:
        return []
    repeated: set[str] = set()
    for post in thread_posts:
        if post.created_at > reply.created_at:
            break
        if post.by_brand or not _may_repeat(post.text):
            continue
        if emails and any(e.lower() in emails for e in _EMAIL.findall(post.text)):
            repeated.add("email")
        if phones and phones & phone_numbers(post.text, require_context=True):
            repeated.add("phone")
    return sorted(repeated)


def run(ctx: AuditContext) -> CheckOutput:
    threads = public_threads(ctx)
    # Brand replies repeat templates addressed to different customers: judge each template once.
    asks_of: dict[str, list[str]] = {}
    replies = asks = repeats = 0
    by_kind: dict[str, int] = {k: 0 for k in _KINDS}
    findings: list[Finding] = []
    for exchange in threads.exchanges:
        for reply in exchange.brand_replies:
            replies += 1
            key = phrase_key(reply.text)
            kinds = asks_of.get(key)
            if kinds is None:
                kinds = asks_of[key] = public_asks(key)
            repeated = (
                repeated_details(reply, threads.by_thread[exchange.thread])
                if _may_repeat(reply.text)
                else []
            )
            if not kinds and not repeated:
                continue
            asks += bool(kinds)
            repeats += bool(repeated)
            for kind in {*kinds, *repeated}:
                by_kind[kind] += 1
            findings.append(_finding(ctx, reply, exchange.thread, kinds, repeated))
    metrics: dict[str, Any] = {
        "public_replies": replies,
        "flagged": len(findings),
        "asks_in_public": asks,
        "repeats_customer_details": repeats,
        "by_kind": {k: v for k, v in by_kind.items() if v},
    }
    if replies == 0:
        return CheckOutput(metrics=metrics, not_applicable="no public brand replies to customers")
    summary = (
        "personal data asked for or repeated in "
        f"{part_of(len(findings), replies, 'public reply', 'public replies')}"
    )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary)


def _finding(
    ctx: AuditContext, reply: Post, thread: str, kinds: list[str], repeated: list[str]
) -> Finding:
    parts = []
    if kinds:
        parts.append("asks in public for " + ", ".join(k.replace("_", " ") for k in kinds))
    if repeated:
        parts.append("repeats the customer's " + " and ".join(repeated))
    return ctx.finding(
        reply.id,
        f"public reply {'; '.join(parts)}",
        evidence=post_evidence(reply, thread=thread, asks=kinds, repeats=repeated),
    )


CHECK = Check(
    id="PRV001",
    title="Personal data in public",
    version="1.0.1",
    severity="high",
    docs=__doc__ or "",
    run=run,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS),
)
