"""One client connection, for every front door: bytes in, lines to its session, bytes out.

An asyncio protocol that splits a client's bytes into lines, discards over-long lines
as they arrive, strips telnet negotiation (text door), paces a flooding client by
pausing its reads, feeds each line to its door's socket-free session, writes what the
session and its rooms send, drops a client that falls --max-send-queue bytes behind,
times out a login, and checks that a silent client is still there (TCP keepalive;
on IRC a PING too). What differs between doors is a `Door`: how to make the session,
the longest line, how to decode, how to word a refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import registry as r
from utils import strip_telnet_stream

if TYPE_CHECKING:
    from server import ChatServer

Pending = Coroutine[Any, Any, None]


class DoorSession(Protocol):
    """What a connection needs of its door's socket-free session."""

    member: r.Member | None

    @property
    def name(self) -> str: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def expects_secret(self) -> bool: ...  # the next line must not reach the debug log
    def start(self) -> None: ...
    def feed_nowait(self, line: str) -> Pending | None: ...
    def line_too_long(self, limit: int) -> None: ...
    def login_timed_out(self, timeout_s: float) -> None: ...
    def shutting_down(self) -> None: ...
    def ping(self) -> None: ...
    async def close(self, reason: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class Door:
    """One front door's part in a connection."""

    name: str
    session: Callable[[Connection], DoorSession]
    max_line_bytes: int
    refusal: Callable[[str], str]  # a refused connection's one line
    errors: str = "replace"  # invalid UTF-8; "surrogateescape": the session checks
    strip_telnet: bool = True
    ping_interval_s: float = 0.0  # 0: only TCP keepalive notices a vanished peer
    ping_timeout_s: float = 0.0
    sendq_reason: str = "send queue exceeded"
    redact: Callable[[bytes], bytes] | None = None  # what the debug log may show of a line


# TCP keepalive: a peer that vanished (no FIN, no RST) is noticed in about a minute.
KEEPALIVE = (("TCP_KEEPIDLE", 45), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))

IAC_BYTE = b"\xff"
TLS_HANDSHAKE = b"\x16"  # the first byte of a TLS ClientHello
# The transport's high-water mark (asyncio's default); beyond it a Connection holds its
# output itself. Lower for a --max-send-queue below twice this.
HIGH_WATER_BYTES = 64 * 1024

log = logging.getLogger("chatroom")


class Connection(asyncio.BufferedProtocol):
    """One client: splits its bytes into lines, paces them, feeds them to its session.

    A buffered protocol: the loop reads into the server's one receive buffer, which
    buffer_updated() copies out of at once, instead of allocating a fresh 256 KiB
    bytes object for every read (most reads bring one short line).
    """

    def __init__(self, server: ChatServer, door: Door) -> None:
        self.server = server
        self.door = door
        self.config = server.config
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.ip = ""
        self.session: DoorSession | None = None
        self.quit_reason = ""
        self.is_closed = False
        self._limit = door.max_line_bytes + 1  # a trailing "\r" is not content
        self._buffer = b""
        self._discarding = False  # inside a line that was already too long
        # Unsplit runs of whole lines, as read: a line is cut out only when it is fed, so a
        # paced flood of short lines costs what was read, not an object per line.
        self._queue: deque[bytes | None] = deque()  # None stands for a too-long line
        self._offset = 0  # where the next line starts in self._queue[0]
        self._telnet = b""  # an IAC sequence cut off at the end of the last read
        self._task: asyncio.Task[None] | None = None  # a line awaiting the registry
        self._is_paused = False
        self._is_eof = False
        self._tokens = float(self.config.burst_lines)
        self._stamp = self.loop.time()
        self._wake: asyncio.TimerHandle | None = None
        self._login_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._heard = True  # something came since the last keepalive check
        self._pinged = False
        self._episodes: set[str] = set()  # limits hit and not yet over, logged once each
        self._is_debug = log.isEnabledFor(logging.DEBUG)  # read once: the hot path asks
        self._is_admitted = False
        self.is_tls = False  # set when the session starts
        self._first_read = True  # a TLS ClientHello can only be the first bytes
        # Output held back while the transport is over its high-water mark (it called
        # pause_writing): counted here exactly, in O(1), so the send-queue check never
        # asks the transport to sum its buffer (linear in the backlog on 3.12 and later).
        self._held: deque[bytes] | None = None
        self._held_bytes = 0
        limit = self.config.max_send_queue_bytes
        self._high_water = min(HIGH_WATER_BYTES, max(limit // 2, 1))
        self._held_limit = limit - self._high_water

    # --- asyncio.Protocol ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.admit(transport):
            self.start()

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count this connection against the server's limits (before any TLS
        handshake); False, with the refusal said and the transport closed, if over."""
        self.transport = t = cast(asyncio.Transport, transport)
        peer = t.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else "?"
        self.peer = f"{self.ip}:{peer[1]}" if peer else "?"
        refusal = self.server.admit(self)
        if refusal:
            log.warning("%s refused: %s", self.peer, refusal)
            t.write(self.door.refusal(refusal).encode() + b"\r\n")
            t.close()
            self.is_closed = True
            return False
        self._is_admitted = True
        t.set_write_buffer_limits(self._high_water, self._high_water // 4)
        return True

    def start(self) -> None:
        """Start the session: at once on a plain port, after the handshake on TLS."""
        t = self.transport
        assert t is not None
        self.is_tls = is_tls = t.get_extra_info("ssl_object") is not None
        self._first_read = not is_tls  # under TLS a first 0x16 byte is just text
        tls = " over TLS" if is_tls else ""
        log.info("%s connected to the %s door%s", self.peer, self.door.name, tls)
        _keep_alive(t.get_extra_info("socket"))
        self.session = self.door.session(self)
        self.session.start()
        if self.config.login_timeout_s > 0:
            timeout = self.config.login_timeout_s
            self._login_timer = self.loop.call_later(timeout, self._login_expired)
        if self.door.ping_interval_s > 0:
            self._ping_timer = self.loop.call_later(self.door.ping_interval_s, self._check_alive)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.server.receive_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        """Queue the whole lines in `data`, keep the partial one, feed what may be fed."""
        self._heard = True
        if self._first_read:
            self._first_read = False
            if data[:1] == TLS_HANDSHAKE and self._refuse_tls():
                return
        if (
            self._telnet or IAC_BYTE in data
        ) and self.door.strip_telnet:  # before lines: a sequence may hold b"\n"
            data, self._telnet = strip_telnet_stream(data, self._telnet)
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return
            data = data[end + 1 :]
            self._discarding = False
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        end = data.rfind(b"\n") + 1
        if end:
            self._queue.append(data if end == len(data) else data[:end])
        tail = data[end:]
        if len(tail) > self._limit:
            self._queue.append(None)  # PROTOCOL.md: rejected at once, its rest discarded
            self._discarding = True
        else:
            self._buffer = tail
        self._drain()

    def eof_received(self) -> bool:
        """The client is done sending: answer every line it sent, then close."""
        self._is_eof = True
        if self._buffer and not self._discarding:
            self._queue.append(self._buffer + b"\n")  # a last line without its newline
        self._buffer = b""
        self._drain()
        return True  # keep our side open until the queue is answered

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        for timer in (self._wake, self._login_timer, self._ping_timer):
            if timer is not None:
                timer.cancel()
        if not self._is_admitted:
            return
        self._is_admitted = False
        self._held = None
        self.server.forget(self)
        if self.session is None:  # its TLS handshake never finished
            return
        reason = self.quit_reason = self.quit_reason or ("connection reset" if exc else "")
        why = f": {reason}" if reason else ""
        log.info("%s (%s) disconnected%s", self.peer, self.session.name, why)
        self.server.track(self._cleanup())

    # --- lines in ---
    def _drain(self) -> None:
        """Feed queued lines in order until one awaits the registry or the bucket is empty."""
        queue = self._queue
        rate = self.config.rate_lines_per_s
        while queue:
            if self._task is not None or self._wake is not None or self.is_closed:
                break
            if rate and not self._take_token(rate):
                self._wake = self.loop.call_later((1 - self._tokens) / rate, self._woken)
                self._limit_hit("flood", f"sends faster than {rate:g} lines/s; pacing its lines")
                break
            self._feed(self._next_line())
        if self._episodes and not queue:
            self._episodes.discard("flood")  # caught up: a new flood is a new episode
        if self._is_eof:
            self._close_when_answered()
        else:
            self._pace(bool(queue))

    def _next_line(self) -> bytes | None:
        """Cut the next line (without its newline) out of the queue; None: too long."""
        queue, start = self._queue, self._offset
        run = queue[0]
        if run is None:
            queue.popleft()
            return None
        end = run.find(b"\n", start)
        if end + 1 == len(run):
            queue.popleft()
            self._offset = 0
        else:
            self._offset = end + 1
        return run[start:end]

    def _feed(self, raw: bytes | None) -> None:
        session = self.session
        assert session is not None
        limit = self.door.max_line_bytes
        if raw is None or len(raw) - raw.endswith(b"\r") > limit:
            self._limit_hit("long", f"sent a line over {limit} bytes")
            session.line_too_long(limit)
            return
        if self._episodes:
            self._episodes.discard("long")
        if self._is_debug:
            redact = self.door.redact
            shown = b"<secret>" if session.expects_secret else redact(raw) if redact else raw
            log.debug("%s < %r", self.peer, shown)
        pending = session.feed_nowait(raw.decode("utf-8", self.door.errors))
        if pending is not None:
            self._task = self.loop.create_task(self._settle(pending))
        else:
            self._after_line()

    async def _settle(self, pending: Coroutine[Any, Any, None]) -> None:
        try:
            await pending
        finally:
            self._task = None
        self._after_line()
        self._drain()

    def _after_line(self) -> None:
        session = self.session
        assert session is not None and self.transport is not None
        if self._login_timer is not None and session.member is not None:
            self._login_timer.cancel()
            self._login_timer = None
        if session.is_closed and not self.transport.is_closing():
            self.close()  # after what is buffered, such as "Goodbye!"

    def _close_when_answered(self) -> None:
        if not self._queue and self._task is None and self.transport is not None:
            if self.session is not None and self.session.member is not None:
                self.session.member.flush_rooms()  # its own last message echoes back
            self.close()

    def _limit_hit(self, kind: str, what: str) -> None:
        """Log a limit this client hit, once per episode (a flood must not flood the log)."""
        if kind not in self._episodes:
            self._episodes.add(kind)
            log.warning("%s (%s) %s", self.peer, self.session.name if self.session else "-", what)

    def _take_token(self, rate: float) -> bool:
        now = self.loop.time()
        self._tokens = min(self.config.burst_lines, self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def _woken(self) -> None:
        self._wake = None
        self._drain()

    def _pace(self, is_backlogged: bool) -> None:
        """Stop reading while lines wait, so TCP pushes back on a flooding client."""
        if is_backlogged == self._is_paused or self.transport is None or self.is_closed:
            return
        self._is_paused = is_backlogged
        if is_backlogged:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    # --- bytes out ---
    def write(self, data: bytes) -> None:
        """Send bytes (whole lines) to this client: what its rooms call, once per member
        per flush, so it is the hot path: no call in between."""
        held = self._held
        if held is None:
            t = self.transport
            if t is None or t.is_closing():
                return
            t.write(data)  # over the high-water mark, it calls pause_writing() at once
            return
        held.append(data)
        self._held_bytes += len(data)
        if self._held_bytes > self._held_limit:
            self._check_send_queue()

    def pause_writing(self) -> None:
        """The transport holds more than the high-water mark: hold output here."""
        if self._held is None:
            self._held = deque()

    def resume_writing(self) -> None:
        """The transport is down to its low-water mark: hand it what was held."""
        held, self._held, self._held_bytes = self._held, None, 0
        t = self.transport
        if held and t is not None and not t.is_closing():
            t.write(b"".join(held))

    def send_queue_bytes(self) -> int:
        """What this client has yet to receive: held here plus in the transport."""
        t = self.transport
        return self._held_bytes + (t.get_write_buffer_size() if t is not None else 0)

    def _check_send_queue(self) -> None:
        """Only once the held bytes alone pass limit minus high water: the transport
        holds at most about the high-water mark, so this sum stays short."""
        if self.send_queue_bytes() > self.config.max_send_queue_bytes:
            self._overflow()

    def _release(self) -> None:
        """Before a graceful close: what was held goes to the transport, to be sent."""
        held = self._held
        if held:
            self._held, self._held_bytes = None, 0
            assert self.transport is not None
            self.transport.write(b"".join(held))

    def say(self, line: str) -> None:
        """Send one line (its CRLF added) to this client alone."""
        if self._is_debug:
            log.debug("%s > %s", self.peer, line)
        self.write(line.encode() + b"\r\n")

    def close(self) -> None:
        """Close after what is buffered."""
        if self.transport is not None and not self.transport.is_closing():
            self._release()
            self.transport.close()

    def _refuse_tls(self) -> bool:
        """A TLS ClientHello on a plain port: one plain line naming the TLS port."""
        hint = self.server.tls_hint(self.door)
        log.info("%s started TLS on a plain port; told it %s", self.peer, hint)
        self.say(self.door.refusal(hint))
        self.close()
        return True

    def _overflow(self) -> None:
        assert self.transport is not None and self.session is not None
        log.warning(
            "%s (%s) send queue over %d bytes; disconnecting",
            self.peer,
            self.session.name,
            self.config.max_send_queue_bytes,
        )
        self.quit_reason = self.door.sendq_reason
        self._held, self._held_bytes = None, 0
        self.transport.abort()

    def _login_expired(self) -> None:
        self._login_timer = None
        assert self.transport is not None and self.session is not None
        log.info("%s did not log in within %g s", self.peer, self.config.login_timeout_s)
        self.session.login_timed_out(self.config.login_timeout_s)
        self.close()

    def _check_alive(self) -> None:
        """Every ping interval: ping a client that said nothing; drop one that still
        says nothing a timeout after its ping."""
        if self.is_closed or self.session is None or self.transport is None:
            return
        if self._heard:
            self._heard, self._pinged = False, False
            self._ping_timer = self.loop.call_later(self.door.ping_interval_s, self._check_alive)
        elif not self._pinged:
            self._pinged = True
            self.session.ping()
            self._ping_timer = self.loop.call_later(self.door.ping_timeout_s, self._check_alive)
        else:
            timeout = self.door.ping_interval_s + self.door.ping_timeout_s
            log.info("%s (%s) ping timeout", self.peer, self.session.name)
            self.quit_reason = f"Ping timeout: {timeout:g} seconds"
            self.transport.abort()

    def shut_down(self) -> None:
        """Tell the client the server is stopping and close after what is buffered."""
        if self.session is not None and self.transport is not None:
            self.session.shutting_down()
            self.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def _cleanup(self) -> None:
        assert self.session is not None
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self.session.close(self.quit_reason)


def _keep_alive(sock: socket.socket | None) -> None:
    """Turn on TCP keepalive, tuned so that a vanished peer is noticed in a minute."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in KEEPALIVE:
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
