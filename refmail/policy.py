"""Decides, for one due follow-up, whether to deliver it now, defer it, or skip it, and why.

A pure function over a table of named rules (like Mailman's chains): the first rule that has an
opinion decides, and its name and reason go into the why-log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Action = Literal["send", "defer", "skip", "call"]


@dataclass(frozen=True)
class ContactView:
    """The contact's preferences as policy sees them."""

    email: str
    channel: str = "email"
    level: str = "normal"
    paused_until: datetime | None = None
    opted_out_at: datetime | None = None
    bounced_at: datetime | None = None
    phone: str = ""


@dataclass(frozen=True)
class Due:
    """The follow-up being decided."""

    kind: str
    step: int
    due_at: datetime


@dataclass(frozen=True)
class Decision:
    """send now · defer until `until` · skip · call (a reminder to the owner instead of email)."""

    action: Action
    rule: str
    reason: str
    until: datetime | None = None


Rule = Callable[[ContactView, Due, datetime], Decision | None]


def _opted_out(c: ContactView, due: Due, now: datetime) -> Decision | None:
    if c.opted_out_at is not None:
        return Decision("skip", "opted_out", f"{c.email} opted out on {c.opted_out_at:%Y-%m-%d}")
    return None


def _bounced(c: ContactView, due: Due, now: datetime) -> Decision | None:
    if c.bounced_at is not None:
        return Decision("skip", "bounced", f"mail to {c.email} bounced on {c.bounced_at:%Y-%m-%d}")
    return None


def _level(c: ContactView, due: Due, now: datetime) -> Decision | None:
    if c.level == "none":
        return Decision("skip", "level_none", "contact level is none")
    if c.level == "essential" and due.kind == "check_in":
        return Decision("skip", "level_essential", "contact level is essential: no check-ins")
    if c.level == "reduced" and due.kind == "check_in" and due.step > 0:
        return Decision("skip", "level_reduced", "contact level is reduced: first check-in only")
    return None


def _channel(c: ContactView, due: Due, now: datetime) -> Decision | None:
    if c.channel == "none":
        return Decision("skip", "channel_none", "contact prefers no contact")
    if c.channel == "phone" and due.kind != "call_task":
        return Decision("call", "channel_phone", "contact prefers the phone: call reminder instead")
    return None


def _paused(c: ContactView, due: Due, now: datetime) -> Decision | None:
    if c.paused_until is not None and c.paused_until > now:
        return Decision(
            "defer", "paused", f"paused until {c.paused_until:%Y-%m-%d}", c.paused_until
        )
    return None


RULES: tuple[Rule, ...] = (_opted_out, _bounced, _level, _channel, _paused)


def decide(contact: ContactView, due: Due, now: datetime) -> Decision:
    """The first rule with an opinion decides; with none, the follow-up goes out now."""
    for rule in RULES:
        decision = rule(contact, due, now)
        if decision is not None:
            return decision
    return Decision("send", "allowed", "no rule holds it back")
