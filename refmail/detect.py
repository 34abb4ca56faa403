"""Classifies a parsed message: introduction, reply in a known thread, robot mail, own mail, other.

A table of named rules in the spirit of Mailman's chains: each rule that fires is recorded with
its reason, and the first deciding rule names the verdict. Pure: no I/O, no clock.

Introductions are recognised from two kinds of evidence, both recorded as hits:
- cues in the author's own words (never the quoted history): the act of introducing ("meet
  Ben", "I'd like to introduce you to…", "you two should talk"), a hand-off ("Julia will be in
  touch", "I gave her your name"), or a loop-in ("I'm copying Jake, who…");
- the structure of the message: who is addressed, who is only copied, who appears in the
  forwarded headers, and whether the copied person was already on the thread.
Principled negatives (asking for an intro, thanking for one, introducing oneself, replying "nice
to meet you", out-of-office notes, bulk mail) veto the verdict and say so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from typing import Literal

from refmail.parse import Address, Envelope, ParsedMessage

Kind = Literal["introduction", "reply", "automatic", "own", "other", "command"]
Shape = Literal["owner_intro", "referral_to_owner", "forward", "loop_in"]
Strength = Literal["strong", "medium", "loop"]

# An introduction that "connects" more people than this is an announcement, not an intro.
MAX_PARTIES = 8


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
    robot = robot_hit(env)
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
    suppress = h.get("x-auto-response-suppress", "").lower()
    if suppress in ("all", "oof") and _AUTO_SUBJECT.search(env.subject):
        return RuleHit("exchange_oof", "Exchange automatic reply")
    if "return-path" in h and h["return-path"].strip() in ("<>", ""):
        return RuleHit("null_return_path", "empty Return-Path (a bounce or notification)")
    if env.sender is not None and _ROBOT_LOCAL.match(env.sender.email.split("@")[0]):
        return RuleHit("robot_sender", f"sent from {env.sender.email}")
    if _AUTO_SUBJECT.search(env.subject):
        return RuleHit("auto_subject", f"subject {env.subject[:60]!r} is an automatic reply")
    return None


# --- cues: what the author's own words say -------------------------------------------------


@dataclass(frozen=True)
class _Cue:
    """A phrase that people use when they introduce someone, with how much it proves alone."""

    name: str
    strength: Strength
    pattern: re.Pattern[str]
    words: str  # what the cue means, for the rule hit a user reads


def _cue(name: str, strength: Strength, words: str, pattern: str) -> _Cue:
    return _Cue(name, strength, re.compile(pattern, re.MULTILINE), words)


# A person named in running text: one or two capitalised words ("Kirk Ellis", "Jen").
_NAME = r"[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?"
_YOU_BOTH = r"(?:you\s+(?:two|both|guys|all)|the\s+two\s+of\s+you|both\s+of\s+you|y'all)"
# "meet Tuesday", "meet this week": a time, not a person.
_NOT_WHEN = (
    r"(?!(?i:(?:this|next|on|at|in|for|up|me|us|them)\s|(?:this|next)\s+\w+day|today|tomorrow|"
    r"tonight|(?:mon|tues|wednes|thurs|fri|satur|sun)day|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|"
    r"nov|dec|noon|lunch|breakfast|dinner|coffee)\b)"
)
# Words that let a single hand-off sentence name its subject ("Julia will be in touch").
_WHO = r"(?P<who>[\w'.]+)"

_CUES: tuple[_Cue, ...] = (
    # The act of introducing, in the words people use for it.
    _cue(
        "introduce",
        "strong",
        "introduces someone",
        r"(?<!will )(?<!would )(?<!could )(?<!can )\b(?i:introduc(?:e|ing)|e-?intro(?:ing)?)\s+"
        rf"(?:(?i:you\b(?!r)|{_YOU_BOTH}|two\b)|{_NAME}\s*(?:\([^)\n]{{0,20}}\)\s*)?"
        r"(?:to|and|,)\s)",
    ),
    _cue(
        "meet",
        "strong",
        "asks people to meet",
        r"(?:^|[.!?:;,]\s+|(?i:\b(?:hi|hey|hello|dear)\b)\s+[A-Z][\w'-]*[,!]?\s+)"
        rf"(?i:please\s+)?(?i:meet)\s+{_NOT_WHEN}(?:{_NAME}|(?i:this|my|our)\b)"
        r"|(?i:\b(?:like|want|wanted|love|need)\s+you\s+(?:two\s+|both\s+)?to\s+meet)\s+\w"
        rf"|(?i:\byou\s+(?:should|must|ought\s+to)\s+(?:really\s+|definitely\s+)?meet)\s+{_NAME}",
    ),
    _cue(
        "connect",
        "strong",
        "connects or puts people in touch",
        r"(?i:\b(?:connect(?:ing)?|put(?:ting)?)\s+(?:you|"
        + _YOU_BOTH
        + r")(?:\s+(?:two|both))?\s*(?:with\b|to\b|in\s+touch\b|together\b|[.,!;]|$))",
    ),
    _cue(
        "should_talk",
        "strong",
        "says the two of them should talk",
        rf"(?i:\b{_YOU_BOTH}\s+(?:should|must|ought\s+to|would|will|might|could|can)\s+"
        r"(?:definitely\s+|really\s+|probably\s+|also\s+)?(?:talk|chat|connect|meet|speak|"
        r"get\s+to\s+know|get\s+together|find\b|have\s+a\s+lot|discuss|take\s+it))"
        rf"|(?i:\bso\s+(?:that\s+)?{_YOU_BOTH}\s+can\s+(?:talk|chat|connect|meet|speak|discuss))",
    ),
    _cue(
        "opt_in_ask",
        "strong",
        "asks whether an introduction is welcome",
        r"(?i:\b(?:would\s+you\s+(?:mind|be\s+(?:open|interested|up\s+for|willing))|"
        r"are\s+you\s+(?:open|interested|up\s+for)|(?:ok|okay|mind)\s+if\s+i)\b[^.?!\n]{0,80}?"
        rf"(?:\b(?i:intro|introduc|connect)|\b(?i:meet(?:ing)?)\s+{_NOT_WHEN}[A-Z]))",
    ),
    # Hand-offs and referrals: strong together, or with a forward or a copied person.
    _cue(
        "hand_off",
        "medium",
        "says someone will get in touch",
        rf"\b{_WHO}\s+(?i:will|may|might|should|is\s+going\s+to|would\s+like\s+to)\s+"
        r"(?i:(?:likely|probably|soon|also|want\s+to)\s+)?(?i:be\s+)?"
        r"(?i:in\s+touch|reach(?:ing)?\s+out|contact(?:ing)?\s+you|call(?:ing)?\s+you|"
        r"e-?mail(?:ing)?\s+you|giving\s+you\s+a\s+(?:call|ring)|get(?:ting)?\s+in\s+touch|"
        r"speak\s+(?:to|with)\s+you|talk\s+(?:to|with)\s+you|follow(?:ing)?\s+up\s+with\s+you|"
        r"calling|e-?mailing\s+you)"
        r"|(?i:\basking\s+(?:him|her|them)\s+to\s+(?:[\w ]{0,40}?\s)?(?:contact|call|reach"
        r"\s+out\s+to|get\s+in\s+touch\s+with|follow\s+up\s+with|get\s+back\s+to|connect\s+w"
        r"(?:ith|/)?)\s+you)",
    ),
    _cue(
        "gave_name",
        "medium",
        "passed on the recipient's details or recommended them",
        r"(?i:\b(?:gave|given|passed|sent|shared)\s+(?:him|her|them|"
        + _NAME.replace("[A-Z]", "[A-Za-z]")
        + r")\s+your\s+(?:name|number|e-?mail|details|contact|info))"
        r"|(?i:\brecommended\s+you\b)|(?i:\breferr(?:ed|ing)\s+(?:him|her|them)\s+to\s+you\b)"
        r"|(?i:\btold\s+(?:him|her|them)\s+about\s+you\b)",
    ),
    _cue(
        "asked_for_intro",
        "medium",
        "relays someone's request to be introduced",
        rf"\b{_WHO}\s+(?i:asked|is\s+asking|has\s+asked|wanted|wants|requested)\s+"
        r"(?i:(?:me\s+)?(?:for\s+)?(?:an?\s+)?(?:intro|introduction)\b)",
    ),
    _cue(
        "vouches",
        "medium",
        "vouches for a friend or colleague",
        r"(?i:\b(?:resume|cv|bio|profile)\s+of\s+(?:my|our|a)\s+(?:good\s+|dear\s+|close\s+|old\s+)?"
        r"(?:friend|colleague|former\s+colleague|classmate|acquaintance|contact)\b)"
        r"|(?i:\b(?:my|our)\s+(?:good\s+|dear\s+|close\s+|old\s+)?(?:friend|colleague|"
        rf"classmate),?\s+){_NAME}",
    ),
    _cue(
        "want_to_talk",
        "medium",
        "asks whether the recipient wants to talk",
        r"(?i:\b(?:do|would)\s+you\s+(?:want|like)\s+to\s+(?:talk|chat|meet|connect|speak)\b"
        r"(?!\s+(?:about\s+it|to\s+me|with\s+me)))",
    ),
    # Loop-ins: copying someone in, named or described in the same breath.
    _cue(
        "copying",
        "loop",
        "copies someone in",
        r"(?i:\b(?:copying|cc'?ing|cc-ing|looping\s+in|i'?ve\s+(?:cc'?d|cced|copied|looped\s+in)|"
        r"i\s+have\s+(?:cc'?d|cced|copied|looped\s+in)|(?:i'?m\s+)?(?:adding|bringing\s+in)|"
        r"i'?m\s+including)"
        r")\s+(?:in\s+)?(?:(?i:him|her|them)\b|(?i:my|our)\s+[\w -]{0,40}?"
        r"(?i:colleague|partner|co-?founder|associate|friend|teammate|counterpart|boss|manager|"
        rf"head|director|lead|leaders?|team|chief|assistant|secretary)|{_NAME})"
        rf"|{_NAME}\s*\((?i:cc'?d|cc'ed|cced|cc|copied|in\s+cc|on\s+cc|bcc'?d)\)"
        r"|^\s*\+\s?[A-Z][\w'-]+",
    ),
    _cue(
        "passing_on",
        "loop",
        "passes the message on to colleagues",
        r"(?i:\b(?:forwarding|passing|sending)\s+(?:it|this|your\s+(?:note|e-?mail|message|"
        r"request|question))\s+(?:on\s+|along\s+|over\s+)?to\s+(?:my|our)\b)",
    ),
)
_PLAIN_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|sv)\s*:\s*)", re.IGNORECASE)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|tr|wg)\s*:", re.IGNORECASE)
_SUBJECT_CUES = re.compile(
    r"^\s*(?:(?:fwd?|tr|wg)\s*:\s*)*(?:"
    r"(?:intro(?:duction)?s?|e-?intro)\s*(?:[:.\-–—]|$|\s+(?:between|of)\b)"  # Intro: A <> B
    r"|.*\S\s*(?:<\s*=?\s*>|<-+>|↔)\s*\S"  # A <> B, A <=> B
    r"|[^,]{1,40},\s*meet\s+\S|meet\s+[A-Z]"  # Bob, meet Ann / Meet Ann
    r"|introducing\s+\S+(?:\s+\S+)?\s+(?:to|and)\s+\S"  # Introducing Ann to Bob
    r"|.*\bintro(?:duction)?\s*(?:[:\-–—])"  # Quick intro - …
    r")",
)


@dataclass(frozen=True)
class _Veto:
    """A reason the message is not an introduction although it may look like one."""

    name: str
    words: str
    pattern: re.Pattern[str]
    overridable: bool  # a strong introduction cue outweighs it


def _veto(name: str, words: str, pattern: str, overridable: bool = False) -> _Veto:
    return _Veto(name, words, re.compile(pattern, re.IGNORECASE | re.MULTILINE), overridable)


_VETOES: tuple[_Veto, ...] = (
    _veto(
        "asks_for_intro",
        "asks to be introduced",
        r"\b(?:introduce|intro|connect|refer|put)\s+me\b|\bmake\s+an?\s+intro(?:duction)?\s+for\s+me"
        r"|\b(?:use\s+you\s+as|give\s+me)\s+a\s+referral\b|\bdo\s+you\s+know\s+(?:any|some)(?:one|body)"
        r"|\b(?:agree(?:d|ing)?|willing)\s+to\s+(?:forward|pass)\b|\bforwardable\b"
        r"|\b(?:would|could|can)\s+you\s+(?:please\s+)?(?:introduce|intro|connect)\b"
        r"|\bi\s+would\s+(?:love|like)\s+an?\s+intro",
    ),
    _veto(
        "thanks_for_intro",
        "thanks someone for an introduction already made",
        r"\bthanks?(?:\s+you)?(?:\s+so\s+much|\s+again)?\s+for\s+(?:the|your|making\s+the|this|"
        r"arranging\s+the)\s+(?:kind\s+|warm\s+|great\s+)?(?:intro|introduction|connection|referral)"
        r"|\bthanks?\s+(?:you\s+)?for\s+(?:introducing|connecting)\s+(?:me|us)\b"
        r"|\b(?:after|since|when)\s+you\s+introduced\s+(?:me|us)\b"
        r"|\b(?:as\s+a\s+result\s+of|thanks\s+to)\s+your\s+(?:intro|introduction|referral)\b",
    ),
    _veto(
        "self_intro",
        "the author introduces themselves",
        r"\bintroduc(?:e|ing|tion\s+of)\s+myself\b|\bmy\s+name\s+is\b",
    ),
    _veto(
        "moved_to_bcc",
        "a reply that moves the introducer to Bcc",
        r"\bmov(?:ing|ed)\s+(?:\w+\s+){0,2}to\s+bcc\b|\(moved\s+to\s+bcc\)",
    ),
    _veto(
        "nice_to_meet",
        "a reply to an introduction ('nice to meet you')",
        r"\b(?:nice|great|good|lovely|pleasure|wonderful|excited|glad)\s+to\s+(?:e-?)?meet\s+you\b",
        overridable=True,
    ),
    _veto(
        "out_of_office",
        "an absence notice",
        r"\bout\s+of\s+(?:the\s+)?office\b|\bin\s+my\s+absence\b|\bback\s+me\s+up\b"
        r"|\b(?:i|he|she)(?:'ll|\s+will)\s+be\s+(?:out|away|on\s+(?:vacation|holiday|leave))\b"
        r"(?!\s+(?:looking|to\s+(?:meet|see)))|\baway\s+until\b"
        r"|\bcover(?:ing)?\s+for\s+me\b|\buntil\s+my\s+return\b",
    ),
    _veto(
        "bulk",
        "bulk mail (unsubscribe / browser-view links)",
        r"\bunsubscribe\b|\bview\s+(?:this|it)\s+(?:e-?mail\s+)?in\s+(?:your|a)\s+browser\b"
        r"|\bmanage\s+(?:your\s+)?(?:e-?mail\s+)?(?:preferences|notifications|subscription)",
    ),
    _veto(
        "logistics",
        "meeting logistics",
        r"\bdial[- ]?in\b|\bpass\s?code\b|\bconference\s+(?:call|bridge)\b|\bcalendar\s+invite\b",
        overridable=True,
    ),
)
# Loop-ins that copy someone for reasons other than an introduction.
_ADMIN_COPY = re.compile(
    r"\b(?:my|our)\s+(?:executive\s+|personal\s+)?(?:assistant|secretary|scheduler|EA)\b",
    re.IGNORECASE,
)
# What a loop-in says about the person it copies: who they are, or what they will do for you.
_LOOP_PURPOSE = re.compile(
    r"\bwho(?:m)?\b|,\s*(?:my|our|the)\s|\b(?:my|our)\s+(?:[\w-]+\s+){0,3}?(?:colleague|partner|"
    r"co-?founder|associate|friend|teammate|counterpart|boss|manager|head|director|lead|leaders?|"
    r"team|chief|expert|officer)\b|\bso\s+(?:that\s+)?(?:he|she|they|you|the\s+two)\b"
    r"|\basking\s+(?:him|her|them|that)\b|\b(?:can|could|will|would|may|might|should)\s+"
    r"(?:be\s+able\s+to\s+)?(?:help|assist|advise|contact|call|reach|connect|follow|get\s+back|"
    r"be\s+in\s+touch|have|share|tell|answer|introduce|explain)",
    re.IGNORECASE,
)
_FYI_COPY = re.compile(
    r"\bfyi\b|\bfor\s+(?:your|his|her|their)\s+(?:information|visibility|awareness|records|"
    r"reference)\b|\bkeep\s+(?:him|her|them|you)\s+(?:in\s+the\s+loop|informed|posted)\b",
    re.IGNORECASE,
)
_REQUEST_SUBJECT = re.compile(
    r"^\s*(?:intro(?:duction)?|connection)\s+(?:to|with)\b.*\?\s*$|\bforwardable\b"
    r"|\bthanks?\b.*\b(?:intro|introduction|referral)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = frozenset({"i", "we", "i'll", "we'll", "you", "it", "this", "that"})
_QUOTE_MARKS = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})


@dataclass(frozen=True)
class _Found:
    cue: _Cue
    snippet: str
    start: int  # where in the own text the cue matched


# Words without which a cue's pattern cannot match (checked on lower-cased, space-folded text):
# most mail has none of them, and a substring test costs far less than the patterns.
_GATES: dict[str, tuple[str, ...]] = {
    "introduce": ("intro",),
    "meet": ("meet",),
    "connect": ("connect", "put"),
    "should_talk": (
        "you two",
        "you both",
        "you guys",
        "you all",
        "two of you",
        "both of you",
        "y'all",
    ),
    "opt_in_ask": ("intro", "connect", "meet"),
    "hand_off": (
        "touch",
        "reach",
        "contact",
        "call",
        "mail",
        "speak",
        "talk",
        "follow",
        "ring",
        "back",
        "connect",
    ),
    "gave_name": ("your", "recommended you", "referr", "told"),
    "asked_for_intro": ("intro",),
    "vouches": ("resume", "cv", "bio", "profile", "friend", "colleague", "classmate"),
    "want_to_talk": ("want to", "like to"),
    "copying": ("cop", "cc", "loop", "adding", "bringing", "including", "+"),
    "passing_on": ("forwarding", "passing", "sending"),
}


def _find_cues(text: str) -> list[_Found]:
    """Every cue in the author's own text, with the words that matched (at most once each)."""
    found: list[_Found] = []
    flat = " ".join(text.lower().split())
    for cue in _CUES:
        gate = _GATES.get(cue.name)
        if gate is not None and not any(word in flat for word in gate):
            continue
        for match in cue.pattern.finditer(text):
            who = match.groupdict().get("who")
            if who is not None and who.lower() in _FIRST_PERSON:
                continue  # "I will be in touch" is a promise, not a hand-off to someone else
            found.append(_Found(cue, " ".join(match.group(0).split())[:80], match.start()))
            break
    return found


def _subject_cue(subject: str) -> bool:
    """The subject names an introduction ("Intro: A <> B", "Bob, meet Ann"), not a reply."""
    if _PLAIN_SUBJECT.match(subject) or _REQUEST_SUBJECT.search(subject):
        return False
    return bool(_SUBJECT_CUES.match(subject))


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
    hit = robot_hit(msg.envelope)
    if hit is None:
        return None
    return Classification("automatic", hit.rule, hit.reason, (*hits, hit))


def _reply(
    msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]
) -> Classification | None:
    for ref in (msg.in_reply_to, *reversed(msg.references)):
        if ref and ref in known:
            hit = RuleHit("known_thread", f"replies to {ref}, a recorded introduction")
            return Classification("reply", hit.rule, hit.reason, (*hits, hit), thread_ref=ref)
    return None


@dataclass(frozen=True)
class _Facts:
    """What the introduction rule knows about one message, worked out once."""

    text: str  # own text, typographic quotes made plain
    history: str  # the quoted/forwarded part of the body
    cues: tuple[_Found, ...]
    subject_cue: bool
    forward_party: Address | None  # the person whose forwarded mail is being passed on
    new_copied: tuple[Address, ...]  # recipients who were not on the thread before

    def has(self, *strengths: Strength) -> bool:
        return any(f.cue.strength in strengths for f in self.cues)

    def count(self, strength: Strength) -> int:
        return sum(f.cue.strength == strength for f in self.cues)


def _introduction(
    msg: ParsedMessage, identity: Identity, known: Container[str], hits: list[RuleHit]
) -> Classification | None:
    sender = msg.sender
    if sender is None:
        return None
    facts = _facts(msg, identity)
    hits.extend(RuleHit(f"cue_{f.cue.name}", f"{f.cue.words}: “{f.snippet}”") for f in facts.cues)
    if facts.subject_cue:
        hits.append(RuleHit("cue_subject", f"subject names an introduction: “{msg.subject}”"))
    if not facts.cues and not facts.subject_cue:
        return None
    veto = _vetoed(facts, msg.subject)
    if veto is not None:
        return _other(veto, hits, sender)
    parties = _parties(msg, identity, sender, facts)
    shape = _shape(msg, identity, facts)
    refusal = _refusal(msg, facts, shape, parties)
    if refusal is not None:
        return _other(refusal, hits, sender)
    hit = RuleHit(f"intro_{shape}", _explain(shape, facts, parties))
    return Classification(
        "introduction",
        hit.rule,
        hit.reason,
        (*hits, hit),
        shape=shape,
        introducer=sender,
        parties=tuple(parties),
        context=context_sentence(facts.text),
    )


def _other(hit: RuleHit, hits: list[RuleHit], sender: Address) -> Classification:
    return Classification("other", hit.rule, hit.reason, (*hits, hit), introducer=sender)


def _facts(msg: ParsedMessage, identity: Identity) -> _Facts:
    text = msg.own_text.translate(_QUOTE_MARKS)
    history = msg.history if msg.quoted or msg.has_forward else ""
    return _Facts(
        text=text,
        history=history,
        cues=tuple(_find_cues(text)),
        subject_cue=_subject_cue(msg.subject.translate(_QUOTE_MARKS)),
        forward_party=_forward_party(msg, identity),
        new_copied=tuple(
            a
            for a in msg.envelope.recipients
            if not identity.is_self(a) and not _on_thread(a, history)
        ),
    )


def _vetoed(facts: _Facts, subject: str) -> RuleHit | None:
    """The first principled negative that applies to the own text (or the subject)."""
    if _REQUEST_SUBJECT.search(subject) and not facts.has("strong"):
        return RuleHit("request_subject", f"subject asks for or thanks for an intro: “{subject}”")
    for veto in _VETOES:
        match = veto.pattern.search(facts.text)
        if match is None or (veto.overridable and facts.has("strong")):
            continue
        return RuleHit(veto.name, f"{veto.words}: “{' '.join(match.group(0).split())}”")
    return None


def _is_forward(msg: ParsedMessage) -> bool:
    """A real forward (not an Outlook reply with its "Original Message" history)."""
    return bool(_FORWARD_SUBJECT.match(msg.subject)) or bool(
        re.search(
            r"^\s*(?:-{2,}\s*Forwarded (?:message|by)|Begin forwarded message:)",
            msg.full_text,
            re.IGNORECASE | re.MULTILINE,
        )
    )


def _forward_party(msg: ParsedMessage, identity: Identity) -> Address | None:
    """Whose message is being forwarded, if it is a person other than the owner or a recipient."""
    if not _is_forward(msg) or not msg.quoted:
        return None
    first = msg.quoted[0].sender
    recipients = {a.email for a in msg.envelope.recipients}
    if first is None or identity.is_self(first) or first.email in recipients:
        return None
    if msg.sender is not None and first.email == msg.sender.email:
        return None
    if _ROBOT_LOCAL.match(first.email.split("@")[0]):
        return None  # forwarding a newsletter is not introducing its sender
    return first


def _parties(msg: ParsedMessage, identity: Identity, sender: Address, facts: _Facts) -> list[Party]:
    """Recipients other than the introducer and the owner, then the forwarded mail's author."""
    seen = {sender.email} | set(identity.owners) | set(identity.refmail)
    out: list[Party] = []
    for addr in msg.envelope.recipients:
        if addr.email not in seen:
            seen.add(addr.email)
            out.append(Party(addr, True))
    if facts.forward_party is not None and facts.forward_party.email not in seen:
        out.append(Party(facts.forward_party, False))
    return out


def _shape(msg: ParsedMessage, identity: Identity, facts: _Facts) -> Shape:
    recipients = msg.envelope.recipients
    if not identity.is_owner(msg.sender) and any(identity.is_owner(a) for a in recipients):
        return "referral_to_owner"
    if facts.forward_party is not None:
        return "forward"
    if facts.has("loop") and not facts.has("strong"):
        return "loop_in"
    if facts.count("strong") == 0 and _names_copied(facts) and msg.quoted:
        return "loop_in"  # "Michelle will be in touch" with Michelle copied on a reply
    return "owner_intro"


def _refusal(
    msg: ParsedMessage, facts: _Facts, shape: Shape, parties: list[Party]
) -> RuleHit | None:
    """Why the cues are not enough for this shape of message, or None when they are."""
    reached = [p for p in parties if p.reached]
    if not parties:
        return RuleHit("no_parties", "introduction words, but nobody to connect")
    if len(parties) > MAX_PARTIES:
        return RuleHit("broadcast", f"sent to {len(parties)} people: an announcement")
    if msg.quoted and shape != "forward" and not facts.new_copied:
        return RuleHit("no_new_party", "everyone addressed was already on the thread")
    if shape == "forward":
        if not facts.has("strong", "medium"):
            return RuleHit("plain_forward", "forwards a message without introducing its author")
        return None
    if shape == "loop_in":
        return _loop_refusal(facts)
    strong, medium = facts.count("strong"), facts.count("medium")
    if strong or medium >= 2 or (facts.subject_cue and (medium or len(reached) >= 2)):
        return None
    if medium and _names_copied(facts):
        return None
    return RuleHit("weak_cue", "introduction words too weak for who is addressed")


def _loop_refusal(facts: _Facts) -> RuleHit | None:
    if not facts.new_copied:
        return RuleHit("no_new_party", "the copied people were already on the thread")
    if _ADMIN_COPY.search(facts.text):
        return RuleHit("admin_copy", "copies the author's own assistant")
    if _FYI_COPY.search(facts.text):
        return RuleHit("fyi_copy", "copies people to keep them informed")
    loop = next((f for f in facts.cues if f.cue.strength == "loop"), None)
    if loop is not None:
        sentence = _sentence_around(facts.text, loop.start)
        if _LOOP_PURPOSE.search(sentence):
            return None
        return RuleHit("bare_copy", "copies someone without saying who they are or why")
    if _names_copied(facts):
        return None
    return RuleHit("weak_cue", "no copied person is named or referred to")


def _sentence_around(text: str, at: int) -> str:
    """The sentence of `text` that contains position `at`."""
    starts = [m.end() for m in re.finditer(r"[.!?;](?=\s)|\n\s*\n", text[:at])]
    start = starts[-1] if starts else 0
    end = re.search(r"[.!?](?=\s|$)|\n\s*\n", text[at:])
    return text[start : at + end.end() if end else len(text)]


def _names_copied(facts: _Facts) -> bool:
    """The own text names one of the newly copied people (first or last name)."""
    words = set(re.findall(r"\b[A-Z][a-z][\w'-]*", facts.text))
    return any(_name_tokens(a) & words for a in facts.new_copied)


def _name_tokens(addr: Address) -> set[str]:
    """Capitalised name parts of an address: "Bernier-Toth, Michelle" → Bernier-Toth, Michelle."""
    parts = re.findall(r"[A-Za-z][A-Za-z'-]{2,}", addr.name)
    return {p.capitalize() if p.islower() or p.isupper() else p for p in parts}


def _on_thread(addr: Address, history: str) -> bool:
    """The person already appears in a quoted header line (From/To/Cc) of the history.

    Quoted headers often carry names only ("To: Crowley, Philip J; Mills, Cheryl D"), so a
    person also counts as present when every part of their name (at least two) is there.
    """
    if not history:
        return False
    lines = re.findall(
        r"^[>\s]*\*?(?:from|to|cc|sent\s+by)\*?\s*:(.*)$", history, re.IGNORECASE | re.MULTILINE
    )
    headers = "\n".join(lines).lower()
    if addr.email in headers:
        return True
    words = set(re.findall(r"[a-z][a-z'-]+", headers))
    parts = {p.lower() for p in re.findall(r"[A-Za-z][A-Za-z'-]{1,}", addr.name or "")}
    if len(parts) < 2:
        parts = set(re.findall(r"[a-z]{2,}", addr.email.split("@")[0].lower()))
    return len(parts) >= 2 and parts <= words


def _explain(shape: Shape, facts: _Facts, parties: Iterable[Party]) -> str:
    names = ", ".join(str(p.address) for p in parties)
    cues = ", ".join(f.cue.name for f in facts.cues) + (", subject" if facts.subject_cue else "")
    what = {
        "owner_intro": "introduces",
        "referral_to_owner": "introduces the owner to",
        "forward": "forwards one party's mail to introduce",
        "loop_in": "copies in and connects",
    }[shape]
    return f"{what} {names} (cues: {cues.strip(', ')})"


# --- the context sentence ------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
# A full stop after these does not end a sentence ("XYZ Co. may be calling you").
_ABBREVIATION = re.compile(
    r"(?:\b(?:Co|Inc|Ltd|Corp|Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|vs|etc|e\.g|i\.e)|\b[A-Z])\.$"
)
_GREETING = re.compile(
    r"^\s*(?:hi|hey|hello|dear|greetings|good (?:morning|afternoon))\b[^\n]{0,60}$",
    re.IGNORECASE | re.MULTILINE,
)
_SIGN_OFF = re.compile(
    r"^\s*(?:best|thanks|thank you|cheers|regards|kind regards|all the best|warmly|if i can)\b",
    re.IGNORECASE,
)
_DESCRIBES = re.compile(
    r"\b(?:who|whom|is\s+(?:a|an|the|our|my)|runs|works?|building|founder|ceo|head\s+of|"
    r"looking\s+for|expert|experience|contact|specialist|leads?)\b",
    re.IGNORECASE,
)
_REASON = re.compile(
    r"\b(?:because|since|similar|mutual(?:ly)?|in\s+common|interest(?:ed|ing)?|might|could\s+help|"
    r"benefit|both\s+(?:like|love|work)|good\s+fit)\b",
    re.IGNORECASE,
)


def context_sentence(text: str) -> str:
    """The one sentence that best says why these people should talk (for the follow-ups).

    Prefers a sentence that introduces someone and says who they are or why they should talk;
    greetings and sign-offs never qualify.

    >>> context_sentence("Hi Bob,\\n\\nMeet Alice, who builds boats. You should talk.\\n\\nJoe")
    'Meet Alice, who builds boats.'
    """
    body = _GREETING.sub("", text.translate(_QUOTE_MARKS)).strip()
    sentences = _sentences(body)
    sentences = [s for s in sentences if len(s.split()) >= 3 and not _SIGN_OFF.match(s)]
    if not sentences:
        return ""
    best = max(enumerate(sentences), key=lambda item: (_context_score(item[1]), -item[0]))
    return best[1][:300]


def _sentences(body: str) -> list[str]:
    out: list[str] = []
    for piece in _SENTENCE.split(body):
        piece = " ".join(piece.split())
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] += " " + piece  # "XYZ Co." did not end the sentence
        elif piece:
            out.append(piece)
    return out


def _context_score(sentence: str) -> int:
    """Says who someone is or why they should talk; a bare "Bob, meet Ann." says neither."""
    cue = any(c.pattern.search(sentence) for c in _CUES)
    names = bool(re.search(r"(?<=\s)[A-Z][a-z]{2,}", sentence))  # someone named past word one
    short = len(sentence.split()) < 6
    return cue + bool(_DESCRIBES.search(sentence)) + bool(_REASON.search(sentence)) + names - short


RULES: tuple[Rule, ...] = (_own, _robot, _reply, _introduction)
