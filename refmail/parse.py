"""Turns raw message bytes into a typed `ParsedMessage`; never raises on bad mail.

Cheap header-only parsing (`parse_envelope`, `parse_heads`) feeds triage; the full parse
(`parse_message`) is kept for the few candidates. Bad addresses are kept aside with a reason,
defects are listed. Where the body's own text ends and its quoted history begins is
`refmail.quotes`'s; the header blocks quoted in that history are read here.
"""

from __future__ import annotations

import email
import email.header
import email.utils
import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from refmail import quotes
from refmail.addrcheck import plain
from refmail.addrlist import HEADER_TEXT_LIMIT, getaddresses
from refmail.headblock import parse_header_block
from refmail.patterns import Lazy

OWN_TEXT_LIMIT = 20_000
FULL_TEXT_LIMIT = 200_000
HISTORY_SCAN_LIMIT = 64_000  # quoted history read for header blocks: the first 64 KB
HTML_LIMIT = 1_000_000  # HTML read to find the text (a bigger part is cut here)
ADDRESS_LIMIT = 500  # addresses read from one header: a To: of 100,000 is a poison, not a party
DELIVERY_HEADERS = (
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "x-delivered-to",
)
ROBOT_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "return-path",
    "x-failed-recipients",
    "x-loop",
    "x-refmail-id",
    "feedback-id",
    "x-mailer",
)
# The look-behind starts a match only where a run of address characters starts, so a long run
# without '@' is read once, not once per character (which made the search quadratic).
_EMAIL_RE = Lazy(
    r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])"
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


@dataclass(frozen=True)
class Address:
    """A normalised (lower-case, validated) address and its decoded display name."""

    email: str
    name: str = ""

    def __str__(self) -> str:
        return _formataddr((self.name, self.email)) if self.name else self.email


# "Name <address>", quoted or encoded as a header needs it: detection asks it often
_formataddr = functools.lru_cache(maxsize=4096)(email.utils.formataddr)


@dataclass(frozen=True)
class BadAddress:
    """An address that did not validate, kept so nothing is silently lost."""

    header: str
    raw: str
    reason: str


@dataclass(frozen=True)
class QuotedHeaders:
    """A header block found in quoted or forwarded history (From:/To:/Cc:/Subject: lines)."""

    sender: Address | None
    sender_name: str
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    subject: str = ""


@dataclass(frozen=True)
class Envelope:
    """What the headers alone say: enough for triage, loop and robot checks."""

    message_id: str | None
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    delivered_to: tuple[str, ...]
    subject: str
    robot_headers: dict[str, str]
    content_type: str
    bad_addresses: tuple[BadAddress, ...] = ()

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc


@dataclass(frozen=True)
class ParsedMessage:
    """A whole message as refmail understands it."""

    envelope: Envelope
    message_id: str  # always set: the header's, or a digest when missing
    synthetic_id: bool
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None
    utc_offset_minutes: int | None
    own_text: str  # the author's own words: no quoted history, no signature
    full_text: str
    quoted: tuple[QuotedHeaders, ...]
    has_forward: bool
    defects: tuple[str, ...] = field(default=())
    history: str = ""  # the quoted or forwarded part of the body (after the own text)

    @property
    def sender(self) -> Address | None:
        return self.envelope.sender

    @property
    def to(self) -> tuple[Address, ...]:
        return self.envelope.to

    @property
    def cc(self) -> tuple[Address, ...]:
        return self.envelope.cc

    @property
    def subject(self) -> str:
        return self.envelope.subject


@functools.lru_cache(maxsize=16384)
def normalise_address(raw: str) -> str | None:
    """Lower-cased, validated address, or None if it is not an address.

    >>> normalise_address("Alice.Smith@Example.COM")
    'alice.smith@example.com'
    >>> normalise_address("not an address") is None
    True
    """
    raw = raw.strip().strip("<>").strip()
    if not raw or "@" not in raw:
        return None
    fast = plain(raw)  # most addresses: email_validator's answer, without importing it
    if fast is not None:
        return fast
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(
            raw, check_deliverability=False, globally_deliverable=False, test_environment=True
        )
    except (EmailNotValidError, ValueError, UnicodeError):
        lowered = raw.lower()  # "f..herod@enron.com": a gateway's doubled dot is still a mailbox
        return lowered if ".." in lowered and _DOUBLE_DOT().match(lowered) else None
    return checked.normalized.lower()


_DOUBLE_DOT = Lazy(
    r"^[a-z0-9](?:[a-z0-9_+'-]|\.\.?(?=[a-z0-9])){0,63}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}$"
)


def decode_header_value(value: object) -> str:
    """A header as readable text: RFC 2047 words decoded, raw 8-bit guessed, never raising."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    text = _undo_surrogates(str(value))[: HEADER_TEXT_LIMIT // 8]  # decode_header: quadratic
    try:
        parts = email.header.decode_header(text)
    except (ValueError, LookupError, AssertionError, RecursionError):
        return " ".join(text.split())
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(_decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def parse_addresses(values: list[str], header: str) -> tuple[list[Address], list[BadAddress]]:
    """Split address headers into Address values; unparseable ones go to the bad list."""
    good: list[Address] = []
    seen: set[str] = set()
    bad: list[BadAddress] = []
    raw_values = [_undo_surrogates(str(v)) for v in values]
    pairs = getaddresses(raw_values)
    if pairs is None:
        return [], [BadAddress(header, " ".join(raw_values)[:200], "unreadable address list")]
    for name, addr in pairs[:ADDRESS_LIMIT]:
        if not addr and not name:
            continue
        normal = normalise_address(addr)
        if normal is None:
            bad.append(
                BadAddress(header, f"{name} <{addr}>" if name else addr, "not a valid address")
            )
            continue
        if normal not in seen:
            seen.add(normal)
            good.append(Address(normal, _clean_name(decode_header_value(name), normal)))
    return good, bad


def parse_envelope(raw_headers: bytes) -> Envelope:
    """Parse only the header block (bytes up to the first blank line are enough)."""
    return parse_heads(raw_headers).envelope


@dataclass(frozen=True)
class Heads:
    """What a header block says, parsed cheaply: enough to decide whether a message is worth
    its body (refmail.sieve) and to date it, never its text."""

    envelope: Envelope
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None
    utc_offset_minutes: int | None

    @property
    def refs(self) -> tuple[str, ...]:
        """Every Message-ID this message answers: In-Reply-To, then References."""
        return tuple(r for r in (self.in_reply_to, *self.references) if r)


def parse_heads(raw_headers: bytes) -> Heads:
    """Parse only the header block (compat32, headers only: the cheapest parse).

    >>> heads = parse_heads(b"From: a@example.com\\r\\nIn-Reply-To: <x@y>\\r\\n"
    ...                     b"References: <w@y> <x@y>\\r\\n\\r\\n")
    >>> heads.envelope.sender.email, heads.refs
    ('a@example.com', ('<x@y>', '<w@y>', '<x@y>'))
    """
    # The header block alone, as the stdlib's header parser reads it (refmail.headblock, which
    # splits plain blocks itself): the full parser would compile a regex for the multipart
    # boundary of every message (Python's cache holds 512), the biggest cost of a header parse.
    # Every parse here takes the parsers' default policy, compat32: naming it would load
    # email.policy and its header classes, which a sync of plain mail does not otherwise load
    # (issue 15).
    msg = parse_header_block(_strip_bom(_header_block(raw_headers)))
    return _heads(msg)


def _heads(msg: Message) -> Heads:
    headers = _Headers(msg)
    date, offset = _date(headers.first("date"))
    return Heads(
        envelope=_envelope(msg, headers),
        in_reply_to=_first_id(headers.first("in-reply-to")),
        references=tuple(_ids(headers.first("references"))),
        date=date,
        utc_offset_minutes=offset,
    )


def parse_message(raw: bytes, heads: Heads | None = None) -> ParsedMessage:
    """Parse a whole message. Never raises: what cannot be read is listed in `defects`.

    The message may be cut short (sync reads only the first part of a big one): a truncated
    part is read as far as it goes. Every step is linear in the size of the message, and the
    text scanned is capped (FULL_TEXT_LIMIT, HISTORY_SCAN_LIMIT). `heads`: what parse_heads
    read from this message's own header block already (sync has it from triage), so its
    addresses are not parsed twice.
    """
    msg, defects = _message(raw)
    heads = heads or _heads(msg)
    env, date, offset = heads.envelope, heads.date, heads.utc_offset_minutes
    full_text, attached = _body_text(msg, defects)
    full_text = quotes.tame_whitespace(full_text[:FULL_TEXT_LIMIT])
    own, quoted_part = quotes.split_quoted(full_text)
    quoted = list(attached) + list(quoted_headers(quoted_part[:HISTORY_SCAN_LIMIT]))
    subject = env.subject.lower()
    has_forward = (
        bool(attached)
        or subject.startswith(("fw:", "fwd:", "tr:", "wg:"))
        or bool(quotes.FORWARD_MARK.search(full_text))
    )
    message_id = env.message_id
    synthetic = message_id is None
    if message_id is None:
        message_id = _digest_id(env, _Headers(msg).first("date"), full_text)
        defects.append("MissingMessageId")
    return ParsedMessage(
        envelope=env,
        message_id=message_id,
        synthetic_id=synthetic,
        in_reply_to=heads.in_reply_to,
        references=heads.references,
        date=date,
        utc_offset_minutes=offset,
        own_text=quotes.strip_signature(own[:OWN_TEXT_LIMIT]),
        full_text=full_text,
        quoted=tuple(quoted),
        has_forward=has_forward,
        defects=tuple(defects),
        history=quoted_part[:FULL_TEXT_LIMIT],
    )


def _message(raw: bytes) -> tuple[Message, list[str]]:
    """The stdlib parse; on multiparts nested too deep for its recursion, the headers alone."""
    data = _strip_bom(raw)
    try:
        msg = email.message_from_bytes(data)  # compat32
    except RecursionError:
        head = _header_block(data)
        msg = email.message_from_bytes(head)
        msg.set_payload("")
        return msg, [type(d).__name__ for d in msg.defects] + ["NestingTooDeep"]
    return msg, [type(d).__name__ for d in msg.defects]


def _header_block(data: bytes) -> bytes:
    ends = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i != -1]
    return data[: min(ends)] + b"\r\n\r\n" if ends else data


# --- headers -------------------------------------------------------------------------------


def _envelope(msg: Message, headers: _Headers) -> Envelope:
    bad: list[BadAddress] = []

    def addresses(name: str) -> tuple[Address, ...]:
        good, wrong = parse_addresses(headers.all(name), name)
        bad.extend(wrong)
        return tuple(good)

    senders = addresses("from")
    delivered: list[str] = []
    for name in DELIVERY_HEADERS:
        for value in headers.all(name):
            for _, addr in getaddresses([_undo_surrogates(value)]) or []:
                normal = normalise_address(addr)
                if normal and normal not in delivered:
                    delivered.append(normal)
    robots = {
        h: decode_header_value(v) for h in ROBOT_HEADERS if (v := headers.first(h)) is not None
    }
    return Envelope(
        message_id=_first_id(headers.first("message-id")),
        sender=senders[0] if senders else None,
        to=addresses("to"),
        cc=addresses("cc"),
        reply_to=addresses("reply-to"),
        delivered_to=tuple(delivered),
        subject=decode_header_value(headers.first("subject")),
        robot_headers=robots,
        content_type=_safe(lambda: msg.get_content_type(), "text/plain"),
        bad_addresses=tuple(bad),
    )


class _Headers:
    """A header block's values by lower-cased name, indexed once (an envelope asks for ~27).
    Values as stored: raw 8-bit bytes stay readable (as surrogates), where compat32's get_all
    would wrap them in a Header that prints U+FFFD."""

    def __init__(self, msg: Message) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            self._values.setdefault(name.lower(), []).append(str(value))

    def all(self, name: str) -> list[str]:
        """Every value of the header `name` (lower-case), in order."""
        return self._values.get(name, [])

    def first(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None


_ID_RE = re.compile(r"<([^<>\s]+)>")


def _ids(value: object) -> list[str]:
    text = _undo_surrogates(str(value or ""))
    found = [f"<{m}>" for m in _ID_RE.findall(text)]
    if not found and text.strip() and "@" in text and " " not in text.strip():
        found = [f"<{text.strip()}>"]
    return list(dict.fromkeys(found))


def _first_id(value: object) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _digest_id(env: Envelope, date: object, text: str) -> str:
    """A stable stand-in Message-ID: the same content from two folders gets the same one."""
    h = hashlib.sha256()
    for part in (env.sender.email if env.sender else "", str(date or ""), env.subject, text[:4096]):
        h.update(part.encode("utf-8", "replace") + b"\0")
    return f"<{h.hexdigest()[:32]}@digest.refmail.invalid>"


def unreadable_id(headers: bytes, raw: bytes) -> str:
    """The Message-ID of a message that could not be read: its header's, else a digest of its
    bytes (the same bytes get the same one, so a re-run records it once).

    >>> unreadable_id(b"Message-ID: <a@example.com>\\r\\n\\r\\n", b"\\xff")
    '<a@example.com>'
    >>> unreadable_id(b"", b"\\xff") == unreadable_id(b"", b"\\xff") != unreadable_id(b"", b"x")
    True
    """
    try:
        found = parse_envelope(headers).message_id
    except Exception:  # noqa: BLE001 - the headers may be as broken as the body
        found = None
    digest = hashlib.sha256(raw[:65536]).hexdigest()[:32]
    return found or f"<{digest}@unreadable.refmail.invalid>"


def _date(value: object) -> tuple[datetime | None, int | None]:
    if not value:
        return None, None
    try:
        parsed = email.utils.parsedate_to_datetime(_undo_surrogates(str(value)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, None
    if parsed.tzinfo is None:  # "-0000": the offset is unknown
        return parsed, None
    delta = parsed.utcoffset()
    return parsed, int(delta.total_seconds() // 60) if delta is not None else None


def _clean_name(name: str, addr: str) -> str:
    name = name.strip().strip("'\"").strip()
    return "" if name.lower() == addr else name


# --- bodies --------------------------------------------------------------------------------


def _body_text(msg: Message, defects: list[str]) -> tuple[str, list[QuotedHeaders]]:
    """The first readable text part (plain preferred), and headers of attached messages."""
    plain: str | None = None
    html: str | None = None
    attached: list[QuotedHeaders] = []
    for part in _walk(msg, defects):
        ctype = _safe(part.get_content_type, "text/plain")
        if ctype == "message/rfc822" or ctype == "text/rfc822-headers":
            attached.extend(_attached_headers(part))
            continue
        if part.is_multipart() or _safe(part.get_content_disposition, None) == "attachment":
            continue
        if ctype == "text/plain" and plain is None:
            plain = _part_text(part, defects)
        elif ctype == "text/html" and html is None:
            html = _part_text(part, defects)
    if plain is not None and plain.strip():
        text = plain
    elif html is not None:
        from refmail.htmltext import html_to_text  # HTML-only mail (most has a plain part)

        text = html_to_text(html[:HTML_LIMIT])
    else:
        text = plain or ""
    return text.replace("\r\n", "\n").replace("\r", "\n"), attached


def _walk(msg: Message, defects: list[str]) -> list[Message]:
    """Parts in order, but not the insides of attached messages (they are history, not text)."""
    out: list[Message] = []
    stack = [msg]
    while stack and len(out) < 500:
        part = stack.pop()
        out.append(part)
        ctype = _safe(part.get_content_type, "")
        if part.is_multipart() and ctype != "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list):
                # a multipart payload is a list of parts; anything else in it is not a part
                stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            else:
                defects.append("BrokenMultipart")
    return out


def _attached_headers(part: Message) -> list[QuotedHeaders]:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return []
    env = _envelope(inner, _Headers(inner))
    name = env.sender.name if env.sender else ""
    return [QuotedHeaders(env.sender, name, env.to, env.cc, env.subject)]


def _part_text(part: Message, defects: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding must not stop the parse
        defects.append("UndecodablePayload")
        return ""
    if not isinstance(data, bytes):
        return str(data or "")
    return _decode_bytes(data, _safe(part.get_content_charset, None))


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, then UTF-8, then cp1252; never fail."""
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return data.decode(_charset_alias(candidate))
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _charset_alias(name: str) -> str:
    name = name.strip().strip('"').lower()
    return {"unknown-8bit": "cp1252", "x-unknown": "cp1252", "ks_c_5601-1987": "cp949"}.get(
        name, name
    )


# --- quoted history: the header blocks it quotes (refmail.quotes finds where it starts) --

# Every pattern below is linear in its input (as refmail.quotes says of its own).
_HEADER_LINE = re.compile(
    r"^[>\s]*+\*?(From|To|Cc|Sent|Date|Subject|De|Para|Asunto|Fecha|Enviado(?: el)?)\*?"
    r"[ \t]*+:[ \t]*+(.*)$",
    re.I,
)
# The header names of a quoted block in the clients' Spanish ("De:", "Para:", "Asunto:"…)
_HEADER_KEY = dict(de="from", para="to", asunto="subject", fecha="date", enviado="sent")
# The look-behind lets the lazy name end only after a non-space, so a run of spaces is not
# re-read from each of its characters.
_NOTES_FROM = Lazy(r"^\s*+(.+?)(?<=\S)\s++on\s++\d{1,2}/\d{1,2}/\d{2,4}", re.IGNORECASE)
_NOTES_DATE_LINE = Lazy(rf"^{quotes.NOTES_DATE}$", re.IGNORECASE)


def quoted_headers(history: str) -> list[QuotedHeaders]:
    """Header blocks (From/To/Cc/Subject) found in quoted or forwarded text, in order."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    last_key = ""
    lines = history.split("\n")[:2000]
    # Where a To: line is: a Notes author needs one within the four lines below it, and most
    # lines have none there (each line is looked at once here, not five times over).
    to_at = [i for i, line in enumerate(lines) if line.strip().lower().startswith("to:")]
    near_to = {i - k for i in to_at for k in range(1, 5)}
    for i, line in enumerate(lines):
        match = _HEADER_LINE.match(line)
        if match:
            name = match.group(1).lower()
            key = _HEADER_KEY.get(name.removesuffix(" el"), name)
            if key == "from" or current is None or key in current:
                current = {}
                blocks.append(current)
            current[key] = match.group(2).strip()
            last_key = key
            continue
        if i in near_to and _notes_author(lines, i):
            current = {"from": line.strip()}
            blocks.append(current)
            last_key = "from"
            continue
        stripped = line.strip(" >\t")
        folded = line[:1] in (" ", "\t") and _EMAIL_RE().search(stripped)
        continues = current is not None and last_key in ("to", "cc") and folded
        if current is not None and continues and not stripped.endswith(":"):
            current[last_key] += ", " + stripped  # a folded To:/Cc: line
            continue
        last_key = ""
    wanted = ("to", "subject", "sent", "date")
    return [_quoted_block(b) for b in blocks if "from" in b and any(k in b for k in wanted)]


def _notes_author(lines: list[str], i: int) -> bool:
    """Line i names the author of a Notes-style quoted block (a To: line follows shortly:
    the next line, or one of the three after a date line)."""
    line = lines[i]
    if not line.strip() or _NOTES_DATE_LINE().match(line):
        return False
    below = [s.strip().lower() for s in lines[i + 1 : i + 6]]
    if _NOTES_FROM().match(line) and "@" in line:
        return bool(below) and below[0].startswith("to:")
    if i + 1 >= len(lines) or not _NOTES_DATE_LINE().match(lines[i + 1]):
        return False
    return any(s.startswith("to:") for s in below[1:4])


def _quoted_block(block: dict[str, str]) -> QuotedHeaders:
    senders = _loose_addresses(block.get("from", ""))
    raw_name = block.get("from", "")
    notes = _NOTES_FROM().match(raw_name)
    if notes:
        raw_name = notes.group(1)
    # Notes addresses such as "Jason Sokolov@ECT" or "Steven J Kean/NA/Enron@Enron": keep the name.
    raw_name = _strip_notes_domains(raw_name)
    raw_name = _TRAILING_NOTES_DATE().sub("", raw_name)  # "R Shapiro   05/14/2001 ..."
    raw_name = _BRACKETED().sub("", raw_name)
    # Words holding an address go (split, not `\S*@\S*`, which re-reads a long word per char).
    name = " ".join(w for w in raw_name.split() if "@" not in w).strip(" \"'\t")
    return QuotedHeaders(
        sender=senders[0] if senders else None,
        sender_name=name or (senders[0].name if senders else ""),
        to=tuple(_loose_addresses(block.get("to", ""))),
        cc=tuple(_loose_addresses(block.get("cc", ""))),
        subject=block.get("subject", ""),
    )


_NOTES_AT = Lazy(r"@[A-Za-z]+\b(?![.\w])")
_NOTES_SEGMENT = Lazy(r"[\w .-]+")
_TRAILING_NOTES_DATE = Lazy(rf"(?<!\s)\s{{2,}}+{quotes.NOTES_DATE}$")
_BRACKETED = Lazy(r"<[^<>]*+>|\[mailto:[^\[\]]*+\]")


def _strip_notes_domains(name: str) -> str:
    r"""Drop Notes routing suffixes ("/NA/Enron@Enron", "@ECT") from a name.

    What `re.sub(r"(/[\w .-]+)*@[A-Za-z]+\b(?![.\w])", "", name)` did, in linear time: that
    pattern restarts at every '/' and re-reads the rest. Here each '@Domain' is found once and
    the "/segment" chain before it is walked back.

    >>> _strip_notes_domains("Steven J Kean/NA/Enron@Enron, Jason Sokolov@ECT")
    'Steven J Kean, Jason Sokolov'
    """
    out: list[str] = []
    done = 0
    for match in _NOTES_AT().finditer(name):
        start = match.start()
        while True:
            slash = name.rfind("/", done, start)
            if slash == -1 or not _NOTES_SEGMENT().fullmatch(name, slash + 1, start):
                break
            start = slash
        out.append(name[done:start])
        done = match.end()
    out.append(name[done:])
    return "".join(out)


def _loose_addresses(text: str) -> list[Address]:
    """Addresses in a quoted header line, which mail clients write in many broken ways."""
    found: list[Address] = []
    seen: set[str] = set()
    for raw in _EMAIL_RE().findall(text)[:ADDRESS_LIMIT]:
        if raw.upper().startswith(("IMCEA", "MAILTO:")):
            continue  # Exchange's encapsulated addresses repeat the real one
        normal = normalise_address(raw.removeprefix("mailto:"))
        if normal and normal not in seen:
            seen.add(normal)
            found.append(Address(normal, _name_before(text, raw)))
    return found


def _name_before(text: str, addr: str) -> str:
    head = text.split(addr, 1)[0]
    head = head.rsplit(",", 1)[-1] if head.count('"') % 2 == 0 else head
    name = head.replace("<", "").replace("mailto:", "").replace("[", "").strip(" \"'\t;")
    return "" if "@" in name else name


# --- small helpers -------------------------------------------------------------------------


_SURROGATE = Lazy("[\udc80-\udcff]")


def _strip_bom(raw: bytes) -> bytes:
    return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw


def _undo_surrogates(text: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogates; read them as UTF-8 or cp1252."""
    if text.isascii() or _SURROGATE().search(text) is None:  # C speed: most text is ASCII
        return text
    data = text.encode("ascii", "surrogateescape")
    return _decode_bytes(data, "utf-8")


def _safe(fn, default):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except Exception:  # noqa: BLE001 - malformed headers make the stdlib raise odd things
        return default
