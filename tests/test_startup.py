"""Starting fast (issue 15): `refmail --help` and a `sync` of a Maildir account, as real
processes, import neither the web server, the templates, the scheduler nor Alembic; a sync that
finds nothing new loads neither email_validator, the detector nor the effects, and a dispatch
with nothing due loads no templates; the lazy command table lists every command as the
commands themselves say; and the schema check that spares Alembic agrees with Alembic, on SQLite
and PostgreSQL."""

from __future__ import annotations

import gc
import importlib
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import click
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from click.utils import make_default_short_help

from refmail import cli as cli_module
from refmail import wiring
from refmail.cli import LazyGroup, cli
from refmail.config import ImapSettings, Settings
from refmail.db import (
    _alembic_config,
    current_revisions,
    engine_of,
    head_revisions,
    is_current,
    make_engine,
    migrate,
)
from refmail.imap import ImapSource, connect
from refmail.source import Cursor
from tests.support.dovecot import Dovecot
from tests.support.mailbox import OWNER, referral

ROOT = Path(__file__).resolve().parents[1]
# Libraries only some commands need: none of them may be loaded to print help or to sync a Maildir.
HEAVY = ("alembic", "jinja2", "starlette", "uvicorn", "apscheduler", "mako")
# What reads mail (the parser's HTML reader, the detector, the sieve, the authentication checks,
# the effects of replies): loaded only when a batch brings mail. Most cron syncs find none.
READS_MAIL = (
    "refmail.detect",
    "refmail.detect_features",
    "refmail.sieve",
    "refmail.effects",
    "refmail.owner_mail",
    "refmail.authn",
)

# What only some mail needs: the reply phrases (a reply to an introduction, an answer to an
# opt-in ask), the bounce parser, signs of business (mail with a party of an open introduction).
# Authentication-Results' parser: for such headers, read only by an account that checks them.
FOR_SOME_MAIL = ("refmail.replies", "refmail.bounce", "refmail.signals", "authres")


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """This Python with ARGS in `cwd`, this checkout first on the path and no config."""
    env = {**os.environ, "REFMAIL_CONFIG": "", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def refmail(*args: str, cwd: Path) -> tuple[str, set[str]]:
    """Run `python -X importtime -m refmail ARGS` in `cwd` (this checkout first on the path):
    its output, and the top-level packages it imported."""
    out, modules = refmail_modules(*args, cwd=cwd)
    return out, {name.split(".")[0] for name in modules}


def refmail_modules(*args: str, cwd: Path) -> tuple[str, set[str]]:
    """`refmail`, with every module imported named in full (refmail.detect, jinja2.ext, …)."""
    done = python("-X", "importtime", "-m", "refmail", *args, cwd=cwd)
    imported = set(re.findall(r"^import time:.*\|\s*([\w.]+)\s*$", done.stderr, re.MULTILINE))
    errors = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert done.returncode == 0, "\n".join(errors)
    return done.stdout, imported


def test_help_imports_no_heavy_library_and_lists_every_command(tmp_path: Path) -> None:
    out, imported = refmail("--help", cwd=tmp_path)
    assert imported.isdisjoint({*HEAVY, "sqlalchemy", "imapclient"}), imported
    commands = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"^  (\S+)\s", commands, re.MULTILINE)
    groups = {"intros", "intro", "outbox", "contacts"}
    assert set(listed) == set(cli_module.COMMANDS) | groups
    assert "refmail init && refmail sync" in out  # the examples are still there


def test_sync_of_a_maildir_loads_neither_templates_nor_alembic(tmp_path: Path) -> None:
    first, imported = refmail("init", cwd=tmp_path)  # the demo: a Maildir, .eml drafts, SQLite
    assert "wrote refmail.toml" in first and "alembic" in imported  # a new database: migrated
    out, imported = refmail("sync", "--once", cwd=tmp_path)
    assert "3 introductions" in out
    assert imported.isdisjoint({*HEAVY, "imapclient"}), imported & {*HEAVY, "imapclient"}
    assert "2 delivered" in refmail("dispatch", cwd=tmp_path)[0]
    # Reconciling the .eml drafts just written opens the file channel, still nothing heavy.
    out, imported = refmail("sync", cwd=tmp_path)
    assert "0 introductions" in out
    assert imported.isdisjoint({*HEAVY, "imapclient"}), imported & {*HEAVY, "imapclient"}


def test_nothing_new_and_nothing_due_load_no_mail_reader_and_no_templates(tmp_path: Path) -> None:
    """The cron case: a sync that finds nothing new never loads what reads mail, and a dispatch
    with nothing due never loads Jinja2 (the same commands with work to do load both)."""
    refmail("init", cwd=tmp_path)
    out, busy = refmail_modules("sync", cwd=tmp_path)  # the demo's three introductions
    assert "3 introductions" in out and set(READS_MAIL) <= busy, set(READS_MAIL) - busy
    assert "authres" not in busy  # the demo's account does not check authentication
    out, busy = refmail_modules("dispatch", cwd=tmp_path)
    assert "2 delivered" in out and {"jinja2", "refmail.render"} <= busy
    out, idle = refmail_modules("sync", cwd=tmp_path)
    assert "scanned 0," in out
    unneeded = {*READS_MAIL, *FOR_SOME_MAIL, *HEAVY, "email_validator"}  # plain addresses
    assert idle.isdisjoint(unneeded), idle & unneeded
    out, idle = refmail_modules("dispatch", cwd=tmp_path)
    assert "0 delivered" in out
    loaded = {name.split(".")[0] for name in idle} & {*unneeded, "markupsafe", "imapclient"}
    assert not loaded, loaded
    assert "refmail.parse" not in idle  # no address to read, no draft to look at
    assert "refmail.render" not in idle  # the renderer is made for a first draft


def test_an_empty_maildir_with_no_drafts_is_synced_without_the_parser(tmp_path: Path) -> None:
    """The parser (and its HTML reader) is for mail and drafts: a sync that finds neither does
    not load it; the same sync with a message to read does."""
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (tmp_path / "refmail.toml").write_text(
        f'database = "sqlite:///{tmp_path}/refmail.db"\n\n[[accounts]]\nname = "local"\n'
        'address = "refmail@example.com"\nowners = ["owner@example.com"]\ndelivery = "file"\n'
        f'drafts_dir = "{tmp_path}/drafts"\n[accounts.maildir]\npath = "{maildir}"\n'
    )
    refmail_modules("sync", cwd=tmp_path)  # the first run migrates the new database
    out, idle = refmail_modules("sync", cwd=tmp_path)
    assert "scanned 0," in out and not {"refmail.parse", "refmail.htmltext"} & idle, out
    (maildir / "new" / "1.eml").write_bytes(referral("a message")[1])
    out, busy = refmail_modules("sync", cwd=tmp_path)
    assert "scanned 1," in out and "refmail.parse" in busy, out


def _migrated_maildir_account(tmp_path: Path) -> Path:
    """A Maildir account in `tmp_path`'s refmail.toml, its SQLite database migrated by a first
    sync (so the next sync's imports are a cron run's); the Maildir's path."""
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (tmp_path / "refmail.toml").write_text(
        f'database = "sqlite:///{tmp_path}/refmail.db"\n\n[[accounts]]\nname = "local"\n'
        f'address = "refmail@example.com"\nowners = ["{OWNER}"]\ndelivery = "file"\n'
        f'drafts_dir = "{tmp_path}/drafts"\n[accounts.maildir]\npath = "{maildir}"\n'
    )
    refmail_modules("sync", cwd=tmp_path)
    return maildir


def test_a_new_introduction_is_recorded_without_what_only_replies_and_bounces_need(
    tmp_path: Path,
) -> None:
    """The cron case with mail (issue 15): one new referral is read, classified and recorded
    without loading the reply phrases, the bounce parser, the signs of business or (it has a
    plain part) the HTML reader, nor, with no draft delivered, what becomes of drafts; a party's
    reply in its thread loads what reads it."""
    maildir = _migrated_maildir_account(tmp_path)
    message_id, raw = referral("one")
    (maildir / "new" / "1.eml").write_bytes(raw)
    out, busy = refmail_modules("sync", cwd=tmp_path)
    assert "scanned 1," in out and "1 introductions" in out, out
    assert {"refmail.detect", "refmail.effects", "refmail.owner_mail"} <= busy  # it was read
    unneeded = {*FOR_SOME_MAIL, "refmail.lifecycle", "refmail.htmltext"}  # a plain-text referral
    unneeded.add("email.policy")  # every parse takes the parsers' default policy, compat32
    assert busy.isdisjoint(unneeded), busy & unneeded
    reply = (
        f"From: Carol Client one <carol.one@client-one.example>\r\nTo: {OWNER}\r\n"
        f"Cc: pat.one@partner-one.example\r\nSubject: Re: Introduction: Olivia, meet Carol\r\n"
        f"Message-ID: <reply-one@client-one.example>\r\nIn-Reply-To: {message_id}\r\n"
        f"References: {message_id}\r\n\r\nThanks Pat! Olivia, we're working together now.\r\n"
    )
    (maildir / "new" / "2.eml").write_bytes(reply.encode())
    out, busy = refmail_modules("sync", cwd=tmp_path)
    assert "scanned 1," in out and {"refmail.replies", "refmail.signals"} <= busy, out


REGISTRIES = """
import atexit, sys
from refmail.cli import main
from refmail import models
atexit.register(lambda: print("unconfigured", [r._new_mappers for r in models.REGISTRIES]))
sys.argv = ["refmail", *sys.argv[1:]]
main()
"""


def test_a_sync_of_a_new_introduction_configures_only_the_mappers_it_uses(
    tmp_path: Path,
) -> None:
    """SQLAlchemy configures a registry's mappers on first use: the classes a sync does not use
    (leases, outcomes, the owner's pages) are in a registry that stays unconfigured (issue 15);
    a report that reads them configures it."""
    maildir = _migrated_maildir_account(tmp_path)
    (maildir / "new" / "1.eml").write_bytes(referral("one")[1])
    done = python("-c", REGISTRIES, "sync", cwd=tmp_path)
    assert "1 introductions" in done.stdout, done.stdout + done.stderr
    assert "unconfigured [False, True]" in done.stdout, done.stdout
    (maildir / "new" / "2.eml").write_bytes(referral("two")[1])
    done = python("-c", REGISTRIES, "sync", cwd=tmp_path)  # the Maildir keys seen are kept
    assert "scanned 1," in done.stdout and "unconfigured [False, True]" in done.stdout
    done = python("-c", REGISTRIES, "partners", "list", cwd=tmp_path)
    assert done.returncode == 0 and "unconfigured [False, False]" in done.stdout, done.stderr


LAZY_PATTERNS = """
import atexit, sys
from refmail.cli import main
def compiled():
    from refmail import detect_copy, detect_copy_shape, detect_cues, detect_directs
    from refmail import detect_names, detect_text, owner_mail, parse, text
    lazy = (detect_copy._COPY_OBJECT, detect_copy_shape._ROLL, detect_names._VOCATIVE,
            detect_text._FORWARD_HEADER, parse._NOTES_FROM, detect_cues._KEEPER,
            detect_cues._ASKED_OF_OTHERS, detect_directs._READER_DID, detect_directs._INNER_NAME,
            owner_mail._SUBJECT_PREFIX, text._ESCAPES)
    print("compiled", sum(p._compiled is not None for p in lazy), "of", len(lazy))
    print("gate tries", sorted(detect_cues._TRIES))
atexit.register(compiled)
sys.argv = ["refmail", *sys.argv[1:]]
main()
"""


def test_a_plain_referral_compiles_no_pattern_only_some_mail_needs(tmp_path: Path) -> None:
    """Compiling a pattern costs every process that compiles it (issue 15): the detector's
    patterns for copies, rolls of names, forwards, names spoken to, Notes-style quotes, hand-offs
    and copies found, an owner's command's subject and terminal escapes are compiled on first
    use, and a plain referral (no copy verb, no forward, no quote) uses none; a short one finds
    its gate words without compiling the gate words' trie either."""
    maildir = _migrated_maildir_account(tmp_path)
    (maildir / "new" / "1.eml").write_bytes(referral("one")[1])
    done = python("-c", LAZY_PATTERNS, "sync", cwd=tmp_path)
    assert "1 introductions" in done.stdout, done.stdout + done.stderr
    assert "compiled 0 of 11" in done.stdout, done.stdout
    assert "gate tries []" in done.stdout, done.stdout


COLLECTOR = """
import atexit, gc, sys
from refmail.cli import main
atexit.register(lambda: print("collector", gc.isenabled(), gc.get_freeze_count() > 0))
sys.argv = ["refmail", *sys.argv[1:]]
main()
"""


def collector_after(*args: str, cwd: Path) -> str:
    """What `refmail ARGS` left the garbage collector as: "collector ON FROZEN"."""
    done = python("-c", COLLECTOR, *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_collector_is_off_to_start_and_back_on_once_the_database_is_open(
    tmp_path: Path,
) -> None:
    """`refmail` starts with the garbage collector off (start-up makes many objects that live as
    long as the process); a command that opens the database, or classifies files, turns it back
    on, with what start-up made frozen, so the work (a first sync, a daemon's days, a directory
    of mail) is collected as before."""
    assert collector_after("--help", cwd=tmp_path) == "collector False False"
    refmail("init", cwd=tmp_path)
    assert collector_after("sync", cwd=tmp_path) == "collector True True"
    assert collector_after("dispatch", cwd=tmp_path) == "collector True True"
    # `classify` opens no database but may read many files: it turns the collector on itself.
    mail = tmp_path / "one.eml"
    mail.write_bytes(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello\r\n")
    assert collector_after("classify", str(mail), cwd=tmp_path) == "collector True True"


LOADING = """
import gc, sys
from refmail import startup
if sys.argv[1] == "quiet":
    startup.quiet()
    startup.started()
frozen = gc.get_freeze_count()
with startup.loading("refmail.detect"):
    import refmail.detect
first = gc.get_freeze_count()
with startup.loading("refmail.detect"):
    import refmail.detect
print(gc.isenabled(), first > frozen, gc.get_freeze_count() == first)
"""


def test_what_sync_imports_late_is_frozen_once_like_start_up(tmp_path: Path) -> None:
    """The detector, imported when a first batch brings mail, loads with the collector paused
    and is frozen like the rest of start-up; only once, and only in a process `refmail`
    started (others' collectors are left as they were)."""
    quieted = python("-c", LOADING, "quiet", cwd=tmp_path)
    assert quieted.stdout.split() == ["True", "True", "True"], quieted.stderr
    other = python("-c", LOADING, "other", cwd=tmp_path)
    assert other.stdout.split() == ["True", "False", "True"], other.stderr


def test_opening_the_database_leaves_an_enabled_collector_as_it_was(db_url: str) -> None:
    """Tests, `refmail web`'s workers and other callers never turned the collector off:
    opening a database neither freezes their objects nor changes the collector."""
    frozen = gc.get_freeze_count()
    factory = wiring.database(Settings(accounts=(), database=db_url))
    try:
        assert gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        engine_of(factory).dispose()


def walk(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every lazy entry under `group`: its words and its listing."""
    found: list[tuple[tuple[str, ...], str]] = []
    assert isinstance(group, LazyGroup)
    for name, entry in group.lazy.items():
        found.append(((*path, name), entry.listing))
    for name, sub in group.commands.items():
        if isinstance(sub, LazyGroup):
            found += walk(sub, (*path, name))
    return found


@pytest.mark.parametrize("words, listing", walk(cli), ids=lambda v: str(v)[:30])
def test_each_listing_is_what_the_command_says(words: tuple[str, ...], listing: str) -> None:
    """The table's listing and the command's own help give the same line at any width, and the
    table's name is the command's (so `-h` and the listing cannot drift apart)."""
    group: click.Group = cli
    context = click.Context(cli)
    for word in words[:-1]:
        sub = group.get_command(context, word)
        assert isinstance(sub, click.Group)
        group = sub
    loaded = group.get_command(context, words[-1])
    assert loaded is not None and loaded.help is not None
    assert loaded.name == words[-1]
    for limit in range(30, 160, 7):
        assert make_default_short_help(listing, limit) == make_default_short_help(
            loaded.help, limit
        )


def test_the_channel_table_names_each_channel_as_its_class_does() -> None:
    for name, channel in wiring.CHANNEL_MODULES.items():
        module = importlib.import_module(channel.module)
        cls = getattr(module, channel.cls)
        assert (cls.name, cls.sends) == (name, channel.sends)
        assert callable(module.open_channel)
    keeps_drafts = {n for n, c in wiring.CHANNEL_MODULES.items() if not c.sends}
    assert set(wiring.DRAFT_CHANNELS) == keeps_drafts


def test_the_head_read_from_the_files_is_alembics() -> None:
    """Fails when a migration is added in a way the shortcut cannot read (then fix the reader)."""
    script = ScriptDirectory.from_config(_alembic_config())
    assert head_revisions() == frozenset(script.get_heads())
    assert len(head_revisions()) == 1


def test_a_branch_and_a_merge_are_read_as_alembic_would(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision: str = "a"\ndown_revision: str | None = None\n')
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    (tmp_path / "c.py").write_text("revision = 'c'\ndown_revision = 'a'\n")
    assert head_revisions(tmp_path) == {"b", "c"}  # two heads: a branch
    (tmp_path / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    assert head_revisions(tmp_path) == {"d"}  # merged


def test_schema_check_sees_empty_old_and_current_databases(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revisions(engine) is None and not is_current(engine)
        config = _alembic_config()
        with engine.begin() as connection:  # an installation one migration behind
            config.attributes["connection"] = connection
            command.upgrade(config, "0008_outcomes")
        assert current_revisions(engine) == {"0008_outcomes"} and not is_current(engine)
        migrate(engine)  # the shortcut must not skip the upgrade
        assert current_revisions(engine) == head_revisions() and is_current(engine)
        migrate(engine)  # and a current database is left as it is
        assert is_current(engine)
    finally:
        engine.dispose()


def test_an_imap_folder_with_nothing_new_is_not_searched(dovecot: Dovecot, imap_user: str) -> None:
    """UIDNEXT from SELECT says when nothing is past the cursor: no SEARCH then. A new message,
    a cursor behind, and a new UIDVALIDITY (read from the start) are still found."""
    dovecot.append(imap_user, "INBOX", referral("first")[1])
    client = dovecot.client(imap_user)
    searches: list[object] = []
    real_search = client.search

    def search(criteria: object) -> list[int]:
        searches.append(criteria)
        return list(real_search(criteria))

    client.search = search  # type: ignore[method-assign]
    try:
        source = ImapSource(client)
        batches = list(source.scan("INBOX", Cursor(0, 0)))
        assert [len(b.headers) for b in batches] == [1] and len(searches) == 1
        cursor = batches[-1].cursor
        assert list(source.scan("INBOX", cursor)) == [] and len(searches) == 1  # no SEARCH
        dovecot.append(imap_user, "INBOX", referral("second")[1])
        again = list(source.scan("INBOX", cursor))
        assert [list(b.headers) for b in again] == [[int(cursor.position) + 1]]
        assert len(searches) == 2
        # A cursor of another UIDVALIDITY: the whole folder again, as before.
        other = Cursor(cursor.validity + 1, again[-1].cursor.position)
        assert [len(b.headers) for b in source.scan("INBOX", other)] == [2]
    finally:
        client.logout()


def test_starttls_loads_the_ca_store_once(
    dovecot: Dovecot, imap_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A STARTTLS connection makes one TLS context (each loads the CA store: tens of ms), and
    the session it upgrades is encrypted with it."""
    assert dovecot.cert_path is not None
    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def trusting_the_test_cert() -> ssl.SSLContext:
        context = real(cafile=str(dovecot.cert_path))
        context.check_hostname = False  # the cert is for CN=localhost, we dial 127.0.0.1
        made.append(context)
        return context

    monkeypatch.setattr("refmail.imap.ssl.create_default_context", trusting_the_test_cert)
    monkeypatch.setenv("REFMAIL_TEST_STARTTLS_PASSWORD", dovecot.password)
    settings = ImapSettings(
        host=dovecot.host,
        port=dovecot.port,
        user=imap_user,
        tls="starttls",
        password_env="REFMAIL_TEST_STARTTLS_PASSWORD",
    )
    with connect(settings) as client:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
        assert client._imap.sock.context is made[0]  # the session runs over TLS, ours
    assert len(made) == 1
