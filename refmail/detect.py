"""Classifies a parsed message: introduction, reply in a known thread, robot mail, own mail, other.

A table of named rules in the spirit of Mailman's chains: own mail, robots, replies in a known
thread, then introductions. An introduction is decided by evidence, not by a list of phrases:
`detect_features` reads the features of the message (the shape of who is addressed, named,
greeted, described, copied or forwarded; cues and look-alike phrases from per-language tables),
each with a named weight (`detect_weights`), and the sum against a threshold decides.
`Classification.explain()` lists every feature, its weight and what showed it. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from typing import Literal

from refmail.detect_features import Evidence, context_sentence, read
from refmail.detect_names import says_nothing
from refmail.detect_parties import MAX_PARTIES, ROBOT_LOCAL, base_email
from refmail.detect_weights import THRESHOLD
from refmail.parse import Address, Envelope, ParsedMessage

__all__ = ["MAX_PARTIES", "Classification", "Identity", "Party", "RuleHit", "classify"]
__all__ += ["context_sentence", "looks_like_bounce", "robot_hit", "triage"]

Kind = Literal["introduction", "reply", "automatic", "own", "other", "command"]
Shape = Literal["owner_intro", "referral_to_owner", "forward", "loop_in"]


@dataclass(frozen=True)
class Identity:
    """Whose mailbox this is: the owner's addresses and refmail's own (plus-)addresses.

    Any +tag of either counts as the same mailbox (refmail+intro@x is refmail@x).
    """

    owners: frozenset[str]
    refmail: frozenset[str] = frozenset()

    def is_owner(self, addr: Address | str | None) -> bool:
        if addr is None:
            return False
        email = _email(addr)
        return (
            email in self.owners
            or base_email(email) in _bases(self.owners)
            or _same_mailbox_other_host(email, self.owners)
        )

    def is_self(self, addr: Address | str | None) -> bool:
        if addr is None:
            return False
        email = _email(addr)
        if email in self.owners or email in self.refmail:
            return True
        base = base_email(email)
        return (
            base in _bases(self.owners)
            or base in _bases(self.refmail)
            or _same_mailbox_other_host(email, self.owners)
        )


# (asked of each recipient several times a message; 512 holds a message's and the recent ones:
# 4096 held ≈ 4 MB more across a first sync's processes, for no speed)
@functools.lru_cache(maxsize=512)
def _same_mailbox_other_host(email: str, owners: frozenset[str]) -> bool:
    """The owner's mailbox on a host of the owner's own domain: deng@isye.gatech.edu and
    deng@mail.isye.gatech.edu are one person (a university's or company's mail hosts).

    >>> _same_mailbox_other_host("deng@isye.isye.gatech.edu", frozenset({"deng@isye.gatech.edu"}))
    True
    >>> _same_mailbox_other_host("deng@gatech.edu.example", frozenset({"deng@gatech.edu"}))
    False
    """
    local, _, domain = base_email(email).partition("@")
    for owner in owners:
        o_local, _, o_domain = base_email(owner).partition("@")
        if (
            local == o_local
            and (domain.endswith("." + o_domain) or o_domain.endswith("." + domain))
            and domain.count(".") >= 1
            and o_domain.count(".") >= 1
        ):
            return True
    return False


@functools.lru_cache(maxsize=64)
def _bases(addresses: frozenset[str]) -> frozenset[str]:
    return frozenset(base_email(a) for a in addresses)


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired, and why, in words a user understands."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Party:
    """Someone an introduction connects; `reached` when the introduction was addressed to them.

    `about` holds the sentence(s) of the introduction that describe this party ("" if none).
    """

    address: Address
    reached: bool
    about: str = ""


@dataclass(frozen=True)
class Classification:
    """The verdict on one message, with every rule hit and weighed feature that led to it."""

    kind: Kind
    rule: str
    reason: str
    hits: tuple[RuleHit, ...] = ()
    shape: Shape | None = None
    introducer: Address | None = None
    parties: tuple[Party, ...] = ()
    context: str = ""
    thread_ref: str | None = field(default=None)  # the known message a reply belongs to
    about_owner: str = ""  # what a referrer said about the owner (referral_to_owner)
    evidence: tuple[Evidence, ...] = ()  # the weighed features (introduction candidates only)
    total: float = 0.0
    threshold: float = THRESHOLD
    language: str = ""

    def explain(self) -> list[str]:
        """Why: one line per weighed feature, then the total against the threshold.

        >>> Classification("own", "own_mail", "written by refmail").explain()
        ['own_mail: written by refmail']
        """
        if not self.evidence:
            return [f"{self.rule}: {self.reason}"]
        lines = [f"{e.weight:+6.2f}  {e.feature}: {e.evidence}" for e in self.evidence]
        verdict = "introduction" if self.total >= self.threshold else "not an introduction"
        lines.append(f"{self.total:+6.2f}  total (threshold {self.threshold:g}): {verdict}")
        return lines


def _email(addr: Address | str) -> str:
    return addr.email if isinstance(addr, Address) else addr.lower()


# --- triage: headers only ------------------------------------------------------------------


def triage(env: Envelope, identity: Identity) -> RuleHit | None:
    """Cheap header check: None when the message deserves a full parse, else why it does not.

    >>> ident = Identity(frozenset({"me@example.com"}), frozenset({"me+refmail@example.com"}))
    >>> env = Envelope(None, Address("x@example.org"), (Address("y@example.org"),), (), (), (),
    ...                "", {}, "text/plain")
    >>> triage(env, ident).rule
    'not_involved'
    """
    involved = (
        any(d in identity.refmail for d in env.delivered_to)
        or any(identity.is_self(a) for a in env.recipients)
        or identity.is_self(env.sender)
    )
    if not involved:
        return RuleHit(
            "not_involved", "neither refmail nor the owner is among sender and recipients"
        )
    if "x-refmail-id" in env.robot_headers:
        return RuleHit("own_mail", "written by refmail (X-Refmail-ID)")
    robot = _robot_unless_owner_list_copy(env, identity)
    if robot is not None and not looks_like_bounce(env):
        return robot  # lists, newsletters, auto-replies: never recorded, never answered
    return None


_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-?daemon)\b", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification)|returned mail|failure notice|"
    r"mail delivery (failed|failure|subsystem)|non-?delivery|could not be delivered",
    re.IGNORECASE,
)


def looks_like_bounce(env: Envelope) -> bool:
    """A delivery failure report, from its headers: worth a full read (bounces are honoured)."""
    if env.content_type == "multipart/report" or "x-failed-recipients" in env.robot_headers:
        return True
    local = env.sender.email.split("@")[0] if env.sender else ""
    return bool(_BOUNCE_SENDER.match(local)) or bool(_BOUNCE_SUBJECT.search(env.subject))


# --- robots --------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|"
    r"absence|undeliverable|undelivered mail|delivery status notification|"
    r"mail delivery (failed|failure|subsystem)|returned mail|failure notice|"
    r"delivery (failure|has failed)|i am (currently )?out of)",
    re.IGNORECASE,
)


def robot_hit(env: Envelope) -> RuleHit | None:
    """Why a message is automatic (RFC 3834 and the usual signs), or None if a person wrote it."""
    h = env.robot_headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return RuleHit("auto_submitted", f"Auto-Submitted: {auto}")
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return RuleHit("precedence", f"Precedence: {precedence}")
    if "list-id" in h or "list-unsubscribe" in h:
        return RuleHit("mailing_list", "has List-Id/List-Unsubscribe")
    if env.content_type == "multipart/report":
        return RuleHit("report", "multipart/report (a delivery or read report)")
    if any(k in h for k in ("x-autoreply", "x-autorespond", "x-failed-recipients")):
        return RuleHit("autoreply_header", "X-Autoreply/X-Failed-Recipients header")
    suppress = h.get("x-auto-response-suppress", "").lower()
    if suppress in ("all", "oof") and _AUTO_SUBJECT.search(env.subject):
        return RuleHit("exchange_oof", "Exchange automatic reply")
    if "return-path" in h and h["return-path"].strip() in ("<>", ""):
        return RuleHit("null_return_path", "empty Return-Path (a bounce or notification)")
    if env.sender is not None and ROBOT_LOCAL.match(env.sender.email.split("@")[0]):
        return RuleHit("robot_sender", f"sent from {env.sender.email}")
    if _AUTO_SUBJECT.search(env.subject):
        return RuleHit("auto_subject", f"subject {env.subject[:60]!r} is an automatic reply")
    return None


# --- the rules -----------------------------------------------------------------------------


def classify(
    msg: ParsedMessage,
    identity: Identity,
    known_ids: Container[str] = frozenset(),
) -> Classification:
    """Classify one message. `known_ids` are Message-IDs of introductions refmail recorded."""
    env = msg.envelope
    hits: list[RuleHit] = []
    for rule in RULES:
        verdict = rule(msg, identity, known_ids, hits)
        if verdict is not None:
            return verdict
    return Classification(
        "other", "no_rule", "no introduction cue", tuple(hits), introducer=env.sender
    )


Rule = Callable[[ParsedMessage, Identity, Container[str], list[RuleHit]], Classification | None]


def _own(
    msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]
) -> Classification | None:
    if "x-refmail-id" in msg.envelope.robot_headers:
        hit = RuleHit("own_mail", "written by refmail (X-Refmail-ID)")
        return Classification("own", hit.rule, hit.reason, (hit,))
    return None


def _robot(
    msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]
) -> Classification | None:
    hit = _robot_unless_owner_list_copy(msg.envelope, identity)
    if hit is None:
        return None
    return Classification("automatic", hit.rule, hit.reason, (*hits, hit))


def _robot_unless_owner_list_copy(env: Envelope, identity: Identity) -> RuleHit | None:
    """robot_hit, except that a list's copy of the owner's own post is the owner's mail.

    The owner who loops someone in on a mailing list BCCs refmail, or refmail reads the copy
    the list delivers back: List-Id and Precedence then say "list", not "robot".
    """
    hit = robot_hit(env)
    if (
        hit is not None
        and hit.rule in ("mailing_list", "precedence")
        and identity.is_owner(env.sender)
    ):
        h = env.robot_headers
        # (Mailman 2 lists such as dm-devel mark their copies "Precedence: junk")
        kinds = ("list", "bulk", "junk") if "list-id" in h else ("list", "bulk")
        if h.get("precedence", "list").strip().lower() in kinds and not any(
            k in h for k in ("auto-submitted", "x-autoreply", "x-autorespond")
        ):
            return None
    return hit


def _reply(
    msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]
) -> Classification | None:
    for ref in (msg.in_reply_to, *reversed(msg.references)):
        if ref and ref in known:
            hit = RuleHit("known_thread", f"replies to {ref}, a recorded introduction")
            return Classification("reply", hit.rule, hit.reason, (*hits, hit), thread_ref=ref)
    return None


def _introduction(
    msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]
) -> Classification | None:
    sender = msg.sender
    if sender is None:
        return None

    def keep(addr: Address) -> bool:
        return not identity.is_self(addr) and addr.email != sender.email

    reading = read(msg, keep, identity.is_owner)
    hits.extend(RuleHit(e.feature, f"{e.weight:+g} {e.evidence}") for e in reading.evidence)
    scored = dict(
        evidence=reading.evidence,
        total=reading.total,
        threshold=THRESHOLD,
        language=reading.language,
        introducer=_as_named(reading.introducer or sender, {}),
    )
    if not reading.is_introduction:
        # The verdict names the look-alike it resembles most, else the strongest structural
        # objection, else the lack of evidence.
        negatives = [e for e in reading.evidence if e.weight < 0]
        worst = min(
            negatives, key=lambda e: (not e.feature.startswith("neg_"), e.weight), default=None
        )
        if worst is not None:
            rule, reason = worst.feature.removeprefix("neg_"), worst.evidence
        else:
            rule, reason = "below_threshold", "not enough evidence of an introduction"
        reason = f"{reason} (score {reading.total:g} < {THRESHOLD:g})"
        return Classification("other", rule, reason, tuple(hits), **scored)  # type: ignore[arg-type]
    shape: Shape = reading.shape  # type: ignore[assignment]
    parties = tuple(
        Party(_as_named(addr, reading.names), reached, reading.about.get(addr.email, ""))
        for addr, reached in reading.parties
    )
    hit = RuleHit(f"intro_{shape}", _explain(shape, reading.total, parties))
    return Classification(
        "introduction",
        hit.rule,
        hit.reason,
        (*hits, hit),
        shape=shape,
        parties=parties,
        context=reading.context,
        about_owner=reading.about_owner,
        **scored,  # type: ignore[arg-type]
    )


def _as_named(addr: Address, names: dict[str, str] | None) -> Address:
    """The address with the name the author gave it when its display name says nothing
    ("sbwhoeop" → "Sid"), else with no name at all: a local part or "you" is never a name."""
    if not says_nothing(addr):
        return addr
    return Address(addr.email, (names or {}).get(addr.email, ""))


def _explain(shape: Shape, total: float, parties: Iterable[Party]) -> str:
    names = ", ".join(str(p.address) for p in parties)
    what = {
        "owner_intro": "introduces",
        "referral_to_owner": "introduces the owner to",
        "forward": "forwards one party's mail to introduce",
        "loop_in": "copies in and connects",
    }[shape]
    return f"{what} {names} (score {total:g} >= {THRESHOLD:g})"


RULES: tuple[Rule, ...] = (_own, _robot, _reply, _introduction)
