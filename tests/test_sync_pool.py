"""Whole messages read in worker processes (refmail.readers, issue 15), on SQLite and PostgreSQL,
from a real Maildir of generated mail: the pool records exactly what reading in the syncing
process records, in the same order; a message that kills its worker is recorded malformed and
costs only itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail import readers as readers_module
from refmail.db import SessionFactory, make_engine, migrate, session_factory
from tests.support import crashing
from tests.support.mailbox import referral
from tests.support.maildir_sync import fill, run
from tests.support.mailgen import SHAPES, MailGenerator


def snapshot(factory: SessionFactory) -> dict[str, list[tuple[Any, ...]]]:
    """What sync wrote, in insertion order, without the columns that name rows by number."""
    with factory() as session:
        return {
            "messages": [
                tuple(r)
                for r in session.execute(
                    select(
                        m.MessageRecord.message_id,
                        m.MessageRecord.kind,
                        m.MessageRecord.rule,
                        m.MessageRecord.reason,
                    ).order_by(m.MessageRecord.id)
                )
            ],
            "introductions": [
                tuple(r)
                for r in session.execute(
                    select(m.MessageRecord.message_id, m.Introduction.verified)
                    .join(m.Introduction, m.Introduction.message_pk == m.MessageRecord.id)
                    .order_by(m.Introduction.id)
                )
            ],
            "follow_ups": [
                tuple(r)
                for r in session.execute(
                    select(
                        m.FollowUp.kind, m.FollowUp.state, m.FollowUp.due_at, m.FollowUp.reason
                    ).order_by(m.FollowUp.id)
                )
            ],
            "contacts": [
                tuple(r) for r in session.execute(select(m.Contact.email).order_by(m.Contact.id))
            ],
        }


def submissions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the messages handed to the pool."""
    seen: list[int] = []
    real: Callable[..., Any] = readers_module.Readers.submit

    def submit(self, *args):  # type: ignore[no-untyped-def]
        seen.append(1)
        return real(self, *args)

    monkeypatch.setattr(readers_module.Readers, "submit", submit)
    return seen


def test_the_pool_records_what_reading_here_records(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = MailGenerator(160, 3, owner_share=0.8, signatures=True, shapes=SHAPES)
    root = tmp_path / "md"
    fill(root, list(gen.messages()))
    pooled = submissions(monkeypatch)
    monkeypatch.setattr(readers_module, "POOL_FROM", 1)
    in_pool, _ = run(factory, root, batch_size=60)
    assert pooled, "the pool read nothing"

    here_engine = make_engine(f"sqlite:///{tmp_path / 'here.db'}")
    migrate(here_engine)
    here_factory = session_factory(here_engine)
    monkeypatch.setattr(readers_module, "POOL_FROM", 10**9)
    pooled.clear()
    at_home, _ = run(here_factory, root, batch_size=60)
    assert not pooled
    try:
        assert in_pool.introductions == len(gen.introductions) > 0
        assert (in_pool.recorded, in_pool.candidates, in_pool.follow_ups, in_pool.malformed) == (
            at_home.recorded,
            at_home.candidates,
            at_home.follow_ups,
            at_home.malformed,
        )
        assert snapshot(factory) == snapshot(here_factory)
    finally:
        here_engine.dispose()


def test_a_message_that_kills_its_worker_costs_only_itself(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail = [referral(f"pool{i}") for i in range(6)]
    doomed_id, doomed = mail[2]
    mail[2] = (doomed_id, crashing.MARK + doomed)
    fill(tmp_path / "md", [raw for _, raw in mail])
    monkeypatch.setattr(readers_module, "POOL_FROM", 1)
    monkeypatch.setattr(readers_module, "read_message", crashing.read_or_die)
    report, _ = run(factory, tmp_path / "md")
    assert (report.scanned, report.malformed, report.introductions) == (6, 1, 5)
    with factory() as session:
        rows = {
            message_id: (kind, reason)
            for message_id, kind, reason in session.execute(
                select(m.MessageRecord.message_id, m.MessageRecord.kind, m.MessageRecord.reason)
            )
        }
    assert rows[doomed_id][0] == "malformed" and "WorkerCrashed" in rows[doomed_id][1]
    assert all(rows[message_id][0] == "introduction" for message_id, _ in mail[:2] + mail[3:])
