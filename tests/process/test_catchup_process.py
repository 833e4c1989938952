"""What was missed, across a real restart of `python server.py`: client.py (in a pipe,
through a TCP proxy the test holds shut while the server is away) comes back and shows
exactly the lines said while it was gone, more than a room replays by default; and an
account's read marker lasts in the database, so a user who left before the restart
gets exactly what was said since."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from tests.process.test_client_pipe import start_client
from tests.process.test_client_reconnect import Proxy, proxy_port
from tests.process.test_history_process import Server, servers  # noqa: F401 (a fixture)
from tests.rigs.chat import ChatClient

pytestmark = pytest.mark.timeout(60)

TIMEOUT_S = 10.0
STAMP = r"\[\d\d:\d\d\]"
GAP = 30  # more than the 20 lines a join replays by default


async def said(client: ChatClient, name: str, *texts: str) -> None:
    await client.send(*texts)
    await client.expect(re.compile(rf"{STAMP} <{name}> {re.escape(texts[-1])}"))


async def test_after_a_restart_the_client_shows_exactly_the_lines_said_while_it_was_away(
    tmp_path: Path,
    servers: list[Server],  # noqa: F811
) -> None:
    servers.append(first := await Server.start(tmp_path))
    bob = await first.client("bob")
    await bob.create("lobby")
    await said(bob, "bob", *(f"before {i}" for i in range(5)))
    proxy = Proxy(first.port)
    await proxy.listen()
    proc = await start_client(proxy_port(proxy), "--name", "alice", "--reconnect")
    assert proc.stdin is not None and proc.stdout is not None
    shown: list[str] = []

    async def until(pattern: str) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while not shown or not re.fullmatch(pattern, shown[-1]):
                assert proc.stdout is not None
                raw = await proc.stdout.readline()
                assert raw, f"the client ended before {pattern!r}: {shown}"
                shown.append(raw.decode().rstrip("\n"))

    try:
        proc.stdin.write(b"/join lobby\n")
        await until(re.escape("* End of history."))
        await said(bob, "bob", "seen 1", "seen 2")
        await until(rf"{STAMP} <bob> seen 2")
        proxy.hold()  # the client's next connection waits until the server is back
        assert await first.stop(signal.SIGTERM) == 0
        servers.append(second := await Server.start(tmp_path))
        proxy.target = second.port
        carol = await second.client("carol")
        await carol.join("lobby")
        await said(carol, "carol", *(f"gap {i}" for i in range(GAP)))
        proxy.release()
        await until(re.escape("* End of history."))
        await said(carol, "carol", "live")
        await until(rf"{STAMP} <carol> live")
        proc.stdin.write(b"/quit\n")
        await asyncio.wait_for(proc.wait(), TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proxy.aclose()
    back = shown[max(i for i, x in enumerate(shown) if x.startswith("Joined room")) :]
    assert f"* History of lobby ({GAP} messages)" in back
    texts = [x.split("> ", 1)[1] for x in shown if re.match(rf"{STAMP} <", x)]
    expected = [f"before {i}" for i in range(5)] + ["seen 1", "seen 2"]
    assert texts == [*expected, *(f"gap {i}" for i in range(GAP)), "live"]  # each once


async def test_an_accounts_read_marker_lasts_across_a_restart(
    tmp_path: Path,
    servers: list[Server],  # noqa: F811
) -> None:
    servers.append(first := await Server.start(tmp_path))
    alice = await first.client("alice")
    await alice.send("/register sesame-and-more")
    await alice.expect(re.compile(r".*Account alice registered.*"))
    await alice.create("lobby")
    bob = await first.client("bob")
    await bob.join("lobby")
    await said(bob, "bob", "read 1", "read 2")
    await alice.expect(re.compile(rf"{STAMP} <bob> read 2"))
    await alice.send("/quit")  # its marker: after "read 2"
    await alice.expect_closed()
    await said(bob, "bob", *(f"missed {i}" for i in range(5)))
    assert await first.stop(signal.SIGTERM) == 0

    servers.append(second := await Server.start(tmp_path))
    bob = await second.client("bob")
    await bob.join("lobby")
    await said(bob, "bob", *(f"missed {i}" for i in range(5, GAP)))
    alice = await ChatClient.open(second.port)
    await alice.expect("Enter your username:")
    await alice.send("alice")
    await alice.expect("Enter the password for alice:")
    await alice.send("sesame-and-more", "/join lobby")
    lines = await alice.expect("* End of history.")
    frame = lines[lines.index(f"* History of lobby ({GAP} messages)") :]
    assert frame[1] == f"* New since you last read: {GAP} messages"
    assert [x.split("> ", 1)[1] for x in frame[2:-1]] == [f"missed {i}" for i in range(GAP)]
    await alice.close()
    await bob.close()
    assert await second.stop(signal.SIGTERM) == 0
