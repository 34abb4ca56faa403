"""Engine, sessions, locks and migrations: the only module that knows how to reach the database.

SQLite gets WAL, foreign keys and a busy timeout, and a unit of work (`transaction`) takes the
write lock when it begins (BEGIN IMMEDIATE), so two processes wait for each other instead of one
failing with "database is locked" halfway. `exclusive` is a named lock between processes (an
advisory lock on PostgreSQL, a lock file beside a SQLite database): one sync or one dispatch of
an account at a time. Migrations run under the same kind of lock, so two processes starting on
an empty database do not both create it. Whether the schema is current is read from the migration
files' text and the alembic_version row, so a process starting on a current database never loads
Alembic (a tenth of a second of imports).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from refmail.errors import BusyError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

SessionFactory = sessionmaker[Session]
T = TypeVar("T")


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for `url`, with SQLite tuned for one writer and several readers."""
    if url.startswith("postgresql"):
        # The daemon's jobs (at most daemon.MAX_THREADS) each hold a lock connection and a work
        # connection; the web pages and the lease job need a few more.
        kwargs = {"pool_size": 20, "max_overflow": 10, "pool_pre_ping": True, **kwargs}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _private_file(engine.url.database)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


WRITE = {"refmail_write": True}  # execution option: this transaction will write


def _sqlite_begin(connection: Connection) -> None:
    """Writers take SQLite's write lock at BEGIN (waiting up to the busy timeout), so a reader
    that later writes never fails on a snapshot another process moved on."""
    immediate = connection.get_execution_options().get("refmail_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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
    if not Path(path).parent.is_dir():
        return  # opening it fails, and says so in SQLAlchemy's words
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]  # BEGIN is ours
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


def engine_of(factory: SessionFactory) -> Engine:
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    return engine


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """One unit of work: committed if the block finishes, rolled back if it raises."""
    with factory() as session, session.begin():
        session.connection(execution_options=WRITE)  # begins it, as a writer
        yield session


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One short writing unit of work on a bare connection (no ORM session): committed if the
    block finishes, rolled back if it raises; on SQLite the write lock is taken at BEGIN."""
    with engine.connect() as connection:
        connection.execution_options(**WRITE)
        with connection.begin():
            yield connection


def autocommitting(engine: Engine) -> Engine:
    """The same pool, each statement committed by the server as it ends: for work done in one
    statement (on PostgreSQL, one round trip instead of BEGIN, the statement and COMMIT). As
    durable as any commit: the server's synchronous_commit applies. Never for several
    statements that must stand or fall together."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def reconnecting(work: Callable[[], T]) -> T:
    """`work()`, once more if it failed because its pooled connection was gone (the database
    restarted, a connection was killed): SQLAlchemy then drops every connection the pool had,
    so the second try gets a fresh one. For engines without pre-ping (a round trip per
    checkout), where `work` is one transaction that may run again."""
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return work()


_LOCAL = threading.Lock()
_HELD: set[str] = set()  # locks held by this process: flock does not exclude its own threads


@contextmanager
def exclusive(engine: Engine, name: str, *, wait: bool = False) -> Iterator[None]:
    """Hold the lock `name` for this database while the block runs; raise BusyError at once if
    another process or thread holds it (or wait for it when `wait`)."""
    with _in_process(f"{engine.url}#{name}", wait):
        if engine.dialect.name == "postgresql":
            with _advisory(engine, name, wait):
                yield
        else:
            with _lock_file(engine, name, wait):
                yield


@contextmanager
def _in_process(key: str, wait: bool) -> Iterator[None]:
    while True:
        with _LOCAL:
            if key not in _HELD:
                _HELD.add(key)
                break
        if not wait:
            raise BusyError(f"another {key.rsplit('#', 1)[-1]} is running")
        threading.Event().wait(0.05)
    try:
        yield
    finally:
        with _LOCAL:
            _HELD.discard(key)


def _schema(connection: Connection) -> str:
    """The connection's schema, asked once per pooled connection (its search_path is set when
    it connects): a lock costs one statement, not two."""
    info = connection.info
    if "refmail_schema" not in info:
        info["refmail_schema"] = connection.execute(text("SELECT current_schema()")).scalar() or ""
    return str(info["refmail_schema"])


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def _advisory(engine: Engine, name: str, wait: bool) -> Iterator[None]:
    with engine.connect() as connection:
        # Advisory locks are per database, not per schema: name the schema too, so refmail
        # installations sharing a database (one schema each) do not lock each other out.
        schema = _schema(connection)
        key = _lock_key(f"{schema}#{name}")
        if wait:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        elif not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            raise BusyError(f"another {name} is running")
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()


@contextmanager
def _lock_file(engine: Engine, name: str, wait: bool) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:" or not Path(database).parent.is_dir():
        yield  # a private database (or none yet: opening it will say why): no file to lock
        return
    safe = hashlib.sha256(name.encode()).hexdigest()[:16]
    path = Path(f"{database}.{safe}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BusyError(f"another {name} is running") from exc
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _alembic_config() -> Config:
    from alembic.config import Config  # only when the schema has to change (or doctor asks)

    config = Config()
    config.set_main_option("script_location", "refmail:migrations")
    return config


MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)


def head_revisions(folder: Path = MIGRATIONS) -> frozenset[str]:
    """The newest revisions (those no other revision follows), read from the migration files'
    `revision = "…"` and `down_revision = "…"` lines, as Alembic would find them without
    importing it. tests/test_startup.py holds this equal to Alembic's own heads.

    >>> len(head_revisions()), "0001" in head_revisions()  # one head; the first is followed
    (1, False)
    """
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in folder.glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            names = set(re.findall(r"[\"']([^\"']+)[\"']", value))
            (revisions if key == "revision" else followed).update(names)
    return frozenset(revisions - followed)


def current_revisions(engine: Engine) -> frozenset[str] | None:
    """The revisions the database is at (alembic_version), or None when it has no schema yet."""
    # A database that cannot be reached raises here, before Alembic is loaded (it would log
    # its set-up at INFO on the way to the same error).
    with engine.connect() as connection:
        try:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(str(row[0]) for row in rows)
        except DBAPIError:
            return None  # no alembic_version table: an empty database


def is_current(engine: Engine) -> bool:
    """The schema is at the newest revision: nothing for Alembic to do."""
    heads = head_revisions()
    return bool(heads) and current_revisions(engine) == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there)."""
    if is_current(engine):
        return  # the usual case: Alembic is not even imported
    from alembic import command

    config = _alembic_config()
    # A writer from BEGIN (IMMEDIATE on SQLite): a deferred transaction that read first and then
    # wrote would fail at once, without waiting, if another process wrote meanwhile.
    with exclusive(engine, "migrate", wait=True), writing(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def pending_migrations(engine: Engine) -> list[str]:
    """Revisions not yet applied (empty when the schema is current); used by `doctor`."""
    if is_current(engine):
        return []
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
