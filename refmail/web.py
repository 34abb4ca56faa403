"""The recipient pages: one-click unsubscribe (RFC 8058) and a small preference page.

A Starlette app; `refmail web` serves it with uvicorn. Links carry signed tokens (refmail.tokens);
a GET or HEAD never changes anything (link scanners prefetch), a POST with the token does. The
"email me my link" form answers at once and alike for any address (refmail.linkmail sends), and
is rate-limited by the normalised address and by the client address the configured proxies vouch
for; /metrics and /healthz answer only configured addresses or a bearer token. Every change
is logged on the contact with source "recipient" and applied to the outbox in the same
transaction. No account, no cookies, no external resources, no tracking.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, Float, bindparam, delete, func, insert, select, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from refmail import contacts, tables
from refmail import models as m
from refmail.clock import Clock, system_clock
from refmail.config import Web
from refmail.db import (
    SessionFactory,
    autocommitting,
    engine_of,
    reconnecting,
    transaction,
    writing,
)
from refmail.errors import RefmailError
from refmail.linkmail import LinkMailer, LinkQueue, SendBudget
from refmail.metrics import Metrics
from refmail.parse import normalise_address
from refmail.tokens import LinkBuilder, Tokens

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the URL carries a token
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
ONE_CLICK = ("List-Unsubscribe", "One-Click")
PER_IP = (5, 600)  # link requests per client address per 10 minutes
PER_ADDRESS = (3, 86400)  # and per address asked for, per day
ZONES = [
    *sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV"))),
    "UTC",  # an owner's default, and some people's choice
]


@dataclass
class RateLimit:
    """At most `count` events per key in a sliding `seconds` window (in memory, per process)."""

    count: int
    seconds: float
    clock: Callable[[], float] = time.monotonic
    _events: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def allow(self, key: str) -> bool:
        now = self.clock()
        events = self._events[key]
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if len(events) >= self.count:
            return False
        events.append(now)
        return True


class Limiter(Protocol):
    """What the link form asks of a rate limit."""

    def allow(self, key: str) -> bool: ...


_RATE = tables.rate_event
_SINCE = bindparam("p_since", type_=Float())
_RATE_KEY = (_RATE.c.bucket == bindparam("p_bucket")) & (_RATE.c.key == bindparam("p_key"))
_RATE_FORGET = delete(_RATE).where(_RATE_KEY, _RATE.c.at <= _SINCE)
_RATE_COUNT = select(func.count()).select_from(_RATE).where(_RATE_KEY)
_RATE_ADD = insert(_RATE)
_RATE_PRUNE = delete(_RATE).where(_RATE.c.bucket == bindparam("p_bucket"), _RATE.c.at <= _SINCE)


@dataclass
class SharedRateLimit:
    """RateLimit's sliding window counted in the database (table rate_event), so that several
    `refmail web` workers share it: a client cannot multiply its allowance by the number of
    processes. Keys are stored as digests (no address at rest); one key's check-and-count is
    serialised (an advisory transaction lock on PostgreSQL, SQLite's write lock)."""

    engine: Engine
    bucket: str  # which limit: "ip", "address"
    count: int
    seconds: float
    clock: Callable[[], float] = time.time  # wall clock: shared by processes
    prune_every: int = 100  # every this many counted events, drop the whole bucket's old ones
    _counted: int = 0

    def allow(self, key: str) -> bool:
        now = self.clock()
        digest = hashlib.sha256(f"{self.bucket}\0{key}".encode()).hexdigest()
        values = {"p_bucket": self.bucket, "p_key": digest, "p_since": now - self.seconds}
        with writing(self.engine) as connection:
            if connection.dialect.name == "postgresql":
                lock = int(digest[:15], 16)  # < 2**63: a bigint
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
            connection.execute(_RATE_FORGET, values)
            if (connection.scalar(_RATE_COUNT, values) or 0) >= self.count:
                return False
            connection.execute(_RATE_ADD, {"bucket": self.bucket, "key": digest, "at": now})
            self._counted += 1
            if self._counted % self.prune_every == 0:
                connection.execute(_RATE_PRUNE, values)
        return True


def rate_limits(web: Web, factory: SessionFactory, workers: int = 1) -> tuple[Limiter, Limiter]:
    """The link form's limits (per client address, per asked-for address) as [web] rate_limit
    says: "memory" (one process), "database" (shared), "auto" (shared when several workers)."""
    shared = web.rate_limit == "database" or (web.rate_limit == "auto" and workers > 1)
    if not shared:
        return RateLimit(*PER_IP), RateLimit(*PER_ADDRESS)
    engine = engine_of(factory)
    return SharedRateLimit(engine, "ip", *PER_IP), SharedRateLimit(engine, "address", *PER_ADDRESS)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Guard:
    """Whose word the pages take for the client's address, and who may read /metrics."""

    trusted_proxies: tuple[Network, ...] = ()
    monitor_from: tuple[Network, ...] = (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    metrics_token: str = ""

    def client(self, request: Request) -> str:
        """The peer's address; behind a trusted proxy, the nearest address in X-Forwarded-For
        that is not itself a trusted proxy (entries to its left are the client's own claims)."""
        peer = request.client.host if request.client else ""
        if not _within(peer, self.trusted_proxies):
            return peer
        hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
        for hop in reversed(hops):
            if not _within(hop, self.trusted_proxies):
                return hop if _is_ip(hop) else peer
        return peer

    def may_monitor(self, request: Request) -> bool:
        if _within(self.client(request), self.monitor_from):
            return True
        given = request.headers.get("authorization", "")
        expected = f"Bearer {self.metrics_token}"
        return bool(self.metrics_token) and hmac.compare_digest(given.encode(), expected.encode())


def guard_for(web: Web) -> Guard:
    """The guard a [web] table describes (the token read from its environment variable)."""
    return Guard(
        tuple(ipaddress.ip_network(n, strict=False) for n in web.trusted_proxies),
        tuple(ipaddress.ip_network(n, strict=False) for n in web.monitor_from),
        os.environ.get(web.metrics_token_env, "") if web.metrics_token_env else "",
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def address_key(raw: str) -> str:
    """The form's address as the rate limit counts it: `<Dan@X>`, `dan@x ` are one address."""
    return normalise_address(raw) or " ".join(raw.lower().split())[:320]


@dataclass
class WebContext:
    """What the pages need; built by the CLI (the composition root)."""

    factory: SessionFactory
    tokens: Tokens
    links: LinkBuilder
    owner_name: str = ""
    owner_zone: str = "UTC"  # the zone guessed for a contact whose mail says nothing else
    templates: str = ""
    mailer: LinkMailer | None = None
    clock: Clock = system_clock
    metrics: Metrics | None = None  # served at /metrics when the daemon hands them over
    per_ip: Limiter = field(default_factory=lambda: RateLimit(*PER_IP))
    per_address: Limiter = field(default_factory=lambda: RateLimit(*PER_ADDRESS))
    guard: Guard = field(default_factory=Guard)
    budget: SendBudget | None = None  # the sending account's max_per_hour


PAGES = ("error", "preferences", "request_link", "saved", "unsubscribe")


def create_app(ctx: WebContext) -> Starlette:
    """The pages' app. What does not change between requests is built here, once: the
    templates (compiled, never re-read), the engine and the SQLite write lock. Database work
    is retried once when its pooled connection turns out dead (`refmail web` pings none)."""
    env = _environment(ctx.templates)
    templates = {name: env.get_template(f"web/{name}.html.j2") for name in PAGES}
    engine = engine_of(ctx.factory)
    write_lock = _writing(ctx)
    # contacts.opt_out_by_public_id is one statement on PostgreSQL: no BEGIN and COMMIT needed
    one_statement = autocommitting(engine) if engine.dialect.name == "postgresql" else None
    link_queue = LinkQueue(
        ctx.factory, ctx.mailer, lambda public_id: ctx.links.preferences(public_id), ctx.budget
    )

    def page(name: str, status: int = 200, **values: object) -> HTMLResponse:
        html = templates[name].render(
            owner=ctx.owner_name, can_mail=ctx.mailer is not None, **values
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def not_found() -> HTMLResponse:
        return page(
            "error",
            404,
            title="Link not recognised",
            message="This link is not valid. If you copied it, check that it is complete.",
        )

    def not_asked() -> HTMLResponse:
        return page(
            "error",
            400,
            title="Nothing changed",
            message="The request did not ask to unsubscribe.",
        )

    def opt_out(public_id: str) -> contacts.OptedOut | None:
        """On PostgreSQL one statement, committed as it ends (one round trip); elsewhere a few
        prebuilt statements in one short transaction."""
        if one_statement is not None:
            with one_statement.connect() as connection:
                return contacts.opt_out_by_public_id(
                    connection, public_id, "recipient", ctx.clock()
                )
        with write_lock, writing(engine) as connection:
            return contacts.opt_out_by_public_id(connection, public_id, "recipient", ctx.clock())

    def one_click(public_id: str) -> str | None:
        """The RFC 8058 POST."""
        done = reconnecting(lambda: opt_out(public_id))
        if done is None:
            return None
        log.info(
            "contact %s unsubscribed (%d follow-ups cancelled)", done.contact_id, done.cancelled
        )
        return done.email

    async def unsubscribe(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method != "POST":  # GET, HEAD: never a change, scanners prefetch links
            view = await run_in_threadpool(_contact_view, ctx, token, "unsubscribe")
            if view is None:
                return not_found()
            return page("unsubscribe", done=view.opted_out, view=view, one_click=ONE_CLICK)
        public_id = ctx.tokens.read(token, "unsubscribe")
        if public_id is None:
            return not_found()
        form = await request.form()
        if form.get(ONE_CLICK[0]) != ONE_CLICK[1]:  # rare: a 404 still wins for a gone contact
            view = await run_in_threadpool(_contact_view, ctx, token, "unsubscribe")
            return not_found() if view is None else not_asked()
        email = await run_in_threadpool(one_click, public_id)
        if email is None:
            return not_found()
        return page("unsubscribe", done=True, view={"email": email}, one_click=ONE_CLICK)

    async def preferences(request: Request) -> Response:
        token = request.path_params["token"]
        view = await run_in_threadpool(_contact_view, ctx, token, "preferences")
        if view is None:
            return not_found()
        if request.method != "POST":  # HEAD and GET never change anything
            return page("preferences", 200, **_preference_page(ctx, view))
        form = await request.form()
        if not ctx.tokens.form_token_ok(str(form.get("form_token", "")), view.public_id):
            return page(
                "error",
                400,
                title="Nothing changed",
                message="This form has expired. Open the link from your email again.",
            )
        try:
            values, resubscribe = _preference_values(form)
        except RefmailError as exc:
            values = _preference_page(ctx, _as_submitted(view, form))
            return page("preferences", 400, error=str(exc), **values)
        updated = await run_in_threadpool(
            _save_preferences, ctx, view.public_id, values, resubscribe
        )
        return page("saved", view=updated)

    async def request_link(request: Request) -> Response:
        if request.method != "POST" or ctx.mailer is None:  # no mailer: no form to post
            return page("request_link", sent=False)
        form = await request.form()
        address = address_key(str(form.get("email", "")))
        client = ctx.guard.client(request) or "unknown"
        if not await _allowed(ctx.per_ip, client) or not await _allowed(ctx.per_address, address):
            return page("request_link", 429, sent=False, limited=True)
        link_queue.submit(address)  # looked up and sent by the worker: no timing to read
        return page("request_link", sent=True)  # the same answer, known address or not

    def hidden() -> Response:
        return PlainTextResponse("not found\n", status_code=404, headers=SECURITY_HEADERS)

    async def healthz(request: Request) -> Response:
        if not ctx.guard.may_monitor(request):
            return hidden()
        return PlainTextResponse("ok\n", headers=SECURITY_HEADERS)

    async def metrics(request: Request) -> Response:
        if not ctx.guard.may_monitor(request):
            return hidden()
        if ctx.metrics is None:
            return PlainTextResponse("no metrics here\n", status_code=404)
        text = await run_in_threadpool(ctx.metrics.render, ctx.factory)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            Route("/u/{token}", unsubscribe, methods=["GET", "POST"]),
            Route("/p/{token}", preferences, methods=["GET", "POST"]),
            Route("/p", request_link, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
        ]
    )
    app.state.link_queue = link_queue
    return app


async def _allowed(limit: Limiter, key: str) -> bool:
    """Counted in memory at once; in the database from the threadpool."""
    if isinstance(limit, RateLimit):
        return limit.allow(key)
    return await run_in_threadpool(limit.allow, key)


def _preference_page(ctx: WebContext, view: ContactPage) -> dict[str, object]:
    """What the preference form shows: the zone guessed for them first in the searchable list,
    their one-click unsubscribe, and the form's CSRF token."""
    guessed = guess_zone(view.offsets, ctx.owner_zone, ctx.clock())
    return {
        "view": view,
        "guessed": guessed,
        "zones": [guessed, *(z for z in ZONES if z != guessed)],
        "unsubscribe": ctx.links.unsubscribe(view.public_id),
        "one_click": ONE_CLICK,
        "form_token": ctx.tokens.form_token(view.public_id),
    }


# Offered for an offset before the alphabetical first zone that has it (Africa/… for +01:00).
WELL_KNOWN = (
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
)


def guess_zone(offsets: tuple[int, ...], fallback: str, now: datetime) -> str:
    """The zone to offer first: the owner's when their mail says nothing else (or agrees with
    it), else a well-known zone at the UTC offset most frequent in their mail.

    >>> guess_zone((330, 330), "Europe/London", datetime(2030, 1, 1, tzinfo=UTC))
    'Asia/Kolkata'
    >>> guess_zone((), "Europe/Paris", datetime(2030, 1, 1, tzinfo=UTC))
    'Europe/Paris'
    """
    if fallback not in ZONES:
        fallback = "UTC"
    if not offsets:
        return fallback
    common = Counter(offsets).most_common(1)[0][0]

    def minutes(name: str) -> int:
        offset = now.astimezone(ZoneInfo(name)).utcoffset()
        return int(offset.total_seconds() // 60) if offset is not None else 0

    return next((z for z in (fallback, *WELL_KNOWN, *ZONES) if minutes(z) == common), fallback)


def _environment(user_dir: str) -> Environment:
    dirs = [d for d in (user_dir, str(resources.files("refmail.templates"))) if d]
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in dirs]),
        auto_reload=False,  # templates are read once: no stat() of the files per request
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


# --- database work (run in the threadpool) -------------------------------------------------


@dataclass(frozen=True)
class ContactPage:
    """What a page shows of a contact: never more than they set themselves."""

    public_id: str
    email: str
    level: str
    channel: str
    phone: str
    timezone: str
    paused_until: str
    opted_out: bool
    offsets: tuple[int, ...] = ()  # UTC offsets of their own mail: only to guess their zone


def _view(contact: m.Contact) -> ContactPage:
    paused = contact.paused_until.strftime("%Y-%m-%d") if contact.paused_until else ""
    return ContactPage(
        contact.public_id,
        contact.email,
        contact.level,
        contact.channel,
        contact.phone,
        contact.timezone,
        paused,
        contact.opted_out_at is not None,
        tuple(contact.offsets()),
    )


def _by_public_id(session, public_id: str) -> m.Contact | None:  # type: ignore[no-untyped-def]
    return session.scalar(select(m.Contact).where(m.Contact.public_id == public_id))


def _contact_view(ctx: WebContext, token: str, purpose: str) -> ContactPage | None:
    public_id = ctx.tokens.read(token, purpose)  # type: ignore[arg-type]
    if public_id is None:
        return None

    def read() -> ContactPage | None:
        with ctx.factory() as session:
            contact = _by_public_id(session, public_id)
            return _view(contact) if contact is not None else None

    return reconnecting(read)


_SQLITE_WRITES = threading.Lock()


def _writing(ctx: WebContext) -> AbstractContextManager[object]:
    """SQLite has one writer: queueing writers here beats its sleep-and-retry busy wait
    (measured by bench/web_oneclick.py: p99 of first unsubscribes ~1 s → ~0.2 s)."""
    bind = ctx.factory.kw.get("bind")
    return _SQLITE_WRITES if bind is not None and bind.dialect.name == "sqlite" else nullcontext()


def _as_submitted(view: ContactPage, form: object) -> ContactPage:
    """The page as the person filled it in, so an error does not undo their choices."""
    get = form.get  # type: ignore[attr-defined]
    level, channel, phone, zone, paused = (
        str(get(k, "")) for k in ("level", "channel", "phone", "timezone", "paused_until")
    )
    return replace(
        view, level=level, channel=channel, phone=phone, timezone=zone, paused_until=paused
    )


def _preference_values(form: object) -> tuple[dict[str, object], bool]:
    get = form.get  # type: ignore[attr-defined]
    level, channel = str(get("level", "")), str(get("channel", ""))
    if level not in m.LEVELS:
        raise RefmailError("Choose how often you would like to hear about introductions.")
    if channel not in ("email", "phone"):
        raise RefmailError("Choose email or phone.")
    phone = " ".join(str(get("phone", "")).split())[:50]
    if channel == "phone" and not phone:
        raise RefmailError("Give a phone number to be called instead of emailed.")
    typed = str(get("timezone", "")).strip()
    zone = next((z for z in ZONES if z.lower() == typed.lower()), typed)  # "europe/berlin" too
    if zone and zone not in ZONES:
        raise RefmailError("Choose a time zone from the list, or leave it empty.")
    pause_text = str(get("paused_until", "")).strip()
    paused_until = None
    if pause_text:
        try:
            paused_until = datetime.fromisoformat(pause_text).replace(tzinfo=UTC)
        except ValueError as exc:
            raise RefmailError("Give the pause date as YYYY-MM-DD.") from exc
    values: dict[str, object] = {
        "level": level,
        "channel": channel,
        "phone": phone,
        "timezone": zone,
        "paused_until": paused_until,
    }
    return values, get("resubscribe") == "1"


def _save_preferences(
    ctx: WebContext, public_id: str, values: dict[str, object], resubscribe: bool
) -> ContactPage:
    now = ctx.clock()

    def save() -> ContactPage:  # run again, it changes nothing more: updates log differences
        with _writing(ctx), transaction(ctx.factory) as session:
            contact = _by_public_id(session, public_id)
            assert contact is not None
            if resubscribe:
                contacts.opt_in(session, contact, "recipient", now)
            contacts.update(session, contact, values, "recipient", now)
            return _view(contact)

    return reconnecting(save)
