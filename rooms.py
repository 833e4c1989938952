"""The registry: who is connected, which rooms exist and who is in each; and fan-out.

It deals in users, rooms and events, never in wording, lines or sockets: every member
brings its own `render` (event -> bytes, one per front door) and `write` (bytes to its
connection, never blocks, never raises). A room renders each event once per front
door and batches what it publishes within one event-loop pass, so a burst of
messages costs each member one write. Registry changes run under one asyncio.Lock;
the hot path, `Room.say`, takes none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from utils import name_key

log = logging.getLogger(__name__)


# --- Events: what happened, for each front door to render its own way. ---
@dataclass(frozen=True, slots=True)
class Said:
    name: str
    text: str
    ts: float


@dataclass(frozen=True, slots=True)
class Acted:
    name: str
    text: str
    ts: float


@dataclass(frozen=True, slots=True)
class Whispered:
    sender: str
    text: str
    ts: float


@dataclass(frozen=True, slots=True)
class Joined:
    name: str
    room: str


@dataclass(frozen=True, slots=True)
class Left:
    name: str
    room: str


@dataclass(frozen=True, slots=True)
class Quit:
    name: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Renamed:
    old: str
    new: str


Event = Said | Acted | Whispered | Joined | Left | Quit | Renamed
Render = Callable[[Event], bytes]
Write = Callable[[bytes], None]
Defer = Callable[[Callable[[], None]], object]


# --- Why a registry change was refused; the session words it. ---
class RegistryError(Exception):
    def __init__(self, name: str = "", limit: int = 0) -> None:
        super().__init__(name)
        self.name = name
        self.limit = limit


class NameTaken(RegistryError):
    pass


class RoomExists(RegistryError):
    pass


class NoSuchRoom(RegistryError):
    pass


class AlreadyInRoom(RegistryError):
    pass


class TooManyRooms(RegistryError):
    pass


@dataclass(eq=False, slots=True)
class Member:
    """A connected user with a name; identity, since members live in sets."""

    name: str
    write: Write
    render: Render
    room: Room | None = None

    def send(self, event: Event) -> None:
        """Deliver one event to this member alone, after what its room has pending."""
        self.flush_room()
        self.write(self.render(event))

    def flush_room(self) -> None:
        """Write out the room's batch first, so this member's lines stay in order."""
        room = self.room
        if room is not None and room.pending:
            room.flush()


class Room:
    """A named set of members and the fan-out to them. Made only by RoomManager."""

    __slots__ = ("_clock", "_defer", "_renders", "key", "members", "name", "pending")

    def __init__(self, name: str, clock: Callable[[], float], defer: Defer) -> None:
        self.name = name
        self.key = name_key(name)
        self.members: dict[Member, None] = {}  # an ordered set
        self.pending: dict[Render, list[bytes]] = {}
        self._renders: dict[Render, int] = {}  # front doors present, with member counts
        self._clock = clock
        self._defer = defer

    def names(self) -> list[str]:
        """A snapshot of the members' names, sorted case-insensitively."""
        return sorted((m.name for m in self.members), key=name_key)

    def say(self, member: Member, text: str) -> None:
        self.publish(Said(member.name, text, self._clock()))

    def act(self, member: Member, text: str) -> None:
        self.publish(Acted(member.name, text, self._clock()))

    def publish(self, event: Event) -> None:
        """Queue an event for every member; the batch is written at the next loop pass."""
        pending = self.pending
        first = not pending
        for render in self._renders:
            data = render(event)
            batch = pending.get(render)
            if batch is None:
                pending[render] = [data]
            else:
                batch.append(data)
        if first and pending:
            self._defer(self.flush)

    def flush(self) -> None:
        """Write everything published since the last flush: one write per member."""
        pending = self.pending
        if not pending:
            return
        self.pending = {}
        if len(pending) == 1:
            ((_, parts),) = pending.items()
            data = b"".join(parts)
            for member in self.members:
                member.write(data)
            return
        joined = {render: b"".join(parts) for render, parts in pending.items()}
        for member in self.members:
            member.write(joined[member.render])

    def _add(self, member: Member) -> None:
        self.flush()  # a newcomer gets nothing published before it joined
        self.members[member] = None
        self._renders[member.render] = self._renders.get(member.render, 0) + 1
        member.room = self

    def _remove(self, member: Member) -> None:
        self.flush()  # a leaver still gets everything published before it left
        del self.members[member]
        count = self._renders.pop(member.render) - 1
        if count:
            self._renders[member.render] = count
        member.room = None


def _call_soon(callback: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_soon(callback)


class RoomManager:
    """Users and rooms by case-insensitive name; every change atomic under one lock."""

    def __init__(
        self,
        *,
        max_rooms: int = 1000,
        clock: Callable[[], float] = time.time,
        defer: Defer = _call_soon,
    ) -> None:
        self.max_rooms = max_rooms
        self.clock = clock
        self._defer = defer
        self._users: dict[str, Member] = {}
        self._rooms: dict[str, Room] = {}
        self._lock = asyncio.Lock()

    def find(self, name: str) -> Member | None:
        """The connected user with this name (any case), if any."""
        return self._users.get(name_key(name))

    def snapshot(self) -> tuple[dict[str, Member], dict[str, Room]]:
        """Copies of the users and rooms by key, for checks and tests."""
        return dict(self._users), dict(self._rooms)

    async def listing(self) -> list[tuple[str, int]]:
        """The rooms as (name, member count), sorted case-insensitively."""
        async with self._lock:
            return sorted(
                ((r.name, len(r.members)) for r in self._rooms.values()),
                key=lambda item: name_key(item[0]),
            )

    async def claim(self, name: str, write: Write, render: Render) -> Member:
        """Take a free name and become a member; NameTaken if anyone has it."""
        async with self._lock:
            key = name_key(name)
            if key in self._users:
                raise NameTaken(name)
            member = Member(name, write, render)
            self._users[key] = member
            return member

    async def release(self, member: Member, reason: str = "") -> None:
        """Forget a member that disconnected; its room is told it quit."""
        async with self._lock:
            room = member.room
            if room is not None:
                log.info("%s quit %s%s", member.name, room.name, f" ({reason})" if reason else "")
                self._remove(member, room)
                room.publish(Quit(member.name, reason))
            if self._users.get(name_key(member.name)) is member:
                del self._users[name_key(member.name)]

    async def rename(self, member: Member, new_name: str) -> None:
        """Change a member's name; its room is told. NameTaken if another has it."""
        async with self._lock:
            old_key, new_key = name_key(member.name), name_key(new_name)
            if new_key != old_key and new_key in self._users:
                raise NameTaken(new_name)
            old = member.name
            member.flush_room()
            del self._users[old_key]
            member.name = new_name
            self._users[new_key] = member
            if member.room is not None:
                member.room.publish(Renamed(old, new_name))
            log.info("%s is now known as %s", old, new_name)

    async def create(self, member: Member, room_name: str) -> Room:
        """Make a new room and move the member into it; RoomExists or TooManyRooms."""
        async with self._lock:
            key = name_key(room_name)
            if key in self._rooms:
                raise RoomExists(self._rooms[key].name)
            if len(self._rooms) >= self.max_rooms:
                raise TooManyRooms(room_name, self.max_rooms)
            self._leave(member)
            room = Room(room_name, self.clock, self._defer)
            self._rooms[key] = room
            room._add(member)
            log.info("%s created %s", member.name, room.name)
            return room

    async def join(self, member: Member, room_name: str) -> Room:
        """Move the member into an existing room; NoSuchRoom or AlreadyInRoom."""
        async with self._lock:
            room = self._rooms.get(name_key(room_name))
            if room is None:
                raise NoSuchRoom(room_name)
            if member.room is room:
                raise AlreadyInRoom(room.name)
            self._leave(member)
            room.publish(Joined(member.name, room.name))
            room._add(member)
            log.info("%s joined %s", member.name, room.name)
            return room

    async def leave(self, member: Member) -> Room | None:
        """Take the member out of its room, if any; the room is told."""
        async with self._lock:
            return self._leave(member)

    def _leave(self, member: Member) -> Room | None:
        room = member.room
        if room is not None:
            log.info("%s left %s", member.name, room.name)
            self._remove(member, room)
            room.publish(Left(member.name, room.name))
        return room

    def _remove(self, member: Member, room: Room) -> None:
        room._remove(member)
        if not room.members:
            del self._rooms[room.key]
            log.info("room %s closed", room.name)
