"""What both doors' sessions share, written once: the server password and its limit on
wrong attempts, the reserved names, how a session's lines and bytes go out, and how it
lets go of its name when it closes.

The wording stays each door's own (docs/protocol.md, docs/irc.md): this module decides,
the door's session says. No sockets and no wording here.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import registry as r
from config.settings import Config
from doors.door import Link
from registry.reclaim import same_secret
from rooms import RoomManager
from utils import address_group, name_key

log = logging.getLogger(__name__)

# Nobody may pass for the server itself, nor for its services (doors/services.py), on
# either door.
RESERVED_NAMES = frozenset({"server", "nickserv", "chanserv"})

Password = enum.Enum("Password", "RIGHT WRONG BLOCKED")


def is_reserved(name: str) -> bool:
    """Whether `name` (in any case) is kept from users."""
    return name_key(name) in RESERVED_NAMES


class SessionBase:
    """The parts of a door's session that do not depend on its protocol: the registry,
    the settings, where its lines and bytes go, the member it holds and its last name.

    Slots, in every session class: a server holds thousands of idle sessions. Its lines
    go to `out`, or else to its connection's (`link`) say(): the door passes the
    connection itself rather than a bound method of it to keep."""

    __slots__ = (
        "_last_name", "_link", "_out", "_peer", "config", "device", "host", "member", "rooms",
        "write",
    )  # fmt: skip

    def __init__(
        self,
        rooms: RoomManager,
        config: Config,
        out: Callable[[str], None] | None,
        write: r.Write | None,
        *,
        host: str,
        peer: str,
        link: Link | None = None,
    ) -> None:
        self.rooms = rooms
        self.config = config
        self.host = host
        self._peer = peer if link is None else ""  # with a link, its own says it
        self.member: r.Member | None = None
        self.device: r.Device | None = None  # this connection, if the member has others
        self._last_name = "-"
        self._out = out
        self._link = link
        assert out is not None or link is not None, "lines must go somewhere"
        # Without a connection (the unit tests) its rooms' bytes reach `out` as lines.
        self.write: r.Write = write or self._write_lines

    @property
    def peer(self) -> str:
        """Who is on the other end ("ip:port"), for the log."""
        return self._link.peer if self._link is not None else self._peer

    def _emit(self, *lines: str) -> None:
        """Lines to this user alone, after anything its rooms have pending for it."""
        if self.member is not None:
            self.member.flush_rooms()
        out = self._line_out()
        for line in lines:
            out(line)

    def _line_out(self) -> Callable[[str], None]:
        if self._out is not None:
            return self._out
        assert self._link is not None
        return self._link.say

    def _write_lines(self, data: bytes) -> None:
        out = self._line_out()
        for line in data.decode().split("\r\n")[:-1]:
            out(line)

    def _hang_up_link(self) -> None:
        """Close the connection (after what is buffered), if the session has one."""
        if self._link is not None:
            self._link.close()

    async def _release(self, reason: str) -> None:
        """This connection is done with its member: the name is freed (those who share a
        room see the quit) unless the member has another connection; the name is kept
        for the logs."""
        member, self.member = self.member, None
        device, self.device = self.device, None
        if member is not None:
            self._last_name = member.name
            await self.rooms.disconnect(member, device, reason)

    def check_password(self, given: str) -> Password:
        """The server password against `given`, compared in constant time. A wrong one
        counts against the client's address; an address with too many gets no further try."""
        attempts, address = self.rooms.reclaims, address_group(self.host)
        if attempts.blocked(address):
            log.warning("%s: too many wrong passwords from its address", self.peer)
            return Password.BLOCKED
        if same_secret(given, self.config.password):
            return Password.RIGHT
        attempts.allow(address)  # only a wrong password counts against the address
        log.info("%s gave a wrong server password", self.peer)
        return Password.WRONG
