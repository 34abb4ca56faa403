"""Reads the commands the owner gives refmail by mail: the `+tag` of the address a message goes
to (`refmail+won@…`: the address is the command, as with FollowUpThen's `3days@`) or a body line
`refmail: converted` (with an optional `#12`, a value and a note).

Pure: addresses and text in, a `Command` (or None) out. Whether the message may command anything
(the owner's authenticated mail only) is decided by the caller.

>>> parse("me+refmail@example.com", ["me+refmail+won@example.com"], "").action
'converted'
>>> c = parse("me+refmail@example.com", [], "Great news.\\nrefmail: converted #12 £1,200 retainer")
>>> (c.action, c.introduction_id, c.value, c.note)
('converted', 12, 1200.0, 'retainer')
>>> parse("me+refmail@example.com", ["bob@example.com"], "no command here") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from refmail import patterns
from refmail.classes import dataclass
from refmail.parse import normalise_address
from refmail.patterns import Lazy

ASK = "ask"
# Every word the owner may use, and the outcome (or "ask") it stands for.
WORDS: dict[str, str] = {
    "won": "converted",
    "win": "converted",
    "converted": "converted",
    "client": "converted",
    "lost": "not_a_fit",
    "notafit": "not_a_fit",
    "not_a_fit": "not_a_fit",
    "not-a-fit": "not_a_fit",
    "not a fit": "not_a_fit",
    "nofit": "not_a_fit",
    "connected": "connected",
    "closed": "closed",
    "close": "closed",
    "open": "open",
    "reopen": "open",
    "ask": ASK,
}
BODY_LINES_READ = 40  # a command line is near the top of what the owner wrote
_WORD = "|".join(sorted((re.escape(w) for w in WORDS), key=len, reverse=True))
_BODY = re.compile(
    rf"^[ \t]*+>?[ \t]*+refmail[ \t]*+:[ \t]*+(?P<word>{_WORD})\b(?P<rest>.*)$", re.IGNORECASE
)
# What the rest of a command line may say; compiled on first use, since most mail has no
# command line (compiling them at import cost every sync ≈ 8 M instructions: issue 15).
_AMOUNT = r"(?P<num>\d[\d,]*(?:\.\d{1,2})?)(?P<k>k\b)?"
_ID = Lazy(r"(?:^|\s)(?:#|intro(?:duction)?\s+#?)(?P<id>\d{1,9})\b", re.IGNORECASE)
# A value: after a currency sign or "value"/"worth" anywhere, or a bare number leading the rest
# of the line ("converted 1200 retainer") unless a unit follows ("12 month retainer").
_VALUE = Lazy(rf"(?:^|\s)(?:(?:value|worth)\s*[:=]?\s*[$€£]?|[$€£])\s*{_AMOUNT}", re.IGNORECASE)
_LEADING = Lazy(
    rf"^\s*{_AMOUNT}(?![\d,.])"
    r"(?!\s*-?\s*(?:months?|years?|weeks?|days?|hours?|people|staff|%|x\b))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Command:
    """What the owner asked: an outcome (open, connected, converted, not_a_fit, closed) or "ask"."""

    action: str
    words: str  # what decided, for the log: the address or the body line
    introduction_id: int | None = None  # "#12" in the body line
    value: float | None = None
    note: str = ""
    about: tuple[str, ...] = ()  # for "ask": the address(es) named on the command line


def parse(refmail: str, addressed_to: Iterable[str], own_text: str) -> Command | None:
    """The command in one message: a `+tag` on refmail's address among `addressed_to` (To, Cc,
    Delivered-To) wins over a `refmail:` body line; the body line may add an id, value and note.
    """
    body = _body_command(own_text)
    for address in addressed_to:
        action = tag_action(refmail, address)
        if action is not None:  # the body line may still say which introduction, value, note
            return Command(action, address, *(_details(body) if body else ()))
    return body


def tag_action(refmail: str, address: str) -> str | None:
    """The action of `address` if it is refmail's address with a known `+tag`, else None.

    >>> tag_action("refmail@example.com", "Refmail+Lost@example.com")
    'not_a_fit'
    >>> tag_action("refmail@example.com", "refmail+unknown@example.com") is None
    True
    """
    local, _, domain = refmail.lower().partition("@")
    got = (normalise_address(address) or address).lower()
    got_local, _, got_domain = got.partition("@")
    if got_domain != domain or not got_local.startswith(local + "+"):
        return None
    return WORDS.get(got_local[len(local) + 1 :])


def _body_command(own_text: str) -> Command | None:
    for line in own_text.splitlines()[:BODY_LINES_READ]:
        found = _BODY.match(line)
        if found is None:
            continue
        action = WORDS[found.group("word").lower()]
        rest = found.group("rest")
        about = tuple(a.lower() for a in patterns.ADDRESS().findall(rest))
        rest = patterns.ADDRESS().sub(" ", rest)
        ident = _ID().search(rest)
        if ident is not None:
            rest = rest[: ident.start()] + " " + rest[ident.end() :]
        value = (
            (_VALUE().search(rest) or _LEADING().search(rest)) if action == "converted" else None
        )
        if value is not None:
            rest = rest[: value.start()] + " " + rest[value.end() :]
        note = " ".join(rest.split()).strip(" -—:;,.")
        return Command(
            action,
            " ".join(line.split())[:200],
            int(ident.group("id")) if ident else None,
            _amount(value) if value else None,
            note[:500],
            about,
        )
    return None


def _details(body: Command) -> tuple[int | None, float | None, str, tuple[str, ...]]:
    return body.introduction_id, body.value, body.note, body.about


def _amount(found: re.Match[str]) -> float:
    number = float(found.group("num").replace(",", ""))
    return number * 1000 if found.group("k") else number
