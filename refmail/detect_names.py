"""What the author calls each party whose display name names nobody.

A display name says nothing when it is missing, a placeholder ("you <you@…>"), the address
itself, or only the address's local part in any case ("sbwhoeop", "ValmoroLj <valmorolj@…>"); a
single capitalised word equal to the local part ("Mike <mike@…>") is a name someone chose and is
kept. For a party whose display name says nothing, the author's own text gives the name, written
as the author wrote it:
- a greeting or vocative that detection ties to exactly that party ("Bob, meet…" to bob@…),
  or, opening the mail, one spoken to the only such party it is addressed to ("Sid--" to
  sbwhoeop@…, the name's initial fitting the address);
- a full name, or a name in the sentence that copies people in, that `named` ties to exactly
  that party and to nobody with a name of their own ("copying Jake Sullivan" for sullivanjj@…);
- the names of a copy-in left over ("copying Philippe and Jake … and Lona"), as many as the
  nameless people copied, when each name's initial fits exactly one of their addresses in turn
  (reinesp, sullivanjj, valmorolj: surname then initials).
One name is one person: a name that fits two parties names neither. When nothing names a party
its name is "" and the templates say "Hi there,". Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from refmail.detect_languages import LANGUAGES
from refmail.detect_parties import named
from refmail.parse import Address
from refmail.patterns import Lazy

# Display names that stand for nobody in particular.
_PLACEHOLDERS = frozenset({"you", "me", "user", "unknown", "recipient", "undisclosed recipients"})
# Capitalised words that open a line or a copy-in without naming anyone.
_NOT_NAMES = frozenset(
    {"i", "i'm", "i've", "i'll", "i'd", "hi", "hey", "hello", "dear", "thanks", "thank", "yes"}
    | {"no", "ok", "okay", "sorry", "great", "please", "pls", "also", "so", "well", "sure", "all"}
    | {"both", "everyone", "team", "folks", "guys", "good", "cc", "fyi", "re", "fw", "fwd", "and"}
    | {"the", "to", "who", "as", "since", "for", "he", "she", "they", "we", "you", "it", "this"}
    | {"that", "per", "best", "regards", "cheers", "morning", "afternoon", "evening", "my", "our"}
    # the verbs of a copy-in, capitalised when they open the sentence
    | {"adding", "added", "copying", "copied", "cc'ing", "ccing", "cc'd", "cced", "looping"}
    | {"including", "bringing", "+cc", "cc'ed"}
)
# The greetings of every language refmail reads (their one home is detect_lang).
_GREETING = "(?:" + "|".join(data.greeting for data in LANGUAGES.values()) + ")"
# (a hyphen joins two parts of one name, "Mary-Jane"; "Sid--" is Sid and a dash)
_WORD = r"[A-ZÁÉÍÓÚÑ][a-záéíóúñ'’]{1,30}(?:-[A-ZÁÉÍÓÚÑ]?[a-záéíóúñ]{1,30})?"
# A name spoken to where a line (or a sentence) opens: "Bob, meet…", "Sid--", "Hi Maya",
# "Hi Maya and Leo,". The name is a capitalised word; a greeting may come before it.
_VOCATIVE = Lazy(
    rf"(?:^[ \t]*|(?<=[.!?] ))(?P<greet>{_GREETING}[ \t]{{1,3}})?(?P<a>{_WORD})"
    rf"(?:[ \t](?:and|&)[ \t](?P<b>{_WORD}))?"
    r"(?P<end>[ \t]?(?:,|:|!|--|[–—])|[ \t]-[ \t]|[ \t]*$)",
    re.MULTILINE,
)
# A name phrase of running text: one to three capitalised words ("Jake Sullivan").
_PHRASE = Lazy(r"[A-ZÁÉÍÓÚÑ][\w'’-]{1,30}(?:[ \t][A-ZÁÉÍÓÚÑ][\w'’-]{1,30}){0,2}")
_SCAN = 6000  # names are given near the top of the author's note


def says_nothing(addr: Address) -> bool:
    """The display name names nobody.

    >>> says_nothing(Address("valmorolj@x.org", "ValmoroLj"))
    True
    >>> says_nothing(Address("mike@x.org", "Mike")), says_nothing(Address("you@x.org", "you"))
    (False, True)
    """
    name = addr.name.strip().strip("\"'").strip()
    lowered = name.lower()
    if not name or lowered in _PLACEHOLDERS or lowered == addr.email:
        return True
    if " " in name or _letters(name) != _letters(addr.email.split("@")[0]):
        return False
    return not (name[0].isupper() and name[1:].islower())  # "Mike" was chosen; "ValmoroLj" not


def _letters(text: str) -> str:
    return re.sub(r"[\W\d_]", "", text.lower())


def initial_fits(name: str, addr: Address) -> bool:
    """The name's initial opens the local part or is among its last two letters: first.last,
    flast, lastf, lastfm (sbwhoeop for Sid, reinesp for Philippe, valmorolj for Lona)."""
    letters = _letters(addr.email.split("@")[0])
    initial = name[:1].lower()
    return bool(initial) and (letters.startswith(initial) or initial in letters[-2:])


def party_names(
    text: str,
    parties: Sequence[Address],
    addressed: Sequence[Address],
    copied: Sequence[Address],
    others: Sequence[Address],
    copy_text: str = "",
) -> dict[str, str]:
    """The name the author's text gives each party whose display name says nothing (by email).

    `addressed` are the To recipients, `copied` the Cc ones, `others` the people besides the
    parties (the author, the owner): a name of anyone with a name of their own names no party.
    """
    nameless = [a for a in parties if says_nothing(a)]
    if not nameless:
        return {}
    text = text[:_SCAN]
    have_names = [a for a in (*parties, *others) if not says_nothing(a)]
    found: dict[str, str] = {}
    refused: set[str] = set()  # parties two different names were given: no name

    def free(words: set[str]) -> bool:
        return not words & _NOT_NAMES and not any(named(a, words) for a in have_names)

    def give(addr: Address, name: str) -> None:
        old = found.get(addr.email)
        if addr.email in refused or old == name:
            return
        if old is None or name.startswith(old + " "):  # "Jake", then "Jake Sullivan"
            found[addr.email] = name
        elif not old.startswith(name + " "):
            refused.add(addr.email)

    for name, opening, alone in _vocatives(text):
        words = {name.lower()}
        if not free(words):
            continue
        hits = [a for a in nameless if named(a, words)]
        if len(hits) == 1:
            give(hits[0], name)
        elif not hits and opening and alone:
            to = [a for a in addressed if a in nameless and a.email not in found]
            if len(to) == 1 and initial_fits(name, to[0]):
                give(to[0], name)
    in_copy = set(_phrases("", copy_text))
    left_in_copy: list[str] = []
    for phrase in _phrases(text, copy_text):
        words = {w.lower() for w in phrase.split()}
        if not free(words):
            continue
        hits = [a for a in nameless if named(a, words)]
        if len(hits) == 1 and (len(words) >= 2 or phrase in in_copy):
            give(hits[0], phrase)
        elif not hits and phrase in in_copy and len(words) == 1:
            left_in_copy.append(phrase)
    waiting = [a for a in copied if a in nameless and a.email not in found]
    for addr, name in _by_initials(list(dict.fromkeys(left_in_copy)), waiting).items():
        give(addr, name)
    return {email: name for email, name in found.items() if email not in refused}


def _vocatives(text: str) -> list[tuple[str, bool, bool]]:
    """(name, opens the mail, stands alone on its line or after a greeting) per vocative."""
    opening_at = len(text) - len(text.lstrip())
    out: list[tuple[str, bool, bool]] = []
    for m in _VOCATIVE().finditer(text):
        end = m.group("end")
        if not end.strip() and not m.group("greet"):
            continue  # a capitalised word alone on its line is no vocative without a greeting
        rest = text[m.end() : text.find("\n", m.end()) if "\n" in text[m.end() :] else None]
        alone = bool(m.group("greet")) or not rest.strip() or end.strip() in ("--", "–", "—")
        for name in filter(None, (m.group("a"), m.group("b"))):
            out.append((name, m.start() <= opening_at + 1, alone and not m.group("b")))
    return out


def _phrases(text: str, copy_text: str) -> list[str]:
    """Name phrases of the copy-in first (names given to the people copied), then the text."""
    found = (_trimmed(m.group(0)) for part in (copy_text, text) for m in _PHRASE().finditer(part))
    return [p for p in found if p]


def _trimmed(phrase: str) -> str:
    """The phrase without the words around a name that a sentence capitalises ("Adding
    Roman" is Roman, "Cc Sima" is Sima)."""
    words = phrase.split()
    while words and words[0].lower() in _NOT_NAMES:
        words.pop(0)
    while words and words[-1].lower() in _NOT_NAMES:
        words.pop()
    return " ".join(words)


def _by_initials(names: list[str], waiting: list[Address]) -> dict[Address, str]:
    """Names left over from a copy-in, one per nameless person copied: each name in turn that
    fits exactly one person still waiting takes them. Nothing unless the counts agree."""
    if not names or len(names) != len(waiting):
        return {}
    out: dict[Address, str] = {}
    names, waiting = list(names), list(waiting)
    while names:
        for name in names:
            fits = [a for a in waiting if initial_fits(name, a)]
            if len(fits) == 1:
                out[fits[0]] = name
                names.remove(name)
                waiting.remove(fits[0])
                break
        else:
            return {}  # no forced choice: guessing would give someone another's name
    return out
