"""What one page costs the database on PostgreSQL, and what the pages do without pre-ping.

`refmail web` runs the one-click opt-out as one statement committed as it ends (one round trip,
no BEGIN and COMMIT) and pings no pooled connection before use (a round trip per request);
a connection found dead (the database restarted, a backend was killed) is retried once on a
fresh one, so no recipient sees an error for it.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from sqlalchemy import Engine, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from refmail import models as m
from refmail.db import SessionFactory, engine_of, make_engine, migrate, session_factory
from refmail.httpserver import pool_options, server_config
from refmail.tokens import LinkBuilder, Tokens
from refmail.web import WebContext
from tests.support.dovecot import free_port
from tests.support.oneclick import public_id, seeded
from tests.support.web import KEYS
from tests.support.webserver import serve

pytestmark = pytest.mark.integration
# PostgreSQL only: SQLite has no connection to lose nor round trip to save.
POSTGRESQL = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def web_factory(db_url: str, factory: SessionFactory) -> Iterator[SessionFactory]:
    """The pages' own pool on the database `factory` fills: PostgreSQL, as `refmail web` has
    it (no pre-ping), one connection at most so that a test can watch it."""
    engine = make_engine(db_url, **{**pool_options(1), "pool_size": 1, "max_overflow": 0})
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def context(factory: SessionFactory) -> WebContext:
    tokens = Tokens(KEYS)
    return WebContext(factory, tokens, LinkBuilder("http://placeholder", tokens))


def request(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, path, body=body, headers=FORM if body else {})
    response = conn.getresponse()
    page = response.read().decode()
    conn.close()
    return response.status, page


def one_click(base: str, tokens: Tokens, pid: str) -> tuple[int, str]:
    path = f"/u/{tokens.make(pid, 'unsubscribe')}"
    return request(base, "POST", path, b"List-Unsubscribe=One-Click")


def opted_out(factory: SessionFactory, email: str) -> bool:
    with factory() as session:
        contact = session.scalars(select(m.Contact).where(m.Contact.email == email)).one()
        return contact.opted_out_at is not None


def messages(trace: str) -> list[tuple[str, str]]:
    """(F for frontend or B for backend, message name) of each line of a libpq trace, whose
    lines are [timestamp TAB] F|B TAB length TAB name [fields]."""
    found = []
    for line in trace.splitlines():
        fields = line.split("\t")
        at = next((i for i, f in enumerate(fields) if f in ("F", "B")), None)
        if at is not None and len(fields) > at + 2:
            found.append((fields[at], fields[at + 2].split(" ")[0]))
    return found


def backend_pid(engine: Engine) -> int:
    raw = engine.raw_connection()  # the pool's only connection
    try:
        return int(raw.driver_connection.info.backend_pid)  # type: ignore[union-attr]
    finally:
        raw.close()


def test_the_pages_pool_pings_nothing_and_the_daemons_still_does() -> None:
    assert pool_options(1)["pool_pre_ping"] is False
    assert pool_options(3)["pool_pre_ping"] is False
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    assert engine.pool._pre_ping  # type: ignore[attr-defined]


@POSTGRESQL
def test_one_click_on_postgresql_is_one_round_trip(
    web_factory: SessionFactory, factory: SessionFactory, tmp_path: Path
) -> None:
    seeded(factory, tmp_path / "md", 1)
    engine, tokens = engine_of(web_factory), Tokens(KEYS)
    pid = public_id(factory, "a1@example.org")
    trace = tmp_path / "libpq.trace"
    with serve(context(web_factory)) as base, trace.open("w") as out:
        raw = engine.raw_connection()
        raw.driver_connection.pgconn.trace(out.fileno())  # type: ignore[union-attr]
        raw.close()
        status, page = one_click(base, tokens, pid)
        raw = engine.raw_connection()
        raw.driver_connection.pgconn.untrace()  # type: ignore[union-attr]
        raw.close()
    assert status == 200 and "unsubscribed" in page
    assert opted_out(factory, "a1@example.org")
    sent = [kind for who, kind in messages(trace.read_text()) if who == "F"]
    # one extended-protocol statement (Parse/Bind/Describe/Execute/Sync): no BEGIN, no COMMIT,
    # no ping; answered by one ReadyForQuery
    assert "Query" not in sent, sent  # simple queries are what BEGIN, COMMIT and pings use
    assert sent.count("Sync") == 1, sent
    assert trace.read_text().count("ReadyForQuery") == 1


@POSTGRESQL
def test_a_killed_connection_costs_no_recipient_an_error(
    web_factory: SessionFactory, factory: SessionFactory, tmp_path: Path
) -> None:
    seeded(factory, tmp_path / "md", 2)
    engine, tokens = engine_of(web_factory), Tokens(KEYS)
    admin = make_engine(str(engine.url.render_as_string(hide_password=False)))

    def kill_the_pools_connection() -> None:
        victim = backend_pid(engine)
        with admin.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": victim})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with admin.connect() as conn:
                alive = conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": victim}
                )
            if not alive:
                return
            time.sleep(0.05)

    try:
        with serve(context(web_factory)) as base:
            assert one_click(base, tokens, public_id(factory, "a1@example.org"))[0] == 200
            kill_the_pools_connection()
            status, page = one_click(base, tokens, public_id(factory, "b1@example.net"))
            assert status == 200 and "unsubscribed" in page
            kill_the_pools_connection()
            pid = public_id(factory, "a2@example.org")
            status, page = request(base, "GET", f"/p/{tokens.make(pid, 'preferences')}")
            assert status == 200 and "a2@example.org" in page
    finally:
        admin.dispose()
    assert opted_out(factory, "a1@example.org") and opted_out(factory, "b1@example.net")
    assert not opted_out(factory, "a2@example.org")


def test_the_pages_are_served_on_uvloop_where_installed() -> None:
    pytest.importorskip("uvloop")

    async def which(request: Request) -> PlainTextResponse:
        return PlainTextResponse(type(asyncio.get_running_loop()).__module__)

    port = free_port()
    app = Starlette(routes=[Route("/", which)])
    server = uvicorn.Server(server_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        status, body = request(f"http://127.0.0.1:{port}", "GET", "/")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert status == 200 and body.startswith("uvloop")
