"""One account on several connections, end to end: a laptop (the text door) and a phone
(IRC, SASL) logged in to one account are one user to everyone else; each sees the whole
conversation with a third user, its own lines from the other device included; the user
quits only when its last connection goes."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient

PASSWORD = "tr0ub4dor-and-3"
STAMP = r"\[\d\d:\d\d\]"


@pytest.fixture
def config() -> Config:
    return Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test")


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[Callable[[], Awaitable[IrcClient]]]:
    clients: list[IrcClient] = []

    async def open_client() -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def laptop_login(connect: Connect) -> ChatClient:
    laptop = await connect()
    await laptop.expect("Enter your username:")
    await laptop.send("alice")
    await laptop.expect("Enter the password for alice:")
    await laptop.send(PASSWORD)
    await laptop.expect("* You are logged in as alice.")
    return laptop


async def phone_login(irc: Callable[[], Awaitable[IrcClient]], nick: str = "alice") -> IrcClient:
    phone = await irc()
    blob = base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode()
    await phone.send("CAP LS 302", f"NICK {nick}", "USER a 0 * :Alice")
    await phone.send("CAP REQ :sasl", "AUTHENTICATE PLAIN")
    await phone.expect(":irc.test AUTHENTICATE +")
    await phone.send(f"AUTHENTICATE {blob}")
    await phone.expect(re.compile(r":irc\.test 903 .*"))
    await phone.send("CAP END")
    await phone.expect(re.compile(r":irc\.test 001 alice .*"))
    return phone


async def test_a_laptop_and_a_phone_are_one_user_and_see_the_whole_conversation(
    connect: Connect, server: ChatServer, irc: Callable[[], Awaitable[IrcClient]]
) -> None:
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    laptop = await laptop_login(connect)
    await laptop.send("/create den")
    await laptop.expect(re.compile(r"Joined room \[den\].*"))
    bob = await connect("bob")
    await bob.join("den")
    await laptop.expect("* bob has joined den")

    phone = await phone_login(irc, nick="whatever")  # the account's user: its nick
    lines = await phone.expect(re.compile(r":irc\.test 366 alice #den .*"))
    assert ":alice!~alice@127.0.0.1 JOIN #den" in lines
    assert any(
        re.fullmatch(r":irc\.test 353 alice = #den :?(@alice bob|bob @alice)", x) for x in lines
    )
    await bob.send("/who")
    who = await bob.expect(re.compile(r"\* Users in den.*"))
    assert who[-1].count("alice") == 1  # others see one alice

    await phone.send("PRIVMSG #den :from the phone")
    await laptop.expect(re.compile(rf"{STAMP} <alice> from the phone"))
    await bob.expect(re.compile(rf"{STAMP} <alice> from the phone"))
    await laptop.send("from the laptop")
    await phone.expect(":alice!~alice@127.0.0.1 PRIVMSG #den :from the laptop")
    await bob.expect(re.compile(rf"{STAMP} <alice> from the laptop"))
    await bob.send("hi both")
    await laptop.expect(re.compile(rf"{STAMP} <bob> hi both"))
    await phone.expect(re.compile(r":bob!\S+ PRIVMSG #den :hi both"))

    await laptop.send("/quit")  # one device goes: nobody sees alice quit
    await laptop.expect_closed()
    await bob.send("still here?")
    await phone.expect(re.compile(r":bob!\S+ PRIVMSG #den :still here\?"))
    member = server.rooms.find("alice")
    assert member is not None and not member.devices
    await phone.send("QUIT :bye")  # the last one: now the room sees alice quit
    await bob.expect("* alice has quit (Quit: bye)")


async def test_a_kill_closes_every_connection_of_the_user(
    connect: Connect, server: ChatServer, irc: Callable[[], Awaitable[IrcClient]]
) -> None:
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    laptop = await laptop_login(connect)
    phone = await phone_login(irc)
    member = server.rooms.find("alice")
    assert member is not None and len(member.devices) == 1
    oper = await server.rooms.claim("root", lambda data: None, lambda event: b"")
    oper.oper = "root"
    server.rooms.kill(oper, "alice", "spam")
    await laptop.expect_closed()
    await phone.expect_closed()
    assert server.rooms.find("alice") is None


async def test_a_room_joined_on_irc_shows_on_the_text_connection_with_its_name(
    connect: Connect, server: ChatServer, irc: Callable[[], Awaitable[IrcClient]]
) -> None:
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    laptop = await laptop_login(connect)
    await laptop.send("/create den")
    await laptop.expect(re.compile(r"Joined room \[den\].*"))
    phone = await phone_login(irc)
    await phone.send("JOIN #attic")
    await phone.expect(re.compile(r":irc\.test 366 alice #attic .*"))
    bob = await connect("bob")
    await bob.join("attic")
    await bob.send("up here", "/me waves")
    await laptop.expect(re.compile(rf"{STAMP} \[attic\] <bob> up here"))
    await laptop.expect(re.compile(rf"{STAMP} \[attic\] \* bob waves"))
    await phone.send("PRIVMSG #den :down there")
    await laptop.expect(re.compile(rf"{STAMP} <alice> down there"))  # its own room: as ever


async def test_a_private_message_sent_from_one_connection_shows_on_the_others_as_sent(
    connect: Connect, server: ChatServer, irc: Callable[[], Awaitable[IrcClient]]
) -> None:
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    laptop = await laptop_login(connect)
    phone = await phone_login(irc)
    bob = await connect("bob")
    await phone.send("PRIVMSG bob :from the phone")
    await bob.expect(re.compile(rf"{STAMP} \*alice\* from the phone"))
    await laptop.expect(re.compile(rf"{STAMP} -> \*bob\* from the phone"))
    await laptop.send("/msg bob from the laptop")
    await laptop.expect(re.compile(rf"{STAMP} -> \*bob\* from the laptop"))
    await phone.expect(":alice!~alice@127.0.0.1 PRIVMSG bob :from the laptop")
    await bob.send("/msg alice to both")
    await laptop.expect(re.compile(rf"{STAMP} \*bob\* to both"))
    await phone.expect(re.compile(r":bob!\S+ PRIVMSG alice :to both"))


async def test_an_always_on_user_stays_and_gets_what_was_sent_to_it_at_its_next_login(
    tmp_path: Path,
) -> None:
    config = Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
                    db_path=str(tmp_path / "chatroom.db"))  # fmt: skip
    server = ChatServer(config)
    await server.start()
    try:
        await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
        await server.rooms.accounts.register("bob", PASSWORD, "192.0.2.1")
        laptop = await ChatClient.open(server.port)
        await laptop.expect("Enter your username:")
        await laptop.send("alice", PASSWORD, "/create den", "/msg NickServ SET ALWAYS-ON on")
        await laptop.expect(re.compile(rf"{STAMP} \*NickServ\* ALWAYS-ON is on for alice\."))
        bob = await ChatClient.open(server.port)
        await bob.expect("Enter your username:")
        await bob.send("bob", PASSWORD, "/join den")
        await bob.expect("* Users in den: @alice, bob")
        await laptop.send("/quit")
        await laptop.expect_closed()
        await bob.send("/whois alice")
        await bob.expect("* alice is away: Not connected (always on)")
        await bob.send("/msg alice while you were out")
        await bob.expect(re.compile(r"\* alice is offline; .*"))
        phone = await irc_client(server)
        await phone.expect(re.compile(r":irc\.test 366 alice #den .*"))
        await phone.expect(re.compile(r":bob!\S+ PRIVMSG alice :\[\d\d:\d\d\] while you were out"))
        assert not [line for line in bob.seen if "has quit" in line]
    finally:
        await server.aclose()


async def test_a_pass_login_to_an_always_on_user_with_no_connection_is_its_connection(
    connect: Connect, server: ChatServer
) -> None:
    """PASS account:password and NICK its name: the user that stayed is this connection
    (no 433 for the name it holds), back in its channels."""
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    laptop = await laptop_login(connect)
    await laptop.send("/msg NickServ SET ALWAYS-ON on", "/create den")
    await laptop.expect(re.compile(r"\* Users in den: @alice"))
    await laptop.send("/quit")
    await laptop.expect_closed()
    phone = await IrcClient.open(server.irc_port)
    await phone.send(f"PASS alice:{PASSWORD}", "NICK alice", "USER a 0 * :Alice")
    lines = await phone.expect(re.compile(r":irc\.test 366 alice #den .*"))
    assert not [line for line in lines if " 433 " in line]
    assert ":alice!~alice@127.0.0.1 JOIN #den" in lines
    await phone.close()


async def irc_client(server: ChatServer) -> IrcClient:
    """alice's phone: IRC, SASL PLAIN, welcomed."""
    phone = await IrcClient.open(server.irc_port)
    blob = base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode()
    await phone.send("CAP LS 302", "NICK alice", "USER a 0 * :Alice", "CAP REQ :sasl")
    await phone.send("AUTHENTICATE PLAIN")
    await phone.expect(":irc.test AUTHENTICATE +")
    await phone.send(f"AUTHENTICATE {blob}", "CAP END")
    await phone.expect(re.compile(r":irc\.test 001 alice .*"))
    return phone
