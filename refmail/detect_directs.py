"""Whom the author sends the one addressed to, or presents: "pls work w Kris", "would you be
willing to talk to him?", "give her a call", "Dana, this is Marco, whom I mentioned".

An introduction often hands one person to another by asking the reader to act toward them; the
person may be copied, the author of the forwarded mail ("him"), or someone whose address is
written in the text. `one_reader` weighs an owner's mail to one reader by it: alone it connects
no one unless it sends the reader to someone (or someone to the reader). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from refmail.detect_lang import LanguageData
from refmail.detect_parties import People, domain_of, named, on_thread
from refmail.detect_sentences import CONTEXT_SENTENCES
from refmail.parse import Address, ParsedMessage
from refmail.patterns import Lazy

# What one person is asked to do toward another.
_CONTACT = (
    r"(?:work|follow\sup|connect|talk|speak|coordinate|get\sin\stouch|be\sin\stouch|reach\sout"
    r"|touch\sbase|call|contact|e-?mail|sync\sup|liaise|meet|see|help|advise|get\swith|check\swith)"
)
# The ask, then what may come between it and the act: "would you be willing to", "pls have
# someone" (the reader sends a delegate: "pls have someone follow up w Sid").
_ASK = (
    r"(?:pls|please|kindly|can\syou|could\syou|would\syou|will\syou|you\sshould|feel\sfree\sto"
    r"|i'?d\slike\syou\sto|i\swould\slike\syou\sto|you\s(?:may|might|will|'ll)\swant\sto"
    r"|if\syou(?:'d|\swould)\slike\sto|you\s(?:can|could|may)"
    r"|i\shope\syou\s(?:can|will|'ll)|i(?:'d|\swould)?\s(?:suggest|recommend)(?:\sthat)?\syou)"
    r",?\s(?:pls\s|please\s|also\s|directly\s)?"
    r"(?:(?:be\s(?:willing|able|open)|have\s(?:the\s)?time|find\s(?:the\s)?time|make\stime"
    r"|take\sa\s(?:minute|moment))\sto\s)?"
    r"(?:have\s(?:someone|somebody|one\sof\syour\s[\w-]{2,20})\s)?"
)
# Whom: a name, a pronoun, or a name after "my friend", "our colleague", "Ken's assistant,".
# (a title before the name is not the name: "pls connect w Amb. Ruiz")
_WHOM = (
    r"(?:(?i:my|our)\s(?:[a-z]{2,15}\s){1,2}?|[A-Z][\w-]{1,30}'s\s[a-z]{2,20},?\s)?"
    r"(?:(?:Mr|Mrs|Ms|Dr|Prof|Amb|Sen|Rep|Gov|Gen|Adm|Sec)\.?\s)?([A-Z][\w'-]{1,30}|(?i:him|her)\b)"
)
# Spanish acts of reaching someone, with the pronoun to come: "escríbe|le", "llamar|la"
_ES_CONTACT = r"escr[ií]be|escribir|ll[aá]ma|llamar|cont[aá]cta|contactar"
# (each branch opens with a look at its first letter, and the whole with the union of them and
# the word boundary every branch starts at: a position no branch can start at is left at once,
# which keeps one pass over a long mail cheap)
_DIRECTS = re.compile(
    r"(?=[A-Zpkcwyfidsarel])\b(?:"
    rf"(?=[pPkKcCwWyYfFiI])(?i:\b{_ASK})"
    rf"(?:(?i:{_CONTACT}(?:\s(?:directly|up))?(?:\s(?:w(?:ith|/)?|to))?\s){_WHOM}"
    # "could you give her a call", "please give Ahmed a ring"
    rf"|(?i:(?:give|send)\s){_WHOM}(?i:\sa\s(?:call|ring|shout|buzz|note|line)\b))"
    # "so direct the communication to her": the reader sent on to the one copied
    r"|(?=[dDsSfFaArR])(?i:\b(?:direct|send|forward|address|route|refer)\s(?:[\w-]{1,20}\s){0,3}?"
    r"to\s)((?i:him|her)\b)"
    rf"|(?=[A-Z])\b([A-Z][\w'-]{{1,30}})\s(?i:is\s(?:the|your)\s(?:best\s|right\s)?(?:person|one"
    rf"|guy|contact)(?:\s(?:to\s{_CONTACT}|for)"
    # "Nina is the person at Ross Capital I think you should speak with"
    rf"|\b[^.\n]{{0,40}}?\byou\s(?:should|could|might|may|want\sto|need\sto)\s{_CONTACT}))"
    # the author sends someone to the one addressed: "I shall ask Krishna to meet you"
    r"|(?=[iI])(?i:\b(?:i'?ll|i\s(?:shall|will|have|had|am)|i'?ve|i'?m|i)\s(?:ask(?:ed|ing)?|have"
    r"|had|get|getting)\s)"
    rf"([A-Z][\w'-]{{1,30}}|(?i:him|her)\b)(?i:\sto\s(?:(?:{_CONTACT}|reach\sout\sto"
    r"|get\sback\sto)\s(?:w(?:ith|/)?\s)?(?:you|him|her|them)|give\s(?:you|him|her|them)\sa\s"
    r"(?:call|ring|shout))\b)"
    # in Spanish, the act with its pronoun: "escríbele a Andrés", "Llámala tú", "escribirle"
    rf"|(?=[eElLcC])(?i:\b({_ES_CONTACT})(?:le|la|lo)\b)(?:\s(?i:a)\s([A-ZÁÉÍÓÚÑ][\w'-]{{1,30}}))?"
    r")"
)
_PASSED_ON = ("forwarded", "forwarding", "passed", "passing", "sent", "referred", "referring")
_WILL_REACH_YOU = ("contact you", "call you", "mail you", "out to you", "back to you", "with you")
# Business referrals, each run only on a text holding one of its gate words (they start at
# common letters and capitalised words; the gate keeps their cost off most mail).
_REFERRALS: tuple[tuple[tuple[str, ...], bool, Lazy], ...] = (
    (
        tuple(f"{verb} {what}" for verb in _PASSED_ON for what in ("your", "the", "this")),
        False,
        # the reader's matter passed on to someone: "we have forwarded your email to Dan Lee"
        # (wrapped anywhere: "forwarding your \ninformation to \nMr. Greg Piper")
        Lazy(
            r"(?:[Ff]orward(?:ed|ing)?|[Pp]ass(?:ed|ing)\s(?:on\s)?|[Ss]ent|[Rr]efer(?:red|ring)?)"
            r"(?i:\s{1,3}(?:your|the|this)\s{1,3}(?:[\w-]{1,20}\s{1,3}){0,2}?(?:e-?mail|letter|note"
            r"|message|information|request|inquiry|enquiry|resume|correspondence|proposal)"
            rf"(?:\s{{1,3}}on)?\s{{1,3}}(?:on)?to\s{{1,3}}){_WHOM}"
        ),
    ),
    (
        _WILL_REACH_YOU,
        True,
        # someone who will reach the reader: "Bill Beecher is planning to contact you" (to
        # reach, not to meet or see: "John will meet you at the airport" is logistics)
        Lazy(
            r"\b([A-Z][\w'-]{1,30})\s(?i:(?:is|are)\s(?:planning|going)\sto|plans\sto|will)"
            r"\s(?i:contact|call|e-?mail|reach\sout\sto|get\sback\sto|get\sin\stouch\swith"
            r"|follow\sup\swith)\s(?i:you)\b"
        ),
    ),
    (
        ("suggest", "recommend"),
        False,
        # someone else's advice: "Mr. Hale suggests that you call Mr. Tom Berg"
        Lazy(
            r"(?:suggest|recommend)(?i:(?:s|ed)(?:\sthat)?\syou\s(?:please\s|also\s)?"
            rf"{_CONTACT}(?:\s(?:directly|up))?(?:\s(?:w(?:ith|/)?|to))?\s){_WHOM}"
        ),
    ),
)

# The reader did it: "you sent your resume to Dana" hands no one on.
_READER_DID = Lazy(r"(?i)\byou(?:'ve|\shave|\shad)?\s{1,3}$")
_SENDS = 5  # the group of the last branch: someone the author sends to the one addressed
_ES_ACT, _ES_NAME = 6, 7  # the groups of the Spanish act and the name after it
# A Spanish act with its pronoun alone ("Llámala tú"): said to the reader of a forward about
# its author; anywhere else the pronoun may be anyone ("llámala mañana")
_ES_PRONOUN = "~"
_PRONOUNS = ("him", "her", _ES_PRONOUN)


@lru_cache(maxsize=8)
def _directions(text: str) -> tuple[tuple[str, bool], ...]:
    """Whom the text sends the reader to, in order (lower-cased names and pronouns), each with
    whether the author sends them to the reader instead ("I've asked Lona to contact you");
    one pass per text, however many questions are asked of it."""
    head = text[:6000]
    found = [(m.start(), _whom(m), m.group(_SENDS) is not None) for m in _DIRECTS.finditer(head)]
    lowered = head.lower()
    for gates, sends, pattern in _REFERRALS:
        if any(g in lowered for g in gates):
            found += [
                (m.start(), m.group(1).lower(), sends)
                for m in pattern().finditer(head)
                if not _READER_DID().search(head[max(0, m.start() - 12) : m.start()])
            ]
    return tuple((name, sends) for _, name, sends in sorted(found, key=lambda f: f[0]))


def _whom(match: re.Match[str]) -> str:
    """The name or pronoun a direction points to (`_ES_PRONOUN` for a Spanish pronoun alone)."""
    if match.group(_ES_ACT):
        return (match.group(_ES_NAME) or _ES_PRONOUN).lower()
    return next(g for g in match.groups() if g).lower()


def directed_to(
    text: str,
    addrs: list[Address],
    stand_in: Address | None = None,
    forwarded: Address | None = None,
) -> Address | None:
    """The party (of `addrs`) the author sends the reader to, or None. "him"/"her" is
    `stand_in`: the one person copied, or the author of the forwarded mail; a Spanish pronoun
    alone is `forwarded`, the author of the forwarded mail only."""
    for name, _ in _directions(text):
        if name == _ES_PRONOUN:
            party = forwarded
        elif name in _PRONOUNS:
            party = stand_in
        else:
            party = next((a for a in addrs if named(a, {name})), None)
        if party is not None:
            return party
    return None


def directs(
    msg: ParsedMessage, shape: str, who: People, addrs: list[Address], text: str
) -> Address | None:
    """The party the author sends the reader to, when someone on it is new, or None.

    In a reply: the one answered sent to someone newly copied, or the other way round; in a new
    mail: to someone copied ("Jean - please get in touch with Greg" and Greg in Cc). Beyond the
    recipients, the person handed on: the forwarded mail's author ("Would you talk to him? His
    resume is below") and, in a note to one reader, someone whose address the author writes
    ("please get in touch with Ahmed (ahmed@…)"); "contact Benik at …" in a notice to many is
    a pointer.
    """
    reachable = [a for a in addrs if a in who.candidates]
    if not msg.history:
        reachable = [a for a in reachable if a in who.copied]
    new_copies = [a for a in reachable if a in who.copied]
    handed = [a for a in addrs if shape == "forward" and a in who.forwarded[:1]]
    if len(who.candidates) == 1:
        # (not the author's own colleague: "please contact Laura Diaz (laura@ours) to change
        # your dependents" is a service's pointer)
        own = domain_of(msg.sender) if msg.sender is not None else ""
        handed += [a for a in addrs if a in who.in_text and a not in handed and domain_of(a) != own]
    stand_in = new_copies[0] if len(new_copies) == 1 else (handed[0] if handed else None)
    targets = reachable + [a for a in handed if a not in reachable]
    author = next((a for a in handed if shape == "forward" and a in who.forwarded[:1]), None)
    party = directed_to(text, targets, stand_in, author) if targets else None
    if party is None or all(on_thread(a, msg.history) for a in reachable + handed):
        return None  # (asked after the text: nobody new is two old hands told to talk again)
    return party


def directed_names(text: str) -> list[str]:
    """The names (lower-cased; "him"/"her" for a pronoun, `_ES_PRONOUN` for a Spanish one
    alone) of everyone the author sends the reader to."""
    return [name for name, _ in _directions(text)]


def sent_to_reader(text: str, known: list[Address]) -> str:
    """The name of someone the author sends to the one addressed who is on no header of the
    mail ("I've asked Lona to contact you about date and details"), or ""."""
    for name, sends in _directions(text):
        if sends and name not in _PRONOUNS and not any(named(a, {name}) for a in known):
            return name
    return ""


# "This is Wu Lan, the translator I mentioned.", "Dana, this is Marco Bell, whom I mentioned":
# the author presents someone (who is copied), perhaps after a vocative
_PRESENTS = re.compile(
    r"(?:^|(?<=[.!?]\s))(?:[A-Z][\w'-]{1,30},\s)?(?i:this\sis)\s([A-Z][\w'-]{1,30})",
    re.MULTILINE,
)


def presented(text: str, copied: list[Address]) -> str:
    """A copied party the author presents by name ("This is Wu, …"), or ""."""
    for match in _PRESENTS.finditer(text[:3000]):
        party = next((a for a in copied if named(a, {match.group(1).lower()})), None)
        if party is not None:
            return str(party)
    return ""


def stranger_described(
    names: list[str],
    named_in: list[tuple[str, set[str]]],
    known: list[Address],
    data: LanguageData,
) -> str:
    """A sentence describing one of `names` who is none of the `known` people, or ""."""
    strangers = {n for n in names if n not in _PRONOUNS and not any(named(a, {n}) for a in known)}
    if not strangers:
        return ""
    describes = re.compile(f"{data.describes}|{data.roles}")
    for sentence, words in named_in[:CONTEXT_SENTENCES]:
        if strangers & words and describes.search(sentence):
            return sentence
    return ""


# A name inside a sentence (not its first word, which any sentence capitalises).
_INNER_NAME = Lazy(r"(?<=[\s,(])[A-Z][a-z'’-]{2,30}\b")


def someone_else_described(
    named_in: list[tuple[str, set[str]]],
    known: list[Address],
    data: LanguageData,
    with_roles: bool = False,
) -> str:
    """A sentence describing a named person who is neither addressed nor the author (by a role
    too, `with_roles`: "Wade Ruskin, managing director of Aquaterra")."""
    describes = re.compile(f"{data.describes}|{data.roles}" if with_roles else data.describes)
    for sentence, _ in named_in[:CONTEXT_SENTENCES]:
        names = {n.lower() for n in _INNER_NAME().findall(sentence)}
        strangers = [n for n in names if not any(named(a, {n}) for a in known)]
        if strangers and describes.search(sentence):
            return sentence
    return ""


def one_reader(
    msg: ParsedMessage,
    shape: str,
    who: People,
    text: str,
    cues: dict[str, str],
    named_in: list[tuple[str, set[str]]],
    data: LanguageData,
    target: Address | None,
    add: Callable[[str, str], None],
) -> str:
    """An owner's mail to one reader: alone it connects no one, unless it sends the reader to
    someone it describes, sends someone to the reader, or (an opt-in ask) describes the other.
    Returns what showed the stranger ("" if none)."""
    # (an opt-in ask is written to one person by nature)
    if (
        len(who.candidates) == 1
        and shape == "owner_intro"
        and not who.in_text
        and "cue_opt_in_ask" not in cues
    ):
        add("single_person_addressed", who.candidates[0].email)
    stranger = ""
    if target is None and len(who.candidates) == 1 and shape == "owner_intro":
        # "Pls connect w Ray Offenheiser, who runs Oxfam America": the reader sent to someone
        # the author describes, whose address the mail does not give
        known = [*who.candidates, *([msg.sender] if msg.sender else [])]
        sent_to = directed_names(text)
        stranger = stranger_described(sent_to, named_in, known, data)
        if not stranger and {"him", "her"} & set(sent_to):
            # "Please get in touch with him." after "John Wodraska, managing director of…"
            stranger = someone_else_described(named_in, known, data, with_roles=True)
        if stranger:
            add("directs_to_someone_described", f"“{stranger[:80]}”")
        elif sender := sent_to_reader(text, known):
            # "I've asked Lona to contact you": the author sends someone to the reader
            stranger = sender
            add("sends_someone_to_reader", sender)
    if "cue_opt_in_ask" in cues and len(who.candidates) == 1:
        # an opt-in ask says who the other is: "I know a retired auditor, Clara, who…"
        known = [*who.candidates, *([msg.envelope.sender] if msg.envelope.sender else [])]
        other = someone_else_described(named_in, known, data)
        if other:
            add("describes_the_other", f"“{other[:80]}”")
    return stranger
