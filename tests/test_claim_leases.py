"""Dispatch claims are short leases, renewed while their holder works (issue 15), on SQLite and
PostgreSQL, to the real file channel:

- a run that dies leaves its claims; they are left alone until they have gone a claim lease
  without renewal, then recovered (each delivered once: found on the shelf, or written now);
- a long run renews its claims, so they never look stale while it works;
- a claim that another process recovered meanwhile (possible only if the holder lost its
  dispatch lock and lived on) is not delivered by its first holder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from refmail import dispatch as dispatch_module
from refmail import models as m
from refmail.clock import FixedClock
from refmail.db import SessionFactory, transaction
from refmail.dispatch import DispatchReport, Rules, dispatch
from refmail.filedrop import FileDrafts
from refmail.render import Renderer
from tests.support.due import ACCOUNT, NOW, OPEN, Crash, build, on_shelf, states

TTL = timedelta(seconds=6)  # renewed every 2 s of the clock


class Ticking(FileDrafts):
    """Each delivery takes a second of the clock; `after(n)` runs after the n-th draft written
    (dispatch stages a file channel's drafts and settles them before it confirms)."""

    def __init__(self, directory: Path, clock: FixedClock, after=None) -> None:
        super().__init__(directory)
        self.clock, self.after, self.puts = clock, after, 0

    def stage(self, message: bytes, message_id: str, recipients=()) -> None:
        super().stage(message, message_id, recipients)
        self.puts += 1
        self.clock.advance(seconds=1)
        if self.after is not None:
            self.after(self.puts)


def run(factory: SessionFactory, shelf: FileDrafts, clock: FixedClock) -> DispatchReport:
    return dispatch(
        factory, ACCOUNT, lambda kind: shelf, Renderer(), clock, rules=Rules(OPEN), claim_ttl=TTL
    )


def claimed_at(factory: SessionFactory) -> list[datetime]:
    with factory() as s:
        return list(
            s.scalars(select(m.FollowUp.claimed_at).where(m.FollowUp.state == "delivering"))
        )


def test_claims_of_a_dead_run_are_renewed_while_it_works_and_recovered_a_lease_after(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(factory, rows=30, contacts=30)
    directory = tmp_path / "drafts"
    clock = FixedClock(NOW)

    def die(puts: int) -> None:
        if puts == 12:  # the 12th draft is written; the process dies before confirming it
            raise Crash

    # A hard crash confirms nothing after its last renewal (renewals confirm what came before).
    monkeypatch.setattr(dispatch_module, "_confirm_many", lambda *a, **k: None)
    with pytest.raises(Crash):
        run(factory, Ticking(directory, clock, die), clock)
    monkeypatch.undo()
    died = clock()
    assert died == NOW + timedelta(seconds=12)
    left = claimed_at(factory)
    # Renewed as it worked (last at the 10th second: every 2 s), not left at the claim's time.
    assert len(left) > 18 and {stamp.replace(tzinfo=None) for stamp in left} == {
        (NOW + timedelta(seconds=10)).replace(tzinfo=None)
    }
    written = len(on_shelf(directory))
    assert written == 12

    # Within a lease of the last renewal, the claims may still be someone's: left alone.
    early = run(factory, FileDrafts(directory), FixedClock(died + TTL / 2))
    assert early.recovered == 0 and early.delivered == [] and early.waiting == len(left)

    later = run(factory, FileDrafts(directory), FixedClock(died + TTL))
    assert later.recovered == len(left) and later.waiting == 0
    ids = on_shelf(directory)
    assert len(ids) == len(set(ids)) == 30  # the drafts written before the crash: not again
    assert states(factory) == {"delivered": 30}


def test_a_claim_recovered_by_another_process_is_not_delivered_by_its_first_holder(
    factory: SessionFactory, tmp_path: Path
) -> None:
    build(factory, rows=10, contacts=10)
    directory = tmp_path / "drafts"
    clock = FixedClock(NOW)
    with factory() as s:
        taken_id, taken_mid = s.execute(
            select(m.FollowUp.id, m.FollowUp.message_id).order_by(m.FollowUp.id.desc()).limit(1)
        ).one()

    def steal(puts: int) -> None:
        """After the first put: as if this run had lost its lock, another process finds the
        last claim stale, reopens it and claims it again (a new attempt)."""
        if puts == 1:
            with transaction(factory) as s:
                s.execute(
                    update(m.FollowUp)
                    .where(m.FollowUp.id == taken_id)
                    .values(state="delivering", attempts=m.FollowUp.attempts + 1)
                )

    report = run(factory, Ticking(directory, clock, steal), clock)
    assert len(report.delivered) == 9
    assert taken_mid not in on_shelf(directory)  # left to the process that holds it now
    with factory() as s:
        row = s.get(m.FollowUp, taken_id)
        assert row is not None and (row.state, row.attempts) == ("delivering", 2)
    assert states(factory) == {"delivered": 9, "delivering": 1}
