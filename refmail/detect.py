"""Classifies a parsed message: introduction, reply in a known thread, robot mail, own mail, other.

A table of named rules in the spirit of Mailman's chains: each rule that fires is recorded with
its reason, and the first deciding rule names the verdict. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Literal

from refmail.parse import Address, Envelope, ParsedMessage

Kind = Literal["introduction", "reply", "automatic", "own", "other"]
Shape = Literal["owner_intro", "referral_to_owner", "forward", "loop_in"]


@dataclass(frozen=True)
class Identity:
    """Whose mailbox this is: the owner's addresses and refmail's own (plus-)addresses."""

    owners: frozenset[str]
    refmail: frozenset[str] = frozenset()

    def is_owner(self, addr: Address | str | None) -> bool:
        return addr is not None and _email(addr) in self.owners

    def is_self(self, addr: Address | str | None) -> bool:
        return addr is not None and (_email(addr) in self.owners or _email(addr) in self.refmail)


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired, and why, in words a user understands."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Party:
    """Someone an introduction connects; `reached` when the introduction was addressed to them."""

    address: Address
    reached: bool


@dataclass(frozen=True)
class Classification:
    """The verdict on one message, with every rule hit that led to it."""

    kind: Kind
    rule: str
    reason: str
    hits: tuple[RuleHit, ...] = ()
    shape: Shape | None = None
    introducer: Address | None = None
    parties: tuple[Party, ...] = ()
    context: str = ""
    thread_ref: str | None = field(default=None)  # the known message a reply belongs to


def _email(addr: Address | str) -> str:
    return addr.email if isinstance(addr, Address) else addr.lower()


# --- triage: headers only ------------------------------------------------------------------


def triage(env: Envelope, identity: Identity) -> RuleHit | None:
    """Cheap header check: None when the message deserves a full parse, else why it does not.

    >>> ident = Identity(frozenset({"me@example.com"}), frozenset({"me+refmail@example.com"}))
    >>> env = Envelope(None, Address("x@example.org"), (Address("y@example.org"),), (), (), (), "", {}, "text/plain")
    >>> triage(env, ident).rule
    'not_involved'
    """
    involved = (
        any(d in identity.refmail for d in env.delivered_to)
        or any(identity.is_self(a) for a in env.recipients)
        or identity.is_self(env.sender)
    )
    if not involved:
        return RuleHit("not_involved", "neither refmail nor the owner is among sender and recipients")
    return None


# --- robots --------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|"
    r"absence|undeliverable|undelivered mail|delivery status notification|"
    r"mail delivery (failed|failure|subsystem)|returned mail|failure notice|"
    r"delivery (failure|has failed)|i am (currently )?out of)",
    re.IGNORECASE,
)
_ROBOT_LOCAL = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|notifications?|"
    r"listserv|majordomo|newsletter|news|marketing|info|updates?|alerts?|donotreply)([+._-].*)?$",
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
    if h.get("x-auto-response-suppress", "").lower() in ("all", "oof") and _AUTO_SUBJECT.search(env.subject):
        return RuleHit("exchange_oof", "Exchange automatic reply")
    return_path = h.get("return-path", "").strip()
    if return_path in ("<>", ""):
        if "return-path" in h:
            return RuleHit("null_return_path", "empty Return-Path (a bounce or notification)")
    if env.sender is not None and _ROBOT_LOCAL.match(env.sender.email.split("@")[0]):
        return RuleHit("robot_sender", f"sent from {env.sender.email}")
    if _AUTO_SUBJECT.search(env.subject):
        return RuleHit("auto_subject", f"subject {env.subject[:60]!r} is an automatic reply")
    return None


# --- introductions -------------------------------------------------------------------------

_INTRO_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("introduce", r"\b(let me |like to |want(ed)? to |happy to |glad to |pleased to |"
         r"i'?d like to |allow me to |i'?m )?(e-?)?introduc(e|ing)\s+(you|the two|two|both|him|her|"
         r"them|my|our|a |\w+ (to|and))"),
        ("meet", r"(^|[.!,;:]\s*|\b(hi|hey|hello|dear)\s+\w+[,!]?\s*)(please )?meet\s+[A-Z]"),
        ("meet_lower", r"\b(you (two|both|guys) should (meet|talk|chat|connect|get together))"),
        ("connect", r"\b(connect(ing)? (you|the two of you|you two|you both)|put(ting)? you (two |both )?in touch|"
         r"pleased to connect|wanted to connect)\b"),
        ("loop_in", r"\b(loop(ing)? in|cc'?(ing|'d|ed)|copying|copied (him|her|them|you)|i'?ve (cc|copied)|"
         r"(am|i'?m) adding|adding \w+ (here|to this))\b"),
        ("will_contact", r"\b(will|may|should) (be )?(giving you a call|reach(ing)? out|contact(ing)? you|"
         r"be in touch|call(ing)? you|get in touch|follow up with you)\b"),
        ("gave_name", r"\b(gave|given|passed) (him|her|them) your (name|number|email|details|contact)|"
         r"recommended you|referr(ed|ing) (him|her|them|you)\b"),
        ("should_talk", r"\b(should|could|might want to) (talk|chat|connect|speak|meet)\b"),
        ("open_to_intro", r"\b(open to|ok with|okay with|up for) (an? )?(intro|introduction|connecting|chat)\b"),
        ("resume_friend", r"\bresume of (my|a) (friend|colleague)\b"),
    )
)
_SUBJECT_CUE = re.compile(r"(\bintro(duction)?\b|<\s*=?\s*>|\bmeet\b|\bconnecting\b)", re.IGNORECASE)
_NEGATIVE_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("asks_for_intro", r"\b(could|can|would) you (please )?(introduce|intro|connect) me\b|"
         r"\b(introduce|intro|connect) me to\b|\bwould you be willing to introduce\b"),
        ("thanks_for_intro", r"\bthanks? (you )?(so much )?for (the|your|making the) (kind )?"
         r"(intro|introduction|connection)\b|\bthanks for introducing\b"),
        ("self_intro", r"\b(let me|allow me to|i'?d like to|wanted to) introduce myself\b|"
         r"\bmy name is\b"),
        ("nice_to_meet", r"^\s*(\w+,?\s*)?(great|nice|pleasure|good|lovely) to (e-?)?meet you"),
    )
)


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
    return Classification("other", "no_rule", "no introduction cue", tuple(hits), introducer=env.sender)


Rule = Callable[[ParsedMessage, Identity, Container[str], list[RuleHit]], Classification | None]


def _own(msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]) -> Classification | None:
    if "x-refmail-id" in msg.envelope.robot_headers:
        hit = RuleHit("own_mail", "written by refmail (X-Refmail-ID)")
        return Classification("own", hit.rule, hit.reason, (hit,))
    return None


def _robot(msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]) -> Classification | None:
    hit = robot_hit(msg.envelope)
    if hit is None:
        return None
    return Classification("automatic", hit.rule, hit.reason, (*hits, hit))


def _reply(msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]) -> Classification | None:
    for ref in (msg.in_reply_to, *reversed(msg.references)):
        if ref and ref in known:
            hit = RuleHit("known_thread", f"replies to {ref}, a recorded introduction")
            return Classification("reply", hit.rule, hit.reason, (*hits, hit), thread_ref=ref)
    return None


def _introduction(msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]) -> Classification | None:
    text = msg.own_text
    for name, pattern in _NEGATIVE_CUES:
        if pattern.search(text):
            hits.append(RuleHit(name, f"own text matches {name.replace('_', ' ')}"))
            return None
    cues = [name for name, pattern in _INTRO_CUES if pattern.search(text)]
    if _SUBJECT_CUE.search(msg.subject) and not msg.subject.lower().startswith("re:"):
        cues.append("subject")
    if not cues:
        return None
    sender = msg.sender
    if sender is None:
        return None
    parties = _parties(msg, identity)
    if not parties:
        hits.append(RuleHit("no_parties", f"cues {', '.join(cues)} but nobody to connect"))
        return None
    shape = _shape(msg, identity, cues)
    if shape in ("owner_intro", "loop_in") and len([p for p in parties if p.reached]) < 2 and "subject" not in cues and len(cues) < 2:
        hits.append(RuleHit("weak_cue", f"only {cues[0]} with a single recipient"))
        return None
    hit = RuleHit(f"intro_{shape}", f"cues: {', '.join(cues)}")
    return Classification(
        "introduction", hit.rule, hit.reason, (*hits, hit), shape=shape, introducer=sender,
        parties=tuple(parties), context=context_sentence(text),
    )


def _shape(msg: ParsedMessage, identity: Identity, cues: list[str]) -> Shape:
    if not identity.is_owner(msg.sender) and any(identity.is_owner(a) for a in msg.envelope.recipients):
        return "referral_to_owner"
    if msg.has_forward and any(q.sender and not identity.is_self(q.sender) for q in msg.quoted):
        return "forward"
    if "loop_in" in cues:
        return "loop_in"
    return "owner_intro"


def _parties(msg: ParsedMessage, identity: Identity) -> list[Party]:
    """Recipients other than the introducer and the owner, then people in forwarded headers."""
    sender = msg.sender.email if msg.sender else ""
    seen = {sender} | set(identity.owners) | set(identity.refmail)
    out: list[Party] = []
    for addr in msg.envelope.recipients:
        if addr.email not in seen:
            seen.add(addr.email)
            out.append(Party(addr, True))
    if msg.has_forward:
        for quoted in msg.quoted[:1]:
            if quoted.sender and quoted.sender.email not in seen:
                seen.add(quoted.sender.email)
                out.append(Party(quoted.sender, False))
    return out


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_GREETING = re.compile(r"^\s*(hi|hey|hello|dear|greetings)\b[^\n]*$", re.IGNORECASE | re.MULTILINE)


def context_sentence(text: str) -> str:
    """The one sentence that best says why these people should talk (for the follow-ups).

    >>> context_sentence("Hi Bob,\\n\\nMeet Alice, who builds boats. You should talk.\\n\\nBest, Joe")
    'Meet Alice, who builds boats.'
    """
    body = _GREETING.sub("", text).strip()
    sentences = [s.strip() for s in _SENTENCE.split(" ".join(body.split())) if s.strip()]
    for sentence in sentences:
        if any(p.search(sentence) for _, p in _INTRO_CUES):
            return sentence[:300]
    return sentences[0][:300] if sentences else ""


RULES: tuple[Rule, ...] = (_own, _robot, _reply, _introduction)
