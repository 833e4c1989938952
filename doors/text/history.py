"""History on the text door (docs/protocol.md, "History"): `/history [N]`,
`/history NAME [N]` (private messages kept with NAME), `/replay on|off`, and the
private messages that waited for a login. The replay a joiner sees is the
conversation's (conversation.py).

Replayed lines keep their live form, framed by two notices; a line not from today
has the date in its stamp: `[2026-11-30 14:02] <alice> hi` (render.py words them).
"""

from __future__ import annotations

from collections.abc import Awaitable

import registry as r
from doors.text.catchup import WHEN_USAGE, parse_when
from doors.text.conversation import Conversation
from doors.text.render import framed, framed_private
from registry.history import MAX_FETCH, HistoryUnavailable, Query
from utils import UserError, utc_ms

HISTORY_LINES = 50  # /history without a number
USAGE = f"Usage: /history [NAME] [N], N from 1 to {MAX_FETCH}"


def history(s: Conversation, arg: str) -> Awaitable[None]:
    """`/history [N]` in a room; `/history NAME [N]` anywhere (a NAME of digits alone is
    read as N: `/history 20 5` for a user named 20)."""
    words = arg.split()
    if len(words) > 2:
        raise UserError(USAGE)
    if len(words) == 1 and words[0].isdigit():
        words = ["", words[0]]
    name, number = [*words, "", ""][:2]
    if number and not (number.isdigit() and 0 < int(number) <= MAX_FETCH):
        raise UserError(USAGE)
    count = int(number) if number else HISTORY_LINES
    if name:
        return _show_private(s, s.user_name(name), count)
    room = s.require_room()
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


async def _show_private(s: Conversation, name: str, count: int) -> None:
    member = s.require_member()
    try:
        events = await s.rooms.conversation(member, name, Query("", "latest", count))
    except r.NotLoggedIn:
        raise UserError(
            "Private messages are kept for accounts only: log in (or /register) to keep them."
        ) from None
    except HistoryUnavailable as exc:
        raise UserError(str(exc)) from None
    if not events:
        s.say(f"* No private messages with {name}.")
        return
    heading = f"History of private messages with {name}"
    s.say(*framed_private(heading, "* End of history.", events, member.account, s.rooms.clock()))


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
