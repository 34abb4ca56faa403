"""Decides, for one due follow-up, whether to deliver it now, defer it, or skip it, and why.

A pure function over two tables of named rules (in the spirit of Mailman's chains): block rules
skip or redirect (opt-out, level, channel, staleness); hold rules each name the earliest time
they allow (pause, cooldown, minimum gap, every cap window). The latest of those, moved into the
recipient's send window, is when the follow-up may go; the rules that set it are the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from refmail import kinds
from refmail.config import Caps, Window

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
    caps: Caps | None = None  # a per-contact override of the account's caps


@dataclass(frozen=True)
class Due:
    """The follow-up being decided. `first_due_at` is when it was planned for (before deferrals)."""

    kind: str
    step: int
    due_at: datetime
    first_due_at: datetime | None = None


@dataclass(frozen=True)
class History:
    """What already happened with this contact."""

    sent: tuple[
        datetime, ...
    ] = ()  # follow-ups refmail prepared for them (a draft counts when made)
    last_human: datetime | None = None  # the last email between them and the owner that refmail saw


@dataclass(frozen=True)
class Decision:
    """send now · defer until `until` · skip · call (a reminder to the owner instead of email)."""

    action: Action
    rule: str
    reason: str
    until: datetime | None = None
    hits: tuple[str, ...] = field(default=())  # every hold rule that had a say


@dataclass(frozen=True)
class Context:
    """Everything a rule may look at; built once per decision."""

    contact: ContactView
    due: Due
    now: datetime
    history: History
    caps: Caps
    zone: tzinfo
    sending: bool  # SMTP (always in the send window) rather than a draft


# --- block rules: skip, or turn into a call reminder ---------------------------------------

BlockRule = Callable[[Context], Decision | None]


def opted_out(c: Context) -> Decision | None:
    if c.contact.opted_out_at is not None:
        return Decision("skip", "opted_out", f"opted out on {c.contact.opted_out_at:%Y-%m-%d}")
    return None


def bounced(c: Context) -> Decision | None:
    if c.contact.bounced_at is not None:
        return Decision("skip", "bounced", f"mail bounced on {c.contact.bounced_at:%Y-%m-%d}")
    return None


def level(c: Context) -> Decision | None:
    lvl, kind = c.contact.level, kinds.get(c.due.kind)
    if lvl == "none":
        return Decision("skip", "level_none", "contact level is none")
    if lvl == "essential" and not kind.essential:
        return Decision("skip", "level_essential", "contact level is essential: no check-ins")
    if lvl == "reduced" and kind.repeats and c.due.step > 0:
        return Decision("skip", "level_reduced", "contact level is reduced: first check-in only")
    return None


def channel(c: Context) -> Decision | None:
    if c.contact.channel == "none":
        return Decision("skip", "channel_none", "contact prefers no contact")
    if c.contact.channel == "phone" and not kinds.get(c.due.kind).to_owner:
        return Decision("call", "channel_phone", "contact prefers the phone: call reminder instead")
    return None


def stale(c: Context) -> Decision | None:
    planned = c.due.first_due_at or c.due.due_at
    late = c.now - planned
    if kinds.get(c.due.kind).courtesy and late > timedelta(days=c.caps.stale_days):
        return Decision(
            "skip", "stale", f"{late.days} days late (stale_days = {c.caps.stale_days:g})"
        )
    return None


BLOCK_RULES: tuple[BlockRule, ...] = (opted_out, bounced, level, channel, stale)


# --- hold rules: the earliest time each allows ---------------------------------------------

Hold = tuple[datetime, str, str]  # (not before, rule, reason)
HoldRule = Callable[[Context], Hold | None]


def paused(c: Context) -> Hold | None:
    until = c.contact.paused_until
    if until is not None and until > c.now:
        return until, "paused", f"paused until {until:%Y-%m-%d}"
    return None


def cooldown(c: Context) -> Hold | None:
    last = c.history.last_human
    if not kinds.get(c.due.kind).courtesy or last is None:
        return None
    until = last + timedelta(days=c.caps.cooldown_days)
    if until > c.now:
        return (
            until,
            "cooldown",
            f"in touch on {last:%Y-%m-%d}: courtesy follow-ups wait {c.caps.cooldown_days:g} days",
        )
    return None


def min_gap(c: Context) -> Hold | None:
    if not c.history.sent or c.caps.min_gap_hours <= 0:
        return None
    until = max(c.history.sent) + timedelta(hours=c.caps.min_gap_hours)
    if until > c.now:
        return until, "min_gap", f"at most one every {c.caps.min_gap_hours:g} hours"
    return None


def cap_windows(c: Context) -> Hold | None:
    """The latest of the times each rolling window allows; reduced contacts get half the budget."""
    stretch = 2.0 if c.contact.level == "reduced" else 1.0
    worst: Hold | None = None
    for window in c.caps.windows:
        effective = Window(window.count, window.days * stretch)
        until = earliest_in_window(c.history.sent, effective, c.now)
        if until > c.now and (worst is None or until > worst[0]):
            worst = (until, "cap", f"cap {effective} reached")
    return worst


HOLD_RULES: tuple[HoldRule, ...] = (paused, cooldown, min_gap, cap_windows)


def earliest_in_window(sent: Sequence[datetime], window: Window, now: datetime) -> datetime:
    """The earliest time ≥ now at which fewer than `count` of `sent` fall in the last `days`.

    >>> t = datetime(2026, 1, 10, tzinfo=UTC)
    >>> earliest_in_window([t - timedelta(days=1)], Window(1, 2), t) == t + timedelta(days=1)
    True
    """
    span = timedelta(days=window.days)
    recent = sorted(s for s in sent if s > now - span)
    if len(recent) < window.count:
        return now
    if window.count <= 0:
        return datetime.max.replace(tzinfo=UTC)
    # Once the count-th most recent send leaves the window, there is room again.
    return recent[-window.count] + span


# --- the send window -----------------------------------------------------------------------


def in_window(at: datetime, zone: tzinfo, caps: Caps) -> bool:
    """Whether `at` falls in the send window, read on the recipient's local clock.

    A window whose start is after its end runs over midnight (22:00–06:00); equal: all day.
    """
    local = at.astimezone(zone)
    if not _open_day(local.date(), caps):
        return False
    start, end, now = caps.window_start, caps.window_end, local.time()
    if start == end:
        return True
    if start < end:
        return start <= now < end
    return now >= start or now < end


def next_window_open(at: datetime, zone: tzinfo, caps: Caps) -> datetime:
    """`at` if it is inside the recipient's send window, else when the window next opens.

    Daylight-saving days are read carefully: an opening time that occurs twice (clocks going
    back) is taken at its first reading still ahead of `at`; one that does not occur (clocks
    going forward) opens at the moment the clocks jump.
    """
    if in_window(at, zone, caps):
        return at
    day = at.astimezone(zone).date()
    for _ in range(9):
        if _open_day(day, caps):
            ahead = sorted(
                t for t in _openings(day, zone, caps) if t > at and in_window(t, zone, caps)
            )
            if ahead:
                return ahead[0]
        day += timedelta(days=1)
    return at  # no open day configured: do not hold forever


def _openings(day: date, zone: tzinfo, caps: Caps) -> list[datetime]:
    """The instants at which the window opens on `day` (two on a fall-back day, and on a
    spring-forward day whose opening time is skipped, the instant of the jump)."""
    wall = datetime.combine(day, caps.window_start, tzinfo=zone)
    readings = sorted({wall.astimezone(UTC), wall.replace(fold=1).astimezone(UTC)})
    naive = wall.replace(tzinfo=None)
    if len(readings) == 2 and all(
        r.astimezone(zone).replace(tzinfo=None) != naive for r in readings
    ):
        low, high = readings  # a gap: bisect for the first instant whose wall time is past it
        while high - low > timedelta(seconds=1):
            mid = low + (high - low) / 2
            if mid.astimezone(zone).replace(tzinfo=None) >= naive:
                high = mid
            else:
                low = mid
        readings.append(high)
    return readings


def _open_day(day: date, caps: Caps) -> bool:
    return caps.weekends or day.weekday() < 5


# --- the decision --------------------------------------------------------------------------


def decide(
    contact: ContactView,
    due: Due,
    now: datetime,
    history: History | None = None,
    caps: Caps | None = None,
    zone: tzinfo = UTC,
    sending: bool = False,
) -> Decision:
    """Skip (and why), turn into a call, defer until when (and why), or send now."""
    ctx = Context(
        contact, due, now, history or History(), contact.caps or caps or Caps(), zone, sending
    )
    for rule in BLOCK_RULES:
        decision = rule(ctx)
        if decision is not None:
            return decision
    holds = [h for h in (rule(ctx) for rule in HOLD_RULES) if h is not None]
    not_before = max((h[0] for h in holds), default=now)
    windowed = sending or ctx.caps.drafts_in_window
    at = next_window_open(not_before, zone, ctx.caps) if windowed else not_before
    if at <= now:
        return Decision("send", "allowed", "within every cap and the send window")
    binding = [h for h in holds if h[0] == not_before]
    if binding:
        rule_name, reason = binding[0][1], binding[0][2]
    else:
        rule_name, reason = "quiet_hours", f"outside the send window in {zone}"
    return Decision(
        "defer",
        rule_name,
        f"{reason}; deferred until {at:%Y-%m-%d %H:%M} UTC",
        at,
        tuple(h[1] for h in holds),
    )


# --- time zones ----------------------------------------------------------------------------


def contact_zone(explicit: str, offsets: Sequence[int], fallback: str) -> tzinfo:
    """The contact's zone: their own setting, else the most frequent recent UTC offset in mail
    they sent (the latest wins a tie), else the owner's.

    >>> contact_zone("", [-300, 60, -300], "UTC")
    datetime.timezone(datetime.timedelta(days=-1, seconds=68400))
    """
    for name in (explicit,):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
    if offsets:
        best = max(set(offsets), key=lambda o: (offsets.count(o), -offsets[::-1].index(o)))
        return timezone(timedelta(minutes=best))
    try:
        return ZoneInfo(fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
