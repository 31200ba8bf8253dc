"""What the conduct checks share: each customer post's classification, computed once per account.

The classifier (``auditor.classify``) labels customer posts complaint, question, praise, spam,
other or unclassified (not in a language policy has lexicons for). Policy keys read here:
``languages`` (default ``[en]``) and ``lexicons`` (per-language extensions of the built-in
phrase lists). Classifiers are kept per process and policy, so that a worker auditing many
accounts classifies each distinct text once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from auditor.check import AuditContext
from auditor.classify import Classification, Classifier, Lexicons

_CLASSIFIERS: dict[str, Classifier] = {}


def classifier_for(policy: Mapping[str, Any]) -> Classifier:
    languages = tuple(policy.get("languages") or ("en",))
    lexicons = policy.get("lexicons") or {}
    key = json.dumps([languages, lexicons], sort_keys=True)
    classifier = _CLASSIFIERS.get(key)
    if classifier is None:
        classifier = _CLASSIFIERS[key] = Classifier(
            Lexicons.from_policy(lexicons), languages=languages
        )
    return classifier


def customer_classes(ctx: AuditContext) -> dict[str, Classification]:
    """Every customer post's classification, by post id (brand posts are not classified)."""

    def compute() -> dict[str, Classification]:
        posts = [p for p in ctx.account.posts if not p.by_brand]
        results = classifier_for(ctx.policy).classify_many(p.text for p in posts)
        return {p.id: r for p, r in zip(posts, results, strict=True)}

    return ctx.derived("customer_classes", compute)
