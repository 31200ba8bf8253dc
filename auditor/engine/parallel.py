"""Speed code, in one place: pools of forked worker processes, what workers inherit, how results
travel back to the parent, and the cycle collector's pause.

:func:`map_in_workers` runs a function the caller hands it over items, in forked processes: it
knows nothing of what it runs, so it imports nothing of the engine. May import the contract
whose values it carries between processes (``auditor.check``, ``auditor.result``); nothing else
of the project.
"""

from __future__ import annotations

import copyreg
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar, overload

import orjson

from auditor.check import Evidence, Finding, severity_rank
from auditor.result import CheckResult, mark_finding

T = TypeVar("T")
R = TypeVar("R")


def worker_count(requested: int | None) -> int:
    """The processes to audit with: as asked, else one per core (at most 8); one without fork
    (Windows), since workers inherit what they run by fork."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(os.cpu_count() or 1, 8) if requested is None else requested


def map_in_workers(
    function: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    *,
    weight: Callable[[T], int] | None = None,
) -> Iterator[R]:
    """``function(item)`` for every item, on up to ``workers`` forked processes; the results in
    the order they are done.

    The workers inherit ``function`` and all it holds (an engine with its registry and plug-ins,
    a file's rows) by fork instead of receiving it pickled; only the items and the results cross
    between processes, the findings in results packed as JSON (:class:`PackedFindings`). With
    ``weight``, the heaviest items go first, so that no worker is left with a big one at the end.
    """
    if not items:
        return
    ordered = sorted(items, key=weight, reverse=True) if weight is not None else items
    context = multiprocessing.get_context("fork")
    # The function reaches each worker as an argument of its initializer, which fork hands over
    # in memory, never pickled. Leaving the block in any way (done, an exception, a stop
    # signal in the parent, the generator closed) terminates the workers: an account in
    # flight stops there, its store transaction never committed.
    with context.Pool(min(workers, len(items)), _start_worker, (function, os.getpid())) as pool:
        yield from pool.imap_unordered(_run_in_worker, ordered)


# A worker's function: set in each worker process as it starts, never in the parent.
_function: Callable[[Any], Any] | None = None


def _start_worker(function: Callable[[Any], Any], parent: int) -> None:
    global _function
    _function = function
    _bound_to_parent(parent)
    # Results are pickled in the worker on their way out: from here on, a check's findings
    # leave as one JSON document.
    copyreg.pickle(CheckResult, _check_result_packed)


# prctl(2): PR_SET_PDEATHSIG, the signal the kernel sends a process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _bound_to_parent(parent: int) -> None:
    """Make a worker the parent's alone to stop, and have it die with the parent.

    Stop signals are the parent's business: Ctrl-C reaches the whole process group, so a worker
    ignores SIGINT, and SIGTERM (what the parent's pool sends to stop it) kills it at once,
    without running the handler it inherited from the parent. On Linux the kernel kills the
    worker if the parent dies (SIGKILL, a crash): no worker outlives it to finish its account
    into a closed pipe.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _run_in_worker(item: Any) -> Any:
    assert _function is not None, "called outside a worker of map_in_workers"
    return _function(item)


def _check_result_packed(check: CheckResult) -> tuple[Any, ...]:
    findings = check.findings
    if findings and not isinstance(findings, PackedFindings):
        findings = PackedFindings.pack(findings)
    return (
        CheckResult,
        (
            check.id,
            check.title,
            check.version,
            check.severity,
            check.status,
            check.summary,
            findings,
            check.metrics,
            check.notes,
            check.error,
            check.gate,
        ),
    )


_SEVERITY = attrgetter("severity")


class PackedFindings(Sequence[Finding]):
    """A check's findings as one JSON document, for the trip from a worker process.

    A large audit sends hundreds of thousands of findings to the parent: pickled as objects
    they cost several microseconds each on both sides, as JSON one orjson call, and the JSON
    report embeds them as they are (an :class:`~auditor.result.EncodedFindings`). They are
    decoded only if something asks for them.
    """

    __slots__ = ("_items", "json", "length", "severities", "worst")

    def __init__(self, json: bytes, length: int, severities: dict[str, int]) -> None:
        self.json, self.length, self.severities = json, length, severities
        self.worst = max(map(severity_rank, severities), default=-1)
        self._items: list[Finding] | None = None

    @classmethod
    def pack(cls, findings: Sequence[Finding]) -> PackedFindings:
        # Counted in C (Counter over a map): the exit code needs the findings per severity,
        # never the findings themselves.
        severities = dict(Counter(map(_SEVERITY, findings)))
        return cls(orjson.dumps(list(findings)), len(findings), severities)

    def __reduce__(self) -> tuple[Any, ...]:
        # The JSON only: decoded findings stay behind.
        return (PackedFindings, (self.json, self.length, self.severities))

    def keep_decoded(self, findings: list[Finding]) -> None:
        """The findings this packs, kept as they are: nothing in this process decodes them."""
        self._items = findings

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Finding]: ...
    def __getitem__(self, index: int | slice) -> Finding | Sequence[Finding]:
        return self._decoded()[index]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def _decoded(self) -> list[Finding]:
        if self._items is None:
            self._items = [_finding(item) for item in orjson.loads(self.json)]
        return self._items


def _finding(item: dict[str, Any]) -> Finding:
    evidence = item["evidence"]
    finding = Finding(
        check_id=item["check_id"],
        platform=item["platform"],
        account=item["account"],
        evidence_id=item["evidence_id"],
        message=item["message"],
        severity=item["severity"],
        evidence=Evidence(
            post_ids=tuple(evidence["post_ids"]),
            conversation_ids=tuple(evidence["conversation_ids"]),
            urls=tuple(evidence["urls"]),
            timestamps=tuple(datetime.fromisoformat(t) for t in evidence["timestamps"]),
            excerpt=evidence["excerpt"],
            data=evidence["data"],
        ),
    )
    if "state" in item:  # the gate's state travels with the finding (auditor.engine.gating)
        mark_finding(finding, item["state"], item.get("suppression"))
    return finding


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause the cycle collector for an audit.

    An audit allocates millions of small objects that live until their account is done, and
    none of them form cycles: every automatic collection rescans them all for nothing, which
    measured as a third of the run. Forked workers inherit the paused state.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
