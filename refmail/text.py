"""Makes untrusted text safe to put on one line of a mail header or a terminal.

Names and subjects come from other people's mail. Control characters in them break what refmail
writes (a vertical tab or a newline is refused in a header, so a follow-up fails for good), and
terminal escape sequences or bidirectional overrides in them can repaint or reorder what the owner
reads in `intros list`. Pure functions, no I/O.
"""

from __future__ import annotations

import unicodedata

from refmail.patterns import Lazy

# A whole terminal escape sequence goes, not only its ESC byte (else "[31m" is left behind):
# CSI (ESC [ params final), OSC (ESC ] ... BEL or ST), and any other two-byte ESC sequence.
# Each part is a run of one character class followed by a different one: linear time.
# Compiled on first use: every command imports this module, few print untrusted text.
_ESCAPES = Lazy(
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# Bidirectional embeddings, overrides, isolates and marks: they reorder what is shown.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DROPPED_FORMAT = _BIDI | {"\ufeff"}  # and a stray byte-order mark


def _char(c: str) -> str:
    """One character as it goes on a line: separators become a space, controls disappear."""
    if c in _DROPPED_FORMAT:
        return ""
    category = unicodedata.category(c)
    if category in ("Zl", "Zp") or (category == "Cc" and c.isspace()):
        return " "  # \t \n \r \x0b \x0c \x1c-\x1f \x85 U+2028 U+2029
    return "" if category in ("Cc", "Cs") else c


def one_line(text: str) -> str:
    """`text` without control characters, escape sequences or bidi overrides, whitespace runs
    made one space, trimmed.

    >>> one_line("Ann\\x0bLee \\x1b[31mred\\x1b[0m \\u202eevil\\r\\n")
    'Ann Lee red evil'
    """
    if not text.isprintable():  # the common case (no Cc, Cf, Zl, Zp…) skips the character walk
        text = "".join(_char(c) for c in _ESCAPES().sub("", text))
    return " ".join(text.split())


def msg_id(value: str) -> str:
    """A Message-ID as it may go on the wire: printable ASCII without spaces, or "" if it is
    not one (a hostile or internationalised ID that cannot be written unencoded).

    >>> msg_id(" <a@b.example>\\r\\n"), msg_id("<é@b.example>")
    ('<a@b.example>', '')
    """
    stripped = "".join(value.split())
    return stripped if stripped.isascii() and stripped.isprintable() else ""
