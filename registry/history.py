"""History behind the registry: which lines are kept, and the port of the store.

The rule of what history keeps is here once (`is_kept`). The registry (rooms.py)
fills each room's replay ring itself (`ring_keeper`) and hands the store plain
values: a room's key, name, creation time and settings, and each kept event; a store
never sees a `Room`. The store writes on a thread (or a queue) of its own and answers
reads off the event loop. `History` itself is the store of a server run with
--no-history: it keeps nothing and writes no file. `store/sqlite.py` and
`cluster/history.py` are the real ones. Private messages (registry/private.py decides
which) go through the same port under a conversation's key: the two accounts' keys,
sorted, with a space between (`pair_key`); the messages that wait for an offline
account are `hold`'s, handed over once by `collect`. A message taken back (redacted)
leaves the store through `redact` or `redact_private`. `select` answers a query from a
list in memory, as the SQLite store answers it from its table. Nothing here knows a
door, a room or the network, and nothing here blocks the event loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from registry.events import Acted, Event, Multiline, Said, TopicSet, Whispered
from utils import name_key

# What history holds: never private messages. A multiline message is one kept message.
Kept = Said | Acted | TopicSet | Multiline
Keep = Callable[[Kept], None]
MAX_FETCH = 500  # the most one read returns: /history N and CHATHISTORY's limit
Entry = tuple[int, int, Any]  # (position, ts in ms, event): a line of a list in memory


class StoreError(Exception):
    """The database cannot be used; the text is the one line the operator reads."""


class HistoryUnavailable(Exception):
    """A read found history off, or stopped by a fault; the text says which."""


def is_kept(event: Event) -> TypeGuard[Kept]:
    """Whether history keeps this event: chat lines, actions, multiline messages (one
    message, one msgid) and topic changes; never CTCP (a line that opens with \\x01),
    notices, tags or private messages."""
    if type(event) is Said:
        return event.text[:1] != "\x01"
    if type(event) is Multiline:
        return event.kind == "msg" and bool(event.room)
    return type(event) is Acted or type(event) is TopicSet


def ring_keeper(ring: deque[Kept], store: Keep) -> Callable[[Event], None]:
    """A room's `keep`: what history keeps goes into the room's replay ring and to the
    store (`History.keeper`); anything else is dropped here."""

    def keep(event: Event) -> None:  # Room.say's whole cost of history: keep it so
        if is_kept(event):
            ring.append(event)
            store(event)

    return keep


@dataclass(frozen=True, slots=True)
class Ref:
    """A point in a room's history: a message id, or a time (ms since the epoch)."""

    msgid: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """A read of one room's history (or of a conversation's: fetch_private), as
    CHATHISTORY words it: `kind` is latest, before, after, around or between; `latest`
    with no `ref` is the newest."""

    room: str  # the room's key (fetch_private reads its own `pair` instead)
    kind: str
    limit: int
    ref: Ref | None = None
    until: Ref | None = None  # between's second reference
    upto: int | None = None  # ignore messages with a larger id (said after the ask)


@dataclass(slots=True)
class SavedRoom:
    """A room as the store holds it, to be made again at start-up."""

    name: str
    created: float
    settings: dict[str, Any]
    recent: list[Kept] = field(default_factory=list)


def pair_key(a: str, b: str) -> str:
    """A conversation's key: its two accounts' keys in order, whoever sent (a space is
    in no name); `a a` for one's messages to oneself."""
    first, second = sorted((name_key(a), name_key(b)))
    return f"{first} {second}"


def _forget(event: Kept) -> None:
    """What a room does with its lines when there is no history."""


class History:
    """The interface the registry uses; as itself, no history at all."""

    is_on = False
    retention_s = 0.0  # 0: kept for ever
    dropped = 0  # entries dropped because the disk fell behind

    @property
    def problem(self) -> str:
        """Why reads fail ("" while history works)."""
        return "History is off on this server."

    def keeper(self, key: str) -> Keep:
        """The callable the registry hands each kept event of the room with this key
        to: never blocks, never raises."""
        return _forget

    def save_room(self, key: str, name: str, created: float, settings: dict[str, Any]) -> None:
        """Queue a room's row to be written: its name, when it was made, and its
        settings (topic, modes...: Room.settings())."""

    def forget_room(self, key: str) -> None:
        """Queue the removal of a room that emptied with no history left."""

    def redact(self, key: str, msgid: str) -> None:
        """Queue the removal of one kept message of the room with this key: it was
        taken back (IRCv3 message-redaction). Never blocks."""

    def restored(self) -> list[SavedRoom]:
        """The rooms to make at start-up, with their recent lines (oldest first)."""
        return []

    async def fetch(self, query: Query) -> list[Kept]:
        """Messages of a room, oldest first; HistoryUnavailable if there is no store."""
        raise HistoryUnavailable(self.problem)

    async def targets(
        self, rooms: list[str], after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        """(room key, newest ms) for the rooms with messages in the window."""
        raise HistoryUnavailable(self.problem)

    # --- Private messages (registry/private.py): under a conversation's pair_key. ---
    def keep_private(self, pair: str, event: Whispered) -> None:
        """Queue a private message for the conversation's history: never blocks."""

    async def hold(
        self, receiver: str, pair: str, event: Whispered, *, kept: bool, limit: int
    ) -> bool:
        """Keep a message for the account `receiver` (its key) until `collect`, and in
        the conversation's history too if `kept`; False (nothing kept) if `limit`
        messages wait for it already. HistoryUnavailable if there is no store."""
        raise HistoryUnavailable(self.problem)

    async def collect(self, receiver: str) -> list[Whispered]:
        """The messages held for `receiver`, oldest first, no longer held: each is
        handed over once."""
        return []

    async def fetch_private(self, pair: str, query: Query) -> list[Whispered]:
        """A conversation's kept messages, oldest first (query.room is not read)."""
        raise HistoryUnavailable(self.problem)

    async def private_targets(
        self, account: str, after_ms: int, before_ms: int, limit: int
    ) -> list[tuple[str, int]]:
        """(the other account's key, newest ms) of the conversations of `account` whose
        newest message is inside the window, the least recently active first."""
        raise HistoryUnavailable(self.problem)

    def forget_private(self, account: str) -> None:
        """Queue the removal of every conversation of `account` (dropped) and of what
        waits for it; what it sent that waits for another still does, unkept."""

    def redact_private(self, pair: str, msgid: str, receiver: str) -> None:
        """Queue the removal of one private message of the conversation `pair`: from
        its history, and from what waits for the account `receiver` (its key) if it
        waits. Never blocks."""

    def attach(self, on_sweep: Callable[[], None]) -> None:
        """Called on the event loop: `on_sweep` runs there after old lines expire."""

    async def aclose(self) -> None:
        """Write everything queued, then let go of the database."""


# --- A query answered from a list in memory (Redis's streams, a session's messages). ---
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
    """Without the lines after the one with msgid `upto` (said after the ask). By place
    in the list, not by comparing ids as the SQLite store does: each node of a cluster
    counts its ids from its own start, so ids from two nodes are not in the order said.
    An id not in the list yet (its write still queued): every line."""
    if upto is None:
        return entries
    wanted = str(upto)
    for at, (_, _, event) in enumerate(entries):
        if event.msgid == wanted:
            return entries[: at + 1]
    return entries


def select(entries: list[Entry], q: Query) -> list[Entry]:
    """The query's lines, oldest first, as store/reads.py answers it from SQLite."""
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


def newest_inside(newest: int, after_ms: int, before_ms: int) -> bool:
    """Whether a target whose newest message is at `newest` is in a CHATHISTORY TARGETS
    window (the bounds excluded, in either order): a target whose newest message is past
    the window is not in it, though older ones are."""
    return min(after_ms, before_ms) < newest < max(after_ms, before_ms)
