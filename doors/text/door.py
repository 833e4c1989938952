"""The text door's part in a connection: its session factory and its limits."""

from __future__ import annotations

from config.settings import Config
from doors.door import Door, Link
from doors.text.render import TextRender
from doors.text.session import Session
from rooms import RoomManager


def text_door(rooms: RoomManager, config: Config) -> Door:
    """The door a listener serves: a `Session` for each connection. Every text
    connection shares one TextRender, so a room words each event once for all."""
    render = TextRender()

    def session(conn: Link) -> Session:
        return Session(
            rooms, config, conn.say, write=conn.write, render=render,
            peer=conn.peer, close=conn.close,
        )  # fmt: skip

    return Door(
        "text", session, config.max_line_bytes, refusal=lambda text: f"! {text}",
        redact=_redact_secrets,
    )  # fmt: skip


def _redact_secrets(raw: bytes) -> bytes:
    """A line as the debug log may show it: never a reclaim code, nor an oper password."""
    for command, secret in ((b"/reclaim ", b" <code>"), (b"/oper ", b" <password>")):
        if raw[: len(command)].lower() == command:
            rest = raw[len(command) :].lstrip(b" ")
            return raw[: len(command)] + rest.split(b" ", 1)[0] + secret
    return raw
