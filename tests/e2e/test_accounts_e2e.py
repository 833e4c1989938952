"""Accounts on the text door end to end: the real server on port 0, clients over
sockets. Register, quit, log in again; nobody else gets the name, at the prompt or by
/nick; wrong passwords are limited; a login elsewhere takes the name over; and no
password ever reaches a log record, even at DEBUG; passwords are hashed on threads
behind the event loop."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading

import pytest

from config.settings import Config
from net.listeners import ChatServer
from registry.hashing import HASHING_NICE, THREAD_NAME
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, in_room
from tests.rigs.irc import IrcClient

PASSWORD = "correct-horse-battery"


@pytest.fixture
def config() -> Config:
    return Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test")


NEW_PASSWORD = "staple-of-the-horse"


def nickserv(text: str) -> re.Pattern[str]:
    """NickServ's answer, as a private message from it."""
    return re.compile(r"\[\d\d:\d\d\] \*NickServ\* " + re.escape(text))


async def log_in(client: ChatClient, name: str, password: str) -> None:
    await client.expect("Enter your username:")
    await client.send(name)
    await client.expect(f"Enter the password for {name}:")
    await client.send(password)
    await client.expect(f"* You are logged in as {name}.")


async def test_register_quit_and_log_in_again(
    connect: Connect, server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await connect("alice")
    await alice.send(f"/register {PASSWORD}")
    await alice.expect(nickserv("Account alice registered; you are logged in to it."))
    await alice.send(f"/msg NickServ PASSWD {PASSWORD} {NEW_PASSWORD}")
    await alice.expect(nickserv("The password of alice is changed."))
    await alice.send("/quit")
    await alice.expect_closed()
    again = await connect()
    await again.expect("Enter your username:")
    await again.send("alice")
    await again.expect("Enter the password for alice:")
    await again.send(PASSWORD)  # the old one
    await again.expect("! Wrong password for alice.")
    await again.expect("Enter your username:")
    await again.send("alice")
    await again.send(NEW_PASSWORD)
    await again.expect("* Hello, alice!")
    await again.expect("* You are logged in as alice.")
    await again.send(f"/msg nickserv identify alice {NEW_PASSWORD}", "/password a b c")
    await again.expect(nickserv("You are logged in to alice already."))
    await again.expect("! Usage: /password OLD NEW")
    member = server.rooms.find("alice")
    assert member is not None and member.account == "alice"
    logged = [record.getMessage() for record in caplog.records]
    assert any("/register <password>" in line for line in logged)
    assert any("/msg NickServ PASSWD <password>" in line for line in logged)
    for secret in (PASSWORD, NEW_PASSWORD):
        assert all(secret not in line for line in logged)


async def test_a_guest_cannot_take_a_registered_name(connect: Connect, server: ChatServer) -> None:
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    mallory = await connect()
    await mallory.expect("Enter your username:")
    await mallory.send("ALICE")
    await mallory.expect("Enter the password for alice:")
    await mallory.send("")  # no password: back to the name prompt
    await mallory.expect("Enter your username:")
    await mallory.send("mallory")
    await mallory.expect("Enter your choice:")
    await mallory.send("/nick Alice")
    await mallory.expect('! The name "Alice" is registered; log in to use it.')
    await mallory.send("/msg NickServ IDENTIFY alice guess")
    await mallory.expect(nickserv("Wrong password for alice."))
    assert server.rooms.find("alice") is None
    member = server.rooms.find("mallory")
    assert member is not None and member.account == ""


async def test_wrong_passwords_at_the_prompt_are_limited(
    connect: Connect, server: ChatServer
) -> None:
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    guesser = await connect()
    await guesser.expect("Enter your username:")
    for _ in range(10):
        await guesser.send("alice", "guess")
        await guesser.expect("! Wrong password for alice.")
    await guesser.send("alice", PASSWORD)
    await guesser.expect("! Too many wrong passwords; try again in 30 s.")
    await guesser.expect("Enter your username:")
    assert server.rooms.find("alice") is None


async def test_a_login_puts_an_irc_user_holding_the_name_off_it(
    connect: Connect, server: ChatServer
) -> None:
    irc = await IrcClient.open(server.irc_port)
    await irc.register("alice")
    await irc.join("#den")
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")  # as from elsewhere
    bob = await in_room(connect, "bob", "den")
    text = await connect()
    await log_in(text, "alice", PASSWORD)
    await text.expect("Enter your choice:")  # a new member: the IRC user's rooms are not its
    assert (await irc.expect_closed())[-1] == (
        "ERROR :Closing link: 127.0.0.1 (Logged in from elsewhere)"
    )
    await bob.expect("* alice has quit (Logged in from elsewhere)")
    member = server.rooms.find("alice")
    assert member is not None and member.door == "text" and member.account == "alice"
    await irc.close()


async def test_passwords_are_hashed_on_threads_behind_the_loop(connect: Connect) -> None:
    def hashers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)}

    before = hashers()  # another test's, ending: a new thread may get its ident
    alice = await connect("alice")
    await alice.send(f"/register {PASSWORD}")
    await alice.expect(nickserv("Account alice registered; you are logged in to it."))
    new = [thread.native_id for thread in hashers() - before]
    assert new  # the server's own, started by this registration
    if sys.platform == "linux":
        loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        for native_id in new:
            assert native_id is not None
            hashing_priority = os.getpriority(os.PRIO_PROCESS, native_id)
            assert hashing_priority == max(HASHING_NICE, loop_priority)
