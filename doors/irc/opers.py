"""IRC commands of server operators: OPER, KILL, WALLOPS (Modern: 381 464 481 491).

Who is an oper, and what an oper may do, is the registry's (RoomManager.make_oper,
kill, wallops; registry/opers.py); here each command is parsed and its answers
numbered. OPER's password never reaches a log line (door.py redacts the line).
"""

from __future__ import annotations

import registry as r
from doors.irc.client import IrcClient, IrcError
from doors.irc.message import Message, line
from utils import address_group


async def on_oper(s: IrcClient, msg: Message) -> None:
    """OPER <name> <password>: 381 and user mode +o, or 491 / 464."""
    member = s.require_member()
    name, password = msg.params[0], msg.params[1]
    try:
        became = await s.rooms.make_oper(member, name, password, address_group(s.host))
    except r.NoOperHost:
        raise IrcError("491", "No O-lines for your host") from None
    except r.OperRefused:
        raise IrcError("464", "Password incorrect") from None
    except r.OperLimited as exc:
        raise IrcError("464", f"Too many wrong passwords; wait {exc.limit} s") from None
    if not became and not member.oper:
        return  # it went away while the password was checked
    if became:
        s.send(line(member.mask, "MODE", member.name, "+o"))
    s.numeric("381", "You are now an IRC operator")


def on_kill(s: IrcClient, msg: Message) -> None:
    """KILL <nick> [:<reason>]: an oper disconnects a user (481 for others, 401)."""
    member = s.require_member()
    nick = msg.params[0]
    reason = msg.params[1][: s.config.max_topic_chars] if len(msg.params) > 1 else ""
    try:
        s.rooms.kill(member, nick, reason)
    except r.NotServerOperator:
        raise IrcError("481", "Permission Denied- You're not an IRC operator") from None
    except r.NoSuchUser:
        raise IrcError("401", nick, "No such nick/channel") from None


def on_wallops(s: IrcClient, msg: Message) -> None:
    """WALLOPS :<text>: to the opers and the users with +w (481 for others)."""
    try:
        s.rooms.wallops(s.require_member(), msg.params[0][: s.config.max_topic_chars])
    except r.NotServerOperator:
        raise IrcError("481", "Permission Denied- You're not an IRC operator") from None
