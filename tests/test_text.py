"""refmail.text.one_line and msg_id: what untrusted names, subjects and IDs become."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from refmail.text import msg_id, one_line

BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@given(st.text())
def test_one_line_leaves_no_control_bidi_or_line_break(text: str) -> None:
    out = one_line(text)
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in out)
    assert not BIDI & set(out)
    assert out == out.strip() and "  " not in out
    assert one_line(out) == out  # idempotent


@given(st.lists(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)))
def test_plain_words_are_kept_as_they_are(words: list[str]) -> None:
    text = " ".join(words)
    assert one_line(text) == text


def test_escape_sequences_go_whole() -> None:
    hyperlink = "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"  # OSC 8, ended by ST
    assert one_line(f"\x1b[1;31mred\x1b[0m {hyperlink} \x9b2J") == "red link"


def test_names_in_other_scripts_keep_their_joiners() -> None:
    assert one_line("Zoë 👩\u200d💻 \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == (
        "Zoë 👩\u200d💻 \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    )


@given(st.text())
def test_msg_id_is_printable_ascii_without_spaces_or_empty(value: str) -> None:
    out = msg_id(value)
    assert out == "" or (out.isascii() and out.isprintable() and " " not in out)
