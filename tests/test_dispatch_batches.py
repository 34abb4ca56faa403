"""Dispatch in chunks (issue 15), on SQLite and PostgreSQL, to the real file channel.

- one run takes everything due, however many chunks that is (no 500-row cap per run);
- caps bind inside a chunk: a row let go counts against the next row to the same person, and
  the deferral says exactly what it said when rows were decided one by one;
- the SQL a run sends does not grow with the number of rows;
- delivery stays exactly once when the process dies between sending and confirming, or
  between writing drafts and making them durable; a channel that cannot settle its drafts
  fails the group, which is retried;
- on PostgreSQL two workers reading the queue never get the same rows;
- a reminder to the owner about a contact counts in none of that contact's caps;
- `outbox preview` decides as dispatch does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as daytime
from pathlib import Path

import pytest
from sqlalchemy import event, select

from refmail import batch, filedrop, outbox, queue, sendlog
from refmail import dispatch as dispatch_module
from refmail import models as m
from refmail.clock import FixedClock
from refmail.config import Caps, Window
from refmail.db import SessionFactory, engine_of, transaction
from refmail.dispatch import LEASE, Route, Rules, dispatch
from refmail.filedrop import FileDrafts
from refmail.policy import ContactView, Due, History, decide
from refmail.preview import preview
from refmail.render import Renderer
from tests.support.due import ACCOUNT, NOW, OPEN, Crash, build, on_shelf, states


def run(factory: SessionFactory, shelf: FileDrafts, caps: Caps = OPEN, at: datetime = NOW):
    return dispatch(
        factory, ACCOUNT, lambda kind: shelf, Renderer(), FixedClock(at), rules=Rules(caps)
    )


def test_one_run_takes_more_than_a_chunk(factory: SessionFactory, tmp_path: Path) -> None:
    build(factory, rows=620, contacts=250)  # the default chunk is 500
    shelf = FileDrafts(tmp_path / "drafts")
    report = run(factory, shelf)
    assert len(report.delivered) == 620
    assert states(factory) == {"delivered": 620}
    ids = on_shelf(tmp_path / "drafts")
    assert len(ids) == len(set(ids)) == 620
    assert run(factory, shelf).delivered == []  # nothing left due


def test_a_stop_is_heard_between_chunks(factory: SessionFactory, tmp_path: Path) -> None:
    build(factory, rows=25, contacts=5)
    asked: list[int] = []

    def stop() -> bool:  # SIGTERM arrives while the first chunk is in hand
        asked.append(1)
        return len(asked) > 1

    shelf = FileDrafts(tmp_path / "drafts")
    report = dispatch(
        factory,
        ACCOUNT,
        lambda kind: shelf,
        Renderer(),
        FixedClock(NOW),
        rules=Rules(OPEN),
        chunk=10,
        stop=stop,
    )
    assert len(report.delivered) == 10  # the chunk in hand is finished, no other is begun
    assert states(factory) == {"delivered": 10, "planned": 15}
    rest = dispatch(
        factory,
        ACCOUNT,
        lambda kind: shelf,
        Renderer(),
        FixedClock(NOW),
        rules=Rules(OPEN),
        chunk=10,
    )
    assert len(rest.delivered) == 15  # two more chunks, one run
    assert states(factory) == {"delivered": 25}


def test_a_cap_binds_inside_a_chunk(factory: SessionFactory, tmp_path: Path) -> None:
    caps = replace(OPEN, windows=(Window(1, 1),))
    build(factory, rows=2, contacts=1)
    report = run(factory, FileDrafts(tmp_path / "drafts"), caps)
    assert len(report.delivered) == 1 and report.deferred == 1
    with factory() as s:
        first, second = s.scalars(select(m.FollowUp).order_by(m.FollowUp.id)).all()
        assert (first.state, second.state) == ("delivered", "deferred")
        # What policy said when rows went one by one: the second saw the first in its history.
        alone = decide(
            ContactView(second.contact.email),
            Due(second.kind, second.step, NOW - timedelta(hours=1), second.first_due_at),
            NOW,
            History((NOW,)),
            caps,
        )
        assert alone.action == "defer" and alone.until is not None
        assert second.reason == alone.reason
        assert (
            second.reason
            == f"cap 1 per 1 days reached; deferred until {alone.until:%Y-%m-%d %H:%M} UTC"
        )
        assert second.due_at == alone.until
        assert [(e.state, e.rule, e.reason) for e in second.events][-1] == (
            "deferred",
            "cap",
            alone.reason,
        )


def _count_statements(factory: SessionFactory, action) -> int:
    seen = 0

    def count(*_args: object) -> None:
        nonlocal seen
        seen += 1

    engine = engine_of(factory)
    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


@pytest.mark.parametrize("deliver", [False, True], ids=["decide", "deliver"])
def test_statements_do_not_grow_with_rows(
    factory: SessionFactory, tmp_path: Path, deliver: bool
) -> None:
    """50 rows and 450 rows (one chunk each, over a tenth as many contacts) cost about the same
    number of statements: none is sent per row."""
    closed = replace(OPEN, window_start=daytime(14), window_end=daytime(15))  # NOW is 12:00
    caps = OPEN if deliver else closed
    counts = []
    for rows in (50, 450):
        fresh = tmp_path / str(rows)
        with transaction(factory) as s:  # start over in the same database
            for table in (m.FollowUpEvent, m.FollowUp, m.IntroductionParty, m.Introduction):
                s.query(table).delete()
            for table in (m.MessageRecord, m.Contact, m.Account):
                s.query(table).delete()
        build(factory, rows=rows, contacts=rows // 10)
        shelf = FileDrafts(fresh)
        counts.append(_count_statements(factory, lambda shelf=shelf: run(factory, shelf, caps)))
        assert states(factory) == ({"delivered": rows} if deliver else {"deferred": rows})
    small, large = counts
    # Confirmations go in groups of 100 (a few statements each): 450 rows add four groups.
    assert large <= small + 4 * 8, counts
    assert large / 450 < 0.25, counts


def test_exactly_once_after_a_crash_between_send_and_confirm(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(factory, rows=120, contacts=40)
    directory = tmp_path / "drafts"
    shelf = FileDrafts(directory)

    class Dying(FileDrafts):
        """Writes the 70th draft, then the process dies before it confirms anything."""

        puts = 0

        def stage(self, message: bytes, message_id: str, recipients=()) -> None:
            super().stage(message, message_id, recipients)
            Dying.puts += 1
            if Dying.puts == 70:
                raise Crash

    # A hard crash confirms nothing: not even the deliveries made before it.
    monkeypatch.setattr(dispatch_module, "_confirm_many", lambda *a, **k: None)
    with pytest.raises(Crash):
        run(factory, Dying(directory))
    monkeypatch.undo()
    assert states(factory) == {"delivering": 120}
    assert len(on_shelf(directory)) == 70

    # Within the lease nothing is touched: the claims may still be someone's.
    early = run(factory, shelf, at=NOW + LEASE / 2)
    assert early.delivered == [] and early.recovered == 0
    assert len(on_shelf(directory)) == 70

    later = run(factory, shelf, at=NOW + LEASE + timedelta(minutes=1))
    assert later.recovered == 120
    assert len(later.delivered) == 50  # the ones never written; the 70 are found, not rewritten
    ids = on_shelf(directory)
    assert len(ids) == len(set(ids)) == 120
    assert states(factory) == {"delivered": 120}
    with factory() as s:
        rules = s.scalars(
            select(m.FollowUpEvent.rule).where(m.FollowUpEvent.state == "delivered")
        ).all()
    assert sorted(set(rules)) == ["delivered", "recovered"]
    assert rules.count("recovered") == 70


def test_a_crash_before_the_drafts_are_settled_leaves_nothing_to_mistake_for_delivered(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(factory, rows=30, contacts=10)
    directory = tmp_path / "drafts"

    def dies(*args: object, **kwargs: object) -> None:
        raise Crash  # the process dies after writing, before making the drafts durable

    monkeypatch.setattr(dispatch_module, "_settle", dies)
    with pytest.raises(Crash):
        run(factory, FileDrafts(directory))
    monkeypatch.undo()
    assert states(factory) == {"delivering": 30}
    assert on_shelf(directory) == []  # only temporary files: no draft to confirm by mistake

    later = run(factory, FileDrafts(directory), at=NOW + LEASE + timedelta(minutes=1))
    assert later.recovered == 30 and len(later.delivered) == 30  # all written again, once
    ids = on_shelf(directory)
    assert len(ids) == len(set(ids)) == 30
    assert {p.suffix for p in directory.iterdir()} == {".eml"}  # the temporary files replaced
    assert states(factory) == {"delivered": 30}


def test_drafts_are_settled_by_the_channel_object_that_staged_them(
    factory: SessionFactory, tmp_path: Path
) -> None:
    # A caller whose channel function opens a new FileDrafts on every call: each staged draft
    # is still settled (published) before it is confirmed.
    build(factory, rows=15, contacts=5)
    directory = tmp_path / "drafts"
    report = dispatch(
        factory,
        ACCOUNT,
        lambda kind: FileDrafts(directory),
        Renderer(),
        FixedClock(NOW),
        rules=Rules(OPEN),
    )
    assert len(report.delivered) == 15
    assert sorted(on_shelf(directory)) == sorted(d.message_id for d in report.delivered)
    assert {p.suffix for p in directory.iterdir()} == {".eml"}


def test_a_channel_that_cannot_settle_fails_its_group_and_it_is_retried(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(factory, rows=12, contacts=4)
    directory = tmp_path / "drafts"

    def full_disk(watch: int, paths: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(filedrop, "_sync_staged", full_disk)
    report = run(factory, FileDrafts(directory))
    monkeypatch.undo()
    assert report.delivered == [] and report.retry_later == 12
    assert states(factory) == {"planned": 12}  # back in the queue, the attempt counted
    assert list(directory.iterdir()) == []  # neither drafts nor temporary files

    later = run(factory, FileDrafts(directory), at=NOW + timedelta(days=1))
    assert len(later.delivered) == 12
    ids = on_shelf(directory)
    assert len(ids) == len(set(ids)) == 12
    assert states(factory) == {"delivered": 12}


# SKIP LOCKED is PostgreSQL's (the workers' deployment); SQLite has one writer at a time.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_workers_never_read_the_same_rows(factory: SessionFactory) -> None:
    build(factory, rows=30, contacts=10)
    with factory() as first, first.begin(), factory() as second, second.begin():
        account_id = first.scalar(select(m.Account.id))
        assert account_id is not None
        a = queue.due(first, account_id, NOW, 20, lock=True)
        b = queue.due(second, account_id, NOW, 20, lock=True)
        assert len(a) == 20 and len(b) == 10
        assert not {r.id for r in a} & {r.id for r in b}


def test_a_reminder_to_the_owner_counts_in_no_cap_of_the_contact(
    factory: SessionFactory, tmp_path: Path
) -> None:
    caps = replace(OPEN, windows=(Window(1, 1),))
    (contact_id,) = build(factory, rows=1, contacts=1)
    with transaction(factory) as s:
        row = s.scalars(select(m.FollowUp)).one()
        call = outbox.call_instead(s, row, "channel_phone", "test", NOW - timedelta(hours=2))
        call.state, call.delivered_at, call.channel = "delivered", NOW - timedelta(hours=1), "file"
        intro = row.introduction
        outbox.add(
            s,
            introduction_id=intro.id,
            account_id=row.account_id,
            kind="thank_you",
            step=0,
            contact_id=contact_id,
            due_at=NOW - timedelta(minutes=5),
            domain="owner.example",
            now=NOW,
        )
    with factory() as s:
        assert sendlog.sent_to(s, contact_id, NOW - timedelta(days=2)) == ()
    report = run(factory, FileDrafts(tmp_path / "drafts"), caps)
    assert [d.kind for d in report.delivered] == ["thank_you"]


def test_preview_decides_as_dispatch_does(factory: SessionFactory, tmp_path: Path) -> None:
    caps = replace(OPEN, windows=(Window(1, 1),))
    build(factory, rows=4, contacts=2)
    routes = lambda kind: Route("file", False)  # noqa: E731
    seen = preview(factory, ACCOUNT, routes, Rules(caps), NOW)
    assert [o.action for o in seen] == ["deliver", "deliver", "defer", "defer"]
    run(factory, FileDrafts(tmp_path / "drafts"), caps)
    with factory() as s:
        rows = s.scalars(select(m.FollowUp).order_by(m.FollowUp.id)).all()
        assert [r.state for r in rows] == ["delivered", "delivered", "deferred", "deferred"]
        assert [o.reason for o in seen[2:]] == [r.reason for r in rows[2:]]


# --- refmail.batch alone (pure: no database) ------------------------------------------------


def _row(id_: int, contact: int, kind: str = "double_intro", sends: bool = False) -> batch.Row:
    return batch.Row(id_, contact, kind, 0, NOW - timedelta(hours=1), None, sends)


def _people(caps: Caps, *ids: int) -> dict[int, batch.Person]:
    return {i: batch.Person(ContactView(f"p{i}@example.org"), caps, UTC) for i in ids}


def test_batch_counts_rows_let_go_earlier_in_the_chunk() -> None:
    caps = replace(OPEN, windows=(Window(2, 1),))
    rows = [_row(1, 7), _row(2, 8), _row(3, 7), _row(4, 7)]
    sent: dict[int, list[datetime]] = {}
    out = batch.decide_chunk(rows, _people(caps, 7, 8), sent, NOW)
    assert [o.decision.action for o in out if o.decision] == ["send", "send", "send", "defer"]
    assert sent == {7: [NOW, NOW], 8: [NOW]}


def test_batch_folds_a_merging_kind_into_the_first_let_go() -> None:
    caps = replace(OPEN, merge=("thank_you",))
    rows = [_row(1, 7, "thank_you"), _row(2, 7, "thank_you"), _row(3, 7, "double_intro")]
    out = batch.decide_chunk(rows, _people(caps, 7), {}, NOW)
    assert [(o.row.id, o.merged_into) for o in out] == [(1, None), (2, 1), (3, None)]
    assert out[1].decision is None


def test_batch_reminders_to_the_owner_count_in_no_contact_cap() -> None:
    caps = replace(OPEN, windows=(Window(1, 1),))
    rows = [_row(1, 7, "call_task"), _row(2, 7, "thank_you")]
    out = batch.decide_chunk(rows, _people(caps, 7), {}, NOW)
    assert [o.decision.action for o in out if o.decision] == ["send", "send"]


def test_batch_holds_the_accounts_hourly_budget() -> None:
    budget = batch.Budget(2, [NOW - timedelta(minutes=50)])
    rows = [_row(1, 7, sends=True), _row(2, 8, sends=True), _row(3, 9, sends=False)]
    out = batch.decide_chunk(rows, _people(OPEN, 7, 8, 9), {}, NOW, budget)
    decisions = [o.decision for o in out if o.decision]
    assert [d.action for d in decisions] == ["send", "defer", "send"]
    assert decisions[1].rule == "send_rate"
    assert decisions[1].until == NOW + timedelta(minutes=10)
