"""A header block read into a compat32 Message exactly as the stdlib's BytesHeaderParser reads it,
without the stdlib's line-by-line feed machinery on the blocks that need none of it.

Triage parses the header block of every message of a mailbox (issue 15): the stdlib's feed
parser pushes each line through a buffered reader, a generator and several regex tests, about
half of a header parse. A block whose every line is a plain `Name: value` or a folded
continuation of one, ending at a blank line, is split here in a few string operations; anything
else (a Unix "From " line, a line that is neither, a first line folded, a bare CR) is left to
the stdlib, so odd mail reads exactly as before. Pure: bytes in, a Message out.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesHeaderParser

# What the stdlib's feed parser takes as a header line (email.feedparser.headerRE), without its
# "From " and empty-name cases, which go to the stdlib. Anchored and possessive: linear even
# where it is searched for, not matched (tests/test_linear_patterns.py searches every pattern).
_NAMED = re.compile(r"\A[\041-\071\073-\176]++:")


def parse_header_block(data: bytes) -> Message:
    """The Message BytesHeaderParser().parsebytes(data) gives, its headers as raw items (the
    body, when `data` has one, is not kept: callers read the headers only).

    >>> msg = parse_header_block(b"From: a@example.com\\r\\nSubject: one\\r\\n two\\r\\n\\r\\nbody")
    >>> list(msg.raw_items()) == [("From", "a@example.com"), ("Subject", "one\\r\\n two")]
    True
    """
    text = data.decode("ascii", "surrogateescape")
    items = _plain_items(text)
    if items is None:
        return BytesHeaderParser().parsebytes(data)
    msg = Message()
    for name, value in items:
        msg.set_raw(name, value)
    return msg


def _plain_items(text: str) -> list[tuple[str, str]] | None:
    """(name, value) of each header as compat32 stores it (the first line's value stripped of
    leading blanks, the folded lines kept with their line ends, the last line end dropped), or
    None when a line is one the stdlib treats specially."""
    if text.count("\r") != text.count("\r\n"):
        return None  # a bare CR ends a line for the stdlib: its own reading
    items: list[tuple[str, str]] = []
    lines = text.split("\n")
    last = len(lines) - 1
    name, value = "", [""]
    for index, piece in enumerate(lines):
        if index == last:
            if not piece:
                break  # the text ended with a line end
            line = piece  # the last line, unterminated
        else:
            line = piece + "\n"
            if line == "\n" or line == "\r\n":
                break  # the blank line that ends the headers
        if line[0] in " \t":
            if not name:
                return None  # a folded first line: a defect the stdlib records
            value.append(line)
            continue
        if _NAMED.match(line) is None:
            return None  # no name before a colon (a Unix "From " line among them: its space)
        if name:
            items.append(_item(name, value))
        colon = line.index(":")
        name, value = line[:colon], [line[colon + 1 :].lstrip(" \t")]
    if name:
        items.append(_item(name, value))
    return items


def _item(name: str, value: list[str]) -> tuple[str, str]:
    return name, "".join(value).rstrip("\r\n")
