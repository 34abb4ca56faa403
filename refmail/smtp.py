"""SMTP adapter (smtplib): submits one message over SMTPS or STARTTLS, certificates verified.

Raises DeliveryError, marked permanent for a 5xx refusal, so callers can retry only what may
succeed later.
"""

from __future__ import annotations

import email
import email.policy
import logging
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

from refmail.config import Account, SmtpSettings
from refmail.errors import CredentialsError, DeliveryError, SourceError
from refmail.oauth import token_source

if TYPE_CHECKING:
    from refmail.imap import Mailbox

log = logging.getLogger(__name__)


class Folder(Protocol):
    """Where the Sent copy goes (an IMAP folder)."""

    def contains(self, message_id: str) -> bool: ...

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None: ...


def send(
    settings: SmtpSettings, message: EmailMessage | bytes, sender: str, recipients: list[str]
) -> None:
    """Submit `message` to the server; returns once the server accepted it for every recipient."""
    data = (
        message.as_bytes(policy=email.policy.SMTP) if isinstance(message, EmailMessage) else message
    )
    where = f"{settings.host}:{settings.effective_port}"
    try:
        with session(settings) as client:
            refused = client.sendmail(sender, recipients, data)
    except smtplib.SMTPAuthenticationError as exc:
        raise CredentialsError(
            f"SMTP {where} refused the login of {settings.user}: {exc.smtp_code} "
            f"{_text(exc.smtp_error)}; deliveries of this account wait until it works"
        ) from exc
    except SourceError as exc:  # the OAuth2 token could not be had
        raise CredentialsError(f"SMTP {where}: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP {where} refused: {exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=500 <= exc.smtp_code < 600,
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"SMTP {where} refused every recipient: {_replies(exc.recipients)}",
            permanent=all(500 <= c < 600 for c in codes),
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP session with {where} failed: {exc}") from exc
    if refused:
        raise DeliveryError(
            f"SMTP {where} refused some recipients: {_replies(refused)}", permanent=True
        )


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _replies(refused: Mapping[str, tuple[int, bytes | str]]) -> str:
    """The server's replies as it wrote them: "addr: 550 5.1.1 …; addr: …"."""
    return "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in refused.items())


@contextmanager
def session(settings: SmtpSettings) -> Iterator[smtplib.SMTP]:
    """A connected, encrypted (unless tls = "none") and logged-in SMTP session."""
    context = ssl.create_default_context()
    if settings.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.effective_port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.effective_port, timeout=settings.timeout)
    with client:
        client.ehlo()
        if settings.tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.auth == "xoauth2":
            _oauth2_login(client, settings)
        elif settings.user:
            client.login(settings.user, settings.password())
        yield client


def _oauth2_login(client: smtplib.SMTP, settings: SmtpSettings) -> None:
    """XOAUTH2 with the account's cached token, refreshed once if the server refuses it (as
    IMAP does); a fixed access token when no token endpoint is configured."""
    if not settings.oauth2_token_url:
        xoauth2(client, settings.user, settings.token())
        return
    tokens = token_source(settings)
    try:
        xoauth2(client, settings.user, tokens.token())
    except smtplib.SMTPAuthenticationError:
        xoauth2(client, settings.user, tokens.refresh())


def xoauth2(client: smtplib.SMTP, user: str, token: str) -> None:
    """SASL XOAUTH2 (Gmail, Microsoft 365): the OAuth2 access token in place of a password."""
    blob = f"user={user}\x01auth=Bearer {token}\x01\x01"
    client.auth("XOAUTH2", lambda challenge=None: blob, initial_response_ok=True)


class SmtpChannel:
    """The smtp channel: follow-ups sent by refmail itself, with their copy in the owner's Sent
    folder.

    `contains` asks the Sent folder, so a retry after a crash finds what already went out. With
    sent_copy = "server" the provider files the copy as it accepts the message, so the answer
    is exact; with "append" refmail files it right after acceptance, so a crash in the
    millisecond after the server's 250, or a 250 lost to a dropped or timed-out connection,
    makes the retry send once more (same Message-ID). SMTP itself cannot close that gap.
    """

    name = "smtp"
    sends = True  # refmail sends these itself: Auto-Submitted, send windows always apply

    def __init__(self, settings: SmtpSettings, sender: str, sent: Folder | None) -> None:
        self.settings = settings
        self.sender = sender
        self.sent = sent if settings.sent_copy != "none" else None

    def contains(self, message_id: str) -> bool:
        return self.sent is not None and self.sent.contains(message_id)

    def where(self, message_id: str) -> str:
        return f"sent {message_id}"

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        send(self.settings, message, self.sender, list(recipients))
        if self.sent is not None and self.settings.sent_copy == "append":
            try:
                self.sent.put(message, message_id)
            except DeliveryError as exc:  # it went out; only the copy is missing
                log.warning("sent %s, but could not file the copy in Sent: %s", message_id, exc)


def open_channel(account: Account, mailbox: Mailbox) -> SmtpChannel:
    """SMTP submission with the Sent copy in the account's mailbox (when it has IMAP)."""
    assert account.smtp is not None  # config refuses smtp delivery without [accounts.smtp]
    sent = mailbox.sent(account.smtp.sent_folder) if account.smtp.sent_copy != "none" else None
    return SmtpChannel(account.smtp, account.owner_address, sent)
