"""authn: which Authentication-Results header counts, and what counts as the owner's mail."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from refmail.authn import Trust, headers_of, organisational_domain, read, read_all, verify

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@example.com header.s=s1 header.b=AbCdEf12;\r\n"
    "       spf=pass (google.com: domain of owner@example.com designates 203.0.113.5 as "
    "permitted sender) smtp.mailfrom=owner@example.com;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com"
)
GMAIL_FAIL = (
    "mx.google.com;\r\n"
    "       dkim=fail header.i=@example.com header.s=s1 header.b=AbCdEf12;\r\n"
    "       spf=softfail (google.com: domain of transitioning owner@example.com does not "
    "designate 198.51.100.7 as permitted sender) smtp.mailfrom=owner@example.com;\r\n"
    "       dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=example.com"
)
M365 = (
    "spf=pass (sender IP is 40.107.22.1) smtp.mailfrom=example.com; dkim=pass (signature "
    "was verified) header.d=example.com;dmarc=pass action=none header.from=example.com;"
    "compauth=pass reason=100"
)
FASTMAIL = (
    "mx4.messagingengine.com;\r\n    dkim=pass (2048-bit rsa key sha256) header.d=example.com "
    "header.i=@example.com header.b=AbC header.a=rsa-sha256 header.s=fm1 x-bits=2048;\r\n"
    "    dmarc=none policy.published-domain-policy=none header.from=example.com;\r\n"
    "    iprev=pass smtp.remote-ip=203.0.113.5 (out.example.com);\r\n"
    "    spf=pass smtp.mailfrom=bounces@mail.example.com smtp.helo=out.example.com"
)
OPENDMARC = "mail.example.org; dmarc=pass (p=none dis=none) header.from=example.com"
OPENDKIM = (
    "mail.example.org;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=example.com "
    'header.i=@example.com header.b="XyZ"; dkim-atps=neutral'
)
SPF_POSTFIX = "mail.example.org; spf=pass (sender SPF authorized) smtp.mailfrom=owner@example.com"

TRUST = Trust(frozenset({"mx.google.com", "mx4.messagingengine.com", "mail.example.org", ""}))
GMAIL_ONLY = Trust(frozenset({"mx.google.com"}))


def _headers(*results: str, extra: str = "", name: str = "Authentication-Results") -> bytes:
    lines = [f"{name}: {r}" for r in results]
    return (
        "\r\n".join(
            [
                *lines,
                "Received: from out.example.com by mx.google.com",
                extra,
                "From: Owner <owner@example.com>",
                "To: ref@example.com",
                "Subject: hi",
                "",
                "body",
            ]
        )
    ).encode()


def _verify(raw: bytes, trust: Trust = TRUST, sender: str = "owner@example.com") -> bool:
    return verify(headers_of(raw), sender, trust).authenticated


def test_real_world_passes() -> None:
    assert _verify(_headers(GMAIL), GMAIL_ONLY)
    assert _verify(_headers(M365))
    assert _verify(_headers(FASTMAIL))  # dmarc=none, but dkim passes aligned
    assert _verify(_headers(OPENDMARC, OPENDKIM))
    assert _verify(_headers(SPF_POSTFIX))


def test_failures_are_not_authenticated() -> None:
    verdict = verify(headers_of(_headers(GMAIL_FAIL)), "owner@example.com", GMAIL_ONLY)
    assert not verdict.authenticated
    assert "dmarc=fail" in verdict.why
    assert not _verify(_headers("mx.google.com; dkim=none; spf=none; dmarc=none"), GMAIL_ONLY)
    assert not _verify(_headers("mx.google.com; none"), GMAIL_ONLY)


def test_no_header_from_a_trusted_id() -> None:
    verdict = verify(headers_of(_headers()), "owner@example.com", GMAIL_ONLY)
    assert not verdict.authenticated and "no Authentication-Results" in verdict.why
    assert not _verify(_headers(GMAIL.replace("mx.google.com", "mx.attacker.test")), GMAIL_ONLY)


def test_forged_lower_header_is_ignored() -> None:
    # The provider's header is on top (fail); the sender's own "pass" sits below it.
    raw = _headers(GMAIL_FAIL, GMAIL)
    assert not _verify(raw, GMAIL_ONLY)
    # The same headers the other way round: the topmost one decides.
    assert _verify(_headers(GMAIL, GMAIL_FAIL), GMAIL_ONLY)


def test_untrusted_header_above_is_skipped() -> None:
    raw = _headers("relay.example.net; dmarc=fail header.from=example.com", GMAIL)
    assert _verify(raw, GMAIL_ONLY)


def test_unaligned_passes_do_not_count() -> None:
    # DKIM by the attacker's own domain, SPF for the attacker's bounce domain: both pass, neither
    # is aligned with the owner's domain.
    value = (
        "mx.google.com; dkim=pass header.i=@attacker.test header.s=a header.b=x; "
        "spf=pass smtp.mailfrom=bounce@attacker.test; dmarc=fail header.from=example.com"
    )
    verdict = verify(headers_of(_headers(value)), "owner@example.com", GMAIL_ONLY)
    assert not verdict.authenticated
    # Lookalike suffix: example.com.attacker.test is not example.com.
    value = "mx.google.com; dkim=pass header.d=example.com.attacker.test"
    assert not _verify(_headers(value), GMAIL_ONLY)


def test_relaxed_alignment_by_organisational_domain() -> None:
    value = "mx.google.com; dkim=pass header.d=mail.example.com; dmarc=fail header.from=x.test"
    assert _verify(_headers(value), GMAIL_ONLY)
    assert organisational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organisational_domain("mail.example.com") == "example.com"
    # Under co.uk, two different registrants do not align.
    value = "mx.google.com; dkim=pass header.d=other.co.uk"
    assert not _verify(_headers(value), GMAIL_ONLY, "owner@example.co.uk")


def test_dmarc_pass_for_another_from_domain_does_not_count() -> None:
    value = "mx.google.com; dmarc=pass header.from=attacker.test"
    assert not _verify(_headers(value), GMAIL_ONLY)


def test_microsoft_365_needs_the_unnamed_id_trusted() -> None:
    assert not _verify(_headers(M365), GMAIL_ONLY)
    assert read(M365).authserv_id == ""


def test_garbage_never_raises_and_never_passes() -> None:
    for value in ("", ";;;=", "mx.google.com; dkim=", "mx.google.com;;; dmarc=pass=pass", "\x00"):
        assert not _verify(_headers(value), GMAIL_ONLY)
    verdict = verify(headers_of(b"not a message at all"), "owner@example.com", GMAIL_ONLY)
    assert not verdict.authenticated
    assert not verify(headers_of(_headers(GMAIL)), "", GMAIL_ONLY).authenticated


def test_arc_from_a_trusted_forwarder() -> None:
    arc = "i=1; mx.forwarder.test; dmarc=pass header.from=example.com"
    top = "mx.google.com; arc=pass (i=1); dmarc=fail header.from=example.com"
    trust = Trust(frozenset({"mx.google.com"}), frozenset({"mx.forwarder.test"}))
    raw = _headers(top, extra=f"ARC-Authentication-Results: {arc}")
    assert _verify(raw, trust)
    assert not _verify(raw, GMAIL_ONLY)  # forwarder not trusted
    broken = _headers(
        top.replace("arc=pass", "arc=fail"), extra=f"ARC-Authentication-Results: {arc}"
    )
    assert not _verify(broken, trust)  # the provider did not validate the chain


def test_read_all_lists_every_header_topmost_first() -> None:
    found = read_all(headers_of(_headers(GMAIL, OPENDMARC)))
    assert [r.authserv_id for r in found] == ["mx.google.com", "mail.example.org"]
    assert "dmarc=pass" in found[0].describe()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_arbitrary_headers_never_raise(top: str, below: str) -> None:
    values = [v.replace("\r", " ").replace("\n", " ") for v in (top, below)]
    verdict = verify(headers_of(_headers(*values)), "owner@example.com", GMAIL_ONLY)
    # Only a readable header from mx.google.com can pass.
    if verdict.authenticated:
        assert any(v.strip().lower().startswith("mx.google.com") for v in values)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["pass", "fail", "none", "softfail", "neutral", "temperror"]))
def test_only_pass_counts(result: str) -> None:
    value = f"mx.google.com; dmarc={result} header.from=example.com"
    assert _verify(_headers(value), GMAIL_ONLY) == (result == "pass")
