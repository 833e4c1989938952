"""A client's WebSocket frames once the handshake is done (RFC 6455 5), sans-I/O and
standard library only: bytes in, whole messages out, and what to answer (pongs, the
close frame). Its own rather than the websockets package's parser, which costs about
four times the text door's whole read path per frame (bench/RESULTS.md, "Fast path").

What it enforces, each failure a close code and a reason: client frames are masked,
reserved bits are clear, opcodes are known (1002); control frames are final and at most
125 bytes (1002); continuation frames continue a message and nothing else interrupts
one but control frames (1002); a message over `max_size` bytes fails as soon as a
header says so, before its payload is read (1009); a text message is UTF-8 (1007); a
close frame's code and reason are valid (1002, 1007). Pings are answered with a pong
of the same payload, pongs ignored; a client's close frame ends the input.
"""

from __future__ import annotations

from collections.abc import Callable

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE, PROTOCOL_ERROR, INVALID_DATA, MESSAGE_TOO_BIG = 1000, 1002, 1007, 1009
# The codes a close frame may carry (RFC 6455 7.4; the IANA registry), as websockets checks.
CLOSE_CODES = frozenset(
    (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, *range(3000, 5000))
)
NO_MASK = b"\x00\x00\x00\x00"


def unmask(data: bytes, mask: bytes) -> bytes:
    """`data` XOR the 4-byte `mask` repeated: one big integer each (about 0.4 µs for an
    IRC line; a loop over bytes is ten times that)."""
    n = len(data)
    return (
        int.from_bytes(data, "little")
        ^ int.from_bytes((mask * ((n >> 2) + 1))[:n], "little")
    ).to_bytes(n, "little")  # fmt: skip


def frame(opcode: int, payload: bytes) -> bytes:
    """A server's frame: final, unmasked (control frames and close frames here)."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 65536:
        return bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big") + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(CLOSE, code.to_bytes(2, "big") + reason.encode()[:123])


class FrameReader:
    """The frames of one client. `feed` returns the messages its bytes complete; then
    `replies` holds frames to send (pongs); once `is_done`, nothing more is read, and
    either `close` holds the client's close frame's payload (to echo) or `error` the
    failure's close code and reason."""

    __slots__ = (
        "_is_text", "_need", "_parts", "_pending", "_size", "close", "error", "is_done",
        "max_size", "replies", "unmask",
    )  # fmt: skip

    def __init__(self, max_size: int, unmask: Callable[[bytes, bytes], bytes] = unmask) -> None:
        self.max_size = max_size  # the longest message, in bytes
        self.unmask = unmask
        self.replies: list[bytes] = []
        self.close: bytes | None = None
        self.error: tuple[int, str] | None = None
        self.is_done = False
        self._pending = bytearray()  # a frame's bytes so far
        self._need = 0  # how many bytes of it `feed` waits for before it reads it again
        self._parts: list[bytes] | None = None  # a fragmented message so far
        self._size = 0  # its bytes
        self._is_text = False  # its first frame's kind

    def fail(self, code: int, reason: str) -> None:
        """Read nothing more: the connection fails with `code`."""
        if not self.is_done:
            self.is_done = True
            self.error = (code, reason)
            self._pending.clear()
            self._parts = None

    def feed(self, data: bytes) -> list[bytes]:
        """The messages `data` completes."""
        size = len(data) - 6
        if (
            0 <= size < 126
            and (data[0] == 0x81 or data[0] == 0x82)  # final, text or binary
            and data[1] == 0x80 | size  # masked, and all of it: a whole frame
            and size <= self.max_size
            and self._parts is None
            and not self._pending
            and not self.is_done
        ):  # the usual read, one short message
            mask = data[2:6]
            payload = data[6:] if mask == NO_MASK else self.unmask(data[6:], mask)
            if data[0] == 0x81 and not payload.isascii() and not _is_utf8(payload):
                self.fail(INVALID_DATA, "invalid UTF-8 in a text message")
                return []
            return [payload]
        return self._feed(data)

    def _feed(self, data: bytes) -> list[bytes]:
        if self.is_done:
            return []
        pending = self._pending
        if pending:
            pending += data
            if len(pending) < self._need:
                return []
            data = bytes(pending)
            pending.clear()
        messages: list[bytes] = []
        pos, end = 0, len(data)
        unmask, short, append = self.unmask, min(125, self.max_size), messages.append
        while end - pos >= 2:
            first, size = data[pos], data[pos + 1] - 0x80
            if (first == 0x81 or first == 0x82) and 0 <= size <= short and self._parts is None:
                # The usual frame, several to a read: a short message, whole and masked.
                start = pos + 6
                stop = start + size
                if stop <= end:
                    payload = data[start:stop]
                    mask = data[pos + 2 : start]
                    if mask != NO_MASK:
                        payload = unmask(payload, mask)
                    if first == 0x81 and not payload.isascii() and not _is_utf8(payload):
                        self.fail(INVALID_DATA, "invalid UTF-8 in a text message")
                        return messages
                    append(payload)
                    pos = stop
                    continue
            second = data[pos + 1]
            size = second & 0x7F
            if size < 126:
                head = pos + 6
            elif size == 126:
                head = pos + 8
                if end < head:
                    break
                size = int.from_bytes(data[pos + 2 : pos + 4], "big")
            else:
                head = pos + 14
                if end < head:
                    break
                size = int.from_bytes(data[pos + 2 : pos + 10], "big")
            opcode = first & 0x0F
            if first & 0x70:
                self.fail(PROTOCOL_ERROR, "reserved bits must be 0")
            elif not second & 0x80:
                self.fail(PROTOCOL_ERROR, "incorrect masking")
            elif opcode >= CLOSE:
                if opcode > PONG:
                    self.fail(PROTOCOL_ERROR, "invalid opcode")
                elif not first & 0x80:
                    self.fail(PROTOCOL_ERROR, "fragmented control frame")
                elif size > 125:
                    self.fail(PROTOCOL_ERROR, "control frame too long")
            elif opcode > BINARY:
                self.fail(PROTOCOL_ERROR, "invalid opcode")
            elif (opcode == CONT) is (self._parts is None):
                self.fail(PROTOCOL_ERROR, "unexpected continuation frame" if opcode == CONT
                          else "expected a continuation frame")  # fmt: skip
            elif self._size + size > self.max_size:
                self.fail(MESSAGE_TOO_BIG, f"message over {self.max_size} bytes")
            if self.is_done:
                return messages
            stop = head + size
            if end < stop:
                break
            mask = data[head - 4 : head]
            payload = data[head:stop]
            if mask != NO_MASK:
                payload = self.unmask(payload, mask)
            pos = stop
            if CONT < opcode < CLOSE:  # text or binary
                if first & 0x80:  # the usual frame: a whole message
                    if opcode == TEXT and not payload.isascii() and not _is_utf8(payload):
                        self.fail(INVALID_DATA, "invalid UTF-8 in a text message")
                        return messages
                    messages.append(payload)
                else:
                    self._parts, self._size, self._is_text = [payload], size, opcode == TEXT
            elif opcode == CONT:
                assert self._parts is not None
                self._parts.append(payload)
                self._size += size
                if first & 0x80:
                    message = b"".join(self._parts)
                    self._parts, self._size = None, 0
                    if self._is_text and not message.isascii() and not _is_utf8(message):
                        self.fail(INVALID_DATA, "invalid UTF-8 in a text message")
                        return messages
                    messages.append(message)
            elif opcode == PING:
                self.replies.append(frame(PONG, payload))
            elif opcode == CLOSE:
                self._on_close(payload)
                return messages
        if pos < end:
            pending += data[pos:]
            self._need = _needed(data, pos, end)
        return messages

    def _on_close(self, payload: bytes) -> None:
        if len(payload) == 1:
            self.fail(PROTOCOL_ERROR, "close frame too short")
        elif payload and int.from_bytes(payload[:2], "big") not in CLOSE_CODES:
            self.fail(PROTOCOL_ERROR, "invalid status code")
        elif not _is_utf8(payload[2:]):
            self.fail(INVALID_DATA, "invalid UTF-8 in a close reason")
        else:
            self.is_done = True
            self.close = payload
            self._parts = None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _needed(data: bytes, pos: int, end: int) -> int:
    """How many bytes the frame that starts at `pos` needs before it can be read: its
    header, or, once that is there, its header and payload."""
    if end - pos < 2:
        return 2
    size = data[pos + 1] & 0x7F
    head = 6 if size < 126 else 8 if size == 126 else 14
    if end - pos < head:
        return head
    if size == 126:
        size = int.from_bytes(data[pos + 2 : pos + 4], "big")
    elif size == 127:
        size = int.from_bytes(data[pos + 2 : pos + 10], "big")
    return head + size
