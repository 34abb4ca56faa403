"""The owner's page (/owner) in headless Chromium: refused without the owner's credentials, the
same numbers as `refmail report`, a chart drawn on the server, a suggestion confirmed with its
one CSRF-protected button, and a CSV of each table. Screenshots go to
test-artifacts/screenshots/owner*.png. SQLite is enough here.
"""

from __future__ import annotations

import base64
import csv
import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import uvicorn
from sqlalchemy import select

from refmail import models as m
from refmail import outcomes, report
from refmail.config import Settings
from refmail.db import SessionFactory, transaction
from refmail.owner_web import OwnerContext, create_owner_app, hash_password, mount
from refmail.tokens import LinkBuilder, Tokens
from refmail.web import WebContext, create_app
from tests.support.browser import DESKTOP, Tab
from tests.support.dovecot import free_port
from tests.support.loop import RULES, referral, sync
from tests.support.maildirs import CLOCK, account

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("owner_web_browser"),  # one worker: one Chromium for the module
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]

USER, PASSWORD = "owner", "a long owner password"
HASH = hash_password(PASSWORD)
INVOICE = (
    b"From: Olivia <olivia@example.com>\r\nTo: Carl Chen <carl2@chenconsulting.example>\r\n"
    b"Subject: Invoice 0042\r\nDate: Tue, 03 Mar 2026 09:00:00 +0000\r\n"
    b"Message-ID: <invoice-2@example.com>\r\n\r\nHi Carl, the invoice for March is attached.\r\n"
)


def request(
    url: str,
    method: str = "GET",
    auth: tuple[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, str]:
    """One plain HTTP request (Basic auth when given): (status, body)."""
    parts = urlsplit(url)
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    body = urlencode(form or {})
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request(
            method, parts.path, body=body if method == "POST" else None, headers=headers
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@contextmanager
def serve(ctx: OwnerContext) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_owner_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class OwnerSite:
    url: str
    factory: SessionFactory
    config: Path

    def report(self) -> dict[str, object]:
        """The report as `refmail report --json` builds it, on the page's clock (the months
        shown depend on today)."""
        with transaction(self.factory) as session:
            built = report.build(session, frozenset({"olivia@example.com"}), CLOCK())
        return json.loads(json.dumps(report.as_json(built)))  # type: ignore[no-any-return]


@pytest.fixture
def site(factory: SessionFactory, db_url: str, tmp_path: Path) -> Iterator[OwnerSite]:
    root = tmp_path / "md"
    sync(factory, root, [referral(n=1), referral(n=2), referral("sam@other.example", n=3)])
    sync(factory, root, [INVOICE])  # a suggestion for the second referral
    with transaction(factory) as session:
        first = session.scalars(select(m.Introduction).order_by(m.Introduction.id)).first()
        assert first is not None
        outcomes.set_outcome(
            session, first, "converted", RULES, CLOCK(), source="owner", reason="t", value=1200.0
        )
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "{db_url}"\n[[accounts]]\nname = "t"\naddress = "olivia+refmail@example.com"'
        f'\nowners = ["olivia@example.com"]\n[accounts.maildir]\npath = "{root}"\n'
    )
    settings = Settings(accounts=(account(root),))
    ctx = OwnerContext(factory, settings, USER, HASH, clock=CLOCK)
    with serve(ctx) as url:
        yield OwnerSite(url, factory, config)


def test_the_page_refuses_without_the_owners_credentials(site: OwnerSite) -> None:
    for auth in (None, (USER, "wrong password"), ("someone", PASSWORD)):
        for path in ("/", "/export/introductions.csv"):
            status, text = request(site.url + path, auth=auth)
            assert status == 401, (auth, path)
            assert "Carl" not in text and "pat@" not in text
        assert request(site.url + "/confirm/1", "POST", auth)[0] == 401
    assert request(site.url + "/", auth=(USER, PASSWORD))[0] == 200


def test_mounted_beside_the_recipient_pages_at_owner(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFMAIL_OWNER_PASSWORD_HASH", HASH)
    settings = Settings(accounts=(account(tmp_path),))
    tokens = Tokens(["a-signing-key-for-owner-tests-0123"])
    pages = create_app(WebContext(factory, tokens, LinkBuilder("http://x", tokens)))
    mount(pages, settings, factory)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(pages, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        base = f"http://127.0.0.1:{port}"
        assert request(base + "/owner/")[0] == 401
        assert request(base + "/owner/", auth=(USER, PASSWORD))[0] == 200
        assert request(base + "/owner/export/due.csv", auth=(USER, PASSWORD))[0] == 200
        assert request(base + "/p")[0] == 200  # the recipient pages are unchanged
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_without_a_password_hash_the_page_is_off(factory: SessionFactory, tmp_path: Path) -> None:
    ctx = OwnerContext(factory, Settings(accounts=(account(tmp_path),)), USER, "", clock=CLOCK)
    with serve(ctx) as url:
        assert request(url + "/", auth=(USER, ""))[0] == 503


def test_a_confirm_without_the_csrf_token_changes_nothing(site: OwnerSite) -> None:
    status, _ = request(site.url + "/confirm/1", "POST", (USER, PASSWORD), {"csrf": "forged"})
    assert status == 403
    assert site.report()["totals"]["converted"] == 1  # type: ignore[index]


def test_the_owner_sees_the_reports_numbers_confirms_a_suggestion_and_exports_csv(
    browser: object,
    site: OwnerSite,
) -> None:
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport=DESKTOP, http_credentials={"username": USER, "password": PASSWORD}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    tab = Tab(page, site.url)
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on(
        "console", lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None
    )
    try:
        before = site.report()
        totals = before["totals"]
        page.goto(site.url + "/")
        for key in ("introductions", "connected", "converted", "pending"):
            assert page.locator(f"#t-{key}").inner_text() == str(totals[key]), key  # type: ignore[index]
        assert page.locator("#t-value").inner_text() == "1200"
        bars = page.eval_on_selector_all(
            "svg.chart rect.bar title", "els => els.map(e => e.textContent)"
        )
        assert len(bars) == 2 * len(before["months"])  # type: ignore[arg-type]
        last = before["months"][-1]  # type: ignore[index]
        assert f"{last['month']}: {last['introductions']} introduced" in bars
        rows = page.locator("#introductions tbody tr")
        assert rows.count() == len(before["introductions"])  # type: ignore[arg-type]
        partners = page.locator("#partners tbody tr")
        assert partners.count() == len(before["partners"])  # type: ignore[arg-type]
        shown = page.locator("#partners").inner_text()
        for partner in before["partners"]:  # type: ignore[attr-defined]
            assert partner["quotes"] and partner["quotes"] in shown
        suggestion = page.get_by_role("button", name="Confirm: introduction 2 converted")
        assert "Carl Chen may have become a client" in page.locator("main").inner_text()
        tab.check("owner")

        suggestion.click()
        page.wait_for_url("**/?done=1")
        after = site.report()
        assert after["totals"]["converted"] == 2 and after["totals"]["suggestions"] == 0  # type: ignore[index]
        assert page.locator("#t-converted").inner_text() == "2"
        assert page.get_by_role("status").count() == 1
        tab.check("owner.confirmed")
        with site.factory() as session:
            planned = session.scalars(
                select(m.FollowUp.kind).where(m.FollowUp.introduction_id == 2)
            ).all()
        assert "conversion_thanks" in planned

        csv_text = page.request.get(site.url + "/export/introductions.csv").text()
        table = list(csv.DictReader(io.StringIO(csv_text)))
        assert len(table) == len(after["introductions"])  # type: ignore[arg-type]
        listed = after["introductions"]
        assert {r["status"] for r in table} == {i["status"] for i in listed}  # type: ignore[attr-defined]
        for name in ("partners", "suggestions", "due", "months"):
            response = page.request.get(site.url + f"/export/{name}.csv")
            assert response.status == 200 and response.headers["content-type"].startswith(
                "text/csv"
            )
    finally:
        context.close()
