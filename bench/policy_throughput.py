"""How many send/defer/skip decisions per second policy makes, pure and fed by the database.

    python3 -m bench.policy_throughput [--contacts 1000000] [--db sqlite|postgres|both]
                                      [--sample 20000] [--batch 1000] [--seed 1]

Generates contacts with realistic histories (most with 0-3 follow-ups delivered in the last 60
days, a few heavy ones, some opted out, paused, phone-preferring or level none), each with one
follow-up now due, and bulk-loads them (executemany on SQLite, COPY on PostgreSQL) into a schema
made by `refmail.db.migrate` — a temporary SQLite file, or a throw-away PostgreSQL schema that is
dropped at the end. Then prints:

(a) pure `policy.decide` decisions per second over every contact, histories preloaded in memory;
(b) decisions per second when each history comes from `refmail.dispatch.history_for` (the query
    dispatch runs for every due follow-up), over a sample, and from one query per `--batch`
    contacts for comparison;
(c) the plan of that history query (SQLite EXPLAIN QUERY PLAN, PostgreSQL EXPLAIN ANALYZE), to
    show it reads the contact's rows through an index (ix_follow_up_contact_delivered).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, func, inspect, select, text
from sqlalchemy.orm import Session

from refmail import models as m
from refmail.config import Caps
from refmail.db import make_engine, migrate, session_factory
from refmail.dispatch import _view, history_for
from refmail.policy import ContactView, Due, History, contact_zone, decide

PG_URL = os.environ.get("REFMAIL_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
CAPS = Caps()
OWNER_ZONE = "Europe/Berlin"
CHUNK = 50_000
KINDS = ("thank_you", "double_intro", "check_in", "conversion_thanks")
ZONE_NAMES = (
    "",
    "",
    "",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "America/St_Johns",
    "Australia/Sydney",
)
INTRODUCTIONS = 1_000

CONTACT_COLS = [
    "id",
    "email",
    "name",
    "organisation",
    "phone",
    "channel",
    "level",
    "paused_until",
    "timezone",
    "locale",
    "opted_out_at",
    "bounced_at",
    "last_contact_at",
    "recent_offsets",
    "created_at",
    "updated_at",
]
FOLLOW_UP_COLS = [
    "id",
    "introduction_id",
    "account_id",
    "kind",
    "step",
    "contact_id",
    "due_at",
    "first_due_at",
    "state",
    "reason",
    "message_id",
    "attempts",
    "origin_id",
    "claimed_at",
    "delivered_at",
    "created_at",
    "updated_at",
]


@dataclass
class Chunk:
    """One slice of the generated population: rows to load, and what pure policy needs."""

    contacts: list[tuple[Any, ...]]
    follow_ups: list[tuple[Any, ...]]
    views: list[ContactView]
    dues: list[Due]
    histories: list[History]
    zones: list[Any]


def naive(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(UTC).replace(tzinfo=None)


def deliveries(rng: random.Random) -> int:
    """Most people had 0-3 follow-ups in the last 60 days; one in a hundred a lot more."""
    r = rng.random()
    if r < 0.01:
        return rng.randint(8, 40)
    return 0 if r < 0.45 else 1 if r < 0.75 else 2 if r < 0.90 else 3


def generate(n: int, seed: int) -> Iterator[Chunk]:
    rng = random.Random(seed)
    fid = 0
    created = naive(NOW - timedelta(days=400))
    for base in range(0, n, CHUNK):
        chunk = Chunk([], [], [], [], [], [])
        for cid in range(base + 1, min(base + CHUNK, n) + 1):
            r = rng.random()
            channel = "phone" if r < 0.05 else "none" if r < 0.07 else "email"
            r = rng.random()
            level = (
                "normal"
                if r < 0.85
                else "reduced"
                if r < 0.93
                else "essential"
                if r < 0.98
                else "none"
            )
            opted_out = NOW - timedelta(days=rng.uniform(1, 300)) if rng.random() < 0.03 else None
            paused = NOW + timedelta(days=rng.uniform(1, 60)) if rng.random() < 0.02 else None
            last_human = NOW - timedelta(days=rng.uniform(0, 30)) if rng.random() < 0.3 else None
            zone = rng.choice(ZONE_NAMES)
            chunk.contacts.append(
                (
                    cid,
                    f"c{cid:08d}@example.org",
                    f"Contact {cid}",
                    "",
                    "+1 555 0100" if channel == "phone" else "",
                    channel,
                    level,
                    naive(paused),
                    zone,
                    "",
                    naive(opted_out),
                    None,
                    naive(last_human),
                    "",
                    created,
                    created,
                )
            )
            sent: list[datetime] = []
            intro = (cid - 1) * INTRODUCTIONS // n + 1  # ascending: index-friendly load
            for step in range(deliveries(rng)):
                at = NOW - timedelta(seconds=rng.uniform(0, 60 * 86400))
                sent.append(at)
                fid += 1
                kind = rng.choice(KINDS)
                chunk.follow_ups.append(
                    (
                        fid,
                        intro,
                        1,
                        kind,
                        step + 1,
                        cid,
                        naive(at),
                        naive(at),
                        "delivered",
                        "",
                        f"<bench.{fid:010d}@example.org>",
                        1,
                        None,
                        naive(at),
                        naive(at),
                        created,
                        naive(at),
                    )
                )
            if rng.random() < 0.2:  # an old skipped one: the query must filter it out
                fid += 1
                at = NOW - timedelta(days=rng.uniform(0, 90))
                chunk.follow_ups.append(
                    (fid, intro, 1, "check_in", 90, cid, naive(at), naive(at), "skipped",
                     "stale", f"<bench.{fid:010d}@example.org>", 0, None, None, None, created,
                     naive(at))
                )  # fmt: skip
            # The follow-up now due: the one each decision is about.
            fid += 1
            kind = rng.choice(KINDS)
            due = NOW - timedelta(minutes=rng.uniform(0, 600))
            chunk.follow_ups.append(
                (fid, intro, 1, kind, 0, cid, naive(due), naive(due), "planned", "",
                 f"<bench.{fid:010d}@example.org>", 0, None, None, None, created, created)
            )  # fmt: skip
            view = ContactView(
                email=f"c{cid:08d}@example.org",
                channel=channel,
                level=level,
                paused_until=paused,
                opted_out_at=opted_out,
            )
            chunk.views.append(view)
            chunk.dues.append(Due(kind, 0, due, due))
            chunk.histories.append(History(tuple(sent), last_human))
            chunk.zones.append(contact_zone(zone, [], OWNER_ZONE))
        yield chunk


# --- loading -------------------------------------------------------------------------------


def seed_rows(engine: Engine) -> None:
    """One account, INTRODUCTIONS messages and introductions for the follow-ups to point at."""
    t = NOW - timedelta(days=400)  # aware: these go through the ORM's column types
    with engine.begin() as conn:
        conn.execute(
            m.Account.__table__.insert(),
            [{"id": 1, "name": "bench", "address": "refmail@example.com", "created_at": t}],
        )
        conn.execute(
            m.Contact.__table__.insert(),
            [{c: v for c, v in zip(CONTACT_COLS, introducer_row(t), strict=True)}],
        )
        messages = [
            dict(id=i, message_id=f"<intro.{i}@example.org>", synthetic_id=False, account_id=1,
                 folder="INBOX", uid=i, thread_root=f"<intro.{i}@example.org>", in_reply_to="",
                 sender="", recipients="", subject="intro", kind="introduction", rule="",
                 reason="", ingested_at=t)
            for i in range(1, INTRODUCTIONS + 1)
        ]  # fmt: skip
        conn.execute(m.MessageRecord.__table__.insert(), messages)
        intros = [
            dict(id=i, message_pk=i, account_id=1, introducer_id=0, shape="referral",
                 context="", status="open", outcome="", created_at=t, updated_at=t)
            for i in range(1, INTRODUCTIONS + 1)
        ]  # fmt: skip
        conn.execute(m.Introduction.__table__.insert(), intros)


def introducer_row(t: datetime | None) -> tuple[Any, ...]:
    return (0, "introducer@example.org", "Introducer", "", "", "email", "normal", None, "", "",
            None, None, None, "", t, t)  # fmt: skip


def extra_columns(engine: Engine, table: str, known: list[str]) -> list[tuple[str, Any]]:
    """Columns of `table` this script does not fill itself (added by later migrations), each
    with a maker of its value: the model's Python-side default."""
    model = {"contact": m.Contact, "follow_up": m.FollowUp}[table]
    out = []
    for col in inspect(engine).get_columns(table):
        name = col["name"]
        if name in known:
            continue
        default = model.__table__.c[name].default
        if default is not None and default.is_callable:
            fn = default.arg
            out.append((name, lambda fn=fn: fn(None)))
        elif default is not None:
            out.append((name, lambda v=default.arg: v))
        else:
            out.append((name, lambda: None))
    return out


def columns_and_rows(
    engine: Engine, table: str, cols: list[str], rows: list[tuple[Any, ...]]
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    extra = extra_columns(engine, table, cols)
    makers = [f for _, f in extra]
    return [*cols, *(n for n, _ in extra)], (
        (*row, *(f() for f in makers)) if makers else row for row in rows
    )


def load_sqlite(engine: Engine, chunk: Chunk) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # A bulk load: no per-row foreign-key lookups, and room for the indexes in the cache.
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("PRAGMA cache_size=-131072")
        for table, known, data in (
            ("contact", CONTACT_COLS, chunk.contacts),
            ("follow_up", FOLLOW_UP_COLS, chunk.follow_ups),
        ):
            cols, rows = columns_and_rows(engine, table, known, data)
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                (tuple(_sqlite(v) for v in row) for row in rows),
            )
        raw.commit()
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.close()


def _sqlite(v: Any) -> Any:
    # SQLAlchemy's SQLite DateTime storage format.
    return v.isoformat(sep=" ", timespec="microseconds") if isinstance(v, datetime) else v


def load_postgres(engine: Engine, chunk: Chunk) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, known, data in (
            ("contact", CONTACT_COLS, chunk.contacts),
            ("follow_up", FOLLOW_UP_COLS, chunk.follow_ups),
        ):
            cols, rows = columns_and_rows(engine, table, known, data)
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


# --- measuring -----------------------------------------------------------------------------


def pure(chunk: Chunk, tally: dict[str, int]) -> float:
    """Seconds to decide every contact of the chunk, everything already in memory."""
    views, dues, histories, zones = chunk.views, chunk.dues, chunk.histories, chunk.zones
    t0 = time.perf_counter()
    actions = [
        decide(views[i], dues[i], NOW, histories[i], CAPS, zones[i]).action
        for i in range(len(views))
    ]
    elapsed = time.perf_counter() - t0
    for a in actions:
        tally[a] = tally.get(a, 0) + 1
    return elapsed


def due_rows(session: Session, ids: list[int]) -> list[tuple[m.Contact, m.FollowUp]]:
    rows = session.execute(
        select(m.Contact, m.FollowUp)
        .join(m.FollowUp, m.FollowUp.contact_id == m.Contact.id)
        .where(m.Contact.id.in_(ids), m.FollowUp.state == "planned")
    ).all()
    return [(c, f) for c, f in rows]


def db_fed(engine: Engine, ids: list[int], batch: int) -> tuple[float, float, int]:
    """(per-contact history_for rate, one-query-per-batch rate, decisions) over `ids`."""
    factory = session_factory(engine)
    per_contact = batched = 0.0
    n = 0
    with factory() as session:
        for start in range(0, len(ids), batch):
            pairs = due_rows(session, ids[start : start + batch])
            # As dispatch does: one history query per decision.
            t0 = time.perf_counter()
            for contact, row in pairs:
                caps = CAPS.for_contact(contact.email)
                decide(
                    _view(contact),
                    Due(row.kind, row.step, row.due_at, row.first_due_at),
                    NOW,
                    history_for(session, contact, row.id, caps, NOW),
                    caps,
                    contact_zone(contact.timezone, contact.offsets(), OWNER_ZONE),
                )
            per_contact += time.perf_counter() - t0
            # One query for the whole batch.
            t0 = time.perf_counter()
            sent = batch_histories(session, [c.id for c, _ in pairs], {r.id for _, r in pairs})
            for contact, row in pairs:
                caps = CAPS.for_contact(contact.email)
                decide(
                    _view(contact),
                    Due(row.kind, row.step, row.due_at, row.first_due_at),
                    NOW,
                    History(tuple(sent.get(contact.id, ())), contact.last_contact_at),
                    caps,
                    contact_zone(contact.timezone, contact.offsets(), OWNER_ZONE),
                )
            batched += time.perf_counter() - t0
            n += len(pairs)
            session.expunge_all()
    return n / per_contact, n / batched, n


def batch_query(contact_ids: list[int], exclude: set[int]) -> Any:
    longest = max((w.days for w in CAPS.windows), default=0.0) * 2
    since = NOW - timedelta(days=longest + 1, hours=CAPS.min_gap_hours)
    sent_at = func.coalesce(m.FollowUp.delivered_at, m.FollowUp.claimed_at)
    return select(m.FollowUp.contact_id, m.FollowUp.id, sent_at).where(
        m.FollowUp.contact_id.in_(contact_ids),
        m.FollowUp.state.in_(("delivered", "delivering")),
        sent_at > since,
    )


def batch_histories(
    session: Session, contact_ids: list[int], exclude: set[int]
) -> dict[int, list[datetime]]:
    out: dict[int, list[datetime]] = {}
    for contact_id, fid, at in session.execute(batch_query(contact_ids, exclude)):
        if fid not in exclude and at is not None:
            out.setdefault(contact_id, []).append(at)
    return out


def captured_history_query(engine: Engine, contact_id: int) -> tuple[str, Any]:
    """The SQL and parameters `history_for` sends, caught on the wire."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "coalesce" in statement.lower():
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        with session_factory(engine)() as session:
            contact = session.get(m.Contact, contact_id)
            assert contact is not None
            history_for(session, contact, -1, CAPS, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen[-1]


def explain(engine: Engine, contact_id: int) -> list[str]:
    statement, params = captured_history_query(engine, contact_id)
    lines = [statement.strip().replace("\n", " ")]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, params)
            lines += [f"  {row[-1]}" for row in cur.fetchall()]
        else:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            lines += [f"  {row[0]}" for row in cur.fetchall()]
    finally:
        raw.close()
    return lines


def explain_batch(engine: Engine, ids: list[int]) -> list[str]:
    stmt = batch_query(ids, set())
    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        return [f"  {row[-1]}" for row in conn.exec_driver_sql(prefix + str(compiled))]


def shorten(line: str, width: int = 240) -> str:
    return line if len(line) <= width else line[: width - 5] + " […]"


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=1_000_000)
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--sample", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=1_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    wall = time.perf_counter()

    engines: dict[str, Engine] = {}
    tmp = tempfile.TemporaryDirectory(prefix="refmail-bench-")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin: Engine | None = None
    try:
        t0 = time.perf_counter()
        if args.db in ("sqlite", "both"):
            engines["sqlite"] = make_engine(f"sqlite:///{tmp.name}/bench.db")
        if args.db in ("postgres", "both"):
            admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            engines["postgres"] = make_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
        for engine in engines.values():
            migrate(engine)
            seed_rows(engine)
        print(f"schema migrated in {time.perf_counter() - t0:.1f} s ({', '.join(engines)})")

        tally: dict[str, int] = {}
        pure_seconds = gen_seconds = 0.0
        load_seconds = dict.fromkeys(engines, 0.0)
        rows = 0
        t0 = time.perf_counter()
        for chunk in generate(args.contacts, args.seed):
            gen_seconds += time.perf_counter() - t0
            pure_seconds += pure(chunk, tally)
            rows += len(chunk.follow_ups)
            for name, engine in engines.items():
                t1 = time.perf_counter()
                (load_sqlite if name == "sqlite" else load_postgres)(engine, chunk)
                load_seconds[name] += time.perf_counter() - t1
            t0 = time.perf_counter()
        n = args.contacts
        print(f"generated {n:,} contacts, {rows:,} follow-up rows in {gen_seconds:.1f} s")
        for name, secs in load_seconds.items():
            print(f"loaded into {name} in {secs:.1f} s ({(n + rows) / secs:,.0f} rows/s)")
        print()
        print(f"(a) pure policy: {n / pure_seconds:,.0f} decisions/s over {n:,} contacts "
              f"({pure_seconds:.1f} s; caps {', '.join(map(str, CAPS.windows))}, "
              f"min gap {CAPS.min_gap_hours:g} h)")  # fmt: skip
        print("    " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.items())))

        rng = random.Random(args.seed + 1)
        sample = sorted(rng.sample(range(1, n + 1), min(args.sample, n)))
        heavy = sample[0]
        for name, engine in engines.items():
            t0 = time.perf_counter()
            print(f"\n[{name}]")
            if name == "postgres":  # what autovacuum would do; SQLite is left as refmail leaves it
                with engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
                print(f"ANALYZE in {time.perf_counter() - t0:.1f} s")
            single, batched, k = db_fed(engine, sample, args.batch)
            print(f"(b) history_for per decision (as dispatch): {single:,.0f} decisions/s "
                  f"over {k:,} sampled contacts")  # fmt: skip
            print(f"    one history query per {args.batch:,} contacts: {batched:,.0f} decisions/s")
            print("(c) plan of the history query (history_for, as sent):")
            for line in explain(engine, heavy):
                print("    " + shorten(line))
            print(f"    the batched variant ({args.batch:,} contacts per query):")
            for line in explain_batch(engine, sample[: args.batch]):
                print("    " + shorten(line))
    finally:
        for engine in engines.values():
            engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
        tmp.cleanup()
    print(f"\ntotal {time.perf_counter() - wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
