"""Claims as leases: which follow-ups a dispatch has claimed and not confirmed, renewing them
while it works, and finding those a run that is gone left behind (refmail.dispatch says why
that keeps delivery exactly once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from refmail import models as m


@dataclass(frozen=True)
class Claim:
    """A follow-up claimed and not confirmed: what recovery needs to look for it."""

    id: int
    message_id: str
    kind: str
    claimed_at: datetime | None  # None: claimed before claims carried a time


def open_claims(session: Session, account_id: int) -> list[Claim]:
    """The account's claims, stale or not (one query); those not renewed for a lease were
    left behind by a run that is gone."""
    return [
        Claim(*row)
        for row in session.execute(
            select(
                m.FollowUp.id, m.FollowUp.message_id, m.FollowUp.kind, m.FollowUp.claimed_at
            ).where(m.FollowUp.account_id == account_id, m.FollowUp.state == "delivering")
        )
    ]


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
