"""The web page in real Chromium, as people use it: an account's login (and its
conversations, read on one page and so read on the other), a reconnect after the
server restarts, hostile names and messages, the keyboard alone, a phone's screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import IrcUser, TextUser, server_options
from tests.rigs.browser import PHONE, Pages, chromium, log_line, members, needs_chromium, say
from tests.rigs.chat import ChatClient
from tests.rigs.serverprocess import ServerProcess, hears, stamped

pytestmark = [pytest.mark.timeout(30), needs_chromium]


async def registered(text_user: TextUser, name: str, password: str) -> ChatClient:
    client = await text_user(name)
    await client.send(f"/register {password}")
    await client.expect(stamped(f"*NickServ* Account {name} registered; you are logged in to it."))
    return client


async def test_an_account_logs_in_and_finds_its_conversations_read_markers_shared(
    server: ServerProcess, pages: Pages, text_user: TextUser
) -> None:
    erin = await registered(text_user, "erin", "erins-secret")
    frank = await registered(text_user, "frank", "franks-secret")
    await frank.send("/msg erin are you coming tonight?")
    await hears(server, erin, stamped("*frank* are you coming tonight?"))

    page = await pages.new()
    await page.get_by_label("Name", exact=True).fill("erin")
    await page.get_by_role("button", name="Connect").click()
    await expect(page.locator("#login-error")).to_have_text(
        'The name "erin" is taken: pick another, or give its password if it is your account.'
    )
    await page.get_by_label("Password", exact=True).fill("wrong")
    await page.get_by_role("button", name="Connect").click()
    await expect(page.locator("#login-error")).to_have_text("Wrong name or password.")

    laptop = await pages.login("erin", "erins-secret")
    phone = await pages.login("erin", "erins-secret")
    await expect(laptop.locator("#me-account")).to_have_text("logged in")
    for screen in (laptop, phone):
        await expect(conversation(screen, "frank")).to_have_accessible_name(
            "frank, 1 unread, 1 for you"
        )

    await conversation(laptop, "frank").click()
    await expect(log_line(laptop, "are you coming tonight?")).to_contain_text("frank")
    await expect(conversation(phone, "frank")).to_have_accessible_name("frank")  # read there

    await say(laptop, "yes, at eight")
    await hears(server, frank, stamped("*erin* yes, at eight"))
    await conversation(phone, "frank").click()
    await expect(log_line(phone, "yes, at eight")).to_contain_text("erin")


def conversation(page: Page, nick: str) -> Locator:
    """The room list's button of the private conversation with `nick`."""
    return page.locator("#query-list").get_by_role("button", name=re.compile(rf"^{nick}\b"))


async def test_the_page_reconnects_after_a_restart_and_keeps_what_was_typed(
    tmp_path: Path,
) -> None:
    first = await ServerProcess.start(*server_options(tmp_path))
    ports = first.ports
    same_ports = ["--port", str(ports["text"]), "--irc-port", str(ports["IRC"]),
                  "--websocket-port", str(ports["WebSocket"])]  # fmt: skip
    second: ServerProcess | None = None
    try:
        async with chromium() as browser:
            pages = Pages(browser, f"http://127.0.0.1:{ports['WebSocket']}/")
            try:
                alice = await pages.login("alice")
                await say(alice, "/join lobby")
                await say(alice, "said before the restart")
                box = alice.get_by_label("Message", exact=True)
                await box.fill("half a thought")

                await first.stop()
                await expect(alice.locator("#status")).to_contain_text("Reconnecting in")
                await box.press("Enter")
                await expect(alice.locator("#status")).to_contain_text("Not connected")
                await expect(box).to_have_value("half a thought")

                options = [*server_options(tmp_path), *same_ports, "--rate", "5"]
                second = await ServerProcess.start(*options)
                await expect(alice.locator("#status")).to_be_hidden(timeout=15_000)
                await expect(members(alice)).to_have_text(["@alice"])
                await expect(log_line(alice, "said before the restart")).to_have_count(1)
                await expect(box).to_have_value("half a thought")

                carol = await ChatClient.open(second.ports["text"])
                await carol.login("carol")
                await carol.join("lobby")
                await box.press("Enter")
                await hears(second, carol, stamped("<alice> half a thought"))
                await expect(box).to_have_value("")
                await carol.close()
            finally:
                await pages.close()
    finally:
        await first.stop()
        if second is not None:
            await second.stop()
    for server in (first, second):
        assert server is not None
        assert not server.errors(), server.tail(80)


SHALOM, WORLD = "\u05e9\u05dc\u05d5\u05dd", "\u05e2\u05d5\u05dc\u05dd"  # a nick, a word: Hebrew
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "\u202eevil override: gnp.exe",
    'see http://example.invalid/"><img src=x onerror=alert(3)> and javascript:alert(4)',
    "W" * 1500,
]


async def test_hostile_names_and_messages_render_as_inert_text(
    server: ServerProcess, pages: Pages, text_user: TextUser, irc_user: IrcUser
) -> None:
    mallory = await text_user("mallory")
    await mallory.create("lobby")
    await mallory.send("/topic <b>bold</b><img src=x onerror=alert(5)>")
    hebrew = await irc_user(SHALOM)
    await hebrew.join("#lobby")
    alice = await pages.login("alice")
    await say(alice, "/join lobby")
    await expect(members(alice)).to_have_count(3)

    await mallory.send(*HOSTILE, "/me <iframe src=javascript:alert(6)>")
    await hebrew.send(f"PRIVMSG #lobby :\u202e{SHALOM} {WORLD} <svg onload=alert(7)>")
    await hebrew.send("NOTICE #lobby :<style>*{display:none}</style>")
    await hebrew.send("PRIVMSG #lobby :\x02bold\x02 and \x0304,01red\x03 and \x1dplain\x0f")
    await expect(alice.locator("#topic")).to_have_text("<b>bold</b><img src=x onerror=alert(5)>")
    for text in ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "W" * 1500):
        await expect(log_line(alice, text)).to_be_visible()
    await expect(log_line(alice, "bold and red and plain")).to_be_visible()
    await expect(log_line(alice, "<iframe src=javascript:alert(6)>")).to_contain_text("* mallory")
    await expect(log_line(alice, "<style>*{display:none}</style>")).to_contain_text(f"-{SHALOM}-")
    await mallory.send(f"/kick {SHALOM} <img src=x onerror=alert(8)>")
    await expect(log_line(alice, "was kicked from #lobby by mallory (<img")).to_be_visible()

    page_markup = await alice.evaluate("""() => ({
        injected: document.querySelectorAll("img, iframe, svg, style, object, embed").length,
        scripts: [...document.scripts].map((s) => s.getAttribute("src")),
        links: [...document.links].map((a) => a.href),
        wide: document.documentElement.scrollWidth > window.innerWidth,
        logWide: ((log) => log.scrollWidth > log.clientWidth)(document.getElementById("log")),
    })""")
    assert page_markup == {
        "injected": 0, "scripts": ["app.js"], "links": ["http://example.invalid/"],
        "wide": False, "logWide": False,
    }  # fmt: skip

    # A direction override turns its own text around, not its line: time, name, text.
    for text in ("evil override", WORLD):
        line = log_line(alice, text)
        left = await line.evaluate(
            "li => ['time', '.nick', '.text']"
            ".map((s) => li.querySelector(s).getBoundingClientRect().left)"
        )
        assert left == sorted(left), (text, left)
    await expect(log_line(alice, f"{SHALOM} {WORLD}")).to_contain_text(f"{SHALOM} ")


async def test_the_keyboard_alone_logs_in_joins_chats_and_moves_between_rooms(
    server: ServerProcess, pages: Pages, text_user: TextUser
) -> None:
    carol = await text_user("carol")
    await carol.create("keys")
    page = await pages.new()
    name = page.get_by_label("Name", exact=True)
    await expect(name).to_be_focused()
    await page.keyboard.type("kim")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password", exact=True)).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Connect")).to_be_focused()
    await page.keyboard.press("Enter")
    box = page.get_by_label("Message", exact=True)
    await expect(box).to_be_focused()

    await page.keyboard.type("/join keys")
    await page.keyboard.press("Enter")
    await expect(page.locator("#title")).to_have_text("#keys")
    for line in ("typed with keys only", "/help"):
        await page.keyboard.type(line)
        await page.keyboard.press("Enter")
    await hears(server, carol, stamped("<kim> typed with keys only"))
    await expect(log_line(page, "/msg NAME TEXT — a private message")).to_be_visible()
    for label in ("Rooms", "Members", "Message"):
        await expect(page.get_by_label(label, exact=True)).to_be_visible()

    await page.keyboard.press("Alt+ArrowUp")
    await expect(page.locator("#title")).to_have_text("Home")
    await page.keyboard.press("Alt+ArrowDown")
    await expect(page.locator("#title")).to_have_text("#keys")

    # Back from the message box to the room list with Shift+Tab, and Enter on a room.
    await page.keyboard.press("Alt+ArrowUp")
    await expect(page.locator("#title")).to_have_text("Home")
    for _ in range(30):
        await page.keyboard.press("Shift+Tab")
        if await page.evaluate("document.activeElement.dataset.key") == "#keys":
            break
    else:
        raise AssertionError("Shift+Tab never reached #keys in the room list")
    await page.keyboard.press("Enter")
    await expect(page.locator("#title")).to_have_text("#keys")
    await expect(box).to_be_focused()
    await page.keyboard.type("/msg carol and a private one")
    await page.keyboard.press("Enter")
    await hears(server, carol, stamped("*kim* and a private one"))


async def test_a_phone_sized_screen_folds_the_room_list_and_keeps_the_message_box(
    server: ServerProcess, pages: Pages, text_user: TextUser
) -> None:
    carol = await text_user("carol")
    await carol.create("pocket")
    page = await pages.login("pat", viewport=PHONE)
    rooms = page.get_by_label("Rooms", exact=True)
    await expect(rooms).to_be_hidden()
    box = page.get_by_label("Message", exact=True)
    await expect(box).to_be_in_viewport()

    await page.get_by_role("button", name="Rooms").click()
    await expect(rooms).to_be_visible()
    await page.get_by_label("Join or make a room").fill("pocket")
    await page.get_by_label("Join or make a room").press("Enter")
    await expect(rooms).to_be_hidden()
    await expect(page.locator("#title")).to_have_text("#pocket")
    await say(page, "from my phone")
    await hears(server, carol, stamped("<pat> from my phone"))
    await carol.send("a long one: " + "lorem ipsum " * 40)
    await expect(log_line(page, "a long one")).to_be_visible()

    box_area = await box.bounding_box()
    assert box_area is not None
    assert box_area["y"] + box_area["height"] <= PHONE["height"]
    assert box_area["x"] >= 0 and box_area["x"] + box_area["width"] <= PHONE["width"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    members_button = page.get_by_role("button", name=re.compile(r"^Members"))
    await members_button.click()
    member_list = page.get_by_label("Members", exact=True)
    await expect(member_list).to_be_visible()
    await expect(members(page)).to_have_text(["@carol", "pat"])
    await page.keyboard.press("Escape")
    await expect(member_list).to_be_hidden()
    await expect(members_button).to_be_focused()
