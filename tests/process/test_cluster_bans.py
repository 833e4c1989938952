"""Server bans in a cluster: kept in Redis, so a node started later refuses whom they
match; a ban set on one node reaches the others at once and disconnects their users it
matches (the rooms on every node see them quit); a ban lifted on one node is lifted on
all. The nodes are ChatServers in this process, each with its own link to a real
redis-server; the banned users connect from another address of this machine."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.rigs.chat import ChatClient, wait_until
from tests.rigs.clusterrig import RedisServer, needs_redis

pytestmark = needs_redis()
PASSWORD = "correct-horse-battery"
AWAY = "127.0.0.2"
StartNode = Callable[[str], Awaitable[ChatServer]]


@pytest.fixture
async def nodes(redis: RedisServer) -> AsyncIterator[StartNode]:
    started: list[ChatServer] = []

    async def start(name: str) -> ChatServer:
        config = Config(
            port=0, irc_port=None, cluster=redis.url, node_name=name, rate_lines_per_s=0,
            opers=(("root", PASSWORD),),
        )  # fmt: skip
        server = ChatServer(config)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.aclose()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Awaitable[ChatClient]]]:
    opened: list[ChatClient] = []

    async def open_client(server: ChatServer, source: str = "127.0.0.1") -> ChatClient:
        client = await ChatClient.open(server.port, source=source)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.close()


async def stored(redis: RedisServer, key: str) -> dict[str, object]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis.url)
    try:
        value = await client.hget("chatroom:bans", key)
    finally:
        await client.aclose()
    assert value is not None
    found: dict[str, object] = json.loads(value)
    return found


async def test_a_ban_set_on_one_node_holds_on_every_node_and_a_later_one(
    redis: RedisServer, nodes: StartNode, clients: Callable[..., Awaitable[ChatClient]]
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await clients(a)
    await alice.login("alice")
    await alice.create("general")
    bob = await clients(b, AWAY)
    await bob.login("bob")
    await bob.join("general")
    await alice.expect("* bob has joined general")
    await alice.send(f"/oper root {PASSWORD}", "/kline 127.0.0.2 spam")
    await alice.expect("* Server ban set: *!*@127.0.0.2, permanent (spam).")
    assert (await bob.expect_closed())[-1] == "! You are banned from this server: spam"
    await alice.expect("* bob has quit (Banned from this server (spam))")
    await wait_until(lambda: a.rooms.find("bob") is None)
    refused = await clients(b, AWAY)
    assert await refused.expect_closed() == ["! You are banned from this server: spam"]
    kept = await stored(redis, "*!*@127.0.0.2")
    assert (kept["mask"], kept["reason"], kept["by"]) == ("*!*@127.0.0.2", "spam", "alice")

    c = await nodes("c")
    later = await clients(c, AWAY)
    assert await later.expect_closed() == ["! You are banned from this server: spam"]

    await alice.send("/unkline 127.0.0.2")
    await alice.expect("* Server ban lifted: *!*@127.0.0.2.")
    await wait_until(lambda: len(b.rooms.bans) == 0 and len(c.rooms.bans) == 0)
    assert await redis.cli("HLEN", "chatroom:bans") == "0"
    back = await clients(b, AWAY)
    await back.login("bob")


async def test_a_damaged_ban_in_redis_is_skipped_with_one_warning(
    redis: RedisServer, nodes: StartNode, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.cli("HSET", "chatroom:bans", "x", "not a ban")
    a = await nodes("a")
    assert len(a.rooms.bans) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "1 server ban in Redis could not be read; skipped" in warned
