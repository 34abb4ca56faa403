"""outbox.confirm_many against a concurrent writer (PostgreSQL): a claimed row that another
transaction reopens while confirm_many runs is neither confirmed nor logged as delivered, and
a row it has read stays locked until its transaction ends (review of issue 15's set-based
confirm)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from refmail import models as m
from refmail import outbox
from refmail.db import SessionFactory, transaction
from tests.support.due import NOW, build


def _claimed(factory: SessionFactory) -> list[int]:
    build(factory, rows=2, contacts=2)
    with transaction(factory) as s:
        rows = list(s.scalars(select(m.FollowUp).order_by(m.FollowUp.id)))
        return [r.id for r in outbox.claim_many(s, rows, NOW)]


# Row locks are PostgreSQL's (SQLite takes its one write lock at BEGIN IMMEDIATE).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_row_reopened_meanwhile_is_not_confirmed(factory: SessionFactory) -> None:
    ids = _claimed(factory)
    done = [outbox.Confirmation(i, "file", "delivered", "r") for i in ids]
    other = factory()
    other.begin()
    # another transaction reopens the first claim, not yet committed
    other.execute(update(m.FollowUp).where(m.FollowUp.id == ids[0]).values(state="planned"))
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(_confirm(factory, done)), name="confirm")
    worker.start()
    worker.join(1.0)
    assert worker.is_alive()  # waits on the row lock
    other.commit()
    other.close()
    worker.join(10)
    assert result == [1]
    with factory() as s:
        states = {row[0]: row[1] for row in s.execute(select(m.FollowUp.id, m.FollowUp.state))}
        logged = list(
            s.scalars(
                select(m.FollowUpEvent.follow_up_id).where(m.FollowUpEvent.rule == "delivered")
            )
        )
    assert states == {ids[0]: "planned", ids[1]: "delivered"}
    assert logged == [ids[1]]


def _confirm(factory: SessionFactory, done: list[outbox.Confirmation]) -> int:
    with transaction(factory) as s:
        return outbox.confirm_many(s, done, NOW)
