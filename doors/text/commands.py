"""The slash commands of PROTOCOL.md, as a table of small handlers.

`/help` prints each command's usage from the table, so help cannot drift. Handlers
take the session and the argument text; those that change the registry return a
coroutine for the session to await.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from doors.text.render import marked_names
from registry import Whispered
from utils import UserError, loose_key, safe_text

if TYPE_CHECKING:
    from doors.text.session import Session

Result = Awaitable[None] | None
Handler = Callable[["Session", str], Result]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    run: Handler


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str) -> Callable[[Handler], Handler]:
    def register(run: Handler) -> Handler:
        COMMANDS[name] = Command(name, usage, run)
        return run

    return register


def run_command(s: Session, text: str) -> Result:
    """Run `/word arg` (given without the slash)."""
    word, _, arg = text.partition(" ")
    found = COMMANDS.get(word.lower())
    if found is None:
        raise UserError(f"Unknown command /{word}. Type /help.")
    return found.run(s, arg.strip())


def needs(arg: str, name: str) -> str:
    """The argument, or UserError with the command's usage when there is none."""
    if not arg:
        raise UserError(f"Usage: {COMMANDS[name].usage.split('  ')[0]}")
    return arg


@command("help", "/help  list these commands")
def _help(s: Session, arg: str) -> None:
    rows = [c.usage.split("  ", 1) for c in COMMANDS.values()]
    width = max(len(usage) for usage, _ in rows)
    s.say("Commands", *(f"{usage:<{width}}  {what}" for usage, what in rows))


@command("rooms", "/rooms  list the rooms")
def _rooms(s: Session, arg: str) -> Result:
    return s.list_rooms()


@command("create", "/create NAME  create a room and join it")
def _create(s: Session, arg: str) -> Result:
    return s.create(needs(arg, "create"))


@command("join", "/join NAME [KEY]  join an existing room (KEY: a room with a key)")
def _join(s: Session, arg: str) -> Result:
    return s.join(needs(arg, "join"))


@command("leave", "/leave  leave the room (or type exit)")
def _leave(s: Session, arg: str) -> Result:
    s.require_room()
    return s.leave()


@command("who", "/who  list the users in this room (in the menu: everyone)")
def _who(s: Session, arg: str) -> None:
    if s.room is None:
        _users(s, arg)
        return
    room = s.room
    s.say(f"* Users in {room.name}: {marked_names(room)}")


@command("users", "/users  list everyone online")
def _users(s: Session, arg: str) -> None:
    names = [m.name for m in s.rooms.users()]
    s.say(f"* Users online ({len(names)}): {', '.join(names)}")


@command("msg", "/msg NAME TEXT  private message to a user")
def _msg(s: Session, arg: str) -> None:
    name, _, text = arg.partition(" ")
    text = needs(text.strip(), "msg")
    target = s.rooms.find(name)
    if target is None:
        raise UserError(f'No user named "{name}".{_did_you_mean(s, name)}')
    me = s.require_member()
    ts = s.rooms.clock()
    target.send(Whispered(me.name, text, ts, target.name, me.mask, msgid=s.rooms.new_id()))
    s.say(f"[{s.render.hhmm(ts)}] -> *{target.name}* {text}")
    if target.away:
        s.say(f"* {target.name} is away: {safe_text(target.away)}")


def _did_you_mean(s: Session, name: str) -> str:
    """A hint at the user whose name differs from `name` only by accents."""
    key = loose_key(name)
    for member in s.rooms.users():
        if loose_key(member.name) == key:
            return f" Did you mean {member.name}?"
    return ""


@command("me", "/me TEXT  act, as in * alice waves")
def _me(s: Session, arg: str) -> None:
    room = s.require_room()
    room.act(s.require_member(), needs(arg, "me"))


@command("topic", "/topic [TEXT]  show or set the room's topic")
def _topic(s: Session, arg: str) -> None:
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


@command("away", "/away [TEXT]  mark yourself away (no text: back)")
def _away(s: Session, arg: str) -> None:
    s.rooms.set_away(s.require_member(), arg[: s.config.max_away_chars])
    s.say("* You are now marked as away." if arg else "* You are no longer marked as away.")


@command("whois", "/whois NAME  who a user is")
def _whois(s: Session, arg: str) -> None:
    name = needs(arg, "whois")
    member = s.rooms.find(name)
    if member is None:
        raise UserError(f'No user named "{name}".{_did_you_mean(s, name)}')
    door = "an IRC client" if member.door == "irc" else "the text door"
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(member.signon))
    rooms = ", ".join(room.name for room in member.rooms) or "no room"
    s.say(f"* {member.name} ({member.user}@{member.host}) is on {door}, online since {since}")
    s.say(f"* {member.name} is in: {rooms}")
    if member.away:
        s.say(f"* {member.name} is away: {safe_text(member.away)}")


@command("nick", "/nick NAME  change your name")
def _nick(s: Session, arg: str) -> Result:
    return s.rename(s.user_name(needs(arg, "nick")))


@command("quit", "/quit  disconnect")
def _quit(s: Session, arg: str) -> Result:
    return s.quit()
