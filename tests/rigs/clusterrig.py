"""A real redis-server and real server processes as the nodes of a cluster, for tests.

Each RedisServer runs on a free port in its own temporary directory and is stopped at
the end; each Node is `server.py --cluster ...` as a subprocess, its log read all the
time (so a pipe never fills) and searchable for a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.rigs.chat import TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def needs_redis() -> pytest.MarkDecorator:
    """The cluster tests need redis-server and redis-py (.ci/run installs both)."""
    try:
        import redis  # noqa: F401
    except ImportError:
        return pytest.mark.skip(reason="redis-py is not installed: pip install '.[cluster]'")
    if not os.path.exists(REDIS):
        return pytest.mark.skip(reason="redis-server is not installed")
    return pytest.mark.timeout(60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """No persistence by default; `persist`: an append-only file fsynced on every write
    (`appendfsync always`), so a Redis killed and started again on the same port and
    directory has every write it acknowledged."""

    def __init__(self, *extra: str, persist: bool = False) -> None:
        self.dir = tempfile.mkdtemp(prefix="clu-redis-")
        self.port = free_port()
        self.extra = extra
        aof = ("--appendonly", "yes", "--appendfsync", "always")
        self.persistence = aof if persist else ("--appendonly", "no")
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
            "--save", "", *self.persistence, *self.extra,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with asyncio.timeout(10):
            while True:
                with contextlib.suppress(OSError):
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.write(b"PING\r\n")  # not +PONG while it loads its file
                    reply = await reader.readline()
                    writer.close()
                    if reply == b"+PONG\r\n":
                        return
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.proc = None

    async def cli(self, *args: str) -> str:
        from redis.asyncio import Redis

        redis: Any = Redis.from_url(self.url)  # execute_command's typing varies by release
        try:
            return str(await redis.execute_command(*args))
        finally:
            await redis.aclose()

    async def subscribers(self) -> int:
        """How many clients Redis has subscribed to a channel."""
        from redis.asyncio import Redis

        redis = Redis.from_url(self.url)
        try:
            return len(await redis.client_list(_type="pubsub"))
        finally:
            await redis.aclose()

    async def close(self) -> None:
        await self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    """One server process of the cluster."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.port = 0
        self.irc_port = 0
        self.log: list[str] = []
        self._grew = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.log.append(line.decode(errors="replace").rstrip("\n"))
            self._grew.set()

    async def expect_log(self, pattern: str, timeout: float = TIMEOUT_S, nth: int = 1) -> str:
        """Wait for the `nth` log line matching `pattern` (from the start of the log)."""
        wanted = re.compile(pattern)
        seen = found = 0
        async with asyncio.timeout(timeout):
            while True:
                for line in self.log[seen:]:
                    if wanted.search(line):
                        found += 1
                        if found == nth:
                            return line
                seen = len(self.log)
                if self.proc.returncode is not None and self._reader.done():
                    raise AssertionError(f"{self.name} exited: {self.log[-5:]}")
                self._grew.clear()
                await self._grew.wait()

    @classmethod
    async def start(cls, name: str, url: str, *args: str) -> Node:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "server.py"), "--port", "0", "--irc-port", "0",
            "--cluster", url, "--node-name", name, "--rate", "0", *args,
            stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        node = cls(name, proc)
        try:
            text = await node.expect_log(r"text door listening on \S+:(\d+)")
            irc = await node.expect_log(r"(?i)irc door listening on \S+:(\d+)")
        except BaseException:
            await node.stop()  # never left running
            raise
        node.port = int(text.rsplit(":", 1)[1])
        node.irc_port = int(irc.rsplit(":", 1)[1])
        return node

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def errors(self) -> list[str]:
        """The log's ERROR lines (by their level, not their text: at DEBUG a line sent to
        a client may hold "ERROR") and tracebacks."""
        return [line for line in self.log if line.split(" ", 3)[2:3] == ["ERROR"]
                or line.startswith("Traceback")]  # fmt: skip
