"""WHO, plain (RFC 2812: 352) and WHOX (IRCv3: `WHO mask %fields,token`, 354).

Users of both doors are listed alike: a text-door user is a member with user `~name`
and its address as host. Replies only; nothing here changes the registry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator

import registry as r
from doors.irc.channels import prefix
from doors.irc.client import BOT_MODE, IrcClient
from doors.irc.message import Message
from doors.irc.render import channel
from registry.masks import glob
from utils import name_key

WHOX_ORDER = "tcuihsnfdlaor"  # the order of a 354's fields, whatever order was asked
Match = Callable[[str], bool]


def mask_matcher(mask: str) -> Match:
    """A test of text against an IRC mask (`*` any run, `?` one character), in any case."""
    pattern = name_key(mask)
    return lambda text: glob(pattern, name_key(text))


def has_wildcards(mask: str) -> bool:
    return "*" in mask or "?" in mask


def idle_of(s: IrcClient, member: r.Member) -> int:
    """Seconds since the member last spoke (a message or action, to a room or a user;
    from signon until it has), on either door."""
    return max(0, int(s.rooms.clock() - member.spoke))


def flags(s: IrcClient, member: r.Member, room: r.Room | None) -> str:
    """`H` here or `G` gone (away), `*` a server operator, `B` a bot, then the member's
    prefix in that room."""
    marks = prefix(room, member, every="multi-prefix" in s.caps) if room else ""
    bot = BOT_MODE if BOT_MODE in member.modes else ""
    oper = "*" if "o" in member.modes else ""
    return ("G" if member.away else "H") + oper + bot + marks


def matches(s: IrcClient, mask: str) -> Iterator[tuple[r.Member, r.Room | None]]:
    """The members a WHO mask names, each with the room its reply shows (None: `*`)."""
    if mask.startswith("#"):
        room = s.rooms.room(mask[1:])
        if room is not None:
            for member in sorted(room.members, key=lambda m: name_key(m.name)):
                yield member, room
        return
    if mask in ("", "0", "*"):
        found = s.rooms.users()
    elif not has_wildcards(mask):
        one = s.rooms.find(mask)
        found = [one] if one is not None else []
    else:
        match = mask_matcher(mask)
        found = [
            m
            for m in s.rooms.users()
            if any(map(match, (m.name, m.user, m.host, m.realname, s.door.name)))
        ]
    me = s.require_member()
    for member in found:
        # +i hides a user from masks, not from its own nick or those who share a room.
        hidden = "i" in member.modes and member is not me and mask.lower() != member.name.lower()
        if hidden and not any(room in me.rooms for room in member.rooms):
            continue
        yield member, next(iter(member.rooms), None)


def whox_fields(s: IrcClient, member: r.Member, room: r.Room | None, token: str) -> dict[str, str]:
    """Every WHOX field of one reply, by its letter."""
    return {
        "t": token,
        "c": channel(room.name) if room else "*",
        "u": member.user,
        "i": ip_of(member.host),
        "h": member.host,
        "s": s.door.name,
        "n": member.name,
        "f": flags(s, member, room),
        "d": "0",  # hops: one server
        "l": str(idle_of(s, member)),
        "a": member.account or "0",  # "0": logged in to no account
        "o": "n/a",  # no channel op levels
        "r": member.realname,
    }


def ip_of(host: str) -> str:
    """The address WHOX shows for a host: itself if it is one, else the spec's filler."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "255.255.255.255"


def on_who(s: IrcClient, msg: Message) -> None:
    """WHO [mask [o][%fields[,token]]]: one reply per matching member, then 315."""
    mask = msg.params[0] if msg.params else "*"
    options = msg.params[1] if len(msg.params) > 1 else ""
    wanted, whox, spec = options.partition("%")
    letters, _, token = spec.partition(",")
    if "o" not in wanted:  # `o`: operators only, and there are none
        for member, room in matches(s, mask):
            if whox:
                fields = whox_fields(s, member, room, token or "0")
                s.numeric("354", *(fields[c] for c in WHOX_ORDER if c in letters))
            else:
                chan = channel(room.name) if room else "*"
                s.numeric(
                    "352", chan, member.user, member.host, s.door.name, member.name,
                    flags(s, member, room), f"0 {member.realname}",
                )  # fmt: skip
    s.numeric("315", mask, "End of /WHO list")
