"""Where a message body's own text ends and its quoted history begins: the attribution and
forward markers of the mail clients ("On … wrote:", "-----Original Message-----", Outlook and
Notes header blocks), '>' lines, signatures, and whitespace tamed before any of it is searched.

Pure text in, text out (`refmail.parse` reads the header blocks of the history it returns).
"""

from __future__ import annotations

import re

# Every pattern below is linear in its input: no `\s*` that can run across lines from every line
# start, no two adjacent quantifiers that can match the same characters, bounded gaps (`{0,300}`)
# and possessive quantifiers (`*+`) where a run must not be given back.
FORWARD_MARK = re.compile(
    r"^[ \t]*(-{2,}+[ \t]*(Original Message|Forwarded message|Forwarded by [^\n]{0,200}?"
    # Notes wraps its long "Forwarded by … on 05/24/2001 03:00 PM ----" line before the time
    r"(?:[ \t]*+\n[ \t]*+\d{1,2}:\d{2}(?::\d{2})?[ \t]*(?:[AP]M)?)?"
    r"|Mensaje original|Mensaje reenviado)[ \t]*-{2,}|Begin forwarded message:"
    r"|Inicio del mensaje reenviado:)",
    re.IGNORECASE | re.MULTILINE,
)
# Notes (Lotus) writes the quoted author on one line and the date on the next, with To: below:
#     Severin Borenstein <borenste@Haas.Berkeley.EDU>
#     03/31/2001 06:00 PM
#         To: Steve Kean <skean@enron.com>
NOTES_DATE = (
    r"[ \t]*+\d{1,2}/\d{1,2}/\d{2,4}[ \t]++\d{1,2}:\d{2}(?::\d{2})?+[ \t]*+(?:[AP]M[ \t]*+)?+"
)
_WROTE = r"(?:wrote|writes|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef|skrev|napisał)"
_QUOTE_STARTS = [
    FORWARD_MARK,
    # Gmail/Apple "On <date>, <name> wrote:", possibly wrapped, never across a blank line.
    re.compile(
        rf"^[ \t]*(?:On|Am|Le|El|Il|Op|Den)\s(?:(?!\n[ \t]{{0,80}}\n).){{0,300}}?\b{_WROTE}"
        r"[ \t]*:[ \t]*$",
        re.IGNORECASE | re.MULTILINE | re.DOTALL,
    ),
    # "Alice Smith wrote:" right above a '>' block.
    re.compile(rf"^[^\n>]{{1,200}}\b{_WROTE}[ \t]*:[ \t]*\n(?:[ \t]*\n)?[ \t]*>", re.MULTILINE),
    re.compile(r"^[ \t]*_{10,}+[ \t]*$", re.MULTILINE),
    # Outlook header blocks: a From: (De:) line with a Sent:/To:/Date: line right after.
    re.compile(
        r"^[ \t]*\*?(?:From|De):\*?[ \t][^\n]*\n"
        r"((?:[ \t]*\n){0,2}[ \t]*\*?(Sent|Date|To|Cc|Enviado(?: el)?|Fecha|Para|CC)\*?:[^\n]*\n?)",
        re.IGNORECASE | re.MULTILINE,
    ),
    # Notes: "Name <addr> on 01/02/2001 10:00 AM" then To:, or name / date / To: on three lines.
    re.compile(
        r"^[^\n@]*+(?<=\S)@\S(?>[^\n]*? on \d{1,2}/\d{1,2}/\d{2,4})[^\n]*+\n"
        r"(?:[ \t]*\n){0,3}[ \t]*To:",
        re.IGNORECASE | re.MULTILINE,
    ),
    re.compile(
        rf"^[ \t]*\S[^\n]*\n{NOTES_DATE}\n(?:[^\n]*\n){{0,3}}?[ \t]*To:",
        re.IGNORECASE | re.MULTILINE,
    ),
]
_QUOTED_LINE = re.compile(r"^[ \t]*>")
_LEADING_BLANK_LINES = re.compile(r"^(?:[ \t]*\n)+")
_SIGNATURE = re.compile(
    r"^(-- ?|--\s*$|_{2,}|Sent from my \w+.*|Get Outlook for .*)$", re.MULTILINE
)


_SPACE_RUN = re.compile(r"[ \t]{65,}")
_EMPTY_LINE_RUN = re.compile(r"\n{4,}")


def tame_whitespace(text: str) -> str:
    """Whitespace-only lines emptied, more than two blank lines in a row made two, runs of over
    64 spaces or tabs cut to 64: what a reader sees, without the 80,000 blank lines or the 3 KB
    of spaces that make a backtracking pattern anywhere downstream slow.

    >>> tame_whitespace("a  \\n \\t\\n\\n\\n\\n\\nb")
    'a  \\n\\n\\nb'
    """
    lines = [line if line.strip() else "" for line in text.split("\n")]
    text = _EMPTY_LINE_RUN.sub("\n\n\n", "\n".join(lines))
    return _SPACE_RUN.sub(lambda m: m.group(0)[:64], text)


def split_quoted(text: str) -> tuple[str, str]:
    """Split a body into (own text, quoted history).

    History starts at the earliest attribution or forward marker ("On … wrote:", "-----Original
    Message-----", "Begin forwarded message:", an Outlook or Notes header block). Before that,
    '>' lines are history too, but own text written between them (inline replies) is kept.

    >>> split_quoted("Hi Bob\\n\\nOn Mon, Alice wrote:\\n> hello")[0]
    'Hi Bob\\n'
    >>> split_quoted("> are you free?\\nYes, Tuesday.\\n")
    ('Yes, Tuesday.\\n', '> are you free?\\n')
    """
    cut = len(text)
    for pattern in _QUOTE_STARTS:
        match = pattern.search(text, 0, cut)
        if match and match.start() < cut:
            cut = match.start()
    head, tail = text[:cut], _LEADING_BLANK_LINES.sub("", text[cut:])  # some markers start with \s*
    if not any(_QUOTED_LINE.match(line) for line in head.split("\n")):
        return (head.rstrip() + "\n" if tail else head), tail
    own_lines: list[str] = []
    quoted_lines: list[str] = []
    for line in head.split("\n"):
        (quoted_lines if _QUOTED_LINE.match(line) else own_lines).append(line)
    own = "\n".join(own_lines).strip("\n")
    quoted = "\n".join(quoted_lines) + "\n" + tail
    return (own + "\n" if own else ""), quoted.rstrip("\n") + "\n"


def strip_signature(text: str) -> str:
    """Drop a conventional signature block ('-- ', 'Sent from my iPhone') from own text."""
    match = _SIGNATURE.search(text)
    return text[: match.start()] if match else text
