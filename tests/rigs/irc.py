"""A test client that speaks IRC to the server's IRC door over a real socket, and the
client's side of SASL SCRAM-SHA-256."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


class ScramClient:
    """SCRAM-SHA-256 (RFC 5802, 7677; no channel binding) as a client: each message is
    the base64 an `AUTHENTICATE` carries."""

    def __init__(self, user: str, password: str, nonce: str = "clientnonce") -> None:
        self.password = password
        self.first_bare = f"n={user},r={nonce}"
        self.salted = b""
        self.auth = b""  # RFC 5802's AuthMessage

    def first(self) -> str:
        return _b64(f"n,,{self.first_bare}".encode())

    def final(self, server_first: str) -> str:
        """The client's proof, for the server's first message."""
        said = base64.b64decode(server_first).decode()
        attrs = dict(part.split("=", 1) for part in said.split(","))
        salt, rounds = base64.b64decode(attrs["s"]), int(attrs["i"])
        self.salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, rounds)
        without_proof = f"c={_b64(b'n,,')},r={attrs['r']}"
        self.auth = f"{self.first_bare},{said},{without_proof}".encode()
        client_key = _hmac(self.salted, b"Client Key")
        signature = _hmac(hashlib.sha256(client_key).digest(), self.auth)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return _b64(f"{without_proof},p={_b64(proof)}".encode())

    def server_final(self) -> str:
        """The server's final message, which proves that it knows the password."""
        server_key = _hmac(self.salted, b"Server Key")
        return _b64(f"v={_b64(_hmac(server_key, self.auth))}".encode())
