"""Why the author copies someone in: to reach the one addressed ("copying Lona so she can call
you", "asking her to coordinate this for us"), or for the author's own task among colleagues
("copying Rob so a note can be prepared"); and whether the parties already work together.

A copy-in connects people when its purpose reaches the other side; an aide copied to find the
author a date or print a paper connects nobody, nor, with everyone of one organisation, one
copied to prepare a note. Pure.
"""

from __future__ import annotations

import re
from functools import cache

from refmail.detect_lang import LanguageData
from refmail.detect_parties import MAILBOX_PROVIDERS, capitalised_words, domain_of, named
from refmail.parse import Address

_PURPOSE_REACH = 40  # characters: a purpose explains the copy beside it, not one further on
_CLAUSE = 160


@cache  # a few patterns per language, kept for the process
def _compiled(source: str) -> re.Pattern[str]:
    return re.compile(source)


def copy_purpose(
    sentence: str, copy_words: str, others: list[Address], data: LanguageData
) -> tuple[str, str]:
    """("reach", clause) when the purpose said right after the copy is an act toward the one
    addressed or one of `others` (the parties not copied): "so she can call you"; ("task",
    clause) when it is no act toward anyone: "so a note can be prepared", "to see if they can
    get it into the press"; ("", "") when none is said right after the copy."""
    at = sentence.find(copy_words)
    if at < 0:
        return "", ""
    after = sentence[at + len(copy_words) :]
    # (searched a little further than it may open, so "to the thread" is read whole)
    opens = _compiled(data.purpose).search(after[: _PURPOSE_REACH + 30])
    if opens is None or opens.start() > _PURPOSE_REACH:
        return "", ""
    if _compiled(data.reason).search(after[: opens.start()]):
        return "", ""  # no purpose, or a reason first: "because he has more up to date…"
    clause = after[opens.start() : opens.start() + _CLAUSE].strip()
    toward = _compiled(data.toward).search(clause) is not None or any(
        named(a, capitalised_words(clause)) for a in others
    )
    if toward and _compiled(data.contact).search(clause):
        return "reach", clause
    return "task", clause


# Mail hosts anyone may use: two people there are not colleagues (nor at the example.*
# documentation domains, which unrelated people of reconstructed and hand-written mail share,
# nor at kernel.org, which gives addresses to kernel developers of many unrelated employers).
_PUBLIC_HOSTS = MAILBOX_PROVIDERS | {"example.com", "example.net", "example.org", "kernel.org"}


def one_organisation(addrs: list[Address], author: Address | None = None) -> bool:
    """Everyone in `addrs` (and the author, when given) writes from one domain that is not a
    public mail host: people who already work together."""
    domains = {domain_of(a) for a in addrs} | ({domain_of(author)} if author is not None else set())
    # (one party alone is no organisation of people: with the author, it may be)
    enough = len(addrs) >= (1 if author is not None else 2)
    return enough and len(domains) == 1 and not domains & _PUBLIC_HOSTS


def copy_evidence(
    sentence: str,
    copy_words: str,
    addrs: list[Address],
    copied: list[Address],
    explained: bool,
    data: LanguageData,
) -> tuple[str, str] | None:
    """The feature the copy's purpose shows: reaching the other side ("so she can call you");
    the author's own arrangements, whoever the parties ("copying Lena to find a date"); or,
    with every party of one organisation, a task of the author's ("so a note can be
    prepared") or no reason at all ("Yes, I will go and am copying Lona.")."""
    others = [a for a in addrs if a not in copied]
    kind, clause = copy_purpose(sentence, copy_words, others, data)
    if kind == "reach":
        return "copy_to_reach", f"“{clause[:60]}”"
    logistics = kind == "task" and _compiled(data.logistics).search(clause) is not None
    if not one_organisation(addrs):
        # an aide copied to find the author a date or print a paper: the author's arrangements
        return ("copy_for_logistics", f"“{clause[:60]}”") if logistics else None
    if kind == "task":
        return "copy_for_own_task", f"“{clause[:60]}”, everyone of one organisation"
    if not kind and not explained:
        return "copy_unexplained", "no reason for the copy, everyone of one organisation"
    return None


def colleagues_only(author: Address, addrs: list[Address]) -> tuple[str, str] | None:
    """People of the author's own organisation ("Tom, Leslie - Tom has the invoices and Leslie
    the gas side"), with no act that connects them (the caller's to say), already work
    together: the shape alone is their group mail's."""
    if one_organisation(addrs, author):
        return "colleagues_only", f"everyone is at {domain_of(author)}, as the author"
    return None
