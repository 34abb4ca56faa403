"""The loop and records commands as the owner types them, on a Maildir config (SQLite and
PostgreSQL): intros outcome / ask / suggestions, partners, report, contacts list / export /
forget, owner-password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from refmail.cli import cli
from refmail.maildir import deliver
from refmail.owner_web import check_password
from tests.support.loop import referral
from tests.support.mailbox import OWNER

CARL = "carl1@chenconsulting.example"


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    root = tmp_path / "md"
    deliver(root, referral(), "1700000000.M1.cli")
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n[[accounts]]\nname = "t"\naddress = "olivia+refmail@example.com"\n'
        f'owners = ["{OWNER}"]\nowner_name = "Olivia Owner"\ndelivery = "file"\n'
        f'drafts_dir = "{tmp_path / "drafts"}"\nrequire_authentication = false\n'
        f'[accounts.maildir]\npath = "{root}"\n'
        '[rewards]\ntext = "a bottle of champagne is on its way"\n'
    )
    refmail(path, "sync", "--once")
    return path


def refmail(config: Path, *args: str, code: int = 0, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], input=stdin)
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_intros_outcome_converts_with_value_and_plans_thanks_and_reward(config: Path) -> None:
    shown = refmail(config, "intros", "outcome", "1", "converted", "--value", "1200", "--note", "x")
    assert "open → converted" in shown and "conversion_thanks to pat@partnerlaw.example" in shown
    planned = {
        (r["kind"], r["recipient"]) for r in lines(refmail(config, "outbox", "list", "--json"))
    }
    assert ("conversion_thanks", "pat@partnerlaw.example") in planned
    assert ("reward_task", "pat@partnerlaw.example") in planned
    report = json.loads(refmail(config, "report", "--json"))
    assert report["totals"]["converted"] == 1 and report["totals"]["value"] == 1200.0
    assert report["introductions"][0]["value"] == 1200.0
    text = refmail(config, "report")
    chart = [line for line in text.split("introductions:")[0].splitlines() if "converted" in line]
    assert chart and chart[-1].strip().startswith("*") and chart[-1].endswith("1 converted")
    assert "refmail: error: no introduction #99" in refmail(
        config, "intros", "outcome", "99", "closed", code=1
    )
    refmail(config, "intros", "outcome", "1", "won", code=2)  # not an outcome name
    refmail(config, "partners", "reward-sent", "pat@partnerlaw.example")
    partner = lines(refmail(config, "partners", "list", "--json"))[0]
    assert partner["rewards_owed"] == 0 and partner["converted"] == 1


def test_partners_note_and_list(config: Path) -> None:
    refmail(config, "partners", "note", "pat@partnerlaw.example", "refers bookkeeping clients")
    (partner,) = lines(refmail(config, "partners", "list", "--json"))
    assert partner["expectations"] == "refers bookkeeping clients"
    assert partner["referrals"] == 1 and partner["quotes"]
    assert "refers bookkeeping clients" in refmail(config, "partners", "list")


def test_contacts_list_export_and_forget(config: Path) -> None:
    listed = {r["email"]: r for r in lines(refmail(config, "contacts", "list", "--json"))}
    assert listed[CARL]["open_follow_ups"] == 2 and listed[CARL]["name"] == "Carl Chen"
    exported = json.loads(refmail(config, "contacts", "export", CARL))
    assert exported["contact"]["email"] == CARL
    assert len(exported["follow_ups"]) == 2 and exported["introductions"][0]["id"] == 1
    assert "refmail: error: that is your own address" in refmail(
        config, "contacts", "forget", OWNER, "--yes", code=1
    )
    refmail(config, "contacts", "forget", CARL, stdin="n\n", code=1)  # asked, and declined
    assert CARL in refmail(config, "contacts", "list")
    assert "forgotten" in refmail(config, "contacts", "forget", CARL, "--yes")
    assert CARL not in refmail(config, "contacts", "list")
    assert "Carl Chen" not in refmail(config, "report")
    refmail(config, "contacts", "export", CARL, code=1)


def test_intro_ask_then_a_yes_reply_plans_the_double_intro(config: Path, tmp_path: Path) -> None:
    shown = refmail(
        config, "intro", "ask", "dana@diaz.example", "leo@lane.example", "--name", "Leo Lane",
        "--context", "Leo needs a designer for his payroll firm's site.",
    )  # fmt: skip
    assert "pending" in shown
    assert json.loads(refmail(config, "report", "--json"))["totals"]["pending"] == 1
    unrelated = (
        f"From: Dana <dana@diaz.example>\r\nTo: {OWNER}\r\nSubject: Lunch\r\n"
        "Message-ID: <dana-0@diaz.example>\r\n\r\nSure, Friday works.\r\n"
    ).encode()
    deliver(tmp_path / "md", unrelated, "1700000001.M2.cli")
    assert "said yes" not in refmail(config, "sync", "--once")  # not a reply: not an answer
    reply = (  # a reply to the owner's own note, which refmail never saw
        f"From: Dana <dana@diaz.example>\r\nTo: {OWNER}\r\nSubject: Re: Leo\r\n"
        "In-Reply-To: <owner-note@mail.example.com>\r\n"
        "Message-ID: <dana-1@diaz.example>\r\n\r\nSure, I'd love to meet him.\r\n"
    ).encode()
    deliver(tmp_path / "md", reply, "1700000002.M3.cli")
    assert "said yes" in refmail(config, "sync", "--once")
    planned = {
        r["recipient"]
        for r in lines(refmail(config, "outbox", "list", "--json"))
        if r["kind"] == "double_intro"
    }
    assert planned == {"dana@diaz.example", "leo@lane.example"}


def test_owner_password_prints_a_hash_that_checks(config: Path) -> None:
    out = refmail(config, "owner-password", stdin="a long owner password\n").strip()
    assert out.startswith("scrypt$") and check_password("a long owner password", out)
    assert not check_password("another password", out)
    refmail(config, "owner-password", stdin="short\n", code=1)
