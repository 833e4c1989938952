"""The text door's commands of server operators: /oper /kill /wallops. The command
table (commands.py) holds their usage, which /help lists.

Who is an oper, and what an oper may do, is the registry's (RoomManager.make_oper,
kill, wallops), the same as the IRC door's OPER, KILL and WALLOPS; here each command
is parsed and its answer worded (docs/protocol.md, "Server operators"). The password
never reaches a log line (door.py redacts the line).
"""

from __future__ import annotations

from doors.text.conversation import Conversation, Result
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
