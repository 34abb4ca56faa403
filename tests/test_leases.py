"""Account leases: workers split the accounts fairly, renew what they hold, and take over the
accounts of a worker that stopped renewing (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from refmail import leases
from refmail.db import SessionFactory, transaction

TTL = timedelta(seconds=30)
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ACCOUNTS = [f"acct{i:02d}" for i in range(10)]


def claim(factory: SessionFactory, worker: str, at: datetime) -> set[str]:
    with transaction(factory) as session:
        return leases.claim(session, worker, ACCOUNTS, TTL, at)


def test_one_worker_takes_everything_and_keeps_it_while_it_renews(
    factory: SessionFactory,
) -> None:
    assert claim(factory, "w1", T0) == set(ACCOUNTS)
    assert claim(factory, "w1", T0 + TTL / 2) == set(ACCOUNTS)


def test_a_second_worker_gets_a_fair_share_without_overlap(factory: SessionFactory) -> None:
    claim(factory, "w1", T0)
    first_b = claim(factory, "w2", T0 + timedelta(seconds=1))  # w1 still holds all
    assert first_b == set()
    a = claim(factory, "w1", T0 + timedelta(seconds=2))  # sees two live workers: gives half back
    b = claim(factory, "w2", T0 + timedelta(seconds=3))
    assert len(a) == 5 and len(b) == 5 and not a & b and a | b == set(ACCOUNTS)
    assert claim(factory, "w1", T0 + timedelta(seconds=4)) == a  # stable once balanced


def test_the_accounts_of_a_dead_worker_are_taken_over_after_its_lease(
    factory: SessionFactory,
) -> None:
    claim(factory, "w1", T0)
    claim(factory, "w2", T0 + timedelta(seconds=1))
    claim(factory, "w1", T0 + timedelta(seconds=2))
    b = claim(factory, "w2", T0 + timedelta(seconds=3))
    assert len(b) == 5
    # w1 dies. Before its leases run out, w2 may not take them; after, it takes them all.
    assert claim(factory, "w2", T0 + timedelta(seconds=20)) == b
    assert claim(factory, "w2", T0 + TTL + timedelta(seconds=3)) == set(ACCOUNTS)


def test_a_clean_stop_hands_the_accounts_over_at_once(factory: SessionFactory) -> None:
    claim(factory, "w1", T0)
    claim(factory, "w2", T0 + timedelta(seconds=1))
    claim(factory, "w1", T0 + timedelta(seconds=2))
    claim(factory, "w2", T0 + timedelta(seconds=3))
    with transaction(factory) as session:
        leases.release(session, "w1", T0 + timedelta(seconds=4))
    assert claim(factory, "w2", T0 + timedelta(seconds=5)) == set(ACCOUNTS)
