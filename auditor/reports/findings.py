"""What the file writers (CSV, JUnit, SARIF) share: a check's findings as rows, decoded from
packed JSON only here; the one function that decides a finding's state; the run folder each
client's files go to; and the per-client spool a streaming writer keeps its accounts in.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import msgspec

from auditor.check import Finding
from auditor.fsutil import atomic_writer, new_run_folder, safe_name
from auditor.result import OPEN as OPEN_STATE
from auditor.result import CheckResult, EncodedFindings, MetricChange, SinceLast
from auditor.result import finding_state as result_finding_state
from auditor.result import finding_suppression as result_finding_suppression

# A read this size at a time, copying a client's spooled accounts into its file.
_COPY_CHUNK = 1 << 20

T = TypeVar("T")

FindingStateKind = Literal["open", "suppressed", "existing"]


class RowEvidence(msgspec.Struct, gc=False):
    """The parts of a finding's evidence the file writers show."""

    urls: list[str] = []
    excerpt: str | None = None


class FindingRow(msgspec.Struct, gc=False):
    """One finding as every file writer shows it, whether it came as an object or packed.

    Packed findings are decoded straight into these (msgspec skips the evidence's data and
    whatever else no writer shows), which costs a fraction of decoding them whole."""

    uid: str
    check_id: str
    platform: str
    account: str
    severity: str
    message: str
    evidence_id: str
    evidence: RowEvidence = msgspec.field(default_factory=RowEvidence)
    # The gate's mark (``auditor.engine.gating``): open, existing (in the baseline), suppressed.
    state: str = OPEN_STATE
    suppression: dict[str, Any] | None = None

    @property
    def excerpt(self) -> str | None:
        return self.evidence.excerpt

    @property
    def url(self) -> str | None:
        urls = self.evidence.urls
        return urls[0] if urls else None


_ROWS = msgspec.json.Decoder(list[FindingRow])


@dataclass(frozen=True, slots=True)
class FindingState:
    """Whether a finding counts: ``open``, or ``suppressed`` / ``existing`` (in the baseline)
    with why."""

    kind: FindingStateKind = "open"
    reason: str | None = None


OPEN = FindingState()


def finding_state(check: CheckResult, finding: FindingRow) -> FindingState:
    """The one place that reads a finding's state for every file writer, so that CSV, JUnit
    and SARIF render the gate's mark alike: a suppression's reason (and owner, and expiry), or
    the baseline."""
    if finding.state == "suppressed":
        suppression = finding.suppression or {}
        reason = str(suppression.get("reason") or "no reason given")
        details = [
            f"{label} {suppression[key]}"
            for key, label in (("owner", "owner"), ("expires", "until"))
            if suppression.get(key)
        ]
        return FindingState("suppressed", f"{reason} ({', '.join(details)})" if details else reason)
    if finding.state == "existing":
        return FindingState("existing", "in the baseline")
    return OPEN


def _row_of_object(finding: Finding) -> FindingRow:
    evidence = finding.evidence
    return FindingRow(
        finding.uid,
        finding.check_id,
        finding.platform,
        finding.account,
        finding.severity,
        finding.message,
        finding.evidence_id,
        RowEvidence(list(evidence.urls[:1]), evidence.excerpt),
        result_finding_state(finding),
        _plain(result_finding_suppression(finding)),
    )


def _plain(suppression: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if suppression is None else dict(suppression)


# How many checks' rows are kept decoded: more than an account has checks, so that every
# file writer reads one account's findings decoded once, not once per writer.
_KEPT_DECODED = 64


class _Decoded:
    """The rows of the findings decoded last, by the findings object (kept, so that its id
    cannot be taken by another while it is here)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: dict[int, tuple[object, list[FindingRow]]] = {}


_DECODED = _Decoded()


def finding_rows(check: CheckResult) -> list[FindingRow]:
    """A check's findings as rows; packed ones (JSON from a worker) are decoded here."""
    findings = check.findings
    if not findings:
        return []
    with _DECODED.lock:
        kept = _DECODED.rows.get(id(findings))
        if kept is not None and kept[0] is findings:
            return kept[1]
    if isinstance(findings, EncodedFindings):
        rows = _ROWS.decode(findings.json)
    else:
        rows = [_row_of_object(finding) for finding in findings]
    with _DECODED.lock:
        while len(_DECODED.rows) >= _KEPT_DECODED:
            del _DECODED.rows[next(iter(_DECODED.rows))]
        _DECODED.rows[id(findings)] = (findings, rows)
    return rows


class RunFolders:
    """The folder each client's reports of one run go to, made once and shared by every
    writer: ``<output>/<client>/<start time>-<run id>/`` (see ``fsutil.new_run_folder``)."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self._folders: dict[str, Path] = {}
        self._lock = threading.Lock()

    def client(self, name: str, started_at: datetime, run_id: str) -> Path:
        # Writers may finish clients on threads of their own (the JSON writer does).
        with self._lock:
            folder = self._folders.get(name)
            if folder is None:
                parent = self.output_dir / safe_name(name)
                folder = self._folders[name] = new_run_folder(parent, started_at, run_id)
            return folder

    def made(self) -> dict[str, Path]:
        """Each client's folder, for the clients that have one so far."""
        with self._lock:
            return dict(self._folders)


class ClientSpool:
    """Where a streaming writer keeps what it has written of each client's accounts until the
    run ends: one unnamed temporary file (it vanishes with the process however it ends), each
    client's bytes in one span, since accounts come grouped by client in config order."""

    def __init__(self, folder: Path, prefix: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = tempfile.TemporaryFile(  # noqa: SIM115 (until close)
            dir=folder, prefix=prefix
        )
        # Per client: where its bytes start and end in the file.
        self._spans: dict[str, tuple[int, int]] = {}
        self._last: str | None = None

    def write(self, client: str, data: bytes) -> None:
        """Add ``data`` to ``client``'s span."""
        assert self._file is not None, "write() after close()"
        if client != self._last:
            if client in self._spans:  # accounts come grouped by client: a bug, not data
                raise ValueError(f"client {client!r} came back after another client")
            position = self._file.tell()
            self._spans[client] = (position, position)
            self._last = client
        self._file.write(data)
        self._spans[client] = (self._spans[client][0], self._file.tell())

    def flush(self) -> None:
        """Everything written reaches the file, for :meth:`copy` (from any thread)."""
        assert self._file is not None, "flush() after close()"
        self._file.flush()

    def copy(self, client: str, stream: IO[bytes]) -> None:
        """Copy ``client``'s bytes into ``stream`` (after :meth:`flush`; reads by offset, so
        that clients may be copied on several threads at once)."""
        assert self._file is not None, "copy() after close()"
        offset, end = self._spans.get(client, (0, 0))
        fd = self._file.fileno()
        while offset < end:
            chunk = os.pread(fd, min(_COPY_CHUNK, end - offset), offset)
            if not chunk:
                raise OSError("a report's temporary file ended early")
            stream.write(chunk)
            offset += len(chunk)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# Clients written at once at the end of a run: syncing each file waits on the disk, not the
# CPU (as the JSON writer does).
_WRITE_THREADS = 4


def write_clients(
    spool: ClientSpool, clients: Sequence[T], write: Callable[[T], Path]
) -> list[Path]:
    """Each client's file written by ``write``, several at a time, in the clients' order."""
    spool.flush()
    if len(clients) < 2:
        return [write(client) for client in clients]
    with ThreadPoolExecutor(max_workers=_WRITE_THREADS) as pool:
        return list(pool.map(write, clients))


def write_client_file(
    path: Path, head: bytes, spool: ClientSpool, client: str, tail: bytes
) -> Path:
    """``path`` written whole or not at all: ``head``, the client's spooled bytes, ``tail``."""
    with atomic_writer(path) as stream:
        stream.write(head)
        spool.copy(client, stream)
        stream.write(tail)
    return path


# How each tracked figure reads in a line: its words, and how a value is shown.
_METRIC_WORDS: dict[str, tuple[str, Callable[[float], str]]] = {
    "median_first_response_minutes": ("median first response", lambda v: f"{v:.0f} min"),
    "answered_share": ("answered", lambda v: f"{v:.0%}"),
    "automated_share": ("automated", lambda v: f"{v:.0%}"),
    "sla_attained_share": ("within target", lambda v: f"{v:.0%}"),
}


def _metric_words(change: MetricChange) -> str | None:
    words, shown = _METRIC_WORDS.get(change.name, (change.name, str))
    if change.before is None and change.after is None:
        return None
    before = "-" if change.before is None else shown(change.before)
    after = "-" if change.after is None else shown(change.after)
    return f"{words} {before} -> {after}"


def since_last_line(since: SinceLast) -> str:
    """ "since last audit: 3 new, 2 resolved, 5 still open; median first response 42 -> 35 min;
    answered 90% -> 95%; automated 10% -> 5%" (the terminal, JUnit)."""
    findings = (
        f"{len(since.new)} new, {len(since.resolved)} resolved, {since.still_open} still open"
    )
    metrics = [words for m in since.metrics if (words := _metric_words(m)) is not None]
    return "; ".join([f"since last audit: {findings}", *metrics])
