"""A cluster that loses nothing (docs/cluster.md, "Exactly once, in order, replayed"):
10,000 lines in bursts from senders on two nodes while a node's subscription is cut,
Redis is killed and started again on its data, and every subscription is cut; every
member on every node gets every line once, in each sender's order. And a Redis that
comes back empty: the users are told, and nothing is delivered twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from tests.rigs.chat import ChatClient, LineClient
from tests.rigs.clusterrig import Node, RedisServer, needs_redis

pytestmark = needs_redis()

LINE = re.compile(r"\[\d\d:\d\d\] <(s[ab])> n (\d+) x+")
PER_SENDER = 5_000
BURST = 250
PAD = "x" * 40


class Member:
    """A text client in the room whose every line is read as it comes: the numbered
    lines it got from each sender, in the order it got them."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.got: dict[str, list[int]] = {"sa": [], "sb": []}
        self.ended: set[str] = set()
        self._news = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            text = await self.client.line(timeout=3600)
            if m := LINE.fullmatch(text):
                self.got[m[1]].append(int(m[2]))
            elif m := re.fullmatch(r"\[\d\d:\d\d\] <(s[ab])> end", text):
                self.ended.add(m[1])
            else:
                continue
            self._news.set()

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            if self._reader.done():
                self._reader.result()  # its exception, if it ended
                raise AssertionError("the reader stopped")
            self._news.clear()
            await self._news.wait()

    def both_ended(self) -> bool:
        return len(self.ended) == 2

    def seen(self, sender: str) -> int:
        return self.got[sender][-1] + 1 if self.got[sender] else 0

    async def stop(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def join(clients: list[LineClient], node: Node, name: str, room: str) -> ChatClient:
    client = await ChatClient.open(node.port)
    clients.append(client)
    await client.login(name)
    if name == "sa":
        await client.create(room)
    else:
        await client.join(room)
    return client


async def pubsub_id(redis: RedisServer, node: str) -> str:
    """The client id of a node's subscription (its connection's name: chatroom-NODE-sub)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis.url)
    try:
        listing = await client.client_list(_type="pubsub")
    finally:
        await client.aclose()
    found = [c["id"] for c in listing if c.get("name") == f"chatroom-{node}-sub"]
    assert len(found) == 1, listing
    return str(found[0])


@pytest.mark.timeout(60)
async def test_ten_thousand_lines_through_cut_subscriptions_and_a_redis_restart(
    clients: list[LineClient],
) -> None:
    redis = RedisServer(persist=True)  # kill -9 and start again: every acknowledged write
    await redis.start()
    nodes: list[Node] = []
    members: list[Member] = []
    try:
        for name in "abc":
            nodes.append(await Node.start(name, redis.url))
        a, b, c = nodes
        who = {"sa": a, "sb": b, "ra": a, "rb": b, "rc": c}
        for name, node in who.items():
            members.append(Member(await join(clients, node, name, "flood")))
        senders = {"sa": members[0], "sb": members[1]}
        sent = {"sa": 0, "sb": 0}

        async def send_to(total: int) -> None:
            """Each sender sends bursts until it has sent `total` of its lines, waiting
            after each burst for its own echo (its node's local fan-out, not Redis)."""

            async def one(name: str) -> None:
                member = senders[name]
                while sent[name] < total:
                    first, sent[name] = sent[name], min(sent[name] + BURST, total)
                    await member.client.send(*(f"n {i} {PAD}" for i in range(first, sent[name])))
                    await member.until(lambda: member.seen(name) >= sent[name])

            await asyncio.gather(*(one(name) for name in senders))

        async def all_back(counts: dict[Node, int]) -> None:
            await asyncio.gather(
                *(node.expect_log(r"Redis is back", 20, nth) for node, nth in counts.items())
            )

        await send_to(500)
        # 1. c's subscription cut, lines said meanwhile.
        await redis.cli("CLIENT", "KILL", "ID", await pubsub_id(redis, "c"))
        await c.expect_log(r"lost Redis at", nth=1)
        await send_to(1_000)
        await all_back({c: 1})
        await send_to(1_250)
        # 2. Redis killed; lines said while it is away (held by each node); started
        # again on its append-only file.
        await redis.stop()
        await asyncio.gather(*(n.expect_log(r"lost Redis at", 10, nth) for n, nth in
                               ((a, 1), (b, 1), (c, 2))))  # fmt: skip
        await send_to(1_750)
        await redis.start()
        await send_to(2_500)
        await all_back({a: 1, b: 1, c: 2})
        await send_to(3_000)
        # 3. c's subscription cut again, and then every subscription at once.
        await redis.cli("CLIENT", "KILL", "ID", await pubsub_id(redis, "c"))
        await c.expect_log(r"lost Redis at", nth=3)
        await send_to(3_500)
        await all_back({c: 3})
        await redis.cli("CLIENT", "KILL", "TYPE", "pubsub")
        await asyncio.gather(*(n.expect_log(r"lost Redis at", 10, nth) for n, nth in
                               ((a, 2), (b, 2), (c, 4))))  # fmt: skip
        await send_to(PER_SENDER)
        for member in senders.values():
            await member.client.send("end")
        async with asyncio.timeout(30):
            await asyncio.gather(*(m.until(m.both_ended) for m in members))
        for name, member in zip(who, members, strict=True):
            for sender in senders:
                got = member.got[sender]
                assert got == list(range(PER_SENDER)), (name, sender, _first_wrong(got))
        logs = [line for node in nodes for line in node.log]
        assert not [x for x in logs if re.search(r"lost \d+ messages? from", x)], logs[-30:]
        assert any(re.search(r"replaying \d+ messages? from node [ab]'s log", x) for x in c.log)
    finally:
        for member in members:
            await member.stop()
        for node in nodes:
            await node.stop()
        await redis.close()
    for node in nodes:
        assert not node.errors(), node.log[-30:]


def _first_wrong(got: list[int]) -> str:
    for i, n in enumerate(got):
        if n != i:
            return f"at {i}: {n} (of {len(got)})"
    return f"{len(got)} lines"


@pytest.mark.timeout(60)
async def test_redis_back_empty_the_users_are_told_and_nothing_comes_twice(
    redis: RedisServer, clients: list[LineClient]
) -> None:
    a = await Node.start("a", redis.url)
    b = await Node.start("b", redis.url)
    try:
        alice = await join(clients, a, "sa", "lobby")
        bob = await join(clients, b, "rb", "lobby")
        await alice.expect("* rb has joined lobby")
        await alice.send("one")
        await bob.expect(re.compile(r"\[\d\d:\d\d\] <sa> one"))
        await redis.stop()  # no persistence: it comes back empty
        await a.expect_log(r"lost Redis at")
        await b.expect_log(r"lost Redis at")
        await alice.send("two")  # held by a until Redis is back
        await redis.start()
        await b.expect_log(r"Redis lost its data \(its epoch was \w+, is \w+\)", 15)
        told = "The cluster's Redis restarted without its data: what was said on the other "
        await bob.expect(re.compile(r"\* " + re.escape(told) + ".*"), 10)
        await alice.expect(re.compile(r"\* " + re.escape(told) + ".*"), 10)
        await bob.expect(re.compile(r"\[\d\d:\d\d\] <sa> two"), 15)
        await alice.send("three")
        await bob.expect(re.compile(r"\[\d\d:\d\d\] <sa> three"), 10)
        for word in ("one", "two", "three"):
            assert sum(bool(re.fullmatch(rf"\[\d\d:\d\d\] <sa> {word}", x)) for x in bob.seen) == 1
        for node in (a, b):
            assert len([x for x in node.log if "Redis lost its data" in x]) == 1, node.log
    finally:
        await a.stop()
        await b.stop()
    assert not a.errors() and not b.errors(), b.log[-20:]


@pytest.mark.timeout(60)
async def test_private_messages_said_while_a_subscription_is_down_arrive_once_in_order(
    redis: RedisServer, clients: list[LineClient]
) -> None:
    # Without history too: the log is the bus's own, not the rooms' history streams.
    a = await Node.start("a", redis.url, "--no-history")
    b = await Node.start("b", redis.url, "--no-history")
    try:
        alice = await join(clients, a, "sa", "lobby")
        bob = await join(clients, b, "rb", "lobby")
        await alice.expect("* rb has joined lobby")
        await redis.cli("CLIENT", "KILL", "ID", await pubsub_id(redis, "b"))
        await b.expect_log(r"lost Redis at")
        await alice.send(*(f"/msg rb p {i}" for i in range(200)))
        await b.expect_log(r"Redis is back")
        await alice.send(*(f"/msg rb p {i}" for i in range(200, 300)))
        got: list[int] = []
        async with asyncio.timeout(15):
            while len(got) < 300:
                if m := re.fullmatch(r"\[\d\d:\d\d\] \*sa\* p (\d+)", await bob.line()):
                    got.append(int(m[1]))
        await alice.send("/msg rb end")
        await bob.expect(re.compile(r"\[\d\d:\d\d\] \*sa\* end"))
        assert got == list(range(300)), _first_wrong(got)
        assert not [x for x in bob.seen if re.fullmatch(r"\[\d\d:\d\d\] \*sa\* p \d+", x)][300:]
    finally:
        await a.stop()
        await b.stop()
    assert not a.errors() and not b.errors(), b.log[-20:]
