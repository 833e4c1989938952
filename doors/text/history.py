"""History on the text door (docs/protocol.md, "History"): the replay a joiner sees,
`/history [N]` and `/replay on|off`.

Replayed lines keep their live form, framed by two notices; a line not from today
has the date in its stamp: `[2026-11-30 14:02] <alice> hi`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import registry as r
from doors.text.commands import command
from registry.history import MAX_FETCH, HistoryUnavailable, Kept, Query
from utils import UserError, safe_text

if TYPE_CHECKING:
    from doors.text.session import Session

HISTORY_LINES = 50  # /history without a number


def stamp(ts: float, today: str) -> str:
    """`HH:MM` for a line from today (server time), `YYYY-MM-DD HH:MM` otherwise."""
    local = time.localtime(ts)
    day = time.strftime("%Y-%m-%d", local)
    hhmm = time.strftime("%H:%M", local)
    return hhmm if day == today else f"{day} {hhmm}"


def history_line(event: Kept, today: str) -> str:
    """One kept line as PROTOCOL.md words it live, with a dated stamp if not today."""
    match event:
        case r.Said(name, text, ts):
            line = f"[{stamp(ts, today)}] <{name}> {text}"
        case r.Acted(name, text, ts):
            line = f"[{stamp(ts, today)}] * {name} {text}"
        case r.TopicSet(name, room, text):
            line = (
                f"* {name} set the topic of {room} to: {text}"
                if text
                else f"* {name} cleared the topic of {room}"
            )
    return line if line.isprintable() else safe_text(line)


def framed(room: str, events: list[Kept], now: float) -> list[str]:
    """The history lines between their two notices (nothing at all for no lines)."""
    if not events:
        return []
    today = time.strftime("%Y-%m-%d", time.localtime(now))
    count = f"{len(events)} message" + ("" if len(events) == 1 else "s")
    return [
        f"* History of {room} ({count})",
        *(history_line(event, today) for event in events),
        "* End of history.",
    ]


def replay_on_join(s: Session, room: r.Room) -> None:
    """The room's newest lines from memory, right after the join (no await between:
    each line reaches the joiner once, replayed or live)."""
    count = s.config.replay_lines if s.replay else 0
    events = room.replay(count, s.rooms.history_since())
    if events:
        s.say(*framed(room.name, events, s.rooms.clock()))


@command("history", f"/history [N]  show the room's last N messages (default {HISTORY_LINES}, "
         f"at most {MAX_FETCH})")  # fmt: skip
def _history(s: Session, arg: str) -> Awaitable[None]:
    room = s.require_room()
    if arg and not (arg.isdigit() and 0 < int(arg) <= MAX_FETCH):
        raise UserError(f"Usage: /history [N], N from 1 to {MAX_FETCH}")
    count = int(arg) if arg else HISTORY_LINES
    newest = room.recent[-1].msgid if room.recent else ""
    upto = int(newest) if newest else None  # not what is said while this reads
    return _show_history(s, room, Query(room.key, "latest", count, upto=upto))


async def _show_history(s: Session, room: r.Room, query: Query) -> None:
    try:
        events = await s.rooms.history.fetch(query)
    except HistoryUnavailable as exc:
        raise UserError(str(exc)) from None
    since = s.rooms.history_since()
    events = [event for event in events if event.ts >= since]
    if not events:
        s.say(f"* No history in {room.name}.")
        return
    s.say(*framed(room.name, events, s.rooms.clock()))


@command("replay", "/replay [on|off]  replay a room's recent messages when you join it "
         "(bots: off)")  # fmt: skip
def _replay(s: Session, arg: str) -> None:
    word = arg.lower()
    if word not in ("", "on", "off"):
        raise UserError("Usage: /replay [on|off]")
    if word:
        s.replay = word == "on"
    state = "on" if s.replay else "off"
    s.say(f"* Replay on join is {state}.")
