"""Makes text a third party wrote safe to put in mail sent in the owner's name.

Names lose control and formatting characters and anything that looks like a URL, a domain or an
address; longer text (a context sentence, a phone number, an organisation) keeps its words but
has every URL, domain and address broken so that no mail client turns it into a link: HTML
escaping is not enough, since clients autolink bare `example.com` and `https://…` in both parts.
Pure: str → str.

>>> clean_name("Bob\\u202e Baker https://evil.example/x")
'Bob Baker'
>>> defang("see https://evil.example/a?b or mail x@evil.example")
'see hxxps[:]//evil[.]example/a?b or mail x[@]evil[.]example'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

NAME_LIMIT = 100
# Control (Cc), format (Cf: bidi overrides, zero-width joiners), separators other than space
# (Zl, Zp), private use and unassigned: none belongs in a name.
_DROPPED = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn"})
_TLD = r"[a-z\u00a1-\uffff]{2,63}"
_LINKY = re.compile(
    r"(?:[a-z][a-z0-9+.-]{0,20}:/{1,3}[^\s<>\"]*)"  # scheme://…  (and file:/, mailto: below)
    r"|(?:\b(?:mailto|tel|sms|javascript|data):[^\s<>\"]*)"
    r"|(?:[^\s<>\"@]+@[^\s<>\"@]+)"  # anything with an @: an address, or user@host
    r"|(?:\bwww\d{0,3}\.[^\s<>\"]*)"
    rf"|(?:\b[^\s<>\"/@]+(?:\.[^\s<>\"/@]+)*\.{_TLD}\b\.?(?:[/:?#][^\s<>\"]*)?)",  # host.tld/…
    re.IGNORECASE,
)
# Unicode dots and look-alikes a linkifier may read as ".".
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": ".", "\u2024": "."})


# What _LINKY reads: one run without blanks, of bounded length. A longer run is no link a person
# wrote; it is broken whole, so scanning hostile text stays linear however long it is.
_TOKEN = re.compile(r"[^\s<>\"]+")
MAX_TOKEN = 500
# "scheme:" as a linkifier reads it; starting only where such a run starts, never giving back.
_SCHEME = re.compile(r"(?i)(?<![a-z0-9+-])([a-z][a-z0-9+-]*+):")


def _each_token(
    text: str, linky: Callable[[re.Match[str]], str], whole: Callable[[str], str]
) -> str:
    def one(token: re.Match[str]) -> str:
        word = token.group(0)
        return whole(word) if len(word) > MAX_TOKEN else _LINKY.sub(linky, word)

    return _TOKEN.sub(one, text)


def clean_name(text: str) -> str:
    """A display name: printable, one line, no URL, domain or address in it; may be empty."""
    text = _printable(text)
    text = _each_token(text.translate(_DOTS), lambda _: " ", lambda _: " ")
    text = re.sub(r"[<>\"\\@]", " ", text)
    return " ".join(text.split())[:NAME_LIMIT].strip(" ,;:")


def defang(text: str) -> str:
    """Free text with every URL, domain and address broken so that nothing links."""
    text = _printable(text, keep_newlines=True).translate(_DOTS)
    return _each_token(text, _break, _break_all)


def _break(match: re.Match[str]) -> str:
    return _break_all(match.group(0))


def _break_all(token: str) -> str:
    token = token.replace(".", "[.]").replace("@", "[@]")
    token = re.sub(r"(?i)\bhttp", "hxxp", token)
    return _SCHEME.sub(r"\1[:]", token)  # "scheme:" no longer is one


def _printable(text: str, keep_newlines: bool = False) -> str:
    out = []
    for char in unicodedata.normalize("NFKC", text):
        if keep_newlines and char == "\n":
            out.append(char)
        elif unicodedata.category(char) in _DROPPED:
            out.append(" " if char in "\t\r\n\x0b\x0c\x85\u2028\u2029" else "")
        else:
            out.append(char)
    return "".join(out)
