"""Every command can run beside any other: two syncs and two dispatches at once, several rounds,
on SQLite and PostgreSQL, end exactly as one sequential run would; two processes starting at
once on an empty database both work. Real processes (`python -m refmail`), a real Maildir."""

from __future__ import annotations

import email.utils
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from refmail import models as m
from refmail import record
from refmail.cli import cli
from refmail.config import Account
from refmail.db import SessionFactory, make_engine, migrate, session_factory, transaction
from refmail.maildir import deliver

pytestmark = pytest.mark.integration

OWNER = "olivia@example.com"
NOW = datetime.now(UTC).replace(microsecond=0)
ROOT = Path(__file__).resolve().parents[1]


def config(tmp_path: Path, db_url: str, name: str) -> Path:
    base = tmp_path / name
    base.mkdir()
    path = base / "refmail.toml"
    path.write_text(f"""
database = "{db_url}"
[[accounts]]
name = "main"
address = "olivia+refmail@example.com"
owners = ["{OWNER}"]
owner_name = "Olivia Owner"
require_authentication = false
delivery = "file"
drafts_dir = "drafts"
[accounts.maildir]
path = "{tmp_path / "Maildir"}"
[caps]
drafts_in_window = false
weekends = true
""")
    return path


def message(
    mid: str,
    at: datetime,
    body: str,
    *,
    sender: str,
    to: str,
    cc: str,
    subject: str,
    reply_to_id: str = "",
) -> bytes:
    threading = f"In-Reply-To: {reply_to_id}\nReferences: {reply_to_id}\n" if reply_to_id else ""
    return (
        (
            f"From: {sender}\nTo: {to}\nCc: {cc}\nSubject: {subject}\n"
            f"Date: {email.utils.format_datetime(at)}\nMessage-ID: <{mid}@example.org>\n"
            f"{threading}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
        )
        .replace("\n", "\r\n")
        .encode()
    )


def round_of_mail(maildir: Path, r: int) -> None:
    """Round r: two owner introductions and two partner referrals; the parties of the first
    introduction of the previous round write to each other (it connects)."""
    at = NOW - timedelta(hours=10 - r)
    for j in range(2):
        i = 10 * r + j
        deliver(
            maildir,
            message(
                f"o{i}",
                at,
                f"Alice{i}, meet Bob{i}: Bob{i} builds the data pipelines you need. "
                "I'll let you two take it from here.",
                sender=f"Olivia Owner <{OWNER}>",
                to=f"Alice{i} <alice{i}@a.example>",
                cc=f"Bob{i} <bob{i}@b.example>, olivia+refmail@example.com",
                subject=f"Intro: Alice{i} <> Bob{i}",
            ),
            f"{int(at.timestamp())}.o{i}.test",
        )
        deliver(
            maildir,
            message(
                f"p{i}",
                at,
                f"Olivia, meet Carol{i}. Carol{i} needs someone to run her marketing in "
                "Europe and I told her you are the best I know, so I wanted to connect you two.",
                sender=f"Pat{i} <pat{i}@p.example>",
                to=f"Olivia Owner <{OWNER}>",
                cc=f"Carol{i} <carol{i}@c.example>",
                subject=f"Introduction: Olivia, meet Carol{i}",
            ),
            f"{int(at.timestamp())}.p{i}.test",
        )
    if r:
        i = 10 * (r - 1)
        deliver(
            maildir,
            message(
                f"r{i}",
                at + timedelta(minutes=5),
                "Great to meet you, let's talk on Tuesday.",
                sender=f"Alice{i} <alice{i}@a.example>",
                to=f"Bob{i} <bob{i}@b.example>",
                cc=f"Olivia Owner <{OWNER}>",
                subject=f"Re: Intro: Alice{i} <> Bob{i}",
                reply_to_id=f"<o{i}@example.org>",
            ),
            f"{int(at.timestamp())}.r{i}.test",
        )


def start(cfg: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "refmail", "--config", str(cfg), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err  # "another … is running; skipped" is not a failure
        assert "Traceback" not in err and "database is locked" not in err, err
        outputs.append(out + err)
    return outputs


def run(cfg: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    assert result.exit_code == 0, result.output


def state(db_url: str) -> tuple[Counter[tuple[object, ...]], Counter[tuple[object, ...]], int]:
    """What a run leaves, without times and ids: introductions and the outbox."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            intros = Counter(
                (i.introducer.email, tuple(sorted(p.contact.email for p in i.parties)), i.status)
                for i in s.scalars(select(m.Introduction))
            )
            follow_ups = Counter(
                (f.kind, f.contact.email, f.step, f.state) for f in s.scalars(select(m.FollowUp))
            )
            messages = len(s.scalars(select(m.MessageRecord.message_id)).all())
        return intros, follow_ups, messages
    finally:
        engine.dispose()


def at(r: int) -> str:
    return (NOW + timedelta(minutes=r)).isoformat()


def test_two_syncs_and_two_dispatches_at_once_end_as_one_run_would(
    tmp_path: Path, db_url: str
) -> None:
    maildir = tmp_path / "Maildir"
    racing = config(tmp_path, db_url, "racing")
    reference = config(tmp_path, f"sqlite:///{tmp_path / 'reference.db'}", "reference")
    skipped = 0
    for r in range(3):
        round_of_mail(maildir, r)
        outputs = finish(
            [
                start(racing, "sync", "--once"),
                start(racing, "sync", "--once"),
                start(racing, "dispatch", "--once", "--now", at(r)),
                start(racing, "dispatch", "--once", "--now", at(r)),
            ]
        )
        skipped += sum(o.count("is running; skipped") for o in outputs)
        # What the racing pair may have left to the next round, the reference does in order too.
        finish([start(racing, "sync", "--once")])
        finish([start(racing, "dispatch", "--once", "--now", at(r))])
        finish([start(reference, "sync", "--once")])
        finish([start(reference, "dispatch", "--once", "--now", at(r))])
    got, want = state(db_url), state(f"sqlite:///{tmp_path / 'reference.db'}")
    assert got == want
    intros, follow_ups, _ = got
    assert sum(intros.values()) == 12
    assert sum(n for (_, _, status), n in intros.items() if status == "connected") == 2
    delivered = sum(n for (_, _, _, s), n in follow_ups.items() if s == "delivered")
    drafts = list((tmp_path / "racing" / "drafts").glob("*.eml"))
    assert delivered > 0 and len(drafts) == delivered  # each delivered once, no stray files
    print(f"{skipped} runs skipped because their twin held the account")


def test_two_processes_starting_at_once_on_an_empty_database(tmp_path: Path, db_url: str) -> None:
    maildir = tmp_path / "Maildir"
    round_of_mail(maildir, 0)
    cfg = config(tmp_path, db_url, "cold")
    finish([start(cfg, "sync", "--once"), start(cfg, "sync", "--once")])
    run(cfg, "sync", "--once")  # whatever a skipped twin left
    intros, follow_ups, messages = state(db_url)
    assert sum(intros.values()) == 4 and messages == 4
    assert all(n == 1 for n in follow_ups.values())  # nothing planned twice


def test_accounts_synced_at_once_that_name_the_same_new_contact_lose_nothing(
    tmp_path: Path, db_url: str
) -> None:
    """Four accounts, one introduction each by the same owner (a contact none of them knows
    yet), synced in parallel threads: on PostgreSQL the second INSERT of that contact fails its
    unique key; the introduction is tried again, not dropped as a "duplicate"."""
    import threading

    from refmail import config as cfg_module
    from refmail import wiring
    from refmail.clock import system_clock
    from refmail.sync import sync_account
    from tests.support.maildirs import intro

    names = ("a0", "a1", "a2", "a3")
    tables = "".join(
        f'\n[[accounts]]\nname = "{n}"\naddress = "olivia+refmail@example.com"\n'
        f'owners = ["{OWNER}"]\ndelivery = "file"\nrequire_authentication = false\n'
        f'[accounts.maildir]\npath = "{tmp_path / n}"\n'
        for n in names
    )
    path = tmp_path / "refmail.toml"
    path.write_text(f'database = "{db_url}"\n{tables}')
    for i, n in enumerate(names):
        deliver(tmp_path / n, intro(i), f"{i}.test")
    settings = cfg_module.load(path)
    parts = wiring.build(settings)
    found: dict[str, int] = {}

    def sync(account: cfg_module.Account) -> None:
        with wiring.open_source(account) as source:
            report = sync_account(
                parts.factory,
                account,
                source,
                wiring.folders(account),
                settings.followups,
                system_clock,
            )
        found[account.name] = report.introductions

    threads = [threading.Thread(target=sync, args=(a,)) for a in settings.accounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == dict.fromkeys(names, 1)
    intros, _, messages = state(db_url)
    assert sum(intros.values()) == 4 and messages == 4


def test_a_sync_and_a_dispatch_creating_the_same_new_account_both_get_its_one_row(
    db_url: str,
) -> None:
    """Sync and dispatch hold different locks, so on an empty database both may find no account
    row and insert one: the second waits for the first and takes its row, it does not fail on
    the unique name (a race seen once in the suite, `test_two_syncs_and_two_dispatches...`)."""
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    settings = Account(name="main", address="olivia+refmail@example.com", owners=(OWNER,))
    second: list[int] = []
    with transaction(factory) as first:
        first_id = record.ensure_account(first, settings, NOW).id
        other = threading.Thread(
            target=lambda: second.append(_account_id_in_own_transaction(factory, settings))
        )
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waiting for the first transaction (its row, or SQLite's lock)
    other.join(10)
    assert second == [first_id]
    with factory() as session:
        assert len(session.scalars(select(m.Account)).all()) == 1
    engine.dispose()


def _account_id_in_own_transaction(factory: SessionFactory, settings: Account) -> int:
    with transaction(factory) as session:
        return record.ensure_account(session, settings, NOW).id
