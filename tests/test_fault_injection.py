"""Fault injection: the dispatcher is SIGKILLed at random points of its run, then restarted.

A real `python -m refmail dispatch` subprocess sends over SMTP to a sink in this process, which
files each accepted message into a real Dovecot's Sent folder before answering 250 (as Gmail and
Microsoft 365 do: `sent_copy = "server"`). Whatever moment the kill lands on, once the dispatcher
has been restarted past the claim lease every planned follow-up has gone out exactly once: one
message per Message-ID at the server, one copy in Sent, every outbox row delivered.

With `sent_copy = "append"` refmail files the copy itself just after the server's acceptance; a
kill inside that window means one resend with the same Message-ID (the documented limit). That
variant asserts nothing is lost and every resend repeats the Message-ID, and prints the count.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from imapclient.imapclient import SENT
from sqlalchemy import select

from refmail import models as m
from refmail.cli import cli
from refmail.db import make_engine, session_factory
from refmail.dispatch import LEASE
from tests.support.dovecot import PASSWORD, Dovecot
from tests.support.mailbox import ALL_DAY, account_toml
from tests.support.messages import numbered_referral
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
FOLLOW_UPS = 7  # distinct partners, one thank-you each
SEED = 20_251_117
ENV = {**os.environ, "REFMAIL_TEST_IMAP_PASSWORD": PASSWORD}
MAX_RESTARTS = 4
KILLS_PER_RUN = 2  # the second kill hits a restart, in the middle of its recovery


def write_config(
    path: Path, server: Dovecot, user: str, db: Path, sink: SmtpSink, copy: str
) -> Path:
    path.write_text(
        f'database = "sqlite:///{db}"\n'
        + account_toml(server.host, server.port, user, delivery="smtp")
        + f"""
[accounts.smtp]
host = "{sink.host}"
port = {sink.port}
tls = "none"
sent_copy = "{copy}"

[followups]
check_in_days = []  # only the thank-yous: every row must end up delivered
"""
        + ALL_DAY
    )
    return path


@dataclass
class Fixture:
    """A synced database (the template every run starts from) and where runs live."""

    server: Dovecot
    sink: SmtpSink
    template: Path
    message_ids: frozenset[str]
    base: Path
    runs: int = 0


@dataclass
class Run:
    config: Path
    db: Path
    user: str
    log: Path


@dataclass
class Tally:
    """Where the kills landed, and what the restarts had to do."""

    kills: int = 0
    landed: collections.Counter[str] = field(default_factory=collections.Counter)
    restarts: int = 0
    duplicates: int = 0


def prepare(server: Dovecot, sink: SmtpSink, base: Path, user: str) -> Fixture:
    """Sync FOLLOW_UPS referrals once into a template database."""
    for i in range(FOLLOW_UPS):
        server.append(user, "INBOX", numbered_referral(i, NOW - timedelta(minutes=30 + i)))
    db = base / "template.db"
    config = write_config(base / "template.toml", server, user, db, sink, "server")
    result = CliRunner().invoke(cli, ["--config", str(config), "sync", "--once"], env={**ENV})
    assert result.exit_code == 0, result.output
    assert f"{FOLLOW_UPS} follow-ups planned" in result.output, result.output
    engine = make_engine(f"sqlite:///{db}")
    with session_factory(engine)() as session:
        rows = list(session.scalars(select(m.FollowUp)))
        assert {r.kind for r in rows} == {"thank_you"} and len(rows) == FOLLOW_UPS
        ids = frozenset(r.message_id for r in rows)
    engine.dispose()
    return Fixture(server, sink, db, ids, base)


def fresh_run(fx: Fixture, copy: str) -> Run:
    """A copy of the template database, an empty mailbox, and a sink that forgot everything."""
    fx.runs += 1
    where = fx.base / f"run{fx.runs:03d}"
    where.mkdir()
    db = where / "refmail.db"
    with sqlite3.connect(fx.template) as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # consistent even with the template in WAL mode
    user = f"fault{uuid.uuid4().hex[:12]}"
    fx.sink.reset()
    if copy == "server":
        fx.sink.file_into_sent(fx.server, user)
    config = write_config(where / "refmail.toml", fx.server, user, db, fx.sink, copy)
    return Run(config, db, user, where / "dispatch.log")


def start(run: Run, at: datetime) -> subprocess.Popen[bytes]:
    log = open(run.log, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "refmail", "--config", str(run.config),
             "dispatch", "--once", "--now", at.isoformat()],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=ENV,
        )  # fmt: skip
    finally:
        log.close()


def states(run: Run) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{run.db}")
    try:
        with session_factory(engine)() as session:
            return {r.message_id: r.state for r in session.scalars(select(m.FollowUp))}
    finally:
        engine.dispose()


def sent_copies(server: Dovecot, user: str) -> collections.Counter[str]:
    client = server.client(user)
    try:
        client.select_folder(client.find_special_folder(SENT), readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
        return collections.Counter(
            v[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip()
            for v in data.values()
        )
    finally:
        client.logout()


def measure(fx: Fixture, copy: str, times: int = 3) -> tuple[float, float]:
    """Full, uninterrupted runs: the median duration, and when the first SMTP session began."""
    durations, firsts = [], []
    for _ in range(times):
        run = fresh_run(fx, copy)
        began = time.monotonic()
        proc = start(run, NOW)
        first_mail = None
        while proc.poll() is None:
            if first_mail is None and fx.sink.attempts("MAIL"):
                first_mail = time.monotonic() - began
            time.sleep(0.002)
        durations.append(time.monotonic() - began)
        firsts.append(first_mail or 0.0)
        assert proc.returncode == 0, run.log.read_text()
        assert fx.sink.by_message_id() == dict.fromkeys(fx.message_ids, 1)
        assert set(states(run).values()) == {"delivered"}
    return sorted(durations)[times // 2], sorted(firsts)[times // 2]


def kill_and_recover(fx: Fixture, copy: str, kills: list[float], tally: Tally) -> Run:
    """Start a dispatcher and SIGKILL it after kills[0] seconds; restart it (past the lease)
    and kill that one after kills[1] seconds, and so on; then restart it until all is out."""
    run = fresh_run(fx, copy)
    at = NOW
    for delay in kills:
        before_mail, before_sent = fx.sink.attempts("MAIL"), len(fx.sink.received)
        proc = start(run, at)
        try:
            proc.wait(delay)
            landed = "after it finished"
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            landed = ""
        fx.sink.wait_idle()  # whatever the server accepted from the dead process is recorded
        tally.kills += 1
        if not landed:
            if fx.sink.attempts("MAIL") == before_mail:
                landed = "before any SMTP session"
            elif (
                len(fx.sink.received) == before_sent + FOLLOW_UPS
                or len(fx.sink.by_message_id()) == FOLLOW_UPS
            ):
                landed = "after the last acceptance"
            else:
                landed = "while sending"
        tally.landed[landed] += 1
        at += LEASE + timedelta(minutes=1)  # past the lease: stale claims are looked into
    for _ in range(MAX_RESTARTS):
        if set(states(run).values()) == {"delivered"}:
            break
        restarted = start(run, at)
        assert restarted.wait(60) == 0, run.log.read_text()
        tally.restarts += 1
        at += LEASE + timedelta(minutes=1)
    return run


def check_exactly_once(fx: Fixture, run: Run, kills: list[float]) -> None:
    where = f"(kills after {kills} s; log {run.log})"
    assert states(run) == dict.fromkeys(fx.message_ids, "delivered"), where
    assert fx.sink.by_message_id() == dict.fromkeys(fx.message_ids, 1), where
    assert sent_copies(fx.server, run.user) == dict.fromkeys(fx.message_ids, 1), where
    for item in fx.sink.received:  # each went to its own recipient, as itself
        assert item.rcpt_tos == (item.message["To"].addresses[0].addr_spec,), where


def kill_points(
    rng: random.Random, runs: int, duration: float, first_mail: float
) -> list[list[float]]:
    """KILLS_PER_RUN kill delays per run, across the whole length of a run; every other one
    inside its sending phase, where the interesting moments are (interpreter start-up takes
    most of a run)."""
    return [
        [
            rng.uniform(0, duration) if k % 2 == 0 else rng.uniform(first_mail, duration)
            for k in range(KILLS_PER_RUN)
        ]
        for _ in range(runs)
    ]


@pytest.fixture
def synced(dovecot: Dovecot, smtp_sink: SmtpSink, imap_user: str, tmp_path: Path) -> Fixture:
    return prepare(dovecot, smtp_sink, tmp_path, imap_user)


def test_sigkill_anywhere_delivers_every_follow_up_exactly_once(synced: Fixture) -> None:
    duration, first_mail = measure(synced, "server")
    rng = random.Random(SEED)
    tally = Tally()
    for kills in kill_points(rng, 26, duration, first_mail):
        run = kill_and_recover(synced, "server", kills, tally)
        check_exactly_once(synced, run, kills)
    print(
        f"\nsent_copy=server: full run {duration:.2f}s (first SMTP session at {first_mail:.2f}s); "
        f"{tally.kills} kills: {dict(tally.landed)}; {tally.restarts} restarts; no duplicates"
    )
    assert tally.kills >= 50
    assert tally.landed["while sending"] >= 5, tally.landed  # the kills did hit the sending


def test_sigkill_with_refmail_filing_the_copy_loses_nothing(synced: Fixture) -> None:
    duration, first_mail = measure(synced, "append")
    rng = random.Random(SEED + 1)
    tally = Tally()
    for kills in kill_points(rng, 8, duration, first_mail):
        run = kill_and_recover(synced, "append", kills, tally)
        where = f"(kills after {kills} s; log {run.log})"
        assert states(run) == dict.fromkeys(synced.message_ids, "delivered"), where
        counts = synced.sink.by_message_id()
        # None lost, and a resend carries the same Message-ID (no new identity to thread apart).
        assert set(counts) == synced.message_ids, where
        tally.duplicates += sum(n - 1 for n in counts.values())
        assert sent_copies(synced.server, run.user) == dict.fromkeys(synced.message_ids, 1), where
    print(
        f"\nsent_copy=append: full run {duration:.2f}s; {tally.kills} kills: "
        f"{dict(tally.landed)}; {tally.restarts} restarts; "
        f"{tally.duplicates} duplicate sends (same Message-ID, the documented limit)"
    )
