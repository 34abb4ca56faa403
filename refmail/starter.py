"""What `refmail init` writes: the starter configurations (the demo, or a real IMAP account
with SMTP and the recipient pages), the demo's mailbox, and the order that leaves nothing
half-written: the database first, then the demo mail, then the config file.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from refmail import config, wiring
from refmail.errors import RefmailError
from refmail.maildir import deliver


class StarterError(RefmailError):
    """An option of `init` that cannot be turned into a config (the message says which)."""


DEMO_OWNER = "olivia@example.com"
DEMO_DIR = "refmail-demo"  # the demo's own folder: its Maildir, drafts and database
DEMO_DATABASE = f"sqlite:///{DEMO_DIR}/refmail.db"


def create(path: Path, text: str, settings: config.Settings, *, demo: bool) -> None:
    """The database first, then the demo mail, then the config file; if any step fails, what
    this run created is removed again, so running `init` once more just works."""
    made: list[Path] = []
    demo_dir = path.resolve().parent / DEMO_DIR
    sqlite_file = _sqlite_file(settings.database)
    try:
        for folder in (path.parent, *((demo_dir,) if demo else ())):
            if not folder.exists():
                folder.mkdir(parents=True)
                made.append(folder)
        if sqlite_file is not None and not sqlite_file.exists():
            made.append(sqlite_file)
        wiring.database(settings).kw["bind"].dispose()
        if demo:
            _demo_mail(demo_dir / "Maildir")
        _write_private(path, text)
    except BaseException as exc:
        for item in reversed(made):
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                for extra in ("", "-wal", "-shm"):
                    Path(f"{item}{extra}").unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StarterError(
                f"cannot write {exc.filename or path}: {exc.strerror or exc}"
            ) from exc
        raise


def _write_private(path: Path, text: str) -> None:
    """Write the config atomically, readable by its owner only (it names accounts and
    addresses); an existing file (--force) keeps no wider mode."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.replace(path)


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # not a URL: opening the database will say so
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _demo_mail(maildir: Path) -> None:
    """The demo's six messages, dated a few hours ago so follow-ups are due now; each only once,
    so `init --force` does not add them again."""
    now = datetime.now(UTC)
    files = resources.files("refmail.demo").iterdir()
    demo = sorted((p for p in files if p.name.endswith(".eml")), key=lambda p: p.name)
    for i, item in enumerate(demo):
        name = f"demo{i:02d}.refmail"
        if any((maildir / sub / name).exists() for sub in ("new", "cur")):
            continue
        sent = now - timedelta(hours=6 * (len(demo) - i))
        raw = re.sub(
            rb"(?m)^Date: .*$",
            f"Date: {email.utils.format_datetime(sent)}".encode(),
            item.read_bytes(),
            count=1,
        )
        deliver(maildir, raw, name)


def demo_config(database: str | None) -> str:
    return f"""# refmail demo configuration: a local Maildir, SQLite, drafts as .eml files, all in
# {DEMO_DIR}/ (a real `refmail init --imap …` uses its own database). See refmail.toml.example.
database = "{database or DEMO_DATABASE}"
timezone = "UTC"

[[accounts]]
name = "demo"
address = "olivia+refmail@example.com"
owners = ["{DEMO_OWNER}"]
owner_name = "Olivia Owner"
delivery = "file"
drafts_dir = "{DEMO_DIR}/drafts"
# The demo's mail carries no Authentication-Results header; for a real mailbox keep the default
# (true) and name your provider in trusted_authserv_ids (`refmail doctor` proposes it).
require_authentication = false

[accounts.maildir]
path = "{DEMO_DIR}/Maildir"

[caps]
# Drafts are for you to review, so the demo writes them whatever the hour; with the default
# (true) a draft is due only inside the recipient's send window.
drafts_in_window = false
"""


def smtp_config(url: str, password_file: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or not parts.username:
        raise StarterError("--smtp must look like smtps://USER@HOST[:PORT]")
    tls = "ssl" if parts.scheme == "smtps" else parse_qs(parts.query).get("tls", ["starttls"])[0]
    return f"""
[accounts.smtp]
host = {json.dumps(parts.hostname)}
port = {parts.port or 0}
tls = {json.dumps(tls)}
user = {json.dumps(unquote(parts.username))}
password_env = "REFMAIL_SMTP_PASSWORD"
password_file = {json.dumps(password_file)}
"""


def web_config(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StarterError("--base-url must look like https://refmail.example.com")
    return f"""
[web]
base_url = {json.dumps(base_url.rstrip("/"))}
signing_key_env = "REFMAIL_SIGNING_KEY"
"""


def imap_config(
    url: str,
    address: str,
    owners: tuple[str, ...],
    owner_name: str,
    delivery: str,
    database: str,
    password_file: str,
) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise StarterError("--imap must look like imaps://USER@HOST[:PORT]/FOLDER")
    tls = "ssl" if parts.scheme == "imaps" else parse_qs(parts.query).get("tls", ["starttls"])[0]
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    owner_list = ", ".join(json.dumps(o) for o in owners)
    return f"""# refmail configuration. See refmail.toml.example for every key.
database = {json.dumps(database)}
timezone = "UTC"

[[accounts]]
name = "main"
address = {json.dumps(address)}
owners = [{owner_list}]
owner_name = {json.dumps(owner_name)}
delivery = {json.dumps(delivery)}
# Only your authenticated mail makes refmail act: name your provider's authserv-id here
# (`refmail doctor` proposes it from your recent mail). See refmail.toml.example.
require_authentication = true
trusted_authserv_ids = []

[accounts.imap]
host = {json.dumps(parts.hostname)}
port = {parts.port or 0}
tls = {json.dumps(tls)}
user = {json.dumps(unquote(parts.username))}
password_env = "REFMAIL_IMAP_PASSWORD"
password_file = {json.dumps(password_file)}
folders = [{json.dumps(folder)}]
"""
