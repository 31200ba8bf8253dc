"""The run ledger (auditor/store/ledger.py): claims, leases, finishing, finalize exactly once,
what a requeue finds; every time handed in (an injected clock). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from auditor.store.history import HistoryStore, StoreError
from auditor.store.ledger import AccountOutcome, Expired, PlannedAccount

from store_support import Stores, stores

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
ACCOUNTS = [
    PlannedAccount("acme", "x", "AcmeHelp"),
    PlannedAccount("acme", "mastodon", "acme@social.example"),
    PlannedAccount("globex", "x", "GlobexCares"),
]


__all__ = ["stores"]  # the fixture: every test runs on each kind of store


@pytest.fixture
def store(stores: Stores) -> Iterator[HistoryStore]:
    with stores.open() as opened:
        opened.plan_run("run1", ACCOUNTS, T0, deliver_by=T0 + LEASE, clients=["acme", "globex"])
        yield opened


def test_a_planned_run_has_every_account_queued(store: HistoryStore) -> None:
    rows = store.ledger("run1")
    assert [(r.client, r.platform, r.account, r.state, r.attempts) for r in rows] == [
        ("acme", "mastodon", "acme@social.example", "queued", 0),
        ("acme", "x", "AcmeHelp", "queued", 0),
        ("globex", "x", "GlobexCares", "queued", 0),
    ]
    run = store.ledger_run("run1")
    assert run is not None and run.clients == ["acme", "globex"] and run.planned_at == T0
    assert not run.finalized
    with pytest.raises(StoreError, match="planned already"):
        store.plan_run("run1", ACCOUNTS, T0, deliver_by=T0)


def test_one_worker_claims_an_account_and_a_second_is_refused(store: HistoryStore) -> None:
    first = store.claim_account("run1", "x", "AcmeHelp", "w1", T0 + LEASE, T0)
    assert first is not None and first.attempt == 1 and first.client == "acme"
    assert store.claim_account("run1", "x", "AcmeHelp", "w2", T0 + LEASE, T0) is None
    assert store.claim_account("run1", "x", "NoSuch", "w2", T0 + LEASE, T0) is None


def test_an_expired_lease_is_taken_over_and_the_dead_holder_cannot_finish(
    store: HistoryStore,
) -> None:
    assert store.claim_account("run1", "x", "AcmeHelp", "w1", T0 + LEASE, T0) is not None
    later = T0 + LEASE + timedelta(seconds=1)
    taken = store.claim_account("run1", "x", "AcmeHelp", "w2", later + LEASE, later)
    assert taken is not None and taken.attempt == 2
    assert not store.finish_account("run1", "x", "AcmeHelp", "w1", "done", later)
    assert store.finish_account("run1", "x", "AcmeHelp", "w2", "done", later)
    (row,) = [r for r in store.ledger("run1") if r.account == "AcmeHelp"]
    assert (row.state, row.worker, row.attempts, row.finished_at) == ("done", "w2", 2, later)


def test_renewal_keeps_the_lease_and_only_its_holder_renews(store: HistoryStore) -> None:
    store.claim_account("run1", "x", "AcmeHelp", "w1", T0 + LEASE, T0)
    assert store.renew("run1", "x", "AcmeHelp", "w1", T0 + 3 * LEASE)
    assert not store.renew("run1", "x", "AcmeHelp", "w2", T0 + 5 * LEASE)
    at = T0 + 2 * LEASE
    assert store.claim_account("run1", "x", "AcmeHelp", "w2", at + LEASE, at) is None
    # A renewal never shortens the lease.
    assert store.renew("run1", "x", "AcmeHelp", "w1", T0)
    (row,) = [r for r in store.ledger("run1") if r.account == "AcmeHelp"]
    assert row.lease_until == T0 + 3 * LEASE


def test_a_finished_account_is_never_claimed_again(store: HistoryStore) -> None:
    store.claim_account("run1", "x", "AcmeHelp", "w1", T0 + LEASE, T0)
    outcome = AccountOutcome("fetch: 503", "bundles/x.jsonl", "ab" * 32, '{"a": 1}')
    assert store.finish_account(
        "run1", "x", "AcmeHelp", "w1", "failed", T0, "boom\nsecond line", outcome
    )
    far = T0 + 100 * LEASE
    assert store.claim_account("run1", "x", "AcmeHelp", "w2", far, far) is None
    (row,) = [r for r in store.ledger("run1") if r.account == "AcmeHelp"]
    assert row.state == "failed" and row.error == "boom\\x0asecond line"
    assert row.outcome == outcome
    with pytest.raises(StoreError, match="done or failed"):
        store.finish_account("run1", "x", "AcmeHelp", "w1", "queued", T0)  # type: ignore[arg-type]


def _finish_all(store: HistoryStore) -> None:
    for account in ACCOUNTS:
        assert store.claim_account("run1", account.platform, account.account, "w", T0 + LEASE, T0)
        assert store.finish_account("run1", account.platform, account.account, "w", "done", T0)


def test_the_ledger_is_complete_when_every_account_is_finished(store: HistoryStore) -> None:
    assert not store.ledger_complete("run1")
    assert not store.ledger_complete("no-such-run")
    assert not store.claim_finalize("run1", "f1", T0 + LEASE, T0)
    _finish_all(store)
    assert store.ledger_complete("run1")
    progress = store.open_ledgers()
    assert [(p.run_key, p.total, p.done, p.failed) for p in progress] == [("run1", 3, 3, 0)]


def test_finalize_is_claimed_exactly_once(store: HistoryStore, stores: Stores) -> None:
    _finish_all(store)
    with stores.open() as other:
        claims = [
            store.claim_finalize("run1", "f1", T0 + LEASE, T0),
            other.claim_finalize("run1", "f2", T0 + LEASE, T0),
        ]
    assert claims == [True, False]
    assert not store.finish_finalize("run1", "f2", T0)
    assert store.finish_finalize("run1", "f1", T0)
    far = T0 + 100 * LEASE
    assert not store.claim_finalize("run1", "f3", far + LEASE, far)
    assert store.open_ledgers() == []
    run = store.ledger_run("run1")
    assert run is not None and run.finalized


def test_a_dead_finalizer_is_taken_over_after_its_claim_expires(store: HistoryStore) -> None:
    _finish_all(store)
    assert store.claim_finalize("run1", "f1", T0 + LEASE, T0)
    assert not store.claim_finalize("run1", "f2", T0 + 2 * LEASE, T0 + LEASE / 2)
    later = T0 + LEASE + timedelta(seconds=1)
    assert store.claim_finalize("run1", "f2", later + LEASE, later)
    assert not store.finish_finalize("run1", "f1", later)


def test_a_requeue_finds_expired_leases_undelivered_tasks_and_lost_finalizes(
    store: HistoryStore,
) -> None:
    store.claim_account("run1", "x", "AcmeHelp", "w1", T0 + 2 * LEASE, T0)
    assert store.expired_leases(T0, T0 + LEASE) == []
    # Past the delivery time: the two never claimed are due again, the claimed one is not.
    at = T0 + LEASE + timedelta(seconds=1)
    found = store.expired_leases(at, at + LEASE)
    assert found == [
        Expired("run1", "acme", "mastodon", "acme@social.example"),
        Expired("run1", "globex", "x", "GlobexCares"),
    ]
    # Given a new delivery time: the next requeue soon after finds nothing of them.
    assert store.expired_leases(at, at + LEASE) == []
    late = T0 + 2 * LEASE + timedelta(seconds=1)
    assert store.expired_leases(late, late + LEASE) == [Expired("run1", "acme", "x", "AcmeHelp")]
    # Every account finished, nobody finalized: the finalize is what is due.
    for platform, account in (
        ("x", "AcmeHelp"),
        ("mastodon", "acme@social.example"),
        ("x", "GlobexCares"),
    ):
        assert store.claim_account("run1", platform, account, "w2", late + LEASE, late)
        assert store.finish_account("run1", platform, account, "w2", "done", late)
    assert store.expired_leases(late, late + LEASE) == [Expired("run1", None, None, None)]


def test_times_must_be_timezone_aware(store: HistoryStore) -> None:
    naive = datetime(2026, 11, 16, 9, 0)
    with pytest.raises(StoreError, match="timezone-aware"):
        store.claim_account("run1", "x", "AcmeHelp", "w1", naive, T0)


def test_planning_nothing_is_refused(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="no accounts"):
        store.plan_run("run2", [], T0, T0)


def test_open_runs_of_a_client_until_finalized(store: HistoryStore) -> None:
    store.plan_run("run2", ACCOUNTS[:1], T0, T0 + LEASE, clients=None)
    assert store.open_runs_of("acme") == ["run1", "run2"]
    assert store.open_runs_of("globex") == ["run1", "run2"]
    assert store.open_runs_of("initech") == ["run2"]  # planned for every client
    _finish_all(store)
    assert store.claim_finalize("run1", "f", T0 + LEASE, T0)
    assert store.open_runs_of("globex") == ["run1", "run2"]  # a finalize under way is open
    assert store.finish_finalize("run1", "f", T0)
    assert store.open_runs_of("globex") == ["run2"]


def test_prune_removes_the_ledger_of_runs_planned_before_the_retention(
    store: HistoryStore,
) -> None:
    later = T0 + timedelta(days=30)
    store.plan_run("run2", ACCOUNTS[:1], later, later + LEASE, clients=["acme"])
    _finish_all(store)
    assert store.claim_finalize("run1", "f", T0 + LEASE, T0)
    store.mark_notified("run1", "acme")
    store.mark_notified("run1", "acme")  # marking twice is one mark
    assert store.notified_clients("run1") == {"acme"}
    # run1 (finalized) and run2 (still open) are both kept until the retention has passed.
    store.prune(T0 + store.retention - timedelta(seconds=1))
    assert store.ledger_run("run1") is not None
    store.prune(T0 + store.retention + timedelta(seconds=1))
    assert store.ledger_run("run1") is None
    assert store.ledger("run1") == [] and store.notified_clients("run1") == frozenset()
    assert store.ledger_run("run2") is not None and len(store.ledger("run2")) == 1
    store.prune(later + store.retention + timedelta(seconds=1))
    assert store.ledger_run("run2") is None and store.open_ledgers() == []
