"""A room of members chatting at a fixed pace, and each delivery's latency: the chat
half of bench/login_storm.py.

The members log in on the text door (from 127.0.0.1) and join one room. In a phase,
each member says a line every `period_s`, the members evenly staggered. A line is
`b PHASE SENDER SEQ DUE_NS`, DUE_NS the time it was due (`time.monotonic_ns()`), not
when it went out, so a generator that falls behind shows as latency. Every member
receives every line (the text door echoes the sender's own, docs/protocol.md), and
each delivery's latency is when its line was read less DUE_NS: every delivery is
measured, none sampled. After a phase the members wait until each has every line of it
(at most DRAIN_S). asyncio streams: clarity first, at a few thousand lines a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

HOST = "127.0.0.1"
DRAIN_S = 5.0


class ChatError(Exception):
    """A member could not log in or join."""


@dataclass(frozen=True, slots=True)
class ChatFigures:
    """One phase's chat: lines said, deliveries due and read, and their latencies."""

    sent: int
    expected: int
    received: int
    reorders: int
    latency_ns: list[int]  # sorted
    send_lag_ns: list[int]  # sorted: how late each line went out (this process's pace)

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.received)


class Room:
    """The members of one room, their receiving tasks and what they counted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.received: dict[int, list[int]] = {}  # phase: deliveries read, per member
        self.latency_ns: dict[int, list[int]] = {}  # phase: every delivery's latency
        self.reorders = 0

    async def join(self, port: int, members: int) -> None:
        """Log the members in and into the room (the first creates it)."""
        for index in range(members):
            reader, writer = await asyncio.open_connection(HOST, port)
            async with asyncio.timeout(10):
                await _until(reader, "Enter your username:")
                writer.write(f"chat{index}\n".encode())
                await _until(reader, "Enter your choice:")
                verb = "create" if index == 0 else "join"
                writer.write(f"/{verb} {self.name}\n".encode())
                await _until(reader, f"Joined room [{self.name}].", prefix=True)
            self.writers.append(writer)
            self.tasks.append(asyncio.create_task(self._receive(index, reader)))

    async def _receive(self, index: int, reader: asyncio.StreamReader) -> None:
        last_seq: dict[tuple[int, int], int] = {}  # (phase, sender): seq
        while line := await reader.readline():
            now_ns = time.monotonic_ns()
            parts = line.split()  # [HH:MM] <chatN> b PHASE SENDER SEQ DUE_NS
            if len(parts) != 7 or parts[2] != b"b":
                continue  # a notice; the only other lines are chat from the members
            phase, sender, seq, due_ns = (int(p) for p in parts[3:])
            latency = self.latency_ns.get(phase)
            if latency is None:
                continue  # later than its phase's drain: counted as missing
            self.received[phase][index] += 1
            latency.append(now_ns - due_ns)
            if seq <= last_seq.get((phase, sender), -1):
                self.reorders += 1
            last_seq[phase, sender] = seq

    async def phase(
        self, phase: int, start_ns: int, seconds: float, period_s: float
    ) -> ChatFigures:
        """Chat from start_ns for `seconds`; drain; this phase's figures."""
        members = len(self.writers)
        self.received[phase] = [0] * members
        self.latency_ns[phase] = []
        reorders_before = self.reorders
        step_ns = int(period_s * 1e9 / members)  # member j % members says line j
        total = int(seconds / period_s) * members
        j = 0
        send_lag: list[int] = []
        while j < total:
            now_ns = time.monotonic_ns()
            while j < total and start_ns + j * step_ns <= now_ns:
                due_ns = start_ns + j * step_ns
                send_lag.append(now_ns - due_ns)
                self.writers[j % members].write(
                    b"b %d %d %d %d\n" % (phase, j % members, j // members, due_ns)
                )
                j += 1
            if j < total:
                await asyncio.sleep(max(0.0, (start_ns + j * step_ns - time.monotonic_ns()) / 1e9))
        deadline = time.monotonic() + DRAIN_S
        while min(self.received[phase]) < total and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        latency = sorted(self.latency_ns.pop(phase))
        return ChatFigures(
            sent=total,
            expected=total * members,
            received=sum(self.received[phase]),
            reorders=self.reorders - reorders_before,
            latency_ns=latency,
            send_lag_ns=sorted(send_lag),
        )

    async def leave(self) -> None:
        for writer in self.writers:
            writer.write(b"/quit\n")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()


async def _until(reader: asyncio.StreamReader, wanted: str, prefix: bool = False) -> None:
    while True:
        raw = await reader.readline()
        if not raw:
            raise ChatError(f"closed while waiting for {wanted!r}")
        line = raw.decode(errors="replace").rstrip("\r\n")
        if line.startswith("!"):
            raise ChatError(line)
        if line == wanted or (prefix and line.startswith(wanted)):
            return
