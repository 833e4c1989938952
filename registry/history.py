"""History behind the registry: what a room keeps, and the store it is kept in.

The registry (rooms.py) hands each finished chat line, action and topic change to
`History.keeper(room)`; the store writes them on a thread of its own and answers
reads off the event loop. `History` itself is the store of a server run with
--no-history: it keeps nothing and writes no file. `store.sqlite` is the real one.
Nothing here knows a door, and nothing here blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from registry.events import Acted, Said, TopicSet

if TYPE_CHECKING:
    from registry import Room

Kept = Said | Acted | TopicSet  # what history holds: never private messages
Keep = Callable[[Kept], None]
MAX_FETCH = 500  # the most one read returns: /history N and CHATHISTORY's limit


class StoreError(Exception):
    """The database cannot be used; the text is the one line the operator reads."""


class HistoryUnavailable(Exception):
    """A read found history off, or stopped by a fault; the text says which."""


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

    def keeper(self, room: Room) -> Keep:
        """The callable a room hands each kept event to: never blocks, never raises."""
        return _forget

    def save_room(self, room: Room) -> None:
        """Queue the room's settings (name, topic, modes...) to be written."""

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
