"""One introduction as `refmail intros show` presents it: who, the sentences about each party,
a referrer's words about the owner, its status and outcome, and its follow-ups.

Reads the database and returns plain data (`view`) or text (`text`); the words come from other
people's mail and are made one clean line each before they are shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import models as m
from refmail.text import one_line


def view(session: Session, intro: m.Introduction) -> dict[str, Any]:
    """The introduction as JSON-ready data."""
    follow_ups = session.scalars(
        select(m.FollowUp)
        .where(m.FollowUp.introduction_id == intro.id)
        .order_by(m.FollowUp.due_at, m.FollowUp.id)
    ).all()
    return {
        "id": intro.id,
        "date": _iso(intro.message.sent_at or intro.created_at),
        "subject": one_line(intro.message.subject),
        "shape": intro.shape,
        "introducer": _person(intro.introducer),
        "parties": [
            {**_person(p.contact), "reached": p.reached, "about": one_line(p.about)}
            for p in intro.parties
        ],
        "reason": one_line(intro.context),
        "about_owner": one_line(intro.about_owner),
        "status": intro.status,
        "outcome": one_line(intro.outcome),
        "follow_ups": [
            {
                "id": f.id,
                "kind": f.kind,
                "step": f.step,
                "to": f.contact.email,
                "due": _iso(f.due_at),
                "state": f.state,
                "why": one_line(f.events[-1].reason) if f.events else "",
            }
            for f in follow_ups
        ],
    }


def text(data: dict[str, Any]) -> str:
    """The view as lines for a terminal."""
    intro = data["introducer"]
    lines = [
        f"Introduction #{data['id']} ({data['shape']}), {data['date']}: {data['subject']}",
        f"By: {intro['name'] or intro['email']} <{intro['email']}>",
        f"Status: {data['status']}" + (f" ({data['outcome']})" if data["outcome"] else ""),
        "",
        "Parties:",
    ]
    for party in data["parties"]:
        reached = "" if party["reached"] else " (not on the introduction)"
        lines.append(f"  {party['name'] or party['email']} <{party['email']}>{reached}")
        if party["about"]:
            lines.append(f'    "{party["about"]}"')
    if data["reason"]:
        lines += ["", "Why they should talk:", f'  "{data["reason"]}"']
    if data["about_owner"]:
        lines += ["", "What they said about you:", f'  "{data["about_owner"]}"']
    lines += ["", "Follow-ups:"]
    for f in data["follow_ups"]:
        why = f" ({f['why']})" if f["why"] else ""
        lines.append(f"  #{f['id']} {f['kind']} to {f['to']}, due {f['due']}: {f['state']}{why}")
    if not data["follow_ups"]:
        lines.append("  (none)")
    return "\n".join(lines)


def _person(contact: m.Contact) -> dict[str, str]:
    return {"email": contact.email, "name": one_line(contact.name)}


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value is not None else ""
