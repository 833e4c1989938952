"""What a text user missed in a room (docs/protocol.md, "History"): the lines said
after a point, instead of the room's last few.

The point is the time the client gives (`/replay since WHEN`) or, for a user logged in
to an account, the account's read marker of the room (registry/markers.py). What the
store holds after it is read before the join (an await); right after the join (no
await between) the room's memory adds what was said meanwhile, so each line reaches
the joiner once: replayed, or live after the frame. The `* New since you last read`
line goes where the account's marker is. No sockets here.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import re
from dataclasses import dataclass

import registry as r
from doors.text.render import framed
from registry.history import MAX_FETCH, HistoryUnavailable, Kept, Query, Ref
from rooms import RoomManager

_AGE = re.compile(r"(\d{1,9})([smhd])\Z")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
WHEN_USAGE = "WHEN a time (2026-12-01T10:20:30.000Z, UTC) or an age (90s, 15m, 2h, 1d)"


def parse_when(text: str, now: float) -> int:
    """`/replay since`'s WHEN as ms since the epoch: a UTC time as IRC's server-time
    words it (`2026-12-01T10:20:30.123Z`, the `.123` and `Z` optional), or an age
    before `now` (`90s`, `15m`, `2h`, `1d`: immune to a client's clock being off); at
    the earliest the epoch. ValueError for anything else."""
    age = _AGE.match(text)
    if age is not None:
        return max(0, int((now - int(age[1]) * _SECONDS[age[2]]) * 1000))
    if not text[:4].isdigit() or "T" not in text:
        raise ValueError(text)
    when = datetime.datetime.fromisoformat(text.removesuffix("Z"))
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    return max(0, calendar.timegm(when.timetuple()) * 1000 + when.microsecond // 1000)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """A replay of what came after `point` in the room with key `room`; `mark` is the
    account's read marker (the unread line goes there), `stored` what the store held
    after the point, read before the join."""

    room: str
    point: r.Mark
    mark: r.Mark | None
    stored: tuple[Kept, ...]


def _covers(room: r.Room, point: r.Mark) -> bool:
    """Whether the room's memory holds every line after `point` (no read needed)."""
    ring = room.recent
    if not ring:
        return False
    if point.msgid and any(event.msgid == point.msgid for event in ring):
        return True
    return r.Mark(int(ring[0].ts * 1000), ring[0].msgid).rank() < point.rank()


async def plan(rooms: RoomManager, name: str, point: r.Mark, mark: r.Mark | None) -> CatchUp:
    """Before joining room `name`: what the store holds of its lines after `point`
    (the newest MAX_FETCH), unless the room's memory holds them all; a store that
    cannot be read leaves the memory's."""
    room = rooms.room(name)
    key = room.key if room is not None else r.room_target(name)[1:]
    stored: list[Kept] = []
    if room is not None and not _covers(room, point):
        query = Query(key, "latest", MAX_FETCH, Ref(ts_ms=point.ms - 1))  # from its ms on
        with contextlib.suppress(HistoryUnavailable):  # then the memory's alone
            stored = r.unread(await rooms.history.fetch(query), point)
    return CatchUp(key, point, mark, tuple(stored))


def replayed(rooms: RoomManager, room: r.Room, catch_up: CatchUp) -> list[str]:
    """Right after the join: the lines after the point, framed as history, with the
    unread line before the first one after the account's marker (none: nothing)."""
    stored = list(catch_up.stored) if catch_up.room == room.key else []
    have = {event.msgid for event in stored if event.msgid}
    later = [e for e in r.unread(room.recent, catch_up.point) if e.msgid not in have]
    since = rooms.history_since()
    events = [event for event in stored + later if event.ts >= since][-MAX_FETCH:]
    mark = catch_up.mark
    unread_at = len(events) - len(r.unread(events, mark)) if mark is not None else None
    return framed(room.name, events, rooms.clock(), unread_at=unread_at)
