"""A lean socket transport for asyncio's selector event loop, and what accepts into it.

asyncio's own socket transport costs about 1.2 KB a connection before a byte is read:
its instance dict, an `_extra` dict of addresses, a TransportSocket wrapper, an entry in
the loop's weak dict of transports, the accept's task, and a bound method for every
callback. A chat server is mostly idle connections (bench/idle_profile.py), so
`SocketTransport` keeps only what one needs: slots, the socket, its peer address, and
a write buffer only while the kernel will not take more (its file descriptor is the
socket's to say: an int above 256 is an object of its own). It serves a
`BufferedProtocol` (net/connection.py's Connection, net/tls.py's TlsLink, the
WebSocket layer): reads go into the protocol's buffer, and it keeps asyncio's rules:
`connection_made` before the first read, flow control (`pause_writing` above the
high-water mark, `resume_writing` below the low one; `pause_reading`), `close` after
what is buffered, `abort` at once, `connection_lost` exactly once, on the next pass of
the loop.

`Acceptor` accepts on the listening sockets an asyncio `Server` bound (so binding, its
addresses and its errors stay asyncio's) once told to start serving; closing the
Server stops it. net/listeners.py uses both only on a selector loop; under uvloop,
its own transports serve.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import errno
import logging
import select
import socket
from collections.abc import Callable
from typing import Any, cast

log = logging.getLogger("chatroom")

BACKLOG = 1024  # net/listeners.py binds with this backlog
HIGH_WATER_BYTES = 64 * 1024  # asyncio's defaults
LOW_WATER_BYTES = HIGH_WATER_BYTES // 4
ACCEPT_RETRY_S = 1.0  # out of file descriptors: accept again after this (as asyncio does)
FD_EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def is_selector_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the loop is asyncio's own selector loop (not uvloop, not a proactor)."""
    return isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop)


class SocketTransport(asyncio.Transport):
    """One accepted TCP socket under a buffered protocol."""

    __slots__ = (
        "_buffer", "_closing", "_eof", "_limits", "_lost", "_paused", "_peer",
        "_protocol", "_reads", "_sock", "_writing_paused",
    )  # fmt: skip

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: _socket.socket,
        peer: Any,
        protocol: asyncio.BufferedProtocol,
        reads: Readers,
    ) -> None:
        self._extra = None  # BaseTransport's slot: get_extra_info() answers instead
        self._reads = reads
        self._sock = sock
        self._peer = peer
        self._protocol: asyncio.BufferedProtocol | None = protocol
        self._buffer: bytearray | None = None  # what the kernel has not taken yet
        self._limits: tuple[int, int] | None = None  # (high, low); None: asyncio's defaults
        self._closing = False
        self._eof = False  # write_eof() called
        self._lost = False  # connection_lost() is called or on its way
        self._paused = False  # reading paused
        self._writing_paused = False  # the protocol was told pause_writing()
        loop.call_soon(_started, self)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return self._reads.loop  # not a slot of each transport's own

    # --- what a protocol asks of its transport ---
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            if self._peer is not None:
                return self._peer
            try:
                return self._sock.getpeername()
            except OSError:
                return default
        if name == "socket":
            return self._sock
        if name == "sockname":
            try:
                return self._sock.getsockname()
            except OSError:
                return default
        return default

    def is_closing(self) -> bool:
        return self._closing

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.BufferedProtocol)
        self._protocol = protocol

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def pause_reading(self) -> None:
        if self._closing or self._paused:
            return
        self._paused = True
        self._reads.unwatch(self._sock.fileno())

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        self._reads.watch(self)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = HIGH_WATER_BYTES if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        is_default = (high, low) == (HIGH_WATER_BYTES, LOW_WATER_BYTES)
        self._limits = None if is_default else (high, low)
        self._check_pause()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (LOW_WATER_BYTES, HIGH_WATER_BYTES) if self._limits is None else self._limits[::-1]

    def get_write_buffer_size(self) -> int:
        return len(self._buffer) if self._buffer is not None else 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._lost:
            return
        buffer = self._buffer
        if buffer is None:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on socket transport")
                return
            if sent == len(data):
                return
            self._buffer = buffer = bytearray(memoryview(data)[sent:])
            self._loop.add_writer(self._sock.fileno(), _write_ready, self)
        else:
            buffer += data
        self._check_pause()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self._eof:
            return
        self._eof = True
        if self._buffer is None:
            self._shutdown_write()

    def close(self) -> None:
        """Stop reading; close once what is buffered is sent."""
        if self._closing:
            return
        self._closing = True
        self._reads.unwatch(self._sock.fileno())
        if self._buffer is None:
            self._lose(None)

    def abort(self) -> None:
        self._force_close(None)

    # --- inside ---
    def _check_pause(self) -> None:
        """Tell the protocol to pause writing above the high-water mark (or resume, if
        the limits were raised)."""
        size = self.get_write_buffer_size()
        low, high = self.get_write_buffer_limits()
        if size > high and not self._writing_paused:
            self._writing_paused = True
            self._protocol_call("pause_writing")
        elif size <= low and self._writing_paused:
            self._writing_paused = False
            self._protocol_call("resume_writing")

    def _protocol_call(self, name: str) -> None:
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {
                    "message": f"protocol.{name}() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )

    def _shutdown_write(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._fatal_error(exc, "Fatal error on shutdown")

    def _read_eof(self) -> None:
        assert self._protocol is not None
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if keep_open:  # half-closed: no more reading, writing goes on
            self._reads.unwatch(self._sock.fileno())
        else:
            self.close()

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if not isinstance(exc, OSError):  # a reset is the peer's doing: no report
            self._loop.call_exception_handler(
                {
                    "message": message,
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )
        self._force_close(exc if isinstance(exc, Exception) else None)

    def _force_close(self, exc: Exception | None) -> None:
        if self._lost:
            return
        if self._buffer is not None:
            self._buffer = None
            self._loop.remove_writer(self._sock.fileno())
        if not self._closing:
            self._closing = True
            self._reads.unwatch(self._sock.fileno())
        self._lose(exc)

    def _lose(self, exc: Exception | None) -> None:
        """connection_lost(), once, on the next pass of the loop."""
        if not self._lost:
            self._lost = True
            self._loop.call_soon(_connection_lost, self, exc)


def _started(t: SocketTransport) -> None:
    """connection_made(), then reading (unless the protocol closed or paused it)."""
    assert t._protocol is not None
    try:
        t._protocol.connection_made(t)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        t._fatal_error(exc, "Fatal error: protocol.connection_made() call failed.")
        return
    t._peer = None  # the protocol has taken what it needs of it: asked again, the socket says
    if not t._closing and not t._paused:
        t._reads.watch(t)


def _read_ready(t: SocketTransport) -> None:
    protocol = t._protocol
    if t._lost or protocol is None:
        return
    try:
        buffer = protocol.get_buffer(-1)
        if not len(cast(memoryview, buffer)):
            raise RuntimeError("get_buffer() returned an empty buffer")
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        t._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
        return
    try:
        nbytes = t._sock.recv_into(buffer)
    except (BlockingIOError, InterruptedError):
        return
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        t._fatal_error(exc, "Fatal read error on socket transport")
        return
    if not nbytes:
        t._read_eof()
        return
    try:
        protocol.buffer_updated(nbytes)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        t._fatal_error(exc, "Fatal error: protocol.buffer_updated() call failed.")


def _write_ready(t: SocketTransport) -> None:
    buffer = t._buffer
    if t._lost or buffer is None:
        return
    try:
        sent = t._sock.send(buffer)
    except (BlockingIOError, InterruptedError):
        return
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        t._buffer = None
        t._loop.remove_writer(t._sock.fileno())
        t._fatal_error(exc, "Fatal write error on socket transport")
        return
    del buffer[:sent]
    if buffer:
        t._check_pause()
        return
    t._buffer = None
    t._loop.remove_writer(t._sock.fileno())
    t._check_pause()
    if t._closing:
        t._lose(None)
    elif t._eof:
        t._shutdown_write()


def _connection_lost(t: SocketTransport, exc: Exception | None) -> None:
    protocol, t._protocol = t._protocol, None
    try:
        if protocol is not None:
            protocol.connection_lost(exc)
    finally:
        t._sock.close()


class Readers:
    """Who is told when a transport's socket has bytes to read: the loop itself, a
    reader (a Handle, its Context, a selector key) for each socket."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def watch(self, t: SocketTransport) -> None:
        self.loop.add_reader(t._sock.fileno(), _read_ready, t)

    def unwatch(self, fd: int) -> None:
        self.loop.remove_reader(fd)

    def close(self) -> None:
        pass


class EpollReaders(Readers):
    """An epoll of our own for every transport's reads (Linux), which the loop watches
    as one reader: a socket costs an entry in it and in a dict, not a loop reader of its
    own (about 300 bytes). Level-triggered, like the loop; what one poll leaves (over
    `MAX_EVENTS`) is there at the loop's next pass."""

    __slots__ = ("_epoll", "_owners")
    MAX_EVENTS = 1024

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._epoll = select.epoll()
        self._owners: dict[int, SocketTransport] = {}
        loop.add_reader(self._epoll.fileno(), self._ready)

    def watch(self, t: SocketTransport) -> None:
        with contextlib.suppress(OSError, ValueError):  # watched already; closed (shutdown)
            fd = t._sock.fileno()
            self._epoll.register(fd, select.EPOLLIN)
            self._owners[fd] = t

    def unwatch(self, fd: int) -> None:
        if self._owners.pop(fd, None) is not None:
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)

    def close(self) -> None:
        """Stop (the server is closed): no transport is read from now on."""
        if not self._epoll.closed:
            self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
        self._owners.clear()

    def _ready(self) -> None:
        owners = self._owners
        for fd, _ in self._epoll.poll(0, self.MAX_EVENTS):
            t = owners.get(fd)
            if t is not None:  # not unwatched by an earlier one of this batch
                _read_ready(t)


def readers_for(loop: asyncio.AbstractEventLoop) -> Readers:
    """An epoll of our own where there is one (Linux), else the loop's readers."""
    return EpollReaders(loop) if hasattr(select, "epoll") else Readers(loop)


class Acceptor:
    """Accepts on an asyncio Server's listening sockets into SocketTransports, each
    under a protocol from `factory`. The Server binds (start_serving=False) and closes
    them; this only reads them."""

    __slots__ = ("_factory", "_loop", "_reads", "_server")

    def __init__(
        self,
        server: asyncio.Server,
        factory: Callable[[], asyncio.BufferedProtocol],
        reads: Readers,
    ) -> None:
        self._server = server
        self._factory = factory
        self._reads = reads
        self._loop = asyncio.get_running_loop()

    @property
    def sockets(self) -> tuple[Any, ...]:
        return self._server.sockets

    def close(self) -> None:
        self._server.close()  # removes our readers and closes the sockets

    async def start_serving(self) -> None:
        for sock in self._listening():
            sock.listen(BACKLOG)  # an asyncio Server listens only when it starts serving
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _listening(self) -> list[socket.socket]:
        return list(getattr(self._server, "_sockets", None) or [])

    def _accept(self, listening: socket.socket) -> None:
        for _ in range(BACKLOG):  # at most the backlog in one pass, as asyncio
            try:
                fd, peer = listening._accept()  # type: ignore[attr-defined]  # accept(), unwrapped
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in FD_EXHAUSTED:
                    raise  # the loop reports it, and reading goes on
                log.error("cannot accept a connection: %s; again in %g s", exc, ACCEPT_RETRY_S)
                self._loop.remove_reader(listening.fileno())
                self._loop.call_later(ACCEPT_RETRY_S, self._resume, listening)
                return
            # The C socket, as socket.socket's base: 40 bytes fewer than the Python
            # socket.socket (its weakref and io counters), which nothing here uses.
            sock = _socket.socket(listening.family, listening.type, listening.proto, fd)
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                protocol = self._factory()
            except Exception:
                sock.close()
                raise
            SocketTransport(self._loop, sock, peer, protocol, self._reads)

    def _resume(self, listening: socket.socket) -> None:
        if listening.fileno() >= 0 and listening in self._listening():  # not closed since
            self._loop.add_reader(listening.fileno(), self._accept, listening)
