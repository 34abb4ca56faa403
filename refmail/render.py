"""Renders follow-ups from Jinja2 templates into complete RFC 5322 messages.

Templates live in refmail/templates/email/<kind>.txt.j2 (and .html.j2); a file of the same name
in the user's template directory wins. The subject is the template's `{% set subject %}` block.

Headers are written as providers read them: names and subjects lose control characters and are
RFC 2047-encoded when not ASCII; Message-IDs and the List-Unsubscribe URL go on the wire as they
are, folded only at spaces (the stdlib would turn a long URL into an encoded-word, which no
provider accepts).
`render` writes the bytes directly (refmail.wire: the stdlib's own bytes, without its parsing);
the EmailMessage of the same fields and bodies is built only when something reads it.
What third parties wrote (names, organisations, phone numbers, the context sentence) goes in only
as defanged plain text (refmail.defang): nothing they wrote becomes a link in the owner's name.
"""

from __future__ import annotations

import email.utils
import functools
import re
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

from refmail import kinds
from refmail.defang import clean_name, defang
from refmail.text import msg_id, one_line
from refmail.wire import WIRE, Fields, fast_field, message_bytes
from refmail.wire import fold_at_spaces as fold_at_spaces  # its home before refmail.wire

if TYPE_CHECKING:
    from jinja2 import Environment, Template

MAX_REFERENCES = 20


@dataclass(frozen=True)
class Person:
    """Someone a template can name."""

    email: str
    name: str = ""
    organisation: str = ""
    phone: str = ""
    about: str = ""  # the introduction's sentences about this person (third-party text)

    def __post_init__(self) -> None:
        # Names come from other people's mail: one clean line, whoever built the Person.
        for name in ("name", "organisation", "phone", "about"):
            object.__setattr__(self, name, one_line(getattr(self, name)))

    @property
    def first_name(self) -> str:
        name = self.name.strip()
        if not name:
            return ""
        if "," in name:  # "Smith, Jane"
            name = name.split(",", 1)[1].strip() or name
        return name.split()[0]

    @property
    def display(self) -> str:
        name = self.name
        if name.count(",") == 1:  # "Balderston, Kris M" → "Kris M Balderston"
            last, first = (part.strip() for part in name.split(","))
            name = f"{first} {last}" if first and last else name
        return name or self.email

    @property
    def short(self) -> str:
        """How a message names them in passing: the first name, else the whole address."""
        return self.first_name or self.email

    def header(self) -> str:
        return email.utils.formataddr((self.name, self.email)) if self.name else self.email


@dataclass(frozen=True)
class Links:
    """Unsubscribe and preference URLs for the footer (empty until the web part is configured)."""

    unsubscribe: str = ""
    preferences: str = ""


@dataclass(frozen=True)
class Draft:
    """Everything a template needs to write one follow-up."""

    kind: str
    message_id: str
    sender: Person  # the owner
    recipient: Person
    introducer: Person
    parties: tuple[Person, ...]
    context: str
    intro_subject: str
    intro_message_id: str
    intro_references: tuple[str, ...] = ()
    intro_date: datetime | None = None
    links: Links = field(default_factory=Links)
    subject_person: Person | None = None  # for call_task: whom to call
    for_kind: str = ""  # for call_task: the follow-up the call replaces
    automatic: bool = False  # sent by refmail itself (not a draft the owner sends)
    merged_introducers: tuple[Person, ...] = ()  # of introductions merged into this message
    reward: str = ""  # conversion_thanks, reward_task: the reward promised ([rewards])
    about_owner: str = ""  # what the introducer said about the owner (third-party text)

    def __post_init__(self) -> None:
        # The introduction's subject and IDs come from the wire: clean before they go back out.
        object.__setattr__(self, "intro_subject", one_line(self.intro_subject))
        object.__setattr__(self, "intro_message_id", msg_id(self.intro_message_id))
        refs = tuple(r for r in map(msg_id, self.intro_references) if r)
        object.__setattr__(self, "intro_references", refs)

    @property
    def introducers(self) -> tuple[Person, ...]:
        """Everyone whose introduction this message stands for, the owner left out."""
        out: list[Person] = []
        for p in (self.introducer, *self.merged_introducers):
            if p.email != self.sender.email and all(o.email != p.email for o in out):
                out.append(p)
        return tuple(out)

    @property
    def owner_introduced(self) -> bool:
        return not self.introducers

    @property
    def call_reason(self) -> str:
        """What the call is for, naming whom (the kind's `call_reason` filled in)."""
        person = self.subject_person or self.recipient
        others = tuple(p for p in self.parties if p.email not in (person.email, self.sender.email))
        return fill(
            kinds.get(self.for_kind or kinds.CALL_TASK).call_reason,
            person=person.short,
            others=names(others),
            introducer=names(self.introducers),
        )

    @property
    def described(self) -> tuple[tuple[tuple[Person, ...], str], ...]:
        """The others with the sentences about them, one entry per distinct sentence (one line
        may describe two people), leaving out any that speak of the recipient by name."""
        out: dict[str, list[Person]] = {}
        for p in self.others:
            if p.about and not self._names_recipient(p.about):
                out.setdefault(p.about, []).append(p)
        return tuple((tuple(people), about) for about, people in out.items())

    def _names_recipient(self, text: str) -> bool:
        return _names(self.recipient, text, spoken_to=False)

    @property
    def reason(self) -> str:
        """Why they should talk, unless it speaks of the recipient (or the owner) in the third
        person: it is then about her, and reads oddly sent to her ("" then)."""
        if _names(self.recipient, self.context) or _names(self.sender, self.context):
            return ""  # about the recipient (or the owner): not a reason to quote to them
        if any(self.context in p.about for p in self.others):
            return ""  # already said where the template describes them
        return self.context

    @property
    def others(self) -> tuple[Person, ...]:
        """The parties other than the recipient: whom this message is about."""
        return tuple(p for p in self.parties if p.email != self.recipient.email)


def third_party_safe(draft: Draft) -> Draft:
    """The draft with everything a third party controls cleaned: names stripped of control
    characters, URLs and addresses; free text with its URLs, domains and addresses broken."""
    return replace(
        draft,
        recipient=safe_person(draft.recipient),
        introducer=safe_person(draft.introducer),
        parties=tuple(map(safe_person, draft.parties)),
        merged_introducers=tuple(map(safe_person, draft.merged_introducers)),
        subject_person=safe_person(draft.subject_person) if draft.subject_person else None,
        context=_defanged(draft.context),
        about_owner=_defanged(draft.about_owner),
        intro_subject=" ".join(defang(draft.intro_subject).split()),
    )


# A dispatch writes to the same people, and quotes an introduction's sentence to each party,
# many times over: each is cleaned once (pure functions of frozen values; bounded caches).
@functools.lru_cache(maxsize=4096)
def safe_person(p: Person) -> Person:
    """`p` with what a third party wrote cleaned (see third_party_safe)."""
    return replace(
        p,
        name=clean_name(p.name),
        organisation=defang(p.organisation),
        phone=defang(p.phone),
        about=defang(p.about),
    )


_defanged = functools.lru_cache(maxsize=1024)(defang)


# The name a text opens by speaking to ("Sid-- I'm copying Doug…", "Hi Dana, …").
_OPENING_VOCATIVE = re.compile(
    r"\s{0,20}(?:(?i:hi|hey|hello|dear)\s{1,3})?([^\W\d_][\w'’]{0,30})\s?(?:,|:|!|--|[–—])"
)


def _names(person: Person, text: str, spoken_to: bool = True) -> bool:
    """`text` speaks of `person` by first name; with `spoken_to` False, speaking *to* them in
    its opening does not count ("Sid-- I'm copying Doug and Justin…" describes Doug and
    Justin, and is no sentence about Sid)."""
    first = person.first_name.lower()
    if not first:
        return False
    opening = None if spoken_to else _OPENING_VOCATIVE.match(text)
    if opening is not None and opening.group(1).lower() == first:
        text = text[opening.end() :]
    return re.search(rf"\b{re.escape(first)}\b", text.lower()) is not None


def names(people: tuple[Person, ...]) -> str:
    """People named in a sentence: "Dana", "Dana and Erin", "Dana, Erin and Lee".

    >>> names((Person("d@x", "Dana Reyes"), Person("e@x"), Person("l@x", "Lee")))
    'Dana Reyes, e@x and Lee'
    """
    shown = [p.display for p in people]
    return " and ".join(filter(None, (", ".join(shown[:-1]), *shown[-1:])))


def quoted(text: str, width: int = 72) -> str:
    """Someone else's words as a plain-text quotation: wrapped, each line marked with "> ".

    >>> print(quoted("Dana runs a bakery.", 12))
    > Dana runs a
    > bakery.
    """
    return "\n".join(f"> {line}" for line in textwrap.wrap(text, width) or [""])


def fill(template: str, **values: str) -> str:
    """`template` with `{name}`s filled; a `[…]` part whose value is empty is left out, so
    missing data still gives a sentence.

    >>> fill("introduce {person}[ to {others}]", person="Dana", others="Erin")
    'introduce Dana to Erin'
    >>> fill("introduce {person}[ to {others}]", person="Dana", others="")
    'introduce Dana'
    """

    def part(match: re.Match[str]) -> str:
        keys = re.findall(r"{(\w+)}", match.group(1))
        return match.group(1) if all(values.get(k) for k in keys) else ""

    return re.sub(r"\[([^\]]*)\]", part, template).format_map(values)


def template_dirs(user_dir: str = "") -> list[str]:
    bundled = str(resources.files("refmail.templates"))
    return [d for d in (user_dir, bundled) if d]


@dataclass(frozen=True)
class Composed:
    """A follow-up before it becomes a message: its header fields in order, its bodies."""

    fields: tuple[tuple[str, str], ...]
    text: str
    html: str = ""

    @property
    def subject(self) -> str:
        return next((value for name, value in self.fields if name == "Subject"), "")


def build_message(composed: Composed) -> EmailMessage:
    """The stdlib's EmailMessage of `composed` (what `render` returned before refmail.wire)."""
    msg = EmailMessage(policy=WIRE)
    for name, value in composed.fields:
        msg[name] = value
    msg.set_content(composed.text)
    if composed.html:
        msg.add_alternative(composed.html, subtype="html")
    return msg


class Rendered:
    """A rendered follow-up: its bytes for the wire, its subject, and, for whoever reads it as
    a message (tests, a human), the EmailMessage of the same fields and bodies, built on first
    use. Reading it never changes the bytes."""

    def __init__(self, composed: Composed, wire: bytes) -> None:
        self.composed = composed
        self.wire = wire

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        if unixfrom or policy is not None:  # another form than the wire's: the stdlib writes it
            return self.message.as_bytes(unixfrom, policy)
        return self.wire

    @cached_property
    def message(self) -> EmailMessage:
        return build_message(self.composed)

    @cached_property
    def subject(self) -> str:
        """The Subject as its header reads (str of the stdlib's header object)."""
        value = self.composed.subject
        if fast_field("Subject", value) is not None:
            return value  # the stdlib parses it back to itself
        return str(WIRE.header_store_parse("Subject", value)[1])

    def __getitem__(self, name: str) -> Any:
        if name.lower() == "subject":
            return self.subject
        return self.message[name]

    def __contains__(self, name: str) -> bool:
        return name in self.message

    def __iter__(self) -> Iterator[str]:
        return iter(self.message)

    def __len__(self) -> int:
        return len(self.message)

    def __bytes__(self) -> bytes:
        return self.wire

    def __str__(self) -> str:
        return str(self.message)

    def __getattr__(self, name: str) -> Any:
        # The rest of EmailMessage's reading API (walk, get_body, get_content, as_string…).
        if name.startswith("__") or name in ("composed", "wire"):
            raise AttributeError(name)
        return getattr(self.message, name)


# How often a Renderer looks whether a template file it read has changed since (Jinja2's own
# check is a stat of every template, included ones too, at every draft: a tenth of a draft's
# rendering time). A daemon thus still picks up an edited template, within this long.
RECHECK_SECONDS = 2.0
_UNSEEN = object()  # a template not looked up yet (None is "no such HTML template")


class Renderer:
    """Holds the Jinja2 environment (templates compiled once per run, looked up once per kind,
    their files checked for edits every RECHECK_SECONDS); `render` makes a Draft's message,
    `note` a short automatic one.

    Jinja2 is loaded when the first message is rendered: a dispatch with nothing due (most cron
    runs) builds a Renderer and never uses it (issue 15; tests/test_startup.py holds it)."""

    def __init__(self, user_dir: str = "") -> None:
        self.user_dir = user_dir
        self.fields = Fields()  # the header fields only the stdlib can fold, remembered
        self._templates: dict[tuple[str, bool], Template | None] = {}  # (name, html) → found
        self._recheck_at = 0.0  # time.monotonic() of the next look at the files

    @cached_property
    def env(self) -> Environment:
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

        loaders = [FileSystemLoader(d) for d in template_dirs(self.user_dir)]
        env = Environment(
            loader=ChoiceLoader(loaders),
            auto_reload=False,  # `_recheck` looks at the files, every RECHECK_SECONDS
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["quoted"] = quoted
        return env

    @cached_property
    def html_env(self) -> Environment:
        return self.env.overlay(autoescape=True)

    def _template(self, name: str, html: bool = False) -> Template | None:
        """The compiled template `name` (None: no such HTML template), from this renderer's
        own table once looked up."""
        self._recheck()
        key = (name, html)
        # One lookup, not `in` then `[]`: the daemon's threads share this renderer, and one of
        # them may clear the table (`_recheck`) between the two.
        held = self._templates.get(key, _UNSEEN)
        if held is not _UNSEEN:
            return cast("Template | None", held)
        from jinja2 import TemplateNotFound  # loaded already, by self.env

        try:
            found: Template | None = (self.html_env if html else self.env).get_template(name)
        except TemplateNotFound:
            if not html:
                raise
            found = None
        self._templates[key] = found
        return found

    def _text_template(self, name: str) -> Template:
        """The compiled text template `name` (one that is missing raises TemplateNotFound)."""
        return cast("Template", self._template(name))

    def _recheck(self) -> None:
        """Every RECHECK_SECONDS: forget every template if one file read has changed (the
        environments are made anew, as for a new renderer), and the lookups, so a template
        that was missing (a new HTML part) is found. A user's override of a bundled template
        already loaded waits for a restart, as it did with Jinja2's own check."""
        now = time.monotonic()
        if now < self._recheck_at:
            return
        self._recheck_at = now + RECHECK_SECONDS
        self._templates.clear()
        made = [self.__dict__[k] for k in ("env", "html_env") if k in self.__dict__]
        if not all(t.is_up_to_date for env in made for t in env.cache.values()):
            self.__dict__.pop("env", None)
            self.__dict__.pop("html_env", None)

    def note(
        self,
        name: str,
        sender: Person,
        recipient: Person,
        now: datetime,
        message_id: str,
        **values: object,
    ) -> EmailMessage:
        """A short automatic message (e.g. a preferences link), not tied to an introduction."""
        module = self._text_template(f"email/{name}.txt.j2").make_module(
            {"owner": sender, "recipient": recipient, **values}
        )
        msg = EmailMessage(policy=WIRE)
        msg["From"] = sender.header()
        msg["To"] = recipient.header()
        msg["Subject"] = one_line(str(getattr(module, "subject", name)))
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = message_id
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Refmail-ID"] = message_id.strip("<>")
        msg.set_content(str(module).strip() + "\n")
        return msg

    def compose(self, draft: Draft, now: datetime) -> Composed:
        """The header fields and bodies of `draft`'s message."""
        draft = third_party_safe(draft)
        context = {"d": draft, "kind": draft.kind}
        text_module = self._text_template(f"email/{draft.kind}.txt.j2").make_module(context)
        subject = one_line(str(getattr(text_module, "subject", "")))
        fields = [
            ("From", draft.sender.header()),
            ("To", draft.recipient.header()),
            ("Subject", subject or draft.intro_subject),
            ("Date", email.utils.format_datetime(now)),
            ("Message-ID", draft.message_id),
        ]
        refs = [r for r in (*draft.intro_references, draft.intro_message_id) if r][-MAX_REFERENCES:]
        if draft.intro_message_id:
            fields.append(("In-Reply-To", draft.intro_message_id))
            fields.append(("References", " ".join(refs)))
        fields.append(("X-Refmail-ID", draft.message_id.strip("<>")))
        if draft.automatic:
            fields.append(("Auto-Submitted", "auto-generated"))
        if draft.links.unsubscribe:
            fields.append(("List-Unsubscribe", f"<{draft.links.unsubscribe}>"))
            fields.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        html_template = self._template(f"email/{draft.kind}.html.j2", html=True)
        html = html_template.render(context) if html_template is not None else ""
        return Composed(tuple(fields), str(text_module).strip() + "\n", html)

    def message(self, draft: Draft, now: datetime) -> EmailMessage:
        """`draft` as the stdlib builds it (the reference `render`'s bytes are held equal to)."""
        return build_message(self.compose(draft, now))

    def render(self, draft: Draft, now: datetime) -> Rendered:
        composed = self.compose(draft, now)
        return Rendered(composed, self.wire(composed.fields, composed.text, composed.html))

    def wire(self, fields: Sequence[tuple[str, str]], text: str, html: str = "") -> bytes:
        return message_bytes(self.fields.block(fields), text, html)
