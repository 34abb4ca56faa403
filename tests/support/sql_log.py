"""The SQL statements an engine runs, recorded in order (tests that count round trips)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event


@contextmanager
def recorded(engine: Engine, width: int = 80) -> Iterator[list[str]]:
    """Yield a list that fills with each statement run, whitespace flattened, upper-cased and
    cut to `width` characters (enough to tell the kind and the table)."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split())[:width].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
