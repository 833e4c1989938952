"""The text door's everyday commands (docs/protocol.md, "Commands"): help, rooms,
who is here, private messages, actions, topics, away, names, quitting. Their usage
lines are in the command table (commands.py), which /help prints.
"""

from __future__ import annotations

import time

from doors import services
from doors.text.conversation import Conversation, Result
from doors.text.render import marked_names
from registry import Member, NoSuchUser, Room
from utils import UserError, loose_key, safe_text


def show_help(s: Conversation, arg: str) -> None:
    rows = [c.usage.split("  ", 1) for c in s.commands.values()]
    width = max(len(usage) for usage, _ in rows)
    s.say("Commands", *(f"{usage:<{width}}  {what}" for usage, what in rows))


def list_rooms(s: Conversation, arg: str) -> Result:
    return s.list_rooms()


def create(s: Conversation, arg: str) -> Result:
    return s.create(s.needs(arg, "create"))


def join(s: Conversation, arg: str) -> Result:
    return s.join(s.needs(arg, "join"))


def leave(s: Conversation, arg: str) -> Result:
    s.require_room()
    return s.leave()


def who(s: Conversation, arg: str) -> None:
    if s.room is None:
        users(s, arg)
        return
    room = s.room
    s.say(f"* Users in {room.name}: {marked_names(room)}")


def users(s: Conversation, arg: str) -> None:
    names = [m.name for m in s.rooms.users()]
    s.say(f"* Users online ({len(names)}): {', '.join(names)}")


def msg(s: Conversation, arg: str) -> Result:
    name, _, text = arg.partition(" ")
    text = s.needs(text.strip(), "msg")
    service = services.service_name(name)
    if service is not None:
        return s.ask_service(service, text)
    return _whisper(s, name, text)


async def _whisper(s: Conversation, name: str, text: str) -> None:
    """The registry delivers it (or keeps it for an offline account's next login)."""
    try:
        sent = await s.rooms.whisper(s.require_member(), name, text, device=s.device)
    except NoSuchUser:
        raise UserError(f'No user named "{name}".{_did_you_mean(s, name)}') from None
    event, target = sent.event, sent.to
    s.say(f"[{s.render.hhmm(event.ts)}] -> *{event.target}* {text}")
    if target is None:
        s.say(f"* {event.target} is offline; your message will be delivered when "
              f"{event.target} logs in.")  # fmt: skip
    elif target.away:
        s.say(f"* {target.name} is away: {safe_text(target.away)}")


# Shortcuts to NickServ (doors/services.py), answered as its private messages.
def register(s: Conversation, arg: str) -> Result:
    return s.ask_service(services.NICKSERV, "REGISTER " + s.needs(arg, "register"))


def logout(s: Conversation, arg: str) -> Result:
    return s.ask_service(services.NICKSERV, "LOGOUT")


def password(s: Conversation, arg: str) -> Result:
    if len(arg.split()) != 2:
        raise UserError(f"Usage: {s.commands['password'].usage.split('  ')[0]}")
    return s.ask_service(services.NICKSERV, "PASSWD " + arg)


def _did_you_mean(s: Conversation, name: str) -> str:
    """A hint at the user whose name differs from `name` only by accents."""
    key = loose_key(name)
    for member in s.rooms.users():
        if loose_key(member.name) == key:
            return f" Did you mean {member.name}?"
    return ""


def me(s: Conversation, arg: str) -> None:
    room = s.require_room()
    room.act(s.require_member(), s.needs(arg, "me"))


def topic(s: Conversation, arg: str) -> None:
    room = s.require_room()
    if not arg:
        if room.topic:
            s.say(f"* Topic for {room.name}: {safe_text(room.topic)}")
        else:
            s.say(f"* {room.name} has no topic.")
        return
    if "t" in room.modes and s.require_member() not in room.ops:
        raise UserError(f"You are not an operator of {room.name}.")
    limit = s.config.max_topic_chars
    if len(arg) > limit:
        raise UserError(f"Topic too long ({len(arg)} characters; the limit is {limit}).")
    s.rooms.set_topic(s.require_member(), room, arg)


def away(s: Conversation, arg: str) -> None:
    member = s.require_member()
    was_away = bool(member.away)
    s.rooms.set_away(member, arg[: s.config.max_away_chars])
    if arg:
        s.say("* You are now marked as away.")
    else:
        s.say(
            "* You are no longer marked as away." if was_away else "* You are not marked as away."
        )


def whois(s: Conversation, arg: str) -> None:
    name = s.needs(arg, "whois")
    member = s.rooms.find(name)
    if member is None:
        raise UserError(f'No user named "{name}".{_did_you_mean(s, name)}')
    door = "an IRC client" if member.door == "irc" else "the text door"
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(member.signon))
    rooms = ", ".join(status(room, member) + room.name for room in member.rooms) or "no room"
    s.say(
        f"* {member.name} (login name {member.user}, from {member.host}) is on {door}, "
        f"online since {since}"
    )
    s.say(f"* {member.name} is in: {rooms}")
    if member.account:
        s.say(f"* {member.name} is logged in as {member.account}")
    if "o" in member.modes:
        s.say(f"* {member.name} is a server operator")
    if member.away:
        s.say(f"* {member.name} is away: {safe_text(member.away)}")


def status(room: Room, member: Member) -> str:
    """`@` where the member is an operator, `+` where it is voiced, as IRC's WHOIS marks."""
    return "@" if member in room.ops else "+" if member in room.voiced else ""


def nick(s: Conversation, arg: str) -> Result:
    return s.rename(s.user_name(s.needs(arg, "nick")))


def quit(s: Conversation, arg: str) -> Result:
    return s.quit()
