"""Shared fixtures: a private Dovecot, databases on SQLite and PostgreSQL, settings builders.

PostgreSQL is required: each test gets a throw-away schema in the `test` database, dropped after.
Set REFMAIL_TEST_PG to point elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from refmail.db import SessionFactory, make_engine, migrate, session_factory

# The shared fixtures live with their servers in tests/support; importing them here is what
# makes them visible to every test module.
from tests.support.browser import browser  # noqa: F401
from tests.support.daemon import db, sqlite_url  # noqa: F401
from tests.support.dovecot import dovecot, imap_user  # noqa: F401
from tests.support.smtp_sink import smtp_sink_fixture  # noqa: F401

PG_URL = os.environ.get("REFMAIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[object]:
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available"
        pytest.fail(
            f"PostgreSQL at {PG_URL} is required for the data-layer tests "
            f"(start it, or set REFMAIL_TEST_PG): {exc}"
        )
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite in tmp_path, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'refmail.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"create schema {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))


@pytest.fixture
def factory(db_url: str) -> Iterator[SessionFactory]:
    engine = make_engine(db_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "labels.json").exists():
        pytest.fail(
            f"the labelled corpus is missing at {CORPUS} (CI has ../shared beside the repo)"
        )
    return CORPUS
