"""A bounded soak: 200 clients join, chat, leave and reconnect for about twenty seconds.

Each round every client is dealt into one of ten rooms. A room's first member creates
it and the others join; each member waits until it has seen all of its room arrive,
says its messages (each carries sender, round and number), and waits until it has
every message of every member of its room, exactly once and in each sender's order.
Then it leaves: by `exit`, `/quit`, a reset, an EOF or a plain close; those that
disconnected log in again, under the same name, in the next round. The registry must
be empty at the end. Run with `-m "not soak"` to skip; SOAK_SECONDS sets the length.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import struct
from collections import defaultdict

import pytest

from net.listeners import ChatServer
from tests.rigs.chat import ChatClient

CLIENTS = 200
ROOMS = 10
MESSAGES = 10  # per client per round
SOAK_S = float(os.environ.get("SOAK_SECONDS", "20"))
MIN_ROUNDS = 3
READ_S = 20.0

SAID = re.compile(r"\[\d\d:\d\d\] <(?P<name>[^>]+)> (?P<sender>\S+) (?P<round>\d+) (?P<n>\d+)")
# What a member may see of others leaving: the leave, and who kept the room.
DEPARTED = r"\* \S+ (has (left {0}|quit.*)|is now an operator of {0} \(the last operator left\))"
USERS = re.compile(r"\* Users in (?P<room>\S+): (?P<names>.*)")
JOINED = re.compile(r"\* (?P<name>\S+) has joined (?P<room>\S+)")
WAYS_OUT = ["exit", "exit", "exit", "/quit", "reset", "eof", "close"]


class Soaker:
    """One user: a name kept across reconnections, and the connection it has now."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.client: ChatClient | None = None

    @property
    def chat(self) -> ChatClient:
        assert self.client is not None, f"{self.name} is not connected"
        return self.client

    async def log_in(self) -> None:
        self.client = await ChatClient.open(self.port)
        await self.chat.expect("Enter your username:", READ_S)
        await self.chat.send(self.name)
        assert await self.chat.line(READ_S) == f"* Hello, {self.name}!"
        await self.chat.expect("Enter your choice:", READ_S)

    async def line(self) -> str:
        return await self.chat.line(READ_S)

    async def enter(self, room: str, *, create: bool) -> set[str]:
        """Create or join `room`; the members already there (self included)."""
        await self.chat.send(f"/create {room}" if create else f"/join {room}")
        joined = f"Joined room [{room}]. Type 'exit' to leave, /help for commands."
        await self.chat.expect(joined, READ_S)
        match = USERS.fullmatch(await self.line())
        assert match and match["room"] == room, "no user list after a join (or a create)"
        return {name.lstrip("@+") for name in match["names"].split(", ")}

    async def play(self, room: str, group: set[str], present: set[str], rnd: int) -> None:
        """Wait for the whole room, chat, and check every message arrived exactly once."""
        while present != group:
            line = await self.line()
            match = JOINED.fullmatch(line)
            assert match and match["room"] == room, f"{self.name} got {line!r} while waiting"
            assert match["name"] in group and match["name"] not in present
            present.add(match["name"])
        await self.chat.send(*(f"{self.name} {rnd} {n}" for n in range(MESSAGES)))
        got: dict[str, list[int]] = defaultdict(list)
        for _ in range(len(group) * MESSAGES):
            line = await self.line()
            while not (match := SAID.fullmatch(line)):
                assert re.fullmatch(DEPARTED.format(room), line), line
                line = await self.line()
            sender = match["sender"]
            assert match["name"] == sender and int(match["round"]) == rnd, line
            assert sender in group, f"{self.name} in {room} got a message from {sender}"
            got[sender].append(int(match["n"]))
        expected = {sender: list(range(MESSAGES)) for sender in group}
        assert got == expected, f"{self.name} lost, duplicated or reordered messages"

    async def leave(self, room: str, way: str) -> None:
        if way == "exit":
            await self.chat.send("exit")
            line = await self.line()
            while line != f"* You left {room}.":  # nothing but others' departures
                assert re.fullmatch(DEPARTED.format(room), line), line
                line = await self.line()
            await self.chat.expect("Enter your choice:", READ_S)
            return
        client, self.client = self.chat, None
        if way == "/quit":
            await client.send("/quit")
            await client.expect("Goodbye!", READ_S)
        elif way == "reset":
            sock = client.writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.writer.transport.abort()
            return
        elif way == "eof":
            client.writer.write_eof()
            await client.expect_closed(READ_S)
        await client.close()


async def settled(server: ChatServer, soakers: list[Soaker]) -> None:
    """Wait until the registry holds exactly the connected users and no room."""
    connected = {s.name for s in soakers if s.client is not None}
    async with asyncio.timeout(READ_S):
        while (
            set(server.rooms.snapshot()[0]) != connected
            or server.rooms.snapshot()[1]
            or len(server.connections()) != len(connected)
        ):
            await asyncio.sleep(0.01)


async def play_round(soakers: list[Soaker], rnd: int, rng: random.Random) -> None:
    order = rng.sample(soakers, len(soakers))
    tables = [(f"r{rnd}k{k}", order[k::ROOMS]) for k in range(ROOMS)]
    await asyncio.gather(*(group[0].enter(room, create=True) for room, group in tables))
    present = {group[0].name: {group[0].name} for _, group in tables}

    async def join(s: Soaker, room: str) -> None:
        present[s.name] = await s.enter(room, create=False)

    await asyncio.gather(*(join(s, room) for room, group in tables for s in group[1:]))
    await asyncio.gather(
        *(
            s.play(room, {m.name for m in group}, present[s.name], rnd)
            for room, group in tables
            for s in group
        )
    )
    await asyncio.gather(
        *(s.leave(room, rng.choice(WAYS_OUT)) for room, group in tables for s in group)
    )


@pytest.mark.soak
@pytest.mark.timeout(SOAK_S + 120)
async def test_two_hundred_clients_churning_lose_and_duplicate_nothing(
    server: ChatServer,
) -> None:
    rng = random.Random(20261125)
    soakers = [Soaker(f"user{n:03}", server.port) for n in range(CLIENTS)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SOAK_S
    rnd = 0
    try:
        while rnd < MIN_ROUNDS or loop.time() < deadline:
            await settled(server, soakers)
            await asyncio.gather(*(s.log_in() for s in soakers if s.client is None))
            await play_round(soakers, rnd, rng)
            rnd += 1
    finally:
        for s in soakers:
            if s.client is not None:
                await s.client.close()
                s.client = None
    await settled(server, soakers)
    assert server.rooms.snapshot() == ({}, {})
    print(f"{rnd} rounds of {CLIENTS} clients in {ROOMS} rooms")
