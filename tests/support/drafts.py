"""A follow-up draft for the renderer, and its rendered message read back: the tests of what
refmail writes (headers, bodies, hostile names and text) start from `draft` and read with these."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

from refmail.render import Draft, Person

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
OWNER = Person("owner@example.com", "Olga Owner")
ALICE = Person("alice@example.org", "Alice Archer", "Archer & Co", "+44 20 7946 0000")
BOB = Person("bob@example.net", "Bob Stone", "Stone Ltd", "+1 555 0100")
UNSUB = "https://refmail.example/u/tok123"
PREFS = "https://refmail.example/p/tok123"


def draft(kind: str = "double_intro", **changes: object) -> Draft:
    """A `kind` follow-up from the owner to Alice about her introduction to Bob (a call task is
    the owner's, about Alice), with `changes` applied."""
    base = Draft(
        kind=kind,
        message_id="<fu-1.abc@refmail.example>",
        sender=OWNER,
        recipient=ALICE,
        introducer=OWNER,
        parties=(ALICE, BOB),
        context="you both build boats",
        intro_subject="Alice, meet Bob",
        intro_message_id="<intro-1@example.com>",
        subject_person=ALICE if kind == "call_task" else None,
        for_kind="check_in" if kind == "call_task" else "",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    """The message as a recipient reads it: its bytes parsed again."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def subject(msg: EmailMessage) -> str:
    # The stdlib may fold a long subject right after "Subject:"; its parser then keeps the
    # leading space of the continuation line.
    return str(msg["Subject"]).strip()


def text_of(msg: EmailMessage) -> str:
    """The plain-text body, with LF line ends."""
    part = msg.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")  # rendered with CRLF (policy.SMTP)


def html_of(msg: EmailMessage) -> str:
    """The HTML body, with LF line ends."""
    part = msg.get_body(("html",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")
