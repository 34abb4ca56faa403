"""The send log: when refmail's mail went, read by the caps (per contact, in a window) and the
account's hourly budget. Reads only; refmail.outbox writes the rows it counts.

The windows are configured in `[caps]` (`windows`: at most N mails in D days per person;
`min_gap_hours`) and `[accounts.smtp] max_per_hour`; refmail.policy and refmail.batch decide from
what these return.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from refmail import kinds
from refmail import models as m

TO_OWNER = tuple(k.name for k in kinds.KINDS if k.to_owner)


def sent_to(
    session: Session, contact_id: int, since: datetime, exclude_id: int = 0
) -> tuple[datetime, ...]:
    """When refmail's mail to this contact went, since `since`: what the per-person caps count.

    A draft counts when the owner sent it, once reconciliation saw that, and when it was made
    until then (they will most likely send it); a claim by another worker counts too; a draft
    the owner dismissed or refmail withdrew counts not at all (its budget is returned), nor
    does a reminder to the owner about them (TO_OWNER).
    """
    rows = session.scalars(
        select(_SENT_AT).where(
            m.FollowUp.contact_id == contact_id, m.FollowUp.id != exclude_id, *_sent_since(since)
        )
    )
    return tuple(s for s in rows if s is not None and s > since)


def sent_to_many(
    session: Session, contact_ids: Iterable[int], since: datetime
) -> dict[int, list[datetime]]:
    """`sent_to` for many contacts in one query: each contact's send times since `since`
    (contacts with none are absent)."""
    ids = sorted(set(contact_ids))
    out: dict[int, list[datetime]] = defaultdict(list)
    if not ids:
        return out
    rows = session.execute(
        select(m.FollowUp.contact_id, _SENT_AT).where(
            m.FollowUp.contact_id.in_(ids), *_sent_since(since)
        )
    )
    for contact_id, at in rows:
        if at is not None and at > since:
            out[contact_id].append(at)
    return out


_SENT_AT = func.coalesce(m.FollowUp.sent_at, m.FollowUp.delivered_at, m.FollowUp.claimed_at)


def _sent_since(since: datetime) -> tuple[ColumnElement[bool], ...]:
    # Spelled so that (contact_id, delivered_at) serves it: see bench/policy_throughput.py.
    return (
        m.FollowUp.state.not_in(m.UNSENT_STATES),
        m.FollowUp.kind.not_in(TO_OWNER),
        or_(
            m.FollowUp.delivered_at > since,
            m.FollowUp.sent_at > since,
            and_(m.FollowUp.state == "delivering", m.FollowUp.claimed_at > since),
        ),
    )


def sent_by_account(
    session: Session,
    account_id: int,
    channels: Sequence[str],
    claimable_kinds: Iterable[str],
    since: datetime,
) -> list[datetime]:
    """When this account itself sent mail since `since` (delivered through one of `channels`,
    or claimed now for one of `claimable_kinds`): what the hourly send budget counts."""
    sent_at = func.coalesce(m.FollowUp.delivered_at, m.FollowUp.claimed_at)
    return sorted(
        session.scalars(
            select(sent_at).where(
                m.FollowUp.account_id == account_id,
                or_(
                    and_(m.FollowUp.channel.in_(channels), m.FollowUp.delivered_at > since),
                    and_(
                        m.FollowUp.state == "delivering",
                        m.FollowUp.kind.in_(list(claimable_kinds)),
                        m.FollowUp.claimed_at > since,
                    ),
                ),
            )
        )
    )
