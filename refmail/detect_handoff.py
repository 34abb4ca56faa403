"""The hand-off to someone copied, read from its shape: the author says that a person copied on
the message will reach the reader, or sends the reader to them ("Bill Bradford and/or John
Suttle will be contacting you", "Charlie Otto needs your review. Please contact him with any
questions"). The copied person is the subject or the object of a contact verb whose other end
is the reader ("you") or someone addressed by name: a connection made, not an FYI copy.

Someone new to the thread and copied may also be the one who will help the reader ("Hope he can
help you out", "she will respond to you") or the one the reader is sent to ("Check with Kim
Watson", "bring it up with Pattie"): the loop-in of business mail, read only of a person the
quoted history never had (a colleague already on the thread is just being answered). Its mirror:
someone new to the thread addressed and asked to serve a copied one the thread had ("Please see
the note below from Lindy. Can you pull the contract & get it to Lindy?"). Pure.
"""

from __future__ import annotations

from refmail.detect_parties import capitalised_words, named
from refmail.parse import Address
from refmail.patterns import Lazy

# (Each pattern below run on every sentence opens, after its word boundary, with a look at the
# first letters of its words: most places are left at once.)
# Reaching someone: "contact", "call", "get in touch", "be in touch", "reach out", "follow up"
# (a verb, not a noun: "the contact list", "the call-in number" say nothing of who reaches whom)
_CONTACT = Lazy(
    r"(?i)\b(?=[bcefgprstw])(?:(?:will|to|please|pls|could|can|would|be|should|shall)\s(?:\w+\s)?(?:contact|call"
    r"|phone|ring|e-?mail|write\sto|get\sin\s(?:touch|contact)|be\sin\s(?:touch|contact)"
    r"|reach\sout|follow\sup)|(?:contacting|calling|phoning|e-?mailing|reaching\sout|getting\sin"
    r"\stouch|following\sup)\s(?:with\s|to\s)?(?:you|him|her|them)\b)"
)
# ... by the author alongside the copied: "Either Ray or I will call you", "Ray and I will
# follow up" (the author keeps the matter; the colleague is copied beside them)
_WITH_THE_AUTHOR = Lazy(
    r"(?i)(?:(?:\b(?:and|or)|&)\s(?:i|we|myself)|\b(?:i|we)\s(?:and|or|&)\s[\w' -]{1,40}?)"
    r"\s{0,3}\Z"
)
_BACK = 3  # sentences back in which "him"/"her" may have been named
_YOU = Lazy(r"(?i)\byou\b")
_PRONOUN = Lazy(r"(?i)\b(?:him|her|them)\b")
# the reader told to reach them: "Please contact him", "Feel free to call her"
_TOLD = Lazy(
    r"(?i)\b(?=[fkp])(?:please|pls|kindly|feel\sfree\sto)\s(?:contact|call|phone|e-?mail|get\sin)"
)
# What the one brought in will do for the reader: "she will respond to you", "Hope he can help
# you out", "Martin should be able to resolve this for you", "Perhaps she can direct you"
_AIDS = Lazy(
    r"(?i)\b(?=[cimsw])(?:can|could|will|would|should|may|might|is\sgoing\sto)\s(?:\w+\s)?"
    r"(?:be\sable\sto\s)?"
    r"(?:help|assist|answer|respond\sto|get\sback\sto|resolve|direct|advise|guide|sort)\b"
    r"[^.!?\n]{0,40}?\byou\b"
)
# ... or who is in charge of the reader's matter: "Evan Hughes is responsible for managing the
# shut-down", "tim heizenrader has been managing this relationship for us", "They are both on
# the case here" (a standing charge, said of the one copied in: the matter is theirs now)
_IN_CHARGE = Lazy(
    r"(?i)\b(?=[aih])(?:is|are|has\sbeen|have\sbeen)\s(?:also\s|now\s|currently\s|both\s)?"
    r"(?:responsible\sfor|in\scharge\sof|managing|handling|on\sthe\scase)\b"
)
# ... or to whom the author gives the matter up: "I defer to Dana on this issue"
_DEFER = Lazy(
    r"(?i)\b(?=[iw])(?:i|we)(?:'ll|\swill|\swould|'d)?\s(?:defer|leave\s(?:this|it|that)|hand\s(?:this|it)"
    r"\s(?:off|over))\s(?:to|with)\s(?P<whom>[^.!?\n]{1,40})"
)
_WORD = Lazy(r"[A-Za-z][\w'-]{1,30}")
# ... and of whom it says it: the name, or "he"/"she" after it
_SUBJECT = Lazy(r"(?i)\b(?:he|she|they)\b")
# The reader sent to them: "Check with Kim Watson", "Be sure to talk to Peter", "I would bring
# the matter up with Pattie", "I'd like for you to sit down with Lindy", "please work with Dana
# to have it initialled" (told, or said of "you"; the author's own "I talked to Theresa today"
# or "I work with Dana" sends nobody); or the reader's matter routed to them: "Send this bill
# to Raquel", "If you could send all further updates to either Christi or Jim"
_GO_TO = Lazy(
    r"(?i)\b(?=[bcdfgmrstw])(?:(?:check|talk|speak|sit\sdown|get\stogether|meet|coordinate"
    r"|work|(?:bring|take)\s(?:\w+\s){0,3}?up)\s|(?:send|forward|direct|route)\s(?!me\b|us\b)"
    r"(?:[\w'-]+\s){1,4}?)(?:in\s\w+\s)?(?:with|to)\s(?P<whom>[^.!?\n]{1,40})"
)
# ... and the words before the verb: the sentence's start, "please", "be sure to", "you (would
# like to)", "I would" (of the reader's place: "if I were you I would bring it up with Pattie")
_TOLD_TO = Lazy(
    r"(?i)(?:^\s*|\b(?:(?:please|pls|be\ssure\sto|feel\sfree\sto)\s|you\s(?:\w+\s){0,3}?"
    r"|i\s(?:would|'d)\s)(?:\w+\s)?)\Z"
)


def _named_before(named_in: list[tuple[str, set[str]]], i: int) -> set[str]:
    """The words of the _BACK sentences before sentence `i`, where "him"/"her" was named."""
    return set().union(*(w for _, w in named_in[max(0, i - _BACK) : i]))


def hands_to_the_copied(
    named_in: list[tuple[str, set[str]]], copied: list[Address], addressed: list[Address]
) -> Address | None:
    """The copied party a sentence of the author's hands the reader to (or hands the reader
    on to), else None. The copied is named in the sentence, or named in one of the three before and
    then spoken of as "him"/"her"; the other end is "you" or an addressee named in it.

    >>> bill = Address("bill@example.com", "Bill Bradford")
    >>> ann = Address("ann@example.com", "Ann Shaw")
    >>> hands_to_the_copied([("Bill Bradford will be contacting you.", {"bill", "bradford"})],
    ...                     [bill], [ann, bill])
    Address(email='bill@example.com', name='Bill Bradford')
    >>> hands_to_the_copied([("I am copying Bill Bradford for his records.", {"bill"})],
    ...                     [bill], [ann, bill]) is None
    True
    """
    if not [a for a in addressed if a not in copied]:
        return None  # no person reads it but those copied (to a list: an announcement)
    for i, (sentence, words) in enumerate(named_in):
        contact = _CONTACT().search(sentence)
        if contact is None or _WITH_THE_AUTHOR().search(sentence[: contact.start()]):
            continue
        # ("Charlie Otto needs a review. Attached is the draft. Please contact him.")
        before = _named_before(named_in, i)
        for addr in copied:
            here = named(addr, words)
            if not here and not (_PRONOUN().search(sentence) and named(addr, before)):
                continue
            other = [a for a in addressed if a != addr and a not in copied and named(a, words)]
            if _YOU().search(sentence) or other or _TOLD().search(sentence):
                return addr
    return None


def loops_in_the_copied(
    named_in: list[tuple[str, set[str]]], new: list[Address], addressed: list[Address]
) -> Address | None:
    """The copied party, new to the thread, whom a sentence of the author's says will help the
    reader or sends the reader to, else None.

    >>> pat = Address("pat@example.com", "Pat Grable")
    >>> sue = Address("sue@example.com", "Sue Hern")
    >>> loops_in_the_copied([("Pat Grable runs payroll.", {"pat", "grable"}),
    ...                      ("Hope she can help you out.", set())], [pat], [sue, pat])
    Address(email='pat@example.com', name='Pat Grable')
    >>> loops_in_the_copied([("I talked to Pat Grable today.", {"i", "pat", "grable"})],
    ...                     [pat], [sue, pat]) is None
    True
    """
    if not new or not [a for a in addressed if a not in new]:
        return None
    for i, (sentence, _words) in enumerate(named_in):
        go = _GO_TO().search(sentence)
        if go is not None and _TOLD_TO().search(sentence[: go.start()]):
            whom = capitalised_words(go.group("whom"))
            found = next((a for a in new if named(a, whom)), None)
            if found is not None:
                return found
        handled = _handled_by(named_in, i, new)
        if handled is not None:
            return handled
        aid = _AIDS().search(sentence)
        if aid is None:
            continue
        # (the one who helps comes before the verb: "I will respond to you after Pat" is mine)
        lead = sentence[: aid.start()]
        said = capitalised_words(lead)
        before = _named_before(named_in, i) | said
        for addr in new:
            if named(addr, said) or (_SUBJECT().search(lead) and named(addr, before)):
                return addr
    return None


def _handled_by(named_in: list[tuple[str, set[str]]], i: int, new: list[Address]) -> Address | None:
    """The one new to the thread whom sentence `i` puts in charge of the matter, else None.
    (Names in any case: a terse note writes "tim heizenrader has been managing this".)"""
    sentence = named_in[i][0]
    given = _DEFER().search(sentence)
    if given is not None:
        whom = capitalised_words(given.group("whom"))
        return next((a for a in new if named(a, whom)), None)
    charge = _IN_CHARGE().search(sentence)
    if charge is None:
        return None
    lead = sentence[: charge.start()]
    said = {w.lower() for w in _WORD().findall(lead)}
    before = _named_before(named_in, i)
    for addr in new:
        if named(addr, said) or (_SUBJECT().search(lead) and named(addr, before)):
            return addr
    return None


# The reader asked to serve someone: "Can you pull the contract & get it to Lindy", "please
# provide guidance for Scott", "You're the best person I know to answer the questions Cindy has"
_ASKED = Lazy(
    r"(?i)\b(?=[cikpwy])(?:please|pls|kindly|(?:can|could|would|will)\syou|you(?:'re|\sare)\sthe\s(?:best|right)"
    r"|i(?:'d|\swould)\slike\s(?:for\s)?you\sto)\b"
)

# (the author's own errand: "for Dana and me", "our room"; not the asking itself: "can you
# help me get the list to Colleen" serves Colleen)
_AUTHOR_TOO = Lazy(r"(?i)(?<!help\s)\b(?:me|us|my|our)\b")


def brings_in_the_reader(
    named_in: list[tuple[str, set[str]]],
    on_thread_copied: list[Address],
    new_readers: list[Address],
) -> Address | None:
    """The copied party, already on the thread, whom a sentence of the author's asks a reader new
    to the thread to serve, else None: the mirror of the loop-in, the new one addressed.

    >>> lin = Address("lin@example.com", "Lin Dono")
    >>> den = Address("den@example.com", "Den Lee")
    >>> brings_in_the_reader([("Can you get it to Lin for review?", {"can", "lin"})], [lin], [den])
    Address(email='lin@example.com', name='Lin Dono')
    >>> brings_in_the_reader([("Lin sent it already.", {"lin"})], [lin], [den]) is None
    True
    """
    if not on_thread_copied or not new_readers:
        return None
    for sentence, words in named_in:
        # ("Can you set up a room for Dana and me?": the author's own errand)
        if not _ASKED().search(sentence) or _AUTHOR_TOO().search(sentence):
            continue
        for addr in on_thread_copied:
            if named(addr, words):
                return addr
    return None
