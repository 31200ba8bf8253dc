"""The contract between the engine and every check, built-in or third-party.

A check is a :class:`Check` value: metadata, docs, a parameter schema and a pure function from an
:class:`AuditContext` to a :class:`CheckOutput`. The engine decides the status from what the
function returns (see :func:`status_of`), so every check follows the same rules.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NotRequired, Protocol, TypedDict, TypeVar

import msgspec

from auditor.model import AccountData, Post, SeenPost, Window

Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["pass", "fail", "incomplete", "not_applicable", "error"]

SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}
CHECK_ID = re.compile(r"^[A-Z]{1,8}[0-9]{3}$")
# The sections every built-in check's docs have (the docs test holds them to it); rationale and
# remediation default to the first paragraph of "Why it matters" and "How to fix".
DOC_SECTIONS = ("Why it matters", "Example", "How to fix", "Known problems")

T = TypeVar("T")


def severity_rank(severity: str) -> int:
    return _RANK[severity]


@dataclass(frozen=True, slots=True)
class Needs:
    """What data a check needs; without it the check is ``not_applicable``, never ``pass``.

    ``data`` and ``refuted_by`` say it per kind of data (``auditor.model.DATA_KINDS``), for a
    window that lost some (``Window.lost``): a check that reads a lost kind is ``incomplete``,
    never ``pass``; a check whose findings a lost kind could refute (an "unanswered" post whose
    answer may be among the brand replies that did not arrive) has its findings withheld and
    counted. ``data`` left out is read from the flags (posts: every post kind and marker);
    ``refuted_by`` kinds are read too.
    """

    profile: bool = False
    posts: bool = False
    conversations: bool = False
    history: bool = False
    # What the window must have been able to see (``hidden``, ``deleted``, ...).
    observes: frozenset[str] = frozenset()
    # True for checks that conclude from absence (a post no longer there): they need to know
    # whether everything in the window arrived (a window that does not say is not enough).
    complete_window: bool = False
    # The kinds of data the check reads: losing one leaves it incomplete.
    data: frozenset[str] | None = None
    # The kinds whose loss could refute its findings: losing one withholds them.
    refuted_by: frozenset[str] = frozenset()

    def reads(self) -> frozenset[str]:
        """Every kind of data the check reads (declared, or taken from the flags)."""
        declared = self.data if self.data is not None else self._from_flags()
        return declared | self.refuted_by

    def refutable_by(self) -> frozenset[str]:
        """The kinds whose loss withholds the findings: as declared; for a check that declares
        no ``data`` and concludes from absence (``complete_window``), everything it reads."""
        if self.data is None and self.complete_window:
            return self.reads()
        return self.refuted_by

    def _from_flags(self) -> frozenset[str]:
        kinds: set[str] = set()
        if self.profile:
            kinds.add("profile")
        if self.posts or self.history:
            kinds |= {"customer_posts", "brand_posts", "hidden", "deleted"}
        if self.conversations:
            kinds.add("conversations")
        return frozenset(kinds)


_UID_SEPARATOR = "\x1f"


def finding_uid(key: str) -> str:
    """A finding's uid from its key: check id, platform, account and evidence id, joined by
    ``\\x1f``."""
    return hashlib.sha256(key.encode()).hexdigest()[:20]


# Evidence and findings are built by the hundred thousand in a large audit: plain dataclasses,
# since a frozen one sets each field through object.__setattr__ (twice the cost). Not slotted:
# orjson serialises a dataclass from its instance dict in half the time it takes reading slots
# one by one (packing 283,896 findings for the trip from a worker process: 0.59 s -> 0.31 s),
# which outweighs the dict's cost (~0.03 s to build and free as many). The instance dict holds
# the fields in their declared order whichever way an object is built (PostFindings.make sets
# them in that order), so the JSON is the same.
@dataclass
class Evidence:
    post_ids: tuple[str, ...] = ()
    conversation_ids: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    timestamps: tuple[datetime, ...] = ()
    excerpt: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Finding:
    check_id: str
    platform: str
    account: str
    evidence_id: str
    message: str
    severity: Severity
    evidence: Evidence = field(default_factory=Evidence)
    # Stable across runs: the same problem on the same post has the same uid.
    uid: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        self.uid = finding_uid(
            _UID_SEPARATOR.join((self.check_id, self.platform, self.account, self.evidence_id))
        )


@dataclass(slots=True)
class CheckOutput:
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    # A check may decide from the data that it cannot judge (say, no customer posts at all).
    not_applicable: str | None = None
    # Or that the data it would judge by did not arrive (a profile field the platform did not
    # return): why. A finding of its own still fails; otherwise the status is incomplete.
    incomplete: str | None = None


# Where a check's metrics hold the charts it offers the reports: ``metrics[CHARTS][name]``.
CHARTS = "charts"
ChartKind = Literal["bar", "heatmap"]


class ChartSeries(TypedDict):
    name: str
    values: list[float]


class ChartSpec(TypedDict):
    """A chart of figures a check computed, in its metrics (``metrics["charts"][name]``), for
    the reports to draw: a writer draws what a check measured and computes nothing new.

    ``bar``: one bar per label of ``x`` for each series (a histogram is bars over bins);
    ``heatmap``: one row per series (its ``name`` labels the row), one column per label of
    ``x``. ``unit`` says what the values count ("posts", "share"); ``target``, where there is
    one, is the label of ``x`` at which the target falls."""

    kind: ChartKind
    title: str
    x: list[str]
    series: list[ChartSeries]
    unit: str
    target: NotRequired[str]


def chart(
    kind: ChartKind,
    title: str,
    x: list[str],
    series: Mapping[str, list[float]],
    unit: str,
    target: str | None = None,
) -> ChartSpec:
    """A chart for ``metrics["charts"]``; raises ValueError where a series does not have one
    value per label of ``x`` or the target is not one of them."""
    for name, values in series.items():
        if len(values) != len(x):
            raise ValueError(f"chart {title!r}: series {name!r} has {len(values)} values")
    spec = ChartSpec(
        kind=kind,
        title=title,
        x=list(x),
        series=[ChartSeries(name=name, values=list(v)) for name, v in series.items()],
        unit=unit,
    )
    if target is not None:
        if target not in x:
            raise ValueError(f"chart {title!r}: target {target!r} is not a label of x")
        spec["target"] = target
    return spec


class History(Protocol):
    """What earlier audits saw of this account (the history store, read-only)."""

    def previous_posts(self) -> Mapping[str, SeenPost]: ...


@dataclass(slots=True)
class AuditContext:
    account: AccountData
    window: Window | None
    check: Check
    params: Mapping[str, Any]
    severity: Severity
    policy: Mapping[str, Any]
    history: History | None = None
    # Shared by every check of one account: derived data computed once (thread analysis ...).
    cache: dict[str, Any] = field(default_factory=dict)

    def finding(
        self,
        evidence_id: str,
        message: str,
        *,
        severity: Severity | None = None,
        evidence: Evidence | None = None,
    ) -> Finding:
        return Finding(
            self.check.id,
            self.account.platform,
            self.account.account,
            evidence_id,
            message,
            severity or self.severity,
            evidence if evidence is not None else Evidence(),
        )

    def derived(self, name: str, compute: Callable[[], T]) -> T:
        if name not in self.cache:
            self.cache[name] = compute()
        value: T = self.cache[name]
        return value


def excerpt(text: str, limit: int = 140) -> str:
    """The text on one line (runs of whitespace made one space), cut to ``limit`` characters."""
    if (
        # Every whitespace character but the ASCII space is unprintable, so a printable text
        # with no double, leading or trailing space is already on one line (most posts are):
        # it is its own excerpt, or cut, with no split and join.
        text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "
    ):
        if len(text) <= limit:
            return text
        # Splitting and joining such a text's first 2 * limit characters gives them back (less
        # a trailing space), at least limit + 1 of them once limit > 1: the cut is the text's.
        if limit > 1:
            return text[: limit - 1] + "…"
    short = " ".join(text[: limit * 2].split())
    return short if len(short) <= limit else short[: limit - 1] + "…"


def post_evidence(post: Post, *, excerpt_chars: int = 140, **data: Any) -> Evidence:
    url = post.url
    return Evidence(
        (post.id,),
        (),
        (url,) if url else (),
        (post.created_at,),
        excerpt(post.text, excerpt_chars),
        data,
    )


_new_object = object.__new__


class PostFindings:
    """Findings about single posts, for one check on one account, built the cheap way.

    ``make(post, message, data)`` gives the same :class:`Finding` as
    ``ctx.finding(post.id, message, evidence=post_evidence(post, **data))``. A large audit
    builds hundreds of thousands of them: the parts that are the same for every finding of the
    check (ids, severity, the start of the uid's key) are worked out once here, and the uid is
    set directly rather than through ``Finding.__post_init__``.
    """

    __slots__ = (
        "_account",
        "_check_id",
        "_excerpt_chars",
        "_platform",
        "_severity",
        "_uid_key",
        "_uid_start",
    )

    def __init__(self, ctx: AuditContext, *, excerpt_chars: int = 140) -> None:
        self._check_id = ctx.check.id
        self._platform = ctx.account.platform
        self._account = ctx.account.account
        self._severity = ctx.severity
        self._excerpt_chars = excerpt_chars
        self._uid_key = _UID_SEPARATOR.join((self._check_id, self._platform, self._account, ""))
        # sha256 of the uid's key, fed its fixed start once: each finding copies that state.
        # A start that is not encodable (a lone surrogate) fails as finding_uid would: per
        # finding, only when one is made.
        self._uid_start: hashlib._Hash | None = None
        with suppress(UnicodeEncodeError):
            self._uid_start = hashlib.sha256(self._uid_key.encode())

    def make(self, post: Post, message: str, data: dict[str, Any]) -> Finding:
        post_id = post.id
        url = post.url
        evidence = Evidence(
            (post_id,),
            (),
            (url,) if url else (),
            (post.created_at,),
            excerpt(post.text, self._excerpt_chars),
            data,
        )
        finding: Finding = _new_object(Finding)
        finding.check_id = self._check_id
        finding.platform = self._platform
        finding.account = self._account
        finding.evidence_id = post_id
        finding.message = message
        finding.severity = self._severity
        finding.evidence = evidence
        uid_start = self._uid_start
        if uid_start is None:
            finding.uid = finding_uid(self._uid_key + post_id)
        else:
            uid_hash = uid_start.copy()
            uid_hash.update(post_id.encode())
            finding.uid = uid_hash.hexdigest()[:20]
        return finding


class CheckParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The base of a check's typed parameters: one field per parameter, each with its default
    and its description and limits in ``msgspec.Meta``, for example::

        class ACM001Parameters(CheckParameters, frozen=True):
            max_replies: Annotated[int, msgspec.Meta(ge=1, description="Most replies.")] = 4

    ``Check(parameters=ACM001Parameters)`` derives the JSON Schema that configs are validated
    against (:func:`parameters_schema`); the check reads them typed with :func:`typed_params`.
    Unknown parameters are refused (``additionalProperties: false``). Each subclass says
    ``frozen=True`` again: mypy reads a struct's options per class.
    """


P = TypeVar("P", bound=CheckParameters)

_NO_PARAMETERS: Mapping[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}


def parameters_schema(parameters: type[CheckParameters]) -> dict[str, Any]:
    """The JSON Schema of a check's parameters, derived from their typed definition."""
    _, components = msgspec.json.schema_components([parameters], ref_template="#/$defs/{name}")
    # Through JSON and back, so that defaults are JSON data (a tuple default becomes a list), as
    # a hand-written schema's are: the effective policy in a report is written from them.
    schema: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(components))
    own = schema.pop(parameters.__name__)
    own.pop("title", None)
    if not own.get("required"):
        own.pop("required", None)
    for spec in own.get("properties", {}).values():
        _nullable_as_type_list(spec)
    if schema:  # parameters whose types are structs of their own
        own["$defs"] = schema
    result: dict[str, Any] = own
    return result


def _nullable_as_type_list(spec: dict[str, Any]) -> None:
    """``X | None`` as ``"type": [X, "null"]`` rather than msgspec's ``anyOf``: it accepts the
    same values, and a wrong one is reported by the bound it breaks ("2 is greater than the
    maximum of 1"), not as "not valid under any of the given schemas"."""
    options = spec.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return
    (other,) = [o for o in options if o != {"type": "null"}]
    if not isinstance(other.get("type"), str):
        return
    del spec["anyOf"]
    spec.update(other)
    spec["type"] = [other["type"], "null"]


def typed_params(ctx: AuditContext, parameters: type[P]) -> P:
    """The context's parameters as their typed definition (validated again, cheaply)."""
    # Not strict: the schema has passed the values already, and it takes 5.0 for an integer.
    return msgspec.convert(ctx.params, parameters, strict=False)


def doc_section(docs: str, name: str) -> str:
    """The text of one ``## name`` section of a check's docs ("" when there is none)."""
    match = re.search(rf"^#+\s*{re.escape(name)}\s*$(.*?)(?=^#+\s|\Z)", docs, re.M | re.S)
    return match.group(1).strip() if match else ""


def _first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n", 1)[0].split())


@dataclass(frozen=True, init=False)
class Check:
    """One check's metadata and its function. Third-party checks are built the same way.

    ``parameters`` is a :class:`CheckParameters` subclass (its JSON Schema is derived) or a
    JSON Schema mapping, as plug-ins have always passed; either way ``parameters`` holds the
    schema afterwards and ``parameter_type`` the typed definition, if there is one.
    ``rationale`` and ``remediation`` default to the first paragraph of the docs' "Why it
    matters" and "How to fix" sections, so that they are written once.
    """

    id: str
    title: str
    version: str
    severity: Severity
    rationale: str
    remediation: str
    docs: str
    run: Callable[[AuditContext], CheckOutput]
    parameters: Mapping[str, Any]
    needs: Needs
    # Findings below this severity are notes: they do not make the check fail.
    fail_severity: Severity
    parameter_type: type[CheckParameters] | None
    # The figures of its metrics that reports compare with the account's last audit: a name
    # (``answered_share``) and the keys that lead to it in ``CheckOutput.metrics``.
    tracked: Mapping[str, tuple[str, ...]]

    # The contract's fields, in the order plug-ins have always passed them.
    def __init__(
        self,
        id: str,
        title: str,
        version: str,
        severity: Severity,
        rationale: str | None = None,
        remediation: str | None = None,
        docs: str = "",
        run: Callable[[AuditContext], CheckOutput] | None = None,
        parameters: Mapping[str, Any] | type[CheckParameters] | None = None,
        needs: Needs = Needs(),
        fail_severity: Severity = "low",
        tracked: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        if run is None:
            raise TypeError(f"Check {id}: run is required")
        parameter_type: type[CheckParameters] | None = None
        schema: Mapping[str, Any]
        if parameters is None:
            schema = _NO_PARAMETERS
        elif isinstance(parameters, type):
            parameter_type, schema = parameters, parameters_schema(parameters)
        else:
            schema = parameters
        fields: dict[str, Any] = {
            "id": id,
            "title": title,
            "version": version,
            "severity": severity,
            "rationale": rationale or _first_paragraph(doc_section(docs, "Why it matters")),
            "remediation": remediation or _first_paragraph(doc_section(docs, "How to fix")),
            "docs": docs,
            "run": run,
            "parameters": schema,
            "needs": needs,
            "fail_severity": fail_severity,
            "parameter_type": parameter_type,
            "tracked": dict(tracked or {}),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def defaults(self) -> dict[str, Any]:
        properties = self.parameters.get("properties", {})
        return {name: spec["default"] for name, spec in properties.items() if "default" in spec}

    def missing_doc_sections(self) -> list[str]:
        return [s for s in DOC_SECTIONS if not re.search(rf"^#+\s*{s}\s*$", self.docs, re.M)]


def status_of(check: Check, output: CheckOutput, *, data_complete: bool | None) -> Status:
    """The one rule for every check's status.

    ``fail`` when a finding is at or above the check's failing severity (even on an incomplete
    window: what did arrive is enough to fail; findings the missing data could refute never
    get here, the engine withholds them), ``incomplete`` when data the check reads is known to
    be missing (``data_complete`` false: its "nothing to judge" could be the gap), then
    ``not_applicable`` when the check said so, ``incomplete`` when the check said what it
    lacked, else ``pass``.
    """
    threshold = severity_rank(check.fail_severity)
    if any(severity_rank(f.severity) >= threshold for f in output.findings):
        return "fail"
    if data_complete is False:
        return "incomplete"
    if output.not_applicable:
        return "not_applicable"
    if output.incomplete:
        return "incomplete"
    return "pass"
