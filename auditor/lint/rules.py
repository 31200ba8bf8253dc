"""The audit's rules applied to texts before they are published.

Profiles go through PRF001 and PRF002 themselves: each check's own ``run`` on a profile built
from the file, as the engine runs it on a fetched one. Templates have no thread around them,
so the template checks' own functions judge each text: PRV001's ``public_asks`` (personal data
asked for in public), TON001's ``phrase_pattern`` and ``defensive_phrase`` with the policy's
phrases, TON002's ``signature`` when the policy sets ``min_signed_share`` above 0. Nothing here
has a word list of its own.

Where lint is stricter than an audit, on purpose: hours a profile states but the reader cannot
read pass an audit with a note (the live profile is what it is), and fail lint (PRF001's
severity), since the text can still be fixed; every template is judged as a reply to a
complaint (TON001), since any of them may be sent as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import msgspec

from auditor.analysis.private_channel import lowered, phrase_key
from auditor.check import (
    AuditContext,
    Check,
    CheckOutput,
    Evidence,
    Finding,
    Severity,
    excerpt,
    status_of,
)
from auditor.checks.prv001 import public_asks
from auditor.checks.ton001 import TON001Parameters, acknowledges, defensive_phrase, phrase_pattern
from auditor.checks.ton002 import signature
from auditor.config import EffectivePolicy
from auditor.engine.checking import run_check
from auditor.lint.texts import Text, TextFile
from auditor.model import AccountData, AccountKey, Profile
from auditor.registry import Registry
from auditor.result import AccountResult, CheckResult, Coverage, worst_status
from auditor.wording import part_of

# What a file is in the result: an account of this platform, named by its path.
PLATFORM = "file"
PROFILE_CHECKS = ("PRF001", "PRF002")
TEMPLATE_CHECKS = ("PRV001", "TON001", "TON002")
# Placeholders a publishing tool fills in ("^{{initials}}", "- {agent}", "Thanks, %NAME%"):
# read as a name, so that a signature written with one is a signature.
_PLACEHOLDER = re.compile(r"\{\{\s*[\w.-]+\s*\}\}|\$?\{[\w.-]+\}|%[\w.-]+%")
PLACEHOLDER_NAME = "Sam"
# Summaries name this many templates at most.
_NAMED = 3


@dataclass(frozen=True, slots=True)
class Problem:
    """One template's finding before it is made one: where, what, and its evidence data."""

    template: Text
    line: int
    message: str
    data: dict[str, Any]


def lint_file(
    file: TextFile,
    policy: EffectivePolicy,
    registry: Registry,
    client: str,
    policy_dict: dict[str, Any],
) -> AccountResult:
    """One file as an account of the result: a check result per rule that applies to it."""
    checks: list[CheckResult] = []
    for profile in file.profiles:
        checks += [
            _profile_check(registry.get(check_id), file, profile, policy)
            for check_id in PROFILE_CHECKS
            if _enabled(check_id, policy, registry)
        ]
    if file.templates:
        checks += [
            _template_check(registry.get(check_id), file, policy, _TEMPLATE_RULES[check_id])
            for check_id in TEMPLATE_CHECKS
            if _enabled(check_id, policy, registry)
        ]
    statuses = [c.status for c in checks]
    status = worst_status(statuses)
    return AccountResult(
        client=client,
        platform=PLATFORM,
        account=file.path,
        status=status,
        coverage=Coverage(posts=len(file.texts), brand_posts=len(file.texts), complete=True),
        policy=policy_dict,
        checks=checks,
        source=file.path,
    )


def _enabled(check_id: str, policy: EffectivePolicy, registry: Registry) -> bool:
    return check_id in policy.enabled and check_id in registry


def _severity(policy: EffectivePolicy, check: Check) -> Severity:
    return cast(Severity, policy.severity.get(check.id, check.severity))


def _located(finding: Finding, path: str, line: int) -> Finding:
    """The finding with its file and line: first in its message (what every writer shows),
    and as ``evidence.data.location`` (what a writer that places findings reads)."""
    finding.message = f"{path}:{line}: {finding.message}"
    finding.evidence.data = {**finding.evidence.data, "location": {"path": path, "line": line}}
    return finding


# ------------------------------------------------------------------------------- profiles


def _profile_check(
    check: Check, file: TextFile, text: Text, policy: EffectivePolicy
) -> CheckResult:
    profile = Profile(
        platform=PLATFORM,
        account=file.path,
        bio=text.text,
        website=text.website,
        hours=text.hours,
        extra={"fields": text.fields} if text.fields else {},
    )
    context = AuditContext(
        account=AccountData(AccountKey(PLATFORM, file.path), profile=profile),
        window=None,
        check=check,
        params=policy.params.get(check.id, {}),
        severity=_severity(policy, check),
        policy=policy.raw,
    )
    result = run_check(check, context)
    if check.id == "PRF001":
        _unreadable_hours_fail(result, context, text)
    for finding in result.findings:
        _located(finding, file.path, text.line)
    return result


def _unreadable_hours_fail(result: CheckResult, context: AuditContext, text: Text) -> None:
    """Hours stated but not readable: a note in an audit, a finding here (PRF001's metrics
    say where the hours were and what was read of them)."""
    metrics = result.metrics
    if result.status != "pass" or metrics.get("hours_source") is None or metrics.get("hours"):
        return
    fragment = str(metrics.get("hours_text") or "")
    why = result.notes[0] if result.notes else "the hours could not be read"
    offset = text.text.find(fragment) if fragment else -1
    finding = context.finding(
        "profile-hours",
        f"{why}: write them with days, times and a time zone (Mon-Fri 9am-5pm GMT)",
        evidence=Evidence(excerpt=fragment[:280] or None),
    )
    _located(finding, context.account.account, text.line_at(offset) if offset >= 0 else text.line)
    result.findings = [*result.findings, finding]
    output = CheckOutput(findings=list(result.findings), summary=result.summary)
    result.status = status_of(context.check, output, data_complete=None)


# ------------------------------------------------------------------------------ templates

Rule = Callable[[Sequence[Text], EffectivePolicy], tuple[list[Problem], CheckOutput]]


def _template_check(
    check: Check, file: TextFile, policy: EffectivePolicy, rule: Rule
) -> CheckResult:
    severity = _severity(policy, check)
    problems, output = rule(file.templates, policy)
    for problem in problems:
        finding = Finding(
            check.id,
            PLATFORM,
            file.path,
            problem.template.name,
            problem.message,
            severity,
            Evidence(excerpt=excerpt(problem.template.text), data=problem.data),
        )
        output.findings.append(_located(finding, file.path, problem.line))
    return CheckResult(
        id=check.id,
        title=check.title,
        version=check.version,
        severity=severity,
        status=status_of(check, output, data_complete=None),
        summary=output.summary or output.not_applicable or "",
        findings=output.findings,
        metrics=output.metrics,
        notes=output.notes,
    )


def _named(problems: Sequence[Problem]) -> str:
    """ "refund (line 4), apology (line 9) and 2 more"."""
    shown = [f"{p.template.name} (line {p.line})" for p in problems[:_NAMED]]
    more = len(problems) - _NAMED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _with_names(summary: str, problems: Sequence[Problem]) -> str:
    return f"{summary}: {_named(problems)}" if problems else summary


def _personal_data(
    templates: Sequence[Text], policy: EffectivePolicy
) -> tuple[list[Problem], CheckOutput]:
    problems: list[Problem] = []
    by_kind: dict[str, int] = {}
    for template in templates:
        kinds = public_asks(phrase_key(template.text))
        if not kinds:
            continue
        for kind in kinds:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        problems.append(
            Problem(
                template,
                _line_asking(template, kinds),
                f"template {template.name!r} asks in public for {', '.join(kinds)}",
                {"template": template.name, "asks": kinds},
            )
        )
    summary = "personal data asked for in public in " + part_of(
        len(problems), len(templates), "template"
    )
    metrics = {"templates": len(templates), "flagged": len(problems), "by_kind": by_kind}
    return problems, CheckOutput(metrics=metrics, summary=_with_names(summary, problems))


def _line_asking(template: Text, kinds: Sequence[str]) -> int:
    """The first line whose own words ask for one of ``kinds``; the template's first line
    when the ask spans lines."""
    offset = 0
    for line in template.text.split("\n"):
        if set(public_asks(phrase_key(line))) & set(kinds):
            return template.line_at(offset)
        offset += len(line) + 1
    return template.line


def _defensive(
    templates: Sequence[Text], policy: EffectivePolicy
) -> tuple[list[Problem], CheckOutput]:
    params = msgspec.convert(policy.params.get("TON001", {}), TON001Parameters, strict=False)
    defensive = phrase_pattern(tuple(params.defensive_phrases))
    acknowledging = phrase_pattern(tuple(params.acknowledgement_phrases))
    problems: list[Problem] = []
    acknowledged = 0
    for template in templates:
        key = phrase_key(template.text)
        acknowledged += acknowledges(key, acknowledging)
        phrase = defensive_phrase(key, defensive)
        if phrase is None:
            continue
        offset = lowered(template.text).find(phrase)
        problems.append(
            Problem(
                template,
                template.line_at(offset) if offset >= 0 else template.line,
                f'template {template.name!r} is defensive: "{phrase}"',
                {"template": template.name, "phrase": phrase},
            )
        )
    share = acknowledged / len(templates)
    summary = _with_names(
        f"{part_of(len(problems), len(templates), 'template')} defensive", problems
    )
    summary += f"; {share:.0%} acknowledge or apologise"
    metrics = {
        "templates": len(templates),
        "defensive": len(problems),
        "acknowledging": acknowledged,
        "acknowledge_share": round(share, 4),
    }
    return problems, CheckOutput(metrics=metrics, summary=summary)


def _unsigned(
    templates: Sequence[Text], policy: EffectivePolicy
) -> tuple[list[Problem], CheckOutput]:
    minimum = policy.params.get("TON002", {}).get("min_signed_share")
    marks = [signature(_PLACEHOLDER.sub(PLACEHOLDER_NAME, t.text)) for t in templates]
    signed = sum(1 for mark in marks if mark is not None)
    measured = f"{part_of(signed, len(templates), 'template')} signed"
    metrics = {"templates": len(templates), "signed": signed, "min_signed_share": minimum}
    if minimum is None or float(minimum) <= 0:
        why = "no min_signed_share" if minimum is None else "min_signed_share 0"
        return [], CheckOutput(
            metrics=metrics, not_applicable=f"off: policy sets {why}; {measured}"
        )
    problems = [
        Problem(
            t,
            t.last_line(),
            f"template {t.name!r} is not signed: end it with the agent's mark (^{{{{initials}}}}, "
            "-Name, Thanks, Name)",
            {"template": t.name},
        )
        for t, mark in zip(templates, marks, strict=True)
        if mark is None
    ]
    summary = f"{measured}; the policy asks for a signature (min_signed_share {float(minimum):g})"
    return problems, CheckOutput(metrics=metrics, summary=_with_names(summary, problems))


_TEMPLATE_RULES: dict[str, Rule] = {
    "PRV001": _personal_data,
    "TON001": _defensive,
    "TON002": _unsigned,
}
