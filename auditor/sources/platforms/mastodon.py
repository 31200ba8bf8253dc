"""Mastodon, sans-I/O.

The account lookup gives the brand's account id, its ``note`` and profile ``fields`` (where
posting hours often are). Then mention notifications, notification requests (mentions the
brand's filtering policy set aside, Mastodon 4.3+) and the brand's own statuses are paged
newest first through the ``Link`` header's ``rel="next"`` ``max_id`` until they pass the
window's start. Last, replies whose parent no page brought are resolved one thread at a time
through ``statuses/:id/context``, which gives every post its thread root.

Statuses with visibility ``direct`` are private conversations, not public posts. Content is
HTML and becomes plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from auditor.platform_formats import html_to_text
from auditor.sources.platforms.base import (
    Cursor,
    FetchSpec,
    Page,
    Protocol,
    RateInfo,
    RateLimit,
    Record,
    Request,
    Step,
    header_int,
    iso,
    observability,
    parse_time,
    segment,
    window_record,
)

# Every /api/* call counts against one budget per account (300 per 5 minutes, documented).
_API_BUDGET = RateLimit("api", 300, 5 * 60, "account")
_PAGED = ("mentions", "notification_requests", "own_posts")
_WEBSITE_NAME = re.compile(r"web|site|home|url|www", re.IGNORECASE)
# An instance named by a handle becomes the host the token is sent to: a domain name only, never
# something that could carry a path, a port, credentials or another host ("a.example/x?", "u@h").
_INSTANCE = re.compile(
    r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}"
)


def read_mastodon_rate_limit(headers: Mapping[str, str], now: float) -> RateInfo:
    """``X-RateLimit-Remaining``, and ``X-RateLimit-Reset`` as an ISO 8601 time."""
    reset_text = headers.get("x-ratelimit-reset")
    reset_at: float | None = None
    if reset_text:
        try:
            moment = datetime.fromisoformat(reset_text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            reset_at = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return RateInfo(header_int(headers.get("x-ratelimit-remaining")), reset_at)


def next_max_id(headers: Mapping[str, str]) -> str | None:
    """The ``max_id`` of the ``rel="next"`` link in a ``Link`` header, if there is one."""
    link = headers.get("link") or headers.get("Link") or ""
    for part in link.split(","):
        match = re.search(r"<([^>]*)>\s*;(.*)", part.strip())
        if match and re.search(r'rel\s*=\s*"?next"?', match.group(2)):
            values = parse_qs(urlsplit(match.group(1)).query).get("max_id")
            return values[0] if values else None
    return None


def _id_key(status_id: str) -> tuple[int, str]:
    # Mastodon ids are numeric strings that grow with time; compare them as numbers.
    return (len(status_id), status_id)


class MastodonProtocol(Protocol):
    platform: ClassVar[str] = "mastodon"
    observes: ClassVar[frozenset[str]] = observability()["mastodon"].observes
    default_token_env: ClassVar[str] = "MASTODON_TOKEN"
    rate_limits: ClassVar[Mapping[str, RateLimit]] = {
        purpose: _API_BUDGET
        for purpose in ("profile", "mentions", "notification_requests", "own_posts", "context")
    }
    read_rate_limit = staticmethod(read_mastodon_rate_limit)

    def __init__(self, spec: FetchSpec) -> None:
        super().__init__(spec)
        handle = spec.account.lstrip("@")
        self.username, _, self.instance = handle.partition("@")
        self.account_id: str | None = None
        self._statuses: dict[str, Mapping[str, Any]] = {}
        self._roots: dict[str, str] = {}
        self._outstanding = 0
        self._context_started = False
        self._context_done: set[str] = set()
        self._context_budget = int(spec.options.get("max_context_requests", 100))
        # By cursored listing: the ids read and settled (kept, or older than the window) and
        # the ids held back (created after the window's end, while this fetch ran).
        self._listed: dict[str, list[str]] = {"mentions": [], "own_posts": []}
        self._held_back: dict[str, list[str]] = {"mentions": [], "own_posts": []}
        self._partly_read_requests = 0
        self._partly_read_mentions = 0
        self._incremental = False

    def base_url(self) -> str:
        configured = self.spec.options.get("base_url")
        if configured:
            return str(configured).rstrip("/")
        known = self.instance and _INSTANCE.fullmatch(self.instance)
        return f"https://{self.instance}" if known else ""

    # --- requests ---------------------------------------------------------------------------

    def start(self) -> list[Request]:
        if not self.base_url():
            self.missing.append(
                "profile: no instance known: write the handle as name@instance (a domain name) "
                "or set base_url"
            )
            return []
        return [Request("profile", "/api/v1/accounts/lookup", (("acct", self.username),))]

    def estimate(self) -> dict[str, int]:
        return {"profile": 1, "mentions": 1, "notification_requests": 1, "own_posts": 1}

    def _paged_request(self, purpose: str, max_id: str | None = None) -> Request:
        params: list[tuple[str, str]]
        if purpose == "mentions":
            path = "/api/v1/notifications"
            params = [("types[]", "mention"), ("limit", "80")]
        elif purpose == "notification_requests":
            path = "/api/v1/notifications/requests"
            params = [("limit", "80")]
        else:
            path = f"/api/v1/accounts/{segment(self.account_id)}/statuses"
            params = [("limit", "40"), ("exclude_reblogs", "true")]
        since_id = self.spec.cursor.get(f"{purpose}_newest_id")
        if since_id and purpose != "notification_requests":
            self._incremental = True
            params.append(("since_id", str(since_id)))
        if max_id:
            params.append(("max_id", max_id))
        self._outstanding += 1
        return Request(purpose, path, tuple(params))

    # --- answers ----------------------------------------------------------------------------

    def receive(self, request: Request, page: Page) -> Step:
        if request.purpose == "profile":
            return self._receive_profile(page.body)
        if request.purpose == "context":
            self._receive_context(request, page.body)
            return Step([], self._next_context())
        self._outstanding -= 1
        items = (
            [i for i in page.body if isinstance(i, Mapping)] if isinstance(page.body, list) else []
        )
        if request.purpose == "mentions":
            statuses = [n["status"] for n in items if isinstance(n.get("status"), Mapping)]
            times = [str(n.get("created_at")) for n in items if n.get("created_at")]
        elif request.purpose == "notification_requests":
            statuses = [
                r["last_status"] for r in items if isinstance(r.get("last_status"), Mapping)
            ]
            times = [str(r.get("updated_at") or r.get("created_at")) for r in items]
            self._note_partly_read(items)
        else:
            statuses = items
            times = [str(s.get("created_at")) for s in items if s.get("created_at")]
        for status in statuses:
            # The last page reaches past the window's start; what lies before it stays out.
            if self._in_window(status):
                self._keep(status)
        if request.purpose in self._listed:
            self._note_listed(request.purpose, items)
        requests: list[Request] = []
        max_id = next_max_id(page.headers)
        if max_id and items and not self._passed_window_start(times):
            requests.append(self._paged_request(request.purpose, max_id))
        return Step([], requests + self._context_when_paged())

    def refused(self, request: Request, page: Page) -> Step:
        if (
            request.purpose == "notification_requests"
            and page.status == 404
            and mastodon_error(page.body) is not None
        ):
            # Mastodon's own JSON 404 (``{"error": "Not Found"}`` for a route it lacks): a server
            # before 4.3 has no notification filtering, so nothing was set aside. A 404 in any
            # other body (a proxy's page) proves nothing and fails like any other answer.
            return self._settled(request, Step())
        return super().refused(request, page)

    def failed(self, request: Request, reason: str) -> Step:
        return self._settled(request, super().failed(request, reason))

    def _settled(self, request: Request, step: Step) -> Step:
        """After a request that brought no page: the next requests that were waiting on it."""
        if request.purpose == "context":
            step.requests.extend(self._next_context())
        elif request.purpose in _PAGED:
            self._outstanding -= 1
            step.requests.extend(self._context_when_paged())
        return step

    def _receive_profile(self, body: Any) -> Step:
        if not isinstance(body, Mapping) or "id" not in body:
            self.missing.append("profile: the lookup answer holds no account")
            return Step()
        self.account_id = str(body["id"])
        requests = [self._paged_request(p) for p in _PAGED]
        return Step([self._profile_record(body)], requests)

    def _profile_record(self, account: Mapping[str, Any]) -> Record:
        fields = [f for f in account.get("fields") or [] if isinstance(f, Mapping)]
        field_lines = [
            f"{html_to_text(str(f.get('name', '')))}: {html_to_text(str(f.get('value', '')))}"
            for f in fields
        ]
        bio_parts = [html_to_text(account.get("note"))]
        if field_lines:
            bio_parts.append("\n".join(field_lines))
        return {
            "kind": "profile",
            "platform": self.platform,
            "account": self.spec.account,
            "display_name": account.get("display_name") or account.get("username"),
            "bio": "\n\n".join(p for p in bio_parts if p),
            "website": _website(fields),
            "hours": None,
            "fetched_at": iso(self.fetched_at()),
            "not_returned": profile_not_returned(account),
            "fields": [dict(f) for f in fields],
            "account_id": str(account["id"]),
            "bot": account.get("bot"),
        }

    def _note_partly_read(self, requests: Iterable[Mapping[str, Any]]) -> None:
        """A notification request shows only its account's latest filtered status."""
        for request in requests:
            try:
                count = int(str(request.get("notifications_count", "1")))
            except ValueError:
                count = 1
            if count > 1:
                self._partly_read_requests += 1
                self._partly_read_mentions += count - 1

    def _note_listed(self, purpose: str, items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            if "id" not in item:
                continue
            status = item.get("status") if purpose == "mentions" else item
            if isinstance(status, Mapping) and self._after_window(status):
                self._held_back[purpose].append(str(item["id"]))
            else:
                self._listed[purpose].append(str(item["id"]))

    def _next_cursor_id(self, purpose: str) -> str | None:
        """The ``since_id`` for the next run: the newest id read, but below every id held back.

        A status written while this fetch ran is newer than the window's end and not kept; a
        cursor past it would make the next run ask ``since_id`` beyond it and lose it for good.
        """
        ceiling = min(self._held_back[purpose], key=_id_key, default=None)
        below = [
            i for i in self._listed[purpose] if ceiling is None or _id_key(i) < _id_key(ceiling)
        ]
        newest = max(below, key=_id_key, default=None)
        previous = self.spec.cursor.get(f"{purpose}_newest_id")
        return _later_id(str(previous) if previous else None, newest)

    def _passed_window_start(self, times: Iterable[str]) -> bool:
        moments = [parse_time(t) for t in times if t and t != "None"]
        return bool(moments) and min(moments) < self.spec.window_start

    def _keep(self, status: Mapping[str, Any]) -> None:
        status_id = str(status["id"])
        self._statuses.setdefault(status_id, status)

    # --- threads ----------------------------------------------------------------------------

    def _context_when_paged(self) -> list[Request]:
        if self._outstanding > 0 or self._context_started or self.account_id is None:
            return []
        self._context_started = True
        return self._next_context()

    def _next_context(self) -> list[Request]:
        """One thread at a time, so that one answer can settle the others it covers."""
        for status_id in sorted(self._statuses, key=_id_key):
            if status_id in self._context_done or not self._needs_context(status_id):
                continue
            if self._context_budget <= 0:
                self._unresolved_threads_missing()
                return []
            self._context_budget -= 1
            self._context_done.add(status_id)
            return [Request("context", f"/api/v1/statuses/{segment(status_id)}/context")]
        return []

    def _needs_context(self, status_id: str) -> bool:
        status = self._statuses[status_id]
        if status_id in self._roots or not self._in_window(status):
            return False
        parent = status.get("in_reply_to_id")
        return parent is not None and str(parent) not in self._statuses

    def _unresolved_threads_missing(self) -> None:
        left = sum(
            1
            for status_id in self._statuses
            if status_id not in self._context_done and self._needs_context(status_id)
        )
        self.missing.append(
            f"context: {left} replies' threads not looked up (max_context_requests)"
        )

    def _receive_context(self, request: Request, body: Any) -> None:
        status_id = request.path.rstrip("/").split("/")[-2]
        if not isinstance(body, Mapping):
            return
        ancestors = [a for a in body.get("ancestors") or [] if isinstance(a, Mapping)]
        descendants = [d for d in body.get("descendants") or [] if isinstance(d, Mapping)]
        root = str(ancestors[0]["id"]) if ancestors else status_id
        for status in [*ancestors, *descendants]:
            self._keep(status)
            self._roots[str(status["id"])] = root
        self._roots[status_id] = root

    def _thread_root(self, status_id: str) -> str:
        seen: set[str] = set()
        current = status_id
        while current not in seen:
            seen.add(current)
            if current in self._roots:
                return self._roots[current]
            status = self._statuses.get(current)
            if status is None:
                # The chain leaves what was fetched: the unknown parent is the best root known.
                return current
            parent = status.get("in_reply_to_id")
            if parent is None:
                return current
            current = str(parent)
        return current

    def _in_window(self, status: Mapping[str, Any]) -> bool:
        created = status.get("created_at")
        if not isinstance(created, str):
            return False
        return self.spec.window_start <= parse_time(created) <= self.spec.window_end

    def _after_window(self, status: Mapping[str, Any]) -> bool:
        created = status.get("created_at")
        return isinstance(created, str) and parse_time(created) > self.spec.window_end

    # --- closing ----------------------------------------------------------------------------

    def finish(self) -> tuple[list[Record], Cursor]:
        posts: list[Record] = []
        direct: dict[str, list[Mapping[str, Any]]] = {}
        for status_id in sorted(self._statuses, key=_id_key):
            status = self._statuses[status_id]
            if status.get("visibility") == "direct":
                direct.setdefault(self._thread_root(status_id), []).append(status)
            else:
                posts.append(self._post(status))
        records = posts + [self._conversation(root, items) for root, items in direct.items()]
        if self._partly_read_requests:
            self.missing.append(
                f"notification_requests: {self._partly_read_mentions} filtered mentions from "
                f"{self._partly_read_requests} accounts are readable only as each account's "
                "latest status"
            )
        extra: dict[str, Any] = {"incremental": True} if self._incremental else {}
        records.append(
            window_record(
                self.spec,
                missing=self.missing,
                observes=self.observes if self.account_id else set(),
                fetched_at=self.fetched_at(),
                extra=extra,
            )
        )
        cursor: Cursor = dict(self.spec.cursor)
        if self.account_id:
            cursor["account_id"] = self.account_id
        for purpose in self._listed:
            newest = self._next_cursor_id(purpose)
            if newest:
                cursor[f"{purpose}_newest_id"] = newest
        return records, cursor

    def _post(self, status: Mapping[str, Any]) -> Record:
        status_id = str(status["id"])
        account = status.get("account") or {}
        author_id = str(account.get("id")) if account.get("id") is not None else None
        application = status.get("application") or {}
        parent = status.get("in_reply_to_id")
        return {
            "kind": "post",
            "platform": self.platform,
            "account": self.spec.account,
            "id": status_id,
            "author": str(account.get("acct") or account.get("username") or "unknown"),
            "author_id": author_id,
            "by_brand": author_id is not None and author_id == self.account_id,
            "created_at": iso(parse_time(str(status["created_at"]))),
            "text": _status_text(status),
            "in_reply_to": str(parent) if parent is not None else None,
            "thread": self._thread_root(status_id),
            "visibility": "public",
            "deleted_by": None,
            "url": status.get("url") or status.get("uri"),
            "source": application.get("name") if isinstance(application, Mapping) else None,
            "automated": None,
            "mentions": self._mentions(status),
            "mastodon_visibility": status.get("visibility"),
        }

    def _mentions(self, status: Mapping[str, Any]) -> list[str] | None:
        """The status's ``mentions[]`` as handles: the brand (by account id) as configured,
        others by ``acct`` made whole (a local account's ``acct`` is its bare username).

        None when the status carries no ``mentions`` (an answer cut short): the text is read.
        """
        mentions = status.get("mentions")
        if not isinstance(mentions, list):
            return None
        handles: dict[str, None] = {}
        for mention in mentions:
            if not isinstance(mention, Mapping):
                continue
            if self.account_id is not None and str(mention.get("id")) == self.account_id:
                handles[self.spec.account.lstrip("@")] = None
                continue
            acct = mention.get("acct") or mention.get("username")
            if isinstance(acct, str) and acct:
                local = "@" not in acct and self.instance
                handles[f"{acct}@{self.instance}" if local else acct] = None
        return list(handles)

    def _conversation(self, root: str, statuses: list[Mapping[str, Any]]) -> Record:
        statuses = sorted(statuses, key=lambda s: parse_time(str(s["created_at"])))
        customer = "unknown"
        for status in statuses:
            account = status.get("account") or {}
            if str(account.get("id")) != self.account_id:
                customer = str(account.get("acct") or account.get("username"))
                break
        else:
            for status in statuses:
                for mention in status.get("mentions") or []:
                    if str(mention.get("id")) != self.account_id:
                        customer = str(mention.get("acct") or mention.get("username"))
                        break
        return {
            "kind": "conversation",
            "platform": self.platform,
            "account": self.spec.account,
            "id": root,
            "customer": customer,
            "messages": [
                {
                    "id": str(s["id"]),
                    "by_brand": str((s.get("account") or {}).get("id")) == self.account_id,
                    "created_at": iso(parse_time(str(s["created_at"]))),
                    "text": _status_text(s),
                }
                for s in statuses
            ],
        }


def mastodon_error(body: Any) -> str | None:
    """The ``error`` of a Mastodon error body (``{"error": "Record not found"}``)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, str) and error else None


def _status_text(status: Mapping[str, Any]) -> str:
    text = html_to_text(status.get("content"))
    warning = status.get("spoiler_text")
    return f"{warning}\n\n{text}" if warning else text


def _later_id(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b, key=_id_key)


# The Account entity's keys each profile field is made of. Mastodon always sends ``note``,
# ``fields`` and ``display_name`` (empty when the brand left them blank), so a missing key is an
# answer cut short or rewritten on the way, not an empty profile. The website is read from the
# fields; the bio is the note and the fields. Mastodon has no hours field.
PROFILE_SOURCES: Mapping[str, tuple[str, ...]] = {
    "display_name": ("display_name",),
    "bio": ("note", "fields"),
    "website": ("fields",),
    "fields": ("fields",),
}


def profile_not_returned(account: Mapping[str, Any]) -> list[str]:
    """The profile fields the account answer does not carry in full."""
    return [f for f, keys in PROFILE_SOURCES.items() if any(k not in account for k in keys)]


def _website(fields: list[Mapping[str, Any]]) -> str | None:
    """The profile field most likely to be the brand's website."""
    linked = [
        (f, html_to_text(str(f.get("value", ""))))
        for f in fields
        if "http" in str(f.get("value", "")) or "href" in str(f.get("value", ""))
    ]
    for field_, text in linked:
        if _WEBSITE_NAME.search(str(field_.get("name", ""))) or field_.get("verified_at"):
            return _as_url(text)
    return _as_url(linked[0][1]) if linked else None


def _as_url(text: str) -> str:
    return text if text.startswith(("http://", "https://")) else f"https://{text}"
