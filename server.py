"""The chat server: sockets in, lines to the session core, bytes out.

`python server.py --help` lists the options. This module owns the sockets and the
limits that need them (line length, flood control, send queues, connection counts,
login time); everything a line means lives in session.py, who is where in rooms.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import logging
import os
import resource
import signal
import sys
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast

from config import Config
from rooms import RoomManager
from session import Session, State, TextRender
from utils import strip_telnet_stream

IAC_BYTE = b"\xff"

log = logging.getLogger("chatroom")


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The peer's address, an IPv4-mapped IPv6 address as the IPv4 one it maps."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def is_loopback(ip: str) -> bool:
    address = _address(ip)
    return bool(address and address.is_loopback)


def address_group(ip: str) -> str:
    """What --max-per-ip counts as one address: an IPv4 address, or an IPv6 /64,
    which is one site's network (a host there may use any address in it)."""
    address = _address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address else ip


class Connection(asyncio.BufferedProtocol):
    """One client: splits its bytes into lines, paces them, feeds them to its session.

    A buffered protocol: the loop reads into the server's one receive buffer, which
    buffer_updated() copies out of at once, instead of allocating a fresh 256 KiB
    bytes object for every read (most reads bring one short line).
    """

    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.config = server.config
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.ip = ""
        self.session: Session | None = None
        self.quit_reason = ""
        self.is_closed = False
        self._limit = self.config.max_line_bytes + 1  # a trailing "\r" is not content
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
        self._is_debug = log.isEnabledFor(logging.DEBUG)  # read once: the hot path asks

    # --- asyncio.Protocol ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = t = cast(asyncio.Transport, transport)
        peer = t.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else "?"
        self.peer = f"{self.ip}:{peer[1]}" if peer else "?"
        refusal = self.server.admit(self)
        if refusal:
            log.warning("%s refused: %s", self.peer, refusal)
            t.write(f"! {refusal}\r\n".encode())
            t.close()
            self.is_closed = True
            return
        log.info("%s connected", self.peer)
        self.session = Session(
            self.server.rooms,
            self.config,
            self._say,
            write=self._write,
            render=self.server.render,
            peer=self.peer,
        )
        self.session.start()
        if self.config.login_timeout_s > 0:
            timeout = self.config.login_timeout_s
            self._login_timer = self.loop.call_later(timeout, self._login_expired)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.server.receive_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        """Queue the whole lines in `data`, keep the partial one, feed what may be fed."""
        if self._telnet or IAC_BYTE in data:  # before lines: a sequence may hold b"\n"
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
        for timer in (self._wake, self._login_timer):
            if timer is not None:
                timer.cancel()
        if self.session is None:
            return
        self.server.forget(self)
        reason = self.quit_reason or ("connection reset" if exc else "")
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
                break
            self._feed(self._next_line())
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
        if raw is None or len(raw) - raw.endswith(b"\r") > self.config.max_line_bytes:
            session.say(f"! Line too long (limit {self.config.max_line_bytes} bytes).")
            return
        if self._is_debug:
            log.debug("%s < %r", self.peer, raw)
        pending = session.feed_nowait(raw.decode("utf-8", "replace"))
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
        if session.state is State.CLOSED and not self.transport.is_closing():
            self.transport.close()  # after what is buffered, such as "Goodbye!"

    def _close_when_answered(self) -> None:
        if not self._queue and self._task is None and self.transport is not None:
            if self.session is not None and self.session.member is not None:
                self.session.member.flush_room()  # its own last message echoes back
            self.transport.close()

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
    def _write(self, data: bytes) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        t.write(data)
        if t.get_write_buffer_size() > self.config.max_send_queue_bytes:
            self._overflow()

    def _say(self, line: str) -> None:
        if self._is_debug:
            log.debug("%s > %s", self.peer, line)
        self._write(line.encode() + b"\r\n")

    def _overflow(self) -> None:
        assert self.transport is not None and self.session is not None
        log.warning(
            "%s (%s) send queue over %d bytes; disconnecting",
            self.peer,
            self.session.name,
            self.config.max_send_queue_bytes,
        )
        self.quit_reason = "send queue exceeded"
        self.transport.abort()

    def _login_expired(self) -> None:
        self._login_timer = None
        assert self.transport is not None and self.session is not None
        log.info("%s did not log in within %g s", self.peer, self.config.login_timeout_s)
        self.session.say(f"! Login timed out after {self.config.login_timeout_s:g} s.")
        self.transport.close()

    def shut_down(self) -> None:
        """Tell the client the server is stopping and close after what is buffered."""
        if self.session is not None and self.transport is not None:
            self.session.say("* Server is shutting down.")
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def _cleanup(self) -> None:
        assert self.session is not None
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self.session.close(self.quit_reason)


class ChatServer:
    """The listening socket, the connections, and the shared registry."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rooms = RoomManager(max_rooms=config.max_rooms)
        self.render = TextRender()
        self.receive_buffer = memoryview(bytearray(256 * 1024))  # shared: see Connection
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._per_ip: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_gone = asyncio.Event()

    async def start(self) -> int:
        """Listen; return the port bound (useful with port 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self), self.config.host, self.config.port, backlog=1024
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("listening on %s:%d", self.config.host, self.port)
        return self.port

    def admit(self, conn: Connection) -> str | None:
        """Register a new connection, or say why it may not stay."""
        if len(self._connections) >= self.config.max_clients:
            return f"Server is full ({self.config.max_clients} connections). Try again later."
        limit, group = self.config.max_per_ip, address_group(conn.ip)
        if limit and self._per_ip[group] >= limit and not is_loopback(conn.ip):
            return f"Too many connections from your address (limit {limit})."
        self._connections.add(conn)
        self._per_ip[group] += 1
        return None

    def forget(self, conn: Connection) -> None:
        self._connections.discard(conn)
        group = address_group(conn.ip)
        self._per_ip[group] -= 1
        if self._per_ip[group] <= 0:
            del self._per_ip[group]
        if not self._connections:
            self._all_gone.set()

    def track(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a connection's cleanup; aclose() waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop accepting, tell everyone, close every connection, wait for cleanups."""
        if self._server is not None:
            self._server.close()
        self._all_gone.clear()
        for conn in list(self._connections):
            conn.shut_down()
        if self._connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), self.config.shutdown_grace_s)
        for conn in list(self._connections):
            conn.abort()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("stopped")


def raise_open_file_limit() -> None:
    """Let the server hold as many sockets as the hard limit allows, without ulimit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# Each option: flag, the Config field it sets, its type, a metavar, what it means.
OPTIONS: tuple[tuple[str, str, Callable[[str], Any], str | None, str], ...] = (
    ("--host", "host", str, None, "address to listen on"),
    ("--port", "port", int, None, "port; 0 picks a free one and the log says which"),
    ("--max-line", "max_line_bytes", int, "BYTES", "longest line a client may send"),
    ("--max-clients", "max_clients", int, "N", "connections in total"),
    ("--max-per-ip", "max_per_ip", int, "N", "connections from one address (IPv6: one "
     "/64); 0: no limit; loopback is exempt"),
    ("--max-send-queue", "max_send_queue_bytes", int, "BYTES", "output a client may fall "
     "behind by before it is disconnected"),
    ("--max-rooms", "max_rooms", int, "N", "rooms at once"),
    ("--rate", "rate_lines_per_s", float, "LINES", "lines a second per client; 0 turns "
     "flood control off"),
    ("--burst", "burst_lines", int, "LINES", "lines a client may send at once before --rate "
     "applies"),
    ("--login-timeout", "login_timeout_s", float, "SECONDS", "time to choose a name; 0: "
     "no limit"),
    ("--log-level", "log_level", str.upper, "LEVEL", "DEBUG, INFO, WARNING or ERROR"),
)  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """The Config that the command line asks for."""
    defaults = Config()
    parser = argparse.ArgumentParser(description="A terminal chat server (PROTOCOL.md, v1).")
    for flag, field, kind, metavar, meaning in OPTIONS:
        default = getattr(defaults, field)
        parser.add_argument(
            flag, dest=field, type=kind, default=default, metavar=metavar,
            help=f"{meaning} (default {default})",
        )  # fmt: skip
    parser.add_argument(
        "--uvloop", action="store_true", help="use uvloop if it is installed (optional, faster)"
    )
    args = parser.parse_args(argv)
    if args.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        parser.error(f"--log-level: unknown level {args.log_level!r}")
    for flag, field, *_ in OPTIONS:
        if isinstance(getattr(args, field), int | float) and getattr(args, field) < 0:
            parser.error(f"{flag} cannot be negative")
    for flag, field in (("--burst", "burst_lines"), ("--max-line", "max_line_bytes"),
                        ("--max-clients", "max_clients"), ("--max-rooms", "max_rooms"),
                        ("--max-send-queue", "max_send_queue_bytes")):  # fmt: skip
        if getattr(args, field) < 1:
            parser.error(f"{flag} must be at least 1")
    return Config(**vars(args))


async def serve(config: Config) -> int:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    server = ChatServer(config)
    try:
        await server.start()
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        log.error("cannot listen on %s:%d: %s", config.host, config.port, reason)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises instead
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await server.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    raise_open_file_limit()
    factory = None
    if config.uvloop:
        try:
            factory = importlib.import_module("uvloop").new_event_loop  # optional extra
        except ImportError:
            log.warning("uvloop is not installed; using asyncio's own loop")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(serve(config))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
