"""IRC commands that ask who and what: LUSERS, MOTD, and the other queries."""

from __future__ import annotations

from doors.irc.commands import irc_command
from doors.irc.message import Message
from doors.irc.session import IrcSession


@irc_command("LUSERS")
def _lusers(s: IrcSession, msg: Message) -> None:
    users = len(s.rooms.users())
    rooms = len(s.rooms.rooms())
    s.numeric("251", f"There are {users} users and 0 invisible on 1 servers")
    s.numeric("252", "0", "operator(s) online")
    s.numeric("254", str(rooms), "channels formed")
    s.numeric("255", f"I have {users} clients and 0 servers")
    top = max(s.door.max_users, users)
    s.numeric("265", str(users), str(top), f"Current local users {users}, max {top}")
    s.numeric("266", str(users), str(top), f"Current global users {users}, max {top}")


@irc_command("MOTD")
def _motd(s: IrcSession, msg: Message) -> None:
    motd = s.config.motd
    if not motd:
        s.numeric("422", "MOTD File is missing")
        return
    s.numeric("375", f"- {s.door.name} Message of the day - ")
    for text in motd:
        s.numeric("372", f"- {text}")
    s.numeric("376", "End of /MOTD command.")
