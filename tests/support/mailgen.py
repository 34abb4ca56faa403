"""Realistic synthetic mail for benchmarks and scale tests, deterministic for a given seed.

    from tests.support.mailgen import generate, load_dovecot
    messages = list(generate(10_000, seed=1))          # ~17 KB each on average
    load_dovecot(server, "user1", messages)            # straight into the user's Maildir

What a generated mailbox holds (the owner's own INBOX, where refmail reads its plus-address):
- mostly ordinary business mail to the owner (To or Cc), two in five of them replies quoting
  earlier mail, some multipart/alternative, the larger ones with a PDF attached;
- newsletters and notifications (List-Unsubscribe, Precedence: bulk, no-reply senders);
- mail to team aliases the owner is not named on, and copies of the owner's own mail;
- every `intro_every`-th message, an introduction written by the owner, BCC'd to refmail
  (Delivered-To: the refmail address), connecting two people new to the mailbox;
- for each introduction, a reply from one party 3 to 40 messages later (In-Reply-To it).
Sizes run from 2 to ~60 KB and average ~17 KB (`size_scale` shrinks or grows them all).
Ordinary mail avoids introduction wording, so `introductions` is the exact truth to check against.

Closer to a real INBOX (what bench/sync_throughput.py asks for; the defaults keep the mix above):
- `owner_share=0.8`: only that share of the ordinary mail names the owner (To, Cc or From); the
  rest goes to team aliases and lists the owner reads without being named;
- `signatures=True`: business mail signs off with a signature block (name, title, company,
  phone, web) below a "-- " line, as people's mail clients add it;
- `shapes=SHAPES`: introductions of several shapes, each one in turn: the owner introducing two
  people (BCC to refmail), a partner referring a client to the owner, and the owner forwarding
  one person's mail to another to introduce them.
"""

from __future__ import annotations

import base64
import email.utils
import os
import random
import re
import textwrap
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "Aaron Abigail Adrian Aisha Alan Alice Amara Ana Andrew Anika Ben Bianca Brandon Carla "
    "Carlos Chen Chloe Claire Daniel Dana David Deepa Diego Elena Emil Emma Erin Ethan Fatima "
    "Felix Fiona Gabriel Grace Hannah Hiro Ines Isaac Ivan Jack Jana Javier Julia Kai Karen "
    "Kenji Laura Leo Lina Lucas Maya Marco Maria Nadia Nathan Nina Omar Oscar Paula Priya Rafael "
    "Rosa Sam Sara Sofia Tariq Tom Uma Victor Wei Yara Zoe"
)
LAST = _words(
    "Abbott Adeyemi Alvarez Andersen Bauer Becker Brooks Carter Castillo Chen Clarke Costa "
    "Dubois Evans Fischer Fontaine Garcia Gupta Hansen Hughes Ito Jensen Kaur Keller Kim Klein "
    "Kowalski Larsen Lopez Martin Meyer Moreau Murphy Nakamura Novak Okafor Olsen Patel Perez "
    "Quinn Rahman Reyes Rossi Sato Schmidt Silva Singh Sorensen Tanaka Torres Vogel Walsh Weber "
    "Wright Yilmaz Young Zhang"
)
ACCENTED = ("José", "Zoë", "Søren", "Chloé", "Björn", "Łukasz", "Inês", "Müller")
COMPANIES = (
    ("Northwind Logistics", "northwind-logistics.example"),
    ("Bluepeak Analytics", "bluepeak.example"),
    ("Harbor & Pine Legal", "harborpine.example"),
    ("Corvid Software", "corvid.example"),
    ("Meridian Capital", "meridiancap.example"),
    ("Greenline Foods", "greenline.example"),
    ("Atlas Architecture", "atlas-arch.example"),
    ("Sparrow Health", "sparrowhealth.example"),
    ("Quarry Media", "quarrymedia.example"),
    ("Lumen Energy", "lumen-energy.example"),
    ("Fieldstone Partners", "fieldstone.example"),
    ("Kestrel Robotics", "kestrel.example"),
    ("Orchard Retail", "orchardretail.example"),
    ("Tidewater Consulting", "tidewater.example"),
    ("Beacon Insurance", "beacon-ins.example"),
    ("Copperleaf Design", "copperleaf.example"),
)
TOPICS = (
    "Q3 budget review",
    "contract renewal",
    "invoice 4471",
    "onboarding plan",
    "site visit",
    "draft proposal",
    "pricing update",
    "board deck",
    "hiring plan",
    "vendor shortlist",
    "security questionnaire",
    "travel arrangements",
    "project timeline",
    "quarterly report",
    "marketing calendar",
    "office move",
    "data migration",
    "customer feedback",
    "sprint review",
    "audit follow-up",
    "licence terms",
    "warehouse capacity",
    "API rollout",
    "press release",
)
NEWSLETTERS = (
    ("Industry Weekly", "news", "industryweekly.example"),
    ("CloudOps Digest", "newsletter", "cloudops.example"),
    ("Travel Deals", "marketing", "traveldeals.example"),
    ("The Finance Brief", "updates", "financebrief.example"),
)
NOTIFIERS = (
    ("Calendar", "calendar-notification", "calendar.example"),
    ("Tracker", "notifications", "tracker.example"),
    ("Expenses", "no-reply", "expenses.example"),
    ("Storage", "alerts", "drive.example"),
)
ALIASES = ("team", "all-staff", "sales", "ops", "leadership", "eng-announce")
SENTENCES = (
    "Attached is the latest version of the {topic} with the changes we discussed on Tuesday.",
    "Could you take a look at section three before Friday, when the finance team signs off?",
    "The numbers for the northern region came in slightly below forecast this quarter.",
    "We agreed to move the deadline by one week to give legal time to review the terms.",
    "Please note the revised figures in the second table; the totals now include shipping.",
    "I have updated the shared folder with the signed copies and the delivery schedule.",
    "Our supplier confirmed the order, and the first shipment leaves the depot on Monday.",
    "The steering committee asked for a short summary of risks and the mitigation plan.",
    "Let me know if the proposed scope works for you, or if anything needs to be adjusted.",
    "We still need the purchase order number before the invoice can be processed.",
    "The workshop went well overall, and the notes are in the document linked below.",
    "I spoke with the facilities manager, and the meeting room is booked for the whole day.",
    "The pilot ran for six weeks and reduced the average handling time by about twelve percent.",
    "There is a small discrepancy between the two spreadsheets that I am still tracing.",
    "Marketing would like the final copy by Thursday so the campaign can launch on schedule.",
    "The auditors requested three more documents, which I have listed at the end of this note.",
    "For the record, the client approved the revised estimate during yesterday's call.",
    "The server migration is planned for Saturday night, with a rollback window of two hours.",
    "I added a column for the renewal dates so the procurement team can plan ahead.",
    "Travel is booked: the flight lands at 10:40 and the hotel is a short walk from the office.",
    "The draft is fine by me, apart from the wording of the liability clause on page four.",
    "We are waiting on the final headcount before we confirm the catering order.",
    "Two of the three vendors answered the questionnaire; the third asked for an extension.",
    "Please review the attached timeline and flag anything that looks unrealistic.",
    "The dashboard now refreshes every hour instead of once a day, as requested.",
    "Revenue for the month was in line with the plan, while costs were slightly lower.",
    "I moved the review to next Wednesday at two, since several people were travelling.",
    "The contract includes a ninety-day notice period, which matches the previous agreement.",
    "Our team finished the testing phase and logged fourteen minor issues, none of them blocking.",
    "If the budget is approved this week, the work can start at the beginning of next month.",
    "The warehouse reported a stock count that differs from the system by forty units.",
    "Happy to discuss this on the weekly call if that is easier than going back and forth here.",
    "The new policy applies from the first of the month and replaces the interim guidance.",
    "Here are the minutes from the last session, including the action items and their owners.",
    "The slides look good; I would only shorten the background section a little.",
    "Finance confirmed the transfer, so the account should show the payment within two days.",
)
CLOSINGS = ("Best,", "Thanks,", "Kind regards,", "Cheers,", "Regards,", "Many thanks,")
DISCLAIMER = (
    "This message and any attachments are confidential and intended solely for the addressee. "
    "If you received it in error, please notify the sender and delete it."
)
TITLES = ("Account Director", "Operations Lead", "Head of Finance", "Senior Consultant", "CTO")
# The shapes of introduction the generator writes (see MailGenerator.shapes).
SHAPES = ("owner_intro", "referral_to_owner", "forward")
INTRO_ROLES = (
    ("runs a small studio that makes short product videos", "is relaunching her company's site"),
    ("leads the data team at a logistics firm", "is hiring for a new analytics group"),
    ("advises early-stage companies on pricing", "is preparing a new subscription offer"),
    ("built the booking system for two clinic chains", "is looking for a technical partner"),
    ("has spent ten years in commercial real estate", "is searching for a new warehouse"),
    ("is a tax adviser who works with founders", "is opening an office in Europe"),
)


@dataclass(frozen=True)
class Introduction:
    """What a generated introduction says: the truth a sync is checked against."""

    index: int  # position in the generated sequence (0-based)
    message_id: str
    introducer: str
    parties: tuple[str, str]


@dataclass
class MailGenerator:
    """Generates `n` messages; `introductions` fills in as they are produced."""

    n: int
    seed: int
    owner: str = "olivia@example.com"
    refmail: str = "olivia+refmail@example.com"
    intro_every: int = 50
    size_scale: float = 1.0
    owner_share: float | None = None  # share of ordinary mail naming the owner (None: ~92%)
    signatures: bool = False  # business mail ends with a signature block
    shapes: tuple[str, ...] = ("owner_intro",)  # introduction shapes, taken in turn
    introductions: list[Introduction] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.owner_name = "Olivia Owner"
        self.owner_first = self.owner_name.split()[0]
        self.at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        self._pending_replies: list[tuple[int, Introduction, tuple[str, str], str]] = []
        # A pool of wrapped paragraphs, built once: bodies are assembled from it quickly.
        self._paragraphs = [self._paragraph(i) for i in range(240)]

    # ---- the sequence ----------------------------------------------------------------------

    def messages(self) -> Iterator[bytes]:
        for i in range(self.n):
            self.at += timedelta(seconds=self.rng.randint(60, 2400))
            if self.intro_every and (i + 1) % self.intro_every == 0:
                yield self._introduction(i)
            elif self._pending_replies and self._pending_replies[0][0] <= i:
                yield self._intro_reply(i, *self._pending_replies.pop(0)[1:])
            else:
                yield self._ordinary(i)

    def _ordinary(self, i: int) -> bytes:
        roll = self.rng.random()
        if self.owner_share is not None:  # alias mail is the part that does not name the owner
            if roll >= self.owner_share:
                return self._alias_mail(i)
            roll = roll / self.owner_share
            kinds = (self._business, self._newsletter, self._notification, self._owner_copy)
            bounds = (0.62 / 0.92, 0.77 / 0.92, 0.87 / 0.92)
            return kinds[sum(roll >= b for b in bounds)](i)
        if roll < 0.62:
            return self._business(i)
        if roll < 0.77:
            return self._newsletter(i)
        if roll < 0.87:
            return self._notification(i)
        if roll < 0.95:
            return self._alias_mail(i)
        return self._owner_copy(i)

    # ---- people, dates, ids ----------------------------------------------------------------

    def _person(self, unique: str = "") -> tuple[str, str]:
        first = self.rng.choice(FIRST if self.rng.random() > 0.05 else ACCENTED[:4])
        last = self.rng.choice(LAST if self.rng.random() > 0.05 else ACCENTED[4:])
        _, domain = self.rng.choice(COMPANIES)
        local = _ascii(f"{first}.{last}").lower() + unique
        return f"{first} {last}", f"{local}@{domain}"

    def _date(self) -> str:
        offset = self.rng.choice((-480, -300, -240, 0, 0, 60, 60, 120, 330, 540))
        local = self.at.astimezone(timezone(timedelta(minutes=offset)))
        return email.utils.format_datetime(local)

    def _message_id(self, i: int, domain: str) -> str:
        return f"<{self.rng.getrandbits(64):016x}.{self.seed}.{i}@mail.{domain}>"

    def _target_size(self) -> int:
        size = self.rng.lognormvariate(9.55, 0.72)  # median ~14 KB: most mail is small
        return int(min(max(size, 2_000), 56_000) * self.size_scale)

    # ---- bodies ----------------------------------------------------------------------------

    def _paragraph(self, k: int) -> str:
        count = self.rng.randint(2, 5)
        topic = self.rng.choice(TOPICS)
        text = " ".join(self.rng.choice(SENTENCES).format(topic=topic) for _ in range(count))
        return textwrap.fill(text, 76)

    def _text(self, size: int) -> str:
        parts: list[str] = []
        total = 0
        while total < size:
            para = self.rng.choice(self._paragraphs)
            parts.append(para)
            total += len(para) + 2
        return "\n\n".join(parts)

    def _quoted(self, size: int, name: str) -> str:
        when = email.utils.format_datetime(self.at - timedelta(hours=self.rng.randint(2, 90)))
        lines = self._text(size).split("\n")
        return f"On {when}, {name} wrote:\n" + "\n".join("> " + line for line in lines)

    def _letter(
        self,
        greeting: str,
        own: int,
        signer: str,
        quote_from: str = "",
        quoted: int = 0,
        signature: str = "",
    ) -> str:
        text = f"Hi {greeting},\n\n{self._text(own)}\n\n{self.rng.choice(CLOSINGS)}\n{signer}\n"
        if signature:
            text += signature
        if quote_from and quoted > 0:
            text += "\n" + self._quoted(quoted, quote_from) + "\n"
        return text

    def _signature(self, name: str, address: str) -> str:
        """A signature block as a mail client appends it (empty unless `signatures`)."""
        if not self.signatures:
            return ""
        domain = address.split("@")[1]
        company = next((c for c, d in COMPANIES if d == domain), domain)
        phone = f"+44 20 {self.rng.randint(1000, 9999)} {self.rng.randint(1000, 9999)}"
        return (
            f"\n-- \n{name}\n{self.rng.choice(TITLES)}, {company}\n"
            f"T {phone} | https://www.{domain}\n"
        )

    # ---- kinds of mail ---------------------------------------------------------------------

    def _business(self, i: int) -> bytes:
        name, addr = self._person()
        domain = addr.split("@")[1]
        size = self._target_size()
        reply = self.rng.random() < 0.4
        topic = self.rng.choice(TOPICS)
        subject = ("Re: " if reply else "") + topic.capitalize()
        owner_in_cc = self.rng.random() < 0.2
        others = [self._person() for _ in range(self.rng.choice((0, 0, 1, 1, 2)))]
        to = [*others] if owner_in_cc and others else [(self.owner_name, self.owner)]
        cc = [(self.owner_name, self.owner)] if owner_in_cc and others else others
        headers = self._headers(
            delivered=self.owner,
            sender=(name, addr),
            to=to,
            cc=cc,
            subject=subject,
            message_id=self._message_id(i, domain),
        )
        if reply:
            parent = self._message_id(i, "example.com")
            headers.append(f"In-Reply-To: {parent}")
            headers.append(f"References: {self._message_id(i, domain)} {parent}")
        # What people write themselves is short; size comes from history, HTML and attachments.
        own = self._own_size()
        quoted = min(max(size - own, 0), self.rng.randint(1_000, 14_000)) if reply else 0
        body = self._letter(
            self.owner_first,
            own,
            name.split()[0],
            self.owner_name if reply else "",
            quoted,
            self._signature(name, addr),
        )
        alternative = self.rng.random() < 0.45
        so_far = 900 + len(body) * (5 if alternative else 2) // 2
        attach = size - so_far if size - so_far > 2_500 * self.size_scale else 0
        return self._assemble(headers, body, alternative, attach)

    def _own_size(self) -> int:
        return int(
            min(max(self.rng.lognormvariate(7.0, 0.6), 250), 4_000) * min(self.size_scale, 1)
        )

    def _newsletter(self, i: int) -> bytes:
        brand, local, domain = self.rng.choice(NEWSLETTERS)
        size = self._target_size()
        headers = self._headers(
            delivered=self.owner,
            sender=(brand, f"{local}@{domain}"),
            to=[("", self.owner)],
            cc=[],
            subject=f"{brand}: {self.rng.choice(TOPICS)} and more this week",
            message_id=self._message_id(i, domain),
        )
        headers += [
            f"List-Id: {brand} <{local}.{domain}>",
            f"List-Unsubscribe: <https://{domain}/u/{self.rng.getrandbits(40):x}>",
            "Precedence: bulk",
        ]
        body = f"{brand}\n\n{self._text(size * 2 // 7)}\n\nUnsubscribe: https://{domain}/u\n"
        return self._assemble(headers, body, True, 0, markup=4)

    def _notification(self, i: int) -> bytes:
        service, local, domain = self.rng.choice(NOTIFIERS)
        headers = self._headers(
            delivered=self.owner,
            sender=(service, f"{local}@{domain}"),
            to=[("", self.owner)],
            cc=[],
            subject=f"[{service}] Reminder: {self.rng.choice(TOPICS)}",
            message_id=self._message_id(i, domain),
        )
        headers.append("Auto-Submitted: auto-generated")
        text = self._text(max(self._target_size() // 5, int(1_500 * self.size_scale)))
        body = f"This is an automatic reminder.\n\n{text}\n"
        return self._assemble(headers, body, self.rng.random() < 0.5, 0)

    def _alias_mail(self, i: int) -> bytes:
        name, addr = self._person()
        domain = addr.split("@")[1]
        alias = f"{self.rng.choice(ALIASES)}@{self.owner.split('@')[1]}"
        headers = self._headers(
            delivered=self.owner,
            sender=(name, addr),
            to=[("", alias)],
            cc=[],
            subject=f"Update: {self.rng.choice(TOPICS)}",
            message_id=self._message_id(i, domain),
        )
        size = self._target_size()
        body = self._letter(
            "all", self._own_size(), name.split()[0], signature=self._signature(name, addr)
        )
        attach = size - len(body) - 900
        return self._assemble(headers, body, False, attach if attach > 2_000 else 0)

    def _owner_copy(self, i: int) -> bytes:
        name, addr = self._person()
        headers = self._headers(
            delivered=self.owner,
            sender=(self.owner_name, self.owner),
            to=[(name, addr)],
            cc=[],
            subject=f"Re: {self.rng.choice(TOPICS)}",
            message_id=self._message_id(i, "example.com"),
        )
        size, own = self._target_size(), self._own_size()
        body = self._letter(name.split()[0], own, self.owner_first, name, max(size - own - 900, 0))
        return self._assemble(headers, body, False, 0)

    def _introduction(self, i: int) -> bytes:
        shape = self.shapes[len(self.introductions) % len(self.shapes)]
        if shape == "referral_to_owner":
            return self._referral(i)
        if shape == "forward":
            return self._forward_intro(i)
        return self._owner_intro(i)

    def _owner_intro(self, i: int) -> bytes:
        k = len(self.introductions)
        a_name, a_addr = self._person(unique=f".i{k}a")
        b_name, b_addr = self._person(unique=f".i{k}b")
        a_first, b_first = a_name.split()[0], b_name.split()[0]
        b_role, a_role = self.rng.choice(INTRO_ROLES)
        topic = self.rng.choice(TOPICS)
        message_id = self._message_id(i, "mail.example.com")
        headers = self._headers(
            delivered=self.refmail,
            sender=(self.owner_name, self.owner),
            to=[(a_name, a_addr)],
            cc=[(b_name, b_addr)],
            subject=f"Intro: {a_first} <> {b_first} ({topic})",
            message_id=message_id,
        )
        headers.insert(1, f"Return-Path: <{self.owner}>")
        body = (
            f"Hi {a_first},\n\n"
            f"As promised, I'd like to introduce you to {b_name}. {b_first} {b_role}, and "
            f"I think the two of you have a lot in common.\n\n"
            f"{b_first}, {a_first} {a_role} and asked me about the {topic} last week.\n\n"
            "I'll let you two take it from here.\n\n"
            f"{self.owner_first}\n"
        )
        if self.rng.random() < 0.5:  # many people keep the thread that led to the intro
            body += "\n" + self._quoted(self._target_size() // 3, a_name) + "\n"
        intro = Introduction(i, message_id, self.owner, (a_addr, b_addr))
        self.introductions.append(intro)
        due = i + self.rng.randint(3, 40)
        self._pending_replies.append((due, intro, (b_name, b_addr), a_addr))
        self._pending_replies.sort(key=lambda r: r[0])
        return self._assemble(headers, body, self.rng.random() < 0.3, 0)

    def _referral(self, i: int) -> bytes:
        """A partner introduces a new client to the owner (owner in To, the client in Cc)."""
        k = len(self.introductions)
        p_name, p_addr = self._person(unique=f".i{k}p")
        c_name, c_addr = self._person(unique=f".i{k}c")
        c_first, p_first = c_name.split()[0], p_name.split()[0]
        role, _ = self.rng.choice(INTRO_ROLES)
        message_id = self._message_id(i, p_addr.split("@")[1])
        headers = self._headers(
            delivered=self.owner,
            sender=(p_name, p_addr),
            to=[(self.owner_name, self.owner)],
            cc=[(c_name, c_addr)],
            subject=f"Introduction: {self.owner_first}, meet {c_first}",
            message_id=message_id,
        )
        body = (
            f"{self.owner_first}, meet {c_first}.\n\n"
            f"{c_name} {role} and needs someone to help with the "
            f"{self.rng.choice(TOPICS)}. I told {c_first} you are the best I know, so I wanted "
            "to connect you two.\n\n"
            f"Best,\n{p_first}\n" + self._signature(p_name, p_addr)
        )
        intro = Introduction(i, message_id, p_addr, (c_addr, self.owner))
        self._remember(i, intro, (c_name, c_addr), p_addr)
        return self._assemble(headers, body, self.rng.random() < 0.5, 0)

    def _forward_intro(self, i: int) -> bytes:
        """The owner forwards one person's mail to another, to introduce them."""
        k = len(self.introductions)
        a_name, a_addr = self._person(unique=f".i{k}a")
        b_name, b_addr = self._person(unique=f".i{k}b")
        a_first, b_first = a_name.split()[0], b_name.split()[0]
        b_role, _ = self.rng.choice(INTRO_ROLES)
        topic = self.rng.choice(TOPICS)
        message_id = self._message_id(i, "mail.example.com")
        headers = self._headers(
            delivered=self.refmail,
            sender=(self.owner_name, self.owner),
            to=[(a_name, a_addr)],
            cc=[],
            subject=f"Fwd: {topic.capitalize()}",
            message_id=message_id,
        )
        when = email.utils.format_datetime(self.at - timedelta(days=self.rng.randint(1, 9)))
        body = (
            f"Hi {a_first},\n\n"
            f"I'd like to introduce you to {b_name}, whose note is below. {b_first} {b_role}, "
            f"and I think you two should talk about the {topic}.\n\n"
            f"{self.owner_first}\n\n"
            "---------- Forwarded message ---------\n"
            f"From: {_addr((b_name, b_addr))}\nDate: {when}\n"
            f"Subject: {topic.capitalize()}\nTo: {_addr((self.owner_name, self.owner))}\n\n"
            f"Hi {self.owner_first},\n\n{self._text(self._own_size())}\n\n{b_first}\n"
        )
        intro = Introduction(i, message_id, self.owner, (a_addr, b_addr))
        self._remember(i, intro, (a_name, a_addr), b_addr)
        return self._assemble(headers, body, self.rng.random() < 0.3, 0)

    def _remember(self, i: int, intro: Introduction, replier: tuple[str, str], other: str) -> None:
        """Record the truth, and plan one party's reply 3 to 40 messages later."""
        self.introductions.append(intro)
        due = i + self.rng.randint(3, 40)
        self._pending_replies.append((due, intro, replier, other))
        self._pending_replies.sort(key=lambda r: r[0])

    def _intro_reply(
        self, i: int, intro: Introduction, sender: tuple[str, str], other: str
    ) -> bytes:
        name, addr = sender
        headers = self._headers(
            delivered=self.owner,
            sender=sender,
            to=[("", other)],
            cc=[(self.owner_name, self.owner)],
            subject="Re: introduction",
            message_id=self._message_id(i, addr.split("@")[1]),
        )
        headers.append(f"In-Reply-To: {intro.message_id}")
        headers.append(f"References: {intro.message_id}")
        body = (
            f"Thanks {self.owner_first}, moving you to bcc.\n\n"
            "Happy to talk. Does Thursday afternoon work for a short call?\n\n"
            f"{name.split()[0]}\n"
        )
        return self._assemble(headers, body, False, 0)

    # ---- assembly --------------------------------------------------------------------------

    def _headers(
        self,
        *,
        delivered: str,
        sender: tuple[str, str],
        to: list[tuple[str, str]],
        cc: list[tuple[str, str]],
        subject: str,
        message_id: str,
    ) -> list[str]:
        host = sender[1].split("@")[1]
        received = email.utils.format_datetime(self.at)
        headers = [
            f"Delivered-To: {delivered}",
            f"Received: from mail.{host} (mail.{host} [192.0.2.{self.rng.randint(1, 254)}])\r\n"
            f"\tby mx.example.com with ESMTPS id {self.rng.getrandbits(48):x}\r\n"
            f"\tfor <{delivered}>; {received}",
            f"From: {_addr(sender)}",
            "To: " + ", ".join(_addr(p) for p in to),
        ]
        if cc:
            headers.append("Cc: " + ", ".join(_addr(p) for p in cc))
        headers += [
            f"Subject: {subject}",
            f"Date: {self._date()}",
            f"Message-ID: {message_id}",
            "MIME-Version: 1.0",
        ]
        return headers

    def _assemble(
        self, headers: list[str], text: str, alternative: bool, attach: int, markup: int = 1
    ) -> bytes:
        short = int(2_600 * self.size_scale) - len(text) - 1_000
        if short > 0:  # a corporate footer, below the signature line (not the author's words)
            text += "\n-- \n" + textwrap.fill(
                (DISCLAIMER + " ") * (short // len(DISCLAIMER) + 1), 76
            )
        plain = ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        if not alternative and not attach:
            return _crlf("\n".join([*headers, *plain, "", text]))
        parts: list[str] = []
        outer = self._boundary()
        if alternative:
            inner = self._boundary()
            html = _html(text, markup)
            alt = (
                f'Content-Type: multipart/alternative; boundary="{inner}"\n\n'
                f"--{inner}\n" + "\n".join(plain) + f"\n\n{text}\n"
                f"--{inner}\nContent-Type: text/html; charset=utf-8\n"
                f"Content-Transfer-Encoding: 8bit\n\n{html}\n--{inner}--\n"
            )
            if not attach:
                return _crlf("\n".join(headers) + "\n" + alt)
            parts.append(alt)
        else:
            parts.append("\n".join(plain) + f"\n\n{text}\n")
        name = f"{self.rng.choice(TOPICS).replace(' ', '-')}.pdf"
        data = base64.encodebytes(b"%PDF-1.4\n" + self.rng.randbytes(max(attach * 3 // 4, 64)))
        parts.append(
            f'Content-Type: application/pdf; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            f"Content-Transfer-Encoding: base64\n\n{data.decode()}"
        )
        body = "".join(f"--{outer}\n{p}\n" for p in parts) + f"--{outer}--\n"
        head = "\n".join(headers) + f'\nContent-Type: multipart/mixed; boundary="{outer}"\n\n'
        return _crlf(head + body)

    def _boundary(self) -> str:
        return f"=_{self.rng.getrandbits(80):020x}"


def generate(
    n: int,
    seed: int,
    owner: str = "olivia@example.com",
    refmail: str = "olivia+refmail@example.com",
    intro_every: int = 50,
    size_scale: float = 1.0,
) -> Iterator[bytes]:
    """`n` raw RFC 5322 messages (CRLF line ends), the same ones for the same arguments."""
    return MailGenerator(n, seed, owner, refmail, intro_every, size_scale).messages()


def _addr(person: tuple[str, str]) -> str:
    name, addr = person
    return email.utils.formataddr((name, addr), charset="utf-8") if name else addr


def _ascii(text: str) -> str:
    table = str.maketrans("éëøöüïêôÉØÖÜŁłç", "eeoouieoEOOULlc")
    return re.sub(r"[^A-Za-z0-9.]", "", text.translate(table))


def _html(text: str, markup: int = 1) -> str:
    """The text as HTML; `markup` > 1 wraps each paragraph in nested tables, as newsletters do."""
    cell = '<td style="padding:8px 16px;font-family:Arial,Helvetica,sans-serif;color:#333">'
    open_, close = (
        f'<table width="100%"><tr>{cell}' * (markup - 1),
        "</td></tr></table>" * (markup - 1),
    )
    paras = "".join(
        f'{open_}<p style="margin:0 0 12px 0;font-family:Arial,sans-serif;line-height:1.4">'
        f"{p.replace(chr(10), ' ').replace('&', '&amp;').replace('<', '&lt;')}</p>{close}\n"
        for p in text.split("\n\n")
    )
    return (
        '<html><head><meta charset="utf-8"></head><body>\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td>\n'
        f"{paras}</td></tr></table>\n</body></html>"
    )


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


# ---- loading a Dovecot mailbox ---------------------------------------------------------------


def load_dovecot(
    dovecot: Any, user: str, messages: Iterable[bytes], method: str = "maildir"
) -> int:
    """Put `messages` into `user`'s INBOX on a support.dovecot.Dovecot, in order; returns how many.

    method "maildir" (the fastest, and the default) writes the files straight into the user's
    Maildir new/ with names whose timestamps increase, so Dovecot gives them UIDs in order on the
    next SELECT; "append" APPENDs them one by one over one connection; "multiappend" sends them
    in MULTIAPPEND commands of 500.
    """
    if method == "maildir":
        return _write_maildir(dovecot, user, messages)
    client = dovecot.client(user)
    count = 0
    try:
        if method == "append":
            for raw in messages:
                client.append("INBOX", raw)
                count += 1
        elif method == "multiappend":
            chunk: list[bytes] = []
            for raw in messages:
                chunk.append(raw)
                if len(chunk) == 500:
                    client.multiappend("INBOX", chunk)
                    count, chunk = count + len(chunk), []
            if chunk:
                client.multiappend("INBOX", chunk)
                count += len(chunk)
        else:
            raise ValueError(f"unknown load method {method!r}")
    finally:
        client.logout()
    return count


def _write_maildir(dovecot: Any, user: str, messages: Iterable[bytes]) -> int:
    """Deliver into ~user/Maildir/new/ as an MDA would (tmp/ then rename), owned by the mail uid."""
    home_root = Path(dovecot.tmpdir) / "home"
    uid, gid = home_root.stat().st_uid, home_root.stat().st_gid
    home = home_root / user
    maildir = home / "Maildir"
    for path in (home, maildir, maildir / "tmp", maildir / "new", maildir / "cur"):
        path.mkdir(mode=0o700, exist_ok=True)
        _chown(path, uid, gid)
    as_root = os.geteuid() == 0 and uid != os.geteuid()
    start = int(time.time()) - 10_000_000  # in the past, one second apart: UID order = our order
    host = "refmail-bench"
    count = 0
    for i, raw in enumerate(messages):
        name = f"{start + i}.M{i % 1_000_000}P{os.getpid()}Q{i}.{host},S={len(raw)},W={len(raw)}"
        tmp = maildir / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(raw)
            if as_root:
                os.fchown(handle.fileno(), uid, gid)
        os.utime(tmp, (start + i, start + i))
        os.rename(tmp, maildir / "new" / name)
        count += 1
    return count


def _chown(path: Path, uid: int, gid: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
