"""What PRF001 and PRF002 say when the profile states nothing they look for: ``incomplete`` when
the fields it might be stated in did not arrive, a finding quoting the bio when they did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.check import AuditContext, CheckOutput, Evidence
from auditor.model import Profile


def not_stated(
    ctx: AuditContext,
    profile: Profile,
    *,
    what: str,
    finding: str,
    read_from: Sequence[str],
    metrics: dict[str, Any],
) -> CheckOutput:
    """``what`` ("response hours") was not found in the profile's fields ``read_from``.

    When one of them did not arrive, ``what`` may be stated there: not a failure but
    ``incomplete``, with the fields named. Otherwise a finding, ``the profile does not say
    {finding}``, quoting the bio.
    """
    reason = profile.unread_reason(*read_from)
    if reason is not None:
        return CheckOutput(
            summary=f"no {what} in what arrived: {reason}",
            metrics={**metrics, "not_returned": profile.unread(*read_from)},
            notes=[f"{reason}: {what} stated there could not be looked for"],
            incomplete=reason,
        )
    bio = " ".join((profile.bio or "").split())
    quoted = f"“{bio}”" if bio else "an empty bio"
    evidence = Evidence(urls=(profile.website,) if profile.website else (), excerpt=bio[:280])
    return CheckOutput(
        findings=[
            ctx.finding(
                "profile", f"the profile does not say {finding}: {quoted}", evidence=evidence
            )
        ],
        summary=f"no {what} on the profile",
        metrics=metrics,
    )
