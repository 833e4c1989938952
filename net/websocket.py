"""IRC over WebSocket (IRCv3 `websocket`), sans-I/O: one connection's bytes in, its IRC
lines out; its IRC lines out, as WebSocket messages.

`IrcWebSocket` drives the websockets package's own sans-I/O `ServerProtocol` for the
HTTP request and the opening handshake; once the connection is open, its frames are
read by net/wsframes.py's `FrameReader` (pings, the closing handshake, the errors'
close codes), which costs a fraction of the package's parser per frame. It adds what
the IRC door needs: the subprotocols `binary.ircv3.net` and `text.ircv3.net` (the client's
preference wins; none: text), one IRC line per message, the page's files (net/web.py)
for a request that is no handshake, the Origin check, and the client's address from a
trusted proxy. net/weblink.py pumps it under the Connection; no sockets, no asyncio, no
clock here. Imported only when a WebSocket port is asked for (the `web` extra).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from struct import pack

from websockets.datastructures import Headers
from websockets.exceptions import InvalidMessage
from websockets.frames import Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from net import wsframes
from net.web import Reply, Site, client_address, is_host, origin_allowed, plain_reply
from net.wsframes import (
    CLOSE,
    MESSAGE_TOO_BIG,
    NORMAL_CLOSURE,
    PROTOCOL_ERROR,
    FrameReader,
    close_frame,
    frame,
)  # fmt: skip
from registry.room import OWN_CUTS
from utils import Network

unmask: Callable[[bytes, bytes], bytes] = wsframes.unmask
try:  # the package's own C XOR when it was built with it: about 0.1 µs a line, not 0.4
    from websockets.speedups import apply_mask

    unmask = apply_mask
except ImportError:  # pragma: no cover - a websockets without its C speedups
    pass

log = logging.getLogger("chatroom")

BINARY = Subprotocol("binary.ircv3.net")
TEXT = Subprotocol("text.ircv3.net")
SUBPROTOCOLS = (BINARY, TEXT)
TLS_RECORD = b"\x16"  # the first byte of a TLS ClientHello


class WebSocketDoor:
    """What every connection of the WebSocket listeners shares: the page, the origins and
    proxies the operator named, the longest message, and the framer."""

    __slots__ = ("framer", "max_message_bytes", "origins", "site", "trusted")

    def __init__(
        self, site: Site, *, origins: Sequence[str], trusted: tuple[Network, ...],
        max_line_bytes: int,
    ) -> None:  # fmt: skip
        self.site = site  # replaced whole when SIGHUP reloads the page
        self.origins = tuple(origins)
        self.trusted = trusted
        self.max_message_bytes = max_line_bytes + 2  # and a trailing CRLF, tolerated
        self.framer = Framer()


class Framer:
    """Whole lines as WebSocket messages, one line each, without their CRLF. A room hands
    the same bytes to each member, and a frame is the same bytes for every connection
    (a server masks nothing, and no extension is negotiated), so they are framed once.
    A sender that does not get its own lines back (IRC without echo-message) is written
    the batch less those lines: a batch the room noted in registry/room.py's OWN_CUTS,
    whose frames are the shared batch's frames less the same byte ranges (a line's frame
    starts where the line does when each header, like each CRLF, is two bytes), so it is
    not framed again. It keeps the last two batches framed, so that a batch written
    between another's writes does not make that one framed again."""

    __slots__ = ("_older", "_older_framed", "framed", "last")

    def __init__(self) -> None:
        self.last = self._older = b""  # the batches framed last, and the one before
        self.framed: dict[bool, bytes] = {}  # `last` framed: as text, as binary
        self._older_framed: dict[bool, bytes] = {}

    def frames(self, data: bytes, binary: bool) -> bytes:
        if data is not self.last:
            note = OWN_CUTS.get(id(data))
            if note is not None and note[0] is data:
                return self._cut(data, note[1], note[2], binary)
        return self._frames(data, binary)

    def _frames(self, data: bytes, binary: bool) -> bytes:
        if data is not self.last:
            if data is self._older:
                self._older, self._older_framed, self.last, self.framed = (
                    self.last, self.framed, data, self._older_framed
                )  # fmt: skip
            else:
                self._older, self._older_framed = self.last, self.framed
                self.last, self.framed = data, {}
        framed = self.framed.get(binary)
        if framed is None:
            framed = self.framed[binary] = frame_lines(data, binary)
        return framed

    def _cut(self, data: bytes, whole: bytes, cut: list[int], binary: bool) -> bytes:
        """`data`, which is `whole` less the byte ranges `cut` (whole lines), framed: the
        frames of `whole` less the same ranges, when its frames are where its lines are
        (no line of 126 bytes or more, and in text frames no byte to replace)."""
        framed = self._frames(whole, binary)
        if len(framed) != len(whole) or not (binary or whole.isascii()):
            return frame_lines(data, binary)
        if len(cut) == 2:
            return framed[: cut[0]] + framed[cut[1] :]
        kept, start = [], 0
        for at in range(0, len(cut), 2):
            kept.append(framed[start : cut[at]])
            start = cut[at + 1]
        kept.append(framed[start:])
        return b"".join(kept)


# A final frame's first byte (FIN and the opcode), and the headers of the short ones:
# a server's frames are unmasked, so a header is that byte and the length (RFC 6455 5.2).
FIRST_BYTE = {False: 0x80 | Opcode.TEXT, True: 0x80 | Opcode.BINARY}
SHORT_HEADERS = {
    binary: [bytes((first, size)) for size in range(126)] for binary, first in FIRST_BYTE.items()
}


def frame_lines(data: bytes, binary: bool) -> bytes:
    """Each CRLF-ended line of `data` as one message: binary frames, or text frames whose
    bytes not UTF-8 became U+FFFD (IRCv3: never non-UTF-8 in a text message). The
    frames websockets' Frame(opcode, line).serialize(mask=False) gives, built here:
    that call costs more than the rest of a line's fan-out to a room of ten."""
    if not binary and not data.isascii():
        data = data.decode("utf-8", "replace").encode()
    lines = data.split(b"\r\n")
    if not lines[-1]:
        lines.pop()
    short, first = SHORT_HEADERS[binary], FIRST_BYTE[binary]
    parts: list[bytes] = []
    for line in lines:
        size = len(line)
        if size < 126:
            parts.append(short[size])
        elif size < 65536:
            parts.append(pack("!BBH", first, 126, size))
        else:
            parts.append(pack("!BBQ", first, 127, size))
        parts.append(line)
    return b"".join(parts)


class _Quiet(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' own log: it says every connection at INFO, and every header (cookies)
    at DEBUG; only its warnings and errors reach the server's log."""

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.WARNING and self.logger.isEnabledFor(level)


QUIET = _Quiet(logging.getLogger("websockets.server"), {})


def client_first(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """IRCv3: the first subprotocol the client offers that the server speaks; none in
    common, or none offered: no subprotocol, which is text."""
    return next((p for p in offered if p in SUBPROTOCOLS), None)


class IrcWebSocket:
    """One connection of a WebSocket port: first its HTTP request (a page's file, or the
    handshake), then, once `is_open`, IRC lines both ways."""

    def __init__(
        self, door: WebSocketDoor, ip: str, readdress: Callable[[str], str | None], *,
        tls_hint: str = "", label: str = "?",
    ) -> None:  # fmt: skip
        self.door = door
        self.ip = ip  # the client's address: the peer's, or what a trusted proxy said
        self.label = label  # for the log
        self.subprotocol: str | None = None
        self.is_binary = False
        self.is_open = False  # the handshake is done: lines flow both ways
        self.is_ended = False  # the client is done sending: a close frame, or EOF
        self.is_closing = False  # the server sent its close frame
        self.failure = ""  # why the WebSocket failed: a protocol error, a message too big
        self.sendable = False  # open, and neither ended, closing nor failed: lines may go
        self.out: list[bytes] = []  # once open: frames to send (pongs, close), b"": EOF
        self._readdress = readdress  # the address's limits: None, or why it may not stay
        self._tls_hint = tls_hint  # told to a TLS client on a plain port; "" under TLS
        self._is_first = True
        self._is_bad = False  # the request was no HTTP request: told so
        self._early: list[bytes] = []  # a reply that goes before what the protocol sends
        self._tail = b""  # the request's last 3 bytes so far: where its headers end
        self._reader: FrameReader | None = None  # once open: the client's frames
        self._protocol = ServerProtocol(
            select_subprotocol=client_first, max_size=(door.max_message_bytes, None),
            logger=QUIET,
        )  # fmt: skip

    def receive_data(self, data: bytes) -> list[bytes]:
        """Take bytes the client sent; return the IRC lines they complete (without any
        line end). Then send what data_to_send() gives."""
        if self._reader is not None:
            lines = self.receive_lines(data)
            return lines.split(b"\n")[:-1] if lines else []
        return self._receive_request(data)

    def receive_lines(self, data: bytes) -> bytes:
        """Once open: take bytes the client sent; return the IRC lines they complete,
        each ended by a LF (what a Connection's line splitter takes), or b"". Then send
        what `out` holds."""
        messages = self.receive_messages(data)
        return b"\n".join(messages) + b"\n" if messages else b""

    def receive_messages(self, data: bytes) -> list[bytes]:
        """Once open: take bytes the client sent; return the IRC lines they complete,
        without line ends (what a Connection's lines_received takes). Then send what
        `out` holds."""
        reader = self._reader
        assert reader is not None
        if reader.is_done:
            return []
        messages = reader.feed(data)
        if len(messages) == 1:
            (message,) = messages
            if b"\n" in message or b"\r" in message:
                messages = self._lines(reader, messages)
        elif messages:
            joined = b"\n".join(messages)  # one pass in C over them all
            if b"\r" in joined or joined.count(b"\n") != len(messages) - 1:  # not one line each
                messages = self._lines(reader, messages)
        if reader.replies:
            self.out += reader.replies
            reader.replies.clear()
        if reader.is_done:
            self._end(reader)
        return messages

    def _receive_request(self, data: bytes) -> list[bytes]:
        if self._is_first:
            self._is_first = False
            if self._tls_hint and data[:1] == TLS_RECORD:
                log.info("%s started TLS on a plain port; told it %s", self.label, self._tls_hint)
                self._reply(plain_reply(400, self._tls_hint))
                return []
        # The protocol reads the request up to the end of its headers (a handshake has
        # no body), and no further: what follows is frames, this module's to read.
        seen = self._tail + data
        end = seen.find(b"\r\n\r\n")
        rest = b""
        if end >= 0:
            cut = end + 4 - len(self._tail)
            data, rest = data[:cut], data[cut:]
        self._tail = seen[-3:]
        try:
            self._protocol.receive_data(data)
        except EOFError:  # bytes after the end of the stream: nothing to read in them
            return []
        self._take_events()
        if self.is_open:
            self._reader = FrameReader(self.door.max_message_bytes, unmask)
            lines = self.receive_lines(rest) if rest else b""
            return lines.split(b"\n")[:-1] if lines else []
        if rest:
            self._protocol.receive_data(rest)  # after a reply: discarded
        return []

    def receive_eof(self) -> None:
        """The client's end of the stream: it is done sending."""
        reader = self._reader
        if reader is None:
            self._protocol.receive_eof()
            return
        self.is_ended = True
        self.sendable = False
        if not reader.is_done:  # (else its close frame, or a failure, already ended it)
            reader.is_done = True
            self.out.append(b"")

    def data_to_send(self) -> list[bytes]:
        """What to send now; an empty bytes object means: close the connection."""
        early, self._early = self._early, []
        out, self.out = self.out, []
        return early + self._protocol.data_to_send() + out

    def frames(self, data: bytes) -> bytes:
        """Whole lines from the server, as this connection's messages; b"" once the
        client may no longer be sent any."""
        if self.sendable:
            framer = self.door.framer
            if data is framer.last:  # the room's batch, framed for another member already
                framed = framer.framed.get(self.is_binary)
                if framed is not None:
                    return framed
            return framer.frames(data, self.is_binary)
        return b""

    def close(self) -> bool:
        """Start the closing handshake; True if the client's close frame is awaited
        (data_to_send() then holds the server's)."""
        was_open = self.sendable
        self.is_closing = True
        self.sendable = False
        if was_open:
            self.out.append(close_frame(NORMAL_CLOSURE))
            return True
        return False

    # --- what came ---
    def _lines(self, reader: FrameReader, messages: list[bytes]) -> list[bytes]:
        """The messages as IRC lines; a trailing CRLF (or LF) is tolerated, but a CR or
        LF inside is two lines in one message: refused, as the spec allows one line only
        (a page that pasted user text into a line cannot smuggle a command)."""
        lines: list[bytes] = []
        for message in messages:
            line = message.removesuffix(b"\n").removesuffix(b"\r")
            if b"\n" in line or b"\r" in line:
                self.failure = "one IRC line per WebSocket message"
                log.info("%s sent a WebSocket message of two lines; closing", self.label)
                reader.fail(PROTOCOL_ERROR, self.failure)
                break
            lines.append(line)
        return lines

    def _end(self, reader: FrameReader) -> None:
        """The client's close frame, answered (unless it answers the server's), or a
        failure's close frame; then the end of the connection."""
        self.is_ended = reader.close is not None
        if reader.error is not None and not self.failure:
            code, _ = reader.error
            self.failure = (
                f"WebSocket message over {self.door.max_message_bytes} bytes"
                if code == MESSAGE_TOO_BIG else "WebSocket protocol error"
            )  # fmt: skip
        if not self.is_closing:
            if reader.close is not None:
                self.out.append(frame(CLOSE, reader.close))  # its code and reason, echoed
            elif reader.error is not None:
                self.out.append(close_frame(*reader.error))
        self.is_closing = True
        self.sendable = False
        self.out.append(b"")

    def _take_events(self) -> None:
        for event in self._protocol.events_received():
            if isinstance(event, Request):
                self._on_request(event)
            break  # nothing is read after a request
        protocol = self._protocol
        if isinstance(protocol.handshake_exc, InvalidMessage) and not self._is_bad:
            self._is_bad = True
            log.info("%s sent no valid HTTP request", self.label)
            self._early.append(_response(plain_reply(400, "Bad request.")).serialize())

    def _on_request(self, request: Request) -> None:
        headers = request.headers
        hosts = headers.get_all("Host")
        host = hosts[0] if len(hosts) == 1 and is_host(hosts[0]) else ""
        if not host:
            self._reply(plain_reply(400, "Bad request: one Host header, naming a host."))
            return
        if "websocket" not in ",".join(headers.get_all("Upgrade")).lower():
            tags = headers.get_all("If-None-Match")
            reply = self.door.site.reply(request.method, request.path, host, ",".join(tags) or None)
            log.debug("%s %s %s: %d", self.label, request.method, request.path, reply.status)
            self._reply(reply)
            return
        origins = headers.get_all("Origin")
        if len(origins) > 1 or not origin_allowed(origins[0] if origins else None, host,
                                                  self.door.origins):  # fmt: skip
            log.info("%s refused: origin %r may not connect", self.label, ", ".join(origins))
            self._reply(plain_reply(403, "This page's origin may not connect here.", host))
            return
        response = self._protocol.accept(request)
        if response.status_code != 101:
            log.info("%s refused: %s", self.label, self._protocol.handshake_exc)
            self._protocol.send_response(response)
            return
        self._open(request, response)

    def _open(self, request: Request, response: Response) -> None:
        headers = request.headers
        ip = client_address(self.ip, headers.get_all("X-Forwarded-For"),
                            headers.get_all("Forwarded"), self.door.trusted)  # fmt: skip
        if ip != self.ip:
            refusal = self._readdress(ip)
            if refusal:
                self._reply(plain_reply(503, refusal))
                return
            self.ip = ip
        self._protocol.send_response(response)
        self.is_open = self.sendable = True
        self.subprotocol = self._protocol.subprotocol
        self.is_binary = self.subprotocol == BINARY

    def _reply(self, reply: Reply) -> None:
        self._protocol.send_response(_response(reply))


def _response(reply: Reply) -> Response:
    return Response(reply.status, reply.reason, Headers(reply.headers), reply.body)
