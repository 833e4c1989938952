"""TLS for both doors: the server's contexts, and a lean TLS layer under a Connection.

`TlsLink` is the protocol of the accepted socket's transport and, to the Connection
above it, its transport. It runs TLS itself, with `ssl.MemoryBIO` and an `SSLObject`
(`SSLContext.wrap_bio`), reading into the server's one shared receive buffer, instead of
asyncio's SSLProtocol, which allocates a 256 KiB buffer for every connection. Order:
accept, admit (the per-address caps and --max-clients count a handshake in progress),
then the handshake, under its own timeout; only then does the Connection start its
session. No door knows about TLS; no chat logic here. Above it is the Connection, or,
on a wss port, the WebSocket layer (net/weblink.py), which is the Connection's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any, Protocol, cast

from config.certificates import ssl_reason
from config.settings import Config
from doors.door import Door
from net.layer import Layer

log = logging.getLogger("chatroom")

LINGER_S = 2.0  # how long a refused plaintext client may take to read its line
TLS_RECORD = 0x16  # the first byte of a TLS handshake record (a ClientHello)


class Upper(Protocol):
    """What a TlsLink needs of the layer above it: a Connection (net/connection.py), or
    the WebSocket layer over it (net/weblink.py)."""

    @property
    def config(self) -> Config: ...
    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def peer(self) -> str: ...
    @property
    def door(self) -> Door: ...
    @property
    def receive_buffer(self) -> memoryview: ...
    def admit(self, transport: asyncio.BaseTransport) -> bool: ...
    def start(self) -> None: ...
    def buffer_updated(self, nbytes: int) -> None: ...
    def eof_received(self) -> bool: ...
    def connection_lost(self, exc: Exception | None) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...


class TlsLink(Layer):
    """TLS between one accepted socket and its Connection, which sees it as its
    transport (write, close, pause_reading, get_write_buffer_size, ...)."""

    def __init__(self, conn: Upper, context: ssl.SSLContext, plain_port: int) -> None:
        self.conn = conn
        self._context = context
        self._plain_port = plain_port  # for the hint to a plaintext client; 0: none
        self._raw: asyncio.Transport | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl: ssl.SSLObject | None = None
        self._is_open = False  # the handshake is done and the Connection started
        self._is_closing = False
        self._heard = False
        self._is_eof = False
        self._timer: asyncio.TimerHandle | None = None
        self._hello_timer: asyncio.TimerHandle | None = None

    # --- protocol: the socket's transport calls these ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = raw = cast(asyncio.Transport, transport)
        if not self.conn.admit(self):
            raw.abort()  # refused: no handshake spent on it (the log says why)
            return
        self._ssl = self._context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        config, loop = self.conn.config, self.conn.loop
        self._timer = loop.call_later(config.tls_handshake_timeout_s, self._timed_out)
        if config.tls_hello_timeout_s > 0:
            self._hello_timer = loop.call_later(config.tls_hello_timeout_s, self._no_hello)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.conn.receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        sslobj, buffer = self._ssl, self.conn.receive_buffer
        if sslobj is None or self._is_eof or (self._is_closing and not self._is_open):
            return
        if not self._heard:
            self._heard = True
            if self._hello_timer is not None:
                self._hello_timer.cancel()
            if buffer[0] != TLS_RECORD:
                self._refuse_plaintext()
                return
        self._incoming.write(buffer[:nbytes])
        if not self._is_open:
            self._handshake(sslobj)
        if self._is_open:
            self._read_plaintext(sslobj, buffer)

    def eof_received(self) -> bool:
        if not self._heard and not self._is_closing and self._raw is not None:
            self._heard = self._is_closing = True  # a plain client that is done at once
            log.info("%s sent no TLS handshake; told it this port speaks TLS", self.conn.peer)
            self._raw.write(self.conn.door.refusal(self._plain_hint()).encode() + b"\r\n")
            self._raw.close()
            return True
        if self._is_open and not self._is_eof:
            self._is_eof = True
            self.conn.eof_received()
            return True
        return self._is_open

    def connection_lost(self, exc: Exception | None) -> None:
        self._is_closing = True
        for timer in (self._timer, self._hello_timer):
            if timer is not None:
                timer.cancel()
        self.conn.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._is_open:
            self.conn.pause_writing()

    def resume_writing(self) -> None:
        if self._is_open:
            self.conn.resume_writing()

    # --- the handshake ---
    def _handshake(self, sslobj: ssl.SSLObject) -> None:
        try:
            sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as exc:
            self._flush()
            log.info("%s TLS handshake failed: %s", self.conn.peer, ssl_reason(exc))
            self._close_raw()
            return
        self._flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._is_open = True
        log.debug("%s TLS %s %s", self.conn.peer, sslobj.version(), sslobj.cipher())
        self.conn.start()

    def _timed_out(self) -> None:
        self._timer = None
        timeout = self.conn.config.tls_handshake_timeout_s
        log.info("%s TLS handshake did not finish within %g s", self.conn.peer, timeout)
        self._close_raw()

    def _no_hello(self) -> None:
        """Nothing came: most likely a plain client waiting for the server to speak."""
        self._hello_timer = None
        if not self._heard:
            log.info("%s sent no TLS handshake; told it this port speaks TLS", self.conn.peer)
            self._say_plain(self._plain_hint())

    def _refuse_plaintext(self) -> None:
        log.info("%s spoke plaintext on a TLS port; told it so", self.conn.peer)
        self._say_plain(self._plain_hint())

    def _plain_hint(self) -> str:
        hint = "This port speaks TLS only"
        if self._plain_port:
            hint += f"; without TLS, connect to port {self._plain_port}"
        return hint + "."

    def _say_plain(self, text: str) -> None:
        """One plain line, then our end of the stream; the peer's bytes are read and
        dropped until it closes (closing with unread bytes would reset the line away)."""
        raw, self._is_closing = self._raw, True
        if self._timer is not None:
            self._timer.cancel()
        if raw is None or raw.is_closing():
            return
        raw.write(self.conn.door.refusal(text).encode() + b"\r\n")
        if not raw.can_write_eof():
            raw.close()
            return
        raw.write_eof()
        self._timer = self.conn.loop.call_later(LINGER_S, raw.abort)

    def _close_raw(self) -> None:
        self._is_closing = True
        if self._raw is not None and not self._raw.is_closing():
            self._raw.close()

    # --- plaintext in and out ---
    def _read_plaintext(self, sslobj: ssl.SSLObject, buffer: memoryview) -> None:
        conn, size = self.conn, len(buffer)
        while not self._is_closing:
            try:
                nbytes = cast(int, sslobj.read(size, buffer))  # typeshed: bytes
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                nbytes = 0
            except ssl.SSLError as exc:
                log.info("%s TLS error: %s", conn.peer, ssl_reason(exc))
                self.abort()
                break
            if not nbytes:  # the peer's close_notify: the end of its input
                if not self._is_eof:
                    self._is_eof = True
                    conn.eof_received()
                break
            conn.buffer_updated(nbytes)
        self._flush()  # a TLS 1.3 key update or session ticket answer

    def _flush(self) -> None:
        if self._outgoing.pending and self._raw is not None:
            self._raw.write(self._outgoing.read())

    # --- transport: the Connection calls these ---
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._is_open or self._is_closing or self._ssl is None:
            return
        try:
            self._ssl.write(data)
        except ssl.SSLError as exc:
            log.info("%s TLS error: %s", self.conn.peer, ssl_reason(exc))
            self.abort()
            return
        assert self._raw is not None
        self._raw.write(self._outgoing.read())

    def is_closing(self) -> bool:
        return self._is_closing

    def close(self) -> None:
        """Send what is buffered and a close_notify, then close the socket."""
        if self._is_closing:
            return
        self._is_closing = True
        if self._ssl is not None and self._is_open:
            with contextlib.suppress(ssl.SSLError):
                self._ssl.unwrap()
            self._flush()
        if self._raw is not None:
            self._raw.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._ssl
        if name == "cipher" and self._ssl is not None:
            return self._ssl.cipher()
        return self._raw.get_extra_info(name, default) if self._raw is not None else default
