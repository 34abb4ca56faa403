"""Engine, sessions and migrations: the only module that knows how to reach the database.

SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL is used as it comes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

SessionFactory = sessionmaker[Session]


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for `url`, with SQLite tuned for one writer and several readers."""
    engine = create_engine(url, **kwargs)  # type: ignore[arg-type]
    if engine.dialect.name == "sqlite":
        _private_file(engine.url.database)
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def safe_url(url: str) -> str:
    """The database URL as it may be printed: any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL: print nothing of what follows "//"
        scheme, sep, _ = url.partition("//")
        return f"{scheme}{sep}***" if sep else "***"


def _private_file(path: str | None) -> None:
    """Create a new SQLite file readable by its owner only (SQLite gives its -wal and -shm
    files the database file's mode)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """One unit of work: committed if the block finishes, rolled back if it raises."""
    with factory() as session, session.begin():
        yield session


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "refmail:migrations")
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there)."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def pending_migrations(engine: Engine) -> list[str]:
    """Revisions not yet applied (empty when the schema is current); used by `doctor`."""
    script = ScriptDirectory.from_config(_alembic_config())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return [
        rev.revision
        for rev in script.walk_revisions()
        if rev.revision not in current
        and not (current and _is_ancestor(script, rev.revision, current))
    ]


def _is_ancestor(script: ScriptDirectory, revision: str, heads: set[str]) -> bool:
    return any(
        revision in {r.revision for r in script.iterate_revisions(head, "base")} for head in heads
    )
