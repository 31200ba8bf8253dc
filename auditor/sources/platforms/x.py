"""X (API v2), sans-I/O.

Order of work: the profile (``users/by/username``) gives the brand's user id; then the mentions
timeline, the brand's own timeline and, when the account's options say ``dm: true``, the DM
events, all paged with ``pagination_token``. The mentions timeline holds only the newest 800
mentions: when it stops before the window's start, recent search (last 7 days only) fills the
gap as far as it can, and whatever neither covers makes the window incomplete. Last, parents
of the brand's replies that no page included are looked up with ``GET /2/tweets?ids=``.

Posts kept from earlier runs that the pages no longer list are re-checked the same way
(:meth:`XProtocol.recheck_requests`): X answers a lookup of a deleted post's id with an explicit
"not found" error, which is how ``deleted`` is observed here.

Hidden replies cannot be read through the API, so ``observes`` never has ``hidden``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

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
    UnansweredRecheck,
    header_float,
    header_int,
    iso,
    observability,
    parse_time,
    segment,
    window_record,
)

FIFTEEN_MINUTES = 15 * 60

TWEET_FIELDS = (
    "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,author_id,source,entities"
)
TWEET_EXPANSIONS = "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
USER_FIELDS_FOR_POSTS = "username,name"
PROFILE_FIELDS = "description,url,entities,location,name,username,created_at,verified"
DM_EVENT_FIELDS = "id,text,event_type,created_at,dm_conversation_id,sender_id,participant_ids"

RECENT_SEARCH_REACH = timedelta(days=7)
# Recent search refuses a start_time at the very edge of its 7 days; keep a margin.
RECENT_SEARCH_MARGIN = timedelta(minutes=5)
# ``GET /2/tweets`` takes at most 100 ids.
LOOKUP_BATCH = 100
# The end of the error ``type`` X gives, inside a 200 answer, for an id that does not exist
# (``https://api.twitter.com/2/problems/resource-not-found``).
NOT_FOUND = "resource-not-found"


def _x_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, as the X API documents its time parameters."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _newest(a: str | None, b: str | None) -> str | None:
    """The larger of two snowflake ids (numerically: they grow with time)."""
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


def read_x_rate_limit(headers: Mapping[str, str], now: float) -> RateInfo:
    """``x-rate-limit-remaining`` and ``x-rate-limit-reset`` in epoch seconds."""
    return RateInfo(
        header_int(headers.get("x-rate-limit-remaining")),
        header_float(headers.get("x-rate-limit-reset")),
    )


class XProtocol(Protocol):
    platform: ClassVar[str] = "x"
    observes: ClassVar[frozenset[str]] = observability()["x"].observes
    rechecked: ClassVar[frozenset[str]] = observability()["x"].rechecked
    default_base_url: ClassVar[str] = "https://api.x.com"
    default_token_env: ClassVar[str] = "X_BEARER_TOKEN"
    # Documented per-15-minute limits; app (bearer token) limits except DMs, which need a user
    # token (Pro tier figures; Basic is lower).
    rate_limits: ClassVar[Mapping[str, RateLimit]] = {
        "profile": RateLimit("users/by/username", 300, FIFTEEN_MINUTES, "app"),
        "mentions": RateLimit("users/:id/mentions", 450, FIFTEEN_MINUTES, "app"),
        "own_posts": RateLimit("users/:id/tweets", 1500, FIFTEEN_MINUTES, "app"),
        "mentions_search": RateLimit("tweets/search/recent", 450, FIFTEEN_MINUTES, "app"),
        "parents": RateLimit("tweets", 3500, FIFTEEN_MINUTES, "app"),
        "dm_events": RateLimit("dm_events", 300, FIFTEEN_MINUTES, "user"),
    }
    # The mentions timeline serves at most this many of the newest mentions.
    mentions_cap: ClassVar[int] = 800
    read_rate_limit = staticmethod(read_x_rate_limit)

    def __init__(self, spec: FetchSpec) -> None:
        super().__init__(spec)
        self.handle = spec.account.lstrip("@")
        self.user_id: str | None = None
        self._page_size = str(int(spec.options.get("max_results", 100)))
        self._want_dms = bool(spec.options.get("dm", False))
        self._dms_failed = False
        self._seen: set[str] = set()
        self._parent_ids: set[str] = set()
        self._outstanding = 0
        self._parents_requested = False
        self._mentions_count = 0
        self._oldest_mention: datetime | None = None
        # By purpose: the newest post id each timeline has shown, for the next run's since_id.
        self._newest_ids: dict[str, str | None] = {
            "mentions": spec.cursor.get("mentions_newest_id"),
            "own_posts": spec.cursor.get("own_posts_newest_id"),
        }
        self._dm_events: list[Mapping[str, Any]] = []
        self._dm_users: dict[str, str] = {}
        self._incremental = False

    # --- requests ---------------------------------------------------------------------------

    def start(self) -> list[Request]:
        return [
            Request(
                "profile",
                f"/2/users/by/username/{segment(self.handle)}",
                (("user.fields", PROFILE_FIELDS),),
            )
        ]

    def estimate(self) -> dict[str, int]:
        counts = {"profile": 1, "mentions": 1, "own_posts": 1}
        if self._want_dms:
            counts["dm_events"] = 1
        return counts

    def _timeline_request(self, purpose: str, kind: str, token: str | None = None) -> Request:
        assert self.user_id is not None
        params: list[tuple[str, str]] = [
            ("tweet.fields", TWEET_FIELDS),
            ("expansions", TWEET_EXPANSIONS),
            ("user.fields", USER_FIELDS_FOR_POSTS),
            ("max_results", self._page_size),
        ]
        since_id = self.spec.cursor.get(f"{purpose}_newest_id")
        if since_id:
            # An incremental run: only what is newer than the last run's newest post.
            self._incremental = True
            params.append(("since_id", str(since_id)))
        else:
            params.append(("start_time", _x_time(self.spec.window_start)))
        if token:
            params.append(("pagination_token", token))
        return Request(purpose, f"/2/users/{segment(self.user_id)}/{kind}", tuple(params))

    def _search_request(self, until: datetime, token: str | None = None) -> Request:
        params: list[tuple[str, str]] = [
            ("query", f"@{self.handle} OR to:{self.handle}"),
            ("tweet.fields", TWEET_FIELDS),
            ("expansions", TWEET_EXPANSIONS),
            ("user.fields", USER_FIELDS_FOR_POSTS),
            ("max_results", self._page_size),
            ("start_time", _x_time(self._search_floor())),
            ("end_time", _x_time(until)),
        ]
        if token:
            params.append(("next_token", token))
        return Request("mentions_search", "/2/tweets/search/recent", tuple(params))

    def _search_floor(self) -> datetime:
        reach = self.fetched_at() - RECENT_SEARCH_REACH + RECENT_SEARCH_MARGIN
        return max(self.spec.window_start, reach)

    def _dm_request(self, token: str | None = None) -> Request:
        params: list[tuple[str, str]] = [
            ("dm_event.fields", DM_EVENT_FIELDS),
            ("event_types", "MessageCreate"),
            ("expansions", "sender_id,participant_ids"),
            ("user.fields", "username"),
            ("max_results", self._page_size),
        ]
        if token:
            params.append(("pagination_token", token))
        return Request("dm_events", "/2/dm_events", tuple(params))

    def _issue(self, requests: list[Request]) -> list[Request]:
        self._outstanding += sum(1 for r in requests if r.purpose != "dm_events")
        return requests

    # --- answers ----------------------------------------------------------------------------

    def receive(self, request: Request, page: Page) -> Step:
        body = page.body if isinstance(page.body, Mapping) else {}
        if request.purpose == "profile":
            return self._receive_profile(body)
        if request.purpose == "dm_events":
            return self._receive_dms(body)
        self._outstanding -= 1
        step = self._receive_posts(request, body)
        step.requests.extend(self._parents_when_done())
        return step

    def failed(self, request: Request, reason: str) -> Step:
        step = super().failed(request, reason)
        if request.purpose == "dm_events":
            self._dms_failed = True
        elif request.purpose != "profile":
            self._outstanding -= 1
            step.requests.extend(self._parents_when_done())
        return step

    def _receive_profile(self, body: Mapping[str, Any]) -> Step:
        user = body.get("data")
        if not isinstance(user, Mapping) or "id" not in user:
            self.missing.append(f"profile: {_error_text(body) or 'no user in the answer'}")
            return Step()
        self.user_id = str(user["id"])
        requests = [
            self._timeline_request("mentions", "mentions"),
            self._timeline_request("own_posts", "tweets"),
        ]
        if self._want_dms:
            requests.append(self._dm_request())
        return Step([self._profile_record(user)], self._issue(requests))

    def _profile_record(self, user: Mapping[str, Any]) -> Record:
        return {
            "kind": "profile",
            "platform": self.platform,
            "account": self.spec.account,
            "display_name": user.get("name"),
            "bio": user.get("description"),
            "website": _website(user),
            "hours": None,
            "fetched_at": iso(self.fetched_at()),
            "not_returned": profile_not_returned(user),
            "user_id": str(user["id"]),
            "location": user.get("location"),
        }

    def _receive_posts(self, request: Request, body: Mapping[str, Any]) -> Step:
        tweets = [t for t in body.get("data") or [] if isinstance(t, Mapping)]
        includes = body.get("includes") or {}
        users = _usernames(includes.get("users") or [])
        records = [self._post(t, users) for t in tweets if str(t.get("id")) not in self._seen]
        for tweet in tweets:
            self._seen.add(str(tweet.get("id")))
        # Parents to look up: of the brand's replies the pages list (not of included context).
        for record in records:
            if record["by_brand"] and record["in_reply_to"]:
                self._parent_ids.add(record["in_reply_to"])
        # Parents that came along through expansions: context for the threads.
        for tweet in includes.get("tweets") or []:
            if isinstance(tweet, Mapping) and str(tweet.get("id")) not in self._seen:
                self._seen.add(str(tweet.get("id")))
                records.append(self._post(tweet, users))
        meta = body.get("meta") or {}
        next_token = meta.get("next_token")
        if request.purpose in self._newest_ids and not _has_param(request, "pagination_token"):
            purpose = request.purpose
            self._newest_ids[purpose] = _newest(self._newest_ids[purpose], meta.get("newest_id"))
        requests: list[Request] = []
        if request.purpose == "mentions":
            self._note_mentions(tweets)
            if next_token:
                requests.append(self._timeline_request("mentions", "mentions", next_token))
            else:
                requests.extend(self._fill_mentions_gap())
        elif request.purpose == "own_posts" and next_token:
            requests.append(self._timeline_request("own_posts", "tweets", next_token))
        elif request.purpose == "mentions_search" and next_token:
            until = dict(request.params)["end_time"]
            requests.append(self._search_request(parse_time(until), next_token))
        return Step(records, self._issue(requests))

    def _note_mentions(self, tweets: list[Mapping[str, Any]]) -> None:
        self._mentions_count += len(tweets)
        for tweet in tweets:
            created = tweet.get("created_at")
            if isinstance(created, str):
                moment = parse_time(created)
                if self._oldest_mention is None or moment < self._oldest_mention:
                    self._oldest_mention = moment

    def _fill_mentions_gap(self) -> list[Request]:
        """After the last mentions page: was the timeline cut off by its 800-post cap?"""
        if self._incremental or self._mentions_count < self.mentions_cap:
            return []
        reached = self._oldest_mention
        if reached is None or reached <= self.spec.window_start:
            return []
        if not self.spec.options.get("search_fallback", True):
            self.missing.append(
                f"mentions: the timeline holds only the newest {self.mentions_cap} and "
                f"reaches back to {iso(reached)} only"
            )
            return []
        if self._search_floor() > self.spec.window_start:
            self.missing.append(
                f"mentions: the timeline holds only the newest {self.mentions_cap} "
                f"(back to {iso(reached)}) and recent search reaches back 7 days only "
                f"(to {iso(self._search_floor())})"
            )
        if self._search_floor() >= reached:
            return []
        return [self._search_request(reached)]

    def _parents_when_done(self) -> list[Request]:
        """Once every timeline page is in, look up the replied-to posts nobody included."""
        if self._outstanding > 0 or self._parents_requested:
            return []
        self._parents_requested = True
        wanted = sorted(self._parent_ids - self._seen, key=int)
        batches = [wanted[i : i + LOOKUP_BATCH] for i in range(0, len(wanted), LOOKUP_BATCH)]
        return self._issue(
            [
                Request(
                    "parents",
                    "/2/tweets",
                    (
                        ("ids", ",".join(batch)),
                        ("tweet.fields", TWEET_FIELDS),
                        ("expansions", "author_id"),
                        ("user.fields", USER_FIELDS_FOR_POSTS),
                    ),
                )
                for batch in batches
            ]
        )

    def _post(self, tweet: Mapping[str, Any], users: Mapping[str, str]) -> Record:
        tweet_id = str(tweet["id"])
        author_id = str(tweet["author_id"]) if tweet.get("author_id") else None
        author = users.get(author_id or "", author_id or "unknown")
        by_brand = author_id is not None and author_id == self.user_id
        if by_brand:
            author = self.handle
        created = tweet.get("created_at")
        return {
            "kind": "post",
            "platform": self.platform,
            "account": self.spec.account,
            "id": tweet_id,
            "author": author,
            "author_id": author_id,
            "by_brand": by_brand,
            "created_at": iso(parse_time(created)) if isinstance(created, str) else None,
            "text": tweet.get("text", ""),
            "in_reply_to": _replied_to(tweet.get("referenced_tweets") or []),
            "thread": str(tweet.get("conversation_id") or tweet_id),
            "visibility": "public",
            "deleted_by": None,
            "url": f"https://x.com/{author}/status/{tweet_id}",
            "source": tweet.get("source") or None,
            "automated": None,
            "mentions": self._mentions(tweet),
            "in_reply_to_user_id": tweet.get("in_reply_to_user_id"),
        }

    def _mentions(self, tweet: Mapping[str, Any]) -> list[str] | None:
        """``entities.mentions[]`` as usernames, the brand (by user id) as configured.

        X leaves ``entities`` out of a tweet that has none to annotate, and of an answer that
        was not asked for them: None then, and the text (from which X derives the entities) is
        read instead.
        """
        entities = tweet.get("entities")
        if not isinstance(entities, Mapping):
            return None
        handles: dict[str, None] = {}
        for mention in entities.get("mentions") or []:
            if not isinstance(mention, Mapping):
                continue
            if self.user_id is not None and str(mention.get("id")) == self.user_id:
                handles[self.handle] = None
            elif isinstance(mention.get("username"), str) and mention["username"]:
                handles[mention["username"]] = None
        return list(handles)

    def _receive_dms(self, body: Mapping[str, Any]) -> Step:
        events = [e for e in body.get("data") or [] if isinstance(e, Mapping)]
        self._dm_users.update(_usernames((body.get("includes") or {}).get("users") or []))
        reached_start = False
        for event in events:
            created = event.get("created_at")
            if not isinstance(created, str):
                continue
            moment = parse_time(created)
            if moment < self.spec.window_start:
                reached_start = True
                continue
            if moment <= self.spec.window_end and event.get("event_type") == "MessageCreate":
                self._dm_events.append(event)
        next_token = (body.get("meta") or {}).get("next_token")
        if next_token and not reached_start:
            return Step([], [self._dm_request(next_token)])
        return Step()

    # --- re-checking kept posts -------------------------------------------------------------

    def recheck_requests(self, post_ids: Sequence[str]) -> list[Request]:
        # X ids are numbers: anything else was not kept from X and cannot be asked about.
        wanted = [i for i in post_ids if i.isdigit()]
        return [
            Request(
                "recheck",
                "/2/tweets",
                (("ids", ",".join(wanted[i : i + LOOKUP_BATCH])), ("tweet.fields", "id")),
            )
            for i in range(0, len(wanted), LOOKUP_BATCH)
        ]

    def parse_recheck(self, request: Request, page: Page) -> set[str]:
        asked = set(dict(request.params).get("ids", "").split(","))
        gone = not_found_ids(page.body, asked)
        unanswered = asked - answered_ids(page.body)
        if unanswered:
            raise UnansweredRecheck(
                f"the answer accounts for {len(asked) - len(unanswered)} of {len(asked)} "
                "posts asked (neither found nor not found)",
                gone,
            )
        return gone

    # --- closing ----------------------------------------------------------------------------

    def finish(self) -> tuple[list[Record], Cursor]:
        records = self._conversations()
        observes = set(self.observes) if self._want_dms and not self._dms_failed else set()
        extra: dict[str, Any] = {"incremental": True} if self._incremental else {}
        records.append(
            window_record(
                self.spec,
                missing=self.missing,
                observes=observes,
                fetched_at=self.fetched_at(),
                extra=extra,
            )
        )
        cursor: Cursor = dict(self.spec.cursor)
        if self.user_id:
            cursor["user_id"] = self.user_id
        cursor.update({f"{k}_newest_id": v for k, v in self._newest_ids.items() if v})
        return records, cursor

    def _conversations(self) -> list[Record]:
        by_conversation: dict[str, list[Mapping[str, Any]]] = {}
        for event in self._dm_events:
            key = str(event.get("dm_conversation_id") or event.get("id"))
            by_conversation.setdefault(key, []).append(event)
        records = []
        for conversation_id, events in sorted(by_conversation.items()):
            events.sort(key=lambda e: parse_time(str(e["created_at"])))
            customer_id = self._customer_of(conversation_id, events)
            records.append(
                {
                    "kind": "conversation",
                    "platform": self.platform,
                    "account": self.spec.account,
                    "id": conversation_id,
                    "customer": self._dm_users.get(customer_id, customer_id),
                    "messages": [
                        {
                            "id": str(e["id"]),
                            "by_brand": str(e.get("sender_id")) == self.user_id,
                            "created_at": iso(parse_time(str(e["created_at"]))),
                            "text": e.get("text", ""),
                        }
                        for e in events
                    ],
                }
            )
        return records

    def _customer_of(self, conversation_id: str, events: Iterable[Mapping[str, Any]]) -> str:
        candidates: list[str] = []
        for event in events:
            candidates.extend(str(p) for p in event.get("participant_ids") or [])
            candidates.append(str(event.get("sender_id")))
        # One-to-one conversation ids are the two user ids joined by a dash.
        candidates.extend(conversation_id.split("-"))
        for candidate in candidates:
            if candidate and candidate not in {self.user_id, "None"}:
                return candidate
        return "unknown"


def not_found_ids(body: Any, asked: set[str]) -> set[str]:
    """The ``asked`` ids that a ``GET /2/tweets?ids=`` answer reports as not found.

    X answers 200 with the posts it found in ``data`` and one ``errors`` entry per id it did
    not (``type`` ending in ``resource-not-found``, title "Not Found Error", the id in
    ``resource_id`` and ``value``). Other errors (``not-authorized-for-resource`` for a
    protected account's post) do not mean deleted, nor does an id found in ``data``.
    """
    if not isinstance(body, Mapping):
        return set()
    present = {
        str(t.get("id")) for t in body.get("data") or [] if isinstance(t, Mapping) and "id" in t
    }
    gone: set[str] = set()
    for error in body.get("errors") or []:
        if not isinstance(error, Mapping):
            continue
        problem = f"{error.get('type', '')} {error.get('title', '')}".lower()
        if NOT_FOUND not in problem and "not found" not in problem:
            continue
        ident = str(error.get("resource_id") or error.get("value") or "")
        if ident in asked and ident not in present:
            gone.add(ident)
    return gone


def answered_ids(body: Any) -> set[str]:
    """The ids a ``GET /2/tweets?ids=`` answer accounts for: found in ``data``, or named by an
    entry of ``errors`` (not found, not authorised ...). An id it does not name is unknown."""
    if not isinstance(body, Mapping):
        return set()
    data = body.get("data")
    errors = body.get("errors")
    found = (
        {str(t["id"]) for t in data if isinstance(t, Mapping) and "id" in t}
        if isinstance(data, list)
        else set()
    )
    named = (
        {
            str(e.get("resource_id") or e.get("value") or "")
            for e in errors
            if isinstance(e, Mapping)
        }
        if isinstance(errors, list)
        else set()
    )
    return found | named


def _usernames(users: Iterable[Any]) -> dict[str, str]:
    return {
        str(u["id"]): str(u["username"])
        for u in users
        if isinstance(u, Mapping) and "id" in u and "username" in u
    }


def _replied_to(references: Iterable[Any]) -> str | None:
    for reference in references:
        if isinstance(reference, Mapping) and reference.get("type") == "replied_to":
            return str(reference["id"])
    return None


# Where each profile field comes from in a user object. X returns a requested field even when
# it is empty (``"description": ""``); a key that is absent was not requested or not granted.
# ``name`` is a default field of every user object. X has no hours field.
PROFILE_SOURCES: Mapping[str, str] = {
    "display_name": "name",
    "bio": "description",
    "website": "url",
}


def profile_not_returned(user: Mapping[str, Any]) -> list[str]:
    """The profile fields the user object does not carry: not an empty bio, an unknown one."""
    return [field for field, key in PROFILE_SOURCES.items() if key not in user]


def _website(user: Mapping[str, Any]) -> str | None:
    """The expanded profile link (``url`` itself is a t.co short link)."""
    urls = ((user.get("entities") or {}).get("url") or {}).get("urls") or []
    for entry in urls:
        if isinstance(entry, Mapping) and entry.get("expanded_url"):
            return str(entry["expanded_url"])
    url = user.get("url")
    return str(url) if url else None


def _error_text(body: Mapping[str, Any]) -> str:
    errors = body.get("errors") or []
    details = [str(e.get("detail") or e.get("title")) for e in errors if isinstance(e, Mapping)]
    return "; ".join(details)


def _has_param(request: Request, name: str) -> bool:
    return any(key == name for key, _ in request.params)
