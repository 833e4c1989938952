"""Read markers on the IRC door (IRCv3 draft/read-marker, docs/irc.md "Read markers"):
MARKREAD, and the markers a client that negotiated the capability is told on JOIN
and when it connects.

A logged-in client's markers are its account's (registry/markers.py): a move is told
to every connection of the account that negotiated the capability, the text door
moves them too, and they last. A guest's are its connection's own, in memory, until
it disconnects (as Ergo keeps a client's without always-on).
"""

from __future__ import annotations

import registry as r
from doors.irc.client import READ_MARKER, IrcClient
from doors.irc.history import timestamp_ms
from doors.irc.message import Message, line
from doors.irc.render import channel, marker_words
from utils import name_problem, normalize_name


def _words(mark: r.Mark | None) -> str:
    return marker_words(None if mark is None else mark.ms)


def _fail(s: IrcClient, code: str, *params: str) -> None:
    s.send(line(s.door.name, "FAIL", "MARKREAD", code, *params))


def on_markread(s: IrcClient, msg: Message) -> None:
    """`MARKREAD <target>` asks for a marker, `MARKREAD <target> timestamp=...` moves it
    forward; either way the answer is `MARKREAD <target> timestamp=...` (or `*`)."""
    if not msg.params or not msg.params[0]:
        _fail(s, "NEED_MORE_PARAMS", "Missing parameters")
        return
    found = _target(s, msg.params[0])
    if found is None:
        _fail(s, "INVALID_PARAMS", msg.params[0], "Invalid target")
        return
    key, room, nick = found
    shown = channel(room) if room else nick
    if len(msg.params) == 1:
        mark = marker_of(s, key)
        s.send(line(s.door.name, "MARKREAD", shown, _words(mark)))
        return
    try:
        ms = max(0, timestamp_ms(msg.params[1]))  # `*` is the server's word only
    except (ValueError, OverflowError):
        _fail(s, "INVALID_PARAMS", msg.params[1], "Invalid timestamp")
        return
    member = s.require_member()
    if member.account:
        sink = s.device or member  # this connection: answered below, the others told
        stored, _ = s.rooms.markers.move(member, key, r.Mark(ms), room=room, nick=nick, skip=sink)
    else:
        now = r.Mark(int(s.rooms.clock() * 1000))
        stored, _ = r.Book(s.guest_marks).move(key, min(r.Mark(ms), now, key=r.Mark.rank))
    s.send(line(s.door.name, "MARKREAD", shown, _words(stored)))


def _target(s: IrcClient, target: str) -> tuple[str, str, str] | None:
    """A target's key, and its room name or nick as the server spells it (a room or
    user it knows by that name), or None when it can be neither."""
    if target.startswith("#"):
        name = normalize_name(target[1:])
        if name != target[1:] or name_problem(name, s.config.max_room_chars):
            return None
        room = s.rooms.room(name)
        return r.room_target(name), room.name if room else name, ""
    name = normalize_name(target)
    if name != target or name_problem(name, s.config.max_name_chars):
        return None
    user = s.rooms.find(name)
    return r.nick_target(name), "", user.name if user else name


def marker_of(s: IrcClient, key: str) -> r.Mark | None:
    """The client's marker of a target: its account's, or a guest's own."""
    member = s.member
    if member is not None and member.account:
        return s.rooms.markers.get(member.account, key)
    return r.Book(s.guest_marks).get(key)


def tell_on_join(s: IrcClient, room: r.Room) -> None:
    """Right after the client's own JOIN: the room's marker (before the end of NAMES)."""
    if READ_MARKER in s.caps:
        mark = marker_of(s, r.room_target(room.name))
        s.send(line(s.door.name, "MARKREAD", channel(room.name), _words(mark)))


def tell_stored(s: IrcClient) -> None:
    """After the welcome of a logged-in client: its account's markers of the rooms it is
    not in (those come with their JOINs), so a client that comes back knows where it
    stopped reading before it joins again."""
    member = s.member
    if READ_MARKER not in s.caps or member is None or not member.account:
        return
    book = s.rooms.markers.book(member.account)
    joined = {room.key for room in member.rooms}
    for key, mark in book.items() if book is not None else ():
        if key.startswith("#") and key[1:] not in joined:
            room = s.rooms.room(key[1:])
            shown = channel(room.name) if room else key
            s.send(line(s.door.name, "MARKREAD", shown, marker_words(mark.ms)))
