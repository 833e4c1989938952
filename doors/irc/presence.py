"""IRC commands about users coming, going and changing: MONITOR (IRCv3 monitor, with
extended-monitor) and SETNAME (IRCv3 setname).

The watch lists are the registry's (registry/watch.py): the name table tells a watcher
when a name comes online or goes offline (730, 731, worded by render.py), wherever the
change came from. Here: the list's own commands and their replies.
"""

from __future__ import annotations

from doors.irc.client import IrcClient, IrcError
from doors.irc.message import Message, line
from doors.irc.queries import REPLY_BYTES
from utils import name_key, name_problem, normalize_name


def on_monitor(s: IrcClient, msg: Message) -> None:
    """MONITOR + nick{,nick} | - nick{,nick} | C | L | S."""
    me = s.require_member()
    watches = s.rooms.watches
    modifier = msg.params[0].upper()
    targets = [t for t in msg.params[1].split(",") if t] if len(msg.params) > 1 else []
    if modifier in ("+", "-") and not targets:
        raise IrcError("461", "MONITOR", "Not enough parameters")
    if modifier == "+":
        watches.hear_changes(me, "extended-monitor" in s.caps)
        names = _nicks(s, targets)
        refused = watches.add(me, names)
        full = {name_key(name) for name in refused}
        _status(s, [name for name in names if name_key(name) not in full])
        if refused:
            limit = str(watches.limit)
            s.numeric("734", limit, ",".join(refused), "Monitor list is full.")
    elif modifier == "-":
        watches.remove(me, targets)
    elif modifier == "C":
        watches.clear(me)
    elif modifier == "L":
        _send_list(s, "732", watches.names(me))
        s.numeric("733", "End of MONITOR list")
    elif modifier == "S":
        _status(s, watches.names(me))
    else:
        text = "Unknown MONITOR modifier; use +, -, C, L or S"
        s.send(line(s.door.name, "FAIL", "MONITOR", "UNKNOWN_COMMAND", msg.params[0], text))


def _nicks(s: IrcClient, targets: list[str]) -> list[str]:
    """The targets that are valid nicks, each once: a mask or a word no nick can be is
    skipped (the spec: a target MUST be a valid nick; none could ever come online)."""
    seen: dict[str, str] = {}
    for target in targets:
        name = normalize_name(target)
        if not name_problem(name, s.config.max_name_chars):
            seen.setdefault(name_key(name), name)
    return list(seen.values())


def _status(s: IrcClient, names: list[str]) -> None:
    """730 for those online (nick!user@host), 731 for those offline (as given)."""
    found = [(name, s.rooms.find(name)) for name in names]
    _send_list(s, "730", [member.mask for _, member in found if member is not None])
    _send_list(s, "731", [name for name, member in found if member is None])


def _send_list(s: IrcClient, code: str, items: list[str]) -> None:
    """One numeric whose last parameter is a comma-separated list, cut into lines."""
    width = len(line(s.door.name, code, s.target, ""))
    batch: list[str] = []
    for item in items:
        if batch and width + len(",".join([*batch, item])) > REPLY_BYTES:
            s.numeric(code, ",".join(batch))
            batch = []
        batch.append(item)
    if batch:
        s.numeric(code, ",".join(batch))


def on_setname(s: IrcClient, msg: Message) -> None:
    """SETNAME :realname. Told to the client itself and those sharing a room with it
    that negotiated setname, and to its extended-monitor watchers with setname."""
    realname = msg.params[0] if msg.params else ""
    if not realname or len(realname) > s.config.max_realname_chars:
        text = f"Realname must be 1 to {s.config.max_realname_chars} characters"
        s.send(line(s.door.name, "FAIL", "SETNAME", "INVALID_REALNAME", text))
        return
    me = s.require_member()
    s.rooms.set_realname(me, realname)
    if "setname" in s.caps:  # without it, silent: as SETNAME was before the cap
        s.send(s.stamp() + line(me.mask, "SETNAME", realname))
