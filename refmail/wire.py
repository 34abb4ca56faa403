"""The bytes of a rendered follow-up, written directly: the same bytes the stdlib's
`EmailMessage(policy=WIRE)` + `set_content` + `add_alternative` + `as_bytes()` writes, without
its header parsing and refolding (two thirds of a draft's rendering time).

Exact by construction where it matters: a header value refmail sets goes out as
`Name: value` only when it is a shape the stdlib writes unchanged (short printable ASCII words,
no encoded-word look-alike, an address or Message-ID of the plain form); anything else (a
non-ASCII name, a long subject, a hostile value) is folded by the stdlib itself, through the
same policy, and remembered per `Fields` (the owner's name, a contact's, a subject repeat from
row to row). Bodies follow the stdlib's choice of transfer encoding (`_encode_text` in
email.contentmanager) and its line ends; the multipart boundary is drawn as the stdlib draws
it. tests/test_render_headers.py holds these bytes equal to the stdlib's on generated drafts.
Pure: no I/O.
"""

from __future__ import annotations

import binascii
import email.policy
import email.quoprimime
import random
import re
import sys
from collections.abc import Sequence
from email.headerregistry import BaseHeader, HeaderRegistry

# Header fields of IDs and URLs: never encoded, folded only between their words.
VERBATIM = frozenset(
    {"message-id", "in-reply-to", "references", "x-refmail-id"}
    | {"list-unsubscribe", "list-unsubscribe-post"}
)
MAX_LINE = 78  # policy.SMTP's max_line_length
CRLF = "\r\n"


class WirePolicy(email.policy.EmailPolicy):
    """policy.SMTP, except that the VERBATIM fields are written unencoded (a value that is not
    printable ASCII, or has a word too long for a line, falls back to the stdlib's folding)."""

    def fold(self, name: str, value: object) -> str:
        return self._verbatim(name, value) or super().fold(name, value)  # type: ignore[arg-type]

    def fold_binary(self, name: str, value: object) -> bytes:
        folded = self._verbatim(name, value)
        return folded.encode("ascii") if folded else super().fold_binary(name, value)  # type: ignore[arg-type]

    def _verbatim(self, name: str, value: object) -> str:
        text = str(value)
        longest = max(map(len, text.split()), default=0)
        if name.lower() not in VERBATIM or not (text.isascii() and text.isprintable()):
            return ""
        if len(name) + 2 + longest > 998:  # RFC 5322's hard limit: the stdlib must split it
            return ""
        return fold_at_spaces(name, text, self.max_line_length or 998, self.linesep) + self.linesep


def fold_at_spaces(name: str, value: str, width: int, linesep: str = CRLF) -> str:
    """`Name: value` folded before a word that would pass `width`, never inside one.

    >>> fold_at_spaces("References", "<a@x> <b@x>", 16)
    'References: <a@x>\\r\\n <b@x>'
    """
    head = f"{name}:"
    lines, line = [], head
    for word in value.split():
        if line != head and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return linesep.join(lines)


class MadeOnce(HeaderRegistry):
    """The stdlib's header classes, each made once: HeaderRegistry builds a new class for every
    header it is asked for (a dozen or more per message), a fifth of a draft's rendering time.
    The classes made are the same each time, so the bytes are too."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# policy.SMTP is EmailPolicy(linesep="\r\n")
WIRE = WirePolicy(linesep=CRLF, header_factory=MadeOnce())


def stdlib_field(name: str, value: str) -> bytes:
    """`Name: value` CRLF as the stdlib writes it (WIRE): what `msg[name] = value` stores and
    `as_bytes()` folds. Raises ValueError for a value with a line break, as `msg[name]` does.

    >>> stdlib_field("Subject", "Bøb")
    b'Subject: =?utf-8?q?B=C3=B8b?=\\r\\n'
    """
    return WIRE.fold_binary(name, WIRE.header_store_parse(name, value)[1])


# --- header fields: which values the stdlib writes unchanged -----------------------------------

# Printable ASCII words, one space apart (no leading, trailing or doubled space, no control).
# Whole values only (\A…\Z): a search could restart at every character, quadratic.
_PLAIN = re.compile(r"\A[!-~]+(?: [!-~]+)*\Z")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_ADDR = rf"{_DOT_ATOM}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
# What email.utils.formataddr writes for an ASCII name: atoms, or a quoted string.
_DISPLAY = rf'(?:{_ATOM}(?: {_ATOM})*|"(?:[ !#-\[\]-~]|\\["\\])*")'
_ADDRESS = re.compile(rf"\A(?:{_DISPLAY} <{_ADDR}>|{_ADDR})\Z")
_MESSAGE_ID = re.compile(rf"\A<{_DOT_ATOM}@{_DOT_ATOM}>\Z")
_DATE = re.compile(
    r"\A(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d\d:\d\d:\d\d [+-]\d{4}\Z"
)
_ADDRESS_FIELDS = frozenset({"from", "to"})


def _written_as_is(key: str, value: str) -> bool:
    """Does the stdlib parse `value` back to itself (so that its fold is `Name: value` for a
    short one, and WirePolicy's verbatim fold for an ID or URL)?"""
    if not _PLAIN.match(value) or "=?" in value:  # "=?…?=" would be decoded, then re-encoded
        return False
    if key in _ADDRESS_FIELDS:
        return _ADDRESS.match(value) is not None
    if key == "message-id":
        return _MESSAGE_ID.match(value) is not None
    if key == "date":
        return _DATE.match(value) is not None
    return True  # unstructured: Subject, References, X-Refmail-ID, List-Unsubscribe…


def fast_field(name: str, value: str) -> bytes | None:
    """`Name: value` CRLF when the stdlib would write exactly that (or, for a VERBATIM field,
    fold it at spaces); None when only the stdlib can say.

    >>> fast_field("Subject", "Checking in")
    b'Subject: Checking in\\r\\n'
    >>> fast_field("Subject", "Bøb") is None
    True
    """
    key = name.lower()
    if not _written_as_is(key, value):
        return None
    if key in VERBATIM:
        if len(name) + 2 + max(map(len, value.split())) > 998:
            return None  # WirePolicy leaves such a word to the stdlib
        return (fold_at_spaces(name, value, MAX_LINE) + CRLF).encode("ascii")
    if len(name) + 2 + len(value) > MAX_LINE:
        return None  # the stdlib folds it: its own rules
    return f"{name}: {value}{CRLF}".encode("ascii")


class Fields:
    """Header fields as the stdlib writes them; what only the stdlib can fold is folded once per
    value and remembered (up to `limit` values, then forgotten all at once: no unbounded
    growth over a long-running daemon)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._folded: dict[tuple[str, str], bytes] = {}

    def field(self, name: str, value: str) -> bytes:
        fast = fast_field(name, value)
        if fast is not None:
            return fast
        key = (name, value)
        folded = self._folded.get(key)
        if folded is None:
            folded = stdlib_field(name, value)  # may raise ValueError, as msg[name] = value does
            if len(self._folded) >= self.limit:
                self._folded.clear()
            self._folded[key] = folded
        return folded

    def block(self, fields: Sequence[tuple[str, str]]) -> bytes:
        return b"".join(self.field(name, value) for name, value in fields)


# --- bodies -------------------------------------------------------------------------------------

_NEWLINE = re.compile(r"\r\n|\r|\n")


def encode_text(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body bytes with CRLF line ends) for `text` in UTF-8, chosen
    as `set_content(text)` chooses (email.contentmanager._encode_text, policy WIRE) and written
    as BytesGenerator writes it.

    >>> encode_text("Hi,\\nBob\\n")
    ('7bit', b'Hi,\\r\\nBob\\r\\n')
    >>> encode_text("Hi Bøb\\n")
    ('8bit', b'Hi B\\xc3\\xb8b\\r\\n')
    """
    lines = text.encode("utf-8").splitlines()
    if max(map(len, lines), default=0) <= MAX_LINE:
        body = b"\r\n".join(lines) + b"\r\n"
        return ("7bit" if body.isascii() else "8bit"), body  # WIRE's cte_type is 8bit
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    sniff_qp = email.quoprimime.body_encode(sniff.decode("latin-1"), MAX_LINE)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        embedded = b"\r\n".join(lines) + b"\r\n"
        per_line = MAX_LINE // 4 * 3
        chunks = (embedded[i : i + per_line] for i in range(0, len(embedded), per_line))
        cte, data = "base64", "".join(binascii.b2a_base64(c).decode("ascii") for c in chunks)
    elif len(lines) <= 10:
        cte, data = "quoted-printable", sniff_qp
    else:
        normal = (b"\n".join(lines) + b"\n").decode("latin-1")
        cte, data = "quoted-printable", email.quoprimime.body_encode(normal, MAX_LINE)
    return cte, _NEWLINE.sub(CRLF, data).encode("ascii")


def text_part(text: str, subtype: str, mime_version: bool) -> bytes:
    """A text/`subtype` part, headers and body, as `set_content(text, subtype=…)` makes it (a
    part made by EmailMessage.add_alternative carries its own MIME-Version)."""
    cte, body = encode_text(text)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return (head + ("MIME-Version: 1.0\r\n" if mime_version else "") + CRLF).encode() + body


_TOKEN_FORMAT = f"%0{len(repr(sys.maxsize - 1))}d"  # email.generator's _fmt
_STANDARD_BOUNDARY = re.compile(r"={15}\d+==\Z")


def boundary(text: bytes) -> str:
    """A multipart boundary not in `text`, drawn as BytesGenerator._make_boundary draws it (one
    `random.randrange` per message: seeded alike, the two give the same boundary)."""
    first = "=" * 15 + (_TOKEN_FORMAT % random.randrange(sys.maxsize)) + "=="
    if ("--" + first).encode("ascii") not in text:
        return first  # the stdlib's pattern cannot match either
    chosen, counter = first, 0
    while re.search(b"^--" + re.escape(chosen.encode("ascii")) + b"(--)?$", text, re.MULTILINE):
        chosen = f"{first}.{counter}"
        counter += 1
    return chosen


def multipart_type(chosen: str) -> bytes:
    """The Content-Type field of a multipart/alternative with this boundary."""
    if _STANDARD_BOUNDARY.match(chosen):
        return f'Content-Type: multipart/alternative;\r\n boundary="{chosen}"\r\n'.encode()
    return stdlib_field("Content-Type", f'multipart/alternative; boundary="{chosen}"')


def message_bytes(head: bytes, text: str, html: str = "") -> bytes:
    """The whole message: `head` (the header fields, folded), then the plain-text body, or a
    multipart/alternative of it and `html` when there is HTML, as the stdlib lays them out."""
    if not html:
        return head + text_part(text, "plain", mime_version=True)
    plain, rich = text_part(text, "plain", mime_version=False), text_part(html, "html", True)
    chosen = boundary(plain + b"\r\n" + rich)
    dash = b"--" + chosen.encode("ascii")
    return b"".join(
        (
            head,
            b"MIME-Version: 1.0\r\n",
            multipart_type(chosen),
            b"\r\n",
            dash + b"\r\n",
            plain,
            b"\r\n" + dash + b"\r\n",
            rich,
            b"\r\n" + dash + b"--\r\n",
        )
    )
