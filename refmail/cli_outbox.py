"""`refmail outbox list | why | preview | cancel | snooze`: the follow-ups refmail planned, what
became of them, and what dispatch would do next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from sqlalchemy import select

from refmail import models as m
from refmail import outbox as outbox_store
from refmail import wiring
from refmail.cli_base import App, OneLineError, parse_when, pass_app, print_items, session
from refmail.clock import system_clock
from refmail.errors import RefmailError
from refmail.outbox import DRAFT_CHANNELS
from refmail.preview import expected_at, preview


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--state", multiple=True, type=click.Choice(m.STATES), help="Only these states.")
@pass_app
def outbox_list(app: App, as_json: bool, state: tuple[str, ...]) -> None:
    """List follow-ups by due time: kind, recipient, due, when it would appear at the earliest
    (caps may move it later: `outbox preview` says exactly), state, reason."""
    rules = wiring.rules(app.settings)
    with session(app) as opened:
        accounts = {a.id: a.name for a in opened.scalars(select(m.Account))}
        query = select(m.FollowUp).order_by(m.FollowUp.due_at, m.FollowUp.id)
        if state:
            query = query.where(m.FollowUp.state.in_(state))
        items = [
            {
                "id": f.id,
                "kind": f.kind,
                "recipient": f.contact.email,
                "due": app.when(f.due_at, as_json),
                "appears": app.when(_appears(app, accounts, rules, f), as_json),
                "state": f.state,
                "reason": f.reason,
                "introduction": f.introduction_id,
                "message_id": f.message_id,
                **_draft_fields(app, f, as_json),
            }
            for f in opened.scalars(query)
        ]
    columns = ["id", "kind", "recipient", "due", "appears", "state", "draft", "drafted", "sent"]
    print_items(items, as_json, [*columns, "after", "reason"])


def _appears(app: App, accounts: dict[int, str], rules: Any, row: m.FollowUp) -> datetime | None:
    try:
        account = app.settings.account(accounts[row.account_id])
    except (KeyError, RefmailError):
        return None  # an account no longer configured
    sends = wiring.routes(account)(row.kind).sends
    return expected_at(row, account, rules, sends, system_clock())


def _draft_fields(app: App, f: m.FollowUp, as_json: bool) -> dict[str, str]:
    """What became of a draft: drafted · sent by you · dismissed · withdrawn, when it was
    drafted, when you sent it and how long after."""
    status = {"sent": "sent by you", "dismissed": "dismissed", "withdrawn": "withdrawn"}
    draft = status.get(f.state, "")
    if f.state == "delivered" and f.channel in DRAFT_CHANNELS:
        draft = "drafted" + (", outdated" if f.flagged_at else "")
    after = ""
    if f.sent_at is not None and f.delivered_at is not None:
        hours = max((f.sent_at - f.delivered_at).total_seconds(), 0) / 3600
        after = f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.1f}d"
    return {
        "draft": draft,
        "drafted": app.when(f.delivered_at, as_json) if f.channel in DRAFT_CHANNELS else "",
        "sent": app.when(f.sent_at, as_json),
        "after": after,
    }


@click.command(name="why")
@click.argument("follow_up_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def outbox_why(app: App, follow_up_id: int, as_json: bool) -> None:
    """Every decision about one follow-up: planned, deferred until when, merged, skipped, sent."""
    with session(app) as opened:
        row = opened.get(m.FollowUp, follow_up_id)
        if row is None:
            raise OneLineError(f"no follow-up #{follow_up_id}")
        if not as_json:
            click.echo(
                f"#{row.id} {row.kind} to {row.contact.email}: {row.state}, "
                f"due {app.when(row.due_at)}" + (f" ({row.reason})" if row.reason else "")
            )
        events = [
            {"at": app.when(e.at, as_json), "state": e.state, "rule": e.rule, "reason": e.reason}
            for e in row.events
        ]
    print_items(events, as_json, ["at", "state", "rule", "reason"])


@click.command(name="preview")
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Look ahead to this time (ISO-8601 in your zone, or +3d / +12h); default now.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def outbox_preview(app: App, at_text: str | None, as_json: bool) -> None:
    """What dispatch would deliver, defer or skip at a time, and why, changing nothing."""
    at = parse_when(app, at_text, "--at") if at_text else system_clock()
    parts = wiring.build(app.settings)
    items = [
        {
            "id": o.id,
            "kind": o.kind,
            "recipient": o.recipient,
            "due": app.when(o.due, as_json),
            "would": o.action,
            "appears": app.when(o.appears, as_json) if o.appears else "never",
            "channel": o.channel,
            "rule": o.rule,
            "reason": o.reason,
        }
        for account in app.settings.accounts
        for o in preview(parts.factory, account, wiring.routes(account), parts.rules, at)
    ]
    if not as_json:
        click.echo(f"at {app.when(at)}, nothing changed:")
    print_items(items, as_json, ["id", "kind", "recipient", "would", "appears", "reason"])


@click.command(name="cancel")
@click.argument("follow_up_id", type=int)
@pass_app
def outbox_cancel(app: App, follow_up_id: int) -> None:
    """Cancel one planned follow-up (recorded in its why-log as your decision)."""
    with _owner_change(app, follow_up_id) as (opened, row, now):
        outbox_store.cancel(opened, row, now)
        click.echo(f"#{row.id} {row.kind} to {row.contact.email}: cancelled")


@click.command(name="snooze")
@click.argument("follow_up_id", type=int)
@click.argument("until", metavar="UNTIL")
@pass_app
def outbox_snooze(app: App, follow_up_id: int, until: str) -> None:
    """Move one planned follow-up to UNTIL (ISO-8601 in your zone, or +3d / +12h); the caps and
    the send window are applied again then."""
    when = parse_when(app, until, "UNTIL")
    with _owner_change(app, follow_up_id) as (opened, row, now):
        outbox_store.snooze(opened, row, when, now)
        click.echo(f"#{row.id} {row.kind} to {row.contact.email}: snoozed until {app.when(when)}")


@contextmanager
def _owner_change(app: App, follow_up_id: int) -> Iterator[tuple[Any, m.FollowUp, datetime]]:
    with session(app) as opened, opened.begin():
        row = opened.get(m.FollowUp, follow_up_id)
        if row is None:
            raise OneLineError(f"no follow-up #{follow_up_id}")
        try:
            yield opened, row, system_clock()
        except outbox_store.NotOpen as exc:
            raise OneLineError(str(exc)) from exc
