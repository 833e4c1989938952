"""The IRC door's part in a connection: its session factory and its limits."""

from __future__ import annotations

from doors.door import Door, Link
from doors.irc.message import line
from doors.irc.session import MAX_LINE_BYTES, MAX_TAG_BYTES, IrcDoor, IrcSession


def irc_door(door: IrcDoor) -> Door:
    """The door a listener serves: an `IrcSession` for each connection, on the shared
    `door` (its settings, its name, and the sts policy the listeners set)."""
    config = door.config

    def session(conn: Link) -> IrcSession:
        return IrcSession(
            door, conn.say, write=conn.write, host=conn.ip, peer=conn.peer, is_tls=conn.is_tls
        )

    return Door(
        "IRC",
        session,
        max_line_bytes=MAX_LINE_BYTES + MAX_TAG_BYTES + 1,
        refusal=lambda text: line("", "ERROR", text),
        errors="surrogateescape",
        strip_telnet=False,
        ping_interval_s=config.ping_interval_s,
        ping_timeout_s=config.ping_timeout_s,
        sendq_reason="SendQ exceeded",
        redact=_redact_pass,
    )


def _redact_pass(raw: bytes) -> bytes:
    """A line as the debug log may show it: never the server password."""
    return b"PASS <password>" if raw[:5].upper() == b"PASS " else raw
