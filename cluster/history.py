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

Private messages between accounts (registry/private.py) are a stream per conversation,
`PREFIX:private:A B` (its pair_key), with a set per account of its conversations'
keys (`PREFIX:private-of:A`, for TARGETS and DROP). A message for an offline account
waits in a list, `PREFIX:held:A`, pushed by a script that refuses it past the limit
(awaited: the sender is told) and taken whole by another, atomically, at its login:
every node sees one list, and each message is handed over once.
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
    SavedRoom,
    Whispered,
    is_kept,
    is_owned,
)
from registry.history import Entry, newest_inside, select
from utils import name_key

if TYPE_CHECKING:
    from cluster.link import ClusterLink

log = logging.getLogger("chatroom.cluster")

__all__ = ["Entry", "RedisHistory", "select"]

# KEYS[1] the held list; ARGV: the message, the limit, how long it may wait (ms; 0: for
# ever). 1 if it was pushed, 0 if the list is full.
HOLD = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""
# KEYS[1] the held list: its messages, and it is gone (one login gets them).
TAKE = """
local held = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return held
"""
# KEYS[1] the account's set of conversations, KEYS[2] its held list; ARGV: the account's
# key, the streams' prefix, the sets' prefix. Each conversation's stream goes, and it
# leaves the other account's set.
FORGET = """
for _, pair in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', ARGV[2] .. pair)
  local space = string.find(pair, ' ', 1, true)
  local a, b = string.sub(pair, 1, space - 1), string.sub(pair, space + 1)
  local other = a
  if a == ARGV[1] then other = b end
  redis.call('SREM', ARGV[3] .. other, pair)
end
redis.call('DEL', KEYS[1], KEYS[2])
return 0
"""

# KEYS[1] a stream, KEYS[2] (a private message's) the receiver's held list; ARGV[1] the
# message's id as its entry holds it, `"msgid":"ID"` (JSON escapes a quote inside a
# text, so no text holds it). The stream's newest entries first, 200 at a time: a
# message taken back is most often a recent one. 1 if an entry was deleted.
REDACT = """
local found = 0
local last = '+'
while found == 0 do
  local rows = redis.call('XREVRANGE', KEYS[1], last, '-', 'COUNT', 200)
  for _, row in ipairs(rows) do
    local fields = row[2]
    for i = 2, #fields, 2 do
      if found == 0 and string.find(fields[i], ARGV[1], 1, true) then
        redis.call('XDEL', KEYS[1], row[1])
        found = 1
      end
    end
  end
  if #rows < 200 then break end
  last = '(' .. rows[#rows][1]
end
if KEYS[2] then
  for _, held in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    if string.find(held, ARGV[1], 1, true) then
      redis.call('LREM', KEYS[2], 1, held)
      found = 1
    end
  end
end
return found
"""


def redacted_needle(msgid: str) -> str:
    """How a kept entry (encode, dumped compactly) holds its message's id."""
    return json.dumps({"msgid": msgid}, separators=(",", ":"))[1:-1]


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
        self.private_prefix = f"{link.prefix}:private:"
        self.private_of = f"{link.prefix}:private-of:"
        self.held_prefix = f"{link.prefix}:held:"
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

    def redact(self, key: str, msgid: str) -> None:
        """Delete the message's entry from the room's stream (in order with the lines:
        after its own XADD)."""
        self.link.bus.command(REDACT, 1, self.stream(key), redacted_needle(msgid))

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
        found: list[tuple[str, int]] = []
        for key in rooms:
            entries = await self._entries(name_key(key))
            if entries and newest_inside(entries[-1][1], after_ms, before_ms):
                found.append((key, entries[-1][1]))
        return sorted(found, key=lambda pair: pair[1])[:limit]

    # --- Private messages. ---
    def keep_private(self, pair: str, event: Whispered) -> None:
        bus, stream = self.link.bus, self.private_prefix + pair
        data = json.dumps(encode(event), separators=(",", ":"))
        bus.command_raw("XADD", stream, "MAXLEN", "~", self.cap, "*", "e", data)
        if self.retention_s:
            cutoff = int((self._clock() - self.retention_s) * 1000)
            bus.command_raw("XTRIM", stream, "MINID", "~", cutoff)
        for account in set(pair.split(" ")):
            bus.command_raw("SADD", self.private_of + account, pair)

    async def hold(
        self, receiver: str, pair: str, event: Whispered, *, kept: bool, limit: int
    ) -> bool:
        if not self.link.bus.up:
            raise HistoryUnavailable(self.problem)
        data = json.dumps(encode(event), separators=(",", ":"))
        wait_ms = int(self.retention_s * 1000)
        try:
            pushed = await self.link.bus.redis.eval(
                HOLD, 1, self.held_prefix + receiver, data, limit, wait_ms
            )
        except FAULTS as exc:
            self.link.bus.outage(exc)
            raise HistoryUnavailable(self.problem) from None
        if pushed and kept:
            self.keep_private(pair, event)
        return bool(pushed)

    async def collect(self, receiver: str) -> list[Whispered]:
        if not self.link.bus.up:
            raise HistoryUnavailable(self.problem)
        try:
            raw = await self.link.bus.redis.eval(TAKE, 1, self.held_prefix + receiver)
        except FAULTS as exc:
            self.link.bus.outage(exc)
            raise HistoryUnavailable(self.problem) from None
        return [event for event in map(_private, raw or []) if event is not None]

    async def fetch_private(self, pair: str, query: Query) -> list[Whispered]:
        entries = await self._private_entries(pair)
        return [event for _, _, event in select(entries, query)]

    async def private_targets(
        self, account: str, after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        if not self.link.bus.up:
            raise HistoryUnavailable(self.problem)
        try:
            pairs = await self.link.bus.redis.smembers(self.private_of + account)
        except FAULTS as exc:
            self.link.bus.outage(exc)
            raise HistoryUnavailable(self.problem) from None
        found: list[tuple[str, int]] = []
        for raw in pairs:
            pair = raw.decode() if isinstance(raw, bytes) else str(raw)
            a, _, b = pair.partition(" ")
            entries = await self._private_entries(pair)
            if entries and newest_inside(entries[-1][1], after_ms, before_ms):
                found.append((b if a == account else a, entries[-1][1]))
        return sorted(found, key=lambda item: item[1])[:limit]

    def forget_private(self, account: str) -> None:
        self.link.bus.command(
            FORGET, 2, self.private_of + account, self.held_prefix + account, account,
            self.private_prefix, self.private_of,
        )  # fmt: skip

    def redact_private(self, pair: str, msgid: str, receiver: str) -> None:
        """Delete the message from the conversation's stream and from what waits for
        `receiver`."""
        self.link.bus.command(
            REDACT, 2, self.private_prefix + pair, self.held_prefix + receiver,
            redacted_needle(msgid),
        )  # fmt: skip

    async def _private_entries(self, pair: str) -> list[Entry]:
        if not self.link.bus.up:
            raise HistoryUnavailable(self.problem)
        since = int((self._clock() - self.retention_s) * 1000) if self.retention_s else 0
        try:
            rows = await self.link.bus.redis.xrange(self.private_prefix + pair, since or "-", "+")
        except FAULTS as exc:
            self.link.bus.outage(exc)
            raise HistoryUnavailable(self.problem) from None
        entries: list[Entry] = []
        for position, (stream_id, fields) in enumerate(rows or []):
            event = _private((fields or {}).get(b"e", b""))
            if event is not None:
                sid = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
                entries.append((position, int(sid.split("-")[0]), event))
        return entries


def _private(raw: bytes | str) -> Whispered | None:
    """A private message as Redis holds it (None: not one)."""
    try:
        event = decode(json.loads(raw))
    except (CodecError, ValueError, TypeError):
        return None
    return event if isinstance(event, Whispered) else None


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
