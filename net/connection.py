"""One client connection, for every front door: it pumps bytes to lines to its session.

An asyncio protocol, and only the pump: net/lines.py splits the bytes into lines (limits,
telnet, TLS sniffing) and net/pacing.py paces a flooding client, whose reads are paused
while its lines wait; this feeds each line to its door's socket-free session, writes
what the session and its rooms send, drops a client that falls --max-send-queue bytes
behind, times out a login, and checks that a silent client is still there (TCP
keepalive; on IRC a PING too). What differs between doors is a `Door` (doors/door.py).
It knows the server that accepted it only as a `Host`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Coroutine
from typing import Any, Protocol, cast

from config.settings import Config
from doors.door import Door, DoorSession
from net.lines import LineSplitter
from net.pacing import TokenBucket
from net.timers import Bucket, TimerWheel


class Host(Protocol):
    """What a connection needs of the server that accepted it (net/listeners.py's
    ChatServer): the settings, the one receive buffer every read goes into, the
    connection limits, a place to run its cleanup, what to tell a TLS client, the
    timer wheel its connections' deadlines wait on, and whether a line of one of its
    connections starts in a task at the loop's next pass (`is_line_starting`: the
    lines read meanwhile wait for it, see Connection._start)."""

    is_line_starting: bool

    @property
    def config(self) -> Config: ...
    @property
    def receive_buffer(self) -> memoryview: ...
    def admit(self, conn: Connection) -> str | None: ...  # None, or why it may not stay
    def forget(self, conn: Connection) -> None: ...
    def readdress(self, conn: Connection, ip: str) -> str | None: ...  # as admit()
    def track(self, work: Coroutine[Any, Any, None]) -> None: ...
    def tls_hint(self, door: Door) -> str: ...
    @property
    def timers(self) -> TimerWheel: ...


# TCP keepalive: a peer that vanished (no FIN, no RST) is noticed in about a minute.
KEEPALIVE = (("TCP_KEEPIDLE", 45), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))

# The transport's high-water mark (asyncio's default); beyond it a Connection holds its
# output itself. Lower for a --max-send-queue below twice this.
HIGH_WATER_BYTES = 64 * 1024

log = logging.getLogger("chatroom")


class Connection(asyncio.BufferedProtocol):
    """One client: pumps its bytes through its line splitter and token bucket to its
    session, and what its session and rooms send back to its transport.

    A buffered protocol: the loop reads into the host's one receive buffer, which
    buffer_updated() copies out of at once, instead of allocating a fresh 256 KiB
    bytes object for every read (most reads bring one short line).

    Slots, and nothing an idle connection does not use: a server holds thousands of
    them (bench/idle_profile.py). Its deadlines (the login's, the keepalive check)
    wait on the host's timer wheel (net/timers.py), not on a loop timer each.
    """

    __slots__ = (
        "_bucket", "_episodes", "_heard", "_held", "_held_bytes", "_is_admitted", "_is_debug",
        "_is_paused", "_login_at", "_ping_at", "_pinged", "_port", "_task", "_unpaced",
        "_via", "_wake", "door", "host", "ip", "is_closed", "is_tls", "lines", "loop",
        "quit_reason", "session", "transport",
    )  # fmt: skip

    def __init__(self, host: Host, door: Door) -> None:
        self.host = host
        self.door = door
        config = host.config
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._port: int | None = None  # the client's port (peer says "ip:port")
        self._via: str | None = None  # what peer says, once a trusted proxy named the client
        self.ip = ""
        self.session: DoorSession | None = None
        self.quit_reason = ""
        self.is_closed = False
        self.lines = LineSplitter(door.max_line_bytes, strip_telnet=door.strip_telnet)
        rate = config.rate_lines_per_s
        self._bucket = TokenBucket(rate, config.burst_lines, self.loop.time()) if rate else None
        # A multiline message's lines (IRCv3 draft/multiline): up to [0] more lines are
        # counted in [1] instead of paced, and charged at once when it ends. None: none.
        self._unpaced: list[int] | None = None
        self._task: asyncio.Task[None] | None = None  # a line awaiting the registry
        self._is_paused = False
        # A token will be back; or (call_soon) another connection's line starts first.
        self._wake: asyncio.Handle | None = None
        # The timer wheel's buckets its deadlines are in (None: none): the login's, and
        # the next keepalive check's.
        self._login_at: Bucket | None = None
        self._ping_at: Bucket | None = None
        self._heard = True  # something came since the last keepalive check
        self._pinged = False
        # Limits hit and not yet over, logged once each ("flood", "long"): made when one is.
        self._episodes: set[str] | None = None
        self._is_debug = log.isEnabledFor(logging.DEBUG)  # read once: the hot path asks
        self._is_admitted = False
        self.is_tls = False  # set when the session starts
        # Output held back while the transport is over its high-water mark (it called
        # pause_writing): counted here exactly, in O(1), so the send-queue check never
        # asks the transport to sum its buffer (linear in the backlog on 3.12 and later).
        self._held: deque[bytes] | None = None
        self._held_bytes = 0

    @property
    def config(self) -> Config:
        return self.host.config

    @property
    def receive_buffer(self) -> memoryview:
        """The host's one receive buffer, shared by all its connections."""
        return self.host.receive_buffer

    @property
    def _high_water(self) -> int:
        return min(HIGH_WATER_BYTES, max(self.host.config.max_send_queue_bytes // 2, 1))

    @property
    def _held_limit(self) -> int:
        return self.host.config.max_send_queue_bytes - self._high_water

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
        self._port = peer[1] if peer else None
        refusal = self.host.admit(self)
        if refusal:
            log.warning("%s refused: %s", self.peer, refusal)
            t.write(self.door.refusal(refusal).encode() + b"\r\n")
            t.close()
            self.is_closed = True
            return False
        self._is_admitted = True
        t.set_write_buffer_limits(self._high_water, self._high_water // 4)
        return True

    def take_address(self, ip: str) -> str | None:
        """The client's own address, as a trusted proxy named it (net/websocket.py): in
        place of the proxy's from now on, for the limits, the session (IRC's host, bans)
        and the log; or why it may not stay (its address is over --max-per-ip)."""
        own = self.peer  # before readdress() puts `ip` in place of the proxy's
        refusal = self.host.readdress(self, ip)
        if refusal:
            log.warning("%s (for %s) refused: %s", own, ip, refusal)
            return refusal
        self._via = f"{ip} via {own}"
        return None

    @property
    def peer(self) -> str:
        """Who is on the other end, for the log: "ip:port" (worded when asked: the log
        says it seldom, and every idle connection would hold its string)."""
        if self._via is not None:
            return self._via
        return f"{self.ip}:{self._port}" if self._port is not None else "?"

    def start(self) -> None:
        """Start the session: at once on a plain port, after the handshake on TLS (and
        on a WebSocket port, after the WebSocket handshake)."""
        t = self.transport
        assert t is not None
        self.is_tls = is_tls = t.get_extra_info("ssl_object") is not None
        # Under TLS, or in WebSocket messages (net/weblink.py), a first 0x16 byte is text.
        self.lines.sniff_tls = not is_tls and t.get_extra_info("websocket") is None
        tls = " over TLS" if is_tls else ""
        log.info("%s connected to the %s door%s", self.peer, self.door.name, tls)
        _keep_alive(t.get_extra_info("socket"))
        self.session = self.door.session(self)
        self.session.start()
        now, timers = self.loop.time(), self.host.timers
        if self.config.login_timeout_s > 0:
            when = now + self.config.login_timeout_s
            self._login_at = timers.add(when, self, Connection._login_expired)
        if self.door.ping_interval_s > 0:
            when = now + self.door.ping_interval_s
            self._ping_at = timers.add(when, self, Connection._check_alive)

    @property
    def login_deadline(self) -> float | None:
        """When (loop time) the login times out; None once logged in, or with no limit."""
        at = self._login_at
        return self.host.timers.when(at) if at is not None else None

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.host.receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.host.receive_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        """Hand `data` to the line splitter, feed what lines may be fed."""
        self._heard = True
        lines = self.lines
        if (
            lines.is_one_line(data)
            and self._task is None
            and self._wake is None
            and not self.host.is_line_starting
            and not self._unpaced
            and not self._is_paused
            and not self.is_closed
            and (self._bucket is None or not self._bucket.take(self.loop.time()))
        ):
            # The usual read: one whole line and nothing waiting before it, fed as
            # _drain() would feed it, without a trip through the splitter's queue.
            try:
                self._feed(data[:-1])
            except OSError:
                log.exception("%s failed while reading its lines", self.peer)
                raise
            if self._episodes:
                self._episodes.discard("flood")
            return
        lines.feed(data)
        if lines.is_tls_hello:
            self._refuse_tls()
            return
        if self.host.is_line_starting and self._wake is None:
            self._wake = self.loop.call_soon(self._woken)  # after that line's first step
            return
        try:
            self._drain()
        except OSError:
            # asyncio resets a connection whose protocol raises an OSError and logs it only
            # in debug mode: a bug here would look like a client's own dropped connection.
            log.exception("%s failed while reading its lines", self.peer)
            raise

    def lines_received(self, lines: list[bytes]) -> None:
        """Whole lines without their line ends, from a layer that frames them (net/weblink.py:
        one a WebSocket message): each fed at once while nothing waits before it, as
        data_received() feeds a read of one line, without joining them for the splitter
        to cut again; from the first that cannot be, the rest through the splitter."""
        self._heard = True
        splitter, bucket, host = self.lines, self._bucket, self.host
        # Asked once: feeding a line never changes what the splitter holds.
        most = splitter.max_line_bytes if splitter.takes_whole() else -1
        for at, line in enumerate(lines):
            if not (
                len(line) <= most
                and self._task is None
                and self._wake is None
                and not host.is_line_starting  # lines are answered in read order
                and not self._unpaced
                and not self._is_paused
                and not self.is_closed
                and (bucket is None or not bucket.take(self.loop.time()))
            ):
                self.data_received(b"\n".join(lines[at:]) + b"\n")
                return
            try:
                self._feed(line)
            except OSError:
                log.exception("%s failed while reading its lines", self.peer)
                raise
        if self._episodes:
            self._episodes.discard("flood")

    def eof_received(self) -> bool:
        """The client is done sending: answer every line it sent, then close."""
        self.lines.feed_eof()
        self._drain()
        return True  # keep our side open until the queue is answered

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        if self._wake is not None:
            self._wake.cancel()
        TimerWheel.cancel(self._login_at, self)
        TimerWheel.cancel(self._ping_at, self)
        self._login_at = self._ping_at = None
        if not self._is_admitted:
            return
        self._is_admitted = False
        self._held = None
        self.host.forget(self)
        if self.session is None:  # its TLS handshake never finished
            return
        reason = self.quit_reason = self.quit_reason or ("connection reset" if exc else "")
        why = f": {reason}" if reason else ""
        log.info("%s (%s) disconnected%s", self.peer, self.session.name, why)
        self.host.track(self._cleanup())

    # --- lines in ---
    def _drain(self) -> None:
        """Feed lines in order until one awaits the registry or the bucket is empty."""
        lines, bucket = self.lines, self._bucket
        while lines.has_line:
            if self._task is not None or self._wake is not None or self.is_closed:
                break
            if bucket is not None:
                unpaced = self._unpaced
                if unpaced is not None and unpaced[0]:  # a multiline message's: paid at its end
                    unpaced[0] -= 1
                    unpaced[1] += 1
                elif wait_s := bucket.take(self.loop.time()):
                    self._wait_for_token(wait_s)
                    break
            self._feed(lines.next_line())
        is_backlogged = lines.has_line
        if self._episodes is not None and not is_backlogged:
            self._episodes.discard("flood")  # caught up: a new flood is a new episode
        if lines.is_eof:
            self._close_when_answered()
        else:
            self._pace(is_backlogged)

    def _feed(self, raw: bytes | None) -> None:
        session = self.session
        assert session is not None
        if raw is None:
            limit = self.door.max_line_bytes
            self._limit_hit("long", f"sent a line over {limit} bytes")
            session.line_too_long(limit)
            return
        if self._episodes is not None:
            self._episodes.discard("long")
        if self._is_debug:
            redact = self.door.redact
            shown = b"<secret>" if session.expects_secret else redact(raw) if redact else raw
            log.debug("%s < %r", self.peer, shown)
        pending = session.feed_nowait(raw.decode("utf-8", self.door.errors))
        if pending is not None:
            self._start(pending)
        else:
            self._after_line()

    def _start(self, pending: Coroutine[Any, Any, None]) -> None:
        """Run the rest of a line in a task, which starts at the loop's next pass. Until
        it has, every connection's lines read meanwhile wait (a pass, a call_soon behind
        it), so that lines are answered in the order they were read, across
        connections too: a private message read before its target's PING reaches the
        target before the PONG (irctest's WebSocket tests check so)."""
        loop = self.loop
        self._task = loop.create_task(self._settle(pending))
        host = self.host
        if not host.is_line_starting:
            host.is_line_starting = True
            loop.call_soon(_lines_started, host)  # after the task's first step

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
        if self._login_at is not None and session.member is not None:
            TimerWheel.cancel(self._login_at, self)
            self._login_at = None
        if session.is_closed and not self.transport.is_closing():
            self.close()  # after what is buffered, such as "Goodbye!"

    def _close_when_answered(self) -> None:
        if not self.lines.has_line and self._task is None and self.transport is not None:
            if self.session is not None and self.session.member is not None:
                self.session.member.flush_rooms()  # its own last message echoes back
            self.close()

    def _limit_hit(self, kind: str, what: str) -> None:
        """Log a limit this client hit, once per episode (a flood must not flood the log)."""
        if self._episodes is None:
            self._episodes = set()
        if kind not in self._episodes:
            self._episodes.add(kind)
            log.warning("%s (%s) %s", self.peer, self.session.name if self.session else "-", what)

    def defer_pacing(self, lines: int) -> None:
        """The next `lines` lines (at most) are one message's, which reaches its readers
        whole: counted, not paced one by one, until charge_deferred()."""
        if self._unpaced is None:
            self._unpaced = [lines, 0]
        else:
            self._unpaced[0] = lines

    def charge_deferred(self) -> None:
        """The message ended: its lines cost what they would have cost one by one, at
        once; the lines after it wait until flood control is paid back."""
        unpaid = self._unpaced[1] if self._unpaced is not None else 0
        self._unpaced = None
        if self._bucket is not None and unpaid:
            self._bucket.charge(unpaid, self.loop.time())

    def _wait_for_token(self, wait_s: float) -> None:
        """Take no line until the bucket has a token again (reads pause meanwhile)."""
        self._wake = self.loop.call_later(wait_s, self._woken)
        rate = self.config.rate_lines_per_s
        self._limit_hit("flood", f"sends faster than {rate:g} lines/s; pacing its lines")

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
            redact = self.door.redact_sent
            log.debug("%s > %s", self.peer, redact(line) if redact else line)
        self.write(line.encode() + b"\r\n")

    def close(self) -> None:
        """Close after what is buffered."""
        if self.transport is not None and not self.transport.is_closing():
            self._release()
            self.transport.close()

    def _refuse_tls(self) -> bool:
        """A TLS ClientHello on a plain port: one plain line naming the TLS port."""
        if self.transport is None or self.transport.is_closing():
            return True  # refused already
        hint = self.host.tls_hint(self.door)
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
        self._login_at = None
        assert self.transport is not None and self.session is not None
        log.info("%s did not log in within %g s", self.peer, self.config.login_timeout_s)
        self.session.login_timed_out(self.config.login_timeout_s)
        self.close()

    def _check_alive(self) -> None:
        """Every ping interval: ping a client that said nothing; drop one that still
        says nothing a timeout after its ping."""
        self._ping_at = None
        if self.is_closed or self.session is None or self.transport is None:
            return
        if self._heard:
            self._heard, self._pinged = False, False
            self._check_alive_in(self.door.ping_interval_s)
        elif not self._pinged:
            self._pinged = True
            self.session.ping()
            self._check_alive_in(self.door.ping_timeout_s)
        else:
            timeout = self.door.ping_interval_s + self.door.ping_timeout_s
            log.info("%s (%s) ping timeout", self.peer, self.session.name)
            self.quit_reason = f"Ping timeout: {timeout:g} seconds"
            self.transport.abort()

    def _check_alive_in(self, delay_s: float) -> None:
        when = self.loop.time() + delay_s
        self._ping_at = self.host.timers.add(when, self, Connection._check_alive)

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


def _lines_started(host: Host) -> None:
    """The tasks of the lines read in the last pass have taken their first step."""
    host.is_line_starting = False


def _keep_alive(sock: socket.socket | None) -> None:
    """Turn on TCP keepalive, tuned so that a vanished peer is noticed in a minute."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in KEEPALIVE:
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
