"""The text door's part in a connection: its session factory and its limits."""

from __future__ import annotations

from config.settings import Config
from doors import services
from doors.door import Door, Link
from doors.text.render import Renders
from doors.text.session import Session
from rooms import RoomManager


def text_door(rooms: RoomManager, config: Config) -> Door:
    """The door a listener serves: a `Session` for each connection. The text
    connections in one room share one TextRender (Renders), so a room words each event
    once for all of them."""
    renders = Renders()

    def session(conn: Link) -> Session:
        return Session(
            rooms, config, None, write=conn.write, renders=renders, peer=conn.peer, link=conn
        )

    return Door(
        "text", session, config.max_line_bytes, refusal=lambda text: f"! {text}",
        redact=_redact_secrets,
    )  # fmt: skip


def _redact_secrets(raw: bytes) -> bytes:
    """A line as the debug log may show it: never a reclaim code, nor a password (an
    oper's, an account's; the account prompt's answer the connection hides itself)."""
    lowered = raw.lstrip(b" ").lower()
    for command in (b"/register", b"/password"):
        if lowered == command or lowered.startswith(command + b" "):
            return command + b" <password>"
    if lowered.startswith(b"/msg "):
        name, _, text = raw.lstrip(b" ")[5:].lstrip(b" ").partition(b" ")
        service = services.service_name(name.decode(errors="replace"))
        if service is not None:
            shown = services.redact(text.decode(errors="replace"))
            return f"/msg {service} {shown}".encode()
    for command, secret in ((b"/reclaim ", b" <code>"), (b"/oper ", b" <password>")):
        if raw[: len(command)].lower() == command:
            rest = raw[len(command) :].lstrip(b" ")
            return raw[: len(command)] + rest.split(b" ", 1)[0] + secret
    return raw
