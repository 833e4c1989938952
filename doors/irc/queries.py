"""IRC commands that ask who is who and what is where: WHOIS, WHOWAS, USERHOST, ISON,
LIST. WHO is in who.py, the questions about the server in server_info.py.

Users and rooms of the text door are listed as IRC users and channels. Replies only;
nothing here changes the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import registry as r
from doors.irc.channels import prefix
from doors.irc.client import BOT_MODE, IrcClient, IrcError
from doors.irc.message import Message, line
from doors.irc.render import channel
from doors.irc.who import idle_of, mask_matcher

MAX_USERHOST = 5  # RFC 2812: USERHOST names at most five nicknames
REPLY_BYTES = 400  # a reply of many words is cut into lines of about this length


def require_this_server(s: IrcClient, server: str) -> None:
    """IrcError 402 unless `server` (a name or a mask) means this server: there is one."""
    if not mask_matcher(server)(s.door.name):
        raise IrcError("402", server, "No such server")


def send_words(s: IrcClient, code: str, head: list[str], words: list[str]) -> None:
    """One numeric whose last parameter is a list of words, cut into lines if long."""
    width = len(line(s.door.name, code, s.target, *head, ""))
    batch: list[str] = []
    for word in words:
        if batch and width + len(" ".join([*batch, word])) > REPLY_BYTES:
            s.numeric(code, *head, " ".join(batch))
            batch = []
        batch.append(word)
    if batch:
        s.numeric(code, *head, " ".join(batch))


def on_whois(s: IrcClient, msg: Message) -> None:
    """WHOIS [server|nick] nick{,nick}: who they are, where, since when; then 318."""
    if not msg.params or not msg.params[-1]:
        raise IrcError("431", "No nickname given")
    if len(msg.params) > 1 and s.rooms.find(msg.params[0]) is None:
        require_this_server(s, msg.params[0])  # `WHOIS nick nick` asks nick's server
    for nick in msg.params[-1].split(","):
        member = s.rooms.find(nick)
        if member is None:
            s.numeric("401", nick, "No such nick/channel")
        else:
            whois(s, member)
        s.numeric("318", nick, "End of /WHOIS list")


def whois(s: IrcClient, member: r.Member) -> None:
    name = member.name
    s.numeric("311", name, member.user, member.host, "*", member.realname)
    every = "multi-prefix" in s.caps
    chans = [prefix(room, member, every=every) + channel(room.name) for room in member.rooms]
    if chans:
        send_words(s, "319", [name], chans)
    if member.server:  # on another server of the cluster
        s.numeric("312", name, member.server, "a server of this chatroom cluster")
    else:
        s.numeric("312", name, s.door.name, s.config.irc_server_info)
    if BOT_MODE in member.modes:
        s.numeric("335", name, "is a bot on chatroom")  # RPL_WHOISBOT (NETWORK=chatroom)
    if "o" in member.modes:
        s.numeric("313", name, "is an IRC operator")
    if member.account:
        s.numeric("330", name, member.account, "is logged in as")
    if member.away:
        s.numeric("301", name, member.away)
    idle, signon = str(idle_of(s, member)), str(int(member.signon))
    s.numeric("317", name, idle, signon, "seconds idle, signon time")


def on_whowas(s: IrcClient, msg: Message) -> None:
    """WHOWAS nick{,nick} [count [server]]: who had the name, latest first; then 369."""
    if not msg.params or not msg.params[0]:
        raise IrcError("431", "No nickname given")
    count = _count(msg.params[1]) if len(msg.params) > 1 else 0
    if len(msg.params) > 2:
        require_this_server(s, msg.params[2])
    for nick in msg.params[0].split(","):
        match = mask_matcher(nick)
        found = [gone for gone in s.rooms.whowas if match(gone.name)]
        if count > 0:  # RFC 2812: a count of zero or less asks for every entry
            del found[count:]
        if not found:
            s.numeric("406", nick, "There was no such nickname")
        for gone in found:
            s.numeric("314", gone.name, gone.user, gone.host, "*", gone.realname)
            when = time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(gone.ts))
            s.numeric("312", gone.name, s.door.name, when)
        s.numeric("369", nick, "End of WHOWAS")


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def on_userhost(s: IrcClient, msg: Message) -> None:
    """USERHOST nick{ nick}: `nick=+user@host` for each that is on (`-`: away)."""
    found = (s.rooms.find(nick) for nick in " ".join(msg.params).split()[:MAX_USERHOST])
    replies = [
        f"{m.name}={'-' if m.away else '+'}{m.user}@{m.host}" for m in found if m is not None
    ]
    s.numeric("302", " ".join(replies))


def on_ison(s: IrcClient, msg: Message) -> None:
    """ISON nick{ nick}: which of these nicks are on."""
    found = (s.rooms.find(nick) for nick in " ".join(msg.params).split())
    s.numeric("303", " ".join(m.name for m in found if m is not None))


def on_list(s: IrcClient, msg: Message) -> None:
    """LIST [filter{,filter} [server]]: the rooms, with their counts and topics."""
    if len(msg.params) > 1:
        require_this_server(s, msg.params[1])
    keep = list_filter(msg.params[0] if msg.params else "", s.rooms.clock())
    s.numeric("321", "Channel", "Users  Name")
    me = s.require_member()
    for room in s.rooms.rooms():
        if keep(room) and r.is_visible(room, me):
            s.numeric("322", channel(room.name), str(len(room.members)), room.topic)
    s.numeric("323", "End of /LIST")


def list_filter(spec: str, now: float) -> Callable[[r.Room], bool]:
    """LIST's filters (ELIST=CMNTU): channels or masks (any may match), `!mask` (none
    may), `>n`/`<n` users, `C>n`/`C<n` minutes since made, `T>n`/`T<n` since the topic."""
    wanted: list[Callable[[str], bool]] = []
    unwanted: list[Callable[[str], bool]] = []
    tests: list[Callable[[r.Room], bool]] = []
    for item in filter(None, spec.split(",")):
        test = _condition(item, now)
        if test is not None:
            tests.append(test)
        elif item.startswith("!"):
            unwanted.append(mask_matcher(item[1:]))
        else:
            wanted.append(mask_matcher(item))  # a name without wildcards matches itself

    def keep(room: r.Room) -> bool:
        chan = channel(room.name)
        return (
            (not wanted or any(match(chan) for match in wanted))
            and not any(match(chan) for match in unwanted)
            and all(test(room) for test in tests)
        )

    return keep


def _condition(item: str, now: float) -> Callable[[r.Room], bool] | None:
    """A `>n`, `<n`, `C>n`, `C<n`, `T>n` or `T<n` filter, or None if `item` is not one."""
    kind, op, number = ("", item[:1], item[1:]) if item[:1] in "<>" else (
        item[:1].upper(), item[1:2], item[2:]
    )  # fmt: skip
    if kind not in ("", "C", "T") or op not in ("<", ">") or not number.isdigit():
        return None
    n = int(number)

    def compare(value: float) -> bool:
        return value < n if op == "<" else value > n

    if kind == "":
        return lambda room: compare(len(room.members))
    if kind == "C":
        return lambda room: compare((now - room.created) / 60)
    return lambda room: bool(room.topic) and compare((now - room.topic_ts) / 60)
