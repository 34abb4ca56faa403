"""Property tests of the outbox through the real dispatch, on SQLite and PostgreSQL.

Random outboxes (contacts with random preferences, introductions, follow-ups of every kind due at
random times) are dispatched by a clock stepped over 60 days. Whatever the case:
- nothing vanishes: every row ends delivered, or skipped/failed with a reason and an event that
  explains it, or is still open with a due time; the number of rows never goes down;
- no Message-ID reaches the target twice;
- opted-out, level-none and channel-none contacts get nothing; phone contacts get only call
  reminders, and those go to the owner;
- no contact gets more than a cap window allows, or two messages closer than the minimum gap;
- merging never loses a referral: the parties of every merged follow-up's introduction are
  named in the message its survivor delivered.
"""

from __future__ import annotations

import email
import email.policy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from refmail import kinds
from refmail import models as m
from refmail.clock import FixedClock
from refmail.config import Account, Caps, MaildirSettings, Window
from refmail.db import SessionFactory, transaction
from refmail.dispatch import Rules, dispatch
from refmail.render import Renderer

OWNER = "olivia@owner.example"
ACCOUNT = Account(
    name="main",
    address="refmail@owner.example",
    owners=(OWNER,),
    owner_name="Olivia Owner",
    maildir=MaildirSettings(path="unused"),
    require_authentication=False,
)
KINDS = tuple(k.name for k in kinds.KINDS if not k.to_owner)  # reminders come from policy only
ZONES = ("", "UTC", "America/New_York", "Pacific/Kiritimati", "America/St_Johns", "Asia/Tokyo")
FIRST = ("Ada", "Bo", "Cyd", "Dee", "Eli", "Fay", "Gus")
LAST = ("Quist", "Ruiz", "Stone", "Tran", "Umber", "Vance", "Wolfe")
HORIZON = timedelta(days=60)
RENDERER = Renderer()


@dataclass
class Target:
    """A draft folder that remembers everything put into it, in order."""

    puts: list[tuple[str, bytes]] = field(default_factory=list)
    name = "drafts"
    sends = False

    def __call__(self, kind: str) -> Target:  # every kind goes to this one folder
        return self

    def where(self, message_id: str) -> str:
        return message_id

    def contains(self, message_id: str) -> bool:
        return any(mid == message_id for mid, _ in self.puts)

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        self.puts.append((message_id, message))


@dataclass(frozen=True)
class PersonSpec:
    channel: str
    level: str
    opted_out: bool
    paused_days: float | None
    zone: str


@dataclass(frozen=True)
class IntroSpec:
    introducer: int  # -1: the owner
    parties: tuple[int, ...]
    rows: tuple[tuple[str, int, int, float], ...]  # kind, recipient index, step, due (hours)


@dataclass(frozen=True)
class Case:
    start: datetime
    people: tuple[PersonSpec, ...]
    intros: tuple[IntroSpec, ...]
    caps: Caps
    owner_zone: str
    jitter: tuple[float, ...]  # hours added after each due time, cycled


people_st = st.builds(
    PersonSpec,
    channel=st.sampled_from(("email", "email", "email", "phone", "none")),
    level=st.sampled_from(("normal", "normal", "reduced", "essential", "none")),
    opted_out=st.sampled_from((False, False, False, True)),
    paused_days=st.one_of(st.none(), st.none(), st.floats(0, 20)),
    zone=st.sampled_from(ZONES),
)


@st.composite
def caps_st(draw: st.DrawFn) -> Caps:
    windows = draw(
        st.lists(st.builds(Window, st.integers(1, 4), st.floats(0.5, 20)), min_size=1, max_size=3)
    )
    start = draw(st.sampled_from((time(0), time(8), time(9, 30), time(13))))
    end = draw(st.sampled_from((start, time(17), time(18, 45), time(23, 59))))
    return Caps(
        windows=tuple(windows),
        min_gap_hours=draw(st.sampled_from((0.0, 1.0, 12.0, 24.0, 48.0))),
        cooldown_days=draw(st.sampled_from((0.0, 3.0))),
        stale_days=draw(st.sampled_from((5.0, 21.0))),
        window_start=min(start, end),
        window_end=max(start, end),
        weekends=draw(st.booleans()),
        drafts_in_window=draw(st.booleans()),
        merge=tuple(
            draw(
                st.sets(st.sampled_from(("thank_you", "check_in", "conversion_thanks"))).map(sorted)
            )
        )
        or ("thank_you", "check_in", "conversion_thanks"),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    people = tuple(draw(st.lists(people_st, min_size=2, max_size=5)))
    n = len(people)
    # A few introducers and clustered due times, so follow-ups to one person pile up and merge.
    introducers = draw(st.lists(st.integers(-1, n - 1), min_size=1, max_size=2))
    due_hours = st.one_of(
        st.sampled_from((-30.0, -1.0, 0.0, 0.5, 2.0, 24.0, 24 * 7.0, 24 * 30.0)),
        st.floats(-48, 24 * 40),
    )
    intros = []
    for _ in range(draw(st.integers(1, 6))):
        introducer = draw(st.sampled_from(introducers))
        others = [i for i in range(n) if i != introducer]
        parties = tuple(
            draw(st.lists(st.sampled_from(others), min_size=1, max_size=3, unique=True))
        )
        rows: dict[tuple[str, int, int], float] = {}
        for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6)):
            if kind in ("thank_you", "conversion_thanks") and introducer >= 0:
                who = introducer
            elif kind == "call_task":
                who = draw(st.sampled_from([i for i in (introducer, *parties) if i >= 0]))
            else:
                who = draw(st.sampled_from(parties))
            rows.setdefault((kind, who, draw(st.integers(0, 1))), draw(due_hours))
        intros.append(IntroSpec(introducer, parties, tuple((*k, h) for k, h in rows.items())))
    return Case(
        start=datetime(2026, 1, 5, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 24 * 300))),
        people=people,
        intros=tuple(intros),
        caps=draw(caps_st()),
        owner_zone=draw(st.sampled_from(("UTC", "Europe/Berlin", "America/Los_Angeles"))),
        jitter=tuple(draw(st.lists(st.sampled_from((0.0, 0.0, 0.25, 1.0, 5.0)), min_size=1))),
    )


def wipe(factory: SessionFactory) -> None:
    """Function-scoped fixtures are shared by every example: start each from an empty schema."""
    with transaction(factory) as s:
        s.execute(delete(m.FollowUpEvent))
        s.execute(update(m.FollowUp).values(origin_id=None))
        for model in (
            m.FollowUp,
            m.IntroductionParty,
            m.Introduction,
            m.MessageRecord,
            m.ContactChange,
            m.Contact,
            m.FolderState,
            m.Account,
        ):
            s.execute(delete(model))


def person_name(i: int) -> str:
    return f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}{i}"


def build(factory: SessionFactory, case: Case) -> int:
    """Rows straight into the database, as sync and plan would leave them; returns how many."""
    now = case.start
    with transaction(factory) as s:
        account = m.Account(name=ACCOUNT.name, address=ACCOUNT.address, created_at=now)
        owner = m.Contact(email=OWNER, name="Olivia Owner", created_at=now, updated_at=now)
        s.add_all([account, owner])
        contacts = []
        for i, p in enumerate(case.people):
            contacts.append(
                m.Contact(
                    email=f"p{i}@example.org",
                    name=person_name(i),
                    phone=f"+1 555 010{i}" if p.channel == "phone" else "",
                    channel=p.channel,
                    level=p.level,
                    timezone=p.zone,
                    opted_out_at=now - timedelta(days=1) if p.opted_out else None,
                    paused_until=(
                        now + timedelta(days=p.paused_days) if p.paused_days is not None else None
                    ),
                    created_at=now,
                    updated_at=now,
                )
            )
        s.add_all(contacts)
        s.flush()
        count = 0
        for n, spec in enumerate(case.intros):
            message = m.MessageRecord(
                message_id=f"<intro-{n}@example.org>",
                account_id=account.id,
                folder="INBOX",
                thread_root=f"<intro-{n}@example.org>",
                subject=f"Introduction {n}",
                sent_at=now,
                kind="introduction",
                ingested_at=now,
            )
            s.add(message)
            s.flush()
            introducer = owner if spec.introducer < 0 else contacts[spec.introducer]
            intro = m.Introduction(
                message_pk=message.id,
                account_id=account.id,
                introducer_id=introducer.id,
                shape="owner_intro" if spec.introducer < 0 else "referral",
                context=f"context {n}",
                created_at=now,
                updated_at=now,
            )
            s.add(intro)
            s.flush()
            for i in spec.parties:
                s.add(m.IntroductionParty(introduction_id=intro.id, contact_id=contacts[i].id))
            for j, (kind, who, step, hours) in enumerate(spec.rows):
                due = now + timedelta(hours=hours)
                row = m.FollowUp(
                    introduction_id=intro.id,
                    account_id=account.id,
                    kind=kind,
                    step=step,
                    contact_id=contacts[who].id,
                    due_at=due,
                    first_due_at=due,
                    state="planned",
                    message_id=f"<refmail.{n}.{j}@owner.example>",
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                s.flush()
                s.add(m.FollowUpEvent(follow_up_id=row.id, at=now, state="planned", rule="plan"))
                count += 1
    return count


def run(factory: SessionFactory, case: Case) -> Target:
    """Dispatch at each due time (plus a little jitter) until nothing is due within 60 days."""
    target = Target()
    clock = FixedClock(case.start)
    rules = Rules(case.caps, case.owner_zone)
    end = case.start + HORIZON
    rows_before = 0
    for step in range(120):
        dispatch(factory, ACCOUNT, target, RENDERER, clock, rules=rules)
        with factory() as s:
            rows = s.scalar(select(func.count()).select_from(m.FollowUp)) or 0
            assert rows >= rows_before, "follow-up rows disappeared"
            rows_before = rows
            assert not s.scalar(select(func.count()).where(m.FollowUp.state == "delivering")), (
                "a claim was left behind"
            )
            upcoming = s.scalar(
                select(func.min(m.FollowUp.due_at)).where(m.FollowUp.state.in_(m.OPEN_STATES))
            )
        if upcoming is None or upcoming > end:
            break
        jitter = timedelta(hours=case.jitter[step % len(case.jitter)])
        clock.at = max(upcoming, clock.at + timedelta(minutes=1)) + jitter
    return target


def body_of(message: bytes) -> tuple[str, str]:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    part = parsed.get_body(("plain",))
    assert part is not None
    return str(parsed["To"]), part.get_content()  # type: ignore[attr-defined]


def check(factory: SessionFactory, case: Case, target: Target, planned: int) -> None:
    ids = [mid for mid, _ in target.puts]
    assert len(ids) == len(set(ids)), "a Message-ID was delivered twice"
    put = dict(target.puts)
    with factory() as s:
        rows = s.scalars(select(m.FollowUp).order_by(m.FollowUp.id)).all()
        assert len(rows) >= planned
        by_id = {r.id: r for r in rows}
        by_mid = {r.message_id: r for r in rows}
        for row in rows:
            events = row.events
            note(f"#{row.id} {row.kind} → {row.contact.email}: {row.state} {row.reason!r}")
            if row.state == "delivered":
                assert row.message_id in put, f"#{row.id} delivered but never put"
                assert row.delivered_at is not None
            elif row.state in ("skipped", "failed"):
                assert row.reason.strip(), f"#{row.id} {row.state} without a reason"
                assert any(e.state == row.state and e.reason for e in events), (
                    f"#{row.id} {row.state} with no event saying why"
                )
            else:
                assert row.state in m.OPEN_STATES and row.due_at is not None, row.state
        for mid in put:
            assert mid in by_mid, f"{mid} was put but is no follow-up"
            assert by_mid[mid].state == "delivered"
        # Who gets what.
        for mid, message in target.puts:
            row = by_mid[mid]
            contact = row.contact
            to, _ = body_of(message)
            assert contact.opted_out_at is None, f"#{row.id}: opted-out {contact.email} got mail"
            assert contact.level != "none" and contact.channel != "none", f"#{row.id}"
            if row.kind == "call_task":
                assert OWNER in to, f"call reminder #{row.id} went to {to}"
            else:
                assert contact.channel == "email", f"#{row.id}: {contact.channel} got {row.kind}"
                assert contact.email in to
        # No blitz, per contact, across every kind of mail to them. Reminders to the owner
        # about a contact (call_task, reward_task) are not mail to the contact: they count in
        # none of the contact's caps.
        sent: dict[int, list[datetime]] = {}
        for row in rows:
            to_contact = not kinds.get(row.kind).to_owner
            if to_contact and row.state == "delivered" and row.delivered_at is not None:
                sent.setdefault(row.contact_id, []).append(row.delivered_at)
        for contact_id, times in sent.items():
            times.sort()
            contact = s.get(m.Contact, contact_id)
            assert contact is not None
            stretch = 2.0 if contact.level == "reduced" else 1.0
            caps = case.caps
            for w in caps.windows:
                span = timedelta(days=w.days * stretch)
                for i in range(len(times) - w.count):
                    assert times[i + w.count] - times[i] >= span, (contact.email, w, times)
            for a, b in itertools.pairwise(times):
                assert b - a >= timedelta(hours=caps.min_gap_hours), (contact.email, a, b)
            if contact.paused_until is not None:
                assert all(t >= contact.paused_until for t in times)
        # Merging never loses a referral.
        for row in rows:
            if not any(e.rule == "merged" for e in row.events):
                continue
            assert row.state == "skipped" and row.origin_id is not None
            survivor = by_id[row.origin_id]
            assert survivor.kind == row.kind and survivor.contact_id == row.contact_id
            assert survivor.state == "delivered", (
                f"#{row.id} merged into undelivered #{survivor.id}"
            )
            _, text = body_of(put[survivor.message_id])
            introducer = row.introduction.introducer
            if introducer.email != OWNER and introducer.id != survivor.contact_id:
                who = introducer.name or introducer.email
                assert who in text, f"#{row.id} merged into #{survivor.id} without naming {who}"
            for party in row.introduction.parties:
                if party.contact_id == survivor.contact_id:
                    continue
                name = party.contact.name or party.contact.email
                assert name in text, (
                    f"#{row.id} ({row.kind}) merged into #{survivor.id}, whose message does not "
                    f"name {name}:\n{text}"
                )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_dispatch_over_60_days_loses_nothing_and_never_blitzes(
    factory: SessionFactory, case: Case
) -> None:
    wipe(factory)
    planned = build(factory, case)
    target = run(factory, case)
    check(factory, case, target, planned)
    with factory() as s:
        merged = s.scalar(select(func.count()).where(m.FollowUpEvent.rule == "merged"))
    event(f"merged: {bool(merged)}")
    event(f"delivered: {bool(target.puts)}")


def test_merged_check_ins_name_every_introduction(factory: SessionFactory) -> None:
    email_person = PersonSpec("email", "normal", False, None, "")
    case = Case(
        start=datetime(2026, 1, 5, tzinfo=UTC),
        people=(email_person,) * 5,  # Ada, Bo, Cyd, Dee, Eli
        intros=(
            IntroSpec(0, (1, 2), (("check_in", 1, 0, -30.0),)),  # Ada: Bo, meet Cyd
            IntroSpec(3, (1, 4), (("check_in", 1, 0, -30.0),)),  # Dee: Bo, meet Eli
        ),
        caps=Caps(weekends=True, drafts_in_window=False),
        owner_zone="UTC",
        jitter=(0.0,),
    )
    wipe(factory)
    build(factory, case)
    target = Target()
    dispatch(factory, ACCOUNT, target, RENDERER, FixedClock(case.start), rules=Rules(case.caps))
    assert len(target.puts) == 1  # one check-in to Bo, the other merged into it
    _, text = body_of(target.puts[0][1])
    assert person_name(2) in text and person_name(4) in text, text
