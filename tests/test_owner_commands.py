"""The owner's own controls, as a user runs them: look ahead without changing anything, cancel
or snooze one follow-up, dismiss a message wrongly taken for an introduction."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import logging
import os
import pty
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from refmail import models as m
from refmail import outbox
from refmail.cli import cli
from refmail.cli_serve import JsonFormatter
from refmail.db import SessionFactory, transaction
from refmail.maildir import deliver
from tests.support.dovecot import Dovecot
from tests.support.mailbox import OWNER, REFMAIL, referral


def refmail(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], env={"REFMAIL_CONFIG": ""})
    assert result.exit_code == code, result.output
    return result.output


def rows(config: Path, *args: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in refmail(config, *args, "--json").splitlines()]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The README's demo, synced: three introductions, their follow-ups planned."""
    config = tmp_path / "refmail.toml"
    refmail(config, "init")
    refmail(config, "sync")
    return config


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def database_files(config: Path) -> dict[str, str]:
    """The database and its write-ahead log; not the -shm index, which any reader rewrites."""
    folder = config.parent / "refmail-demo"
    return {name: digest(folder / name) for name in ("refmail.db", "refmail.db-wal")}


def test_preview_changes_nothing_and_agrees_with_dispatch(demo: Path) -> None:
    # The commands run in this process: an engine an earlier one left behind may be collected
    # during a preview, and the last connection to close checkpoints the WAL into the database
    # file. A connection held open here is never the last, so the bytes move only if refmail
    # writes.
    with closing(sqlite3.connect(demo.parent / "refmail-demo" / "refmail.db")) as held:
        held.execute("SELECT count(*) FROM sqlite_master").fetchone()
        before = database_files(demo)
        assert before["refmail.db"] != "absent"  # the demo database is where the test looks
        now = rows(demo, "outbox", "preview")
        gc.collect()  # what the garbage collector may do at any point, done here for certain
        week = rows(demo, "outbox", "preview", "--at", "+8d")
        text = refmail(demo, "outbox", "preview", "--at", "+40d")
        assert database_files(demo) == before  # byte-identical, WAL and all
    assert "nothing changed" in text and "check_in" in text
    # Now: the thank-you and the double introduction would go, nothing else is due yet.
    assert {(r["kind"], r["would"]) for r in now} == {
        ("thank_you", "deliver"),
        ("double_intro", "deliver"),
    }
    # A week on, the first check-ins are due too, each with a time it would appear.
    assert {r["kind"] for r in week} == {"thank_you", "double_intro", "check_in"}
    assert all(r["appears"] != "never" for r in week if r["would"] == "deliver")
    # Preview of the state as it is says what dispatch then does.
    out = refmail(demo, "dispatch")
    delivered = {r["id"] for r in rows(demo, "outbox", "list", "--state", "delivered")}
    assert delivered == {r["id"] for r in now if r["would"] == "deliver"}
    assert f"{len(delivered)} delivered" in out


def test_cancel_and_snooze_are_the_owners_and_dispatch_respects_them(demo: Path) -> None:
    due = rows(demo, "outbox", "preview")
    cancelled, snoozed = (int(r["id"]) for r in due[:2])  # type: ignore[call-overload]
    assert "cancelled" in refmail(demo, "outbox", "cancel", str(cancelled))
    assert "snoozed until" in refmail(demo, "outbox", "snooze", str(snoozed), "+3d")
    assert "0 delivered" in refmail(demo, "dispatch")
    by_id = {r["id"]: r for r in rows(demo, "outbox", "list")}
    assert by_id[cancelled]["state"] == "skipped"
    assert by_id[snoozed]["state"] == "deferred"
    why = rows(demo, "outbox", "why", str(cancelled))
    assert why[-1]["rule"] == "owner" and "cancelled by the owner" in str(why[-1]["reason"])
    why = rows(demo, "outbox", "why", str(snoozed))
    assert why[-1]["rule"] == "owner" and "snoozed by the owner" in str(why[-1]["reason"])
    # A cancelled follow-up cannot be snoozed back: one line, non-zero.
    out = refmail(demo, "outbox", "snooze", str(cancelled), "+1d", code=1)
    assert out.count("\n") == 1 and "is skipped" in out
    # After the snooze it goes (the demo writes drafts at any hour).
    assert "1 delivered" in refmail(demo, "dispatch", "--now", _in_days(4))


def test_dismiss_cancels_the_introductions_open_follow_ups(demo: Path) -> None:
    intro = rows(demo, "intros", "list")[0]
    out = refmail(demo, "intros", "dismiss", str(intro["id"]))
    assert "dismissed" in out
    mine = [r for r in rows(demo, "outbox", "list") if r["introduction"] == intro["id"]]
    assert mine and all(r["state"] == "skipped" for r in mine)
    for row in mine:
        last = rows(demo, "outbox", "why", str(row["id"]))[-1]
        assert last["rule"] == "owner" and "dismissed by the owner" in str(last["reason"])
    assert rows(demo, "intros", "list")[0]["status"] == "closed"
    ahead = {r["id"] for r in rows(demo, "outbox", "preview", "--at", "+60d")}
    assert ahead and not ahead & {r["id"] for r in mine}
    assert "no introduction #999" in refmail(demo, "intros", "dismiss", "999", code=1)


def _in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_readme_from_the_demo_to_a_real_mailbox(
    tmp_path: Path, dovecot: Dovecot, imap_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README in order: the demo, `init --force` again (idempotent), then `init --force
    --imap …` for a real account. The real database starts empty of demo data."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "refmail.toml"
    refmail(config, "init")
    assert "3 introductions" in refmail(config, "sync", "--once")  # --once: still accepted
    refmail(config, "dispatch")
    refmail(config, "init", "--force")
    assert "0 introductions" in refmail(config, "sync")  # no demo mail added twice
    assert len(rows(config, "intros", "list")) == 3

    _, raw = referral("readme")
    # As the owner's provider delivers it: its Authentication-Results on top.
    stamp = (
        "Authentication-Results: mx.provider.example; dkim=pass header.d=partner-readme.example;"
        " dmarc=pass header.from=partner-readme.example\r\n"
    )
    dovecot.append(imap_user, "INBOX", stamp.encode() + raw)
    monkeypatch.setenv("REFMAIL_IMAP_PASSWORD", dovecot.password)
    refmail(
        config,
        "init",
        "--force",
        "--imap",
        f"imap://{imap_user}@{dovecot.host}:{dovecot.port}/INBOX?tls=none",
        "--address",
        REFMAIL,
        "--owner",
        OWNER,
        "--owner-name",
        "Olivia Owner",
    )
    # The README's next step: name the provider `refmail doctor` proposes.
    config.write_text(
        config.read_text().replace(
            "trusted_authserv_ids = []", 'trusted_authserv_ids = ["mx.provider.example"]'
        )
    )
    assert "1 introductions" in refmail(config, "sync")
    intros = rows(config, "intros", "list")
    assert [i["introducer"] for i in intros] == ["pat.readme@partner-readme.example"]
    recipients = {r["recipient"] for r in rows(config, "outbox", "list")}
    assert recipients and all("readme" in str(r) for r in recipients)
    refmail(config, "contacts", "show", "alice@archer-design.example", code=1)
    # Drafts wait for the recipient's send window (weekdays 09:00–18:00, UTC here): dispatch as
    # on the next weekday at noon, so the test does not depend on the day it runs.
    assert "1 delivered" in refmail(config, "dispatch", "--now", next_weekday_noon().isoformat())
    # The demo is still there, in its own database, for whoever wants to look again.
    with sqlite3.connect(tmp_path / "refmail-demo" / "refmail.db") as demo_db:
        assert demo_db.execute("SELECT count(*) FROM introduction").fetchone() == (3,)


def next_weekday_noon() -> datetime:
    """Noon UTC on the next weekday: inside the default send window, before any check-in
    (7 days) falls due."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def test_every_follow_up_decision_is_one_log_line(demo: Path) -> None:
    """Drafted, deferred (until when, why) and skipped (why): one line each, from the outbox."""

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "refmail", "-v", "--config", str(demo), *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "REFMAIL_CONFIG": ""},
        )
        return done.stderr

    log = run("dispatch")
    assert re.search(
        r"follow-up #\d+ thank_you to pat@partnerlaw\.example: delivered \(file\)", log
    )
    log = run("contacts", "set", "alice@archer-design.example", "--pause-until", "2099-01-01")
    assert re.search(
        r"check_in to alice@archer-design\.example: deferred until 2099-01-01 00:00 UTC \[paused\]",
        log,
    )
    log = run("outbox", "cancel", str(_open_id(demo, "bob@bakervideo.example")))
    assert re.search(r"check_in to bob@bakervideo\.example: skipped \[owner\] cancelled by", log)


def _open_id(config: Path, recipient: str) -> int:
    return next(
        int(str(r["id"]))
        for r in rows(config, "outbox", "list")
        if r["recipient"] == recipient and r["state"] == "planned"
    )


def test_json_log_lines_carry_the_decision(factory: SessionFactory) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("refmail.outbox")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    try:
        with transaction(factory) as session:
            row = _one_follow_up(session, now)
            outbox.defer(session, row, now + timedelta(days=1), "quiet_hours", "night", now)
            outbox.skip(session, row, "stale", "21 days late", now)
    finally:
        logger.removeHandler(handler)
    deferred, skipped = (json.loads(line) for line in stream.getvalue().splitlines()[-2:])
    assert deferred["state"] == "deferred" and deferred["rule"] == "quiet_hours"
    assert deferred["due"].startswith("2026-11-28T12:00") and deferred["to"] == "x@example.com"
    assert "deferred until 2026-11-28 12:00 UTC" in deferred["message"]
    assert (skipped["state"], skipped["reason"]) == ("skipped", "21 days late")


def _one_follow_up(session: Session, now: datetime) -> m.FollowUp:
    account = m.Account(name="a", address="a@example.com", created_at=now)
    contact = m.Contact(email="x@example.com", created_at=now, updated_at=now)
    session.add_all([account, contact])
    session.flush()
    message = m.MessageRecord(
        message_id="<m@example.org>",
        account_id=account.id,
        folder="INBOX",
        thread_root="<m@example.org>",
        kind="introduction",
        ingested_at=now,
    )
    session.add(message)
    session.flush()
    intro = m.Introduction(
        message_pk=message.id,
        account_id=account.id,
        introducer_id=contact.id,
        shape="referral",
        created_at=now,
        updated_at=now,
    )
    session.add(intro)
    session.flush()
    return outbox.add(
        session,
        introduction_id=intro.id,
        account_id=account.id,
        kind="check_in",
        step=1,
        contact_id=contact.id,
        due_at=now,
        domain="example.com",
        now=now,
    )


def test_first_sync_in_a_terminal_shows_progress_and_a_summary(tmp_path: Path) -> None:
    """1,200 messages (an old referral among them) synced with a terminal on stderr: a progress
    bar, then one line that counts what was planned and what was skipped as too old, apart."""
    maildir = tmp_path / "Maildir"
    _, old = referral("old")
    old = re.sub(rb"(?m)^Date: .*$", b"Date: Mon, 02 Jan 2017 10:00:00 +0000", old, count=1)
    deliver(maildir, old, "0000.old")
    _, new = referral("new")
    deliver(maildir, new, "0001.new")
    for i in range(1200):
        plain = f"From: x{i}@example.net\r\nTo: y@example.net\r\nSubject: hi {i}\r\n\r\nhi\r\n"
        deliver(maildir, plain.encode(), f"{i + 2:04d}.plain")
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "r.db"}"\n[[accounts]]\nname = "box"\n'
        f'address = "{REFMAIL}"\nowners = ["{OWNER}"]\nrequire_authentication = false\n'
        '[accounts.maildir]\npath = "Maildir"\n'
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "refmail", "--config", str(config), "sync"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "REFMAIL_CONFIG": "", "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0
    text = output.decode(errors="replace")
    assert "box/INBOX" in text and "100%" in text  # the bar, to its end
    summary = text.strip().splitlines()[-1]
    assert "2 introductions" in summary
    assert re.search(r", [1-9]\d* follow-ups planned, [1-9]\d* skipped as too old", summary)


def test_drafts_wait_for_the_window_and_every_view_says_when(demo: Path) -> None:
    """With the default drafts_in_window = true, `outbox list` and `preview` say when each draft
    will appear: inside 09:00–18:00 on a weekday, never before it is due."""
    text = demo.read_text().replace("drafts_in_window = false", "")
    demo.write_text(text)
    for row in rows(demo, "outbox", "list"):
        due = datetime.fromisoformat(str(row["due"]))
        appears = datetime.fromisoformat(str(row["appears"]))
        assert appears >= due
        assert appears.weekday() < 5 and 9 <= appears.hour < 18, row
    now = datetime.now(UTC)
    saturday = (now + timedelta(days=(5 - now.weekday()) % 7 + 7)).replace(
        hour=23, minute=0, second=0, microsecond=0
    )
    ahead = rows(demo, "outbox", "preview", "--at", saturday.isoformat())
    thanks = next(r for r in ahead if r["kind"] == "thank_you")
    assert thanks["would"] == "defer" and "outside the send window" in str(thanks["reason"])
    monday = (saturday + timedelta(days=2)).replace(hour=9, minute=0)
    assert datetime.fromisoformat(str(thanks["appears"])) == monday
