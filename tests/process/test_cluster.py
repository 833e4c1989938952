"""A cluster end to end: a real redis-server and real server processes as nodes, both
doors on each (docs/cluster.md)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.rigs.chat import ChatClient, LineClient
from tests.rigs.clusterrig import Node, RedisServer, needs_redis
from tests.rigs.irc import IrcClient

pytestmark = needs_redis()

StartNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def nodes(redis: RedisServer) -> AsyncIterator[StartNode]:
    started: list[Node] = []

    async def start(name: str, *args: str) -> Node:
        node = await Node.start(name, redis.url, *args)
        started.append(node)
        return node

    yield start
    for node in started:
        await node.stop()
    for node in started:
        assert not node.errors(), node.log


async def text(clients: list[LineClient], node: Node, name: str) -> ChatClient:
    client = await ChatClient.open(node.port)
    clients.append(client)
    await client.login(name)
    return client


async def irc(clients: list[LineClient], node: Node, nick: str) -> IrcClient:
    client = await IrcClient.open(node.irc_port)
    clients.append(client)
    await client.register(nick)
    return client


async def test_users_on_two_nodes_share_a_room_on_both_doors(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("lobby")
    bob = await irc(clients, b, "bob")
    names = await bob.join("#lobby")
    assert any(re.search(r" 353 bob = #lobby :.*alice", line) for line in names), names
    await alice.expect("* bob has joined lobby")
    await alice.send("hello from a")
    await bob.expect(re.compile(r":alice!\S+ PRIVMSG #lobby :hello from a"))
    await bob.send("PRIVMSG #lobby :hi from b", "PRIVMSG #lobby :\x01ACTION waves\x01")
    await alice.expect(re.compile(r"\[\d\d:\d\d\] <bob> hi from b"))
    await alice.expect(re.compile(r"\[\d\d:\d\d\] \* bob waves"))
    await alice.send("/who")
    await alice.expect(
        re.compile(r"\* Users in lobby: .*alice.*bob|\* Users in lobby: .*bob.*alice")
    )


async def test_a_name_is_unique_across_the_cluster(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    await text(clients, a, "alice")
    other = await ChatClient.open(b.port)
    clients.append(other)
    await other.expect("Enter your username:")
    await other.send("Alice")
    await other.expect(re.compile(r"! .*(taken|in use).*", re.I))


def line(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


async def ask_until(client: LineClient, query: str, wanted: str, end: str) -> None:
    """Ask again until the reply has `wanted` (news from another node takes a hop);
    each reply is read to its `end` line."""
    async with asyncio.timeout(5):
        while True:
            await client.send(query)
            lines = await client.expect(line(end))
            if any(re.fullmatch(wanted, text) for text in lines):
                return


async def test_every_event_crosses_between_nodes_on_both_doors(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("lobby")
    bob = await irc(clients, b, "bob")
    await bob.join("#lobby")
    carol = await text(clients, b, "carol")
    await carol.join("lobby")
    await alice.expect("* carol has joined lobby")
    # Topic, both ways.
    await alice.send("/topic the plan")
    await bob.expect(line(r":alice!\S+ TOPIC #lobby :the plan"))
    await carol.expect("* alice set the topic of lobby to: the plan")
    # Private messages, both ways and both doors.
    await bob.send("PRIVMSG alice :psst")
    await alice.expect(line(r"\[\d\d:\d\d\] \*bob\* psst"))
    await alice.send("/msg bob back at you")
    await bob.expect(line(r":alice!\S+ PRIVMSG bob :back at you"))
    # Counts and lists are cluster-wide.
    await bob.send("LIST")
    await bob.expect(line(r":\S+ 322 bob #lobby 3 :.*the plan"))
    await alice.send("/users")
    await alice.expect(line(r"\* .*alice.*bob.*carol.*"))
    # Away, WHOIS across nodes.
    await alice.send("/away lunch")
    await ask_until(bob, "WHOIS alice", r":\S+ 301 bob alice :?lunch", r":\S+ 318 .*")
    # A rename on B is seen on A.
    await bob.send("NICK bobby")
    await alice.expect("* bob is now known as bobby")
    # Moderation from A reaches members on B.
    await alice.send("/op carol")
    await bob.expect(line(r":alice!\S+ MODE #lobby \+o carol"))
    await alice.send("/mode +m")
    await bob.expect(line(r":alice!\S+ MODE #lobby \+m"))
    await bob.send("PRIVMSG #lobby :may I?")
    await bob.expect(line(r":\S+ 404 bobby #lobby :.*"))
    await alice.send("/kick carol enough")
    await bob.expect(line(r":alice!\S+ KICK #lobby carol :?enough"))
    await carol.expect("* carol was kicked from lobby by alice (enough)")
    await alice.send("/invite carol")
    await carol.expect("* alice invited you to lobby (/join lobby)")
    # A quit on B is seen on A.
    await bob.send("QUIT :bye")
    await alice.expect(line(r"\* bobby has quit.*"))


async def test_fifty_clients_on_three_nodes_race_for_one_name_and_one_wins(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    started = [await nodes(name) for name in ("a", "b", "c")]
    racers: list[ChatClient] = []
    for n in range(50):
        client = await ChatClient.open(started[n % 3].port)
        clients.append(client)
        await client.expect("Enter your username:")
        racers.append(client)
    await asyncio.gather(*(c.send("Highlander") for c in racers))
    replies = await asyncio.gather(*(c.line() for c in racers))
    assert sum(r == "* Hello, Highlander!" for r in replies) == 1, replies
    assert sum(r.startswith("! ") for r in replies) == 49, replies


async def test_a_node_killed_shows_as_quits_and_frees_its_names(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("lobby")
    bob = await irc(clients, b, "bob")
    await bob.join("#lobby")
    await alice.expect("* bob has joined lobby")
    b.kill()
    await alice.expect(line(r"\* bob has quit \(b lost touch with the cluster\)"), timeout=10)
    await a.expect_log(r"node b is gone")
    again = await text(clients, a, "bob")  # the name is free again
    await again.send("/who")
    await again.expect(line(r"\* .*alice.*bob.*"))


async def test_redis_stopped_and_restarted_mid_chat(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("lobby")
    bob = await irc(clients, b, "bob")
    await bob.join("#lobby")
    await alice.expect("* bob has joined lobby")
    await redis.stop()
    await a.expect_log(r"lost Redis at")
    # Each user is told once, by its server (not as a private message from a user).
    lost = r"This server lost touch with the rest of the cluster: until it is back, .*"
    await alice.expect(line(r"\* " + lost), timeout=10)
    await bob.expect(line(r":[^!\s]+ NOTICE bob :" + lost), timeout=10)
    # Each node keeps delivering within itself.
    dave = await text(clients, a, "dave")
    await dave.join("lobby")
    await alice.expect("* dave has joined lobby")
    await dave.send("local still works")
    await alice.expect(line(r"\[\d\d:\d\d\] <dave> local still works"))
    await redis.start()  # empty: no persistence, so the names are announced again
    await a.expect_log(r"Redis is back", timeout=15)
    await b.expect_log(r"Redis is back", timeout=15)
    back = "This server is back in touch with the rest of the cluster."
    await alice.expect(f"* {back}", timeout=10)
    seen = await bob.expect(line(rf":[^!\s]+ NOTICE bob :{re.escape(back)}"), timeout=10)
    seen += await bob.expect(line(r":dave!\S+ JOIN #lobby"), timeout=10)
    await alice.send("after the outage")
    seen += await bob.expect(line(r":alice!\S+ PRIVMSG #lobby :after the outage"))
    # What dave said in the outage was held and sent once both were back, or is counted.
    held = re.compile(r":dave!\S+ PRIVMSG #lobby :local still works")
    said = [text for text in seen if held.fullmatch(text)]
    assert said or any(re.search(r"lost \d+ messages? from node a", x) for x in b.log), seen
    await bob.send("PRIVMSG #lobby :me too")
    await alice.expect(line(r"\[\d\d:\d\d\] <bob> me too"))
    await a.expect_log(r"claimed 2 names again")
    assert (await redis.cli("HGET", "chatroom:names", "dave")).startswith("b'a|")
    assert len([line for line in a.log if "lost Redis" in line]) == 1, "\n".join(a.log)
    for client in (alice, bob):  # once each: not per retry, nor per message held
        assert sum("lost touch with the rest" in x for x in client.seen) == 1, client.seen
        assert sum("back in touch with the rest" in x for x in client.seen) == 1, client.seen


STAMP = r"\[\d\d:\d\d\]"


async def test_history_lives_in_redis_and_any_node_replays_it(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("general")
    carol = await irc(clients, b, "carol")
    await carol.join("#general")
    await alice.send("/topic plans", *(f"line {i}" for i in range(25)))
    await carol.expect(line(r":alice!\S+ PRIVMSG #general :line 24"))
    bob = await text(clients, b, "bob")  # on the other node: replay from its ring
    await bob.send("/join general")
    lines = await bob.expect("* End of history.")
    assert "* History of general (20 messages)" in lines
    assert lines[-2].endswith("<alice> line 24") and lines[-21].endswith("<alice> line 5")
    await bob.send("/history 23")  # read from the room's stream in Redis
    lines = await bob.expect("* End of history.")
    assert lines[0] == "* History of general (23 messages)"
    assert lines[1].endswith("<alice> line 2") and lines[-2].endswith("<alice> line 24")
    assert await redis.cli("XLEN", "chatroom:history:general") == "26"
    c = await nodes("c")  # a node started later reads the rooms' history at start
    assert any("history in Redis (1 room kept)" in text for text in c.log)
    dave = await text(clients, c, "dave")
    await dave.send("/join general")
    lines = await dave.expect("* End of history.")
    assert "* History of general (20 messages)" in lines
    assert lines[-2].endswith("<alice> line 24")


async def test_a_multiline_message_crosses_whole_and_redis_keeps_it_as_one(
    redis: RedisServer, nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    caps = ("batch", "message-tags", "draft/multiline")
    alice = await IrcClient.open(a.irc_port)
    clients.append(alice)
    await alice.register("alice", caps)
    await alice.join("#general")
    carol = await IrcClient.open(b.irc_port)
    clients.append(carol)
    await carol.register("carol", caps)
    await carol.join("#general")
    bob = await text(clients, b, "bob")
    await bob.send("/join general")
    await alice.expect(line(r":bob!\S+ JOIN #general"))
    await alice.send("BATCH +m draft/multiline #general", "@batch=m PRIVMSG #general :one",
                     "@batch=m PRIVMSG #general :two ", "@batch=m;draft/multiline-concat "
                     "PRIVMSG #general :halves", "BATCH -m")  # fmt: skip
    opening = await carol.expect(line(r"@msgid=(\d+) :alice!\S+ BATCH \+\1 draft/multiline .*"))
    got = await carol.expect(line(r"BATCH -\d+"))
    assert opening[-1].endswith(" #general") and len(got) == 4
    assert got[-2].startswith("@batch=") and "draft/multiline-concat" in got[-2]
    shown = await bob.expect(line(rf"{STAMP} <alice> two halves"))
    assert re.fullmatch(rf"{STAMP} <alice> one", shown[-2])
    assert await redis.cli("XLEN", "chatroom:history:general") == "1"
    dave = await text(clients, a, "dave")
    await dave.send("/join general")
    lines = await dave.expect("* End of history.")
    assert lines[-4:] == [
        "* History of general (1 message)", *lines[-3:-1], "* End of history.",
    ]  # fmt: skip
    assert lines[-2].endswith("<alice> two halves")
