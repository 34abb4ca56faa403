"""What goes out in the owner's name, read back from the rendered bytes: no link from anything a
third party wrote (names, organisations, phone numbers, the context sentence), no control
characters, and the links refmail itself puts in (unsubscribe, preferences, mailto of the
parties) intact."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refmail.defang import clean_name, defang
from refmail.kinds import NAMES as KINDS
from refmail.render import Links, Person, Renderer
from tests.support.drafts import NOW, PREFS, UNSUB, draft, html_of, reparse, text_of

EVIL_NAME = "Mallory\u202e\x07 https://evil.example/login <click@evil.example> www.evil.example"
EVIL_ORG = "Evil Corp (visit evil.example/promo)"
EVIL_CONTEXT = (
    "You both should check http://evil.example/x?y=1 and www.evil.example and "
    "mail me at payme@evil.example, or evil.example."
)
MALLORY = Person("mallory@victim.example", EVIL_NAME, EVIL_ORG, "call evil.example/phone")
LINK = re.compile(r"(?i)(?:https?:|www\.|\bevil\.example\b|@evil\.example)")


def hostile(kind: str) -> object:
    return draft(
        kind,
        recipient=MALLORY,
        introducer=MALLORY if kind in ("thank_you", "conversion_thanks") else draft().introducer,
        parties=(MALLORY, draft().parties[1]),
        context=EVIL_CONTEXT,
        links=Links(UNSUB, PREFS),
        subject_person=MALLORY if kind == "call_task" else None,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_no_link_from_third_party_text_in_any_part(kind: str) -> None:
    msg = reparse(Renderer().render(hostile(kind), NOW))  # type: ignore[arg-type]
    raw = msg.as_bytes()
    assert b"\x07" not in raw and "\u202e".encode() not in raw
    parts = [text_of(msg)]
    if msg.get_body(("html",)) is not None:
        parts.append(html_of(msg))
    for body in parts:
        ours = body.replace(UNSUB, "").replace(PREFS, "")
        assert not LINK.search(ours), (kind, LINK.search(ours), body)
    if len(parts) == 2:
        hrefs = re.findall(r'href="([^"]*)"', parts[1])
        assert all(h in (UNSUB, PREFS) or h.startswith("mailto:") for h in hrefs), hrefs
        assert all("evil" not in h for h in hrefs)


def test_headers_carry_the_cleaned_name() -> None:
    msg = reparse(Renderer().render(hostile("check_in"), NOW))  # type: ignore[arg-type]
    assert str(msg["To"]) == "Mallory <mallory@victim.example>"


def test_the_context_still_reads() -> None:
    msg = reparse(Renderer().render(hostile("double_intro"), NOW))  # type: ignore[arg-type]
    assert "hxxp[:]//evil[.]example/x?y=1" in text_of(msg)
    assert "payme[@]evil[.]example" in html_of(msg)


def test_a_name_that_is_only_a_url_falls_back_to_the_address() -> None:
    only = dataclasses.replace(MALLORY, name="https://evil.example")
    msg = reparse(Renderer().render(draft("check_in", recipient=only), NOW))
    assert "evil" not in str(msg["To"]) and "mallory@victim.example" in str(msg["To"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_clean_names_never_link_or_break_lines(text: str) -> None:
    name = clean_name(text)
    assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e]", name)
    assert "@" not in name and "://" not in name
    assert len(name) <= 100


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=20),
            st.sampled_from(["https://a.example/b", "www.x.org", "e@x.io", "evil.com/p", " "]),
        ),
        max_size=8,
    )
)
def test_defanged_text_has_no_linkable_token(pieces: list[str]) -> None:
    text = defang("".join(pieces))
    assert not re.search(r"(?i)\b(?:https?|ftp)://", text)
    assert not re.search(r"(?i)\bwww\d{0,3}\.", text)
    assert not re.search(r"(?i)[\w-]\.(?:example|org|io|com)\b", text)
