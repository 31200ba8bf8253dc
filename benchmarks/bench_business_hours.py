"""Micro-benchmark: calls per second of BusinessCalendar.deadline() and between().

Run: python benchmarks/bench_business_hours.py [--calls N]
Not a test; prints one line per measured case.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from auditor.analysis.business_hours import BusinessCalendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
AUDIT_START = datetime(2026, 1, 1, tzinfo=UTC)
AUDIT_DAYS = 120


def office_calendar() -> BusinessCalendar:
    return BusinessCalendar.from_config(
        {
            "timezone": "America/New_York",
            "weekly": {
                **{day: [["09:00", "12:00"], ["13:00", "17:00"]] for day in WEEKDAYS},
                "sat": [["10:00", "14:00"]],
                "fri": [["09:00", "17:00"], ["21:00", "02:00"]],
            },
            "holidays": {"country": "US", "subdivision": "NY"},
            "closed_dates": ["2026-02-13"],
        }
    )


def random_instants(count: int, seed: int) -> list[datetime]:
    generator = random.Random(seed)
    span_us = AUDIT_DAYS * 86_400 * 1_000_000
    return [
        AUDIT_START + timedelta(microseconds=generator.randrange(span_us)) for _ in range(count)
    ]


def measure(label: str, calls: int, run: Callable[[], None]) -> None:
    began = time.perf_counter()
    run()
    elapsed = time.perf_counter() - began
    print(f"{label:<40} {calls / elapsed:>12,.0f} calls/s  {elapsed / calls * 1e6:6.2f} µs/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    starts = random_instants(calls, seed=1)
    lengths = random.Random(2)
    ends = [start + timedelta(minutes=lengths.randrange(1, 3 * 24 * 60)) for start in starts]
    target = timedelta(minutes=60)

    for label, calendar in (
        ("office hours", office_calendar()),
        ("always open", BusinessCalendar.always_open()),
    ):
        # caches fill lazily during the first timed loop, as they would in an audit
        def run_deadline(calendar: BusinessCalendar = calendar) -> None:
            for start in starts:
                calendar.deadline(start, target)

        def run_between(calendar: BusinessCalendar = calendar) -> None:
            for start, end in zip(starts, ends, strict=True):
                calendar.between(start, end)

        measure(f"{label}: deadline(t, 60 min)", calls, run_deadline)
        measure(f"{label}: between(t, u)", calls, run_between)


if __name__ == "__main__":
    main()
