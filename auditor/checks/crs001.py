"""CRS001 Complaint surge without a public statement.

A surge is a run of complaints in which the complaints of some 60-minute span (a sliding hour,
so a surge that straddles two clock hours is not cut in half) reach both a floor
(``floor_per_hour``, default 10) and a robust z-score of at least ``z_threshold`` (default 3.5)
against the trailing baseline: the complaints per clock hour in the ``baseline_hours`` (default
168, a week) before that span, scored as ``(count - median) / (1.4826 * MAD)``, with the scale
at least 1 so that a quiet baseline (MAD 0) does not make every busy hour a surge. Spans with
less than ``min_baseline_hours`` of window before them are not judged (counted as
``unjudged``). Overlapping or adjacent surging spans are one surge.

The brand must post a top-level public statement (a post that replies to nothing) from
``statement_lead_minutes`` before the surge starts to ``statement_grace_minutes`` after it ends;
a surge without one is a finding. A surge whose grace period ends after the window is pending,
counted but never a finding. Complaints are what the shared classifier says
(``docs/conduct.md``).

The metrics also carry the account's classification figures (``classification``): shares of
complaints, questions, praise and spam, help-page-answerable posts, unclassified posts (by
language), and frustration and complaints before and after the brand's first reply. From those
it offers the readable reports a chart (``metrics["charts"]``, ``complaints_around_first_reply``):
the posts customers wrote in threads the brand answered, before and after its first reply to
them, as complaints and other classified posts (unclassified posts are in neither); no chart when
the brand answered no thread.

A finding's evidence says why each listed complaint is one (``complaint_classifications``: post
id, the classifier's label, confidence and reasons). The metrics list the customer posts in the
window with their label, confidence and reasons (``judged_posts``: non-complaints too, the first
100 in the input's order listed, all counted in ``total``).

## Why it matters
In a crisis (hundreds of customers reporting the same outage) one public statement, pinned and
updated, tells everyone at once that the brand knows. Answering each complaint on its own leaves
every newcomer unaware, so the complaints keep coming, and silence looks like denial.

## Example
Fails: 45 complaints about failed logins between 09:10 and 10:05 against a usual 3 an hour, and
the brand only replies to them one by one.

Passes: the same surge with "We're aware some of you can't log in. We're on it and will post
updates here." posted at 09:30.

## How to fix
Have a crisis template ready: post a top-level statement as soon as complaints spike, pin it,
update it, and point replies to it.

## Known problems
A surge is a count of complaints, whatever they are about: on an account that usually gets one
or two complaints an hour, any hour with ``floor_per_hour`` complaints is a surge, even ten
unrelated ones on a busy sale day. Complaints the classifier misses (sarcasm, languages without
lexicons) are not counted, so a real surge in such posts is not seen; posts in languages without
lexicons are at least counted by language in the metrics (``unclassified``) and named in the
summary and a note ("40 customer posts in French not classified").

Any top-level public brand post in the statement period counts as the statement, a promotion
included. A statement made as a reply (in a thread of the brand's own), posted before
``statement_lead_minutes``, or published elsewhere (a status page, another account) is not seen,
and the surge is a finding.

The baseline is read from the window only: the first ``min_baseline_hours`` are not judged, and
a surge soon after that is scored against a baseline of only a day or so.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from msgspec import Meta

from auditor.analysis.classify import Classification
from auditor.analysis.conduct import (
    UnclassifiedPosts,
    classification_data,
    classification_metrics,
    customer_classes,
    is_customer_post,
    judged_posts,
)
from auditor.check import (
    CHARTS,
    AuditContext,
    ChartSpec,
    Check,
    CheckOutput,
    CheckParameters,
    Evidence,
    Finding,
    Needs,
    chart,
)
from auditor.checks.kinds import BRAND_POSTS, POSTS_AND_MARKERS
from auditor.model import Post
from auditor.wording import count

HOUR = timedelta(hours=1)
MAD_TO_SIGMA = 1.4826
# Complaint ids a finding lists; the count says how many there were.
LISTED_COMPLAINTS = 20


@dataclass(slots=True)
class Surge:
    start: datetime
    end: datetime
    peak: int
    z: float
    baseline_median: float
    baseline_mad: float


@dataclass(frozen=True, slots=True)
class Baseline:
    median: float
    mad: float

    def z(self, count: int) -> float:
        return (count - self.median) / max(MAD_TO_SIGMA * self.mad, 1.0)


def _baseline(counts: Sequence[int], bucket: int, hours: int) -> Baseline:
    values = counts[max(0, bucket - hours) : bucket]
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return Baseline(float(median), float(mad))


def find_surges(
    times: Sequence[datetime],
    window_start: datetime,
    window_end: datetime,
    params: dict[str, Any],
) -> tuple[list[Surge], int, int]:
    """Surges in sorted complaint times; also the peak sliding-hour count and unjudged spans."""
    floor = int(params["floor_per_hour"])
    threshold = float(params["z_threshold"])
    baseline_hours = int(params["baseline_hours"])
    min_baseline = int(params["min_baseline_hours"])
    buckets = int((window_end - window_start) / HOUR) + 1
    counts = [0] * buckets
    for t in times:
        counts[int((t - window_start) / HOUR)] += 1
    baselines: dict[int, Baseline] = {}
    surges: list[Surge] = []
    peak = unjudged = 0
    first = 0
    for last, t in enumerate(times):
        while t - times[first] >= HOUR:
            first += 1
        count = last - first + 1
        peak = max(peak, count)
        if count < floor:
            continue
        bucket = int((times[first] - window_start) / HOUR)
        if bucket < min_baseline:
            unjudged += 1
            continue
        baseline = baselines.get(bucket)
        if baseline is None:
            baseline = baselines[bucket] = _baseline(counts, bucket, baseline_hours)
        z = baseline.z(count)
        if z < threshold:
            continue
        current = surges[-1] if surges else None
        if current is not None and times[first] <= current.end + HOUR:
            current.end = t
            if count > current.peak:
                current.peak, current.z = count, z
                current.baseline_median, current.baseline_mad = baseline.median, baseline.mad
        else:
            surges.append(Surge(times[first], t, count, z, baseline.median, baseline.mad))
    return surges, peak, unjudged


def _statements(ctx: AuditContext) -> list[Post]:
    posts = [
        p
        for p in ctx.account.posts
        if p.by_brand and p.in_reply_to is None and p.visibility == "public"
    ]
    return sorted(posts, key=lambda p: p.created_at)


def _statement_in(
    statements: list[Post], times: list[datetime], start: datetime, end: datetime
) -> Post | None:
    index = bisect_left(times, start)
    return statements[index] if index < len(times) and times[index] <= end else None


def _finding(
    ctx: AuditContext,
    surge: Surge,
    complaints: list[Post],
    classes: Mapping[str, Classification],
) -> Finding:
    listed = complaints[:LISTED_COMPLAINTS]
    minutes = (surge.end - surge.start).total_seconds() / 60
    return ctx.finding(
        f"surge-{surge.start.astimezone(UTC):%Y%m%dT%H%M}",
        f"{len(complaints)} complaints in {minutes:.0f} minutes (peak {surge.peak} an hour, usual "
        f"{surge.baseline_median:g}) with no public statement",
        evidence=Evidence(
            post_ids=tuple(p.id for p in listed),
            urls=tuple(p.url for p in listed if p.url),
            timestamps=(surge.start, surge.end),
            excerpt=listed[0].text[:140] if listed else None,
            data={
                **_describe(surge, len(complaints)),
                "complaint_classifications": [
                    {"post_id": p.id, **classification_data(classes[p.id])} for p in listed
                ],
            },
        ),
    )


def _describe(surge: Surge, complaints: int) -> dict[str, Any]:
    return {
        "start": surge.start.isoformat(),
        "end": surge.end.isoformat(),
        "complaints": complaints,
        "peak_per_hour": surge.peak,
        "z": round(surge.z, 2),
        "baseline_median": surge.baseline_median,
        "baseline_mad": surge.baseline_mad,
    }


def run(ctx: AuditContext) -> CheckOutput:
    window = ctx.window
    assert window is not None
    params = dict(ctx.params)
    classes = customer_classes(ctx)
    in_window = [
        p
        for p in ctx.account.posts
        if is_customer_post(ctx, p) and window.start <= p.created_at <= window.end
    ]
    complaints = sorted(
        (p for p in in_window if classes[p.id].label == "complaint"),
        key=lambda p: (p.created_at, p.id),
    )
    unclassified = UnclassifiedPosts.among(classes[p.id] for p in in_window)
    times = [p.created_at for p in complaints]
    surges, peak, unjudged = find_surges(times, window.start, window.end, params)
    statements = _statements(ctx)
    statement_times = [p.created_at for p in statements]
    lead = timedelta(minutes=float(params["statement_lead_minutes"]))
    grace = timedelta(minutes=float(params["statement_grace_minutes"]))
    findings: list[Finding] = []
    described: list[dict[str, Any]] = []
    answered = pending = 0
    for surge in surges:
        statement = _statement_in(
            statements, statement_times, surge.start - lead, surge.end + grace
        )
        first, last = bisect_left(times, surge.start), bisect_right(times, surge.end)
        entry = _describe(surge, last - first)
        entry["statement"] = statement.id if statement is not None else None
        described.append(entry)
        if statement is not None:
            answered += 1
        elif surge.end + grace > window.end:
            pending += 1
        else:
            findings.append(_finding(ctx, surge, complaints[first:last], classes))
    metrics: dict[str, Any] = {
        "complaints": len(complaints),
        "peak_per_hour": peak,
        "surges": len(surges),
        "with_statement": answered,
        "without_statement": len(findings),
        "pending": pending,
        "unjudged": unjudged,
        "surge_list": described,
        "unclassified": unclassified.metrics(),
        "classification": classification_metrics(ctx),
        "judged_posts": judged_posts((p.id, classes[p.id]) for p in in_window),
    }
    metrics[CHARTS] = _charts(metrics["classification"]["frustration"])
    summary = (
        f"{count(len(surges), 'complaint surge')}, {len(findings)} without a public statement"
        + (f", {count(pending, 'surge')} pending" if pending else "")
        if surges
        else f"no complaint surge (peak {count(peak, 'complaint')} an hour)"
    )
    notes = []
    if unclassified:
        summary += f"; {unclassified.described('customer post')}"
        notes.append(
            unclassified.note(
                ctx, "customer post", "complaints among them are not counted toward surges"
            )
        )
    return CheckOutput(findings=findings, metrics=metrics, summary=summary, notes=notes)


def _charts(frustration: dict[str, Any]) -> dict[str, ChartSpec]:
    """Complaints before and after the brand's first reply, beside the other classified posts
    of the same threads (``classification.frustration``); none without a reply."""
    if not frustration["engagements"]:
        return {}
    complaints: list[float] = [
        frustration["complaints_before_first_reply"],
        frustration["complaints_after_first_reply"],
    ]
    posts = [frustration["posts_before_first_reply"], frustration["posts_after_first_reply"]]
    return {
        "complaints_around_first_reply": chart(
            "bar",
            "Complaints before and after the brand's first reply",
            ["before the first reply", "after the first reply"],
            {
                "complaints": complaints,
                "other posts": [total - n for total, n in zip(posts, complaints, strict=True)],
            },
            "customer posts",
        )
    }


class CRS001Parameters(CheckParameters, frozen=True):
    floor_per_hour: Annotated[
        int, Meta(ge=1, description="A surge has at least this many complaints within 60 minutes.")
    ] = 10
    z_threshold: Annotated[
        float,
        Meta(
            ge=0,
            description="Robust z-score (median and MAD) above the trailing baseline for a surge.",
        ),
    ] = 3.5
    baseline_hours: Annotated[int, Meta(ge=1, description="Clock hours of trailing baseline.")] = (
        168
    )
    min_baseline_hours: Annotated[
        int, Meta(ge=0, description="Spans with fewer hours of window before them are not judged.")
    ] = 24
    statement_lead_minutes: Annotated[
        float, Meta(ge=0, description="A statement this long before the surge starts still counts.")
    ] = 60
    statement_grace_minutes: Annotated[
        float, Meta(ge=0, description="A statement this long after the surge ends still counts.")
    ] = 120


CHECK = Check(
    id="CRS001",
    title="Complaint surge without a public statement",
    version="1.4.0",
    severity="high",
    docs=__doc__ or "",
    run=run,
    parameters=CRS001Parameters,
    needs=Needs(posts=True, data=POSTS_AND_MARKERS, refuted_by=BRAND_POSTS),
)
