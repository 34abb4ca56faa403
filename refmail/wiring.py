"""Wires a configuration into refmail's parts: the database, the renderer, link signing, mail
sources, delivery channels, the link mailer and the web pages' context.

The one place that turns settings into objects: the CLI, the daemon, the web command and doctor
all get their parts here, so they cannot disagree. Adding a delivery channel is one module with
an `open_channel(account, mailbox)` function and one line in CHANNEL_MODULES (plus its config
section and a doctor check).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from refmail.classes import dataclass
from refmail.clock import Clock, system_clock
from refmail.config import Account, Settings
from refmail.db import SessionFactory, make_engine, migrate, session_factory
from refmail.errors import DatabaseError, SourceError
from refmail.source import Source
from refmail.startup import started

# What only some commands use is imported where it is used: `refmail sync` on a Maildir needs
# neither the templates (Jinja2, via dispatch and render), IMAP, nor the link signer.
if TYPE_CHECKING:
    from refmail.dispatch import Channel, Channels, Routes, Rules
    from refmail.imap import Mailbox
    from refmail.metrics import Metrics
    from refmail.reconcile import DraftChannel, ReconcileReport
    from refmail.render import Draft, Rendered, Renderer
    from refmail.web import LinkMailer, WebContext


@dataclass(frozen=True)
class ChannelModule:
    """A delivery channel, named without importing it (as Django's mail backends are): the
    module with its class and `open_channel(account, mailbox)`, and whether refmail `sends` it
    (tests/test_startup.py holds `sends` and the name equal to the class's)."""

    module: str
    cls: str
    sends: bool

    def open(self, account: Account, mailbox: Mailbox) -> Channel:
        opener: Callable[[Account, Mailbox], Channel] = importlib.import_module(
            self.module
        ).open_channel
        return opener(account, mailbox)


# The delivery channels by the name the config gives them. Adding a channel is one line here.
CHANNEL_MODULES: dict[str, ChannelModule] = {
    "drafts": ChannelModule("refmail.drafts", "DraftsChannel", sends=False),
    "file": ChannelModule("refmail.filedrop", "FileDrafts", sends=False),
    "smtp": ChannelModule("refmail.smtp", "SmtpChannel", sends=True),
}
CHANNELS: dict[str, Callable[[Account, Mailbox], Channel]] = {
    name: channel.open for name, channel in CHANNEL_MODULES.items()
}
# The channels whose follow-ups wait for the owner to send them, as reconciliation opens them.
DRAFT_CHANNELS: dict[str, Callable[[Account, Mailbox], DraftChannel]] = {
    name: channel.open  # type: ignore[misc]  # a channel that does not send keeps drafts
    for name, channel in CHANNEL_MODULES.items()
    if not channel.sends
}


def database(settings: Settings, **engine_options: object) -> SessionFactory:
    """Sessions on the configured database, migrated to the current schema; a database that
    cannot be opened is one DatabaseError line. `engine_options` go to `make_engine`."""
    try:
        engine = make_engine(settings.database, **engine_options)
        migrate(engine)
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise DatabaseError(database_problem(settings.database, exc)) from exc
    started()
    return session_factory(engine)


def database_problem(url: str, exc: BaseException) -> str:
    """One line for a person: which database (never its password) and what went wrong."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return (
            f"database URL {url.split('@')[-1]!r} is not a database URL (see refmail.toml.example)"
        )
    if isinstance(exc, ImportError):
        return f"database {shown}: its driver is not installed ({exc.name or exc})"
    cause = getattr(exc, "orig", None) or exc
    words = " ".join(str(cause).split()) or type(cause).__name__
    if make_url(url).get_backend_name() == "sqlite" and "unable to open" in words:
        folder = Path(make_url(url).database or ".").parent
        if not folder.is_dir():
            words = f"the folder {folder} does not exist"
    return f"cannot open database {shown}: {words[:300]}"


def rules(settings: Settings) -> Rules:
    """What a config asks of dispatch: its caps, the owner's zone, and unsubscribe/preference
    links when web.base_url is set (the signing keys are read here, once)."""
    from refmail.dispatch import Rules
    from refmail.tokens import LinkBuilder, Tokens

    web = settings.web
    links = LinkBuilder(web.base_url, Tokens(web.signing_keys())) if web.base_url else None
    return Rules(settings.caps, settings.timezone, links=links)


@dataclass(frozen=True)
class Parts:
    """What every command and job of one configuration shares, built once per config."""

    settings: Settings
    factory: SessionFactory
    rules: Rules

    @functools.cached_property
    def renderer(self) -> Renderer:
        """Made when first used: `refmail dispatch` with nothing due never loads refmail.render
        (its module compiles the header and defanging patterns)."""
        from refmail.render import Renderer

        return Renderer(self.settings.templates)

    def render(self, draft: Draft, now: datetime) -> Rendered:
        """A draft's message, by the renderer (made by the first): what dispatch asks of what
        it is given to write with (dispatch.Writes)."""
        return self.renderer.render(draft, now)


def build(settings: Settings, factory: SessionFactory | None = None) -> Parts:
    """The parts of a configuration (reusing `factory` when the database stays the same)."""
    return Parts(settings, factory or database(settings), rules(settings))


def folders(account: Account) -> tuple[str, ...]:
    """The folders sync reads for this account."""
    if account.imap is not None:
        return account.imap.folders
    assert account.maildir is not None
    return account.maildir.folders


@contextmanager
def open_source(account: Account) -> Iterator[Source]:
    """The account's mailbox, connected and logged in when it is IMAP."""
    if account.maildir is not None:
        from refmail.maildir import MaildirSource

        yield MaildirSource(account.maildir.path, account.maildir.batch_size)
        return
    assert account.imap is not None
    from refmail.imap import ImapSource, connect

    with connect(account.imap) as client:
        yield ImapSource(client, account.imap.batch_size)


@contextmanager
def open_channels(account: Account) -> Iterator[Channels]:
    """The channel each kind of follow-up goes through (account.delivery_for), each opened
    once; one IMAP connection serves Drafts and the Sent copies."""
    with ExitStack() as stack:
        mailbox = _mailbox(account, stack)
        opened = {name: CHANNELS[name](account, mailbox) for name in sorted(account.modes())}
        yield lambda kind: opened[account.delivery_for(kind)]


def reconcile_drafts(
    settings: Settings, factory: SessionFactory, account: Account, clock: Clock = system_clock
) -> ReconcileReport:
    """What became of the account's drafts (IMAP Drafts and Sent, or its .eml directory), and
    the withdrawals the database asks for; connects only when drafts are waiting."""
    from refmail.reconcile import reconcile_account

    with ExitStack() as stack:
        mailbox = _mailbox(account, stack)

        def opener(name: str) -> Callable[[], DraftChannel]:
            return lambda: DRAFT_CHANNELS[name](account, mailbox)

        openers = {name: opener(name) for name in DRAFT_CHANNELS if name in account.modes()}
        return reconcile_account(factory, account, openers, settings.followups, clock)


def _mailbox(account: Account, stack: ExitStack) -> Mailbox:
    """The account's mailbox for its channels (connected when one first asks for it)."""
    if account.imap is None:
        return cast("Mailbox", _NoMailbox())
    from refmail.imap import Mailbox

    return Mailbox(account.imap, stack)


class _NoMailbox:
    """What Mailbox is for an account without IMAP (a Maildir, .eml drafts): no Sent folder to
    file copies in, without loading the IMAP library."""

    settings = None

    def client(self) -> NoReturn:
        raise SourceError("this account has no IMAP mailbox")

    def drafts(self) -> NoReturn:
        raise SourceError("this account has no IMAP mailbox: no Drafts folder")

    def sent(self, configured: str = "") -> None:
        return None


def routes(account: Account) -> Routes:
    """The route each kind of follow-up takes, for looking ahead without connecting."""
    from refmail.dispatch import Route

    routes = {name: Route(name, channel.sends) for name, channel in CHANNEL_MODULES.items()}
    return lambda kind: routes[account.delivery_for(kind)]


def link_mailer(parts: Parts, clock: Clock = system_clock) -> LinkMailer | None:
    """Sends preference links through the first account that has SMTP set up (None: no account
    can send, and the pages offer no "email me my link" form)."""
    account = next((a for a in parts.settings.accounts if a.smtp is not None), None)
    if account is None or account.smtp is None:
        return None
    from refmail import outbox, smtp
    from refmail.render import Person

    smtp_settings = account.smtp
    owner = Person(account.owner_address, account.owner_name)
    domain = account.owner_address.split("@", 1)[1]

    def send_link(address: str, url: str) -> None:
        message = parts.renderer.note(
            "preferences_link",
            owner,
            Person(address),
            clock(),
            outbox.new_message_id(domain),
            url=url,
        )
        smtp.send(smtp_settings, message, account.owner_address, [address])

    return send_link


def web_context(
    parts: Parts, metrics: Metrics | None = None, workers: int = 1
) -> WebContext | None:
    """What the recipient pages need, or None when web.base_url is not set; `workers`
    processes serving them share the rate limit through the database ([web] rate_limit)."""
    from refmail.linkmail import SendBudget
    from refmail.web import WebContext, guard_for, rate_limits  # only for commands with pages

    links = parts.rules.links
    if links is None:
        return None
    sender = next((a for a in parts.settings.accounts if a.smtp is not None), None)
    budget = (
        SendBudget(parts.factory, sender.name, sender.smtp.max_per_hour)
        if sender is not None and sender.smtp is not None
        else None
    )
    per_ip, per_address = rate_limits(parts.settings.web, parts.factory, workers)
    return WebContext(
        parts.factory,
        links.tokens,
        links,
        owner_name=parts.settings.accounts[0].owner_name,
        owner_zone=parts.settings.timezone,
        templates=parts.settings.templates,
        mailer=link_mailer(parts),
        metrics=metrics,
        guard=guard_for(parts.settings.web),
        budget=budget,
        per_ip=per_ip,
        per_address=per_address,
    )
