"""The author's own words of a message, its language, its sentences and whom it answers.

Mail clients put the author's text in many places: above the quote, between quoted lines
(inline replies on mailing lists), or above a forwarded block. `author_text` keeps every line
the author wrote before the first forwarded or Outlook-style header block, dropping '>' lines,
attribution lines ("On …, Bob wrote:", or a "From:"/"Date:" block over a '>' quote) and the
signature. Everything is capped so a hostile
message costs no more than a normal one. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from refmail.parse import ParsedMessage
from refmail.patterns import Lazy

AUTHOR_TEXT_LIMIT = 8_000  # characters of the author's text that detection reads
_SCAN_LINES = 1_500  # lines of the body scanned for the author's inline lines

# Lines where quoted history certainly starts: a forward marker, a separator, a signature.
_HARD_STOP = re.compile(
    r"(?<![ \t_-])[ \t]*(?:-{2,}[ \t]*(?:Original Message|Forwarded message|Forwarded by"
    r"|Mensaje original|Mensaje reenviado|Ursprüngliche Nachricht|Original-Nachricht"
    r"|Message d'origine|Message original|Replied Message|原始邮件|邮件原件)"
    r"|Begin forwarded message:|Inicio del mensaje reenviado:|_{10,}[ \t]*$|-- ?$)",
    re.IGNORECASE,
)
# An Outlook header block: "From: …" followed by "Sent:"/"Date:"/"To:".
# (in the languages clients write them in: Von/An, De/À, 发件人/收件人, 差出人/宛先; a full-width
# colon after CJK words)
_HEADER_FROM = Lazy(
    r"(?<![ \t])[ \t]*\*?(?:From|De|Von|发件人|寄件者|差出人)\*?[:：]\*?[ \t]?", re.IGNORECASE
)
_HEADER_NEXT = Lazy(
    r"(?<![ \t])[ \t]*\*?(?:Sent|Date|To|Enviado|Fecha|Para|Gesendet|Datum|An|Envoyé|À|发送时间"
    r"|日期|时间|收件人|寄件日期|送信日時|宛先)\*?[:：]",
    re.IGNORECASE,
)
_WROTE_WORDS = (
    "wrote",
    "writes",
    "schrieb",
    "a écrit",
    "escribió",
    "escreveu",
    "ha scritto",
    "schreef",
    "skrev",
    "napisał",
    "写道",
    "kirjoitti",
)
_ATTRIBUTED_NAME = Lazy(
    r"(?:,\s*|\d\s+|skrev\s+|^)(?P<name>[^\s,<>:\d][^,<>:\n]{0,60}?)\s*(?:<(?P<email>[^<>\s]+)>)?"
    r"\s*(?:via\s+\S+\s+)?(?:wrote|writes|schrieb|a\s+écrit|escribió|escreveu|ha\s+scritto"
    r"|schreef|skrev|napisał|写道|kirjoitti)?\s*:?\s*$",
    re.IGNORECASE,
)
# Notes (Lotus) quoted author: "Bob <bob@x> on 11/28/2000 09:04:42 AM", then "To:" below.
_NOTES_AUTHOR = Lazy(r"^[^\n]{0,200}\S@\S[^\n]{0,80}\son\s\d{1,2}/\d{1,2}/\d{2,4}")
_NOTES_TO = Lazy(r"(?<![ \t])[ \t]*To:", re.IGNORECASE)
_NOTES_DATE = Lazy(
    r"^[ \t]*\d{1,2}/\d{1,2}/\d{2,4}[ \t]+\d{1,2}:\d{2}(?::\d{2})?[ \t]*(?:[AP]M)?[ \t]*$",
    re.IGNORECASE,
)
# The characters _HARD_STOP and _HEADER_FROM can start with after spaces and tabs (their
# case-insensitive letters with the ones Unicode folds to them: "ı" and "İ" are an "i").
_STOP_FIRST = frozenset("-_BbIiİı")
_FROM_FIRST = frozenset("*FfDdVv发寄差")
_ATTRIBUTION_START = Lazy(r"(?<![ \t])[ \t]*(?:On|Am|Le|El|Em|Il|Op|Den)\s", re.IGNORECASE)


@dataclass(frozen=True)
class AuthorText:
    """The author's own text, and what the top of the quoted history says about whom it answers."""

    text: str
    replied_name: str  # the name in the first attribution line ("Bob Smith" of "Bob wrote:")
    replied_email: str  # its address when the attribution carries one


def _attribution(line: str, following: str) -> str | None:
    """The attribution text if `line` (maybe with the next line) says who wrote the quote."""
    end = line.rstrip()[-3:]
    if (end.endswith(":") or end == "写道" or "skrev" in line) and len(line) < 300:
        lowered = line.lower()
        if any(w in lowered for w in _WROTE_WORDS):
            return line
    if (
        following.rstrip().endswith(":")
        and _ATTRIBUTION_START().match(line)
        and any(w in following.lower() for w in _WROTE_WORDS)
        and len(line) + len(following) < 400
    ):
        return line + " " + following
    return None


def author_text(msg: ParsedMessage) -> AuthorText:
    """Every line the author wrote, in order, without quotes, attributions and signature."""
    text, replied_name, replied_email = _own_lines(msg.full_text)
    return AuthorText(text or msg.own_text[:AUTHOR_TEXT_LIMIT], replied_name, replied_email)


_FORWARD_HEADER = Lazy(
    r"(?<![ \t>])[ \t>]*\*?(?:From|To|Cc|Date|Sent|Subject|Reply-To|De|Para|Asunto|Fecha"
    r"|Enviado|CC)\*?:",
    re.IGNORECASE,
)
_FORWARD_START = Lazy(
    r"(?<![ \t-])[ \t]*(?:-{2,}[ \t]*(?:Original Message|Forwarded message|Mensaje original"
    r"|Mensaje reenviado)[^\n]{0,40}|Begin forwarded message:"
    r"|Inicio del mensaje reenviado:)[ \t]*$",
    re.IGNORECASE,
)


def forwarded_text(msg: ParsedMessage) -> str:
    """The words of the first forwarded message (its header block skipped), as author lines."""
    lines = msg.history.split("\n", _SCAN_LINES)[:_SCAN_LINES]
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and _FORWARD_START().match(lines[i]):
        i += 1
    while i < len(lines) and (
        not lines[i].strip()
        or _FORWARD_HEADER().match(lines[i])
        # a header folded by the client: "To: a@x; b@y;" then "c@z; d@w"
        or (i > 0 and lines[i - 1].rstrip().endswith((",", ";")) and "@" in lines[i])
    ):
        i += 1
    text, _, _ = _own_lines("\n".join(lines[i:]))
    return text


def _own_lines(body: str) -> tuple[str, str, str]:
    """(own text, replied name, replied address) of a body: quoted history left out."""
    lines = body.split("\n", _SCAN_LINES)[:_SCAN_LINES]
    kept: list[str] = []
    replied_name = replied_email = ""
    skip = size = 0
    for i, line in enumerate(lines):
        if skip:
            skip -= 1
            continue
        if line.lstrip().startswith(">"):
            continue
        # (the first character says which of the history's starts a line can be: most lines
        # are none, and three patterns per line cost more than the rest of the walk)
        first = line.lstrip(" \t")[:1]
        if first in _STOP_FIRST and _HARD_STOP.match(line):
            break
        following = lines[i + 1] if i + 1 < len(lines) else ""
        header = _HEADER_FROM().match(line) if first in _FROM_FIRST else None
        if header and _HEADER_NEXT().match(_next_filled(lines, i)):
            # (Notes puts blank lines between "From: Chris Long  09/12/2000" and "To:")
            quoted = _quoted_after_headers(lines, i)
            if quoted is None:
                break
            skip = quoted - i - 1  # "From: X / Date: Y" over '>' lines attributes a quote
            if not replied_name and not replied_email:
                # (after the match: the colon may be a full-width one, "From： Bob")
                replied_name, replied_email = _attributed(line[header.end() :])
            continue
        if "@" in line and _NOTES_AUTHOR().match(line) and _NOTES_TO().match(following):
            break
        if (
            first.isdecimal()
            and _NOTES_DATE().match(line)
            and any(_NOTES_TO().match(n.lstrip()) for n in lines[i + 1 : i + 3])
        ):
            # Lotus Notes: "Billy Lemmons" / "04/30/2001 06:41 PM" / "To: …" starts the history
            if kept and len(kept[-1].strip()) <= 60:
                kept.pop()
            break
        attribution = _attribution(line, following) if len(line) > 5 else None
        if attribution is not None:
            skip = 0 if attribution == line else 1
            skip = _indented_quote(lines, i + 1 + skip) - i - 1
            if not replied_name and not replied_email:
                replied_name, replied_email = _attributed(attribution)
            continue
        kept.append(line)
        size += len(line) + 1
        if size > AUTHOR_TEXT_LIMIT:
            break
    return "\n".join(kept).strip()[:AUTHOR_TEXT_LIMIT], replied_name, replied_email


def _indented_quote(lines: list[str], j: int) -> int:
    """The index of the first line after the quote that starts at line `j`, below an
    attribution, when the quote is indented rather than marked with '>' (Outlook for Mac and
    some webmails: "On 7/8/19, James wrote:" over the quoted mail, every line indented by two
    spaces or more, or a tab); `j` when the quote is not indented. The author's answer goes on
    below, unindented."""
    k = j
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k == len(lines) or not lines[k].startswith(("  ", "\t")) or lines[k].lstrip()[:1] == ">":
        return j
    while k < len(lines) and (not lines[k].strip() or lines[k].startswith(("  ", "\t"))):
        k += 1
    return k


def _quoted_after_headers(lines: list[str], i: int) -> int | None:
    """The index of the '>' line that a header block starting at line `i` attributes, or None.

    Some mailers attribute a quote with the quoted message's own headers ("From: Bob <b@x>" /
    "Date: …" / blank / "> …"): the author's text goes on below the quote. A header block
    followed by anything but a '>' line starts a forward or an Outlook-style history, and so
    does one with a subject: an inline forward quoting the forwarded body.
    """
    j = i + 1
    while j < min(len(lines), i + 8) and _HEADER_LINE().match(lines[j]):
        if _HEADER_SUBJECT().match(lines[j]):
            return None
        j += 1
    while j < min(len(lines), i + 10) and not lines[j].strip():
        j += 1
    return j if j < len(lines) and lines[j].lstrip().startswith(">") else None


# \A: the same for match(), and a search() over a long run of blanks stays linear
_HEADER_LINE = Lazy(r"\A[ \t]*\*?[A-Za-z][\w-]{0,20}\*?:[ \t]")
# A forwarded message's header an attribution has not ("Subject:", in a client's languages)
_HEADER_SUBJECT = Lazy(
    r"\A[ \t]*\*?(?:Subject|Asunto|Assunto|Betreff|Objet|Oggetto|Onderwerp)\*?:", re.IGNORECASE
)


def _next_filled(lines: list[str], i: int, reach: int = 3) -> str:
    """The first line after line `i` that is not blank, looking at most `reach` lines on."""
    return next((n for n in lines[i + 1 : i + 1 + reach] if n.strip()), "")


def _attributed(attribution: str) -> tuple[str, str]:
    line = re.sub(r"<\s+", "<", " ".join(attribution.split()))
    named = _ATTRIBUTED_NAME().search(line)
    if named is None:
        return "", ""
    return named.group("name").strip(" \"'"), (named.group("email") or "").lower()


# --- language ------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def language(text: str, stop_words: Mapping[str, frozenset[str]], default: str = "en") -> str:
    """The language whose stop words are most frequent in `text` (ties and silence: default).

    >>> language("Hola Ana, te presento a Luis, que trabaja en", {"en": frozenset({"the"}),
    ...          "es": frozenset({"que", "en", "a"})})
    'es'
    """
    found = _WORD.findall(text[:1500].lower())
    counts = {lang: sum(map(words.__contains__, found)) for lang, words in stop_words.items()}
    best = max(counts, key=lambda lang: (counts[lang], lang == default))
    return best if counts[best] > counts.get(default, 0) else default


# --- sentences -----------------------------------------------------------------------------

# A space after a full stop, a blank line, or a line break before a bullet. (Each starts with
# a space, taken first and looked back on: a pattern opening with a character class is searched
# for by the engine's fast scan, not tried at every character.)
_SENTENCE_END = re.compile(r"\s(?:(?<=[.!?;]\s)\s*|(?<=\n)[ \t]*\n|(?<=\n)(?=[ \t]*[-*•][ \t]))")
# A full stop after these does not end a sentence ("XYZ Co. may be calling you").
_ABBREVIATION = re.compile(
    r"(?:\b(?:Co|Inc|Ltd|Corp|Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|vs|etc|e\.g|i\.e|Sra?|Dra?)|\b[A-Z])\.$"
)


_ABBREVIATION_REACH = 6  # the longest abbreviation with its full stop, and the letter before


def sentences(text: str) -> list[str]:
    """The sentences of `text`, whitespace folded, abbreviations kept inside their sentence.

    >>> sentences("Julia from XYZ Co. may call. She is great!\\n\\nBest")
    ['Julia from XYZ Co. may call.', 'She is great!', 'Best']
    """
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = " ".join(piece.split())
        # (an abbreviation ends the sentence: its last characters alone are searched)
        if out and _ABBREVIATION.search(out[-1], max(0, len(out[-1]) - _ABBREVIATION_REACH)):
            out[-1] += " " + piece
        elif piece:
            out.append(piece)
    return out
