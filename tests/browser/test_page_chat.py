"""The web page in real Chromium, chatting with the other doors: two browser users, a
text-door user and an IRC user in one room; private messages; a kick; history on
joining and when scrolled to the top; unread counts and mentions."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import IrcUser, TextUser
from tests.rigs.browser import WAIT_MS, Pages, log_line, members, needs_chromium, say
from tests.rigs.serverprocess import ServerProcess, hears, stamped

pytestmark = [pytest.mark.timeout(30), needs_chromium]


async def test_two_pages_a_text_user_and_an_irc_user_chat_in_one_room(
    server: ServerProcess, pages: Pages, text_user: TextUser, irc_user: IrcUser
) -> None:
    carol = await text_user("carol")
    await carol.create("lobby")
    dave = await irc_user("dave")
    await dave.join("#lobby")
    alice = await pages.login("alice")
    await say(alice, "/join lobby")
    await expect(alice.locator("#title")).to_have_text("#lobby")
    bob = await pages.login("bob")
    await bob.locator("#directory").get_by_role("button", name=re.compile(r"^#lobby")).click()
    await expect(bob.locator("#title")).to_have_text("#lobby")

    await expect(members(alice)).to_have_text(["@carol", "alice", "bob", "dave"])

    await say(alice, "hello from alice")
    await hears(server, carol, stamped("<alice> hello from alice"))
    await dave.expect(re.compile(r":alice!\S+ PRIVMSG #lobby :hello from alice"))
    await expect(log_line(bob, "hello from alice")).to_be_visible()

    await carol.send("hi from the text door")
    await dave.send("PRIVMSG #lobby :hi from IRC")
    for page in (alice, bob):
        await expect(log_line(page, "hi from the text door")).to_contain_text("carol")
        await expect(log_line(page, "hi from IRC")).to_contain_text("dave")

    await say(bob, "/me waves")
    await hears(server, carol, stamped("* bob waves"))
    await dave.expect(re.compile(r":bob!\S+ PRIVMSG #lobby :\x01ACTION waves\x01"))
    await dave.send("PRIVMSG #lobby :\x01ACTION dances\x01")
    await expect(log_line(alice, "waves")).to_have_class(re.compile(r"\bmsg-action\b"))
    await expect(log_line(alice, "dances")).to_contain_text("* dave dances")

    await say(alice, "/topic Plans for today")
    await hears(server, carol, "* alice set the topic of lobby to: Plans for today")
    await expect(bob.locator("#topic")).to_have_text("Plans for today")
    await carol.send("/topic Plans for tomorrow")
    await expect(alice.locator("#topic")).to_have_text("Plans for tomorrow")
    await say(bob, "/topic")
    await expect(log_line(bob, "Topic for #lobby: Plans for tomorrow")).to_be_visible()

    await say(alice, "/who")
    await expect(log_line(alice, "Users in #lobby (4): @carol alice bob dave")).to_be_visible()

    await dave.send("QUIT :off to bed")
    await expect(members(alice)).to_have_text(["@carol", "alice", "bob"])
    await expect(log_line(alice, "dave has quit (Quit: off to bed)")).to_be_visible()
    await carol.send("/op bob")
    await expect(members(alice)).to_have_text(["@bob", "@carol", "alice"])
    await say(bob, "/nick robert")
    await expect(members(alice)).to_have_text(["@carol", "@robert", "alice"])
    await expect(log_line(alice, "bob is now known as robert")).to_be_visible()


async def test_private_messages_each_get_a_conversation(
    server: ServerProcess, pages: Pages, text_user: TextUser, irc_user: IrcUser
) -> None:
    carol = await text_user("carol")
    dave = await irc_user("dave")
    alice = await pages.login("alice")
    bob = await pages.login("bob")

    await say(alice, "/msg bob psst, bob")
    await expect(log_line(alice, "-> *bob* psst, bob")).to_be_visible()
    conversation = bob.get_by_role("button", name=re.compile(r"^alice, 1 unread"))
    await expect(conversation).to_be_visible()
    await conversation.click()
    await expect(bob.locator("#title")).to_have_text("alice")
    await expect(log_line(bob, "psst, bob")).to_have_class(re.compile(r"\bmention\b"))
    await expect(bob.get_by_role("button", name="alice", exact=True)).to_be_visible()  # read

    await say(bob, "hi alice")
    await alice.get_by_role("button", name=re.compile(r"^bob")).click()
    await expect(log_line(alice, "hi alice")).to_contain_text("bob")
    await expect(log_line(alice, "psst, bob")).to_contain_text("alice")

    await say(alice, "/msg carol to the text door")
    await hears(server, carol, stamped("*alice* to the text door"))
    await carol.send("/msg alice from the terminal")
    await say(alice, "/msg dave to IRC")
    await dave.expect(re.compile(r":alice!\S+ PRIVMSG dave :to IRC"))
    await dave.send("PRIVMSG alice :from IRC", "PRIVMSG alice :\x01ACTION nods\x01")
    await alice.get_by_role("button", name=re.compile(r"^carol")).click()
    await expect(log_line(alice, "from the terminal")).to_contain_text("carol")
    await alice.get_by_role("button", name=re.compile(r"^dave")).click()
    await expect(log_line(alice, "from IRC")).to_contain_text("dave")
    await expect(log_line(alice, "nods")).to_contain_text("* dave nods")

    await say(alice, "/msg nobody hello?")
    await expect(log_line(alice, 'No user named "nobody".')).to_be_visible()


async def test_a_kicked_page_user_is_told_and_leaves_the_member_lists(
    server: ServerProcess, pages: Pages, text_user: TextUser
) -> None:
    carol = await text_user("carol")
    await carol.create("lobby")
    alice = await pages.login("alice")
    bob = await pages.login("bob")
    for page in (alice, bob):
        await say(page, "/join lobby")
    await hears(server, carol, "* bob has joined lobby")

    await carol.send("/kick bob mind your manners")
    await expect(
        log_line(bob, "You were kicked from #lobby by carol (mind your manners)")
    ).to_be_visible()
    await expect(bob.get_by_label("Members", exact=True).locator("li")).to_have_count(0)
    await expect(bob.locator("#topic")).to_have_text("You are not in this room.")
    await expect(
        log_line(alice, "bob was kicked from #lobby by carol (mind your manners)")
    ).to_be_visible()
    await expect(alice.get_by_label("Members", exact=True).locator("li")).to_have_text(
        ["@carol", "alice"]
    )

    await say(bob, "still here?")
    await expect(log_line(bob, "You are not in #lobby: /join lobby to go back.")).to_be_visible()
    await say(bob, "/join lobby")
    await expect(bob.get_by_label("Members", exact=True).locator("li")).to_have_text(
        ["@carol", "alice", "bob"]
    )


async def test_history_comes_on_joining_and_older_lines_at_the_top(
    server: ServerProcess, pages: Pages, text_user: TextUser
) -> None:
    carol = await text_user("carol")
    await carol.create("lobby")
    await carol.send(*(f"line {n}" for n in range(1, 81)))
    await hears(server, carol, stamped("<carol> line 80"))

    alice = await pages.login("alice")
    await say(alice, "/join lobby")
    await expect(log_line(alice, "line 80")).to_be_visible()
    await expect(log_line(alice, "line 31")).to_have_count(1)
    await expect(log_line(alice, "line 30")).to_have_count(0)

    await alice.locator("#log").evaluate("log => { log.scrollTop = 0; }")
    await expect(log_line(alice, "line 30")).to_have_count(1)
    await expect(alice.locator("#messages li.msg-msg")).to_have_count(80)
    await alice.locator("#log").evaluate("log => { log.scrollTop = 0; }")
    await expect(alice.locator("#log-top")).to_have_text(
        "This is the beginning of the room's history."
    )
    texts = await alice.locator("#messages li.msg-msg .text").all_text_contents()
    assert texts == [f"line {n}" for n in range(1, 81)]


async def test_unread_counts_mentions_and_a_notification_when_the_tab_is_hidden(
    server: ServerProcess, pages: Pages, text_user: TextUser
) -> None:
    carol = await text_user("carol")
    await carol.create("side")
    alice = await pages.login("alice", fake_notifications=True)
    await say(alice, "/join side")
    await say(alice, "/join main")
    await expect(alice.locator("#title")).to_have_text("#main")

    await carol.send("just chatting", "alice: a word, please")
    side = alice.locator("#buffer-list").get_by_role("button", name=re.compile(r"^#side"))
    await expect(side).to_have_accessible_name("#side, 2 unread, 1 for you")
    await expect(side.locator(".badge")).to_have_text("2")
    await expect(side.locator(".badge")).to_have_class(re.compile(r"\bmention\b"))
    assert await alice.evaluate("window.__notifications") == []  # the tab is visible

    await side.click()
    await expect(log_line(alice, "alice: a word, please")).to_have_class(re.compile(r"\bmention\b"))
    await expect(side).to_have_accessible_name("#side")
    await server.logged(r"< b'MARKREAD #side timestamp=\S+'")

    await alice.evaluate("window.__hidden = true")
    await carol.send("alice, are you there?")
    await expect(alice).to_have_title("(1) chatroom", timeout=WAIT_MS)
    notes = await alice.evaluate("window.__notifications")
    assert notes == [["carol in #side", "alice, are you there?"]]
