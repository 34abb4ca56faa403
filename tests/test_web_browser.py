"""The recipient pages in a real browser (headless Chromium via Playwright), as a person meets them.

A synced introduction is dispatched for real (FileDrafts), the .eml is parsed, and the links in its
footer are followed: the unsubscribe link from the text part, the preferences link from the HTML
part. Every page is screenshotted into test-artifacts/screenshots/ (gitignored), rendered at a
phone width (no sideways scrolling), checked for unlabelled form controls, and watched for network
requests to anything but the test server. SQLite is enough here; tests/test_web.py covers both
databases over plain HTTP.

Needs Debian's /usr/bin/chromium (see .ci/setup); `playwright install` is never used.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from refmail import contacts
from refmail import models as m
from refmail.clock import FixedClock
from refmail.config import Caps, FollowUps
from refmail.db import SessionFactory, transaction
from refmail.dispatch import Rules, dispatch
from refmail.filedrop import FileDrafts
from refmail.maildir import MaildirSource
from refmail.render import Renderer
from refmail.sync import sync_account
from refmail.tokens import LinkBuilder, Tokens
from refmail.web import WebContext
from tests.support.browser import DESKTOP, OVERFLOW, PHONE, Tab
from tests.support.maildirs import CLOCK, account, fill, intro
from tests.support.webserver import serve

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("web_browser"),  # one worker: one Chromium for the module
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]

KEYS = ["a-signing-key-for-browser-tests-0123"]
DISPATCH_AT = datetime(2026, 11, 26, 12, tzinfo=UTC)  # the first check-ins are due (intro + 7 d)

# --- the browser ----------------------------------------------------------------------------


@pytest.fixture
def tab(browser: object, site: Site) -> Iterator[Tab]:
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(10_000)
    opened = Tab(page, site.url)
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on(
        "console",
        lambda msg: opened.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    yield opened
    context.close()


# --- the site: a synced introduction, real follow-ups rendered with links to the server -----


@dataclass
class Site:
    url: str
    factory: SessionFactory
    links: LinkBuilder
    drafts: Path
    mailed: list[tuple[str, str]]
    context: WebContext

    def contact(self, address: str) -> m.Contact:
        with self.factory() as session:
            return session.scalars(select(m.Contact).where(m.Contact.email == address)).one()

    def follow_up_states(self, address: str) -> list[str]:
        with self.factory() as session:
            contact = session.scalars(select(m.Contact).where(m.Contact.email == address)).one()
            return [
                f.state
                for f in session.scalars(
                    select(m.FollowUp).where(m.FollowUp.contact_id == contact.id)
                )
            ]

    def changes(self, address: str) -> list[tuple[str, str, str]]:
        with self.factory() as session:
            contact = session.scalars(select(m.Contact).where(m.Contact.email == address)).one()
            return [
                (c.source, c.field, c.new_value)
                for c in session.scalars(
                    select(m.ContactChange).where(m.ContactChange.contact_id == contact.id)
                )
            ]

    def draft_to(self, address: str) -> EmailMessage:
        found = []
        for path in sorted(self.drafts.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"].addresses[0].addr_spec == address:
                found.append(message)
        assert len(found) == 1, f"expected one follow-up to {address}, found {len(found)}"
        return found[0]  # type: ignore[return-value]


@pytest.fixture
def site(factory: SessionFactory, tmp_path: Path) -> Iterator[Site]:
    fill(tmp_path / "md", [intro(1)])
    acc = account(tmp_path / "md")
    sync_account(factory, acc, MaildirSource(tmp_path / "md"), ("INBOX",), FollowUps(), CLOCK)
    tokens = Tokens(KEYS)
    mailed: list[tuple[str, str]] = []
    clock = FixedClock(DISPATCH_AT)
    context = WebContext(
        factory,
        tokens,
        LinkBuilder("http://placeholder", tokens),
        owner_name="Olivia Owner",
        mailer=lambda address, url: mailed.append((address, url)),
        clock=clock,
    )
    with serve(context) as url:
        context.links = LinkBuilder(url, tokens)
        report = dispatch(
            factory,
            acc,
            lambda _kind: FileDrafts(tmp_path / "drafts"),
            Renderer(),
            clock,
            rules=Rules(Caps(drafts_in_window=False), links=context.links),
        )
        assert {d.recipient for d in report.delivered} == {"a1@example.org", "b1@example.net"}
        yield Site(url, factory, context.links, tmp_path / "drafts", mailed, context)


def text_footer_link(message: EmailMessage, words: str) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    lines = text.splitlines()
    assert "--" in lines, text
    footer = "\n".join(lines[len(lines) - lines[::-1].index("--") :])  # after the last "--"
    found = re.search(rf"{re.escape(words)}: (\S+)$", footer, re.MULTILINE)
    assert found, footer
    return found.group(1)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((" ".join("".join(self._text).split()), self._href))
            self._href = None


def html_link(message: EmailMessage, words: str) -> str:
    parser = _Anchors()
    parser.feed(message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    hrefs = [href for text, href in parser.anchors if text == words]
    assert len(hrefs) == 1, parser.anchors
    return hrefs[0]


# --- the journeys ---------------------------------------------------------------------------


def test_one_click_unsubscribe_from_the_text_footer(site: Site, tab: Tab) -> None:
    message = site.draft_to("a1@example.org")
    header = message["List-Unsubscribe"]
    assert re.fullmatch(rf"<{re.escape(site.url)}/u/[A-Za-z0-9_.-]+>", header), header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = header.strip("<>")  # one-click unsubscribe lives in the headers, not the footer
    assert link not in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert site.follow_up_states("a1@example.org").count("planned") == 1  # the 30-day check-in

    page = tab.page
    response = page.goto(link)
    assert response.status == 200
    assert page.get_by_role("heading", level=1).inner_text() == "Unsubscribe a1@example.org?"
    assert page.get_by_role("button").count() == 1
    tab.check("01-unsubscribe")
    assert site.contact("a1@example.org").opted_out_at is None  # looking changes nothing

    page.get_by_role("button", name="Unsubscribe").click()
    done = page.get_by_role("heading", name="You are unsubscribed")
    done.wait_for()
    assert (
        "no more follow-up emails on behalf of Olivia Owner"
        in page.get_by_role("status").inner_text()
    )
    tab.check("02-unsubscribe-done")

    contact = site.contact("a1@example.org")
    assert contact.opted_out_at is not None
    assert sorted(site.follow_up_states("a1@example.org")) == ["delivered", "skipped"]
    assert ("recipient", "opted_out_at") in {(s, f) for s, f, _ in site.changes("a1@example.org")}
    assert site.contact("b1@example.net").opted_out_at is None  # nobody else

    page.get_by_role("link", name="Get a link to your preferences").click()  # "../p" resolves
    page.get_by_role("heading", name="Get your preferences link").wait_for()
    assert urlsplit(page.url).path == "/p"


def test_preferences_from_the_html_footer_with_the_keyboard(site: Site, tab: Tab) -> None:
    message = site.draft_to("b1@example.net")
    link = html_link(message, "tell me here")
    assert link == text_footer_link(message, "tell me here")

    page = tab.page
    assert page.goto(link).status == 200
    assert page.get_by_label("Normal", exact=False).is_checked()
    assert page.get_by_label("By email", exact=True).is_checked()
    tab.check("03-preferences")

    page.get_by_label("Less often", exact=False).check()
    page.get_by_label("By phone instead of email").check()
    page.get_by_label("Phone number").fill("+44 20 7946 0018")
    page.get_by_label("Pause everything until").fill("2031-03-01")
    page.get_by_label("Your time zone").fill("europe/berlin")  # typed, any case
    page.get_by_label("Your time zone").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Save my preferences"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Saved. Here is what happens now").wait_for()
    plan = page.get_by_role("status").inner_text()
    assert "half as often" in plan
    assert "Olivia Owner will call you on +44 20 7946 0018" in plan
    assert "Nothing before 2031-03-01" in plan
    assert "Only during the day in Europe/Berlin" in plan
    tab.check("04-saved")

    contact = site.contact("b1@example.net")
    assert (contact.level, contact.channel, contact.phone, contact.timezone) == (
        "reduced",
        "phone",
        "+44 20 7946 0018",
        "Europe/Berlin",
    )
    assert contact.paused_until is not None
    assert contact.paused_until.strftime("%Y-%m-%d") == "2031-03-01"
    assert contact.opted_out_at is None
    assert {(s, f) for s, f, _ in site.changes("b1@example.net")} >= {
        ("recipient", "level"),
        ("recipient", "channel"),
        ("recipient", "phone"),
        ("recipient", "paused_until"),
        ("recipient", "timezone"),
    }
    assert "deferred" in site.follow_up_states("b1@example.net")  # the pause moved the outbox

    page.go_back()  # the same link again shows what was saved
    page.reload()
    assert page.get_by_label("Less often", exact=False).is_checked()
    assert page.get_by_label("Phone number").input_value() == "+44 20 7946 0018"


def test_request_link_page(site: Site, tab: Tab) -> None:
    page = tab.page
    assert page.goto(f"{site.url}/p").status == 200
    tab.check("05-request-link")
    page.get_by_label("Your email address").fill("B1@Example.net")
    page.get_by_role("button", name="Email me my link").click()
    page.get_by_role("status").wait_for()
    assert "a link to your preferences is on its way" in page.get_by_role("status").inner_text()
    tab.check("06-request-link-sent")
    assert len(site.mailed) == 1
    address, url = site.mailed[0]
    assert address == "b1@example.net" and url.startswith(f"{site.url}/p/")


def test_an_unknown_link_gets_a_plain_404_page(site: Site, tab: Tab) -> None:
    page = tab.page
    response = page.goto(f"{site.url}/u/not-a-real-token")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Link not recognised"
    assert "Nothing was changed" in page.content()
    tab.check("07-error-404", error_status=True)


# --- problems found, not fixed here (see the report) ----------------------------------------


def long_address_contact(site: Site) -> str:
    address = "maximilian.alexander.featherstonehaugh@engineering.example-corporation.co.uk"
    with transaction(site.factory) as session:
        contact = contacts.get_or_create(session, address, DISPATCH_AT, "owner")
        return contact.public_id


def test_a_long_address_fits_a_phone_screen(site: Site, tab: Tab) -> None:
    public_id = long_address_contact(site)
    tab.page.set_viewport_size(PHONE)
    tab.page.goto(site.links.unsubscribe(public_id))
    width = tab.page.evaluate(OVERFLOW)
    assert width["scroll"] <= width["inner"], width


def test_a_rejected_preference_form_keeps_the_choices(site: Site, tab: Tab) -> None:
    page = tab.page
    page.goto(site.links.preferences(site.contact("b1@example.net").public_id))
    page.get_by_label("Less often", exact=False).check()
    page.get_by_label("By phone instead of email").check()  # but no number
    page.get_by_label("Your time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Save my preferences").click()
    page.get_by_role("alert").wait_for()
    assert "Give a phone number" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("By phone instead of email").is_checked()
    assert page.get_by_label("Less often", exact=False).is_checked()
    assert page.get_by_label("Your time zone").input_value() == "Europe/Berlin"


def test_the_unsubscribe_page_names_the_link_the_email_has(site: Site, tab: Tab) -> None:
    page = tab.page
    page.goto(site.draft_to("a1@example.org")["List-Unsubscribe"].strip("<>"))
    body = page.locator("main").inner_text()
    assert "manage preferences" not in body
    assert "“tell me here” link in the email" in body


# --- the owner's voice, truthful state, the time-zone control (issue 13) --------------------


def test_after_unsubscribing_the_preference_page_says_so(site: Site, tab: Tab) -> None:
    page = tab.page
    public_id = site.contact("a1@example.org").public_id
    page.goto(site.links.unsubscribe(public_id))
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    page.goto(site.links.preferences(public_id))
    assert page.get_by_role("heading", level=1).inner_text() == (
        "How would you like to hear from Olivia Owner?"
    )
    assert page.get_by_label("Nothing at all").is_checked()
    assert not page.get_by_label("Normal", exact=False).is_checked()
    assert "You are unsubscribed" in page.get_by_role("status").inner_text()
    body = page.locator("main").inner_text()
    assert not re.search(r"\b(we|us|our)\b", body, re.IGNORECASE), body
    tab.check("08-preferences-after-unsubscribe")


def test_time_zone_control_offers_the_guess_first_and_searches(site: Site, tab: Tab) -> None:
    page = tab.page
    with transaction(site.factory) as session:  # their mail came from India, three times
        session.execute(
            update(m.Contact)
            .where(m.Contact.email == "b1@example.net")
            .values(recent_offsets="330,330,60")
        )
    contact = site.contact("b1@example.net")
    page.goto(site.links.preferences(contact.public_id))
    control = page.get_by_label("Your time zone")
    assert control.get_attribute("list") == "zones"
    options = page.locator("datalist#zones option")
    assert options.count() > 300
    guessed = options.first.get_attribute("value")
    assert guessed == "Asia/Kolkata" == control.get_attribute("placeholder")
    assert f"guesses {guessed}" in page.locator("#timezone-hint").inner_text()
    control.fill("Berl")
    tab.check("09-time-zone-control")
    control.fill("Europe/Berlin")
    page.get_by_role("button", name="Save my preferences").click()
    page.get_by_role("heading", name="Saved. Here is what happens now").wait_for()
    assert site.contact("b1@example.net").timezone == "Europe/Berlin"


def test_no_email_me_my_link_form_without_a_mailer(site: Site, tab: Tab) -> None:
    site.context.mailer = None
    page = tab.page
    assert page.goto(f"{site.url}/p").status == 200
    assert page.locator("form").count() == 0
    assert "tell me here" in page.locator("main").inner_text()
    tab.check("10-request-link-without-mailer")
    assert page.request.post(f"{site.url}/p", form={"email": "a1@example.org"}).ok
    assert site.mailed == []  # a form posted anyway finds nobody to send it
    public_id = site.contact("a1@example.org").public_id
    page.goto(site.links.unsubscribe(public_id))
    assert page.get_by_role("link", name="get a link to your preferences").count() == 0
