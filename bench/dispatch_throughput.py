"""refmail's dispatch of many due follow-ups, beside bare writes of the same drafts.

    python3 -m bench.dispatch_throughput [--follow-ups 5000] [--contacts 2000]
        [--channel file imap] [--db sqlite postgres] [--postgres URL] [--profile N]

Builds the outbox in a fresh database with refmail's own models and `outbox.add`: --contacts
contacts, one introduction by the owner per two follow-ups, a check-in due now to each party
(caps opened wide: no rolling windows, no gap, no merging, the send window all day), then:
- decisions only: dispatch with the send window closed right now, so policy defers every row
  (decisions/s: reads, policy, state changes, no delivery);
- delivery: on a fresh outbox, dispatch runs until nothing is due, to the file channel (.eml
  files) and to IMAP Drafts on a private Dovecot (deliveries/s);
- bare writes of the same rendered drafts, as the file channel writes them: in groups of
  100, each written under a temporary name, one syncfs, the renames, one fsync of the
  directory (until 2026-12-07 the channel, and this baseline, fsynced every file); and each
  message APPENDed over one IMAP connection.
SQL statements are counted with a SQLAlchemy `before_cursor_execute` listener (per row).
Sanity checks: every follow-up delivered, and the channel holds each Message-ID exactly once.
Each database in --db gets its own table; --profile N prints the N costliest functions of the
file-channel pass (cProfile, cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from datetime import time as daytime
from pathlib import Path

from sqlalchemy import event, func, select

from bench._common import PG_URL, database, machine_noted, ratio, table
from refmail import models as m
from refmail import outbox
from refmail.clock import FixedClock
from refmail.config import Account, Caps, ImapSettings
from refmail.db import SessionFactory, make_engine, migrate, session_factory, transaction
from refmail.dispatch import DispatchReport, Rules, dispatch
from refmail.filedrop import FileDrafts
from refmail.render import Renderer
from refmail.wiring import open_channels
from tests.support.dovecot import Dovecot
from tests.support.due import OPEN, on_shelf
from tests.support.mailbox import OWNER, REFMAIL
from tests.support.outbox import introduction

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
USER = "bench"
PASSWORD_ENV = "REFMAIL_BENCH_IMAP_PASSWORD"
WIDE = OPEN  # nothing holds a row back
CLOSED = replace(WIDE, window_start=daytime(14), window_end=daytime(15))  # now is 12:00


# --- the outbox ----------------------------------------------------------------------------


def build_outbox(factory: SessionFactory, follow_ups: int, contacts: int, seed: int) -> None:
    """`contacts` contacts, introductions by the owner, a check-in due now to each party."""
    rng = random.Random(seed)
    with transaction(factory) as session:
        account = m.Account(name="bench", address=REFMAIL, created_at=NOW)
        owner = m.Contact(email=OWNER, name="Olivia Owner", created_at=NOW, updated_at=NOW)
        people = [
            m.Contact(email=f"person{i}@example.org", name=f"Person {i}") for i in range(contacts)
        ]
        for p in people:
            p.created_at = p.updated_at = NOW
        session.add_all([account, owner, *people])
        session.flush()
        for n in range((follow_ups + 1) // 2):
            pair = rng.sample(people, 2)[: follow_ups - 2 * n]
            intro = introduction(
                session,
                account.id,
                owner.id,
                n,
                [p.id for p in pair],
                NOW,
                sent_at=NOW - timedelta(days=8),
                context="you both work on logistics",
            )
            for person in pair:
                outbox.add(
                    session,
                    introduction_id=intro.id,
                    account_id=account.id,
                    kind="check_in",
                    step=1,
                    contact_id=person.id,
                    due_at=NOW - timedelta(hours=1),
                    domain="example.com",
                    now=NOW,
                )


class StatementCounter:
    """Counts the SQL statements an engine runs while `counting` is on."""

    def __init__(self, engine: object) -> None:
        self.count = 0
        self.counting = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: object) -> None:
        if self.counting:
            self.count += 1


@dataclass
class Pass:
    """One dispatch pass until nothing is due."""

    seconds: float
    runs: int
    decisions: int
    delivered: int
    statements: int


def dispatch_all(
    factory: SessionFactory,
    counter: StatementCounter,
    account: Account,
    channels: Callable[[str], object],
    caps: Caps,
) -> Pass:
    renderer, clock = Renderer(), FixedClock(NOW)
    total = DispatchReport(account.name)
    runs = 0
    counter.count, counter.counting = 0, True
    start = time.perf_counter()
    while True:
        report = dispatch(factory, account, channels, renderer, clock, rules=Rules(caps))  # type: ignore[arg-type]
        runs += 1
        total.delivered += report.delivered
        total.deferred += report.deferred
        total.skipped += report.skipped
        total.calls += report.calls
        if not (report.delivered or report.deferred or report.skipped or report.calls):
            break
    seconds = time.perf_counter() - start
    counter.counting = False
    decided = len(total.delivered) + total.deferred + total.skipped + total.calls
    return Pass(seconds, runs, decided, len(total.delivered), counter.count)


@contextmanager
def outbox_db(kind: str, args: argparse.Namespace) -> Iterator[tuple[SessionFactory, object]]:
    with database(kind, args.postgres) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            factory = session_factory(engine)
            build_outbox(factory, args.follow_ups, args.contacts, args.seed)
            yield factory, engine
        finally:
            engine.dispose()


def delivered_once(factory: SessionFactory, in_channel: list[str]) -> str:
    """'' when every follow-up is delivered and the channel holds each Message-ID once."""
    with factory() as session:
        states = dict(
            session.execute(select(m.FollowUp.state, func.count()).group_by(m.FollowUp.state)).all()
        )
        ids = set(session.scalars(select(m.FollowUp.message_id)))
    problems = [f"{n} {s}" for s, n in states.items() if s != "delivered"]
    if len(in_channel) != len(set(in_channel)):
        problems.append(f"{len(in_channel) - len(set(in_channel))} duplicates in the channel")
    if set(in_channel) != ids:
        problems.append(f"channel holds {len(set(in_channel))} of {len(ids)} Message-IDs")
    return "; ".join(problems)


# --- channels and bare writes --------------------------------------------------------------


def bare_files(messages: list[tuple[str, bytes]], directory: Path, group: int = 100) -> float:
    """Write the messages as FileDrafts does, nothing else: in groups of `group` (dispatch
    confirms 100 at a time), each file written under a temporary name, then one syncfs(2) of
    the file system, the renames, one fsync of the directory."""
    import ctypes

    syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    directory.mkdir()
    start = time.perf_counter()
    for first in range(0, len(messages), group):
        watch = os.open(directory, os.O_RDONLY)
        names = []
        for k in range(first, min(first + group, len(messages))):
            tmp, final = directory / f"{k}.tmp", directory / f"{k}.eml"
            tmp.write_bytes(messages[k][1])
            names.append((tmp, final))
        if syncfs(watch) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")
        for tmp, final in names:
            os.replace(tmp, final)
        os.fsync(watch)
        os.close(watch)
    return time.perf_counter() - start


def imap_ids(server: Dovecot, folder: str) -> list[str]:
    client = server.client(USER)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        ids = []
        for i in range(0, len(uids), 1000):
            data = client.fetch(uids[i : i + 1000], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for d in data.values():
                raw = d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)
                ids.append(raw[1].strip() if len(raw) == 2 else "")
        return ids
    finally:
        client.logout()


def bare_append(server: Dovecot, messages: list[tuple[str, bytes]]) -> float:
    """APPEND each message to a fresh folder over one connection, nothing else."""
    client = server.client(USER)
    try:
        client.create_folder("Bare")
        start = time.perf_counter()
        for _, raw in messages:
            client.append("Bare", raw, flags=(b"\\Draft", b"\\Seen"))
        return time.perf_counter() - start
    finally:
        client.logout()


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--follow-ups", type=int, default=5000)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--channel", nargs="+", choices=("file", "imap"), default=["file", "imap"])
    parser.add_argument(
        "--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument("--postgres", metavar="URL", default=PG_URL)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    problems = []
    with machine_noted():
        for db in args.db:
            problems += bench_one(db, args)
    return 1 if problems else 0


def bench_one(db: str, args: argparse.Namespace) -> list[str]:
    """Every pass on one database; prints its table, returns the failed checks."""
    n = args.follow_ups
    rows, problems = [], []
    with tempfile.TemporaryDirectory(prefix="refmail-bench-dispatch-") as tmp:
        print(f"\n{n} due follow-ups over {args.contacts} contacts, {db}")
        base = Account(name="bench", address=REFMAIL, owners=(OWNER,), owner_name="Olivia Owner")
        with outbox_db(db, args) as (factory, engine):
            counter = StatementCounter(engine)
            shelf = FileDrafts(Path(tmp) / "unused")
            p = dispatch_all(factory, counter, base, lambda kind: shelf, CLOSED)
            rows.append(_row("decisions only (all deferred)", p, n, None))
            if p.decisions != n:
                problems.append(f"decided {p.decisions} of {n}")
        if "file" in args.channel:
            directory = Path(tmp) / "drafts"
            with outbox_db(db, args) as (factory, engine):
                counter = StatementCounter(engine)
                files = FileDrafts(directory)
                profile = cProfile.Profile() if args.profile else None
                if profile is not None:
                    profile.enable()
                p = dispatch_all(factory, counter, base, lambda kind: files, WIDE)
                if profile is not None:
                    profile.disable()
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
                problem = delivered_once(factory, on_shelf(directory))
            messages = [(str(path), path.read_bytes()) for path in directory.glob("*.eml")]
            bare = bare_files(messages, Path(tmp) / "bare")
            rows.append(_row("file channel (.eml)", p, n, bare, problem))
            problems += [problem] if problem else []
        if "imap" in args.channel:
            with Dovecot() as server, outbox_db(db, args) as (factory, engine):
                os.environ[PASSWORD_ENV] = server.password
                account = Account(
                    name="bench",
                    address=REFMAIL,
                    owners=(OWNER,),
                    owner_name="Olivia Owner",
                    imap=ImapSettings(
                        host=server.host,
                        user=USER,
                        port=server.port,
                        tls="none",
                        password_env=PASSWORD_ENV,
                    ),
                )
                counter = StatementCounter(engine)
                with open_channels(account) as channels:
                    p = dispatch_all(factory, counter, account, channels, WIDE)
                problem = delivered_once(factory, imap_ids(server, "Drafts"))
                messages = [(str(k), raw) for k, raw in enumerate(_drafts(server))]
                bare = bare_append(server, messages)
            rows.append(_row("IMAP Drafts (Dovecot)", p, n, bare, problem))
            problems += [problem] if problem else []
        table(
            [
                "pass",
                "runs",
                "seconds",
                "decisions/s",
                "deliveries/s",
                "SQL/row",
                "bare writes/s",
                "bare ÷ refmail",
                "checks",
            ],
            rows,
        )
    return problems


def _drafts(server: Dovecot) -> list[bytes]:
    client = server.client(USER)
    try:
        client.select_folder("Drafts", readonly=True)
        uids = client.search(["ALL"])
        out = []
        for i in range(0, len(uids), 500):
            out += [d[b"BODY[]"] for d in client.fetch(uids[i : i + 500], ["BODY.PEEK[]"]).values()]
        return out
    finally:
        client.logout()


def _row(name: str, p: Pass, n: int, bare: float | None, problem: str = "") -> list[str]:
    delivered = p.delivered / p.seconds if p.seconds else 0.0
    bare_rate = n / bare if bare else 0.0
    return [
        name,
        str(p.runs),
        f"{p.seconds:.2f}",
        f"{p.decisions / p.seconds:,.0f}" if p.seconds else "-",
        f"{delivered:,.0f}" if p.delivered else "-",
        f"{p.statements / n:.2f}",
        f"{bare_rate:,.0f}" if bare else "-",
        ratio(bare_rate, delivered) if bare else "-",
        problem or "ok",
    ]


if __name__ == "__main__":
    sys.exit(main())
