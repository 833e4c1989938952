"""IRC commands of server operators: OPER, KILL, WALLOPS (Modern: 381 464 481 491), and
the server bans: KLINE, UNKLINE, STATS K (216 219), in Ergo's form.

Who is an oper, and what an oper may do, is the registry's (RoomManager.make_oper,
kill, wallops, server_ban, lift_server_ban, server_bans; registry/opers.py,
registry/bans.py); here each command is parsed and its answers numbered. OPER's
password never reaches a log line (door.py redacts the line).
"""

from __future__ import annotations

import time

import registry as r
from doors.irc.client import IrcClient, IrcError
from doors.irc.message import Message, line
from registry.bans import parse_duration, word_duration
from utils import address_group

NOT_OPER = "Permission Denied- You're not an IRC operator"


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
        raise IrcError("481", NOT_OPER) from None
    except r.NoSuchUser:
        raise IrcError("401", nick, "No such nick/channel") from None


def on_wallops(s: IrcClient, msg: Message) -> None:
    """WALLOPS :<text>: to the opers and the users with +w (481 for others)."""
    try:
        s.rooms.wallops(s.require_member(), msg.params[0][: s.config.max_topic_chars])
    except r.NotServerOperator:
        raise IrcError("481", NOT_OPER) from None


def _notice(s: IrcClient, text: str) -> None:
    s.send(line(s.door.name, "NOTICE", s.target, text))


def _fail(s: IrcClient, command: str, code: str, arg: str, text: str) -> None:
    s.send(line(s.door.name, "FAIL", command, code, arg, text))


def on_kline(s: IrcClient, msg: Message) -> None:
    """KLINE [<duration>] <mask> [:<reason>] (Ergo's form; KLINE LIST: STATS K): a
    server ban, answered by NOTICEs; 481 for others, FAIL KLINE for a bad mask."""
    member = s.require_member()
    params = list(msg.params)
    if len(params) == 1 and params[0].upper() == "LIST":
        return on_stats(s, Message("STATS", ["K"]))
    try:
        duration_s = parse_duration(params[0])
        if duration_s is not None:
            params.pop(0)
        if not params:
            raise IrcError("461", "KLINE", "Not enough parameters")
        reason = " ".join(params[1:])[: s.config.max_topic_chars]
        record, replaced, gone = s.rooms.server_ban(member, params[0], reason, duration_s)
    except r.NotServerOperator:
        raise IrcError("481", NOT_OPER) from None
    except r.BadDuration as exc:
        return _fail(s, "KLINE", "INVALID_DURATION", exc.name, f"From 1s to {exc.limit}d")
    except r.BadServerBan as exc:
        return _fail(s, "KLINE", "INVALID_MASK", exc.name, f"Invalid mask: {exc.why}")
    except r.BanMatchesYou as exc:
        text = "That K-Line would match you; give a narrower mask"
        return _fail(s, "KLINE", "MATCHES_YOU", exc.name, text)
    span = f"for {word_duration(duration_s)}" if duration_s else "permanent"
    done = "Updated" if replaced else "Added"
    _notice(s, f"{done} K-Line for {record.mask} ({span}): {record.why}")
    if gone:
        _notice(s, f"K-Line for {record.mask} disconnected {', '.join(m.name for m in gone)}")
    return None


def on_unkline(s: IrcClient, msg: Message) -> None:
    """UNKLINE <mask>: lift a server ban (481 for others, FAIL UNKLINE if none)."""
    try:
        record = s.rooms.lift_server_ban(s.require_member(), msg.params[0])
    except r.NotServerOperator:
        raise IrcError("481", NOT_OPER) from None
    except r.NoSuchServerBan:
        mask = msg.params[0]
        return _fail(s, "UNKLINE", "NO_SUCH_KLINE", mask, f"No K-Line for {mask}")
    _notice(s, f"Removed K-Line for {record.mask}")


def on_stats(s: IrcClient, msg: Message) -> None:
    """STATS <letter>: `k` or `K` lists the server bans for opers (216 <mask> <set by>
    <expires> :<reason>, 481 for others); every letter ends with 219."""
    letter = msg.params[0][:1]
    if letter in ("k", "K"):
        try:
            bans = s.rooms.server_bans(s.require_member())
        except r.NotServerOperator:
            raise IrcError("481", NOT_OPER) from None
        for ban in bans:
            expires = _iso(ban.expires) if ban.expires else "permanent"
            s.numeric("216", "K", ban.mask, ban.by, expires, ban.why)
    s.numeric("219", letter or "*", "End of /STATS report")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
