"""The owner's page (/owner): introductions and outcomes, partners and their words, suggested
conversions with one button to confirm each, notes and what is due next, a chart drawn on the
server (inline SVG), and a CSV export of each table.

Separate from the recipient pages: HTTP Basic auth against a scrypt hash from the config or the
environment (`refmail owner-password` makes one); with no hash configured every request is
refused. The confirm button is a POST with a CSRF token; GET and HEAD never change anything.
The numbers come from refmail.report, as `refmail report` prints them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from importlib import resources

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from refmail import models as m
from refmail import outcomes, report
from refmail.clock import Clock, system_clock
from refmail.config import Settings
from refmail.db import SessionFactory, transaction
from refmail.errors import RefmailError

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
REALM = 'Basic realm="refmail owner", charset="UTF-8"'


def hash_password(password: str) -> str:
    """ "scrypt$n$r$p$salt$hash" (base64): what [owner_page] password_hash holds."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    fields = [str(SCRYPT[k]) for k in ("n", "r", "p")]
    encoded = [base64.b64encode(b).decode() for b in (salt, digest)]
    return "$".join(["scrypt", *fields, *encoded])


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, want)


@dataclass
class OwnerContext:
    """What the owner's page needs; built from the config by `mount` or a test."""

    factory: SessionFactory
    settings: Settings
    user: str
    password_hash: str  # empty: the page refuses every request
    clock: Clock = system_clock
    csrf_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def owners(self) -> frozenset[str]:
        return frozenset(o for a in self.settings.accounts for o in a.owners)

    def csrf_token(self) -> str:
        return hmac.new(self.csrf_key, b"owner-confirm", hashlib.sha256).hexdigest()


def _authorised(ctx: OwnerContext, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not ctx.password_hash:
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(user.encode(), ctx.user.encode())
    return check_password(password, ctx.password_hash) and user_ok


def create_owner_app(ctx: OwnerContext) -> Starlette:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(resources.files("refmail.templates")))]),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def refuse() -> Response:
        if not ctx.password_hash:
            return PlainTextResponse(
                "The owner's page is off: set [owner_page] password_hash.",
                503,
                headers=SECURITY_HEADERS,
            )
        return PlainTextResponse(
            "Log in as the owner.", 401, headers={**SECURITY_HEADERS, "WWW-Authenticate": REALM}
        )

    async def page(request: Request) -> Response:
        if not _authorised(ctx, request):
            return refuse()
        built = await run_in_threadpool(_report, ctx)
        html = env.get_template("web/owner.html.j2").render(
            r=built,
            chart=report.svg_chart(built.months),
            csrf=ctx.csrf_token(),
            tables=report.TABLES,
            done=request.query_params.get("done", ""),
        )
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    async def confirm(request: Request) -> Response:
        if not _authorised(ctx, request):
            return refuse()
        form = await request.form()
        token = str(form.get("csrf", ""))
        if not hmac.compare_digest(token.encode(), ctx.csrf_token().encode()):
            return PlainTextResponse("Stale or forged form: reload the page.", 403)
        try:
            await run_in_threadpool(_confirm, ctx, int(request.path_params["sid"]))
        except RefmailError as exc:
            return PlainTextResponse(str(exc), 404, headers=SECURITY_HEADERS)
        return RedirectResponse(f"{request.url_for('owner_page')}?done=1", status_code=303)

    async def export(request: Request) -> Response:
        if not _authorised(ctx, request):
            return refuse()
        name = request.path_params["table"]
        if name not in report.TABLES:
            return PlainTextResponse("no such table", 404)
        built = await run_in_threadpool(_report, ctx)
        return Response(
            report.csv_table(built, name),
            media_type="text/csv; charset=utf-8",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="refmail-{name}.csv"',
            },
        )

    return Starlette(
        routes=[
            Route("/", page, name="owner_page"),
            Route("/confirm/{sid:int}", confirm, methods=["POST"]),
            Route("/export/{table}.csv", export),
        ]
    )


def _report(ctx: OwnerContext) -> report.Report:
    with ctx.factory() as session:
        return report.build(session, ctx.owners, ctx.clock())


def _confirm(ctx: OwnerContext, suggestion_id: int) -> None:
    with transaction(ctx.factory) as session:
        row = session.get(m.Suggestion, suggestion_id)
        if row is None:
            raise RefmailError(f"no suggestion #{suggestion_id}")
        account = session.get(m.Account, row.introduction.account_id)
        settings = (
            ctx.settings.account(account.name) if account is not None else ctx.settings.accounts[0]
        )
        rules = outcomes.rules_for(ctx.settings, settings)
        outcomes.confirm_suggestion(session, suggestion_id, rules, ctx.clock(), "web")


def mount(
    app: Starlette, settings: Settings, factory: SessionFactory, csrf_key: bytes = b""
) -> None:
    """Serve the owner's page at /owner beside the recipient pages; processes serving the same
    pages share `csrf_key` (else each makes its own)."""
    page = settings.owner_page
    ctx = OwnerContext(factory, settings, page.user, page.hash())
    if csrf_key:
        ctx.csrf_key = csrf_key
    app.router.routes.append(Mount("/owner", app=create_owner_app(ctx)))
