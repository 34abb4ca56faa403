"""The headers refmail writes, read as raw bytes (no re-parsing with a decoding policy): IDs and
List-Unsubscribe unencoded and folded only at spaces, names and subjects encoded and free of
control characters; through the renderer, the file channel and IMAP Drafts."""

from __future__ import annotations

import dataclasses
import email.header
import email.utils
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from refmail.cli import cli
from refmail.kinds import NAMES as KINDS
from refmail.render import Draft, Links, Person, Renderer, fold_at_spaces
from refmail.text import msg_id, one_line
from tests.support.dovecot import PASSWORD, Dovecot
from tests.support.mailbox import account_toml

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
TOKEN = "T" * 100 + "." + "k" * 99  # 200 characters, like a long signed link token
UNSUB = f"https://refmail.example/u/{TOKEN}"
PREFS = f"https://refmail.example/p/{TOKEN}"
REFS = tuple(f"<earlier-{i}.{'x' * 30}@mail.example.com>" for i in range(6))
# Hostile names and what is left of them: separators become a space, the rest goes.
HOSTILE = {
    "Ann\x0bLee": "Ann Lee",
    "Ann\rLee": "Ann Lee",
    "Ann\nLee": "Ann Lee",
    "Ann\u2028Lee": "Ann Lee",
    "Ann\x85Lee": "Ann Lee",
    "Ann\x1b[31mLee\x1b[0m": "AnnLee",
    "Ann\x1b]0;owned\x07Lee": "AnnLee",
    "Ann\x9b31mLee": "AnnLee",
    "Ann\x00Lee": "AnnLee",
    "Ann\u202eLee": "AnnLee",
    "Ann\x7fLee": "AnnLee",
}
SIGNING_KEY = "wire-bytes-test-signing-key-0123456789"


def headers(raw: bytes) -> list[tuple[str, bytes]]:
    """(name, raw value unfolded) for each field of the header block, in order; also asserts
    the block is well formed on the wire: CRLF only, ASCII only, lines under 998 octets."""
    block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in block.replace(b"\r\n", b""), "bare LF in the header block"
    assert b"\r" not in block.replace(b"\r\n", b""), "bare CR in the header block"
    lines = block.split(b"\r\n")
    assert all(len(line) <= 998 and line.isascii() for line in lines)
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", block.replace(b"\r\n", b""))
    fields: list[tuple[str, bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            last, value = fields[-1]
            fields[-1] = (last, value + line)  # unfold: drop the CRLF, keep the space
        else:
            raw_name, _, value = line.partition(b":")
            fields.append((raw_name.decode(), value.removeprefix(b" ")))
    return fields


def field(raw: bytes, name: str) -> bytes:
    found = [v for n, v in headers(raw) if n.lower() == name.lower()]
    assert len(found) == 1, (name, found)
    return found[0]


def decoded(value: bytes) -> str:
    return str(email.header.make_header(email.header.decode_header(value.decode("ascii"))))


def assert_verbatim(raw: bytes, name: str, words: list[str]) -> None:
    """The field is exactly these words, unencoded, each whole on one physical line."""
    value = field(raw, name)
    assert b"=?" not in value
    assert value.decode().split() == words
    for word in words:  # folded only between words: each one appears whole on a line
        assert any(word.encode() in line for line in raw.split(b"\r\n"))


def draft(kind: str, **changes: object) -> Draft:
    owner = Person("owner@example.com", "Olga Øwner")
    alice = Person("alice@example.org", "Ålice Ärcher-Ünïcode, Jr.")
    bob = Person("bob@example.net", "Bob Stone")
    base = Draft(
        kind=kind,
        message_id=f"<fu-{kind}.{'m' * 40}@refmail.example>",
        sender=owner,
        recipient=alice,
        introducer=Person("pat@partner.example", "Pat Partner"),
        parties=(alice, bob),
        context="you both build boats",
        intro_subject="Intro: Alice ⇄ Bob — boats",
        intro_message_id="<intro-1@example.com>",
        intro_references=REFS,
        links=Links(UNSUB, PREFS),
        subject_person=alice if kind == "call_task" else None,
        for_kind="check_in" if kind == "call_task" else "",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_exact_header_bytes(kind: str) -> None:
    d = draft(kind)
    raw = Renderer().render(d, NOW).as_bytes()
    assert field(raw, "List-Unsubscribe") == f"<{UNSUB}>".encode()
    assert f"\r\nList-Unsubscribe: <{UNSUB}>\r\n".encode() in raw  # one physical line
    assert field(raw, "List-Unsubscribe-Post") == b"List-Unsubscribe=One-Click"
    assert field(raw, "Message-ID") == d.message_id.encode()
    assert field(raw, "X-Refmail-ID") == d.message_id.strip("<>").encode()
    assert field(raw, "In-Reply-To") == b"<intro-1@example.com>"
    assert_verbatim(raw, "References", [*REFS, "<intro-1@example.com>"])
    to = field(raw, "To")
    assert to.endswith(b" <alice@example.org>") and b"=?utf-8?" in to
    assert decoded(to.rsplit(b" <", 1)[0]) == "Ålice Ärcher-Ünïcode, Jr."
    assert decoded(field(raw, "From")) == "Olga Øwner <owner@example.com>"
    assert one_line(decoded(field(raw, "Subject"))) == decoded(field(raw, "Subject"))


def test_non_ascii_subject_is_encoded_words_that_decode_back() -> None:
    alice, bob = Person("alice@example.org", "Alice"), Person("bob@example.net", "Bøb Stöne")
    d = draft("thank_you", recipient=alice, parties=(alice, bob))
    subject = field(Renderer().render(d, NOW).as_bytes(), "Subject")
    assert b"=?utf-8?" in subject
    assert decoded(subject) == "Thank you for the introduction to Bøb Stöne"


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_names_and_subjects_render_clean(kind: str, name: str) -> None:
    hostile = Person("alice@example.org", name, organisation=f"Org{name}")
    d = draft(kind, recipient=hostile, parties=(hostile, Person("b@example.net", name)))
    d = dataclasses.replace(d, intro_subject=f"Intro {name}", subject_person=hostile)
    message = Renderer().render(d, NOW)
    raw = message.as_bytes()  # headers() checks: no control character in the header block
    assert decoded(field(raw, "To").rsplit(b" <", 1)[0]) == HOSTILE[name]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            body = part.get_content()
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202e]", body), body


def test_hostile_message_ids_are_cleaned_or_dropped() -> None:
    d = draft("thank_you", intro_message_id="<in\r\ntro@x.example>", intro_references=("<é@x>",))
    raw = Renderer().render(d, NOW).as_bytes()
    assert field(raw, "In-Reply-To") == b"<intro@x.example>"
    assert field(raw, "References") == b"<intro@x.example>"
    assert msg_id("\x00") == ""


def test_a_word_too_long_for_any_line_is_left_to_the_stdlib() -> None:
    url = "https://refmail.example/u/" + "x" * 1000
    raw = Renderer().render(draft("thank_you", links=Links(url, PREFS)), NOW).as_bytes()
    headers(raw)  # still no line over 998 octets
    assert decoded(field(raw, "List-Unsubscribe")) == f"<{url}>"


def test_fold_at_spaces_never_breaks_a_word() -> None:
    words = [f"<{'w' * n}@x>" for n in (3, 70, 1, 120, 5)]
    folded = fold_at_spaces("References", " ".join(words), 78)
    lines = folded.split("\r\n")
    assert " ".join(" ".join(lines).split()[1:]) == " ".join(words)
    assert all(len(line) <= 78 or " " not in line.strip() for line in lines[1:])
    assert all(line.startswith(" ") for line in lines[1:])


# --- through the channels --------------------------------------------------------------------

LONG_BASE = "https://refmail.example/" + "b" * 200  # every link is well over 200 characters


def hostile_referral(tag: str) -> bytes:
    """A partner whose name carries a vertical tab and whose subject carries ANSI escapes."""
    return (
        f'From: "Pat\x0bPartner \x1b[2J" <pat.{tag}@partner.example>\r\n'
        "To: Olivia Owner <olivia@example.com>\r\n"
        f"Cc: Carol Client <carol.{tag}@client.example>\r\n"
        f"Subject: Introduction: Olivia, meet Carol \x1b[31m{tag}\x1b[0m \u202e\r\n"
        f"Date: {email.utils.format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <referral-{tag}@partner.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Olivia, meet Carol.\r\n\r\nCarol is expanding her consulting firm into Europe and needs"
        " someone to run her marketing there. I told her you are the best I know, so I wanted"
        " to connect you two.\r\n\r\nBest,\r\nPat\r\n"
    ).encode()


def assert_clean_thank_you(raw: bytes, tag: str) -> None:
    unsub = field(raw, "List-Unsubscribe")
    assert re.fullmatch(rb"<" + re.escape(LONG_BASE.encode()) + rb"/u/[A-Za-z0-9._-]+>", unsub)
    assert b"\r\nList-Unsubscribe: " + unsub + b"\r\n" in raw
    assert field(raw, "List-Unsubscribe-Post") == b"List-Unsubscribe=One-Click"
    assert field(raw, "In-Reply-To") == f"<referral-{tag}@partner.example>".encode()
    assert field(raw, "References") == f"<referral-{tag}@partner.example>".encode()
    assert re.fullmatch(rb"<[!-~]+>", field(raw, "Message-ID"))
    assert decoded(field(raw, "To")) == f"Pat Partner <pat.{tag}@partner.example>"


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strings(value: object) -> list[str]:
    """Every string in a decoded JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    return []


def run_cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), *args],
        env={"REFMAIL_SIGNING_KEY": SIGNING_KEY, "REFMAIL_TEST_IMAP_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_file_channel_writes_exact_bytes_for_a_hostile_introducer(tmp_path: Path) -> None:
    config = tmp_path / "refmail.toml"
    run_cli(config, "init")
    with config.open("a") as toml:
        toml.write(f'\n[web]\nbase_url = "{LONG_BASE}"\n')
    maildir_new = tmp_path / "refmail-demo" / "Maildir" / "new"
    (maildir_new / "1999999999.hostile.refmail").write_bytes(hostile_referral("h1"))
    run_cli(config, "sync", "--once")
    # A name the owner typed with a vertical tab (once a permanent failure of its follow-up).
    changed = run_cli(config, "contacts", "set", "pat@partnerlaw.example", "--name", "Pat\x0bLaw")
    assert "Pat Law" in changed and "\x0b" not in changed
    out = run_cli(config, "dispatch", "--once")
    assert "thank_you to pat.h1@partner.example" in out
    assert "thank_you to pat@partnerlaw.example" in out
    drafts = [p.read_bytes() for p in (tmp_path / "refmail-demo" / "drafts").glob("*.eml")]
    mine = [raw for raw in drafts if b"pat.h1@partner.example" in raw.split(b"\r\n\r\n")[0]]
    assert len(mine) == 1
    assert_clean_thank_you(mine[0], "h1")
    for raw in drafts:  # the demo's own drafts too
        headers(raw)
    (law,) = [raw for raw in drafts if b"<pat@partnerlaw.example>" in raw.split(b"\r\n\r\n")[0]]
    assert decoded(field(law, "To")) == "Pat Law <pat@partnerlaw.example>"
    listing = run_cli(config, "intros", "list") + run_cli(config, "intros", "list", "--json")
    assert "h1" in listing
    listing += run_cli(config, "contacts", "show", "pat.h1@partner.example")
    listing += run_cli(config, "contacts", "show", "pat.h1@partner.example", "--json")
    assert "Pat Partner" in listing
    assert not CONTROL.search(listing.replace("\n", "")), repr(listing)
    # JSON escapes C0 controls, but whoever prints the decoded values gets them back: the
    # values themselves are clean. (Click strips ANSI styles from the table when not a tty.)
    for command in (("intros", "list"), ("contacts", "show", "pat.h1@partner.example")):
        for line in run_cli(config, *command, "--json").splitlines():
            for value in strings(json.loads(line)):
                assert not CONTROL.search(value), line


@pytest.mark.integration
def test_imap_drafts_hold_exact_bytes(dovecot: Dovecot, imap_user: str, tmp_path: Path) -> None:
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "db.sqlite"}"\n'
        + account_toml(dovecot.host, dovecot.port, imap_user)
        + f'\n[web]\nbase_url = "{LONG_BASE}"\n'
        + "\n[caps]\ndrafts_in_window = false\n"
    )
    dovecot.append(imap_user, "INBOX", hostile_referral("i1"))
    run_cli(config, "sync", "--once")
    run_cli(config, "dispatch", "--once")
    client = dovecot.client(imap_user)
    try:
        client.select_folder("Drafts", readonly=True)
        fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
    finally:
        client.logout()
    raws = [d[b"BODY[]"] for d in fetched.values()]
    assert len(raws) == 1
    assert_clean_thank_you(raws[0], "i1")
