"""The author's own words of a message, its language, its sentences and whom it answers.

Mail clients put the author's text in many places: above the quote, between quoted lines
(inline replies on mailing lists), or above a forwarded block. `author_text` keeps every line
the author wrote before the first forwarded or Outlook-style header block, dropping '>' lines,
attribution lines ("On …, Bob wrote:") and the signature. Everything is capped so a hostile
message costs no more than a normal one. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from refmail.parse import ParsedMessage

AUTHOR_TEXT_LIMIT = 8_000  # characters of the author's text that detection reads
_SCAN_LIMIT = 60_000  # characters of the body scanned for the author's inline lines

# Where quoted history certainly starts: a forward marker or a quoted header block.
_HARD_STOP = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]*(?:Original Message|Forwarded message|Forwarded by|Mensaje original"
    r"|Mensaje reenviado)[^\n]{0,80}"
    r"|Begin forwarded message:|Inicio del mensaje reenviado:"
    r"|\*?(?:From|De):\*?[ \t][^\n]{0,300}\n[ \t]*\*?(?:Sent|Date|To|Enviado|Fecha|Para)\*?:"
    r"|_{10,}[ \t]*$|-- ?$)",
    re.IGNORECASE | re.MULTILINE,
)
_WROTE = (
    r"(?:wrote|writes|schrieb|a\s+écrit|escribió|escreveu|ha\s+scritto|schreef|skrev|napisał"
    r"|写道|kirjoitti)"
)
# An attribution line: "On <date>, Bob <bob@x> wrote:", "Bob wrote:", "<date>, Bob 写道:",
# "Den <date>, skrev Bob:", possibly wrapped over two lines.
_ATTRIBUTION = re.compile(
    rf"^[^\n>]{{0,200}}{_WROTE}[^\n]{{0,80}}:?[ \t]*$"
    rf"|^[ \t]*(?:On|Am|Le|El|Em|Il|Op|Den)\s[^\n]{{0,200}}\n[^\n]{{0,120}}{_WROTE}[^\n]{{0,80}}$",
    re.IGNORECASE | re.MULTILINE,
)
_ATTRIBUTED_NAME = re.compile(
    r"(?:,\s*|\d\s+|skrev\s+)(?P<name>[^\s,<>:\d][^,<>:\n]{0,60}?)\s*(?:<(?P<email>[^<>\s]+)>)?"
    rf"\s*(?:via\s+\S+\s+)?(?:{_WROTE})?\s*:?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AuthorText:
    """The author's own text, and what the top of the quoted history says about whom it answers."""

    text: str
    replied_name: str  # the name in the first attribution line ("Bob Smith" of "Bob wrote:")
    replied_email: str  # its address when the attribution carries one


def author_text(msg: ParsedMessage) -> AuthorText:
    """Every line the author wrote, in order, without quotes, attributions and signature."""
    body = msg.full_text[:_SCAN_LIMIT]
    stop = _HARD_STOP.search(body)
    head = body[: stop.start()] if stop else body
    replied_name, replied_email = "", ""
    attribution = _ATTRIBUTION.search(head)
    if attribution is not None:
        line = " ".join(attribution.group(0).split())
        named = _ATTRIBUTED_NAME.search(line)
        if named is not None:
            replied_name = named.group("name").strip(" \"'")
            replied_email = (named.group("email") or "").lower()
        head = _ATTRIBUTION.sub("", head)
    lines = [line for line in head.split("\n") if not line.lstrip().startswith(">")]
    text = "\n".join(lines).strip()
    if not text:
        text = msg.own_text
    return AuthorText(text[:AUTHOR_TEXT_LIMIT], replied_name, replied_email)


# --- language ------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def language(text: str, stop_words: Mapping[str, frozenset[str]], default: str = "en") -> str:
    """The language whose stop words are most frequent in `text` (ties and silence: default).

    >>> language("Hola Ana, te presento a Luis, que trabaja en", {"en": frozenset({"the"}),
    ...          "es": frozenset({"que", "en", "a"})})
    'es'
    """
    counts = dict.fromkeys(stop_words, 0)
    for word in _WORD.findall(text[:3000].lower()):
        for lang, words in stop_words.items():
            if word in words:
                counts[lang] += 1
    best = max(counts, key=lambda lang: (counts[lang], lang == default))
    return best if counts[best] > counts.get(default, 0) else default


# --- sentences -----------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n[ \t]*\n|\n(?=[ \t]*[-*•][ \t])")
# A full stop after these does not end a sentence ("XYZ Co. may be calling you").
_ABBREVIATION = re.compile(
    r"(?:\b(?:Co|Inc|Ltd|Corp|Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|vs|etc|e\.g|i\.e|Sra?|Dra?)|\b[A-Z])\.$"
)


def sentences(text: str) -> list[str]:
    """The sentences of `text`, whitespace folded, abbreviations kept inside their sentence.

    >>> sentences("Julia from XYZ Co. may call. She is great!\\n\\nBest")
    ['Julia from XYZ Co. may call.', 'She is great!', 'Best']
    """
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = " ".join(piece.split())
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] += " " + piece
        elif piece:
            out.append(piece)
    return out
