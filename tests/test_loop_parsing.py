"""The pure readers of the loop: owner commands (+tags and body lines), signs of business,
yes/no answers to an offered introduction, and the outcome planner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from refmail import commands, signals
from refmail.config import FollowUps
from refmail.plan import IntroFacts, plan_outcome
from refmail.replies import answer_intent

REFMAIL = "olivia+refmail@example.com"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "action"),
    [
        ("olivia+refmail+won@example.com", "converted"),
        ("Olivia+Refmail+LOST@Example.com", "not_a_fit"),
        ("olivia+refmail+closed@example.com", "closed"),
        ("olivia+refmail+ask@example.com", "ask"),
        ("olivia+refmail+connected@example.com", "connected"),
        ("olivia+refmail+won@other.example", None),  # another domain
        ("olivia+refmail@example.com", None),  # no tag
        ("olivia+refmail+3days@example.com", None),  # not a refmail command
        ("olivia+refmailwon@example.com", None),
        ("olivia@example.com", None),
    ],
)
def test_the_address_is_the_command(address: str, action: str | None) -> None:
    found = commands.parse(REFMAIL, [address], "")
    assert (found.action if found else None) == action


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("refmail: converted", ("converted", None, None, "")),
        (
            "Thanks!\nrefmail: converted #12 $4,800 annual retainer",
            ("converted", 12, 4800.0, "annual retainer"),
        ),
        ("REFMAIL:  Won intro 7 value 2.5k", ("converted", 7, 2500.0, "")),
        ("refmail: not a fit - too small", ("not_a_fit", None, None, "too small")),
        ("refmail: closed #3", ("closed", 3, None, "")),
        ("> refmail: lost", ("not_a_fit", None, None, "")),
        ("refmail: converted 12-month retainer", ("converted", None, None, "12-month retainer")),
        ("refmail: converted for 3 years", ("converted", None, None, "for 3 years")),
        ("refmail: converted 1,200.50", ("converted", None, 1200.5, "")),
    ],
)
def test_a_body_line_gives_the_command_id_value_and_note(
    body: str, expected: tuple[str, int | None, float | None, str]
) -> None:
    found = commands.parse(REFMAIL, [], body)
    assert found is not None
    assert (found.action, found.introduction_id, found.value, found.note) == expected


@pytest.mark.parametrize(
    "body",
    [
        "I told refmail about it",
        "refmail: please convert",  # no such command word
        "The refmail: converted tool",  # not at the start of a line
        "\n" * 50 + "refmail: converted",  # too far down to be the owner's command
        "",
        "refmail:" + "x" * 10_000,
    ],
)
def test_text_that_is_not_a_command(body: str) -> None:
    assert commands.parse(REFMAIL, ["someone@example.com"], body) is None


def test_the_ask_line_names_the_other_person() -> None:
    found = commands.parse(REFMAIL, [], "refmail: ask leo@lane.example")
    assert found is not None and found.action == "ask" and found.about == ("leo@lane.example",)


@pytest.mark.parametrize(
    ("subject", "text", "parts", "names"),
    [
        (
            "Re: next steps",
            "The contract is signed, welcome aboard!",
            (),
            ["signed", "contract", "welcome"],
        ),
        ("Kick-off on Monday", "", (), ["kickoff"]),
        ("", "Your proposal is accepted.", (), ["proposal_accepted"]),
        ("", "", (signals.Part("application/pdf", "Rechnung_2026-03.pdf"),), ["invoice"]),
        ("", "", (signals.Part("application/pdf", "SOW-final.pdf"),), ["contract"]),
        ("", "", (signals.Part("text/calendar", ""),), ["calendar"]),
        ("", "We haven't signed the contract yet.", (), []),
        ("", "I signed up for your newsletter", (), []),
        ("", "No invoice needed, it was a favour.", (), []),
        ("Lunch?", "See you at noon.", (signals.Part("image/png", "photo.png"),), []),
    ],
)
def test_signs_of_business(
    subject: str, text: str, parts: tuple[signals.Part, ...], names: list[str]
) -> None:
    assert sorted(s.name for s in signals.find(subject, text, parts)) == sorted(names)


def test_mime_parts_are_read_from_raw_bytes_and_hostile_bytes_give_none() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n'
        b"\r\nhi\r\n--x\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\n"
        b"--x\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="=?utf-8?q?Facture_n=C2=B042.pdf?="\r\n'
        b"\r\nJVBER\r\n--x--\r\n"
    )
    found = signals.parts(raw)
    assert signals.Part("text/calendar", "") in found
    assert any(p.filename == "Facture n°42.pdf" for p in found)
    assert signals.parts(b"\x00\xff" * 1000) == (signals.Part("text/plain", ""),)


@pytest.mark.parametrize(
    ("text", "yes"),
    [
        ("Yes, happy to!", True),
        ("Sure, I'd love to meet him.", True),
        ("That would be great, please do.", True),
        ("Sounds good", True),
        ("No thanks.", False),
        ("Thanks, but I'll pass for now.", False),
        ("Not interested, sorry.", False),
        ("Yes I saw your note, but no thanks.", False),
        ("I would not be happy to, sorry", None),
        ("Out of office until Monday.", None),
        ("If you think so", None),
    ],
)
def test_yes_or_no_to_an_offered_introduction(text: str, yes: bool | None) -> None:
    found = answer_intent(text)
    assert (found.yes if found else None) == yes


FACTS = IntroFacts("referral_to_owner", "pat@p.example", False, (("carl@c.example", True),), NOW)


def test_converted_plans_the_thanks_and_the_reward_todo_for_a_referral_only() -> None:
    planned = plan_outcome("converted", FACTS, FollowUps(), "champagne", NOW)
    assert [(p.kind, p.recipient, p.due_at) for p in planned] == [
        ("conversion_thanks", "pat@p.example", NOW),
        ("reward_task", "pat@p.example", NOW),
    ]
    assert [p.kind for p in plan_outcome("converted", FACTS, FollowUps(), "", NOW)] == [
        "conversion_thanks"
    ]
    owner_made = IntroFacts("owner_intro", "o@o.example", True, FACTS.parties, NOW)
    assert plan_outcome("converted", owner_made, FollowUps(), "champagne", NOW) == []
    assert plan_outcome("not_a_fit", FACTS, FollowUps(), "champagne", NOW) == []
    off = FollowUps(conversion_thanks=False)
    assert plan_outcome("converted", FACTS, off, "champagne", NOW) == []
