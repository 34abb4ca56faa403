"""What the `refmail` commands share: the App on click's context (the config, loaded once), the
one-line error, and the printing of tables, JSON lines and the owner's times.

Kept light on purpose: every command module imports it, and `refmail --help` imports it too,
so the database and the other heavy parts are loaded inside the functions that use them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from refmail import config, owner_time
from refmail.classes import dataclass
from refmail.clock import system_clock
from refmail.errors import RefmailError
from refmail.text import one_line

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from refmail.db import SessionFactory


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
        from refmail import wiring  # the database layer: only commands that use it pay for it

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


@contextmanager
def session(app: App) -> Iterator[Session]:
    """A session on the configured database (migrated when it has to be)."""
    with app.database()() as opened:
        yield opened


def parse_when(app: App, text: str, hint: str) -> datetime:
    """A time the owner typed (ISO-8601 in their zone, or +3d / +12h)."""
    try:
        return owner_time.read(text, app.zone, system_clock())
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not ISO-8601 or +Nd/+Nh", param_hint=hint) from exc


def parse_day(text: str) -> datetime:
    """A day (YYYY-MM-DD) as midnight UTC."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def print_items(items: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    """One JSON object a line, or a table of `columns` (the last one never cut)."""
    if as_json:
        for item in items:
            click.echo(json.dumps(printable(item), ensure_ascii=False))
        return
    if not items:
        click.echo("(none)")
        return
    cells = [[cell(item[c]) for c in columns] for item in items]
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


def cell(value: object) -> str:
    return one_line(", ".join(map(str, value)) if isinstance(value, list) else str(value))


def printable(value: Any) -> Any:
    """Strings (in lists and dicts too) without control characters: they come from mail."""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    return value
