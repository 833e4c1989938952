"""History end to end on the text door (docs/protocol.md, "History"): the real server
on port 0 with a database in a temporary directory, clients over real sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from config.settings import Config
from net.listeners import ChatServer
from registry.history import StoreError
from store.schema import VERSION, migrate
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, in_room

STAMP = r"\[\d\d:\d\d\]"
_ids = itertools.count()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(port=0, rate_lines_per_s=0, db_path=str(tmp_path / "chat.db"))


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def seed(path: str, room: str, lines: list[tuple[float, str, str]], topic: str = "") -> None:
    """Write a room and its lines (ts, name, text) as an earlier run would have."""
    con = sqlite3.connect(path, isolation_level=None)
    migrate(con, path)
    settings = json.dumps({"topic": topic, "topic_by": "x!~x@h", "topic_ts": 1.0, "modes": "n"})
    con.execute(
        "INSERT OR IGNORE INTO rooms VALUES (?, ?, ?, ?)", (room.casefold(), room, 1.0, settings)
    )
    for ts, name, text in lines:
        msgid = int(ts * 1_000_000) + next(_ids)
        con.execute(
            "INSERT INTO messages (id, room, ts, ts_ms, kind, name, mask, text, tags) "
            "VALUES (?, ?, ?, ?, 'say', ?, ?, ?, '')",
            (msgid, room.casefold(), ts, int(ts * 1000), name, f"{name}!~{name}@h", text),
        )
    con.close()


async def test_a_joiner_sees_the_last_lines_framed_then_live_ones(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    await alice.send("/topic plans", "one", "/me waves", "two")
    await alice.expect(rx(rf"{STAMP} <alice> two"))
    bob = await connect("bob")
    await bob.send("/join general")
    lines = await bob.expect("* End of history.")
    start = lines.index("* History of general (4 messages)")
    assert lines[start - 2 : start] == [
        "* Users in general: @alice, bob",
        "* Topic for general: plans",
    ]
    assert [re.sub(STAMP, "[HH:MM]", x) for x in lines[start + 1 : -1]] == [
        "* alice set the topic of general to: plans",
        "[HH:MM] <alice> one",
        "[HH:MM] * alice waves",
        "[HH:MM] <alice> two",
    ]
    await alice.send("three")
    assert re.fullmatch(rf"{STAMP} <alice> three", await bob.line())


async def test_replay_is_the_last_20_and_history_shows_more(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    for i in range(25):
        await alice.send(f"line {i}")
    await alice.expect(rx(rf"{STAMP} <alice> line 24"))
    bob = await connect("bob")
    await bob.send("/join general")
    lines = await bob.expect("* End of history.")
    assert "* History of general (20 messages)" in lines
    assert lines[-2].endswith("<alice> line 24") and lines[-21].endswith("<alice> line 5")
    await bob.send("/history 23")
    lines = await bob.expect("* End of history.")
    assert lines[0] == "* History of general (23 messages)"
    assert lines[1].endswith("<alice> line 2") and lines[-2].endswith("<alice> line 24")
    await bob.send("/history")
    assert (await bob.expect("* End of history."))[0] == "* History of general (25 messages)"
    for wrong in ("0", "501", "alice 0", "alice x", "alice 5 6"):
        await bob.send(f"/history {wrong}")
        assert await bob.line() == "! Usage: /history [NAME] [N], N from 1 to 500"


@pytest.fixture
def seeded(config: Config) -> Config:
    """Two lines said in general three days ago, and one today."""
    now = time.time()
    old = now - 3 * 86400
    lines = [(old, "ann", "hi"), (old + 60, "ann", "bye"), (now, "ann", "back")]
    seed(config.db_path, "general", lines, topic="old plans")
    return config


@pytest.fixture
async def seeded_server(seeded: Config) -> AsyncIterator[ChatServer]:
    chat = ChatServer(seeded)
    chat.port = await chat.start()
    yield chat
    await chat.aclose()


async def test_lines_from_an_earlier_day_are_dated_and_the_room_was_kept(
    seeded_server: ChatServer,
) -> None:
    bob = await ChatClient.open(seeded_server.port)
    try:
        await bob.login("bob")
        await bob.send("/rooms")
        assert await bob.expect("general (0 users)") == ["Rooms (1)", "general (0 users)"]
        await bob.send("/join general")
        lines = await bob.expect("* End of history.")
        day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 3 * 86400))
        assert "* Topic for general: old plans" in lines
        start = lines.index("* History of general (3 messages)")
        assert re.fullmatch(rf"\[{day} \d\d:\d\d\] <ann> hi", lines[start + 1])
        assert re.fullmatch(rf"\[{day} \d\d:\d\d\] <ann> bye", lines[start + 2])
        assert re.fullmatch(rf"{STAMP} <ann> back", lines[start + 3])
    finally:
        await bob.close()


async def test_expired_lines_are_gone_at_start_and_so_is_a_room_with_only_those(
    config: Config,
) -> None:
    now = time.time()
    seed(config.db_path, "general", [(now - 40 * 86400, "ann", "ancient"), (now, "ann", "fresh")])
    seed(config.db_path, "attic", [(now - 40 * 86400, "ann", "dusty")])
    chat = ChatServer(replace(config, history_days=30))
    port = await chat.start()
    try:
        assert [room.name for room in chat.rooms.rooms()] == ["general"]
        bob = await ChatClient.open(port)
        await bob.login("bob")
        await bob.send("/join general")
        lines = await bob.expect("* End of history.")
        assert lines[-3] == "* History of general (1 message)" and lines[-2].endswith("fresh")
        await bob.close()
    finally:
        await chat.aclose()
    con = sqlite3.connect(config.db_path)
    assert con.execute("SELECT text FROM messages").fetchall() == [("fresh",)]
    assert con.execute("SELECT key FROM rooms").fetchall() == [("general",)]
    con.close()


async def test_a_room_with_history_stays_at_0_users_and_one_without_goes(
    connect: Connect,
) -> None:
    alice = await in_room(connect, "alice", "kept", create=True)
    await alice.send("hello")
    await alice.expect(rx(rf"{STAMP} <alice> hello"))
    await alice.send("/create quiet")
    await alice.expect(rx(r"Joined room \[quiet\].*"))
    await alice.send("/leave")
    await alice.expect("* You left quiet.")
    await alice.send("/rooms")
    assert (await alice.expect("kept (0 users)"))[-2:] == ["Rooms (1)", "kept (0 users)"]


async def test_a_bot_that_turns_replay_off_sees_only_live_lines(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    await alice.send("before")
    await alice.expect(rx(rf"{STAMP} <alice> before"))
    bot = await connect("bot")
    await bot.send("/replay")
    await bot.expect("* Replay on join is on.")
    await bot.send("/replay off")
    await bot.expect("* Replay on join is off.")
    await bot.join("general")
    await alice.expect("* bot has joined general")
    await alice.send("after")
    assert re.fullmatch(rf"{STAMP} <alice> after", await bot.line())
    await bot.send("/history 1")
    assert (await bot.expect("* End of history."))[1].endswith("<alice> after")


async def test_a_line_said_while_someone_joins_reaches_them_exactly_once(
    connect: Connect,
) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    bob = await connect("bob")
    chunks, size = 40, 25
    under_way = asyncio.Event()

    async def chatter() -> None:  # a chunk at a time: lines keep coming while bob joins
        for chunk in range(chunks):
            await alice.send(*(f"n{chunk * size + i}" for i in range(size)))
            await alice.expect(rx(rf"{STAMP} <alice> n{chunk * size + size - 1}"))
            if chunk == 5:
                under_way.set()

    talking = asyncio.create_task(chatter())
    await under_way.wait()
    await bob.send("/join general")
    last = chunks * size - 1
    lines = await bob.expect(rx(rf"{STAMP} <alice> n{last}"), timeout=10)
    await talking
    seen = [int(m[1]) for x in lines if (m := re.fullmatch(rf"{STAMP} <alice> n(\d+)", x))]
    assert seen == list(range(seen[0], last + 1)), "each line once, in order, none missing"
    start, end = lines.index("* History of general (20 messages)"), lines.index("* End of history.")
    assert end - start == 21 and lines[end + 1 :], "20 replayed, then live lines"


async def test_history_is_refused_in_the_menu_and_said_plainly_with_no_history(
    tmp_path: Path,
) -> None:
    chat = ChatServer(Config(port=0, rate_lines_per_s=0))  # no db_path: no history
    port = await chat.start()
    try:
        alice = await ChatClient.open(port)
        await alice.login("alice")
        await alice.send("/history")
        assert await alice.line() == "! You are not in a room."
        await alice.create("general")
        await alice.send("/history")
        assert await alice.line() == "! History is off on this server."
        await alice.close()
    finally:
        await chat.aclose()
    assert list(tmp_path.iterdir()) == []


async def test_a_database_from_a_newer_version_is_refused_with_one_clear_line(
    config: Config,
) -> None:
    con = sqlite3.connect(config.db_path)
    con.execute(f"PRAGMA user_version = {VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match=r"schema version \d+, newer than this chatroom's"):
        await ChatServer(config).start()
