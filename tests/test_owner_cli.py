"""The CLI as the README describes it: --config anywhere, one-shot sync/dispatch, examples in
every -h, times with their zone, --json wherever a table is printed, init for SMTP and the pages,
and no plain-text connection to another machine."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from refmail import config
from refmail.cli import cli
from refmail.errors import ConfigError


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"REFMAIL_CONFIG": "", **(env or {})})
    return result.exit_code, result.output


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "demo.toml"  # not the default name: --config must be read
    assert run("--config", str(path), "init")[0] == 0
    return path


def test_config_before_or_after_the_subcommand(demo: Path) -> None:
    assert run("sync", "--config", str(demo))[0] == 0
    before = run("--config", str(demo), "outbox", "list", "--json")
    after = run("outbox", "list", "--json", "--config", str(demo))
    equals = run("outbox", "list", f"--config={demo}", "--json")
    assert before == after == equals and before[0] == 0 and before[1]


def test_sync_and_dispatch_run_once_with_or_without_once(demo: Path) -> None:
    assert "3 introductions" in run("--config", str(demo), "sync")[1]
    assert "0 introductions" in run("--config", str(demo), "sync", "--once")[1]
    assert "2 delivered" in run("--config", str(demo), "dispatch")[1]
    assert "0 delivered" in run("--config", str(demo), "dispatch", "--once")[1]
    assert "--once" not in run("sync", "-h")[1]  # accepted, no longer advertised
    assert "For tests" in run("dispatch", "-h")[1]  # --now acts for real: -h says so


def every_command(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    context = click.Context(group)
    for name in group.list_commands(context):  # loads each (refmail's commands load lazily)
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            found += every_command(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("command", every_command(cli), ids=" ".join)
def test_every_help_has_examples(command: tuple[str, ...]) -> None:
    code, out = run(*command, "-h")
    assert code == 0
    examples = out.split("Examples:\n", 1)[1].splitlines()
    assert examples and all(e.strip().startswith(("refmail", "--", "systemctl")) for e in examples)


def test_times_are_shown_in_the_owners_zone(demo: Path) -> None:
    text = demo.read_text().replace('timezone = "UTC"', 'timezone = "Asia/Kolkata"')
    demo.write_text(text)
    run("--config", str(demo), "sync")
    out = run("--config", str(demo), "outbox", "list")[1]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d IST", out)
    rows = [
        json.loads(line)
        for line in run("--config", str(demo), "outbox", "list", "--json")[1].splitlines()
    ]
    assert all(str(r["due"]).endswith("+05:30") for r in rows)
    why = run("--config", str(demo), "outbox", "why", str(rows[0]["id"]))[1]
    assert " IST" in why and " UTC" not in why.splitlines()[0]


def test_json_wherever_a_table_is_printed(demo: Path) -> None:
    run("--config", str(demo), "sync")
    for args in (
        ("intros", "list"),
        ("outbox", "list"),
        ("outbox", "preview"),
        ("outbox", "why", "1"),
        ("contacts", "show", "pat@partnerlaw.example"),
        ("doctor",),
    ):
        code, out = run("--config", str(demo), *args, "--json")
        assert code == 0, (args, out)
        assert all(isinstance(json.loads(line), dict) for line in out.splitlines()), args


def test_long_reasons_are_not_cut(demo: Path) -> None:
    demo.write_text(demo.read_text().replace("drafts_in_window = false", ""))
    run("--config", str(demo), "sync")
    now = datetime.now(UTC)
    saturday = (now + timedelta(days=(5 - now.weekday()) % 7 + 7)).replace(hour=23)
    run("--config", str(demo), "dispatch", "--now", saturday.isoformat())
    rows = [
        json.loads(line)
        for line in run("--config", str(demo), "outbox", "list", "--json")[1].splitlines()
    ]
    reasons = {str(r["reason"]) for r in rows if r["state"] == "deferred"}
    longest = max(reasons, key=len)
    assert len(longest) > 60 and "deferred until" in longest
    assert longest in run("--config", str(demo), "outbox", "list")[1]


def test_init_with_smtp_and_base_url_writes_a_valid_config(tmp_path: Path) -> None:
    path = tmp_path / "refmail.toml"
    code, out = run(
        "--config",
        str(path),
        "init",
        "--imap",
        "imaps://me%40example.com@imap.example.com/Refmail",
        "--address",
        "me+refmail@example.com",
        "--owner",
        "me@example.com",
        "--smtp",
        "smtps://me%40example.com@smtp.example.com:465",
        "--base-url",
        "https://refmail.example.com/",
        env={"REFMAIL_SMTP_PASSWORD": "hunter2"},
    )
    assert code == 0, out
    settings = config.load(path)
    smtp = settings.accounts[0].smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.tls, smtp.user) == (
        "smtp.example.com",
        465,
        "ssl",
        "me@example.com",
    )
    assert smtp.password_env == "REFMAIL_SMTP_PASSWORD"
    assert settings.web.base_url == "https://refmail.example.com"
    assert "hunter2" not in path.read_text()
    assert "REFMAIL_SIGNING_KEY" in out
    code, out = run(
        "--config",
        str(tmp_path / "b.toml"),
        "init",
        "--imap",
        "imaps://a@b/INBOX",
        "--address",
        "a@b.example",
        "--owner",
        "a@b.example",
        "--smtp",
        "ftp://x",
    )
    assert code != 0 and "smtps://USER@HOST" in out
    assert not (tmp_path / "b.toml").exists()


ACCOUNT = """
[[accounts]]
name = "a"
address = "a+refmail@example.com"
owners = ["a@example.com"]
[accounts.imap]
host = "{host}"
user = "u"
tls = "none"
"""


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.53"])
def test_plain_text_is_allowed_to_this_machine(host: str, tmp_path: Path) -> None:
    raw = tomllib.loads(ACCOUNT.format(host=host))
    assert config.parse(raw, tmp_path / "r.toml").accounts[0].imap.tls == "none"  # type: ignore[union-attr]


@pytest.mark.parametrize("host", ["imap.example.com", "10.0.0.5", "localhost.example.com"])
@pytest.mark.parametrize("section", ["imap", "smtp"])
def test_plain_text_to_another_machine_is_refused(host: str, section: str, tmp_path: Path) -> None:
    text = ACCOUNT.format(host="127.0.0.1" if section == "smtp" else host)
    if section == "smtp":
        text += f'[accounts.smtp]\nhost = "{host}"\ntls = "none"\n'
    with pytest.raises(ConfigError, match=rf'accounts\[0\]\.{section}\.tls: "none"'):
        config.parse(tomllib.loads(text), tmp_path / "r.toml")
