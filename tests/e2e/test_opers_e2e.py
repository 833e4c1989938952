"""Server operators end to end, across both doors: the real server on port 0 with an
oper from the settings, text and IRC clients over sockets; and an oper's password in no
log line, even at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import in_room
from tests.rigs.irc import IrcClient

IrcConnect = Callable[..., Awaitable[IrcClient]]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def config() -> Config:
    return Config(
        port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
        opers=(("root", PASSWORD),),
    )  # fmt: skip


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    """Open IRC clients; `await irc("bob")` also registers as bob."""
    clients: list[IrcClient] = []

    async def open_client(nick: str) -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        await client.register(nick)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def test_a_text_oper_kills_an_irc_user_and_its_room_sees_why(
    connect: Connect, irc: IrcConnect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await in_room(connect, "alice", "general", create=True)
    bob, carol = await irc("bob"), await irc("carol")
    for user in (bob, carol):
        await user.join("#general")
    await alice.send(f"/oper root {PASSWORD}")
    await alice.expect("* You are now a server operator.")
    await alice.send("/kill bob flooding")
    assert (await bob.expect_closed())[-1] == (
        "ERROR :Closing link: 127.0.0.1 (Killed (alice (flooding)))"
    )
    await carol.expect(":bob!~bob@127.0.0.1 QUIT :Killed (alice (flooding))")
    await alice.expect("* bob has quit (Killed (alice (flooding)))")
    await alice.expect("* You disconnected bob.")
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)


async def test_an_irc_oper_kills_a_text_user_and_wallops_reach_the_opers(
    connect: Connect, irc: IrcConnect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await in_room(connect, "alice", "general", create=True)
    dave = await connect("dave")
    ircop = await irc("ircop")
    await ircop.join("#general")
    await alice.expect("* ircop has joined general")
    await ircop.send("OPER root wrong")
    await ircop.expect(":irc.test 464 ircop :Password incorrect")
    await ircop.send(f"OPER root {PASSWORD}")
    await ircop.expect(":irc.test 381 ircop :You are now an IRC operator")
    await dave.send(f"/oper ROOT {PASSWORD}")
    await dave.expect("* You are now a server operator.")
    await ircop.send("WALLOPS :maintenance at noon")
    await ircop.expect(":ircop!~ircop@127.0.0.1 WALLOPS :maintenance at noon")
    await dave.expect("* Wallops from ircop: maintenance at noon")
    await ircop.send("KILL alice :spam")
    assert await alice.expect_closed() == ["! Killed (ircop (spam))"]
    await dave.send("/kill alice")
    await dave.expect('! No user named "alice".')
    logged = [record.getMessage() for record in caplog.records]
    assert any(line.endswith("< b'OPER root <password>'") for line in logged)
    assert any(line.endswith("< b'/oper ROOT <password>'") for line in logged)
    assert all(PASSWORD not in line for line in logged)


async def test_an_oper_takes_back_a_room_another_user_took_over(
    connect: Connect, irc: IrcConnect
) -> None:
    mallory = await in_room(connect, "mallory", "alicesroom", create=True)
    alice = await irc("alice")
    await alice.join("#alicesroom")
    await alice.send("MODE #alicesroom +o alice")
    await alice.expect(":irc.test 482 alice #alicesroom :You're not a channel operator")
    await alice.send(f"OPER root {PASSWORD}")
    await alice.expect(":irc.test 381 alice :You are now an IRC operator")
    await alice.send("MODE #alicesroom +o-o alice mallory")
    await mallory.expect("* alice set mode +o-o alice mallory on alicesroom")
    await alice.send("KICK #alicesroom mallory :not yours")
    await mallory.expect("* mallory was kicked from alicesroom by alice (not yours)")
