"""The parser never raises, always yields a Message-ID, and separates own text from history."""

from __future__ import annotations

import email.utils
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refmail.addrlist import PLAIN_LIST_LIMIT, _simple_addresses
from refmail.htmltext import html_to_text
from refmail.parse import ParsedMessage, parse_heads, parse_message, quoted_headers
from refmail.quotes import split_quoted, strip_signature

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def corpus_files(*folders: str) -> list[Path]:
    """Corpus messages; a missing corpus is a failure (CI always has it), never a skip."""
    if not CORPUS.is_dir():
        pytest.fail(f"corpus missing at {CORPUS} (expected ../shared/corpus next to the repo)")
    files = sorted(p for folder in folders for p in (CORPUS / folder).glob("*.eml"))
    if not files:
        pytest.fail(f"no .eml files under {CORPUS} in {folders}")
    return files


def assert_clear_record(msg: ParsedMessage) -> None:
    assert msg.message_id.startswith("<") and msg.message_id.endswith(">")
    assert msg.synthetic_id == ("MissingMessageId" in msg.defects)
    assert isinstance(msg.own_text, str) and isinstance(msg.full_text, str)
    assert all(isinstance(d, str) for d in msg.defects)


# --- the corpus ----------------------------------------------------------------------------


def test_every_corpus_file_parses() -> None:
    files = corpus_files("intro", "nonintro", "weird")
    assert len(files) >= 100
    for path in files:
        assert_clear_record(parse_message(path.read_bytes()))


def test_weird_files_keep_what_they_can() -> None:
    files = corpus_files("weird")
    for path in files:
        msg = parse_message(path.read_bytes())
        assert_clear_record(msg)
        assert "\r" not in msg.full_text
    names = {p.name: parse_message(p.read_bytes()) for p in files}
    encoded = [m for n, m in names.items() if "octet-stream" in n]
    assert encoded and encoded[0].sender is not None
    assert encoded[0].sender.name == "Gabriel Vîjială"  # RFC 2047 B-encoded display name


# --- headers -------------------------------------------------------------------------------


def test_rfc2047_names_and_subject_are_decoded() -> None:
    raw = (
        b"From: =?utf-8?q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <jose@example.org>\n"
        b"To: =?iso-8859-1?q?Fran=E7oise?= <fr@example.net>\n"
        b"Subject: =?utf-8?b?SW50cm86IEpvc8OpIDw+IEZyYW7Dp29pc2U=?=\n"
        b"Message-ID: <a@example.org>\n\nhello\n"
    )
    msg = parse_message(raw)
    assert msg.sender is not None and msg.sender.name == "José Núñez"
    assert msg.to[0].name == "Françoise"
    assert msg.subject == "Intro: José <> Françoise"


def test_cr_only_line_endings() -> None:
    raw = b"From: a@example.org\rTo: b@example.net\rSubject: hi\rMessage-ID: <cr@x>\r\r"
    raw += b"line one\rline two\r"
    msg = parse_message(raw)
    assert_clear_record(msg)
    assert "\r" not in msg.full_text


def test_byte_order_mark_is_ignored() -> None:
    raw = b"\xef\xbb\xbfFrom: Ann <ann@example.org>\nSubject: BOM\nMessage-ID: <bom@x>\n\nhi\n"
    msg = parse_message(raw)
    assert msg.sender is not None and msg.sender.email == "ann@example.org"
    assert msg.message_id == "<bom@x>"


def test_raw_8bit_headers_are_read() -> None:
    raw = "From: Zoë Müller <zoe@example.org>\nSubject: Grüße\n\nhi\n".encode()
    msg = parse_message(raw)
    assert msg.sender is not None and msg.sender.name == "Zoë Müller"
    assert msg.subject == "Grüße"
    latin = "From: Zoë <zoe@example.org>\nSubject: café\n\nhi\n".encode("latin-1")
    assert parse_message(latin).subject == "café"


def test_missing_message_id_gets_a_stable_digest() -> None:
    raw = b"From: a@example.org\nTo: b@example.net\nSubject: no id\n"
    raw += b"Date: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody\n"
    first, again = parse_message(raw), parse_message(raw)
    assert first.synthetic_id and "MissingMessageId" in first.defects
    assert first.message_id == again.message_id
    # The same message fetched from another folder carries different delivery headers.
    other_folder = b"Delivered-To: b@example.net\nX-Folder: Archive\n" + raw
    assert parse_message(other_folder).message_id == first.message_id
    changed = raw.replace(b"body", b"other body")
    assert parse_message(changed).message_id != first.message_id


# --- robustness properties -----------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_parse_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    assert_clear_record(parse_message(raw))


_SAMPLES = [p.read_bytes() for p in sorted(CORPUS.glob("*/*.eml"))[::4]] if CORPUS.is_dir() else []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0),
    cut=st.floats(min_value=0, max_value=1),
    edits=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1), st.binary(max_size=8)), max_size=8
    ),
)
def test_parse_never_raises_on_mutated_corpus(
    index: int, cut: float, edits: list[tuple[float, bytes]]
) -> None:
    if not _SAMPLES:
        pytest.fail(f"corpus missing at {CORPUS}")
    data = bytearray(_SAMPLES[index % len(_SAMPLES)])
    for where, junk in edits:
        at = int(where * len(data))
        data[at : at + len(junk)] = junk
    assert_clear_record(parse_message(bytes(data[: max(1, int(cut * len(data)))])))


# --- quoted history ------------------------------------------------------------------------


def test_split_gmail_attribution() -> None:
    body = (
        "Sounds good, Tuesday works.\n\n"
        "On Mon, 1 Apr 2024 at 10:00, Bob Stone <bob@example.org>\nwrote:\n> Shall we meet?\n"
    )
    own, quoted = split_quoted(body)
    assert own == "Sounds good, Tuesday works.\n"
    assert quoted.startswith("On Mon") and "> Shall we meet?" in quoted


def test_gmail_attribution_does_not_swallow_own_paragraphs() -> None:
    body = "On Monday I met Jake.\n\nHe runs ops. Anna wrote:\n> hi\n"
    own, _ = split_quoted(body)
    assert "On Monday I met Jake." in own


def test_split_outlook_original_message_and_header_block() -> None:
    body = "Please see below.\n\n-----Original Message-----\n"
    body += "From: Reed, Mary\nSent: Tue\nTo: Ann\n\nx\n"
    assert split_quoted(body)[0] == "Please see below.\n"
    block = "Thanks!\n\nFrom: Mary Reed <mary@example.org>\n"
    block += "Sent: Tuesday, 2 April 2024 10:00\nTo: Ann\n"
    own, quoted = split_quoted(block)
    assert own == "Thanks!\n" and quoted.startswith("From: Mary Reed")


def test_split_apple_forward() -> None:
    body = "Worth a look.\n\nBegin forwarded message:\n\n"
    body += "From: Grace <grace@example.io>\nSubject: deck\n"
    own, quoted = split_quoted(body)
    assert own == "Worth a look.\n"
    headers = quoted_headers(quoted)
    assert headers[0].sender is not None and headers[0].sender.email == "grace@example.io"


def test_notes_forward_line_wrapped_before_the_time_is_a_forward() -> None:
    # Notes wraps "Forwarded by … on 05/24/2001 03:00 PM ----" at 78 columns, before the time
    raw = (
        b"From: a@x.example\r\nTo: b@x.example\r\nSubject: resume\r\n\r\n"
        b"Barry - he might be a fit.\r\n"
        b"---------------------- Forwarded by Steven J Kean/NA/Enron on 05/24/2001 \r\n"
        b"03:00 PM ---------------------------\r\n\r\n\r\n"
        b'"Humberto Kuhn" <beto@y.example> on 05/21/2001 11:17:21 AM\r\n'
        b"To: <a@x.example>\r\ncc:  \r\n\r\nSubject: resume\r\n\r\nDear Steve\r\n"
    )
    msg = parse_message(raw)
    assert msg.has_forward
    assert msg.own_text.strip() == "Barry - he might be a fit."
    assert msg.quoted[0].sender is not None and msg.quoted[0].sender.email == "beto@y.example"


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Mensaje reenviado ---------",
        "Inicio del mensaje reenviado:",
        "-----Mensaje original-----",
    ],
)
def test_split_spanish_forward_and_its_headers(marker: str) -> None:
    """Spanish clients mark a forward and name its headers in Spanish ("De:", "Para:"…)."""
    body = f"Escríbele tú.\n\n{marker}\n> De: Lucía Ferrer <lucia@example.net>\n"
    body += "> Fecha: lun, 30 nov 2026\n> Asunto: herencia\n> Para: Ana <ana@example.com>\n"
    own, quoted = split_quoted(body)
    assert own == "Escríbele tú.\n"
    block = quoted_headers(quoted)[0]
    assert block.sender is not None and block.sender.email == "lucia@example.net"
    assert block.subject == "herencia" and [a.email for a in block.to] == ["ana@example.com"]


def test_split_spanish_outlook_header_block() -> None:
    body = "Te lo paso.\n\nDe: Pilar Gómez <pilar@example.es>\nEnviado el: martes, 1 de diciembre\n"
    body += "Para: Ana <ana@example.com>\nAsunto: RE: obra\n\nHola\n"
    own, quoted = split_quoted(body)
    assert own == "Te lo paso.\n"
    block = quoted_headers(quoted)[0]
    assert block.sender is not None and block.sender.email == "pilar@example.es"
    assert [a.email for a in block.to] == ["ana@example.com"]


def test_split_lotus_notes_blocks() -> None:
    one_line = (
        "Fine by me.\n\nJason Sokolov <jason@example.com> on 01/02/2001 10:00 AM\nTo: Steve\n"
    )
    assert split_quoted(one_line)[0] == "Fine by me.\n"
    three_lines = (
        "Forwarding to our recruiters.\n\n\n\tSeverin Borenstein <sb@example.edu>\n"
        "\t03/31/2001 06:00 PM\n\t\t \n\t\t To: Steve Kean <sk@example.com>\n"
        "\t\t cc: \n\t\t Subject: Job candidates\n\nDear Steve,\n"
    )
    own, quoted = split_quoted(three_lines)
    assert own == "Forwarding to our recruiters.\n"
    block = quoted_headers(quoted)[0]
    assert block.sender is not None and block.sender.email == "sb@example.edu"
    assert block.subject == "Job candidates"
    assert [a.email for a in block.to] == ["sk@example.com"]


def test_split_angle_bracket_quotes_keeps_inline_replies() -> None:
    own, quoted = split_quoted("> Can you make Tuesday?\nYes, 3pm.\n> And bring Jake?\nSure.\n")
    assert own == "Yes, 3pm.\nSure.\n"
    assert "> Can you make Tuesday?" in quoted and "> And bring Jake?" in quoted


def test_no_quote_returns_text_unchanged() -> None:
    assert split_quoted("Just text.\n") == ("Just text.\n", "")


def test_quoted_headers_from_forwarded_blocks() -> None:
    history = (
        "---------- Forwarded message ---------\n"
        "From: Dana Okafor <dana@loomwise.example.net>\n"
        "Date: Wed, 3 Apr 2024 at 18:20\n"
        "Subject: Intro request: Dana <> James\n"
        "To: Roy <roy@example.com>\n"
        "Cc: Tom Reid <tom@example.org>,\n"
        "    Ann Lee <ann@example.org>\n\nHi Roy\n"
        "-----Original Message-----\n"
        "From: Reed, Mary [mailto:mary@example.org]\nSent: Tuesday\nTo: Dana\nSubject: RE: x\n"
    )
    first, second = quoted_headers(history)
    assert first.sender is not None and first.sender.email == "dana@loomwise.example.net"
    assert first.sender_name == "Dana Okafor"
    assert [a.email for a in first.to] == ["roy@example.com"]
    assert [a.email for a in first.cc] == ["tom@example.org", "ann@example.org"]
    assert second.sender is not None and second.sender.email == "mary@example.org"
    assert second.sender_name == "Reed, Mary"


def test_strip_signature_and_html() -> None:
    assert strip_signature("Meet Ann.\n-- \nBob\n+1 555\n") == "Meet Ann.\n"
    assert strip_signature("Meet Ann.\n\nSent from my iPhone\n") == "Meet Ann.\n\n"
    text = html_to_text("<p>Hi <b>Ann</b></p><blockquote>old</blockquote><script>x()</script>")
    assert text.splitlines()[0] == "Hi Ann" and "> old" in text and "x()" not in text


def test_a_message_parsed_with_its_triaged_headers_is_the_one_parsed_alone() -> None:
    """Sync hands parse_message the header block triage read (so addresses are parsed once);
    the result is the same message, on every corpus and fixture message."""
    fixtures = Path(__file__).parent / "fixtures"
    files = [*corpus_files("intro", "nonintro", "weird"), *fixtures.glob("*/*.eml")]
    for path in files:
        raw = path.read_bytes()
        assert parse_message(raw, parse_heads(raw)) == parse_message(raw), path.name


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.text(alphabet="ab.Z9 <>@,-_=?'+\t\r\n\"();:[]\\é", max_size=40), min_size=1, max_size=3
    )
)
def test_the_plain_address_list_path_reads_as_the_stdlib_does(values: list[str]) -> None:
    """The regex path for plain address lists gives getaddresses' result, or declines."""
    fast = _simple_addresses(values)
    assert fast is None or fast == email.utils.getaddresses(values)


@pytest.mark.parametrize(
    "value",
    [
        "Pat Partner <pat@partner.example>, carol@client.example",
        "  J. R.  Smith\r\n <j.r@x-y.example>",
        "=?utf-8?q?Ol=C3=A9?= <o@x.example>",
    ],
)
def test_plain_address_lists_take_the_regex_path(value: str) -> None:
    assert _simple_addresses([value]) == email.utils.getaddresses([value])


def test_the_plain_address_path_stays_fast_on_its_worst_input() -> None:
    """The regex path is bounded (PLAIN_LIST_LIMIT) and uses fullmatch: 4,000 characters of
    what makes it backtrack most take well under a millisecond each, not seconds."""
    import time

    for filler in ("a", " ", ".", "a.", "a@", "a@b.", "a <", "=?"):
        value = (filler * PLAIN_LIST_LIMIT)[:PLAIN_LIST_LIMIT]
        started = time.process_time()
        for _ in range(10):
            _simple_addresses([value])
        assert (time.process_time() - started) / 10 < 0.05, filler


@pytest.mark.parametrize("gap", [0, 1, 2, 3])
def test_notes_author_found_with_its_to_line_as_far_as_before(gap: int) -> None:
    # name / date / up to three lines / To: — only lines with a To: near below are looked at
    # as Notes authors (issue 15); the reach is what it was.
    history = "Sev Borenstein <sb@example.edu>\n03/31/2001 06:00 PM\n" + "\n" * gap
    history += "To: Steve Kean <sk@example.com>\nSubject: Job candidates\n"
    blocks = quoted_headers(history)
    found = gap <= 2  # the To: must be within the three lines after the date
    assert bool(blocks) == found
    if found:
        assert blocks[0].sender is not None and blocks[0].sender.email == "sb@example.edu"
