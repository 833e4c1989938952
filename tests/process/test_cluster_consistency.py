"""A cluster agrees with itself: a room made a moment ago on another node can be joined,
every node names the same heir, and changes made at once on two nodes end the same on
both (docs/cluster.md: Consistency)."""

from __future__ import annotations

import asyncio
import re

from tests.process.test_cluster import StartNode, irc, nodes, text
from tests.rigs.chat import ChatClient, LineClient
from tests.rigs.clusterrig import needs_redis

pytestmark = needs_redis()
__all__ = ["nodes"]  # the fixtures, shared with test_cluster


async def answer(client: ChatClient, query: str, reply: str) -> str:
    """Ask and return the one reply line matching `reply`."""
    await client.send(query)
    lines = await client.expect(re.compile(reply + ".*"))
    return lines[-1]


async def settled(clients: list[ChatClient], query: str, reply: str, wanted: str) -> str:
    """Ask every client until they all give the same reply and it has `wanted`."""
    async with asyncio.timeout(10):
        while True:
            replies = {await answer(client, query, reply) for client in clients}
            if len(replies) == 1 and re.search(wanted, first := replies.pop()):
                return first


async def test_a_room_made_on_one_node_can_be_joined_on_another_at_once(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice, bob = await text(clients, a, "alice"), await text(clients, b, "bob")
    for n in range(10):
        await alice.create(f"quick{n}")
        await bob.join(f"quick{n}")  # no "no such room": the join waits for the bus
        await alice.expect(f"* bob has joined quick{n}")


async def test_the_last_operator_leaving_makes_one_heir_on_every_node(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await text(clients, a, "alice")
    await alice.create("h")
    carol, bob = await text(clients, a, "carol"), await text(clients, b, "bob")
    await asyncio.gather(carol.join("h"), bob.join("h"))  # each node may order them its way
    await alice.expect("* carol has joined h")
    await alice.expect("* bob has joined h")
    await alice.send("/leave")
    who = await settled([carol, bob], "/who", r"\* Users in h: ", r"\* Users in h: .*@")
    assert who.count("@") == 1, who


async def test_a_dead_nodes_rooms_get_the_same_heir_on_every_other_node(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b, c = await nodes("a"), await nodes("b"), await nodes("c")
    alice = await text(clients, a, "alice")
    await alice.create("d")
    bob = await text(clients, b, "bob")
    await bob.join("d")
    carol = await text(clients, c, "carol")
    await carol.join("d")
    await bob.expect("* carol has joined d")
    a.kill()
    await bob.expect(re.compile(r"\* alice has quit.*"), timeout=15)
    await carol.expect(re.compile(r"\* alice has quit.*"), timeout=15)
    who = await settled([bob, carol], "/who", r"\* Users in d: ", r"@")
    assert who == "* Users in d: @bob, carol", who  # bob has been connected longest


async def test_modes_and_topics_set_at_once_on_two_nodes_end_the_same(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice, bob = await text(clients, a, "alice"), await text(clients, b, "bob")
    await alice.create("m")
    await bob.join("m")
    await alice.expect("* bob has joined m")
    await alice.send("/op bob")
    await bob.expect("* alice set mode +o bob on m")
    for n in range(5):
        await asyncio.gather(
            alice.send("/mode +m-t", "/topic alice's", f"from alice {n}"),
            bob.send("/mode -m+t", "/topic bob's", f"from bob {n}"),
        )
        # Each one's line comes after its changes: once both are seen, all has crossed.
        await asyncio.gather(
            alice.expect(re.compile(rf".*<bob> from bob {n}")),
            bob.expect(re.compile(rf".*<alice> from alice {n}")),
        )
        # Both nodes give one answer (settled() times out if they never agree).
        await settled([alice, bob], "/mode", r"\* Modes of m: ", r"^\* Modes of m: \+n?")
        topic = await settled([alice, bob], "/topic", r"\* Topic for m: ", r"")
        assert topic in ("* Topic for m: alice's", "* Topic for m: bob's"), topic


async def test_whois_and_lusers_name_the_nodes_and_a_reconnect_is_seen_across(
    nodes: StartNode, clients: list[LineClient]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    bob = await text(clients, b, "bob")
    await bob.create("r")
    ghost = await ChatClient.open(a.port)
    clients.append(ghost)
    await ghost.expect("Enter your username:")
    await ghost.send("alice")
    code = CODE.fullmatch((await ghost.expect(CODE))[-1])
    assert code is not None
    await ghost.expect("Enter your choice:")
    await ghost.join("r")
    await bob.expect("* alice has joined r")
    fresh = await ChatClient.open(a.port)
    clients.append(fresh)
    await fresh.expect("Enter your username:")
    await fresh.send(f"/reclaim alice {code.group(1)}")
    await fresh.expect("* Welcome back, alice!")
    await bob.expect("* alice reconnected")
    carol = await irc(clients, b, "carol")
    await carol.send("WHOIS alice")
    await carol.expect(re.compile(r":\S+ 312 carol alice a :a server of this chatroom cluster"))
    await carol.send("LUSERS")  # this server's users, and the cluster's
    await carol.expect(re.compile(r":\S+ 251 carol :There are 3 users and 0 invisible on 2 \w+"))
    await carol.expect(re.compile(r":\S+ 255 carol :I have 2 clients and 1 servers"))
    await carol.expect(re.compile(r":\S+ 265 carol 2 2 :Current local users 2, max 2"))
    await carol.expect(re.compile(r":\S+ 266 carol 3 3 :Current global users 3, max 3"))


CODE = re.compile(r"\* Reclaim code: (\S+) \(after a dropped connection: /reclaim (\S+) \1\)")
