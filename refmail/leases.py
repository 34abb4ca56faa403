"""Account leases for `refmail run --worker`: several processes (or machines) sharing one
database split the accounts between them, fairly, and take over the accounts of a worker that
died.

Every few seconds each worker, in one transaction: records its heartbeat; counts the workers
seen within the lease time (and forgets those gone for long); renews the leases it holds, gives
back those over its fair share (ceil(accounts / live workers)), and takes free or expired ones up
to that share (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never take the same row;
SQLite's write lock does the same). Each step is one set-based statement, whatever the number
of accounts, and a missing lease row is created with `ON CONFLICT DO NOTHING`, so two workers
starting together never fail on each other's rows. A worker killed mid-batch loses nothing: sync
and dispatch are idempotent and exactly-once on their own, so the next holder carries on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from refmail import models as m

# A worker not heard from for this many lease times is gone for good: its row is deleted (it
# no longer counts as live after one lease time already; this only keeps the table small).
FORGET_AFTER_LEASES = 10


@dataclass(frozen=True)
class Claim:
    """What one round of `claim` did: the accounts held now, and those it took over from a
    worker whose lease had run out (that worker died, or stalled: its claims are stale)."""

    held: frozenset[str]
    expired_from: frozenset[str]


def claim(
    session: Session, worker: str, accounts: Sequence[str], ttl: timedelta, now: datetime
) -> set[str]:
    """Heartbeat, renew, rebalance; returns the accounts this worker holds until now + ttl."""
    return set(claim_round(session, worker, accounts, ttl, now).held)


def claim_round(
    session: Session, worker: str, accounts: Sequence[str], ttl: timedelta, now: datetime
) -> Claim:
    """`claim`, also saying which accounts were taken from an expired lease of another worker."""
    live = _heartbeat(session, worker, ttl, now)
    wanted_set = set(accounts)
    rows = {
        account: (holder, expires)
        for account, holder, expires in session.execute(
            select(m.AccountLease.account, m.AccountLease.worker, m.AccountLease.expires_at)
        )
        if account in wanted_set
    }
    _ensure_rows(session, [a for a in accounts if a not in rows], now)
    share = math.ceil(len(accounts) / live)
    mine = sorted(a for a, (w, expires) in rows.items() if w == worker and expires > now)
    keep, give_back = mine[:share], mine[share:]
    if give_back:  # over my share: free them now for a worker with fewer
        session.execute(
            update(m.AccountLease)
            .where(m.AccountLease.worker == worker, m.AccountLease.account.in_(give_back))
            .values(worker="", expires_at=now)
        )
    held = _renew(session, worker, keep, ttl, now)
    taken = _take(session, worker, accounts, share - len(held), ttl, now)
    expired_from = {a for a, previous in taken.items() if previous not in ("", worker)}
    return Claim(frozenset(held | taken.keys()), frozenset(expired_from))


def release(session: Session, worker: str, now: datetime) -> None:
    """A clean stop: hand every account back at once and leave the count of live workers.
    The worker is cleared (as on a give-back): only a lease that ran out still naming its
    worker says that worker stopped without handing over (`Claim.expired_from`)."""
    session.execute(
        update(m.AccountLease)
        .where(m.AccountLease.worker == worker)
        .values(worker="", expires_at=now)
    )
    session.execute(delete(m.Worker).where(m.Worker.id == worker))


def _heartbeat(session: Session, worker: str, ttl: timedelta, now: datetime) -> int:
    """Record that `worker` is alive; forget long-gone workers; return how many are live."""
    insert = _insert(session)
    stmt = insert(m.Worker).values(id=worker, seen_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=[m.Worker.id], set_={"seen_at": now}))
    seen = list(session.execute(select(m.Worker.id, m.Worker.seen_at)))
    gone = [w for w, at in seen if at <= now - FORGET_AFTER_LEASES * ttl]
    if gone:
        session.execute(delete(m.Worker).where(m.Worker.id.in_(gone)))
    return max(sum(1 for w, at in seen if at > now - ttl), 1)


def _ensure_rows(session: Session, missing: Sequence[str], now: datetime) -> None:
    """Lease rows for new accounts; a row another worker creates meanwhile is simply kept."""
    if not missing:
        return
    insert = _insert(session)
    session.execute(
        insert(m.AccountLease)
        .values([{"account": a, "worker": "", "expires_at": now} for a in missing])
        .on_conflict_do_nothing(index_elements=[m.AccountLease.account])
    )


def _renew(
    session: Session, worker: str, keep: Sequence[str], ttl: timedelta, now: datetime
) -> set[str]:
    """Extend the leases still held; the WHERE is checked again under the row lock, so a lease
    another worker took meanwhile is not taken back."""
    if not keep:
        return set()
    return set(
        session.scalars(
            update(m.AccountLease)
            .where(
                m.AccountLease.account.in_(keep),
                m.AccountLease.worker == worker,
                m.AccountLease.expires_at > now,
            )
            .values(expires_at=now + ttl)
            .returning(m.AccountLease.account)
        )
    )


def _take(
    session: Session,
    worker: str,
    accounts: Sequence[str],
    wanted: int,
    ttl: timedelta,
    now: datetime,
) -> dict[str, str]:
    """Take up to `wanted` free or expired leases, skipping rows another worker is taking;
    returns each account taken with the worker that held it before ("" when it was free)."""
    if wanted <= 0:
        return {}
    free = (
        select(m.AccountLease.account, m.AccountLease.worker)
        .where(m.AccountLease.account.in_(accounts), m.AccountLease.expires_at <= now)
        .order_by(m.AccountLease.account)
        .limit(wanted)  # the leases just renewed are not expired: none of them comes back
        .with_for_update(skip_locked=True)
    )
    chosen: dict[str, str] = {a: w for a, w in session.execute(free)}
    if not chosen:
        return {}
    taken = set(
        session.scalars(
            update(m.AccountLease)
            .where(m.AccountLease.account.in_(chosen), m.AccountLease.expires_at <= now)
            .values(worker=worker, expires_at=now + ttl)
            .returning(m.AccountLease.account)
        )
    )
    return {a: w for a, w in chosen.items() if a in taken}


def _insert(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both PostgreSQL and SQLite do)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
