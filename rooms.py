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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from events import (
    Acted,
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    ModeChanged,
    Noticed,
    Quit,
    Reconnected,
    Renamed,
    Said,
    Tagged,
    TopicSet,
    Whispered,
)
from masks import Change, address_mask, complete, mask_problem, matches, word_changes
from reclaim import Reclaims
from store import History, Keep, Kept, SavedRoom
from utils import name_key

log = logging.getLogger(__name__)


__all__ = [
    "Acted",
    "AwayChanged",
    "Event",
    "Invited",
    "Joined",
    "Kicked",
    "Left",
    "ModeChanged",
    "Noticed",
    "Quit",
    "Reconnected",
    "Renamed",
    "Said",
    "Tagged",
    "TopicSet",
    "Whispered",
]

Render = Callable[[Event], bytes]
Write = Callable[[bytes], None]
Defer = Callable[[Callable[[], None]], object]


# --- Why a registry change was refused; the door words it. ---
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


class TooManyJoined(RegistryError):
    """The member is in as many rooms as one member may be."""


class ReclaimRefused(RegistryError):
    """The code is not this name's, or it expired."""


class ReclaimLimited(RegistryError):
    """This address tried too many codes; `limit` is the seconds until the next try."""


# --- Moderation: `name` is the room's, `who` the other member's. ---
class NotOperator(RegistryError):
    pass


class NotInRoom(RegistryError):
    """The member asking is not in the room."""


class NoSuchUser(RegistryError):
    """`name` is the user name asked for."""


class Banned(RegistryError):
    pass


class InviteOnly(RegistryError):
    pass


class BadKey(RegistryError):
    pass


class RoomFull(RegistryError):
    pass


class TooManyInvites(RegistryError):
    pass


class CannotSpeak(RegistryError):
    """The room refuses this member's messages; the subclass says why."""


class Moderated(CannotSpeak):
    pass


class BannedHere(CannotSpeak):
    pass


class NoOutside(CannotSpeak):
    pass


class MemberError(RegistryError):
    def __init__(self, name: str, who: str) -> None:
        super().__init__(name)
        self.who = who


class NotThere(MemberError):
    """`who` is not in the room."""


class AlreadyThere(MemberError):
    """`who` is in the room already (an invitation)."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One mask of a room's ban, exception or invite-exception list."""

    mask: str
    by: str  # the setter's nick!user@host
    ts: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """A mode change that was not made: `why` is "no-such-user", "not-there",
    "bad-key", "bad-limit", "bad-mask" or "list-full"; `detail` words it."""

    change: Change
    why: str
    detail: str = ""


@dataclass(eq=False, slots=True)
class Member:
    """A connected user with a name; identity, since members live in sets."""

    name: str
    write: Write
    render: Render
    user: str = ""  # IRC's username ("~name" for the text door)
    host: str = ""
    realname: str = ""
    door: str = "text"
    away: str = ""
    signon: float = field(default_factory=time.time)
    rooms: dict[Room, None] = field(default_factory=dict)  # an ordered set
    detach: Callable[[], None] | None = None  # its connection lets go of it (reclaimed)
    modes: set[str] = field(default_factory=set)  # IRC user modes: "i" invisible, "w"
    mask: str = ""  # nick!user@host, as IRC shows the source; kept by remask()
    invites: dict[Room, None] = field(default_factory=dict)  # rooms it was invited to
    kicked: Callable[[Room], None] | None = None  # its connection hears of a kick

    def __post_init__(self) -> None:
        self.remask()

    @property
    def server(self) -> str:
        """The cluster's server it is connected to ("": this one)."""
        return ""

    def remask(self) -> None:
        """Word the mask again after the name or host changed (each message carries it)."""
        self.mask = f"{self.name}!{self.user or '~' + self.name}@{self.host or 'localhost'}"

    def send(self, event: Event) -> None:
        """Deliver one event to this member alone, after what its rooms have pending."""
        self.flush_rooms()
        self.write(self.render(event))

    def flush_rooms(self) -> None:
        """Write out its rooms' batches first, so this member's lines stay in order."""
        for room in self.rooms:
            if room.pending:
                room.flush()


class Relay(Protocol):
    """What the registry tells the other servers of a cluster (cluster/link.py; None on
    one server). It hears what this server's own members do; what it applies from the
    other servers it does not hear again."""

    async def claim(self, name: str) -> bool:
        """Whether the cluster lets this server's member have the name."""
        ...

    def claimed(self, member: Member) -> None: ...
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


class Room:
    """A named set of members and the fan-out to them. Made only by RoomManager."""

    __slots__ = (
        "_clock", "_defer", "_ids", "_renders", "created", "invited", "join_key", "keep", "key",
        "limit", "lists", "members", "modes", "muted", "name", "ops", "pending", "recent",
        "relay", "skips",
        "topic", "topic_by", "topic_ts", "voiced",
    )  # fmt: skip

    def __init__(
        self, name: str, clock: Callable[[], float], defer: Defer, ids: Callable[[], str]
    ) -> None:
        self.name = name
        self.key = name_key(name)
        self.members: dict[Member, None] = {}  # an ordered set
        self.ops: set[Member] = set()  # its operators: whoever made it, for now
        self.voiced: set[Member] = set()
        self.modes: set[str] = {"n"}  # no messages from outside; "t": topic by operators
        self.pending: dict[Render, list[bytes]] = {}
        self.skips: list[tuple[Member, int]] = []  # (member, its batch index) not to echo
        self.topic = ""
        self.topic_by = ""
        self.topic_ts = 0.0
        # Moderation (plain values, so a store can keep them): the masks of "b", "e", "I";
        # the key (+k, "" none) and member limit (+l, 0 none).
        self.lists: dict[str, list[Listed]] = {"b": [], "e": [], "I": []}
        self.join_key = ""
        self.limit = 0
        self.invited: dict[Member, None] = {}  # invited by an operator, not yet joined
        self.muted: set[Member] = set()  # members a ban matches (they may not speak)
        self._renders: dict[Render, int] = {}  # renders present, with member counts
        self._clock = clock
        self._defer = defer
        self._ids = ids
        self.created = clock()
        self.relay: Relay | None = None  # a cluster's (issue 13): hears what is published
        # History (issue 9): its newest lines, for replay on join, and where each kept
        # line goes (RoomManager sets both: the store's keeper appends to `recent`).
        self.recent: deque[Kept] = deque(maxlen=1)
        self.keep: Keep = _keep_nothing

    def names(self) -> list[str]:
        """A snapshot of the members' names, sorted case-insensitively."""
        return sorted((m.name for m in self.members), key=name_key)

    def say(self, member: Member, text: str, *, echo: bool = True, tags: str = "") -> None:
        # The IRC door's _chat_fast inlines this for its commonest line: change both.
        if "m" in self.modes or member in self.muted:
            self.check_speaker(member)
        event = Said(member.name, text, self._clock(), self.name, member.mask, self._ids(), tags)
        self.publish(event, None if echo else member)
        self.keep(event)

    def act(self, member: Member, text: str, *, echo: bool = True, tags: str = "") -> None:
        if "m" in self.modes or member in self.muted:
            self.check_speaker(member)
        event = Acted(member.name, text, self._clock(), self.name, member.mask, self._ids(), tags)
        self.publish(event, None if echo else member)
        self.keep(event)

    def replay(self, count: int, since: float = 0.0) -> list[Kept]:
        """Its newest `count` kept lines from memory (none older than `since`), oldest
        first. Taken right after the join, with no await between, so a joiner sees
        each line once: in the replay if it came before the join, live if after."""
        if count <= 0 or not self.recent:
            return []
        lines = list(self.recent)[-count:]
        return [event for event in lines if event.ts >= since] if lines[0].ts < since else lines

    def settings(self) -> dict[str, object]:
        """What the store keeps of this room besides its lines (a new setting: add
        it here and in restore())."""
        return {
            "topic": self.topic, "topic_by": self.topic_by, "topic_ts": self.topic_ts,
            "modes": "".join(sorted(self.modes)), "key": self.join_key, "limit": self.limit,
            "lists": {
                letter: [[entry.mask, entry.by, entry.ts] for entry in entries]
                for letter, entries in self.lists.items()
            },
        }  # fmt: skip

    def restore(self, settings: dict[str, object]) -> None:
        """Take back what settings() gave, skipping what is missing or malformed."""
        topic, by, ts = settings.get("topic"), settings.get("topic_by"), settings.get("topic_ts")
        if isinstance(topic, str) and isinstance(by, str) and isinstance(ts, int | float):
            self.topic, self.topic_by, self.topic_ts = topic, by, float(ts)
        modes = settings.get("modes")
        if isinstance(modes, str):
            self.modes = set(modes)
        key, limit = settings.get("key"), settings.get("limit")
        if isinstance(key, str):
            self.join_key = key
        if isinstance(limit, int) and limit >= 0:
            self.limit = limit
        lists = settings.get("lists")
        if isinstance(lists, dict):
            for letter, entries in self.lists.items():
                saved = lists.get(letter)
                if isinstance(saved, list):
                    entries[:] = [
                        Listed(mask, by, float(ts)) for mask, by, ts in
                        (e for e in saved if _is_listed(e))
                    ]  # fmt: skip

    def check_speaker(self, member: Member) -> None:
        """Refuse a message the room's modes forbid: CannotSpeak (Moderated: +m
        without voice; BannedHere: a ban matches; NoOutside: +n, not a member).
        Operators and voiced members always speak. The hot path asks it only when
        "m" is set or the member is muted: two set lookups."""
        if member in self.ops or member in self.voiced:
            return
        if self not in member.rooms:
            if "n" in self.modes:
                raise NoOutside(self.name)
            if "m" in self.modes:
                raise Moderated(self.name)
            if is_banned(self, member):
                raise BannedHere(self.name)
        elif "m" in self.modes:
            raise Moderated(self.name)
        elif member in self.muted:
            raise BannedHere(self.name)

    def publish(self, event: Event, skip: Member | None = None) -> None:
        """Queue an event for every member (but `skip`); written at the next loop pass."""
        if self.relay is not None:
            self.relay.room_event(self, event)
        pending = self.pending
        first = not pending
        for render in self._renders:
            data = render(event)
            batch = pending.get(render)
            if batch is None:
                pending[render] = [data]
            else:
                batch.append(data)
        if skip is not None and skip.render in pending:
            self.skips.append((skip, len(pending[skip.render]) - 1))
        if first and pending:
            self._defer(self.flush)

    def flush(self) -> None:
        """Write everything published since the last flush: one write per member."""
        pending = self.pending
        if not pending:
            return
        self.pending = {}
        if self.skips:
            self._flush_skipping(pending)
            return
        if len(pending) == 1:
            ((_, parts),) = pending.items()
            data = b"".join(parts)
            for member in self.members:
                member.write(data)
            return
        joined = {render: b"".join(parts) for render, parts in pending.items()}
        for member in self.members:
            member.write(joined[member.render])

    def _flush_skipping(self, pending: dict[Render, list[bytes]]) -> None:
        """The flush in which some senders do not get their own lines back (IRC
        without echo-message): each of them gets the batch less its own lines."""
        if len(self.skips) == 1 and len(pending) == 1:  # one sender, one door: the usual
            ((skip, index),) = self.skips
            self.skips = []
            ((_, parts),) = pending.items()
            data = b"".join(parts)
            mine = b"".join(parts[:index] + parts[index + 1 :]) if len(parts) > 1 else b""
            for member in self.members:
                if member is not skip:
                    member.write(data)
                elif mine:
                    member.write(mine)
            return
        skipped: dict[Member, set[int]] = {}
        for member, index in self.skips:
            skipped.setdefault(member, set()).add(index)
        self.skips = []
        own = {
            member: b"".join(
                [p for i, p in enumerate(pending.get(member.render, ())) if i not in drop]
            )
            for member, drop in skipped.items()
        }
        if len(pending) == 1:
            ((_, parts),) = pending.items()
            data = b"".join(parts)
            for member in self.members:
                if member not in own:
                    member.write(data)
                elif own[member]:
                    member.write(own[member])
            return
        joined = {render: b"".join(parts) for render, parts in pending.items()}
        for member in self.members:
            data = own[member] if member in own else joined[member.render]
            if data:
                member.write(data)

    def _add(self, member: Member) -> None:
        self.flush()  # a newcomer gets nothing published before it joined
        self.members[member] = None
        self._renders[member.render] = self._renders.get(member.render, 0) + 1
        member.rooms[self] = None

    def _remove(self, member: Member) -> None:
        self.flush()  # a leaver still gets everything published before it left
        del self.members[member]
        self.ops.discard(member)
        self.voiced.discard(member)
        self.muted.discard(member)
        self._uncount(member.render)
        del member.rooms[self]

    def _uncount(self, render: Render) -> None:
        count = self._renders.pop(render) - 1
        if count:
            self._renders[render] = count

    def _swap_render(self, member: Member, render: Render) -> None:
        self.flush()
        self._uncount(member.render)
        self._renders[render] = self._renders.get(render, 0) + 1


def _is_listed(saved: object) -> bool:
    """Whether a stored list entry has the shape settings() gives it: [mask, by, ts]."""
    return (
        isinstance(saved, list) and len(saved) == 3 and isinstance(saved[0], str)
        and isinstance(saved[1], str) and isinstance(saved[2], int | float)
    )  # fmt: skip


def _keep_nothing(event: Kept) -> None:
    """A room's `keep` until the registry gives it the store's."""


def _call_soon(callback: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_soon(callback)


@dataclass(frozen=True, slots=True)
class Departed:
    """Who a name belonged to, for WHOWAS."""

    name: str
    user: str
    host: str
    realname: str
    ts: float


class RoomManager:
    """Users and rooms by case-insensitive name; every change atomic under one lock."""

    def __init__(
        self,
        *,
        max_rooms: int = 1000,
        max_joined: int = 50,
        clock: Callable[[], float] = time.time,
        defer: Defer = _call_soon,
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
                _remute_room(room, change)
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


def key_problem(key: str, max_chars: int) -> str | None:
    """Why a room key cannot be set, or None."""
    if not key or not key.strip():
        return "empty"
    if len(key) > max_chars:
        return f"longer than {max_chars} characters"
    if " " in key or "," in key or not key.isprintable():
        return "contains a space, a comma or a control character"
    return None


def _listed(room: Room, letter: str, member: Member) -> bool:
    return any(
        matches(entry.mask, member.name, member.user, member.host) for entry in room.lists[letter]
    )


def _remute_room(room: Room, change: Change) -> None:
    """Who the room's bans silence after one change of a ban or an exception: only the
    members that one mask matches are looked at again (a room may be large)."""

    def hit(m: Member) -> bool:
        return matches(change.arg, m.name, m.user, m.host)

    if change.letter == "b" and change.sign == "+":
        room.muted |= {
            m for m in room.members if m not in room.muted and hit(m) and not _listed(room, "e", m)
        }
    elif change.letter == "b":
        room.muted -= {m for m in room.muted if hit(m) and not is_banned(room, m)}
    elif change.sign == "+":
        room.muted -= {m for m in room.muted if hit(m)}
    else:
        room.muted |= {m for m in room.members if hit(m) and is_banned(room, m)}


def is_banned(room: Room, member: Member) -> bool:
    """Whether a ban of the room matches the member and no exception does."""
    return bool(room.lists["b"]) and _listed(room, "b", member) and not _listed(room, "e", member)


def ban_masks(member: Member) -> tuple[str, str]:
    """What banning a connected user bans: its name, and its address."""
    return f"{member.name}!*@*", address_mask(member.host)


def is_visible(room: Room, member: Member) -> bool:
    """Whether a member may see the room listed: a secret room (+s) only its members."""
    return "s" not in room.modes or room in member.rooms


def shared_rooms(a: Member, b: Member) -> Iterable[Room]:
    """The rooms both members are in."""
    return (room for room in a.rooms if room in b.rooms)
