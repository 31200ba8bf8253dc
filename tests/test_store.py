"""Tests for the history store (auditor.store.history): runs, posts, findings, prune."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditor.store.encoding as store_encoding
import auditor.store.posts as store_posts
from auditor.model import Post, Visibility
from auditor.store.history import (
    AccountReport,
    FetchedConversation,
    FindingRecord,
    HistoryStore,
    StoreError,
)

from store_support import DAY, T0, Stores, audit, changed, finding, history, kept, post, stores

__all__ = ["history", "stores"]  # the fixtures: every test here runs on SQLite and PostgreSQL

# --- first and last seen ----------------------------------------------------------------------


def test_first_and_last_seen_follow_the_observation_times(history: HistoryStore) -> None:
    audit(history, "r1", T0, [post("1", text="where is my refund?")], [])
    audit(
        history,
        "r2",
        T0 + 7 * DAY,
        [post("1", visibility="hidden", text="where is my refund??"), post("2")],
        [],
    )
    seen = history.previous_posts("x", "acme", T0 + 8 * DAY)
    assert seen["1"].first_seen == T0
    assert seen["1"].last_seen == T0 + 7 * DAY
    assert seen["1"].visibility == "hidden"
    assert seen["1"].text == "where is my refund??"
    assert seen["2"].first_seen == seen["2"].last_seen == T0 + 7 * DAY


def test_an_older_observation_never_moves_last_seen_back_or_overwrites_newer_data(
    history: HistoryStore,
) -> None:
    newer = T0 + 7 * DAY
    audit(history, "late", newer, [post("1", visibility="deleted", deleted_by="brand")], [])
    audit(history, "early", T0, [post("1", visibility="public", text="old text")], [])
    seen = history.previous_posts("x", "acme", newer + DAY)["1"]
    assert seen.last_seen == newer
    assert seen.first_seen == T0
    assert seen.visibility == "deleted"
    assert seen.deleted_by == "brand"
    assert seen.text != "old text"


def test_a_deletion_seen_without_text_keeps_the_text_last_seen(history: HistoryStore) -> None:
    complaint = "your courier left my parcel in the rain, this is the third time"
    audit(history, "r1", T0, [post("1", text=complaint)], [])
    audit(
        history, "r2", T0 + DAY, [post("1", visibility="deleted", text="", deleted_by="brand")], []
    )
    seen = history.previous_posts("x", "acme", T0 + 2 * DAY)["1"]
    assert seen.visibility == "deleted"
    assert seen.deleted_by == "brand"
    assert seen.text == complaint


def test_text_last_seen_is_order_independent(stores: Stores) -> None:
    observations = [
        (T0, post("1", text="first wording")),
        (T0 + DAY, post("1", text="edited wording")),
        (T0 + 2 * DAY, post("1", visibility="deleted", text="", deleted_by="author")),
    ]
    dumps = []
    for name, order in (("forward", [0, 1, 2]), ("shuffled", [2, 0, 1])):
        with stores.open(name) as history:
            for index in order:
                at, observation = observations[index]
                audit(history, f"r{index}", at, [observation], [])
            assert history.previous_posts("x", "acme", T0 + 3 * DAY)["1"].text == "edited wording"
        dumps.append(stores.rows("posts", name))
    assert dumps[0] == dumps[1]


def test_seen_datetimes_are_utc_whatever_offset_came_in(history: HistoryStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 2, 14, 0, tzinfo=plus_two)
    observation = changed(post("7"), created_at=local)
    audit(history, "r1", local, [observation], [])
    seen = history.previous_posts("x", "acme", T0 + DAY)["7"]
    assert seen.first_seen == local
    assert seen.first_seen.utcoffset() == timedelta(0)
    assert seen.created_at == local


def test_naive_datetimes_are_refused(history: HistoryStore) -> None:
    with pytest.raises(StoreError, match="timezone-aware"):
        history.begin_run("r1", "cfg", "0.1.0", datetime(2026, 3, 2, 12, 0))
    history.begin_run("r1", "cfg", "0.1.0", T0)
    naive_post = changed(post("1"), created_at=datetime(2026, 3, 1))
    with pytest.raises(StoreError, match="timezone-aware"):
        history.record_account("r1", "x", "acme", "ok", T0, [naive_post], [])
    assert history.previous_posts("x", "acme", T0 + DAY) == {}


# --- previous posts and findings --------------------------------------------------------------


def test_previous_posts_filters_by_first_seen_and_account(history: HistoryStore) -> None:
    audit(history, "r1", T0, [post("1")], [])
    audit(history, "r2", T0 + DAY, [post("1"), post("2")], [])
    audit(history, "r3", T0 + DAY, [post("9")], [], account="other_brand")
    assert set(history.previous_posts("x", "acme", T0)) == set()
    assert set(history.previous_posts("x", "acme", T0 + DAY)) == {"1"}
    assert set(history.previous_posts("x", "acme", T0 + 2 * DAY)) == {"1", "2"}
    assert set(history.previous_posts("mastodon", "acme", T0 + 2 * DAY)) == set()


def test_findings_are_replaced_when_the_same_run_is_recorded_again(
    history: HistoryStore, stores: Stores
) -> None:
    audit(history, "r1", T0, [post("1")], [finding("old-1"), finding("old-2")])
    audit(history, "r1", T0, [post("1")], [finding("new-1")])
    uids = stores.query("SELECT uid FROM findings WHERE run_key = 'r1'")
    assert uids == [("new-1",)]
    assert [run.run_key for run in history.runs()] == ["r1"]


def test_recording_an_account_twice_in_a_run_keeps_only_the_last_findings(
    history: HistoryStore,
) -> None:
    history.begin_run("r1", "cfg-1", "0.1.0", T0)
    history.record_account("r1", "x", "acme", "error", T0, [], [finding("a"), finding("b")])
    history.record_account("r1", "x", "acme", "ok", T0, [post("1")], [finding("c")])
    history.record_account("r1", "x", "other_brand", "ok", T0, [], [finding("d")])
    history.finish_run("r1", T0 + DAY, "ok")
    assert history.previous_finding_uids("x", "acme") == {"c"}
    assert history.previous_finding_uids("x", "other_brand") == {"d"}


def test_previous_finding_uids_come_from_the_latest_finished_earlier_run(
    history: HistoryStore,
) -> None:
    audit(history, "week1", T0, [post("1")], [finding("a"), finding("b")])
    audit(history, "week2", T0 + 7 * DAY, [post("1")], [finding("b"), finding("c")])
    # An unfinished run and a run that did not audit this account are not "previous".
    history.begin_run("crashed", "cfg-1", "0.1.0", T0 + 8 * DAY)
    history.record_account("crashed", "x", "acme", "ok", T0 + 8 * DAY, [], [finding("z")])
    audit(history, "other", T0 + 9 * DAY, [], [finding("q")], account="other_brand")
    history.begin_run("week3", "cfg-1", "0.1.0", T0 + 14 * DAY)

    assert history.previous_finding_uids("x", "acme", before_run="week3") == {"b", "c"}
    assert history.previous_finding_uids("x", "acme", before_run="week2") == {"a", "b"}
    assert history.previous_finding_uids("x", "acme", before_run="week1") == set()
    assert history.previous_finding_uids("x", "acme") == {"b", "c"}
    assert history.previous_finding_uids("x", "acme", before_run="not-begun") == {"b", "c"}
    assert history.previous_finding_uids("x", "nobody") == set()


def test_record_account_needs_a_begun_run(history: HistoryStore) -> None:
    with pytest.raises(StoreError, match="begin_run"):
        history.record_account("ghost", "x", "acme", "ok", T0, [post("1")], [])
    with pytest.raises(StoreError, match="begin_run"):
        history.finish_run("ghost", T0, "ok")
    assert history.previous_posts("x", "acme", T0 + DAY) == {}


def test_runs_lists_what_was_recorded(history: HistoryStore) -> None:
    audit(history, "r1", T0, [], [])
    history.begin_run("r2", "cfg-2", "0.2.0", T0 + DAY)
    runs = history.runs()
    assert [(r.run_key, r.config_hash, r.status) for r in runs] == [
        ("r1", "cfg-1", "ok"),
        ("r2", "cfg-2", "running"),
    ]
    assert runs[0].started_at == T0
    assert runs[0].finished_at == T0 + timedelta(minutes=5)
    assert runs[1].finished_at is None


# --- idempotence and crashes ------------------------------------------------------------------


def sequence(history: HistoryStore) -> None:
    """A small realistic history: two weekly audits of two accounts."""
    for week in range(2):
        at = T0 + week * 7 * DAY
        key = f"week{week}"
        history.begin_run(key, "cfg-1", "0.1.0", at)
        history.record_account(
            key,
            "x",
            "acme",
            "ok",
            at,
            [
                post("1", visibility="public" if week == 0 else "deleted", deleted_by=None),
                post(str(10 + week)),
            ],
            [finding(f"acme-{week}")],
            observed_now=at,
        )
        history.record_account(
            key, "mastodon", "acme@social.example", "partial", at, [post("5")], [], at
        )
        history.set_cursor("x", "acme", {"since_id": str(10 + week)}, at)
        history.finish_run(key, at + timedelta(minutes=3), "ok")


def test_running_the_same_sequence_twice_gives_identical_tables(
    history: HistoryStore, stores: Stores
) -> None:
    sequence(history)
    first = stores.dump()
    sequence(history)
    assert stores.dump() == first
    assert stores.rows("posts")


def exploding(posts: list[Post], after: int) -> Iterator[Post]:
    for index, observation in enumerate(posts):
        if index == after:
            raise RuntimeError("source died mid-account")
        yield observation


def test_a_crash_inside_record_account_rolls_the_whole_call_back(stores: Stores) -> None:
    week2 = [post("1", visibility="hidden"), post("2"), post("3"), post("4")]

    with stores.open("crashed") as history:
        audit(history, "r1", T0, [post("1"), post("2")], [finding("a")])
        history.begin_run("r2", "cfg-1", "0.1.0", T0 + DAY)
        before = stores.dump("crashed")
        with pytest.raises(RuntimeError, match="mid-account"):
            history.record_account(
                "r2", "x", "acme", "ok", T0 + DAY, exploding(week2, after=3), [finding("b")], T0
            )
        assert stores.dump("crashed") == before
        # The store is still usable and a clean rerun converges to the no-crash state.
        history.begin_run("r2", "cfg-1", "0.1.0", T0 + DAY)
        history.record_account("r2", "x", "acme", "ok", T0 + DAY, week2, [finding("b")], T0 + DAY)
        history.finish_run("r2", T0 + DAY + timedelta(minutes=5), "ok")

    with stores.open("clean") as history:
        audit(history, "r1", T0, [post("1"), post("2")], [finding("a")])
        audit(history, "r2", T0 + DAY, week2, [finding("b")])

    assert stores.dump("crashed") == stores.dump("clean")


def test_a_failing_findings_iterable_also_rolls_back_the_posts(
    history: HistoryStore, stores: Stores
) -> None:
    history.begin_run("r1", "cfg-1", "0.1.0", T0)
    before = stores.dump()

    def broken_findings() -> Iterator[FindingRecord]:
        yield finding("a")
        raise ValueError("check crashed")

    with pytest.raises(ValueError, match="check crashed"):
        history.record_account("r1", "x", "acme", "ok", T0, [post("1")], broken_findings())
    assert stores.dump() == before


def test_a_constraint_violation_is_a_store_error_and_rolls_back(
    history: HistoryStore, stores: Stores
) -> None:
    history.begin_run("r1", "cfg-1", "0.1.0", T0)
    before = stores.dump()
    with pytest.raises(StoreError):
        history.record_account(
            "r1", "x", "acme", "ok", T0, [post("1"), changed(post("2"), visibility="vanished")], []
        )
    assert stores.dump() == before


# --- retention --------------------------------------------------------------------------------


def test_prune_removes_old_runs_and_posts_and_keeps_new_ones(stores: Stores) -> None:
    with stores.open(retention_days=30) as history:
        audit(history, "old", T0, [post("1"), post("2")], [finding("a")])
        audit(history, "new", T0 + 40 * DAY, [post("2"), post("3")], [finding("b")])
        history.set_cursor("x", "acme", {"since_id": "3"}, T0)

        deleted = history.prune(T0 + 50 * DAY)

        # old run + its account row + its finding + post 1 (last seen 50 days ago)
        assert deleted == 4
        assert [run.run_key for run in history.runs()] == ["new"]
        assert set(history.previous_posts("x", "acme", T0 + 60 * DAY)) == {"2", "3"}
        assert history.previous_finding_uids("x", "acme") == {"b"}
        assert history.get_cursor("x", "acme") == {"since_id": "3"}
        assert history.prune(T0 + 50 * DAY) == 0


# --- the merge rules against a model ----------------------------------------------------------

VISIBILITY = st.sampled_from(["public", "hidden", "deleted"])
OBSERVATION = st.tuples(
    st.integers(min_value=0, max_value=500),  # observation time, hours after T0
    VISIBILITY,
    st.sampled_from(["", "refund please", "refund please!!", "sorted, thanks"]),
    st.booleans(),  # whether this observation carries the url
)


def model_of(observations: list[tuple[int, str, str, bool]]) -> dict[str, object]:
    """What the merge rules say the stored post should be, from all observations at once."""
    times = [hours for hours, *_ in observations]
    newest = max(observations, key=lambda o: o[0])
    with_text = [o for o in observations if o[2]]
    return {
        "first_seen": T0 + timedelta(hours=min(times)),
        "last_seen": T0 + timedelta(hours=max(times)),
        "visibility": newest[1],
        "text": max(with_text, key=lambda o: o[0])[2] if with_text else "",
        "url": "https://social.example/p/1" if any(o[3] for o in observations) else None,
    }


# One store per test, a new account per example: the same merge on SQLite and PostgreSQL.
_EXAMPLES = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    observations=st.lists(OBSERVATION, min_size=1, max_size=6, unique_by=lambda o: o[0]),
    replays=st.lists(st.integers(min_value=0, max_value=5), max_size=4),
)
def test_any_order_of_observations_gives_the_model_state(
    history: HistoryStore, observations: list[tuple[int, str, str, bool]], replays: list[int]
) -> None:
    account = f"acme-{next(_EXAMPLES)}"
    history.begin_run("r", "cfg", "0.1.0", T0)
    # Replaying some observations again (same time, same data) must change nothing.
    order = observations + [observations[i % len(observations)] for i in replays]
    for hours, visibility, text, has_url in order:
        observation = Post(
            id="1",
            created_at=T0,
            author="jo",
            by_brand=False,
            visibility=cast(Visibility, visibility),
            deleted_by="unknown" if visibility == "deleted" else None,
            text=text,
            url="https://social.example/p/1" if has_url else None,
            thread=None,
        )
        at = T0 + timedelta(hours=hours)
        history.record_account("r", "x", account, "ok", at, [observation], [], at)
    seen = history.previous_posts("x", account, T0 + timedelta(days=365))["1"]
    expected = model_of(observations)
    actual = {
        "first_seen": seen.first_seen,
        "last_seen": seen.last_seen,
        "visibility": seen.visibility,
        "text": seen.text,
        "url": seen.url,
    }
    assert actual == expected


def test_same_time_observation_with_different_data_replaces_it(history: HistoryStore) -> None:
    audit(history, "r1", T0, [post("1", visibility="public", text="first")], [])
    audit(history, "r1", T0, [post("1", visibility="hidden", text="second")], [])
    seen = history.previous_posts("x", "acme", T0 + DAY)["1"]
    assert (seen.visibility, seen.text) == ("hidden", "second")


@pytest.mark.parametrize(
    "change",
    [
        {"visibility": "hidden"},
        {"deleted_by": "brand"},
        {"author": "jo_renamed"},
        {"by_brand": True},
        {"created_at": T0 - 3 * DAY},
        {"url": "https://social.example/p/1?moved"},
        {"thread": "200"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_single_changed_field_at_the_same_time_is_not_skipped(
    history: HistoryStore, change: dict[str, object]
) -> None:
    original = post("1")
    audit(history, "r1", T0, [original], [])
    audit(history, "r1", T0, [changed(original, **change)], [])
    seen = history.previous_posts("x", "acme", T0 + DAY)["1"]
    field = next(iter(change))
    assert getattr(seen, field) == change[field]


# --- posts keyed by account id (schema version 3) ---------------------------------------------


def test_a_post_without_a_thread_is_stored_as_rooting_its_own(history: HistoryStore) -> None:
    audit(history, "r1", T0, [changed(post("5"), thread=None), post("6")], [])
    seen = history.previous_posts("x", "acme", T0 + DAY)
    assert seen["5"].thread == "5"
    assert seen["6"].thread == "100"


def test_an_empty_url_is_stored_as_no_url(history: HistoryStore) -> None:
    audit(history, "r1", T0, [post("3")], [])
    audit(history, "r2", T0 + DAY, [changed(post("3"), url="")], [])
    # An observation without a url keeps the one seen before, as None does.
    assert history.previous_posts("x", "acme", T0 + 2 * DAY)["3"].url == post("3").url


def test_many_posts_round_trip_across_statement_boundaries(
    history: HistoryStore, stores: Stores
) -> None:
    count = store_posts._POSTS_PER_STATEMENT * 65 + 3
    posts = [
        Post(
            id=str(n),
            created_at=T0 - timedelta(seconds=n, microseconds=n % 1000),
            author=f"user{n % 7}",
            by_brand=n % 3 == 0,
            text=f"order {n} is late" if n % 4 else "",
            thread=str(n - n % 5) if n % 5 else None,
            visibility="deleted" if n % 11 == 0 else "public",
            deleted_by="author" if n % 11 == 0 else None,
            url=None if n % 2 else f"https://social.example/p/{n}",
        )
        for n in range(count)
    ]
    # The same post twice in one statement: the later observation wins, as one by one.
    posts.insert(2, changed(posts[1], visibility="hidden"))
    audit(history, "r1", T0, posts, [])

    seen = history.previous_posts("x", "acme", T0 + DAY)
    assert len(seen) == count
    for expected in posts[2:]:
        got = seen[expected.id]
        assert (got.created_at, got.author, got.by_brand, got.text, got.url) == (
            expected.created_at,
            expected.author,
            expected.by_brand,
            expected.text,
            expected.url,
        )
        assert (got.visibility, got.deleted_by, got.thread) == (
            expected.visibility,
            expected.deleted_by,
            expected.thread or expected.id,
        )
        assert got.first_seen == got.last_seen == T0
    assert seen["1"].visibility == "hidden"
    posts_seen = stores.query("SELECT posts_seen FROM run_accounts")
    assert posts_seen == [(count + 1,)]
    before = stores.dump()
    audit(history, "r1", T0, posts, [])
    assert stores.dump() == before


def test_account_ids_do_not_depend_on_the_order_accounts_are_recorded(stores: Stores) -> None:
    dumps = []
    for name, accounts in (("ab", ["acme", "globo"]), ("ba", ["globo", "acme"])):
        with stores.open(name) as history:
            history.begin_run("r1", "cfg-1", "0.1.0", T0)
            for account in accounts:
                history.record_account("r1", "x", account, "ok", T0, [post("1")], [], T0)
        dumps.append(stores.dump(name))
    assert dumps[0] == dumps[1]


def test_many_findings_are_kept_and_a_repeated_uid_keeps_the_last(
    history: HistoryStore, stores: Stores
) -> None:
    count = 2 * store_posts._POSTS_PER_STATEMENT + 3
    findings = [finding(f"u{n}") for n in range(count)]
    # Repeated inside the first statement: the later one must win.
    findings.insert(5, finding("u1", check_id="RSP002"))
    audit(history, "r1", T0, [post("1")], findings)
    assert history.previous_finding_uids("x", "acme") == {f"u{n}" for n in range(count)}
    kept_check = stores.query("SELECT check_id FROM findings WHERE uid = 'u1'")
    assert kept_check == [("RSP002",)]


# --- schema 4: findings as one row per account and run, prune by account ---------------------


def posts_since(history: HistoryStore, account: str) -> int | None:
    row = history._db.execute(
        "SELECT posts_since FROM accounts WHERE platform = 'x' AND account = ?", (account,)
    ).fetchone()
    return None if row is None else cast(int | None, row[0])


def test_an_older_observation_recorded_later_is_still_pruned(history: HistoryStore) -> None:
    # Replaying an old bundle after a newer one: the account's bound must move back with it.
    history.begin_run("r", "cfg", "0.1.0", T0 + 40 * DAY)  # not itself pruned
    history.record_account("r", "x", "acme", "ok", T0 + 40 * DAY, [post("1")], [], T0 + 40 * DAY)
    history.record_account("r", "x", "acme", "ok", T0, [post("2")], [], T0)
    history.record_fetch("x", "globo", T0 + DAY, [kept("7")], observed_now=T0 + DAY)
    assert posts_since(history, "acme") == store_encoding._to_us(T0)
    assert posts_since(history, "globo") == store_encoding._to_us(T0 + DAY)
    cutoff = T0 + 2 * DAY
    assert history.prune(cutoff + history.retention) == 2  # post 2 and globo's post 7
    assert set(history.previous_posts("x", "acme", T0 + 90 * DAY)) == {"1"}
    assert history.fetched_posts("x", "globo", T0 - DAY) == []
    assert posts_since(history, "acme") == posts_since(history, "globo")
    assert posts_since(history, "acme") == store_encoding._to_us(cutoff)


def test_prune_leaves_accounts_without_old_posts_unread(history: HistoryStore) -> None:
    audit(history, "r1", T0, [post("1")], [], account="acme")
    audit(history, "r2", T0 + 40 * DAY, [post("2")], [], account="globo")
    history.prune(T0 + 10 * DAY + history.retention)
    # acme was read (and its bound raised to the cutoff); globo's bound is untouched.
    assert posts_since(history, "acme") == store_encoding._to_us(T0 + 10 * DAY)
    assert posts_since(history, "globo") == store_encoding._to_us(T0 + 40 * DAY)
    assert set(history.previous_posts("x", "globo", T0 + 90 * DAY)) == {"2"}


WRITE_OR_PRUNE = st.one_of(
    # (account, post ids, observation day) or a prune on a day
    st.tuples(
        st.sampled_from(["acme", "globo"]),
        st.lists(st.sampled_from("12345"), min_size=1, max_size=3),
        st.integers(min_value=0, max_value=120),
    ),
    st.integers(min_value=0, max_value=240),
)


# One store per test, carried from example to example: what is asserted holds of any store.
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(WRITE_OR_PRUNE, min_size=1, max_size=12))
def test_prune_deletes_exactly_the_posts_last_observed_before_the_cutoff(
    stores: Stores, steps: list[tuple[str, list[str], int] | int]
) -> None:
    with stores.open(retention_days=30) as history:
        history.begin_run("r", "cfg", "0.1.0", T0 + 1000 * DAY)  # never pruned: posts only
        for step in steps:
            if isinstance(step, int):
                now = T0 + step * DAY
                cutoff = store_encoding._to_us(now - history.retention)
                expected = history._db.execute(
                    "SELECT count(*) FROM posts WHERE last_observed_at < ?", (cutoff,)
                ).fetchone()[0]
                assert history.prune(now) == expected
                assert (
                    history._db.execute(
                        "SELECT count(*) FROM posts WHERE last_observed_at < ?", (cutoff,)
                    ).fetchone()[0]
                    == 0
                )
            else:
                account, ids, day = step
                at = T0 + day * DAY
                posts = [post(i) for i in ids]
                history.record_account("r", "x", account, "ok", at, posts, [], observed_now=at)
        # Every account's bound is at most its oldest post's last_observed_at.
        assert not history._db.execute(
            "SELECT 1 FROM accounts AS a JOIN posts AS p ON p.account_id = a.id"
            " WHERE p.last_observed_at < a.posts_since"
        ).fetchall()


def test_finding_rows_are_in_uid_order_and_a_repeated_uid_keeps_its_last_finding() -> None:
    from auditor.store.encoding import _finding_rows

    def record(uid: str, message: str) -> FindingRecord:
        return FindingRecord(uid, "RSP001", "high", message, f"post-{uid}")

    unique = [record(uid, f"m{uid}") for uid in ("c3", "a1", "b2")]
    assert _finding_rows(iter(unique)) == [
        ("a1", "RSP001", "high", "ma1", "post-a1"),
        ("b2", "RSP001", "high", "mb2", "post-b2"),
        ("c3", "RSP001", "high", "mc3", "post-c3"),
    ]
    repeated = [*unique, record("a1", "again"), record("c3", "last"), record("a1", "final")]
    assert _finding_rows(iter(repeated)) == [
        ("a1", "RSP001", "high", "final", "post-a1"),
        ("b2", "RSP001", "high", "mb2", "post-b2"),
        ("c3", "RSP001", "high", "last", "post-c3"),
    ]
    assert _finding_rows(iter([])) == []


# --- schema 5: retention by the wall clock's last observation -------------------------------


def last_observed(history: HistoryStore, post_id: str) -> int:
    row = history._db.execute(
        "SELECT last_observed_at FROM posts WHERE post_id = ?", (post_id,)
    ).fetchone()
    return cast(int, row[0])


def test_last_observed_at_moves_with_the_wall_clock_to_the_hour(history: HistoryStore) -> None:
    """A rerun within the hour writes nothing; a later one moves the post's last observation,
    never its data-time fields."""
    to_us = store_encoding._to_us
    wall = T0 + 400 * DAY
    history.begin_run("r", "cfg", "0.1.0", wall)
    history.record_account("r", "x", "acme", "ok", T0, [post("1")], [], observed_now=wall)
    assert last_observed(history, "1") == to_us(wall)
    later = wall + timedelta(minutes=59)
    history.record_account("r", "x", "acme", "ok", T0, [post("1")], [], observed_now=later)
    assert last_observed(history, "1") == to_us(wall)
    later = wall + timedelta(hours=2)
    history.record_account("r", "x", "acme", "ok", T0, [post("1")], [], observed_now=later)
    assert last_observed(history, "1") == to_us(later)
    # An older wall-clock reading never moves it back.
    history.record_fetch("x", "acme", T0, [kept("1")], observed_now=wall)
    assert last_observed(history, "1") == to_us(later)
    seen = history.previous_posts("x", "acme", T0 + DAY)["1"]
    assert seen.first_seen == seen.last_seen == T0


def test_prune_goes_by_the_last_observation_in_every_account(history: HistoryStore) -> None:
    wall = T0 + 400 * DAY
    history.begin_run("r", "cfg", "0.1.0", wall)
    # Dated long before the retention, observed at ``wall``: kept for the whole period.
    history.record_account("r", "x", "acme", "ok", T0, [post("1")], [], observed_now=wall)
    # Dated at ``wall``, but last observed a retention and a day before it: deleted.
    stale = wall - history.retention - DAY
    history.record_fetch("x", "gone", wall, [kept("7")], observed_now=stale)
    history.record_fetch(
        "x", "gone", wall, [], [FetchedConversation("c1", wall, "{}")], observed_now=stale
    )
    assert history.prune(wall) == 2
    assert set(history.previous_posts("x", "acme", wall + DAY)) == {"1"}
    assert history.fetched_posts("x", "gone", T0) == []
    assert history.fetched_conversations("x", "gone", T0) == []


# --- runs renamed, accounts forgotten, reports kept (what `auditor report` and the engine use) -


def test_a_renamed_run_replaces_the_one_under_its_new_key(history: HistoryStore) -> None:
    audit(history, "old-key", T0, [post("1")], [finding("a")])
    audit(history, "new-key", T0 - DAY, [post("2")], [finding("stale")])
    history.rename_run("old-key", "new-key")
    assert [run.run_key for run in history.runs()] == ["new-key"]
    assert history.previous_finding_uids("x", "acme") == {"a"}
    assert history.run_keys("new") == ["new-key"] and history.run_keys("old") == []


def test_forgotten_accounts_lose_their_rows_in_that_run_only(history: HistoryStore) -> None:
    history.begin_run("r1", "cfg-1", "0.1.0", T0)
    for account in ("acme", "globo"):
        report = AccountReport(0 if account == "acme" else 1, f'{{"a":"{account}"}}'.encode())
        history.record_account(
            "r1", "x", account, "ok", T0, [post("1")], [finding(account)], T0, report
        )
    history.forget_accounts("r1", [("x", "globo")])
    history.finish_run("r1", T0 + DAY, "ok", b'{"run":1}')
    assert history.previous_finding_uids("x", "acme") == {"acme"}
    assert history.previous_finding_uids("x", "globo") == set()
    assert set(history.previous_posts("x", "globo", T0 + DAY)) == {"1"}  # it was read
    stored = history.run_report("r1")
    assert stored is not None and stored.run == b'{"run":1}'
    assert stored.accounts == [b'{"a":"acme"}']
    (summary,) = history.run_summaries()
    assert (summary.run_key, summary.status, summary.reports_kept, summary.accounts) == (
        "r1",
        "ok",
        True,
        1,
    )


def test_the_audit_trend_is_the_accounts_earlier_audits_oldest_first(
    history: HistoryStore,
) -> None:
    for week in range(3):
        key, at = f"w{week}", T0 + week * 7 * DAY
        history.begin_run(key, "cfg-1", "0.1.0", at)
        report = AccountReport(0, b"{}", tracked=f'{{"week":{week}}}')
        history.record_account(key, "x", "acme", "ok", at, [], [finding(key)], at, report)
        history.finish_run(key, at + DAY, "interrupted" if week == 1 else "ok")
    trend = history.audit_trend("x", "acme", "w2", T0 + 14 * DAY)
    assert [(row.run_key, row.tracked) for row in trend] == [("w0", '{"week":0}')]
    previous = history.previous_audit("x", "acme", "w2", T0 + 14 * DAY)
    assert previous is not None and [f.uid for f in previous.findings] == ["w0"]
