"""What a copy-in is, read from its shape rather than its words: a copy reported as made in
another mail ("I've sent v2 … to loop in other maintainers"), a roll of names copied with no
purpose ("I'm copying Bill Burns, Jeff Feltman, Jake Sullivan and Huma."), or a copied person
the author then asks something by name ("What do you think Bjorn? Jakub?"), or a copy that is
an item of a list the author sets out (a step of a procedure, a point of a to-do list). Pure.
"""

from __future__ import annotations

import re

from refmail.detect_parties import named
from refmail.parse import Address
from refmail.patterns import Lazy

# A sending verb whose purpose clause ("to loop in", "and to cc") is the copy: the copy was
# made in the mail that was sent (a new version, a repost), not in this one.
_SENT_TO = Lazy(
    r"(?i)\b(?:sent|resent|re-sent|posted|reposted|re-posted|submitted|resubmitted)\b"
    r"[^.!?]{0,120}\bto\s*$"
)
_NAME = r"[A-Z][\w'’-]{1,30}(?:\s[A-Z][\w'’-]{1,30})?"
# Three or more names in a row, ending the sentence: "A B, C D, E and F."
_ROLL = Lazy(rf"^\s*{_NAME}(?:,\s{_NAME}){{1,}},?\s(?:and|&)\s{_NAME}\s*[.!]?\s*$")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _sentence_of(sentence_list: list[str], words: str) -> str:
    flat = _flat(words)
    return next((_flat(s) for s in sentence_list if flat in _flat(s)), "")


def copy_in_another_mail(sentence_list: list[str], copy_words: str) -> str:
    """The sentence that reports the copy as made by another mail, else "".

    >>> copy_in_another_mail(["I've sent v2 to fix it and to loop in other maintainers."],
    ...                      "loop in other maintainers")
    "I've sent v2 to fix it and to loop in other maintainers."
    >>> copy_in_another_mail(["I'm adding Jan to help."], "adding Jan")
    ''
    """
    sentence = _sentence_of(sentence_list, copy_words)
    at = sentence.find(_flat(copy_words))
    if at < 0 or not _SENT_TO().search(sentence[:at]):
        return ""
    return sentence


def copies_a_roll(sentence_list: list[str], copy_words: str, copy_verb: re.Pattern[str]) -> str:
    """The sentence when the copy is a roll of three or more names and nothing else (no
    purpose, no description): copies for information, else "".

    >>> verb = re.compile(r"(?i)\\bcopying\\b")
    >>> copies_a_roll(["I'm copying Bill Burns, Jeff Feltman, Jake Sullivan and Huma."],
    ...               "copying Bill Burns", verb)
    "I'm copying Bill Burns, Jeff Feltman, Jake Sullivan and Huma."
    >>> copies_a_roll(["I'm copying Ann, Bo and Cy, who built it."], "copying Ann", verb)
    ''
    """
    sentence = _sentence_of(sentence_list, copy_words)
    at = sentence.find(_flat(copy_words))
    verb = copy_verb.search(sentence, max(0, at))
    if at < 0 or verb is None:
        return ""
    return sentence if _ROLL().match(sentence[verb.end() :]) else ""


def _on_one_line(text: str, question: str, note: str) -> bool:
    """The copy note ends the question's own line: "Have they been testing this? (+cc Gil)"."""
    tail = _flat(question)[-20:]
    return any(
        tail in flat and note in flat[flat.find(tail) :]
        for flat in map(_flat, text.splitlines())
        if note in flat
    )


def asks_the_copied(
    named_in: list[tuple[str, set[str]]], copied: list[Address], copy_words: str, text: str
) -> Address | None:
    """The copied party the author asks a question by name ("What do you think Bjorn?
    Jakub?"), or whose copy note ends a question's line ("Have they been testing this? (+cc
    Gil)"): brought in to answer, not copied for information."""
    note = _flat(copy_words)
    for i, (sentence, words) in enumerate(named_in):
        if not words:
            continue
        question = named_in[i - 1][0] if i > 0 else ""
        after_question = question.endswith("?") and note in _flat(sentence)
        after_question = after_question and _on_one_line(text, question, note)
        if after_question:
            spoken_to = words
        elif sentence.rstrip().endswith("?"):
            spoken_to = _vocatives(sentence)  # "Did Gil get the invoice?" is about Gil
        else:
            continue
        for addr in copied:
            if spoken_to and named(addr, spoken_to):
                return addr
    return None


_NAMES = rf"{_NAME}(?:(?:,\s(?:and\s|or\s)?|\s(?:and|or|&)\s){_NAME})*"
# Names a question is spoken to: opening it and set off ("Amir, is this…?", "@Hui: can you…",
# "Linda and Joe - thoughts…?", "Mark (+CC) why…?"), or closing it ("…, Gil?", "Jakub?", "What
# do you think Bjorn?": after a comma, alone, or after a word of a question put to "you")
_OPENING = Lazy(rf"^\s*@?(?P<names>{_NAMES})\s?(?:[,:(]|\s[-–—]\s)")
_CLOSING = Lazy(rf"(?P<sep>\A\s*|,\s|\s)@?(?P<names>{_NAMES})\s?\?+\s*\Z")
_CLOSING_REACH = 160  # the characters of a question's end searched for the names closing it
_SECOND_PERSON = Lazy(r"(?i)\byou\b")
_PREPOSITION = Lazy(r"(?i)\b(?:to|for|from|with|by|about|of|at|on|in|than|and|or)\s$")


def _vocatives(question: str) -> set[str]:
    """The words (lower-cased) of the names a question is spoken to, by position."""
    out: set[str] = set()
    opening = _OPENING().match(question)
    if opening:
        out |= {w.lower() for w in re.findall(r"[A-Z][\w'’-]+", opening.group("names"))}
    # (the end only: searched whole, a long run of capitalised words would be quadratic)
    closing = _CLOSING().search(question, max(0, len(question) - _CLOSING_REACH))
    if closing:
        before = question[: closing.start()] + " "
        set_off = closing.group("sep").strip() == "," or not before.strip()
        if set_off or (_SECOND_PERSON().search(before) and not _PREPOSITION().search(before)):
            out |= {w.lower() for w in re.findall(r"[A-Z][\w'’-]+", closing.group("names"))}
    return out


# The start of a list item: "4. ", "2) ", "* ", "- ", "• " (the marker, and its indentation)
_ITEM = Lazy(r"^(?P<indent>[ \t]{0,8})(?P<marker>\d{1,2}[.)]|[-*•])[ \t]")
_ANY_ITEM = Lazy(r"^[ \t]{0,8}(?:\d{1,2}[.)]|[-*•])[ \t]", re.MULTILINE)


def copy_in_a_list_item(text: str, copy_words: str) -> str:
    """The first line of the list item the copy note is written in, when the list has two
    items or more ("4. Forwards the report to the right list, Cc'ing the right people", "*
    afterwards make sure Greg (now CCed) checks it"): a step of a procedure or a point of a
    plan, said of the copy rather than the note that makes it; else "".

    >>> copy_in_a_list_item("1. Pull the trace\\n2. Forward it, Cc'ing the\\n   maintainers",
    ...                     "Cc'ing the maintainers")
    "2. Forward it, Cc'ing the"
    >>> copy_in_a_list_item("Hi,\\n\\n+ Kay, who wrote it", "+ Kay")
    ''
    """
    words = copy_words.split()
    if not words or _ANY_ITEM().search(text) is None:
        return ""  # (most mail has no list: one search, no pattern built)
    found = re.search(r"\s+".join(map(re.escape, words)), text)
    if found is None:
        return ""
    lines = text.split("\n")
    at = text.count("\n", 0, found.start())  # the line the copy note starts on
    note = at
    while at >= 0 and lines[at].strip() and _ITEM().match(lines[at]) is None:
        at -= 1  # back to the item's first line, not past a blank line
    item = _ITEM().match(lines[at]) if at >= 0 else None
    if item is None or not all(_goes_on(lines, i, item) for i in range(at + 1, note + 1)):
        return ""  # (the author's own line after a list is not in it)
    return lines[at].strip() if _items_in_list(lines, at, item) >= 2 else ""


def _kind(item: re.Match[str]) -> tuple[str, str]:
    """A list item's indentation and marker kind: items of one list share them."""
    marker = item.group("marker")
    return item.group("indent"), "1." if marker[0].isdigit() else marker


def _goes_on(lines: list[str], i: int, item: re.Match[str]) -> bool:
    """Line `i` goes on the item above it: indented further than its marker, or the rest of a
    line wrapped where it was long (plain-text mail wraps items without indenting them);
    not the author's own line after a list of short items."""
    line = lines[i]
    indented = len(line) - len(line.lstrip(" \t")) > len(item.group("indent"))
    return indented or (i > 0 and len(lines[i - 1].rstrip()) >= _WRAPPED)


_WRAPPED = 50  # a line this long may have been wrapped: the next one goes on with it


def _items_in_list(lines: list[str], at: int, item: re.Match[str]) -> int:
    """The items of the list the item at line `at` is in: of its kind, up and down from it
    through blank lines and lines within an item, to the first line of other text."""
    kind, count = _kind(item), 0
    for step, start in ((-1, at), (1, at + 1)):
        i = start
        while 0 <= i < len(lines):
            line, other = lines[i], _ITEM().match(lines[i])
            if other is not None and _kind(other) == kind:
                count += 1
            elif line.strip() and not _goes_on(lines, i, item):
                break  # text after (or before) the list, or another list
            i += step
    return count


def copy_shape(
    text: str,
    sentence_list: list[str],
    named_in: list[tuple[str, set[str]]],
    cues: dict[str, str],
    copied: list[Address],
    copy_verb: Lazy,
    described: bool = False,
) -> list[tuple[str, str]]:
    """The features of the copy-in's shape: (feature, evidence) pairs; `described` when the
    message describes a party (`copy_verb` is compiled only if a roll is looked for)."""
    words = cues.get("cue_copy_in", "")
    if not words:
        return []
    out: list[tuple[str, str]] = []
    elsewhere = copy_in_another_mail(sentence_list, words)
    if elsewhere:
        out.append(("copy_in_another_mail", f"“{elsewhere[:80]}”"))
    # (a roll followed by who each one is introduces them: "… Dana runs the lab")
    roll = "" if described else copies_a_roll(sentence_list, words, copy_verb())
    if roll:
        out.append(("copies_a_roll", f"“{roll[:80]}”"))
    item = copy_in_a_list_item(text, words)
    if item:
        out.append(("copy_in_a_list_item", f"“{item[:80]}”"))
    asked = asks_the_copied(named_in, copied, words, text)
    if asked is not None:
        out.append(("asks_the_copied", str(asked)))
    return out
