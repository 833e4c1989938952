"""The registry: who is connected, which rooms exist and who is in each; and fan-out.

It deals in users, rooms and events, never in wording, lines or sockets: every member
brings its own `render` (event -> bytes, one per front door and set of options) and
`write` (bytes to its connection, never blocks, never raises). A room renders each
event once per render present and batches what it publishes within one event-loop
pass, so a burst of messages costs each member one write. Membership is per room: a
member may be in many rooms (IRC) or one (the text door keeps its current room
itself). Registry changes run under one asyncio.Lock; the hot path, `Room.say`,
takes none.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable

from registry.errors import (
    AlreadyInRoom,
    AlreadyThere,
    BadKey,
    Banned,
    InviteOnly,
    NameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotOperator,
    NotThere,
    ReclaimLimited,
    ReclaimRefused,
    RoomExists,
    RoomFull,
    TooManyInvites,
    TooManyJoined,
    TooManyRooms,
)
from registry.events import (
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    ModeChanged,
    Quit,
    Reconnected,
    Renamed,
    TopicSet,
)
from registry.history import History, SavedRoom
from registry.masks import Change, complete, mask_problem, word_changes
from registry.modes import Refusal, key_problem, remute_room
from registry.reclaim import Reclaims
from registry.relay import Relay
from registry.room import (
    Defer,
    Departed,
    Listed,
    Member,
    Render,
    Room,
    Write,
    _listed,
    call_soon,
    is_banned,
    is_visible,
)
from utils import name_key

log = logging.getLogger(__name__)


class RoomManager:
    """Users and rooms by case-insensitive name; every change atomic under one lock."""

    def __init__(
        self,
        *,
        max_rooms: int = 1000,
        max_joined: int = 50,
        clock: Callable[[], float] = time.time,
        defer: Defer = call_soon,
        whowas: int = 200,
        max_list_masks: int = 100,
        max_invites: int = 100,
        max_key_chars: int = 23,
        server_name: str = "server",
        history: History | None = None,
        replay_lines: int = 20,
    ) -> None:
        self.max_rooms = max_rooms
        self.max_joined = max_joined
        self.max_list_masks = max_list_masks  # each of a room's lists: bans, exceptions, ...
        self.max_invites = max_invites  # a room's invitations not yet used
        self.max_key_chars = max_key_chars
        self.max_mask_chars = 160
        self.server_name = server_name  # the source of what the server itself does
        self.clock = clock
        self.started = clock()
        self._defer = defer
        self._users: dict[str, Member] = {}
        self._rooms: dict[str, Room] = {}
        self._lock = asyncio.Lock()
        self.whowas: deque[Departed] = deque(maxlen=whowas)
        self.reclaims = Reclaims(clock)
        self.relay: Relay | None = None  # the cluster's (issue 13); None: one server
        # Message ids: a counter from the start time in microseconds, so ids from a later
        # run are larger (no run makes a million messages a second). A bound __next__
        # is the cheapest call there is: one id for every message said.
        start = time.time_ns() // 1000
        self.new_id: Callable[[], str] = map(str, itertools.count(start)).__next__
        # History (issue 9): the store behind the rooms; --no-history's keeps nothing.
        self.history = history or History()
        self.replay_lines = replay_lines

    def attach_history(self, history: History) -> None:
        """Use this store (on the event loop, before any user): make its rooms again."""
        self.history = history
        history.attach(self.sweep)
        for saved in history.restored():
            self._restore(saved)

    def _restore(self, saved: SavedRoom) -> None:
        key = name_key(saved.name)
        if key in self._rooms:
            return
        room = self._new_room(saved.name)
        room.created = saved.created
        room.restore(saved.settings)
        room.recent.extend(saved.recent)
        self._rooms[key] = room

    def _new_room(self, name: str) -> Room:
        room = Room(name, self.clock, self._defer, self.new_id)
        room.relay = self.relay
        if self.history.is_on:
            room.recent = deque(maxlen=max(self.replay_lines, 1))
            room.keep = self.history.keeper(room)
        return room

    def _kept_room(self, name: str) -> Room:
        """A new room, its row queued for the store (gone again if it closes unused)."""
        room = self._new_room(name)
        self.history.save_room(room)
        return room

    def history_since(self) -> float:
        """The time before which history has expired (0: nothing expires)."""
        retention = self.history.retention_s
        return self.clock() - retention if retention else 0.0

    def holds_history(self, room: Room) -> bool:
        """Whether a room keeps lines that have not expired: such a room stays empty."""
        return bool(room.recent) and room.recent[-1].ts >= self.history_since()

    def sweep(self) -> None:
        """Drop the empty rooms whose history has all expired (the store calls this)."""
        for room in list(self._rooms.values()):
            if not room.members and not self.holds_history(room):
                self._close_room(room)

    def find(self, name: str) -> Member | None:
        """The connected user with this name (any case), if any."""
        return self._users.get(name_key(name))

    def room(self, name: str) -> Room | None:
        """The room with this name (any case), if any."""
        return self._rooms.get(name_key(name))

    def users(self) -> list[Member]:
        """A snapshot of every connected user, sorted by name."""
        return sorted(self._users.values(), key=lambda m: name_key(m.name))

    def snapshot(self) -> tuple[dict[str, Member], dict[str, Room]]:
        """Copies of the users and rooms by key, for checks and tests."""
        return dict(self._users), dict(self._rooms)

    def rooms(self) -> list[Room]:
        """A snapshot of the rooms, sorted by name."""
        return sorted(self._rooms.values(), key=lambda r: r.key)

    async def listing(self, member: Member | None = None) -> list[tuple[str, int]]:
        """The rooms as (name, member count), sorted case-insensitively; with a
        member, only those it may see (a secret room only by its members)."""
        async with self._lock:
            rooms = self.rooms()
            if member is not None:
                rooms = [room for room in rooms if is_visible(room, member)]
            return [(room.name, len(room.members)) for room in rooms]

    async def claim(
        self,
        name: str,
        write: Write,
        render: Render,
        *,
        user: str = "",
        host: str = "",
        realname: str = "",
        door: str = "text",
    ) -> Member:
        """Take a free name and become a member; NameTaken if anyone has it."""
        async with self._lock:
            key = name_key(name)
            if key in self._users:
                raise NameTaken(name)
            if self.relay is not None and not await self.relay.claim(name):
                raise NameTaken(name)
            member = Member(name, write, render, user, host, realname, door, signon=self.clock())
            self._users[key] = member
            if self.relay is not None:
                self.relay.claimed(member)
            return member

    async def release(self, member: Member, reason: str = "") -> None:
        """Forget a member that disconnected; those who share a room are told it quit."""
        async with self._lock:
            if self.relay is not None and self._users.get(name_key(member.name)) is member:
                self.relay.released(member, reason)
            if member.rooms:
                names = ", ".join(r.name for r in member.rooms)
                log.info("%s quit %s%s", member.name, names, f" ({reason})" if reason else "")
                self.tell_peers(member, Quit(member.name, reason, member.mask))
                for room in list(member.rooms):
                    self._remove(member, room)
            for room in member.invites:
                room.invited.pop(member, None)
            member.invites.clear()
            key = name_key(member.name)
            if self._users.get(key) is member:
                del self._users[key]
                self.reclaims.disconnected(key)
                self._remember(member)

    async def rename(self, member: Member, new_name: str) -> bool:
        """Change a member's name; whoever shares a room is told, the member too.
        NameTaken if another has it. Returns whether anyone was told."""
        async with self._lock:
            old_key, new_key = name_key(member.name), name_key(new_name)
            if new_key != old_key and new_key in self._users:
                raise NameTaken(new_name)
            if (
                self.relay is not None
                and new_key != old_key
                and not await self.relay.claim(new_name)
            ):
                raise NameTaken(new_name)
            old, mask = member.name, member.mask
            self._remember(member)
            del self._users[old_key]
            member.name = new_name
            member.remask()
            self._users[new_key] = member
            self.reclaims.renamed(old_key, new_key, new_name)
            told = bool(member.rooms)
            if told:
                self.tell_peers(member, Renamed(old, new_name, mask), include_self=True)
            self._remute(member)  # a name ban may match the new name, or no longer
            if self.relay is not None:
                self.relay.renamed(member, old)
            log.info("%s is now known as %s", old, new_name)
            return told

    def issue_code(self, member: Member) -> str:
        """A reclaim code for this member's name (the only copy: it is not kept)."""
        return self.reclaims.issue(name_key(member.name), member.name)

    async def reclaim(
        self, name: str, code: str, address: str, write: Write, render: Render, host: str
    ) -> Member:
        """Take a name back with its code: from a ghost still holding it (whose rooms
        see it reconnect), or a free name. ReclaimRefused, ReclaimLimited, NameTaken."""
        async with self._lock:
            if not self.reclaims.allow(address):
                raise ReclaimLimited(name, int(self.reclaims.refill_s))
            key = name_key(name)
            held = self.reclaims.check(key, code)
            if held is None:
                raise ReclaimRefused(name)
            ghost = self._users.get(key)
            if ghost is None:
                if self.relay is not None and not await self.relay.claim(held):
                    raise NameTaken(held)
                member = Member(held, write, render, "~" + held[:9], host, signon=self.clock())
                self._users[key] = member
                if self.relay is not None:
                    self.relay.claimed(member)
                return member
            if ghost.detach is not None:
                ghost.detach()
            ghost.flush_rooms()
            ghost.write = write
            ghost.host = host
            ghost.remask()
            self._remute(ghost)
            self.set_render(ghost, render)
            self.tell_peers(ghost, Reconnected(ghost.name, ghost.mask))
            if self.relay is not None:
                self.relay.reconnected(ghost)
            log.info("%s reconnected", ghost.name)
            return ghost

    def set_away(self, member: Member, text: str) -> None:
        """Mark a member away (or back, with no text); those sharing a room are told."""
        member.away = text
        if self.relay is not None:
            self.relay.away(member)
        if member.rooms:
            self.tell_peers(member, AwayChanged(member.name, text, member.mask))

    def set_render(self, member: Member, render: Render) -> None:
        """Change how a member's events are worded (its IRC capabilities changed)."""
        for room in member.rooms:
            room._swap_render(member, render)
        member.render = render

    def set_topic(self, member: Member, room: Room, text: str) -> None:
        room.topic, room.topic_by, room.topic_ts = text, member.mask, self.clock()
        event = TopicSet(member.name, room.name, text, room.topic_ts, member.mask, self.new_id())
        room.publish(event)
        room.keep(event)
        self.history.save_room(room)

    def tell_peers(self, member: Member, event: Event, *, include_self: bool = False) -> None:
        """Deliver a user-level event once to everyone who shares a room with `member`."""
        member.flush_rooms()
        peers: dict[Member, None] = {}
        for room in member.rooms:
            peers.update(room.members)
        if not include_self:
            peers.pop(member, None)
        rendered: dict[Render, bytes] = {}
        for peer in peers:
            data = rendered.get(peer.render)
            if data is None:
                data = rendered[peer.render] = peer.render(event)
            if data:
                peer.write(data)

    async def create(self, member: Member, room_name: str, *, leave: Room | None = None) -> Room:
        """Make a new room and put the member in it, out of `leave` first;
        RoomExists, TooManyRooms or TooManyJoined."""
        if self.relay is not None and name_key(room_name) not in self._rooms:
            await self.relay.find_room(room_name)  # made on another server a moment ago?
        async with self._lock:
            key = name_key(room_name)
            if key in self._rooms:
                raise RoomExists(self._rooms[key].name)
            if self.relay is not None and not await self.relay.claim_room(room_name):
                raise RoomExists(room_name)  # made on another server this instant
            return self._create(member, room_name, leave)

    async def join(
        self,
        member: Member,
        room_name: str,
        *,
        leave: Room | None = None,
        create: bool = False,
        admit: Callable[[Room], None] | None = None,
        key: str = "",
    ) -> tuple[Room, bool]:
        """Put the member in an existing room (or a new one, with `create`), out of
        `leave` first; `admit` may refuse by raising. Returns the room and whether
        it was made. NoSuchRoom, AlreadyInRoom, TooManyRooms or TooManyJoined; the
        room's own rules: Banned, InviteOnly, BadKey, RoomFull (see `_admit`)."""
        for tries in range(2):  # in a cluster, again if another server made it meanwhile
            if self.relay is not None and name_key(room_name) not in self._rooms:
                await self.relay.find_room(room_name)  # made elsewhere a moment ago?
            async with self._lock:
                room = self._rooms.get(name_key(room_name))
                if room is not None:
                    return self._join(member, room, leave, admit, key), False
                if not create:
                    raise NoSuchRoom(room_name)
                if self.relay is None or tries or await self.relay.claim_room(room_name):
                    return self._create(member, room_name, leave), True
        raise AssertionError("unreachable")

    def _join(
        self,
        member: Member,
        room: Room,
        leave: Room | None,
        admit: Callable[[Room], None] | None,
        key: str,
    ) -> Room:
        """join() for a room that exists here."""
        if room in member.rooms:
            raise AlreadyInRoom(room.name)
        if admit is not None:
            admit(room)
        self._check_joined(member, leave)
        self._admit(room, member, key)
        if leave is not None:
            self._leave(member, leave)
        room._add(member)
        if member in room.invited:  # an invitation works once
            del room.invited[member], member.invites[room]
        if not room.ops and len(room.members) == 1:
            room.ops.add(member)  # an empty room kept (a store's): as if it made it
        room.publish(Joined(member.name, room.name, member.mask), member)
        if member.away:
            room.publish(AwayChanged(member.name, member.away, member.mask), member)
        log.info("%s joined %s", member.name, room.name)
        return room

    async def leave(self, member: Member, room: Room, reason: str = "") -> None:
        """Take the member out of a room it is in; the room is told."""
        async with self._lock:
            if room in member.rooms:
                self._leave(member, room, reason)

    def _create(self, member: Member, room_name: str, leave: Room | None) -> Room:
        if len(self._rooms) >= self.max_rooms:
            raise TooManyRooms(room_name, self.max_rooms)
        self._check_joined(member, leave)
        if leave is not None:
            self._leave(member, leave)
        room = self._kept_room(room_name)
        self._rooms[room.key] = room
        room._add(member)
        room.ops.add(member)
        if self.relay is not None:
            self.relay.created(room, member)
        log.info("%s created %s", member.name, room.name)
        return room

    def _check_joined(self, member: Member, leave: Room | None) -> None:
        if len(member.rooms) - (leave in member.rooms) >= self.max_joined:
            raise TooManyJoined(member.name, self.max_joined)

    def _leave(self, member: Member, room: Room, reason: str = "") -> None:
        log.info("%s left %s", member.name, room.name)
        self._remove(member, room, Left(member.name, room.name, member.mask, reason))

    def _remove(
        self, member: Member, room: Room, farewell: Event | None = None, *, name_heir: bool = True
    ) -> None:
        """Take the member out (the room hears `farewell`, if any); close an emptied
        room, or give a room its last operator left to the longest-present member
        (unless not `name_heir`: a cluster's member left, and its own server names one)."""
        was_op = member in room.ops
        room._remove(member)
        if not room.members:
            if not self.holds_history(room):
                self._close_room(room)
            return
        if farewell is not None:
            room.publish(farewell)
        if was_op and not room.ops and name_heir:
            # The last operator left: the longest-present member keeps the room.
            heir = next(iter(room.members))
            room.ops.add(heir)
            log.info("%s is now an operator of %s (the last one left)", heir.name, room.name)
            event = ModeChanged("", room.name, "+o", (heir.name,), self.server_name)
            room.publish(event)

    def _close_room(self, room: Room) -> None:
        del self._rooms[room.key]
        if self.relay is not None:
            self.relay.closed(room)
        for invitee in room.invited:
            invitee.invites.pop(room, None)
        room.invited.clear()
        self.history.forget_room(room.key)  # its row, and any lines left
        log.info("room %s closed", room.name)

    # --- Moderation: the rules both doors enforce. ---
    def _admit(self, room: Room, member: Member, key: str) -> None:
        """Let the member in, or say why not: Banned (a ban and no exception),
        InviteOnly (+i: no invitation, no invite exception), BadKey (+k), RoomFull
        (+l). An operator's invitation lets in past +i, +k and +l, not past a ban."""
        if is_banned(room, member):
            raise Banned(room.name)
        if member in room.invited:
            return
        if "i" in room.modes and not _listed(room, "I", member):
            raise InviteOnly(room.name)
        if room.join_key and key != room.join_key:
            raise BadKey(room.name)
        if room.limit and len(room.members) >= room.limit:
            raise RoomFull(room.name, room.limit)

    async def kick(self, member: Member, room: Room, name: str, reason: str = "") -> Member:
        """An operator puts a member out of the room (who may come back unless banned).
        NotInRoom, NotOperator, NoSuchUser, NotThere."""
        async with self._lock:
            if room not in member.rooms:
                raise NotInRoom(room.name)
            if member not in room.ops:
                raise NotOperator(room.name)
            target = self.find(name)
            if target is None:
                raise NoSuchUser(name)
            if room not in target.rooms:
                raise NotThere(room.name, target.name)
            room.publish(Kicked(member.name, room.name, target.name, reason, member.mask))
            log.info("%s kicked %s from %s", member.name, target.name, room.name)
            self._remove(target, room)
            if target.kicked is not None:
                target.kicked(room)
            return target

    async def invite(self, member: Member, room_name: str, name: str) -> tuple[Room, Member]:
        """Invite a user to a room the member is in; an operator's invitation lets the
        user in past +i, +k and +l once. Anyone may invite to a room without +i (a
        notice only). NoSuchUser, NoSuchRoom, NotInRoom, AlreadyThere, NotOperator,
        TooManyInvites."""
        async with self._lock:
            target = self.find(name)
            if target is None:
                raise NoSuchUser(name)
            room = self._rooms.get(name_key(room_name))
            if room is None:
                raise NoSuchRoom(room_name)
            if room not in member.rooms:
                raise NotInRoom(room.name)
            if room in target.rooms:
                raise AlreadyThere(room.name, target.name)
            is_op = member in room.ops
            if "i" in room.modes and not is_op:
                raise NotOperator(room.name)
            if is_op and target not in room.invited:
                if len(room.invited) >= self.max_invites:
                    raise TooManyInvites(room.name, self.max_invites)
                room.invited[target] = None
                target.invites[room] = None
            log.info("%s invited %s to %s", member.name, target.name, room.name)
            target.send(Invited(member.name, room.name, target.name, member.mask, True))
            room.publish(Invited(member.name, room.name, target.name, member.mask), member)
            return room, target

    def change_modes(
        self, member: Member, room: Room, changes: list[Change]
    ) -> tuple[list[Change], list[Refusal]]:
        """Apply an operator's mode changes in order; the room sees one ModeChanged
        for all that changed something. Returns what changed and what was refused
        (each change on its own, as a Refusal). NotOperator."""
        if member not in room.ops:
            raise NotOperator(room.name)
        done: list[Change] = []
        refused: list[Refusal] = []
        for change in changes:
            result = self._change(member, room, change)
            if isinstance(result, Refusal):
                refused.append(result)
            elif result is not None:
                done.append(result)
        for change in done:
            if change.letter in "be":
                remute_room(room, change)
        if done:
            self.history.save_room(room)
            modes, args = word_changes(done)
            room.publish(ModeChanged(member.name, room.name, modes, args, member.mask))
            logged = word_changes(
                [Change(c.sign, c.letter, "*") if c.letter == "k" else c for c in done]
            )
            log.info(
                "%s set mode %s on %s", member.name, " ".join((logged[0], *logged[1])), room.name
            )
        return done, refused

    def _change(self, member: Member, room: Room, change: Change) -> Change | Refusal | None:
        """One change: what was done (as the room is told), why not, or None (nothing
        to do: the mode was already so)."""
        sign, letter, arg = change.sign, change.letter, change.arg
        on = sign == "+"
        if letter in "ov":
            target = self.find(arg)
            if target is None:
                return Refusal(change, "no-such-user")
            if room not in target.rooms:
                return Refusal(change, "not-there", target.name)
            group = room.ops if letter == "o" else room.voiced
            if (target in group) == on:
                return None
            (group.add if on else group.discard)(target)
            return Change(sign, letter, target.name)
        if letter in "beI":
            return self._change_list(member, room, change)
        if letter == "k":
            if not on:
                if not room.join_key:
                    return None
                room.join_key = ""
                return Change("-", "k", "*")
            problem = key_problem(arg, self.max_key_chars)
            if problem:
                return Refusal(change, "bad-key", problem)
            room.join_key = arg
            return change
        if letter == "l":
            if not on:
                if not room.limit:
                    return None
                room.limit = 0
                return change
            limit = int(arg) if arg.isascii() and arg.isdigit() else 0
            if not 0 < limit <= 1_000_000:
                return Refusal(change, "bad-limit", "must be a number from 1 to 1000000")
            room.limit = limit
            return Change("+", "l", str(limit))
        if (letter in room.modes) == on:
            return None
        (room.modes.add if on else room.modes.discard)(letter)
        return Change(sign, letter)

    def _change_list(self, member: Member, room: Room, change: Change) -> Change | Refusal | None:
        listed = room.lists[change.letter]
        problem = mask_problem(change.arg, self.max_mask_chars)
        if problem:
            return Refusal(change, "bad-mask", problem)
        mask = complete(change.arg)
        key = name_key(mask)
        found = next((entry for entry in listed if name_key(entry.mask) == key), None)
        if change.sign == "-":
            if found is None:
                return None
            listed.remove(found)
            return Change("-", change.letter, found.mask)
        if found is not None:
            return None
        if len(listed) >= self.max_list_masks:
            return Refusal(change, "list-full", str(self.max_list_masks))
        listed.append(Listed(mask, member.mask, self.clock()))
        return Change("+", change.letter, mask)

    def _remute(self, member: Member) -> None:
        """The member's name or address changed: which bans match it again."""
        for room in member.rooms:
            if is_banned(room, member):
                room.muted.add(member)
            else:
                room.muted.discard(member)

    def _remember(self, member: Member) -> None:
        self.whowas.appendleft(
            Departed(member.name, member.user, member.host, member.realname, self.clock())
        )
