"""Claims as leases: which follow-ups a dispatch has claimed and not confirmed, renewing them
while it works, and finding those a run that is gone left behind (refmail.dispatch says why
that keeps delivery exactly once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from refmail import models as m


def stale(session: Session, account_id: int, older_than: datetime) -> list[m.FollowUp]:
    """Claims not renewed since before `older_than`: left behind by a run that is gone."""
    return list(
        session.scalars(
            select(m.FollowUp).where(
                m.FollowUp.account_id == account_id,
                m.FollowUp.state == "delivering",
                m.FollowUp.claimed_at < older_than,
            )
        )
    )


def held(session: Session, account_id: int) -> int:
    """How many of the account's follow-ups are claimed, stale or not."""
    count = select(func.count()).where(
        m.FollowUp.account_id == account_id, m.FollowUp.state == "delivering"
    )
    return session.scalar(count) or 0


def renew(session: Session, claims: Sequence[tuple[int, int]], now: datetime) -> set[int]:
    """Extend the lease of claims (follow-up id, attempt number as claimed) still held as they
    were taken, in one UPDATE; returns their ids. One recovered by another process meanwhile
    (reopened, confirmed, or claimed again under a new attempt number) is not renewed."""
    if not claims:
        return set()
    return set(
        session.scalars(
            update(m.FollowUp)
            .where(
                m.FollowUp.state == "delivering",
                tuple_(m.FollowUp.id, m.FollowUp.attempts).in_(list(claims)),
            )
            .values(claimed_at=now)
            .returning(m.FollowUp.id)
            .execution_options(synchronize_session=False)
        )
    )
