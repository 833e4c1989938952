"""Read markers end to end, on both doors (docs/protocol.md and docs/irc.md, "Read
markers"): a connection that comes back gets exactly what it missed. On the text door
by the account's marker, which follows what a connection was shown, or by the time
`/replay since` gives; on IRC by MARKREAD and CHATHISTORY AFTER it; and reading on one
device moves the marker of the others."""

from __future__ import annotations

import base64
import itertools
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.settings import Config
from doors.irc.message import parse
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient
from utils import utc_ms

PASSWORD = "correct-horse-7"
STAMP = r"\[\d\d:\d\d\]"
MISSED = 60  # more than a room keeps in memory (--replay 20): the rest from the store
IrcConnect = Callable[[], Awaitable[IrcClient]]
CAPS = "sasl draft/read-marker draft/chathistory batch server-time message-tags"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
        db_path=str(tmp_path / "chat.db"),
    )  # fmt: skip


@pytest.fixture
async def chat(server: ChatServer) -> ChatServer:
    """The server, with alice's account; each reading of its clock 10 ms after the last,
    so every line has a server-time of its own (a marker counts in ms)."""
    ticks, start = itertools.count(), time.time()
    server.rooms.clock = lambda: start + next(ticks) / 100
    await server.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    return server


@pytest.fixture
async def irc(chat: ChatServer) -> AsyncIterator[IrcConnect]:
    clients: list[IrcClient] = []

    async def open_client() -> IrcClient:
        client = await IrcClient.open(chat.irc_port)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


async def laptop(connect: Connect) -> ChatClient:
    """alice on the text door, logged in."""
    client = await connect()
    await client.expect("Enter your username:")
    await client.send("alice")
    await client.expect("Enter the password for alice:")
    await client.send(PASSWORD)
    await client.expect("* You are logged in as alice.")
    return client


async def phone(irc: IrcConnect) -> tuple[IrcClient, list[str]]:
    """alice on IRC, logged in with SASL, with read markers and history; the lines of
    its welcome (and of the rooms it is put in)."""
    client = await irc()
    blob = base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode()
    await client.send("CAP LS 302", "NICK alice", "USER a 0 * :Alice", f"CAP REQ :{CAPS}")
    await client.expect(rx(r":irc\.test CAP \S+ ACK .*"))
    await client.send("AUTHENTICATE PLAIN")
    await client.expect(":irc.test AUTHENTICATE +")
    await client.send(f"AUTHENTICATE {blob}")
    await client.expect(rx(r":irc\.test 903 .*"))
    await client.send("CAP END", "PING :welcomed")
    return client, await client.expect(rx(r":irc\.test PONG irc\.test :?welcomed"))


async def bob_says(bob: ChatClient, *texts: str) -> None:
    await bob.send(*texts)
    await bob.expect(rx(rf"{STAMP} <bob> {re.escape(texts[-1])}"))


async def test_a_text_device_that_comes_back_gets_exactly_what_it_missed(
    chat: ChatServer, connect: Connect
) -> None:
    bob = await connect("bob")
    await bob.create("den")
    alice = await laptop(connect)
    await alice.join("den")
    await bob_says(bob, "seen 1", "seen 2", "seen 3")
    await alice.expect(rx(rf"{STAMP} <bob> seen 3"))
    await alice.send("/quit")  # its marker: where its lines were delivered
    await alice.expect_closed()
    await bob_says(bob, *(f"missed {i}" for i in range(MISSED)))

    alice = await laptop(connect)
    await alice.send("/join den")
    lines = await alice.expect("* End of history.")
    start = lines.index(f"* History of den ({MISSED} messages)")
    assert lines[start + 1] == f"* New since you last read: {MISSED} messages"
    replayed = lines[start + 2 : -1]
    assert [line.split("> ", 1)[1] for line in replayed] == [f"missed {i}" for i in range(MISSED)]
    await bob_says(bob, "live")
    assert len(await alice.expect(rx(rf"{STAMP} <bob> live"))) == 1  # after the frame

    await alice.send("exit")  # read up to "live": nothing is new when it comes back
    await alice.expect("Enter your choice:")
    await alice.send("/join den")
    await alice.expect(rx(r"\* Users in den: .*"))
    await bob_says(bob, "after")
    assert len(await alice.expect(rx(rf"{STAMP} <bob> after"))) == 1  # no replay


async def test_irc_gets_its_marker_on_join_and_chathistory_after_it_gives_exactly_the_rest(
    chat: ChatServer, connect: Connect, irc: IrcConnect
) -> None:
    bob = await connect("bob")
    await bob.create("den")
    client, _ = await phone(irc)
    await client.send("JOIN #den")
    joined = await client.expect(rx(r":irc\.test 366 alice #den .*"))
    assert ":irc.test MARKREAD #den *" in joined  # no marker yet, before the end of NAMES
    await bob_says(bob, "seen 1", "seen 2")
    last = (await client.expect(rx(r"@\S+ :bob!\S+ PRIVMSG #den :seen 2")))[-1]
    when = dict(t.split("=", 1) for t in last[1:].split(" ", 1)[0].split(";"))["time"]
    await client.send(f"MARKREAD #den timestamp={when}")
    await client.expect(f":irc.test MARKREAD #den timestamp={when}")
    await client.send("QUIT :later")
    await client.expect_closed()
    await bob_says(bob, *(f"missed {i}" for i in range(MISSED)))

    client, welcome = await phone(irc)
    assert f":irc.test MARKREAD #den timestamp={when}" in welcome  # where it stopped
    await client.send("JOIN #den")
    joined = await client.expect(rx(r":irc\.test 366 alice #den .*"))
    assert f":irc.test MARKREAD #den timestamp={when}" in joined
    await client.send(f"CHATHISTORY AFTER #den timestamp={when} 500")
    opening = (await client.expect(rx(r":irc\.test BATCH \+\S+ chathistory #den")))[-1]
    ref = opening.split("+", 1)[1].split(" ", 1)[0]
    lines = await client.expect(f":irc.test BATCH -{ref}")
    texts = [msg.params[-1] for x in lines[:-1] if (msg := parse(x)) is not None]
    assert texts == [f"missed {i}" for i in range(MISSED)]


async def test_reading_on_one_device_moves_the_marker_of_the_others(
    chat: ChatServer, connect: Connect, irc: IrcConnect
) -> None:
    bob = await connect("bob")
    await bob.create("den")
    alice = await laptop(connect)
    await alice.join("den")
    client, welcome = await phone(irc)  # one more connection: in den already
    assert ":irc.test MARKREAD #den *" in welcome
    await bob_says(bob, "shown on the laptop")
    line = (await client.expect(rx(r"@\S+ :bob!\S+ PRIVMSG #den :shown on the laptop")))[-1]
    when = dict(t.split("=", 1) for t in line[1:].split(" ", 1)[0].split(";"))["time"]
    # The laptop showed it: within a second the phone hears the marker moved.
    await client.expect(f":irc.test MARKREAD #den timestamp={when}", timeout=5)

    await alice.send("/quit")
    await alice.expect_closed()
    await bob_says(bob, *(f"line {i}" for i in range(10)))
    lines = await client.expect(rx(r"@\S+ :bob!\S+ PRIVMSG #den :line 9"))
    times = [
        dict(t.split("=", 1) for t in x[1:].split(" ", 1)[0].split(";"))["time"] for x in lines
    ]
    await client.send(f"MARKREAD #den timestamp={times[6]}")  # read on the phone: up to 6
    await client.expect(f":irc.test MARKREAD #den timestamp={times[6]}")

    alice = await laptop(connect)  # back on the laptop: put in den, with what is unread
    lines = await alice.expect("* End of history.")
    frame = lines[lines.index("* History of den (3 messages)") :]
    assert frame[1] == "* New since you last read: 3 messages"
    assert [x.split("> ", 1)[1] for x in frame[2:-1]] == ["line 7", "line 8", "line 9"]


async def test_replay_since_gives_a_guest_what_was_said_after_a_time_or_an_age(
    chat: ChatServer, connect: Connect
) -> None:
    bob = await connect("bob")
    await bob.create("den")
    await bob_says(bob, *(f"line {i}" for i in range(30)))
    room = chat.rooms.room("den")
    assert room is not None
    when = utc_ms(int(room.recent[5].ts * 1000))  # line 15's time (the last 20 in memory)
    carol = await connect("carol")
    await carol.send(f"/replay since {when}")
    await carol.expect(f"* The next room you join replays what was said there since {when}.")
    await carol.send("/join den")
    lines = await carol.expect("* End of history.")
    assert "* History of den (14 messages)" in lines and not any("New since" in x for x in lines)
    assert [x.split("> ", 1)[1] for x in lines[-15:-1]] == [f"line {i}" for i in range(16, 30)]

    await carol.send("exit", "/replay since 1d", "/join den")  # an age: all of it
    lines = await carol.expect("* End of history.")
    assert "* History of den (30 messages)" in lines
    await carol.send("exit", "/join den")  # once only: then the last 20 again
    lines = await carol.expect("* End of history.")
    assert "* History of den (20 messages)" in lines
    await carol.send("/replay since yesterday")
    await carol.expect(
        "! Usage: /replay [on|off|since WHEN], WHEN a time (2026-12-01T10:20:30.000Z, UTC) "
        "or an age (90s, 15m, 2h, 1d)"
    )
