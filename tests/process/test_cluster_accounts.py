"""Accounts in a cluster (docs/cluster.md, "Accounts in a cluster"): kept in Redis, so
every node knows every account; a change on one node reaches the others at once, and a
node started later reads them all. The nodes are ChatServers in this process, each with
its own link to a real redis-server."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config.settings import Config
from net.listeners import ChatServer
from registry.accounts import LoginRefused
from tests.rigs.chat import wait_until
from tests.rigs.clusterrig import RedisServer, needs_redis

pytestmark = needs_redis()
ADDRESS = "192.0.2.1"
StartNode = Callable[[str], Awaitable[ChatServer]]


@pytest.fixture
async def redis() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def nodes(redis: RedisServer) -> AsyncIterator[StartNode]:
    started: list[ChatServer] = []

    async def start(name: str) -> ChatServer:
        config = Config(port=0, irc_port=None, cluster=redis.url, node_name=name)
        server = ChatServer(config)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.aclose()


async def stored(redis: RedisServer, key: str) -> dict[str, object]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis.url)
    try:
        value = await client.hget("chatroom:accounts", key)
    finally:
        await client.aclose()
    assert value is not None
    found: dict[str, object] = json.loads(value)
    return found


async def test_an_account_registered_on_one_node_verifies_on_another_and_a_later_one(
    redis: RedisServer, nodes: StartNode
) -> None:
    a, b = await nodes("a"), await nodes("b")
    alice = await a.rooms.accounts.register("alice", "sesame", ADDRESS)
    await wait_until(lambda: b.rooms.accounts.find("alice") is not None)
    assert (await b.rooms.accounts.verify("Alice", "sesame", ADDRESS)).name == "alice"
    await a.rooms.accounts.change_password(alice, "sesame", "open sesame", ADDRESS)
    known = b.rooms.accounts.find("alice")
    assert known is not None
    changed = alice.credentials.encode()
    await wait_until(lambda: known.credentials.encode() == changed)
    assert b.rooms.accounts.find("alice") is known, "changed in place"
    assert await b.rooms.accounts.verify("alice", "open sesame", ADDRESS)
    kept = await stored(redis, "alice")
    assert kept["name"] == "alice" and "sesame" not in json.dumps(kept)
    c = await nodes("c")
    assert await c.rooms.accounts.verify("alice", "open sesame", ADDRESS)


async def test_an_account_dropped_on_one_node_is_gone_on_the_others(nodes: StartNode) -> None:
    a, b = await nodes("a"), await nodes("b")
    await b.rooms.accounts.register("bob", "secret", ADDRESS)
    await wait_until(lambda: a.rooms.accounts.find("bob") is not None)
    account = a.rooms.accounts.find("bob")
    assert account is not None
    await a.rooms.accounts.drop(account, "secret", ADDRESS)
    await wait_until(lambda: b.rooms.accounts.find("bob") is None)
    with pytest.raises(LoginRefused):
        await b.rooms.accounts.verify("bob", "secret", ADDRESS)
    c = await nodes("c")
    assert c.rooms.accounts.find("bob") is None


async def test_a_damaged_account_in_redis_is_skipped_with_one_warning(
    redis: RedisServer, nodes: StartNode, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.cli("HSET", "chatroom:accounts", "mallory", "not an account")
    a = await nodes("a")
    assert len(a.rooms.accounts) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["1 account in Redis could not be read; skipped"]
