"""SMTP adapter (smtplib): submits one message over SMTPS or STARTTLS, certificates verified.

Raises DeliveryError, marked permanent for a 5xx refusal, so callers can retry only what may
succeed later.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from refmail.config import SmtpSettings
from refmail.errors import DeliveryError


def send(settings: SmtpSettings, message: EmailMessage, sender: str, recipients: list[str]) -> None:
    """Submit `message` to the server; returns once the server accepted it for every recipient."""
    where = f"{settings.host}:{settings.effective_port}"
    context = ssl.create_default_context()
    try:
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
            if settings.user:
                client.login(settings.user, settings.password())
            refused = client.send_message(message, sender, recipients)
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise DeliveryError(
            f"SMTP {where} refused: {exc.smtp_code} {text}", permanent=500 <= exc.smtp_code < 600
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"SMTP {where} refused every recipient: {exc.recipients}",
            permanent=all(500 <= c < 600 for c in codes),
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP session with {where} failed: {exc}") from exc
    if refused:
        raise DeliveryError(f"SMTP {where} refused some recipients: {refused}", permanent=True)
