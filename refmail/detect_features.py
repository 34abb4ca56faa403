"""The evidence that a message is (or only looks like) an introduction, and whom it connects.

`read` finds every feature in one message: cues and look-alike phrases in the author's own text
(one combined pattern per language, one pass), and the shape of the message (who is addressed,
named, greeted, spoken to, described, copied in, forwarded). Each feature carries the weight of
`detect_weights`; their sum against the threshold decides. It also picks the parties and, per
party, the sentences that describe them. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from refmail.detect_candidate import knows_the_candidate
from refmail.detect_copied import (
    COPY_WORDS,
    by_mailbox,
    copied_unnamed,
    copies_a_group,
    copy_sentence,
    lists_by_mailbox,
)
from refmail.detect_copy import copies_a_person, unaddressed_name
from refmail.detect_copy_shape import copy_shape
from refmail.detect_cues import find_cues
from refmail.detect_directs import (
    directs,
    one_reader,
    presented,
)
from refmail.detect_handoff import (
    brings_in_the_reader,
    hands_to_the_copied,
    loops_in_the_copied,
)
from refmail.detect_lang import LanguageData
from refmail.detect_languages import LANGUAGES
from refmail.detect_names import party_names
from refmail.detect_parties import (
    MAX_PARTIES,
    People,
    capitalised_words,
    in_the_thread,
    is_list,
    is_robot,
    named,
    on_thread,
    one_address_each,
    people,
)
from refmail.detect_purpose import colleagues_only, copy_evidence
from refmail.detect_sentences import (
    QUOTE_MARKS,
    about_sentences,
    context_sentence,
)
from refmail.detect_spoken import (
    VOCATIVE,
    described_sides,
    describing_sentence,
    distinct,
    greeting_line,
    note_names,
    spoken_to,
    told_apart,
)
from refmail.detect_subject import subject_features
from refmail.detect_text import AuthorText, author_text, forwarded_text, language, sentences
from refmail.detect_weights import THRESHOLD, WEIGHTS
from refmail.parse import Address, ParsedMessage
from refmail.patterns import Lazy

_FORWARD_AUDIENCE = 3  # a forward to more people than this passes news on, not a person
_ACTS = ("cue_introduce", "cue_meet", "cue_connect", "cue_should_talk", "cue_opt_in_ask")
_HAND_OVER = ("cue_hand_off", "cue_copy_in", "cue_gave_name", "cue_passes_on_cv")
_STOP_WORDS = {code: data.stop_words for code, data in LANGUAGES.items()}


@dataclass(frozen=True)
class Evidence:
    """One feature a message shows: its name, its weight and what showed it."""

    feature: str
    weight: float
    evidence: str


@dataclass(frozen=True)
class Reading:
    """Everything detection read in one message."""

    language: str
    evidence: tuple[Evidence, ...]
    shape: str
    parties: tuple[tuple[Address, bool], ...]  # (address, reached)
    about: dict[str, str]  # party email -> the sentences that describe them
    about_owner: str
    context: str
    introducer: Address | None = None  # who made a forwarded introduction, when not the author
    names: dict[str, str] | None = None  # party email -> the name the author's text gives them

    @property
    def total(self) -> float:
        return round(sum(e.weight for e in self.evidence), 3)

    @property
    def is_introduction(self) -> bool:
        return self.total >= THRESHOLD

    def has(self, feature: str) -> bool:
        return any(e.feature == feature for e in self.evidence)


_FORWARD_SUBJECT = Lazy(r"^\s*(?:fwd?|tr|wg|rv)\s*:", re.IGNORECASE)
_FORWARD_MARK = Lazy(
    r"^[ \t]*(?:-{2,}[ \t]*(?:Forwarded message|Forwarded by|Mensaje reenviado)"
    r"|Begin forwarded message:|Inicio del mensaje reenviado:)",
    re.IGNORECASE | re.MULTILINE,
)


def read(
    msg: ParsedMessage, keep: Callable[[Address], bool], is_owner: Callable[[Address], bool]
) -> Reading:
    """Every feature of `msg`; `keep` says whether an address may be a party at all."""
    written = author_text(msg)
    text = _before_patch(written.text).translate(QUOTE_MARKS)
    replied = (written.replied_name, written.replied_email)
    who = people(msg, keep, text, replied)
    relay = _relayed(msg, who, is_owner)
    if relay is not None:
        # Forwarded to refmail (or the owner) alone: the forwarded mail is the introduction.
        text = (text + "\n\n" + forwarded_text(msg).translate(QUOTE_MARKS)).strip()
        who = people(msg, keep, text, replied)
    code = language(text, _STOP_WORDS)
    data = LANGUAGES[code]
    sentence_list = sentences(text)
    cues = find_cues(text, code, sentence_list=sentence_list, accept=_accept(who))
    _drop_far_fyi(text, cues)
    if "cue_opt_in_ask" in cues:
        # "Would you be open to an intro? Happy to connect you if so": the condition is the ask
        cues.pop("neg_offer_later", None)
    subject = msg.subject.translate(QUOTE_MARKS)
    # the sentences that copy someone in, read once for the parties, the names and the purpose
    copy_text = copy_sentence(sentence_list, cues, code, copies_a_person(who))
    found: list[Evidence] = []

    def add(feature: str, evidence: str) -> None:
        found.append(Evidence(feature, WEIGHTS.get(feature, 0.0), evidence))

    for feature, words in cues.items():
        if feature == "cue_copy_why" and "cue_copy_in" not in cues:
            continue  # "who knows…" only explains a copy
        add(_CAN_HELP_FEATURE if _can_help(feature, words) else feature, f"“{words}”")
    tie = knows_the_candidate(sentence_list) if "cue_passes_on_cv" in cues else None
    if tie:  # the résumé of someone the author knows: a referral, not routing
        add("knows_the_candidate", f"“{tie[:80]}”")
    subject_features(subject, who, add)
    shape = _shape(msg, who, cues, is_owner)
    group = copies_a_group(text, cues)
    parties = _parties(shape, who, text, copy_text, written, group, msg.history)
    if relay is not None:
        shape = "referral_to_owner" if relay else "forward"
        introducer = msg.quoted[0].sender if relay else None
        parties = tuple((a, r) for a, r in parties if introducer is None or a != introducer)
    named_in = [(s, capitalised_words(s)) for s in sentence_list]
    owner = next((a for a in msg.envelope.recipients if is_owner(a)), None)
    _shape_features(
        msg, shape, who, parties, text, data, cues, named_in, add, relay is not None, owner, group
    )
    looped = _hand_off_shape(msg, who, parties, named_in, cues, found, add)
    for feature, said in _copy_and_colleagues(
        msg, [a for a, _ in parties], who, copy_text, cues, code, found
    ):
        add(feature, said)
    copied = [a for a, _ in parties if a in who.copied]
    described = any(e.feature.startswith("describes_") for e in found)
    for feature, said in copy_shape(
        text, sentence_list, named_in, cues, copied, COPY_WORDS, described
    ):
        add(feature, said)
    if not any(_connects(e.feature, found) for e in found):
        add("no_connecting_act", "nothing connects anyone (only names and addressees)")
    _soften_incidental(found)
    # "copying my assistant and asking her to coordinate this for us": the aide copied to
    # reach the other side is the connection, not an FYI to staff
    _outweigh(found, "copy_to_reach", "neg_admin_copy", "copied to reach the other side")
    # "Please contact him" of someone copied in: the reader handed on, not sent off elsewhere
    _outweigh(found, "hands_to_the_copied", "neg_pointer", "the one pointed to is copied")
    if looped:  # "I have copied Pam on this and she will respond to you": no FYI copy
        for zeroed in ("neg_fyi_copy", "copy_for_own_task"):
            _zero(found, zeroed, "the copied will help the reader")
    # "+CC Jean, Guenter and the list": the list was copied beside people, not instead
    _outweigh(found, "names_the_copied", "neg_list_copy", "people copied too")
    # "[+cc Jakub for visibility] … What do you think Bjorn? Jakub?": asked, not informed
    # (a question explains the copy: "Have they been testing this? (+cc Gil)")
    for zeroed in ("neg_fyi_copy", "copy_unexplained"):
        _outweigh(found, "asks_the_copied", zeroed, "the copied is asked")
    if _THANKS_FOR_COPY().search(cues.get("neg_thanks_for_intro", "")):
        # "Thanks for Ccing me. … Acme engineers (jo@…, CCed) did this": copied in themselves,
        # the author copies someone else in; the thanks is for their own place on the thread
        _outweigh(found, "names_the_copied", "neg_thanks_for_intro", "someone else copied in")
    about: dict[str, str] = {}
    names: dict[str, str] = {}
    about_owner = context = ""
    if sum(e.weight for e in found) >= THRESHOLD:  # sentences only for introductions
        # (narrowed on the final score, the look-alikes outweighed above)
        parties = _spoken_of(parties, msg, named_in) if shape == "owner_intro" else parties
        if tie and shape == "owner_intro":
            parties = _with_candidate(msg, parties, keep)
        acts = tuple(v for k, v in cues.items() if k in _ACTS or k in _HAND_OVER)
        context = context_sentence(text, code, acts)
        about = {a.email: about_sentences(a, named_in, data) for a, _ in parties}
        recipients = msg.envelope.recipients
        if relay:
            recipients = msg.quoted[0].to + msg.quoted[0].cc
        owner = next((a for a in recipients if is_owner(a)), None)
        if owner is not None and shape == "referral_to_owner":
            about_owner = about_sentences(owner, named_in, data)
        names = _names(msg, who, parties, text, copy_text, owner)
    return Reading(
        language=code,
        evidence=tuple(found),
        shape=shape,
        parties=parties,
        about={k: v for k, v in about.items() if v},
        about_owner=about_owner,
        context=context,
        introducer=msg.quoted[0].sender if relay else None,
        names=names,
    )


def _with_candidate(
    msg: ParsedMessage, parties: tuple[tuple[Address, bool], ...], keep: Callable[[Address], bool]
) -> tuple[tuple[Address, bool], ...]:
    """A résumé passed on below the candidate's own quoted mail: its author is the one passed
    on (even by the author's surname: "resume from my brother" is no signature of the author)."""
    candidate = msg.quoted[0].sender if msg.quoted else None
    if candidate is None or not keep(candidate) or candidate in {a for a, _ in parties}:
        return parties
    if msg.sender is not None and candidate.email == msg.sender.email:
        return parties
    return (*parties, (candidate, False))


def _hand_off_shape(
    msg: ParsedMessage,
    who: People,
    parties: tuple[tuple[Address, bool], ...],
    named_in: list[tuple[str, set[str]]],
    cues: dict[str, str],
    found: list[Evidence],
    add: Callable[[str, str], None],
) -> Address | None:
    """The hand-off to someone copied read from the shape (`detect_handoff`): adds its features
    and returns the copied person, new to the thread, that a loop-in brings in, if any."""
    in_cc = [a for a, _ in parties if a in who.copied]
    # (new to the thread only where the thread is quoted: "Re:" with no quote says nothing)
    new = [a for a in in_cc if not on_thread(a, msg.history)] if msg.history else []
    looped = loops_in_the_copied(named_in, new, [*who.candidates])
    # (read from the shape only where no hand-off or copy-in phrase said it already; a phrase
    # that only says someone can help is half a pointer, and a loop-in says whom it hands on to)
    if any(k in cues and not (looped and _can_help(k, cues[k])) for k in _HAND_OVER):
        return looped
    if msg.history and not looped:
        # the mirror: someone new addressed, to serve a copied one the thread already had (in
        # its headers, or spoken of in it: "Per Tana Jones' request, would you update …")
        old = [a for a in in_cc if in_the_thread(a, msg.history)]
        readers = [
            a for a in who.candidates if a not in who.copied and not in_the_thread(a, msg.history)
        ]
        served = brings_in_the_reader(named_in, old, readers)
        if served:
            add("brings_in_the_reader", f"asks someone new to the thread to serve {served}")
            if not any(e.feature == "names_the_copied" for e in found):
                add("names_the_copied", served.email)
    handed = looped or hands_to_the_copied(named_in, in_cc, [*who.candidates])
    if handed:
        add("hands_to_the_copied", f"hands the reader to {handed}, who is copied")
    if looped and not any(e.feature == "names_the_copied" for e in found):
        # the hand-off read from the shape names whom it brings in, as a hand-off phrase does
        add("names_the_copied", looped.email)
    return looped


# "Jeff can help you", "Marcia (Jim's assistant) can give you the call-in number": what
# someone is able to do is a pointer to a helper; a hand-off says what they will do ("Lorna
# will call you") or what the author asked of them ("I've asked Lorna to contact you")
_CAN_HELP_FEATURE = "cue_can_help"
_CAN_HELP = Lazy(
    r"(?i)\b(?:can|could|should|may|might)\s(?:be\sable\sto\s)?(?:help|assist|answer|advise|give\syou)\b"
)


def _can_help(feature: str, words: str) -> bool:
    """The hand-off found is only what someone can do for the reader."""
    return feature == "cue_hand_off" and _CAN_HELP().search(words) is not None


_THANKS_FOR_COPY = Lazy(r"(?i)\b(?:cc'?ing|cc-ing|adding|including|looping)\sme\b")
_FOR_ONE = re.compile(r"(?i)\byou\s(?:so|since|because)\s$")


def _accept(who: People) -> Callable[[str, str, re.Match[str]], bool]:
    """`detect_copy.copies_a_person`, and "connecting you so …" only to two people addressed
    (to one, the "you" is the reader alone: "connecting you so you can see the drive")."""
    copies = copies_a_person(who)

    def accept(cue: str, sentence: str, match: re.Match[str]) -> bool:
        if cue == "cue_connect" and _FOR_ONE.search(match.group(0)):
            return len([a for a in who.candidates if a not in who.copied]) >= 2
        return copies(cue, sentence, match)

    return accept


def _names(
    msg: ParsedMessage,
    who: People,
    parties: tuple[tuple[Address, bool], ...],
    text: str,
    copy_text: str,
    owner: Address | None,
) -> dict[str, str]:
    """The names the author's text gives parties whose display names say nothing."""
    addrs = [a for a, _ in parties]
    others = [a for a in (msg.sender, owner) if a is not None and a not in addrs]
    to = [a for a in msg.envelope.to if a in addrs]
    return party_names(text, addrs, to, who.copied, others, copy_text)


# What says the author connects people, beyond their shape: an act, a hand-off, a direction
_SAID = frozenset(
    {
        *_ACTS,
        *_HAND_OVER,
        _CAN_HELP_FEATURE,
        "directs_to_a_party",
        "directs_to_forwarded",
        "subject_names_intro",
        "hands_to_the_copied",
        "brings_in_the_reader",
    }
)


def _copy_and_colleagues(
    msg: ParsedMessage,
    addrs: list[Address],
    who: People,
    sentence: str,
    cues: dict[str, str],
    code: str,
    found: list[Evidence],
) -> list[tuple[str, str]]:
    """Why the copy-in was made (`detect_purpose.copy_evidence`), and colleagues of the author
    with no act that connects them (`detect_purpose.colleagues_only`)."""
    out: list[tuple[str, str]] = []
    if "cue_copy_in" in cues:
        copied = [a for a in addrs if a in who.copied]
        explained = "cue_copy_why" in cues
        why = copy_evidence(
            sentence, cues["cue_copy_in"], addrs, copied, explained, LANGUAGES[code]
        )
        out += [why] if why else []
    if msg.sender is not None and not any(e.feature in _SAID for e in found):
        out += [f for f in [colleagues_only(msg.sender, addrs)] if f]
    return out


# Look-alike phrases that are incidental: beside the act of introducing ("great to meet you at
# the summit; I'd like to introduce you to John", "FYI he runs the bakery") they weigh half.
# The ones that say what the whole message is (asks or thanks for an intro, introduces the
# author, bulk mail) keep their weight.
_INCIDENTAL = frozenset(
    {"neg_reply", "neg_out_of_office", "neg_fyi_copy", "neg_logistics", "neg_welcome", "neg_relay"}
)
_ACTING = frozenset(
    {"cue_introduce", "cue_meet", "cue_connect", "cue_should_talk", "describes_each_side"}
)


# The evidence that the author connects people (an act, a hand-off, a copy-in, a forward, one
# described to the other): names and addressees alone are any group mail's shape.
_CONNECTING = frozenset(
    {
        *_ACTS,
        *_HAND_OVER,
        _CAN_HELP_FEATURE,
        "subject_names_intro",
        "forwards_a_person",
        "greets_the_parties",
        "describes_each_side",
        "directs_to_a_party",
        "directs_to_forwarded",
        "directs_to_someone_described",
        "sends_someone_to_reader",
        "presents_the_copied",
        "gives_an_address",
        "names_the_copied",
        "copied_last_in_cc",
        "cue_reach_each_other",
        "hands_to_the_copied",
        "brings_in_the_reader",
    }
)


def _connects(feature: str, found: list[Evidence]) -> bool:
    """The feature is evidence that someone is connected. Greeting two people is, only when one
    is described too: "Hi Yuki and Lena, Yuki can you bring the board? Lena, I'll book the room"
    is any group mail's shape."""
    if feature == "greets_the_parties":
        return any(e.feature in ("describes_a_party", "describes_each_side") for e in found)
    return feature in _CONNECTING


_FYI_REACH = 300  # characters: an FYI explains the copy beside it, not one a page away


def _drop_far_fyi(text: str, cues: dict[str, str]) -> None:
    """An FYI phrase says why someone was copied only near the copy ("+Cc Hans (FYI)");
    "we're on the same page" three paragraphs below a "+Cc: Chris, who…" explains nothing, nor
    does an "FYI:" opening a paragraph about something else two paragraphs below the copy."""
    if "cue_copy_in" not in cues or "neg_fyi_copy" not in cues:
        return
    flat = " ".join(text.split())
    fyi_at = flat.find(cues["neg_fyi_copy"])
    # a copy said twice ("[CCing Linus]" on top, "I'm CCing Linus, as he wants to be aware"
    # below): the FYI is read against the saying nearest it
    copy_at = _nearest(_occurrences(flat, cues["cue_copy_in"]), fyi_at)
    if copy_at >= 0 and fyi_at >= 0 and abs(fyi_at - copy_at) > _FYI_REACH:
        del cues["neg_fyi_copy"]
        return
    after = fyi_at - copy_at - len(cues["cue_copy_in"])
    if cues["neg_fyi_copy"].lower().startswith("so ") and copy_at >= 0 and not 0 <= after <= 3:
        # "so he knows" is the purpose of the copy right before it: "copying Linda … Also,
        # I'll copy Jim so he knows" says it of Jim's copy, not of Linda's
        del cues["neg_fyi_copy"]
        return
    paragraphs = [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text)]
    fyi_in = _paragraph_of(paragraphs, cues["neg_fyi_copy"])
    copy_flat = " ".join(cues["cue_copy_in"].split())
    holding = [i for i, p in enumerate(paragraphs) if copy_flat in p]
    copy_in = _nearest(holding, fyi_in if fyi_in is not None else -1)
    if copy_in >= 0 and fyi_in is not None and abs(fyi_in - copy_in) > 1:
        del cues["neg_fyi_copy"]


def _occurrences(text: str, phrase: str) -> list[int]:
    """Where `phrase` starts in `text`, every time (a few: the copy phrase of one message)."""
    found: list[int] = []
    at = text.find(phrase)
    while at >= 0 and len(found) < 8:
        found.append(at)
        at = text.find(phrase, at + 1)
    return found


def _nearest(positions: list[int], target: int) -> int:
    """The position nearest `target` (the first one when there is no target), else -1."""
    if not positions:
        return -1
    return positions[0] if target < 0 else min(positions, key=lambda at: abs(at - target))


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _paragraph_of(paragraphs: list[str], phrase: str) -> int | None:
    """The index of the first paragraph holding `phrase` (whitespace flattened)."""
    flat = " ".join(phrase.split())
    return next((i for i, p in enumerate(paragraphs) if flat in p), None)


def _outweigh(found: list[Evidence], present: str, zeroed: str, why: str) -> None:
    """With `present` among the evidence, `zeroed` weighs nothing (kept, with `why`, so the
    explanation still shows it)."""
    if any(e.feature == present for e in found):
        _zero(found, zeroed, why)


def _zero(found: list[Evidence], zeroed: str, why: str) -> None:
    """`zeroed` weighs nothing (kept, with `why`, so the explanation still shows it)."""
    found[:] = [
        Evidence(e.feature, 0.0, f"{e.evidence} ({why})") if e.feature == zeroed else e
        for e in found
    ]


def _soften_incidental(found: list[Evidence]) -> None:
    if not any(e.feature in _ACTING for e in found):
        return
    found[:] = [
        Evidence(e.feature, e.weight / 2, e.evidence + " (beside an introducing act: half)")
        if e.feature in _INCIDENTAL
        else e
        for e in found
    ]


# Where a patch starts: its "---" line before the diffstat, or the first "diff --git".
_PATCH_START = re.compile(
    r"^(?:---[ \t]*\n[ \t]+\S[^\n]{0,200}\|[ \t]+\d|diff --git )", re.MULTILINE
)


def _before_patch(text: str) -> str:
    """The author's words without the patch below them: a diff speaks to nobody."""
    start = _PATCH_START.search(text)
    return text[: start.start()] if start else text


def _relayed(msg: ParsedMessage, who: People, is_owner: Callable[[Address], bool]) -> bool | None:
    """None unless the message forwards mail to nobody but refmail/the owner; then whether the
    forwarded mail was someone referring the owner (its author is the introducer)."""
    if who.candidates or not who.forwarded or not msg.quoted:
        return None
    block = msg.quoted[0]
    return (
        block.sender is not None
        and not is_owner(block.sender)
        and any(is_owner(a) for a in (*block.to, *block.cc))
        and any(a != block.sender for a in who.forwarded)
    )


def _is_forward(msg: ParsedMessage) -> bool:
    """A real forward (not an Outlook reply with its "Original Message" history)."""
    return bool(_FORWARD_SUBJECT().match(msg.subject)) or bool(
        _FORWARD_MARK().search(msg.full_text[:60_000])
    )


def _shape(
    msg: ParsedMessage, who: People, cues: dict[str, str], is_owner: Callable[[Address], bool]
) -> str:
    sender = msg.sender
    if sender is not None and not is_owner(sender) and any(map(is_owner, msg.envelope.recipients)):
        return "referral_to_owner"
    if who.forwarded and _is_forward(msg):
        return "forward"
    if "cue_copy_in" in cues and not any(a in cues for a in _ACTS):
        return "loop_in"
    return "owner_intro"


def _parties(
    shape: str,
    who: People,
    text: str,
    copy_text: str,
    written: AuthorText,
    group: bool = False,
    history: str = "",
) -> tuple[tuple[Address, bool], ...]:
    out: dict[str, tuple[Address, bool]] = {}
    if shape == "loop_in":
        replied = (written.replied_name, written.replied_email)
        copied = copied_unnamed(who, copy_text, group, replied, history, MAX_PARTIES - 1)
        for addr in copied:
            out[addr.email] = (addr, True)
        # the addressees greeted together, else the one the text points to
        together: list[Address | None] = list(_greeted_together(who, text, copied))
        for counterpart in together or [_counterpart(who, text, written, copied)]:
            if counterpart is not None:
                out.setdefault(counterpart.email, (counterpart, True))
        return tuple(out.values())
    for addr in who.candidates:
        out[addr.email] = (addr, True)
    if shape == "forward" or not who.candidates:
        # The forwarded message is the introduction (or names the person being passed on).
        reached = not who.candidates
        # With people addressed, only the forwarded mail's author is passed on to them.
        forwarded = who.forwarded[:1] if shape == "forward" and who.candidates else who.forwarded
        for addr in forwarded:
            out.setdefault(addr.email, (addr, reached))
    for addr in who.in_text:
        out.setdefault(addr.email, (addr, False))
    return one_address_each(tuple(out.values()), who.written)


def _greeted_together(who: People, text: str, copied: list[Address]) -> list[Address]:
    """The addressees a loop-in's first line speaks to together ("Tom, Lisa," "Hi Ann and
    Raj,"): the other side is all of them, when they are two or more."""
    first = text.lstrip().split("\n", 1)[0][:80]
    match = VOCATIVE.match(first)
    if match is None or match.group(2) is None:
        return []
    to = [a for a in who.candidates if a not in copied and a not in who.copied]
    greeted = [a for a in to if named(a, {n.lower() for n in match.groups() if n})]
    return greeted if len(greeted) >= 2 else []


def _counterpart(
    who: People, text: str, written: AuthorText, copied: list[Address]
) -> Address | None:
    """Whom the loop-in answers: the quoted author, the greeted person, or the one addressee."""
    others = [a for a in who.candidates if a not in copied]
    if written.replied_email:
        match = next((a for a in others if a.email == written.replied_email), None)
        if match is not None:
            return match
    if written.replied_name:
        words = {w.lower() for w in written.replied_name.split()}
        match = next((a for a in others if named(a, words)), None)
        if match is not None:
            return match
    first = text.lstrip().split("\n", 1)[0][:80]
    vocative = re.match(r"\s*(?:\w+[ ,]{1,2})?([A-Z][\w'-]{1,30})\s?[,:.!]", first)
    if vocative is not None:  # "Hi Tao," "Ansuel," "Hello, Suren."
        match = next((a for a in others if named(a, {vocative.group(1).lower()})), None)
        if match is not None:
            return match
    to = [a for a in others if a not in who.copied]  # whom the reply is addressed to
    return to[0] if to else (others[0] if len(others) == 1 else None)


def _shape_features(
    msg: ParsedMessage,
    shape: str,
    who: People,
    parties: tuple[tuple[Address, bool], ...],
    text: str,
    data: LanguageData,
    cues: dict[str, str],
    named_in: list[tuple[str, set[str]]],
    add: Callable[[str, str], None],
    relayed: bool,
    owner: Address | None = None,
    group: bool = False,
) -> None:
    """The features of the message's shape: who is addressed, named, greeted, spoken to,
    described, sent on or copied in, and whether anyone is new to the thread. `group`: the
    copy note names a group (`copies_a_group`, read once by `read`)."""
    addrs = [a for a, _ in parties]
    words: set[str] = set().union(*(w for _, w in named_in))
    named_parties = told_apart(distinct([a for a in addrs if named(a, words)]), words)
    if not addrs:
        add("no_parties", "nobody to connect")
        return
    if len(who.candidates) > MAX_PARTIES and shape != "loop_in":
        add("broadcast", f"sent to {len(who.candidates)} people")
    to_lists = [a for a in msg.envelope.to if is_list(a, who.lists) and not is_robot(a)]
    if to_lists and not msg.history and shape != "loop_in":
        # a new mail to a distribution list is an announcement, whoever else is copied
        add("addressed_to_a_list", f"to {to_lists[0].email}")
    if len(who.candidates) >= 2:
        add("people_addressed_2plus", f"{len(who.candidates)} people addressed")
    if shape == "referral_to_owner":
        add("owner_and_someone_new", "written to the owner and someone new")
    if shape == "forward":
        add("forwards_a_person", f"forwards mail of {addrs[-1]}")
        if len(who.candidates) > _FORWARD_AUDIENCE or len(who.forwarded) > MAX_PARTIES:
            # passing news on to a group, or passing on a group's mail: no one person
            many = max(len(who.candidates), len(who.forwarded))
            add("forwards_to_many", f"{many} people addressed or in the forwarded mail")
    if len(named_parties) >= 2:
        add("names_two_parties", ", ".join(a.email for a in named_parties[:4]))
    greeting = greeting_line(text, data)
    greeted = capitalised_words(greeting)
    # "Hi both" greets two parties; "Hi all" only when two are addressed (to more, it is any
    # group mail's greeting: "Hi all, Sam books the room, Jo brings snacks")
    group_word = r"both|two|ambos|los\sdos" + (r"|all|a\stodos" if len(addrs) == 2 else "")
    if greeting and (
        len(told_apart([a for a in addrs if named(a, greeted)], greeted)) >= 2
        or re.search(rf"\b(?:{group_word})\b", greeting, re.IGNORECASE)
    ):
        add("greets_the_parties", f"“{greeting[:60]}”")
    # Someone who refers the owner speaks to and describes the owner as one of the two sides.
    sides = addrs + ([owner] if shape == "referral_to_owner" and owner is not None else [])
    spoken = spoken_to(text, sides)
    if len(spoken) >= 2:
        add("speaks_to_each", ", ".join(a.email for a in spoken[:4]))
    described = describing_sentence(named_in, addrs, data)
    if described:
        add("describes_a_party", f"“{described[:80]}”")
    each = distinct(described_sides(named_in, sides))
    # one described to the other: someone the mail reaches is among them (a list of contacts
    # described to the reader connects nobody)
    reached = {*who.candidates, *([owner] if owner is not None else [])}
    if len(each) >= 2 and any(a in reached for a in each):
        add("describes_each_side", ", ".join(a.email for a in each[:4]))
    if shape == "forward" and note_names(text, addrs[-1:]):
        add("note_names_forwarded_author", f"the note speaks of {addrs[-1]}")
    shown = presented(text, [a for a in addrs if a in who.copied])
    if shown:
        add("presents_the_copied", f"presents {shown}")
    # (the addresses compared as (email, name) pairs: the same test as `a in addrs`, without a
    # call of the dataclass's __eq__ per pair)
    keys = {(a.email, a.name) for a in addrs} if who.in_text else set()
    given = [a for a in who.in_text if (a.email, a.name) in keys and named(a, words)]
    if given:
        add("gives_an_address", ", ".join(str(a) for a in given[:2]))
    target = _direction_and_copy(msg, shape, who, addrs, text, cues, words, add, group)
    stranger = one_reader(msg, shape, who, text, cues, named_in, data, target, add)
    forwarded = shape == "forward" or relayed  # the forwarded people are in the history
    # (someone the author sends the reader to, with no address here, is new to the thread)
    if (
        msg.history
        and not forwarded
        and not stranger
        and all(on_thread(a, msg.history) for a in addrs)
    ):
        add("no_new_party", "everyone addressed was already on the thread")


def _direction_and_copy(
    msg: ParsedMessage,
    shape: str,
    who: People,
    addrs: list[Address],
    text: str,
    cues: dict[str, str],
    words: set[str],
    add: Callable[[str, str], None],
    group: bool = False,
) -> Address | None:
    """Whom the reader is sent to, and who is copied in and named: the hand-on features.
    Returns the party the reader is sent to, if any."""
    target = directs(msg, shape, who, addrs, text)
    directed = str(target) if target is not None else ""
    if target is not None and shape == "forward" and target in who.forwarded[:1]:
        # "Could you give her a call?" above her mail: the note hands her on to the reader
        add("directs_to_forwarded", f"asks the reader to reach {directed}")
    elif target is not None:
        add("directs_to_a_party", f"points to {directed}")
    # (sending the reader to someone copied: naming them weighs; to someone handed on in a
    # forward or by address, the direction alone says it)
    to_copied = directed if any(str(a) == directed for a in who.candidates) else ""
    copy_or_hand = cues.get("cue_copy_in", "") or cues.get("cue_hand_off", "") or to_copied
    copy = cues.get("cue_copy_in", "")
    # the copy's own words name whom it copies even when the whole text has too many words
    # for a local part to match ("+CC Linan" is linan122@…)
    in_copy = capitalised_words(copy) | {a.email.partition("@")[0] for a in by_mailbox(copy, who)}

    def said(a: Address) -> bool:
        return named(a, words) or named(a, in_copy)

    unseen = shape == "loop_in"  # until the copied is found among the addresses
    if copy_or_hand and any(said(a) for a in who.candidates):
        # (a copy-in names someone copied: in Cc, or beside another addressee; the one reader
        # asked to copy a group later is not copied in. A hand-off names whom it hands on.)
        cc_like = copy_or_hand != copy or len(who.candidates) >= 2
        copied = [
            a
            for a in addrs
            if said(a) and not on_thread(a, msg.history) and (cc_like or a in who.copied)
        ]
        if copied:
            add("names_the_copied", ", ".join(a.email for a in copied[:4]))
            unseen = False
    elif shape == "loop_in" and any(a in who.copied for a in addrs):
        add("copied_last_in_cc", ", ".join(a.email for a in addrs if a in who.copied))
        unseen = False
    everyone = (*msg.envelope.recipients, *([msg.sender] if msg.sender else []))
    unseen_name = unaddressed_name(copy, everyone) if unseen else ""
    if unseen_name:
        # "CC'ing Ben for confirmation" with no address of Ben's: a person copied all the same
        add("names_someone_unaddressed", f"“{unseen_name}” copied, no address here is theirs")
    if unseen and not unseen_name and copy and "neg_list_copy" not in cues:
        # "Added linux-doc to Cc": a list named by its mailbox, and no person: a list copy
        listed = lists_by_mailbox(copy, msg.envelope.recipients, who.lists)
        if listed:
            add("neg_list_copy", f"copies the list {listed[0].email}")
    if group:
        add("copies_a_group", f"“{cues['cue_copy_in'][:60]}”")
    return target


def _spoken_of(
    parties: tuple[tuple[Address, bool], ...],
    msg: ParsedMessage,
    named_in: list[tuple[str, set[str]]],
) -> tuple[tuple[Address, bool], ...]:
    """The parties without the copies the author never names: "Please get with Bill D." to
    Laura and Bill, with three more in Cc, connects Laura and Bill. Those addressed in To and
    those named stay, when that leaves two or more."""
    words: set[str] = set().union(*(w for _, w in named_in))
    kept = tuple((a, r) for a, r in parties if a in msg.envelope.to or named(a, words))
    return kept if len(kept) >= 2 else parties
