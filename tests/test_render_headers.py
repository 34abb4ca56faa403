"""refmail.wire writes the bytes the stdlib writes: each header field refmail sets, each body,
and whole rendered follow-ups, compared byte for byte with `EmailMessage(policy=WIRE)` on
generated names, subjects, IDs, dates and bodies (hostile ones included); what it writes is
also read back by the stdlib to the same values, in lines of at most 78 octets where a line can
be broken, with no CR or LF smuggled into a field."""

from __future__ import annotations

import dataclasses
import email
import email.generator
import email.policy
import email.utils
import random
import string
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from refmail.kinds import NAMES as KINDS
from refmail.render import Links, Person, Renderer
from refmail.text import one_line
from refmail.wire import (
    WIRE,
    Fields,
    boundary,
    encode_text,
    fast_field,
    message_bytes,
    multipart_type,
    stdlib_field,
)
from tests.support.drafts import NOW, draft

ASCII_WORD = st.text(string.ascii_letters + string.digits + string.punctuation, min_size=1)
ASCII_TEXT = st.lists(ASCII_WORD, min_size=1, max_size=8).map(" ".join)
ANY_TEXT = st.text(max_size=120)  # every code point: controls, CR, LF, surrogates excluded below
NAMES = st.one_of(ASCII_TEXT, st.text(string.ascii_letters + " .,'\"-&()", max_size=40), ANY_TEXT)
LOCAL = st.from_regex(r"[A-Za-z0-9._%+'-]{1,20}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,8}){0,2}", fullmatch=True)
ADDRESSES = st.builds(lambda a, b: f"{a}@{b}", LOCAL, DOMAIN)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def formatted(name: str, address: str) -> str:
    return Person(address, name).header()


def safe(value: str) -> bool:
    """A value `msg[name] = value` accepts (no line break: the stdlib refuses those)."""
    try:
        WIRE.header_store_parse("Subject", value)
    except ValueError:
        return False
    return True


# --- one field at a time ----------------------------------------------------------------------


def same_as_stdlib(field: str, value: str) -> None:
    """refmail.wire writes what the stdlib writes, or fails where it fails (the stdlib's parser
    raises on some malformed Message-IDs: the follow-up then fails, as it did before)."""
    try:
        expected: bytes | type[Exception] = stdlib_field(field, value)
    except Exception as exc:  # noqa: BLE001 (whatever the stdlib raises, both must raise)
        expected = type(exc)
    try:
        ours: bytes | type[Exception] = Fields().field(field, value)
    except Exception as exc:  # noqa: BLE001 (whatever the stdlib raises, both must raise)
        ours = type(exc)
    assert ours == expected, (field, value)


@SETTINGS
@given(name=NAMES, address=ADDRESSES)
@example(name="Ålice Ärcher-Ünïcode, Jr.", address="alice@example.org")
@example(name='J. "X" Smith', address="j@example.org")
@example(name="=?utf-8?q?Bob?=", address="b@example.org")
def test_address_fields_are_the_stdlibs(name: str, address: str) -> None:
    value = formatted(name, address)
    if not safe(value):
        return
    for field in ("From", "To"):
        same_as_stdlib(field, value)


@SETTINGS
@given(value=st.one_of(ASCII_TEXT, ANY_TEXT))
@example(value="Thank you for the introduction to Bøb Stöne")
@example(value="=?utf-8?q?hidden?= words")
@example(value="x" * 200)
def test_unstructured_fields_are_the_stdlibs(value: str) -> None:
    if not safe(value):
        return
    for field in ("Subject", "Auto-Submitted", "List-Unsubscribe-Post"):
        same_as_stdlib(field, value)


@SETTINGS
@given(words=st.lists(st.one_of(ASCII_WORD, st.from_regex(r"<[!-~]{1,300}>", fullmatch=True))))
@example(words=["<" + "u" * 1000 + ">"])
def test_id_and_url_fields_are_the_stdlibs(words: list[str]) -> None:
    value = " ".join(words)
    if not safe(value):
        return
    for field in ("Message-ID", "In-Reply-To", "References", "X-Refmail-ID", "List-Unsubscribe"):
        same_as_stdlib(field, value)


@SETTINGS
@given(
    when=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    offset=st.integers(-14 * 60, 14 * 60),
)
def test_date_fields_are_the_stdlibs(when: datetime, offset: int) -> None:
    value = email.utils.format_datetime(when.astimezone(timezone(timedelta(minutes=offset))))
    same_as_stdlib("Date", value)
    assert fast_field("Date", value) is not None  # the common case takes the short path


@SETTINGS
@given(name=NAMES, subject=st.one_of(ASCII_TEXT, ANY_TEXT))
@example(name="Pat Partner", subject="Thank you for the introduction to Bob Stone")
def test_what_wire_writes_itself_reads_back_and_stays_on_its_lines(name: str, subject: str) -> None:
    """The fields refmail.wire writes without the stdlib: parsed by the stdlib they give back
    the value, on one line of at most 78 octets, with no CR or LF inside. (What it leaves to the
    stdlib is the stdlib's bytes, held equal above.)"""
    to = formatted(name, "alice@example.org")  # a Person's name is one_line()'d, as is
    subject = one_line(subject)  # every subject refmail writes
    for field, value in (("To", to), ("Subject", subject)):
        written = fast_field(field, value)
        if written is None:
            continue
        assert written == f"{field}: {value}\r\n".encode() and len(written) <= 80
        assert b"\r" not in written[:-2] and b"\n" not in written[:-2]
        parsed = email.message_from_bytes(written + b"\r\n", policy=email.policy.default)
        assert str(parsed[field]) == value
        if field == "To":
            assert parsed[field].addresses[0].addr_spec == "alice@example.org"
            assert parsed[field].addresses[0].display_name == one_line(name)


def test_a_field_with_a_line_break_is_refused_as_the_stdlib_refuses_it() -> None:
    for value in ("a\r\nBcc: x@evil.example", "<a@x>\nBcc: y", "a\rb"):
        with pytest.raises(ValueError):
            Fields().field("Subject", value)
        with pytest.raises(ValueError):
            Fields().field("Message-ID", value)


def test_values_only_the_stdlib_can_fold_are_remembered_within_a_bound() -> None:
    fields = Fields(limit=2)
    first = fields.field("To", formatted("Ålice", "a@example.org"))
    assert fields.field("To", formatted("Ålice", "a@example.org")) is first
    for n in range(5):
        fields.field("Subject", f"Bøb {n}")
    assert len(fields._folded) <= 2


# --- bodies and whole messages ---------------------------------------------------------------


def stdlib_part(text: str, subtype: str = "plain") -> bytes:
    part = EmailMessage(policy=WIRE)
    part.set_content(text, subtype=subtype)
    return part.as_bytes()


@SETTINGS
@given(
    lines=st.lists(
        st.one_of(
            st.text(string.printable.replace("\r", "").replace("\n", "").replace("\x0b", "")),
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
        ),
        max_size=30,
    )
)
@example(lines=["x" * 300] * 12)  # long ASCII lines: quoted-printable, more than 10 lines
@example(lines=["ø" * 100] * 3)  # long non-ASCII lines: base64
@example(lines=["ø" * 100] * 14)
def test_bodies_are_the_stdlibs(lines: list[str]) -> None:
    text = "\n".join(lines).strip() + "\n"
    cte, body = encode_text(text)
    expected = stdlib_part(text)
    assert f"Content-Transfer-Encoding: {cte}\r\n".encode() in expected
    assert expected.endswith(b"\r\n\r\n" + body)


@pytest.mark.parametrize("html", ["", "<p>Hi Bøb</p>\n", "<p>" + "x" * 200 + "</p>\n"])
def test_whole_messages_are_the_stdlibs_with_the_same_boundary(html: str) -> None:
    fields = [("From", "Olga <o@example.com>"), ("Subject", "Hi")]
    text = "Hi Bøb,\n\n" + "long line " * 20 + "\n"
    random.seed(7)
    ours = message_bytes(Fields().block(fields), text, html)
    msg = EmailMessage(policy=WIRE)
    for name, value in fields:
        msg[name] = value
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    random.seed(7)
    assert ours == msg.as_bytes()


def test_a_boundary_already_in_the_text_is_passed_over_as_the_stdlib_does() -> None:
    random.seed(3)
    taken = boundary(b"")
    text = b"x\r\n--" + taken.encode() + b"\n"  # at a line's start, then LF: the pattern's $
    random.seed(3)
    chosen = boundary(text)
    assert chosen == taken + ".0"
    random.seed(3)
    assert chosen == email.generator.BytesGenerator._make_boundary(text)  # type: ignore[attr-defined]
    for made in (taken, chosen):
        expected = stdlib_field("Content-Type", f'multipart/alternative; boundary="{made}"')
        assert multipart_type(made) == expected


HOSTILE_NAMES = [
    "Ann\x0bLee",
    "Ann\u2028Lee",
    "Ann\x1b[31mLee\x1b[0m",
    "Ann\u202eLee",
    "Ålice Ärcher-Ünïcode, Jr.",
    '"Quoted" (comment) <x@y>',
    "=?utf-8?b?QWxpY2U=?=",
    "Jo " * 40,
]


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    name=st.one_of(st.sampled_from(HOSTILE_NAMES), NAMES),
    subject=st.one_of(ASCII_TEXT, ANY_TEXT),
    context=ANY_TEXT,
    automatic=st.booleans(),
    unsubscribe=st.one_of(
        st.just(""), st.from_regex(r"https://x\.example/u/[!-~]{1,400}", fullmatch=True)
    ),
    refs=st.lists(st.from_regex(r"<[!-~]{1,60}@x\.example>", fullmatch=True), max_size=25),
    seed=st.integers(0, 2**32),
)
def test_rendered_follow_ups_are_the_stdlibs_byte_for_byte(
    kind: str,
    name: str,
    subject: str,
    context: str,
    automatic: bool,
    unsubscribe: str,
    refs: list[str],
    seed: int,
) -> None:
    alice = Person("alice@example.org", name, organisation=name)
    d = draft(
        kind,
        recipient=alice,
        parties=(alice, Person("bob@example.net", name)),
        intro_subject=subject,
        context=context,
        automatic=automatic,
        links=Links(unsubscribe, "https://x.example/p/t" if unsubscribe else ""),
        intro_references=tuple(refs),
        subject_person=alice if kind == "call_task" else None,
    )
    renderer = Renderer()
    random.seed(seed)
    ours = renderer.render(d, NOW)
    wire = ours.as_bytes()
    random.seed(seed)
    assert wire == renderer.message(d, NOW).as_bytes()
    assert str(ours["Subject"]) == str(renderer.message(d, NOW)["Subject"])


def test_a_rendered_follow_up_reads_as_the_message_it_was() -> None:
    rendered = Renderer().render(draft("check_in", automatic=True), NOW)
    reference = Renderer().message(draft("check_in", automatic=True), NOW)
    assert rendered["Subject"] == reference["Subject"]
    assert rendered["To"] == reference["To"]
    assert [p.get_content_type() for p in rendered.walk()] == [
        p.get_content_type() for p in reference.walk()
    ]
    assert "Auto-Submitted" in rendered and "Bcc" not in rendered
    assert list(rendered) == list(reference) and len(rendered) == len(reference)
    assert str(rendered).split("\n", 1)[0] == str(reference).split("\n", 1)[0]
    assert rendered.as_bytes() is rendered.as_bytes() is bytes(rendered)  # never rewritten
    smtp = rendered.as_bytes(policy=email.policy.SMTP)  # another form: the stdlib writes it
    assert smtp.startswith(b"From: Olga Owner <owner@example.com>\r\n")


def test_a_hostile_name_stays_out_of_other_fields() -> None:
    evil = Person("alice@example.org", "Alice\r\nBcc: everyone@example.net")
    raw = Renderer().render(draft("thank_you", recipient=evil, parties=(evil,)), NOW).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc:") for line in head.split(b"\r\n"))
    assert dataclasses.replace(evil).name == "Alice Bcc: everyone@example.net"
