"""IRC commands of room moderation: MODE (rooms and users), KICK, INVITE.

The rules live in the registry (RoomManager.change_modes, kick, invite); here each
command is parsed and its answers numbered (Modern: 324 329 341 346-349 367 368 443
472 478 482 501 502 696).
"""

from __future__ import annotations

from collections.abc import Awaitable

import registry as r
from doors.irc.channels import find_room
from doors.irc.client import BOT_MODE, IrcClient, IrcError
from doors.irc.message import Message, line
from doors.irc.render import channel
from registry.masks import parse_changes

MAX_KICKS = 4  # TARGMAX KICK

LISTS = {  # letter: (entry numeric, end numeric, what the end says)
    "b": ("367", "368", "End of channel ban list"),
    "e": ("348", "349", "End of channel exception list"),
    "I": ("346", "347", "End of channel invite list"),
}


def room_modes(room: r.Room, member: r.Member) -> list[str]:
    """`+iklnt`, then the key (to members only) and the limit: 324's parameters."""
    letters = sorted(room.modes | ({"k"} if room.join_key else set()))
    args: list[str] = []
    if room.join_key:
        args.append(room.join_key if room in member.rooms else "*")
    if room.limit:
        letters.append("l")
        args.append(str(room.limit))
    return ["+" + "".join(sorted(letters)), *args]


def on_mode(s: IrcClient, msg: Message) -> None:
    target = msg.params[0]
    if not target.startswith("#"):
        _user_mode(s, msg)
        return
    member = s.require_member()
    room = find_room(s, target)
    chan = channel(room.name)
    if len(msg.params) == 1:
        s.numeric("324", chan, *room_modes(room, member))
        s.numeric("329", chan, str(int(room.created)))
        return
    changes, queries, unknown = parse_changes(msg.params[1], msg.params[2:])
    for letter in unknown:
        s.numeric("472", letter, "is an unknown mode char to me")
    for letter in dict.fromkeys(queries):
        entry, end, text = LISTS[letter]
        for listed in room.lists[letter]:
            s.numeric(entry, chan, listed.mask, listed.by, str(int(listed.ts)))
        s.numeric(end, chan, text)
    if not changes:
        return
    try:
        _, refused = s.rooms.change_modes(member, room, changes)
    except r.NotOperator:
        raise IrcError("482", chan, "You're not a channel operator") from None
    for refusal in refused:
        _refused(s, chan, refusal)


def _refused(s: IrcClient, chan: str, refusal: r.Refusal) -> None:
    change = refusal.change
    if refusal.why == "no-such-user":
        s.numeric("401", change.arg, "No such nick/channel")
    elif refusal.why == "not-there":
        s.numeric("441", refusal.detail, chan, "They aren't on that channel")
    elif refusal.why == "list-full":
        s.numeric("478", chan, change.letter, f"Channel list is full ({refusal.detail})")
    else:  # a bad key, limit or mask; a key is never echoed
        shown = "*" if change.letter == "k" else change.arg or "*"
        s.numeric("696", chan, change.letter, shown, f"Invalid mode parameter: {refusal.detail}")


def _user_mode(s: IrcClient, msg: Message) -> None:
    member = s.require_member()
    target = s.rooms.find(msg.params[0])
    if target is None:
        raise IrcError("401", msg.params[0], "No such nick/channel")
    if target is not member:
        raise IrcError("502", "Can't change mode for other users")
    if len(msg.params) == 1:
        s.numeric("221", "+" + "".join(sorted(member.modes)))
        return
    changed, sign, last = "", "+", ""
    modes = set(member.modes)
    for letter in msg.params[1]:
        if letter in "+-":
            sign = letter
        elif letter not in "Biow":  # B: a bot (bot-mode: its tag, 335, WHO's B; no replay)
            raise IrcError("501", "Unknown MODE flag")
        elif letter == "o" and sign == "+" and "o" not in modes:
            continue  # only OPER makes an operator
        elif (letter in modes) != (sign == "+"):
            if sign == "+":
                modes.add(letter)
            else:
                modes.discard(letter)
            changed += (sign if sign != last else "") + letter
            last = sign
    if changed:
        s.rooms.set_user_modes(member, modes)
        if BOT_MODE in changed:
            s.chat_rooms.clear()  # a bot's lines carry its tag: the long way
        s.send(line(member.mask, "MODE", member.name, changed))


def on_kick(s: IrcClient, msg: Message) -> Awaitable[None]:
    """KICK #room nick{,nick} [:reason], or #a,#b nick,nick (pairs)."""
    chans, nicks = msg.params[0].split(","), msg.params[1].split(",")[:MAX_KICKS]
    reason = msg.params[2][: s.config.max_topic_chars] if len(msg.params) > 2 else ""
    if len(chans) > 1:  # one room for each nick
        pairs = list(zip(chans, nicks, strict=False))
    else:
        pairs = [(chans[0], nick) for nick in nicks]
    return _kick_each(s, pairs, reason)


async def _kick_each(s: IrcClient, pairs: list[tuple[str, str]], reason: str) -> None:
    member = s.require_member()
    for chan, nick in pairs:
        try:
            room = find_room(s, chan)
            await s.rooms.kick(member, room, nick, reason)
        except IrcError as exc:
            s.numeric(exc.code, *exc.params)
        except r.NotInRoom:
            s.numeric("442", chan, "You're not on that channel")
        except r.NotOperator:
            s.numeric("482", chan, "You're not a channel operator")
        except r.NoSuchUser:
            s.numeric("401", nick, "No such nick/channel")
        except r.NotThere as exc:
            s.numeric("441", exc.who, chan, "They aren't on that channel")


def on_invite(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    """INVITE nick #room; INVITE alone lists the rooms this user is invited to."""
    member = s.require_member()
    if not msg.params:
        for room in member.invites:
            s.numeric("336", channel(room.name))
        s.numeric("337", "End of /INVITE list")
        return None
    if len(msg.params) < 2:
        raise IrcError("461", "INVITE", "Not enough parameters")
    return _invite_one(s, msg.params[0], msg.params[1])


async def _invite_one(s: IrcClient, nick: str, chan: str) -> None:
    member = s.require_member()
    if not chan.startswith("#"):
        raise IrcError("403", chan, "No such channel")
    try:
        room, target = await s.rooms.invite(member, chan[1:], nick)
    except r.NoSuchUser:
        raise IrcError("401", nick, "No such nick/channel") from None
    except r.NoSuchRoom:
        raise IrcError("403", chan, "No such channel") from None
    except r.NotInRoom:
        raise IrcError("442", chan, "You're not on that channel") from None
    except r.AlreadyThere as exc:
        raise IrcError("443", exc.who, chan, "is already on channel") from None
    except r.NotOperator:
        raise IrcError("482", chan, "You're not a channel operator") from None
    except r.TooManyInvites as exc:
        text = f"Too many invitations outstanding (limit {exc.limit})"
        s.send(line(s.door.name, "FAIL", "INVITE", "LIMIT_REACHED", chan, text))
        return
    s.numeric("341", target.name, channel(room.name))
    if target.away:
        s.numeric("301", target.name, target.away)
