"""Detection from evidence: every shape and look-alike, forwards, exact parties, the sentences
that matter, Spanish, and `explain()`. All messages are hand-written for these tests."""

from __future__ import annotations

import dataclasses
import gc
import time
from email.message import EmailMessage

import pytest

from refmail.detect import Classification, Identity, classify
from refmail.detect_weights import THRESHOLD
from refmail.parse import parse_message

OWNER = "alice@novak.example.com"
REFMAIL = "refmail@example.com"
IDENTITY = Identity(owners=frozenset({OWNER}), refmail=frozenset({REFMAIL}))


def run(headers: str, body: str, identity: Identity = IDENTITY) -> Classification:
    raw = (headers.strip() + "\nMessage-ID: <t@example.com>\n\n" + body).encode()
    return classify(parse_message(raw), identity)


def parties(v: Classification) -> dict[str, bool]:
    return {p.address.email: p.reached for p in v.parties}


def features(v: Classification) -> set[str]:
    return {e.feature for e in v.evidence}


# --- the shapes of an introduction ---------------------------------------------------------


def test_the_issue_example_with_no_stock_phrase() -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Priya Shah <priya@acme.example>, Tom Berg <tom@flow.example>\n"
        "Subject: Priya + Tom",
        "Hi both, putting you two in touch.\n\nTom, Priya leads data at Acme and is hiring; "
        "Priya, Tom built the pipeline I told you about. I'll step aside.\n\nAlice\n",
    )
    assert (v.kind, v.shape) == ("introduction", "owner_intro")
    assert parties(v) == {"priya@acme.example": True, "tom@flow.example": True}
    about = {p.address.email: p.about for p in v.parties}
    assert "Priya leads data at Acme" in about["priya@acme.example"]
    assert "Tom built the pipeline" in about["tom@flow.example"]
    assert "Tom built" not in about["priya@acme.example"]
    assert {"cue_connect", "cue_hand_off", "subject_names_intro"} <= features(v)


@pytest.mark.parametrize(
    "subject", ["Maya <> Leo", "Maya meet Leo", "Intro: Maya & Leo", "Maya + Leo", "Maya <=> Leo"]
)
def test_subjects_that_name_an_introduction(subject: str) -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Maya Ortiz <maya@example.org>, Leo Park <leo@example.net>\n"
        f"Subject: {subject}",
        "Maya, Leo runs the tool library on Elm Street.\n\nLeo, Maya is starting a repair "
        "café and needs a venue.\n",
    )
    assert v.kind == "introduction"
    assert "subject_names_intro" in features(v)


def test_a_reply_subject_is_not_an_introduction_subject() -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Maya Ortiz <maya@example.org>, Leo Park <leo@example.net>\n"
        "Subject: Re: Maya <> Leo",
        "Sounds good, see you both then.\n",
    )
    assert v.kind == "other"
    assert "subject_names_intro" not in features(v)


def test_double_introduction_by_structure_alone() -> None:
    """No introduction phrase at all: the author speaks to each and describes each."""
    v = run(
        f"From: Alice <{OWNER}>\nTo: Asif Khan <asif@example.org>, Blair Moss <blair@example.net>\n"
        "Subject: hello",
        "Asif,\n\nBlair is my friend who keeps bees on a roof in Leeds.\n\n"
        "Blair,\n\nAsif is a beekeeper I worked with for years and has hives to spare.\n",
    )
    assert v.kind == "introduction"
    assert {"speaks_to_each", "describes_a_party", "names_two_parties"} <= features(v)
    about = {p.address.email: p.about for p in v.parties}
    assert about["blair@example.net"].startswith("Blair is my friend")
    assert about["asif@example.org"].startswith("Asif is a beekeeper")


def test_opt_in_ask_to_one_person() -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Pat Reyes <pat@example.org>\nSubject: Jen",
        "Hi Pat,\n\nMy friend Jen is building a tool for bakeries. Would you be open to an "
        "intro so the two of you can talk?\n",
    )
    assert (v.kind, v.shape) == ("introduction", "owner_intro")
    assert parties(v) == {"pat@example.org": True}


def test_referral_to_the_owner_keeps_what_was_said_about_the_owner() -> None:
    v = run(
        f"From: Dan Okoye <dan@okoye.example.org>\nTo: Alice Novak <{OWNER}>\n"
        "Cc: Erin Walsh <erin@tidewater.example.net>\nSubject: Alice, meet Erin",
        "Hi Alice,\n\nI'd like to introduce you to Erin, who heads partnerships at Tidewater.\n\n"
        "Erin, Alice has looked after our accounts for six years and knows retail inside out.\n",
    )
    assert (v.kind, v.shape) == ("introduction", "referral_to_owner")
    assert v.introducer is not None and v.introducer.email == "dan@okoye.example.org"
    assert parties(v) == {"erin@tidewater.example.net": True}
    assert "Alice has looked after our accounts for six years" in v.about_owner
    assert "heads partnerships" in v.parties[0].about


def test_loop_in_names_the_copied_person_and_the_person_answered() -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Henry Blake <henry@ferrovia.example.com>\n"
        "Cc: Jake Moreno <jake@novak.example.com>, Ops <ops@lists.example.com>\n"
        "Subject: Re: the migration",
        "Henry,\n\n+cc Jake, who ran exactly this migration last spring.\n\n"
        "On Tue, 2 Apr 2024, Henry Blake <henry@ferrovia.example.com> wrote:\n> any advice?\n",
    )
    assert (v.kind, v.shape) == ("introduction", "loop_in")
    assert parties(v) == {"jake@novak.example.com": True, "henry@ferrovia.example.com": True}


# --- forwards and addresses in the text ----------------------------------------------------

GMAIL = "---------- Forwarded message ---------\nFrom: {frm}\nDate: Mon, 1 Apr 2024 at 10:00\n"
GMAIL += "Subject: {subject}\nTo: {to}\n{cc}\n"
APPLE = "Begin forwarded message:\n\nFrom: {frm}\nSubject: {subject}\nDate: 1 April 2024\n"
APPLE += "To: {to}\n{cc}\n"
OUTLOOK = "________________________________\nFrom: {frm}\nSent: Monday, April 1, 2024 10:00 AM\n"
OUTLOOK += "To: {to}\n{cc}\nSubject: {subject}\n"
THUNDERBIRD = "-------- Original Message --------\nSubject: {subject}\nDate: Mon, 1 Apr 2024\n"
THUNDERBIRD += "From: {frm}\nTo: {to}\n{cc}\n"
ORIGINAL = "-----Original Message-----\nFrom: {frm}\nSent: Monday, April 1, 2024 10:00 AM\n"
ORIGINAL += "To: {to}\n{cc}\nSubject: {subject}\n"
FORMATS = {
    "gmail": GMAIL,
    "apple": APPLE,
    "outlook": OUTLOOK,
    "thunderbird": THUNDERBIRD,
    "original": ORIGINAL,
}


@pytest.mark.parametrize("style", sorted(FORMATS))
def test_forward_to_one_party_adds_the_forwarded_author(style: str) -> None:
    block = FORMATS[style].format(
        frm="Grace Lin <grace@loomly.example.io>",
        to=f"Alice Novak <{OWNER}>",
        cc="",
        subject="seed round",
    )
    v = run(
        f"From: Alice <{OWNER}>\nTo: Frank Roy <frank@northwind.example.com>\nCc: {REFMAIL}\n"
        "Subject: Fwd: seed round",
        "Frank, see Grace's note below: she is raising a seed round for Loomly and I told her "
        "you might be the right person. Grace will be in touch.\n\n"
        + block
        + "\nHi Alice, do you know anyone at Northwind?\n",
    )
    assert (v.kind, v.shape) == ("introduction", "forward")
    assert parties(v) == {"frank@northwind.example.com": True, "grace@loomly.example.io": False}


@pytest.mark.parametrize("style", sorted(FORMATS))
def test_a_thread_forwarded_to_refmail_alone(style: str) -> None:
    """The owner forwards Maya's mail to refmail, naming Leo and his address in the note."""
    block = FORMATS[style].format(
        frm="Maya Ortiz <maya@example.org>", to=f"Alice Novak <{OWNER}>", cc="", subject="venue"
    )
    v = run(
        f"From: Alice <{OWNER}>\nTo: {REFMAIL}\nSubject: Fwd: venue",
        "Connecting Maya with Leo Park (leo@toolhub.example.net), who runs the tool library "
        "on Elm Street and has a hall to lend.\n\n" + block + "\nHi Alice, do you know a venue "
        "for a repair café?\n",
    )
    assert (v.kind, v.shape) == ("introduction", "forward")
    # Maya was on the original mail; Leo, named with his address, was not.
    assert parties(v) == {"maya@example.org": True, "leo@toolhub.example.net": False}
    about = {p.address.email: p.about for p in v.parties}
    assert "runs the tool library" in about["leo@toolhub.example.net"]


def test_a_referral_forwarded_to_refmail_is_the_referrers_introduction() -> None:
    block = APPLE.format(
        frm="Dan Okoye <dan@okoye.example.org>",
        to=f"Alice Novak <{OWNER}>",
        cc="Cc: Erin Walsh <erin@tidewater.example.net>",
        subject="Alice, meet Erin",
    )
    v = run(
        f"From: Alice <{OWNER}>\nTo: refmail+intros@example.com\nSubject: Fwd: Alice, meet Erin",
        "\n" + block + "\nHi Alice,\n\nI'd like to introduce you to Erin, who heads partnerships "
        "at Tidewater. Alice did the market-entry work for Gelateria Nord.\n",
    )
    assert (v.kind, v.shape) == ("introduction", "referral_to_owner")
    assert v.introducer is not None and v.introducer.email == "dan@okoye.example.org"
    assert parties(v) == {"erin@tidewater.example.net": True}
    assert "Alice did the market-entry work" in v.about_owner


def test_forward_as_an_attached_message() -> None:
    inner = EmailMessage()
    inner["From"] = "Grace Lin <grace@loomly.example.io>"
    inner["To"] = f"Alice Novak <{OWNER}>"
    inner["Subject"] = "seed round"
    inner.set_content("Hi Alice, do you know anyone at Northwind?")
    outer = EmailMessage()
    outer["From"] = f"Alice <{OWNER}>"
    outer["To"] = "Frank Roy <frank@northwind.example.com>"
    outer["Subject"] = "Fwd: seed round"
    outer["Message-ID"] = "<att@example.com>"
    outer.set_content("Frank, I'd like to introduce you to Grace; her note is attached.")
    outer.add_attachment(inner)
    v = classify(parse_message(outer.as_bytes()), IDENTITY)
    assert (v.kind, v.shape) == ("introduction", "forward")
    assert parties(v) == {"frank@northwind.example.com": True, "grace@loomly.example.io": False}


def test_an_address_written_next_to_a_name_is_a_party() -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Bob Stone <bob@example.org>\nSubject: Dana",
        "Bob, I'd like you to meet Dana Ruiz, who runs a bakery that has outgrown its "
        "spreadsheet. You can reach Dana at dana@ruizbakery.example.\n",
    )
    assert v.kind == "introduction"
    assert parties(v) == {"bob@example.org": True, "dana@ruizbakery.example": False}
    assert {p.address.email: p.address.name for p in v.parties}["dana@ruizbakery.example"] == (
        "Dana"
    )


def test_parties_are_never_owner_refmail_any_tag_robots_or_lists() -> None:
    ident = Identity(owners=frozenset({OWNER, "alice@home.example"}), refmail=frozenset({REFMAIL}))
    v = run(
        f"From: Alice <{OWNER}>\nTo: Bob Stone <bob@example.org>, Carol Diaz <carol@example.net>, "
        "alice+work@home.example, refmail+intro-42@example.com\n"
        "Cc: no-reply@service.example, Team <team@lists.example.org>\nSubject: Bob <> Carol",
        "Bob, meet Carol. Carol runs the Turin studio. You two should talk. Write to me at "
        "alice@home.example or refmail+x@example.com.\n",
        ident,
    )
    assert v.kind == "introduction"
    assert parties(v) == {"bob@example.org": True, "carol@example.net": True}


# --- look-alikes ---------------------------------------------------------------------------

TWO = f"From: Alice <{OWNER}>\nTo: Bob Stone <bob@example.org>, Carol Diaz <carol@example.net>\n"
ONE = f"From: Alice <{OWNER}>\nTo: Bob Stone <bob@example.org>\n"


@pytest.mark.parametrize(
    ("headers", "body", "rule"),
    [
        (ONE + "Subject: Sandra", "Could you introduce me to Sandra at Acme?\n", "asks_for_intro"),
        (
            ONE + "Subject: thanks",
            "Thanks so much for the introduction to Carol, we met on Tuesday.\n",
            "thanks_for_intro",
        ),
        (
            f"From: Bob Stone <bob@example.org>\nTo: Carol Diaz <carol@example.net>\nCc: {OWNER}\n"
            "Subject: Re: Bob <> Carol",
            "Thanks Alice (to bcc). Carol, great to meet you! Does Thursday work?\n",
            "reply",
        ),
        (
            ONE + "Subject: Leo",
            "Happy to introduce you to Leo Park if you want, just let me know.\n",
            "offer_later",
        ),
        (
            ONE + "Subject: restore",
            "Gary Bode helped us with this before; you might call him about the restore.\n",
            "pointer",
        ),
        (
            f"From: Sam Cole <sam@vendor.example>\nTo: {OWNER}\nSubject: hello",
            "Hi Alice, my name is Sam and Jordan mentioned you; let me introduce myself and our "
            "product.\n",
            "self_intro",
        ),
        (
            f"From: Acme Rewards <rewards@acme.example>\nTo: {OWNER}\nSubject: Give $50, get $50",
            "Refer a friend to Acme and you both get $50: introduce your friends today!\n",
            "referral_programme",
        ),
        (
            TWO + "Subject: Re: Thursday",
            "Bob, great. I'm copying my assistant Carol Diaz, who will find us a time.\n",
            "admin_copy",
        ),
        (
            TWO + "Subject: Re: budget",
            "Adding Carol for visibility, no action needed.\n",
            "fyi_copy",
        ),
        (
            "From: Alice <alice@novak.example.com>\nTo: "
            + ", ".join(f"p{i} <p{i}@example.org>" for i in range(12))
            + "\nSubject: Welcome Maya",
            "Please join me in welcoming Maya Lee, who joins us as head of design on Monday.\n",
            "welcome",
        ),
        (
            TWO + "Subject: [PATCH] mm: introduce a reclaim knob",
            "Introduce a knob to trigger reclaim on a cgroup.\n",
            "patch_posting",
        ),
        (
            TWO + "Subject: Re: flaky builds",
            "Thanks for cc'ing me, Bob. I see the same failure.\n",
            "thanks_for_intro",
        ),
    ],
)
def test_look_alikes_are_not_introductions_and_say_which(
    headers: str, body: str, rule: str
) -> None:
    v = run(headers, body)
    assert v.kind == "other"
    assert v.rule == rule
    assert v.total < THRESHOLD


def test_a_reply_in_the_thread_with_everyone_already_there() -> None:
    v = run(
        TWO + "Subject: Re: Bob <> Carol",
        "Bob, meet Carol on Thursday then.\n\n-----Original Message-----\nFrom: Carol Diaz "
        "<carol@example.net>\nSent: Monday\nTo: Alice <alice@novak.example.com>; Bob Stone "
        "<bob@example.org>\nSubject: Bob <> Carol\n\nhello\n",
    )
    assert (v.kind, v.rule) == ("other", "no_new_party")


# --- Spanish -------------------------------------------------------------------------------


def test_spanish_introduction() -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Ana Gil <ana@panaderia.example>, "
        "Luis Mora <luis@log.example>\nSubject: Ana <> Luis",
        "Hola Ana y Luis:\n\nOs presento. Ana dirige una panadería en Sevilla y busca un sistema "
        "de inventario. Luis trabaja en logística y conoce bien el problema.\n\n"
        "Os dejo que sigáis vosotros.\n\nUn abrazo,\nAlice\n",
    )
    assert v.kind == "introduction"
    assert v.language == "es"
    assert parties(v) == {"ana@panaderia.example": True, "luis@log.example": True}
    assert {"cue_meet", "cue_hand_off"} <= features(v)
    about = {p.address.email: p.about for p in v.parties}
    assert "Ana dirige una panadería" in about["ana@panaderia.example"]


def test_spanish_put_in_touch_by_copying() -> None:
    v = run(
        f"From: Alice <{OWNER}>\nTo: Marta Ruiz <marta@example.org>\n"
        "Cc: Jorge Vidal <jorge@example.net>\nSubject: contacto",
        "Hola Marta, te presento a Jorge, que trabaja en contabilidad para restaurantes y puede "
        "ayudarte con el cierre del año. Os pongo en contacto.\n",
    )
    assert v.kind == "introduction"
    assert v.language == "es"
    assert parties(v) == {"marta@example.org": True, "jorge@example.net": True}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("Hola Marta, ¿me podrías presentar a Jorge? Te lo agradecería mucho.\n", "asks_for_intro"),
        (
            "Gracias por la presentación, Pablo. Ya hemos quedado para el martes.\n",
            "thanks_for_intro",
        ),
        (
            "Hola, estaré fuera de la oficina hasta el lunes. Para urgencias, llamad a Pedro.\n",
            "out_of_office",
        ),
        (
            "Hola a todos, me presento: mi nombre es Sara y acabo de llegar al equipo.\n",
            "self_intro",
        ),
    ],
)
def test_spanish_look_alikes(body: str, rule: str) -> None:
    v = run(TWO + "Subject: hola", body)
    assert (v.kind, v.rule) == ("other", rule)
    assert v.language == "es"


# --- explain -------------------------------------------------------------------------------


def test_explain_lists_every_feature_its_weight_and_the_total() -> None:
    v = run(TWO + "Subject: Bob <> Carol", "Bob, meet Carol. You two should talk.\n")
    lines = v.explain()
    assert v.kind == "introduction"
    assert len(lines) == len(v.evidence) + 1
    assert any("cue_meet" in line and "+3.00" in line for line in lines)
    assert lines[-1].endswith("introduction")
    assert f"threshold {THRESHOLD:g}" in lines[-1]
    assert v.total == pytest.approx(sum(e.weight for e in v.evidence))


def test_explain_of_a_robot_verdict_is_its_rule() -> None:
    v = run(TWO + "Subject: x\nAuto-Submitted: auto-replied", "I am away.\n")
    assert v.explain() == ["auto_submitted: Auto-Submitted: auto-replied"]


# --- hostile input costs no more than a normal message of the same capped size -------------


@pytest.mark.parametrize(
    "body",
    [
        " ".join(["Aaaa"] * 4000),
        "a@" * 6000,
        "\n".join(["+Aaaa Bbbb"] * 3000),
        " ".join(["cc'ing Bob who"] * 2000),
        " " * 100_000 + "meet",
        "\n".join(["From: a@b.c\nTo: x@y.z"] * 3000),
        ". " * 50_000,
    ],
)
def test_hostile_text_is_classified_in_bounded_time(body: str) -> None:
    base = parse_message(
        f"From: Alice <{OWNER}>\nTo: Bob <bob@example.org>\nSubject: x\n\nhi\n".encode()
    )
    # Built around the parser (which has its own limits): only detection is measured here.
    msg = dataclasses.replace(base, full_text=body, own_text=body[:20_000], history=body)
    # Patterns are compiled on first use (≈ 0.3 s the first time in a process, wherever this
    # test lands among the workers): that once-per-process cost is not the input's. The
    # second call is timed; a pattern that backtracks on this input is slow every time.
    classify(msg, IDENTITY)
    # The collector is off while timing: a full collection of the test worker's heap (what
    # every earlier test left) can land in this call and cost more than the classification.
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        classify(msg, IDENTITY)
        spent = time.process_time() - started
    finally:
        gc.enable()
    assert spent < 0.25  # ~10-20 ms measured; generous for CI load


# (round 11) an auto-reply speaks of its author: a third party's absence given as a reason in
# a reply is no out-of-office look-alike; a notice of someone's absence still is
@pytest.mark.parametrize(
    ("body", "ooo"),
    [
        (
            "Hi Mr. Ward - I'm sorry we didn't set a date, as Mr. Hale is on vacation until "
            "September 5. Could you meet Dana Reyes instead?\n",
            False,
        ),
        ("Sorry for the delay, since she is away until Monday. Bob, can you help?\n", False),
        (
            "Mark Hale will be out of the office on vacation Friday through Wednesday. He can "
            "be reached at his cell.\n",
            True,
        ),
        ("I am on vacation until September 5 with no access to mail.\n", True),
    ],
)
def test_out_of_office_is_the_authors(body: str, ooo: bool) -> None:
    v = run(TWO + "Subject: dates", body)
    assert ("neg_out_of_office" in features(v)) is ooo
