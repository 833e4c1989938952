"""A test client that speaks IRC to the server's IRC door over a real socket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

from tests.rigs.chat import LineClient

END_OF_WELCOME = re.compile(r":\S+ (376|422) .*")  # the MOTD, or its absence, ends it


class IrcClient(LineClient):
    """One IRC connection to the IRC door."""

    newline = "\r\n"  # as IRC clients end their lines

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.nick = ""

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
