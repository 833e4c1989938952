"""The text door's watch list (docs/protocol.md, "Commands"): /watch and /unwatch.
The list is the registry's (registry/watch.py), shared with IRC's MONITOR; what a
watcher hears when a name comes or goes is worded by render.py (`* NAME is online`,
`* NAME went offline`).
"""

from __future__ import annotations

from doors.text.conversation import Conversation
from registry import Member
from utils import UserError, counted, name_key


def watch(s: Conversation, arg: str) -> None:
    """/watch NAME: be told when NAME comes online and goes offline; alone: the list."""
    me = s.require_member()
    if not arg:
        _show(s, me)
        return
    name = s.user_name(arg)
    watches = s.rooms.watches
    if any(name_key(name) == name_key(watched) for watched in watches.names(me)):
        s.say(f"* You are watching {name} already.")
        return
    if watches.add(me, [name]):
        raise UserError(f"Your watch list is full ({counted(watches.limit, 'name')}).")
    s.say(f"* You are now watching {name} ({_state(s, name)}).")


def unwatch(s: Conversation, arg: str) -> None:
    """/unwatch NAME: no longer told of NAME."""
    name = s.needs(arg, "unwatch")
    if s.rooms.watches.remove(s.require_member(), [name]):
        s.say(f"* You are no longer watching {name}.")
    else:
        s.say(f"* You are not watching {name}.")


def _show(s: Conversation, me: Member) -> None:
    names = sorted(s.rooms.watches.names(me), key=name_key)
    if not names:
        s.say("* You are watching nobody. Watch a name with /watch NAME.")
        return
    listed = ", ".join(f"{name} ({_state(s, name)})" for name in names)
    s.say(f"* You are watching ({len(names)}): {listed}")


def _state(s: Conversation, name: str) -> str:
    return "online" if s.rooms.find(name) is not None else "offline"
