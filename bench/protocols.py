"""What differs between the server's two doors, as the load generator sees it.

The text door (docs/protocol.md) echoes a chat line to its sender and delivers it as
``[HH:MM] NAME> TEXT``; the IRC door (docs/irc.md) delivers ``:NICK!~USER@HOST PRIVMSG
#ROOM :TEXT`` to the other members only, unless the sender negotiated ``echo-message``.
Here: the bytes a sender writes, where the bench fields sit in a delivered line, and
how many deliveries a line makes. Pure data and functions; no I/O.
"""

from __future__ import annotations

PROTOCOLS = ("text", "irc")

# A delivered bench line, split on whitespace: the field holding the "b" marker, then
# sender id, seq and send_ns follow it.
#   text: [10:19] b00001> b 1 7 123...             -> field 2 is b"b"
#   irc:  :b00001!~b00001@127.0.0.1 PRIVMSG #r0001 :b 1 7 123... -> field 3 is b":b"
MARKER_FIELD = {"text": 2, "irc": 3}
MARKER = {"text": b"b", "irc": b":b"}
# The IRC door pings a client silent for 90 s (docs/irc.md); a PONG needs no answer,
# so a silent receiver sends one between steps and no PING ever lands in a count.
KEEPALIVE = b"PONG :bench\r\n"


def channel(room: str) -> str:
    return f"#{room}"


def line_format(protocol: str, room: str, pad: bytes) -> bytes:
    """A %-template for one bench chat line: ``% (sender_id, seq, send_ns)``."""
    if protocol == "irc":
        return b"PRIVMSG %s :b %%d %%d %%d%s\r\n" % (channel(room).encode(), pad)
    return b"b %%d %%d %%d%s\n" % pad


def chat(protocol: str, room: str, text: str) -> str:
    """One chat line (with its line end) that says ``text`` in ``room``."""
    if protocol == "irc":
        return f"PRIVMSG {channel(room)} :{text}\r\n"
    return f"{text}\n"


def echoes(protocol: str, irc_echo: bool) -> bool:
    """Whether a sender receives its own chat lines back (and counts them as deliveries)."""
    return protocol == "text" or irc_echo


def deliveries_per_line(room_size: int, protocol: str, irc_echo: bool) -> int:
    """How many receivers one chat line reaches in a room of ``room_size`` members."""
    return room_size if echoes(protocol, irc_echo) else room_size - 1
