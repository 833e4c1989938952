"""Registry events as the text door's lines (docs/protocol.md, "Line kinds").

Every text connection shares one TextRender, so a room words each event once for all
of them. What an IRC user sent is made safe for a terminal here (utils.safe_text).
"""

from __future__ import annotations

import time

import registry as r
from utils import name_key, safe_text

# How a private message of each kind reads after `*sender* `.
WHISPER_FORMS = {"msg": "{1}", "notice": "-{1}-", "action": "* {0} {1}"}
SILENT = (r.Tagged, r.AwayChanged)  # nothing a text user needs to see
SILENT_KINDS = ("ctcp", "tagmsg")


def marked_names(room: r.Room) -> str:
    """The members, sorted, operators marked `@` and voiced members `+`."""
    marks = [
        ("@" if m in room.ops else "+" if m in room.voiced else "") + m.name
        for m in sorted(room.members, key=lambda m: name_key(m.name))
    ]
    return ", ".join(marks)


class TextRender:
    """Registry events as PROTOCOL.md lines; one instance serves every text connection."""

    __slots__ = ("_hhmm", "_minute")

    def __init__(self) -> None:
        self._minute = -1
        self._hhmm = ""

    def hhmm(self, ts: float) -> str:
        """`HH:MM` in the server's local time, formatted once a minute."""
        minute = int(ts // 60)
        if minute != self._minute:
            self._hhmm = time.strftime("%H:%M", time.localtime(ts))
            self._minute = minute
        return self._hhmm

    def __call__(self, event: r.Event) -> bytes:
        if type(event) is r.Said:
            text = event.text
            if not text.isprintable():
                if text[:1] == "\x01":
                    return b""  # a CTCP request to an IRC channel: for IRC clients only
                text = safe_text(text)
            return f"[{self.hhmm(event.ts)}] <{event.name}> {text}\r\n".encode()
        if type(event) in SILENT or (type(event) is r.Whispered and event.kind in SILENT_KINDS):
            return b""
        if type(event) is r.Noticed and event.text[:1] == "\x01":
            return b""  # a CTCP reply to a channel: for IRC clients only
        line = self.line(event)
        return (line if line.isprintable() else safe_text(line)).encode() + b"\r\n"

    def line(self, event: r.Event) -> str:
        match event:
            case r.Said(name, text, ts):
                return f"[{self.hhmm(ts)}] <{name}> {text}"
            case r.Acted(name, text, ts):
                return f"[{self.hhmm(ts)}] * {name} {text}"
            case r.Noticed(name, text, ts):
                return f"[{self.hhmm(ts)}] -{name}- {text}"
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
            case r.Reconnected(name):
                return f"* {name} reconnected"
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
        raise TypeError(f"no line for {event!r}")
