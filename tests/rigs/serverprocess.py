"""`server.py` in a subprocess, both doors on free ports, its DEBUG log read as it comes.

For the tests that drive real programs (tests/process/): the log has every line each
client sent (`<`) and was sent (`>`), and a failed wait shows its tail. Also how a
text-door user waits for a line while the other program acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from tests.rigs.chat import ChatClient
from tests.rigs.tmuxrig import WAIT_S

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """`server.py` with both doors on free ports; its log is read as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[str] = []
        self.ports: dict[str, int] = {}  # "text", "IRC" and, when asked for, "WebSocket"
        self._reader: asyncio.Task[None] | None = None
        self._more = asyncio.Condition()  # notified on every line logged

    @classmethod
    async def start(cls, *options: str) -> ServerProcess:
        """The server with `options` after the rig's own (the last of an option wins);
        without history unless they name a `--db`."""
        history = () if any(o.startswith("--db") for o in options) else ("--no-history",)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "server.py"), "--port", "0", "--irc-port", "0",
            "--irc-server-name", "irc.test", "--log-level", "DEBUG", *history, *options,
            stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        server = cls(proc)
        doors = 3 if "--websocket-port" in options else 2
        try:
            async with asyncio.timeout(WAIT_S):
                while len(server.ports) < doors:
                    line = await server._read_line()
                    assert line, f"the server exited early\n{server.tail()}"
                    if m := re.search(r"(text|IRC|WebSocket) door listening on \S+:(\d+)", line):
                        server.ports[m[1]] = int(m[2])
        except BaseException:
            await server.stop()
            raise
        server._reader = asyncio.create_task(server._read_all())  # a full pipe blocks it
        return server

    async def _read_line(self) -> str:
        assert self.proc.stderr is not None
        line = (await self.proc.stderr.readline()).decode(errors="replace")
        if line:
            self.log.append(line.rstrip("\n"))
            async with self._more:
                self._more.notify_all()
        return line

    async def _read_all(self) -> None:
        while await self._read_line():
            pass

    async def logged(self, pattern: str) -> re.Match[str]:
        """Wait for a line of the log matching `pattern`; the first such line."""

        def found() -> re.Match[str] | None:
            return next((m for ln in self.log if (m := re.search(pattern, ln))), None)

        try:
            async with asyncio.timeout(WAIT_S), self._more:
                await self._more.wait_for(found)
        except TimeoutError:
            raise AssertionError(f"no {pattern!r} in the log\n{self.tail()}") from None
        match = found()
        assert match is not None
        return match

    def tail(self, n: int = 40) -> str:
        return "--- server log ---\n" + "\n".join(self.log[-n:])

    def errors(self) -> list[str]:
        return [ln for ln in self.log if "Traceback" in ln or re.match(r"\S+ \S+ ERROR ", ln)]

    async def stop(self) -> None:
        """SIGTERM, or kill if it lingers; by the end its whole log is read."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(WAIT_S):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WAIT_S):
                    await self._reader

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, *options: str) -> AsyncIterator[ServerProcess]:
        """The server for one test; stopped after it, and it must have logged no error."""
        server = await cls.start(*options)
        try:
            yield server
        finally:
            await server.stop()
        assert not server.errors(), f"the server logged errors\n{server.tail(80)}"


def stamped(line: str) -> re.Pattern[str]:
    """A chat line as the text door writes it: `[HH:MM] ` then `line`."""
    return re.compile(r"\[\d\d:\d\d\] " + re.escape(line))


async def hears(server: ServerProcess, client: ChatClient, line: str | re.Pattern[str]) -> None:
    """The text-door user reads until `line` comes, or fails showing what did."""
    try:
        await client.expect(line, timeout=WAIT_S)
    except TimeoutError:
        seen = "\n".join(client.seen[-20:])
        raise AssertionError(
            f"the text-door user never got {line!r}\n--- it saw ---\n{seen}\n{server.tail()}"
        ) from None
