"""Read markers: how far a user has read each of its conversations (IRCv3 read-marker's
MARKREAD, and what the text door replays to a user who comes back to a room).

A marker is kept for an account, in its settings (`settings["read"]`: target key ->
[ms, msgid]), so it lasts across restarts and, in a cluster, reaches every node with
the account; a guest's are its IRC connection's own, in memory (a `Book` of its own).
A target is a room (`#` and its name key) or a nick (its name key). A marker only
moves forward, and a book keeps at most MAX_TARGETS of them (the one read longest ago
goes first).

Moving a marker writes nothing at once: the accounts whose markers moved are saved
together every SAVE_EVERY_S, when the account's user leaves (its last connection) and
at shutdown, so a client that marks every line costs one account write per interval.
A text connection reading a room (`follow`) moves the marker to the newest line the
room delivered, at most every FOLLOW_EVERY_S and when it stops reading (leaves the
room, disconnects): never per line. Nothing here knows a door.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from registry.accounts import Accounts
from registry.events import MarkerMoved
from registry.history import Kept
from registry.room import Device, Member, Room
from utils import name_key

MAX_TARGETS = 500  # markers an account (or a guest's connection) keeps
SAVE_EVERY_S = 10.0  # an account's moved markers are written at most this often
FOLLOW_EVERY_S = 1.0  # a text connection's marker follows what it was shown this often

Later = Callable[[float, Callable[[], None]], object]  # call_later: a handle, or None


@dataclass(frozen=True, slots=True)
class Mark:
    """Read up to `ms` (ms since the epoch, UTC: the IRC timestamp) and, when `msgid` is
    given, up to that message exactly (a line said in the same ms after it is unread);
    without it, everything said up to the end of that ms."""

    ms: int
    msgid: str = ""

    def rank(self) -> tuple[int, int, int]:
        """The order of marks: by time; in one ms, by message, the whole ms last."""
        if self.msgid.isdigit():
            return (self.ms, 0, int(self.msgid))
        return (self.ms, 1, 0)


def ms_of(ts: float) -> int:
    """A time as marks and IRC's server-time count it: whole ms."""
    return int(ts * 1000)


def room_target(name: str) -> str:
    """The target key of a room."""
    return "#" + name_key(name)


def nick_target(name: str) -> str:
    """The target key of a private conversation with a nick."""
    return name_key(name)


def unread(events: Iterable[Kept], mark: Mark) -> list[Kept]:
    """The lines after `mark`, in order: after its message when it names one that is
    among them, else by time."""
    lines = list(events)
    if mark.msgid:
        for i, event in enumerate(lines):
            if event.msgid == mark.msgid:
                return lines[i + 1 :]
    return [e for e in lines if Mark(ms_of(e.ts), e.msgid).rank() > mark.rank()]


def _decoded(value: Any) -> Mark | None:
    """A stored [ms, msgid] (a bare ms too), or None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Mark(value)
    if (
        isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
        and not isinstance(value[0], bool) and isinstance(value[1], str)
    ):  # fmt: skip
        return Mark(value[0], value[1])
    return None


class Book:
    """Markers by target key in a mapping of plain values (an account's settings, or a
    guest's own dict): forward only, at most `limit`."""

    def __init__(self, marks: MutableMapping[str, Any], limit: int = MAX_TARGETS) -> None:
        self.marks = marks
        self.limit = limit

    def get(self, target: str) -> Mark | None:
        return _decoded(self.marks.get(target))

    def items(self) -> list[tuple[str, Mark]]:
        """Every target with its mark (malformed entries left out)."""
        found = ((target, _decoded(value)) for target, value in self.marks.items())
        return [(target, mark) for target, mark in found if mark is not None]

    def move(self, target: str, mark: Mark) -> tuple[Mark, bool]:
        """Move the target's mark forward to `mark`: the mark it has now, and whether it
        moved (never back: an older one leaves it where it was)."""
        old = self.get(target)
        if old is not None and mark.rank() <= old.rank():
            return old, False
        self.marks[target] = [mark.ms, mark.msgid]
        if old is None and len(self.marks) > self.limit:
            self._evict(keep=target)
        return mark, True

    def _evict(self, keep: str) -> None:
        """Forget the marks read longest ago (and anything malformed) down to the limit."""
        ranked = sorted(
            (mark.rank() if (mark := _decoded(value)) else (-1, 0, 0), target)
            for target, value in self.marks.items()
            if target != keep
        )
        for _, target in ranked[: len(self.marks) - self.limit]:
            del self.marks[target]


def _later(delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(delay_s, callback)


class ReadMarkers:
    """The accounts' read markers: read, moved (and told to the account's connections),
    saved in a coalesced way; and the text connections that follow a room."""

    def __init__(
        self,
        accounts: Accounts,
        *,
        server_name: str = "server",
        clock: Callable[[], float],
        later: Later = _later,
        save_every_s: float = SAVE_EVERY_S,
        follow_every_s: float = FOLLOW_EVERY_S,
        limit: int = MAX_TARGETS,
    ) -> None:
        self.accounts = accounts
        self.server_name = server_name
        self.clock = clock
        self.limit = limit
        self._later = later
        self.save_every_s = save_every_s
        self.follow_every_s = follow_every_s
        self._dirty: dict[str, str] = {}  # account key -> name, moved since the last save
        self._following: dict[object, tuple[Member, Room]] = {}
        self._save_timer: object = None  # a save is scheduled (its handle)
        self._tick_timer: object = None  # a follow tick is scheduled

    def book(self, account: str, *, create: bool = False) -> Book | None:
        """The account's markers (None: no such account, or none kept and not `create`)."""
        found = self.accounts.find(account) if account else None
        if found is None:
            return None
        marks = found.settings.get("read")
        if not isinstance(marks, dict):
            if not create:
                return None
            marks = found.settings["read"] = {}
        return Book(marks, self.limit)

    def get(self, account: str, target: str) -> Mark | None:
        """How far the account has read the target, if it has a marker."""
        book = self.book(account)
        return book.get(target) if book is not None else None

    def move(
        self,
        member: Member,
        target: str,
        mark: Mark,
        *,
        room: str = "",
        nick: str = "",
        skip: Member | Device | None = None,
    ) -> tuple[Mark | None, bool]:
        """Move the marker of the member's account forward (a time in the future counts
        as now): the mark it has now and whether it moved. A move is told to each of the
        member's connections (MarkerMoved: `room` or `nick` names the target) but `skip`,
        and saved with the next save. (None, False) for a guest."""
        book = self.book(member.account, create=True)
        if book is None:
            return None, False
        now = ms_of(self.clock())
        if mark.ms > now:
            mark = Mark(now)
        stored, moved = book.move(target, mark)
        if moved:
            self._dirty[name_key(member.account)] = member.account
            self._schedule_save()
            member.send(MarkerMoved(room, nick, stored.ms, self.server_name), skip=skip)
        return stored, moved

    # --- Saving: coalesced per account. ---
    def _schedule_save(self) -> None:
        if self._save_timer is None:
            self._save_timer = self._later(self.save_every_s, self._save_due) or True

    def _save_due(self) -> None:
        self._save_timer = None
        self.save()

    def save(self, account: str = "") -> None:
        """Write the markers that moved since the last save: of one account (its user
        left), or of every account."""
        if account:
            names = [name] if (name := self._dirty.pop(name_key(account), None)) else []
        else:
            names, self._dirty = list(self._dirty.values()), {}
        for name in names:
            found = self.accounts.find(name)
            if found is not None:
                self.accounts.change_settings(found, read=found.settings.get("read", {}))

    # --- Text connections that follow a room. ---
    def follow(self, key: object, member: Member, room: Room) -> None:
        """A connection (`key`) shows the member the lines of `room` as they come: the
        account's marker of the room follows them, every follow_every_s."""
        self.unfollow(key)
        self._following[key] = (member, room)
        if self._tick_timer is None:
            self._tick_timer = self._later(self.follow_every_s, self._tick) or True

    def unfollow(self, key: object) -> None:
        """The connection stopped showing its room (left, disconnected): the marker is
        where its lines were delivered."""
        followed = self._following.pop(key, None)
        if followed is not None:
            self._catch_up(*followed)

    def _tick(self) -> None:
        self._tick_timer = None
        for member, room in list(self._following.values()):
            self._catch_up(member, room)
        if self._following:
            self._tick_timer = self._later(self.follow_every_s, self._tick) or True

    def _catch_up(self, member: Member, room: Room) -> None:
        """The account's marker of the room at its newest line delivered to the member
        (what the room has pending is written out first)."""
        if not member.account:
            return
        if room in member.rooms:
            if room.pending:
                room.flush()
        elif room.pending:
            return  # said since it left: how far it got is not known here
        if room.recent:
            newest = room.recent[-1]
            mark = Mark(ms_of(newest.ts), newest.msgid)
            self.move(member, room_target(room.name), mark, room=room.name)

    def close(self) -> None:
        """At shutdown, after the connections closed: save every marker that moved,
        and schedule nothing more."""
        for timer in (self._save_timer, self._tick_timer):
            if isinstance(timer, asyncio.TimerHandle):
                timer.cancel()
        self._save_timer = self._tick_timer = None
        self._following.clear()
        self.save()
