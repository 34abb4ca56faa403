"""Header triage (refmail.sieve), table-tested: which mail sync reads whole, which it keeps only
the headers of, which it skips. Pure: no server, no database."""

from __future__ import annotations

import pytest

from refmail.detect import Identity
from refmail.parse import parse_heads
from refmail.sieve import HEADERS, SKIP, WHOLE, Known, is_refmail_address, sift

OWNER = "olivia@example.com"
REFMAIL = "olivia+refmail@example.com"
ME = Identity(frozenset({OWNER}), frozenset({REFMAIL}))
INTRO_ID = "<intro-1@example.com>"
CONTACT = "carol@client.example"
KNOWN = Known(ME, threads=frozenset({INTRO_ID}), contacts=frozenset({CONTACT}))


def heads(
    sender: str = "stranger@elsewhere.example",
    to: str = OWNER,
    cc: str = "",
    subject: str = "Quarterly numbers",
    extra: str = "",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", "Message-ID: <m@x.example>"]
    if cc:
        lines.append(f"Cc: {cc}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


CASES = [
    # (name, headers, fate, rule)
    ("stranger to the owner alone", heads(), HEADERS, "one_to_owner"),
    ("owner's own mail", heads(sender=f"O <{OWNER}>", to="bob@b.example"), WHOLE, "from_owner"),
    (
        "owner's +alias counts as the owner",
        heads(sender="olivia+work@example.com", to="bob@b.example"),
        WHOLE,
        "from_owner",
    ),
    (
        "forward to the owner",
        heads(subject="Fwd: the deck Dana sent"),
        WHOLE,
        "forward",
    ),
    ("Fw: forward", heads(subject="FW: notes"), WHOLE, "forward"),
    ("re: of a forward", heads(subject="Re: Fwd: notes"), WHOLE, "forward"),
    ("reply in a known thread", heads(extra=f"In-Reply-To: {INTRO_ID}\r\n"), WHOLE, "known_thread"),
    (
        "known thread deep in References",
        heads(extra=f"References: <a@x> {INTRO_ID} <b@x>\r\n"),
        WHOLE,
        "known_thread",
    ),
    (
        "reply in an unknown thread",
        heads(subject="Re: numbers", extra="In-Reply-To: <other@x>\r\n"),
        HEADERS,
        "one_to_owner",
    ),
    ("mail from a contact", heads(sender=f"Carol <{CONTACT}>"), WHOLE, "from_contact"),
    (
        "refmail's +tag address in Cc",
        heads(cc="olivia+refmail+won@example.com"),
        WHOLE,
        "to_refmail",
    ),
    (
        "refmail only in Delivered-To",
        heads(to="team@example.com", extra=f"Delivered-To: {REFMAIL}\r\n"),
        WHOLE,
        "to_refmail",
    ),
    (
        "a referral: partner to the owner, client in Cc",
        heads(sender="pat@partner.example", cc="carl@new.example"),
        WHOLE,
        "several_people",
    ),
    (
        "owner in Cc of mail between two others",
        heads(sender="a@x.example", to="b@y.example", cc=OWNER),
        WHOLE,
        "several_people",
    ),
    (
        "refmail's address does not count as a person",
        heads(cc=REFMAIL, subject="hello"),
        WHOLE,
        "to_refmail",
    ),
    ("not involved", heads(to="team@example.com"), SKIP, "not_involved"),
    (
        "newsletter to the owner",
        heads(extra="List-Id: <news.shop.example>\r\nList-Unsubscribe: <https://x>\r\n"),
        SKIP,
        "mailing_list",
    ),
    (
        "auto-reply from a contact is still a robot",
        heads(sender=CONTACT, extra="Auto-Submitted: auto-replied\r\n"),
        SKIP,
        "auto_submitted",
    ),
    (
        "refmail's own mail",
        heads(sender=OWNER, to="bob@b.example", extra="X-Refmail-ID: 12\r\n"),
        SKIP,
        "own_mail",
    ),
    (
        "a bounce to the owner",
        heads(sender="MAILER-DAEMON@mx.example", subject="Undelivered Mail Returned to Sender"),
        WHOLE,
        "bounce",
    ),
]


@pytest.mark.parametrize(("name", "raw", "fate", "rule"), CASES, ids=[c[0] for c in CASES])
def test_sift(name: str, raw: bytes, fate: str, rule: str) -> None:
    decision = sift(parse_heads(raw), KNOWN)
    assert (decision.fate, decision.rule) == (fate, rule), decision.reason


def test_what_the_batch_learns_changes_the_decision() -> None:
    """A stranger's mail is kept to its headers until its sender becomes a contact (an
    introduction earlier in the same batch) or its thread becomes known."""
    raw = heads(sender="dana@d.example", extra="In-Reply-To: <new-intro@x>\r\n")
    assert sift(parse_heads(raw), Known(ME)).fate == HEADERS
    assert sift(parse_heads(raw), Known(ME, contacts=frozenset({"dana@d.example"}))).fate == WHOLE
    assert sift(parse_heads(raw), Known(ME, threads=frozenset({"<new-intro@x>"}))).fate == WHOLE


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (REFMAIL, True),
        ("OLIVIA+REFMAIL@EXAMPLE.COM", True),
        ("olivia+refmail+ask@example.com", True),
        (OWNER, False),
        ("olivia+refmailer@example.com", False),
        ("olivia+refmail@example.org", False),
    ],
)
def test_refmail_address(address: str, expected: bool) -> None:
    assert is_refmail_address(address, frozenset({REFMAIL})) is expected
