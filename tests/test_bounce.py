"""Tests for refmail.bounce: real bounces from the corpus and hand-written fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refmail.bounce import Bounce, Failure, parse_bounce

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ROBOTS = Path(__file__).resolve().parent / "fixtures" / "robots"


def corpus(name: str) -> bytes:
    """A corpus message; a missing corpus is a failure (CI always has it), never a skip."""
    path = CORPUS / name
    if not path.is_file():
        pytest.fail(f"corpus file missing: {path} (expected ../shared/corpus next to the repo)")
    return path.read_bytes()


def robot(name: str) -> bytes:
    return (ROBOTS / name).read_bytes()


def only(bounce: Bounce | None) -> Failure:
    assert bounce is not None
    assert len(bounce.failures) == 1, bounce
    return bounce.failures[0]


# --- hand-written fixtures -------------------------------------------------------------------


def test_postfix_hard_dsn() -> None:
    bounce = parse_bounce(robot("postfix_hard_dsn.eml"))
    assert bounce is not None and bounce.kind == "dsn"
    assert bounce.original_message_id == "<refmail.0123456789abcdef01234567@example.com>"
    failure = only(bounce)
    assert failure.address == "dana.whitfield@northwind.example"
    assert failure.hard and failure.status == "5.1.1"
    assert failure.diagnostic.startswith("550 5.1.1")
    assert "User unknown in virtual mailbox table" in failure.diagnostic


def test_office365_ndr() -> None:
    bounce = parse_bounce(robot("o365_ndr.eml"))
    assert bounce is not None and bounce.kind == "dsn"
    assert bounce.original_message_id == "<refmail.89abcdef0123456789abcdef@example.com>"
    failure = only(bounce)
    assert (failure.address, failure.hard, failure.status) == (
        "marcus.hale@contoso.com",
        True,
        "5.1.10",
    )
    assert "RESOLVER.ADR.RecipientNotFound" in failure.diagnostic


def test_exchange_ndr_without_dsn_part_two_recipients() -> None:
    bounce = parse_bounce(robot("exchange_ndr_text.eml"))
    assert bounce is not None and bounce.kind == "heuristic"
    assert bounce.original_message_id == "<refmail.fedcba9876543210fedcba98@example.com>"
    by_address = {f.address: f for f in bounce.failures}
    assert set(by_address) == {"tom.becker@fabrikam.example", "ines.vogel@fabrikam.example"}
    assert by_address["tom.becker@fabrikam.example"].hard
    assert by_address["tom.becker@fabrikam.example"].status == "5.1.1"
    full = by_address["ines.vogel@fabrikam.example"]
    assert not full.hard and full.status == "5.2.2"  # mailbox full is soft
    assert "mailbox full" in full.diagnostic


def test_soft_bounce_mailbox_full() -> None:
    bounce = parse_bounce(robot("soft_mailbox_full_dsn.eml"))
    assert bounce is not None
    assert bounce.original_message_id == "<refmail.aaaabbbbccccddddeeeeffff@example.com>"
    failure = only(bounce)
    assert failure.address == "carla.mendes@gmail.example"
    assert not failure.hard and failure.status == "4.2.2"
    assert "out of storage space" in failure.diagnostic


def test_delayed_dsn_is_a_soft_failure() -> None:
    bounce = parse_bounce(robot("delayed_dsn.eml"))
    assert bounce is not None and bounce.kind == "dsn"
    assert bounce.original_message_id == "<refmail.1111222233334444aaaabbbb@example.com>"
    failure = only(bounce)
    assert (failure.address, failure.hard, failure.status) == (
        "oskar@slowhost.example",
        False,
        "4.4.1",
    )
    assert "Connection timed out" in failure.diagnostic


def test_exim_quota_552_is_soft_even_with_class_5() -> None:
    bounce = parse_bounce(robot("exim_quota.eml"))
    failure = only(bounce)
    assert failure.address == "hannah@smallbiz.example"
    assert not failure.hard
    assert bounce is not None
    assert bounce.original_message_id == "<refmail.5555666677778888aaaabbbb@example.com>"


def test_exim_plain_text_bounce() -> None:
    bounce = parse_bounce(robot("exim_plain_hard.eml"))
    assert bounce is not None and bounce.kind == "heuristic"
    assert bounce.original_message_id == "<refmail.9999888877776666ddddcccc@example.com>"
    failure = only(bounce)
    assert failure.address == "r.ames@oldco.example"
    assert failure.hard and failure.status == "5.1.1"
    assert failure.diagnostic.startswith("550 5.1.1 <r.ames@oldco.example>: Recipient address")


def test_qmail_bounce() -> None:
    bounce = parse_bounce(robot("qmail_hard.eml"))
    assert bounce is not None and bounce.kind == "heuristic"
    assert bounce.original_message_id == "<refmail.abcdefabcdefabcdefabcdef@example.com>"
    by_address = {f.address: f for f in bounce.failures}
    assert list(by_address) == ["yusuf.k@oldisp.example", "mara@partner.example"]
    assert by_address["yusuf.k@oldisp.example"].status == "5.1.1"
    assert "no mailbox here" in by_address["yusuf.k@oldisp.example"].diagnostic
    assert by_address["mara@partner.example"].diagnostic.startswith("550 5.7.1")
    assert all(f.hard for f in bounce.failures)
    assert "sam@example.com" not in by_address  # the bounce's own addressee is not a failure


@pytest.mark.parametrize(
    "name", ["gmail_out_of_office.eml", "exchange_automatic_reply.eml", "mailing_list.eml"]
)
def test_auto_replies_and_list_mail_are_not_bounces(name: str) -> None:
    assert parse_bounce(robot(name)) is None


# --- real bounces (sisimai/set-of-emails, in the shared corpus) ------------------------------


def test_corpus_aol_dsn_user_unknown() -> None:
    bounce = parse_bounce(corpus("weird/sisimai-bsd-rhost-aol-04.eml"))
    assert bounce is not None and bounce.kind == "dsn"
    failure = only(bounce)
    assert (failure.address, failure.hard, failure.status) == (
        "kijitora@example.co.jp",
        True,
        "5.1.1",
    )
    assert "User Unknown" in failure.diagnostic
    assert bounce.original_message_id == "<8A6111E4-DE55-49BA-B773-FCB9A9A77AC4example.jp>"


def test_corpus_aol_dsn_crlf_folded_diagnostic() -> None:
    bounce = parse_bounce(corpus("weird/sisimai-dos-lhost-aol-01.eml"))
    failure = only(bounce)
    assert failure.address == "kijitora@example.jp" and failure.hard
    assert failure.status == "5.4.4"
    assert "\r" not in failure.diagnostic and "  " not in failure.diagnostic
    assert failure.diagnostic.startswith("Host or domain name not found")


def test_corpus_exchange2007_expired_is_soft() -> None:
    bounce = parse_bounce(corpus("weird/sisimai-bsd-lhost-exchange2007-05.eml"))
    assert bounce is not None and bounce.kind == "dsn"
    failure = only(bounce)
    assert failure.address == "gwang1@student.mlcsyd.nsw.edu.au"
    assert failure.status == "4.4.7" and not failure.hard
    assert bounce.original_message_id == (
        "<1472759554.gm4daljtga4dmljrgy2donjsha@newsletter.supersurprises-au.com>"
    )


def test_corpus_sendmail_dsn_with_rfc822_headers_part() -> None:
    bounce = parse_bounce(corpus("weird/sisimai-err-make-test-05.eml"))
    assert bounce is not None and bounce.kind == "dsn"
    failure = only(bounce)
    assert failure.address == "this-message-excees-limit-5000kb@docomo.ne.jp"
    assert failure.status == "5.3.4"
    assert not failure.hard  # the message was too big: not the address's fault
    assert bounce.original_message_id == "<BF90A7AB-3564-4624-B9CD-F9C0416EBD28@example.jp>"


def test_corpus_office365_ndr_without_dsn_part() -> None:
    bounce = parse_bounce(corpus("nonintro/sisimai-bsd-lhost-office365-01.eml"))
    assert bounce is not None and bounce.kind == "heuristic"
    failure = only(bounce)
    assert failure.address == "kijitora@example.com"
    assert failure.hard and failure.status == "5.1.10"
    assert failure.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert bounce.original_message_id == "<FFFFFFFF.EEEEEEEE@example.ed.jp>"


def test_corpus_biglobe_mailbox_limit_is_soft() -> None:
    bounce = parse_bounce(corpus("weird/sisimai-bsd-lhost-biglobe-01.eml"))
    assert bounce is not None and bounce.kind == "heuristic"
    failure = only(bounce)
    assert failure.address == "postmaster@mxr.biglobe.ne.jp"
    assert not failure.hard
    assert "mailbox exceeded the local limit" in failure.diagnostic
    assert bounce.original_message_id == "<000000000000000000000000000000@example.com>"


def test_corpus_gmail_legacy_failed_permanently() -> None:
    name = "weird/sisimai-to-be-debugged-because-something-is-wrong-issue-106-01.eml"
    bounce = parse_bounce(corpus(name))
    assert bounce is not None and bounce.kind == "heuristic"
    failure = only(bounce)
    assert failure.address.endswith("@azumakuniyuki.org")  # from X-Failed-Recipients
    assert failure.hard
    assert "SMTPUTF8" in failure.diagnostic
    assert bounce.original_message_id is not None
    assert bounce.original_message_id.endswith("@mail.gmail.com>")


@pytest.mark.parametrize(
    "name",
    [
        "nonintro/sisimai-bsd-rfc3834-01.eml",
        "nonintro/sisimai-bsd-rfc3834-02.eml",
        "weird/sisimai-bsd-rfc3834-06.eml",
        "weird/sisimai-mac-rfc3834-01.eml",
    ],
)
def test_corpus_auto_replies_are_not_bounces(name: str) -> None:
    assert parse_bounce(corpus(name)) is None


def test_no_other_corpus_message_is_a_bounce() -> None:
    bounces = {
        "weird/sisimai-bsd-rhost-aol-04.eml",
        "weird/sisimai-dos-lhost-aol-01.eml",
        "weird/sisimai-bsd-lhost-exchange2007-05.eml",
        "weird/sisimai-err-make-test-05.eml",
        "weird/sisimai-bsd-lhost-biglobe-01.eml",
        "weird/sisimai-to-be-debugged-because-something-is-wrong-issue-106-01.eml",
        "nonintro/sisimai-bsd-lhost-office365-01.eml",
    }
    files = sorted(CORPUS.glob("*/*.eml"))
    if len(files) < 50:
        pytest.fail(f"corpus missing or incomplete at {CORPUS}")
    found = {f"{p.parent.name}/{p.name}" for p in files if parse_bounce(p.read_bytes())}
    assert found == bounces


# --- DSN semantics and robustness ------------------------------------------------------------

_DSN = b"""From: MAILER-DAEMON@mx.example.org
To: sam@example.com
Subject: Delivery Status Notification
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Report.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

%s

--b--
"""


def dsn(recipient_block: bytes) -> bytes:
    return _DSN % recipient_block


@pytest.mark.parametrize("action", [b"delivered", b"relayed", b"expanded"])
def test_success_reports_are_not_bounces(action: bytes) -> None:
    block = b"Final-Recipient: rfc822; ann@example.net\nAction: " + action + b"\nStatus: 2.0.0"
    assert parse_bounce(dsn(block)) is None


def test_failed_without_status_uses_the_5xx_diagnostic() -> None:
    block = b"Final-Recipient: rfc822; ann@example.net\nAction: failed\n"
    block += b"Diagnostic-Code: smtp; 550 no such user"
    failure = only(parse_bounce(dsn(block)))
    assert failure.hard and failure.status == "" and failure.diagnostic == "550 no such user"


def test_failed_with_unknown_reason_is_soft() -> None:
    block = b"Final-Recipient: rfc822; ann@example.net\nAction: failed"
    failure = only(parse_bounce(dsn(block)))
    assert not failure.hard


def test_only_failed_recipients_are_reported() -> None:
    block = (
        b"Final-Recipient: rfc822; ok@example.net\nAction: delivered\nStatus: 2.0.0\n\n"
        b"Final-Recipient: rfc822; Gone@Example.NET\nAction: failed\nStatus: 5.1.1"
    )
    bounce = parse_bounce(dsn(block))
    assert bounce is not None
    assert [f.address for f in bounce.failures] == ["gone@example.net"]


def test_original_recipient_is_preferred() -> None:
    block = (
        b"Original-Recipient: rfc822; alias@example.net\n"
        b"Final-Recipient: rfc822; real.person@example.net\nAction: failed\nStatus: 5.1.1"
    )
    assert only(parse_bounce(dsn(block))).address == "alias@example.net"


def test_long_diagnostic_is_cut() -> None:
    block = b"Final-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.7.1\n"
    block += b"Diagnostic-Code: smtp; 550 5.7.1 " + b"blocked " * 100
    assert len(only(parse_bounce(dsn(block))).diagnostic) == 300


def test_x_failed_recipients_alone() -> None:
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@relay.example.net>\n"
        b"To: sam@example.com\nX-Failed-Recipients: lost@example.org\n"
        b"Subject: Mail delivery failed\n\nSomething went wrong.\n"
    )
    failure = only(parse_bounce(raw))
    assert failure.address == "lost@example.org" and not failure.hard


def test_person_quoting_a_bounce_is_not_a_bounce() -> None:
    raw = (
        b"From: Ann <ann@example.net>\nTo: sam@example.com\nSubject: Fwd: your mail\n\n"
        b"Your mail to Bob bounced, see below:\n\n"
        b"> Delivery to the following recipient failed permanently:\n> bob@example.org\n"
    )
    assert parse_bounce(raw) is None


@pytest.mark.parametrize(
    "raw", [b"", b"\x00\xff\xfe", b"Content-Type: multipart/report\n\n--", b"From: x\n\nhello"]
)
def test_garbage_gives_none(raw: bytes) -> None:
    assert parse_bounce(raw) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_random_bytes(raw: bytes) -> None:
    result = parse_bounce(raw)
    assert result is None or isinstance(result, Bounce)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_never_raises_on_mutated_fixtures(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in ROBOTS.glob("*.eml"))))
    raw = bytearray(robot(name))
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    result = parse_bounce(bytes(raw[:cut]))
    assert result is None or all(len(f.diagnostic) <= 300 for f in result.failures)
