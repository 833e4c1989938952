"""End to end: `client.py` as a subprocess with stdin from a pipe, against the real
server on port 0 (in this process), and a raw asyncio socket as the other user."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatclient.render import name_color
from config.settings import Config
from net.listeners import ChatServer
from tests.rigs.chat import ChatClient

pytestmark = pytest.mark.timeout(20)

CLIENT = str(Path(__file__).resolve().parents[2] / "client.py")
STAMP = re.compile(r"^\[\d\d:\d\d\] ", re.M)
TIMEOUT_S = 5.0


@pytest.fixture
async def port() -> AsyncIterator[int]:
    server = ChatServer(Config(port=0, rate_lines_per_s=0))
    yield await server.start()
    await server.aclose()


def client_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, "PYTHONIOENCODING": "utf-8", **extra}


async def start_client(port: int, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        CLIENT,
        "--port",
        str(port),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=client_env(**env),
    )


async def run_client(
    port: int, script: str, *args: str, timeout: float = TIMEOUT_S, **env: str
) -> tuple[int, str, str]:
    """Run the client with `script` as stdin until it exits: (status, stdout, stderr)."""
    proc = await start_client(port, *args, **env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(script.encode()), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class Peer:
    """Another user on a raw socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def login(cls, port: int, name: str) -> Peer:
        peer = cls(*await asyncio.open_connection("127.0.0.1", port))
        await peer.send(name)
        await peer.expect("Enter your choice:")
        return peer

    async def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()

    async def expect(self, wanted: str) -> list[str]:
        """Lines up to one that ends with `wanted` (timestamps vary)."""
        lines: list[str] = []
        async with asyncio.timeout(TIMEOUT_S):
            while not lines or not lines[-1].endswith(wanted):
                raw = await self.reader.readline()
                assert raw, f"server closed before {wanted!r}"
                lines.append(raw.decode().removesuffix("\r\n"))
        return lines

    async def transcript(self, script: str) -> str:
        """Everything the server says to this socket for `script`, until it closes."""
        self.writer.write(script.encode())
        self.writer.write_eof()
        async with asyncio.timeout(TIMEOUT_S):
            data = await self.reader.read()
        return data.decode().replace("\r\n", "\n")

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_piped_output_is_exactly_the_lines_the_server_sends(port: int) -> None:
    script = "alice\n1\nlobby\nhello\n/me waves\n/who\n/quit\n"
    raw = await Peer(*await asyncio.open_connection("127.0.0.1", port)).transcript(
        script.replace("alice", "alice2")
    )
    status, out, err = await run_client(port, script)
    assert (status, err) == (0, "")
    # Each connection's reclaim code is its own secret.
    code = re.compile(r"(?<=Reclaim code: )\S+|(?<=/reclaim alice )\S+(?=\))")
    theirs = code.sub("CODE", STAMP.sub("", raw.replace("alice2", "alice")))
    assert code.sub("CODE", STAMP.sub("", out)) == theirs
    assert out.endswith("Goodbye!\n")
    assert "[lobby]" in out and "<alice> hello\n" in out


async def test_the_readme_pipe_example_works(port: int) -> None:
    status, out, err = await run_client(port, "alice\n1\nlobby\nhello\n/quit\n")
    assert (status, err) == (0, "")
    assert re.search(r"^\[\d\d:\d\d\] <alice> hello$", out, re.M)


async def test_stdin_ending_without_quit_still_shows_every_answer(port: int) -> None:
    script = "bob\n1\nlobby\nhello\n/who\n/rooms"  # /rooms waits on the registry
    status, out, err = await run_client(port, script, timeout=5)
    assert (status, err) == (0, "")
    assert out.endswith("<bob> hello\n* Users in lobby: @bob\nRooms (1)\nlobby (1 user)\n")


async def test_name_answers_the_prompt_before_any_piped_line(port: int) -> None:
    status, out, _ = await run_client(port, "1\nlobby\n/quit\n", "--name", "carol")
    assert status == 0
    assert "Joined room [lobby]. Type 'exit' to leave, /help for commands.\n" in out


async def test_a_taken_name_is_asked_again(port: int) -> None:
    peer = await Peer.login(port, "dave")
    status, out, _ = await run_client(port, "dave2\n/quit\n", "--name", "DAVE")
    await peer.close()
    assert status == 0
    lines = out.splitlines()
    taken = lines.index('! The name "DAVE" is taken.')
    assert lines[taken - 1 : taken + 2] == [
        "Enter your username:",
        '! The name "DAVE" is taken.',
        "Enter your username:",
    ]
    assert "Enter your choice:" in lines[taken:]


async def test_lines_from_others_arrive_while_stdin_is_still_open(port: int) -> None:
    peer = await Peer.login(port, "erin")
    await peer.send("/create lobby")
    proc = await start_client(port, "--name", "frank")
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"/join lobby\n")
    await proc.stdin.drain()
    await peer.expect("* frank has joined lobby")
    await peer.send("are you there?")
    async with asyncio.timeout(TIMEOUT_S):
        while not (await proc.stdout.readline()).endswith(b"<erin> are you there?\n"):
            pass
    proc.stdin.write(b"/quit\n")
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), TIMEOUT_S) == 0
    await peer.close()


async def test_color_always_colors_piped_output_and_never_does_not(port: int) -> None:
    _, colored, _ = await run_client(port, "gina\n/quit\n", "--color", "always")
    _, plain, _ = await run_client(port, "gina\n/quit\n", "--color", "never")
    assert "\x1b[1mEnter your username:\x1b[0m" in colored
    assert "\x1b" not in plain


async def test_piped_output_has_no_color_by_default_even_without_no_color(port: int) -> None:
    _, out, _ = await run_client(port, "hana\n/quit\n")
    assert "\x1b" not in out


def test_connection_refused_is_one_clear_line_and_status_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    proc = asyncio.run(_refused(free))
    assert proc == (1, "", f"Cannot connect to 127.0.0.1:{free}: connection refused.\n")


async def _refused(port: int) -> tuple[int, str, str]:
    return await run_client(port, "")


async def test_the_server_going_away_is_one_clear_line_and_an_error_status() -> None:
    server = ChatServer(Config(port=0, rate_lines_per_s=0, shutdown_grace_s=0.5))
    proc = await start_client(await server.start(), "--name", "ivan")
    assert proc.stdout is not None and proc.stderr is not None
    async with asyncio.timeout(TIMEOUT_S):
        while await proc.stdout.readline() != b"Enter your choice:\n":
            pass
    await server.aclose()
    status = await asyncio.wait_for(proc.wait(), TIMEOUT_S)
    assert (status, await proc.stderr.read()) == (1, b"Connection closed by server.\n")


async def test_a_killed_client_says_so_and_does_not_reconnect() -> None:
    config = Config(port=0, rate_lines_per_s=0, opers=(("root", "pw"),))
    server = ChatServer(config)
    port = await server.start()
    try:
        proc = await start_client(port, "--name", "ivan", "--reconnect")
        assert proc.stdout is not None and proc.stderr is not None
        async with asyncio.timeout(TIMEOUT_S):
            while await proc.stdout.readline() != b"Enter your choice:\n":
                pass
        oper = await ChatClient.open(port)
        await oper.login("olga")
        await oper.send("/oper root pw", "/kill ivan flooding")
        await oper.expect("* You disconnected ivan.")
        status = await asyncio.wait_for(proc.wait(), TIMEOUT_S)
        out, err = await proc.stdout.read(), await proc.stderr.read()
        assert (status, err) == (1, b"Disconnected by a server operator.\n")
        assert out == b"! Killed (olga (flooding))\n"
        await oper.close()
    finally:
        await server.aclose()


async def test_an_interrupt_is_one_line_and_status_130_without_traceback(port: int) -> None:
    # A terminal's foreground job gets SIGINT whatever ran the tests: a runner started
    # in the background ignores it, and a child would inherit that. A handler installed
    # here is reset to the default in the child at exec.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = await start_client(port, "--name", "jack")
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert proc.stdout is not None and proc.stderr is not None
    async with asyncio.timeout(TIMEOUT_S):
        while await proc.stdout.readline() != b"Enter your choice:\n":
            pass
    proc.send_signal(signal.SIGINT)
    status = await asyncio.wait_for(proc.wait(), TIMEOUT_S)
    assert (status, await proc.stderr.read()) == (130, b"Interrupted.\n")


async def test_help_explains_every_option() -> None:
    status, out, _ = await run_client(1, "", "--help")
    assert status == 0
    options = ("--host", "--port", "--name", "--color", "--no-bell", "--max-line", "--reconnect")
    for option in (*options, "--no-reconnect", "NO_COLOR"):
        assert option in out


async def test_hostile_server_text_reaches_the_screen_without_control_characters() -> None:
    async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* hi \x1b]0;owned\x07there\x1b[2J\r\n[12:00] <x> \xc2\x9b31m\xff\x07ok\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hostile, "127.0.0.1", 0)
    async with server:
        _, out, _ = await run_client(server.sockets[0].getsockname()[1], "", "--color", "always")
    x = name_color("x")
    assert out == f"\x1b[2m* hi there\x1b[0m\n\x1b[2m[12:00]\x1b[0m \x1b[{x}m<x>\x1b[0m \ufffdok\n"


async def test_a_script_longer_than_the_flood_burst_is_answered_in_full() -> None:
    server = ChatServer(Config(port=0))  # flood control on: 5 lines a second, burst 10
    port = await server.start()
    try:
        script = "dave\n1\nlobby\n" + "".join(f"line {n}\n" for n in range(12))
        status, out, err = await run_client(port, script, timeout=10)
    finally:
        await server.aclose()
    assert (status, err) == (0, "")
    assert [m for m in re.findall(r"<dave> (line \d+)", out)] == [f"line {n}" for n in range(12)]


async def test_a_piped_line_over_the_limit_is_reported_on_stderr_and_not_sent(port: int) -> None:
    script = "kim\n1\nlobby\n" + "x" * 11 + "\nshort\n/quit\n"
    status, out, err = await run_client(port, script, "--max-line", "10")
    assert (status, err) == (0, "! Line too long: 11 of 10 bytes; not sent.\n")
    assert "<kim> short\n" in out and "Line too long (limit" not in out
