"""`refmail contacts show | set`: a contact's preferences, follow-ups and change log.

The group itself, and its other commands (list, export, forget), are named in refmail.cli.
"""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from refmail import contacts as contact_service
from refmail import models as m
from refmail.cli_base import (
    App,
    OneLineError,
    cell,
    parse_day,
    pass_app,
    print_items,
    printable,
    session,
)
from refmail.clock import system_clock
from refmail.text import one_line


@click.command(name="show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@pass_app
def contacts_show(app: App, address: str, as_json: bool) -> None:
    """A contact's preferences, change log and follow-ups."""
    with session(app) as opened:
        contact = contact_service.find(opened, address)
        if contact is None:
            raise OneLineError(f"no contact {address}")
        follow_ups = opened.scalars(
            select(m.FollowUp)
            .where(m.FollowUp.contact_id == contact.id)
            .order_by(m.FollowUp.due_at)
        ).all()
        changes = opened.scalars(
            select(m.ContactChange)
            .where(m.ContactChange.contact_id == contact.id)
            .order_by(m.ContactChange.id)
        ).all()
        info: dict[str, Any] = {
            "email": contact.email,
            "name": contact.name,
            "organisation": contact.organisation,
            "phone": contact.phone,
            "channel": contact.channel,
            "level": contact.level,
            "paused_until": app.when(contact.paused_until, as_json),
            "timezone": contact.timezone,
            "opted_out_at": app.when(contact.opted_out_at, as_json),
            "bounced_at": app.when(contact.bounced_at, as_json),
            "last_contact_at": app.when(contact.last_contact_at, as_json),
            "follow_ups": [
                {
                    "id": f.id,
                    "kind": f.kind,
                    "due": app.when(f.due_at, as_json),
                    "state": f.state,
                    "reason": f.reason,
                }
                for f in follow_ups
            ],
            "changes": [
                {
                    "at": app.when(c.at, as_json),
                    "source": c.source,
                    "field": c.field,
                    "old": c.old_value,
                    "new": c.new_value,
                }
                for c in changes
            ],
        }
    if as_json:
        click.echo(json.dumps(printable(info), ensure_ascii=False))
        return
    for key, value in info.items():
        if not isinstance(value, list):
            click.echo(f"{key:16} {cell(value)}")
    click.echo("\nfollow-ups:")
    print_items(info["follow_ups"], False, ["id", "kind", "due", "state", "reason"])
    click.echo("\nchanges:")
    print_items(info["changes"], False, ["at", "source", "field", "old", "new"])


@click.command(name="set")
@click.argument("address")
@click.option("--level", type=click.Choice(m.LEVELS), help="How much refmail may write to them.")
@click.option(
    "--channel", type=click.Choice(m.CHANNELS), help="email, phone (call reminders) or none."
)
@click.option("--pause-until", "pause_until", metavar="DATE", help="YYYY-MM-DD; 'none' to unpause.")
@click.option("--timezone", metavar="TZ", help="IANA zone, e.g. Europe/Berlin.")
@click.option("--phone", metavar="NUMBER")
@click.option("--name")
@click.option(
    "--opt-out/--opt-in", "opt_out", default=None, help="Stop (or allow again) all follow-ups."
)
@click.option("--clear-bounce", is_flag=True, help="The address works again: forget its bounces.")
@pass_app
def contacts_set(
    app: App,
    address: str,
    level: str | None,
    channel: str | None,
    pause_until: str | None,
    timezone: str | None,
    phone: str | None,
    name: str | None,
    opt_out: bool | None,
    clear_bounce: bool,
) -> None:
    """Change a contact's preferences (creating the contact if refmail does not know it yet)."""
    values: dict[str, object] = {
        k: v
        for k, v in (
            ("level", level),
            ("channel", channel),
            ("timezone", timezone),
            ("phone", phone),
            ("name", name),
        )
        if v is not None
    }
    if pause_until is not None:
        values["paused_until"] = None if pause_until.lower() == "none" else parse_day(pause_until)
    now = system_clock()
    with session(app) as opened, opened.begin():
        contact = contact_service.get_or_create(opened, address, now, "owner")
        changes = contact_service.update(opened, contact, values, "owner", now)
        cancelled = 0
        if opt_out is True:
            cancelled = contact_service.opt_out(opened, contact, "owner", now)
        elif opt_out is False:
            contact_service.opt_in(opened, contact, "owner", now)
        cleared = clear_bounce and contact_service.clear_bounce(opened, contact, "owner", now)
        email_address = contact.email
    for change in changes:
        click.echo(
            one_line(f"{email_address}: {change.field}: {change.old or '-'} → {change.new or '-'}")
        )
    if cancelled:
        click.echo(f"{email_address}: {cancelled} planned follow-ups cancelled")
    if cleared:
        click.echo(f"{email_address}: bounces cleared; mail may go to this address again")
