"""The text door's commands of server operators: /oper /kill /wallops, and the server
bans /kline /unkline /klines. The command table (commands.py) holds their usage, which
/help lists.

Who is an oper, and what an oper may do, is the registry's (RoomManager.make_oper,
kill, wallops, server_ban, lift_server_ban, server_bans), the same as the IRC door's
OPER, KILL, WALLOPS, KLINE, UNKLINE and STATS K; here each command is parsed and its
answer worded (docs/protocol.md, "Server operators"). The password never reaches a
log line (door.py redacts the line).
"""

from __future__ import annotations

import time

from doors.text.conversation import Conversation, Result
from registry.bans import BanRecord, parse_duration, word_duration
from utils import address_group


def oper(s: Conversation, arg: str) -> Result:
    name, _, password = s.needs(arg, "oper").partition(" ")
    password = password.strip()
    s.needs(password, "oper")
    return _oper(s, name, password)


async def _oper(s: Conversation, name: str, password: str) -> None:
    member = s.require_member()
    if await s.rooms.make_oper(member, name, password, address_group(s.host)):
        s.say("* You are now a server operator.")
    else:
        s.say("* You are a server operator already.")


def kill(s: Conversation, arg: str) -> None:
    name, _, reason = s.needs(arg, "kill").partition(" ")
    target = s.rooms.kill(s.require_member(), name, reason.strip()[: s.config.max_topic_chars])
    s.say(f"* You disconnected {target.name}.")


def wallops(s: Conversation, arg: str) -> None:
    text = s.needs(arg.strip(), "wallops")[: s.config.max_topic_chars]
    s.rooms.wallops(s.require_member(), text)


def kline(s: Conversation, arg: str) -> None:
    """`/kline [DURATION] MASK [REASON]`: a first word that reads as a duration is one."""
    first, _, rest = s.needs(arg, "kline").partition(" ")
    duration_s = parse_duration(first)
    if duration_s is not None:
        arg = s.needs(rest.strip(), "kline")
    mask, _, reason = arg.partition(" ")
    reason = reason.strip()[: s.config.max_topic_chars]
    record, replaced, gone = s.rooms.server_ban(s.require_member(), mask, reason, duration_s)
    done = "updated" if replaced else "set"
    s.say(f"* Server ban {done}: {record.mask}, {_span(record, with_length=True)} ({record.why}).")
    if gone:
        s.say(f"* It disconnected {', '.join(m.name for m in gone)}.")


def unkline(s: Conversation, arg: str) -> None:
    record = s.rooms.lift_server_ban(s.require_member(), s.needs(arg.split(" ", 1)[0], "unkline"))
    s.say(f"* Server ban lifted: {record.mask}.")


def klines(s: Conversation, arg: str) -> None:
    bans = s.rooms.server_bans(s.require_member())
    if not bans:
        s.say("* No server bans.")
        return
    s.say(
        f"Server bans ({len(bans)})",
        *(f"{b.mask} by {b.by} on {_when(b.set_at)}, {_span(b)} ({b.why})" for b in bans),
    )


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _span(record: BanRecord, *, with_length: bool = False) -> str:
    """`permanent`, or `until 2026-12-01 15:02` (`for 1h, until ...`)."""
    if not record.expires:
        return "permanent"
    length = f"for {word_duration(record.expires - record.set_at)}, " if with_length else ""
    return f"{length}until {_when(record.expires)}"
