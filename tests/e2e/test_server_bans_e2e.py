"""Server bans end to end, on both doors: the real server on port 0, clients over real
sockets, banned users connecting from another address of this machine (127.0.0.2) so
that the oper on 127.0.0.1 is not; the ban disconnects, refuses a reconnection, lifts,
and outlives a restart of the server on the same database."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, in_room
from tests.rigs.irc import IrcClient

PASSWORD = "correct-horse-battery"
AWAY = "127.0.0.2"  # another address of this machine: the banned users'

Open = Callable[..., Awaitable[ChatClient]]
OpenIrc = Callable[..., Awaitable[IrcClient]]


@pytest.fixture
def config() -> Config:
    return Config(
        port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
        opers=(("root", PASSWORD),),
    )  # fmt: skip


@pytest.fixture
async def clients(server: ChatServer) -> AsyncIterator[tuple[Open, OpenIrc]]:
    """Open text and IRC clients from an address (not logged in, not registered)."""
    opened: list[ChatClient | IrcClient] = []

    async def text(source: str = "127.0.0.1") -> ChatClient:
        client = await ChatClient.open(server.port, source=source)
        opened.append(client)
        return client

    async def irc(source: str = "127.0.0.1") -> IrcClient:
        client = await IrcClient.open(server.irc_port, source=source)
        opened.append(client)
        return client

    yield text, irc
    for client in opened:
        await client.close()


async def test_an_address_ban_disconnects_refuses_and_lifts_on_both_doors(
    connect: Connect, clients: tuple[Open, OpenIrc], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    text, irc = clients
    alice = await in_room(connect, "alice", "general", create=True)
    bob = await text(AWAY)
    await bob.login("bob")
    await bob.join("general")
    carol = await irc(AWAY)
    await carol.register("carol")
    await carol.join("#general")
    await alice.expect("* carol has joined general")
    await alice.send(f"/oper root {PASSWORD}", "/kline 1h 127.0.0.2 spam from there")
    assert (await bob.expect_closed())[-1] == "! You are banned from this server: spam from there"
    assert (await carol.expect_closed())[-2:] == [
        ":irc.test 465 carol :You are banned from this server: spam from there",
        f"ERROR :Closing link: {AWAY} (K-Lined: spam from there)",
    ]
    await alice.expect("* bob has quit (Banned from this server (spam from there))")
    await alice.expect("* carol has quit (Banned from this server (spam from there))")
    await alice.expect(
        re.compile(r"\* Server ban set: \*!\*@127\.0\.0\.2, for 1h, until .* \(spam from there\)\.")
    )
    await alice.expect("* It disconnected bob, carol.")

    again = await text(AWAY)
    assert await again.expect_closed() == ["! You are banned from this server: spam from there"]
    irc_again = await irc(AWAY)
    assert await irc_again.expect_closed() == [
        ":irc.test 465 * :You are banned from this server: spam from there",
        f"ERROR :Closing link: {AWAY} (K-Lined: spam from there)",
    ]

    await alice.send("/unkline 127.0.0.2")
    await alice.expect("* Server ban lifted: *!*@127.0.0.2.")
    back = await text(AWAY)
    await back.login("bob")
    irc_back = await irc(AWAY)
    await irc_back.register("carol")
    said = [record.getMessage() for record in caplog.records]
    assert "alice (oper root) banned *!*@127.0.0.2 from the server for 1h (spam from there)" in said
    assert "alice (oper root) lifted the server ban on *!*@127.0.0.2" in said
    assert all(PASSWORD not in line for line in said)


async def test_an_irc_oper_bans_an_account_and_a_name_the_text_door_refuses(
    connect: Connect, clients: tuple[Open, OpenIrc], server: ChatServer
) -> None:
    text, irc = clients
    await server.rooms.accounts.register("mallory", "sesame", "192.0.2.1")
    ircop = await irc()
    await ircop.register("ircop")
    await ircop.send(f"OPER root {PASSWORD}")
    await ircop.expect(":irc.test 381 ircop :You are now an IRC operator")
    await ircop.send("KLINE a:Mallory :spammer", "KLINE 30m dave")
    await ircop.expect(":irc.test NOTICE ircop :Added K-Line for a:Mallory (permanent): spammer")
    await ircop.expect(":irc.test NOTICE ircop :Added K-Line for dave!*@* (for 30m): no reason")
    mallory = await text()
    await mallory.expect("Enter your username:")
    await mallory.send("mallory")
    await mallory.expect("Enter the password for mallory:")
    await mallory.send("sesame")
    assert await mallory.expect_closed() == ["! You are banned from this server: spammer"]
    dave = await text()
    await dave.expect("Enter your username:")
    await dave.send("Dave")
    assert await dave.expect_closed() == ["! You are banned from this server: no reason"]
    erin = await connect("erin")
    await erin.send("/nick dave")
    await erin.expect('! The name "dave" is banned from this server: no reason')
    await ircop.send("STATS K")
    await ircop.expect(":irc.test 216 ircop K a:Mallory ircop permanent spammer")
    await ircop.expect(re.compile(r":irc\.test 216 ircop K dave!\*@\* ircop \S+Z :no reason"))
    await ircop.expect(":irc.test 219 ircop K :End of /STATS report")


async def test_a_ban_outlives_a_restart_on_the_same_database(
    tmp_path: Path, config: Config
) -> None:
    config = replace(config, db_path=str(tmp_path / "chatroom.db"))
    first = ChatServer(config)
    await first.start()
    try:
        oper = await IrcClient.open(first.irc_port)
        await oper.register("ircop")
        await oper.send(f"OPER root {PASSWORD}", "KLINE 127.0.0.2 :kept")
        await oper.expect(
            ":irc.test NOTICE ircop :Added K-Line for *!*@127.0.0.2 (permanent): kept"
        )
        await oper.close()
    finally:
        await first.aclose()
    again = ChatServer(config)
    await again.start()
    try:
        refused = await ChatClient.open(again.port, source=AWAY)
        assert await refused.expect_closed() == ["! You are banned from this server: kept"]
        alice = await ChatClient.open(again.port)
        await alice.login("alice")
        await alice.send(f"/oper root {PASSWORD}", "/klines")
        await alice.expect("Server bans (1)")
        await alice.expect(re.compile(r"\*!\*@127\.0\.0\.2 by ircop on .*, permanent \(kept\)"))
        await alice.close()
    finally:
        await again.aclose()


async def test_without_a_database_bans_live_in_memory_and_the_log_says_so_once(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    server = ChatServer(replace(config, registration_open=False))
    await server.start()
    await server.aclose()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["server bans last until the server stops: --no-history keeps no database"]
    caplog.clear()
    quiet = ChatServer(replace(config, registration_open=False, opers=()))
    await quiet.start()  # nobody could set one: nothing to say
    await quiet.aclose()
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
