"""TON002 Signed replies.

The share of the brand's human replies that an agent signs. A reply is signed when it ends
(trailing links, hashtags and emoji aside) with an agent's mark: initials after a caret, slash or
asterisk ("^JD", "/MK", "*SR"), a name after a dash or tilde ("-Anna", "— Sam", "~Kate", "- Priya
S."), or a sign-off with a name ("Thanks, Priya", "Cheers, Tom", "Best, Luis"). Human replies are
public brand replies that are neither flagged ``automated`` nor sent from a source in the policy's
``automation_sources``.

The check is off unless policy sets ``min_signed_share``: without it the check is
``not_applicable`` (a practice the brand has not adopted is not a failure, and a ``pass`` would
claim a rule was met) but the metrics are still reported: human replies, signed ones, the share
and the most frequent signatures. With a minimum, a share below it is one finding for the
account, with examples of unsigned replies.

## Why it matters
A signed reply tells the customer a person read their post and which person to ask for next
time; it also makes agents own what they write. Unsigned replies read as canned, even when they
are not.

## Example
Fails (minimum 0.8): 700 of 1,000 human replies end with "^JD", "-Anna" or similar; the others end
with no name.

Passes: "@ann so sorry about that! A replacement is on its way. ^JD" on at least 80% of replies.

## How to fix
Give every agent initials or a first name and add them to the reply template in the publishing
tool, so that signing is the default rather than a habit.

## Known problems
Only the end of a reply is read. A signature at the start ("Jo here: ...") is not found, and a
reply that ends with something shaped like a mark is counted signed: "it ships Monday - Tuesday"
(a name after a dash), or "glad it's sorted. Thanks, Ann" where Ann is the customer.

Replies from a source not listed in ``automation_sources`` count as human even when a bot sent
them, which lowers the signed share.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.private_channel import phrase_key, public_threads
from auditor.analysis.threads import is_automated
from auditor.check import AuditContext, Check, CheckOutput, CheckParameters, Evidence, Needs
from auditor.checks.kinds import BRAND_POSTS, POSTS_AND_MARKERS
from auditor.model import Post
from auditor.wording import part_of

# Greedy ".*" first: the engine tries the end of the text first, where a signature is.
_SIGNATURE = re.compile(
    r"(?s:.*)(?:^|\s)(?P<mark>"
    r"[\^/*]\s?[A-Za-z]{1,3}"  # ^JD, /MK, *SR
    r"|[-–—~]\s?[A-Z][a-z]+(?:\s(?:[A-Z]\.?|[A-Z][a-z]+))?"  # -Anna, — Sam, - Priya S.
    r"|(?i:thanks|thank\s+you|cheers|best|regards|kind\s+regards|best\s+wishes|warm\s+regards|"
    r"take\s+care|speak\s+soon|many\s+thanks),?\s+[A-Z][a-z]+"  # Thanks, Priya
    r")[.!]?"
)
# The longest mark above, with room: only the end of a reply is read.
_TAIL_CHARS = 48
_LINK_OR_TAG = ("#", "http://", "https://", "www.")
# Emoji and pictographs (and their joiners) that may follow a signature.
_FIRST_PICTOGRAPH = 0x2600


def _without_trailing_noise(text: str) -> str:
    """``text`` without trailing whitespace, emoji, hashtags and links."""
    while text:
        last = text[-1]
        if last.isspace() or (ord(last) >= _FIRST_PICTOGRAPH and not last.isalnum()):
            text = text[:-1]
            continue
        cut = max(text.rfind(" "), text.rfind("\n"))
        if text[cut + 1 :].startswith(_LINK_OR_TAG):
            text = text[: max(cut, 0)]
            continue
        return text
    return text


EXAMPLES = 5
TOP_SIGNATURES = 10


def signature(text: str) -> str | None:
    """The agent's mark that ends ``text``, or None."""
    tail = _without_trailing_noise(text)[-_TAIL_CHARS:]
    match = _SIGNATURE.fullmatch(tail)
    return None if match is None else " ".join(match.group("mark").split())


def run(ctx: AuditContext) -> CheckOutput:
    minimum = ctx.params["min_signed_share"]
    automation_sources = frozenset(ctx.policy.get("automation_sources") or ())
    threads = public_threads(ctx)
    human = signed = 0
    signatures: Counter[str] = Counter()
    unsigned: list[Post] = []
    # Replies repeat templates addressed to different customers: read each template once.
    marks: dict[str, str | None] = {}
    for exchange in threads.exchanges:
        for reply in exchange.brand_replies:
            if is_automated(reply, automation_sources):
                continue
            human += 1
            key = phrase_key(reply.text)
            if key in marks:
                mark = marks[key]
            else:
                mark = marks[key] = signature(key)
            if mark is not None:
                signed += 1
                signatures[mark] += 1
            elif len(unsigned) < EXAMPLES:
                unsigned.append(reply)
    share = signed / human if human else None
    metrics: dict[str, Any] = {
        "human_replies": human,
        "signed": signed,
        "signed_share": None if share is None else round(share, 4),
        "distinct_signatures": len(signatures),
        "top_signatures": dict(signatures.most_common(TOP_SIGNATURES)),
        "min_signed_share": minimum,
    }
    if human == 0 or share is None:
        return CheckOutput(metrics=metrics, not_applicable="no human brand replies to customers")
    measured = f"{part_of(signed, human, 'human reply', 'human replies')} signed ({share:.0%})"
    if minimum is None:
        return CheckOutput(
            metrics=metrics,
            summary=measured,
            not_applicable=f"off: policy sets no min_signed_share; {measured}",
        )
    if share >= float(minimum):
        return CheckOutput(metrics=metrics, summary=f"{measured}, minimum {float(minimum):.0%}")
    finding = ctx.finding(
        "signed-share",
        f"only {measured}, below the minimum of {float(minimum):.0%}",
        evidence=Evidence(
            post_ids=tuple(r.id for r in unsigned),
            urls=tuple(r.url for r in unsigned if r.url),
            timestamps=tuple(r.created_at for r in unsigned),
            excerpt=unsigned[0].text[:140] if unsigned else None,
            data={"human_replies": human, "signed": signed, "signed_share": round(share, 4)},
        ),
    )
    return CheckOutput(
        findings=[finding], metrics=metrics, summary=f"{measured}, minimum {float(minimum):.0%}"
    )


class TON002Parameters(CheckParameters, frozen=True):
    min_signed_share: Annotated[
        Annotated[float, Meta(ge=0, le=1)] | None,
        Meta(
            description=(
                "Minimum share (0-1) of human brand replies signed by an agent. null (the "
                "default) turns the check off: not_applicable, with the share in the metrics."
            )
        ),
    ] = None


CHECK = Check(
    id="TON002",
    title="Signed replies",
    version="1.0.1",
    severity="low",
    docs=__doc__ or "",
    run=run,
    parameters=TON002Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=BRAND_POSTS),
)
