"""The pages against abuse, over real HTTP (uvicorn on loopback) with a real SMTP sink.

HEAD changes nothing; "email me my link" answers known and unknown addresses in the same time,
holds its rate limits against rotated X-Forwarded-For headers and address variants, and spends
the account's max_per_hour; /metrics and /healthz answer only configured addresses or a token.
"""

from __future__ import annotations

import http.client
import ipaddress
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail.config import FollowUps, SmtpSettings
from refmail.db import SessionFactory
from refmail.linkmail import SendBudget
from refmail.maildir import MaildirSource
from refmail.metrics import Metrics
from refmail.render import Person, Renderer
from refmail.smtp import send
from refmail.sync import sync_account
from refmail.tokens import LinkBuilder, Tokens
from refmail.web import Guard, RateLimit, WebContext
from tests.support.maildirs import CLOCK, account, fill, intro
from tests.support.web import KEYS, ONE_CLICK, Sink, running_sink
from tests.support.webserver import serve

pytestmark = pytest.mark.integration
FORM = "application/x-www-form-urlencoded"
KNOWN = "a1@example.org"


def call(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, parts.path, body=body or None, headers=headers or {})
    response = conn.getresponse()
    status, text = response.status, response.read().decode()
    conn.close()
    return status, text


def ask_link(url: str, address: str, forwarded: str = "") -> int:
    headers = {"Content-Type": FORM}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    return call("POST", f"{url}/p", urlencode({"email": address}).encode(), headers)[0]


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    with running_sink() as pair:
        yield pair


@contextmanager
def site(
    factory: SessionFactory, tmp_path: Path, smtp_port: int, **changes: object
) -> Iterator[tuple[str, WebContext]]:
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
    smtp_settings = SmtpSettings(host="127.0.0.1", port=smtp_port, tls="none")
    renderer = Renderer()
    owner = Person("olivia@example.com", "Olivia Owner")

    def mailer(address: str, url: str) -> None:
        note = renderer.note("preferences_link", owner, Person(address), CLOCK(), "<t@x>", url=url)
        send(smtp_settings, note, owner.email, [address])

    context = WebContext(factory, tokens, LinkBuilder("http://placeholder", tokens), mailer=mailer)
    context = replace(context, **changes)  # type: ignore[arg-type]
    with serve(context) as url:
        context.links = LinkBuilder(url, tokens)
        yield url, context


def settle(sink: Sink, seconds: float = 0.5) -> int:
    """Mail the worker sends arrives shortly after the answer: wait for it to stop arriving."""
    count, quiet_since = len(sink.messages), time.monotonic()
    while time.monotonic() - quiet_since < seconds:
        time.sleep(0.05)
        if len(sink.messages) != count:
            count, quiet_since = len(sink.messages), time.monotonic()
    return count


def trusting(proxy: str = "127.0.0.1/32") -> Guard:
    return Guard(trusted_proxies=(ipaddress.ip_network(proxy),))


# --- HEAD ------------------------------------------------------------------------------------


def test_head_changes_nothing(
    factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]
) -> None:
    sink, port = smtp_sink
    with site(factory, tmp_path, port) as (url, ctx):
        with factory() as s:
            contact = s.scalars(select(m.Contact).where(m.Contact.email == KNOWN)).one()
        unsubscribe = ctx.links.unsubscribe(contact.public_id)
        preferences = ctx.links.preferences(contact.public_id)
        form = urlencode(
            {
                "level": "none",
                "channel": "phone",
                "phone": "+1 555",
                "form_token": ctx.tokens.form_token(contact.public_id),
            }
        ).encode()
        assert call("HEAD", unsubscribe, ONE_CLICK, {"Content-Type": FORM})[0] == 200
        assert call("HEAD", preferences, form, {"Content-Type": FORM})[0] == 200
        call("HEAD", f"{url}/p", urlencode({"email": KNOWN}).encode(), {"Content-Type": FORM})
        for method in ("PUT", "DELETE", "PATCH"):
            assert call(method, unsubscribe, ONE_CLICK, {"Content-Type": FORM})[0] == 405
        assert settle(sink) == 0
        with factory() as s:
            after = s.scalars(select(m.Contact).where(m.Contact.email == KNOWN)).one()
            assert (after.opted_out_at, after.level, after.channel) == (None, "normal", "email")
            assert not s.scalars(
                select(m.ContactChange).where(m.ContactChange.source == "recipient")
            ).all()
        # The same POST does change it: the HEAD was refused, not the request.
        assert call("POST", unsubscribe, ONE_CLICK, {"Content-Type": FORM})[0] == 200
        with factory() as s:
            done = s.scalars(select(m.Contact).where(m.Contact.email == KNOWN)).one()
            assert done.opted_out_at is not None


# --- /p: timing ------------------------------------------------------------------------------


@pytest.mark.alone
def test_known_and_unknown_addresses_answer_in_the_same_time(
    factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]
) -> None:
    sink, port = smtp_sink
    roomy = {"per_ip": RateLimit(10**6, 600), "per_address": RateLimit(10**6, 600)}
    with site(factory, tmp_path, port, **roomy) as (url, _ctx):
        for _ in range(10):  # warm up both paths
            ask_link(url, KNOWN), ask_link(url, "nobody@example.org")
        known, unknown = [], []
        for i in range(100):
            for address, times in ((KNOWN, known), (f"nobody{i}@example.org", unknown)):
                start = time.perf_counter()
                assert ask_link(url, address) == 200
                times.append(time.perf_counter() - start)
        settle(sink, 1.0)  # keep the site up until every queued send is done
    k, u = statistics.median(known), statistics.median(unknown)
    # Before the queue, a known address took ~50x longer (an SMTP send in the request).
    assert abs(k - u) < max(0.002, 0.25 * min(k, u)), (k, u)
    assert len(sink.messages) >= 100  # the known address really was mailed, every time


# --- /p: rate limits -------------------------------------------------------------------------


def test_rotated_forwarded_for_does_not_pass_the_per_client_limit(
    factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]
) -> None:
    _, port = smtp_sink
    with site(factory, tmp_path, port) as (url, _ctx):  # no trusted proxy: the header is ignored
        codes = [ask_link(url, f"x{i}@example.org", f"198.51.100.{i}") for i in range(8)]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}


def test_behind_a_trusted_proxy_only_its_own_entry_counts(
    factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]
) -> None:
    _, port = smtp_sink
    with site(factory, tmp_path, port, guard=trusting()) as (url, _ctx):
        # The client prepends made-up hops; the proxy appends the address it saw.
        spoofed = [
            ask_link(url, f"x{i}@example.org", f"10.9.9.{i}, 198.51.100.7") for i in range(8)
        ]
        other_client = ask_link(url, "y@example.org", "198.51.100.8")
    assert spoofed[:5] == [200] * 5 and set(spoofed[5:]) == {429}
    assert other_client == 200


def test_address_variants_share_one_limit(
    factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]
) -> None:
    sink, port = smtp_sink
    variants = [
        KNOWN,
        "<a1@example.org>",
        "A1@Example.ORG",
        "  a1@example.org  ",
        "<A1@EXAMPLE.ORG>",
        "a1@example.org.",
    ]
    with site(factory, tmp_path, port, guard=trusting()) as (url, _ctx):
        codes = [ask_link(url, v, f"203.0.113.{i}") for i, v in enumerate(variants)]
        sent = settle(sink)
    assert codes[:3] == [200] * 3 and set(codes[3:]) <= {429, 200}
    assert sent == 3  # the 3-a-day limit, whatever the spelling
    assert all(msg["To"] == KNOWN for msg in sink.messages)


def test_link_mails_spend_the_accounts_max_per_hour(
    factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]
) -> None:
    sink, port = smtp_sink
    budget = SendBudget(factory, "t", per_hour=2, clock=CLOCK)
    roomy = {"per_address": RateLimit(100, 600), "budget": budget, "guard": trusting()}
    with site(factory, tmp_path, port, **roomy) as (url, _ctx):
        codes = [ask_link(url, KNOWN, f"203.0.113.{i}") for i in range(5)]
        sent = settle(sink)
    assert codes == [200] * 5
    assert sent == 2


# --- /metrics and /healthz --------------------------------------------------------------------


def test_monitoring_only_from_configured_addresses_or_with_the_token(
    factory: SessionFactory, tmp_path: Path, smtp_sink: tuple[Sink, int]
) -> None:
    _, port = smtp_sink
    metrics = Metrics()
    with site(factory, tmp_path, port, metrics=metrics) as (url, _ctx):
        assert call("GET", f"{url}/healthz")[0] == 200  # loopback is allowed by default
        assert call("GET", f"{url}/metrics")[0] == 200
    closed = Guard(monitor_from=(), metrics_token="t0ken-for-prometheus")
    with site(factory, tmp_path / "2", port, metrics=metrics, guard=closed) as (url, _ctx):
        for path in ("/healthz", "/metrics"):
            assert call("GET", f"{url}{path}")[0] == 404
            assert call("GET", f"{url}{path}", headers={"Authorization": "Bearer nope"})[0] == 404
            assert call("HEAD", f"{url}{path}")[0] == 404
            ok = {"Authorization": "Bearer t0ken-for-prometheus"}
            assert call("GET", f"{url}{path}", headers=ok)[0] == 200
    spoof = Guard(monitor_from=(ipaddress.ip_network("10.0.0.0/8"),))
    with site(factory, tmp_path / "3", port, metrics=metrics, guard=spoof) as (url, _ctx):
        # X-Forwarded-For from an untrusted peer cannot claim an allowed address.
        assert call("GET", f"{url}/metrics", headers={"X-Forwarded-For": "10.1.2.3"})[0] == 404
