"""The `refmail` command: the composition root that wires config, database, sources and targets.

Every command takes --config PATH (or $REFMAIL_CONFIG); errors print one line and exit non-zero.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from refmail import (
    __version__,
    cli_records,
    config,
    intro_view,
    outcomes,
    owner_time,
    record,
    starter,
    wiring,
)
from refmail import contacts as contact_service
from refmail import models as m
from refmail import outbox as outbox_store
from refmail.cli_examples import add_examples
from refmail.clock import FixedClock, system_clock
from refmail.daemon import Daemon, progress_printer
from refmail.db import SessionFactory, safe_url
from refmail.detect import Identity, classify
from refmail.dispatch import dispatch
from refmail.doctor import run_checks
from refmail.errors import BusyError, RefmailError
from refmail.outbox import DRAFT_CHANNELS
from refmail.parse import parse_message
from refmail.preview import expected_at, preview
from refmail.sync import sync_account
from refmail.text import one_line


@dataclass
class App:
    """What the commands share: where the config is, once it is loaded."""

    config_path: str | None
    _settings: config.Settings | None = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.load(self.config_path)
        return self._settings

    def database(self) -> SessionFactory:
        return wiring.database(self.settings)

    @property
    def zone(self) -> ZoneInfo:
        """The owner's zone: times are shown, and read, in it."""
        try:
            return ZoneInfo(self.settings.timezone)
        except RefmailError:
            return ZoneInfo("UTC")  # commands that work without a config show UTC

    def when(self, value: datetime | None, as_json: bool = False) -> str:
        """A time for the owner: in their zone, with the zone named (ISO-8601 in JSON)."""
        return owner_time.show(value, self.zone, as_json)


pass_app = click.make_pass_decorator(App)


class OneLineError(click.ClickException):
    """refmail's own errors: one line on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"refmail: error: {self.message}", err=True)


class RefmailGroup(click.Group):
    """Turns RefmailError from any command into a OneLineError; takes --config before or after
    the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_config(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RefmailError as exc:
            raise OneLineError(str(exc)) from exc
        except SQLAlchemyError as exc:  # the database went away after it was opened
            loaded = ctx.obj._settings if isinstance(ctx.obj, App) else None
            url = loaded.database if loaded is not None else ""
            raise OneLineError(wiring.database_problem(url, exc)) from exc


def hoist_config(args: list[str]) -> list[str]:
    """Move `--config PATH` (or `--config=PATH`) given after the subcommand to the front, where
    the group reads it: `refmail outbox list --config x.toml` works as the README says.

    >>> hoist_config(["outbox", "list", "--config", "x.toml", "--json"])
    ['--config', 'x.toml', 'outbox', 'list', '--json']
    """
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg == "--config" and i + 1 < len(args):
            moved += args[i : i + 2]
            i += 2
            continue
        if arg.startswith("--config="):
            moved.append(arg)
        else:
            rest.append(arg)
        i += 1
    return moved + rest


@click.group(cls=RefmailGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar=config.ENV_PATH,
    metavar="PATH",
    help="Config file (default ./refmail.toml, or $REFMAIL_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """refmail: follow-ups for the introductions you make, as drafts in your own mailbox."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = App(config_path)


# --- init ----------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--imap",
    "imap_url",
    metavar="URL",
    help="imaps://USER@HOST[:PORT]/FOLDER (imap:// uses STARTTLS; add ?tls=none for plain).",
)
@click.option("--address", help="refmail's own address (e.g. you+refmail@example.com).")
@click.option("--owner", "owners", multiple=True, help="Your address(es); repeat for several.")
@click.option("--owner-name", default="", help="Your name, as follow-ups are signed.")
@click.option(
    "--delivery", type=click.Choice(["drafts", "file", "smtp"]), help="Where follow-ups go."
)
@click.option(
    "--database", help="SQLAlchemy URL (default: sqlite:///refmail.db beside the config)."
)
@click.option("--password-file", default="", help="File holding the IMAP password.")
@click.option(
    "--smtp",
    "smtp_url",
    metavar="URL",
    help="smtps://USER@HOST[:PORT] (smtp:// uses STARTTLS); password from "
    "$REFMAIL_SMTP_PASSWORD or --smtp-password-file. Sends preference links (and follow-ups "
    "with --delivery smtp).",
)
@click.option("--smtp-password-file", default="", help="File holding the SMTP password.")
@click.option(
    "--base-url",
    metavar="URL",
    help="Public https address of the recipient pages (unsubscribe, preferences); the signing "
    "key comes from $REFMAIL_SIGNING_KEY.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_app
def init(
    app: App,
    imap_url: str | None,
    address: str | None,
    owners: tuple[str, ...],
    owner_name: str,
    delivery: str | None,
    database: str | None,
    password_file: str,
    smtp_url: str | None,
    smtp_password_file: str,
    base_url: str | None,
    force: bool,
) -> None:
    """Write a starter config and create the database.

    With no options it writes the embedded demo: a local Maildir with a few introductions,
    SQLite, and drafts written as .eml files.
    """
    path = config.resolve_path(app.config_path)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists (use --force to overwrite it)")
    if imap_url is None:
        text = starter.demo_config(database)
    else:
        if not address or not owners:
            raise click.UsageError("--imap needs --address and at least one --owner")
        text = starter.imap_config(
            imap_url,
            address,
            owners,
            owner_name,
            delivery or "drafts",
            database or "sqlite:///refmail.db",
            password_file,
        )
        if smtp_url:
            text += starter.smtp_config(smtp_url, smtp_password_file)
        if base_url:
            text += starter.web_config(base_url)
    settings = config.parse(tomllib.loads(text), path)  # checked before anything is written
    starter.create(path, text, settings, demo=imap_url is None)
    app._settings = settings
    click.echo(f"wrote {path} and created the database {safe_url(settings.database)}")
    if imap_url is not None and not password_file:
        click.echo("set REFMAIL_IMAP_PASSWORD (or password_file) before `refmail sync`")
    if smtp_url and not smtp_password_file:
        click.echo("set REFMAIL_SMTP_PASSWORD (or --smtp-password-file) before sending")
    if base_url:
        click.echo("set REFMAIL_SIGNING_KEY (a long random secret) before `refmail run`")


# --- sync and dispatch ---------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, hidden=True, help="Accepted for old scripts; sync runs once.")
@pass_app
def sync(app: App, once: bool) -> None:
    """Read new mail, record introductions and plan their follow-ups."""
    factory = app.database()
    failed = False
    for account in app.settings.accounts:
        try:
            with wiring.open_source(account) as source:
                progress = progress_printer() if sys.stderr.isatty() else None
                report = sync_account(
                    factory,
                    account,
                    source,
                    wiring.folders(account),
                    app.settings.followups,
                    system_clock,
                    progress,
                    outcome_rules=outcomes.rules_for(app.settings, account),
                )
        except BusyError as exc:  # a cron run beside `refmail run`: not an error
            click.echo(f"{account.name}: {exc}; skipped", err=True)
            continue
        except RefmailError as exc:
            click.echo(f"{account.name}: error: {exc}", err=True)
            failed = True
            continue
        click.echo(report.summary())
        for notice in report.notices:
            click.echo(f"  {one_line(notice)}")
        failed = not _reconcile(app, factory, account) or failed
    if failed:
        sys.exit(1)


def _reconcile(app: App, factory: SessionFactory, account: config.Account) -> bool:
    """What became of the account's drafts (sent by you, dismissed, withdrawn); False on error."""
    try:
        done = wiring.reconcile_drafts(app.settings, factory, account)
    except RefmailError as exc:
        click.echo(f"{account.name}: error reconciling drafts: {exc}", err=True)
        return False
    if done.sent or done.dismissed or done.withdrawn or done.flagged:
        click.echo(
            f"{account.name}: drafts: {done.sent} sent by you, {done.dismissed} dismissed, "
            f"{done.withdrawn} withdrawn, {done.flagged} flagged as outdated"
        )
    for notice in done.notices:
        click.echo(f"  {notice}")
    return True


@cli.command(name="dispatch")
@click.option("--once", is_flag=True, hidden=True, help="Accepted for old scripts; runs once.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO-8601",
    help="For tests: act as if it were this time, for real (drafts are written, stale "
    "follow-ups skipped for good). To look ahead safely use `refmail outbox preview --at`.",
)
@pass_app
def dispatch_cmd(app: App, once: bool, now_text: str | None) -> None:
    """Deliver the follow-ups that are due: drafts in your mailbox (or .eml files)."""
    clock = FixedClock(_parse_when(app, now_text, "--now")) if now_text else system_clock
    parts = wiring.build(app.settings)
    failed = False
    for account in app.settings.accounts:
        try:
            with wiring.open_channels(account) as channels:
                report = dispatch(
                    parts.factory, account, channels, parts.renderer, clock, rules=parts.rules
                )
                for item in report.delivered:
                    click.echo(f"  {item.kind} to {item.recipient}: {item.where}")
        except BusyError as exc:  # a cron run beside `refmail run`: not an error
            click.echo(f"{account.name}: {exc}; skipped", err=True)
            continue
        except RefmailError as exc:
            click.echo(f"{account.name}: error: {exc}", err=True)
            failed = True
            continue
        click.echo(
            f"{account.name}: {len(report.delivered)} delivered, "
            f"{report.deferred} deferred, {report.skipped} skipped, {report.calls} call reminders, "
            f"{report.retry_later} to retry, {report.failed} failed"
        )
    if failed:
        sys.exit(1)


# --- classify ------------------------------------------------------------------------------


@cli.command(name="classify")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    help="Whose mailbox this is (default: the config's owners, else each message's sender).",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@pass_app
def classify_cmd(app: App, owners: tuple[str, ...], files: tuple[str, ...]) -> None:
    """Say how each message is classified and which rule decided: one JSON object per file."""
    refmail_addresses: frozenset[str] = frozenset()
    if not owners:
        try:
            settings = app.settings
            owners = tuple(o for a in settings.accounts for o in a.owners)
            refmail_addresses = frozenset(a.address for a in settings.accounts)
        except RefmailError:
            owners = ()
    for name in files:
        parsed = parse_message(Path(name).read_bytes())
        who = owners or ((parsed.sender.email,) if parsed.sender else ())
        verdict = classify(parsed, Identity(frozenset(o.lower() for o in who), refmail_addresses))
        click.echo(
            json.dumps(
                {
                    "file": name,
                    "kind": verdict.kind,
                    "shape": verdict.shape,
                    "rule": verdict.rule,
                    "reason": verdict.reason,
                    "introducer": verdict.introducer.email if verdict.introducer else None,
                    "parties": [p.address.email for p in verdict.parties],
                    "context": verdict.context,
                    "why": verdict.explain(),
                    "about": {p.address.email: p.about for p in verdict.parties},
                    "about_owner": verdict.about_owner,
                    "language": verdict.language,
                    "hits": [f"{h.rule}: {h.reason}" for h in verdict.hits],
                    "message_id": parsed.message_id,
                    "defects": list(parsed.defects),
                },
                ensure_ascii=False,
            )
        )


# --- listings ------------------------------------------------------------------------------


@cli.group()
def intros() -> None:
    """Introductions refmail recorded."""


@intros.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def intros_list(app: App, as_json: bool) -> None:
    """List introductions, newest first."""
    with _session(app) as session:
        rows = session.scalars(
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
    _print(items, as_json, ["id", "date", "shape", "introducer", "parties", "status", "subject"])
    unverified = [str(i["id"]) for i in items if not i["verified"]]
    if unverified and not as_json:
        click.echo(
            f"\nunverified (not authenticated as the owner's; nothing planned): "
            f"{', '.join(unverified)}. If one is yours: refmail intros confirm ID"
        )


@intros.command(name="confirm")
@click.argument("intro_id", type=int)
@pass_app
def intros_confirm(app: App, intro_id: int) -> None:
    """Vouch for an unverified introduction: its follow-ups are planned now."""
    settings = app.settings
    now = system_clock()
    with _session(app) as session, session.begin():
        intro = session.get(m.Introduction, intro_id)
        if intro is None:
            raise OneLineError(f"no introduction #{intro_id}")
        if intro.verified:
            click.echo(f"introduction #{intro_id} is verified already: nothing to do")
            return
        account_name = session.get(m.Account, intro.account_id).name
        account = settings.account(account_name)
        rows = record.confirm_introduction(session, intro, account, settings.followups, now)
        planned = [f"{r.kind} to {r.contact.email} ({r.state})" for r in rows]
    click.echo(f"introduction #{intro_id} confirmed; {len(planned)} follow-ups planned")
    for line in planned:
        click.echo(f"  {line}")


@intros.command(name="show")
@click.argument("intro_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@pass_app
def intros_show(app: App, intro_id: int, as_json: bool) -> None:
    """One introduction: its parties and what was said of each, the words about you, its
    status and outcome, and its follow-ups."""
    with _session(app) as session:
        intro = session.get(m.Introduction, intro_id)
        if intro is None:
            raise OneLineError(f"no introduction #{intro_id}")
        data = intro_view.view(session, intro)
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else intro_view.text(data))


@cli.group()
def outbox() -> None:
    """The follow-ups refmail planned, and what became of them."""


@outbox.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--state", multiple=True, type=click.Choice(m.STATES), help="Only these states.")
@pass_app
def outbox_list(app: App, as_json: bool, state: tuple[str, ...]) -> None:
    """List follow-ups by due time: kind, recipient, due, when it would appear at the earliest
    (caps may move it later: `outbox preview` says exactly), state, reason."""
    rules = wiring.rules(app.settings)
    with _session(app) as session:
        accounts = {a.id: a.name for a in session.scalars(select(m.Account))}
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
            for f in session.scalars(query)
        ]
    columns = ["id", "kind", "recipient", "due", "appears", "state", "draft", "drafted", "sent"]
    _print(items, as_json, [*columns, "after", "reason"])


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


@outbox.command(name="why")
@click.argument("follow_up_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def outbox_why(app: App, follow_up_id: int, as_json: bool) -> None:
    """Every decision about one follow-up: planned, deferred until when, merged, skipped, sent."""
    with _session(app) as session:
        row = session.get(m.FollowUp, follow_up_id)
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
    _print(events, as_json, ["at", "state", "rule", "reason"])


@outbox.command(name="preview")
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
    at = _parse_when(app, at_text, "--at") if at_text else system_clock()
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
    _print(items, as_json, ["id", "kind", "recipient", "would", "appears", "reason"])


@outbox.command(name="cancel")
@click.argument("follow_up_id", type=int)
@pass_app
def outbox_cancel(app: App, follow_up_id: int) -> None:
    """Cancel one planned follow-up (recorded in its why-log as your decision)."""
    with _owner_change(app, follow_up_id) as (session, row, now):
        outbox_store.cancel(session, row, now)
        click.echo(f"#{row.id} {row.kind} to {row.contact.email}: cancelled")


@outbox.command(name="snooze")
@click.argument("follow_up_id", type=int)
@click.argument("until", metavar="UNTIL")
@pass_app
def outbox_snooze(app: App, follow_up_id: int, until: str) -> None:
    """Move one planned follow-up to UNTIL (ISO-8601 in your zone, or +3d / +12h); the caps and
    the send window are applied again then."""
    when = _parse_when(app, until, "UNTIL")
    with _owner_change(app, follow_up_id) as (session, row, now):
        outbox_store.snooze(session, row, when, now)
        click.echo(f"#{row.id} {row.kind} to {row.contact.email}: snoozed until {app.when(when)}")


@contextmanager
def _owner_change(app: App, follow_up_id: int) -> Iterator[tuple[Any, m.FollowUp, datetime]]:
    with _session(app) as session, session.begin():
        row = session.get(m.FollowUp, follow_up_id)
        if row is None:
            raise OneLineError(f"no follow-up #{follow_up_id}")
        try:
            yield session, row, system_clock()
        except outbox_store.NotOpen as exc:
            raise OneLineError(str(exc)) from exc


@intros.command(name="dismiss")
@click.argument("introduction_id", type=int)
@pass_app
def intros_dismiss(app: App, introduction_id: int) -> None:
    """Say a message was not an introduction: its open follow-ups are cancelled (why-log: you)."""
    with _session(app) as session, session.begin():
        intro = session.get(m.Introduction, introduction_id)
        if intro is None:
            raise OneLineError(f"no introduction #{introduction_id}")
        cancelled = outbox_store.dismiss_introduction(session, intro, system_clock())
    click.echo(f"introduction #{introduction_id} dismissed, {cancelled} follow-ups cancelled")


def _parse_when(app: App, text: str, hint: str) -> datetime:
    try:
        return owner_time.read(text, app.zone, system_clock())
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not ISO-8601 or +Nd/+Nh", param_hint=hint) from exc


@cli.group()
def contacts() -> None:
    """People refmail knows, and their preferences."""


@contacts.command(name="show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@pass_app
def contacts_show(app: App, address: str, as_json: bool) -> None:
    """A contact's preferences, change log and follow-ups."""
    with _session(app) as session:
        contact = contact_service.find(session, address)
        if contact is None:
            raise OneLineError(f"no contact {address}")
        follow_ups = session.scalars(
            select(m.FollowUp)
            .where(m.FollowUp.contact_id == contact.id)
            .order_by(m.FollowUp.due_at)
        ).all()
        changes = session.scalars(
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
        click.echo(json.dumps(_printable(info), ensure_ascii=False))
        return
    for key, value in info.items():
        if not isinstance(value, list):
            click.echo(f"{key:16} {_cell(value)}")
    click.echo("\nfollow-ups:")
    _print(info["follow_ups"], False, ["id", "kind", "due", "state", "reason"])
    click.echo("\nchanges:")
    _print(info["changes"], False, ["at", "source", "field", "old", "new"])


@contacts.command(name="set")
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
        values["paused_until"] = None if pause_until.lower() == "none" else _parse_day(pause_until)
    now = system_clock()
    with _session(app) as session, session.begin():
        contact = contact_service.get_or_create(session, address, now, "owner")
        changes = contact_service.update(session, contact, values, "owner", now)
        cancelled = 0
        if opt_out is True:
            cancelled = contact_service.opt_out(session, contact, "owner", now)
        elif opt_out is False:
            contact_service.opt_in(session, contact, "owner", now)
        cleared = clear_bounce and contact_service.clear_bounce(session, contact, "owner", now)
        email_address = contact.email
    for change in changes:
        click.echo(
            one_line(f"{email_address}: {change.field}: {change.old or '-'} → {change.new or '-'}")
        )
    if cancelled:
        click.echo(f"{email_address}: {cancelled} planned follow-ups cancelled")
    if cleared:
        click.echo(f"{email_address}: bounces cleared; mail may go to this address again")


def _parse_day(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc


@cli.command()
@click.option("--listen", metavar="HOST:PORT", help="Address to serve on (default: web.listen).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Server processes sharing the address (PostgreSQL only); a dead one is restarted.",
)
@pass_app
def web(app: App, listen: str | None, workers: int) -> None:
    """Serve the unsubscribe and preference pages (put HTTPS in front of it)."""
    from refmail.db import engine_of
    from refmail.httpserver import check_workers, pool_options, serve
    from refmail.owner_web import mount
    from refmail.web import create_app

    settings = app.settings
    check_workers(workers, settings.database)
    parts = wiring.build(settings, wiring.database(settings, **pool_options(workers)))
    context = wiring.web_context(parts, workers=workers)
    if context is None:
        raise OneLineError("web.base_url is not set: the pages need their public address")
    host, port = config.Web(listen=listen).host_port if listen else settings.web.host_port
    click.echo(f"serving {settings.web.base_url} on http://{host}:{port}")

    csrf_key = secrets.token_bytes(32)  # one for all workers: a form from one posts to another

    def pages() -> Any:  # built in each worker: no thread or connection crosses a fork
        built = create_app(context)
        mount(built, settings, parts.factory, csrf_key)  # the owner's page at /owner
        return built

    engine = engine_of(parts.factory)
    serve(pages, host, port, workers=workers, after_fork=lambda: engine.dispose(close=False))


@cli.command()
@click.option(
    "--worker",
    is_flag=True,
    help="Share the accounts with other `run --worker` processes on the same database "
    "(PostgreSQL): each runs the accounts it holds a lease on, and takes over a dead one's.",
)
@pass_app
def run(app: App, worker: bool) -> None:
    """Run the daemon: sync every account (IDLE where offered), dispatch due follow-ups, and
    serve the recipient pages. SIGTERM/SIGINT stop cleanly; SIGHUP reloads the config."""
    settings = app.settings
    setup_logging(settings.log_level, settings.daemon.log_format)
    on_batch = progress_printer() if sys.stderr.isatty() else None
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}" if worker else None
    Daemon(app.config_path, on_batch=on_batch, worker=worker_id).run()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per verdict.")
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check every account (login, folders read and why, Drafts/Sent, IDLE, SMTP), the database
    and the web settings; one verdict a line. Exit status 1 if anything failed."""
    failed = False
    for check in run_checks(app.settings):
        if as_json:
            entry = {"status": check.status, "subject": check.subject, "words": check.words}
            click.echo(json.dumps(entry, ensure_ascii=False))
        else:
            click.echo(str(check))
        failed = failed or check.status == "FAIL"
    if failed:
        sys.exit(1)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields of an outbox
    decision (follow_up, kind, to, state, rule, reason, due), and the error, if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "refmail", None)  # outbox decisions: who, what, until when
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@contextmanager
def _session(app: App) -> Iterator[Any]:
    with app.database()() as session:
        yield session


def _print(items: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        for item in items:
            click.echo(json.dumps(_printable(item), ensure_ascii=False))
        return
    if not items:
        click.echo("(none)")
        return
    cells = [[_cell(item[c]) for c in columns] for item in items]
    widths = [min(max(len(c), *(len(r[i]) for r in cells)), 60) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        # The last column (a reason, mostly) is never cut: it is what the owner came to read.
        last = len(row) - 1
        click.echo(
            "  ".join(
                (v if i == last else v[:w].ljust(w))
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


def _cell(value: object) -> str:
    return one_line(", ".join(map(str, value)) if isinstance(value, list) else str(value))


def _printable(value: Any) -> Any:
    """Strings (in lists and dicts too) without control characters: they come from mail."""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    return value


cli_records.register(cli, intros, contacts)
add_examples(cli)  # after every command is registered


def main() -> None:
    """Entry point of the `refmail` console script."""
    cli()
