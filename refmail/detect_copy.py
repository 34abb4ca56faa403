"""Whether a "copy in" phrase copies a *person* in: "adding Liz Zhang", not "adding WARN_ON()".

List mail says "adding", "added", "including" and "+" about code as often as about people; a
copy verb counts only with a person as its object (a recipient's name, a name-shaped phrase, a
group of people, "him" with a destination), never code, a feature, a destination, someone's
thing, a trailer or a list alone. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from refmail.detect_parties import People, capitalised_words, name_tokens, named
from refmail.parse import Address
from refmail.patterns import Lazy

__all__ = ["GROUP", "copies_a_person", "unaddressed_name"]

# The object of a copy verb, and what makes it a person rather than code or a feature.
# "cc" and "loop in" only ever copy someone; "copying" may copy data ("copying them around").
_CLEAR_COPY = Lazy(r"(?i)(?<![a-z])(?:cc|loop|looping)")
_COPY_OBJECT = Lazy(
    r"(?i)^(?:also\s)?(?:i'?ve\s|i\shave\s|i'?m\s|i'?ll\s|i\swill\s|i'?m\sgoing\sto\s"
    r"|i\sam\sgoing\sto\s|let\sme\s)?(?:also\s)?(?:cc'?ing|cc-ing|cc'?ed|cc'?d|cced"
    r"|copying|copied|loop(?:ing|ed)?\sin|looping|adding|added|including|included|bringing\sin"
    r"|pull(?:ing)?\sin|\+\s?(?:cc|to):?|[\[(]?\+|copy|cc|add|include|loop\sin"
    r"|pass(?:ing)?\s(?:this|it|your\s\w+)\s(?:e-?mail\s|note\s|message\s|request\s)?on(?:\s?to)?)"
    r"\s{0,2}'?(?:in\s(?:(?:the\s)?cc\s)?)?"  # "adding in CC the maintainers"
)
_PERSON_NOUN = Lazy(
    r"(?i)\b(?:maintainers?|folks?|people|persons?|guys|gentlemen|team|experts?|reviewers?|devs"
    r"|developers?|owners?|authors?|colleagues?|engineers?|contributors?|runners?|members?"
    r"|suspects)\b"
)
_NAME_SHAPED = Lazy(r"(?:[A-Z][a-z]+(?:[-'][A-Za-z]+)*|[A-Z]{2,3})")
_AFTER_PERSON = Lazy(
    r"\s{0,3}(?:$|[.,;:!?()\[\]]|[-–—]\s|(?i:to|and|who|here|in|as|for|since|from|on|so"
    r"|because|too|also|into|now|with)\b)"
)

_PERSON_CONTEXT = Lazy(
    r"\s{0,3}(?:[(]|(?i:to\s(?:the\s)?(?:thread|cc|conversation|discussion|loop|this\b)"
    r"|,?\s(?:who|since|as|because|from|in\scase|so\s(?:he|she|they)|for\s(?:his|her|their)"
    r"|he|she)\b))"
)
_AFTER_PRONOUN = Lazy(
    r"\s{0,3}(?i:here\b|in\b(?!to)|(?:to|on|in)\s(?:the\s)?(?:cc|thread|this|loop|recipients"
    r"|conversation|discussion))"
)
# Someone other than the author did the copying: "you've CCed the maintainers", "you never Cced".
_OTHER_COPIER = Lazy(
    r"(?i)\b(?:you|they|he|she|someone|somebody|nobody|who|why|people|everyone|anyone)(?:'ve|'d|\shave|\shad|\snever|\sdidn't"
    r"|\sdid\snot|\sweren't|\swere|'re|\sare)?\s(?:\w+\s)?$"
)
# The copy as the subject of a sentence, spoken of: "Cc-ing maintainers doesn't hurt",
# "CCing linux-api is a good practice" (a copy made goes on with who, as, for or a full stop)
_GERUND = Lazy(r"(?i)(?:cc'?ing|cc-ing|copying|adding|looping|including)\b")
_COPY_AS_SUBJECT = Lazy(
    r"(?i)\s{0,2}(?:doesn't|does\snot|don't|do\snot|is|isn't|was|wasn't|would|wouldn't|won't"
    r"|should|shouldn't|helps|hurts|makes|seems)\b"
)
# The copy spoken of, not made: the object of a preposition or a verb ("I'm OK with adding
# Jack" as an author, "Instead of cc'ing Arnd, you cc'ed me", "thanks for adding me"), or
# not made: "Sorry for not cc-ing the DT maintainers".
_GERUND_OBJECT = Lazy(
    r"(?i)\b(?:with|about|for|without|of|than|against|consider|considering|suggest|suggested"
    r"|recommend|mind|avoid|stop|keep)\s(?:not\s)?$"
)
# A copy still to be made, by whoever does what comes before: "Someone will have to look
# through it, or loop in one of the authors", "you should cc the maintainers".
_COPY_TO_MAKE = Lazy(r"(?i)\b(?:or|should|must|could|(?:need|needs|have|has)\sto)\s$")
# What a copy verb may take that is no person: a destination ("to …"), someone's thing
# ("Jonathan's reply"), a trailer ("Reviewed-by").
# Anchored (\A): only ever matched at the start, and a search restarting at every character of
# a long dotted word would be quadratic.
_LIST_LIKE = Lazy(r"\A\s{0,2}[a-z0-9]+(?:[-.][a-z0-9]+)*[-@][a-z0-9]")
# (the possessive is the object's own: "who's working on it" is a person, not a thing; a
# project's people are people: "cc'ing in Frobnix's maintainers")
_NOT_A_COPY = Lazy(
    r"^\s{0,2}(?i:to\b)|^\s{0,2}(?:(?i:the|a)\s)?[\w-]{1,30}(?:\s[A-Z][\w-]{1,30})?'s\b"
    r"(?!\s(?i:maintainers|developers|engineers|reviewers|folks|people)\b)"
    r"|(?i:\w-by\b)"
    r"|^\s{0,2}(?i:n?acks?|tags?)\b"  # a trailer by its short name: "adding Ack from Daniel"
)


def copies_a_person(who: People) -> Callable[[str, str, re.Match[str]], bool]:
    """Whether a "copy in" match copies a person in: "cc'ing", "looping in" always do;
    "adding"/"including"/"+" only with a person as object ("adding Liz Zhang.", "adding the
    PMBus maintainers", "adding them to Cc", a recipient's name), never code or a feature
    ("adding WARN_ON()", "adding the Coffee Lake support", "adding them back", "+ Elf_Word")."""

    def accept(cue: str, sentence: str, match: re.Match[str]) -> bool:
        if cue != "cue_copy_in":
            return True
        words = match.group(0)
        verb = _COPY_OBJECT().match(words)
        obj = words[verb.end() :] if verb else words
        after = sentence[match.end() : match.end() + 40]
        before = sentence[max(0, match.start() - 30) : match.start()]
        # (what comes before a copy verb says who copies, or that the copy is only spoken of;
        # before a name it is the author's own sentence: "team up with Herve (CC'ed)")
        if verb is not None and (
            _OTHER_COPIER().search(before)
            or _GERUND_OBJECT().search(before)
            or _COPY_TO_MAKE().search(before)
        ):
            return False
        if _GERUND().match(words) and _COPY_AS_SUBJECT().match(after):
            return False
        if _NOT_A_COPY().search(obj + after[:12]):
            return False  # "cc'ed to LKML", "adding to Jonathan's reply", "added Sai's Acked-by"
        if _LISTS_NAMED().match(after) and not _PERSON_AFTER_LIST().search(after[:60]):
            return False  # "Cc'ing relevant QEMU lists": the name is the lists' (round 12)
        if _LIST_LIKE().match(obj + after[:30]):
            # "+CC linux-cxl for info" copies a list; "Cc'ing rust-for-linux and Danilo" a person
            rest = obj + after[:40]
            if any(a.email in rest.lower() for a in who.candidates):
                return True  # "I add jo@example.org into this thread": a person's address
            tail = capitalised_words(rest)
            return (
                any(named(a, tail) for a in who.candidates)
                or GROUP.search(rest) is not None  # "+Cc: pse-pd maintainers"
                or re.search(r",\s(?:and\s)?[A-Z][a-z]{2,}\b", rest) is not None  # "…, Guenter"
            )
        if _CLEAR_COPY().search(words):
            # "looping in the Linuxfoundation": "the" and no person noun is an organisation
            the = re.match(r"(?i)the\s", obj)
            # ("CC'ing the list and Hans": a person copied beside the list, by name)
            # ("CC'ing the EFI mailing list, John Johansen (…)": the person after the list)
            listed = (
                sentence[match.end() : match.end() + 100] if _LISTS_NAMED().match(after) else ""
            )
            named_too = any(named(a, capitalised_words(obj + listed)) for a in who.candidates)
            return the is None or named_too or _PERSON_NOUN().search(obj + after[:30]) is not None
        if _PRONOUN_COPIED().match(words):
            return bool(who.copied)  # "She is copied here": someone named before, now copied
        # (a short form is read from the capitalised words only: "adding step Two" is no Stephen)
        capitalised = capitalised_words(obj)
        spoken = capitalised | {w.lower() for w in obj.split()}
        if any(named(a, spoken, capitalised) for a in who.candidates):
            return True
        if verb is None or verb.group(0).strip() in ("+", "[+", "(+"):
            # "+Name" is also how a diff adds a line; alone on its line ("+Kairui") it copies
            # someone whose copied address carries no name to match
            return _ALONE().fullmatch(sentence) is not None and _nameless_copy(who)
        head = obj.split(maxsplit=1)[0].lower() if obj.split() else ""
        if head in ("him", "her", "them"):  # "adding them to Cc", not "adding them back"
            mine = re.match(r"(?i)(?:also\s)?(?:i'?ve|i\shave|i'?m)\s", words) is not None
            ends = re.match(
                r"\s{0,3}(?:$|[.,;:!)]|(?i:so\s(?:that\s)?(?:you|we)|because|since|in\scase)\b)",
                after,
            )
            # "I've included him." is the author's own copy, said and done (or said with why
            # toward the reader: "I have copied him so you can follow up", not "so he is aware")
            return _AFTER_PRONOUN().match(after) is not None or (mine and ends is not None)
        if _PERSON_NOUN().fullmatch(head) and _AFTER_PERSON().match(after):
            return True  # a group by its noun alone: "adding experts to cc", "adding reviewers."
        if _ROLE_COPIED().match(obj + after[:40]):
            return True  # a role by what it looks after: "Ccing pidfd maintainer."
        if head in ("the", "my", "our", "some", "other", "a", "few", "more"):
            noun = _PERSON_NOUN().search(obj + after[:30])
            return noun is not None and not noun.group(0).isupper()  # not the MAINTAINERS file
        names = [n for n in re.split(r",\s*|\s+and\s+|\s+", obj.strip()) if n]
        if not (all(_NAME_SHAPED().fullmatch(n) for n in names) and _AFTER_PERSON().match(after)):
            return False
        # "Added Link", "adding Intervals to the DetailData": a capitalised word after
        # "adding"/"copying" that names nobody on the mail is a person only when the words
        # after it say so ("to the thread", "who …", "from the X team", "in case …")
        # (a copied address with neither display name nor first.last local part may be theirs)
        if _PERSON_CONTEXT().match(after) is not None:
            return True
        # "Adding Support for License Service" is a title (Title Case runs on), not a person
        return _TITLE_GOES_ON().match(after) is None and _nameless_copy(who)

    return accept


# People by the role a word or two before names ("printk maintainers", "some previous main
# committers"), then where or why they are copied or the sentence's end: lower case, so not
# the MAINTAINERS file, and a short run of words, so not any noun phrase that holds "people".
_ROLE_COPIED = Lazy(
    r"\s{0,2}(?:(?:the|some|other|more|relevant|respective)\s)?(?:[a-z][\w/-]{0,30}\s){0,3}"
    r"(?:maintainers?|reviewers?|committers|experts?|developers|folks|people)"
    r"\s{0,3}(?:$|[.,;:!()]|(?:to|into|on|in|for|who|as|since|because|here|too)\b)"
)
# The words after a copied name that make it a list's name ("QEMU lists", "Xen mailing
# list"), and a person listed after the lists all the same ("…lists and Jake").
_LISTS_NAMED = Lazy(r"(?i)\s{1,2}(?:[\w-]{1,30}\s)?(?:mailing\s|e-?mail\s)?(?:lists?|mls?)\b")
_PERSON_AFTER_LIST = Lazy(r"(?:,|\band\b|\+)\s{0,2}[A-Z][a-z]{2,}")
_PRONOUN_COPIED = Lazy(r"(?i)(?:he|she|they)\s(?:is|are|has\sbeen|have\sbeen)\s")
_TITLE_GOES_ON = Lazy(r"\s(?:for|of|to|in|on|the|with)\s[A-Z]")
_ALONE = Lazy(r"\s{0,4}[\[(]?\+\s?[A-Z][\w'-]{1,30}(?:\s[A-Z][\w'-]{1,30})?[\])]?\s{0,4}")


def _nameless_copy(who: People) -> bool:
    """A copied address with neither display name nor first.last local part (it may be theirs)."""
    return any(not a.name and len(name_tokens(a)) < 2 for a in who.copied)


# People copied in as a group: "the PMBus maintainers", "some Intel people".
GROUP = re.compile(
    r"(?i)\b(?:maintainers?|folks?|people|guys|gentlemen|experts|reviewers|developers|colleagues"
    r"|suspects|committers)\b"
)


# The copy verb ahead of the copied name: "CC'ing Ben", "+CC Linan", "(ccing Hui)".
_COPY_VERB_HEAD = Lazy(
    r"(?i)^[\[(]?\s{0,2}(?:also\s)?(?:cc'?ing|cc-ing|cc'?ed|cc'?d|cced|copying|copied|adding|added"
    r"|loop(?:ing|ed)?\sin|\+\s?cc:?|cc)\s{1,2}(?:also\s|in\s)?"
)
_GIVEN_NAME = Lazy(r"[A-Z][a-z]{1,20}\b(?!['’-])")


def unaddressed_name(copy_words: str, addresses: tuple[Address, ...]) -> str:
    """The name a copy gives the person copied ("CC'ing Ben", "+CC Linan") when no address
    of the message is theirs, else "": the copy names a person all the same (an archived copy
    drops their address; a display name says "teawater" for Hui). Never a list or anyone
    else the mail is addressed to ("Cc'ing also SELinux" is selinux@…).

    >>> unaddressed_name("CC'ing Ben", (Address("brian@example.com", "Brian Bunker"),))
    'Ben'
    >>> unaddressed_name("Cc'ing also SELinux", (Address("selinux@vger.kernel.org"),))
    ''
    >>> unaddressed_name("CCing Mike", (Address("mike@example.com", "Mike Ross"),))
    ''
    """
    verb = _COPY_VERB_HEAD().match(copy_words)
    name = _GIVEN_NAME().match(copy_words[verb.end() :]) if verb else None
    if name is None or name.group(0).lower() in _NOT_A_NAME:
        return ""
    word = {name.group(0).lower()}
    return "" if any(named(a, word, word) for a in addresses) else name.group(0)


# Capitalised words a copy verb takes that are nobody: the trailers, "Ack from Daniel".
_NOT_A_NAME = frozenset({"ack", "acks", "nack", "the", "my", "our", "some", "more", "him", "her"})
