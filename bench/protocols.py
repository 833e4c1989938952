"""What differs between the server's doors, as the load generator sees it.

The text door (docs/protocol.md) echoes a chat line to its sender and delivers it as
``[HH:MM] NAME> TEXT``; the IRC door (docs/irc.md) delivers ``:NICK!~USER@HOST PRIVMSG
#ROOM :TEXT`` to the other members only, unless the sender negotiated ``echo-message``.
The WebSocket door (IRCv3 ``websocket``, subprotocol ``text.ircv3.net``) is the IRC door
with each line one WebSocket message and no line end: a client's frames masked, the
server's not. Here: the bytes a sender writes, where the bench fields sit in a delivered
line, how a delivery is counted, and how many deliveries a line makes. Pure data and
functions; no I/O.
"""

from __future__ import annotations

PROTOCOLS = ("text", "irc", "websocket")
SUBPROTOCOL = "text.ircv3.net"

# A delivered bench line, split on whitespace: the field holding the "b" marker, then
# sender id, seq and send_ns follow it.
#   text: [10:19] b00001> b 1 7 123...             -> field 2 is b"b"
#   irc:  :b00001!~b00001@127.0.0.1 PRIVMSG #r0001 :b 1 7 123... -> field 3 is b":b"
MARKER_FIELD = {"text": 2, "irc": 3, "websocket": 3}
MARKER = {"text": b"b", "irc": b":b", "websocket": b":b"}
# The byte counted once per delivery in each received chunk: a line's end, or (over
# WebSocket) a server frame's first byte, FIN + text (0x81). That byte never occurs in
# ASCII, nor in a short frame's length byte (a server masks nothing, so < 0x80), so the
# count is exact while every message is ASCII and under 126 bytes, which bench lines
# are (MAX_WS_PAYLOAD; the worker checks each sampled frame).
DELIVERY_BYTE = {"text": b"\n", "irc": b"\n", "websocket": b"\x81"}
WS_TEXT = 0x81  # FIN + opcode 1 (text)
MAX_WS_PAYLOAD = 125  # the longest payload with a one-byte length
# The IRC door pings a client silent for 90 s (docs/irc.md); a PONG needs no answer,
# so a silent receiver sends one between steps and no PING ever lands in a count.
KEEPALIVE_LINE = b"PONG :bench"
KEEPALIVE = KEEPALIVE_LINE + b"\r\n"


def is_irc(protocol: str) -> bool:
    """Whether the clients speak IRC (the IRC door, or IRC over WebSocket)."""
    return protocol in ("irc", "websocket")


def channel(room: str) -> str:
    return f"#{room}"


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One client frame (FIN set): masked, as RFC 6455 requires of a client, with the
    key 0, so the masked payload is the payload itself. The server unmasks every byte
    whatever the key; the key only guards browsers' proxies, and a zero one spares the
    generator a Python XOR per line."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


def line_format(protocol: str, room: str, pad: bytes) -> bytes:
    """A %-template for one bench chat line: ``% (sender_id, seq, send_ns)``.

    Over WebSocket the template is the IRC line without its CRLF; frame() wraps it.
    """
    if protocol == "irc":
        return b"PRIVMSG %s :b %%d %%d %%d%s\r\n" % (channel(room).encode(), pad)
    if protocol == "websocket":
        return b"PRIVMSG %s :b %%d %%d %%d%s" % (channel(room).encode(), pad)
    return b"b %%d %%d %%d%s\n" % pad


def chat(protocol: str, room: str, text: str) -> str:
    """One chat line (with its line end) that says ``text`` in ``room``."""
    if is_irc(protocol):
        return f"PRIVMSG {channel(room)} :{text}\r\n"
    return f"{text}\n"


def wire(protocol: str, text: str) -> bytes:
    """What a client writes for ``text`` (IRC lines, each with its CRLF): the bytes
    themselves, or over WebSocket each line as one masked text frame without its CRLF."""
    data = text.encode()
    if protocol != "websocket":
        return data
    return b"".join(ws_frame(line) for line in data.split(b"\r\n") if line)


def keepalive(protocol: str) -> bytes:
    return ws_frame(KEEPALIVE_LINE) if protocol == "websocket" else KEEPALIVE


def echoes(protocol: str, irc_echo: bool) -> bool:
    """Whether a sender receives its own chat lines back (and counts them as deliveries)."""
    return protocol == "text" or irc_echo


def deliveries_per_line(room_size: int, protocol: str, irc_echo: bool) -> int:
    """How many receivers one chat line reaches in a room of ``room_size`` members."""
    return room_size if echoes(protocol, irc_echo) else room_size - 1
