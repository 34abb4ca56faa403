"""refmail.headblock reads a header block exactly as the stdlib's BytesHeaderParser does."""

from __future__ import annotations

import random
from email.parser import BytesHeaderParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refmail.headblock import parse_header_block


def _same(data: bytes) -> bool:
    ours, theirs = parse_header_block(data), BytesHeaderParser().parsebytes(data)
    return list(ours.raw_items()) == list(theirs.raw_items()) and (
        ours.get_content_type(),
        ours.get_content_charset(),
    ) == (theirs.get_content_type(), theirs.get_content_charset())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n",
        b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n",
        b"Subject:   \r\n two\r\n\tthree\r\n\r\n",  # folded, first line blank
        b'Content-Type: text/plain; charset="utf-8"\r\n\r\nbody\r\n',
        b"A: b",  # no line end at all
        b"A:b\nB:\n  \n c\n\nbody",  # LF only, a blank-looking folded line
        b"A: \xe9t\xe9\r\n\r\n",  # raw 8-bit in a value
        # what the stdlib reads its own way, and so does the fallback
        b"From someone Mon Jan  1 00:00:00 2026\r\nA: b\r\n\r\n",
        b" folded first\r\nA: b\r\n\r\n",
        b"A: b\rC: d\r\n\r\n",  # a bare CR ends a line
        b"X\xff: y\r\n\r\n",
        b":x\r\n\r\n",
        b"no colon here\r\nA: b\r\n\r\n",
        b"A: b\r\nFrom c\r\n\r\n",
    ],
)
def test_reads_as_the_stdlib_does(data: bytes) -> None:
    assert _same(data)


def test_random_blocks_read_as_the_stdlib_does() -> None:
    rnd = random.Random(15)
    alphabet = [b"A", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"From ", b"x", b"\xff", b"-"]
    for _ in range(3000):
        data = b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))
        assert _same(data), data


_NAME = st.text(alphabet="ABCXYZabc-0123!~", min_size=1, max_size=6).map(str.encode)
_VALUE = st.binary(max_size=6).filter(lambda b: b"\r" not in b and b"\n" not in b)
_END = st.sampled_from([b"\r\n", b"\n", b"\r\n", b"\r"])
# Mostly plain header lines and folds, so the fast path is taken; now and then a line the
# stdlib reads its own way, so the hand-over is tried too.
_LINE = st.one_of(
    st.tuples(_NAME, st.sampled_from([b":", b": ", b":\t"]), _VALUE, _END).map(b"".join),
    st.tuples(st.sampled_from([b" ", b"\t"]), _VALUE, _END).map(b"".join),
    st.sampled_from([b"From x\r\n", b"\r\n", b"no colon\n", b"\xe9: v\r\n"]),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_LINE, max_size=12), st.binary(max_size=8))
def test_any_block_reads_as_the_stdlib_does(lines: list[bytes], rest: bytes) -> None:
    data = b"".join(lines) + rest
    assert _same(data), data
