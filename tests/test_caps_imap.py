"""Never a blitz, against a real Dovecot: five introductions of one person in a day.

The owner forwards Alice's request to five experts; Alice, who was not addressed, is owed five
double-sided introductions. Caps and her send window (New York) decide when each may go.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail.config import Caps
from refmail.db import make_engine, session_factory
from tests.support.cli import run
from tests.support.dovecot import Dovecot, drafts
from tests.support.mailbox import OWNER, REFMAIL, account_toml
from tests.support.messages import rfc_date

pytestmark = pytest.mark.integration
NEW_YORK = ZoneInfo("America/New_York")


def forward_to_expert(n: int, at: datetime) -> bytes:
    return f"""\
Delivered-To: {REFMAIL}
From: Olivia Owner <{OWNER}>
To: Expert {n} <expert{n}@firm{n}.example>
Subject: Fwd: Help with our warehouse software
Date: {rfc_date(at)}
Message-ID: <fwd-{n}@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hi Expert {n},

Forwarding Alice's note below. She runs a small logistics company and needs help
with her warehouse software; I think you would be a great fit and wanted to
introduce you two.

Olivia

---------- Forwarded message ---------
From: Alice Archer <alice@archer-logistics.example>
Date: {rfc_date(at - timedelta(days=1))}
Subject: Help with our warehouse software
To: Olivia Owner <{OWNER}>

Hi Olivia, do you know anyone who could help us replace our warehouse software?

Alice
""".replace("\n", "\r\n").encode()


def config_for(tmp_path: Path, server: Dovecot, user: str, db_url: str) -> Path:
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n\n[followups]\ncheck_in_days = []\n'
        + account_toml(server.host, server.port, user)
    )
    return path


def next_weekday_morning_utc(after: datetime) -> datetime:
    """A Tuesday, 10:00 UTC (05:00 or 06:00 in New York: before her window opens)."""
    day = after.date() + timedelta(days=1)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def alice_rows(db_url: str) -> list[m.FollowUp]:
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        rows = list(
            session.scalars(
                select(m.FollowUp)
                .join(m.Contact, m.FollowUp.contact_id == m.Contact.id)
                .where(m.Contact.email == "alice@archer-logistics.example")
                .order_by(m.FollowUp.id)
            )
        )
    engine.dispose()
    return rows


def within_caps(times: list[datetime], caps: Caps) -> bool:
    for window in caps.windows:
        span = timedelta(days=window.days)
        for t in times:
            if sum(1 for s in times if t - span < s <= t) > window.count:
                return False
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return all(g >= timedelta(hours=caps.min_gap_hours) for g in gaps)


def test_five_introductions_of_one_person_respect_caps_and_her_hours(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for n in range(1, 6):
        dovecot.append(imap_user, "INBOX", forward_to_expert(n, now - timedelta(hours=6 - n)))
    config = config_for(tmp_path, dovecot, imap_user, db_url)
    assert "5 introductions" in run(config, "sync", "--once").output
    run(
        config,
        "contacts",
        "set",
        "alice@archer-logistics.example",
        "--timezone",
        "America/New_York",
    )

    start = next_weekday_morning_utc(now)
    out = run(config, "dispatch", "--once", "--now", start.isoformat()).output
    assert "0 delivered" in out  # 05:00 in New York: quiet hours
    rows = alice_rows(db_url)
    assert [r.kind for r in rows] == ["double_intro"] * 5
    assert all(r.state == "deferred" and r.due_at.astimezone(NEW_YORK).hour == 9 for r in rows)
    assert "quiet_hours" in run(config, "outbox", "why", str(rows[0].id)).output

    # Advance the clock to each next due time: one draft at a time, in the order planned.
    released: list[tuple[datetime, int]] = []
    clock = start
    for _ in range(10):
        pending = [r for r in alice_rows(db_url) if r.state in ("planned", "deferred")]
        if not pending:
            break
        clock = min(r.due_at for r in pending)
        run(config, "dispatch", "--once", "--now", clock.isoformat())
        released += [
            (r.delivered_at, r.id)
            for r in alice_rows(db_url)
            if r.state == "delivered" and (r.delivered_at, r.id) not in released
        ]
    rows = alice_rows(db_url)
    assert [r.state for r in rows] == ["delivered"] * 5
    times = [t for t, _ in released]
    assert [i for _, i in released] == [r.id for r in rows]  # released in order
    assert within_caps(times, Caps())
    assert all(
        9 <= t.astimezone(NEW_YORK).hour < 18 and t.astimezone(NEW_YORK).weekday() < 5
        for t in times
    )
    assert times[-1] - times[0] >= timedelta(days=29)  # the fifth waits for the 4-per-30-days cap
    to_alice = [
        d
        for d, _ in drafts(dovecot, imap_user)
        if d["To"].addresses[0].addr_spec == "alice@archer-logistics.example"
    ]
    assert len(to_alice) == 5
    assert len(drafts(dovecot, imap_user)) == 5  # the experts were addressed: nothing for them
