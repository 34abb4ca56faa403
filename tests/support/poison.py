"""Crafted poison messages (issue 12), generated in code: each one stopped or slowed sync once.

Every message is addressed to refmail (Delivered-To) and to the owner, so triage keeps it and the
full parse, the classifier and the recorder all see it.
"""

from __future__ import annotations

import random

from tests.support.mailbox import OWNER, REFMAIL


def _head(tag: str, extra: str = "", ctype: str = "text/plain; charset=utf-8") -> str:
    return (
        f"Delivered-To: {REFMAIL}\r\nFrom: Mallory <mallory@poison.example>\r\n"
        f"To: Olivia <{OWNER}>\r\nCc: Trent <trent@poison.example>\r\n"
        f"Subject: poison {tag}\r\nDate: Thu, 19 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <poison-{tag}@poison.example>\r\nMIME-Version: 1.0\r\n{extra}"
        f"Content-Type: {ctype}\r\n\r\n"
    )


def _plain(tag: str, body: str) -> bytes:
    return (_head(tag) + body).encode("utf-8", "surrogateescape")


def at_signs(n: int = 1000) -> bytes:
    return _plain("at-signs", "Hello,\r\n\r\n" + "@" * n + "\r\n")


def blank_lines(n: int = 80_000) -> bytes:
    return _plain("blank-lines", "Hello,\r\n" + "\r\n" * n + "bye\r\n")


def quoted_spaces(n: int = 3000) -> bytes:
    return _plain("quoted-spaces", "Hello,\r\n\r\nOn Monday, Alice wrote:\r\n>" + " " * n + "\r\n")


def nested_multipart(depth: int = 1000) -> bytes:
    """Multiparts nested `depth` deep (~65 KB): the stdlib parser recurses once per level."""
    opening = "".join(
        f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n" for i in range(depth)
    )
    closing = "".join(f"--b{i}--\r\n" for i in reversed(range(depth + 1)))
    inner = f"--b{depth}\r\nContent-Type: text/plain\r\n\r\nI'd like to introduce you two.\r\n"
    return (
        _head("nested", ctype="multipart/mixed; boundary=b0") + opening + inner + closing
    ).encode()


def huge_headers(n: int = 20_000) -> bytes:
    """A To: with thousands of addresses, a 200 KB subject and many repeated fields."""
    many = ", ".join(f"p{i} <p{i}@x{i % 50}.example>" for i in range(n // 4))
    extra = f"X-Junk: {'a' * 100_000}\r\n" + "".join(f"Received: from h{i}\r\n" for i in range(n))
    head = _head("huge-headers", extra=extra).replace(
        "Subject: poison huge-headers", "Subject: " + "=?utf-8?q?" + "a" * 200_000 + "?="
    )
    head = head.replace(f"To: Olivia <{OWNER}>", f"To: Olivia <{OWNER}>, {many}")
    return (head + "Hello\r\n").encode()


def binary_junk(size: int = 200_000, seed: int = 12) -> bytes:
    rng = random.Random(seed)
    return _head("binary").encode() + rng.randbytes(size)


def html_bomb(n: int = 50_000) -> bytes:
    body = "<div>" * n + "<!--" + "<" * n + "<blockquote>" * 2000
    return _plain("html", body).replace(b"text/plain", b"text/html")


def notes_lines(n: int = 3000) -> bytes:
    """Lotus Notes lookalikes: long lines of '@' and spaces ahead of dates and To: lines."""
    line = "x@" + " " * n + "@y on 01/02/2001" + " " * n + "\r\n"
    return _plain("notes", "Hi\r\n\r\n" + line * 20 + "  To: a@b.example\r\n")


def comment_bomb(n: int = 20_000) -> bytes:
    """A Cc: of nested comments: the stdlib address parser recurses once per '('."""
    head = _head("comments").replace("Cc: Trent <trent@poison.example>", "Cc: " + "(" * n)
    return (head + "Hello\r\n").encode()


def corpus(copy: int = 0) -> dict[str, bytes]:
    """Every crafted message by name; each `copy` has Message-IDs of its own."""
    found = {
        "at-signs": at_signs(),
        "blank-lines": blank_lines(),
        "quoted-spaces": quoted_spaces(),
        "nested": nested_multipart(),
        "huge-headers": huge_headers(),
        "binary": binary_junk(),
        "html": html_bomb(),
        "notes": notes_lines(),
        "comments": comment_bomb(),
    }
    mark = f"Message-ID: <poison-{copy}-".encode()
    return {name: raw.replace(b"Message-ID: <poison-", mark, 1) for name, raw in found.items()}


def big_with_attachment(tag: str, megabytes: int) -> bytes:
    """An introduction of normal size followed by a `megabytes` MB attachment."""
    head = _head(tag, ctype="multipart/mixed; boundary=XYZ")
    text = "--XYZ\r\nContent-Type: text/plain\r\n\r\nOlivia, meet Trent: you two should talk.\r\n"
    line = b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
    attachment = (
        b"--XYZ\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=big.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    lines = line * (megabytes * 1024 * 1024 // len(line))
    return (head + text).encode() + attachment + lines + b"--XYZ--\r\n"
