"""The slash commands of PROTOCOL.md, as a table of small handlers.

`/help` prints each command's usage from the table, so help cannot drift. Handlers
take the session and the argument text; those that change the registry return a
coroutine for the session to await.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rooms import Whispered
from utils import UserError

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


def _needs(arg: str, name: str) -> str:
    if not arg:
        raise UserError(f"Usage: {COMMANDS[name].usage.split('  ')[0]}")
    return arg


@command("help", "/help  list these commands")
def _help(s: Session, arg: str) -> None:
    s.say("Commands", *(c.usage for c in COMMANDS.values()))


@command("rooms", "/rooms  list the rooms")
def _rooms(s: Session, arg: str) -> Result:
    return s.list_rooms()


@command("create", "/create NAME  create a room and join it")
def _create(s: Session, arg: str) -> Result:
    return s.create(_needs(arg, "create"))


@command("join", "/join NAME  join an existing room")
def _join(s: Session, arg: str) -> Result:
    return s.join(_needs(arg, "join"))


@command("leave", "/leave  leave the room (or type exit)")
def _leave(s: Session, arg: str) -> Result:
    s.require_room()
    return s.leave()


@command("who", "/who  list the users in this room")
def _who(s: Session, arg: str) -> None:
    room = s.require_room()
    s.say(f"* Users in {room.name}: {', '.join(room.names())}")


@command("msg", "/msg NAME TEXT  private message to a user")
def _msg(s: Session, arg: str) -> None:
    name, _, text = arg.partition(" ")
    text = _needs(text.strip(), "msg")
    target = s.rooms.find(name)
    if target is None:
        raise UserError(f'No user named "{name}".')
    ts = s.rooms.clock()
    target.send(Whispered(s.require_member().name, text, ts))
    s.say(f"[{s.render.hhmm(ts)}] -> *{target.name}* {text}")


@command("me", "/me TEXT  act, as in * alice waves")
def _me(s: Session, arg: str) -> None:
    room = s.require_room()
    room.act(s.require_member(), _needs(arg, "me"))


@command("nick", "/nick NAME  change your name")
def _nick(s: Session, arg: str) -> Result:
    return s.rename(s.user_name(_needs(arg, "nick")))


@command("quit", "/quit  disconnect")
def _quit(s: Session, arg: str) -> Result:
    return s.quit()
