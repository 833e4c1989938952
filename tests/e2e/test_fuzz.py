"""A bounded, seeded fuzz of both doors over real sockets.

Clients of the text door and of the IRC door each send a few thousand random lines:
commands from both doors' tables, tags, prefixes, parameters, bytes that are not UTF-8,
control characters, lines over the limits. Whatever they send, nothing may be logged as
an error or with a traceback (conftest's `no_tracebacks`), no session may be closed with
an internal error, every line the server sends is UTF-8 ended by CRLF, and afterwards the
server still welcomes a fresh client on each door. The same seed gives the same lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from asyncio import FIRST_COMPLETED
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from config.settings import Config
from doors.irc.commands import COMMANDS as IRC_COMMANDS
from doors.text.commands import COMMANDS as TEXT_COMMANDS
from net.listeners import ChatServer
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient

SEED = 20240607
CLIENTS_PER_DOOR = 5
LINES_PER_CLIENT = 1500
CHUNK = 40  # lines per write
QUIT_RATE = 0.003
BOUND_S = 30.0  # the whole fuzz; it takes a few seconds
SYNC_S = 10.0  # for the answer to the last line

NICKS = [f"fz{i}" for i in range(2 * CLIENTS_PER_DOOR)]
ROOMS = ["fuzz", "fuzz2", "Fuzz", "fü"]
SYNCED = {"irc": b" PONG irc.test fuzz-end", "text": b"* Users online ("}
INTERNAL = (b"internal error", b"Internal error")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return replace(
        Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test"),
        db_path=str(tmp_path / "fuzz.db"),
    )


def junk(rng: random.Random, most: int = 12) -> bytes:
    """Random bytes with no line end: invalid UTF-8, controls, escapes, anything."""
    return bytes(rng.choice(range(256)) for _ in range(rng.randint(1, most))).translate(
        None, b"\r\n"
    )


def word(rng: random.Random) -> bytes:
    """One parameter, mostly of a kind the commands take."""
    pick = rng.random()
    if pick < 0.15:
        return junk(rng)
    if pick < 0.2:
        return "é\u202e\x1b[2J\x01ACTION\x7f".encode()[: rng.randint(1, 20)]
    return rng.choice(
        [
            *(f"#{room}" for room in ROOMS), *ROOMS, *NICKS, "*", "0", "-1", "99999999999",
            "+B", "-B", "+i", "+o", "-o", "+v", "+b", "-b", "+e", "+I", "+k", "+l", "-k", "+m",
            "+imnst", "+bbb", "b", "%tcuihsnfdlaor,42", "o", "LATEST", "BEFORE", "AFTER",
            "AROUND", "BETWEEN", "TARGETS", "msgid=1", "msgid=x", "timestamp=2020-01-01T00:00:00Z",
            "timestamp=nope", "LS", "302", "REQ", "END", "LIST", ":", "::", "@", "!", "x!y@z",
            "*!*@*", "on", "off", "1", "2", "3", "\x01ACTION waves\x01", "\x01VERSION\x01",
        ]
    ).encode()  # fmt: skip


def params(rng: random.Random) -> bytes:
    words = [word(rng) for _ in range(rng.randint(0, 5))]
    if rng.random() < 0.5:
        words.append(b":" + b" ".join(word(rng) for _ in range(rng.randint(0, 4))))
    return b" ".join(words)


def irc_line(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.03:
        return junk(rng, 600)
    if pick < 0.05:
        return b"PRIVMSG #fuzz :" + b"x" * rng.randint(490, 3000)
    parts = []
    if rng.random() < 0.2:
        tags = [
            rng.choice([b"label=", b"+draft/reply=", b"+typing=", b"msgid=", b"time=", b""])
            + rng.choice([b"1", b"a\\sb\\:c\\", junk(rng), b""])
            for _ in range(rng.randint(1, 4))
        ]
        if rng.random() < 0.05:
            tags.append(b"+big=" + b"y" * rng.randint(4000, 9000))
        parts.append(b"@" + b";".join(tags))
    if rng.random() < 0.1:
        parts.append(b":" + rng.choice([b"fz0!u@h", b"irc.test", junk(rng)]))
    names = [*IRC_COMMANDS, *(f"/{c}" for c in TEXT_COMMANDS), "FOO", "privmsg", ""]
    names.remove("QUIT")  # rare, below: a session that quits loses the rest of its chunk
    command = junk(rng) if rng.random() < 0.05 else rng.choice(names).encode()
    if rng.random() < QUIT_RATE:
        command = b"QUIT"
    parts.append(command)
    parts.append(params(rng))
    text = b" ".join(parts)
    return text + (b"\r" if rng.random() < 0.9 else b"")


def text_line(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.03:
        return junk(rng, 600)
    if pick < 0.05:
        return b"y" * rng.randint(2000, 5000)
    if pick < 0.35:  # a chat line or a menu choice
        return rng.choice([b"1", b"2", b"3", b"exit", b"", b"hello"]) + b" " + params(rng)
    if rng.random() < QUIT_RATE:
        return rng.choice([b"/quit", b"4", b"/quit bye"])
    names = [c for c in (*TEXT_COMMANDS, *(c.lower() for c in IRC_COMMANDS)) if c != "quit"]
    command = rng.choice([*names, "nope"])
    name = junk(rng) if rng.random() < 0.05 else command.encode()
    return b"/" + name + b" " + params(rng)


def lines_for(seed: int, maker: str) -> Iterator[bytes]:
    rng = random.Random(seed)
    make = irc_line if maker == "irc" else text_line
    for _ in range(LINES_PER_CLIENT):
        text = make(rng).replace(b"\n", b"")
        if maker == "text":  # telnet's IAC SB holds every byte until IAC SE: not a bug
            text = text.replace(b"\xff\xfa", b"\xff\xff")
        yield text + b"\n"


class Fuzzer:
    """One fuzzing client: (re)connects, logs in, sends its lines, reads everything."""

    def __init__(self, server: ChatServer, door: str, index: int) -> None:
        self.server = server
        self.door = door
        self.index = index
        self.lines = list(lines_for(SEED + index, door))
        self.problems: list[str] = []
        self.sessions = 0
        self.synced: asyncio.Future[None] | None = None
        self.received = 0
        self.last: deque[bytes] = deque(maxlen=8)  # what it heard last, for a failure

    async def run(self) -> None:
        pending = self.lines
        while pending:
            client, reader = await self._connect()
            try:
                while pending and not reader.done():
                    chunk, pending = pending[:CHUNK], pending[CHUNK:]
                    client.writer.write(b"".join(chunk))
                    await client.writer.drain()
                    await asyncio.sleep(0)  # let the readers run between writes
                    if self.door == "irc" and pending and not reader.done():
                        # A QUIT loses what was written after it: no more than this
                        # chunk, however slow a line (a password's hash) makes the server.
                        await self._sync(client, reader)
                if not pending and not reader.done():
                    await self._sync(client, reader)
            except ConnectionError:
                pass
            finally:
                await client.close()
                with contextlib.suppress(ConnectionError):
                    await reader

    async def _sync(self, client: ChatClient | IrcClient, reader: asyncio.Task[None]) -> None:
        """Wait until the server has answered every line sent (or closed)."""
        self.synced = asyncio.get_running_loop().create_future()
        if self.door == "irc":
            client.writer.write(b"\r\nPING fuzz-end\r\n")
        else:  # an empty line backs out of any prompt; /users answers in the menu and a room
            client.writer.write(b"\n\n/users\n")
        await client.writer.drain()
        await asyncio.wait([self.synced, reader], timeout=SYNC_S, return_when=FIRST_COMPLETED)
        if not self.synced.done() and not reader.done():
            self.problems.append(f"{self.door}: no answer to the last line, after {self.last}")

    async def _connect(self) -> tuple[ChatClient | IrcClient, asyncio.Task[None]]:
        self.sessions += 1
        name = f"fz{self.index}{'abcdefghij'[self.sessions % 10]}{self.sessions}"
        if self.door == "irc":
            irc = await IrcClient.open(self.server.irc_port)
            await irc.register(name[:20])
            return irc, asyncio.create_task(self._read(irc))
        text = await ChatClient.open(self.server.port)
        await text.login(name[:20])
        return text, asyncio.create_task(self._read(text))

    async def _read(self, client: ChatClient | IrcClient) -> None:
        """Every line until the server closes: CRLF-ended UTF-8, no internal error."""
        while raw := await client.reader.readline():
            if not raw.endswith(b"\r\n"):
                self.problems.append(f"{self.door}: not ended by CRLF: {raw[:80]!r}")
            try:
                raw.decode()
            except UnicodeDecodeError:
                self.problems.append(f"{self.door}: not UTF-8: {raw[:80]!r}")
            if any(word in raw for word in INTERNAL):
                self.problems.append(f"{self.door}: {raw[:120]!r}")
            self.received += 1
            self.last.append(raw)
            synced = self.synced
            if synced is not None and not synced.done() and SYNCED[self.door] in raw:
                synced.set_result(None)


def test_the_same_seed_gives_the_same_lines() -> None:
    assert list(lines_for(SEED, "irc")) == list(lines_for(SEED, "irc"))
    assert list(lines_for(SEED, "text")) != list(lines_for(SEED + 1, "text"))


async def test_random_lines_on_both_doors_break_no_session_and_log_no_error(
    server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    fuzzers = [Fuzzer(server, "irc", i) for i in range(CLIENTS_PER_DOOR)] + [
        Fuzzer(server, "text", CLIENTS_PER_DOOR + i) for i in range(CLIENTS_PER_DOOR)
    ]
    async with asyncio.timeout(BOUND_S):
        await asyncio.gather(*(f.run() for f in fuzzers))
    problems = [p for f in fuzzers for p in f.problems]
    assert not problems, str(problems[:10])
    repaired = [r.getMessage() for r in caplog.records if "undecodable" in r.getMessage()]
    assert not repaired, repaired[:5]  # a reply that echoed a byte it should not have
    answered = [(f.door, f.sessions, f.received) for f in fuzzers]
    # Most lines read get an answer; the rest of a write after a quit is never read.
    read = [LINES_PER_CLIENT - (CHUNK - 1) * (sessions - 1) for _, sessions, _ in answered]
    assert all(got > n / 2 for (_, _, got), n in zip(answered, read, strict=True)), str(answered)
    # The server still answers a fresh client on each door, and they hear each other.
    fresh = await IrcClient.open(server.irc_port)
    await fresh.register("freshirc")
    await fresh.join("#after")
    text = await ChatClient.open(server.port)
    await text.login("freshtext")
    await text.join("after")
    await text.send("still here")
    await fresh.expect(":freshtext!~freshtext@127.0.0.1 PRIVMSG #after :still here")
    await fresh.close()
    await text.close()
