"""Broken clients and broken code: every way a connection can end cleans up after it.

A reset, an EOF halfway through a line or a prompt, or a disconnect while the registry
is busy with the client's last line all free the name, tell the room `* NAME has
quit`, and leave nothing in the registry. Nothing a client does puts a traceback in
the log; a bug in one session is logged once, ends that session, and no other.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from typing import Any

import pytest

from doors.text.commands import COMMANDS
from doors.text.conversation import Command, Conversation
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, connection_of, in_room, wait_until

QUIT = r"\* {name} has quit( \(.*\))?"


async def all_gone(server: ChatServer, *, but: AbstractSet[str] = frozenset()) -> None:
    """Wait until only the users in `but` are connected and every cleanup has run."""
    await wait_until(
        lambda: (
            set(server.rooms.snapshot()[0]) == but
            and len(server.connections()) == len(but)
            and not server.cleanups_running()
        )
    )


def reset(client: ChatClient) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), as a crashed peer would."""
    sock = client.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.writer.transport.abort()


def half_close(client: ChatClient) -> None:
    """Send EOF, as `nc -N` or a closed pipe would."""
    client.writer.write_eof()


def assert_registry_holds(server: ChatServer, rooms: dict[str, list[str]]) -> None:
    """The registry is exactly these rooms with these members, and their users."""
    users, by_key = server.rooms.snapshot()
    assert {key: room.names() for key, room in by_key.items()} == rooms
    assert sorted(users) == sorted(name for names in rooms.values() for name in names)
    for room in by_key.values():
        for member in room.members:
            assert set(member.rooms) == {room} and users[member.name] is member


# --- Abrupt disconnects in a room ---

ENDINGS: dict[str, Callable[[ChatClient], Any]] = {"reset": reset, "EOF": half_close}


@pytest.mark.parametrize("end", ENDINGS.values(), ids=ENDINGS.keys())
@pytest.mark.parametrize("partial", [b"", b"half a li"], ids=["between lines", "mid-line"])
async def test_an_abrupt_disconnect_in_a_room_frees_the_name_and_tells_the_room(
    connect: Connect, server: ChatServer, end: Callable[[ChatClient], Any], partial: bytes
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    bob = await in_room(connect, "bob", "r")
    await alice.expect("* bob has joined r")
    await bob.send_bytes(partial)
    end(bob)
    *before, _ = await alice.expect(re.compile(QUIT.format(name="bob")))
    if before:  # after EOF a last line without its newline is still a line
        assert end is half_close and partial
        assert [line.split("] ", 1)[1] for line in before] == [f"<bob> {partial.decode()}"]
    again = await connect("bob")  # the name is free at once
    await again.join("r")
    await alice.expect("* bob has joined r")
    assert_registry_holds(server, {"r": ["alice", "bob"]})


async def test_a_reset_is_told_as_a_quit_with_at_most_a_reason(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    bob = await in_room(connect, "bob", "r")
    await alice.expect("* bob has joined r")
    reset(bob)
    line = await alice.line()
    assert line in ("* bob has quit", "* bob has quit (connection reset)")


async def test_talking_to_a_peer_that_just_reset_logs_no_error(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    bobs = [await in_room(connect, f"bob{n}", "r") for n in range(10)]
    await alice.expect("* bob9 has joined r")
    for bob in bobs:
        reset(bob)
    await alice.send(*(f"into the void {n}" for n in range(200)))
    quits: set[str] = set()
    async with asyncio.timeout(5):
        while len(quits) < len(bobs):
            line = await alice.line()
            if " has quit" in line:
                quits.add(line.split()[1])
    assert quits == {f"bob{n}" for n in range(10)}
    await all_gone(server, but={"alice"})


# --- Abrupt disconnects at each prompt ---

PROMPTS = {
    "at the name prompt": [],
    "halfway through a name": [b"bo"],
    "at the menu": [b"bob\n"],
    "at the new room prompt": [b"bob\n", b"1\n"],
    "at the join prompt": [b"bob\n", b"2\n"],
    "halfway through a room name": [b"bob\n", b"2\n", b"gen"],
}
WAIT_FOR = {
    b"": "Enter your username:",
    b"bob\n": "Enter your choice:",
    b"1\n": "Enter new room name:",
    b"2\n": "Enter room name to join:",
}


@pytest.mark.parametrize("end", ENDINGS.values(), ids=ENDINGS.keys())
@pytest.mark.parametrize("steps", PROMPTS.values(), ids=PROMPTS.keys())
async def test_an_abrupt_disconnect_at_any_prompt_leaves_nothing_behind(
    connect: Connect, server: ChatServer, end: Callable[[ChatClient], Any], steps: list[bytes]
) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    client = await connect()
    await client.expect(WAIT_FOR[b""])
    for step in steps:
        await client.send_bytes(step)
        if step in WAIT_FOR:
            await client.expect(WAIT_FOR[step])
    end(client)
    await all_gone(server, but={"alice"})
    assert_registry_holds(server, {"general": ["alice"]})
    await alice.send("/who")
    assert await alice.line() == "* Users in general: @alice"  # and nobody was told anything


async def test_a_hundred_clients_resetting_at_once_leave_an_empty_registry(
    connect: Connect, server: ChatServer
) -> None:
    clients = [await in_room(connect, f"u{n}", "crowd", create=n == 0) for n in range(100)]
    await clients[0].expect("* u99 has joined crowd")
    for client in clients:
        reset(client)
    await all_gone(server)
    assert server.rooms.snapshot() == ({}, {})


# --- A disconnect while the client's last line waits on the registry ---


class Gate:
    """Holds one registry method at its start until opened, to widen a race window."""

    def __init__(self, server: ChatServer, method: str) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.done = asyncio.Event()  # the method returned (or raised)
        real: Callable[..., Awaitable[Any]] = getattr(server.rooms, method)

        async def gated(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            await self.opened.wait()
            try:
                return await real(*args, **kwargs)
            finally:
                self.done.set()

        setattr(server.rooms, method, gated)


async def test_a_reset_seen_while_a_join_is_pending_ends_in_a_join_then_a_quit(
    connect: Connect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    bob = await connect("bob")
    gate = Gate(server, "join")
    await bob.send("/join r")
    try:
        await asyncio.wait_for(gate.entered.wait(), 5)
        conn = connection_of(server, "bob")
        reset(bob)
        await wait_until(lambda: conn.is_closed)  # gone before the registry answers
    finally:
        gate.opened.set()
    assert await alice.line() == "* bob has joined r"
    assert re.fullmatch(QUIT.format(name="bob"), await alice.line())
    await all_gone(server, but={"alice"})
    assert_registry_holds(server, {"r": ["alice"]})


@pytest.mark.parametrize("end", ENDINGS.values(), ids=ENDINGS.keys())
async def test_a_disconnect_behind_a_pending_join_and_queued_lines_is_cleaned_up(
    connect: Connect, server: ChatServer, end: Callable[[ChatClient], Any]
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    bob = await connect("bob")
    gate = Gate(server, "join")
    await bob.send("/join r", "queued behind the join", "/leave", "/create s")
    try:
        await asyncio.wait_for(gate.entered.wait(), 5)
        end(bob)
    finally:
        gate.opened.set()
    assert await alice.line() == "* bob has joined r"
    await all_gone(server, but={"alice"})
    assert_registry_holds(server, {"r": ["alice"]})


@pytest.mark.parametrize("method,lines", [("claim", ["bob"]), ("create", ["bob", "/create r"])])
async def test_a_disconnect_while_a_name_or_room_is_pending_leaves_nothing_behind(
    connect: Connect, server: ChatServer, method: str, lines: list[str]
) -> None:
    client = await connect()
    await client.expect("Enter your username:")
    *before, last = lines
    if before:
        await client.send(*before)
        await client.expect("Enter your choice:")
    gate = Gate(server, method)
    await client.send(last)
    try:
        await asyncio.wait_for(gate.entered.wait(), 5)
        conn = server.connections()[0]
        reset(client)
        await wait_until(lambda: conn.is_closed)
    finally:
        gate.opened.set()
    await asyncio.wait_for(gate.done.wait(), 5)
    await all_gone(server)
    assert server.rooms.snapshot() == ({}, {})


# --- A bug in one session ---


def raises_at_once(s: Conversation, arg: str) -> None:
    raise RuntimeError("a bug in /who")


def raises_later(s: Conversation, arg: str) -> Awaitable[None]:
    async def later() -> None:
        await s.rooms.listing()
        raise RuntimeError("a bug after the registry answered")

    return later()


@pytest.mark.parametrize("bug", [raises_at_once, raises_later], ids=["sync", "async"])
async def test_a_bug_in_a_handler_ends_that_session_only_and_is_logged_once(
    connect: Connect,
    server: ChatServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    bug: Callable[[Conversation, str], Any],
) -> None:
    alice = await in_room(connect, "alice", "r", create=True)
    bob = await in_room(connect, "bob", "r")
    carol = await in_room(connect, "carol", "elsewhere", create=True)
    await alice.expect("* bob has joined r")
    monkeypatch.setitem(COMMANDS, "who", Command("/who", bug))
    await bob.send("/who", "never read")
    assert await bob.expect_closed() == ["! Internal error."]
    assert await alice.line() == "* bob has quit"
    await alice.send("still here")
    assert (await alice.line()).endswith("] <alice> still here")
    await carol.send("me too")
    assert (await carol.line()).endswith("] <carol> me too")
    await all_gone(server, but={"alice", "carol"})
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].levelno == logging.ERROR and errors[0].exc_info
    assert "bob" in errors[0].getMessage()
    caplog.clear()  # the one expected error; no_tracebacks checks the rest


@pytest.mark.timeout(60)
async def test_a_speaker_is_never_reset_while_ten_others_drop_under_load(
    connect: Connect, server: ChatServer
) -> None:
    """A stress of the path where delivering to members that just went away might hurt
    someone else: 20 rounds of one member speaking 200 lines while ten others drop
    (half by EOF, half by reset) at once, with a thread burning the CPU (and taking the
    GIL) throughout. The speaker gets every line back, hears every quit, and its
    connection is never reset."""
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(10_000))

    burner = threading.Thread(target=burn, daemon=True)
    burner.start()
    try:
        for round_ in range(20):
            room = f"r{round_}"
            alice = await in_room(connect, f"alice{round_}", room, create=True)
            bobs = [await in_room(connect, f"bob{round_}x{n}", room) for n in range(10)]
            await alice.expect(f"* bob{round_}x9 has joined {room}")

            async def drop(bobs: list[ChatClient]) -> None:
                for n, bob in enumerate(bobs):
                    (reset if n % 2 else half_close)(bob)
                    await asyncio.sleep(0)  # interleaved with the speaker's lines

            dropping = asyncio.create_task(drop(bobs))
            await alice.send(*(f"line {n}" for n in range(200)))
            await dropping
            said, quits = 0, 0
            async with asyncio.timeout(10):
                while said < 200 or quits < 10:
                    line = await alice.line()
                    said += line.endswith(f"> line {said}")
                    quits += " has quit" in line
            await alice.send("/quit")
            await alice.expect_closed()
            await all_gone(server)
    finally:
        stop.set()
        burner.join()
