"""IRC registration (RFC 2812 3.1, IRCv3 capability negotiation): CAP, PASS, NICK,
USER, and the commands a client may send before it is welcomed: PING, PONG, QUIT.
Registration completes, and the welcome (001-005, LUSERS, MOTD) is sent, once the
client has given a nick and a user and ended any CAP negotiation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

import registry as r
from doors.common import Password
from doors.irc.accounts import pass_login
from doors.irc.channels import show_joined
from doors.irc.client import IrcClient, IrcError, Pending
from doors.irc.history import deliver_held
from doors.irc.markers import tell_stored
from doors.irc.message import Message, line
from doors.irc.server_info import VERSION, on_lusers, on_motd
from utils import name_key

log = logging.getLogger(__name__)


def try_register(s: IrcClient) -> Pending | None:
    """Register the client if it has all it needs, unless the server password is wrong."""
    if s.member is not None or not s.user or s.negotiating:
        return None
    if not s.nick and not (s.account and s.rooms.presence(s.account)):
        return None  # a nick is needed, unless it is one more connection of a user
    if s.config.password and s.check_password(s.password) is not Password.RIGHT:
        s.numeric("464", "Password incorrect")
        s.error("Closing link: bad password")
        return None
    return _register(s)


async def _register(s: IrcClient) -> None:
    if not s.config.password and ":" in s.password and not s.logged_in:
        text, s.password = s.password, ""  # PASS account:password, as a fallback to SASL
        if not await pass_login(s, text):
            return
    if s.account and s.rooms.presence(s.account) is not None:
        await _attach(s)  # one more connection of a user logged in to the account
        return
    nick = s.nick
    try:
        s.member = await s.rooms.claim(
            nick, s.write, s.render, user=s.user, host=s.host, realname=s.realname, door="irc",
            account=s.account,
        )  # fmt: skip
    except r.NameReserved:  # a registered nick, and not logged in to it: strict
        s.nick = ""
        s.numeric("433", nick, "Nickname is reserved by a different account")
        return
    except r.NameTaken:
        s.nick = ""  # not registered: the 433 is addressed to "*"
        s.numeric("433", nick, "Nickname is already in use")
        return
    except r.ServerBanned as exc:
        s.banned(exc.reason)
        return
    s.member.killed = s.member.banned = None
    s.member.holder = s  # its on_killed and on_banned (registry/room.py Holder)
    log.info("%s is %s (IRC)", s.peer, nick)
    census = s.rooms.census()
    s.door.max_users = max(s.door.max_users, census.local)
    s.door.max_global = max(s.door.max_global, census.users)
    welcome(s)
    tell_stored(s)
    await deliver_held(s)  # logged in before the welcome: what waited for the account


async def _attach(s: IrcClient) -> None:
    """Registration of a connection to an account whose user is here already: it is
    that user (its nick, its rooms), as one more connection of it (Ergo's multiclient).
    Its rooms are shown as if it had joined them."""
    try:
        member, device = await s.rooms.log_in_as(
            s.account, s.write, s.render, user=s.user, host=s.host, door="irc"
        )
    except r.NameTaken:
        s.numeric("433", s.nick, "Nickname is already in use")
        s.nick = ""
        return
    s.member, s.device, s.nick = member, device, member.name
    if device is None:
        member.killed = s.killed
    else:
        device.killed = s.killed
    log.info("%s is %s (IRC, one more connection)", s.peer, member.name)
    welcome(s)
    for room in list(member.rooms):
        show_joined(s, room)
    tell_stored(s)
    await deliver_held(s)  # an always-on user's first connection again: what waited


def welcome(s: IrcClient) -> None:
    s.registered()
    door, nick = s.door, s.target
    s.numeric("001", f"Welcome to the chatroom IRC network, {nick}")
    s.numeric("002", f"Your host is {door.name}, running version {VERSION}")
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(door.created))
    s.numeric("003", f"This server was created {created}")
    modes = ("Biow", "beIiklmnostv", "beIklov")  # user, room, room modes with an argument
    s.send(line(door.name, "004", nick, door.name, VERSION, *modes))
    s.send_isupport()
    on_lusers(s, Message("LUSERS", []))
    on_motd(s, Message("MOTD", []))


def on_cap(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    sub = msg.params[0].upper()
    door = s.door
    if sub == "LS":
        s.negotiating = s.member is None
        s.cap_version = max(s.cap_version, int(msg.params[1]) if msg.params[1:2] == ["302"] else 0)
        if s.cap_version >= 302:
            s.caps = s.caps | {"cap-notify"}  # implied by CAP LS 302
        sts = door.sts_policy.get(s.is_tls) if s.cap_version >= 302 and s.offers_sts else None
        values = door.cap_values if s.cap_version >= 302 else {}
        words = (f"{cap}={values[cap]}" if cap in values else cap for cap in door.caps)
        offered = " ".join(words) + (f" sts={sts}" if sts else "")  # IRCv3 sts
        s.send(line(door.name, "CAP", s.target, "LS", offered))
    elif sub == "LIST":
        s.send(line(door.name, "CAP", s.target, "LIST", " ".join(sorted(s.caps))))
    elif sub == "REQ":
        s.negotiating = s.member is None
        asked = msg.params[1].split() if len(msg.params) > 1 else []
        caps = set(s.caps)
        for word in asked:
            name = word.lstrip("-")
            if name not in door.caps:
                s.send(line(door.name, "CAP", s.target, "NAK", " ".join(asked)))
                return None
            if word.startswith("-"):
                caps.discard(name)
            else:
                caps.add(name)
        s.set_caps(caps)
        s.send(line(door.name, "CAP", s.target, "ACK", " ".join(asked)))
    elif sub == "END":
        if s.member is None and s.negotiating:
            s.negotiating = False
            return try_register(s)
    else:
        raise IrcError("410", sub, "Invalid CAP command")
    return None


def on_pass(s: IrcClient, msg: Message) -> None:
    if s.member is not None:
        raise IrcError("462", "You may not reregister")
    s.password = msg.params[0]


def on_nick(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    if not msg.params or not msg.params[0]:
        raise IrcError("431", "No nickname given")
    nick = s.valid_nick(msg.params[0])
    member = s.member
    if member is None:
        s.asked_nick = nick
        taken = s.rooms.find(nick)
        mine = taken is not None and (
            (s.account and taken is s.rooms.presence(s.account)) or _pass_names(s, taken)
        )
        if taken is not None and not mine:
            raise IrcError("433", nick, "Nickname is already in use")
        s.nick = nick
        return try_register(s)
    if nick == member.name:
        return None
    return _rename(s, member, nick)


def _pass_names(s: IrcClient, taken: r.Member) -> bool:
    """Whether PASS account:password (checked at registration) names the account of the
    user of this server holding the nick: then the nick is its, as after SASL (an
    always-on user with no connection, or one more connection of a user)."""
    if s.config.password or ":" not in s.password or not taken.account or taken.server:
        return False
    return name_key(s.password.partition(":")[0]) == name_key(taken.account)


async def _rename(s: IrcClient, member: r.Member, nick: str) -> None:
    mask = member.mask
    try:
        told = await s.rooms.rename(member, nick)
    except r.NameReserved:  # Ergo's strict nick reservation: no grace period
        text = "That nickname is reserved by a different account"
        s.send(line(s.door.name, "FAIL", "NICK", "NICKNAME_RESERVED", nick, text))
        return
    except r.NameTaken:
        raise IrcError("433", nick, "Nickname is already in use") from None
    except r.ServerBanned as exc:
        raise IrcError("432", nick, f"Erroneous nickname: banned ({exc.reason})") from None
    if not told:
        s.send(line(mask, "NICK", nick))


def on_user(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    if s.member is not None or s.user:
        raise IrcError("462", "You may not reregister")
    if not msg.params[0] or not msg.params[3]:
        raise IrcError("461", "USER", "Not enough parameters")
    user = "".join(c for c in msg.params[0] if c.isalnum() or c in "-_.")[:10]
    s.user = "~" + (user or "user")[:9]
    s.realname = msg.params[3][: s.config.max_realname_chars]
    return try_register(s)


def on_ping(s: IrcClient, msg: Message) -> None:
    s.send(line(s.door.name, "PONG", s.door.name, msg.params[0]))


def on_pong(s: IrcClient, msg: Message) -> None:
    """Any line proves the client is there; the connection has noted it already."""


def on_quit(s: IrcClient, msg: Message) -> Awaitable[None]:
    reason = msg.params[0][: s.config.max_topic_chars] if msg.params else ""
    s.quit_reason = f"Quit: {reason}" if reason else "Quit"
    s.error(f"Closing link: {s.host} ({s.quit_reason})")
    return s.close()
