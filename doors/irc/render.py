"""Registry events as IRC lines, one render per set of capabilities that changes them.

Members whose clients negotiated the same relevant capabilities share one render, so
a room words each event once per such set, as it does once per door.
"""

from __future__ import annotations

import time
from functools import cache

import registry as r
from doors.irc.message import line
from utils import utc_ms


def channel(room: str) -> str:
    return "#" + room


def server_time(ts: float) -> str:
    """IRCv3 server-time: UTC, milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def marker_words(ms: int | None) -> str:
    """A read marker as MARKREAD words it: `timestamp=...`, or `*` for none."""
    return "*" if ms is None else "timestamp=" + utc_ms(ms)


class IrcRender:
    """Words events for IRC clients with these capabilities; callable like every render."""

    __slots__ = (
        "account_notify", "account_tag", "away_notify", "extended_join", "invite_notify",
        "message_tags", "multiline", "read_marker", "redaction", "server_time", "setname",
        "tagged",
    )  # fmt: skip

    def __init__(
        self,
        server_time: bool,
        message_tags: bool,
        away_notify: bool,
        invite_notify: bool = False,
        *,
        account_tag: bool = False,
        account_notify: bool = False,
        extended_join: bool = False,
        setname: bool = False,
        read_marker: bool = False,
        multiline: bool = False,
        redaction: bool = False,
    ) -> None:
        self.server_time = server_time
        self.message_tags = message_tags
        self.away_notify = away_notify
        self.invite_notify = invite_notify
        self.account_tag = account_tag  # IRCv3 account-tag: `account=NAME` on messages
        self.account_notify = account_notify  # IRCv3 account-notify: ACCOUNT lines
        self.extended_join = extended_join  # IRCv3 extended-join: JOIN's account, realname
        self.setname = setname  # IRCv3 setname: SETNAME lines
        self.read_marker = read_marker  # IRCv3 draft/read-marker: MARKREAD when one moves
        self.multiline = multiline  # IRCv3 draft/multiline (and batch): one batch a message
        self.redaction = redaction  # IRCv3 draft/message-redaction: REDACT lines
        self.tagged = server_time or message_tags or account_tag

    def __call__(self, event: r.Event) -> bytes:
        if type(event) is r.Said:  # the common case, worded without the match below
            text = event.text
            if not text or " " in text or text[0] == ":":
                text = ":" + text
            head = (
                self.tags(event.ts, event.msgid, event.tags, event.account) if self.tagged else ""
            )
            return f"{head}:{event.mask} PRIVMSG #{event.room} {text}\r\n".encode()
        text = self.line(event)
        return (text + "\r\n").encode() if text else b""

    def tags(self, ts: float, msgid: str = "", client: str = "", account: str = "") -> str:
        """The tag prefix (`@...; `) this render gives a message, or ""."""
        parts = []
        if self.server_time and ts:
            parts.append("time=" + server_time(ts))
        if self.account_tag and account:
            parts.append("account=" + account)
        if self.message_tags:
            if msgid:
                parts.append("msgid=" + msgid)
            if client:
                parts.append(client)
        return "@" + ";".join(parts) + " " if parts else ""

    def line(self, event: r.Event) -> str:
        match event:
            case r.Said(_, text, ts, room, mask, msgid, tags, account):
                return self.tags(ts, msgid, tags, account) + line(
                    mask, "PRIVMSG", channel(room), text
                )
            case r.Acted(_, text, ts, room, mask, msgid, tags, account):
                action = f"\x01ACTION {text}\x01"
                return self.tags(ts, msgid, tags, account) + line(
                    mask, "PRIVMSG", channel(room), action
                )
            case r.Noticed(_, text, ts, room, mask, msgid, tags, account):
                return self.tags(ts, msgid, tags, account) + line(
                    mask, "NOTICE", channel(room), text
                )
            case r.Multiline():
                return self.multiline_lines(event)
            case r.Tagged(_, ts, room, mask, msgid, tags, account):
                if not self.message_tags:
                    return ""
                return self.tags(ts, msgid, tags, account) + line(mask, "TAGMSG", channel(room))
            case r.Whispered(_, text, ts, target, mask, kind, msgid, tags, account):
                return self.tags(ts, msgid, tags, account) + self.private(mask, target, kind, text)
            case r.Joined(_, room, mask, account, realname):
                if self.extended_join:
                    return line(mask, "JOIN", channel(room), account or "*", realname)
                return line(mask, "JOIN", channel(room))
            case r.Left(_, room, mask, reason):
                return line(mask, "PART", channel(room), *((reason,) if reason else ()))
            case r.Quit(_, reason, mask):
                return line(mask, "QUIT", reason or "Quit")
            case r.Renamed(_, new, mask):
                return line(mask, "NICK", new)
            case r.TopicSet(_, room, text, ts, mask):
                return self.tags(ts) + line(mask, "TOPIC", channel(room), text)
            case r.ModeChanged(_, room, modes, args, mask):
                return line(mask, "MODE", channel(room), modes, *args)
            case r.Kicked(name, room, target, reason, mask):
                return line(mask, "KICK", channel(room), target, reason or name)
            case r.Invited(_, room, target, mask, personal, account):
                if personal or self.invite_notify:  # IRCv3 invite-notify: the room's too
                    head = self.tags(0, account=account) if self.account_tag else ""
                    return head + line(mask, "INVITE", target, channel(room))
                return ""
            case r.ServerNotice(text, server, target):
                return line(server, "NOTICE", target or "*", text)  # from the server: no `!`
            case r.Reconnected() | r.OwnerChanged():
                return ""  # nothing changed for an IRC client
            case r.MarkerMoved(room, nick, ms, server):
                if not self.read_marker:
                    return ""
                return line(server, "MARKREAD", channel(room) if room else nick, marker_words(ms))
            case r.AccountChanged(_, account, mask):
                return line(mask, "ACCOUNT", account or "*") if self.account_notify else ""
            case r.Wallops(_, text, mask):
                return line(mask, "WALLOPS", text)
            case r.AwayChanged(_, text, mask):
                if not self.away_notify:
                    return ""
                return line(mask, "AWAY", text) if text else line(mask, "AWAY")
            case r.Redacted(_, taken, _, _, ts, room, target, reason, mask, msgid, account):
                if not self.redaction:  # none to a client without the capability (spec)
                    return ""
                why = (reason,) if reason else ()
                where = channel(room) if room else target
                return self.tags(ts, msgid, "", account) + line(mask, "REDACT", where, taken, *why)
            case r.RealnameChanged(_, realname, mask):
                return line(mask, "SETNAME", realname) if self.setname else ""
            case r.Online(_, mask, server, target):  # IRCv3 MONITOR: RPL_MONONLINE
                return line(server, "730", target, mask)
            case r.Offline(name, server, target):  # RPL_MONOFFLINE
                return line(server, "731", target, name)
        raise TypeError(f"no line for {event!r}")

    def multiline_lines(self, event: r.Multiline) -> str:
        """A multiline message as one `draft/multiline` batch (its tags on the BATCH line,
        the message's id as the batch's reference), or, for a client without it, each
        line as a message of its own: the sender's pieces kept as sent, blank lines left
        out, the msgid on the first line only (IRCv3 multiline, "Fallback"). Lines
        joined by CRLF, without the last one."""
        command = "NOTICE" if event.kind == "notice" else "PRIVMSG"
        target = channel(event.room) if event.room else event.target
        mask, ref = event.mask, event.msgid or "0"
        head = self.tags(event.ts, event.msgid, event.tags, event.account) if self.tagged else ""
        parts = event.text.split("\n")
        if self.multiline:
            out = [f"{head}:{mask} BATCH +{ref} draft/multiline {target}"]
            for index, part in enumerate(parts):
                concat = ";draft/multiline-concat" if index in event.concat else ""
                out.append(f"@batch={ref}{concat} " + line(mask, command, target, part))
            out.append(f"BATCH -{ref}")
            return "\r\n".join(out)
        rest = self.tags(event.ts, "", event.tags, event.account) if self.tagged else ""
        out = []
        for part in parts:
            if part:
                out.append((rest if out else head) + line(mask, command, target, part))
        return "\r\n".join(out)

    def private(self, mask: str, target: str, kind: str, text: str) -> str:
        if kind == "tagmsg":
            return line(mask, "TAGMSG", target) if self.message_tags else ""
        if kind == "action":
            return line(mask, "PRIVMSG", target, f"\x01ACTION {text}\x01")
        return line(mask, "NOTICE" if kind == "notice" else "PRIVMSG", target, text)


@cache
def render_for(
    server_time: bool,
    message_tags: bool,
    away_notify: bool,
    invite_notify: bool = False,
    *,
    account_tag: bool = False,
    account_notify: bool = False,
    extended_join: bool = False,
    setname: bool = False,
    read_marker: bool = False,
    multiline: bool = False,
    redaction: bool = False,
) -> IrcRender:
    """The one shared render for this set of capabilities."""
    return IrcRender(
        server_time, message_tags, away_notify, invite_notify,
        account_tag=account_tag, account_notify=account_notify, extended_join=extended_join,
        setname=setname,
        read_marker=read_marker,
        multiline=multiline,
        redaction=redaction,
    )  # fmt: skip
