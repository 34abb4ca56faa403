"""Reads delivery failures (RFC 3464 DSNs and the usual non-standard bounces) from raw bytes.

Pure: no I/O and no clock; `parse_bounce` never raises and gives None for anything else.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from refmail.htmltext import html_to_text
from refmail.parse import decode_header_value, normalise_address

DIAGNOSTIC_LIMIT = 300
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ATTACHED_TYPES = ("message/rfc822", "message/global")
_HEADER_TYPES = ("text/rfc822-headers", "message/global-headers")
_FAILED_ACTIONS = ("failed", "delayed")

# Starts only where a run of address characters starts: a long run without '@' is read once.
_EMAIL = re.compile(
    r"(?<![^\s<>()\[\]\"',;:@])[^\s<>()\[\]\"',;:@]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_QUOTED_ID = re.compile(r"^[ \t>]*Message-ID:[ \t]*+(?:\n[ \t]*+)?(<[^<>\s]+>)", re.I | re.M)
# refmail's own mark on what it sends (the Message-ID without brackets): survives an MTA that
# rewrites or drops the Message-ID of the returned headers.
_REFMAIL_ID = re.compile(
    r"^[ \t>]*X-Refmail-ID:[ \t]*+(?:\n[ \t]*+)?<?([^<>\s@]+@[^<>\s]+?)>?[ \t]*$", re.I | re.M
)
# An SMTP reply code as servers write it ("550 ", "452-4.2.2"), not a number inside an IP or date.
_REPLY_CODE = re.compile(r"(?<![\w.#=:/-])[245]\d\d(?=[ -])(?!-\d{2})")
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY = re.compile(r"(?<![\d.])([245])\d\d(?=[ -]|$)")
# Mailbox full or message too big: a problem with this message or this week, not the address.
_SOFT_WORDS = re.compile(
    r"quota|mailbox (?:is )?full|mailbox\b.{0,40}\bexceed|insufficient (?:system )?storage|"
    r"storage (?:limit|space)|over ?(?:the )?limit|message size exceeds|too large|"
    r"temporar(?:y|ily)|try again later",
    re.I,
)
_SOFT_DETAILS = (("2", "2"), ("3", "4"), ("2", "3"))  # X.2.2 full, X.3.4 / X.2.3 too big
_PERMANENT_WORDS = re.compile(
    r"fail(?:ed|ure)? permanently|permanent (?:fatal )?(?:error|failure)|does not exist|"
    r"no (?:such|mailbox here)|user unknown|unknown user|wasn.t found|not found at",
    re.I,
)

# What the bounce itself says, in the words of each MTA (the region of the report starts here).
_MARKERS = re.compile(
    r"I'm sorry to have to inform you that your message could not|"
    r"This is the mail system at host|"
    r"Delivery has failed to these recipients or groups|"
    r"Your message (?:to .{1,200}? )?couldn.t be delivered|"
    r"Your message did not reach some or all of the intended recipients|"
    r"This is the qmail-send program|"
    r"could not be delivered to one or more of its\s+recipients|"
    r"has not yet been delivered to one or more of its\s+recipients|"
    r"The following address(?:es|\(es\))? failed|"
    r"Delivery to the following recipients? (?:failed|has been delayed)|"
    r"The following addresses had (?:permanent fatal errors|delivery problems|transient)|"
    r"Message could not be delivered|"
    r"THIS IS A WARNING ONLY",
    re.I,
)
# Where the copy of the original message starts (the report region ends there).
_ORIGINAL = re.compile(
    r"^[ \t]*(?:-+ ?Original message ?-+|Original message headers:|"
    r"-+ ?This is a copy of the message|-+ ?Below this line is a copy of the message|"
    r"-+ ?Undelivered message headers|-+ ?Original message follows|"
    r"-+ ?The header of the original message is following|Return-Path:)",
    re.I | re.M,
)
_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|bounces?)$", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver|undelivered mail|returned mail|delivery status notification|"
    r"mail delivery (?:failed|failure|system)|failure notice|delivery failure|non-?delivery|"
    r"delayed mail|warning: could not send|mail system error)",
    re.I,
)


@dataclass(frozen=True)
class Failure:
    """One recipient the message could not reach."""

    address: str  # normalised, lower-case
    hard: bool  # permanent: stop writing to this address
    status: str  # enhanced status code such as "5.1.1", or ""
    diagnostic: str  # the server's words, at most DIAGNOSTIC_LIMIT characters


@dataclass(frozen=True)
class Bounce:
    """A delivery failure report: who failed, and which message bounced."""

    failures: tuple[Failure, ...]
    original_message_id: str | None
    kind: str  # "dsn" (RFC 3464 fields) or "heuristic" (read from a human-readable report)


def parse_bounce(raw: bytes) -> Bounce | None:
    """The delivery failure that `raw` reports, or None if it reports none. Never raises.

    "Action: delayed" recipients count as soft failures; a DSN that only reports delivered,
    relayed or expanded recipients gives None. A failure report whose recipients cannot be
    read still counts when the bounced message's Message-ID can be.
    """
    try:
        msg = email.message_from_bytes(raw)  # compat32, the default
        return _bounce(msg)
    except Exception:  # noqa: BLE001 - garbage in, None out
        return None


def _bounce(msg: Message) -> Bounce | None:
    parts = _parts(msg)
    text = _report_text(parts)
    dsn = [p for p in parts if p.get_content_type() in _DSN_TYPES]
    if dsn:
        blocks = [b for p in dsn for b in _dsn_blocks(p) if _is_recipient_block(b)]
        if blocks:
            failures = _dsn_failures(blocks, text)
            if not failures:
                return None  # delivered, relayed or expanded: a success report
            return Bounce(failures, _original_id(msg, parts, text), "dsn")
    return _heuristic(msg, parts, text)


# --- the message's parts -------------------------------------------------------------------


def _parts(msg: Message) -> list[Message]:
    """Parts in order, without descending into attached messages (they are the bounced mail)."""
    out: list[Message] = []
    stack = [msg]
    while stack and len(out) < 200:
        part = stack.pop()
        out.append(part)
        ctype = part.get_content_type()
        payload = part.get_payload()
        if ctype not in _ATTACHED_TYPES + _DSN_TYPES and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return out


def _report_text(parts: list[Message]) -> str:
    """The human-readable report: the first text/plain part, else the first text/html."""
    html = None
    for part in parts:
        ctype = part.get_content_type()
        if part.get_content_disposition() == "attachment":
            continue
        if ctype == "text/plain":
            text = _decoded(part)
            if text.strip():
                return _lines(text)
        elif ctype == "text/html" and html is None:
            html = part
    return _lines(html_to_text(_decoded(html))) if html is not None else ""


def _decoded(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload() or "")
    for charset in (part.get_content_charset(), "utf-8", "cp1252"):
        if charset:
            try:
                return data.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return data.decode("latin-1")


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    return decode_header_value(value) if value is not None else ""


# --- RFC 3464 ------------------------------------------------------------------------------


def _dsn_blocks(part: Message) -> list[dict[str, str]]:
    """The field groups of a delivery-status part, field names lower-cased."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [
            {k.lower(): decode_header_value(v) for k, v in block.items()}
            for block in payload
            if isinstance(block, Message)
        ]
    return _field_blocks(_lines(_decoded(part)))


def _field_blocks(text: str) -> list[dict[str, str]]:
    """Parse "Name: value" groups separated by blank lines (a DSN the parser left as text)."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        block: dict[str, str] = {}
        last = ""
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and last:
                block[last] += " " + line.strip()
            elif ":" in line:
                last, _, value = line.partition(":")
                last = last.strip().lower()
                block[last] = value.strip()
        if block:
            blocks.append(block)
    return blocks


def _is_recipient_block(block: dict[str, str]) -> bool:
    return "action" in block or "final-recipient" in block or "original-recipient" in block


def _dsn_failures(blocks: list[dict[str, str]], text: str) -> tuple[Failure, ...]:
    failures: dict[str, Failure] = {}
    for block in blocks:
        action = block.get("action", "").strip().lower().split(" ")[0]
        if action not in _FAILED_ACTIONS:
            continue
        address = _dsn_address(block)
        if address is None or address in failures:
            continue
        diagnostic = _clean(_after_type(block.get("diagnostic-code", "")))
        if not diagnostic:
            diagnostic = _diagnostic_near(text, address, set())
        status = _status(block.get("status", "")) or _status(diagnostic)
        hard = action == "failed" and _is_hard(status, diagnostic, "")
        failures[address] = Failure(address, hard, status, diagnostic)
    return tuple(failures.values())


def _dsn_address(block: dict[str, str]) -> str | None:
    """Original-Recipient (what was sent to) when readable, else Final-Recipient."""
    for name in ("original-recipient", "final-recipient"):
        address = _address(_after_type(block.get(name, "")))
        if address is not None:
            return address
    return None


def _after_type(value: str) -> str:
    """ "rfc822; bob@example.org" → "bob@example.org"; "smtp; 550 …" → "550 …"."""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and re.fullmatch(r"\s*[\w.-]+\s*", kind) else value.strip()


# --- non-standard reports ------------------------------------------------------------------


def _heuristic(msg: Message, parts: list[Message], text: str) -> Bounce | None:
    failed_header = _header(msg, "X-Failed-Recipients")
    marker = _MARKERS.search(text)
    if marker is None and not failed_header:
        return None
    if marker is not None and not failed_header and not _looks_automatic(msg):
        return None  # a person quoting a bounce, or a list post about one
    start = marker.start() if marker else 0
    end = _ORIGINAL.search(text, start)
    region = text[start : end.start() if end else len(text)]
    own = {a for h in ("From", "To", "Sender") if (a := _address(_header(msg, h)))}
    addresses = _addresses(failed_header) or [a for a in _addresses(region) if a not in own]
    failures = tuple(_text_failure(region, a, set(addresses) - {a}) for a in addresses)
    original = _original_id(msg, parts, text)
    if not failures and original is None:
        return None
    return Bounce(failures, original, "heuristic")


def _looks_automatic(msg: Message) -> bool:
    """Signs that a system wrote it, so its bounce wording is not someone quoting a bounce."""
    if "List-Id" in msg:
        return False
    sender = _header(msg, "From")
    address = _address(sender) or ""
    null_path = "Return-Path" in msg and _header(msg, "Return-Path").strip() in ("<>", "")
    return (
        null_path
        or "mailer-daemon" in sender.lower()
        or bool(_BOUNCE_SENDER.match(address.split("@")[0]))
        or bool(_BOUNCE_SUBJECT.match(_header(msg, "Subject")))
        or _header(msg, "Auto-Submitted").lower().startswith("auto-")
    )


def _text_failure(region: str, address: str, others: set[str]) -> Failure:
    diagnostic = _diagnostic_near(region, address, others)
    status = _status(diagnostic)
    return Failure(address, _is_hard(status, diagnostic, region), status, diagnostic)


def _diagnostic_near(text: str, address: str, others: set[str]) -> str:
    """The server's words about `address`: the first SMTP reply after one of its mentions (up to
    the next other recipient), else a bare status code's line, else the paragraph after it."""
    segments = list(_segments(text, address, others)) or [text]
    for segment in segments:
        reply = _REPLY_CODE.search(segment)
        if reply is not None:
            return _clean(_paragraph(segment[reply.start() :]))
    for segment in segments:
        status = _STATUS.search(segment)
        if status is not None:
            line_start = segment.rfind("\n", 0, status.start()) + 1
            return _clean(_paragraph(segment[line_start:]))
    if segments[0] is text:  # the address is not in the text: its last paragraph explains
        paragraphs = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
        return _clean(paragraphs[-1]) if paragraphs else ""
    return _clean(_first_paragraph(segments[0]))


def _segments(text: str, address: str, others: set[str]) -> Iterator[str]:
    lower = text.lower()
    for match in re.finditer(re.escape(address), lower):
        stop = min((i for o in others if (i := lower.find(o, match.end())) >= 0), default=None)
        yield text[match.end() : stop]


def _paragraph(text: str) -> str:
    return re.split(r"\n[ \t]*\n", text, maxsplit=1)[0]


def _first_paragraph(segment: str) -> str:
    """Skip the rest of the address line (">:", "<mailto:…>") and separator lines."""
    lines = segment.split("\n")[1:]
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if kept and not kept[-1].endswith(":"):
                break
            continue
        if stripped.startswith("---") or stripped.startswith("==="):
            if kept:
                break
            continue
        kept.append(stripped)
    return " ".join(kept)


# --- shared --------------------------------------------------------------------------------


def _address(raw: str) -> str | None:
    match = _EMAIL.search(raw.replace("mailto:", " "))
    return normalise_address(match.group(0)) if match else None


def _addresses(text: str) -> list[str]:
    found = (normalise_address(m) for m in _EMAIL.findall(text.replace("mailto:", " ")))
    return list(dict.fromkeys(a for a in found if a))


def _clean(text: str) -> str:
    text = " ".join(text.split()).strip(" '\"#")
    return text[:DIAGNOSTIC_LIMIT]


def _status(text: str) -> str:
    match = _STATUS.search(text)
    return match.group(0) if match else ""


def _is_hard(status: str, diagnostic: str, context: str) -> bool:
    """Permanent for this address: class 5, unless the mailbox is full or the mail too big."""
    if _SOFT_WORDS.search(diagnostic):
        return False
    if status:
        klass, subject, detail = status.split(".")
        return klass == "5" and (subject, detail) not in _SOFT_DETAILS
    reply = _REPLY.search(diagnostic)
    if reply is not None:
        return reply.group(1) == "5"
    return bool(_PERMANENT_WORDS.search(diagnostic) or _PERMANENT_WORDS.search(context))


def _original_id(msg: Message, parts: list[Message], text: str) -> str | None:
    """The bounced message's Message-ID: attached message/headers, quoted headers, In-Reply-To."""
    for part in parts:
        ctype = part.get_content_type()
        inner: Message | str | None = None
        if ctype in _ATTACHED_TYPES:
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
        elif ctype in _HEADER_TYPES:
            inner = email.message_from_string(_lines(_decoded(part)))  # compat32, the default
        if isinstance(inner, Message):
            ours = _REFMAIL_ID.search(f"X-Refmail-ID: {inner.get('X-Refmail-ID') or ''}")
            if ours:
                return f"<{ours.group(1)}>"
            found = _MESSAGE_ID.search(str(inner.get("Message-ID") or ""))
            if found:
                return found.group(0)
            inner_text = _lines(str(inner.get_payload() if not inner.is_multipart() else ""))
            quoted = _QUOTED_ID.search(inner_text)
            if quoted:
                return quoted.group(1)
    ours = _REFMAIL_ID.search(text)
    if ours:
        return f"<{ours.group(1)}>"
    quoted = _QUOTED_ID.search(text)
    if quoted:
        return quoted.group(1)
    reply_to = _MESSAGE_ID.search(_header(msg, "In-Reply-To"))
    return reply_to.group(0) if reply_to else None
