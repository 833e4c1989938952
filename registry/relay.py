"""The port through which the registry tells the other servers of a cluster what its
own members do (cluster/link.py implements it; None on one server). What the other
servers did comes back through RoomManager's public verbs (rooms.py), never here."""

from __future__ import annotations

from typing import Protocol

from registry.events import Event
from registry.room import Member, Room


class Relay(Protocol):
    """What the registry tells the other servers of a cluster (cluster/link.py; None on
    one server). It hears what this server's own members do; what it applies from the
    other servers it does not hear again."""

    async def claim(self, name: str) -> bool:
        """Whether the cluster lets this server's member have the name."""
        ...

    def unclaim(self, name: str) -> None:
        """Give back a name claim() granted but the registry could not use (a user of
        another server got it here while the cluster answered)."""
        ...

    def claimed(self, member: Member) -> None: ...
    def logged(self, member: Member) -> None:
        """The member logged in to an account, or out of one."""
        ...

    def released(self, member: Member, reason: str) -> None: ...
    def renamed(self, member: Member, old: str) -> None: ...
    def away(self, member: Member) -> None: ...
    def reconnected(self, member: Member) -> None: ...
    def created(self, room: Room, member: Member) -> None: ...
    def room_event(self, room: Room, event: Event) -> None: ...

    async def claim_room(self, name: str) -> bool:
        """Whether the cluster lets this server make the room (nobody else just did)."""
        ...

    async def find_room(self, name: str) -> None:
        """Wait (a moment) for a room another server has made to be known here."""
        ...

    def closed(self, room: Room) -> None: ...
