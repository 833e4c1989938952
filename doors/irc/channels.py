"""IRC commands about rooms and messages: JOIN, PART, PRIVMSG, NOTICE, TAGMSG, TOPIC,
NAMES, AWAY. Room `general` is channel `#general`. MODE, KICK and INVITE are in
moderation.py."""

from __future__ import annotations

from collections.abc import Awaitable

import registry as r
from doors import services
from doors.irc import accounts
from doors.irc.client import BOT_MODE, MAX_LINE_BYTES, IrcClient, IrcError
from doors.irc.history import replay_on_join
from doors.irc.markers import tell_on_join
from doors.irc.message import Message, client_tags, line, relayed_bytes
from doors.irc.render import channel
from utils import name_key, name_problem, normalize_name

MAX_TARGETS = 4


def room_name(s: IrcClient, chan: str) -> str:
    """The room a channel name means, or IrcError 403 (only `#` channels exist)."""
    if not chan.startswith("#"):
        raise IrcError("403", chan, "No such channel")
    name = normalize_name(chan[1:])
    if name != chan[1:] or name_problem(name, s.config.max_room_chars):
        raise IrcError("479", chan, "Illegal channel name")
    return name


def find_room(s: IrcClient, chan: str) -> r.Room:
    room = s.rooms.room(chan[1:]) if chan.startswith("#") else None
    if room is None:
        raise IrcError("403", chan, "No such channel")
    return room


def prefix(room: r.Room, member: r.Member, *, every: bool) -> str:
    """`@` for an operator, `+` for a voiced member; both with multi-prefix."""
    marks = ("@" if member in room.ops else "") + ("+" if member in room.voiced else "")
    return marks if every else marks[:1]


def send_names(s: IrcClient, room: r.Room) -> None:
    every, masks = "multi-prefix" in s.caps, "userhost-in-names" in s.caps
    entries = [
        prefix(room, m, every=every) + (m.mask if masks else m.name)
        for m in sorted(room.members, key=lambda m: name_key(m.name))
    ]
    kind = "@" if "s" in room.modes else "="  # RFC 2812: @ secret, = public
    head = len(line(s.door.name, "353", s.target, kind, channel(room.name), "x"))
    batch: list[str] = []
    for entry in entries:
        if batch and head + len(" ".join([*batch, entry])) > 400:
            s.numeric("353", kind, channel(room.name), " ".join(batch))
            batch = []
        batch.append(entry)
    if batch:
        s.numeric("353", kind, channel(room.name), " ".join(batch))
    s.numeric("366", channel(room.name), "End of /NAMES list")


def send_topic(s: IrcClient, room: r.Room, *, always: bool) -> None:
    if room.topic:
        s.numeric("332", channel(room.name), room.topic)
        s.numeric("333", channel(room.name), room.topic_by, str(int(room.topic_ts)))
    elif always:
        s.numeric("331", channel(room.name), "No topic is set")


# Why a JOIN was refused by the room's own rules, as IRC numbers it.
JOIN_REFUSALS: dict[type[r.RegistryError], tuple[str, str]] = {
    r.Banned: ("474", "Cannot join channel (+b) - you are banned"),
    r.InviteOnly: ("473", "Cannot join channel (+i) - you must be invited"),
    r.BadKey: ("475", "Cannot join channel (+k) - bad key"),
    r.RoomFull: ("471", "Cannot join channel (+l) - channel is full"),
}


def on_join(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    if msg.params[0] == "0":
        return _part_all(s)
    keys = msg.params[1].split(",") if len(msg.params) > 1 else []
    return _join_each(s, msg.params[0].split(","), keys)


async def _join_each(s: IrcClient, chans: list[str], keys: list[str]) -> None:
    member = s.require_member()
    for i, chan in enumerate(chans):
        try:
            name = room_name(s, chan)
            key = keys[i] if i < len(keys) else ""
            room, _ = await s.rooms.join(member, name, create=True, key=key)
        except (r.Banned, r.InviteOnly, r.BadKey, r.RoomFull) as exc:
            code, text = JOIN_REFUSALS[type(exc)]
            s.numeric(code, channel(exc.name), text)
            continue
        except IrcError as exc:
            s.numeric(exc.code, *exc.params)
            continue
        except r.AlreadyInRoom:
            continue
        except r.TooManyJoined:
            s.numeric("405", chan, "You have joined too many channels")
            continue
        except r.TooManyRooms as exc:
            s.numeric("403", chan, f"Room limit reached ({exc.limit} rooms)")
            continue
        show_joined(s, room)
        replay_on_join(s, room)


def show_joined(s: IrcClient, room: r.Room) -> None:
    """What the client sees of joining a room: its own JOIN, its read marker, the
    topic, the names."""
    member = s.require_member()
    joined = r.Joined(member.name, room.name, member.mask, member.account, member.realname)
    s.send(s.stamp() + s.render.line(joined))  # extended-join: its account, realname
    tell_on_join(s, room)  # draft/read-marker: before the end of NAMES
    send_topic(s, room, always=False)
    send_names(s, room)


async def _part_all(s: IrcClient) -> None:
    member = s.require_member()
    for room in list(member.rooms):
        s.send(s.stamp() + line(member.mask, "PART", channel(room.name)))
        await s.rooms.leave(member, room)


def on_part(s: IrcClient, msg: Message) -> Awaitable[None]:
    reason = msg.params[1][: s.config.max_topic_chars] if len(msg.params) > 1 else ""
    return _part_each(s, msg.params[0].split(","), reason)


async def _part_each(s: IrcClient, chans: list[str], reason: str) -> None:
    member = s.require_member()
    for chan in chans:
        try:
            room = find_room(s, chan)
        except IrcError as exc:
            s.numeric(exc.code, *exc.params)
            continue
        if room not in member.rooms:
            s.numeric("442", chan, "You're not on that channel")
            continue
        why = (reason,) if reason else ()
        s.send(s.stamp() + line(member.mask, "PART", channel(room.name), *why))
        await s.rooms.leave(member, room, reason)


def on_privmsg(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    return deliver(s, msg, "msg")


def on_notice(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    return deliver(s, msg, "notice")


def on_tagmsg(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    if "message-tags" not in s.caps:
        raise IrcError("421", "TAGMSG", "Unknown command")
    return deliver(s, msg, "tagmsg")


def deliver(s: IrcClient, msg: Message, kind: str) -> Awaitable[None] | None:
    """PRIVMSG, NOTICE or TAGMSG to each target: rooms, users on either door, and the
    services (a PRIVMSG only: nothing answers a NOTICE). Rooms are answered at once;
    with a user among the targets, every target is in turn, in the registry's
    time (whisper may await the store); what the services answer comes after the rest."""
    if not msg.params or not msg.params[0]:
        raise IrcError("411", f"No recipient given ({msg.command})")
    text = msg.params[1] if len(msg.params) > 1 else ""
    if not text and kind != "tagmsg":
        raise IrcError("412", "No text to send")
    tags = client_tags(msg.tags) if "message-tags" in s.caps else ""
    if kind != "tagmsg":  # a typing notification is not speaking
        s.require_member().spoke = s.rooms.clock()
    if BOT_MODE in s.require_member().modes:  # IRCv3 bot-mode: a server tag, never forged
        tags = f"bot;{tags}" if tags else "bot"
    targets = msg.params[0].split(",")[:MAX_TARGETS]
    asks: list[tuple[str, str]] = []
    mask, most = s.require_member().mask, MAX_LINE_BYTES - 2
    if kind != "tagmsg":
        fits = [t for t in targets if relayed_bytes(mask, msg.command, t, text) <= most]
        if len(fits) < len(targets) and kind != "notice":
            # RFC 1459's 512 bytes with CRLF, as relayed: refused, rather than cut for
            # those who get it (as ERR_INPUTTOOLONG's definition allows)
            s.numeric("417", "Input line was too long")
        targets = fits
    if all(_is_room(t) or services.service_name(t) is not None for t in targets):
        for target in targets:
            _to_target(s, target, text, kind, tags, asks)
        return accounts.ask_services(s, asks) if asks else None
    return _deliver_each(s, targets, text, kind, tags)


def _is_room(target: str) -> bool:
    return target.lstrip("@+").startswith("#")


async def _deliver_each(s: IrcClient, targets: list[str], text: str, kind: str, tags: str) -> None:
    asks: list[tuple[str, str]] = []
    for target in targets:
        if _is_room(target) or services.service_name(target) is not None:
            _to_target(s, target, text, kind, tags, asks)
            continue
        try:
            await to_user(s, target, text, kind, tags)
        except IrcError as exc:
            if kind != "notice":  # RFC 2812 3.3.2: no error reply to a NOTICE, ever
                s.numeric(exc.code, *exc.params)
    if asks:
        await accounts.ask_services(s, asks)


def _to_target(
    s: IrcClient, target: str, text: str, kind: str, tags: str, asks: list[tuple[str, str]]
) -> None:
    """A room's message, or a service's ask noted for later."""
    service = services.service_name(target)
    if service is not None:
        if kind == "msg":
            asks.append((service, text))
        return
    try:
        to_room(s, target, text, kind, tags)
    except IrcError as exc:
        if kind != "notice":  # RFC 2812 3.3.2: no error reply to a NOTICE, ever
            s.numeric(exc.code, *exc.params)


def speaking_room(s: IrcClient, chan: str) -> r.Room:
    """The room a message to `chan` goes to, or IrcError: 403 none, 404 the room's
    modes forbid this member to speak in it."""
    member = s.require_member()
    room = find_room(s, chan)
    if room not in member.rooms or "m" in room.modes or member in room.muted:
        try:
            room.check_speaker(member)
        except r.CannotSpeak as exc:
            raise IrcError("404", channel(room.name), CANNOT_SPEAK[type(exc)]) from None
    return room


def to_room(s: IrcClient, target: str, text: str, kind: str, tags: str) -> None:
    member = s.require_member()
    status = target[: len(target) - len(target.lstrip("@+"))]
    room = speaking_room(s, target[len(status) :])
    ts, msgid = s.rooms.clock(), s.rooms.new_id()
    name, where, mask, account = member.name, room.name, member.mask, member.account
    event: r.Event
    if kind == "tagmsg":
        event = r.Tagged(name, ts, where, mask, msgid, tags, account)
    elif kind == "notice":
        event = r.Noticed(name, text, ts, where, mask, msgid, tags, account)
    elif text.startswith("\x01ACTION ") or text == "\x01ACTION\x01":
        event = r.Acted(name, text[8:].rstrip("\x01"), ts, where, mask, msgid, tags, account)
    else:
        event = r.Said(name, text, ts, where, mask, msgid, tags, account)
    if kind == "msg" and not status and not tags and type(event) is r.Said:
        s.chat_room(f"PRIVMSG {target}", room)  # the next such line takes the fast way
    if status:
        _to_status(s, room, status, event)
        return
    post(s, room, event)


def post(s: IrcClient, room: r.Room, event: r.Event) -> None:
    """A message of this client's to a room it may speak in: to the room, and back to
    the client with echo-message (a labeled line's echo is its labeled reply)."""
    member = s.require_member()
    if s.echo and s._labeled is None:
        room.post(event)
    else:
        room.post(event, member.sink(s.device))  # not back to this connection
        if s.echo:  # labeled: the echo is the labeled reply
            room.flush()
            s.send(s.render.line(event))


CANNOT_SPEAK: dict[type[r.CannotSpeak], str] = {
    r.NoOutside: "Cannot send to channel (no external messages)",
    r.Moderated: "Cannot send to channel (+m) - you need voice",
    r.BannedHere: "Cannot send to channel (+b) - you are banned",
    r.Muted: "Cannot send to channel (+b m:) - you are muted",
}


def _to_status(s: IrcClient, room: r.Room, status: str, event: r.Event) -> None:
    """PRIVMSG @#room: to its operators (and `+`: voiced members) only, addressed so."""
    member = s.require_member()
    chan = f" {channel(room.name)} ".encode()
    wanted = f" {status}{channel(room.name)} ".encode()
    room.flush()
    echo = "echo-message" in s.caps
    for peer in room.members:
        is_meant = peer in room.ops or ("+" in status and peer in room.voiced)
        if not is_meant:
            continue
        for sink, render in peer.sinks():
            if sink is not member.sink(s.device) or echo:
                sink.write(render(event).replace(chan, wanted, 1))


async def to_user(s: IrcClient, target: str, text: str, kind: str, tags: str) -> None:
    """A private message through the registry: delivered, or left for an offline
    account's next login (the sender is told by a NOTICE, echo-message or not)."""
    if text.startswith("\x01"):  # CTCP: a request in a PRIVMSG, a reply in a NOTICE
        kind = "action" if kind == "msg" and text.startswith("\x01ACTION") else "ctcp"
        if kind == "action":
            text = text[8:].rstrip("\x01")
    try:
        sent = await s.rooms.whisper(s.require_member(), target, text, kind, tags, s.device)
    except r.NoSuchUser:
        raise IrcError("401", target, "No such nick/channel") from None
    except r.OfflineFull as exc:
        why = f"{exc.name} is offline with {exc.limit} messages waiting already; try again later"
        s.send(line(s.door.name, "FAIL", "PRIVMSG", "TOO_MANY_WAITING", exc.name, why))
        return
    except r.OfflineGuest as exc:
        why = f"{exc.name} is offline; log in to an account to leave a message"
        raise IrcError("401", target, why) from None
    except r.OfflineNotKept as exc:
        why = f"{exc.name} is offline, and this server keeps no messages for later"
        raise IrcError("401", target, why) from None
    event, peer = sent.event, sent.to
    if "echo-message" in s.caps:
        s.send(s.render.line(event))
    if peer is None:
        note = f"{event.target} is offline; your message will be delivered when they log in"
        s.send(line(s.door.name, "NOTICE", s.target, note))
    elif peer.away and kind == "msg":
        s.numeric("301", peer.name, peer.away)


def tell(s: IrcClient, peer: r.Member, event: r.Event, kind: str) -> None:
    """A private message of this client's to `peer` that the registry does not keep
    (a multiline one): delivered, echoed with echo-message, and answered with the
    peer's away text (`kind` "msg": not to a NOTICE)."""
    peer.send(event)
    if s.echo:
        s.send(s.render.line(event))
    if peer.away and kind == "msg":
        s.numeric("301", peer.name, peer.away)


def on_topic(s: IrcClient, msg: Message) -> None:
    member = s.require_member()
    room = find_room(s, msg.params[0])
    if len(msg.params) == 1:
        send_topic(s, room, always=True)
        return
    if room not in member.rooms:
        raise IrcError("442", channel(room.name), "You're not on that channel")
    if "t" in room.modes and member not in room.ops:
        raise IrcError("482", channel(room.name), "You're not a channel operator")
    s.rooms.set_topic(member, room, msg.params[1][: s.config.max_topic_chars])


def on_names(s: IrcClient, msg: Message) -> None:
    if not msg.params:
        s.numeric("366", "*", "End of /NAMES list")
        return
    for chan in msg.params[0].split(","):
        room = s.rooms.room(chan[1:]) if chan.startswith("#") else None
        if room is None or not r.is_visible(room, s.require_member()):
            s.numeric("366", chan, "End of /NAMES list")
        else:
            send_names(s, room)


def on_away(s: IrcClient, msg: Message) -> None:
    text = msg.params[0][: s.config.max_away_chars] if msg.params else ""
    s.rooms.set_away(s.require_member(), text)
    if text:
        s.numeric("306", "You have been marked as being away")
    else:
        s.numeric("305", "You are no longer marked as being away")
