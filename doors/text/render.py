"""Registry events as the text door's lines (docs/protocol.md, "Line kinds"), live and
replayed from history (docs/protocol.md, "History").

Every text connection shares one TextRender, so a room words each event once for all
of them. What an IRC user sent is made safe for a terminal here (utils.safe_text).
"""

from __future__ import annotations

import time
import weakref

import registry as r
from registry.history import Kept
from utils import name_key, safe_text

# How a private message of each kind reads after `*sender* `.
WHISPER_FORMS = {"msg": "{1}", "notice": "-{1}-", "action": "* {0} {1}"}
SILENT = (
    r.Tagged,
    r.AwayChanged,
    r.AccountChanged,
    r.OwnerChanged,
    r.RealnameChanged,
    r.MarkerMoved,
)  # nothing a text user needs to see
SILENT_KINDS = ("ctcp", "tagmsg")
UNREAD = "New since you last read:"  # where a replay's unread lines start (catchup.py)


# How the registry's refusals read (`! ` lines, docs/protocol.md).
REFUSALS: dict[type[r.RegistryError], str] = {
    r.NameTaken: 'The name "{0.name}" is taken.',
    r.NameReserved: 'The name "{0.name}" is registered; log in to use it.',
    r.RoomExists: 'Room "{0.name}" already exists.',
    r.NoSuchRoom: 'Room "{0.name}" does not exist.',
    r.AlreadyInRoom: "You are already in {0.name}.",
    r.TooManyRooms: "Room limit reached ({0.limit} rooms).",
    # Moderation (docs/protocol.md, "Moderation").
    r.NotOperator: "You are not an operator of {0.name}.",
    r.NotInRoom: "You are not in {0.name}.",
    r.NoSuchUser: 'No user named "{0.name}".',
    r.NotThere: "{0.who} is not in {0.name}.",
    r.AlreadyThere: "{0.who} is already in {0.name}.",
    r.Banned: "You are banned from {0.name}.",
    r.InviteOnly: "{0.name} is invite-only.",
    r.BadKey: "{0.name} has a key: /join {0.name} KEY",
    r.RoomFull: "{0.name} is full ({0.limit} members).",
    r.TooManyInvites: "{0.name} has too many invitations outstanding (limit {0.limit}).",
    r.Moderated: "{0.name} is moderated: only operators and voiced members may speak.",
    r.BannedHere: "You are banned from {0.name}: you may not speak in it.",
    r.Muted: "You are muted in {0.name}: you may not speak in it.",
    # Server operators (docs/protocol.md, "Server operators").
    r.NotServerOperator: "You are not a server operator.",
    r.NoOperHost: 'No server operator is named "{0.name}".',
    r.OperRefused: "Wrong password for server operator {0.name}.",
    r.OperLimited: "Too many wrong oper passwords; wait {0.limit} s.",
    r.ServerBanned: 'The name "{0.name}" is banned from this server: {0.reason}',
    r.BadServerBan: 'Invalid mask "{0.name}": {0.why}.',
    r.BadDuration: 'Invalid duration "{0.name}": from 1s to {0.limit}d.',
    r.NoSuchServerBan: 'No server ban on "{0.name}".',
    r.BanMatchesYou: "A server ban on {0.name} would match you; give a narrower mask.",
    # Private messages to an offline account (docs/protocol.md, "Private messages").
    r.OfflineGuest: "{0.name} is offline; log in to an account to leave a message.",
    r.OfflineNotKept: "{0.name} is offline, and this server keeps no messages for later.",
    r.OfflineFull: "{0.name} is offline with {0.limit} messages waiting already; try again later.",
}


def marked_names(room: r.Room) -> str:
    """The members, sorted, operators marked `@` and voiced members `+`."""
    marks = [
        ("@" if m in room.ops else "+" if m in room.voiced else "") + m.name
        for m in sorted(room.members, key=lambda m: name_key(m.name))
    ]
    return ", ".join(marks)


def stamp(ts: float, today: str) -> str:
    """`HH:MM` for a line from today (server time), `YYYY-MM-DD HH:MM` otherwise."""
    local = time.localtime(ts)
    day = time.strftime("%Y-%m-%d", local)
    hhmm = time.strftime("%H:%M", local)
    return hhmm if day == today else f"{day} {hhmm}"


def shown_lines(event: r.Multiline) -> list[str]:
    """A multiline message's lines as a reader sees them: the pieces of a long line
    (IRCv3 draft/multiline-concat) joined, blank lines kept."""
    lines: list[str] = []
    for index, part in enumerate(event.text.split("\n")):
        if lines and index in event.concat:
            lines[-1] += part
        else:
            lines.append(part)
    return lines


def multiline(event: r.Multiline, hhmm: str) -> list[str]:
    """A multiline message as consecutive lines from its sender, each in the form of
    its kind: `[HH:MM] <alice> text` in a room, `[HH:MM] *alice* text` in private."""
    name, lines = event.name, shown_lines(event)
    if event.room:
        head = f"[{hhmm}] -{name}- " if event.kind == "notice" else f"[{hhmm}] <{name}> "
        shown = [head + text for text in lines]
    else:
        form = WHISPER_FORMS[event.kind]
        shown = [f"[{hhmm}] *{name}* " + form.format(name, text) for text in lines]
    return [line if line.isprintable() else safe_text(line) for line in shown]


def history_lines(event: Kept, today: str) -> list[str]:
    """One kept message as docs/protocol.md words it live, with a dated stamp if not
    today: one line, or a multiline message's lines."""
    if isinstance(event, r.Multiline):
        return multiline(event, stamp(event.ts, today))
    return [history_line(event, today)]


def history_line(event: r.Said | r.Acted | r.TopicSet, today: str) -> str:
    """One kept line as docs/protocol.md words it live, with a dated stamp if not today."""
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


def deleted(event: r.Redacted) -> str:
    """A message taken back, as the text door tells it live: `* alice deleted bob's
    message of 14:02 in general (spam)`, `* bob deleted their private message of 14:02`
    (dated when not said the day it was taken back)."""
    today = time.strftime("%Y-%m-%d", time.localtime(event.ts))
    own = name_key(event.author) == name_key(event.name)
    whose = "their" if own else f"{event.author}'s"
    what = (
        f"message of {stamp(event.said, today)} in {event.room}"
        if event.room
        else (f"private message of {stamp(event.said, today)}")
    )
    return f"* {event.name} deleted {whose} {what}" + (f" ({event.reason})" if event.reason else "")


class Renders:
    """The text door's renders, one per room its connections are in (and one for no
    room): shared, so a room words an event once for all its text users; each held
    only while some connection uses it."""

    def __init__(self) -> None:
        self._by_room: weakref.WeakValueDictionary[str, TextRender] = weakref.WeakValueDictionary()
        self.nowhere = TextRender()

    def __call__(self, room: str) -> TextRender:
        """The render of the connections in `room` (its name; "": none)."""
        if not room:
            return self.nowhere
        render = self._by_room.get(room)
        if render is None:
            render = self._by_room[room] = TextRender(room)
        return render


def private_line(event: r.Whispered, mine: bool, today: str) -> str:
    """A kept private message as it read live: `[HH:MM] *FROM* TEXT` to its receiver,
    `[HH:MM] -> *TO* TEXT` to its sender (`mine`), dated if not from `today`."""
    body = WHISPER_FORMS[event.kind].format(event.sender, event.text)
    who = f"-> *{event.target}*" if mine else f"*{event.sender}*"
    line = f"[{stamp(event.ts, today)}] {who} {body}"
    return line if line.isprintable() else safe_text(line)


def framed_private(
    heading: str, end: str, events: list[r.Whispered], account: str, now: float
) -> list[str]:
    """Private messages between two notices: `* HEADING (N messages)`, the lines (those
    sent by `account` as the sender saw them), `END`."""
    today = time.strftime("%Y-%m-%d", time.localtime(now))
    mine = name_key(account)
    count = f"{len(events)} message" + ("" if len(events) == 1 else "s")
    return [
        f"* {heading} ({count})",
        *(private_line(e, bool(e.account) and name_key(e.account) == mine, today) for e in events),
        end,
    ]


def messages(n: int) -> str:
    """`1 message`, `2 messages`."""
    return f"{n} message" + ("" if n == 1 else "s")


def framed(room: str, events: list[Kept], now: float, *, unread_at: int | None = None) -> list[str]:
    """The history lines between their two notices (nothing at all for no lines); with
    `unread_at`, the unread line before that line (none when it is past the last)."""
    if not events:
        return []
    today = time.strftime("%Y-%m-%d", time.localtime(now))
    lines = [line for event in events for line in history_lines(event, today)]
    if unread_at is not None and unread_at < len(events):
        at = sum(len(history_lines(event, today)) for event in events[:unread_at])
        lines.insert(at, f"* {UNREAD} {messages(len(events) - unread_at)}")
    return [f"* History of {room} ({messages(len(events))})", *lines, "* End of history."]


class TextRender:
    """Registry events as docs/protocol.md lines; one instance serves every text connection."""

    __slots__ = ("__weakref__", "_hhmm", "_minute", "here")

    def __init__(self, here: str = "") -> None:
        self._minute = -1
        self._hhmm = ""
        # The room the connections using this render are in (its name; "": none). A
        # user on several connections may be in other rooms too (joined on IRC): their
        # lines show the room, `[HH:MM] [ROOM] <bob> hi`.
        self.here = here

    def hhmm(self, ts: float) -> str:
        """`HH:MM` in the server's local time, formatted once a minute."""
        minute = int(ts // 60)
        if minute != self._minute:
            self._hhmm = time.strftime("%H:%M", time.localtime(ts))
            self._minute = minute
        return self._hhmm

    def __call__(self, event: r.Event) -> bytes:
        if type(event) is r.Said:
            if event.room != self.here:
                return self._elsewhere(event)
            text = event.text
            if not text.isprintable():
                if text[:1] == "\x01":
                    return b""  # a CTCP request to an IRC channel: for IRC clients only
                text = safe_text(text)
            if event.ts // 60 != self._minute:  # hhmm() once a minute, not per line
                self.hhmm(event.ts)
            return f"[{self._hhmm}] <{event.name}> {text}\r\n".encode()
        if type(event) in SILENT or (type(event) is r.Whispered and event.kind in SILENT_KINDS):
            return b""
        if type(event) is r.Noticed and event.text[:1] == "\x01":
            return b""  # a CTCP reply to a channel: for IRC clients only
        if type(event) is r.Multiline:
            return "".join(f"{line}\r\n" for line in multiline(event, self.hhmm(event.ts))).encode()
        if isinstance(event, r.Acted | r.Noticed) and event.room != self.here:
            return self._elsewhere(event)
        line = self.line(event)
        return (line if line.isprintable() else safe_text(line)).encode() + b"\r\n"

    def _elsewhere(self, event: r.Said | r.Acted | r.Noticed) -> bytes:
        """A line of a room the user is in besides this connection's: with its room."""
        line = self.line(event)
        line = f"{line[:8]}[{event.room}] {line[8:]}"  # after the `[HH:MM] ` stamp
        return (line if line.isprintable() else safe_text(line)).encode() + b"\r\n"

    def line(self, event: r.Event) -> str:
        match event:
            case r.Said(name, text, ts):
                return f"[{self.hhmm(ts)}] <{name}> {text}"
            case r.Acted(name, text, ts):
                return f"[{self.hhmm(ts)}] * {name} {text}"
            case r.Noticed(name, text, ts):
                return f"[{self.hhmm(ts)}] -{name}- {text}"
            case r.Whispered(sender, text, ts, target, kind=kind, echo=True):
                body = WHISPER_FORMS[kind].format(sender, text)
                return f"[{self.hhmm(ts)}] -> *{target}* {body}"  # sent from another connection
            case r.Whispered(sender, text, ts, kind=kind):
                return f"[{self.hhmm(ts)}] *{sender}* {WHISPER_FORMS[kind].format(sender, text)}"
            case r.Joined(name, room):
                return f"* {name} has joined {room}"
            case r.Left(name, room, reason=reason):
                return f"* {name} has left {room}" + (f" ({reason})" if reason else "")
            case r.Quit(name, reason):
                return f"* {name} has quit" + (f" ({reason})" if reason else "")
            case r.Renamed(old, new):
                return f"* {old} is now known as {new}"
            case r.ServerNotice(text):
                return f"* {text}"
            case r.Wallops(name, text):
                return f"* Wallops from {name}: {text}"
            case r.Reconnected(name):
                return f"* {name} reconnected"
            case r.Online(name):  # a name the user watches (/watch)
                return f"* {name} is online"
            case r.Offline(name):
                return f"* {name} went offline"
            case r.ModeChanged("", room, "+o", (heir,)):
                return f"* {heir} is now an operator of {room} (the last operator left)"
            case r.ModeChanged(name, room, modes, args):
                return f"* {name or 'The server'} set mode {' '.join((modes, *args))} on {room}"
            case r.Kicked(name, room, target, reason):
                why = f" ({reason})" if reason else ""
                return f"* {target} was kicked from {room} by {name}{why}"
            case r.Invited(name, room, _, personal=True):
                return f"* {name} invited you to {room} (/join {room})"
            case r.Invited(name, room, target):
                return f"* {name} invited {target} to {room}"
            case r.TopicSet(name, room, text):
                if not text:
                    return f"* {name} cleared the topic of {room}"
                return f"* {name} set the topic of {room} to: {text}"
            case r.Redacted():
                return deleted(event)
        raise TypeError(f"no line for {event!r}")
