"""`refmail doctor`: checks each account, the database and the web settings, one verdict a line.

Every check is read-only: it connects, logs in and looks, but writes nothing anywhere.
"""

from __future__ import annotations

import email.utils
import smtplib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Literal

from imapclient.imapclient import DRAFTS, SENT, IMAPClient

from refmail import kinds, wiring
from refmail.authn import Results, Trust, headers_of, read_all, verify
from refmail.config import Account, Settings, SmtpSettings
from refmail.db import make_engine, pending_migrations, safe_url
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
    yield from _authentication(name, account)


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
    client: IMAPClient,
    label: str,
    flag: bytes,
    names: tuple[str, ...],
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


# --- is the owner's mail authenticated? ----------------------------------------------------

RECENT = 50  # how many of the newest messages doctor reads the results headers of


def _authentication(name: str, account: Account) -> Iterator[Check]:
    """The switch, the trusted authserv-ids, and what the newest mail's results headers say."""
    if not account.require_authentication:
        yield Check(
            "warn",
            name,
            "!!! require_authentication = false: anyone who puts your address in From makes "
            "refmail write to third parties in your name. Turn it on unless your server writes "
            "no Authentication-Results header.",
        )
    elif not account.trusted_authserv_ids:
        yield Check(
            "FAIL",
            name,
            "require_authentication is on but trusted_authserv_ids is empty: none of your "
            "mail authenticates, so every introduction waits for `refmail intros confirm`",
        )
    try:
        recent = _recent_headers(account)
    except (RefmailError, *NETWORK_ERRORS) as exc:
        yield Check("warn", name, f"could not read recent mail's Authentication-Results: {exc}")
        return
    yield from auth_summary(name, account, recent)


def auth_summary(name: str, account: Account, recent: list[bytes]) -> Iterator[Check]:
    """What the newest messages' topmost results headers say, a proposed authserv-id, and how
    the owner's own mail fares under the current settings."""
    trust = Trust(frozenset(account.trusted_authserv_ids), frozenset(account.trusted_arc_ids))
    tops: Counter[str] = Counter()
    owner_mail = owner_ok = 0
    for raw in recent:
        headers = headers_of(raw)
        found = read_all(headers)
        tops[found[0].describe() if found else "(no Authentication-Results)"] += 1
        sender = _sender(headers)
        if sender in account.owners:
            owner_mail += 1
            owner_ok += verify(headers, sender, trust).authenticated
    lines = "; ".join(f"{n} x {words}" for words, n in tops.most_common(8)) or "no mail"
    yield Check("ok" if recent else "warn", name, f"last {len(recent)} messages: {lines}")
    ids = Counter(r.authserv_id for raw in recent if (r := _top(raw)) is not None)
    proposal = ids.most_common(1)[0][0] if ids else None
    if proposal is not None and proposal not in account.trusted_authserv_ids:
        yield Check(
            "warn",
            name,
            f"proposed: trusted_authserv_ids = [{proposal!r}] (the id on top of "
            f"{ids[proposal]} of the last {len(recent)} messages; check it is your provider's)",
        )
    if owner_mail:
        status: Status = "ok" if owner_ok == owner_mail else "warn"
        yield Check(
            status, name, f"{owner_ok} of your {owner_mail} recent messages authenticate as yours"
        )


def _top(raw: bytes) -> Results | None:
    found = read_all(headers_of(raw))
    return found[0] if found else None


def _sender(headers: Message) -> str:
    return email.utils.parseaddr(str(headers.get("From", "")))[1].lower()


def _recent_headers(account: Account) -> list[bytes]:
    """The header blocks of the newest RECENT messages of the account's first folder."""
    if account.imap is not None:
        with connect(account.imap) as client:
            client.select_folder(account.imap.folders[0], readonly=True)
            uids = sorted(client.search("ALL"))[-RECENT:]
            if not uids:
                return []
            fields = "AUTHENTICATION-RESULTS ARC-AUTHENTICATION-RESULTS FROM"
            fetched = client.fetch(uids, [f"BODY.PEEK[HEADER.FIELDS ({fields})]"])
            return [_header_part(fetched[u]) for u in uids if u in fetched]
    assert account.maildir is not None
    root = Path(account.maildir.path)
    files = [p for sub in ("new", "cur") for p in (root / sub).glob("*") if p.is_file()]
    files.sort(key=lambda p: p.stat().st_mtime)
    return [_head(p) for p in files[-RECENT:]]


def _header_part(item: dict[bytes, object]) -> bytes:
    """The fetched header fields, whatever spelling of the key the server answered with."""
    return next((bytes(v) for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")  # type: ignore[call-overload]


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(65536).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]


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
    return safe_url(url)
