"""The `refmail` command as a user runs it: the demo, classify, listings, and its error messages."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from refmail import config
from tests.support.cli import invoke
from tests.support.dovecot import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_demo_end_to_end_as_a_real_process(tmp_path: Path) -> None:
    """The README's first command, minus the install, in a fresh directory."""

    def refmail(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "refmail", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**os.environ, "REFMAIL_CONFIG": ""},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "wrote refmail.toml" in refmail("init")
    assert "3 introductions" in refmail("sync", "--once")
    out = refmail("dispatch", "--once")
    assert "thank_you to pat@partnerlaw.example" in out
    assert "double_intro to dana@dianasbakery.example" in out
    drafts = sorted((tmp_path / "refmail-demo" / "drafts").glob("*.eml"))
    assert len(drafts) == 2
    rows = [json.loads(line) for line in refmail("outbox", "list", "--json").splitlines()]
    assert sorted(r["state"] for r in rows).count("delivered") == 2
    assert {r["kind"] for r in rows} == {"thank_you", "double_intro", "check_in"}
    intros = [json.loads(line) for line in refmail("intros", "list", "--json").splitlines()]
    assert sorted(i["shape"] for i in intros)[-1] == "referral_to_owner"
    assert "(none)" not in refmail("outbox", "list")
    # Nothing is due again until --now passes the first check-ins.
    assert "0 delivered" in refmail("dispatch", "--once")
    week = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    assert "5 delivered" in refmail("dispatch", "--once", "--now", week)  # one check-in each
    # Check-ins planned long ago and never sent are stale by now: skipped, with the reason.
    assert "5 skipped" in refmail("dispatch", "--once", "--now", "2099-01-01T00:00")
    why = refmail("outbox", "why", "3")
    assert "stale" in why or "delivered" in why


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "refmail.toml"
    path.write_text("# mine\n")
    code, out = invoke("--config", str(path), "init")
    assert code != 0 and "exists" in out
    assert path.read_text() == "# mine\n"


def test_init_for_imap_writes_a_valid_config_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "refmail.toml"
    code, out = invoke(
        "--config",
        str(path),
        "init",
        "--imap",
        "imaps://me%40example.com@imap.example.com/Refmail",
        "--address",
        "me+refmail@example.com",
        "--owner",
        "me@example.com",
        "--database",
        f"sqlite:///{tmp_path / 'r.db'}",
        env={"REFMAIL_IMAP_PASSWORD": "hunter2"},
    )
    assert code == 0, out
    settings = config.load(path)
    imap = settings.accounts[0].imap
    assert imap is not None
    assert (imap.host, imap.user, imap.tls, imap.folders) == (
        "imap.example.com",
        "me@example.com",
        "ssl",
        ("Refmail",),
    )
    assert "hunter2" not in path.read_text()


def test_bad_config_is_one_line_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "refmail.toml"
    path.write_text(
        '[[accounts]]\nname = "a"\naddress = "a@example.com"\nowners = ["b@example.com"]\n'
        '[accounts.imap]\nhost = "h"\nuser = "u"\ntls = "sometimes"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "refmail", "--config", str(path), "sync", "--once"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "refmail: error: accounts[0].imap.tls: 'sometimes' is not one of ssl, starttls, none"
    )


def test_missing_config_says_how_to_make_one(tmp_path: Path) -> None:
    code, out = invoke("--config", str(tmp_path / "nope.toml"), "outbox", "list")
    assert code == 1 and "refmail init" in out


def test_classify_prints_json_with_the_deciding_rule(corpus: Path) -> None:
    files = [
        corpus / "intro" / "web-web-nextgov-joe-mary-jack.eml",
        corpus / "nonintro" / "enron-bill-2.eml",
    ]
    code, out = invoke("--config", "/nonexistent/refmail.toml", "classify", *map(str, files))
    assert code == 0, out
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["kind"] == "introduction"
    assert first["introducer"] == "joe@example.com"
    assert set(first["parties"]) == {"mary@example.org", "jack@gruber.example.com"}
    assert first["rule"] and first["context"]
    assert second["kind"] != "introduction" and second["rule"]


def test_bad_now_is_a_usage_error(tmp_path: Path) -> None:
    code, out = invoke(
        "--config", str(tmp_path / "x.toml"), "dispatch", "--once", "--now", "tomorrow"
    )
    assert code == 2 and "ISO-8601" in out


@pytest.mark.parametrize(
    "cls",
    [
        config.Settings,
        config.Account,
        config.ImapSettings,
        config.MaildirSettings,
        config.FollowUps,
        config.Web,
        config.Caps,
        config.CapsOverride,
        config.SmtpSettings,
        config.KindDelivery,
        config.Daemon,
    ],
)
def test_example_config_documents_every_key(cls: type) -> None:
    text = (ROOT / "refmail.toml.example").read_text()
    for field in dataclasses.fields(cls):
        if field.name == "path":
            continue  # where the config was read from, not a key
        name = field.name
        documented = (f"\n{name} =", f"\n# {name} =", f"[{name}]", f".{name}]")
        assert any(d in text for d in documented), name


def test_example_config_is_valid() -> None:
    path = ROOT / "refmail.toml.example"
    settings = config.parse(tomllib.loads(path.read_text()), path)
    assert settings.accounts[0].imap is not None
    assert settings.followups == config.FollowUps()
    assert settings.caps == config.Caps()  # the example shows the defaults


def test_web_command_serves_the_pages(tmp_path: Path) -> None:
    """`refmail web` as a real process: it serves, and refuses to start without a base URL."""
    port = free_port()
    path = tmp_path / "refmail.toml"
    path.write_text(f"""
database = "sqlite:///{tmp_path / "r.db"}"
[web]
base_url = "https://refmail.example.com"
listen = "127.0.0.1:{port}"
[[accounts]]
name = "a"
address = "o+refmail@example.com"
owners = ["o@example.com"]
[accounts.maildir]
path = "md"
""")
    env = {**os.environ, "REFMAIL_SIGNING_KEY": "k" * 32}
    server = subprocess.Popen(
        [sys.executable, "-m", "refmail", "--config", str(path), "web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert body == "ok\n"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/u/not-a-token", timeout=2)
        assert missing.value.code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)
    path.write_text(path.read_text().replace('base_url = "https://refmail.example.com"', ""))
    code, out = invoke("--config", str(path), "web")
    assert code == 1 and "web.base_url is not set" in out
