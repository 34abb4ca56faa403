"""Decides whether a message really comes from the address in its From header.

Reads the `Authentication-Results` header (RFC 8601) that the owner's own provider added — the
topmost one whose authserv-id the account trusts; a sender can add headers of their own, but only
lower down — and asks for DMARC pass, or DKIM or SPF pass aligned with the From domain. Parsing is
`authres`'s; this module only chooses which header to believe and what counts. Pure: no I/O.
`authres` is imported when a header is first parsed: an account that does not check
authentication still builds this module's verdicts, and need not load the parser (issue 15).

Alignment is relaxed (RFC 7489 §3.1): the organisational domains must match. The organisational
domain here is the last two labels, or three under the common two-label public suffixes listed
below (co.uk, com.au, …) — a small stand-in for the Public Suffix List, strict enough for owner
domains (a mismatch means "not authenticated", never the other way round for listed suffixes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from email.message import Message
from email.parser import BytesHeaderParser

from refmail.classes import dataclass

AR = "Authentication-Results"
AAR = "ARC-Authentication-Results"
# Microsoft 365 writes its header without an authserv-id; such a header is read as having the
# id "" (an account trusts it only by listing "" in trusted_authserv_ids).
UNNAMED = ""
# Common two-label public suffixes: under these the organisational domain has three labels.
TWO_LABEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "id.au",
        "co.nz", "org.nz", "net.nz", "ac.nz",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
        "co.za", "org.za", "co.in", "net.in", "org.in", "co.kr", "or.kr", "co.il", "org.il",
        "com.br", "net.br", "org.br", "com.mx", "org.mx", "com.ar", "com.co", "com.tr",
        "com.cn", "net.cn", "org.cn", "com.hk", "com.sg", "com.tw", "com.my", "com.ph",
        "com.pl", "com.ua", "co.id", "co.th", "com.vn", "com.pk", "com.ng", "co.ke",
        "gov.br", "edu.cn", "ac.in", "ac.za",
    }
)  # fmt: skip
_METHOD_FIRST = re.compile(r"^\s*[A-Za-z0-9_-]+\s*=")
_INSTANCE = re.compile(r"^\s*i\s*=\s*(\d+)\s*;", re.I)
_MAX_HEADERS = 50  # more than this many results headers is itself a sign of abuse


@dataclass(frozen=True)
class Verdict:
    """Whether the mail authenticates as its From address, and why (for logs and the owner)."""

    authenticated: bool
    why: str


@dataclass(frozen=True)
class Trust:
    """Whose results count: the owner's provider, and forwarders whose ARC results count."""

    authserv_ids: frozenset[str]
    arc_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Results:
    """One results header as read: who wrote it and (method, result, properties) per result."""

    authserv_id: str
    results: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]
    error: str = ""  # set when the header could not be parsed

    def describe(self) -> str:
        if self.error:
            return f"{self.authserv_id or '(no id)'}: unreadable ({self.error})"
        words = ", ".join(f"{meth}={res}" for meth, res, _ in self.results) or "none"
        return f"{self.authserv_id or '(no id)'}: {words}"


def headers_of(raw: bytes) -> Message:
    """The header block of a raw message (the body is not read), with the parser's default
    policy, compat32 (naming it would load email.policy, which a sync of plain mail does not)."""
    return BytesHeaderParser().parsebytes(raw)


def verify(headers: Message, from_address: str, trust: Trust) -> Verdict:
    """Does the mail authenticate as `from_address` by the trusted provider's own results?"""
    domain = from_address.rpartition("@")[2].lower().rstrip(".")
    if not domain:
        return Verdict(False, "no From address to authenticate")
    top = _topmost_trusted(headers, trust.authserv_ids)
    if top is None:
        names = ", ".join(sorted(repr(i) for i in trust.authserv_ids)) or "none"
        return Verdict(False, f"no {AR} header from a trusted authserv-id ({names})")
    if top.error:
        return Verdict(False, f"{AR} from {top.authserv_id!r} is unreadable: {top.error}")
    verdict = judge(top, domain)
    if verdict.authenticated or not trust.arc_ids or not _passed(top, "arc"):
        return verdict
    arc = _latest_arc(headers, trust.arc_ids)
    if arc is None:
        return verdict
    via = judge(arc, domain)
    if via.authenticated:
        return Verdict(True, f"ARC results of trusted forwarder {arc.authserv_id}: {via.why}")
    return verdict


def judge(results: Results, domain: str) -> Verdict:
    """DMARC pass for this From domain, else DKIM or SPF pass aligned with it."""
    org = organisational_domain(domain)
    where = results.authserv_id or "(no id)"
    for method, result, props in results.results:
        if method != "dmarc" or result != "pass":
            continue
        header_from = _prop(props, "header", "from").lower().rstrip(".")
        if header_from and header_from != domain:
            continue  # a pass for some other From (a second From header): not this one
        return Verdict(True, f"{where}: dmarc=pass for {domain}")
    for method, want in (("dkim", ("d", "i")), ("spf", ("mailfrom",))):
        for meth, result, props in results.results:
            if meth != method or result != "pass":
                continue
            ident = next((v for n in want if (v := _prop(props, _ptype(method), n))), "")
            ident_domain = ident.rpartition("@")[2].lower().rstrip(".")
            if ident_domain and organisational_domain(ident_domain) == org:
                return Verdict(True, f"{where}: {method}=pass aligned ({ident_domain} ~ {domain})")
    seen = ", ".join(f"{m}={r}" for m, r, _ in results.results) or "no results"
    return Verdict(False, f"{where}: no dmarc pass and no aligned dkim/spf pass ({seen})")


def organisational_domain(domain: str) -> str:
    """The registrable part of a domain: two labels, three under a listed two-label suffix."""
    labels = domain.lower().rstrip(".").split(".")
    keep = 3 if ".".join(labels[-2:]) in TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def read_all(headers: Message) -> list[Results]:
    """Every results header, topmost first (for doctor's report and for proposals)."""
    return [read(v) for v in _values(headers, AR)]


def read(value: str) -> Results:
    """One header value, parsed; never raises (an unreadable header says why)."""
    import authres  # on first use: see the module's docstring

    text = " ".join(value.split())
    unnamed = bool(_METHOD_FIRST.match(text))
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(
            f"unnamed.invalid; {text}" if unnamed else text
        )
    except Exception as exc:  # noqa: BLE001 - authres raises its own SyntaxError and others
        return Results(UNNAMED if unnamed else _loose_id(text), (), str(exc)[:120] or "error")
    results = tuple(
        (
            str(r.method).lower(),
            str(r.result).lower(),
            tuple((f"{p.type}.{p.name}".lower(), str(p.value)) for p in r.properties),
        )
        for r in parsed.results
    )
    return Results(UNNAMED if unnamed else str(parsed.authserv_id).lower(), results)


def _topmost_trusted(headers: Message, trusted: Iterable[str]) -> Results | None:
    wanted = {t.lower() for t in trusted}
    for value in _values(headers, AR):
        results = read(value)
        if results.authserv_id in wanted:
            return results
    return None


def _latest_arc(headers: Message, trusted: Iterable[str]) -> Results | None:
    """The ARC-Authentication-Results of the highest instance, if a trusted forwarder wrote it."""
    best: tuple[int, str] | None = None
    for value in _values(headers, AAR):
        match = _INSTANCE.match(value)
        if match is not None and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), value[match.end() :])
    if best is None:
        return None
    results = read(best[1])
    wanted = {t.lower() for t in trusted}
    return results if results.authserv_id in wanted and not results.error else None


def _values(headers: Message, name: str) -> Iterator[str]:
    for value in (headers.get_all(name) or [])[:_MAX_HEADERS]:
        yield str(value)


def _loose_id(text: str) -> str:
    """The authserv-id of a header authres cannot parse: what precedes the first ';'."""
    first = re.sub(r"\([^)]*\)", " ", text.split(";", 1)[0]).split()
    return first[0].lower() if first else ""


def _ptype(method: str) -> str:
    return "header" if method == "dkim" else "smtp"


def _prop(props: tuple[tuple[str, str], ...], ptype: str, name: str) -> str:
    key = f"{ptype}.{name}"
    return next((v for k, v in props if k == key), "")


def _passed(results: Results, method: str) -> bool:
    return any(m == method and r == "pass" for m, r, _ in results.results)
