"""The `refmail` command: its options, and a table of its subcommands loaded only when one runs.

Every command takes --config PATH (or $REFMAIL_CONFIG); errors print one line and exit non-zero.
The commands live in cli_core, cli_intros, cli_outbox, cli_contacts, cli_serve and cli_records;
this module names them (module:attribute, and the first sentence of their help for listings), so
`refmail --help` and `refmail sync` import neither the web server, the templates nor Alembic.
"""

from __future__ import annotations

import copy
import importlib
import logging
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import click

from refmail import __version__, config, startup
from refmail.cli_base import App, OneLineError
from refmail.cli_examples import add_examples
from refmail.errors import RefmailError


class Lazy(NamedTuple):
    """A subcommand not imported yet: where it is, and the help its listing shows."""

    target: str  # "refmail.module:attribute"
    listing: str  # the first sentence of its help (tests/test_startup.py keeps them equal)


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one is asked for by name: listing them
    (`-h`) imports none."""

    def __init__(
        self, *args: Any, lazy: Mapping[str, Lazy] | None = None, path: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.path = path  # the words after `refmail` ("" for refmail itself), as in EXAMPLES

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].target.partition(":")
            loaded = getattr(importlib.import_module(module), attribute)
            # A copy: one command may sit under two groups (intro ask, intros ask), each with
            # its own examples.
            command = copy.copy(loaded)
            add_examples(command, f"{self.path} {cmd_name}".strip())
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a subcommand not loaded yet is listed from its table entry."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
            else:
                command = click.Command(name, help=self.lazy[name].listing)
            if not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in rows])


class RefmailGroup(LazyGroup):
    """Turns RefmailError from any command into a OneLineError; takes --config before or after
    the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_config(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RefmailError as exc:
            raise OneLineError(str(exc)) from exc
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            # the database went away after it was opened
            from refmail import wiring

            loaded = ctx.obj._settings if isinstance(ctx.obj, App) else None
            url = loaded.database if loaded is not None else ""
            raise OneLineError(wiring.database_problem(url, exc)) from exc


def _is_database_error(exc: Exception) -> bool:
    """An SQLAlchemy error, without importing SQLAlchemy: only a command that loaded it can
    have raised one."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)


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


# Every subcommand: the name a user types → where it lives, and its listing. Adding a command
# is one line here (and its examples in cli_examples).
COMMANDS: dict[str, Lazy] = {
    "init": Lazy("refmail.cli_core:init", "Write a starter config and create the database."),
    "sync": Lazy(
        "refmail.cli_core:sync", "Read new mail, record introductions and plan their follow-ups."
    ),
    "dispatch": Lazy(
        "refmail.cli_core:dispatch_cmd",
        "Deliver the follow-ups that are due: drafts in your mailbox (or .eml files).",
    ),
    "classify": Lazy(
        "refmail.cli_core:classify_cmd",
        "Say how each message is classified and which rule decided: one JSON object per file.",
    ),
    "doctor": Lazy(
        "refmail.cli_core:doctor",
        "Check every account (login, folders read and why, Drafts/Sent, IDLE, SMTP), the "
        "database and the web settings; one verdict a line.",
    ),
    "web": Lazy(
        "refmail.cli_serve:web",
        "Serve the unsubscribe and preference pages (put HTTPS in front of it).",
    ),
    "run": Lazy(
        "refmail.cli_serve:run",
        "Run the daemon: sync every account (IDLE where offered), dispatch due follow-ups, and "
        "serve the recipient pages.",
    ),
    "partners": Lazy(
        "refmail.cli_records:partners_group",
        "People who refer you: their numbers, their words, your notes, their rewards.",
    ),
    "report": Lazy(
        "refmail.cli_records:report_cmd",
        "Introductions, outcomes and conversions per month, partners, suggestions, what is due.",
    ),
    "digest": Lazy(
        "refmail.cli_records:digest_cmd",
        "Draft the owner's digest (suggested conversions, notes, what is due) if one is due.",
    ),
    "owner-password": Lazy(
        "refmail.cli_records:owner_password",
        "Print the hash of a password for the owner's page ([owner_page] password_hash).",
    ),
}
INTROS: dict[str, Lazy] = {
    "list": Lazy("refmail.cli_intros:intros_list", "List introductions, newest first."),
    "show": Lazy(
        "refmail.cli_intros:intros_show",
        "One introduction: its parties and what was said of each, the words about you, its "
        "status and outcome, and its follow-ups.",
    ),
    "confirm": Lazy(
        "refmail.cli_intros:intros_confirm",
        "Vouch for an unverified introduction: its follow-ups are planned now.",
    ),
    "dismiss": Lazy(
        "refmail.cli_intros:intros_dismiss",
        "Say a message was not an introduction: its open follow-ups are cancelled (why-log: you).",
    ),
    "outcome": Lazy(
        "refmail.cli_records:intros_outcome",
        "Set an introduction's outcome; `converted` plans the thank-you to the referrer.",
    ),
    "ask": Lazy(
        "refmail.cli_records:intro_ask",
        "Record an opt-in introduction: you asked PERSON whether they would like to meet OTHER.",
    ),
    "suggestions": Lazy(
        "refmail.cli_records:intros_suggestions",
        "Suggested conversions (signs in your mail); nothing is sent on a suggestion.",
    ),
    "confirm-suggestion": Lazy(
        "refmail.cli_records:intros_confirm_suggestion",
        "Confirm a suggested conversion: the introduction becomes converted.",
    ),
}
INTRO: dict[str, Lazy] = {"ask": INTROS["ask"]}
OUTBOX: dict[str, Lazy] = {
    "list": Lazy(
        "refmail.cli_outbox:outbox_list",
        "List follow-ups by due time: kind, recipient, due, when it would appear at the "
        "earliest (caps may move it later: `outbox preview` says exactly), state, reason.",
    ),
    "why": Lazy(
        "refmail.cli_outbox:outbox_why",
        "Every decision about one follow-up: planned, deferred until when, merged, skipped, sent.",
    ),
    "preview": Lazy(
        "refmail.cli_outbox:outbox_preview",
        "What dispatch would deliver, defer or skip at a time, and why, changing nothing.",
    ),
    "cancel": Lazy(
        "refmail.cli_outbox:outbox_cancel",
        "Cancel one planned follow-up (recorded in its why-log as your decision).",
    ),
    "snooze": Lazy(
        "refmail.cli_outbox:outbox_snooze",
        "Move one planned follow-up to UNTIL (ISO-8601 in your zone, or +3d / +12h); the caps "
        "and the send window are applied again then.",
    ),
}
CONTACTS: dict[str, Lazy] = {
    "show": Lazy(
        "refmail.cli_contacts:contacts_show", "A contact's preferences, change log and follow-ups."
    ),
    "set": Lazy(
        "refmail.cli_contacts:contacts_set",
        "Change a contact's preferences (creating the contact if refmail does not know it yet).",
    ),
    "list": Lazy(
        "refmail.cli_records:contacts_list",
        "Everyone refmail knows: level, channel, last contact, open follow-ups.",
    ),
    "export": Lazy(
        "refmail.cli_records:contacts_export", "Everything refmail holds about a person, as JSON."
    ),
    "forget": Lazy(
        "refmail.cli_records:contacts_forget",
        "Erase a person: their data goes, a salted hash stays so refmail never writes again.",
    ),
}


@click.group(
    cls=RefmailGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


def _group(name: str, help_text: str, lazy: dict[str, Lazy]) -> LazyGroup:
    group = LazyGroup(name, help=help_text, lazy=lazy, path=name)
    add_examples(group, name)
    return group


for _sub in (
    _group("intros", "Introductions refmail recorded.", INTROS),
    _group("intro", "Introductions: `refmail intro ask` (opt-in).", INTRO),
    _group("outbox", "The follow-ups refmail planned, and what became of them.", OUTBOX),
    _group("contacts", "People refmail knows, and their preferences.", CONTACTS),
):
    cli.add_command(_sub)
add_examples(cli)  # refmail's own examples; each subcommand gets its own when it is loaded


def main() -> None:
    """Entry point of the `refmail` console script."""
    # The collector is off while start-up makes what lives as long as the process; the
    # database opening (wiring.database) or a command's own work turns it back on (startup.py).
    startup.quiet()
    cli()
