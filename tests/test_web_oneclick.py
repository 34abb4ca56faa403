"""The one-click unsubscribe's fast path, on SQLite and PostgreSQL.

`contacts.opt_out_by_public_id` (prebuilt statements on a bare connection) must do exactly what
the ORM's `contacts.opt_out` does: the same opt-out, the same change log, the same outbox states
and the same why-log; in a number of statements that does not grow with the follow-ups.
"""

from __future__ import annotations

import http.client
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import Engine, event, select

from refmail import contacts, outbox
from refmail import models as m
from refmail.config import Web
from refmail.db import SessionFactory, engine_of, make_engine, migrate, transaction, writing
from refmail.tokens import LinkBuilder, Tokens
from refmail.web import RateLimit, SharedRateLimit, WebContext, rate_limits
from tests.support.maildirs import CLOCK
from tests.support.oneclick import public_id, seeded
from tests.support.web import KEYS
from tests.support.webserver import serve

pytestmark = pytest.mark.integration
FORM = "application/x-www-form-urlencoded"


def story(factory: SessionFactory, email: str) -> dict[str, object]:
    """Everything an opt-out changes about one contact, without ids or the contact's name."""
    with factory() as session:
        contact = session.scalars(select(m.Contact).where(m.Contact.email == email)).one()
        rows = session.scalars(
            select(m.FollowUp).where(m.FollowUp.contact_id == contact.id).order_by(m.FollowUp.id)
        ).all()
        return {
            "opted_out_at": contact.opted_out_at,
            "updated_at": contact.updated_at,
            "changes": [
                (c.at, c.source, c.field, c.old_value, c.new_value)
                for c in session.scalars(
                    select(m.ContactChange)
                    .where(
                        m.ContactChange.contact_id == contact.id,
                        m.ContactChange.field != "created",  # its value is the address
                    )
                    .order_by(m.ContactChange.id)
                )
            ],
            "follow_ups": [
                (
                    f.kind,
                    f.state,
                    f.reason,
                    f.withdraw_reason,
                    f.updated_at,
                    [(e.at, e.state, e.rule, e.reason) for e in f.events],
                )
                for f in rows
            ],
        }


def test_the_fast_path_does_what_the_orm_opt_out_does(
    factory: SessionFactory, tmp_path: Path
) -> None:
    seeded(factory, tmp_path / "md", 2)
    now = CLOCK()
    with transaction(factory) as session:
        old = session.scalars(select(m.Contact).where(m.Contact.email == "a1@example.org")).one()
        contacts.opt_out(session, old, "recipient", now)
    with writing(engine_of(factory)) as connection:
        done = contacts.opt_out_by_public_id(
            connection, public_id(factory, "a2@example.org"), "recipient", now
        )
    assert done is not None and done.email == "a2@example.org" and done.cancelled == 1
    before, after = story(factory, "a1@example.org"), story(factory, "a2@example.org")
    assert after == before
    assert after["opted_out_at"] == now
    states = [f[1] for f in after["follow_ups"]]  # type: ignore[attr-defined]
    assert states == ["delivered", "skipped"]
    withdrawn = after["follow_ups"][0]  # type: ignore[index]
    assert withdrawn[3] == "opted out (recipient)"
    assert withdrawn[5][-1][1:] == (
        "delivered",
        "contact_changed",
        "draft to be withdrawn: opted out (recipient)",
    )
    # nobody else was touched
    assert story(factory, "b2@example.net")["opted_out_at"] is None
    assert [f[1] for f in story(factory, "b2@example.net")["follow_ups"]] == [  # type: ignore[attr-defined]
        "delivered",
        "planned",
    ]


def test_a_second_click_changes_nothing_and_an_unknown_id_is_none(
    factory: SessionFactory, tmp_path: Path
) -> None:
    seeded(factory, tmp_path / "md", 1)
    engine, pid = engine_of(factory), public_id(factory, "a1@example.org")
    with writing(engine) as connection:
        assert contacts.opt_out_by_public_id(connection, pid, "recipient", CLOCK()) is not None
    first = story(factory, "a1@example.org")
    later = CLOCK() + timedelta(hours=1)
    with writing(engine) as connection:
        again = contacts.opt_out_by_public_id(connection, pid, "recipient", later)
        assert again is not None and again.cancelled == 0
        assert contacts.opt_out_by_public_id(connection, "no-such-id", "recipient", later) is None
    assert story(factory, "a1@example.org") == first


class Statements:
    """Counts what reaches the database driver (every cursor execute, BEGIN included)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.count = engine, 0

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


def test_the_statements_of_one_click_are_few_and_do_not_grow_with_the_follow_ups(
    factory: SessionFactory, tmp_path: Path
) -> None:
    seeded(factory, tmp_path / "md", 1)
    engine = engine_of(factory)
    with transaction(factory) as session:  # b1 gets many more open follow-ups than a1
        b1 = session.scalars(select(m.Contact).where(m.Contact.email == "b1@example.net")).one()
        template = session.scalars(select(m.FollowUp).where(m.FollowUp.contact_id == b1.id)).first()
        assert template is not None
        for step in range(10, 30):
            outbox.add(
                session,
                introduction_id=template.introduction_id,
                account_id=template.account_id,
                kind=template.kind,
                step=step,
                contact_id=b1.id,
                due_at=CLOCK(),
                domain="example.com",
                now=CLOCK(),
            )
    counts = []
    for email in ("a1@example.org", "b1@example.net"):
        pid = public_id(factory, email)
        with Statements(engine) as seen, writing(engine) as connection:
            done = contacts.opt_out_by_public_id(connection, pid, "recipient", CLOCK())
        assert done is not None
        counts.append(seen.count)
    assert done.cancelled == 21
    # PostgreSQL: one statement (data-modifying CTEs; psycopg's BEGIN is no cursor statement).
    # SQLite: BEGIN (ours), the opt-out, its change log, the withdrawals, the skips, the why-log
    # in one INSERT. The commit is no cursor statement on either.
    assert counts[0] == counts[1] <= (1 if engine.dialect.name == "postgresql" else 6)


# --- the rate limit shared through the database ----------------------------------------------


def test_the_database_rate_limit_is_one_window_for_every_process(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(2)]  # two processes' own engines and pools
    migrate(engines[0])
    now = [1000.0]
    limits = [SharedRateLimit(e, "address", 3, 60, clock=lambda: now[0]) for e in engines]
    try:
        assert [limits[i % 2].allow("dan@example.org") for i in range(4)] == [
            True,
            True,
            True,
            False,
        ]
        assert limits[1].allow("erin@example.org")  # another key has its own window
        assert SharedRateLimit(engines[0], "ip", 3, 60).allow("dan@example.org")  # and a bucket
        now[0] += 61  # the window slid past the first three
        assert limits[0].allow("dan@example.org")
        with engines[0].connect() as connection:
            keys = set(connection.scalars(select(m.RateEvent.key)))
        assert keys and not any("@" in k for k in keys)  # digests, never the address
    finally:
        for e in engines:
            e.dispose()


def test_rate_limit_setting_picks_memory_or_database(factory: SessionFactory) -> None:
    def kinds(rate_limit: str, workers: int) -> set[type]:
        return {type(x) for x in rate_limits(Web(rate_limit=rate_limit), factory, workers)}  # type: ignore[arg-type]

    assert kinds("auto", 1) == {RateLimit}
    assert kinds("auto", 2) == {SharedRateLimit}
    assert kinds("memory", 4) == {RateLimit}
    assert kinds("database", 1) == {SharedRateLimit}


def test_two_app_instances_share_the_link_form_limit(factory: SessionFactory) -> None:
    asked: list[str] = []
    tokens = Tokens(KEYS)

    def context() -> WebContext:
        per_ip, per_address = rate_limits(Web(rate_limit="database"), factory, 2)
        return WebContext(
            factory,
            tokens,
            LinkBuilder("http://placeholder", tokens),
            mailer=lambda address, url: asked.append(address),
            per_ip=per_ip,
            per_address=per_address,
        )

    body = urlencode({"email": "dan@example.org"}).encode()
    with serve(context()) as one, serve(context()) as two:
        statuses = [post(url, body) for url in (one, two, one, two)]
    assert statuses == [200, 200, 200, 429]  # 3 per address and day, across both


def post(base: str, body: bytes) -> int:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("POST", "/p", body=body, headers={"Content-Type": FORM})
    status = conn.getresponse().status
    conn.close()
    return status
