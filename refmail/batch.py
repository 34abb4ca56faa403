"""Decides a chunk of due follow-ups at once, in memory, with the one pure policy.

Dispatch and `refmail outbox preview` load a chunk of due rows, their contacts and those
contacts' send history once (refmail.queue), then ask here. Rows are taken in order; each row
policy lets go counts at once in its contact's history (and in the account's hourly budget), so
the caps bind rows decided later in the same chunk exactly as they bound the next row read from
the database one at a time. A later row of a merging kind to a contact who already gets one in
this chunk folds into that one and is not decided at all. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from refmail import kinds
from refmail.config import Caps
from refmail.policy import ContactView, Decision, Due, History, decide


@dataclass(frozen=True)
class Row:
    """One due follow-up as the decision sees it."""

    id: int
    contact_id: int
    kind: str
    step: int
    due_at: datetime
    first_due_at: datetime | None
    sends: bool  # its channel is one refmail sends through itself (SMTP)


@dataclass(frozen=True)
class Person:
    """A contact with what policy needs: preferences, their caps, their zone, last human contact."""

    view: ContactView
    caps: Caps
    zone: tzinfo
    last_human: datetime | None = None


@dataclass
class Budget:
    """The account's own hourly send budget (when it sends over SMTP): what it sent in the
    last hour, oldest first; each send decided here is added."""

    per_hour: int
    sent: list[datetime] = field(default_factory=list)

    def hold(self, now: datetime) -> Decision | None:
        """None while there is room; else the deferral the account's rate asks for."""
        recent = sorted(s for s in self.sent if s > now - timedelta(hours=1))
        if len(recent) < self.per_hour:
            return None
        until = recent[-self.per_hour] + timedelta(hours=1)
        return Decision(
            "defer", "send_rate", f"{self.per_hour} sends per hour from this account", until
        )


@dataclass(frozen=True)
class Outcome:
    """What becomes of one row: policy's decision, or folded into the row `merged_into`."""

    row: Row
    decision: Decision | None
    merged_into: int | None = None


def counts_for_contact(kind: str) -> bool:
    """Whether a follow-up of `kind` counts in its contact's caps: a reminder to the owner
    (call_task, reward_task) is about the contact, not mail to them."""
    return not kinds.get(kind).to_owner


def decide_chunk(
    rows: Sequence[Row],
    people: dict[int, Person],
    sent: dict[int, list[datetime]],
    now: datetime,
    budget: Budget | None = None,
) -> list[Outcome]:
    """Policy's outcome for every row of a chunk, in order. `sent`: each contact's history
    (times refmail's mail went to them), updated here as rows are let go; `budget`: the
    account's hourly budget, when it sends itself."""
    outcomes: list[Outcome] = []
    merging: dict[tuple[int, str], int] = {}  # (contact, kind) → the row others fold into
    for row in rows:
        person = people[row.contact_id]
        into = merging.get((row.contact_id, row.kind))
        if into is not None:
            outcomes.append(Outcome(row, None, into))
            continue
        decision = decide_one(row, person, sent.get(row.contact_id, ()), now, budget)
        if decision.action == "send":
            if counts_for_contact(row.kind):
                sent.setdefault(row.contact_id, []).append(now)
            if budget is not None and row.sends:
                budget.sent.append(now)
            if row.kind in person.caps.merge:
                merging[(row.contact_id, row.kind)] = row.id
        outcomes.append(Outcome(row, decision))
    return outcomes


def decide_one(
    row: Row,
    person: Person,
    sent: Iterable[datetime],
    now: datetime,
    budget: Budget | None = None,
) -> Decision:
    """Policy's decision for one row, then the account's rate for a send refmail makes itself."""
    decision = decide(
        person.view,
        Due(row.kind, row.step, row.due_at, row.first_due_at),
        now,
        History(tuple(sorted(sent)), person.last_human),
        person.caps,
        person.zone,
        row.sends,
    )
    if decision.action == "send" and row.sends and budget is not None:
        return budget.hold(now) or decision
    return decision


def history_since(caps: Caps, now: datetime) -> datetime:
    """How far back a contact's history matters to `caps` (reduced contacts: windows ×2)."""
    longest = max((w.days for w in caps.windows), default=0.0) * 2
    return now - timedelta(days=longest + 1, hours=caps.min_gap_hours)
