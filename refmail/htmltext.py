"""HTML bodies as text: enough to classify a message or read a bounce, not to display it.
Block elements start lines; a <blockquote> (or Gmail's quote div) is marked with "> " like a
plain-text quote, so the quoted-history rules of refmail.parse apply to it as well."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import ClassVar


class _HTMLText(HTMLParser):
    """Block-aware HTML to text; <blockquote> content is marked with '> ' like a plain quote."""

    BLOCK: ClassVar[frozenset[str]] = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote", "hr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_depth = 0
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        if tag == "blockquote" or (tag == "div" and ("class", "gmail_quote") in attrs):
            self.quote_depth += 1
        if tag in self.BLOCK:
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
        if tag in self.BLOCK:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = " ".join(data.split())
        if not text:
            return
        if not self.lines[-1]:
            self.lines[-1] = "> " * self.quote_depth
        self.lines[-1] += (" " if self.lines[-1].strip(" >") else "") + text


def html_to_text(html: str) -> str:
    """Readable text from an HTML body (enough to classify it, not to display it)."""
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser can trip on pathological markup
        return _TAG.sub(" ", html)
    return _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in parser.lines)).strip()


_TAG = re.compile(r"<[^<>]*+>")  # not `<[^>]+>`: each of 100,000 '<' would read to the end
_BLANK_LINES = re.compile(r"\n{3,}")
