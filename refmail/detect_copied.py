"""Whom the author copies in: the sentences that copy someone ("+CC Jan and Paolo, who wrote
the driver") and the recipients they name, by name phrase, by an address written in the copy,
by a mailbox's own name ("Adding dochelp to cc"), by a given name one letter short of a copied
one's ("+cc Stefan and Philpp"), or, for a name that matched no one, by the nameless addresses
clients append to Cc; and, for a copy that names no one, the people new in Cc it copies as a
group ("adding in some people") or by role ("our new team member (CCed)"). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from refmail.detect_copy import GROUP
from refmail.detect_cues import cue_matches
from refmail.detect_languages import LANGUAGES
from refmail.detect_parties import (
    MAX_PARTIES,
    People,
    given_name,
    is_list,
    name_tokens,
    named,
    on_thread,
    shows_the_thread,
)
from refmail.parse import Address
from refmail.patterns import Lazy


def copy_sentence(
    sentence_list: list[str],
    cues: dict[str, str],
    code: str = "en",
    accept: Callable[[str, str, re.Match[str]], bool] | None = None,
) -> str:
    """The sentences that copy someone in (those `accept` takes), each with the sentence before
    it when it names nobody itself ("A question for Tony and Yazen. CCed.")."""
    if "cue_copy_in" not in cues:
        return ""
    gates = LANGUAGES[code].gates.get("cue_copy_in", ("",))
    picked: list[str] = []
    for i, s in enumerate(sentence_list):
        lowered = s.lower()  # once per sentence, not once per gate word
        if not any(g in lowered for g in gates):
            continue
        if any(
            accept is None or accept("cue_copy_in", s, m)
            for m in cue_matches(code, "cue_copy_in", s)
        ):
            if i > 0 and not _PHRASE().search(_PRONOUNS.sub(" ", COPY_WORDS().sub(" ", s))):
                picked.append(sentence_list[i - 1])
            picked.append(s)
    return " ".join(picked) or cues["cue_copy_in"]


_PHRASE = Lazy(r"[A-ZÁÉÍÓÚÑ][\w'’-]{1,30}(?:\s[A-ZÁÉÍÓÚÑ][\w'’-]{1,30}){0,2}")
COPY_WORDS = Lazy(
    r"(?i)(?:\b(?:cc'?ing|cc'?ed|cced|copying|adding|added|copied|looping\sin)\b|\+\s?cc\b:?|\bcc:)"
)
_PRONOUNS = re.compile(r"\b(?:He|She|They|I)\b")  # "She is copied here" names nobody new
_NOT_NAMES = frozenset(
    {"i", "i'm", "i've", "cc", "to", "the", "and", "who", "as", "since", "for", "thanks", "hi"}
    | {"he", "she", "they", "per"}
)


def copied_in(who: People, sentence: str) -> list[Address]:
    """The recipients named where the author copies someone in.

    A name phrase ("Michal Koutný") picks the recipients matching all its words, else any;
    people in Cc are preferred (the ones just copied in). The last Cc addresses without a
    display name stand for the names that matched nobody ("+cc Roman" and guro@…): a nameless
    address cannot be matched by name, and clients append new copies.
    `sentence` is `copy_sentence`'s.
    """
    # "+cc Michal <mkoutny@…>": an address written in the copy itself (not one written
    # anywhere, like the "* Matthijs <matthijs@…> [240228]:" of an attribution)
    lowered = sentence.lower()
    found = [a for a in who.candidates if a.email in who.written and a.email in lowered]
    sentence = COPY_WORDS().sub(" ", sentence)
    phrases = []
    spans: list[tuple[int, int]] = []
    for match in _PHRASE().finditer(sentence):
        if sentence[max(0, match.start() - 4) : match.start()].lower() == "the ":
            continue  # "the PMBus maintainers" is a group, not a person
        words = [w.lower() for w in match.group(0).split() if w.lower() not in _NOT_NAMES]
        if words:
            phrases.append(words)
            spans.append(match.span())
    unmatched: list[int] = []
    for i, words in enumerate([] if found else phrases):
        loose = [a for a in who.candidates if named(a, set(words))]
        # the whole name first ("Liz Zhang" is Liz Zhang in To, not Bo Zhang in Cc), then Cc
        whole = [a for a in loose if all(named(a, {w}) for w in words)]
        pool = [a for a in whole if a in who.copied] or whole
        pool = pool or [a for a in loose if a in who.copied] or loose
        if not pool:
            unmatched.append(i)
        for addr in pool:
            if addr not in found:
                found.append(addr)
    # a given name typed one letter short, of someone copied: "CC'ing Nikil and Peng"; or its
    # short form, which may end in another letter: "+Cc Sima" for Simona. The short form is
    # loose ("Mark" would be Marco's), so not where a nameless copy whose mailbox starts with
    # the name's initial could be the one named ("+Cc Mark" and mr@…).
    initials = {a.email[:1].lower() for a in _nameless(who, found)}
    for i in list(unmatched):
        shortened = phrases[i][0][:1] not in initials
        typed = [
            a
            for a in who.copied
            if a not in found
            and (_one_short(phrases[i], a) or (shortened and _short_form(phrases[i], a)))
        ]
        if len(typed) == 1:
            found.append(typed[0])
            unmatched.remove(i)
    # ... or by its mailbox name, in any case: "Adding dochelp to cc" (a team's box has no name)
    found += [a for a in by_mailbox(sentence, who) if a not in found]
    if found:
        # Beside names that matched, a given name alone listed with one of them that matched
        # nobody is a nameless address ("+CC Jan and Paolo": Paolo by name, jack@… with none);
        # a full name that matched nobody ("adding Dan Jones") names someone with no address
        # here, and a word after the list ("Paolo from Intel") is no name of the copied.
        listed = _listed_with(
            sentence, spans, [i for i in range(len(phrases)) if i not in unmatched]
        )
        unmatched = [i for i in unmatched if len(phrases[i]) == 1 and i in listed]
    # a name whose address the author wrote in the text is theirs, not a nameless copy's; a
    # phrase in capitals that named no one is an acronym or a shout ("the SMC SOCKETS
    # maintainers", "+Cc cgroups ML"), not a person whose address carries no name
    unmatched = [
        i
        for i in unmatched
        if not any(named(a, set(phrases[i])) for a in who.in_text)
        and not _capitals(sentence[spans[i][0] : spans[i][1]])
    ]
    if not unmatched:
        return found
    nameless = _nameless(who, found)
    # (the last ones: clients append new copies; but among a Cc of dozens of nameless
    # addresses, as patch tools write it, which one is new cannot be told, and a wrong party
    # gets mail)
    if len(nameless) > MAX_PARTIES:
        return found
    return found + nameless[-min(len(unmatched), 3) :] if nameless else found


def _nameless(who: People, found: list[Address]) -> list[Address]:
    """The copied, not yet found, whose address carries no name (a display name equal to the
    local part is none: "sullivanjj <sullivanjj@…>")."""
    return [
        a for a in who.copied if a not in found and a.name.lower() in ("", a.email.split("@")[0])
    ]


def _short_form(words: list[str], addr: Address) -> bool:
    """A one-word name, four letters or more, that is `addr`'s longer given name cut short
    with a letter of its own at the end (a short form: "Sima" for Simona, "Tirtha" for
    Tirthendu); the short forms that only cut ("Chris") are `named`'s.

    >>> _short_form(["sima"], Address("simona@ffwll.example", "Simona Vetter"))
    True
    >>> _short_form(["sima"], Address("sam@x.example", "Sam Simmons"))
    False
    >>> _short_form(["dana"], Address("dan@x.example", "Dan Ross"))
    False
    """
    if len(words) != 1 or len(words[0]) < 4:
        return False
    short = words[0]
    # (the given name: a short form is of it, not of a surname; no display name: the local
    # part's first word)
    given = given_name(addr) or re.split(r"[._+-]", addr.email.lower())[0]
    return (
        len(given) > len(short)
        and given.startswith(short[:-1])
        and given[len(short) - 1] != short[-1]
    )


def _one_short(words: list[str], addr: Address) -> bool:
    """A one-word name that is one of `addr`'s name words with one letter dropped, the first
    kept (a typo: "Philpp" for Philipp); four letters or more, so no short word is a name.

    >>> _one_short(["nikil"], Address("nikhil.nd@ti.example", "Devshatwar, Nikhil"))
    True
    >>> _one_short(["nikhi"], Address("nikhil.nd@ti.example", "Devshatwar, Nikhil"))
    True
    >>> _one_short(["dave"], Address("david@x.example", "David Ross"))
    False
    """
    if len(words) != 1 or len(words[0]) < 4:
        return False
    typed = words[0]
    return any(
        len(t) == len(typed) + 1
        and t[0] == typed[0]
        and any(t[:k] + t[k + 1 :] == typed for k in range(1, len(t)))
        for t in name_tokens(addr)
    )


def by_mailbox(words: str, who: People) -> list[Address]:
    """The addressees whose whole mailbox name (the local part, 4 letters or more) is a word of
    `words`, in any case: a copy note may name a shared or team mailbox as it is written."""
    return _mailboxes_said(words, who.candidates)


def lists_by_mailbox(
    words: str, recipients: Sequence[Address], lists: frozenset[str]
) -> list[Address]:
    """The mailing lists among `recipients` whose mailbox name is a word of `words` ("Added
    linux-doc to Cc" and linux-doc@vger…): lists are never candidates, so `by_mailbox` skips
    them."""
    return _mailboxes_said(words, [a for a in recipients if is_list(a, lists)])


def _mailboxes_said(words: str, addrs: Sequence[Address]) -> list[Address]:
    """Those of `addrs` whose local part (4 letters or more) is a word of `words`, in any case."""
    said = set(re.findall(r"[\w.+-]{4,}", words.lower()))
    return [a for a in addrs if a.email.partition("@")[0].lower() in said]


def _capitals(phrase: str) -> bool:
    """Every word of the phrase is written in capitals ("SMC", "SHARED MEMORY")."""
    return all(w.isupper() and len(w) >= 2 for w in phrase.split())


_LIST_GAP = Lazy(r"(?:\s|,|&|\+|/|\band\b)*")


def _listed_with(sentence: str, spans: list[tuple[int, int]], matched: list[int]) -> set[int]:
    """The phrases listed together with a matched one ("Jan and Paolo", "Sima, Dave"): runs of
    phrases with only commas, "and", "&", "+" or "/" between them."""
    runs: list[list[int]] = []
    for i, (start, _) in enumerate(spans):
        if runs and _LIST_GAP().fullmatch(sentence[spans[i - 1][1] : start]):
            runs[-1].append(i)
        else:
            runs.append([i])
    return {i for run in runs if any(j in matched for j in run) for i in run}


def copied_unnamed(
    who: People,
    sentence: str,
    group: bool,
    replied: tuple[str, str],
    history: str,
    limit: int,
) -> list[Address]:
    """`copied_in`, and for a copy that names no one in Cc the people it copies unnamed: as a
    group (`group`: "adding in some people who may have a better idea", "CCing a few people
    that were involved"), everyone new in Cc, where a quoted header block shows who is; by
    role ("Our new team member (CCed) will take a look"), the one person new in Cc, when there
    is only one. `replied` is the (name, address) of the asker whose mail is answered: not one
    of the copied."""
    copied = copied_in(who, sentence)
    if group and not any(a in who.copied for a in copied):
        # (a copy that names no one in Cc: "Hi Ann, CCing a few people" greets the asker)
        # Only where a quoted header block shows who was on the thread: list mail quotes none,
        # and its Cc holds everyone who ever wrote to it; a party wrongly recorded would get
        # refmail's mail, so without that block the asker alone is recorded.
        if not shows_the_thread(history):
            return copied
        return _new_in_cc(who, replied, history)[:limit]
    if not copied and _ONE_BY_ROLE().search(sentence):
        one = _new_in_cc(who, replied, history)
        return one if len(one) == 1 else []
    return copied


def _new_in_cc(who: People, replied: tuple[str, str], history: str) -> list[Address]:
    """Those in Cc new to the thread (in no quoted header block), other than the asker."""
    name = {w.lower() for w in replied[0].split()}
    return [
        a
        for a in who.copied
        if a.email != replied[1] and not (name and named(a, name)) and not on_thread(a, history)
    ]


# One person copied by role, in brackets: "our new team member (CCed)", "my colleague (cc'd)".
_ONE_BY_ROLE = Lazy(
    r"(?i)\b(?:member|colleague|engineer|developer|expert|reviewer|maintainer)\s{0,2}\("
    r"(?:[^()\n]{0,30}\s)?\+?\s?(?:cc'?d|cc'ed|cced|cc-e?d|cc|copied|in\scc|on\scc)\b"
)


def copies_a_group(text: str, cues: dict[str, str]) -> bool:
    """The copy note names a group ("adding a few people", "+Cc: some Intel people"): the words
    of the cue and the few after it; not a group in capitals ("+CC the SMC MAINTAINERS")."""
    copy = cues.get("cue_copy_in", "")
    if not copy:
        return False
    at = text.find(copy)
    group = GROUP.search(text[at : at + len(copy) + 30] if at >= 0 else copy)
    return group is not None and not group.group(0).isupper()
