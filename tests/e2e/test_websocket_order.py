"""Order on the WebSocket door, as irctest's WebSocket tests check it: a private message
sent to a browser before the browser's own PING reaches it before the PONG. The lines
of two connections read in one pass of the loop are answered in the order read."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from config.settings import Config
from net.listeners import ChatServer
from net.tls import TlsLink
from net.transport import SocketTransport
from net.weblink import WebSocketLink
from tests.rigs.irc import END_OF_WELCOME, IrcClient
from tests.rigs.tlsfiles import make_tls_files
from tests.rigs.web import WebIrc, masked

pytestmark = pytest.mark.timeout(60)

ROUNDS = 60


@pytest.fixture
def config() -> Config:
    return Config(port=0, irc_port=0, websocket_port=0, rate_lines_per_s=0,
                  irc_server_name="irc.test")  # fmt: skip


async def _pinged(web: WebIrc, token: str) -> list[str]:
    """PING the server from the browser; the lines it got up to the PONG."""
    await web.send(f"PING {token}")
    return await web.expect(f":irc.test PONG irc.test {token}")


@pytest.mark.parametrize("subprotocol", ["text.ircv3.net", "binary.ircv3.net"])
async def test_a_private_message_reaches_a_browser_before_the_pong_of_its_next_ping(
    server: ChatServer, subprotocol: str
) -> None:
    url = f"ws://127.0.0.1:{server.websocket_port}/"
    nonweb = await IrcClient.open(server.irc_port)
    await nonweb.register("nonweb")
    try:
        for n in range(ROUNDS):  # a new browser each round: the handshake's path too
            web = await WebIrc.open(url, subprotocols=[subprotocol])
            try:
                await web.register(f"web{n}")
                for m in range(3):
                    await nonweb.send(f"PRIVMSG web{n} :hi {m}")
                    seen = await _pinged(web, f"t{n}.{m}")
                    wanted = f":nonweb!~nonweb@127.0.0.1 PRIVMSG web{n} :hi {m}"
                    assert wanted in seen, f"round {n}.{m}: {seen}"
            finally:
                await web.close()
    finally:
        await nonweb.close()


async def test_lines_in_the_handshakes_own_segment_are_answered_in_order(
    server: ChatServer,
) -> None:
    """The HTTP upgrade and the registration in one TCP segment; then a private
    message and the browser's PING, each round."""
    port = server.websocket_port
    nonweb = await IrcClient.open(server.irc_port)
    await nonweb.register("nonweb")
    try:
        for n in range(ROUNDS):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = (
                f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
            ).encode()
            lines = [f"NICK raw{n}", f"USER raw{n} 0 * :raw"]
            writer.write(request + b"".join(masked(text) for text in lines))
            try:
                async with asyncio.timeout(10):
                    head = await reader.readuntil(b"\r\n\r\n")
                    assert head.startswith(b"HTTP/1.1 101 "), head
                    seen = await _texts_until(reader, END_OF_WELCOME)
                    assert seen[0].startswith(f":irc.test 001 raw{n} "), seen
                    await nonweb.send(f"PRIVMSG raw{n} :hi there")
                    writer.write(masked(f"PING t{n}"))
                    seen = await _texts_until(reader, re.compile(rf":irc.test PONG irc.test t{n}"))
                    wanted = f":nonweb!~nonweb@127.0.0.1 PRIVMSG raw{n} :hi there"
                    assert wanted in seen, f"round {n}: {seen}"
            finally:
                writer.close()
    finally:
        await nonweb.close()


async def _texts_until(reader: asyncio.StreamReader, wanted: re.Pattern[str]) -> list[str]:
    """The server's unmasked short text frames, read until one matches `wanted`."""
    texts: list[str] = []
    while True:
        first, size = await reader.readexactly(2)
        assert first == 0x81, first  # FIN and text
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        text = (await reader.readexactly(size)).decode()
        texts.append(text)
        if wanted.fullmatch(text):
            return texts


async def test_the_same_order_between_two_irc_clients(server: ChatServer) -> None:
    """Not the WebSocket door's own: two IRC clients, the same order."""
    sender = await IrcClient.open(server.irc_port)
    target = await IrcClient.open(server.irc_port)
    try:
        await sender.register("sender")
        await target.register("target")
        for n in range(ROUNDS):
            await sender.send(f"PRIVMSG target :hi {n}")
            await target.send(f"PING t{n}")
            seen = await target.expect(f":irc.test PONG irc.test t{n}")
            assert f":sender!~sender@127.0.0.1 PRIVMSG target :hi {n}" in seen, f"round {n}: {seen}"
    finally:
        await sender.close()
        await target.close()


async def test_both_websocket_ports_are_on_the_lean_transport(tmp_path: Path) -> None:
    """ws:// and wss:// connections are accepted into net/transport.py's transport, as
    the other doors' are (asyncio's selector loop)."""
    files = make_tls_files(tmp_path / "tls")
    config = Config(port=0, irc_port=0, websocket_port=0, websocket_tls_port=0,
                    tls_cert=files.cert, tls_key=files.key, rate_lines_per_s=0,
                    irc_server_name="irc.test")  # fmt: skip
    server = ChatServer(config)
    await server.start()
    try:
        plain = await WebIrc.open(f"ws://127.0.0.1:{server.websocket_port}/")
        await plain.register("plain")
        tls = files.client_context()
        secure = await WebIrc.open(f"wss://127.0.0.1:{server.websocket_tls_port}/", tls=tls)
        await secure.register("secure")
        below: dict[str, object] = {}
        for conn in server.connections():
            link = conn.transport
            assert isinstance(link, WebSocketLink)
            raw = link._raw
            if isinstance(raw, TlsLink):
                raw = raw._raw
            below[conn.session.name if conn.session else "?"] = raw
        assert set(below) == {"plain", "secure"}
        assert all(isinstance(t, SocketTransport) for t in below.values()), below
        await plain.close()
        await secure.close()
    finally:
        await server.aclose()
