"""client.py and an account, with the real server on port 0: `--password-file`
answers the password prompt in a pipe; in a terminal the password typed there is
masked, and after a dropped connection whose name the server freed the client logs in
again by itself. The password is never on screen, nor in the server's log."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.process.test_client_pipe import TIMEOUT_S, run_client, start_client
from tests.process.test_client_pty import Terminal
from tests.process.test_client_reconnect import Proxy, joined, proxy_port

pytestmark = pytest.mark.timeout(30)

PASSWORD = "correct-horse-battery"


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    chat = ChatServer(Config(port=0, irc_port=None, rate_lines_per_s=0))
    chat.port = await chat.start()
    await chat.rooms.accounts.register("alice", PASSWORD, "192.0.2.1")
    yield chat
    await chat.aclose()


@pytest.fixture
async def proxy(server: ChatServer) -> AsyncIterator[Proxy]:
    proxy = Proxy(server.port)
    await proxy.listen()
    yield proxy
    await proxy.aclose()


@pytest.fixture
def terminals(proxy: Proxy) -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for term in opened:
        term.close()


async def test_password_file_answers_the_prompt_in_a_pipe(
    server: ChatServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = tmp_path / "alice.password"
    secret.write_text(PASSWORD + "\n")
    status, out, err = await run_client(
        server.port, "alice\n3\n/quit\n", "--password-file", str(secret)
    )
    assert status == 0, err
    lines = out.splitlines()
    assert "Enter the password for alice:" in lines
    assert "* You are logged in as alice." in lines
    assert "* No rooms yet. Create one with 1 or /create NAME." in lines  # `3`, after it
    assert PASSWORD not in out + err
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)


async def test_a_wrong_password_file_is_tried_once(server: ChatServer, tmp_path: Path) -> None:
    secret = tmp_path / "wrong"
    secret.write_text("not-it\n")
    status, out, _ = await run_client(
        server.port, "alice\nbob\n/quit\n", "--password-file", str(secret)
    )
    lines = out.splitlines()
    assert lines.count("! Wrong password for alice.") == 1
    assert "* Hello, bob!" in lines and status == 0


async def test_the_terminal_masks_the_password_and_logs_in_again_after_a_drop(
    server: ChatServer,
    connect: Connect,
    proxy: Proxy,
    terminals: list[Terminal],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bob = await connect("bob")
    await bob.create("lobby")
    term = Terminal.client(proxy_port(proxy), "--name", "alice", "--color", "never", rows=40)
    terminals.append(term)
    await term.expect(re.escape("Enter the password for alice: "))
    await term.type(PASSWORD + "\r", re.escape("* You are logged in as alice."))
    await term.expect(re.escape("Enter your choice: "))
    await term.type("/join lobby\r", re.escape("[lobby] > "))
    await bob.expect("* alice has joined lobby")
    proxy.hold()
    proxy.cut(ghost=False)  # the server frees the name: a reclaim code cannot take it
    proxy.release()
    fresh = await proxy.link(1)
    await fresh.until(re.escape("* You are logged in as alice."))
    await fresh.until(re.escape(joined("lobby")))
    await bob.expect("* alice has joined lobby")
    sent = fresh.up.decode().splitlines()
    assert sent[0].startswith("/reclaim alice ") and sent[1:3] == ["alice", PASSWORD]
    assert re.fullmatch(r"/replay since \d+s", sent[3]) and sent[4:] == ["/join lobby"]
    screen = term.log.getvalue().decode("utf-8", "replace")
    assert PASSWORD not in screen
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)
    member = server.rooms.find("alice")
    assert member is not None and member.account == "alice"


async def test_a_login_elsewhere_is_one_more_connection_and_the_client_stays(
    server: ChatServer, connect: Connect, tmp_path: Path
) -> None:
    secret = tmp_path / "alice.password"
    secret.write_text(PASSWORD + "\n")
    proc = await start_client(
        server.port, "--name", "alice", "--password-file", str(secret), "--reconnect"
    )
    assert proc.stdout is not None and proc.stdin is not None
    async with asyncio.timeout(TIMEOUT_S):
        while await proc.stdout.readline() != b"Enter your choice:\n":
            pass
    other = await connect()
    await other.expect("Enter your username:")
    await other.send("alice", PASSWORD)
    await other.expect("* You are logged in as alice.")
    await other.send("/create den")
    await other.expect("Joined room [den]. Type 'exit' to leave, /help for commands.")
    await other.send("hello from the other one")
    async with asyncio.timeout(TIMEOUT_S):  # the client's connection hears it, with its room
        while b"[den] <alice> hello from the other one" not in await proc.stdout.readline():
            pass
    member = server.rooms.find("alice")
    assert member is not None and len(member.devices) == 1 and proc.returncode is None
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), TIMEOUT_S) == 0
