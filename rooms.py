"""The registry: who is connected, which rooms exist and who is in each; and fan-out.

RoomManager is the registry's front door and the only writer of its state: users,
rooms, membership, modes and what history keeps. Doors call its verbs for what their
users do; the cluster (cluster/link.py) calls its verbs for what another server's
users did; a store only hears plain values through the port (registry/history.py).
Its parts are in registry/: names and WHOWAS (names.py), a room and its fan-out
(room.py), the rules of modes (modes.py), private messages and what is kept of them
(private.py), messages taken back (redaction.py), the history and cluster ports.

It deals in users, rooms and events, never in wording, lines or sockets: every member
brings its own `render` (event -> bytes, one per front door and set of options) and
`write` (bytes to its connection, never blocks, never raises). A room renders each
event once per render present and batches what it publishes within one event-loop
pass, so a burst of messages costs each member one write. Membership is per room: a
member may be in many rooms (IRC) or one (the text door keeps its current room
itself).

The lock rule: every write to the registry's state happens in synchronous code
between awaits, so it is atomic on the event loop; the async verbs that must await
the cluster hold `_lock` against each other and check again after each await before
they write. The hot path, `Room.say`, takes no lock and never awaits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from registry.accounts import Account, Accounts, AccountStore
from registry.bans import BanRecord, BanStore, ServerBans, ban_mask, record_matches, word_duration
from registry.errors import (
    AlreadyInRoom,
    AlreadyThere,
    BanMatchesYou,
    NameReserved,
    NameTaken,
    NoSuchAccount,
    NoSuchRoom,
    NoSuchServerBan,
    NoSuchUser,
    NotFounder,
    NotInRoom,
    NotLoggedIn,
    NotOperator,
    NotServerOperator,
    NotThere,
    ReclaimLimited,
    ReclaimRefused,
    RoomExists,
    RoomNotRegistered,
    RoomRegistered,
    ServerBanned,
    TooManyInvites,
    TooManyJoined,
    TooManyRooms,
)
from registry.events import (
    AccountChanged,
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    ModeChanged,
    OwnerChanged,
    Quit,
    RealnameChanged,
    Reconnected,
    Redacted,
    Renamed,
    ServerNotice,
    TopicSet,
    Wallops,
    Whispered,
)
from registry.history import History, Keep, Kept, Query, SavedRoom, is_kept, ring_keeper
from registry.markers import ReadMarkers
from registry.masks import Change, parse_changes, word_changes
from registry.modes import Limits, Refusal, admit, apply_change, remute_room
from registry.names import Census, Names
from registry.opers import Opers
from registry.owners import CHANSERV, CHANSERV_MASK, Ownership, from_words
from registry.presence import PRESENT, Presence, Presences, presence_of
from registry.private import Delivery, PrivateMessages
from registry.reclaim import Reclaims
from registry.redaction import Redactions, forget_line
from registry.relay import Relay
from registry.room import (
    NO_RECENT,
    Defer,
    Departed,
    Device,
    Member,
    Render,
    Room,
    Write,
    call_soon,
    is_silenced,
    is_visible,
)
from registry.watch import Watches
from utils import counted, name_key

log = logging.getLogger(__name__)

ALWAYS_ON_AWAY = "Not connected (always on)"  # the away text of an always-on user offline


def _nowhere(data: bytes) -> None:
    """Where an always-on user's lines go while it has no connection."""


def _silent(event: Event) -> bytes:
    """How an always-on user with no connection hears an event: not at all."""
    return b""


def joined(member: Member, room: Room) -> Joined:
    """The event of a member joining a room, with what IRCv3 extended-join shows."""
    return Joined(member.name, room.name, member.mask, member.account, member.realname)


class RoomManager:
    """Users and rooms by case-insensitive name, and every verb that changes them.
    Writes happen in synchronous code between awaits; the verbs that await the cluster
    hold `_lock` against each other and check again after each await."""

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
        accounts: Accounts | None = None,
        opers: Opers | None = None,
        max_watch: int = 100,
        max_held: int = 100,
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
        # Who watches which names (registry/watch.py): the name table tells them.
        self.watches = Watches(max_watch, server_name)
        self._names = Names(clock, whowas, self.watches)
        self._rooms: dict[str, Room] = {}
        self._lock = asyncio.Lock()
        self.reclaims = Reclaims(clock)
        self.relay: Relay | None = None  # the cluster's (cluster/link.py); None: one server
        # Message ids: a counter from the start time in microseconds, so ids from a later
        # run are larger (no run makes a million messages a second). A bound __next__
        # is the cheapest call there is: one id for every message said.
        start = time.time_ns() // 1000
        self.new_id: Callable[[], str] = map(str, itertools.count(start)).__next__
        # History: the store behind the rooms; --no-history's keeps nothing.
        self.history = history or History()
        self.replay_lines = replay_lines
        # Accounts: registered names (registry/accounts.py); the server gives them the
        # store it opens (the database, Redis), else they last until it stops.
        self.accounts = Accounts(clock=clock) if accounts is None else accounts
        self.opers = opers or Opers(clock=clock)  # who may become a server operator
        # Always-on: for accounts that have not chosen (NickServ SET ALWAYS-ON).
        self.always_on_default = False
        self.bans = ServerBans(clock=clock)  # who may not be on the server (server_ban)
        # Private messages: delivery, what is kept, what waits for a login (private.py).
        self.private = PrivateMessages(self, max_held=max_held)
        # Read markers (registry/markers.py): kept in the accounts' settings.
        self.markers = ReadMarkers(
            self.accounts, server_name=server_name, clock=lambda: self.clock()
        )
        # Messages taken back (registry/redaction.py): out of history, and told.
        self.redactions = Redactions(self)
        # Always-on users' names and rooms, kept across restarts (registry/presence.py).
        self.presences = Presences(self.accounts, self._presence_now)

    @property
    def whowas(self) -> deque[Departed]:
        """Who had a name before, newest first (WHOWAS)."""
        return self._names.whowas

    # --- History: the registry's replay rings, the store behind them. ---
    def attach_history(self, history: History) -> None:
        """Use this store (on the event loop, before any user): make its rooms again."""
        self.history = history
        history.attach(self.sweep)
        for saved in history.restored():
            self._restore(saved)

    def attach_accounts(self, store: AccountStore) -> None:
        """Keep accounts in this store (at start-up, before any user): the accounts it
        holds are read, and each change goes to it."""
        self.accounts.attach(store)

    def _restore(self, saved: SavedRoom) -> None:
        key = name_key(saved.name)
        if key in self._rooms:
            return
        room = self._new_room(saved.name)
        room.created = saved.created
        room.restore(saved.settings)
        if saved.recent:
            self._ring(room).extend(saved.recent)
        self._rooms[key] = room

    def _new_room(self, name: str) -> Room:
        room = Room(name, self.clock, self._defer, self.new_id)
        room.relay = self.relay
        if self.history.is_on:
            room.keep = self._first_keep(room, self.history.keeper(room.key))
        return room

    def _ring(self, room: Room) -> deque[Kept]:
        """The room's replay ring: made for its first line (an idle room has none)."""
        if room.recent is NO_RECENT:
            room.recent = deque(maxlen=max(self.replay_lines, 1))
        return room.recent

    def _first_keep(self, room: Room, store: Keep) -> Callable[[Event], None]:
        """A room's `keep` until it keeps a line: then its ring is made, and ring_keeper's
        `keep` (what Room.say calls on every line) takes over."""

        def keep(event: Event) -> None:
            if is_kept(event):
                room.keep = ring_keeper(self._ring(room), store)
                room.keep(event)

        return keep

    def _save(self, room: Room) -> None:
        """Queue the room's row (its settings) for the store."""
        self.history.save_room(room.key, room.name, room.created, room.settings())

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
            if not room.members and not self.holds_history(room) and room.owner is None:
                self._close_room(room)

    # --- Reads: snapshots, never the registry's own dicts. ---
    def find(self, name: str) -> Member | None:
        """The connected user with this name (any case), if any."""
        return self._names.find(name)

    def room(self, name: str) -> Room | None:
        """The room with this name (any case), if any."""
        return self._rooms.get(name_key(name))

    def users(self) -> list[Member]:
        """A snapshot of every connected user, sorted by name."""
        return self._names.users()

    def census(self) -> Census:
        """How many users (here and in all), on which servers, how many operators."""
        return self._names.census()

    def snapshot(self) -> tuple[dict[str, Member], dict[str, Room]]:
        """Copies of the users and rooms by key, for checks and tests."""
        return self._names.snapshot(), dict(self._rooms)

    def room_count(self) -> int:
        """How many rooms there are."""
        return len(self._rooms)

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

    # --- Names. ---
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
        account: str = "",
    ) -> Member:
        """Take a free name and become a member, logged in to `account` if given;
        NameTaken if anyone has it, NameReserved if it is another account's."""
        async with self._lock:
            return await self._claim(name, write, render, user, host, realname, door, account)

    async def _claim(
        self,
        name: str,
        write: Write,
        render: Render,
        user: str,
        host: str,
        realname: str,
        door: str,
        account: str,
    ) -> Member:
        if name_key(name) in self._names:
            raise NameTaken(name)
        self._check_reserved(name, account)
        self._check_banned(name, user, host, account)
        await self._claim_in_cluster(name)
        member = Member(name, write, render, user, host, realname, door, signon=self.clock())
        member.account = account
        self._names.add(member)
        if self.relay is not None:
            self.relay.claimed(member)
        self._presence_changed(member)
        return member

    async def log_in_as(
        self,
        account: str,
        write: Write,
        render: Render,
        *,
        user: str = "",
        host: str = "",
        door: str = "text",
    ) -> tuple[Member, Device | None]:
        """A connection that proved it is `account` (its name as registered): the user
        logged in to that account, and the Device this connection is of it. A user of
        this server already logged in to it (under any name) gets one more connection
        (the Device; it shares the name and rooms, and hears all the user hears); else
        the account's name is claimed (no Device: the member is this connection).
        NameTaken if a user of another server of the cluster holds the name."""
        async with self._lock:
            self._check_banned(account, user, host, account)
            holder = self._names.by_account(account)
            if holder is not None and not self.connected(holder):
                self._connect_again(holder, write, render, door, host)
                return holder, None
            if holder is not None:
                return holder, self._attach(holder, write, render, door, host)
            squatter = self._names.find(account)
            if squatter is not None and squatter.server:
                raise NameTaken(account)  # another server's user: one node each
            if squatter is not None:  # a guest that had the name before it was registered
                why = "Logged in from elsewhere"
                if self.relay is not None:
                    self.relay.released(squatter, why)
                self._quit(squatter, why, name_heir=True)
                self.reclaims.forget(name_key(squatter.name))
                self._close_all(squatter, why)
            member = await self._claim(account, write, render, user, host, "", door, account)
            return member, None

    def _attach(self, member: Member, write: Write, render: Render, door: str, host: str) -> Device:
        device = Device(write, render, door, host)
        member.flush_rooms()
        member.devices = (*member.devices, device)
        for room in member.rooms:
            room._add_device(member, device)
        log.info("%s has %s", member.name, counted(len(member.devices) + 1, "connection"))
        return device

    async def disconnect(self, member: Member, device: Device | None, reason: str = "") -> None:
        """A connection of the member closed (`device`; None: its first). While another
        connection is left, the member stays, and nobody else is told; the last one
        gone, it quits (release)."""
        if device is not None and device in member.devices:
            member.flush_rooms()
            member.devices = tuple(d for d in member.devices if d is not device)
            for room in member.rooms:
                room._remove_device(member, device)
            log.info("%s closed one of its connections (%s)", member.name, reason or "gone")
            return
        if member.devices and self._names.holds(member):
            heir, *rest = member.devices  # its next connection is its first now
            member.flush_rooms()
            for room in member.rooms:
                room._swap_render(member, heir.render)
                room._remove_device(member, heir)  # counted once, as the member's own
            member.devices = tuple(rest)
            for room in member.rooms:
                if member.devices:
                    room.multi[member] = None
                else:
                    room.multi.pop(member, None)
            member.write, member.render = heir.write, heir.render
            member.unhold()
            member.kicked, member.killed, member.door = heir.kicked, heir.killed, heir.door
            log.info("%s closed one of its connections (%s)", member.name, reason or "gone")
            return
        if self._names.holds(member) and self.connected(member) and self.is_always_on(member):
            self._stay(member, reason)
            return
        await self.release(member, reason)

    # --- Always on: an account's user that stays with no connection. ---
    def is_always_on(self, member: Member) -> bool:
        """Whether the member stays in its rooms when its last connection goes: its
        account's choice (NickServ SET ALWAYS-ON), else the server's default. A guest
        never does."""
        account = self.accounts.find(member.account) if member.account else None
        return account is not None and self._always_on(account)

    def _always_on(self, account: Account) -> bool:
        chosen = account.settings.get("always_on")
        return chosen if isinstance(chosen, bool) else self.always_on_default

    def set_always_on(self, member: Member, on: bool) -> None:
        """The member's account chooses whether its user stays with no connection left
        (NotLoggedIn for a guest); what a restart brings back follows the choice."""
        account = self.accounts.find(member.account) if member.account else None
        if account is None:
            raise NotLoggedIn(member.name)
        self.accounts.change_settings(account, always_on=on)
        self._presence_changed(member)

    @staticmethod
    def connected(member: Member) -> bool:
        """Whether the member has a connection (an always-on user may have none)."""
        return member.write is not _nowhere

    def _stay(self, member: Member, reason: str) -> None:
        """The last connection of an always-on user went: it stays in its rooms, marked
        away, hearing nothing until a connection comes back (history keeps the rest)."""
        member.flush_rooms()
        for room in member.rooms:
            room._swap_render(member, _silent)
        member.write, member.render = _nowhere, _silent
        member.unhold()
        member.detach = member.kicked = member.killed = None
        if not member.away:
            self.set_away(member, ALWAYS_ON_AWAY)
        self.markers.save(member.account)  # its last connection went: its markers now
        self.presences.save(member.account)  # ...and what a restart brings back
        log.info("%s stays with no connection, always on (%s)", member.name, reason or "gone")

    def _connect_again(
        self, member: Member, write: Write, render: Render, door: str, host: str
    ) -> None:
        """A connection of an always-on user that had none: it is the user's first."""
        for room in member.rooms:
            room._swap_render(member, render)
        member.write, member.render, member.door = write, render, door
        if member.away == ALWAYS_ON_AWAY:
            self.set_away(member, "")
        log.info("%s is connected again", member.name)

    # --- Always on across a restart (registry/presence.py): one server only. ---
    def _presence_changed(self, member: Member, account: str = "") -> None:
        """The member's name, rooms or account changed (or it left): if its account is
        always on, or kept a presence, what a restart brings back is saved anew. Not in
        a cluster, where a user is no single server's to bring back."""
        name = account or member.account
        if not name or member.server or self.relay is not None:
            return
        found = self.accounts.find(name)
        if found is not None and (PRESENT in found.settings or self._always_on(found)):
            self.presences.changed(found.name)

    def _presence_now(self, account: str) -> Presence | None:
        """The presence a restart brings back for `account`: its always-on user of this
        server, as it is now, or None."""
        member = self._names.by_account(account)
        if member is None or not self.is_always_on(member):
            return None
        rooms = tuple(room.name for room in member.rooms)
        return Presence(member.name, rooms, member.user, member.host, member.realname)

    def restore_always_on(self) -> int:
        """At start-up, once the store's rooms, accounts and bans are attached, before
        any connection (one server, not a cluster): each always-on account whose user
        was present is present again, in its rooms, away, with no connection, and
        nobody is told. How many came back; a presence that cannot come back (no longer
        always on, banned, its name and the account's both taken) is cleared."""
        back = 0
        for account in self.accounts.all():
            presence = presence_of(account.settings)
            if presence is None:
                if PRESENT in account.settings:
                    self.presences.changed(account.name)  # malformed: cleared
                continue
            member = self._bring_back(account, presence)
            if member is None:
                self.presences.changed(account.name)
                continue
            back += 1
            if member.name != presence.name or len(member.rooms) != len(presence.rooms):
                self.presences.changed(account.name)  # kept as it came back
        if back:
            log.info("%s back with no connection, always on", counted(back, "user"))
        return back

    def _bring_back(self, account: Account, presence: Presence) -> Member | None:
        """One always-on user again, as `presence` says: under its name (else the
        account's, if that is free), in the rooms that are kept or can be made (a room
        that is not is made as a join would make it; status only from a registered
        room's access list), silent, as _stay leaves it. None if it cannot be."""
        if not self._always_on(account):
            return None
        user, host = presence.user, presence.host
        if self.bans.match(presence.name, user, host, account.name) is not None:
            return None
        name = presence.name
        if name_key(name) in self._names or self.is_reserved(name, account.name):
            name = account.name
            if name_key(name) in self._names:
                return None
        member = Member(
            name, _nowhere, _silent, user, host, presence.realname, "", signon=self.clock()
        )
        member.account, member.away = account.name, ALWAYS_ON_AWAY
        self._names.add(member)
        for room_name in presence.rooms[: self.max_joined]:
            room = self._rooms.get(name_key(room_name))
            if room is None:
                if len(self._rooms) >= self.max_rooms:
                    continue
                room = self._new_room(room_name)
                self._save(room)
                self._rooms[room.key] = room
            if room not in member.rooms:
                self._seat(member, room, restored=True)
                self._grant(member, room, quiet=True)
        log.info("%s is back in %s with no connection, always on", member.name,
                 counted(len(member.rooms), "room"))  # fmt: skip
        return member

    def presence(self, account: str) -> Member | None:
        """The user of this server logged in to `account`, under any name, if any."""
        return self._names.by_account(account)

    def is_reserved(self, name: str, account: str = "") -> bool:
        """Whether `name` is a registered account's other than `account`'s: then only
        a user logged in to that account may go by it, on either door."""
        registered = self.accounts.find(name)
        return registered is not None and name_key(registered.name) != name_key(account)

    def _check_reserved(self, name: str, account: str) -> None:
        if self.is_reserved(name, account):
            raise NameReserved(name)

    def log_in(self, member: Member, account: str) -> None:
        """The member is now logged in to `account` (its name as registered); those who
        share a room with it are told (IRCv3 account-notify). What waits for the account
        is the door's to ask for (held_for)."""
        member.account = account
        member.private = None  # another account's session messages are not this one's
        log.info("%s logged in to account %s", member.name, account)
        if self.relay is not None:
            self.relay.logged_in(member)
        self.tell_about(member, AccountChanged(member.name, account, member.mask))
        if member.rooms:
            self._remute(member)  # an account ban may match it now
            for room in member.rooms:
                self._grant(member, room)
        self._presence_changed(member)
        self._ban_if_banned(member)  # a banned account: disconnected

    def log_out(self, member: Member) -> None:
        """The member is no longer logged in to an account; its peers are told."""
        if not member.account:
            return
        log.info("%s logged out of account %s", member.name, member.account)
        account, member.account = member.account, ""
        self._presence_changed(member, account)
        member.private = None  # a guest keeps no private messages
        if self.relay is not None:
            self.relay.logged_in(member)
        self.tell_about(member, AccountChanged(member.name, "", member.mask))
        if member.rooms:
            self._remute(member)

    async def _claim_in_cluster(self, name: str) -> None:
        """Have the cluster grant the name (NameTaken if it will not), and check again
        after the await: a user of another server may have been added under it meanwhile
        (then the grant is given back)."""
        if self.relay is None:
            return
        if not await self.relay.claim(name):
            raise NameTaken(name)
        if name_key(name) in self._names:
            self.relay.unclaim(name)
            raise NameTaken(name)

    async def release(self, member: Member, reason: str = "") -> None:
        """Forget a member that disconnected; those who share a room are told it quit."""
        async with self._lock:
            if self.relay is not None and self._names.holds(member):
                self.relay.released(member, reason)
            if member.rooms:
                names = ", ".join(r.name for r in member.rooms)
                log.info("%s quit %s%s", member.name, names, f" ({reason})" if reason else "")
            if self._quit(member, reason, name_heir=True):
                self.reclaims.disconnected(name_key(member.name))
            if member.account:
                self.markers.save(member.account)  # its user left: its markers now

    def _quit(self, member: Member, reason: str, *, name_heir: bool) -> bool:
        """Take the member out of its rooms (they hear it quit) and the name from it;
        whether it held the name."""
        if member.rooms:
            self.tell_peers(member, Quit(member.name, reason, member.mask))
            for room in list(member.rooms):
                self._remove(member, room, name_heir=name_heir)
        for room in member.invites:
            room.invited.pop(member, None)
        member.clear_invites()
        held = self._names.drop(member)
        self._presence_changed(member)  # gone for good: a restart does not bring it back
        return held

    async def rename(self, member: Member, new_name: str) -> bool:
        """Change a member's name; whoever shares a room is told, the member too.
        NameTaken if another has it. Returns whether anyone was told."""
        async with self._lock:
            old_key, new_key = name_key(member.name), name_key(new_name)
            if new_key != old_key:
                if new_key in self._names:
                    raise NameTaken(new_name)
                self._check_reserved(new_name, member.account)
                self._check_banned(new_name, member.user, member.host, member.account)
                await self._claim_in_cluster(new_name)
            old = member.name
            self._names.remember(member)
            told = self._rename(member, new_name)
            self.reclaims.renamed(old_key, new_key, new_name)
            if self.relay is not None:
                self.relay.renamed(member, old)
            log.info("%s is now known as %s", old, new_name)
            return told

    def _rename(self, member: Member, new_name: str) -> bool:
        """File the member under its new name; its rooms are told (itself too).
        Whether anyone was told."""
        old, mask = member.name, member.mask
        self._names.rekey(member, new_name)
        member.name = new_name
        member.named = self.clock()  # a guest's own messages are its new name's from now
        member.remask()
        self.watches.renamed(member, old)
        told = bool(member.rooms)
        if told:
            self.tell_peers(member, Renamed(old, new_name, mask), include_self=True)
        self._remute(member)  # a name ban may match the new name, or no longer
        self._presence_changed(member)
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
            held = self.reclaims.check(name_key(name), code)
            if held is None:
                raise ReclaimRefused(name)
            ghost = self._names.find(name)
            self._check_banned(held, "~" + held[:9], host, ghost.account if ghost else "")
            if ghost is None:
                self._check_reserved(held, "")  # registered since: its password, not a code
                await self._claim_in_cluster(held)
                member = Member(held, write, render, "~" + held[:9], host, signon=self.clock())
                self._names.add(member)
                if self.relay is not None:
                    self.relay.claimed(member)
                return member
            ghost.tell_detached()
            ghost.flush_rooms()
            ghost.write = write
            self.set_render(ghost, render)
            self._back(ghost, host)
            if self.relay is not None:
                self.relay.reconnected(ghost)
            log.info("%s reconnected", ghost.name)
            return ghost

    def _back(self, member: Member, host: str) -> None:
        """The member is back from `host`: which bans match it; its rooms are told."""
        member.host = host
        member.remask()
        self._remute(member)
        self.tell_peers(member, Reconnected(member.name, member.mask))

    def set_away(self, member: Member, text: str) -> None:
        """Mark a member away (or back, with no text); those sharing a room are told."""
        member.away = text
        if self.relay is not None:
            self.relay.away(member)
        self.tell_about(member, AwayChanged(member.name, text, member.mask))

    def set_user_modes(self, member: Member, modes: AbstractSet[str]) -> None:
        """A member's own IRC user modes (i, w, B; o only taken away) are now these;
        nobody is told (but the cluster). Without "o" it is no longer a server operator."""
        if not member.oper:
            modes = modes - {"o"}
        elif "o" not in modes:
            log.info("%s is no longer a server operator", member.name)
            member.oper = ""
        member.modes = modes
        self._names.moded(member)
        if self.relay is not None:
            self.relay.user_modes(member)

    # --- Private messages (registry/private.py): delivery, and what is kept of them. ---
    async def whisper(
        self,
        member: Member,
        target_name: str,
        text: str,
        kind: str = "msg",
        tags: str = "",
        device: Device | None = None,
    ) -> Delivery:
        """A private message (`kind`: msg, action, notice, ctcp, tagmsg) to a user online
        on either door, or left for a registered account's next login; the sender's
        other connections (than `device`, the one it came from) see it as sent.
        NoSuchUser; OfflineGuest, OfflineNotKept, OfflineFull (an offline account)."""
        delivery = await self.private.whisper(member, target_name, text, kind, tags)
        if member.devices:
            copy = dataclasses.replace(delivery.event, echo=True)
            sender = member.sink(device)
            for sink, render in member.sinks():
                if sink is not sender and (data := render(copy)):
                    sink.write(data)
        return delivery

    async def held_for(self, member: Member) -> list[Whispered]:
        """At a login: the messages that waited for the member's account, oldest first,
        each handed over once. The door shows them."""
        return await self.private.collect(member)

    async def conversation(self, member: Member, name: str, query: Query) -> list[Whispered]:
        """The member's kept private messages with `name`, oldest first. NotLoggedIn
        (a guest keeps none), HistoryUnavailable."""
        return await self.private.conversation(member, name, query)

    async def conversation_targets(
        self, member: Member, after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        """(name, newest ms) of the member's conversations whose newest message is in
        the window (CHATHISTORY TARGETS). HistoryUnavailable."""
        return await self.private.targets(member, after_ms, before_ms, limit)

    def forget_conversations(self, account: str) -> None:
        """A dropped account's conversations, and what waits for it, are forgotten."""
        self.private.forget(account)

    # --- Redaction (registry/redaction.py): a message taken back, out of history. ---
    async def redact(
        self,
        member: Member,
        room_name: str,
        msgid: str,
        reason: str = "",
        *,
        echo: bool = True,
        device: Device | None = None,
    ) -> Redacted:
        """Take back a message of a room the member is in (its own, or any if it runs
        the room): out of the ring and the store, and the room hears it (not the
        connection it came from, `device`, without `echo`). NoSuchRoom, NotInRoom,
        NoSuchMessage, RedactForbidden, HistoryUnavailable."""
        skip = None if echo else member.sink(device)
        return await self.redactions.in_room(member, room_name, msgid, reason, skip)

    async def redact_private(
        self,
        member: Member,
        name: str,
        msgid: str,
        reason: str = "",
        *,
        echo: bool = True,
        device: Device | None = None,
    ) -> Redacted:
        """Take back the member's private message to `name`: out of the store and the
        sessions; both sides hear it. NoSuchUser, NoSuchMessage, RedactForbidden,
        HistoryUnavailable."""
        skip = None if echo else member.sink(device)
        return await self.redactions.in_private(member, name, msgid, reason, skip)

    def private_redacted(self, target: Member, event: Redacted) -> None:
        """A user of another server took back its private message to this server's
        `target` (that server changed the store): out of the target's session, told."""
        self.redactions.received(target, event)

    # --- Server operators (registry/opers.py): the powers beyond a room. ---
    async def make_oper(self, member: Member, name: str, password: str, address: str) -> bool:
        """Make the member a server operator (user mode +o) if `password` is the oper
        `name`'s; whether it became one now (False: it was one, or it is gone).
        NoOperHost, OperRefused, OperLimited (registry/opers.py)."""
        oper = await self.opers.verify(name, password, address)
        if member.oper or not self._names.holds(member):
            return False  # checked again after the await: it may have left meanwhile
        member.oper = oper
        member.modes = member.modes | {"o"}
        self._names.moded(member)
        if self.relay is not None:
            self.relay.user_modes(member)
        log.info("%s is now a server operator (as %s)", member.name, oper)
        return True

    def kill(self, by: Member, name: str, reason: str) -> Member:
        """A server operator disconnects a user: whoever shares a room sees it quit with
        `Killed (OPER (REASON))`, its connection is told and closed. A user of another
        server of the cluster is killed there (the relay asks that server, whose quit
        comes back as every quit does). NotServerOperator, NoSuchUser."""
        if not by.oper:
            raise NotServerOperator(by.name)
        target = self.find(name)
        if target is None:
            raise NoSuchUser(name)
        reason = reason or "no reason"
        log.info("%s killed %s (%s)", by.name, target.name, reason)
        if not target.server:
            self._kill(target, by.name, reason)
        elif self.relay is not None:
            self.relay.kill(target, by, reason)
        return target

    def kill_user(self, member: Member, by: str, reason: str) -> None:
        """A server operator of another server of the cluster (`by`) killed a user of
        this server (its link applies it): as kill() does to a user here."""
        if member.server or not self._names.holds(member):
            return
        log.info("%s killed %s from another server (%s)", by, member.name, reason)
        self._kill(member, by, reason)

    def _kill(self, target: Member, by: str, reason: str) -> None:
        why = f"Killed ({by} ({reason}))"
        if self.relay is not None:
            self.relay.released(target, why)
        self._quit(target, why, name_heir=True)
        self.reclaims.forget(name_key(target.name))  # not back with its code, as if dropped
        if target.account:
            self.markers.save(target.account)
        self._close_all(target, why)

    @staticmethod
    def _close_all(member: Member, why: str) -> None:
        """Each connection of a member put off the server is told why and closed."""
        devices, member.devices = member.devices, ()
        member.tell_killed(why)
        for device in devices:
            if device.killed is not None:
                device.killed(why)

    def wallops(self, by: Member, text: str) -> int:
        """A server operator's message to the opers and the users with +w of every
        server (the sender too); how many of this server's got it. NotServerOperator."""
        if not by.oper:
            raise NotServerOperator(by.name)
        event = Wallops(by.name, text, by.mask)
        told = self.tell_opers(event)
        if self.relay is not None:
            self.relay.wallops(event)
        log.info("%s sent wallops to %s", by.name, counted(told, "user"))
        return told

    def tell_opers(self, event: Wallops) -> int:
        """Wallops to the opers and the users with +w of this server, whichever server
        of the cluster they came from; how many got them."""
        told = 0
        for member in self._names.users():
            if not member.server and (member.oper or "w" in member.modes):
                member.send(event)
                told += 1
        return told

    # --- Server bans (registry/bans.py): who may not be on this server at all. ---
    def attach_bans(self, store: BanStore) -> None:
        """Keep server bans in this store (at start-up, before any user)."""
        self.bans.attach(store)

    def _check_banned(self, name: str, user: str, host: str, account: str) -> None:
        """ServerBanned if a server ban matches a user of this name, user, host, account."""
        record = self.bans.match(name, user, host, account)
        if record is not None:
            log.info("%s (%s) refused: server ban on %s", name, host, record.mask)
            raise ServerBanned(name, record.why)

    def server_ban(
        self, by: Member, text: str, reason: str, duration_s: float | None = None
    ) -> tuple[BanRecord, bool, list[Member]]:
        """A server operator bans a mask from the server (registry/bans.py), for
        `duration_s` or for ever: the ban, whether it replaced one on the same mask, and
        the users of this server it disconnected (as a kill does; their rooms see them
        quit with its reason). NotServerOperator, BadServerBan, BanMatchesYou."""
        if not by.oper:
            raise NotServerOperator(by.name)
        mask = ban_mask(text)
        if record_matches(BanRecord(mask, "", "", 0.0), by.name, by.user, by.host, by.account):
            raise BanMatchesYou(mask)
        record, replaced = self.bans.add(mask, reason, by.name, duration_s)
        span = f"for {word_duration(duration_s)}" if duration_s else "permanently"
        log.info("%s (oper %s) banned %s from the server %s (%s)",
                 by.name, by.oper, mask, span, record.why)  # fmt: skip
        return record, replaced, self._ban_out(record)

    def lift_server_ban(self, by: Member, text: str) -> BanRecord:
        """A server operator lifts the server ban on a mask. NotServerOperator,
        NoSuchServerBan."""
        if not by.oper:
            raise NotServerOperator(by.name)
        record = self.bans.remove(text)
        if record is None:
            raise NoSuchServerBan(text)
        log.info("%s (oper %s) lifted the server ban on %s", by.name, by.oper, record.mask)
        return record

    def server_bans(self, by: Member) -> list[BanRecord]:
        """The server bans in force, oldest first, for a server operator.
        NotServerOperator."""
        if not by.oper:
            raise NotServerOperator(by.name)
        return self.bans.listing()

    def apply_server_ban(self, record: BanRecord) -> None:
        """A ban another server of the cluster set: kept here too, and this server's
        users it matches are disconnected (nothing is saved or published again)."""
        self.bans.remember(record)
        self._ban_out(record)

    def _ban_if_banned(self, member: Member) -> None:
        record = self.bans.match(member.name, member.user, member.host, member.account)
        if record is not None and not member.server:
            self._ban_out(record, [member])

    def _ban_out(self, record: BanRecord, among: list[Member] | None = None) -> list[Member]:
        """Disconnect this server's users the ban matches: their rooms see them quit,
        their connections are told why and closed, their reclaim codes stop working."""
        why = f"Banned from this server ({record.why})"
        hit = [
            m for m in (self._names.users() if among is None else among)
            if not m.server and record_matches(record, m.name, m.user, m.host, m.account)
        ]  # fmt: skip
        for target in hit:
            log.info("%s is disconnected by the server ban on %s", target.name, record.mask)
            if self.relay is not None:
                self.relay.released(target, why)
            self._quit(target, why, name_heir=True)
            self.reclaims.forget(name_key(target.name))
            devices, target.devices = target.devices, ()
            if not target.tell_banned(record.why):
                target.tell_killed(why)
            for device in devices:  # its other connections (the same account)
                if device.killed is not None:
                    device.killed(why)
        return hit

    def notify(self, member: Member, text: str) -> None:
        """A notice from the server itself to one user of this server."""
        member.send(ServerNotice(text, self.server_name, member.name))

    def notify_all(self, text: str) -> None:
        """A notice from the server itself to every user connected here (what the server
        as a whole went through: the cluster lost or found again)."""
        for member in self._names.users():
            if not member.server:
                self.notify(member, text)

    def set_render(self, member: Member, render: Render, device: Device | None = None) -> None:
        """Change how a member's events are worded on one connection (its first, or
        `device`): its IRC capabilities changed."""
        sink = member.sink(device)
        for room in member.rooms:
            room._swap_render(sink, render)
        sink.render = render

    def tell_peers(
        self,
        member: Member,
        event: Event,
        *,
        include_self: bool = False,
        also: Iterable[Member] = (),
    ) -> None:
        """Deliver a user-level event once to everyone who shares a room with `member`
        (and to `also`)."""
        member.flush_rooms()
        peers: dict[Member, None] = {}
        for room in member.rooms:
            peers.update(room.members)
        peers.update(dict.fromkeys(also))
        if not include_self:
            peers.pop(member, None)
        rendered: dict[Render, bytes] = {}
        for peer in peers:
            data = rendered.get(peer.render)
            if data is None:
                data = rendered[peer.render] = peer.render(event)
            if peer.devices:
                peer.deliver(data, rendered, event)
            elif data:
                peer.write(data)

    # --- Presence: who watches whom (registry/watch.py), and a user's own details. ---
    def tell_about(self, member: Member, event: Event) -> None:
        """A change of the member's own (away, account, realname) reaches those who
        share a room with it and those who watch its name and asked to hear such
        changes (IRCv3 extended-monitor), once each."""
        hearing = self.watches.hearing(member)
        for watcher in hearing:
            watcher.flush_rooms()  # what its own rooms said first stays first
        if member.rooms or hearing:
            self.tell_peers(member, event, also=hearing)

    def set_realname(self, member: Member, realname: str) -> None:
        """The member's realname (IRC's GECOS) is now this (the door checked it, and
        confirms it to the member): its peers and those who hear its changes are told
        (IRCv3 setname)."""
        member.realname = realname
        if self.relay is not None:
            self.relay.realname(member)
        self.tell_about(member, RealnameChanged(member.name, realname, member.mask))

    # --- Rooms and membership. ---
    async def create(self, member: Member, room_name: str, *, leave: Room | None = None) -> Room:
        """Make a new room and put the member in it, out of `leave` first;
        RoomExists, TooManyRooms or TooManyJoined."""
        key = name_key(room_name)
        if self.relay is not None and key not in self._rooms:
            await self.relay.find_room(room_name)  # made on another server a moment ago?
        async with self._lock:
            if key in self._rooms:
                raise RoomExists(self._rooms[key].name)
            if self.relay is not None:
                if not await self.relay.claim_room(room_name):
                    raise RoomExists(room_name)  # made on another server this instant
                if key in self._rooms:  # ...and its news came while Redis answered
                    raise RoomExists(self._rooms[key].name)
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
        room's own rules: Banned, InviteOnly, BadKey, RoomFull (registry/modes.py)."""
        room_key = name_key(room_name)
        for tries in range(2):  # in a cluster, again if another server made it meanwhile
            if self.relay is not None and room_key not in self._rooms:
                await self.relay.find_room(room_name)  # made elsewhere a moment ago?
            async with self._lock:
                room = self._rooms.get(room_key)
                if room is not None:
                    return self._join(member, room, leave, admit, key), False
                if not create:
                    raise NoSuchRoom(room_name)
                if self.relay is None or tries or await self.relay.claim_room(room_name):
                    room = self._rooms.get(room_key)  # its news came while Redis answered?
                    if room is not None:
                        return self._join(member, room, leave, admit, key), False
                    return self._create(member, room_name, leave), True
        raise AssertionError("unreachable")

    def _join(
        self,
        member: Member,
        room: Room,
        leave: Room | None,
        check: Callable[[Room], None] | None,
        key: str,
    ) -> Room:
        """join() for a room that exists here."""
        if room in member.rooms:
            raise AlreadyInRoom(room.name)
        if check is not None:
            check(room)
        self._check_joined(member, leave)
        admit(room, member, key)
        if leave is not None:
            self._leave(member, leave)
        self._seat(member, room)
        room.publish(
            Joined(member.name, room.name, member.mask, member.account, member.realname), member
        )
        if member.away:
            room.publish(AwayChanged(member.name, member.away, member.mask), member)
        log.info("%s joined %s", member.name, room.name)
        self._grant(member, room, joined=True)
        return room

    def _seat(
        self, member: Member, room: Room, *, op: bool = False, restored: bool = False
    ) -> None:
        """Put the member in the room: its invitation is used up; an operator if `op`,
        or if it is alone in a room with none (an empty room kept: as if it made it),
        unless `restored` (an always-on user brought back at start-up)."""
        room._add(member)
        room.invited.pop(member, None)
        member.uninvite(room)
        self._presence_changed(member)
        alone = room.owner is None and not room.ops and len(room.members) == 1
        if op or (alone and not restored):
            room.ops.add(member)  # a registered room's status comes from its owner: _grant
        if room.lists["b"] and is_silenced(room, member):
            room.set_muted(member, True)  # a mute lets it in, silent

    async def leave(self, member: Member, room: Room, reason: str = "") -> None:
        """Take the member out of a room it is in; the room is told."""
        async with self._lock:
            if room in member.rooms:
                self._leave(member, room, reason)

    def _create(self, member: Member, room_name: str, leave: Room | None) -> Room:
        if len(self._rooms) >= self.max_rooms and not self._make_way():
            raise TooManyRooms(room_name, self.max_rooms)
        self._check_joined(member, leave)
        if leave is not None:
            self._leave(member, leave)
        room = self._new_room(room_name)
        self._save(room)  # its row queued for the store (gone again if it closes unused)
        self._rooms[room.key] = room
        self._seat(member, room, op=True)
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
        self._presence_changed(member)
        if not room.members:
            if not self.holds_history(room) and room.owner is None:
                self._close_room(room)
            return
        if farewell is not None:
            room.publish(farewell)
        if was_op and not room.ops and name_heir and room.owner is None:
            self._crown(room, next(iter(room.members)), "the last one left")

    def _crown(self, room: Room, heir: Member, why: str) -> None:
        """The heir rule's one act: the room has no operator left, `heir` becomes one."""
        room.ops.add(heir)
        log.info("%s is now an operator of %s (%s)", heir.name, room.name, why)
        room.publish(ModeChanged("", room.name, "+o", (heir.name,), self.server_name))

    def _make_way(self) -> bool:
        """At the room limit (which protects memory from live rooms): the empty room
        kept longest without a line leaves memory, its lines staying in the store, so
        history kept does not lock out new rooms. False if every room has members."""
        kept = [room for room in self._rooms.values() if not room.members and room.owner is None]
        if not kept:
            return False
        stalest = min(kept, key=lambda r: r.recent[-1].ts if r.recent else r.created)
        self._unload(stalest)
        log.info("room %s left memory for a new room (its history stays)", stalest.name)
        return True

    def _close_room(self, room: Room) -> None:
        self._unload(room)
        self.history.forget_room(room.key)  # its row, and any lines left
        log.info("room %s closed", room.name)

    def _unload(self, room: Room) -> None:
        """Forget an empty room here (the store keeps what it has of it)."""
        del self._rooms[room.key]
        if self.relay is not None:
            self.relay.closed(room)
        for invitee in room.invited:
            invitee.uninvite(room)
        room.invited.clear()

    # --- Owned rooms (registry/owners.py): ChanServ's verbs. ---
    def _grant(
        self, member: Member, room: Room, *, joined: bool = False, quiet: bool = False
    ) -> None:
        """A member of a registered room gets the status its account has there (on join
        and at login); the room is told, as by ChanServ (the member itself too, unless
        it just `joined`: the names it is shown on joining have its status), unless
        `quiet` (at start-up: nobody to tell)."""
        if room.owner is None or not member.account:
            return
        level = room.owner.level(member.account)
        if level == "o" and member not in room.ops:
            room.ops.add(member)
        elif level == "v" and member not in room.voiced and member not in room.ops:
            room.set_voiced(member, True)
        else:
            return
        if quiet:
            return
        event = ModeChanged(CHANSERV, room.name, f"+{level}", (member.name,), CHANSERV_MASK)
        room.publish(event, member if joined else None)
        log.info("%s got +%s in %s from its access", member.name, level, room.name)

    def _owned(self, member: Member, room_name: str, *, founder: bool) -> Room:
        """The registered room a member asks ChanServ about; with `founder`, only its
        founder or a server operator may. NoSuchRoom, RoomNotRegistered, NotFounder."""
        room = self.room(room_name)
        if room is None:
            raise NoSuchRoom(room_name)
        if room.owner is None:
            raise RoomNotRegistered(room.name)
        if founder and not (room.owner.is_founder(member.account) or member.oper):
            raise NotFounder(room.name)
        return room

    def _owner_changed(self, room: Room) -> None:
        """Keep the room's new ownership and tell the cluster (no member sees it)."""
        self._save(room)
        owner = room.owner
        room.publish(
            OwnerChanged(room.name, owner.founder, owner.words(), owner.registered)
            if owner is not None
            else OwnerChanged(room.name, "")
        )

    def register_room(self, member: Member, room_name: str) -> Room:
        """The member's account becomes the founder of a room it runs: the room stays
        when empty, across restarts, with its topic, modes and bans (+t is set: only
        operators change the topic). NotLoggedIn, NoSuchRoom, NotInRoom, NotOperator,
        RoomRegistered."""
        if not member.account:
            raise NotLoggedIn(member.name)
        room = self.room(room_name)
        if room is None:
            raise NoSuchRoom(room_name)
        if room not in member.rooms:
            raise NotInRoom(room.name)
        if room.owner is not None:
            raise RoomRegistered(room.name)
        if member not in room.ops:
            raise NotOperator(room.name)
        room.owner = Ownership(member.account, self.clock())
        if "t" not in room.modes:
            room.modes.add("t")
            room.publish(ModeChanged(CHANSERV, room.name, "+t", (), CHANSERV_MASK))
        self._owner_changed(room)
        log.info("%s registered %s to account %s", member.name, room.name, member.account)
        return room

    def drop_room(self, member: Member, room_name: str) -> Room:
        """The room is no longer registered (its founder or a server operator asks): the
        old rule again, and it closes when empty with no history."""
        room = self._owned(member, room_name, founder=True)
        room.owner = None
        self._owner_changed(room)
        log.info("%s dropped the registration of %s", member.name, room.name)
        if not room.members and not self.holds_history(room):
            self._close_room(room)
        return room

    def set_access(self, member: Member, room_name: str, level: str, account: str) -> Room:
        """Give an account a status on join in a registered room ("o", "v"; "" takes it
        away); members logged in to it get it now. The founder or a server operator.
        NoSuchAccount, and as _owned."""
        room = self._owned(member, room_name, founder=True)
        owner = room.owner
        assert owner is not None
        found = self.accounts.find(account)
        if found is None:
            raise NoSuchAccount(account)
        if level:
            owner.access[name_key(found.name)] = (found.name, level)
        elif owner.access.pop(name_key(found.name), None) is None:
            return room
        self._owner_changed(room)
        log.info("%s set access %s for %s in %s", member.name, level or "-", found.name, room.name)
        for present in room.members:
            if present.account and name_key(present.account) == name_key(found.name):
                self._grant(present, room)
        return room

    def transfer_room(self, member: Member, room_name: str, account: str) -> Room:
        """Give a registered room to another account, which becomes its founder. The
        founder or a server operator. NoSuchAccount, and as _owned."""
        room = self._owned(member, room_name, founder=True)
        owner = room.owner
        assert owner is not None
        found = self.accounts.find(account)
        if found is None:
            raise NoSuchAccount(account)
        owner.founder = found.name
        owner.access.pop(name_key(found.name), None)
        self._owner_changed(room)
        log.info("%s gave %s to account %s", member.name, room.name, found.name)
        for present in room.members:
            if present.account and name_key(present.account) == name_key(found.name):
                self._grant(present, room)
        return room

    def regain(self, member: Member, room_name: str) -> Room:
        """A member whose account has a status in a registered room it is in takes it
        again (ChanServ OP: after someone took it away). NotInRoom, NotOperator (no
        status here), and as _owned."""
        room = self._owned(member, room_name, founder=False)
        if room not in member.rooms:
            raise NotInRoom(room.name)
        owner = room.owner
        assert owner is not None
        if not owner.level(member.account):
            raise NotOperator(room.name)
        self._grant(member, room)
        return room

    # --- Moderation: the rules both doors enforce (registry/modes.py). ---
    @staticmethod
    def runs(member: Member, room: Room) -> bool:
        """Whether the member may set the room's modes and kick in it: its operators,
        and a server operator who is in it (to take back a room someone took over)."""
        return member in room.ops or (bool(member.oper) and room in member.rooms)

    def set_topic(self, member: Member, room: Room, text: str) -> None:
        """Set the room's topic (the door has checked the member may); kept in history."""
        room.topic, room.topic_by, room.topic_ts = text, member.mask, self.clock()
        room.post(TopicSet(member.name, room.name, text, room.topic_ts, member.mask, self.new_id()))
        self._save(room)

    async def kick(self, member: Member, room: Room, name: str, reason: str = "") -> Member:
        """An operator puts a member out of the room (who may come back unless banned).
        NotInRoom, NotOperator, NoSuchUser, NotThere."""
        async with self._lock:
            if room not in member.rooms:
                raise NotInRoom(room.name)
            if not self.runs(member, room):
                raise NotOperator(room.name)
            target = self.find(name)
            if target is None:
                raise NoSuchUser(name)
            if room not in target.rooms:
                raise NotThere(room.name, target.name)
            room.publish(Kicked(member.name, room.name, target.name, reason, member.mask))
            log.info("%s kicked %s from %s", member.name, target.name, room.name)
            self._put_out(room, target, name_heir=True)
            return target

    def _put_out(self, room: Room, target: Member, *, name_heir: bool) -> None:
        """A kick's effect, once its Kicked is published: out, and its connection told."""
        self._remove(target, room, name_heir=name_heir)
        target.tell_kicked(room)
        for device in target.devices:
            if device.kicked is not None:
                device.kicked(room)

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
                self._invite(room, target)
            log.info("%s invited %s to %s", member.name, target.name, room.name)
            name, mask, account = member.name, member.mask, member.account
            target.send(Invited(name, room.name, target.name, mask, True, account))
            room.publish(Invited(name, room.name, target.name, mask, account=account), member)
            return room, target

    def _invite(self, room: Room, target: Member) -> None:
        room.invited[target] = None
        target.invite(room)

    def change_modes(
        self, member: Member, room: Room, changes: list[Change]
    ) -> tuple[list[Change], list[Refusal]]:
        """Apply an operator's mode changes in order; the room sees one ModeChanged
        for all that changed something. Returns what changed and what was refused
        (each change on its own, as a Refusal). NotOperator."""
        if not self.runs(member, room):
            raise NotOperator(room.name)
        limits = Limits(self.max_key_chars, self.max_mask_chars, self.max_list_masks)
        done: list[Change] = []
        refused: list[Refusal] = []
        now = self.clock()
        for change in changes:
            result = apply_change(room, change, member.mask, now, self.find, limits)
            if isinstance(result, Refusal):
                refused.append(result)
            elif result is not None:
                done.append(result)
        for change in done:
            if change.letter in "be":
                remute_room(room, change)
        if done:
            self._save(room)
            modes, args = word_changes(done)
            room.publish(ModeChanged(member.name, room.name, modes, args, member.mask))
            logged = word_changes(
                [Change(c.sign, c.letter, "*") if c.letter == "k" else c for c in done]
            )
            log.info(
                "%s set mode %s on %s", member.name, " ".join((logged[0], *logged[1])), room.name
            )
        return done, refused

    def _remute(self, member: Member) -> None:
        """The member's name, address or account changed: which bans and mutes match it
        again."""
        for room in member.rooms:
            room.set_muted(member, is_silenced(room, member))

    # --- What another server of a cluster did (cluster/link.py applies it here). ---
    # The relay does not hear these again: it ignores what the registry tells it while
    # it applies. A user of another server is a Member whose `server` is not "".
    def add_user(self, member: Member) -> bool:
        """A user of another server is known here; False (nothing done) if its name is
        held here."""
        if name_key(member.name) in self._names:
            return False
        self._names.add(member)
        return True

    def update_user(
        self, member: Member, *, away: str, modes: set[str], account: str | None = None
    ) -> None:
        """Another server's word on its user's away text, user modes and account
        (nobody told)."""
        member.away = away
        member.modes = modes
        self._names.moded(member)
        if account is not None:
            member.account = account

    def whispered(self, target: Member, event: Whispered) -> None:
        """A private message from a user of another server to this server's `target`."""
        self.private.received(target, event)

    def drop_user(self, member: Member, reason: str) -> None:
        """A user of another server quit (or its server is gone): its rooms are told;
        its server names the heirs of the rooms it ran."""
        self._quit(member, reason, name_heir=False)

    def rename_user(self, member: Member, new_name: str) -> bool:
        """A user of another server changed its name; False if another holds it here."""
        other = self._names.find(new_name)
        if other is not None and other is not member:
            return False
        self._rename(member, new_name)
        return True

    def user_back(self, member: Member, host: str) -> None:
        """A user of another server reconnected (reclaimed its name) from `host`."""
        self._back(member, host)

    def ensure_room(self, name: str, created: float | None, settings: dict[str, Any]) -> Room:
        """The room another server speaks of, made with its settings (Room.settings())
        if it is not here; if nobody here is in it, that server's view is the room's;
        else only a newer topic is taken."""
        room = self.room(name)
        if room is None:
            room = self._new_room(name)
            self._rooms[room.key] = room
        elif any(not m.server for m in room.members):
            topic_ts = settings.get("topic_ts", 0)
            if isinstance(topic_ts, int | float) and topic_ts > room.topic_ts:
                room.topic, room.topic_by = settings["topic"], settings["topic_by"]
                room.topic_ts = topic_ts
            return room
        if created is not None:
            room.created = created
        room.restore(settings)
        return room

    def enter(self, member: Member, room: Room, *, op: bool = False, shown: bool = True) -> None:
        """A user of another server is in the room (its maker, with `op`); the room sees
        it join if `shown`."""
        if room in member.rooms:
            return
        self._seat(member, room, op=op)
        if shown:
            room.publish(
                Joined(member.name, room.name, member.mask, member.account, member.realname)
            )

    def set_privileges(self, member: Member, room: Room, *, op: bool, voiced: bool) -> None:
        """Another server's word on whether its user is an operator, voiced (nobody told)."""
        (room.ops.add if op else room.ops.discard)(member)
        room.set_voiced(member, voiced)

    def part(self, member: Member, room: Room, farewell: Event | None) -> None:
        """A user of another server is no longer in the room (the room hears `farewell`)."""
        if room in member.rooms:
            self._remove(member, room, farewell, name_heir=False)

    def apply_modes(self, room: Room, event: ModeChanged) -> None:
        """Mode changes another server made (and checked), applied as told; the room
        sees the event."""
        changes, _, _ = parse_changes(event.modes, list(event.args))
        now = self.clock()
        for change in changes:
            apply_change(room, change, event.mask, now, self.find, None)
            if change.letter in "be":
                remute_room(room, change)
        room.publish(event)

    def name_heir(self, room: Room) -> None:
        """The room's operators were all on a server that is gone: every server names the
        same heir, the member connected longest (signon, then name)."""
        if room.members and not room.ops and room.owner is None:
            heir = min(room.members, key=lambda m: (m.signon, name_key(m.name)))
            self._crown(room, heir, "its operators' node is gone")

    def apply(self, room_name: str, event: Event) -> None:
        """An event another server published in a room (not Joined, Left or ModeChanged:
        enter, part, apply_modes), applied here as there, then published; a line
        history keeps goes into the room's replay ring (its server stored it)."""
        room = self._rooms.get(name_key(room_name))
        if type(event) is AwayChanged:
            away = self.find(event.name)
            if away is not None and away.server:
                away.away = event.text
        if room is None:
            return
        if type(event) is Kicked:
            room.publish(event)
            target = self.find(event.target)
            if target is not None and room in target.rooms:
                self._put_out(room, target, name_heir=False)
            return
        if type(event) is TopicSet:
            if event.ts < room.topic_ts:
                return  # set here later (the newest topic wins on every server)
            room.topic, room.topic_by, room.topic_ts = event.text, event.mask, event.ts
        elif type(event) is OwnerChanged:
            room.owner = (
                Ownership(event.founder, event.registered, from_words(event.access))
                if event.founder
                else None
            )
        elif type(event) is Invited:
            inviter, invitee = self.find(event.name), self.find(event.target)
            if inviter in room.ops and invitee is not None:
                self._invite(room, invitee)
        elif type(event) is Redacted:
            forget_line(room, event.target_msgid)  # that server changed the store
        room.publish(event)
        if self.history.is_on and is_kept(event):
            self._ring(room).append(event)
