"""What the screen already shows of each room, so that the history a room replays when
the client joins it again after a reconnect shows only the lines the user has not seen.

docs/protocol.md, History: the replay comes right after the joining lines, framed by
`* History of ROOM (N messages)` and `* End of history.`; each replayed line has its
live form, with the date in the stamp when it is not from today; a logged-in user's
may hold `* New since you last read: N messages` before its first unread line. Pure:
lines in, the lines to show out. No I/O, no asyncio here.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, deque

KEPT_PER_ROOM = 500  # the most a replay (or /history) brings back
HISTORY_END = "* End of history."
_HISTORY_START = re.compile(r"\* History of (\S+) \(\d+ messages?\)\Z")
_UNREAD = re.compile(r"\* New since you last read: \d+ messages?\Z")
_DATED = re.compile(r"\[\d{4}-\d\d-\d\d (\d\d:\d\d)\] ")
# The lines that come between `Joined room [ROOM]. ...` and the replay.
_JOINING = re.compile(r"(?:Joined room \[|\* Users in |\* Topic for )")


def _folded(room: str) -> str:
    return unicodedata.normalize("NFKC", room).casefold()


def _key(line: str) -> str:
    """A line as shown live: a replayed line from another day loses the date of its stamp
    (a line seen at 23:59 comes back as `[2026-11-30 23:59] ...` after midnight)."""
    return _DATED.sub(r"[\1] ", line, count=1) if line.startswith("[") else line


class SeenLines:
    """The last lines shown in each room, and the filter for one replay after a rejoin."""

    def __init__(self) -> None:
        self._rooms: dict[str, deque[str]] = {}
        self._expected: str | None = None  # the room whose replay is to be filtered
        self._held: list[str] | None = None  # that replay so far, until its end

    def expect_replay(self, room: str) -> None:
        """The client joins `room` again on its own: its replay, if one comes next,
        shows only what the user has not seen."""
        self._expected, self._held = _folded(room), None

    def forget_replay(self) -> None:
        """The connection dropped: a replay held so far will come again, whole."""
        self._expected, self._held = None, None

    def show(self, room: str | None, line: str) -> list[str]:
        """The lines to show for one server line while in `room` (None: not in a room);
        an expected replay is held back until its end, then shown filtered."""
        if self._held is not None:
            if line != HISTORY_END:
                self._held.append(line)
                return []
            held, self._held, self._expected = self._held, None, None
            return self._fresh(room, held)
        if self._expected is not None and (room is None or _folded(room) != self._expected):
            self._expected = None
        if self._expected is not None and _HISTORY_START.match(line):
            self._held = []
            return []
        if self._expected is not None and not _JOINING.match(line):
            self._expected = None  # no replay came: the room keeps none, or replay is off
        self._note(room, [line])
        return [line]

    def _note(self, room: str | None, lines: list[str]) -> None:
        if room is not None:
            kept = self._rooms.setdefault(_folded(room), deque(maxlen=KEPT_PER_ROOM))
            kept.extend(_key(line) for line in lines)

    def _fresh(self, room: str | None, replay: list[str]) -> list[str]:
        """The replayed lines not already shown, in a frame that counts them; nothing
        when all were shown. A line said twice and shown once is shown once more. The
        unread line stays before the first fresh line after it, counting those."""
        shown = Counter(self._rooms.get(_folded(room or ""), ()))
        fresh: list[str] = []
        unread_at: int | None = None
        for line in replay:
            if _UNREAD.match(line):
                unread_at = len(fresh)
            elif shown[_key(line)] > 0:
                shown[_key(line)] -= 1
            else:
                fresh.append(line)
        if not fresh:
            return []
        self._note(room, fresh)
        lines = list(fresh)
        if unread_at is not None and unread_at < len(fresh):
            lines.insert(
                unread_at, f"* New since you last read: {_messages(len(fresh) - unread_at)}"
            )
        return [f"* History of {room} ({_messages(len(fresh))})", *lines, HISTORY_END]


def _messages(count: int) -> str:
    return f"{count} message" + ("" if count == 1 else "s")
