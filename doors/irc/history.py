"""History on the IRC door (docs/irc.md, "History"): replay on join and
`CHATHISTORY` (IRCv3 draft/chathistory).

A client that negotiated `batch` gets its replay as a `chathistory` batch, with
`server-time` and `msgid` tags if it negotiated those; others get plain PRIVMSGs.
Without `server-time` and `batch` both, each replayed line says in its text when it
was said.
A client that negotiated `draft/chathistory` (it asks for what it wants) or set
the bot mode +B gets no replay. Reads go through the store, off the event loop.
`CHATHISTORY` reads a nick's conversation too (registry/private.py keeps them), and
the private messages that waited for an account are handed over at its login, as
`chathistory` batches, one per sender (`deliver_held`).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import time
from collections.abc import Awaitable
from typing import TypeVar

import registry as r
from doors.irc.client import BOT_MODE, IrcClient
from doors.irc.message import Message, in_batch, line
from doors.irc.render import channel, server_time
from registry.history import MAX_FETCH, HistoryUnavailable, Kept, Query, Ref
from utils import name_problem, normalize_name

Shown = TypeVar("Shown", Kept, r.Whispered)  # what a replay or a CHATHISTORY answer shows
CAP = "draft/chathistory"
PARAMS = {"LATEST": 4, "BEFORE": 4, "AFTER": 4, "AROUND": 4, "BETWEEN": 5, "TARGETS": 4}


class Refused(Exception):
    """A FAIL CHATHISTORY reply: its code, then its parameters (the last is the text)."""

    def __init__(self, code: str, *params: str) -> None:
        super().__init__(code, *params)
        self.code = code
        self.params = params


def wants_replay(s: IrcClient) -> bool:
    member = s.member
    return (
        s.config.replay_lines > 0
        and CAP not in s.caps
        and (member is None or BOT_MODE not in member.modes)
    )


def replay_on_join(s: IrcClient, room: r.Room) -> None:
    """The room's newest lines from memory, right after the join (no await between,
    so each line reaches the joiner once: replayed, or live)."""
    if not wants_replay(s):
        return
    events = [e for e in room.replay(s.config.replay_lines, s.rooms.history_since()) if _shown(e)]
    if not events:
        return
    chan, lines = channel(room.name), [s.render.line(e) for e in timed(s, events)]
    if "batch" in s.caps:
        send_batch(s, "chathistory", (chan,), lines)
        return
    # No tags to tell replayed lines from live ones: frame them, as the text door does.
    count = f"{len(lines)} message{'s' if len(lines) != 1 else ''}"
    s.send(line(s.door.name, "NOTICE", chan, f"History of {chan} ({count})"))
    for text in lines:
        s.send(text)
    s.send(line(s.door.name, "NOTICE", chan, "End of history."))


def timed(s: IrcClient, events: list[Shown]) -> list[Shown]:
    """The time a replayed line was said, in its text, for a client that may show it
    at the time it arrives instead: one without `server-time` (as InspIRCd's
    chanhistory and Ergo do), and one with `server-time` but not `batch`, which is
    irssi (it asks for `server-time` but shows it only with `show_server_time ON`,
    off by default). A client with both takes its history from the tags."""
    if "server-time" in s.caps and "batch" in s.caps:
        return events
    today = time.localtime(s.rooms.clock())[:3]
    return [stamped(event, today) for event in events]


def stamped(event: Shown, today: tuple[int, int, int]) -> Shown:
    """A message with `[HH:MM] ` (the server's local time) before its text, or
    `[YYYY-MM-DD HH:MM] ` when it was not said `today` (year, month, day)."""
    if isinstance(event, r.TopicSet):
        return event
    when = time.localtime(event.ts)
    shown = time.strftime("%H:%M" if when[:3] == today else "%Y-%m-%d %H:%M", when)
    if type(event) is r.Multiline:  # each line a reader sees (not blank, nor a piece of one)
        parts = event.text.split("\n")
        text = "\n".join(
            f"[{shown}] {part}" if part and i not in event.concat else part
            for i, part in enumerate(parts)
        )
        return dataclasses.replace(event, text=text)
    return dataclasses.replace(event, text=f"[{shown}] {event.text}")


def _shown(event: Kept) -> bool:
    """Topic changes are not replayed on IRC: a client takes TOPIC as the topic now."""
    return type(event) is not r.TopicSet


def send_batch(s: IrcClient, kind: str, params: tuple[str, ...], lines: list[str]) -> None:
    """Lines as one batch of this kind (just the lines, to a client without `batch`)."""
    if "batch" not in s.caps:
        for text in lines:
            s.send(text)
        return
    ref = s.rooms.new_id()
    s.send(line(s.door.name, "BATCH", "+" + ref, kind, *params))
    for text in lines:
        s.send(in_batch(text, ref))
    s.send(line(s.door.name, "BATCH", "-" + ref))


def _fail(s: IrcClient, code: str, *params: str) -> None:
    s.send(line(s.door.name, "FAIL", "CHATHISTORY", code, *params))


def on_chathistory(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    try:
        return _ask(s, msg.params)
    except Refused as exc:
        _fail(s, exc.code, *exc.params)
        return None


def _ask(s: IrcClient, params: list[str]) -> Awaitable[None]:
    sub = params[0].upper() if params else "*"
    if sub not in PARAMS and params:
        raise Refused("UNKNOWN_COMMAND", params[0], "Unknown command")
    if len(params) < PARAMS.get(sub, 4):
        raise Refused("NEED_MORE_PARAMS", sub, "Missing parameters")
    limit = _limit(sub, params[-1])
    if sub == "TARGETS":
        return _targets(s, _time(sub, params[1]), _time(sub, params[2]), limit)
    target = params[1]
    if not target.startswith("#"):
        return _ask_private(s, sub, params, limit)
    room = s.rooms.room(target[1:]) if target.startswith("#") else None
    if room is None or room not in s.require_member().rooms:
        raise Refused("INVALID_TARGET", sub, target, "Messages could not be retrieved")
    if sub == "LATEST":
        ref = None if params[2] == "*" else _ref(sub, params[2])
        return _answer(s, room, Query(room.key, "latest", limit, ref))
    if sub == "BETWEEN":
        query = Query(room.key, "between", limit, _ref(sub, params[2]), _ref(sub, params[3]))
        return _answer(s, room, query)
    return _answer(s, room, Query(room.key, sub.lower(), limit, _ref(sub, params[2])))


def _ask_private(s: IrcClient, sub: str, params: list[str], limit: int) -> Awaitable[None]:
    """CHATHISTORY of a nick: the conversation with it (a user, or an account)."""
    target = params[1]
    name = normalize_name(target)
    if name_problem(name, s.config.max_name_chars):
        raise Refused("INVALID_TARGET", sub, target, "Messages could not be retrieved")
    if sub == "LATEST":
        ref = None if params[2] == "*" else _ref(sub, params[2])
        query = Query("", "latest", limit, ref)
    elif sub == "BETWEEN":
        query = Query("", "between", limit, _ref(sub, params[2]), _ref(sub, params[3]))
    else:
        query = Query("", sub.lower(), limit, _ref(sub, params[2]))
    return _answer_private(s, target, name, query)


def _limit(sub: str, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise Refused("INVALID_PARAMS", sub, text, "Invalid limit")
    return min(int(text), MAX_FETCH)


def _ref(sub: str, text: str) -> Ref:
    """`msgid=ID` or `timestamp=YYYY-MM-DDThh:mm:ss.sssZ`."""
    kind, _, value = text.partition("=")
    if kind == "msgid" and value.isdigit() and value.isascii():
        return Ref(msgid=int(value))
    if kind == "timestamp":
        return Ref(ts_ms=_time(sub, text))
    raise Refused("INVALID_PARAMS", sub, text, "Invalid message reference")


def timestamp_ms(text: str) -> int:
    """A `timestamp=YYYY-MM-DDThh:mm:ss.sssZ` parameter (UTC, as server-time words it)
    as ms since the epoch; ValueError if it is none."""
    kind, _, value = text.partition("=")
    if kind != "timestamp":
        raise ValueError(text)
    when = datetime.datetime.fromisoformat(value.removesuffix("Z"))
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    return calendar.timegm(when.timetuple()) * 1000 + when.microsecond // 1000


def _time(sub: str, text: str) -> int:
    """A `timestamp=` reference as ms since the epoch (UTC)."""
    try:
        return timestamp_ms(text)
    except ValueError:
        raise Refused("INVALID_PARAMS", sub, text, "Invalid timestamp") from None


async def _answer(s: IrcClient, room: r.Room, query: Query) -> None:
    chan = channel(room.name)
    try:
        events = await s.rooms.history.fetch(query)
    except HistoryUnavailable as exc:
        _fail(s, "MESSAGE_ERROR", query.kind.upper(), chan, str(exc))
        return
    since = s.rooms.history_since()
    lines = [s.render.line(e) for e in timed(s, [e for e in events if _shown(e) and e.ts >= since])]
    send_batch(s, "chathistory", (chan,), lines)


async def _answer_private(s: IrcClient, target: str, name: str, query: Query) -> None:
    """One `chathistory` batch named as the client named the target; none kept (a
    guest asks, or nothing was said): an empty one."""
    try:
        events = await s.rooms.conversation(s.require_member(), name, query)
    except r.NotLoggedIn:
        events = []  # a guest keeps no private messages
    except HistoryUnavailable as exc:
        _fail(s, "MESSAGE_ERROR", query.kind.upper(), target, str(exc))
        return
    send_batch(s, "chathistory", (target,), [s.render.line(e) for e in timed(s, events)])


async def _targets(s: IrcClient, after_ms: int, before_ms: int, limit: int) -> None:
    """The rooms the client is in and its conversations, whose newest message is in the
    window, the least recently active first."""
    member = s.require_member()
    names = {room.key: room.name for room in member.rooms}
    try:
        rooms = await s.rooms.history.targets(list(names), after_ms, before_ms, limit)
        people = await s.rooms.conversation_targets(member, after_ms, before_ms, limit)
    except HistoryUnavailable as exc:
        _fail(s, "MESSAGE_ERROR", "TARGETS", "*", str(exc))
        return
    found = [(channel(names[key]), ms) for key, ms in rooms if key in names] + people
    found.sort(key=lambda pair: pair[1])
    server = s.door.name
    lines = [
        line(server, "CHATHISTORY", "TARGETS", target, server_time((ms + 0.5) / 1e3))
        for target, ms in found[:limit]
    ]
    send_batch(s, "draft/chathistory-targets", (), lines)


async def deliver_held(s: IrcClient) -> None:
    """At a login: the private messages that waited for the account, one `chathistory`
    batch per sender with each line's time (a client without `batch`: plain PRIVMSGs
    between two NOTICEs, the time in their text, as a room's replay)."""
    member = s.member
    if member is None or not member.account:
        return
    events = await s.rooms.held_for(member)
    if not events:
        return
    if "batch" not in s.caps:
        count = f"{len(events)} message{'s' if len(events) != 1 else ''}"
        s.send(line(s.door.name, "NOTICE", s.target, f"Private messages while you were "
                                                      f"offline ({count})"))  # fmt: skip
        for text in (s.render.line(e) for e in timed(s, events)):
            s.send(text)
        s.send(line(s.door.name, "NOTICE", s.target, "End of private messages."))
        return
    senders: dict[str, list[r.Whispered]] = {}
    for event in events:
        senders.setdefault(event.sender, []).append(event)
    for sender, theirs in senders.items():
        send_batch(s, "chathistory", (sender,), [s.render.line(e) for e in timed(s, theirs)])
