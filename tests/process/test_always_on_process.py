"""Always-on across a restart, with `python server.py` as a process on the same
database: the user is back in its rooms, away, with no connection (even after kill -9
once its last connection was gone); a message to it is held; a login on IRC or the
text door takes it over with its rooms and what was held. Turned off, it is not back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.process.test_history_process import STAMP, Server, servers
from tests.process.test_private_process import PASSWORD, registered
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient

pytestmark = pytest.mark.timeout(90)
__all__ = ["servers"]  # the fixture, shared

AWAY = "Not connected (always on)"


def nickserv(text: str) -> re.Pattern[str]:
    return re.compile(rf"{STAMP} \*NickServ\* {re.escape(text)}")


async def irc_port(server: Server) -> int:
    line = await server.wait_for(r".*IRC door listening on \S+:\d+")
    return int(line.rsplit(":", 1)[1])


async def logged_in(server: Server, name: str) -> ChatClient:
    """A text client logged in to the account `name`."""
    client = await ChatClient.open(server.port)
    await client.expect("Enter your username:")
    await client.send(name)
    await client.expect(f"Enter the password for {name}:")
    await client.send(PASSWORD)
    return client


async def irc_login(server: Server, name: str) -> tuple[IrcClient, list[str]]:
    """An IRC client logged in to `name` by PASS: the lines up to the end of its
    welcome."""
    client = await IrcClient.open(await irc_port(server))
    await client.send(f"PASS {name}:{PASSWORD}", f"NICK {name}", f"USER {name} 0 * :{name}")
    return client, await client.expect(re.compile(r":\S+ (376|422) .*"))


async def test_an_always_on_user_is_back_after_kill_9_and_a_login_takes_it_over(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(first := await Server.start(tmp_path, irc=True))
    bob = await registered(first, "bob")
    await bob.send("/msg NickServ SET ALWAYS-ON on")
    await bob.expect(nickserv("ALWAYS-ON is on for bob."))
    await bob.create("attic")
    await bob.send("read up to here")  # its read marker of attic: here, once it goes
    await bob.expect(re.compile(rf"{STAMP} <bob> read up to here"))
    await bob.send("/quit")
    await bob.expect_closed()
    irc, _ = await irc_login(first, "bob")
    lines = await irc.expect(re.compile(r":\S+ 366 bob #attic .*"))  # its room, as on a join
    assert ":bob!~bob@127.0.0.1 JOIN #attic" in lines
    await irc.join("#cellar")
    await irc.send("QUIT :bye")
    await irc.expect_closed()
    alice = await registered(first, "alice")
    await alice.send("/msg bob left before the crash")  # bob has no connection: held
    await alice.expect("* bob is offline; your message will be delivered when bob logs in.")
    first.proc.kill()  # SIGKILL: what was written before the held message is kept
    await first.proc.wait()

    servers.append(second := await Server.start(tmp_path, irc=True))
    await second.wait_for(r".*bob is back in 2 rooms with no connection, always on")
    carol = await second.client("carol")
    await carol.send("/join attic")
    await carol.expect("* Users in attic: bob, carol")  # bob is no operator of it now
    await carol.send("said while bob was out")
    await carol.expect(re.compile(rf"{STAMP} <carol> said while bob was out"))
    await carol.send("/whois bob")
    await carol.expect(f"* bob is away: {AWAY}")
    alice = await logged_in(second, "alice")
    await alice.expect("Enter your choice:")
    await alice.send("/msg bob after the restart")
    await alice.expect("* bob is offline; your message will be delivered when bob logs in.")

    irc, welcome = await irc_login(second, "bob")
    lines = welcome + await irc.expect(re.compile(r":alice!\S+ PRIVMSG bob :.*after the restart"))
    joins = [line for line in lines if " JOIN " in line]
    assert joins == [":bob!~bob@127.0.0.1 JOIN #attic", ":bob!~bob@127.0.0.1 JOIN #cellar"]
    assert any(re.fullmatch(r":\S+ 353 bob = #attic :bob carol", line) for line in lines)
    held = [line for line in lines if " PRIVMSG bob " in line]
    assert len(held) == 2 and held[0].endswith("left before the crash")  # both, in order
    await carol.send("/whois bob")
    lines = await carol.expect(re.compile(r"\* bob is logged in as bob"))
    assert not [line for line in lines if "is away" in line]  # connected: no longer away
    await irc.send("QUIT :bye")
    await irc.expect_closed()

    text = await logged_in(second, "bob")  # its room, and what it missed (its marker)
    await text.expect("Joined room [attic]. Type 'exit' to leave, /help for commands.")
    await text.expect(re.compile(rf"{STAMP} <carol> said while bob was out"))
    await text.send("/who")
    await text.expect("* Users in attic: bob, carol")
    for client in (text, carol, alice):
        await client.close()
    assert await second.stop() == 0


async def test_turned_off_it_is_not_back_after_a_restart(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(first := await Server.start(tmp_path))
    bob = await registered(first, "bob")
    await bob.send("/msg NickServ SET ALWAYS-ON on", "/create attic", "kept line")
    await bob.expect(re.compile(rf"{STAMP} <bob> kept line"))
    await bob.send("/msg NickServ SET ALWAYS-ON off")
    await bob.expect(nickserv("ALWAYS-ON is off for bob."))
    await bob.send("/quit")
    await bob.expect_closed()
    assert await first.stop() == 0

    servers.append(second := await Server.start(tmp_path))
    carol = await second.client("carol")
    await carol.send("/who")
    await carol.expect("* Users online (1): carol")
    await carol.send("/join attic")  # kept for its line, with nobody in it
    await carol.expect(re.compile(r"\* Users in attic: @carol"))
    await carol.close()
    assert await second.stop() == 0
    assert not [line for line in second.log if "always on" in line]
