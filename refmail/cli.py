"""The `refmail` command: the composition root that wires config, database, sources and targets.

Every command takes --config PATH (or $REFMAIL_CONFIG); errors print one line and exit non-zero.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import re
import secrets
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from refmail import __version__, config, intro_view, wiring
from refmail import contacts as contact_service
from refmail import models as m
from refmail.clock import FixedClock, system_clock
from refmail.daemon import Daemon, progress_printer
from refmail.db import SessionFactory
from refmail.detect import Identity, classify
from refmail.dispatch import dispatch
from refmail.doctor import run_checks
from refmail.errors import BusyError, RefmailError
from refmail.maildir import deliver
from refmail.parse import parse_message
from refmail.sync import sync_account
from refmail.text import one_line

log = logging.getLogger("refmail")


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


pass_app = click.make_pass_decorator(App)


class OneLineError(click.ClickException):
    """refmail's own errors: one line on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"refmail: error: {self.message}", err=True)


class RefmailGroup(click.Group):
    """Turns RefmailError from any command into a OneLineError."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RefmailError as exc:
            raise OneLineError(str(exc)) from exc


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

DEMO_OWNER = "olivia@example.com"


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
@click.option("--delivery", type=click.Choice(["drafts", "file"]), help="Where follow-ups go.")
@click.option(
    "--database", help="SQLAlchemy URL (default: sqlite:///refmail.db beside the config)."
)
@click.option("--password-file", default="", help="File holding the IMAP password.")
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
        text = _demo_config(path, database)
    else:
        if not address or not owners:
            raise click.UsageError("--imap needs --address and at least one --owner")
        text = _imap_config(
            imap_url,
            address,
            owners,
            owner_name,
            delivery or "drafts",
            database or "sqlite:///refmail.db",
            password_file,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    app._settings = None
    app.database()
    click.echo(f"wrote {path} and created the database {app.settings.database}")
    if imap_url is not None and not password_file:
        click.echo("set REFMAIL_IMAP_PASSWORD (or password_file) before `refmail sync --once`")


def _demo_config(path: Path, database: str | None) -> str:
    base = path.resolve().parent / "refmail-demo"
    maildir = base / "Maildir"
    now = datetime.now(UTC)
    demo = sorted(
        (p for p in resources.files("refmail.demo").iterdir() if p.name.endswith(".eml")),
        key=lambda p: p.name,
    )
    for i, item in enumerate(demo):
        sent = now - timedelta(hours=6 * (len(demo) - i))  # recent, so follow-ups are due now
        raw = re.sub(
            rb"(?m)^Date: .*$",
            f"Date: {email.utils.format_datetime(sent)}".encode(),
            item.read_bytes(),
            count=1,
        )
        deliver(maildir, raw, f"{int(sent.timestamp())}.demo{i:02d}.refmail")
    return f"""# refmail demo configuration: a local Maildir, SQLite, drafts as .eml files.
# See refmail.toml.example for every key.
database = "{database or "sqlite:///refmail.db"}"
timezone = "UTC"

[[accounts]]
name = "demo"
address = "olivia+refmail@example.com"
owners = ["{DEMO_OWNER}"]
owner_name = "Olivia Owner"
delivery = "file"
drafts_dir = "refmail-demo/drafts"

[accounts.maildir]
path = "refmail-demo/Maildir"

[caps]
# Drafts are for you to review, so the demo writes them whatever the hour; with the default
# (true) a draft is due only inside the recipient's send window.
drafts_in_window = false
"""


def _imap_config(
    url: str,
    address: str,
    owners: tuple[str, ...],
    owner_name: str,
    delivery: str,
    database: str,
    password_file: str,
) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise click.UsageError("--imap must look like imaps://USER@HOST[:PORT]/FOLDER")
    tls = "ssl" if parts.scheme == "imaps" else parse_qs(parts.query).get("tls", ["starttls"])[0]
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    owner_list = ", ".join(json.dumps(o) for o in owners)
    return f"""# refmail configuration. See refmail.toml.example for every key.
database = {json.dumps(database)}
timezone = "UTC"

[[accounts]]
name = "main"
address = {json.dumps(address)}
owners = [{owner_list}]
owner_name = {json.dumps(owner_name)}
delivery = {json.dumps(delivery)}

[accounts.imap]
host = {json.dumps(parts.hostname)}
port = {parts.port or 0}
tls = {json.dumps(tls)}
user = {json.dumps(unquote(parts.username))}
password_env = "REFMAIL_IMAP_PASSWORD"
password_file = {json.dumps(password_file)}
folders = [{json.dumps(folder)}]
"""


# --- sync and dispatch ---------------------------------------------------------------------


@cli.command()
@click.option(
    "--once", is_flag=True, required=True, help="Sync once and exit (the daemon is `refmail run`)."
)
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
                )
        except BusyError as exc:  # a cron run beside `refmail run`: not an error
            click.echo(f"{account.name}: {exc}; skipped", err=True)
            continue
        except RefmailError as exc:
            click.echo(f"{account.name}: error: {exc}", err=True)
            failed = True
            continue
        click.echo(
            f"{account.name}: scanned {report.scanned}, {report.candidates} for refmail, "
            f"{report.introductions} introductions, {report.follow_ups} follow-ups planned"
            + (f", {report.malformed} malformed" if report.malformed else "")
        )
        for notice in report.notices:
            click.echo(f"  {one_line(notice)}")
    if failed:
        sys.exit(1)


@cli.command(name="dispatch")
@click.option("--once", is_flag=True, required=True, help="Dispatch once and exit.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO-8601",
    help="Act as if it were this time (to see check-ins come due).",
)
@pass_app
def dispatch_cmd(app: App, once: bool, now_text: str | None) -> None:
    """Deliver the follow-ups that are due: drafts in your mailbox (or .eml files)."""
    clock = FixedClock(_parse_now(now_text)) if now_text else system_clock
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


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 time", param_hint="--now") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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
                "date": _iso(i.message.sent_at or i.created_at),
                "shape": i.shape,
                "introducer": i.introducer.email,
                "parties": [p.contact.email for p in i.parties],
                "status": i.status,
                "context": i.context,
                "subject": i.message.subject,
            }
            for i in rows
        ]
    _print(items, as_json, ["id", "date", "shape", "introducer", "parties", "status", "subject"])


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
    """List follow-ups by due time: kind, recipient, due, state, reason."""
    with _session(app) as session:
        query = select(m.FollowUp).order_by(m.FollowUp.due_at, m.FollowUp.id)
        if state:
            query = query.where(m.FollowUp.state.in_(state))
        items = [
            {
                "id": f.id,
                "kind": f.kind,
                "recipient": f.contact.email,
                "due": _iso(f.due_at),
                "state": f.state,
                "reason": f.reason,
                "introduction": f.introduction_id,
                "message_id": f.message_id,
            }
            for f in session.scalars(query)
        ]
    _print(items, as_json, ["id", "kind", "recipient", "due", "state", "reason"])


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
                f"due {_iso(row.due_at)}" + (f" ({row.reason})" if row.reason else "")
            )
        events = [
            {"at": _iso(e.at), "state": e.state, "rule": e.rule, "reason": e.reason}
            for e in row.events
        ]
    _print(events, as_json, ["at", "state", "rule", "reason"])


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
            "paused_until": _iso(contact.paused_until),
            "timezone": contact.timezone,
            "opted_out_at": _iso(contact.opted_out_at),
            "bounced_at": _iso(contact.bounced_at),
            "last_contact_at": _iso(contact.last_contact_at),
            "follow_ups": [
                {
                    "id": f.id,
                    "kind": f.kind,
                    "due": _iso(f.due_at),
                    "state": f.state,
                    "reason": f.reason,
                }
                for f in follow_ups
            ],
            "changes": [
                {
                    "at": _iso(c.at),
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
        email_address = contact.email
    for change in changes:
        click.echo(
            one_line(f"{email_address}: {change.field}: {change.old or '-'} → {change.new or '-'}")
        )
    if cancelled:
        click.echo(f"{email_address}: {cancelled} planned follow-ups cancelled")


def _parse_day(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc


@cli.command()
@click.option("--listen", metavar="HOST:PORT", help="Address to serve on (default: web.listen).")
@pass_app
def web(app: App, listen: str | None) -> None:
    """Serve the unsubscribe and preference pages (put HTTPS in front of it)."""
    import uvicorn  # imported here: only this command needs a server

    from refmail.httpserver import server_config
    from refmail.web import create_app

    settings = app.settings
    context = wiring.web_context(wiring.build(settings))
    if context is None:
        raise OneLineError("web.base_url is not set: the pages need their public address")
    host, port = config.Web(listen=listen).host_port if listen else settings.web.host_port
    click.echo(f"serving {settings.web.base_url} on http://{host}:{port}")
    uvicorn.Server(server_config(create_app(context), host, port, proxy_headers=True)).run()


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
@pass_app
def doctor(app: App) -> None:
    """Check every account (login, folders, Drafts/Sent, IDLE, SMTP), the database and the web
    settings; one verdict a line. Exit status 1 if anything failed."""
    failed = False
    for check in run_checks(app.settings):
        click.echo(str(check))
        failed = failed or check.status == "FAIL"
    if failed:
        sys.exit(1)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the error, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
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


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


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
        click.echo("  ".join(v[:w].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


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


def main() -> None:
    """Entry point of the `refmail` console script."""
    cli()
