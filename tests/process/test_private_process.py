"""Private messages with `python server.py` as a process: a message left for an offline
account survives kill -9 once its sender was told it will be delivered, and a graceful
restart; it is handed over at the next login once, on both sides of a restart; a
conversation between accounts comes back after restarts."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.process.test_history_process import STAMP, Server, servers
from tests.rigs.chat import ChatClient

pytestmark = pytest.mark.timeout(60)
__all__ = ["servers"]  # the fixture, shared

PASSWORD = "correct-horse-battery"


async def registered(server: Server, name: str) -> ChatClient:
    """A text client that registered `name` as an account, at the menu."""
    client = await server.client(name)
    await client.send(f"/register {PASSWORD}")
    await client.expect(re.compile(rf"{STAMP} \*NickServ\* Account {name} registered.*"))
    await client.expect("Enter your choice:")
    return client


async def logged_in(server: Server, name: str) -> list[str]:
    """Log in to `name` on a new connection: the lines from the login to the menu."""
    client = await ChatClient.open(server.port)
    await client.expect("Enter your username:")
    await client.send(name)
    await client.expect(f"Enter the password for {name}:")
    await client.send(PASSWORD)
    lines = await client.expect("Enter your choice:")
    await client.send("/history alice")
    lines += await client.expect(re.compile(r"\* (End of history\.|No private messages .*)"))
    await client.send("/quit")
    await client.expect_closed()
    return lines


async def test_a_message_for_an_offline_account_survives_kill_9_and_a_restart(
    tmp_path: Path, servers: list[Server]
) -> None:
    servers.append(first := await Server.start(tmp_path))
    bob = await registered(first, "bob")
    await bob.send("/quit")
    await bob.expect_closed()
    alice = await registered(first, "alice")
    await alice.send("/msg bob left before the crash")
    await alice.expect("* bob is offline; your message will be delivered when bob logs in.")
    first.proc.kill()  # SIGKILL: no chance to write anything more
    await first.proc.wait()

    servers.append(second := await Server.start(tmp_path))
    lines = await logged_in(second, "bob")
    at = lines.index("* Private messages while you were offline (1 message)")
    assert re.fullmatch(rf"{STAMP} \*alice\* left before the crash", lines[at + 1])
    assert lines[at + 2] == "* End of private messages."
    assert lines[-3:] == [
        "* History of private messages with alice (1 message)", lines[at + 1],
        "* End of history.",
    ]  # fmt: skip
    assert await second.stop() == 0

    servers.append(third := await Server.start(tmp_path))
    lines = await logged_in(third, "bob")  # handed over once, across the restart too
    assert not [x for x in lines if "while you were offline" in x]
    assert re.fullmatch(rf"{STAMP} \*alice\* left before the crash", lines[-2])
    assert await third.stop(signal.SIGINT) == 0
