"""Renderer.render: headers, threading, unsubscribe links, encoding, escaping, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from refmail.kinds import NAMES as KINDS
from refmail.render import MAX_REFERENCES, Links, Person, Renderer
from tests.support.drafts import (
    ALICE,
    BOB,
    NOW,
    OWNER,
    PREFS,
    UNSUB,
    draft,
    html_of,
    reparse,
    subject,
    text_of,
)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_complete_headers(kind: str) -> None:
    msg = reparse(Renderer().render(draft(kind), NOW))
    assert msg["From"].addresses[0].addr_spec == OWNER.email
    assert msg["To"].addresses[0].addr_spec == ALICE.email
    assert subject(msg)
    assert msg["Date"].datetime == NOW
    assert msg["Message-ID"] == "<fu-1.abc@refmail.example>"
    assert msg["X-Refmail-ID"] == "fu-1.abc@refmail.example"
    assert msg["In-Reply-To"] == "<intro-1@example.com>"
    assert msg["References"] == "<intro-1@example.com>"
    assert msg["Auto-Submitted"] is None
    assert msg["List-Unsubscribe"] is None
    assert msg["List-Unsubscribe-Post"] is None
    assert text_of(msg).strip()


def test_automatic_messages_say_so() -> None:
    msg = reparse(Renderer().render(draft("thank_you", automatic=True), NOW))
    assert msg["Auto-Submitted"] == "auto-generated"


def test_references_are_capped_and_end_with_the_introduction() -> None:
    earlier = tuple(f"<r{i}@example.com>" for i in range(30))
    msg = reparse(Renderer().render(draft(intro_references=earlier), NOW))
    refs = msg["References"].split()
    assert len(refs) == MAX_REFERENCES
    assert refs[-1] == "<intro-1@example.com>"
    assert refs[-2] == "<r29@example.com>"


def test_no_intro_message_id_means_no_threading_headers() -> None:
    msg = reparse(Renderer().render(draft(intro_message_id=""), NOW))
    assert msg["In-Reply-To"] is None
    assert msg["References"] is None


@pytest.mark.parametrize("kind", ["thank_you", "double_intro", "check_in", "conversion_thanks"])
def test_unsubscribe_in_the_headers_and_one_gentle_line_in_the_footer(kind: str) -> None:
    """A personal note ends with one line in the owner's voice linking to the preference page;
    the one-click unsubscribe travels in the headers, not as bulk-mail footer text."""
    msg = reparse(Renderer().render(draft(kind, links=Links(UNSUB, PREFS)), NOW))
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    what = "these check-ins" if kind == "check_in" else "notes like this"
    footer = text_of(msg).rstrip().split("\n--\n")[-1]
    assert footer == f"If you'd rather I didn't send {what}, tell me here: {PREFS}"
    assert UNSUB not in text_of(msg) and UNSUB not in html_of(msg)
    assert f'<a href="{PREFS}">tell me here</a>' in html_of(msg)
    assert "unsubscribe" not in (text_of(msg) + html_of(msg)).lower()


def test_without_links_the_footer_asks_for_a_reply() -> None:
    msg = reparse(Renderer().render(draft("check_in"), NOW))
    assert "If you'd rather I didn't send these check-ins, just reply and tell me." in text_of(msg)
    assert "http" not in text_of(msg)


def test_non_ascii_names_with_commas_survive_the_round_trip() -> None:
    juergen = Person("jm@example.de", "Müller, Jürgen")
    zoe = Person("zoe@example.fr", "Zoë Ångström")
    d = draft(sender=zoe, recipient=juergen, parties=(juergen, BOB), introducer=zoe)
    msg = reparse(Renderer().render(d, NOW))
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Müller, Jürgen", "jm@example.de")
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Zoë Ångström", "zoe@example.fr")
    assert "Jürgen" in subject(msg)
    assert text_of(msg).startswith("Hi Jürgen,")


def test_ascii_name_with_a_comma_is_one_address() -> None:
    d = draft(recipient=Person("jane@example.com", "Smith, Jane"))
    msg = reparse(Renderer().render(d, NOW))
    assert [a.addr_spec for a in msg["To"].addresses] == ["jane@example.com"]
    assert msg["To"].addresses[0].display_name == "Smith, Jane"


def test_html_part_escapes_the_context() -> None:
    d = draft(context='we met at <script>alert("x")</script>')
    msg = reparse(Renderer().render(d, NOW))
    assert "<script>" not in html_of(msg)
    assert "&lt;script&gt;" in html_of(msg)
    assert '<script>alert("x")</script>' in text_of(msg)  # plain text stays literal


def test_html_part_escapes_names() -> None:
    evil = Person("eve@example.com", "<b>Eve</b>")
    msg = reparse(Renderer().render(draft(parties=(ALICE, evil)), NOW))
    assert "<b>Eve</b>" not in html_of(msg)


def test_double_intro_gives_the_other_partys_details() -> None:
    msg = reparse(Renderer().render(draft("double_intro"), NOW))
    text = text_of(msg)
    assert "bob@example.net" in text
    assert "+1 555 0100" in text
    assert "alice@example.org" not in text  # the recipient is not introduced to herself
    assert "you both build boats" in text
    assert "Bob Stone" in subject(msg)


def test_double_intro_says_it_is_an_offer() -> None:
    msg = reparse(Renderer().render(draft("double_intro"), NOW))
    assert "offer, not an obligation" in text_of(msg)
    assert "offer, not an obligation" in html_of(msg)


def test_call_task_names_whom_to_call_and_why() -> None:
    msg = reparse(Renderer().render(draft("call_task", recipient=OWNER), NOW))
    assert subject(msg).startswith("Call Alice Archer (+44 20 7946 0000)")
    assert "to ask Alice how it went with Bob Stone." in text_of(msg)
    assert msg.get_body(("html",)) is None


def test_call_task_for_a_double_intro_names_both_people() -> None:
    """ "introduce Alice to Bob Stone", never "introduce them to the other party"."""
    row = draft("call_task", recipient=OWNER, for_kind="double_intro")
    msg = reparse(Renderer().render(row, NOW))
    assert "Call Alice on +44 20 7946 0000 to introduce Alice to Bob Stone." in text_of(msg)
    assert "the other party" not in text_of(msg)


def test_user_template_overrides_the_bundled_one(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "thank_you.txt.j2").write_text(
        "{% set subject %}Cheers, {{ d.recipient.first_name }}{% endset %}"
        "Custom thanks to {{ d.recipient.display }}.\n",
        encoding="utf-8",
    )
    msg = reparse(Renderer(str(tmp_path)).render(draft("thank_you"), NOW))
    assert subject(msg) == "Cheers, Alice"
    assert text_of(msg) == "Custom thanks to Alice Archer.\n"
    # only the overridden file changes: the bundled check-in is still used
    check_in = reparse(Renderer(str(tmp_path)).render(draft("check_in"), NOW))
    assert subject(check_in).startswith("Checking in")


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Smith, Jane", "Jane"),
        ("Jane Smith", "Jane"),
        ("  Jane  ", "Jane"),
        ("Smith,", "Smith,"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_first_name(name: str, first: str) -> None:
    assert Person("x@example.com", name).first_name == first


DANA = Person(
    "dana@bakery.example",
    "Dana Reyes",
    about="Dana runs a bakery that has outgrown her spreadsheet.",
)
ERIN = Person(
    "erin@tools.example", "Erin Walsh", about="Erin builds inventory tools for small shops."
)


def test_double_intro_tells_each_party_about_the_other_never_about_herself() -> None:
    for recipient, other in ((DANA, ERIN), (ERIN, DANA)):
        row = draft("double_intro", recipient=recipient, parties=(DANA, ERIN), context="")
        text = text_of(reparse(Renderer().render(row, NOW)))
        assert f"> {other.about}" in text
        assert recipient.about not in text
        assert f"You can reach {other.first_name} at {other.email}." in text


def test_a_reason_that_speaks_of_the_recipient_is_not_quoted_to_her() -> None:
    context = "Dana needs stock counts she can trust before the holidays."
    to_dana = draft("double_intro", recipient=DANA, parties=(DANA, ERIN), context=context)
    to_erin = draft("double_intro", recipient=ERIN, parties=(DANA, ERIN), context=context)
    assert context not in text_of(reparse(Renderer().render(to_dana, NOW)))
    assert f"> {context}" in text_of(reparse(Renderer().render(to_erin, NOW)))


def test_a_sentence_that_speaks_to_the_recipient_still_describes_the_other() -> None:
    sid = Person("sbwhoeop@example.net", "Sid")
    doug = Person("doug@example.net", "Doug Band", about="Sid-- Doug travels with Bill.")
    tells_of_sid = Person("jo@example.net", "Jo", about="Sid runs the memo service.")
    row = draft("double_intro", recipient=sid, parties=(sid, doug, tells_of_sid), context="")
    text = text_of(reparse(Renderer().render(row, NOW)))
    assert "> Sid-- Doug travels with Bill." in text
    assert "Sid runs the memo service." not in text  # about Sid: not told to Sid


def test_a_nameless_recipient_is_greeted_and_titled_without_a_name() -> None:
    nameless = Person("sbwhoeop@example.net")
    row = draft("double_intro", recipient=nameless, parties=(nameless, ERIN), context="")
    message = reparse(Renderer().render(row, NOW))
    assert message["Subject"] == "Introduction: Erin Walsh"
    assert text_of(message).startswith("Hi there,")


def test_an_opt_in_ask_with_no_other_party_still_reads_naturally() -> None:
    """ "Would you be open to an intro to…?" names nobody on the mail: no "introduced you to ."."""
    row = draft("check_in", parties=(ALICE,), context="", intro_subject="Open to meeting Jen?")
    text = text_of(reparse(Renderer().render(row, NOW)))
    assert "introduced you to ." not in text
    assert 'my note about an introduction ("Open to meeting Jen?")' in text


def test_third_party_words_are_quoted_text_not_markup() -> None:
    hostile = Person(
        "erin@tools.example", "Erin", about='Erin <a href="https://evil.example">x</a>'
    )
    row = draft("double_intro", recipient=DANA, parties=(DANA, hostile), context="")
    msg = reparse(Renderer().render(row, NOW))
    # Quoted as text, and the URL in it broken too (what a third party wrote never links).
    assert '> Erin <a href="hxxps[:]//evil[.]example">x</a>' in text_of(msg)
    assert "<a href" not in html_of(msg) and "https://evil" not in html_of(msg)
    assert "Erin &lt;a href=" in html_of(msg)


def test_a_merged_thank_you_names_everyone_it_thanks_for() -> None:
    pat = Person("pat@partner.example", "Pat Partner")
    row = draft(
        "thank_you",
        recipient=pat,
        introducer=pat,
        merged_introducers=(pat,),
        parties=(DANA, ERIN),
        context="",
    )
    text = text_of(reparse(Renderer().render(row, NOW)))
    assert "Thank you for introducing me to Dana Reyes and Erin Walsh." in text
    assert "Hi Pat," in text
