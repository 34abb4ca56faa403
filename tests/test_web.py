"""The recipient pages over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL.

RFC 8058 one-click, GETs that change nothing, tokens that must not work, CSRF, the change log,
the outbox, and the "email me my link" form against a real SMTP sink (aiosmtpd).
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail.config import FollowUps, SmtpSettings
from refmail.db import SessionFactory
from refmail.maildir import MaildirSource
from refmail.render import Person, Renderer
from refmail.smtp import send
from refmail.sync import sync_account
from refmail.tokens import LinkBuilder, Tokens
from refmail.web import RateLimit, WebContext
from tests.support.maildirs import CLOCK, account, fill, intro
from tests.support.web import KEYS, ONE_CLICK, Sink, running_sink
from tests.support.webserver import serve

pytestmark = pytest.mark.integration


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str


def call(method: str, url: str, body: bytes = b"", content_type: str = "") -> Reply:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Content-Type": content_type} if content_type else {}
    conn.request(method, parts.path, body=body or None, headers=headers)
    response = conn.getresponse()
    reply = Reply(
        response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    )
    conn.close()
    return reply


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "----refmailtestboundary"
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        + f"--{boundary}--\r\n"
    )
    return body.encode(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    with running_sink() as pair:
        yield pair


@dataclass
class Site:
    url: str
    factory: SessionFactory
    links: LinkBuilder

    def contact(self, address: str) -> m.Contact:
        with self.factory() as session:
            return session.scalars(select(m.Contact).where(m.Contact.email == address)).one()

    def open_follow_ups(self, address: str) -> int:
        with self.factory() as session:
            contact = session.scalars(select(m.Contact).where(m.Contact.email == address)).one()
            return sum(
                1
                for f in session.scalars(
                    select(m.FollowUp).where(m.FollowUp.contact_id == contact.id)
                )
                if f.state in m.OPEN_STATES
            )

    def changes(self, address: str) -> list[tuple[str, str, str]]:
        with self.factory() as session:
            contact = session.scalars(select(m.Contact).where(m.Contact.email == address)).one()
            return [
                (c.source, c.field, c.new_value)
                for c in session.scalars(
                    select(m.ContactChange).where(m.ContactChange.contact_id == contact.id)
                )
            ]


@pytest.fixture
def site(factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]) -> Iterator[Site]:
    fill(tmp_path / "md", [intro(1)])
    sync_account(
        factory,
        account(tmp_path / "md"),
        MaildirSource(tmp_path / "md"),
        ("INBOX",),
        FollowUps(),
        CLOCK,
    )
    tokens = Tokens(KEYS)
    _, port = smtp_sink
    smtp_settings = SmtpSettings(host="127.0.0.1", port=port, tls="none")
    renderer = Renderer()
    owner = Person("olivia@example.com", "Olivia Owner")

    def mailer(address: str, url: str) -> None:
        note = renderer.note("preferences_link", owner, Person(address), CLOCK(), "<t@x>", url=url)
        send(smtp_settings, note, owner.email, [address])

    context = WebContext(
        factory,
        tokens,
        LinkBuilder("http://placeholder", tokens),
        owner_name="Olivia Owner",
        mailer=mailer,
    )
    with serve(context) as url:
        context.links = LinkBuilder(url, tokens)
        yield Site(url, factory, context.links)


def test_one_click_post_unsubscribes_at_once_and_idempotently(site: Site) -> None:
    who = site.contact("a1@example.org")
    url = site.links.unsubscribe(who.public_id)
    assert site.open_follow_ups("a1@example.org") == 2
    reply = call("POST", url, ONE_CLICK, "application/x-www-form-urlencoded")
    assert reply.status == 200 and "location" not in reply.headers
    assert "You are unsubscribed" in reply.text
    assert site.contact("a1@example.org").opted_out_at is not None
    assert site.open_follow_ups("a1@example.org") == 0
    again = call("POST", url, ONE_CLICK, "application/x-www-form-urlencoded")
    assert again.status == 200
    assert [c for c in site.changes("a1@example.org") if c[1] == "opted_out_at"] == [
        ("recipient", "opted_out_at", site.changes("a1@example.org")[-1][2])
    ]
    assert site.contact("b1@example.net").opted_out_at is None  # nobody else


def test_one_click_accepts_multipart(site: Site) -> None:
    body, ctype = multipart({"List-Unsubscribe": "One-Click"})
    url = site.links.unsubscribe(site.contact("b1@example.net").public_id)
    assert call("POST", url, body, ctype).status == 200
    assert site.contact("b1@example.net").opted_out_at is not None


def test_get_changes_nothing_and_offers_one_button(site: Site) -> None:
    url = site.links.unsubscribe(site.contact("a1@example.org").public_id)
    for _ in range(3):
        reply = call("GET", url)
        assert reply.status == 200
        assert len(re.findall(r"<button", reply.text)) == 1
        assert 'name="List-Unsubscribe" value="One-Click"' in reply.text
    assert site.contact("a1@example.org").opted_out_at is None
    assert site.open_follow_ups("a1@example.org") == 2
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in reply.headers["content-security-policy"]


def test_bad_tokens_change_nothing(site: Site) -> None:
    alice, bob = site.contact("a1@example.org"), site.contact("b1@example.net")
    good = site.links.unsubscribe(alice.public_id)
    sig = good.rsplit(".", 1)[1]
    candidates = [
        good[:-3],  # truncated
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # tampered
        f"{site.url}/u/{bob.public_id}.{sig}",  # another contact's id with this signature
        site.links.preferences(alice.public_id).replace("/p/", "/u/"),  # swapped purpose
        f"{site.url}/u/{alice.id}",  # a row number
        f"{site.url}/u/{alice.email}",  # a raw address
        f"{site.url}/u/{Tokens(['another-key-0123456789']).make(alice.public_id, 'unsubscribe')}",
    ]
    for url in candidates:
        reply = call("POST", url, ONE_CLICK, "application/x-www-form-urlencoded")
        assert reply.status == 404, url
        assert "Nothing was changed" in reply.text
    assert site.contact("a1@example.org").opted_out_at is None
    assert site.contact("b1@example.net").opted_out_at is None
    assert site.open_follow_ups("a1@example.org") == 2


def test_post_without_the_one_click_field_changes_nothing(site: Site) -> None:
    url = site.links.unsubscribe(site.contact("a1@example.org").public_id)
    assert (
        call("POST", url, b"List-Unsubscribe=Yes", "application/x-www-form-urlencoded").status
        == 400
    )
    assert site.contact("a1@example.org").opted_out_at is None


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_preferences_are_saved_logged_and_applied(site: Site) -> None:
    url = site.links.preferences(site.contact("a1@example.org").public_id)
    page = call("GET", url)
    assert page.status == 200 and 'value="normal" checked' in page.text
    fields = {
        "form_token": form_token(page.text),
        "level": "reduced",
        "channel": "phone",
        "phone": "+1 555 0100",
        "paused_until": "2031-03-01",
        "timezone": "Europe/Berlin",
    }
    saved = call("POST", url, urlencode(fields).encode(), "application/x-www-form-urlencoded")
    assert saved.status == 200 and "+1 555 0100</span> instead" in saved.text
    assert "Nothing before 2031-03-01" in saved.text
    contact = site.contact("a1@example.org")
    assert (contact.level, contact.channel, contact.phone, contact.timezone) == (
        "reduced",
        "phone",
        "+1 555 0100",
        "Europe/Berlin",
    )
    assert {(s, f) for s, f, _ in site.changes("a1@example.org")} >= {
        ("recipient", "level"),
        ("recipient", "channel"),
        ("recipient", "paused_until"),
    }
    with site.factory() as session:  # the pause reschedules what was planned, at once
        rows = session.scalars(select(m.FollowUp).where(m.FollowUp.contact_id == contact.id)).all()
        assert all(r.state == "deferred" and r.due_at.year == 2031 for r in rows)


def test_preferences_need_the_form_token(site: Site) -> None:
    url = site.links.preferences(site.contact("a1@example.org").public_id)
    forged = call(
        "POST",
        url,
        urlencode({"level": "none", "channel": "email"}).encode(),
        "application/x-www-form-urlencoded",
    )
    assert forged.status == 400
    other = form_token(
        call("GET", site.links.preferences(site.contact("b1@example.net").public_id)).text
    )
    reused = call(
        "POST",
        url,
        urlencode({"form_token": other, "level": "none", "channel": "email"}).encode(),
        "application/x-www-form-urlencoded",
    )
    assert reused.status == 400
    assert site.contact("a1@example.org").level == "normal"


def test_invalid_preferences_are_explained_not_saved(site: Site) -> None:
    url = site.links.preferences(site.contact("a1@example.org").public_id)
    token = form_token(call("GET", url).text)
    reply = call(
        "POST",
        url,
        urlencode(
            {"form_token": token, "level": "normal", "channel": "phone", "phone": ""}
        ).encode(),
        "application/x-www-form-urlencoded",
    )
    assert reply.status == 400 and "Give a phone number" in reply.text
    assert site.contact("a1@example.org").channel == "email"


def test_link_request_sends_a_working_link_and_answers_the_same_for_strangers(
    site: Site, smtp_sink: tuple[Sink, int]
) -> None:
    sink, _ = smtp_sink
    known = call(
        "POST", f"{site.url}/p", b"email=A1%40Example.org", "application/x-www-form-urlencoded"
    )
    stranger = call(
        "POST", f"{site.url}/p", b"email=nobody%40example.org", "application/x-www-form-urlencoded"
    )
    assert known.status == stranger.status == 200
    assert known.text == stranger.text
    deadline = time.monotonic() + 10
    while not sink.messages and time.monotonic() < deadline:
        time.sleep(0.02)  # the page answers at once; a worker sends
    time.sleep(0.2)
    assert len(sink.messages) == 1
    sent = sink.messages[0]
    assert sent["To"] == "a1@example.org" and sent["Auto-Submitted"] == "auto-generated"
    link = re.search(r"http://\S+/p/\S+", sent.get_payload(decode=True).decode())
    assert link is not None
    assert 'name="form_token"' in call("GET", link.group(0)).text


def test_link_requests_are_rate_limited() -> None:
    limit = RateLimit(2, 60, clock=lambda: 0.0)
    assert limit.allow("x") and limit.allow("x") and not limit.allow("x")
    assert limit.allow("y")
    later = RateLimit(1, 60, clock=iter([0.0, 61.0]).__next__)
    assert later.allow("x") and later.allow("x")


def test_healthz(site: Site) -> None:
    assert call("GET", f"{site.url}/healthz").text == "ok\n"
