"""Which parties the author's text tells apart, speaks to by name, greets and describes.

Name matching over the author's lines and sentences for `detect_features`: one party per
person ("Krzysztof Kozlowski" at two addresses), one party per word ("Hi Greg," names one Greg),
the names a line opens by speaking to ("Blair,", "Hi Ana -"), and the sides made the subject
of a describing clause ("Dana runs …"). Pure: no I/O.
"""

from __future__ import annotations

import re

from refmail.detect_lang import LanguageData
from refmail.detect_parties import base_email, capitalised_words, name_tokens, named
from refmail.detect_sentences import CONTEXT_SENTENCES, describes
from refmail.parse import Address


def told_apart(addrs: list[Address], words: set[str]) -> list[Address]:
    """The addresses that different words name: "Hi Greg," names one Greg even when two are
    addressed, and "Dear Mr. Lay" one person even at two addresses. Each word names one."""
    if len(addrs) < 2:
        return addrs
    used: set[str] = set()
    out: list[Address] = []
    # the people named by fewest words pick first, so a shared surname does not block them
    ranked = sorted(addrs, key=lambda a: len(name_tokens(a) & words) or 1)
    for addr in ranked:
        own = sorted(name_tokens(addr) & words) or [base_email(addr.email).split("@")[0]]
        free = next((w for w in own if w not in used), None)
        if free is not None:
            used.add(free)
            out.append(addr)
    return [a for a in addrs if a in out]


def _person_key(addr: Address) -> str:
    """One key per person: "Krzysztof Kozlowski" at two addresses, or k.k@x and k.k+dt@x."""
    tokens = name_tokens(addr)
    if addr.name and len(tokens) >= 2:
        return " ".join(sorted(tokens))
    return base_email(addr.email).split("@")[0]


def distinct(addrs: list[Address]) -> list[Address]:
    """The addresses, one per person (the same person at two addresses counts once)."""
    seen: set[str] = set()
    out: list[Address] = []
    for addr in addrs:
        key = _person_key(addr)
        if key not in seen:
            seen.add(key)
            out.append(addr)
    return out


def greeting_line(text: str, data: LanguageData) -> str:
    """The greeting line among the text's first four ("Hi Maya and Leo,"), else ""."""
    for line in text.split("\n")[:4]:
        if re.match(rf"\s*{data.greeting}\b", line):
            return line.strip()
    return ""


# A line or sentence opening with a name spoken to: "Blair,", "Hi Ana -", "Carmen, Ben:",
# "Maya and Leo,", "… . John, Jane runs …". Only a greeting may come before the name
# ("Copying Jamie," speaks to nobody).
VOCATIVE = re.compile(
    r"(?:^[ \t]*|(?<=[.!?] ))(?:(?i:hi|hey|hello|dear|and|so)[ \t])?([A-Z][\w'-]{1,30})"
    r"(?:(?:,[ \t]|[ \t](?:and|&)[ \t])([A-Z][\w'-]{1,30}))?\s?(?:[,:!]|\s[-–—]\s)",
    re.MULTILINE,
)


_GREETS = frozenset({"hi", "hey", "hello", "dear", "and", "so"})


def spoken_to(text: str, addrs: list[Address]) -> list[Address]:
    """Parties the author speaks to by name at the start of a line ("Blair,", "Ana - …")."""
    names: set[str] = set()
    for m in VOCATIVE.finditer(text[:6000]):
        # "Hi Maya and Leo," is a greeting (weighed apart): there the first name alone counts.
        greeted = m.group(0).lstrip()[:1].islower() or m.group(0).split()[0].lower() in _GREETS
        names.update(n.lower() for n in (m.groups()[:1] if greeted else m.groups()) if n)
    if "meet" in text:
        names |= {m.lower() for m in re.findall(r"\b([A-Z][\w'-]{1,30}),\smeet\b", text[:6000])}
        names |= {m.lower() for m in re.findall(r"\bmeet\s([A-Z][\w'-]{1,30})\b", text[:6000])}
    return told_apart(distinct([a for a in addrs if named(a, names)]), names)


def describing_sentence(
    named_in: list[tuple[str, set[str]]], addrs: list[Address], data: LanguageData
) -> str:
    """The first sentence that names one of `addrs` and describes (the language's "runs",
    "who" …), else ""."""
    for sentence, words in named_in:
        # the pattern first: one C-level search is cheaper than matching every party's name
        if words and describes(data.describes, sentence) and any(named(a, words) for a in addrs):
            return sentence
    return ""


# "Name is …", "Name runs …", "Name's company makes …": a person as the subject of a clause.
# (the characters a subject's clause can start with looked at first: most places are left at once)
_SUBJECT = re.compile(
    r"(?=[\s.;:!?(,abwA-Z])"
    r"(?:^|[.;:!?(]\s{1,3}|,\s|\s(?:-{1,2}|[–—])\s|\b(?:and|but|while|whereas)\s)([A-Z][\w'-]{1,30})"
    r"(?:\s[A-Z][\w'-]{1,30})?(?:'s\s[a-z]{2,20}(?:,?\s[A-Z][\w'-]{1,30},?)?)?\s(?:[a-z]{2,12}ly\s)?"
    r"(?:is|was|has|had|[a-z]{2,20}(?<![su]s)s|[a-z]{2,20}ed|built|made|ran|led|wrote|taught"
    r"|sold|grew|knew|drove|spent)\b",
    re.MULTILINE,
)


def described_sides(named_in: list[tuple[str, set[str]]], sides: list[Address]) -> list[Address]:
    """The sides each made the subject of a describing clause: one described to the other."""
    found: list[Address] = []
    if len(sides) < 2:
        return found
    said: set[str] = set()
    for sentence, words in named_in[:CONTEXT_SENTENCES]:
        if not words:
            continue
        subjects = {m.group(1).lower().removesuffix("'s") for m in _SUBJECT.finditer(sentence)}
        if not subjects:
            continue
        said |= subjects
        for addr in sides:
            if addr not in found and named(addr, subjects):
                found.append(addr)
    return told_apart(found, said)  # "Greg Whalley has…" describes one Greg, not two


def note_names(text: str, addrs: list[Address]) -> bool:
    """The note above a forward speaks of the forwarded mail's author by name."""
    note = text.split("\n\n-", 1)[0][:3000]
    words = capitalised_words(note)
    return any(named(a, words) for a in addrs)
