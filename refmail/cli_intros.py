"""`refmail intros list | show | confirm | dismiss`: the introductions refmail recorded.

The group itself, and its other commands (outcome, ask, suggestions), are named in refmail.cli.
"""

from __future__ import annotations

import json

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from refmail import intro_view, record
from refmail import models as m
from refmail import outbox as outbox_store
from refmail.cli_base import App, OneLineError, pass_app, print_items, session
from refmail.clock import system_clock


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def intros_list(app: App, as_json: bool) -> None:
    """List introductions, newest first."""
    with session(app) as opened:
        rows = opened.scalars(
            select(m.Introduction)
            .options(selectinload(m.Introduction.parties).selectinload(m.IntroductionParty.contact))
            .order_by(m.Introduction.id.desc())
        ).all()
        items = [
            {
                "id": i.id,
                "date": app.when(i.message.sent_at or i.created_at, as_json),
                "shape": i.shape,
                "introducer": i.introducer.email,
                "parties": [p.contact.email for p in i.parties],
                "status": i.status if i.verified else f"UNVERIFIED {i.status}",
                "verified": i.verified,
                "auth": i.auth,
                "context": i.context,
                "subject": i.message.subject,
            }
            for i in rows
        ]
    print_items(
        items, as_json, ["id", "date", "shape", "introducer", "parties", "status", "subject"]
    )
    unverified = [str(i["id"]) for i in items if not i["verified"]]
    if unverified and not as_json:
        click.echo(
            f"\nunverified (not authenticated as the owner's; nothing planned): "
            f"{', '.join(unverified)}. If one is yours: refmail intros confirm ID"
        )


@click.command(name="confirm")
@click.argument("intro_id", type=int)
@pass_app
def intros_confirm(app: App, intro_id: int) -> None:
    """Vouch for an unverified introduction: its follow-ups are planned now."""
    settings = app.settings
    now = system_clock()
    with session(app) as opened, opened.begin():
        intro = opened.get(m.Introduction, intro_id)
        if intro is None:
            raise OneLineError(f"no introduction #{intro_id}")
        if intro.verified:
            click.echo(f"introduction #{intro_id} is verified already: nothing to do")
            return
        row = opened.get(m.Account, intro.account_id)
        assert row is not None  # a foreign key: every introduction has its account
        account = settings.account(row.name)
        rows = record.confirm_introduction(opened, intro, account, settings.followups, now)
        planned = [f"{r.kind} to {r.contact.email} ({r.state})" for r in rows]
    click.echo(f"introduction #{intro_id} confirmed; {len(planned)} follow-ups planned")
    for line in planned:
        click.echo(f"  {line}")


@click.command(name="show")
@click.argument("intro_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@pass_app
def intros_show(app: App, intro_id: int, as_json: bool) -> None:
    """One introduction: its parties and what was said of each, the words about you, its
    status and outcome, and its follow-ups."""
    with session(app) as opened:
        intro = opened.get(m.Introduction, intro_id)
        if intro is None:
            raise OneLineError(f"no introduction #{intro_id}")
        data = intro_view.view(opened, intro)
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else intro_view.text(data))


@click.command(name="dismiss")
@click.argument("introduction_id", type=int)
@pass_app
def intros_dismiss(app: App, introduction_id: int) -> None:
    """Say a message was not an introduction: its open follow-ups are cancelled (why-log: you)."""
    with session(app) as opened, opened.begin():
        intro = opened.get(m.Introduction, introduction_id)
        if intro is None:
            raise OneLineError(f"no introduction #{introduction_id}")
        cancelled = outbox_store.dismiss_introduction(opened, intro, system_clock())
    click.echo(f"introduction #{introduction_id} dismissed, {cancelled} follow-ups cancelled")
