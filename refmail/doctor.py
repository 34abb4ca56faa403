"""`refmail doctor`: checks each account, the database and the web settings, one verdict a line.

Every check is read-only: it connects, logs in and looks, but writes nothing anywhere.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imapclient.imapclient import DRAFTS, SENT

from refmail import kinds, wiring
from refmail.config import Account, Settings, SmtpSettings
from refmail.db import make_engine, pending_migrations
from refmail.errors import RefmailError
from refmail.imap import DRAFTS_NAMES, NETWORK_ERRORS, SENT_NAMES, connect
from refmail.smtp import session
from refmail.sync import reply_folders

Status = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Check:
    status: Status
    subject: str
    words: str

    def __str__(self) -> str:
        return f"{self.status:4}  {self.subject}: {self.words}"


def run_checks(settings: Settings) -> Iterator[Check]:
    yield from _database(settings)
    for account in settings.accounts:
        yield from _account(account)
    yield from _web(settings)


def _database(settings: Settings) -> Iterator[Check]:
    try:
        engine = make_engine(settings.database)
        pending = pending_migrations(engine)
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database is the verdict
        why = " ".join(str(getattr(exc, "orig", None) or exc).split())  # one line, no SA link
        yield Check("FAIL", "database", f"cannot open {_safe_url(settings.database)}: {why}")
        return
    if pending:
        yield Check(
            "warn", "database", f"{len(pending)} migration(s) pending; applied on next start"
        )
    else:
        yield Check("ok", "database", f"{_safe_url(settings.database)}, schema current")


def _account(account: Account) -> Iterator[Check]:
    name = f"account {account.name}"
    if account.maildir is not None:
        path = Path(account.maildir.path)
        ok = (path / "cur").is_dir() or (path / "new").is_dir()
        yield Check("ok" if ok else "FAIL", name, f"Maildir {path}" + ("" if ok else " not found"))
    if account.imap is not None:
        yield from _imap(name, account)
    if account.smtp is not None:
        yield from _smtp(name, account.smtp)
    yield Check("ok", name, _folders(account))
    yield Check("ok", name, f"follow-ups go to: {_routes(account)}")


def _folders(account: Account) -> str:
    """Which folders sync reads, and why; and where it looks for replies only."""
    read = wiring.folders(account)
    inbox = any(f.upper() == "INBOX" for f in read)
    why = (
        "introductions sent to refmail, and those others make to you"
        if inbox
        else "only what is filed there (introductions sent to refmail)"
    )
    text = f"reads {', '.join(repr(f) for f in read)}: {why}"
    scanned = reply_folders(read)
    if scanned:
        text += (
            f"; scans {', '.join(repr(f) for f in scanned)} (headers only) for replies to "
            "refmail's mail, so a 'please stop' is seen wherever it lands"
        )
    return text


def _routes(account: Account) -> str:
    """Which channel each kind of follow-up goes through, grouped: "drafts (thank_you, …)"."""
    by_channel: dict[str, list[str]] = {}
    for kind in kinds.NAMES:
        by_channel.setdefault(account.delivery_for(kind), []).append(kind)
    return "; ".join(f"{c} ({', '.join(ks)})" for c, ks in sorted(by_channel.items()))


def _imap(name: str, account: Account) -> Iterator[Check]:
    imap = account.imap
    assert imap is not None
    where = f"{imap.user} at {imap.host}:{imap.effective_port} ({imap.tls})"
    try:
        with connect(imap) as client:
            yield Check("ok", name, f"IMAP login as {where}")
            existing = {n for _f, _d, n in client.list_folders()}
            for folder in imap.folders:
                found = folder in existing
                yield Check(
                    "ok" if found else "FAIL",
                    name,
                    f"folder {folder!r} {'found' if found else 'does not exist'}",
                )
            yield _special(
                name, client, "Drafts", DRAFTS, DRAFTS_NAMES, imap.drafts_folder, existing
            )
            if account.smtp is not None:
                yield _special(
                    name, client, "Sent", SENT, SENT_NAMES, account.smtp.sent_folder, existing
                )
            idle = client.has_capability("IDLE")
            yield Check(
                "ok" if idle else "warn",
                name,
                "IDLE offered: new mail is synced within seconds"
                if idle
                else "no IDLE: new mail waits for the next poll",
            )
    except RefmailError as exc:
        yield Check("FAIL", name, str(exc))
    except NETWORK_ERRORS as exc:
        yield Check("FAIL", name, f"IMAP session failed: {exc}")


def _special(
    name: str,
    client,
    label: str,
    flag: bytes,
    names: tuple[str, ...],  # type: ignore[no-untyped-def]
    configured: str,
    existing: set[str],
) -> Check:
    if configured:
        found = configured in existing
        return Check(
            "ok" if found else "FAIL",
            name,
            f"{label} folder {configured!r} " + ("found" if found else "does not exist"),
        )
    special = client.find_special_folder(flag)
    if special:
        return Check("ok", name, f"{label} folder {special!r} (SPECIAL-USE)")
    by_name = next((n for n in names if n in existing), None)
    if by_name:
        return Check("ok", name, f"{label} folder {by_name!r} (by name)")
    return Check("warn", name, f"no {label} folder: refmail will create {names[0]!r}")


def _smtp(name: str, smtp: SmtpSettings) -> Iterator[Check]:
    where = f"{smtp.host}:{smtp.effective_port} ({smtp.tls})"
    try:
        with session(smtp):
            pass
        yield Check("ok", name, f"SMTP {'login' if smtp.user else 'connection'} at {where}")
    except RefmailError as exc:
        yield Check("FAIL", name, f"SMTP: {exc}")
    except smtplib.SMTPAuthenticationError:
        yield Check("FAIL", name, f"SMTP login refused for {smtp.user} at {where}")
    except (smtplib.SMTPException, OSError) as exc:
        yield Check("FAIL", name, f"SMTP at {where}: {exc}")


def _web(settings: Settings) -> Iterator[Check]:
    web = settings.web
    if not web.base_url:
        yield Check("warn", "web", "no base_url: follow-ups carry no unsubscribe links")
        return
    if not web.base_url.startswith("https://"):
        yield Check("warn", "web", f"{web.base_url} is not https: links would travel in clear")
    try:
        wiring.rules(settings)  # what the daemon builds: the link signer with its keys
    except RefmailError as exc:
        yield Check("FAIL", "web", f"signing key: {exc}")
        return
    yield Check("ok", "web", f"links point at {web.base_url}; signing key present")
    if not any(a.smtp is not None for a in settings.accounts):
        yield Check(
            "warn",
            "web",
            "no account has [accounts.smtp]: the pages cannot email anyone a link, so they "
            "offer no 'email me my link' form (the link in each email still works)",
        )


def _safe_url(url: str) -> str:
    """The database URL without a password in it."""
    head, sep, tail = url.partition("@")
    if sep and ":" in head.split("//", 1)[-1]:
        scheme, _, user_pass = head.partition("//")
        return f"{scheme}//{user_pass.split(':', 1)[0]}:***@{tail}"
    return url
