"""Header triage: from a message's headers alone, whether sync must read all of it.

Most of a mailbox is ordinary mail: reading and parsing every body is what made a first sync
slow. The headers say enough to set most of it aside:

- WHOLE: fetch and parse the message, classify it, record what it says. Mail from the owner,
  mail naming refmail's address (any +tag) in any address or delivery header, mail where two
  or more people besides the owner are among From/To/Cc (the shape of a referral to the owner),
  a forward, a reply in a thread refmail knows (an introduction or one of its follow-ups), mail
  from a contact refmail knows (a party who may be replying, asking to stop, or talking
  business), a bounce, and headers that cannot be read (the full parse records what it can).
- HEADERS: human mail involving the owner that nothing above makes relevant: a stranger
  writing to the owner alone. Its body is not read; sync looks at it again once the batch's
  other messages are recorded, because an introduction earlier in the same batch can make its
  sender a contact or its thread known.
- SKIP: mail refmail never acts on: neither refmail nor the owner is involved, robots (lists,
  newsletters, auto-replies; bounces excepted), and refmail's own mail.

Pure: no I/O. The caller looks up the known threads and contacts, once per batch.
"""

from __future__ import annotations

import re
from typing import Literal

from refmail.classes import dataclass
from refmail.detect import Identity, looks_like_bounce, triage
from refmail.parse import Address, Heads

Fate = Literal["whole", "headers", "skip"]
WHOLE: Fate = "whole"
HEADERS: Fate = "headers"
SKIP: Fate = "skip"

# A forward by its subject (the body is not read here): "Fwd:", "Fw:", and the usual
# translations, possibly after "Re:" prefixes or inside brackets ("[Fwd: …]").
_FORWARD_SUBJECT = re.compile(
    # One run of blanks at a time (two `\s*` side by side would be quadratic on blanks).
    r"^\s*(?:\[\s*)?(?:(?:re|aw|sv|antw)\s*:\s*)*(?:fwd?|fw|tr|wg|rv|enc|doorst)\s*:",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Known:
    """What the database knows that makes a message relevant, looked up once per batch.

    `threads`: Message-IDs of recorded introductions and of refmail's follow-ups;
    `contacts`: addresses of the contacts refmail keeps (parties, introducers, people the owner
    set preferences for).
    """

    identity: Identity
    threads: frozenset[str] = frozenset()
    contacts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Sift:
    """The decision on one message, and the rule that made it."""

    fate: Fate
    rule: str
    reason: str


def sift(heads: Heads, known: Known) -> Sift:
    """Decide from the headers how much of a message sync reads.

    >>> from refmail.parse import parse_heads
    >>> me = Identity(frozenset({"me@example.com"}), frozenset({"me+refmail@example.com"}))
    >>> stranger = parse_heads(b"From: x@example.org\\r\\nTo: me@example.com\\r\\n\\r\\n")
    >>> sift(stranger, Known(me)).fate
    'headers'
    >>> own = parse_heads(b"From: me@example.com\\r\\nTo: x@example.org\\r\\n\\r\\n")
    >>> sift(own, Known(me)).rule
    'from_owner'
    """
    skipped = triage(heads.envelope, known.identity)
    # Mail naming refmail is read even where triage finds neither refmail nor the owner among
    # sender and recipients (a +tag only in Delivered-To, refmail only in Reply-To); refmail's
    # own mail and robots' stay out, as everywhere.
    if (skipped is None or skipped.rule == "not_involved") and _names_refmail(
        heads, known.identity.refmail
    ):
        return Sift(WHOLE, "to_refmail", "refmail's address is in the headers")
    if skipped is not None:
        return Sift(SKIP, skipped.rule, skipped.reason)
    return _whole_or_headers(heads, known)


def _whole_or_headers(heads: Heads, known: Known) -> Sift:
    env, identity = heads.envelope, known.identity
    sender = env.sender
    if looks_like_bounce(env):
        return Sift(WHOLE, "bounce", "a delivery failure report")
    if identity.is_owner(sender):
        return Sift(WHOLE, "from_owner", "written by the owner")
    answered = next((r for r in heads.refs if r in known.threads), None)
    if answered is not None:
        return Sift(WHOLE, "known_thread", f"replies to {answered}, which refmail recorded")
    if sender is not None and sender.email in known.contacts:
        return Sift(WHOLE, "from_contact", f"from {sender.email}, a contact refmail keeps")
    if _FORWARD_SUBJECT.match(env.subject):
        return Sift(WHOLE, "forward", f"subject {env.subject[:60]!r} forwards mail")
    people = _people(env.sender, env.to, env.cc, identity)
    if len(people) >= 2:
        return Sift(WHOLE, "several_people", f"{len(people)} people besides the owner")
    return Sift(HEADERS, "one_to_owner", "one person writing to the owner, nothing refmail knows")


def _people(
    sender: Address | None, to: tuple[Address, ...], cc: tuple[Address, ...], identity: Identity
) -> set[str]:
    found = {a.email for a in (*([sender] if sender else []), *to, *cc)}
    return {a for a in found if not identity.is_self(a)}


def _names_refmail(heads: Heads, refmail: frozenset[str]) -> bool:
    env = heads.envelope
    named = [
        *env.delivered_to,
        *(a.email for a in (*([env.sender] if env.sender else []), *env.to, *env.cc)),
        *(a.email for a in env.reply_to),
    ]
    return any(is_refmail_address(a, refmail) for a in named)


def is_refmail_address(address: str, refmail: frozenset[str]) -> bool:
    """refmail's address itself or any +tag of it (me+refmail+won@x is me+refmail@x).

    >>> is_refmail_address("me+refmail+won@example.com", frozenset({"me+refmail@example.com"}))
    True
    >>> is_refmail_address("me@example.com", frozenset({"me+refmail@example.com"}))
    False
    """
    address = address.lower()
    if address in refmail:
        return True
    local, _, domain = address.rpartition("@")
    for own in refmail:
        own_local, _, own_domain = own.lower().rpartition("@")
        if domain == own_domain and local.startswith(own_local + "+"):
            return True
    return False
