"""The WebSocket door end to end: the real server on port 0, browsers played by the
websockets package's own client, beside text-door and IRC users over real sockets."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import in_room, wait_until
from tests.rigs.irc import IrcClient
from tests.rigs.tlsfiles import make_tls_files
from tests.rigs.web import WebIrc, http_get, raw_websocket

pytestmark = pytest.mark.timeout(30)

BASE = Config(port=0, irc_port=0, websocket_port=0, rate_lines_per_s=0, irc_server_name="irc.test")
HHMM = r"\[\d\d:\d\d\]"
WebConnect = Callable[..., Awaitable[WebIrc]]


@pytest.fixture
def config() -> Config:
    return BASE


@pytest.fixture
async def web(server: ChatServer) -> AsyncIterator[WebConnect]:
    """Open browsers; `await web("bob")` also registers as bob."""
    clients: list[WebIrc] = []

    async def open_client(nick: str | None = None, **options: object) -> WebIrc:
        client = await WebIrc.open(f"ws://127.0.0.1:{server.websocket_port}/", **options)  # type: ignore[arg-type]
        clients.append(client)
        if nick is not None:
            await client.register(nick)
        return client

    yield open_client
    for client in clients:
        await client.close()


@pytest.mark.parametrize("subprotocol", ["text.ircv3.net", "binary.ircv3.net"])
async def test_a_browser_chats_with_a_text_user_in_one_room(
    connect: Connect, web: WebConnect, subprotocol: str
) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    bob = await web(subprotocols=[subprotocol])
    assert bob.conn.subprotocol == subprotocol
    await bob.register("bob")
    await bob.join("#general")
    await alice.expect("* bob has joined general")
    await alice.send("hello browser")
    await bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #general :hello browser")
    await bob.send("PRIVMSG #general :hello text door\r\n")  # a trailing CRLF is tolerated
    await alice.expect(re.compile(rf"{HHMM} <bob> hello text door"))
    await bob.send("PRIVMSG alice :psst")
    await alice.expect(re.compile(rf"{HHMM} \*bob\* psst"))
    await bob.send("QUIT :tab closed")
    await bob.expect("ERROR :Closing link: 127.0.0.1 (Quit: tab closed)")
    with pytest.raises(ConnectionClosedOK):
        await bob.line()
    assert bob.conn.close_code == 1000
    await alice.expect("* bob has quit (Quit: tab closed)")


async def test_sasl_over_a_websocket_logs_in_to_an_account_of_the_text_door(
    connect: Connect, web: WebConnect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # websockets' own DEBUG (every header) stays out too
    carol = await connect("carol")
    await carol.send("/register sesame-seed")
    await carol.expect(re.compile(r".*Account carol registered; you are logged in to it\."))
    await carol.send("/quit")
    await carol.expect_closed()
    browser = await web()
    await browser.send("CAP LS 302", "NICK carol", "USER c 0 * :Carol")
    await browser.expect(re.compile(r":irc.test CAP \* LS :.*sasl=PLAIN,SCRAM-SHA-256.*"))
    await browser.send("CAP REQ :sasl")
    await browser.expect(re.compile(r":irc.test CAP \S+ ACK :?sasl"))
    await browser.send("AUTHENTICATE PLAIN")
    await browser.expect(":irc.test AUTHENTICATE +")
    await browser.send("AUTHENTICATE " + base64.b64encode(b"\0carol\0sesame-seed").decode())
    await browser.expect(re.compile(r":irc.test 903 carol :.*"))
    await browser.send("CAP END")
    await browser.expect(re.compile(r":irc.test 001 carol :.*"))
    server = [r for r in caplog.records if r.name != "websockets.client"]  # not the test's
    said = [r.getMessage() for r in server]
    payload = base64.b64encode(b"\0carol\0sesame-seed").decode()
    assert not [m for m in said if "sesame-seed" in m or payload in m]
    assert any(m.endswith("< b'AUTHENTICATE PLAIN'") for m in said)  # the mechanism, only
    assert not any(r.name.startswith("websockets") for r in server)


async def test_a_stalled_tab_is_dropped_and_the_others_get_every_message(
    connect: Connect, web: WebConnect, server: ChatServer
) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    watcher = await web("watcher")
    await watcher.join("#general")
    stalled = await raw_websocket(
        server.websocket_port, "NICK stalled", "USER s 0 * :s", "JOIN #general"
    )
    await alice.expect("* stalled has joined general")
    padding = "x" * 1500
    quit_seen = asyncio.Event()

    async def receive_all() -> list[int]:
        numbers: list[int] = []
        while True:
            text = await watcher.line(timeout=10)
            if text == ":alice!~alice@127.0.0.1 PRIVMSG #general done":
                return numbers
            if " PRIVMSG " in text:
                numbers.append(int(text.split(" :")[1].split()[0]))
            elif " QUIT " in text:
                assert text == ":stalled!~s@127.0.0.1 QUIT :SendQ exceeded"
                quit_seen.set()

    receiving = asyncio.create_task(receive_all())
    sent = 0
    while not quit_seen.is_set():  # until the stalled tab's queue overflows
        assert sent < 50_000, "the stalled tab was never dropped"
        await alice.send(*(f"{n} {padding}" for n in range(sent, sent + 20)))
        sent += 20
        await alice.expect(re.compile(rf"{HHMM} <alice> {sent - 1} x+"), timeout=10)
    await alice.send("done")
    assert await receiving == list(range(sent))
    assert "stalled" not in server.rooms.snapshot()[0]
    stalled.close()


async def test_another_pages_origin_is_refused_unless_allowed(server: ChatServer) -> None:
    url = f"ws://127.0.0.1:{server.websocket_port}/"
    with pytest.raises(InvalidStatus) as refused:
        await WebIrc.open(url, origin="https://evil.example.com")
    assert refused.value.response.status_code == 403
    own = await WebIrc.open(url, origin=f"http://127.0.0.1:{server.websocket_port}")
    await own.register("own")
    await own.close()


@pytest.mark.parametrize(
    "config", [replace(BASE, websocket_origins=("https://chat.example.org",))], ids=["allowed"]
)
async def test_an_allowed_origin_connects(server: ChatServer) -> None:
    url = f"ws://127.0.0.1:{server.websocket_port}/"
    friend = await WebIrc.open(url, origin="https://chat.example.org")
    await friend.register("friend")
    await friend.close()
    with pytest.raises(InvalidStatus):
        await WebIrc.open(url, origin="https://chat.example.org.evil.com")


PROXIED = replace(BASE, trusted_proxies=("127.0.0.1/32",), max_per_ip=1)


@pytest.mark.parametrize("config", [PROXIED], ids=["trusted 127.0.0.1"])
async def test_a_trusted_proxy_names_the_client_for_irc_bans_limits_and_the_log(
    server: ChatServer, web: WebConnect, caplog: pytest.LogCaptureFixture
) -> None:
    op = await IrcClient.open(server.irc_port)
    await op.register("op")
    await op.join("#room")
    forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    guest = await web("guest", headers=forwarded)
    await guest.join("#room")
    await op.expect(":guest!~guest@203.0.113.7 JOIN #room")
    assert any(
        re.fullmatch(r"203\.0\.113\.7 via 127\.0\.0\.1:\d+ connected to the WebSocket door",
                     r.getMessage()) for r in caplog.records
    )  # fmt: skip
    with pytest.raises(InvalidStatus) as refused:  # --max-per-ip 1 counts the client's address
        await web(headers={"X-Forwarded-For": "203.0.113.7"})
    assert refused.value.response.status_code == 503
    assert b"Too many connections from your address (limit 1)." in refused.value.response.body
    await op.send("MODE #room +b *!*@203.0.113.7", "KICK #room guest")
    await guest.expect(":op!~op@127.0.0.1 KICK #room guest op")
    await guest.send("JOIN #room")
    await guest.expect(":irc.test 474 guest #room :Cannot join channel (+b) - you are banned")
    other = await web("other", headers={"X-Forwarded-For": "203.0.113.8"})  # its own address
    await other.join("#room")
    await op.close()


@pytest.mark.parametrize(
    "config", [replace(BASE, trusted_proxies=("127.0.0.2/32",))], ids=["trusted 127.0.0.2"]
)
async def test_an_untrusted_peer_cannot_name_another_address(
    server: ChatServer, web: WebConnect
) -> None:
    op = await IrcClient.open(server.irc_port)
    await op.register("op")
    await op.join("#room")
    liar = await web("liar", headers={"X-Forwarded-For": "203.0.113.7"})
    await liar.join("#room")
    await op.expect(":liar!~liar@127.0.0.1 JOIN #room")
    await op.close()


async def test_the_page_is_served_on_the_same_port(server: ChatServer) -> None:
    port = server.websocket_port
    reply = await http_get(port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Type: text/html; charset=utf-8\r\n" in head
    assert (
        f"\r\nContent-Security-Policy: default-src 'self'; connect-src 'self' "
        f"ws://127.0.0.1:{port} wss://127.0.0.1:{port};".encode()
    ) in head
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in head
    assert b"<title>chatroom</title>" in body
    missing = await http_get(port, "GET /../../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 404 Not Found\r\n")
    bad = await http_get(port, "NOT HTTP AT ALL\r\n\r\n")
    assert bad.startswith(b"HTTP/1.1 400 Bad Request\r\n")


@pytest.mark.parametrize(
    "config", [replace(BASE, http_request_timeout_s=0.2, login_timeout_s=0.3)], ids=["short"]
)
async def test_a_silent_connection_and_an_unnamed_browser_time_out(
    server: ChatServer, web: WebConnect
) -> None:
    silent = await http_get(server.websocket_port, "")  # no request: closed, nothing said
    assert silent == b""
    browser = await web()
    await browser.expect("ERROR :Closing link: 127.0.0.1 (Registration timed out)")
    with pytest.raises(ConnectionClosedOK):
        await browser.line()


async def test_wss_and_https_with_the_doors_certificate_and_a_reloaded_page(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = make_tls_files(tmp_path / "tls")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("first")
    config = replace(BASE, tls_cert=files.cert, tls_key=files.key, websocket_tls_port=0,
                     web_root=str(tmp_path / "web"))  # fmt: skip
    server = ChatServer(config)
    await server.start()
    try:
        ca, port = files.client_context(), server.websocket_tls_port
        secure = await WebIrc.open(f"wss://127.0.0.1:{port}/", tls=ca)
        await secure.register("secure")
        assert any(r.getMessage().endswith("connected to the WebSocket door over TLS")
                   for r in caplog.records)  # fmt: skip
        page = await http_get(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", tls=ca)
        assert page.startswith(b"HTTP/1.1 200 OK\r\n") and page.endswith(b"\r\n\r\nfirst")
        (tmp_path / "web" / "index.html").write_text("second")
        server.reload()  # what SIGHUP does
        page = await http_get(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", tls=ca)
        assert page.endswith(b"\r\n\r\nsecond")
        plain = await http_get(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert plain.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert plain.endswith(
            f"This port speaks TLS only; without TLS, connect to port {server.websocket_port}."
            "\r\n".encode()
        )
        await secure.close()
    finally:
        await server.aclose()


async def test_a_websocket_counts_with_the_other_doors_against_max_clients(
    server: ChatServer, web: WebConnect
) -> None:
    browser = await web("counted")
    await wait_until(lambda: len(server.connections()) == 1)
    assert server.connections()[0].door.name == "WebSocket"
    assert server.connections()[0].peer.startswith("127.0.0.1:")
    await browser.close()
    await wait_until(lambda: not server.connections())


@pytest.mark.parametrize("config", [replace(BASE, max_clients=1)], ids=["max 1"])
async def test_a_connection_over_the_limits_gets_an_http_503(
    server: ChatServer, web: WebConnect
) -> None:
    await web("first")
    with pytest.raises(InvalidStatus) as refused:
        await web()
    assert refused.value.response.status_code == 503
    assert refused.value.response.body == b"Server is full (1 connections). Try again later.\r\n"


async def test_shutdown_says_so_and_closes_the_websocket() -> None:
    server = ChatServer(BASE)
    await server.start()
    try:
        browser = await WebIrc.open(f"ws://127.0.0.1:{server.websocket_port}/")
        await browser.register("leaving")
    finally:
        await server.aclose()
    await browser.expect("ERROR :Closing link: server shutting down")
    with pytest.raises(ConnectionClosedOK):
        await browser.line()
    assert browser.conn.close_code == 1000
