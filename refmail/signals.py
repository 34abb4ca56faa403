"""Signs in one message that a referral became business: words ("signed", "invoice", "welcome
aboard"…), a calendar invitation, an attachment named like a contract or an invoice.

Pure: a subject, the author's own words and the message's MIME parts in, the signs out. A sign
is only ever a suggestion to the owner; nothing is sent on one.

>>> [s.name for s in find("Re: next steps", "Invoice attached, thanks!", ())]
['invoice']
>>> find("Re: lunch", "We have not signed anything yet.", ())
()
>>> [s.name for s in find("", "", (Part("text/calendar", ""),))]
['calendar']
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message

from refmail.parse import decode_header_value

READ_LIMIT = 5_000
MAX_PARTS = 50  # a message with more parts than this is read only this far


@dataclass(frozen=True)
class Part:
    """One MIME part: its content type and (decoded) file name."""

    content_type: str
    filename: str


@dataclass(frozen=True)
class Signal:
    """A sign of business and the words (or file) that show it."""

    name: str  # invoice, contract, signed, proposal_accepted, welcome, kickoff, calendar
    evidence: str


_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "proposal_accepted",
            r"\b(?:proposal|quote|offer|estimate)\s+(?:is\s+)?accepted\b|"
            r"\baccept(?:ed|ing)?\s+(?:your|the)\s+(?:proposal|quote|offer|estimate)\b",
        ),
        ("signed", r"\b(?:signed|countersigned|e-?signed)\b(?!\s+up\b)"),
        ("contract", r"\b(?:contract|engagement\s+letter|statement\s+of\s+work|retainer)\b"),
        ("invoice", r"\binvoices?\b"),
        ("welcome", r"\bwelcome\s+(?:aboard|on\s+board)\b"),
        ("kickoff", r"\bkick[\s-]?off\b"),
        ("purchase_order", r"\bpurchase\s+order\b|\bP\.?O\.?\s+(?:number|no\.?|#)"),
    )
)
_FILES = re.compile(
    r"(?P<word>invoice|rechnung|factura|facture|contract|agreement|engagement|sow|"
    r"statement[\s_-]?of[\s_-]?work|order|signed|proposal)",
    re.IGNORECASE,
)
_NEGATED = re.compile(
    r"\b(?:not|no|never|haven'?t|hasn'?t|didn'?t|won'?t|isn'?t|aren'?t|without|yet\s+to)\b"
    r"(?:\s+[\w']+){0,3}\s*$",
    re.IGNORECASE,
)
_QUOTES = str.maketrans({"’": "'", "‘": "'"})


def find(subject: str, own_text: str, parts: tuple[Part, ...]) -> tuple[Signal, ...]:
    """Every sign in the message, strongest first (a file or invitation before words)."""
    out: list[Signal] = []
    for part in parts:
        if part.content_type == "text/calendar":
            out.append(Signal("calendar", "a calendar invitation"))
        elif part.filename:
            found = _FILES.search(part.filename)
            if found is not None:
                out.append(Signal(_file_kind(found.group("word")), f"attachment {part.filename}"))
    text = f"{subject}\n{own_text[:READ_LIMIT]}".translate(_QUOTES)
    for name, pattern in _WORDS:
        for match in pattern.finditer(text):
            if not _NEGATED.search(text[max(0, match.start() - 60) : match.start()]):
                out.append(Signal(name, f"“{match.group(0)}”"))
                break
    first: dict[str, Signal] = {}
    for signal in out:
        first.setdefault(signal.name, signal)
    return tuple(first.values())


def _file_kind(word: str) -> str:
    word = word.lower()
    if word in ("invoice", "rechnung", "factura", "facture"):
        return "invoice"
    if word == "order":
        return "purchase_order"
    if word in ("signed", "proposal"):
        return word
    return "contract"


def parts(raw: bytes) -> tuple[Part, ...]:
    """The MIME parts of a raw message (content type and file name); never raises."""
    try:
        msg = email.message_from_bytes(raw)  # compat32, the default
    except Exception:  # noqa: BLE001 - hostile mail: no parts, no signs
        return ()
    out: list[Part] = []
    for part in _walk(msg):
        try:
            name = decode_header_value(part.get_filename() or "")
        except Exception:  # noqa: BLE001 - a broken file name is no file name
            name = ""
        out.append(Part(part.get_content_type().lower(), name[:200]))
        if len(out) >= MAX_PARTS:
            break
    return tuple(out)


def _walk(msg: Message) -> list[Message]:
    try:
        return list(msg.walk())
    except Exception:  # noqa: BLE001 - deeply nested or broken structure
        return [msg]
