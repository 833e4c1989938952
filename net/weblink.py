"""The WebSocket layer under a Connection, as net/tls.py's TLS layer is under one.

`WebSocketLink` is the protocol of the accepted socket's transport (or, on a wss port,
of the TlsLink under it) and, to the Connection above it, its transport: the bytes it
reads go through net/websocket.py's sans-I/O `IrcWebSocket`, which answers the HTTP
request, and, once the handshake is done, hands the Connection the IRC lines the
messages carry (Connection.lines_received: whole lines, fed as its line splitter would
feed them); the lines the Connection writes go out as one message each. So the
Connection's limits, pacing, send queue, timeouts and session (the IRC door's,
unchanged) are the same as on the IRC port. Order: accept,
admit (the connection limits count a request in progress), then the request, under a
timeout of its own; only a handshake starts the Connection's session.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from config.settings import Config
from doors.door import Door
from net.layer import Layer
from net.websocket import IrcWebSocket, WebSocketDoor

if TYPE_CHECKING:
    from net.connection import Connection

log = logging.getLogger("chatroom")

LINGER_S = 2.0  # how long the client's close frame is awaited after the server's


class WebSocketLink(Layer):
    """WebSocket between one accepted connection and its Connection, which sees it as
    its transport (write, close, pause_reading, get_write_buffer_size, ...)."""

    def __init__(self, conn: Connection, door: WebSocketDoor) -> None:
        self.conn = conn
        self._door = door
        self._framer = door.framer  # (the door's, for good)
        self._raw: asyncio.Transport | None = None
        self._ws: IrcWebSocket | None = None  # made once the bytes may be read
        self._is_started = False  # the handshake is done and the Connection started
        self._is_closing = False
        self._is_eof_told = False
        self._timer: asyncio.TimerHandle | None = None

    # --- what TlsLink needs of the layer above it (net/tls.py's Upper) ---
    @property
    def config(self) -> Config:
        return self.conn.config

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.conn.loop

    @property
    def peer(self) -> str:
        return self.conn.peer

    @property
    def door(self) -> Door:
        return self.conn.door

    @property
    def receive_buffer(self) -> memoryview:
        return self.conn.receive_buffer

    # --- protocol: the transport below calls these ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.admit(transport):
            self.start()

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count the connection against the server's limits, as its Connection; a
        refusal goes out as the door words it (net/web.py's http_refusal)."""
        self._raw = cast(asyncio.Transport, transport)
        return self.conn.admit(self)

    def start(self) -> None:
        """Read the HTTP request: at once, or after the TLS handshake under TLS."""
        raw, conn = self._raw, self.conn
        assert raw is not None
        under_tls = raw.get_extra_info("ssl_object") is not None
        hint = "" if under_tls else conn.host.tls_hint(conn.door)
        self._ws = IrcWebSocket(self._door, conn.ip, conn.take_address, tls_hint=hint,
                                label=conn.peer)  # fmt: skip
        self._timer = conn.loop.call_later(conn.config.http_request_timeout_s, self._no_request)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.conn.receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        ws, conn = self._ws, self.conn
        if ws is None or self._raw is None:
            return
        data = conn.receive_buffer[:nbytes].tobytes()
        if self._is_started:  # the usual read: frames, one IRC line each
            lines = ws.receive_messages(data)
            if ws.out:
                self._flush()  # pongs, a close frame
            if ws.failure and not conn.quit_reason:
                conn.quit_reason = ws.failure
            if lines and not self._is_closing and not conn.is_closed:
                conn.lines_received(lines)
            if ws.is_ended:
                self._tell_eof()
            return
        request_lines = ws.receive_data(data)  # frames that came with the handshake
        self._flush()  # the handshake's reply goes before any line's answer
        if ws.is_open:
            self._is_started = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            conn.start()
        if ws.failure and not conn.quit_reason:
            conn.quit_reason = ws.failure
        if request_lines and not self._is_closing and not conn.is_closed:
            conn.data_received(b"\n".join(request_lines) + b"\n")
        if ws.is_ended:
            self._tell_eof()

    def eof_received(self) -> bool:
        ws = self._ws
        if ws is None:
            return False
        ws.receive_eof()
        self._flush()
        if self._is_started and not self._is_closing:
            self._tell_eof()
            return True  # open until the Connection has acted on every line
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._is_closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.conn.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._is_started:
            self.conn.pause_writing()

    def resume_writing(self) -> None:
        if self._is_started:
            self.conn.resume_writing()

    def _tell_eof(self) -> None:
        """The client is done sending: the Connection acts on every line it sent, then
        closes (nothing more can be sent to it: its close frame was answered)."""
        if self._is_started and not self._is_eof_told:
            self._is_eof_told = True
            self.conn.eof_received()

    def _flush(self) -> None:
        """Send what the WebSocket protocol has to send; at its end, close the socket,
        unless the client ended and its Connection has lines left to act on."""
        ws, raw = self._ws, self._raw
        if ws is None or raw is None:
            return
        for data in ws.data_to_send():
            if data:
                if not raw.is_closing():
                    raw.write(data)
            elif self._is_closing or not ws.is_ended or ws.failure:
                raw.close()

    def _no_request(self) -> None:
        self._timer = None
        timeout = self.conn.config.http_request_timeout_s
        log.info("%s sent no HTTP request within %g s", self.conn.peer, timeout)
        self.abort()

    # --- transport: the Connection calls these ---
    def write(self, data: bytes | bytearray | memoryview) -> None:
        ws = self._ws
        if ws is not None and ws.sendable:  # (open: the Connection started in that read)
            # Once per member per flush: the hot path of a room's fan-out on this door.
            # The Connection asked is_closing() just before; the batch framed for the
            # member before is taken without a call.
            framer = self._framer
            if data is framer.last:
                framed = framer.framed.get(ws.is_binary)
                if framed is not None:
                    self._raw.write(framed)  # type: ignore[union-attr]  # (set when started)
                    return
            data = data if type(data) is bytes else bytes(data)
            self._raw.write(framer.frames(data, ws.is_binary))  # type: ignore[union-attr]
            return
        raw = self._raw
        if raw is None or raw.is_closing():
            return
        if ws is None or not self._is_started:  # a refused connection's HTTP reply
            raw.write(data)  # (Connection.admit)

    def is_closing(self) -> bool:
        return self._is_closing or self._raw is None or self._raw.is_closing()

    def close(self) -> None:
        """The server's close frame after what is buffered, then the socket, once the
        client answers it (or LINGER_S later)."""
        if self._is_closing:
            return
        self._is_closing = True
        ws, raw = self._ws, self._raw
        if ws is not None and ws.close():
            self._flush()
            self._timer = self.conn.loop.call_later(LINGER_S, self.abort)
        elif raw is not None:
            raw.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "websocket":  # the subprotocol: a Connection here sniffs no TLS
            return (self._ws.subprotocol or "") if self._ws is not None else ""
        return self._raw.get_extra_info(name, default) if self._raw is not None else default
