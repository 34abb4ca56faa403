"""The hand-off to someone copied, read from its shape: the author says that a person copied on
the message will reach the reader, or sends the reader to them ("Bill Bradford and/or John
Suttle will be contacting you", "Charlie Otto needs your review. Please contact him with any
questions"). The copied person is the subject or the object of a contact verb whose other end
is the reader ("you") or someone addressed by name: a connection made, not an FYI copy. Pure.
"""

from __future__ import annotations

from refmail.detect_parties import named
from refmail.parse import Address
from refmail.patterns import Lazy

# Reaching someone: "contact", "call", "get in touch", "be in touch", "reach out", "follow up"
# (a verb, not a noun: "the contact list", "the call-in number" say nothing of who reaches whom)
_CONTACT = Lazy(
    r"(?i)\b(?:(?:will|to|please|pls|could|can|would|be|should|shall)\s(?:\w+\s)?(?:contact|call"
    r"|phone|ring|e-?mail|write\sto|get\sin\s(?:touch|contact)|be\sin\s(?:touch|contact)"
    r"|reach\sout|follow\sup)|(?:contacting|calling|phoning|e-?mailing|reaching\sout|getting\sin"
    r"\stouch|following\sup)\s(?:with\s|to\s)?(?:you|him|her|them)\b)"
)
_BACK = 3  # sentences back in which "him"/"her" may have been named
_YOU = Lazy(r"(?i)\byou\b")
_PRONOUN = Lazy(r"(?i)\b(?:him|her|them)\b")
# the reader told to reach them: "Please contact him", "Feel free to call her"
_TOLD = Lazy(r"(?i)\b(?:please|pls|kindly|feel\sfree\sto)\s(?:contact|call|phone|e-?mail|get\sin)")


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
        if not _CONTACT().search(sentence):
            continue
        # ("Charlie Otto needs a review. Attached is the draft. Please contact him.")
        before = set().union(*(w for _, w in named_in[max(0, i - _BACK) : i]))
        for addr in copied:
            here = named(addr, words)
            if not here and not (_PRONOUN().search(sentence) and named(addr, before)):
                continue
            other = [a for a in addressed if a != addr and a not in copied and named(a, words)]
            if _YOU().search(sentence) or other or _TOLD().search(sentence):
                return addr
    return None
