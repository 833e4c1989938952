"""History in cluster mode: a capped Redis stream per room, behind the same interface
the registry uses for the SQLite store (store.History), so every node reads it.

The event loop only appends: each kept line goes through the bus's queue as an XADD
(MAXLEN ~ cap) and, with --history-days, an XTRIM MINID ~ of the expired; fan-out never
waits on Redis. A read (replay, /history, CHATHISTORY) reads the room's stream, at
most `cap` entries, and answers the query in memory; lines are in the order Redis
took them. A line said while Redis is away waits in the bus's queue (or is dropped and
counted when it is full). Durability is Redis's own: see docs/cluster.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cluster.bus import FAULTS
from cluster.codec import CodecError, decode, encode
from events import Acted, Said, TopicSet
from store import History, HistoryUnavailable, Keep, Kept, Query, Ref, SavedRoom
from utils import name_key

if TYPE_CHECKING:
    from cluster.link import ClusterLink
    from rooms import Room

log = logging.getLogger("chatroom.cluster")

Entry = tuple[int, int, Kept]  # (position, ts in ms, event)


class RedisHistory(History):
    is_on = True

    def __init__(
        self, link: ClusterLink, *, recent: int, retention_s: float, cap: int = 10_000
    ) -> None:
        self.link = link
        self.recent = recent
        self.retention_s = retention_s
        self.cap = cap
        self.prefix = f"{link.prefix}:history:"
        self._saved: list[SavedRoom] = []
        self._clock: Callable[[], float] = link.rooms.clock

    @property
    def problem(self) -> str:
        return "" if self.link.bus.up else "History is unavailable: Redis is away."

    def stream(self, key: str) -> str:
        return self.prefix + key

    def keeper(self, room: Room) -> Keep:
        ring, stream, bus = room.recent, self.stream(room.key), self.link.bus

        def keep(event: Kept) -> None:
            ring.append(event)
            data = json.dumps(encode(event), separators=(",", ":"))
            bus.command_raw("XADD", stream, "MAXLEN", "~", self.cap, "*", "e", data)
            if self.retention_s:
                cutoff = int((self._clock() - self.retention_s) * 1000)
                bus.command_raw("XTRIM", stream, "MINID", "~", cutoff)

        return keep

    async def load(self) -> None:
        """Read the rooms that have history, with their newest lines (at start-up)."""
        redis = self.link.bus.redis
        since = int((self._clock() - self.retention_s) * 1000) if self.retention_s else 0
        async for raw in redis.scan_iter(match=self.prefix + "*", count=500):
            stream = raw.decode() if isinstance(raw, bytes) else str(raw)
            rows = await redis.xrevrange(stream, "+", since or "-", count=max(self.recent, 1))
            lines = [e for _, _, e in self._decode(list(reversed(rows or [])))]
            if lines:
                room = lines[-1].room
                self._saved.append(SavedRoom(room, lines[0].ts, {}, lines))

    def restored(self) -> list[SavedRoom]:
        saved, self._saved = self._saved, []
        return saved

    def remember(self, room: Room, event: Kept) -> None:
        """A line another node said (and wrote): into this room's replay ring only."""
        room.recent.append(event)

    def _decode(self, rows: list[Any]) -> list[Entry]:
        entries: list[Entry] = []
        for position, (stream_id, fields) in enumerate(rows):
            try:
                event = decode(json.loads(fields[b"e"]))
            except (CodecError, KeyError, ValueError):
                continue
            if isinstance(event, Said | Acted | TopicSet):
                sid = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
                entries.append((position, int(sid.split("-")[0]), event))
        return entries

    async def _entries(self, key: str) -> list[Entry]:
        if not self.link.bus.up:
            raise HistoryUnavailable(self.problem)
        since = int((self._clock() - self.retention_s) * 1000) if self.retention_s else 0
        try:
            rows = await self.link.bus.redis.xrange(self.stream(key), since or "-", "+")
        except FAULTS as exc:
            self.link.bus.outage(exc)
            raise HistoryUnavailable(self.problem) from None
        return self._decode(rows or [])

    async def fetch(self, query: Query) -> list[Kept]:
        entries = await self._entries(query.room)
        return [event for _, _, event in select(entries, query)]

    async def targets(
        self, rooms: list[str], after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        low, high = min(after_ms, before_ms), max(after_ms, before_ms)
        found: list[tuple[str, int]] = []
        for key in rooms:
            inside = [ts for _, ts, _ in await self._entries(name_key(key)) if low < ts < high]
            if inside:
                found.append((key, max(inside)))
        return sorted(found, key=lambda pair: pair[1])[:limit]


def _position(entries: list[Entry], ref: Ref) -> tuple[int, int] | None:
    """Where a reference falls: (position, ts); a msgid that names no line: None."""
    if ref.msgid is not None:
        wanted = str(ref.msgid)
        for position, ts, event in entries:
            if getattr(event, "msgid", "") == wanted:
                return position, ts
        return None
    assert ref.ts_ms is not None
    return -1, ref.ts_ms


def _after(entry: Entry, mark: tuple[int, int], by_msgid: bool) -> bool:
    return entry[0] > mark[0] if by_msgid else entry[1] > mark[1]


def _before(entry: Entry, mark: tuple[int, int], by_msgid: bool) -> bool:
    return entry[0] < mark[0] if by_msgid else entry[1] < mark[1]


def select(entries: list[Entry], q: Query) -> list[Entry]:
    """The query's lines, oldest first, as store.reads answers it from SQLite."""
    ref = q.ref
    if q.kind == "latest" and ref is None:
        return entries[-q.limit :] if q.limit else []
    if ref is None:
        raise ValueError(f"bad query {q!r}")
    mark = _position(entries, ref)
    if mark is None:
        return []
    by_id = ref.msgid is not None
    older = [e for e in entries if _before(e, mark, by_id)]
    newer = [e for e in entries if _after(e, mark, by_id)]
    if q.kind == "latest":
        return newer[-q.limit :] if q.limit else []
    if q.kind == "before":
        return older[-q.limit :] if q.limit else []
    if q.kind == "after":
        return newer[: q.limit]
    if q.kind == "around":
        half = (q.limit - 1) // 2
        before = older[-half:] if half else []
        at_or_after = [e for e in entries if not _before(e, mark, by_id)]
        return before + at_or_after[: q.limit - len(before)]
    if q.kind == "between" and q.until is not None:
        end = _position(entries, q.until)
        if end is None:
            return []
        start_key = (mark[1], mark[0]) if by_id else (mark[1], -1)
        end_key = (end[1], end[0]) if q.until.msgid is not None else (end[1], -1)
        forward = start_key <= end_key
        low, high = (start_key, end_key) if forward else (end_key, start_key)
        inside = [e for e in entries if low < (e[1], e[0]) < high]
        return inside[: q.limit] if forward else inside[-q.limit :]
    raise ValueError(f"bad query {q!r}")
