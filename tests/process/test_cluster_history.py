"""History in a cluster (docs/cluster.md, "History in a cluster"): a room's settings
kept in Redis with its lines, so an empty room and a node started later keep them;
what Redis acknowledged survives Redis killed with SIGKILL (an append-only file,
fsynced always); /history's "nothing said after the ask" across nodes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from registry.events import Said
from registry.history import Query, Ref
from rooms import RoomManager
from tests.process.test_cluster import StartNode, ask_until, irc, line, nodes, text
from tests.rigs.chat import ChatClient, LineClient, wait_until
from tests.rigs.clusterrig import Node, RedisServer, needs_redis
from tests.rigs.irc import IrcClient

if TYPE_CHECKING:
    from cluster.history import Entry

pytestmark = needs_redis()  # cluster/ needs redis-py: imported in the tests
__all__ = ["nodes"]  # the fixtures, shared

STAMP = r"\[\d\d:\d\d\]"


@pytest.fixture
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[RedisServer]:
    """Without persistence; parametrized True (indirect): appendonly, fsync always."""
    server = RedisServer(persist=getattr(request, "param", False))
    await server.start()
    yield server
    await server.close()


async def refused_without_key(node: Node, clients: list[LineClient], name: str) -> ChatClient:
    client = await text(clients, node, name)
    await client.send("/join vault")
    await client.expect("! vault has a key: /join vault KEY")
    return client


async def joined_with_key(client: ChatClient) -> list[str]:
    """Joins vault with its key: the lines from the join to the end of the replay."""
    await client.send("/join vault sesame")
    return await client.expect("* End of history.")


async def test_an_empty_room_keeps_its_settings_across_a_restart_and_a_later_node(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a = await nodes("a")
    alice = await text(clients, a, "alice")
    await alice.create("vault")
    await alice.send("/topic the plan", "/mode +k sesame", "/ban mallory", "a line")
    await alice.expect(line(rf"{STAMP} <alice> a line"))
    await alice.send("exit")  # empty, kept: it holds a line
    await alice.expect("Enter your choice:")
    await a.stop()  # a graceful stop sends what is queued
    a = await nodes("a")
    b = await nodes("b")  # a node that never saw the room
    for node, name in ((b, "bob"), (a, "carol")):
        client = await refused_without_key(node, clients, name)
        lines = await joined_with_key(client)
        assert "* Topic for vault: the plan" in lines, lines
        assert lines[-2].endswith("<alice> a line"), lines
        await client.send("/bans")
        await client.expect(line(r"\* vault bans mallory!\*@\* \(set by alice.*"))
        await client.send("/mode")
        await client.expect(line(r"\* Modes of vault: \+kn sesame"))


@pytest.mark.parametrize("redis", [True], indirect=True)
async def test_lines_and_settings_survive_redis_killed_and_everything_restarted(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("vault")
    await alice.send("/topic secrets", "/mode +k sesame")
    bob = await irc(clients, b, "bob")
    await ask_until(bob, "LIST", r":\S+ 322 bob #vault .*", r":\S+ 323 .*")  # a hop
    await bob.send("JOIN #vault sesame")
    await alice.expect("* bob has joined vault")
    await alice.send(*(f"from a {i}" for i in range(3)))
    await bob.expect(line(r":alice!\S+ PRIVMSG #vault :from a 2"))
    await bob.send("PRIVMSG #vault :from b", "PRIVMSG #vault :last from b")
    # A line seen on the other node was written first (one pipeline: PUBLISH, XADD),
    # and with appendfsync always Redis syncs its file before it sends anything on.
    await alice.expect(line(rf"{STAMP} <bob> last from b"))
    await alice.send("/ban mallory")  # its settings go to Redis before the event
    await bob.expect(line(r":alice!\S+ MODE #vault \+b mallory!\*@\*"))
    await redis.stop()  # SIGKILL
    for node in (a, b):
        node.kill()
        await node.stop()
    await redis.start()  # the same port and directory: it reads its append-only file
    a, b = await nodes("a"), await nodes("b")
    assert any("history in Redis (1 room kept)" in entry for entry in b.log), b.log
    carol = await refused_without_key(b, clients, "carol")
    lines = await joined_with_key(carol)
    assert "* Topic for vault: secrets" in lines, lines
    said = [entry for entry in lines if re.match(rf"{STAMP} <", entry)]
    assert [entry.split(" ", 1)[1] for entry in said[:4]] == [
        "<alice> from a 0", "<alice> from a 1", "<alice> from a 2", "<bob> from b",
    ], lines  # fmt: skip
    await carol.send("/bans")
    await carol.expect(line(r"\* vault bans mallory!\*@\* .*"))
    dave = await irc(clients, a, "dave")
    await dave.send("JOIN #vault")
    await dave.expect(line(r":\S+ 475 dave #vault :.*"))
    await dave.send("JOIN #vault sesame")
    joined = await dave.expect(line(r":\S+ NOTICE #vault :End of history\."))
    assert any(re.match(r":\S+ 332 dave #vault :?secrets", entry) for entry in joined), joined
    from_b = re.compile(r":bob!\S+ PRIVMSG #vault :\[\d\d:\d\d\] from b")  # time in the text
    assert any(from_b.match(entry) for entry in joined), joined
    await dave.send("MODE #vault")
    await dave.expect(line(r":\S+ 324 dave #vault \+kn sesame"))


async def test_history_on_a_node_shows_the_lines_of_a_node_started_later(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    """Each node counts message ids from its own start: "nothing said after the ask"
    must not hide the later node's lines (larger ids) said before the newest."""
    a = await nodes("a")
    b = await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("general")
    bob = await text(clients, b, "bob")
    end = r"\* No rooms yet\..*|general \(\d+ users?\)"
    await ask_until(bob, "/rooms", r"general \(1 user\)", end)  # known on b a hop later
    await bob.join("general")
    await alice.send("one")
    await bob.expect(line(rf"{STAMP} <alice> one"))
    await bob.send("two")
    await alice.expect(line(rf"{STAMP} <bob> two"))
    await alice.send("three")
    await bob.expect(line(rf"{STAMP} <alice> three"))  # and so written (one pipeline)
    await bob.send("/history")
    lines = await bob.expect("* End of history.")
    assert lines[0] == "* History of general (3 messages)", lines
    assert [entry.split(" ", 1)[1] for entry in lines[1:-1]] == [
        "<alice> one", "<bob> two", "<alice> three",
    ], lines  # fmt: skip


async def test_a_message_taken_back_on_one_node_leaves_redis_and_every_nodes_ring(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    caps = ("echo-message", "message-tags", "draft/message-redaction")
    alice, bob = await IrcClient.open(a.irc_port), await IrcClient.open(b.irc_port)
    clients += [alice, bob]
    await alice.register("alice", caps)
    await alice.join("#general")
    await bob.register("bob", caps)
    await ask_until(bob, "LIST", r":\S+ 322 bob #general .*", r":\S+ 323 .*")  # a hop
    await bob.join("#general")
    await alice.expect(line(r":bob!\S+ JOIN #general"))
    await alice.send("PRIVMSG #general :oops", "PRIVMSG #general :stays")
    echo = (await alice.expect(line(r"@\S+ :alice!\S+ PRIVMSG #general :?oops")))[-1]
    oops = re.search(r"msgid=(\d+)", echo)
    assert oops is not None
    await bob.expect(line(r"@\S+ :alice!\S+ PRIVMSG #general :?stays"))
    await alice.send(f"REDACT #general {oops[1]} :typo")
    await bob.expect(line(rf"@\S+ :alice!\S+ REDACT #general {oops[1]} :?typo"))
    # Its XDEL went to Redis before the news of it (one queue, in order).
    carol = await text(clients, b, "carol")
    await carol.send("/join general")  # b's ring replays
    replayed = await carol.expect("* End of history.")
    assert not any("oops" in entry for entry in replayed), replayed
    assert any(entry.endswith("<alice> stays") for entry in replayed), replayed
    await carol.send("/history")  # Redis's stream
    lines = await carol.expect("* End of history.")
    assert [entry.split(" ", 1)[1] for entry in lines[1:-1]] == ["<alice> stays"], lines


# --- select() and the rooms hash, driven directly ---
def entries(*msgids: int) -> list[Entry]:
    """A stream in the order Redis took them: line N has msgid `msgids[N]`, ts N s."""
    return [
        (n, n * 1000, Said("alice", f"m{n}", float(n), "general", "alice!a@h", str(msgid), ""))
        for n, msgid in enumerate(msgids)
    ]


def texts(found: list[Entry]) -> list[str]:
    return [event.text for _, _, event in found]


def select(entries: list[Entry], q: Query) -> list[Entry]:
    from cluster.history import select

    return select(entries, q)


def test_upto_ignores_what_the_stream_took_after_that_line() -> None:
    stream = entries(10, 11, 900, 12, 901)  # two nodes' ids, interleaved
    assert texts(select(stream, Query("general", "latest", 10, upto=12))) == [
        "m0", "m1", "m2", "m3",
    ]  # fmt: skip
    assert texts(select(stream, Query("general", "latest", 2, upto=900))) == ["m1", "m2"]
    assert texts(select(stream, Query("general", "latest", 10, upto=None))) == [
        "m0", "m1", "m2", "m3", "m4",
    ]  # fmt: skip
    before = Query("general", "before", 10, Ref(msgid=901), upto=900)
    assert texts(select(stream, before)) == ["m0", "m1", "m2"]
    after = Query("general", "after", 10, Ref(msgid=10), upto=12)
    assert texts(select(stream, after)) == ["m1", "m2", "m3"]
    between = Query("general", "between", 10, Ref(msgid=10), Ref(msgid=901), upto=900)
    assert texts(select(stream, between)) == ["m1", "m2"]


def test_upto_not_in_the_stream_yet_keeps_every_line() -> None:
    stream = entries(10, 11, 12)  # the asker's newest line is still on its way to Redis
    assert texts(select(stream, Query("general", "latest", 10, upto=13))) == [
        "m0", "m1", "m2",
    ]  # fmt: skip


def test_a_malformed_field_of_the_rooms_hash_gives_no_settings() -> None:
    from cluster.history import _saved

    lines = [event for _, _, event in entries(10, 11)]
    assert _saved(None, lines) == ("general", 0.0, {})
    assert _saved(b"{not json", lines) == ("general", 0.0, {})
    assert _saved(b'["a list"]', lines) == ("general", 0.0, {})
    assert _saved(b'{"name": "other", "created": "x", "settings": 3}', lines) == (
        "general", 0.0, {},
    )  # fmt: skip
    good = b'{"name": "General", "created": 5.5, "settings": {"topic": "t"}}'
    assert _saved(good, lines) == ("General", 5.5, {"topic": "t"})


async def test_an_empty_room_whose_lines_expire_goes_with_its_settings(
    redis: RedisServer,
) -> None:
    """One node in this process, on a real Redis: the sweep drops the room, as the
    SQLite store's does, and Redis forgets its settings and trims its stream."""
    from cluster.history import RedisHistory
    from cluster.link import ClusterLink

    now = [time.time()]
    rooms = RoomManager(clock=lambda: now[0], replay_lines=5)
    link = ClusterLink(rooms, redis.url, "solo")
    await link.start()
    history = RedisHistory(link, recent=5, retention_s=100, expire_every_s=0.05)
    rooms.attach_history(history)
    await link.go()
    try:
        alice = await rooms.claim("alice", lambda data: None, lambda event: b"")
        room = await rooms.create(alice, "General")
        rooms.set_topic(alice, room, "soon old")
        room.say(alice, "a line")
        await rooms.leave(alice, room)
        assert rooms.room("general") is room  # it holds history: it stays, empty
        await link.bus.drain(5)
        field = await link.bus.redis.hget("chatroom:rooms", "general")
        assert field is not None
        saved = json.loads(field)
        assert saved["name"] == "General" and saved["settings"]["topic"] == "soon old"
        assert await redis.cli("XLEN", "chatroom:history:general") == "2"
        now[0] += 150  # past the retention: the next sweep drops it
        await wait_until(lambda: rooms.room("general") is None)
        await link.bus.drain(5)
        assert not await link.bus.redis.hexists("chatroom:rooms", "general")
        assert await redis.cli("XLEN", "chatroom:history:general") == "0"
    finally:
        await link.aclose()
        await history.aclose()
