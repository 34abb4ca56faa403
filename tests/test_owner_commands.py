"""The owner's own controls, as a user runs them: look ahead without changing anything, cancel
or snooze one follow-up, dismiss a message wrongly taken for an introduction."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from refmail.cli import cli
from tests.dovecot import Dovecot
from tests.mailbox import OWNER, REFMAIL, referral


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
    before = database_files(demo)
    assert before["refmail.db"] != "absent"  # the demo database is where the test looks
    now = rows(demo, "outbox", "preview")
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
    from datetime import UTC, datetime, timedelta

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
    demo_db = (tmp_path / "refmail-demo" / "refmail.db").read_bytes()

    _, raw = referral("readme")
    dovecot.append(imap_user, "INBOX", raw)
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
    assert "1 introductions" in refmail(config, "sync")
    intros = rows(config, "intros", "list")
    assert [i["introducer"] for i in intros] == ["pat.readme@partner-readme.example"]
    recipients = {r["recipient"] for r in rows(config, "outbox", "list")}
    assert recipients and all("readme" in str(r) for r in recipients)
    refmail(config, "contacts", "show", "alice@archer-design.example", code=1)
    assert "1 delivered" in refmail(config, "dispatch")
    # The demo is still there, untouched, for whoever wants to look again.
    assert (tmp_path / "refmail-demo" / "refmail.db").read_bytes() == demo_db
