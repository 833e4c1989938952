"""Real Chromium driving the web page (web/) through Playwright, for tests/browser/.

Debian's chromium, headless, with the flags that keep it off the network (without
them it tries to fetch updates, safe-browsing lists and field trials). Each page is
a browser context of its own (its own storage, as another person's browser), and
whatever it does wrong is kept: a dialog (an injected script ran), an exception, a
Content-Security-Policy refusal; `Pages.close` fails the test on any of them.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    async_playwright,
    expect,
)

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None
)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 5000  # what one expectation waits for

# Makes the tab look hidden on demand, and records notifications rather than show them:
# headless Chromium has no hidden tab of its own and no notification centre.
FAKE_NOTIFICATIONS = """
window.__hidden = false;
window.__notifications = [];
Object.defineProperty(document, "visibilityState", {
  configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
});
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push([title, options.body]); }
  addEventListener() {}
};
"""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium for one test."""
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Pages:
    """The pages of one test, each in its own context, all on the server at `url`."""

    browser: Browser
    url: str
    contexts: list[BrowserContext] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    async def new(
        self, viewport: dict[str, int] | None = None, *, fake_notifications: bool = False
    ) -> Page:
        """A page at the login form."""
        context = await self.browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        self.contexts.append(context)
        if fake_notifications:
            await context.add_init_script(FAKE_NOTIFICATIONS)
        page = await context.new_page()
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.problems.append(f"exception: {exc}"))
        page.on("console", self._console)
        await page.goto(self.url)
        return page

    async def login(
        self, name: str, password: str = "", viewport: dict[str, int] | None = None,
        *, fake_notifications: bool = False,
    ) -> Page:  # fmt: skip
        """A page logged in as `name` (to its account with `password`)."""
        page = await self.new(viewport, fake_notifications=fake_notifications)
        await log_in(page, name, password)
        await expect(page.locator("#me-nick")).to_have_text(name, timeout=WAIT_MS)
        return page

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"console: {text}")

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"
        assert not self.problems, f"the page went wrong: {self.problems}"


async def log_in(page: Page, name: str, password: str = "") -> None:
    """Fill the login form and send it; the chat shows."""
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Connect").click()
    await expect(page.get_by_label("Message", exact=True)).to_be_visible(timeout=WAIT_MS)


async def say(page: Page, text: str) -> None:
    """Type a line in the message box and press Enter."""
    box = page.get_by_label("Message", exact=True)
    await box.fill(text)
    await box.press("Enter")
    await expect(box).to_have_value("", timeout=WAIT_MS)


def log_line(page: Page, text: str) -> Locator:
    """The log's line that holds `text`."""
    return page.locator("#messages li.msg", has_text=text)


def members(page: Page) -> Locator:
    """The member list's entries."""
    return page.get_by_label("Members", exact=True).locator("li")
