"""The evidence that a message is (or only looks like) an introduction, and whom it connects.

`read` finds every feature in one message: cues and look-alike phrases in the author's own text
(one combined pattern per language, one pass), and the shape of the message (who is addressed,
named, greeted, spoken to, described, copied in, forwarded). Each feature carries the weight of
`detect_weights`; their sum against the threshold decides. It also picks the parties and, per
party, the sentences that describe them. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from refmail.detect_lang import LANGUAGES, LanguageData
from refmail.detect_parties import People, capitalised_words, named, people
from refmail.detect_text import AuthorText, author_text, forwarded_text, language, sentences
from refmail.detect_weights import THRESHOLD, WEIGHTS
from refmail.parse import Address, ParsedMessage

MAX_PARTIES = 8  # an "introduction" of more people than this is an announcement
QUOTE_MARKS = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})
_ACTS = ("cue_introduce", "cue_meet", "cue_connect", "cue_should_talk", "cue_opt_in_ask")
_HAND_OVER = ("cue_hand_off", "cue_copy_in", "cue_gave_name")
_NOT_SOMEONE = frozenset({"we", "it", "this", "that", "you", "they", "i", "there", "what"})
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

    @property
    def total(self) -> float:
        return round(sum(e.weight for e in self.evidence), 3)

    @property
    def is_introduction(self) -> bool:
        return self.total >= THRESHOLD

    def has(self, feature: str) -> bool:
        return any(e.feature == feature for e in self.evidence)


@functools.lru_cache(maxsize=8)
def _patterns(code: str) -> dict[str, re.Pattern[str]]:
    return {n: re.compile(src, re.MULTILINE) for n, src in LANGUAGES[code].cues.items()}


def find_cues(
    text: str, code: str, gated: bool = True, sentence_list: list[str] | None = None
) -> dict[str, str]:
    """Cue feature -> the words that showed it (first occurrence, sentence by sentence).

    One pass of substring searches finds, for every cue, the sentences holding one of its gate
    words (words without which its pattern cannot match); the cue's pattern then runs on those
    sentences only. Most mail holds few gate words, so few patterns run, on little text.
    `gated=False` runs every pattern on every sentence (the tests compare both ways).
    """
    data = LANGUAGES[code]
    sent = sentences(text) if sentence_list is None else sentence_list
    lowered = "\n".join(sent).lower().replace("’", "'")
    starts: list[int] = []
    offset = 0
    for sentence in sent:
        starts.append(offset)
        offset += len(sentence) + 1
    found: dict[str, str] = {}
    for name, pattern in _patterns(code).items():
        if name == "cue_copy_why" and "cue_copy_in" not in found:
            continue  # "who knows…" only explains a copy
        gates = data.gates.get(name) if gated else None
        where = range(len(sent)) if gates is None else _holding(lowered, gates, starts)
        for i in where:
            snippet = _first_match(name, pattern, sent[i])
            if snippet:
                found[name] = snippet
                break
    return found


def _holding(lowered: str, words: tuple[str, ...], starts: list[int]) -> list[int]:
    """Indexes of the sentences (starting at `starts` in `lowered`) that hold one of `words`."""
    hits: set[int] = set()
    for word in words:
        pos = lowered.find(word)
        while pos != -1 and len(hits) < 200:
            hits.add(bisect.bisect_right(starts, pos) - 1)
            pos = lowered.find(word, pos + 1)
    return sorted(hits)


def _first_match(name: str, pattern: re.Pattern[str], sentence: str) -> str:
    for match in pattern.finditer(sentence):
        words = " ".join(match.group(0).split())
        if name == "cue_hand_off" and words.split(" ")[0].lower() in _NOT_SOMEONE:
            continue  # "We will be in touch" is a promise, not a hand-off to someone else
        return words[:100]
    return ""


_SUBJECT_INTRO = re.compile(
    r"^\s*(?:(?:fwd?|tr|wg|rv)\s*:\s*)*(?:(?:intro(?:duction|ducción)?s?|e-?intro|presentación)"
    r"\b|[^\n]{0,80}\S\s{0,3}(?:<\s?=?\s?>|<-+>|↔)\s{0,3}\S|[^\n]{0,60}\bmeet\s\S"
    r"|[A-Z][\w'-]{1,30}(?:\s[A-Z][\w'-]{1,30})?\s(?:\+|&|y|and)\s[A-Z][\w'-]{1,30}\s*$)",
    re.IGNORECASE,
)
_REPLY_SUBJECT = re.compile(r"^\s*(?:re|aw|sv|res)\s*:", re.IGNORECASE)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|tr|wg|rv)\s*:", re.IGNORECASE)
_FORWARD_MARK = re.compile(
    r"^\s*(?:-{2,}\s*(?:Forwarded message|Forwarded by|Mensaje reenviado)|Begin forwarded message:"
    r"|Inicio del mensaje reenviado:)",
    re.IGNORECASE | re.MULTILINE,
)
_REQUEST_SUBJECT = re.compile(
    r"^\s*(?:intro(?:duction)?|connection)\s(?:to|with)\b[^\n]{0,200}\?\s*$|\bforwardable\b"
    r"|\bthanks?\b[^\n]{0,100}\b(?:intro|introduction|referral)\b",
    re.IGNORECASE,
)
_PATCH_SUBJECT = re.compile(r"^\s*\[(?:PATCH|RFC)", re.IGNORECASE)
_REASON = re.compile(
    r"\b(?:because|since|similar|mutual(?:ly)?|in\scommon|interest(?:ed|ing)?|might|could\shelp|"
    r"benefit|both\s(?:like|love|work)|good\sfit|looking\sfor|hoping|porque|similar|en\scomún)\b",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^\s*(?:best|thanks|thank you|cheers|regards|kind regards|all the best|warmly|saludos|"
    r"un abrazo|gracias)\b",
    re.IGNORECASE,
)


def read(
    msg: ParsedMessage, keep: Callable[[Address], bool], is_owner: Callable[[Address], bool]
) -> Reading:
    """Every feature of `msg`; `keep` says whether an address may be a party at all."""
    written = author_text(msg)
    text = written.text.translate(QUOTE_MARKS)
    who = people(msg, keep, text)
    relay = _relayed(msg, who, is_owner)
    if relay is not None:
        # Forwarded to refmail (or the owner) alone: the forwarded mail is the introduction.
        text = (text + "\n\n" + forwarded_text(msg).translate(QUOTE_MARKS)).strip()
        who = people(msg, keep, text)
    code = language(text, _STOP_WORDS)
    data = LANGUAGES[code]
    sentence_list = sentences(text)
    cues = find_cues(text, code, sentence_list=sentence_list)
    subject = msg.subject.translate(QUOTE_MARKS)
    found: list[Evidence] = []

    def add(feature: str, evidence: str) -> None:
        found.append(Evidence(feature, WEIGHTS.get(feature, 0.0), evidence))

    for feature, words in cues.items():
        if feature == "cue_copy_why" and "cue_copy_in" not in cues:
            continue  # "who knows…" only explains a copy
        add(feature, f"“{words}”")
    _subject_features(subject, add)
    shape = _shape(msg, who, cues, is_owner)
    parties = _parties(shape, who, text, sentence_list, cues, written, code)
    if relay is not None:
        shape = "referral_to_owner" if relay else "forward"
        introducer = msg.quoted[0].sender if relay else None
        parties = tuple((a, r) for a, r in parties if introducer is None or a != introducer)
    named_in = [(s, capitalised_words(s)) for s in sentence_list]
    _shape_features(msg, shape, who, parties, text, data, cues, named_in, add)
    about: dict[str, str] = {}
    about_owner = context = ""
    if sum(e.weight for e in found) >= THRESHOLD:  # sentences only for introductions
        acts = tuple(v for k, v in cues.items() if k in _ACTS or k in _HAND_OVER)
        context = context_sentence(text, code, acts)
        about = {a.email: about_sentences(a, named_in, data) for a, _ in parties}
        recipients = msg.envelope.recipients
        if relay:
            recipients = msg.quoted[0].to + msg.quoted[0].cc
        owner = next((a for a in recipients if is_owner(a)), None)
        if owner is not None and shape == "referral_to_owner":
            about_owner = about_sentences(owner, named_in, data)
    return Reading(
        language=code,
        evidence=tuple(found),
        shape=shape,
        parties=parties,
        about={k: v for k, v in about.items() if v},
        about_owner=about_owner,
        context=context,
        introducer=msg.quoted[0].sender if relay else None,
    )


def _relayed(
    msg: ParsedMessage, who: People, is_owner: Callable[[Address], bool]
) -> bool | None:
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


def _subject_features(subject: str, add: Callable[[str, str], None]) -> None:
    if _REQUEST_SUBJECT.search(subject):
        add("request_subject", f"subject “{subject[:80]}” asks or thanks for an intro")
    elif not _REPLY_SUBJECT.match(subject) and _SUBJECT_INTRO.match(subject):
        add("subject_names_intro", f"subject “{subject[:80]}”")
    if _PATCH_SUBJECT.match(subject):
        add("patch_posting", f"subject “{subject[:80]}” posts a patch")


def _is_forward(msg: ParsedMessage) -> bool:
    """A real forward (not an Outlook reply with its "Original Message" history)."""
    return bool(_FORWARD_SUBJECT.match(msg.subject)) or bool(
        _FORWARD_MARK.search(msg.full_text[:60_000])
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
    sentence_list: list[str],
    cues: dict[str, str],
    written: AuthorText,
    code: str,
) -> tuple[tuple[Address, bool], ...]:
    out: dict[str, tuple[Address, bool]] = {}
    if shape == "loop_in":
        copied = _copied(who, sentence_list, cues, code)
        for addr in copied:
            out[addr.email] = (addr, True)
        counterpart = _counterpart(who, text, written, copied)
        if counterpart is not None:
            out.setdefault(counterpart.email, (counterpart, True))
        return tuple(out.values())
    for addr in who.candidates:
        out[addr.email] = (addr, True)
    if shape == "forward" or not who.candidates:
        # The forwarded message is the introduction (or names the person being passed on).
        reached = not who.candidates
        if shape == "forward" and who.candidates:
            forwarded = who.forwarded[:1]  # the author of the forwarded mail
        else:
            forwarded = who.forwarded
        for addr in forwarded:
            out.setdefault(addr.email, (addr, reached))
    for addr in who.in_text:
        out.setdefault(addr.email, (addr, False))
    return tuple(out.values())


def copy_sentence(sentence_list: list[str], cues: dict[str, str], code: str = "en") -> str:
    """The sentences that copy someone in."""
    if "cue_copy_in" not in cues:
        return ""
    pattern = _patterns(code)["cue_copy_in"]
    gates = LANGUAGES[code].gates.get("cue_copy_in", ("",))
    return (
        " ".join(
            s
            for s in sentence_list
            if any(g in s.lower() for g in gates) and pattern.search(s) is not None
        )
        or cues["cue_copy_in"]
    )


_PHRASE = re.compile(r"[A-ZÁÉÍÓÚÑ][\w'’-]{1,30}(?:\s[A-ZÁÉÍÓÚÑ][\w'’-]{1,30}){0,2}")
_COPY_WORDS = re.compile(
    r"(?i)(?:\b(?:cc'?ing|cc'?ed|cced|copying|adding|added|copied|looping\sin)\b|\+\s?cc\b:?|\bcc:)"
)
_NOT_NAMES = frozenset(
    {"i", "i'm", "i've", "cc", "to", "the", "and", "who", "as", "since", "for", "thanks", "hi"}
)


def _copied(
    who: People, sentence_list: list[str], cues: dict[str, str], code: str
) -> list[Address]:
    """The recipients named where the author copies someone in.

    A name phrase ("Michal Koutný") picks the recipients matching all its words, else any;
    people in Cc are preferred (the ones just copied in). When no phrase matches anyone, the
    last Cc addresses without a display name stand for the unmatched names ("+cc Roman" and
    guro@…): a nameless address cannot be matched by name, and clients append new copies.
    """
    sentence = copy_sentence(sentence_list, cues, code)
    found = [a for a in who.candidates if a.email in who.written]  # "+cc Michal <mkoutny@…>"
    sentence = _COPY_WORDS.sub(" ", sentence)
    phrases = []
    for match in _PHRASE.finditer(sentence):
        if sentence[max(0, match.start() - 4) : match.start()].lower() == "the ":
            continue  # "the PMBus maintainers" is a group, not a person
        words = [w.lower() for w in match.group(0).split() if w.lower() not in _NOT_NAMES]
        if words:
            phrases.append(words)
    for words in [] if found else phrases:
        loose = [a for a in who.candidates if named(a, set(words))]
        pool = [a for a in loose if a in who.copied] or loose
        strict = [a for a in pool if all(named(a, {w}) for w in words)]
        for addr in strict or pool:
            if addr not in found:
                found.append(addr)
    if found or not phrases:
        return found
    nameless = [a for a in who.copied if not a.name or a.name.lower() == a.email.split("@")[0]]
    # (a display name equal to the local part is no name: "sullivanjj <sullivanjj@…>")
    return nameless[-min(len(phrases), 3) :] if nameless else []


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
) -> None:
    addrs = [a for a, _ in parties]
    words: set[str] = set().union(*(w for _, w in named_in))
    named_parties = [a for a in addrs if named(a, words)]
    if not addrs:
        add("no_parties", "nobody to connect")
        return
    if len(who.candidates) > MAX_PARTIES and shape != "loop_in":
        add("broadcast", f"sent to {len(who.candidates)} people")
    if len(who.candidates) >= 2:
        add("people_addressed_2plus", f"{len(who.candidates)} people addressed")
    if shape == "referral_to_owner":
        add("owner_and_someone_new", "written to the owner and someone new")
    if shape == "forward":
        add("forwards_a_person", f"forwards mail of {addrs[-1]}")
    if len(named_parties) >= 2:
        add("names_two_parties", ", ".join(a.email for a in named_parties[:4]))
    greeting = _greeting_line(text, data)
    if greeting and (
        sum(named(a, capitalised_words(greeting)) for a in addrs) >= 2
        or re.search(r"\b(?:both|all|two|ambos|los\sdos|a\stodos)\b", greeting, re.IGNORECASE)
    ):
        add("greets_the_parties", f"“{greeting[:60]}”")
    spoken = _spoken_to(text, addrs)
    if len(spoken) >= 2:
        add("speaks_to_each", ", ".join(a.email for a in spoken[:4]))
    described = _described(named_in, addrs, data)
    if described:
        add("describes_a_party", f"“{described[:80]}”")
    copy_or_hand = cues.get("cue_copy_in", "") or cues.get("cue_hand_off", "")
    if copy_or_hand and any(named(a, words) for a in who.candidates):
        copied = [a for a in addrs if named(a, words) and not _on_thread(a, msg.history)]
        if copied:
            add("names_the_copied", ", ".join(a.email for a in copied[:4]))
    elif shape == "loop_in" and any(a in who.copied for a in addrs):
        add("copied_last_in_cc", ", ".join(a.email for a in addrs if a in who.copied))
    if len(who.candidates) == 1 and shape == "owner_intro" and not who.in_text:
        add("single_person_addressed", who.candidates[0].email)
    if msg.history and shape != "forward" and all(_on_thread(a, msg.history) for a in addrs):
        add("no_new_party", "everyone addressed was already on the thread")


def _greeting_line(text: str, data: LanguageData) -> str:
    for line in text.split("\n")[:4]:
        if re.match(rf"\s*{data.greeting}\b", line):
            return line.strip()
    return ""


_VOCATIVE = re.compile(r"^\s*(?:\w+\s)?([A-Z][\w'-]{1,30})\s?(?:[,:!]|\s[-–—]\s)", re.MULTILINE)


def _spoken_to(text: str, addrs: list[Address]) -> list[Address]:
    """Parties the author speaks to by name at the start of a line ("Blair,", "Ana - …")."""
    names = {m.group(1).lower() for m in _VOCATIVE.finditer(text[:6000])}
    names |= {m.lower() for m in re.findall(r"\b([A-Z][\w'-]{1,30}),\smeet\b", text[:6000])}
    names |= {m.lower() for m in re.findall(r"\bmeet\s([A-Z][\w'-]{1,30})\b", text[:6000])}
    return [a for a in addrs if named(a, names)]


def _described(
    named_in: list[tuple[str, set[str]]], addrs: list[Address], data: LanguageData
) -> str:
    describes = re.compile(data.describes)
    for sentence, words in named_in:
        if words and any(named(a, words) for a in addrs) and describes.search(sentence):
            return sentence
    return ""


def _vocative(sentence: str) -> set[str]:
    """The name a sentence is spoken to ("Tom, Priya leads…" → {"tom"}): not its subject."""
    match = re.match(r"\s*([A-Z][\w'-]{1,30})\s?[,:]", sentence)
    return {match.group(1).lower()} if match else set()


def about_sentences(
    addr: Address, named_in: list[tuple[str, set[str]]], data: LanguageData
) -> str:
    """The sentences that describe `addr` (up to two): named there and described there."""
    describes = re.compile(data.describes)
    greeting = re.compile(rf"^\s*{data.greeting}\b")
    picked = [
        s
        for s, words in named_in
        if named(addr, words - _vocative(s))
        and describes.search(s)
        and not greeting.match(s)
        and len(s.split()) >= 4
    ]
    return " ".join(picked[:2])[:400]


def _on_thread(addr: Address, history: str) -> bool:
    """The person already appears in a quoted header line (From/To/Cc) of the history."""
    if not history:
        return False
    lines = re.findall(
        r"^[>\s]{0,20}\*?(?:from|to|cc|sent\sby)\*?\s{0,4}:([^\n]{0,2000})$",
        history[:60_000],
        re.IGNORECASE | re.MULTILINE,
    )
    headers = "\n".join(lines).lower()
    if addr.email in headers:
        return True
    words = set(re.findall(r"[a-z][a-z'-]+", headers))
    parts = {p.lower() for p in re.findall(r"[A-Za-z][A-Za-z'-]{1,}", addr.name or "")}
    return len(parts) >= 2 and parts <= words


_CAPITALISED_PAST_ONE = re.compile(r"(?<=\s)[A-Z][a-z]{2,}")
CONTEXT_SENTENCES = 40  # sentences of the author's text weighed for the context sentence


@functools.lru_cache(maxsize=8)
def _language_patterns(code: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The compiled "describes a person" and "greeting line" patterns of a language."""
    data = LANGUAGES.get(code, LANGUAGES["en"])
    return re.compile(data.describes), re.compile(rf"^\s*{data.greeting}\b[^\n]{{0,60}}$")


def context_sentence(text: str, code: str = "en", cues: tuple[str, ...] | None = None) -> str:
    """The one sentence that best says why these people should talk (for the follow-ups).

    Prefers a sentence with an introduction cue that says who someone is or why they should
    talk; greetings and sign-offs never qualify.

    >>> context_sentence("Hi Bob,\\n\\nMeet Alice, who builds boats. You should talk.\\n\\nJoe")
    'Meet Alice, who builds boats.'
    """
    code = code if code in LANGUAGES else "en"
    describes, greeting = _language_patterns(code)
    body = "\n".join(
        line for line in text.translate(QUOTE_MARKS).split("\n") if not greeting.match(line)
    )
    candidates = [
        s
        for s in sentences(body)[:CONTEXT_SENTENCES]
        if len(s.split()) >= 3 and not _SIGN_OFF.match(s)
    ]
    if not candidates:
        return ""
    if cues is None:
        cues = tuple(find_cues(body, code).values())
    snippets = [c[:25] for c in cues]

    def score(sentence: str) -> int:
        cue = any(snippet in sentence for snippet in snippets)
        names = _CAPITALISED_PAST_ONE.search(sentence) is not None
        short = len(sentence.split()) < 6
        described = describes.search(sentence) is not None
        return cue + described + (_REASON.search(sentence) is not None) + names - short

    best = max(enumerate(candidates), key=lambda item: (score(item[1]), -item[0]))
    return best[1][:300]
