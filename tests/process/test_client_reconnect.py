"""Reconnecting: the client in a pty (pexpect) or a pipe, through a TCP proxy the test
can cut, to the real server on port 0 (in this process), with another user on a raw
socket.

`Proxy.cut()` drops the client's side of every connection at once, with a reset, and
forwards nothing more either way; by default the server's side stays open, so the
server still has a ghost holding the name (as when a network goes away), and with
`ghost=False` it is closed too (the server frees the name). What passes each way is
kept per connection (`Link`), so a test can see the codes and the `/reclaim` lines that
the client does not show.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pexpect
import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.e2e.test_tls import tls_config
from tests.process.test_client_pipe import start_client
from tests.process.test_client_pty import Terminal, restored
from tests.rigs.chat import ChatClient, wait_until
from tests.rigs.tlsfiles import make_tls_files

pytestmark = pytest.mark.timeout(30)

TIMEOUT_S = 5.0
CODE = re.compile(r"\* Reclaim code: (\S+) \(after a dropped connection: /reclaim (\S+) \1\)")
STAMPED = r"\[\d\d:\d\d\] "
REFUSED = '! Cannot reclaim "alice": the code is wrong or expired.'


def joined(room: str) -> str:
    return f"Joined room [{room}]. Type 'exit' to leave, /help for commands."


class Link:
    """One connection through the proxy: the bytes each way, kept after a cut too."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client, self.server = client, server
        self.up = bytearray()  # what the client sent
        self.down = bytearray()  # what the server sent (to a ghost too, after the cut)
        self.cut = False
        self.server_closed = False
        self._more = asyncio.Event()

    def note(self) -> None:
        self._more.set()

    async def until(self, pattern: str | re.Pattern[str], *, up: bool = False) -> re.Match[str]:
        """Wait for a line (without its CRLF) matching `pattern` in what the client
        (`up`) or the server sent."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                text = (self.up if up else self.down).decode(errors="replace")
                for line in text.splitlines():
                    if match := re.fullmatch(pattern, line):
                        return match
                self._more.clear()
                await self._more.wait()

    async def closed_by_server(self) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while not self.server_closed:
                self._more.clear()
                await self._more.wait()


class Proxy:
    """Forwards each connection to `target`; `cut()` drops them, `hold()` keeps new ones
    waiting until `release()`, `refuse()` stops accepting."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.links: list[Link] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self._open = asyncio.Event()
        self._open.set()
        self._new_link = asyncio.Event()

    async def listen(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        await self._open.wait()
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        link = Link(writer, up_writer)
        self.links.append(link)
        self._new_link.set()
        await asyncio.gather(
            self._pipe(link, reader, up_writer, link.up),
            self._pipe(link, up_reader, writer, link.down),
        )
        link.server_closed = True
        link.note()

    @staticmethod
    async def _pipe(
        link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kept: bytearray
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                kept += data
                link.note()
                if not link.cut:
                    writer.write(data)
                    await writer.drain()
        if not link.cut:
            writer.close()

    async def link(self, number: int) -> Link:
        """The `number`th connection (from 0), once it is there."""
        async with asyncio.timeout(TIMEOUT_S):
            while len(self.links) <= number:
                self._new_link.clear()
                await self._new_link.wait()
        return self.links[number]

    def cut(self, *, ghost: bool = True) -> None:
        for link in self.links:
            if link.cut:
                continue
            link.cut = True
            sock = link.client.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            link.client.transport.abort()  # a reset: the client's side is gone at once
            if not ghost:
                link.server.close()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def refuse(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def aclose(self) -> None:
        self.server.close()
        self._open.set()
        for link in self.links:
            link.client.close()
            link.server.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def proxy(server: ChatServer) -> AsyncIterator[Proxy]:
    proxy = Proxy(server.port)
    await proxy.listen()
    yield proxy
    await proxy.aclose()


@pytest.fixture
def terminals(proxy: Proxy) -> Iterator[list[Terminal]]:
    """Terminals to close after the test, before the proxy and the server."""
    opened: list[Terminal] = []
    yield opened
    for term in opened:
        term.close()


def proxy_port(proxy: Proxy) -> int:
    return int(proxy.server.sockets[0].getsockname()[1])


async def alice_in(
    room: str,
    proxy: Proxy,
    terminals: list[Terminal],
    *args: str,
    create: bool = False,
    rows: int = 24,
) -> tuple[Terminal, str]:
    """alice (the client in a pty, through the proxy) in `room` (joined, or created by
    her); her reclaim code."""
    term = Terminal.client(
        proxy_port(proxy), "--name", "alice", "--color", "never", *args, rows=rows, after="stty -a"
    )
    terminals.append(term)
    await term.expect(re.escape("Enter your choice: "))
    command = "/create" if create else "/join"
    await term.type(f"{command} {room}\r", re.escape(f"[{room}] > "))
    code = (await (await proxy.link(0)).until(CODE))[1]
    return term, code


async def bob_in_lobby(connect: Connect) -> ChatClient:
    bob = await connect("bob")
    await bob.create("lobby")
    return bob


async def test_a_cut_connection_reclaims_the_name_from_its_ghost_the_room_and_the_line(
    connect: Connect, proxy: Proxy, terminals: list[Terminal]
) -> None:
    bob = await bob_in_lobby(connect)
    term, code = await alice_in("lobby", proxy, terminals, rows=40)
    await bob.expect("* alice has joined lobby")
    await term.type("half typed", "half typed")
    proxy.cut()
    await term.expect(re.escape("reconnecting in 1 s (Ctrl-C stops)."))
    await term.expect(r"half typed\x1b\[K")
    lines = term.screen().lines()
    assert "".join(lines[-3:-1]) == (  # 82 columns: wrapped
        "* Connection lost (connection reset by peer); reconnecting in 1 s (Ctrl-C stops)."
    )
    assert lines[-1] == "[lobby] > half typed"
    ghost, fresh = proxy.links[0], await proxy.link(1)
    await fresh.until(f"/reclaim alice {re.escape(code)}", up=True)
    await fresh.until(re.escape("* Welcome back, alice!"))
    await ghost.until(re.escape("! Your name was reclaimed by a new connection."))
    await ghost.closed_by_server()
    assert await bob.line() == "* alice reconnected"
    await term.expect(re.escape("* Users in lobby: alice, @bob"))
    await term.expect(re.escape("[lobby] > half typed\x1b[K"))
    await term.type("\r")
    assert re.fullmatch(rf"{STAMPED}<alice> half typed", await bob.line())  # no quit, no join
    await term.expect(re.escape("<alice> half typed"))
    assert fresh.up.decode().splitlines() == [f"/reclaim alice {code}", "half typed"]
    new_code = (await fresh.until(CODE))[1]
    log = term.log.getvalue().decode()
    assert "Reclaim code" not in log and code not in log and new_code not in log
    screen = term.screen().lines()
    assert "* Reconnecting to 127.0.0.1:" in "\n".join(screen)
    assert screen.count("Enter your choice: /join lobby") == 1


async def test_the_server_refuses_a_wrong_code_and_a_code_used_once_already(
    connect: Connect, proxy: Proxy, terminals: list[Terminal]
) -> None:
    _, code = await alice_in("lobby", proxy, terminals, create=True)
    proxy.cut()
    fresh = await proxy.link(1)
    await fresh.until(re.escape("* Welcome back, alice!"))
    new_code = (await fresh.until(CODE))[1]
    for tried in (code, new_code + "x"):  # the one the client used, and a wrong one
        intruder = await connect()
        await intruder.expect("Enter your username:")
        await intruder.send(f"/reclaim alice {tried}")
        assert [await intruder.line(), await intruder.line()] == [REFUSED, "Enter your username:"]
    assert not fresh.server_closed and len(proxy.links) == 2


async def test_when_the_server_freed_the_name_the_client_rejoins_from_the_menu(
    connect: Connect, proxy: Proxy, terminals: list[Terminal]
) -> None:
    bob = await bob_in_lobby(connect)
    term, _ = await alice_in("lobby", proxy, terminals, rows=40)  # both menus on screen
    await bob.expect("* alice has joined lobby")
    await term.type("half typed", "half typed")
    proxy.hold()
    proxy.cut(ghost=False)
    assert re.fullmatch(r"\* alice has quit.*", await bob.line())
    proxy.release()
    fresh = await proxy.link(1)
    await fresh.until(re.escape("* Welcome back, alice!"))
    await fresh.until("/join lobby", up=True)
    assert await bob.line() == "* alice has joined lobby"
    await term.expect(re.escape("[lobby] > half typed\x1b[K"))
    await term.type("\r")
    assert re.fullmatch(rf"{STAMPED}<alice> half typed", await bob.line())
    await term.expect(re.escape("<alice> half typed"))
    assert term.screen().lines().count("Enter your choice: /join lobby") == 2


async def test_when_the_room_is_gone_the_client_creates_it_again(
    server: ChatServer, proxy: Proxy, terminals: list[Terminal]
) -> None:
    term, _ = await alice_in("den", proxy, terminals, create=True)
    proxy.hold()
    proxy.cut(ghost=False)
    await wait_until(lambda: server.rooms.room("den") is None)
    proxy.release()
    fresh = await proxy.link(1)
    await fresh.until(re.escape('! Room "den" does not exist.'))
    await fresh.until("/create den", up=True)
    await term.expect(re.escape("* Creating den again."))
    await term.expect(re.escape("[den] > "))
    assert server.rooms.room("den") is not None
    since, *rest = fresh.up.decode().splitlines()[1:]
    assert re.fullmatch(r"/replay since \d+s", since) and rest == ["/join den", "/create den"]


async def test_ctrl_c_stops_the_retries_with_status_130_and_restores_the_terminal(
    proxy: Proxy, terminals: list[Terminal]
) -> None:
    term, _ = await alice_in("lobby", proxy, terminals, create=True)
    await proxy.refuse()
    proxy.cut()
    await term.expect(re.escape("reconnecting in 1 s (Ctrl-C stops)."))
    await term.expect(r"\(attempt 1\)\.\.\.")
    await term.expect(re.escape("connection refused. Next attempt in 2 s."))
    await term.type("kept\r", re.escape("! Not connected; the line is kept"))
    await term.expect(r"kept\x1b\[K")
    assert term.screen().lines()[-1] == "[lobby] > kept"
    await term.type("\x03")
    await term.expect("Interrupted.\r\n")
    await term.expect("exit=130")
    await term.expect(pexpect.EOF)
    assert restored(term.log.getvalue().decode())


async def test_no_reconnect_ends_the_session_when_the_connection_drops(
    proxy: Proxy, terminals: list[Terminal]
) -> None:
    term, _ = await alice_in("lobby", proxy, terminals, "--no-reconnect", create=True)
    proxy.cut()
    await term.expect(re.escape("Connection lost: connection reset by peer.\r\n"))
    await term.expect("exit=1")


async def test_a_pipe_reconnects_only_when_asked_with_the_latest_code_shown_as_it_is(
    proxy: Proxy,
) -> None:
    proc = await start_client(proxy_port(proxy), "--name", "alice", "--reconnect")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(b"/create lobby\n")
        first: list[bytes] = []
        async with asyncio.timeout(TIMEOUT_S):
            while not first or first[-1] != f"{joined('lobby')}\n".encode():
                first.append(await proc.stdout.readline())
        codes = [(await proxy.links[0].until(CODE))[1]]
        for number in (1, 2):  # twice: the second time with the code the first gave
            proxy.cut()
            link = await proxy.link(number)
            await link.until(f"/reclaim alice {re.escape(codes[-1])}", up=True)
            await link.until(re.escape("* Welcome back, alice!"))
            codes.append((await link.until(CODE))[1])
            await link.until(re.escape("* Users in lobby: @alice"))
        proc.stdin.write(b"after\n/quit\n")
        await link.until("/quit", up=True)
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert link.up.decode().splitlines()[1:] == ["after", "/quit"]
    shown = b"".join([*first, out]).decode().splitlines()
    for code in codes:
        assert f"* Reclaim code: {code} (after a dropped connection: /reclaim alice {code})" in (
            shown
        )
    assert re.search(rf"^{STAMPED}<alice> after$", out.decode(), re.M)
    assert err.decode().splitlines()[:3] == [
        "* Connection lost (connection reset by peer); reconnecting in 1 s (Ctrl-C stops).",
        f"* Reconnecting to 127.0.0.1:{proxy_port(proxy)} (attempt 1)...",
        "* Reconnected.",
    ]


# --- A server restart, and a port that speaks another protocol ---


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[ChatServer, str]]:
    """A server with a plain and a TLS text port; the CA file that trusts it."""
    files = make_tls_files(tmp_path / "tls")
    chat = ChatServer(tls_config(files))
    await chat.start()
    yield chat, files.ca
    await chat.aclose()


def tls_only(port: int) -> str:
    return (
        f"Cannot talk to 127.0.0.1:{port}: that port speaks TLS only; connect with --tls "
        "(and --cafile FILE for a private certificate)."
    )


async def test_a_plain_client_on_a_tls_port_stops_at_once_and_says_to_use_tls(
    tls_server: tuple[ChatServer, str],
) -> None:
    server, _ = tls_server
    proc = await start_client(server.tls_port, "--name", "alice", "--reconnect")
    assert proc.stdout is not None and proc.stderr is not None
    try:  # stdin stays open: only the server's answer may end the session
        async with asyncio.timeout(TIMEOUT_S):
            status = await proc.wait()
        out, err = await proc.stdout.read(), await proc.stderr.read()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert status == 1
    assert out.decode() == (
        f"! This port speaks TLS only; without TLS, connect to port {server.port}.\n"
    )
    assert err.decode() == tls_only(server.tls_port) + "\n"


async def test_in_the_terminal_a_tls_port_is_one_line_too_and_no_retry(
    tls_server: tuple[ChatServer, str], terminals: list[Terminal]
) -> None:
    server, _ = tls_server
    term = Terminal.client(server.tls_port, "--color", "never", after="stty -a")
    terminals.append(term)
    await term.expect(re.escape(tls_only(server.tls_port)))
    await term.expect("exit=1")
    await term.expect(pexpect.EOF)
    log = term.log.getvalue().decode()
    assert "Reconnect" not in log and restored(log)


async def test_tls_to_a_plain_port_after_a_reconnect_is_one_line_and_no_retry(
    tls_server: tuple[ChatServer, str], terminals: list[Terminal]
) -> None:
    server, ca = tls_server
    proxy = Proxy(server.tls_port)
    await proxy.listen()
    try:
        term = Terminal.client(
            proxy_port(proxy), "--name", "alice", "--cafile", ca, "--color", "never",
            after="stty -a",
        )  # fmt: skip
        terminals.append(term)
        await term.expect(re.escape("Enter your choice: "))  # the bytes between: TLS
        proxy.hold()
        proxy.cut(ghost=False)
        proxy.target = server.port  # the port speaks plain text now
        proxy.release()
        await term.expect(re.escape(f"* Reconnecting to 127.0.0.1:{proxy_port(proxy)}"))
        await term.expect(r"TLS failed \(.*\); is it the server's TLS port\?\r\n")
        await term.expect("exit=1")
        await term.expect(pexpect.EOF)
        log = term.log.getvalue().decode()
        assert "Next attempt" not in log and "attempt 2" not in log and restored(log)
    finally:
        for term in terminals:
            term.close()
        await proxy.aclose()


async def test_after_a_server_restart_only_the_lines_not_seen_yet_are_shown(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    config = Config(port=0, rate_lines_per_s=0, db_path=str(tmp_path / "chat.db"))
    first, second = ChatServer(config), ChatServer(config)
    proxy = Proxy(await first.start())
    await proxy.listen()
    try:
        bob = await ChatClient.open(first.port)
        await bob.login("bob")
        await bob.create("lobby")
        term, _ = await alice_in("lobby", proxy, terminals, rows=60)
        await bob.expect("* alice has joined lobby")
        await bob.send("before 1", "before 1", "/me waves", "/topic plans")
        await term.expect(re.escape("* bob set the topic of lobby to: plans"))
        await term.type("mine\r", re.escape("<alice> mine"))
        proxy.hold()
        await first.aclose()  # a restart: the codes are gone, the history is not
        await term.expect(re.escape("reconnecting in 1 s (Ctrl-C stops)."))
        proxy.target = await second.start()
        carol = await ChatClient.open(second.port)
        await carol.login("carol")
        await carol.join("lobby")
        await carol.send("while you were away")
        await carol.expect(re.compile(rf"{STAMPED}<carol> while you were away"))
        proxy.release()
        fresh = await proxy.link(1)
        await fresh.until(re.escape(REFUSED))
        await fresh.until("/join lobby", up=True)
        await fresh.until(re.escape("* History of lobby (6 messages)"))
        await term.expect(re.escape("<carol> while you were away"))
        await term.expect(re.escape("* End of history."))
        await term.expect(re.escape("[lobby] > "))
        await term.type("after\r", re.escape("<alice> after"))
        screen = "\n".join(term.screen().lines())
        assert REFUSED not in screen
        assert screen.count("<bob> before 1") == 2 and screen.count("* bob waves") == 1
        assert screen.count("<alice> mine") == 1 and screen.count("set the topic") == 1
        assert "* History of lobby (1 message)\n" in screen
        assert screen.count("<carol> while you were away") == 1
    finally:
        for term in terminals:
            term.close()
        await proxy.aclose()
        await second.aclose()
        await first.aclose()
