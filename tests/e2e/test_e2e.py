"""The real server on port 0, driven by several real socket clients through docs/protocol.md."""

from __future__ import annotations

import asyncio
import re

from doors.text.commands import COMMANDS
from doors.text.session import MENU
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient

CHAT = re.compile(r"\[\d\d:\d\d\] <(?P<name>[^>]+)> (?P<text>.*)")


async def test_a_newcomer_walks_the_whole_menu_like_an_nc_user(connect: Connect) -> None:
    nc = await connect()
    assert await nc.line() == "* Welcome to chatroom."
    assert await nc.line() == "Enter your username:"
    await nc.send("alice")
    assert await nc.line() == "* Hello, alice!"
    assert re.fullmatch(
        r"\* Reclaim code: (\S+) \(after a dropped connection: /reclaim alice \1\)",
        await nc.line(),
    )
    assert [await nc.line() for _ in range(6)] == list(MENU)
    await nc.send("3")
    assert await nc.expect("Enter your choice:") == [
        "* No rooms yet. Create one with 1 or /create NAME.",
        *MENU,
    ]
    await nc.send("1", "general")
    assert await nc.line() == "Enter new room name:"
    assert await nc.line() == "Joined room [general]. Type 'exit' to leave, /help for commands."
    assert await nc.line() == "* Users in general: @alice"
    await nc.send("hello")
    assert CHAT.fullmatch(await nc.line())
    await nc.send("exit", "2")
    await nc.expect("Enter your choice:")
    assert await nc.expect("Enter your choice:") == [  # no room to join: the menu again
        "* No rooms yet. Create one with 1 or /create NAME.",
        *MENU,
    ]
    await nc.send("/join general")
    assert await nc.expect("Enter your choice:") == [
        '! Room "general" does not exist.',
        "Enter your choice:",
    ]
    await nc.send("4")
    assert await nc.expect_closed() == ["Goodbye!"]


async def test_every_line_ends_in_crlf_and_both_line_endings_are_accepted(
    connect: Connect,
) -> None:
    client = await connect()
    await client.send_bytes(b"alice\r\n3\n")
    await client.expect("Enter your choice:")  # ChatClient.line() asserts CRLF on each
    await client.expect("Enter your choice:")


async def test_a_name_taken_in_another_case_is_refused_and_asked_again(connect: Connect) -> None:
    await connect("Alice")
    bob = await connect()
    await bob.expect("Enter your username:")
    await bob.send("aLiCe")
    assert await bob.line() == '! The name "aLiCe" is taken.'
    assert await bob.line() == "Enter your username:"
    await bob.send("bob")
    assert await bob.line() == "* Hello, bob!"


async def test_a_name_is_free_again_once_its_owner_disconnects(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.close()
    again = await connect()
    await again.expect("Enter your username:")
    for _ in range(50):  # the server may not have seen the close yet: ask until it has
        await again.send("alice")
        if await again.line() == "* Hello, alice!":
            return
        await again.expect("Enter your username:")
    raise AssertionError("the name was never freed")


async def test_rooms_are_isolated_and_chat_echoes_to_the_sender(connect: Connect) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await alice.create("one")
    await bob.create("two")
    await carol.join("one")
    await alice.expect("* carol has joined one")
    await bob.send("for two only")
    await carol.send("for one")
    m = CHAT.fullmatch(await bob.line())
    assert m and m["name"] == "bob" and m["text"] == "for two only"
    m = CHAT.fullmatch(await alice.line())
    assert m and m["name"] == "carol" and m["text"] == "for one"
    m = CHAT.fullmatch(await carol.line())
    assert m and m["text"] == "for one"


async def test_every_line_kind_has_its_protocol_form(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.create("lobby")
    await bob.join("lobby")
    await alice.expect("* bob has joined lobby")
    await bob.send("/me waves", "/msg alice psst", "/nick robert", "/who", "/bogus")
    assert re.fullmatch(r"\[\d\d:\d\d\] \* bob waves", await alice.line())
    assert re.fullmatch(r"\[\d\d:\d\d\] \*bob\* psst", await alice.line())
    assert await alice.line() == "* bob is now known as robert"
    assert re.fullmatch(r"\[\d\d:\d\d\] \* bob waves", await bob.line())
    assert re.fullmatch(r"\[\d\d:\d\d\] -> \*alice\* psst", await bob.line())
    assert await bob.line() == "* bob is now known as robert"
    assert await bob.line() == "* Users in lobby: @alice, robert"
    assert await bob.line() == "! Unknown command /bogus. Type /help."


async def test_each_slash_command_works_from_the_menu_and_the_room(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.send("/help")
    help_lines = await alice.expect("Enter your choice:")
    # After a command in the menu, only its last line comes again (not the whole menu).
    assert help_lines[0] == "Commands" and len(help_lines) == 1 + len(COMMANDS) + 1
    await alice.send("/create one")
    await alice.expect("Joined room [one]. Type 'exit' to leave, /help for commands.")
    assert await alice.line() == "* Users in one: @alice"  # its maker is its operator
    await alice.send("/rooms")
    assert await alice.line() == "Rooms (1)"
    assert await alice.line() == "one (1 user)"
    await alice.send("/join two")
    assert await alice.line() == '! Room "two" does not exist.'
    await alice.send("/leave")
    assert await alice.line() == "* You left one."
    await alice.expect("Enter your choice:")
    await alice.send("/quit")
    assert await alice.expect_closed() == ["Goodbye!"]


async def test_a_dropped_connection_is_told_to_the_room_as_a_quit(
    connect: Connect, server: ChatServer
) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.create("lobby")
    await bob.join("lobby")
    await alice.expect("* bob has joined lobby")
    await bob.close()
    assert await alice.line() == "* bob has quit"
    users, rooms = server.rooms.snapshot()
    assert list(users) == ["alice"] and list(rooms) == ["lobby"]


async def test_each_senders_messages_arrive_in_order_at_every_receiver(connect: Connect) -> None:
    count, senders = 300, 3
    clients = [await connect(f"u{i}") for i in range(5)]
    await clients[0].create("lobby")
    for i, client in enumerate(clients[1:], 1):
        await client.join("lobby")
        for earlier in clients[:i]:
            await earlier.expect(f"* u{i} has joined lobby")

    async def send(client: ChatClient, me: int) -> None:
        await client.send(*(f"{me} {n}" for n in range(count)))

    async def receive(client: ChatClient) -> dict[str, list[int]]:
        got: dict[str, list[int]] = {f"u{i}": [] for i in range(senders)}
        for _ in range(count * senders):
            m = CHAT.fullmatch(await client.line())
            assert m, client.seen[-1]
            got[m["name"]].append(int(m["text"].split()[1]))
        return got

    receiving = [asyncio.create_task(receive(c)) for c in clients]
    await asyncio.gather(*(send(clients[i], i) for i in range(senders)))
    for got in await asyncio.gather(*receiving):
        assert all(seqs == list(range(count)) for seqs in got.values())


async def test_lines_sent_before_a_half_close_are_all_answered(connect: Connect) -> None:
    client = await connect()
    await client.send_bytes(b"w1\n3\n/rooms\n/create lobby\nlast words")
    client.writer.write_eof()
    lines = await client.expect_closed()
    assert lines[-3] == "Joined room [lobby]. Type 'exit' to leave, /help for commands."
    assert lines[-2] == "* Users in lobby: @w1"
    assert lines.count("* No rooms yet. Create one with 1 or /create NAME.") == 2
    assert CHAT.fullmatch(lines[-1]) and lines[-1].endswith("<w1> last words")
