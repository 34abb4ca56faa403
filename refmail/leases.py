"""Account leases for `refmail run --worker`: several processes (or machines) sharing one
database split the accounts between them, fairly, and take over the accounts of a worker that
died.

Every few seconds each worker, in one transaction: records its heartbeat; counts the workers
seen within the lease time; renews the leases it holds, gives back those over its fair share
(ceil(accounts / live workers)), and takes free or expired ones up to that share (`FOR UPDATE
SKIP LOCKED` on PostgreSQL, so two workers never take the same row; SQLite's write lock does the
same). A worker killed mid-batch loses nothing: sync and dispatch are idempotent and exactly-once
on their own, so the next holder simply carries on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from refmail import models as m


def claim(
    session: Session, worker: str, accounts: Sequence[str], ttl: timedelta, now: datetime
) -> set[str]:
    """Heartbeat, renew, rebalance; returns the accounts this worker holds until now + ttl."""
    _heartbeat(session, worker, now)
    _ensure_rows(session, accounts, now)
    live = session.scalar(select(func.count()).where(m.Worker.seen_at > now - ttl)) or 1
    share = math.ceil(len(accounts) / live)
    held = sorted(
        session.scalars(
            select(m.AccountLease.account)
            .where(
                m.AccountLease.worker == worker,
                m.AccountLease.expires_at > now,
                m.AccountLease.account.in_(accounts),
            )
            .with_for_update()
        )
    )
    keep, give_back = held[:share], held[share:]
    if give_back:  # over my share: free them now for a worker with fewer
        session.execute(
            update(m.AccountLease)
            .where(m.AccountLease.account.in_(give_back))
            .values(expires_at=now)
        )
    wanted = share - len(keep)
    taken: list[str] = []
    if wanted > 0:
        taken = list(
            session.scalars(
                select(m.AccountLease.account)
                .where(
                    m.AccountLease.account.in_(accounts),
                    or_(m.AccountLease.expires_at <= now, m.AccountLease.worker == worker),
                    m.AccountLease.account.not_in(keep),
                )
                .order_by(m.AccountLease.account)
                .limit(wanted)
                .with_for_update(skip_locked=True)
            )
        )
    mine = keep + taken
    if mine:
        session.execute(
            update(m.AccountLease)
            .where(m.AccountLease.account.in_(mine))
            .values(worker=worker, expires_at=now + ttl)
        )
    return set(mine)


def release(session: Session, worker: str, now: datetime) -> None:
    """A clean stop: hand every account back at once and leave the count of live workers."""
    session.execute(
        update(m.AccountLease).where(m.AccountLease.worker == worker).values(expires_at=now)
    )
    session.execute(delete(m.Worker).where(m.Worker.id == worker))


def _heartbeat(session: Session, worker: str, now: datetime) -> None:
    row = session.get(m.Worker, worker)
    if row is None:
        session.add(m.Worker(id=worker, seen_at=now))
    else:
        row.seen_at = now
    session.flush()


def _ensure_rows(session: Session, accounts: Sequence[str], now: datetime) -> None:
    known = set(
        session.scalars(select(m.AccountLease.account).where(m.AccountLease.account.in_(accounts)))
    )
    for name in accounts:
        if name not in known:
            session.add(m.AccountLease(account=name, worker="", expires_at=now))
    session.flush()
