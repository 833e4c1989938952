"""A trivial fan-out server: the ceiling the load generator can measure.

Speaks just enough of docs/protocol.md for the bench clients (name prompt, menu "1" to
create a room, "/join NAME" to join, ``Joined room [NAME]``), then sends every chat
line to every member of the room, the sender included, as ``[HH:MM] <name> text``.
Lines posted in one event-loop pass are joined and written once per member per pass.
No flood control, no limits, no commands: never use it for anything but benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import time

log = logging.getLogger("trivial_server")

WELCOME = b"Welcome to the trivial bench server.\r\nEnter your username:\r\n"
MENU = b"--- Chat Menu ---\r\n1. Create a new chat room\r\nEnter your choice:\r\n"


class Room:
    """Members, and the lines posted since the last flush."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: list[Member] = []
        self.pending: list[bytes] = []

    def post(self, line: bytes) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append(line)

    def flush(self) -> None:
        data = b"".join(self.pending)
        self.pending.clear()
        for member in self.members:
            member.transport.write(data)


class Member(asyncio.Protocol):
    """One connection: name, menu, then chat."""

    def __init__(self, rooms: dict[str, Room]) -> None:
        self.rooms = rooms
        self.buf = b""
        self.state = "name"
        self.prefix = b""
        self.room: Room | None = None
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(WELCOME)

    def data_received(self, data: bytes) -> None:
        lines = (self.buf + data).split(b"\n")
        self.buf = lines.pop()
        room = self.room
        if room is not None and self.state == "chat":
            stamp = time.strftime("[%H:%M] ").encode()
            for line in lines:
                room.post(stamp + self.prefix + line.rstrip(b"\r") + b"\r\n")
            return
        for line in lines:
            self.on_line(line.rstrip(b"\r").decode("utf-8", "replace"))

    def on_line(self, line: str) -> None:
        room = self.room
        if self.state == "name":
            self.prefix = f"<{line}> ".encode()
            self.state = "menu"
            self.transport.write(MENU)
        elif self.state == "menu" and line == "1":
            self.state = "new_room"
            self.transport.write(b"Enter new room name:\r\n")
        elif self.state == "new_room":
            self.join(self.rooms.setdefault(line.casefold(), Room(line)))
        elif self.state == "menu" and line[:6] == "/join " and line[6:].casefold() in self.rooms:
            self.join(self.rooms[line[6:].casefold()])
        elif self.state == "chat" and room is not None:
            room.post(time.strftime("[%H:%M] ").encode() + self.prefix + line.encode() + b"\r\n")
        else:
            self.transport.write(b"! Not understood.\r\n" + MENU)

    def join(self, room: Room) -> None:
        self.room = room
        self.state = "chat"
        room.members.append(self)
        self.transport.write(f"Joined room [{room.name}]. Type 'exit' to leave.\r\n".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        room = self.room
        if room is not None:
            room.members.remove(self)
            if not room.members:
                self.rooms.pop(room.name.casefold(), None)


async def serve(host: str, port: int) -> None:
    """Serve until cancelled."""
    rooms: dict[str, Room] = {}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Member(rooms), host, port, backlog=4096)
    bound = server.sockets[0].getsockname()
    log.info("listening on %s:%d", bound[0], bound[1])
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse the server flags the bench passes (unknown ones are ignored) and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log-level", default="INFO")
    args, _unknown = parser.parse_known_args()
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
