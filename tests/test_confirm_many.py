"""outbox.confirm_many, set-based (issue 15): only rows still claimed are confirmed, each with
its own channel, digest and subject and one why-log entry; a row the session holds reads the
new state; the log line is the one `outbox.confirm` writes. SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail import outbox
from refmail.db import SessionFactory, transaction
from tests.support.due import NOW, build


def test_only_claimed_rows_are_confirmed_each_with_its_own_values(
    factory: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    build(factory, rows=3, contacts=3)
    with transaction(factory) as s:
        rows = list(s.scalars(select(m.FollowUp).order_by(m.FollowUp.id)))
        claimed = outbox.claim_many(s, rows[:2], NOW)  # the third stays planned
        ids = [r.id for r in rows]
    done = [
        outbox.Confirmation(ids[0], "file", "delivered", "to a", "d0", "S0"),
        outbox.Confirmation(ids[1], "drafts", "delivered", "to b", "d1", "S1"),
        outbox.Confirmation(ids[2], "file", "delivered", "to c", "d2", "S2"),
    ]
    assert len(claimed) == 2
    caplog.set_level(logging.INFO, logger="refmail.outbox")
    with transaction(factory) as s:
        held = s.get(m.FollowUp, ids[0])
        assert held is not None and held.state == "delivering"
        assert outbox.confirm_many(s, done, NOW) == 2
        assert held.state == "delivered"  # expired, read afresh
    with factory() as s:
        got = {
            r.id: (r.state, r.channel, r.body_digest, r.subject, r.delivered_at, r.reason)
            for r in s.scalars(select(m.FollowUp))
        }
        events = list(
            s.execute(
                select(m.FollowUpEvent.follow_up_id, m.FollowUpEvent.state, m.FollowUpEvent.reason)
                .where(m.FollowUpEvent.rule == "delivered")
                .order_by(m.FollowUpEvent.id)
            )
        )
    assert got[ids[0]] == ("delivered", "file", "d0", "S0", NOW, "")
    assert got[ids[1]] == ("delivered", "drafts", "d1", "S1", NOW, "")
    assert got[ids[2]][0] == "planned"
    assert [tuple(e) for e in events] == [
        (ids[0], "delivered", "to a"),
        (ids[1], "delivered", "to b"),
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "refmail.outbox"]
    assert any(f"#{ids[0]} double_intro to p0@example.org: delivered (file)" in x for x in lines)
    assert any(f"#{ids[1]} double_intro to p1@example.org: delivered (drafts)" in x for x in lines)
    assert not any(f"#{ids[2]} " in x for x in lines)


def test_nothing_claimed_changes_nothing(factory: SessionFactory) -> None:
    build(factory, rows=1, contacts=1)
    with transaction(factory) as s:
        row_id = s.scalars(select(m.FollowUp.id)).one()
        confirmation = outbox.Confirmation(row_id, "file", "delivered", "to a")
        assert outbox.confirm_many(s, [confirmation], NOW) == 0
        assert outbox.confirm_many(s, [], NOW) == 0
    with factory() as s:
        assert s.scalars(select(m.FollowUp.state)).one() == "planned"
