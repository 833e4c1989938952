"""History on the text door (docs/protocol.md, "History"): `/history [N]` and
`/replay on|off`. The replay a joiner sees is the conversation's (conversation.py).

Replayed lines keep their live form, framed by two notices; a line not from today
has the date in its stamp: `[2026-11-30 14:02] <alice> hi` (render.py words them).
"""

from __future__ import annotations

from collections.abc import Awaitable

import registry as r
from doors.text.catchup import WHEN_USAGE, parse_when
from doors.text.conversation import Conversation
from doors.text.render import framed
from registry.history import MAX_FETCH, HistoryUnavailable, Query
from utils import UserError, utc_ms

HISTORY_LINES = 50  # /history without a number


def history(s: Conversation, arg: str) -> Awaitable[None]:
    room = s.require_room()
    if arg and not (arg.isdigit() and 0 < int(arg) <= MAX_FETCH):
        raise UserError(f"Usage: /history [N], N from 1 to {MAX_FETCH}")
    count = int(arg) if arg else HISTORY_LINES
    newest = room.recent[-1].msgid if room.recent else ""
    upto = int(newest) if newest else None  # not what is said while this reads
    return _show_history(s, room, Query(room.key, "latest", count, upto=upto))


async def _show_history(s: Conversation, room: r.Room, query: Query) -> None:
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


def replay(s: Conversation, arg: str) -> None:
    word, _, when = arg.partition(" ")
    word = word.lower()
    if word == "since" and when.strip():
        return _since(s, when.strip())
    if word not in ("", "on", "off") or when:
        raise UserError(f"Usage: /replay [on|off|since WHEN], {WHEN_USAGE}")
    if word:
        s.replay = word == "on"
    state = "on" if s.replay else "off"
    s.say(f"* Replay on join is {state}.")


def _since(s: Conversation, when: str) -> None:
    """`/replay since WHEN`: the next room joined replays what was said there after
    WHEN (at most MAX_FETCH lines), whatever /replay on|off says: how a client that
    comes back asks for what it missed (docs/protocol.md, "History")."""
    try:
        s.since = parse_when(when, s.rooms.clock())
    except (ValueError, OverflowError):
        raise UserError(f"Usage: /replay [on|off|since WHEN], {WHEN_USAGE}") from None
    shown = utc_ms(s.since)
    s.say(f"* The next room you join replays what was said there since {shown}.")
