"""Server operators across a cluster (docs/cluster.md, "Server operators in a cluster"):
an oper on one node kills a user of another, whose rooms on both nodes see it quit
once; wallops reach the opers and +w users of every node. A real redis-server and two
server processes, clients on both doors over sockets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.rigs.chat import ChatClient, LineClient
from tests.rigs.clusterrig import Node, RedisServer, needs_redis
from tests.rigs.irc import IrcClient

pytestmark = needs_redis()

PASSWORD = "correct-horse-battery"
StartNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def nodes(redis: RedisServer) -> AsyncIterator[StartNode]:
    started: list[Node] = []

    async def start(name: str) -> Node:
        node = await Node.start(
            name, redis.url, "--oper", f"root:{PASSWORD}", "--irc-server-name", f"{name}.test",
            "--log-level", "DEBUG",
        )  # fmt: skip
        started.append(node)
        return node

    yield start
    for node in started:
        await node.stop()
    for node in started:
        assert not node.errors(), node.log
        assert not [line for line in node.log if PASSWORD in line]


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


async def test_an_oper_kills_a_user_of_another_node_and_its_rooms_see_one_quit(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("lobby")
    dave = await text(clients, a, "dave")
    await dave.join("lobby")
    bob, carol = await irc(clients, b, "bob"), await irc(clients, b, "carol")
    for user in (bob, carol):
        await user.join("#lobby")
    await alice.expect("* carol has joined lobby")
    await alice.send(f"/oper root {PASSWORD}")
    await alice.expect("* You are now a server operator.")

    await alice.send("/kill bob flooding")
    await alice.expect("* You disconnected bob.")
    assert (await bob.expect_closed())[-1] == (
        "ERROR :Closing link: 127.0.0.1 (Killed (alice (flooding)))"
    )
    await carol.expect(":bob!~bob@127.0.0.1 QUIT :Killed (alice (flooding))")
    await carol.send("PRIVMSG #lobby :after")  # after the quit, on every node
    said = re.compile(r"\[\d\d:\d\d\] <carol> after")
    for watcher in (alice, dave):
        seen = await watcher.expect(said)
        quits = [line for line in seen if "bob has quit" in line]
        assert quits == ["* bob has quit (Killed (alice (flooding)))"], seen
    await alice.send("/kill bob")
    await alice.expect('! No user named "bob".')
    await a.expect_log(r"alice killed bob \(flooding\)")
    await b.expect_log(r"alice killed bob from another server \(flooding\)")


async def test_wallops_reach_the_opers_and_w_users_of_every_node(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    ircop = await irc(clients, a, "ircop")
    await ircop.send(f"OPER root {PASSWORD}")
    await ircop.expect(":a.test 381 ircop :You are now an IRC operator")
    dave = await text(clients, b, "dave")  # an oper on B's text door
    await dave.send(f"/oper root {PASSWORD}")
    await dave.expect("* You are now a server operator.")
    wendy, nobody = await irc(clients, b, "wendy"), await irc(clients, b, "nobody")
    await wendy.send("MODE wendy +w")
    await wendy.expect(re.compile(r":wendy\S* MODE wendy :?\+w"))

    await ircop.send("WALLOPS :maintenance at noon")
    wallops = ":ircop!~ircop@127.0.0.1 WALLOPS :maintenance at noon"
    await ircop.expect(wallops)
    await wendy.expect(wallops)
    await dave.expect("* Wallops from ircop: maintenance at noon")
    await dave.send("/whois ircop")  # its +o came before its wallops: shown here too
    await dave.expect("* ircop is a server operator")
    await dave.send("/wallops back at one")
    await ircop.expect(":dave!~dave@127.0.0.1 WALLOPS :back at one")
    await wendy.expect(":dave!~dave@127.0.0.1 WALLOPS :back at one")
    await nobody.send("PING :sync")
    assert not [
        line for line in await nobody.expect(re.compile(r".* PONG .*")) if "WALLOPS" in line
    ]
