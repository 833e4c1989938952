"""Owned rooms with `python server.py` as a process, as a new user meets them: alice
registers a room with ChanServ and leaves; a stranger who walks into it empty is
nobody there, before and after a restart; alice gets her status back on join, from
either door."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.process.test_history_process import Server, servers
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient

__all__ = ["servers"]  # the fixture, used here
pytestmark = pytest.mark.timeout(60)
PASSWORD = "correct-horse-battery"


def chanserv(text: str) -> re.Pattern[str]:
    return re.compile(r"\[\d\d:\d\d\] \*ChanServ\* " + re.escape(text))


async def log_in(server: Server, name: str) -> ChatClient:
    client = await ChatClient.open(server.port)
    await client.expect("Enter your username:")
    await client.send(name)
    await client.expect(f"Enter the password for {name}:")
    await client.send(PASSWORD)
    await client.expect(f"* You are logged in as {name}.")
    return client


async def try_takeover(server: Server) -> None:
    """A stranger in the empty registered room can change nothing of it."""
    mallory = await server.client("mallory")
    await mallory.join("alicesroom")
    await mallory.send("/topic hijacked", "/ban alice", "/mode +i")
    for _ in range(3):  # the topic, the ban, the mode
        await mallory.expect("! You are not an operator of alicesroom.")
    await mallory.send("/quit")
    await mallory.expect_closed()


async def test_a_registered_room_cannot_be_taken_over_before_or_after_a_restart(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(first := await Server.start(tmp_path))
    alice = await first.client("alice")
    await alice.send(f"/register {PASSWORD}")
    await alice.expect(re.compile(r".*Account alice registered; you are logged in to it\."))
    await alice.create("alicesroom")
    await alice.send("/topic alice's plans", "/msg ChanServ REGISTER alicesroom")
    await alice.expect(chanserv("alicesroom is registered to your account alice."))
    await alice.send("/quit")
    await alice.expect_closed()
    await try_takeover(first)

    assert await first.stop(signal.SIGINT) == 0
    servers.append(second := await Server.start(tmp_path))
    await try_takeover(second)
    bob = await second.client("bob")
    await bob.send("/rooms")
    await bob.expect("alicesroom (0 users)")
    await bob.join("alicesroom")
    alice = await log_in(second, "alice")
    await alice.send("/join alicesroom")
    lines = await alice.expect("* Topic for alicesroom: alice's plans")
    await bob.expect("* ChanServ set mode +o alice on alicesroom")
    await alice.send("/who")
    lines = await alice.expect(re.compile(r".*@alice.*"))
    assert "bob" in lines[-1] and "@bob" not in lines[-1]
    await alice.close()
    await bob.close()
    assert await second.stop() == 0


async def test_the_founder_gets_its_status_from_irc_too(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(server := await Server.start(tmp_path, irc=True))
    irc_port = int((await server.wait_for(r".*IRC door listening on \S+:\d+")).rsplit(":", 1)[1])
    alice = await server.client("alice")
    await alice.send(f"/register {PASSWORD}")
    await alice.create("den")
    await alice.send("/msg ChanServ REGISTER den", "/msg ChanServ AMODE den +v alice")
    await alice.expect(chanserv("den is registered to your account alice."))
    await alice.send("/quit")
    await alice.expect_closed()
    irc = await IrcClient.open(irc_port)
    await irc.send(f"PASS alice:{PASSWORD}", "NICK alice", "USER a 0 * :Alice")
    await irc.expect(re.compile(r":\S+ 001 alice .*"))
    await irc.send("JOIN #den")
    lines = await irc.expect(re.compile(r":\S+ 366 .*"))
    assert lines[-3:-1] == [":alice!~a@127.0.0.1 JOIN #den", ":localhost 353 alice = #den @alice"]
    await irc.send("CS INFO #den")
    await irc.expect(
        re.compile(r":ChanServ!ChanServ@services NOTICE alice :den was registered by alice on .*")
    )
    await irc.close()
    assert await server.stop() == 0
