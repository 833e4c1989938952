"""A room and its members: who is in it, its settings, and the fan-out to them.

`Member` is a connected user (a door's connection, or a cluster's user elsewhere);
`Room` renders each published event once per render present and writes each member
once per event-loop pass. Made and changed only by the registry (rooms.py); a room's
own methods are the hot path (say, publish, flush) and take no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from itertools import accumulate
from types import MappingProxyType
from typing import Protocol

from registry.errors import BannedHere, Moderated, Muted, NoOutside
from registry.events import Acted, Event, Said, Whispered
from registry.history import Kept
from registry.masks import ACCOUNT_BAN, MUTE_BAN, account_matches, matches
from registry.owners import Ownership, from_settings
from utils import name_key

Render = Callable[[Event], bytes]
Write = Callable[[bytes], None]
Defer = Callable[[Callable[[], None]], object]

# The own batches of the flush under way (a sender's batch less the lines it asked not to
# see again), by id: the own batch, the joined batch it was cut from, and the byte ranges
# cut out of that, whole lines, as [start, end, start, end, ...] in ascending order. A
# door that encodes what it is written line by line (the WebSocket door's frames, one
# line each) cuts its encoding of the joined batch the same way instead of encoding the
# own batch again. Kept until the next flush that makes own batches; it holds each own
# batch, so an id names that batch only.
OWN_CUTS: dict[int, tuple[bytes, bytes, list[int]]] = {}


@dataclass(frozen=True, slots=True)
class Listed:
    """One mask of a room's ban, exception or invite-exception list."""

    mask: str
    by: str  # the setter's nick!user@host
    ts: float


@dataclass(eq=False, slots=True)
class Device:
    """One more connection of a member: an account on several devices. The member's
    own `write`, `render`, `kicked` and `killed` are its first connection's; each
    other connection is a Device, and hears all the member hears."""

    write: Write
    render: Render
    door: str = "text"
    host: str = ""
    kicked: Callable[[Room], None] | None = None
    killed: Callable[[str], None] | None = None


NO_INVITES: Mapping[Room, None] = MappingProxyType({})
# A room's voiced and muted members while it has none: one shared empty set, replaced by
# a set of its own by set_voiced() and set_muted() (an empty set is 216 bytes a room).
NO_MEMBERS: AbstractSet[Member] = frozenset()
# A room's replay ring until it keeps a line (RoomManager makes one then): shared, and
# always empty (maxlen 0), since an empty deque holds a 0.6 KB block.
NO_RECENT: deque[Kept] = deque(maxlen=0)


class Holder(Protocol):
    """A member's first connection as its door's session, told what happens to it where
    the member's own callback field is None: one reference, where four bound methods
    kept by every member cost 256 bytes."""

    def on_detached(self) -> None: ...  # a new connection reclaimed the name
    def on_kicked(self, room: Room) -> None: ...
    def on_killed(self, why: str) -> None: ...  # put off the server by an operator
    def on_banned(self, reason: str) -> None: ...  # ... by a server ban


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
    # IRC user modes ("i" invisible, "w" ...): replaced whole, never changed in place, so
    # a member without any shares one empty frozenset.
    modes: AbstractSet[str] = frozenset()
    mask: str = ""  # nick!user@host, as IRC shows the source; kept by remask()
    # The rooms it was invited to (an ordered set): one shared empty mapping until it is
    # invited (invite(), uninvite(), clear_invites() change it).
    invites: Mapping[Room, None] = field(default_factory=lambda: NO_INVITES)
    kicked: Callable[[Room], None] | None = None  # its connection hears of a kick
    killed: Callable[[str], None] | None = None  # its connection is closed by an oper
    banned: Callable[[str], None] | None = None  # ...by a server ban (its reason)
    oper: str = ""  # the oper name it became a server operator with ("": not one)
    spoke: float = 0.0  # when it last said something (WHOIS idle); from signon until then
    account: str = ""  # the account it is logged in to ("": none, a guest)
    devices: tuple[Device, ...] = ()  # its other connections (the same account), if any
    # Its private messages with guests while logged in to an account, newest last: kept
    # in this session's memory only, never in a store (registry/private.py).
    private: deque[Whispered] | None = None
    # When it took its name (sign-on, or its last rename): a guest's own messages, the
    # ones it may take back, are those said under this name since (registry/redaction.py).
    named: float = 0.0
    holder: Holder | None = None  # told what detach, kicked, killed, banned leave None

    def invite(self, room: Room) -> None:
        self.invites = {**self.invites, room: None}

    def uninvite(self, room: Room) -> None:
        if room in self.invites:
            self.invites = {r: None for r in self.invites if r is not room} or NO_INVITES

    def clear_invites(self) -> None:
        self.invites = NO_INVITES

    def tell_detached(self) -> None:
        """Its connection lets go of it (a new one reclaimed the name)."""
        if self.detach is not None:
            self.detach()
        elif self.holder is not None:
            self.holder.on_detached()

    def tell_kicked(self, room: Room) -> None:
        if self.kicked is not None:
            self.kicked(room)
        elif self.holder is not None:
            self.holder.on_kicked(room)

    def tell_killed(self, why: str) -> None:
        if self.killed is not None:
            self.killed(why)
        elif self.holder is not None:
            self.holder.on_killed(why)

    def tell_banned(self, reason: str) -> bool:
        """Its connection hears of a server ban; False if nobody listens for one."""
        if self.banned is not None:
            self.banned(reason)
        elif self.holder is not None:
            self.holder.on_banned(reason)
        else:
            return False
        return True

    def unhold(self) -> None:
        """Its holder no longer answers for it: what it was told, the callback fields
        say from now on (each of them one bound method)."""
        holder, self.holder = self.holder, None
        if holder is not None:
            self.detach = self.detach or holder.on_detached
            self.kicked = self.kicked or holder.on_kicked
            self.killed = self.killed or holder.on_killed
            self.banned = self.banned or holder.on_banned

    def __post_init__(self) -> None:
        self.remask()
        if not self.spoke:
            self.spoke = self.signon
        if not self.named:
            self.named = self.signon

    @property
    def server(self) -> str:
        """The cluster's server it is connected to ("": this one)."""
        return ""

    def remask(self) -> None:
        """Word the mask again after the name or host changed (each message carries it)."""
        self.mask = f"{self.name}!{self.user or '~' + self.name}@{self.host or 'localhost'}"

    def send(self, event: Event, skip: Member | Device | None = None) -> None:
        """Deliver one event to this member alone (each of its connections but `skip`),
        after what its rooms have pending."""
        self.flush_rooms()
        for sink, render in self.sinks():
            if sink is not skip and (data := render(event)):
                sink.write(data)

    def deliver(self, data: bytes, rendered: dict[Render, bytes], event: Event) -> None:
        """Write `data` (the event as this member's render words it) to it, and the event
        to its other connections, each rendered once (`rendered` caches by render)."""
        if data:
            self.write(data)
        for device in self.devices:
            more = rendered.get(device.render)
            if more is None:
                more = rendered[device.render] = device.render(event)
            if more:
                device.write(more)

    def sink(self, device: Device | None) -> Member | Device:
        """The connection a door holds, as the fan-out knows it: `device` while it is
        one of the member's others, else the member itself (its first connection; a
        device becomes that when the first one goes)."""
        return device if device is not None and device in self.devices else self

    def sinks(self) -> list[tuple[Member | Device, Render]]:
        """Each connection of the member with its render: itself first, then its devices."""
        return [(self, self.render), *((device, device.render) for device in self.devices)]

    def flush_rooms(self) -> None:
        """Write out its rooms' batches first, so this member's lines stay in order."""
        for room in self.rooms:
            if room.pending:
                room.flush()


class Heard(Protocol):
    """Who hears every event a room publishes besides its members (a cluster's relay)."""

    def room_event(self, room: Room, event: Event) -> None: ...


class Room:
    """A named set of members and the fan-out to them. Made only by RoomManager."""

    __slots__ = (
        "_clock", "_defer", "_ids", "_renders", "created", "invited", "join_key", "keep", "key",
        "limit", "lists", "members", "modes", "multi", "muted", "name", "ops", "owner", "pending",
        "recent", "relay", "skips",
        "topic", "topic_by", "topic_ts", "voiced",
    )  # fmt: skip

    def __init__(
        self, name: str, clock: Callable[[], float], defer: Defer, ids: Callable[[], str]
    ) -> None:
        self.name = name
        self.key = name_key(name)
        self.members: dict[Member, None] = {}  # an ordered set
        self.ops: set[Member] = set()  # its operators: whoever made it, for now
        self.voiced: AbstractSet[Member] = NO_MEMBERS  # set_voiced() changes it
        self.modes: set[str] = {"n"}  # no messages from outside; "t": topic by operators
        self.pending: dict[Render, list[bytes]] = {}
        self.skips: list[tuple[Member | Device, int]] = []  # (sender, line's index): no echo
        self.multi: dict[Member, None] = {}  # members on several connections (Device)
        self.topic = ""
        self.topic_by = ""
        self.topic_ts = 0.0
        # Moderation (plain values, so a store can keep them): the masks of "b", "e", "I";
        # the key (+k, "" none) and member limit (+l, 0 none).
        self.lists: dict[str, list[Listed]] = {"b": [], "e": [], "I": []}
        self.join_key = ""
        self.limit = 0
        self.invited: dict[Member, None] = {}  # invited by an operator, not yet joined
        self.owner: Ownership | None = None  # registered (ChanServ): founder, access list
        # Members a ban or a mute matches: they may not speak (set_muted() changes it).
        self.muted: AbstractSet[Member] = NO_MEMBERS
        self._renders: dict[Render, int] = {}  # renders present, with member counts
        self._clock = clock
        self._defer = defer
        self._ids = ids
        self.created = clock()
        self.relay: Heard | None = None  # a cluster's: hears what is published
        # History: its newest lines, for replay on join, and what keeps a line said here
        # (RoomManager sets both, the ring with the first line kept: registry/history.py's
        # ring_keeper fills `recent`).
        self.recent: deque[Kept] = NO_RECENT
        self.keep: Callable[[Event], None] = _keep_nothing

    def set_voiced(self, member: Member, on: bool) -> None:
        self.voiced = _marked(self.voiced, member, on)

    def set_muted(self, member: Member, on: bool) -> None:
        self.muted = _marked(self.muted, member, on)

    def names(self) -> list[str]:
        """A snapshot of the members' names, sorted case-insensitively."""
        return sorted((m.name for m in self.members), key=name_key)

    def say(
        self,
        member: Member,
        text: str,
        echo: bool = True,
        tags: str = "",
        device: Device | None = None,
    ) -> None:
        """A member's chat line: published (not back to the connection it came from,
        `device` or the member's first, without `echo`), kept, and the member's `spoke`
        time (WHOIS idle) set.
        CannotSpeak if the room's modes forbid it. The hot path: no lock, no await."""
        if "m" in self.modes or member in self.muted:
            self.check_speaker(member)
        member.spoke = ts = self._clock()
        event = Said(
            member.name, text, ts, self.name, member.mask, self._ids(), tags, member.account
        )
        self.publish(event, None if echo else member if device is None else member.sink(device))
        self.keep(event)

    def act(
        self,
        member: Member,
        text: str,
        echo: bool = True,
        tags: str = "",
        device: Device | None = None,
    ) -> None:
        """A member's action (/me), as say()."""
        if "m" in self.modes or member in self.muted:
            self.check_speaker(member)
        member.spoke = ts = self._clock()
        event = Acted(
            member.name, text, ts, self.name, member.mask, self._ids(), tags, member.account
        )
        self.publish(event, None if echo else member.sink(device))
        self.keep(event)

    def post(self, event: Event, skip: Member | Device | None = None) -> None:
        """A message a door worded itself (a notice, a tag, CTCP, a tagged line): published
        (not to `skip`) and kept if history keeps such lines. The door has checked the
        sender may speak (check_speaker)."""
        self.publish(event, skip)
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
            **(self.owner.settings() if self.owner is not None else {}),
        }  # fmt: skip

    def restore(self, settings: dict[str, object]) -> None:
        """Take back what settings() gave, skipping what is missing or malformed."""
        topic, by, ts = settings.get("topic"), settings.get("topic_by"), settings.get("topic_ts")
        if isinstance(topic, str) and isinstance(by, str) and isinstance(ts, int | float):
            self.topic, self.topic_by, self.topic_ts = topic, by, float(ts)
        modes = settings.get("modes")
        if isinstance(modes, str | list):  # a list: as a cluster's older nodes send it
            self.modes = {mode for mode in modes if isinstance(mode, str)}
        key, limit = settings.get("key"), settings.get("limit")
        if isinstance(key, str):
            self.join_key = key
        if isinstance(limit, int) and limit >= 0:
            self.limit = limit
        self.owner = from_settings(settings)
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
        without voice; BannedHere: a ban matches; Muted: a mute, `m:MASK`, matches;
        NoOutside: +n, not a member). Operators and voiced members always speak. The
        hot path asks it only when "m" is set or the member is muted: two set lookups."""
        if member in self.ops or member in self.voiced:
            return
        if self not in member.rooms:
            if "n" in self.modes:
                raise NoOutside(self.name)
            if "m" in self.modes:
                raise Moderated(self.name)
            if is_banned(self, member):
                raise BannedHere(self.name)
            if is_muted(self, member):
                raise Muted(self.name)
        elif "m" in self.modes:
            raise Moderated(self.name)
        elif member in self.muted:
            raise BannedHere(self.name) if is_banned(self, member) else Muted(self.name)

    def publish(self, event: Event, skip: Member | Device | None = None) -> None:
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
        if self.multi:
            self._flush_devices(pending)
            return
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
            mine = _cut_one(data, parts, index)
            for member in self.members:
                if member is not skip:
                    member.write(data)
                elif mine:
                    member.write(mine)
            return
        joined = {render: b"".join(parts) for render, parts in pending.items()}
        own = self._own_batches(pending, joined)
        if len(joined) == 1:
            (data,) = joined.values()
            for member in self.members:
                if member not in own:
                    member.write(data)
                elif mine := own[member]:
                    member.write(mine)
            return
        for member in self.members:
            data = own[member] if member in own else joined[member.render]
            if data:
                member.write(data)

    def _own_batches(
        self, pending: dict[Render, list[bytes]], joined: dict[Render, bytes]
    ) -> dict[Member | Device, bytes]:
        """Each connection that sent lines it asked not to see again (the skips, now
        cleared): its render's batch (`joined`) less those lines, cut out of the joined
        bytes by their offsets, so that many senders in one flush (every member of a
        small room) cost a slice each rather than a pass over the batch's lines each."""
        skipped: dict[Member | Device, list[int]] = {}
        for sender, index in self.skips:  # each sender's indices come in ascending order
            drop = skipped.get(sender)
            if drop is None:
                skipped[sender] = [index]
            else:
                drop.append(index)
        self.skips = []
        OWN_CUTS.clear()
        edges: dict[Render, list[int]] = {}  # where each line of a render's batch starts
        own: dict[Member | Device, bytes] = {}
        for sink, drop in skipped.items():
            render = sink.render
            data = joined.get(render)
            if data is None:
                own[sink] = b""
                continue
            starts = edges.get(render)
            if starts is None:
                starts = edges[render] = [0, *accumulate(map(len, pending[render]))]
            if len(drop) == 1:
                (index,) = drop
                cut = [starts[index], starts[index + 1]]
                own[sink] = mine = data[: cut[0]] + data[cut[1] :]
                OWN_CUTS[id(mine)] = (mine, data, cut)
                continue
            kept, start, cut = [], 0, []
            for index in drop:
                at = starts[index]
                if cut and at == start:  # right after the line before: one range
                    start = cut[-1] = starts[index + 1]
                    continue
                kept.append(data[start:at])
                start = starts[index + 1]
                cut += (at, start)
            kept.append(data[start:])
            own[sink] = mine = b"".join(kept)
            OWN_CUTS[id(mine)] = (mine, data, cut)
        return own

    def _flush_devices(self, pending: dict[Render, list[bytes]]) -> None:
        """The flush when some member is on several connections: each connection gets
        its render's batch, less the lines it sent itself and asked not to see again;
        no connection gets an empty write. With one render and no such lines (the text
        door, and IRC with echo-message; or one sender without echo, the usual on IRC)
        it is the plain flush's loop over the members and their devices."""
        if len(pending) == 1 and len(self.skips) <= 1:
            self._flush_one_render(pending)
            return
        joined = {render: b"".join(parts) for render, parts in pending.items()}
        own = self._own_batches(pending, joined) if self.skips else {}
        for member in self.members:
            mine = own.get(member)
            data = joined[member.render] if mine is None else mine
            if data:
                member.write(data)
            for device in member.devices:
                mine = own.get(device)
                data = joined[device.render] if mine is None else mine
                if data:
                    device.write(data)

    def _flush_one_render(self, pending: dict[Render, list[bytes]]) -> None:
        """_flush_devices with one render and at most one connection that does not get
        its own line back (it gets the batch less that line)."""
        ((_, parts),) = pending.items()
        data = b"".join(parts)
        skip: Member | Device | None = None
        mine = b""
        if self.skips:
            ((skip, index),) = self.skips
            self.skips = []
            mine = _cut_one(data, parts, index)
        if not data:
            return
        for member in self.members:
            if member is not skip:
                member.write(data)
            elif mine:
                member.write(mine)
            for device in member.devices:
                if device is not skip:
                    device.write(data)
                elif mine:
                    device.write(mine)

    def _add(self, member: Member) -> None:
        self.flush()  # a newcomer gets nothing published before it joined
        self.members[member] = None
        self._renders[member.render] = self._renders.get(member.render, 0) + 1
        member.rooms[self] = None
        if member.devices:
            self.multi[member] = None
            for device in member.devices:
                self._renders[device.render] = self._renders.get(device.render, 0) + 1

    def _add_device(self, member: Member, device: Device) -> None:
        """The member, in this room, has one more connection."""
        self.flush()
        self.multi[member] = None
        self._renders[device.render] = self._renders.get(device.render, 0) + 1

    def _remove_device(self, member: Member, device: Device) -> None:
        """One of the member's other connections is gone (`member.devices` no longer
        holds it)."""
        self.flush()
        self._uncount(device.render)
        if not member.devices:
            self.multi.pop(member, None)

    def _remove(self, member: Member) -> None:
        self.flush()  # a leaver still gets everything published before it left
        del self.members[member]
        self.ops.discard(member)
        self.set_voiced(member, False)
        self.set_muted(member, False)
        self._uncount(member.render)
        del member.rooms[self]
        if member.devices:
            self.multi.pop(member, None)
            for device in member.devices:
                self._uncount(device.render)

    def _uncount(self, render: Render) -> None:
        count = self._renders.pop(render) - 1
        if count:
            self._renders[render] = count

    def _swap_render(self, member: Member | Device, render: Render) -> None:
        self.flush()
        self._uncount(member.render)
        self._renders[render] = self._renders.get(render, 0) + 1


def _is_listed(saved: object) -> bool:
    """Whether a stored list entry has the shape settings() gives it: [mask, by, ts]."""
    return (
        isinstance(saved, list) and len(saved) == 3 and isinstance(saved[0], str)
        and isinstance(saved[1], str) and isinstance(saved[2], int | float)
    )  # fmt: skip


def _keep_nothing(event: Event) -> None:
    """A room's `keep` until the registry gives it the store's."""


def call_soon(callback: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_soon(callback)


@dataclass(frozen=True, slots=True)
class Departed:
    """Who a name belonged to, for WHOWAS."""

    name: str
    user: str
    host: str
    realname: str
    ts: float


def _listed(
    room: Room, letter: str, member: Member, *, plain: bool = True, mute: bool = False
) -> bool:
    """Whether an entry of the list matches the member: a plain one (with `plain`), a
    mute, `m:MASK` (with `mute`)."""
    for entry in room.lists[letter]:
        mask = entry.mask
        if mask[:2] == MUTE_BAN:
            if not mute:
                continue
            mask = mask[2:]
        elif not plain:
            continue
        if mask[:2] == ACCOUNT_BAN:
            if account_matches(mask, member.account):
                return True
        elif matches(mask, member.name, member.user, member.host):
            return True
    return False


def is_banned(room: Room, member: Member) -> bool:
    """Whether a ban of the room matches the member and no exception does (a mute is no
    ban: is_muted)."""
    return bool(room.lists["b"]) and _listed(room, "b", member) and not _listed(room, "e", member)


def is_muted(room: Room, member: Member) -> bool:
    """Whether a mute of the room (`+b m:MASK`) matches the member and no exception
    does: a plain one, or a mute's (`+e m:MASK`, which excepts from mutes only)."""
    return (
        bool(room.lists["b"])
        and _listed(room, "b", member, plain=False, mute=True)
        and not _listed(room, "e", member, mute=True)
    )


def is_silenced(room: Room, member: Member) -> bool:
    """Whether the room's bans or mutes keep the member from speaking in it."""
    return is_banned(room, member) or is_muted(room, member)


def is_visible(room: Room, member: Member) -> bool:
    """Whether a member may see the room listed: a secret room (+s) only its members."""
    return "s" not in room.modes or room in member.rooms


def _marked(group: AbstractSet[Member], member: Member, on: bool) -> AbstractSet[Member]:
    """`group` (a room's voiced or muted) with `member` in it or not: a set of its own
    while it has anyone, the shared empty one once it has nobody."""
    if on and member not in group:
        if group is NO_MEMBERS:
            return {member}
        assert isinstance(group, set)
        group.add(member)
    elif not on and member in group:
        assert isinstance(group, set)
        group.discard(member)
        return group or NO_MEMBERS
    return group


def _cut_one(data: bytes, parts: list[bytes], index: int) -> bytes:
    """`data` (`parts` joined) less part `index`, noted in OWN_CUTS (b"": nothing left)."""
    if len(parts) == 1:
        return b""
    start = sum(map(len, parts[:index])) if index else 0
    cut = [start, start + len(parts[index])]
    mine = data[:start] + data[cut[1] :]
    OWN_CUTS.clear()
    OWN_CUTS[id(mine)] = (mine, data, cut)
    return mine


def shared_rooms(a: Member, b: Member) -> Iterable[Room]:
    """The rooms both members are in."""
    return (room for room in a.rooms if room in b.rooms)
