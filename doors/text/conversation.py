"""What a text user's session is to its commands: the states of docs/protocol.md, the
user's name and room, and the actions the menu and the commands share (create, join,
leave, rename, quit).

The command handlers (chat.py, moderation.py, history.py) take a `Conversation`; the
session that reads lines and runs the command table is session.py's `Session`, built on
this one, so no handler imports the table that imports it. No sockets here.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import registry as r
from config.settings import Config
from doors import services
from doors.common import SessionBase, is_reserved
from doors.door import Link
from doors.text.catchup import CatchUp, plan, replayed
from doors.text.render import Renders, TextRender, framed, framed_private, marked_names
from rooms import RoomManager
from utils import (
    UserError,
    address_group,
    has_direction_controls,
    name_problem,
    normalize_name,
    safe_text,
)

log = logging.getLogger(__name__)

State = enum.Enum("State", "PASSWORD NAME LOGIN MENU NEW_ROOM PICK_ROOM IN_ROOM CLOSED")
Result = Awaitable[None] | None
Pending = Coroutine[Any, Any, None]

WELCOME = "* Welcome to chatroom."
MENU = (
    "--- Chat Menu ---",
    "1. Create a new chat room",
    "2. Join an existing chat room",
    "3. List all chat rooms",
    "4. Exit",
    "Enter your choice:",
)
PROMPTS: dict[State, tuple[str, ...]] = {
    State.PASSWORD: ("Enter the server password:",),
    State.NAME: ("Enter your username:",),
    State.MENU: MENU,
    State.NEW_ROOM: ("Enter new room name:",),
    State.PICK_ROOM: ("Enter room name to join:",),
}


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command: `usage` is `/word ARGS  what it does`, as /help prints it;
    `run` takes the conversation and the argument text, and returns a coroutine to
    await when it needs the registry."""

    usage: str
    run: Callable[[Conversation, str], Result]


class Conversation(SessionBase):
    """One text user's conversation. Output goes to `out` (lines) and `write` (bytes)."""

    commands: ClassVar[Mapping[str, Command]] = MappingProxyType({})  # Session's: the table

    __slots__ = (
        "_close", "_menu_shown", "_prompted", "_raw_line", "_renders", "_room", "login_name",
        "render", "replay", "since", "state",
    )  # fmt: skip

    def __init__(
        self,
        rooms: RoomManager,
        config: Config,
        out: Callable[[str], None] | None,
        *,
        write: r.Write | None = None,
        renders: Renders | None = None,
        peer: str = "-",
        close: Callable[[], None] | None = None,
        link: Link | None = None,
    ) -> None:
        if link is not None:
            host = link.ip
        else:
            host = peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer
        super().__init__(rooms, config, out, write, host=host, peer=peer, link=link)
        self.state = State.NAME
        self._renders = renders or Renders()
        self.render: TextRender = self._renders("")
        self._room: r.Room | None = None
        self.replay = True  # history: replay on join; /replay off for bots
        self.since: int | None = None  # /replay since: the next join replays from then (ms)
        self._raw_line = ""  # the line being handled, before clean(): names check it
        self._menu_shown = False  # the whole menu was the last prompt shown
        self._prompted = False  # a kick showed the menu while this line was handled
        self._close = close
        self.login_name = ""  # the account whose password State.LOGIN asks for

    @property
    def room(self) -> r.Room | None:
        """The one room this connection is in, if any (its user may be in others too,
        joined from another connection of an account: their lines show their room)."""
        return self._room

    @room.setter
    def room(self, room: r.Room | None) -> None:
        """In a room, this connection shows the user its lines as they come: the read
        marker of the user's account follows them (registry/markers.py; a guest has
        none to follow until it logs in, ask_service); its render is the room's
        (doors/text/render.py, Renders)."""
        if room is not self._room:
            markers = self.rooms.markers
            if room is not None and self.member is not None and self.member.account:
                markers.follow(self, self.member, room)
            else:
                markers.unfollow(self)
        self._room = room
        render = self._renders(room.name if room is not None else "")
        if render is not self.render:
            self.render = render
            if self.member is not None:
                self.rooms.set_render(self.member, render, self.device)

    @property
    def name(self) -> str:
        """The user's name, or the last one it had, or "-" before it chose one."""
        return self.member.name if self.member else self._last_name

    @property
    def is_closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def expects_secret(self) -> bool:
        """The next line is a password (the server's, or an account's): the debug log
        must not show it."""
        return self.state in (State.PASSWORD, State.LOGIN)

    def start(self) -> None:
        """Greet a new connection and ask for the password, if any, or a name."""
        ban = self.rooms.bans.match_address(self.host)
        if ban is not None:  # a server ban on the address: nothing else is said
            log.info("%s refused: server ban on %s", self.peer, ban.mask)
            self.say(f"! You are banned from this server: {ban.why}")
            self.state = State.CLOSED
            self.hang_up()
            return
        if self.config.password:
            self.state = State.PASSWORD
        self.say(WELCOME, *(f"* {line}" for line in self.config.motd), *PROMPTS[self.state])

    # --- What the connection tells the session. ---
    def line_too_long(self, limit: int) -> None:
        self.say(f"! Line too long (limit {limit} bytes).")

    def login_timed_out(self, timeout_s: float) -> None:
        self.say(f"! Login timed out after {timeout_s:g} s.")

    def shutting_down(self) -> None:
        self.say("* Server is shutting down.")

    def ping(self) -> None:
        """Nothing to send: TCP keepalive watches a silent text client."""

    def prompt_lines(self) -> tuple[str, ...]:
        """The prompt of the state the session is in (none in a room)."""
        if self.state is State.LOGIN:
            return (f"Enter the password for {self.login_name}:",)
        return PROMPTS.get(self.state, ())

    def say(self, *lines: str) -> None:
        """Send lines to this user alone, after anything its room has pending."""
        self._emit(*lines)

    async def close(self, reason: str = "") -> None:
        """The connection is gone: free the name and tell the room."""
        self.state = State.CLOSED
        self.room = None
        await self._release(reason)

    def hang_up(self) -> None:
        """End the connection from this side (the session is CLOSED already)."""
        if self._close is not None:
            self._close()
        else:
            self._hang_up_link()

    # --- What the commands ask of it. ---
    def require_member(self) -> r.Member:
        assert self.member is not None, "commands run only after a name is chosen"
        return self.member

    def require_room(self) -> r.Room:
        room = self.room
        if room is None:
            raise UserError("You are not in a room.")
        return room

    def needs(self, arg: str, command: str) -> str:
        """The argument, or UserError with the command's usage when there is none."""
        if not arg:
            raise UserError(f"Usage: {self.commands[command].usage.split('  ')[0]}")
        return arg

    def user_name(self, text: str) -> str:
        """A valid, unreserved user name from what was typed, or UserError."""
        name = self._valid_name(text, self.config.max_name_chars, "name")
        if is_reserved(name):
            raise UserError(f'The name "{name}" is reserved.')
        return name

    def room_name(self, text: str) -> str:
        """A valid room name from what was typed, or UserError."""
        return self._valid_name(text, self.config.max_room_chars, "room name")

    def _valid_name(self, text: str, max_chars: int, what: str) -> str:
        name = normalize_name(text)
        # Direction controls typed in a name are refused, not silently dropped (clean()
        # drops them from the text): a name is exactly what its owner typed, or an error.
        if has_direction_controls(self._raw_line):
            problem: str | None = (
                "cannot contain spaces, invisible or direction-changing characters"
            )
        else:
            problem = name_problem(name, max_chars)
        if problem:
            raise UserError(f'Invalid {what} "{name}": {problem}.')
        return name

    # --- Actions shared by the menu and the commands. ---
    def create(self, text: str) -> Pending:
        return self._enter(self.room_name(text), created=True)

    def join(self, text: str) -> Pending:
        """`NAME` or `NAME KEY` (a room with a key, +k)."""
        name, _, key = text.strip().partition(" ")
        return self._enter(self.room_name(name), created=False, key=key.strip())

    async def _enter(self, name: str, *, created: bool, key: str = "") -> None:
        member = self.require_member()
        if created:
            room = await self.rooms.create(member, name, leave=self.room)
        else:
            missed = await self.catch_up(name, member.account)  # before the join
            try:
                room, _ = await self.rooms.join(member, name, leave=self.room, key=key)
            except r.BadKey as exc:
                if key:
                    raise UserError(f"Wrong key for {exc.name}.") from None
                raise
        self.room = room
        self.state = State.IN_ROOM
        self.show_room(room)
        if not created:
            self._replay(room, missed)

    def show_room(self, room: r.Room) -> None:
        self._menu_shown = False
        self.say(f"Joined room [{room.name}]. Type 'exit' to leave, /help for commands.")
        self.say(f"* Users in {room.name}: {marked_names(room)}")  # the maker: `@NAME`
        if room.topic:
            self.say(f"* Topic for {room.name}: {safe_text(room.topic)}")

    async def catch_up(self, name: str, account: str) -> CatchUp | None:
        """Before joining room `name`: a replay of what the user missed there, if there
        is a point to start from: the time `/replay since` gave (once), or the read
        marker of its `account` (unless replay is off). None: the room's last lines."""
        since, self.since = self.since, None
        mark = self.rooms.markers.get(account, r.room_target(name))
        if since is None and (mark is None or not self.replay or self.config.replay_lines <= 0):
            return None
        point = r.Mark(since) if since is not None else mark
        assert point is not None
        return await plan(self.rooms, name, point, mark)

    def _replay(self, room: r.Room, missed: CatchUp | None = None) -> None:
        """Right after the join (no await between: each line reaches the joiner once,
        replayed or live): what it missed, or the room's newest lines from memory."""
        if missed is not None:
            self.say(*replayed(self.rooms, room, missed))
            return
        count = self.config.replay_lines if self.replay else 0
        events = room.replay(count, self.rooms.history_since())
        if events:
            self.say(*framed(room.name, events, self.rooms.clock()))

    async def leave(self) -> None:
        room, self.room = self.room, None
        self.state = State.MENU
        if room is not None:
            await self.rooms.leave(self.require_member(), room)
            self.say(f"* You left {room.name}.")

    async def list_rooms(self) -> None:
        await self.show_rooms()

    async def show_rooms(self) -> bool:
        """The room list; False when there is no room (the list says so)."""
        listing = await self.rooms.listing(self.member)
        if not listing:
            self.say("* No rooms yet. Create one with 1 or /create NAME.")
            return False
        self.say(f"Rooms ({len(listing)})", *(f"{name} ({users(n)})" for name, n in listing))
        return True

    async def rename(self, name: str) -> None:
        if not await self.rooms.rename(self.require_member(), name):
            self.say(f"* You are now known as {name}.")

    async def ask_service(self, service: str, text: str) -> None:
        """Send `text` to a service (doors/services.py); its answer comes back as
        private messages from it. After a login through it, what waited for the account."""
        member = self.require_member()
        before = member.account
        answer = await services.ask(self.rooms, member, address_group(self.host), service, text)
        hhmm = self.render.hhmm(self.rooms.clock())
        self.say(*(f"[{hhmm}] *{service}* {line}" for line in answer))
        if member.account and member.account != before and self.member is member:
            if self._room is not None:  # its account's marker follows the room from now on
                self.rooms.markers.follow(self, member, self._room)
            await self.deliver_held()  # (not when the login was refused: a banned account)

    async def deliver_held(self) -> None:
        """At a login: the private messages that waited for the account, framed like a
        room's history (docs/protocol.md, "Private messages")."""
        member = self.require_member()
        events = await self.rooms.held_for(member)
        if events:
            heading, end = "Private messages while you were offline", "* End of private messages."
            self.say(*framed_private(heading, end, events, member.account, self.rooms.clock()))

    async def quit(self) -> None:
        self.say("Goodbye!")
        await self.close()


def users(n: int) -> str:
    """`1 user`, `2 users`."""
    return f"{n} user" if n == 1 else f"{n} users"
