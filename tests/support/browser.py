"""Headless Chromium for the page tests (Debian's /usr/bin/chromium driven by Playwright, never a
downloaded browser): the `browser` fixture (imported by tests/conftest.py, one per test module)
and `Tab`, a page that screenshots itself and checks what every page must be."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1024, "height": 768}
PHONE = {"width": 375, "height": 740}

UNLABELLED_CONTROLS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden')
  .filter(e => {
    const labelled = Array.from(e.labels || []).some(l => l.textContent.trim() !== '');
    const aria = (e.getAttribute('aria-label') || '').trim() !== '';
    const by = (e.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .some(id => { const t = document.getElementById(id); return t && t.textContent.trim(); });
    return !(labelled || aria || by);
  })
  .map(e => e.outerHTML)"""
OVERFLOW = """() => ({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth,
  wide: Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(e => e.tagName.toLowerCase() + ': ' + e.textContent.trim().slice(0, 60))})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium as .ci/setup does "
            "(the browser tests never download a browser)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """One browser page that remembers every request and console error it saw."""

    page: Any  # a Playwright Page (playwright is imported only when a browser starts)
    origin: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).netloc != urlsplit(self.origin).netloc]

    def check(self, name: str, *, error_status: bool = False) -> None:
        """Screenshot the page as it is (desktop, full page), then at a phone width; check that
        nothing scrolls sideways, every control is labelled, and nothing left the test server."""
        page = self.page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.phone.png"), full_page=True)
        width = page.evaluate(OVERFLOW)
        assert width["scroll"] <= width["inner"], f"{name} scrolls sideways on a phone: {width}"
        assert page.evaluate(UNLABELLED_CONTROLS) == [], f"{name} has unlabelled form controls"
        assert page.locator("html[lang]").count() == 1 and page.title().strip(), name
        assert page.get_by_role("heading", level=1).count() == 1, name
        assert self.foreign_requests() == [], f"{name} talked to other hosts"
        errors = [
            e for e in self.console_errors if not (error_status and e.startswith("Failed to load"))
        ]  # Chromium logs the document's own 4xx status as a console error
        assert errors == [], f"{name}: {errors}"
        page.set_viewport_size(DESKTOP)
