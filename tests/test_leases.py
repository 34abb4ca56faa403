"""Account leases: workers split the accounts fairly, renew what they hold, and take over the
accounts of a worker that stopped renewing (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from refmail import leases
from refmail import models as m
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


def test_many_accounts_split_fairly_between_four_workers(factory: SessionFactory) -> None:
    accounts = [f"acct{i:03d}" for i in range(250)]
    workers = ["w1", "w2", "w3", "w4"]
    held: dict[str, set[str]] = {}
    for round_ in range(3):  # every worker's lease job runs a few times, one after the other
        for i, worker in enumerate(workers):
            at = T0 + timedelta(seconds=10 * round_ + i)
            with transaction(factory) as session:
                held[worker] = leases.claim(session, worker, accounts, TTL, at)
    sizes = sorted(len(h) for h in held.values())
    assert sizes == [61, 63, 63, 63]  # ceil(250 / 4) each, the last one the rest
    assert set().union(*held.values()) == set(accounts)
    assert sum(sizes) == len(accounts)  # no account held twice


def test_workers_starting_together_claim_without_errors(factory: SessionFactory) -> None:
    """Four workers' first claims at the same moment: each creates the missing lease rows
    (ON CONFLICT DO NOTHING), none fails, and no account ends up with two holders."""
    accounts = [f"acct{i:03d}" for i in range(200)]
    start = threading.Barrier(4)
    results: dict[str, set[str]] = {}
    errors: list[BaseException] = []

    def first_claim(worker: str) -> None:
        start.wait()
        try:
            with transaction(factory) as session:
                results[worker] = leases.claim(session, worker, accounts, TTL, T0)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=first_claim, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(len(h) for h in results.values()) == len(set().union(*results.values()))
    with factory() as session:
        rows = session.scalars(select(m.AccountLease.account)).all()
    assert sorted(rows) == accounts  # every row created once


def test_a_takeover_says_which_accounts_a_dead_worker_left(factory: SessionFactory) -> None:
    claim(factory, "w1", T0)
    claim(factory, "w2", T0 + timedelta(seconds=1))
    a = claim(factory, "w1", T0 + timedelta(seconds=2))
    claim(factory, "w2", T0 + timedelta(seconds=3))
    with transaction(factory) as session:  # w1 died: w2 takes its accounts when they expire
        later = leases.claim_round(session, "w2", ACCOUNTS, TTL, T0 + TTL + timedelta(seconds=3))
    assert later.held == set(ACCOUNTS) and later.expired_from == a


def test_accounts_handed_back_are_not_reported_as_left_by_a_dead_worker(
    factory: SessionFactory,
) -> None:
    claim(factory, "w1", T0)
    claim(factory, "w2", T0 + timedelta(seconds=1))
    with transaction(factory) as session:  # w1 gives half back to w2, live
        leases.claim(session, "w1", ACCOUNTS, TTL, T0 + timedelta(seconds=2))
    with transaction(factory) as session:
        taken = leases.claim_round(session, "w2", ACCOUNTS, TTL, T0 + timedelta(seconds=3))
    assert len(taken.held) == 5 and taken.expired_from == set()
    with transaction(factory) as session:  # then w1 stops cleanly
        leases.release(session, "w1", T0 + timedelta(seconds=4))
    with transaction(factory) as session:
        rest = leases.claim_round(session, "w2", ACCOUNTS, TTL, T0 + timedelta(seconds=5))
    assert rest.held == set(ACCOUNTS) and rest.expired_from == set()


def test_workers_gone_for_long_are_forgotten(factory: SessionFactory) -> None:
    claim(factory, "w1", T0)
    claim(factory, "w2", T0)
    later = T0 + leases.FORGET_AFTER_LEASES * TTL + timedelta(seconds=1)
    claim(factory, "w2", later)
    with factory() as session:
        assert session.scalars(select(m.Worker.id)).all() == ["w2"]
