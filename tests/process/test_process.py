"""`python server.py` as a process: start-up, a busy port, graceful shutdown by signal."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.rigs.chat import ChatClient

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, head: list[str]) -> None:
        self.proc = proc
        self.port = port
        self.head = head


async def start_server(*args: str) -> ServerProcess:
    """Start the server; return once it logged the port it listens on."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "--port", "0", "--no-history", *args,
        stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert proc.stderr is not None
    head: list[str] = []
    async with asyncio.timeout(10):
        while True:
            line = (await proc.stderr.readline()).decode()
            assert line, f"server exited early: {head}"
            head.append(line)
            if m := re.search(r"listening on \S+:(\d+)", line):
                return ServerProcess(proc, int(m[1]), head)


@pytest.fixture
async def process() -> AsyncIterator[ServerProcess]:
    server = await start_server()
    yield server
    if server.proc.returncode is None:
        server.proc.kill()
        await server.proc.wait()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_tells_every_client_and_exits_zero(
    process: ServerProcess, signum: signal.Signals
) -> None:
    alice = await ChatClient.open(process.port)
    await alice.login("alice")
    await alice.create("lobby")
    bob = await ChatClient.open(process.port)
    await bob.expect("Enter your username:")
    process.proc.send_signal(signum)
    for client in (alice, bob):
        assert await client.expect_closed() == ["* Server is shutting down."]
    async with asyncio.timeout(10):
        assert await process.proc.wait() == 0
    assert process.proc.stderr is not None
    log = (await process.proc.stderr.read()).decode()
    assert "Traceback" not in log
    assert "stopped" in log


@pytest.mark.timeout(20)
async def test_a_port_in_use_gives_one_clear_line_and_a_nonzero_exit(
    process: ServerProcess,
) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "server.py"), "--port", str(process.port)],
        capture_output=True, text=True, timeout=10, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(f"cannot listen on 127.0.0.1:{process.port}: address already in use")


@pytest.mark.timeout(20)
async def test_help_documents_every_option() -> None:
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "server.py"), "--help"],
        capture_output=True, text=True, timeout=10, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0
    for flag in ("--host", "--port", "--max-line", "--max-clients", "--max-per-ip",
                 "--max-send-queue", "--max-rooms", "--rate", "--burst", "--login-timeout",
                 "--log-level"):  # fmt: skip
        assert flag in result.stdout


@pytest.mark.timeout(20)
async def test_the_log_names_connections_rooms_joins_and_leaves(process: ServerProcess) -> None:
    alice = await ChatClient.open(process.port)
    await alice.login("alice")
    await alice.create("lobby")
    await alice.send("exit", "4")
    await alice.expect_closed()
    process.proc.send_signal(signal.SIGTERM)
    assert process.proc.stderr is not None
    log = "".join(process.head) + (await process.proc.stderr.read()).decode()
    for pattern in (r"127\.0\.0\.1:\d+ connected", r"127\.0\.0\.1:\d+ is alice",
                    "alice created lobby", "alice left lobby",
                    r"127\.0\.0\.1:\d+ \(alice\) disconnected"):  # fmt: skip
        assert re.search(pattern, log), pattern
    assert "hello" not in log


@pytest.mark.timeout(20)
async def test_a_busy_irc_port_asked_for_gives_one_clear_line_and_a_nonzero_exit(
    process: ServerProcess,
) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "server.py"), "--port", "0", "--irc-port", str(process.port)],
        capture_output=True, text=True, timeout=10, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 1
    errors = [x for x in result.stderr.strip().splitlines() if " ERROR " in x]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert errors[0].endswith(f"cannot listen on 127.0.0.1:{process.port}: address already in use")


async def test_a_busy_default_irc_port_is_a_warning_and_the_text_door_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        server = ChatServer(Config(port=0, irc_port=busy, irc_port_required=False))
        port = await server.start()
        try:
            assert server.irc_port == 0
            assert any("IRC door closed" in r.getMessage() for r in caplog.records)
            client = await ChatClient.open(port)
            await client.expect("Enter your username:")
            await client.close()
        finally:
            await server.aclose()
