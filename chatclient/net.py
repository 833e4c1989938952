"""The client's connection: lines to and from the server, and how a session ended.

asyncio streams only: no terminal, no rendering here (`on_line` callers decide what
to show). Server lines come out decoded (invalid UTF-8 replaced) and sanitized.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from chatclient.render import Conversation, sanitize

READ_LIMIT_BYTES = 1 << 20
CONNECT_TIMEOUT_S = 10.0
EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a session ended: the exit status and one line to tell the user (or None)."""

    status: int
    message: str | None = None


def describe(exc: OSError) -> str:
    """A short, lower-case reason for a socket error (`connection refused`)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    reason = exc.strerror or (errno.errorcode.get(exc.errno) if exc.errno else None) or str(exc)
    return reason[:1].lower() + reason[1:] if reason else type(exc).__name__


def line_too_long(line: str, max_line_bytes: int) -> str | None:
    """The notice for a line the server would refuse (PROTOCOL.md, Transport: a line
    is measured in bytes of UTF-8 without its newline), or None when it fits."""
    size = len(line.encode())
    if size <= max_line_bytes:
        return None
    return f"! Line too long: {size} of {max_line_bytes} bytes; not sent."


async def first_to_finish(*coros: Coroutine[Any, Any, Outcome]) -> Outcome:
    """Run the coroutines as tasks of one TaskGroup; the first to finish ends the rest."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coro) for coro in coros]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
    return done.pop().result()


class Link:
    """One connection to the server: sends lines, reads lines until the server closes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conversation = Conversation()
        self.half_closed = False
        self._line_arrived = asyncio.Event()

    def send_nowait(self, line: str) -> None:
        """Queue one line for the server (LF-terminated, which PROTOCOL.md accepts)."""
        if not self.writer.is_closing():
            self.writer.write(line.encode() + b"\n")

    async def send(self, line: str) -> None:
        """Send one line and wait until the transport has room again."""
        self.send_nowait(line)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def half_close(self) -> None:
        """Tell the server we have nothing more to say (it answers, then closes)."""
        self.half_closed = True
        if not self.writer.is_closing() and self.writer.can_write_eof():
            with contextlib.suppress(OSError):
                self.writer.write_eof()

    async def read_lines(self, on_line: Callable[[str], None]) -> Outcome:
        """Call `on_line` with each server line, sanitized, until the server closes."""
        while True:
            try:
                raw = await self.reader.readline()
            except ValueError:  # a line over READ_LIMIT_BYTES: dropped, never shown
                continue
            except OSError as exc:
                return Outcome(EXIT_ERROR, f"Connection lost: {describe(exc)}.")
            if not raw:
                return self.closed_outcome()
            self._line_arrived.set()
            line = raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
            on_line(sanitize(line))

    async def wait_quiet(self, silence_s: float) -> None:
        """Return once no server line has arrived for `silence_s` seconds."""
        while True:
            self._line_arrived.clear()
            try:
                await asyncio.wait_for(self._line_arrived.wait(), silence_s)
            except TimeoutError:
                return

    def closed_outcome(self) -> Outcome:
        """The server closed: normal after `Goodbye!` or after our own end of input."""
        if self.conversation.said_goodbye or self.half_closed:
            return Outcome(EXIT_OK)
        return Outcome(EXIT_ERROR, "Connection closed by server.")

    async def close(self) -> None:
        """Close the connection (idempotent; errors on the way out do not matter)."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def connect(host: str, port: int) -> Link | Outcome:
    """Open the connection, or say in one line why it failed."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(host, port, limit=READ_LIMIT_BYTES)
    except TimeoutError:
        return Outcome(EXIT_ERROR, f"Cannot connect to {host}:{port}: timed out.")
    except OSError as exc:
        return Outcome(EXIT_ERROR, f"Cannot connect to {host}:{port}: {describe(exc)}.")
    return Link(reader, writer)
