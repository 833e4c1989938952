"""History in cluster mode: a capped Redis stream per room, behind the same interface
the registry uses for the SQLite store (store.History), so every node reads it.

The event loop only appends: each kept line goes through the bus's queue as an XADD
(MAXLEN ~ cap) and, with --history-days, an XTRIM MINID ~ of the expired; a room's
settings (topic, modes, key, limit, lists: Room.settings()) go the same way as an HSET
of the hash `PREFIX:rooms` (room key -> JSON {name, created, settings}); fan-out never
waits on Redis. A read (replay, /history, CHATHISTORY) reads the room's stream, at
most `cap` entries, and answers the query in memory; lines are in the order Redis
took them. A line said while Redis is away waits in the bus's queue (or is dropped and
counted when it is full). Durability is Redis's own: see docs/cluster.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cluster.bus import FAULTS
from cluster.codec import CodecError, decode, encode
from registry import (
    History,
    HistoryUnavailable,
    Keep,
    Kept,
    Query,
    Ref,
    SavedRoom,
    is_kept,
    is_owned,
)
from utils import name_key

if TYPE_CHECKING:
    from cluster.link import ClusterLink

log = logging.getLogger("chatroom.cluster")

Entry = tuple[int, int, Kept]  # (position, ts in ms, event)


class RedisHistory(History):
    is_on = True

    def __init__(
        self,
        link: ClusterLink,
        *,
        recent: int,
        retention_s: float,
        cap: int = 10_000,
        expire_every_s: float = 3600.0,
    ) -> None:
        self.link = link
        self.recent = recent
        self.retention_s = retention_s
        self.cap = cap
        self.prefix = f"{link.prefix}:history:"
        self.rooms_key = f"{link.prefix}:rooms"
        self._saved: list[SavedRoom] = []
        self.expire_every_s = expire_every_s
        self._clock: Callable[[], float] = link.rooms.clock
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def problem(self) -> str:
        return "" if self.link.bus.up else "History is unavailable: Redis is away."

    def stream(self, key: str) -> str:
        return self.prefix + key

    def keeper(self, key: str) -> Keep:
        stream, bus = self.stream(key), self.link.bus

        def keep(event: Kept) -> None:
            data = json.dumps(encode(event), separators=(",", ":"))
            bus.command_raw("XADD", stream, "MAXLEN", "~", self.cap, "*", "e", data)
            if self.retention_s:
                cutoff = int((self._clock() - self.retention_s) * 1000)
                bus.command_raw("XTRIM", stream, "MINID", "~", cutoff)

        return keep

    def save_room(self, key: str, name: str, created: float, settings: dict[str, Any]) -> None:
        saved = {"name": name, "created": created, "settings": settings}
        data = json.dumps(saved, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self.link.bus.command_raw("HSET", self.rooms_key, key, data)

    def forget_room(self, key: str) -> None:
        """The room closed here. Only where it closed by this node's own doing (its last
        member left here): a room closing because of what another node published closed
        there first, and that node forgets it. The stream keeps no unexpired line (a room
        closes only then); what expired is trimmed."""
        if self.link.applying:
            return
        bus = self.link.bus
        bus.command_raw("HDEL", self.rooms_key, key)
        if self.retention_s:
            cutoff = int((self._clock() - self.retention_s) * 1000)
            bus.command_raw("XTRIM", self.stream(key), "MINID", cutoff)

    async def load(self) -> None:
        """Read the rooms that have history, with their settings and newest lines (at
        start-up). As the SQLite store, a room is made again only if it holds lines
        that have not expired or is registered (ChanServ)."""
        redis = self.link.bus.redis
        since = int((self._clock() - self.retention_s) * 1000) if self.retention_s else 0
        kept = await redis.hgetall(self.rooms_key)
        loaded: set[str] = set()
        async for raw in redis.scan_iter(match=self.prefix + "*", count=500):
            stream = raw.decode() if isinstance(raw, bytes) else str(raw)
            rows = await redis.xrevrange(stream, "+", since or "-", count=max(self.recent, 1))
            lines = [e for _, _, e in self._decode(list(reversed(rows or [])))]
            if lines:
                key = stream[len(self.prefix) :]
                name, created, settings = _saved(kept.get(key.encode()), lines)
                self._saved.append(SavedRoom(name, created, settings, lines))
                loaded.add(key)
        for raw_key, raw in kept.items():  # a registered room stays with no line
            key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
            if key not in loaded:
                owned = _owned(raw)
                if owned is not None:
                    self._saved.append(owned)

    def attach(self, on_sweep: Callable[[], None]) -> None:
        """With --history-days, let the registry drop the empty rooms whose lines have
        all expired, as often as the SQLite store does (Redis trims the streams)."""
        if self.retention_s and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(on_sweep))

    async def _sweep(self, on_sweep: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(self.expire_every_s)
            on_sweep()

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    def restored(self) -> list[SavedRoom]:
        saved, self._saved = self._saved, []
        return saved

    def _decode(self, rows: list[Any]) -> list[Entry]:
        entries: list[Entry] = []
        for position, (stream_id, fields) in enumerate(rows):
            try:
                event = decode(json.loads(fields[b"e"]))
            except (CodecError, KeyError, ValueError):
                continue
            if is_kept(event):
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


def _saved(raw: bytes | str | None, lines: list[Kept]) -> tuple[str, float, dict[str, Any]]:
    """A room's (name, created, settings) from its field of the rooms hash; what is
    missing or malformed there, from its lines (name and time), or no settings."""
    name, created, settings = lines[-1].room, lines[0].ts, {}
    try:
        saved = json.loads(raw) if raw is not None else {}
    except ValueError:
        saved = {}
    if isinstance(saved, dict):
        if isinstance(saved.get("name"), str) and name_key(saved["name"]) == name_key(name):
            name = saved["name"]
        if isinstance(saved.get("created"), int | float):
            created = float(saved["created"])
        if isinstance(saved.get("settings"), dict):
            settings = saved["settings"]
    return name, created, settings


def _owned(raw: bytes | str) -> SavedRoom | None:
    """A registered room from its field of the rooms hash (None: not one)."""
    try:
        saved = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(saved, dict) or not isinstance(saved.get("name"), str):
        return None
    settings, created = saved.get("settings"), saved.get("created")
    if not isinstance(settings, dict) or not is_owned(settings):
        return None
    return SavedRoom(saved["name"], float(created) if isinstance(created, int | float) else 0.0,
                     settings)  # fmt: skip


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


def _upto(entries: list[Entry], upto: int | None) -> list[Entry]:
    """Without the lines the stream took after the one with msgid `upto` (said after
    the ask). By place in the stream, not by comparing ids as the SQLite store does:
    each node counts its ids from its own start, so ids from two nodes are not in the
    order said. An id not in the stream yet (its XADD still queued): every line."""
    if upto is None:
        return entries
    wanted = str(upto)
    for at, (_, _, event) in enumerate(entries):
        if event.msgid == wanted:
            return entries[: at + 1]
    return entries


def select(entries: list[Entry], q: Query) -> list[Entry]:
    """The query's lines, oldest first, as store.reads answers it from SQLite."""
    ref = q.ref
    if q.kind == "latest" and ref is None:
        entries = _upto(entries, q.upto)
        return entries[-q.limit :] if q.limit else []
    if ref is None:
        raise ValueError(f"bad query {q!r}")
    mark = _position(entries, ref)
    if mark is None:
        return []
    end = _position(entries, q.until) if q.kind == "between" and q.until is not None else None
    entries = _upto(entries, q.upto)
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
        if end is None:
            return []
        start_key = (mark[1], mark[0]) if by_id else (mark[1], -1)
        end_key = (end[1], end[0]) if q.until.msgid is not None else (end[1], -1)
        forward = start_key <= end_key
        low, high = (start_key, end_key) if forward else (end_key, start_key)
        inside = [e for e in entries if low < (e[1], e[0]) < high]
        return inside[: q.limit] if forward else inside[-q.limit :]
    raise ValueError(f"bad query {q!r}")
