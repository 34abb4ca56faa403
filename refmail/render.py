"""Renders follow-ups from Jinja2 templates into complete RFC 5322 messages.

Templates live in refmail/templates/email/<kind>.txt.j2 (and .html.j2); a file of the same name
in the user's template directory wins. The subject is the template's `{% set subject %}` block.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from importlib import resources

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from refmail import kinds

MAX_REFERENCES = 20


@dataclass(frozen=True)
class Person:
    """Someone a template can name."""

    email: str
    name: str = ""
    organisation: str = ""
    phone: str = ""

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
        return self.name or self.email

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
        return kinds.get(self.for_kind or kinds.CALL_TASK).call_reason

    @property
    def others(self) -> tuple[Person, ...]:
        """The parties other than the recipient: whom this message is about."""
        return tuple(p for p in self.parties if p.email != self.recipient.email)


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
        msg = EmailMessage(policy=email.policy.SMTP)
        msg["From"] = sender.header()
        msg["To"] = recipient.header()
        msg["Subject"] = " ".join(str(getattr(module, "subject", name)).split())
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = message_id
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Refmail-ID"] = message_id.strip("<>")
        msg.set_content(str(module).strip() + "\n")
        return msg

    def render(self, draft: Draft, now: datetime) -> EmailMessage:
        context = {"d": draft, "kind": draft.kind}
        text_module = self.env.get_template(f"email/{draft.kind}.txt.j2").make_module(context)
        subject = " ".join(str(getattr(text_module, "subject", "")).split())
        msg = EmailMessage(policy=email.policy.SMTP)
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
