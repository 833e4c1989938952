"""Presence end to end: the real server on port 0, a text user's /watch and IRC users'
MONITOR (with extended-monitor) and SETNAME over real sockets, each told in its own
door's words when a watched name comes and goes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient

IrcConnect = Callable[..., Awaitable[IrcClient]]


@pytest.fixture
def config() -> Config:
    return Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test")


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    clients: list[IrcClient] = []

    async def open_client(nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        await client.register(nick, caps)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def next_lines(client: IrcClient) -> list[str]:
    """Every line the client gets before the answer to a PING sent now (no waiting)."""
    await client.send("PING :sync")
    lines = await client.expect(re.compile(r":irc\.test PONG irc\.test :?sync"))
    return lines[:-1]


async def text_next_lines(client: ChatClient) -> list[str]:
    """Every line a text client gets before the answer to a /watch sent now."""
    await client.send("/watch")
    lines = await client.expect(re.compile(r"\* You are watching .*"))
    return lines[:-1]


async def test_a_watched_user_comes_changes_and_goes_seen_from_both_doors(
    connect: Connect, irc: IrcConnect
) -> None:
    alice = await connect("alice")
    await alice.send("/watch bob")
    await alice.expect("* You are now watching bob (offline).")
    carol = await irc("carol", ("extended-monitor", "away-notify", "setname"))
    await carol.send("MONITOR + alice,Bob")
    await carol.expect(":irc.test 730 carol alice!~alice@127.0.0.1")
    await carol.expect(":irc.test 731 carol Bob")

    bob = await irc("bob")
    await alice.expect("* bob is online")
    await carol.expect(":irc.test 730 carol bob!~bob@127.0.0.1")

    await bob.send("AWAY :lunch", "SETNAME :Bob the Builder")
    assert await next_lines(bob) == [":irc.test 306 bob :You have been marked as being away"]
    assert await next_lines(carol) == [
        ":bob!~bob@127.0.0.1 AWAY lunch",
        ":bob!~bob@127.0.0.1 SETNAME :Bob the Builder",
    ]
    await carol.send("WHOIS bob")
    await carol.expect(":irc.test 311 carol bob ~bob 127.0.0.1 * :Bob the Builder")
    assert await text_next_lines(alice) == []  # a text watcher hears comings and goings only

    await bob.send("NICK BOB")  # a change of case: nobody is told
    await bob.expect(":bob!~bob@127.0.0.1 NICK BOB")
    await bob.send("NICK robert")
    await alice.expect("* BOB went offline")
    await carol.expect(":irc.test 731 carol BOB")
    await bob.send("QUIT :bye")
    await bob.expect_closed()
    assert await next_lines(carol) == []  # robert is not watched

    await alice.send("/quit")
    await alice.expect_closed()
    await carol.expect(":irc.test 731 carol alice")
