"""The sans-I/O contract every platform source follows.

A platform module turns pages into canonical bundle records and decides the next request; it
never touches the network. One driver (``auditor.fetch.driver``) executes the requests through
the shared HTTP layer (``auditor.fetch.http``) and feeds the answers back. That keeps every piece of
platform knowledge testable on recorded payloads, and every piece of waiting, retrying and rate
limiting in one place.

What each platform lets the auditor see is one table, ``observes.yaml`` beside this module
(:func:`observability`): the protocols' ``observes`` and ``rechecked`` come from it, and so does
the demo's.

Records are plain dicts in the bundle format (``docs/bundle.md``): ``kind`` is ``profile``,
``post``, ``conversation`` or ``window``; every record carries ``platform`` and ``account``; times
are ISO 8601 strings with an offset.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, ClassVar
from urllib.parse import quote

import yaml

Record = dict[str, Any]
Cursor = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Observability:
    """One row of ``observes.yaml``: what a platform's fetch can see."""

    observes: frozenset[str]
    rechecked: frozenset[str]

    @property
    def everything(self) -> frozenset[str]:
        """What a complete fetch whose re-check succeeded observes."""
        return self.observes | self.rechecked


@cache
def observability() -> dict[str, Observability]:
    """``observes.yaml`` by platform."""
    text = resources.files(__package__).joinpath("observes.yaml").read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    return {
        platform: Observability(frozenset(row["observes"]), frozenset(row["rechecked"]))
        for platform, row in table.items()
    }


# Every kind of data a fetch can lose (``auditor.model.DATA_KINDS``, which this package may not
# import; a test holds the two to one list).
EVERY_KIND: frozenset[str] = frozenset(
    {"profile", "customer_posts", "brand_posts", "conversations", "hidden", "deleted"}
)
_PURPOSE = re.compile(r"^([a-z_]+)[: ]")


@cache
def carried() -> dict[str, dict[str, frozenset[str]]]:
    """``carries.yaml`` by platform: request purpose -> the kinds of data it carries."""
    text = resources.files(__package__).joinpath("carries.yaml").read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    return {
        platform: {purpose: frozenset(kinds) for purpose, kinds in purposes.items()}
        for platform, purposes in table.items()
    }


def lost_kinds(platform: str, reasons: Iterable[str]) -> frozenset[str]:
    """The kinds of data the ``reasons`` for an incomplete window lose: those the purpose that
    starts each reason carries, and every kind for a reason that names no known purpose."""
    purposes = carried().get(platform, {})
    lost: set[str] = set()
    for reason in reasons:
        match = _PURPOSE.match(reason)
        kinds = purposes.get(match.group(1)) if match else None
        lost |= EVERY_KIND if kinds is None else kinds
    return frozenset(lost)


def segment(value: object) -> str:
    """``value`` as one path segment of a request: every character that could end the segment,
    the path or the URL (``/ ? # %``, a space) percent-encoded, and a bare ``.`` or ``..``
    too, which a URL would otherwise resolve into a step up the path.

    Every path a protocol builds from the config (a handle, a Page id) or from a server's answer
    (a user id, a post id) puts each such value through this: a handle of
    ``../../admin?x=1#`` must name an account, never reach another route with the token.
    """
    quoted = quote(str(value), safe="")
    return quoted.replace(".", "%2E") if quoted in {".", ".."} else quoted


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request a protocol wants made.

    ``path`` is relative to the account's base URL unless it is absolute (a platform's own
    ``next`` link); ``purpose`` names what the request is for (``profile``, ``mentions`` ...),
    for dry runs, progress and error messages.
    """

    purpose: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class Page:
    """An answer as the protocol sees it: status, headers (lower-case names) and parsed JSON."""

    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass(slots=True)
class Step:
    """What a protocol makes of one page: records to keep and requests to make next."""

    records: list[Record] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FetchSpec:
    """What to fetch for one account."""

    platform: str
    account: str
    window_start: datetime
    window_end: datetime
    cursor: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    # When the fetch ran; records' ``fetched_at``. Passed in (not read from a clock) so that
    # protocols stay pure; ``None`` means "use window_end".
    fetched_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A platform's documented request limit for one bucket, for ``--dry-run`` plans.

    Several purposes can share one ``bucket`` (Mastodon counts every API call against one
    5-minute budget); ``scope`` says whose budget it is (``app``, ``user``, ``account``, ``ip``).
    """

    bucket: str
    requests: int
    window_seconds: int
    scope: str = "app"


@dataclass(frozen=True, slots=True)
class RateInfo:
    """What one answer's headers said about the budget: calls left, and when (epoch seconds)
    it refills. ``None`` is "not said"."""

    remaining: int | None = None
    reset_at: float | None = None


# A protocol's reader of rate-limit headers: (lower-case headers, now in epoch seconds) -> info.
RateLimitReader = Callable[[Mapping[str, str], float], RateInfo]


def header_int(text: str | None) -> int | None:
    """A header's whole number (``"12"``, ``"12.0"``); None when absent or not a number."""
    try:
        return int(float(text)) if text is not None else None
    except ValueError:
        return None


def header_float(text: str | None) -> float | None:
    """A header's number; None when absent or not a number."""
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


class Protocol(ABC):
    """One account's conversation with one platform, without I/O.

    The driver calls :meth:`start`, then :meth:`receive` for each answered request (in any
    order), :meth:`failed` for each request that could not be answered after the retries, and
    finally :meth:`finish`, which returns the closing records (the ``window`` record at least,
    with ``complete``, ``reason`` and ``observes``) and the cursor to save for the next run.
    """

    platform: ClassVar[str]
    # What walking this platform's pages lets the auditor see; the window record's ``observes``.
    # Subclasses take it from ``observability()`` (observes.yaml), never write it out.
    observes: ClassVar[frozenset[str]]
    # What only asking again for posts kept from earlier runs shows (``rechecked`` in
    # observes.yaml): ``deleted`` where the platform answers a lookup of ids with an explicit
    # "not found". Such a protocol implements :meth:`recheck_requests` and :meth:`parse_recheck`.
    rechecked: ClassVar[frozenset[str]] = frozenset()
    # Documented limits by request purpose (dry-run plans); purposes not listed are unknown.
    rate_limits: ClassVar[Mapping[str, RateLimit]] = {}
    # Where requests go unless the account's options say ``base_url``.
    default_base_url: ClassVar[str] = ""
    # The environment variable read when the account names neither token_env nor token_file.
    default_token_env: ClassVar[str] = ""
    # False for platforms whose public data needs no token (Bluesky's public AppView).
    requires_token: ClassVar[bool] = True
    # How the token travels: "bearer" (Authorization header) or "query:<param>" (Graph API).
    auth_style: ClassVar[str] = "bearer"

    def __init__(self, spec: FetchSpec) -> None:
        self.spec = spec
        self.missing: list[str] = []

    @staticmethod
    def read_rate_limit(headers: Mapping[str, str], now: float) -> RateInfo:
        """What an answer's headers (lower-case names) say of the budget, ``now`` in epoch
        seconds. Pure; the HTTP layer calls it on every answer and waits for the reset once
        nothing is left. The default reads nothing: only 429s and ``Retry-After`` pace then."""
        return RateInfo()

    def base_url(self) -> str:
        """The account's ``base_url`` option (proxies, tests), else the platform default."""
        configured = self.spec.options.get("base_url")
        return str(configured).rstrip("/") if configured else self.default_base_url

    def fetched_at(self) -> datetime:
        return self.spec.fetched_at or self.spec.window_end

    @abstractmethod
    def start(self) -> list[Request]: ...

    @abstractmethod
    def receive(self, request: Request, page: Page) -> Step:
        """A successful (2xx) answer; the driver sends every other outcome to :meth:`failed`."""

    def failed(self, request: Request, reason: str) -> Step:
        """A request that never succeeded: the window cannot be complete."""
        self.missing.append(f"{request.purpose}: {reason}")
        return Step()

    def refused(self, request: Request, page: Page) -> Step:
        """A non-2xx answer that retrying cannot change (a 4xx other than 429), body included.

        The default is a failed request. A protocol overrides this only to read a platform's
        explicit answer in the body (the XRPC error ``NotFound`` for a deleted post): a status
        alone means nothing more, since a proxy, a gateway or a moved route answers 404 too.
        """
        return self.failed(request, refusal_reason(page))

    def abandon(self, reason: str) -> None:
        """Nothing could be requested at all (a missing token): the reason is kept as given."""
        self.missing.append(reason)

    def estimate(self) -> dict[str, int]:
        """The fewest requests per purpose a full fetch makes, for dry-run plans.

        The default counts :meth:`start`; protocols that know their later steps say more.
        """
        counts: dict[str, int] = {}
        for request in self.start():
            counts[request.purpose] = counts.get(request.purpose, 0) + 1
        return counts

    @abstractmethod
    def finish(self) -> tuple[list[Record], Cursor]: ...

    # --- re-checking kept posts for deletion (platforms whose ``rechecked`` has ``deleted``) ---

    @property
    def rechecks_deletions(self) -> bool:
        return "deleted" in self.rechecked

    def recheck_requests(self, post_ids: Sequence[str]) -> list[Request]:
        """Requests that ask again for ``post_ids`` (posts kept from earlier runs that this
        fetch did not bring back); ids the platform cannot be asked about are left out."""
        raise NotImplementedError(f"{self.platform} does not re-check deletions")

    def parse_recheck(self, request: Request, page: Page) -> set[str]:
        """The ids asked by ``request`` that the 2xx answer ``page`` says no longer exist.

        Only an explicit "not found" counts: an id merely missing from the answer (withheld,
        protected, a partial answer) is not taken for deleted. Nor is it taken for still
        there: an answer that does not account for every id asked raises
        :class:`UnansweredRecheck` (the batch failed, with what it did say).
        """
        raise NotImplementedError(f"{self.platform} does not re-check deletions")


class UnansweredRecheck(Exception):
    """A 2xx re-check answer that does not account for every id asked (an empty ``{}``, a
    partial list): the batch is a failed page, never "still there". ``deleted`` holds the ids
    it did say no longer exist."""

    def __init__(self, message: str, deleted: set[str]) -> None:
        super().__init__(message)
        self.deleted = deleted


_STATUS_MEANING = {
    400: "bad request",
    401: "unauthorized (token rejected)",
    403: "forbidden (token lacks access or scope)",
    404: "not found",
}


def error_words(body: Any) -> str | None:
    """What an error body says in the platform's own words, if it is the platform's JSON.

    Covers the shapes the supported APIs document: XRPC and Mastodon (``error``, ``message``),
    the Graph API (``error.message``) and X (``title``, ``detail``).
    """
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping):
        error = error.get("message")
    words = [error, body.get("message"), body.get("title"), body.get("detail")]
    said = [w for w in words if isinstance(w, str) and w]
    return ": ".join(dict.fromkeys(said)) if said else None


def refusal_reason(page: Page) -> str:
    """``HTTP 404 not found: Record not found``; a body that is not the platform's JSON (a
    proxy's plain-text or HTML page) is said to be so, since that is often the whole story."""
    reason = f"HTTP {page.status} {_STATUS_MEANING.get(page.status, 'error')}"
    words = error_words(page.body)
    return f"{reason}: {words}" if words else f"{reason} (no error from the platform in the body)"


def iso(moment: datetime) -> str:
    """ISO 8601 with an explicit offset (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def parse_time(text: str) -> datetime:
    """A platform timestamp (``2024-01-15T10:30:00.000Z`` and friends) as an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def window_record(
    spec: FetchSpec,
    *,
    missing: Sequence[str],
    observes: Iterable[str],
    fetched_at: datetime,
    extra: Mapping[str, Any] | None = None,
) -> Record:
    """The closing ``window`` record: complete exactly when nothing went missing, and then
    ``lost`` names the kinds of data the missing parts carried."""
    record: Record = {
        "kind": "window",
        "platform": spec.platform,
        "account": spec.account,
        "window_start": iso(spec.window_start),
        "window_end": iso(spec.window_end),
        "complete": not missing,
        "reason": "; ".join(missing) if missing else None,
        "observes": sorted(set(observes)),
        "fetched_at": iso(fetched_at),
        "lost": sorted(lost_kinds(spec.platform, missing)) if missing else None,
    }
    if extra:
        record.update(extra)
    return record


class PageBudget:
    """How many pages of each listing one run reads.

    Past the budget a listing stops, and the reason goes to the window record (it cannot be
    complete): a runaway listing costs a bounded number of requests, never a silent gap.
    """

    WHY = " before reaching the window start"

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.cut_short: list[str] = []
        self._read: dict[str, int] = {}

    def allow(self, listing: str) -> bool:
        """Count one more page of ``listing`` (the first is free); False once over budget."""
        read = self._read[listing] = self._read.get(listing, 1) + 1
        if read > self.max_pages:
            self.cut_short.append(f"{listing}: stopped after {self.max_pages} pages{self.WHY}")
            return False
        return True
