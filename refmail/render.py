"""Renders follow-ups from Jinja2 templates into complete RFC 5322 messages.

Templates live in refmail/templates/email/<kind>.txt.j2 (and .html.j2); a file of the same name
in the user's template directory wins. The subject is the template's `{% set subject %}` block.

Headers are written as providers read them: names and subjects lose control characters and are
RFC 2047-encoded when not ASCII; Message-IDs and the List-Unsubscribe URL go on the wire as they
are, folded only at spaces (the stdlib would turn a long URL into an encoded-word, which no
provider accepts).
What third parties wrote (names, organisations, phone numbers, the context sentence) goes in only
as defanged plain text (refmail.defang): nothing they wrote becomes a link in the owner's name.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
import textwrap
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from importlib import resources

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from refmail import kinds
from refmail.defang import clean_name, defang
from refmail.text import msg_id, one_line

MAX_REFERENCES = 20
# Header fields of IDs and URLs: never encoded, folded only between their words.
VERBATIM = frozenset(
    {"message-id", "in-reply-to", "references", "x-refmail-id"}
    | {"list-unsubscribe", "list-unsubscribe-post"}
)


class WirePolicy(email.policy.EmailPolicy):
    """policy.SMTP, except that the VERBATIM fields are written unencoded (a value that is not
    printable ASCII, or has a word too long for a line, falls back to the stdlib's folding)."""

    def fold(self, name: str, value: object) -> str:
        return self._verbatim(name, value) or super().fold(name, value)  # type: ignore[arg-type]

    def fold_binary(self, name: str, value: object) -> bytes:
        folded = self._verbatim(name, value)
        return folded.encode("ascii") if folded else super().fold_binary(name, value)  # type: ignore[arg-type]

    def _verbatim(self, name: str, value: object) -> str:
        text = str(value)
        longest = max(map(len, text.split()), default=0)
        if name.lower() not in VERBATIM or not (text.isascii() and text.isprintable()):
            return ""
        if len(name) + 2 + longest > 998:  # RFC 5322's hard limit: the stdlib must split it
            return ""
        return fold_at_spaces(name, text, self.max_line_length or 998, self.linesep) + self.linesep


def fold_at_spaces(name: str, value: str, width: int, linesep: str = "\r\n") -> str:
    """`Name: value` folded before a word that would pass `width`, never inside one.

    >>> fold_at_spaces("References", "<a@x> <b@x>", 16)
    'References: <a@x>\\r\\n <b@x>'
    """
    head = f"{name}:"
    lines, line = [], head
    for word in value.split():
        if line != head and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return linesep.join(lines)


class MadeOnce(HeaderRegistry):
    """The stdlib's header classes, each made once: HeaderRegistry builds a new class for every
    header it is asked for (a dozen or more per message), a fifth of a draft's rendering time.
    The classes made are the same each time, so the bytes are too."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# policy.SMTP is EmailPolicy(linesep="\r\n")
WIRE = WirePolicy(linesep="\r\n", header_factory=MadeOnce())


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
        return _names(self.recipient, text)

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

    def person(p: Person) -> Person:
        return replace(
            p,
            name=clean_name(p.name),
            organisation=defang(p.organisation),
            phone=defang(p.phone),
            about=defang(p.about),
        )

    return replace(
        draft,
        recipient=person(draft.recipient),
        introducer=person(draft.introducer),
        parties=tuple(map(person, draft.parties)),
        merged_introducers=tuple(map(person, draft.merged_introducers)),
        subject_person=person(draft.subject_person) if draft.subject_person else None,
        context=defang(draft.context),
        about_owner=defang(draft.about_owner),
        intro_subject=" ".join(defang(draft.intro_subject).split()),
    )


def _names(person: Person, text: str) -> bool:
    first = person.first_name.lower()
    return bool(first) and re.search(rf"\b{re.escape(first)}\b", text.lower()) is not None


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


class Renderer:
    """Holds the Jinja2 environment; `render` makes an EmailMessage from a Draft."""

    def __init__(self, user_dir: str = "") -> None:
        loaders = [FileSystemLoader(d) for d in template_dirs(user_dir)]
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["quoted"] = quoted
        self.html_env = self.env.overlay(autoescape=True)

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
        module = self.env.get_template(f"email/{name}.txt.j2").make_module(
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

    def render(self, draft: Draft, now: datetime) -> EmailMessage:
        draft = third_party_safe(draft)
        context = {"d": draft, "kind": draft.kind}
        text_module = self.env.get_template(f"email/{draft.kind}.txt.j2").make_module(context)
        subject = one_line(str(getattr(text_module, "subject", "")))
        msg = EmailMessage(policy=WIRE)
        msg["From"] = draft.sender.header()
        msg["To"] = draft.recipient.header()
        msg["Subject"] = subject or draft.intro_subject
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = draft.message_id
        refs = [r for r in (*draft.intro_references, draft.intro_message_id) if r][-MAX_REFERENCES:]
        if draft.intro_message_id:
            msg["In-Reply-To"] = draft.intro_message_id
            msg["References"] = " ".join(refs)
        msg["X-Refmail-ID"] = draft.message_id.strip("<>")
        if draft.automatic:
            msg["Auto-Submitted"] = "auto-generated"
        if draft.links.unsubscribe:
            msg["List-Unsubscribe"] = f"<{draft.links.unsubscribe}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(str(text_module).strip() + "\n")
        try:
            html = self.html_env.get_template(f"email/{draft.kind}.html.j2").render(context)
        except TemplateNotFound:
            html = None
        if html:
            msg.add_alternative(html, subtype="html")
        return msg
