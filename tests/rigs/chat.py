"""A test client that speaks docs/protocol.md over a real socket, and waits for lines."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Self

from net.connection import Connection
from net.listeners import ChatServer

TIMEOUT_S = 5.0


class LineClient:
    """One connection to the server under test, for either door: every read has a
    timeout, and every line the server sends must end in CRLF."""

    newline = "\n"  # what this client ends the lines it sends with

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seen: list[str] = []

    @classmethod
    async def open(
        cls,
        port: int,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        *,
        source: str | None = None,
    ) -> Self:
        """Connect (over TLS with `tls`, checking the certificate for `host`), from the
        address `source` if given (`127.0.0.2`: another address of this machine)."""
        local = (source, 0) if source else None
        reader, writer = await asyncio.open_connection(
            host, port, limit=1 << 20, ssl=tls, local_addr=local
        )
        return cls(reader, writer)

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}{self.newline}" for line in lines).encode())
        await self.writer.drain()

    async def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self, timeout: float = TIMEOUT_S) -> str:
        """The next whole line, without its CRLF; EOFError when the server closed."""
        async with asyncio.timeout(timeout):
            raw = await self.reader.readline()
        if not raw:
            raise EOFError("the server closed the connection")
        assert raw.endswith(b"\r\n"), f"line not ended by CRLF: {raw!r}"
        text = raw[:-2].decode()
        self.seen.append(text)
        return text

    async def expect(self, wanted: str | re.Pattern[str], timeout: float = TIMEOUT_S) -> list[str]:
        """Read until a line equals `wanted` (or matches it); return the lines read."""
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                text = await self.line(timeout)
                lines.append(text)
                if text == wanted if isinstance(wanted, str) else wanted.fullmatch(text):
                    return lines

    async def expect_closed(self, timeout: float = TIMEOUT_S) -> list[str]:
        """Read until the server closes the connection; return the lines read."""
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    lines.append(await self.line(timeout))
                except (EOFError, ConnectionResetError):
                    return lines

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class ChatClient(LineClient):
    """A text-door client (docs/protocol.md)."""

    async def login(self, name: str) -> None:
        await self.expect("Enter your username:")
        await self.send(name)
        await self.expect("Enter your choice:")

    async def create(self, room: str) -> None:
        await self.send(f"/create {room}")
        await self.expect(f"Joined room [{room}]. Type 'exit' to leave, /help for commands.")
        await self.expect(re.compile(rf"\* Users in {re.escape(room)}: @.*"))  # its maker: @

    async def join(self, room: str) -> None:
        await self.send(f"/join {room}")
        await self.expect(re.compile(rf"\* Users in {re.escape(room)}: .*"))


async def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    """Wait for a condition on the server's state, checking it on every loop pass."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


def connection_of(server: ChatServer, name: str) -> Connection:
    """The server's side of the connection logged in as `name`."""
    for conn in server.connections():
        if conn.session is not None and conn.session.name == name:
            return conn
    raise AssertionError(f"no connection for {name}")


async def in_room(
    connect: Callable[..., Awaitable[ChatClient]], name: str, room: str, *, create: bool = False
) -> ChatClient:
    """A client logged in as `name`, in `room` (created by it, or joined)."""
    client = await connect(name)
    await (client.create(room) if create else client.join(room))
    return client
