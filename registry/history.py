"""History behind the registry: which lines are kept, and the port of the store.

The rule of what history keeps is here once (`is_kept`). The registry (rooms.py)
fills each room's replay ring itself (`ring_keeper`) and hands the store plain
values: a room's key, name, creation time and settings, and each kept event; a store
never sees a `Room`. The store writes on a thread (or a queue) of its own and answers
reads off the event loop. `History` itself is the store of a server run with
--no-history: it keeps nothing and writes no file. `store/sqlite.py` and
`cluster/history.py` are the real ones. Nothing here knows a door, a room or the
network, and nothing here blocks the event loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from registry.events import Acted, Event, Multiline, Said, TopicSet

# What history holds: never private messages. A multiline message is one kept message.
Kept = Said | Acted | TopicSet | Multiline
Keep = Callable[[Kept], None]
MAX_FETCH = 500  # the most one read returns: /history N and CHATHISTORY's limit


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
    """A read of one room's history, as CHATHISTORY words it: `kind` is latest,
    before, after, around or between; `latest` with no `ref` is the newest."""

    room: str  # the room's key
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

    def attach(self, on_sweep: Callable[[], None]) -> None:
        """Called on the event loop: `on_sweep` runs there after old lines expire."""

    async def aclose(self) -> None:
        """Write everything queued, then let go of the database."""
