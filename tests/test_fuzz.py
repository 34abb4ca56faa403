"""Fuzzing the parser and the classifier with adversarial input, kept in the normal suite.

The strategies build what broke refmail before: long runs of one character ('@', spaces, blank
lines, '>', '-', '_'), the words the quote and header patterns look for, multiparts nested
deep, broken MIME headers and raw bytes. Each example must parse and classify without an
exception, within a time bound. The example counts keep the whole file to a few seconds.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refmail.detect import Identity, classify
from refmail.parse import ParsedMessage, parse_message, quoted_headers
from refmail.quotes import split_quoted
from tests.support.mailbox import OWNER, REFMAIL

IDENTITY = Identity(owners=frozenset({OWNER}), refmail=frozenset({REFMAIL}))
EXAMPLE_LIMIT = 5.0  # CPU seconds for one example: generous, a linear step takes milliseconds
FUZZ = settings(
    max_examples=40,
    deadline=None,  # timed by hand below: hypothesis' deadline is flaky on a busy machine
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,  # a failure prints the @reproduce_failure line to replay it
)

TOKENS = (
    "\n", "\r\n", " ", "\t", ">", "> ", "@", "-", "--", "-- \n", "_" * 12, ".", "/", ":", "<", ">",
    "On Mon, 3 Feb 2025 at 10:00, Alice <alice@example.org> wrote:", " wrote:", "schrieb:",
    "From: Bob <bob@example.net>", "To: Carol <carol@example.com>", "Cc: ", "Sent: Monday",
    "Subject: Re: intro", "-----Original Message-----", "---------- Forwarded message ---------",
    "Begin forwarded message:", "Forwarded by Alice/NA/Enron@Enron", "01/02/2001 10:00 AM",
    "x@y on 01/02/2001", "Sent from my iPhone", "I'd like to introduce you to", "meet ",
    "you two should talk", "=?utf-8?q?", "?=", "<mailto:a@b.example>", "[mailto:a@b]",
    "<blockquote>", "<div>", "<!--", "é", "\u200b", "\x00", "\ufeff",
)  # fmt: skip
RUN_CHARS = ("@", " ", "\n", "\r\n", ">", "-", "_", "a", "/", "<", "\t", "=", "\n \n")


def runs() -> st.SearchStrategy[str]:
    """One character (or short string) repeated up to 20,000 times."""
    return st.builds(lambda s, n: s * n, st.sampled_from(RUN_CHARS), st.integers(1, 20_000))


def texts() -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(TOKENS), runs(), st.text(max_size=40))
    return st.lists(piece, max_size=40).map("".join)


def headers() -> st.SearchStrategy[str]:
    address = st.one_of(
        st.just(f"Olivia <{OWNER}>"),
        st.just(REFMAIL),
        st.builds(lambda t: f"{t} <{t}@example.org>", st.text('abc@<>",; ', max_size=30)),
        texts().map(lambda t: t.replace("\n", " ")[:300]),
    )
    return st.builds(
        lambda frm, to, cc, subject, extra: (
            f"Delivered-To: {REFMAIL}\r\nFrom: {frm}\r\nTo: {to}\r\nCc: {cc}\r\n"
            f"Subject: {subject}\r\nMessage-ID: <fuzz@example.org>\r\n{extra}"
        ),
        address,
        address,
        address,
        texts().map(lambda t: t.replace("\n", " ")[:2000]),
        st.sampled_from(
            (
                "",
                "Content-Type: text/html\r\n",
                "Content-Type: text/plain; charset=x-unknown\r\n",
                "Content-Transfer-Encoding: base64\r\n",
                "Content-Transfer-Encoding: quoted-printable\r\n",
                "Content-Type: multipart/mixed\r\n",
                "Content-Type: message/rfc822\r\n",
                'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=""\r\n',
            )
        ),
    )


def nested(depth: int, body: str) -> str:
    opening = "".join(
        f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n" for i in range(depth)
    )
    return (
        f"Content-Type: multipart/mixed; boundary=b0\r\n\r\n{opening}"
        f"--b{depth}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--b{depth}--\r\n"
    )


def messages() -> st.SearchStrategy[bytes]:
    plain = st.builds(lambda h, b: f"{h}\r\n{b}", headers(), texts())
    deep = st.builds(lambda h, d, b: h + nested(d, b), headers(), st.integers(1, 1200), texts())
    text_messages = st.one_of(plain, deep).map(lambda s: s.encode("utf-8", "surrogatepass"))
    junk = st.builds(
        lambda h, b: h.encode("utf-8", "surrogatepass") + b"\r\n" + b,
        headers(),
        st.binary(max_size=5000),
    )
    return st.one_of(text_messages, junk, st.binary(max_size=3000))


def check(msg: ParsedMessage) -> None:
    assert msg.message_id
    assert len(msg.own_text) <= 20_000
    verdict = classify(msg, IDENTITY, set())
    assert verdict.kind in ("introduction", "reply", "automatic", "other", "own")


@FUZZ
@given(messages())
def test_any_message_parses_and_classifies_in_bounded_time(raw: bytes) -> None:
    started = time.thread_time()
    check(parse_message(raw))
    assert time.thread_time() - started < EXAMPLE_LIMIT


@FUZZ
@given(texts())
def test_any_body_splits_into_own_text_and_history_in_bounded_time(text: str) -> None:
    started = time.thread_time()
    own, history = split_quoted(text)
    quoted_headers(history)
    assert time.thread_time() - started < EXAMPLE_LIMIT
    assert len(own) + len(history) <= len(text) + 2  # nothing is invented (two newlines at most)
