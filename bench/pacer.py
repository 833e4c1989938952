"""Pace a worker's senders by time slices: one batch per sender per tick, no timer per line.

At each tick the worker owes ``rate x elapsed`` chat lines in all; the lines due are
dealt round-robin over its senders, and each sender writes its share as one
``send()``. A line is ``b <sender-id> <seq> <send_ns>[ <pad>]\\n`` (on the IRC door
``PRIVMSG #ROOM :b ...\\r\\n``, over WebSocket that line without its CRLF as one masked text
frame; protocols.py), where ``send_ns`` is
the time the line was due, not the time it went out: a generator that falls behind
shows as latency instead of hiding it (no coordinated omission). What the socket
does not take waits in ``Conn.out`` and goes first at the next tick, so a server that
reads slowly shows up as latency, never as lost lines. No reading here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from plan import ClientSpec
from protocols import MAX_WS_PAYLOAD, line_format, ws_frame

# A client text frame's head (FIN + text, mask bit + length, key 0) by payload length.
WS_HEADS = [ws_frame(b"x" * size)[:-size] if size else ws_frame(b"") for size in range(126)]


class Sender(Protocol):
    """The part of ``loadgen.Conn`` a pacer uses."""

    spec: ClientSpec
    seq: int
    out: bytearray
    closed: bool

    def send(self, data: bytes | bytearray) -> int: ...


class Pacer:
    """Writes the lines due at each tick of one step, for one worker's senders."""

    def __init__(
        self,
        senders: Sequence[Sender],
        msgs_per_sender_s: float,
        window_ns: tuple[int, int],
        tick_ns: int,
        pad_bytes: int,
        protocol: str = "text",
    ) -> None:
        self.senders = senders
        self.lines_per_ns = msgs_per_sender_s * len(senders) / 1e9
        self.start_ns, self.end_ns = window_ns
        self.tick_ns = tick_ns
        pad = b" " + b"x" * pad_bytes if pad_bytes else b""
        self.formats = [line_format(protocol, s.spec.room, pad) for s in senders]
        self.framed = protocol == "websocket"
        if self.framed and any(
            len(f % (10**9, 10**12, 10**19)) > MAX_WS_PAYLOAD for f in self.formats
        ):
            raise ValueError(f"bench lines over WebSocket must fit {MAX_WS_PAYLOAD} bytes")
        self.generated = 0
        self.cursor = 0
        self.by_room: dict[str, int] = {}
        self.late_ticks = 0
        self.last_tick_ns = self.start_ns

    def tick(self, now: int) -> bool:
        """Write what is due by ``now``; true once the window is over and all is written."""
        if now - self.last_tick_ns > 2 * self.tick_ns:
            self.late_ticks += 1  # the generator could not keep its own pace
        self.last_tick_ns = now
        self.flush()
        due = int((min(now, self.end_ns) - self.start_ns) * self.lines_per_ns) - self.generated
        if due > 0 and self.senders:
            self._deal(due)
        return now >= self.end_ns

    def _deal(self, due: int) -> None:
        """Deal ``due`` lines round-robin; line ``n`` of the step is stamped with its due time."""
        senders = self.senders
        count = len(senders)
        each, extra = divmod(due, count)
        for offset in range(count) if each else range(extra):
            index = (self.cursor + offset) % count
            first = self.generated + offset  # this sender's lines are first, first + count, ...
            self._write(senders[index], self.formats[index], each + (offset < extra), first, count)
        self.cursor = (self.cursor + extra) % count
        self.generated += due

    def _write(self, sender: Sender, form: bytes, lines: int, first: int, stride: int) -> None:
        spec, seq = sender.spec, sender.seq
        start, ns_per_line = self.start_ns, 1 / self.lines_per_ns
        if self.framed:
            heads = WS_HEADS
            data = b"".join(
                [
                    heads[len(line)] + line
                    for i in range(lines)
                    for line in (
                        form % (spec.cid, seq + i, start + int((first + i * stride) * ns_per_line)),
                    )
                ]
            )
        else:
            data = b"".join(
                [
                    form % (spec.cid, seq + i, start + int((first + i * stride) * ns_per_line))
                    for i in range(lines)
                ]
            )
        sender.seq = seq + lines
        self.by_room[spec.room] = self.by_room.get(spec.room, 0) + lines
        if sender.closed:
            return
        if sender.out:
            sender.out += data
            return
        try:
            sent = sender.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            sender.closed = True  # the receiving side of the loop counts the disconnect
            return
        if sent < len(data):
            sender.out += data[sent:]

    def flush(self) -> bool:
        """Write what earlier ticks left over; true when nothing is left."""
        left = False
        for sender in self.senders:
            if sender.out and not sender.closed:
                try:
                    sent = sender.send(sender.out)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    sender.closed = True
                    continue
                del sender.out[:sent]
                left = left or bool(sender.out)
        return not left
