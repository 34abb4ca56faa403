"""The commands that close the referral loop and keep complete records: outcomes, opt-in asks,
suggestions, partners, the owner's report and digest, and contacts list / export / forget.

Named in refmail.cli's table of commands (loaded only when one of them runs); the commands reach
the config and database through the App object the main group puts on the context.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import click
from sqlalchemy.orm import Session

from refmail import (
    digest,
    kinds,
    optin,
    outbox,
    outcomes,
    owner_web,
    partners,
    record,
    records,
    report,
    wiring,
)
from refmail import models as m
from refmail.clock import system_clock
from refmail.config import Account, Settings
from refmail.errors import RefmailError
from refmail.parse import Address, normalise_address


@contextmanager
def _session(app: Any, write: bool = False) -> Iterator[Session]:
    with app.database()() as session:
        if write:
            with session.begin():
                yield session
        else:
            yield session


def _account_of(settings: Settings, session: Session, account_id: int) -> Account:
    row = session.get(m.Account, account_id)
    return settings.account(row.name) if row is not None else settings.accounts[0]


def _echo(items: list[str]) -> None:
    for item in items:
        click.echo(item)


# --- intros: outcome, ask, suggestions -----------------------------------------------------


@click.command(name="outcome")
@click.argument("introduction_id", type=int)
@click.argument("outcome", type=click.Choice(outcomes.OUTCOMES))
@click.option("--value", type=float, help="What the business is worth (any currency).")
@click.option("--note", default="", help="Why, in your words.")
@click.pass_obj
def intros_outcome(
    app: Any, introduction_id: int, outcome: str, value: float | None, note: str
) -> None:
    """Set an introduction's outcome; `converted` plans the thank-you to the referrer."""
    now = system_clock()
    with _session(app, write=True) as session:
        intro = outcomes.find(session, introduction_id)
        rules = outcomes.rules_for(
            app.settings, _account_of(app.settings, session, intro.account_id)
        )
        _echo(
            outcomes.set_outcome(
                session,
                intro,
                outcome,
                rules,
                now,
                source="owner",
                reason="refmail intros outcome",
                value=value,
                note=note,
            )
        )


@click.command(name="ask")
@click.argument("person")
@click.argument("other")
@click.option("--context", default="", help="Why they should meet (shown in the introduction).")
@click.option("--name", "other_name", default="", help="The other person's name.")
@click.pass_obj
def intro_ask(app: Any, person: str, other: str, context: str, other_name: str) -> None:
    """Record an opt-in introduction: you asked PERSON whether they would like to meet OTHER.
    Their yes (a reply to you) drafts the double-sided introduction to both."""
    asked, offered = normalise_address(person), normalise_address(other)
    if asked is None or offered is None:
        raise RefmailError("PERSON and OTHER must be addresses")
    now = system_clock()
    account = app.settings.accounts[0]
    with _session(app, write=True) as session:
        for address in (asked, offered):
            if records.is_suppressed(session, address):
                raise RefmailError(f"{address} asked to be forgotten: refmail will not write")
        account_id = record.ensure_account(session, account, now).id
        domain = account.owner_address.split("@", 1)[1]
        message_id = outbox.new_message_id(domain)  # says nothing about who was asked
        row = m.MessageRecord(
            message_id=message_id,
            synthetic_id=True,
            account_id=account_id,
            folder="",
            thread_root=message_id,
            sender=account.owner_address,
            recipients=asked,
            subject=f"Would you like an introduction to {other_name or offered}?",
            kind="command",
            rule="owner_ask",
            reason="refmail intro ask",
            ingested_at=now,
        )
        session.add(row)
        session.flush()
        ask = optin.Ask(Address(asked), Address(offered, other_name), context)
        intro = optin.record_ask(session, row, Address(account.owner_address), ask, now, "owner")
        click.echo(f"introduction #{intro.id} pending: waiting for {asked} to say yes")


@click.command(name="suggestions")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def intros_suggestions(app: Any, as_json: bool) -> None:
    """Suggested conversions (signs in your mail); nothing is sent on a suggestion."""
    with _session(app) as session:
        rows = [
            {"id": s.id, "introduction": s.introduction_id, "text": outcomes.suggestion_text(s)}
            for s in outcomes.open_suggestions(session)
        ]
    for row in rows:
        click.echo(
            json.dumps(row, ensure_ascii=False) if as_json else f"#{row['id']} {row['text']}"
        )
    if not rows and not as_json:
        click.echo("(none)")


@click.command(name="confirm-suggestion")
@click.argument("suggestion_id", type=int)
@click.pass_obj
def intros_confirm_suggestion(app: Any, suggestion_id: int) -> None:
    """Confirm a suggested conversion: the introduction becomes converted."""
    now = system_clock()
    with _session(app, write=True) as session:
        row = session.get(m.Suggestion, suggestion_id)
        if row is None:
            raise RefmailError(f"no suggestion #{suggestion_id}")
        rules = outcomes.rules_for(
            app.settings, _account_of(app.settings, session, row.introduction.account_id)
        )
        _echo(outcomes.confirm_suggestion(session, suggestion_id, rules, now, "owner"))


# --- partners ------------------------------------------------------------------------------


@click.group(name="partners")
def partners_group() -> None:
    """People who refer you: their numbers, their words, your notes, their rewards."""


@partners_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def partners_list(app: Any, as_json: bool) -> None:
    """Every referral partner with referrals, connected, converted, value, thanks and rewards."""
    owners = frozenset(o for a in app.settings.accounts for o in a.owners)
    with _session(app) as session:
        rows = report.build(session, owners, system_clock()).partners
    items = [asdict(row) for row in rows]
    if as_json:
        for item in items:
            click.echo(json.dumps(item, ensure_ascii=False))
        return
    columns = ["email", "referrals", "connected", "converted", "value", "last_thanked"]
    click.echo(report.plain_table(items, [*columns, "last_rewarded", "expectations", "quotes"]))


@partners_group.command(name="note")
@click.argument("address")
@click.argument("text")
@click.pass_obj
def partners_note(app: Any, address: str, text: str) -> None:
    """Remember what you expect of a partner ("refers bookkeeping clients under 50 staff")."""
    with _session(app, write=True) as session:
        partners.set_expectations(session, address, text, system_clock())
    click.echo(f"{address}: {text}")


@partners_group.command(name="reward-sent")
@click.argument("address")
@click.option("--intro", "introduction_id", type=int, help="Only this introduction's reward.")
@click.pass_obj
def partners_reward_sent(app: Any, address: str, introduction_id: int | None) -> None:
    """Mark the reward(s) promised to a partner as sent."""
    with _session(app, write=True) as session:
        rows = partners.reward_sent(session, address, system_clock(), introduction_id)
        _echo([f"reward for introduction #{r.introduction_id} sent: {r.text}" for r in rows])


# --- the owner's report and digest ---------------------------------------------------------


@click.command(name="report")
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON object.")
@click.pass_obj
def report_cmd(app: Any, as_json: bool) -> None:
    """Introductions, outcomes and conversions per month, partners, suggestions, what is due."""
    owners = frozenset(o for a in app.settings.accounts for o in a.owners)
    with _session(app) as session:
        built = report.build(session, owners, system_clock())
    if as_json:
        click.echo(json.dumps(report.as_json(built), ensure_ascii=False))
    else:
        click.echo(report.text(built))


@click.command(name="digest")
@click.option("--force", is_flag=True, help="Draft one now, even if one went out this week.")
@click.pass_obj
def digest_cmd(app: Any, force: bool) -> None:
    """Draft the owner's digest (suggested conversions, notes, what is due) if one is due."""
    settings: Settings = app.settings
    parts = wiring.build(settings)
    for account in settings.accounts:
        with wiring.open_channels(account) as channels:
            done = digest.draft(
                parts.factory,
                account,
                channels(kinds.CALL_TASK),  # the channel of mail to the owner
                parts.renderer,
                system_clock(),
                every=timedelta(days=settings.optin.digest_days),
                ask_wait=timedelta(days=settings.optin.wait_days),
                force=force,
            )
        if done is None:
            click.echo(f"{account.name}: no digest due")
        else:
            click.echo(
                f"{account.name}: digest with {done.suggestions} suggestions and {done.notes} "
                f"notes: {done.where}"
            )


@click.command(name="owner-password")
def owner_password() -> None:
    """Print the hash of a password for the owner's page ([owner_page] password_hash)."""
    first = getpass.getpass("password for the owner's page: ") if sys.stdin.isatty() else ""
    if not sys.stdin.isatty():
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 12:
        raise RefmailError("use at least 12 characters")
    click.echo(owner_web.hash_password(first))


# --- contacts: list, export, forget --------------------------------------------------------


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def contacts_list(app: Any, as_json: bool) -> None:
    """Everyone refmail knows: level, channel, last contact, open follow-ups."""
    with _session(app) as session:
        rows = records.listing(session)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    columns = ["email", "name", "level", "channel", "last_contact", "open_follow_ups"]
    click.echo(report.plain_table(rows, columns))


@click.command(name="export")
@click.argument("address")
@click.pass_obj
def contacts_export(app: Any, address: str) -> None:
    """Everything refmail holds about a person, as JSON."""
    with _session(app) as session:
        click.echo(json.dumps(records.export(session, address), ensure_ascii=False, indent=2))


@click.command(name="forget")
@click.argument("address")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def contacts_forget(app: Any, address: str, yes: bool) -> None:
    """Erase a person: their data goes, a salted hash stays so refmail never writes again."""
    owners = {o for a in app.settings.accounts for o in a.owners}
    if (normalise_address(address) or address) in owners:
        raise RefmailError("that is your own address")
    if not yes:
        click.confirm(f"Erase everything refmail holds about {address}?", abort=True)
    _withdraw_drafts_first(app, address)
    with _session(app, write=True) as session:
        done = records.forget(session, address, system_clock())
    click.echo(
        f"{done.email} forgotten: {done.introductions} introductions, {done.follow_ups} "
        f"follow-ups, {done.messages} messages deleted; {done.scrubbed} mentions erased"
    )


def _withdraw_drafts_first(app: Any, address: str) -> None:
    """Take the drafts to or about the person out of the owner's Drafts (or .eml directory)
    while the database still knows which they are."""
    now, reason = system_clock(), "the person asked to be forgotten (contacts forget)"
    with _session(app, write=True) as session:
        contact = records.find_contact(session, address)
        wanted = outbox.withdraw_drafts(session, "forget", reason, now, contact_id=contact.id)
        for intro_id in records.introductions_of(session, contact):
            wanted += outbox.withdraw_drafts(
                session, "forget", reason, now, introduction_id=intro_id
            )
    if not wanted:
        return
    settings: Settings = app.settings
    factory = app.database()
    for account in settings.accounts:
        done = wiring.reconcile_drafts(settings, factory, account)
        if done.withdrawn or done.flagged:
            click.echo(
                f"{account.name}: {done.withdrawn} drafts withdrawn, {done.flagged} edited ones "
                "flagged (delete those yourself)"
            )
