"""The commands of the daily round: init, sync, dispatch, classify and doctor.

Each command imports what only it needs inside its body: `refmail sync` on a Maildir account
loads neither the templates (Jinja2) nor IMAP's doctor checks, and `classify` opens no database.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from refmail import config
from refmail.cli_base import App, parse_when, pass_app
from refmail.clock import FixedClock, system_clock
from refmail.errors import BusyError, RefmailError
from refmail.startup import started
from refmail.text import one_line

if TYPE_CHECKING:
    from refmail.db import SessionFactory

# --- init ----------------------------------------------------------------------------------


@click.command()
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
    from refmail import starter
    from refmail.db import safe_url

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


@click.command()
@click.option("--once", is_flag=True, hidden=True, help="Accepted for old scripts; sync runs once.")
@pass_app
def sync(app: App, once: bool) -> None:
    """Read new mail, record introductions and plan their follow-ups."""
    from refmail import outcomes, wiring
    from refmail.sync import sync_account

    factory = app.database()
    failed = False
    for account in app.settings.accounts:
        try:
            with wiring.open_source(account) as source:
                progress = _progress_bar() if sys.stderr.isatty() else None
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


def _progress_bar() -> Any:
    # The daemon module (and its scheduler) is loaded only when a person watches a terminal.
    from refmail.daemon import progress_printer

    return progress_printer()


def _reconcile(app: App, factory: SessionFactory, account: config.Account) -> bool:
    """What became of the account's drafts (sent by you, dismissed, withdrawn); False on error."""
    from refmail import wiring

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


@click.command(name="dispatch")
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
    from refmail import wiring
    from refmail.dispatch import dispatch

    clock = FixedClock(parse_when(app, now_text, "--now")) if now_text else system_clock
    parts = wiring.build(app.settings)
    failed = False
    for account in app.settings.accounts:
        try:
            with wiring.open_channels(account) as channels:
                report = dispatch(parts.factory, account, channels, parts, clock, rules=parts.rules)
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


@click.command(name="classify")
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
    from refmail.detect import Identity, classify
    from refmail.parse import parse_message

    started()  # many files may follow: the collector runs from here (startup.py)
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


# --- doctor --------------------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per verdict.")
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check every account (login, folders read and why, Drafts/Sent, IDLE, SMTP), the database
    and the web settings; one verdict a line. Exit status 1 if anything failed."""
    from refmail.doctor import run_checks

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
