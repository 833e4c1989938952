"""Test clients of the WebSocket door: an IRC client over a WebSocket (the websockets
package's own asyncio client, as a browser page would be), and a raw one that does the
handshake by hand and may then stop reading, as a stalled browser tab does."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Iterable, Mapping
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode
from websockets.typing import Origin, Subprotocol

from tests.rigs.irc import END_OF_WELCOME

TIMEOUT_S = 5.0


class WebIrc:
    """One IRC connection over a WebSocket: each line is one message."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.seen: list[str] = []

    @classmethod
    async def open(
        cls, url: str, subprotocols: Iterable[str] = ("text.ircv3.net",), *,
        origin: str | None = None, headers: Mapping[str, str] | None = None,
        tls: ssl.SSLContext | None = None, **kwargs: Any,
    ) -> Self:  # fmt: skip
        async with asyncio.timeout(TIMEOUT_S):
            conn = await connect(
                url, subprotocols=[Subprotocol(p) for p in subprotocols] or None,
                origin=Origin(origin) if origin else None, additional_headers=headers,
                ssl=tls, open_timeout=TIMEOUT_S, ping_interval=None, **kwargs,
            )  # fmt: skip
        return cls(conn)

    async def send(self, *lines: str) -> None:
        for text in lines:
            if self.conn.subprotocol == "binary.ircv3.net":
                await self.conn.send(text.encode())
            else:
                await self.conn.send(text)

    async def line(self, timeout: float = TIMEOUT_S) -> str:
        """The next message, which must be one line with no line end of its own."""
        async with asyncio.timeout(timeout):
            message = await self.conn.recv()
        text = message.decode() if isinstance(message, bytes) else message
        assert "\r" not in text and "\n" not in text, f"not one line: {text!r}"
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

    async def register(self, nick: str) -> list[str]:
        await self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} in a browser")
        return await self.expect(END_OF_WELCOME)

    async def join(self, channel: str) -> list[str]:
        await self.send(f"JOIN {channel}")
        return await self.expect(re.compile(rf":\S+ 366 \S+ {re.escape(channel)} :.*", re.I))

    async def close(self) -> None:
        await self.conn.close()


def masked(text: str) -> bytes:
    """One text message as a client sends it (masked)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)


async def raw_websocket(port: int, *lines: str, receive_buffer: int = 4096) -> socket.socket:
    """A WebSocket done by hand on a small receive buffer: the handshake, `lines` sent
    as messages, then nothing read any more (a stalled tab)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    async with asyncio.timeout(TIMEOUT_S):
        while b"\r\n\r\n" not in head:
            head += await loop.sock_recv(sock, 1)  # no further: the rest stays unread
    assert head.startswith(b"HTTP/1.1 101 "), head
    await loop.sock_sendall(sock, b"".join(masked(text) for text in lines))
    return sock


async def http_get(
    port: int, request: str, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> bytes:
    """A whole HTTP exchange: `request` sent, everything read until the server closes."""
    reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    writer.write(request.encode())
    async with asyncio.timeout(TIMEOUT_S):
        reply = await reader.read()
    writer.close()
    return reply
