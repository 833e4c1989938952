"""A test client that speaks IRC to the server's IRC door over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable

TIMEOUT_S = 5.0
END_OF_WELCOME = re.compile(r":\S+ (376|422) .*")  # the MOTD, or its absence, ends it


class IrcClient:
    """One IRC connection; every read has a timeout, every line must end in CRLF."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.nick = ""
        self.seen: list[str] = []

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> IrcClient:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, *lines: str) -> None:
        """Send lines, each ended by CRLF as IRC clients do."""
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())
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
        """Read until a line equals `wanted` (or fully matches it); return the lines read."""
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

    async def register(self, nick: str, caps: Iterable[str] = ()) -> list[str]:
        """CAP negotiation (if `caps`), NICK and USER; return the lines up to the
        end of the welcome (376 or 422)."""
        wanted = " ".join(caps)
        if wanted:
            await self.send("CAP LS 302")
            await self.expect(re.compile(r":\S+ CAP \* LS :.*"))
            await self.send(f"CAP REQ :{wanted}")
            await self.expect(re.compile(rf":\S+ CAP \* ACK :?{re.escape(wanted)}"))
        await self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} the tester")
        if wanted:
            await self.send("CAP END")
        lines = await self.expect(END_OF_WELCOME)
        self.nick = nick
        return lines

    async def join(self, channel: str) -> list[str]:
        """JOIN a channel; return the lines up to the end of its NAMES."""
        await self.send(f"JOIN {channel}")
        return await self.expect(re.compile(rf":\S+ 366 \S+ {re.escape(channel)} :.*", re.I))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
