"""Connection.lines_received (net/connection.py): whole lines from a layer that frames
them (the WebSocket door's messages) reach the session exactly as the same lines read as
one LF-ended block would: in order, a line that awaits the registry holding back the
rest, a line over the limit refused, and the flood control's pacing the same."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

import pytest

from config.settings import Config
from doors.irc.door import irc_door
from doors.irc.session import IrcDoor
from net.connection import Connection
from rooms import RoomManager

pytestmark = pytest.mark.timeout(30)


class Session:
    """What a Connection needs of its door's session; a line "WAIT n" awaits `gate`."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.fed: list[str] = []
        self.gate = gate
        self.member = None
        self.name = "a"
        self.is_closed = False
        self.expects_secret = False

    def feed_nowait(self, line: str) -> Coroutine[Any, Any, None] | None:
        self.fed.append(line)
        return self._wait() if line.startswith("WAIT") else None

    async def _wait(self) -> None:
        await self.gate.wait()

    def line_too_long(self, limit: int) -> None:
        self.fed.append(f"<over {limit}>")


class Transport:
    def __init__(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def write(self, data: bytes) -> None:
        pass


class Host:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.receive_buffer = memoryview(bytearray(1024))
        self.is_line_starting = False  # this test's lines start no other connection's task


def connection(gate: asyncio.Event, rate: float, burst: int = 50) -> tuple[Connection, Session]:
    config = Config(rate_lines_per_s=rate, burst_lines=burst)
    door = replace(irc_door(IrcDoor(RoomManager(), config)), max_line_bytes=20)
    conn = Connection(Host(config), door)  # type: ignore[arg-type]
    conn.transport = Transport()  # type: ignore[assignment]
    session = Session(gate)
    conn.session = session  # type: ignore[assignment]
    conn.lines.sniff_tls = False
    return conn, session


READS = [
    [b"NICK a", b"", b"USER a 0 * :b"],
    [b"x" * 21, b"PING one"],  # over the limit of 20, then a line
    [b"WAIT 1", b"after the wait", b"and more"],
    [b"while waiting"],
    [b"last \xff line"],
]


@pytest.mark.parametrize("rate", [0.0, 1000.0])  # no flood control; one with room to spare
async def test_whole_lines_reach_the_session_as_the_same_block_would(rate: float) -> None:
    fed: list[list[str]] = []
    for whole in (True, False):
        gate = asyncio.Event()
        conn, session = connection(gate, rate)
        for lines in READS:
            if whole:
                conn.lines_received(lines)
            else:
                conn.data_received(b"\n".join(lines) + b"\n")
        assert session.fed[-1] == "WAIT 1"  # the rest wait for it
        gate.set()
        assert conn._task is not None
        await conn._task  # it settles, then the rest is drained
        assert not conn.lines.has_line and conn._task is None
        fed.append(session.fed)
    assert fed[0] == fed[1]
    assert fed[0][:5] == ["NICK a", "", "USER a 0 * :b", "<over 20>", "PING one"]
    assert fed[0][-1] == "last \udcff line"  # the IRC door's errors: surrogateescape


async def test_a_flood_is_paced_as_the_same_block_would_be() -> None:
    waits = []
    for whole in (True, False):
        conn, session = connection(asyncio.Event(), 1.0, 3)  # a burst of 3, then 1 a second
        lines = [f"PING {n}".encode() for n in range(6)]
        if whole:
            conn.lines_received(lines)
        else:
            conn.data_received(b"\n".join(lines) + b"\n")
        assert session.fed == ["PING 0", "PING 1", "PING 2"]
        waits.append((conn._wake is not None, conn.lines.has_line, conn._is_paused))
        if conn._wake is not None:
            conn._wake.cancel()
    assert waits[0] == waits[1] == (True, True, True)
