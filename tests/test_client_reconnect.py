"""Reconnecting: the client in a pty (pexpect), through a TCP proxy the test can cut,
to a FAKE server that speaks the reclaim protocol the real server is getting.

`FakeReclaimServer` is a stand-in, small on purpose: the real server's `/reclaim` is
being built on another branch, and a test against it will replace this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import pexpect
import pytest

from tests.test_client_pipe import start_client
from tests.test_client_pty import Terminal, restored

pytestmark = pytest.mark.timeout(30)

TIMEOUT_S = 5.0
MENU = ["--- Chat Menu ---", "1. Create a new chat room", "4. Exit", "Enter your choice:"]


def joined(room: str) -> str:
    return f"Joined room [{room}]. Type 'exit' to leave, /help for commands."


class Listener:
    """A server on 127.0.0.1 port 0 whose connection handlers `aclose` ends and awaits."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.all_writers: list[asyncio.StreamWriter] = []

    async def listen(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.all_writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await self.serve(reader, writer)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.server.close()
        for writer in self.all_writers:
            writer.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class FakeReclaimServer(Listener):
    """FAKE: names, a rotating reclaim code per name, /join, and chat echoed back."""

    def __init__(self, *, back_in_room: bool) -> None:
        super().__init__()
        self.back_in_room = back_in_room  # a reclaim puts the user back in the room
        self.codes: dict[str, str] = {}
        self.rooms: dict[str, str] = {}
        self.issued = 0
        self.received: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self.connections = 0
        self.writer: asyncio.StreamWriter | None = None

    def say(self, *lines: str) -> None:
        assert self.writer is not None
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())

    def new_code(self, name: str) -> str:
        self.issued += 1
        self.codes[name] = code = f"c0de-{self.issued}"
        return f"* Reclaim code: {code} (after a dropped connection: /reclaim {name} {code})"

    async def expect(self, wanted: str) -> int:
        """Wait for the client to send `wanted`; the connection number it came on."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                number, line = await self.received.get()
                if line == wanted:
                    return number

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number, self.writer, name = self.connections, writer, None
        self.say("* Welcome to chatroom.", "Enter your username:")
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            await self.received.put((number, line))
            if name is None:
                name = self._login(line)
            elif line.startswith("/join "):
                self.rooms[name] = room = line.removeprefix("/join ")
                self.say(joined(room), f"* Users in {room}: {name}, bob")
            else:
                self.say(f"[12:00] <{name}> {line}")
        writer.close()

    def _login(self, line: str) -> str | None:
        words = line.split()
        if words[0] != "/reclaim":
            self.say(f"* Hello, {line}!", self.new_code(line), *MENU)
            return line
        name, code = words[1], words[2]
        if self.codes.get(name) != code:
            self.say(f'! Cannot reclaim "{name}": the code is wrong or expired.')
            self.say("Enter your username:")
            return None
        self.say(f"* Welcome back, {name}!", self.new_code(name))
        room = self.rooms.get(name)
        if self.back_in_room and room:
            self.say(joined(room), f"* Users in {room}: {name}, bob")
        else:
            self.say(*MENU)
        return name


class Proxy(Listener):
    """Forwards each connection to `target`; `cut()` drops them all, `refuse()` stops
    accepting new ones."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]
        self.all_writers.append(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def cut(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers = []

    async def refuse(self) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def terminals() -> AsyncIterator[list[Terminal | Listener]]:
    """Terminals and listeners to close after the test, the terminals first."""
    opened: list[Terminal | Listener] = []
    yield opened
    for thing in opened:
        if isinstance(thing, Terminal):
            thing.close()
    for thing in opened:
        if isinstance(thing, Listener):
            await thing.aclose()


async def alice_in_lobby(
    terminals: list[Terminal | Listener],
    *,
    back_in_room: bool = False,
    args: tuple[str, ...] = (),
) -> tuple[Terminal, FakeReclaimServer, Proxy]:
    fake = FakeReclaimServer(back_in_room=back_in_room)
    proxy = Proxy(await fake.listen())
    terminals += [fake, proxy]
    term = Terminal.client(
        await proxy.listen(), "--name", "alice", "--color", "never", *args, after="stty -a"
    )
    terminals.append(term)
    await term.expect(re.escape("Enter your choice: "))
    await term.type("/join lobby\r", re.escape("[lobby] > "))
    await fake.expect("/join lobby")
    fake.say(fake.new_code("alice"), "[12:00] <bob> ping")  # the code rotates
    await term.expect("ping")
    return term, fake, proxy


@pytest.mark.parametrize("back_in_room", [False, True], ids=["via-menu", "back-in-room"])
async def test_a_dropped_connection_reconnects_reclaims_the_name_and_rejoins_the_room(
    terminals: list[Terminal | Listener], back_in_room: bool
) -> None:
    term, fake, proxy = await alice_in_lobby(terminals, back_in_room=back_in_room)
    await term.type("half typed", "half typed")
    proxy.cut()
    await term.expect(re.escape("reconnecting in 1 s (Ctrl-C stops)."))
    await term.expect(r"half typed\x1b\[K")
    lines = term.screen().lines()
    assert lines[-2] == "* Connection lost (closed by server); reconnecting in 1 s (Ctrl-C stops)."
    assert lines[-1] == "[lobby] > half typed"
    assert await fake.expect("/reclaim alice c0de-2") == 2  # the latest code, not c0de-1
    if not back_in_room:
        assert await fake.expect("/join lobby") == 2
    await term.expect(re.escape("* Users in lobby: alice, bob"))
    await term.expect(re.escape("[lobby] > half typed\x1b[K"))
    await term.type("\r")
    assert await fake.expect("half typed") == 2
    await term.expect(re.escape("<alice> half typed"))
    log = term.log.getvalue().decode()
    assert "Reclaim code" not in log and "c0de-" not in log
    screen = term.screen().lines()
    assert "* Reconnecting to 127.0.0.1:" in "\n".join(screen)
    assert screen.count("Enter your choice: /join lobby") == (1 if back_in_room else 2)


async def test_ctrl_c_stops_the_retries_with_status_130_and_restores_the_terminal(
    terminals: list[Terminal | Listener],
) -> None:
    term, _, proxy = await alice_in_lobby(terminals)
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
    terminals: list[Terminal | Listener],
) -> None:
    term, _, proxy = await alice_in_lobby(terminals, args=("--no-reconnect",))
    proxy.cut()
    await term.expect("Connection closed by server.\r\n")
    await term.expect("exit=1")


async def test_a_pipe_reconnects_only_when_asked_and_shows_the_code_lines_as_they_are(
    terminals: list[Terminal | Listener],
) -> None:
    fake = FakeReclaimServer(back_in_room=True)
    proxy = Proxy(await fake.listen())
    terminals += [fake, proxy]
    proc = await start_client(await proxy.listen(), "--name", "alice", "--reconnect")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b"/join lobby\n")
    async with asyncio.timeout(TIMEOUT_S):
        while await proc.stdout.readline() != b"* Users in lobby: alice, bob\n":
            pass
    proxy.cut()
    assert await fake.expect("/reclaim alice c0de-1") == 2
    proc.stdin.write(b"after\n/quit\n")
    assert await fake.expect("after") == 2
    assert await fake.expect("/quit") == 2
    proxy.cut()  # after /quit the connection closing is no drop
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    assert proc.returncode == 0
    assert "* Reclaim code: c0de-2 (after a dropped connection: /reclaim alice c0de-2)" in (
        out.decode().splitlines()
    )
    assert err.decode().splitlines()[:3] == [
        "* Connection lost (closed by server); reconnecting in 1 s (Ctrl-C stops).",
        f"* Reconnecting to 127.0.0.1:{proxy.server.sockets[0].getsockname()[1]} (attempt 1)...",
        "* Reconnected.",
    ]
