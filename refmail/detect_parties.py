"""Who an introduction connects: people from the envelope, forwarded headers and the text.

Parties are exact: never the owner or refmail (nor any +tag of theirs), never the author, never
a robot or a mailing list. Names tie addresses to the author's words: a person counts as named
when a word of the text is their first or last name (from the display name, or the local part
when there is none). Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from refmail.parse import (
    Address,
    Envelope,
    ParsedMessage,
    decode_header_value,
    normalise_address,
)
from refmail.patterns import Lazy

ROBOT_LOCAL = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|notifications?|"
    r"listserv|majordomo|newsletter|news|marketing|info|updates?|alerts?|donotreply|syzbot)"
    r"([+._-].*)?$",
    re.IGNORECASE,
)
# Mailing lists by their usual names, for lists that are copied but did not deliver this copy.
_LIST_DOMAIN = re.compile(r"^(?:lists?|vger|groups|googlegroups|mailman|ml)\.|googlegroups\.com$")
_LIST_LOCAL = re.compile(
    r"(?:^|[-_.])(?:devel|users?|discuss|announce|list|lists|dev|general|talk|kernel)$"
    r"|(?:^|[._])dl-"  # an Exchange distribution list: center.dl-portland@, dl-ga-all_…@
    r"|^(?:linux|lkml|dri|amd|intel)-",
    re.IGNORECASE,
)
_LIST_NAME = re.compile(r"\b(?:list|mailing|maillist|lkml|mailinglist)\b", re.IGNORECASE)
# A word of a name; "--" is punctuation, not a hyphen ("Kris--pls follow up" names Kris).
_NAME_WORD = re.compile(r"[^\W\d_](?:[\w'’]|-(?!-)){1,40}", re.UNICODE)
# The same words in a text with no "--" (most): one character class, scanned much faster.
_NAME_WORD_NO_DASHES = re.compile(r"[^\W\d_][\w'’-]{1,40}", re.UNICODE)


@functools.lru_cache(maxsize=4096)
def base_email(email: str) -> str:
    """The address without its +tag: refmail+abc@x and refmail@x are one mailbox."""
    local, _, domain = email.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def list_addresses(env: Envelope) -> frozenset[str]:
    """The list that delivered this copy, from List-Id ("<cgroups.vger.kernel.org>")."""
    list_id = env.robot_headers.get("list-id", "")
    match = re.search(r"<([^<>@\s]+?)\.([^<>@\s]+\.[^<>@\s]+)>", list_id)
    return frozenset({f"{match.group(1)}@{match.group(2)}".lower()}) if match else frozenset()


def is_list(addr: Address, lists: frozenset[str]) -> bool:
    """A mailing list: the one that delivered this copy, or one by its usual names."""
    return addr.email in lists or _list_like(addr)


@functools.lru_cache(maxsize=4096)
def _list_like(addr: Address) -> bool:
    local, _, domain = addr.email.partition("@")
    return (
        bool(_LIST_DOMAIN.search(domain))
        or (
            bool(_LIST_LOCAL.search(local))
            and not _own_name(local, addr.name)
            and not _own_domain(domain, addr.name)
            and domain.lower() not in MAILBOX_PROVIDERS
        )
        or bool(_LIST_NAME.search(addr.name))
        or " via " in addr.name
    )


# An "introduction" of more people than this is an announcement; and among more nameless
# copies than this, which one was just copied in cannot be told.
MAX_PARTIES = 8

# Providers of personal mailboxes, the one list of them: a list's usual name there
# ("cohenarthur.dev@gmail.com") is a person's choice of address, as lists live on their
# project's or a list host's domain; and two people there are not colleagues (detect_purpose).
MAILBOX_PROVIDERS = frozenset(
    {
        "163.com",
        "aol.com",
        "att.net",
        "comcast.net",
        "fastmail.com",
        "gmail.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.ru",
        "mailbox.org",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "verizon.net",
        "web.de",
        "yahoo.com",
        "yandex.ru",
    }
)


def _own_name(local: str, name: str) -> bool:
    """The local part is the given name of a personal display name: "Dev Patel <dev@…>" is
    Dev, not a developers' list."""
    words = name.split()
    return len(words) >= 2 and words[0].lower() == local.lower() and words[1][:1].isupper()


def _own_domain(domain: str, name: str) -> bool:
    """The domain is made of the display name's words: "Martin Sperl <kernel@martin.sperl.org>"
    is Martin's own mailbox, whatever its local part (two words: "Foo Kernel Team
    <kernel@foo.org>" is the team's list)."""
    labels = domain.lower().split(".")[:-1]
    words = {w for w in re.split(r"[\s,.]+", name.lower()) if len(w) >= 2}
    return len(words & set(labels)) >= 2


# Role mailboxes (RFC 2142 and the usual company ones) anywhere in the local part:
# "enron.messaging.administration@", "admin@" in a disclaimer. A role is nobody to introduce.
_ROLE_PART = frozenset(
    {"admin", "administrator", "administration", "webmaster", "hostmaster", "abuse", "helpdesk"}
)


@functools.lru_cache(maxsize=4096)
def is_robot(addr: Address) -> bool:
    local = addr.email.split("@")[0]
    return bool(ROBOT_LOCAL.match(local)) or not _ROLE_PART.isdisjoint(re.split(r"[._+-]", local))


# The everyday short forms of common English given names, so "Jake will call you" names
# "Sullivan, Jacob J" (data; short forms that are also common words, "Will", "Pat", "Sue",
# "Ray", "Don", "Rich", are left out: a capitalised "Will" opens questions)
_SHORT_FORMS: dict[str, tuple[str, ...]] = {
    "jacob": ("jake", "jack"),
    "john": ("jack", "johnny"),
    "william": ("bill", "billy"),
    "robert": ("bob", "bobby", "rob"),
    "richard": ("rick",),
    "james": ("jim", "jimmy", "jamie"),
    "michael": ("mike",),
    "elizabeth": ("liz", "beth"),
    "katherine": ("kate", "kathy"),
    "catherine": ("kate", "cathy"),
    "margaret": ("maggie", "meg"),
    "thomas": ("tom",),
    "joseph": ("joe",),
    "jonathan": ("jon",),
    "christopher": ("chris",),
    "christine": ("chris",),
    "steven": ("steve",),
    "stephen": ("steve",),
    "daniel": ("dan", "danny"),
    "david": ("dave",),
    "edward": ("ed",),
    "andrew": ("andy",),
    "anthony": ("tony",),
    "jennifer": ("jen", "jenny"),
    "rebecca": ("becky",),
    "samuel": ("sam",),
    "samantha": ("sam",),
    "alexander": ("alex",),
    "alexandra": ("alex",),
    "benjamin": ("ben",),
    "kenneth": ("ken",),
    "gregory": ("greg",),
    "jeffrey": ("jeff",),
    "timothy": ("tim",),
    "matthew": ("matt",),
    "nicholas": ("nick",),
    "philip": ("phil",),
    "phillip": ("phil",),
    "ronald": ("ron",),
    "douglas": ("doug",),
    "gerald": ("jerry",),
    "lawrence": ("larry",),
    "charles": ("charlie",),
    "frederick": ("fred",),
    "vincent": ("vince",),
    "deborah": ("deb", "debbie"),
    "cynthia": ("cindy",),
    "kimberly": ("kim",),
    "pamela": ("pam",),
    "nathaniel": ("nate",),
    "abigail": ("abby",),
    "stanley": ("stan",),
    "zachary": ("zach",),
}


@functools.lru_cache(maxsize=4096)
def name_tokens(addr: Address) -> frozenset[str]:
    """Lower-cased words that may name this person: "Bernier-Toth, Michelle" → both parts."""
    name = decode_header_value(addr.name) if "=?" in addr.name else addr.name
    words = {w.lower() for w in _NAME_WORD.findall(name) if len(w) >= 2}
    words -= {"via", "the", "and", "de", "van", "von", "der", "team"}
    initials = "".join(re.findall(r"\b([A-Za-z])\.", addr.name)).lower()
    if len(initials) >= 2:
        words.add(initials)  # "T.J. Mercier" is "TJ"
    if not words:
        local = addr.email.split("@")[0]
        words = {w for w in re.split(r"[._+-]|\d", local.lower()) if len(w) >= 3}
    words |= {short for w in tuple(words) for short in _SHORT_FORMS.get(w, ())}
    return frozenset(words)


def named(
    addr: Address, words: AbstractSet[str], shortened: AbstractSet[str] | None = None
) -> bool:
    """One of `words` (lower-cased) names this person, by display name or local part.

    `shortened`: the words that may be a short form of the given name ("Chris" for Christoph),
    when not all are: the capitalised ones (written lower-cased, "step" is no Stephen)."""
    # (asked some twenty times a message: one cached look-up per address, and loops, not
    # generators, over the words: issue 15)
    tokens, given, local = _name_facts(addr)
    if not tokens.isdisjoint(words):
        return True
    few = len(words) <= 12
    # A word of four letters or more that begins the given name is its short form: "Chris"
    # for Christoph, "Alex" for Alexandre, "Matt" for Matthias.
    if few and len(given) > 4:
        for w in words if shortened is None else shortened:
            if 4 <= len(w) < len(given) and given.startswith(w) and w not in _NOT_SHORT_FORMS:
                return True
    if len(local) < 4:
        return False
    if local in words:
        return True
    if not few:
        return False  # partial local-part matches are for short name phrases only
    if _composed(local, words):
        return True
    # "Johannes" and hannes@…: a name that ends with the whole local part; "Sullivan" and
    # sullivanjj@…: a local part that starts with the name.
    for w in words:
        if (
            w.endswith(local)
            or (len(w) >= 4 and local.startswith(w))
            or (len(w) >= 5 and w in local)
        ):
            return True
    return False


@functools.lru_cache(maxsize=512)  # (as detect._same_mailbox_other_host: a message's and recent)
def _name_facts(addr: Address) -> tuple[frozenset[str], str, str]:
    """What `named` reads of an address: its name tokens, given name and local part's letters."""
    return name_tokens(addr), given_name(addr), _letters(addr.email)


# The given names an everyday short form stands for: "Jack" is Jacob or John.
_FULL_FORMS: dict[str, tuple[str, ...]] = {}
for _full, _shorts in _SHORT_FORMS.items():
    for _short in _shorts:
        _FULL_FORMS[_short] = (*_FULL_FORMS.get(_short, ()), _full)


@functools.lru_cache(maxsize=4096)
def given_name(addr: Address) -> str:
    """The given name of a display name, lower-cased: "Christoph Hellwig" and "Hellwig,
    Christoph" → "christoph"; "" for no display name."""
    name = decode_header_value(addr.name) if "=?" in addr.name else addr.name
    if "," in name:
        name = name.split(",", 1)[1]
    words = _NAME_WORD.findall(name)
    return words[0].lower() if words else ""


# Capitalised words that begin given names but open sentences ("Will you…", "Rich in…")
_NOT_SHORT_FORMS = frozenset({"will", "rich", "hope", "mark", "best", "dear", "thanks"})


def _composed(local: str, words: AbstractSet[str]) -> bool:
    """The local part is built from two of `words`, a given name (or the full name its short
    form stands for) then a surname, with at most two initials between: "Jack Lew" and
    jacobjlew@, "Bob Stone" and robertstone@. Two words must fit, so one given name alone
    ties nobody to a longer local part."""
    for last in words:
        if len(last) < 3 or not local.endswith(last):
            continue
        head = local[: -len(last)]
        for word in words - {last}:
            for first in (word, *_FULL_FORMS.get(word, ())):
                if len(first) >= 3 and head.startswith(first) and len(head) - len(first) <= 2:
                    return True
    return False


@functools.lru_cache(maxsize=4096)
def _letters(email: str) -> str:
    return re.sub(r"[^a-z]", "", email.split("@")[0].lower())


def capitalised_words(text: str) -> set[str]:
    """The words of `text` written with a capital (names), lower-cased."""
    # "Lena's message" names Lena: the possessive is not part of the name.
    return {
        w.lower().removesuffix("'s").removesuffix("’s")
        for w in (_NAME_WORD if "--" in text else _NAME_WORD_NO_DASHES).findall(text)
        if w[0].isupper()
    }


@dataclass(frozen=True)
class People:
    """The people a message could connect, worked out once."""

    candidates: tuple[Address, ...]  # recipients who are people other than owner/refmail/author
    copied: tuple[Address, ...]  # the candidates in Cc, in header order
    forwarded: tuple[Address, ...]  # people of the first forwarded header block
    in_text: tuple[Address, ...]  # addresses the author wrote in the text (not recipients)
    written: frozenset[str]  # every address the author wrote in the text
    lists: frozenset[str]


def people(
    msg: ParsedMessage,
    keep: Callable[[Address], bool],
    text: str,
    replied: tuple[str, str] = ("", ""),
) -> People:
    """Candidates from the envelope, the forwarded headers and the author's text.
    `replied` is the (name, address) of the quoted message's author, when known."""
    lists = list_addresses(msg.envelope)
    seen: set[str] = set()

    def wanted(addr: Address | None) -> bool:
        if addr is None or addr.email in seen or not keep(addr):
            return False
        if is_robot(addr) or (is_list(addr, lists) and not _wrote_quote(addr, lists, replied)):
            return False
        seen.add(addr.email)
        return True

    author = msg.sender
    # (the author's other address in To or Cc, by the same full name, is the author: Andy
    # Shevchenko writing from gmail with his work address copied)
    candidates = tuple(
        a for a in msg.envelope.recipients if wanted(a) and not _same_name(a, author)
    )
    cc = {a.email for a in msg.envelope.cc}
    copied = tuple(a for a in candidates if a.email in cc)
    forwarded: list[Address] = []

    def not_the_author(addr: Address) -> bool:
        # "Kevin Presto / kevin.presto@ubswenergy.com" in the signature of m..presto@enron.com
        return author is None or not _same_person(addr, author)

    if msg.has_forward and msg.quoted:
        block = msg.quoted[0]
        forwarded = [
            a
            for a in (block.sender, *block.to, *block.cc)
            if a is not None and not_the_author(a) and wanted(a)
        ]
    in_text_all = _text_addresses(text)
    in_text = [a for a in in_text_all if not_the_author(a) and wanted(a)]
    written = frozenset(a.email for a in in_text_all)
    return People(candidates, copied, tuple(forwarded), tuple(in_text), written, lists)


def one_address_each(
    parties: tuple[tuple[Address, bool], ...], written: frozenset[str]
) -> tuple[tuple[Address, bool], ...]:
    """Each person once: an address the author wrote in the text ("Tim's e-mail address is
    tim.f.riordan@usa.example.com") stands for the same mailbox name at another domain (the
    tim.f.riordan@example.com of a forwarded header), which is dropped."""
    chosen = {_mailbox_name(a): a for a, _ in parties if a.email in written}
    return tuple(
        (a, r)
        for a, r in parties
        if a.email in written or not _twin(a, chosen.get(_mailbox_name(a)))
    )


def _mailbox_name(addr: Address) -> str:
    return addr.email.partition("@")[0]


def _twin(addr: Address, other: Address | None) -> bool:
    """`other` is the same person at another address: the same mailbox name, long enough to
    be a person's ("tim.f.riordan", not "linux"), and no display names that disagree."""
    if other is None or other.email == addr.email or len(_letters(addr.email)) < 6:
        return False
    mine, theirs = name_tokens(addr), name_tokens(other)
    return not (addr.name and other.name) or not mine.isdisjoint(theirs)


def _wrote_quote(addr: Address, lists: frozenset[str], replied: tuple[str, str]) -> bool:
    """The address wrote the message this one quotes, so it is a person's whatever its local
    part looks like ("Emil Berthing <kernel@…> wrote:"): a list delivers mail, it writes none."""
    name, email = replied
    if addr.email in lists:
        return False  # the list that delivered this copy
    if email:
        return addr.email == email
    return bool(name.strip()) and addr.name.strip().lower() == name.strip().lower()


def _same_name(addr: Address, author: Address | None) -> bool:
    """A display name of two words or more equal to the author's: the author's other address."""
    if author is None or addr.email == author.email:
        return False
    mine = author.name.split()
    return len(mine) >= 2 and addr.name.split() == mine


def _same_person(addr: Address, author: Address) -> bool:
    """An address of the author's own, written in the text or forwarded: its local part holds
    the author's surname ("kevin.presto@" for "m..presto@", "Presto, Kevin")."""
    if addr.email == author.email:
        return True
    theirs = {w for w in re.split(r"[._+-]", addr.email.split("@")[0].lower()) if len(w) >= 4}
    mine = {w for w in name_tokens(author) if len(w) >= 4}
    return bool(theirs & mine) and len(theirs) >= 2


_TEXT_EMAIL = Lazy(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_NAME_BEFORE = Lazy(r"([A-ZÁÉÍÓÚÑ][\w'’-]{1,30}(?:\s[A-ZÁÉÍÓÚÑ][\w'’-]{1,30})?)([^A-Z\n]{0,40})$")
# A header line of quoted or forwarded mail ("To: <a@x>, <b@y>", "cc: Jo <jo@x>"), and the
# lines that continue it: addresses there were copied by a mail client, not written.
_HEADER_LINE = Lazy(
    r"^[ \t>|]*\*?(?:to|cc|bcc|from|sent\sby|reply-to|de|para|an|von|message-id|return-path"
    r"|in-reply-to|references|sender)\*?[ \t]*:",
    re.IGNORECASE,
)
# Words before an address that are not a person's name ("Also <…>", "To <…>", "COM <…>").
_NOT_A_NAME = frozenset(
    {"to", "cc", "bcc", "from", "also", "and", "or", "at", "email", "e-mail", "mail", "mailto"}
    | {"contact", "please", "sent", "subject", "re", "fw", "fwd", "the", "this", "his", "her"}
    | {"their", "our", "my", "your"}
)


# Addresses the author gives are in their note, not at the end of a pasted article or notice.
_TEXT_ADDRESS_SCAN = 4000


def _text_addresses(text: str) -> list[Address]:
    """Addresses the author wrote ("you can reach Dana at dana@x.org"), named when possible.

    Addresses in header lines a mail client copied ("To: <a@x>, <b@y>" and its continuation
    lines) are not the author's words and are left out.
    """
    out: list[Address] = []
    if "@" not in text:
        return out
    head = text[:_TEXT_ADDRESS_SCAN]
    headers = _header_spans(head)
    for match in _TEXT_EMAIL().finditer(head):
        if any(a <= match.start() < b for a, b in headers):
            continue
        email = normalise_address(match.group(0).strip("."))
        if email is None:
            continue
        before = _NAME_BEFORE().search(head[max(0, match.start() - 80) : match.start()])
        out.append(Address(email, _person_name(before, email)))
    return out


def _person_name(before: re.Match[str] | None, email: str) -> str:
    """The name written just before an address, when it is a person's name and not a word of
    the mail client's, an acronym ("IBMUS") or the address's own domain ("Stanford")."""
    if before is None:
        return ""
    name, gap = before.group(1), before.group(2)
    name = name.removesuffix("'s").removesuffix("’s")  # "Tim's address is …" names Tim
    words = name.split()
    domain = email.partition("@")[2]
    if (
        any(w.lower() in _NOT_A_NAME for w in words)
        or all(w.isupper() and len(w) > 2 for w in words)
        or all(w.lower() in domain for w in words)
        or ("@" in gap or ";" in gap)  # the name belongs to an earlier address
    ):
        return ""
    return name


def _header_spans(text: str) -> list[tuple[int, int]]:
    """Where header lines (and their indented or comma-continued lines) sit in `text`."""
    spans: list[tuple[int, int]] = []
    pos = 0
    inside = continued = False
    for line in text.split("\n"):
        end = pos + len(line) + 1
        if _HEADER_LINE().match(line):
            inside = True
        elif inside and not (line[:1] in (" ", "\t") and line.strip()) and not continued:
            inside = False
        continued = line.rstrip().endswith((",", ";"))
        if inside:
            spans.append((pos, end))
        pos = end
    return spans


def on_thread(addr: Address, history: str) -> bool:
    """The person already appears in a quoted header line (From/To/Cc) of the history."""
    if not history:
        return False
    headers, words = _quoted_headers(history)
    if addr.email in headers:
        return True
    parts = set(_name_words(addr))
    return len(parts) >= 2 and parts <= words


def shows_the_thread(history: str) -> bool:
    """The history quotes a header block (From/To/Cc lines), so who is new to the thread shows."""
    return bool(history) and bool(_quoted_headers(history)[0])


def in_the_thread(addr: Address, history: str) -> bool:
    """The person is on the thread, or spoken of by full name in its quoted text ("Per Tana
    Jones' request, would you update the slide"): the matter is theirs already.

    >>> in_the_thread(Address("tana.jones@example.com"), "Per Tana Jones' request, would you")
    True
    >>> in_the_thread(Address("tana.jones@example.com"), "Gayla Jones wrote: see Tana")
    False
    """
    if on_thread(addr, history):
        return True
    name = _name_words(addr)
    if len(name) < 2:
        return False
    said = f" {_history_words(history)} "
    return f" {' '.join(name)} " in said or f" {' '.join(reversed(name))} " in said


def _name_words(addr: Address) -> list[str]:
    """The words of the display name, else of the local part, in order (no display name:
    "lindy.donoho@" is "Donoho, Lindy" in a Notes header)."""
    name = addr.name or addr.email.split("@")[0].replace(".", " ").replace("_", " ")
    return [p.lower() for p in re.findall(r"[A-Za-z][A-Za-z'-]{1,}", name)]


@functools.lru_cache(maxsize=8)
def _history_words(history: str) -> str:
    """The words of the history, lower-cased, one space apart (a possessive is the name:
    "Tana Jones' request", "Tana's question")."""
    words = re.findall(r"[a-z][a-z'-]*[a-z]", history[:60_000].lower())
    return " ".join(w.removesuffix("'s") for w in words)


# A quoted From/To/Cc line, read from the line break before it (the text is searched with one
# put before its first line): a pattern opening with a literal is searched for by the engine's
# fast scan, not tried at every character as "^" is.
_QUOTED_HEADER = Lazy(
    r"\n[>\s]{0,20}\*?(?:from|to|cc|sent\sby)\*?\s{0,4}:([^\n]{0,2000})$",
    re.IGNORECASE | re.MULTILINE,
)


@functools.lru_cache(maxsize=8)
def _quoted_headers(history: str) -> tuple[str, frozenset[str]]:
    """The history's quoted From/To/Cc lines (lower-cased) and their words: read once per
    message, however many of its people are asked about."""
    headers = "\n".join(_QUOTED_HEADER().findall("\n" + history[:60_000])).lower()
    return headers, frozenset(re.findall(r"[a-z][a-z'-]+", headers))


def domain_of(addr: Address) -> str:
    """The address's domain ("enron.com" of "f..herod@enron.com")."""
    return addr.email.lower().rpartition("@")[2]
