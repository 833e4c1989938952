"""One connection's conversation: the menu state machine of PROTOCOL.md.

Lines in, lines out: no sockets, no streams. A line is handled at once when it can
be (chat in a room, the menu, most commands); a line that changes the registry hands
back the rest of its work as a coroutine, which the adapter awaits before it feeds
the next line. `TextRender` words registry events as PROTOCOL.md lines.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import registry as r
from config.settings import Config
from doors.text import moderation  # noqa: F401  (its commands)
from doors.text.commands import run_command
from doors.text.history import replay_on_join
from doors.text.render import TextRender, marked_names
from registry.reclaim import same_secret
from rooms import RoomManager
from utils import (
    UserError,
    address_group,
    clean,
    has_direction_controls,
    name_key,
    name_problem,
    normalize_name,
    safe_text,
)

log = logging.getLogger(__name__)

State = enum.Enum("State", "PASSWORD NAME MENU NEW_ROOM PICK_ROOM IN_ROOM CLOSED")
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
RESERVED_NAMES = frozenset({"server"})
BEFORE_LOGIN = frozenset({State.PASSWORD, State.NAME})  # no commands are read yet


REFUSALS: dict[type[r.RegistryError], str] = {
    r.NameTaken: 'The name "{0.name}" is taken.',
    r.RoomExists: 'Room "{0.name}" already exists.',
    r.NoSuchRoom: 'Room "{0.name}" does not exist.',
    r.AlreadyInRoom: "You are already in {0.name}.",
    r.TooManyRooms: "Room limit reached ({0.limit} rooms).",
    # Moderation (docs/protocol.md, "Moderation").
    r.NotOperator: "You are not an operator of {0.name}.",
    r.NotInRoom: "You are not in {0.name}.",
    r.NoSuchUser: 'No user named "{0.name}".',
    r.NotThere: "{0.who} is not in {0.name}.",
    r.AlreadyThere: "{0.who} is already in {0.name}.",
    r.Banned: "You are banned from {0.name}.",
    r.InviteOnly: "{0.name} is invite-only.",
    r.BadKey: "{0.name} has a key: /join {0.name} KEY",
    r.RoomFull: "{0.name} is full ({0.limit} members).",
    r.TooManyInvites: "{0.name} has too many invitations outstanding (limit {0.limit}).",
    r.Moderated: "{0.name} is moderated: only operators and voiced members may speak.",
    r.BannedHere: "You are banned from {0.name}: you may not speak in it.",
}


class Session:
    """One user's conversation. Output goes to `out` (lines) and `write` (bytes)."""

    def __init__(
        self,
        rooms: RoomManager,
        config: Config,
        out: Callable[[str], None],
        *,
        write: r.Write | None = None,
        render: TextRender | None = None,
        peer: str = "-",
        close: Callable[[], None] | None = None,
    ) -> None:
        self.rooms = rooms
        self.config = config
        self.peer = peer
        self.host = peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer
        self.state = State.NAME
        self.member: r.Member | None = None
        self.room: r.Room | None = None  # the one room a text user is in, if any
        self.render = render or TextRender()
        self._last_name = "-"
        self._raw_line = ""  # the line being handled, before clean(): names check it
        self._menu_shown = False  # the whole menu was the last prompt shown
        self._prompted = False  # a kick showed the menu while this line was handled
        self._out = out
        self._close = close
        self._write = write or self._write_lines
        self.replay = True  # history (issue 9): replay on join; /replay off for bots

    @property
    def name(self) -> str:
        """The user's name, or the last one it had, or "-" before it chose one."""
        return self.member.name if self.member else self._last_name

    @property
    def is_closed(self) -> bool:
        return self.state is State.CLOSED

    def start(self) -> None:
        """Greet a new connection and ask for the password, if any, or a name."""
        if self.config.password:
            self.state = State.PASSWORD
        self.say(WELCOME, *(f"* {line}" for line in self.config.motd), *PROMPTS[self.state])

    @property
    def expects_secret(self) -> bool:
        """The next line is the password: the debug log must not show it."""
        return self.state is State.PASSWORD

    # --- What the connection tells the session. ---
    def line_too_long(self, limit: int) -> None:
        self.say(f"! Line too long (limit {limit} bytes).")

    def login_timed_out(self, timeout_s: float) -> None:
        self.say(f"! Login timed out after {timeout_s:g} s.")

    def shutting_down(self) -> None:
        self.say("* Server is shutting down.")

    def ping(self) -> None:
        """Nothing to send: TCP keepalive watches a silent text client."""

    def say(self, *lines: str) -> None:
        """Send lines to this user alone, after anything its room has pending."""
        if self.member is not None:
            self.member.flush_rooms()
        for line in lines:
            self._out(line)

    async def feed(self, line: str) -> None:
        """Handle one line from the user, to the end."""
        pending = self.feed_nowait(line)
        if pending is not None:
            await pending

    def feed_nowait(self, line: str) -> Pending | None:
        """Handle one line; if it needs the registry, return the rest to await."""
        if self.state is State.CLOSED:
            return None
        try:
            self._raw_line, self._prompted = line, False
            result = self._dispatch(clean(line))
            if result is not None:
                return self._settle(result, line)
        except (UserError, r.RegistryError) as exc:
            self._refuse(exc)
        except Exception:
            self._fail()
        if self.state is not State.IN_ROOM:  # chat, the common case, has no prompt
            self._prompt(line)
        return None

    async def close(self, reason: str = "") -> None:
        """The connection is gone: free the name and tell the room."""
        self.state = State.CLOSED
        member, self.member, self.room = self.member, None, None
        if member is not None:
            self._last_name = member.name
            await self.rooms.release(member, reason)

    def require_member(self) -> r.Member:
        assert self.member is not None, "commands run only after a name is chosen"
        return self.member

    def require_room(self) -> r.Room:
        room = self.room
        if room is None:
            raise UserError("You are not in a room.")
        return room

    def _dispatch(self, line: str) -> Result:
        if self.state not in BEFORE_LOGIN and line[:1] == "/" and line[:2] != "//":
            return run_command(self, line[1:])
        if line[:2] == "//":
            line = line[1:]
        return ON_LINE[self.state](self, line)

    async def _settle(self, pending: Awaitable[None], line: str) -> None:
        try:
            await pending
        except (UserError, r.RegistryError) as exc:
            self._refuse(exc)
        except Exception:
            self._fail()
        if self.state is not State.IN_ROOM:
            self._prompt(line)

    def _refuse(self, exc: Exception) -> None:
        template = REFUSALS.get(type(exc)) if isinstance(exc, r.RegistryError) else None
        self.say(f"! {template.format(exc) if template else exc}")

    def _fail(self) -> None:
        log.exception("%s (%s) session failed", self.peer, self.name)
        self.say("! Internal error.")
        self.state = State.CLOSED

    def _prompt(self, line: str) -> None:
        """The state's prompt again; after a command in the menu, its last line only:
        the whole menu would push the command's answer off a small screen."""
        lines = PROMPTS.get(self.state)
        if self._prompted:  # this line's own kick (of itself) showed the menu already
            self._prompted = False
            return
        if lines:
            is_command = line[:1] == "/" and line[:2] != "//"
            menu_shown = self._menu_shown and self.state is State.MENU
            self.say(*(lines[-1:] if is_command and menu_shown else lines))
            self._menu_shown = self.state is State.MENU

    def _write_lines(self, data: bytes) -> None:
        for line in data.decode().split("\r\n")[:-1]:
            self._out(line)

    # --- What a line means in each state. ---
    def _on_password(self, line: str) -> None:
        attempts, address = self.rooms.reclaims, address_group(self.host)
        if attempts.blocked(address):
            log.warning("%s: too many wrong passwords from its address", self.peer)
            self.say("! Too many wrong passwords; try again later.")
            self.state = State.CLOSED
            if self._close is not None:
                self._close()
            return
        if not same_secret(self._raw_line.strip(), self.config.password):
            attempts.allow(address)  # only a wrong password counts against the address
            log.info("%s gave a wrong server password", self.peer)
            raise UserError("Wrong password.")
        self.state = State.NAME

    def _on_name(self, line: str) -> Result:
        if line[:9].lower() == "/reclaim ":
            return self._reclaim(line[9:])
        return self._claim(self.user_name(line))

    async def _claim(self, name: str) -> None:
        self.member = await self.rooms.claim(
            name, self._write, self.render, user="~" + name[:9], host=self.host
        )
        self.member.detach, self.member.kicked = self._detached, self._kicked
        self.state = State.MENU
        log.info("%s is %s", self.peer, name)
        self.say(f"* Hello, {name}!")
        self._give_code()

    async def _reclaim(self, arg: str) -> None:
        """`/reclaim NAME CODE` at the name prompt: back in the name (and the room)."""
        name, _, code = arg.strip().partition(" ")
        if not name or not code.strip():
            raise UserError("Usage: /reclaim NAME CODE")
        try:
            member = await self.rooms.reclaim(
                name, code.strip(), address_group(self.host), self._write, self.render, self.host
            )
        except r.ReclaimRefused:
            raise UserError(f'Cannot reclaim "{name}": the code is wrong or expired.') from None
        except r.ReclaimLimited as exc:
            raise UserError(f"Too many reclaim attempts; wait {exc.limit} s.") from None
        self.member, member.detach, member.kicked = member, self._detached, self._kicked
        log.info("%s is %s again", self.peer, member.name)
        self.say(f"* Welcome back, {member.name}!")
        self._give_code()
        self.room = next(iter(member.rooms), None)
        self.state = State.MENU if self.room is None else State.IN_ROOM
        if self.room is not None:
            self._show_room(self.room, created=False)

    def _give_code(self) -> None:
        """The user's reclaim code, written past the debug log: it is a secret."""
        member = self.require_member()
        code = self.rooms.issue_code(member)
        note = f"* Reclaim code: {code} (after a dropped connection: /reclaim {member.name} {code})"
        self._write(note.encode() + b"\r\n")

    def _detached(self) -> None:
        """A new connection reclaimed this user's name: this one lets go and closes."""
        self._last_name = self.name
        self.member, self.room = None, None
        self.say("! Your name was reclaimed by a new connection.")
        self.state = State.CLOSED
        if self._close is not None:
            self._close()

    def _kicked(self, room: r.Room) -> None:
        """An operator put this user out of its room (the room's line said so)."""
        if self.room is room:
            self.room = None
            self.state = State.MENU
            self.say(*MENU)
            self._menu_shown = self._prompted = True

    def _on_menu(self, line: str) -> Result:
        choice = MENU_CHOICES.get(line.strip())
        if choice is None:
            raise UserError(f'Invalid choice "{line.strip()}". Enter 1, 2, 3 or 4.')
        return choice(self)

    def _on_new_room(self, line: str) -> Result:
        self.state = State.MENU  # on any refusal, back to the menu
        return self.create(line) if line.strip() else None

    def _on_pick_room(self, line: str) -> Result:
        self.state = State.MENU
        return self.join(line) if line.strip() else None

    def _on_room(self, line: str) -> Result:
        if line[-1:] in _EXIT_ENDS and line.strip().lower() == "exit":
            return self.leave()
        if line and not line.isspace():
            self.require_room().say(self.require_member(), line)
        return None

    # --- Actions shared by the menu and the commands. ---
    def user_name(self, text: str) -> str:
        """A valid, unreserved user name from what was typed, or UserError."""
        name = self._valid_name(text, self.config.max_name_chars, "name")
        if name_key(name) in RESERVED_NAMES:
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
            try:
                room, _ = await self.rooms.join(member, name, leave=self.room, key=key)
            except r.BadKey as exc:
                if key:
                    raise UserError(f"Wrong key for {exc.name}.") from None
                raise
        self.room = room
        self.state = State.IN_ROOM
        self._show_room(room, created=created)
        if not created:
            replay_on_join(self, room)

    def _show_room(self, room: r.Room, *, created: bool) -> None:
        self._menu_shown = False
        self.say(f"Joined room [{room.name}]. Type 'exit' to leave, /help for commands.")
        if not created:
            self.say(f"* Users in {room.name}: {marked_names(room)}")
        if room.topic:
            self.say(f"* Topic for {room.name}: {safe_text(room.topic)}")

    async def leave(self) -> None:
        room, self.room = self.room, None
        self.state = State.MENU
        if room is not None:
            await self.rooms.leave(self.require_member(), room)
            self.say(f"* You left {room.name}.")

    async def list_rooms(self) -> None:
        listing = await self.rooms.listing(self.member)
        if not listing:
            self.say("* No rooms yet. Create one with 1 or /create NAME.")
            return
        self.say(f"Rooms ({len(listing)})", *(f"{name} ({users(n)})" for name, n in listing))

    async def rename(self, name: str) -> None:
        if not await self.rooms.rename(self.require_member(), name):
            self.say(f"* You are now known as {name}.")

    async def quit(self) -> None:
        self.say("Goodbye!")
        await self.close()


def users(n: int) -> str:
    """`1 user`, `2 users`."""
    return f"{n} user" if n == 1 else f"{n} users"


_EXIT_ENDS = frozenset("tT \t")  # a line that could be `exit` ends in one of these


async def _list_then_pick(s: Session) -> None:
    await s.list_rooms()
    s.state = State.PICK_ROOM


def _choose_new_room(s: Session) -> None:
    s.state = State.NEW_ROOM


MENU_CHOICES: dict[str, Callable[[Session], Result]] = {
    "1": _choose_new_room,
    "2": _list_then_pick,
    "3": Session.list_rooms,
    "4": Session.quit,
}

ON_LINE: dict[State, Callable[[Session, str], Result]] = {
    State.PASSWORD: Session._on_password,
    State.NAME: Session._on_name,
    State.MENU: Session._on_menu,
    State.NEW_ROOM: Session._on_new_room,
    State.PICK_ROOM: Session._on_pick_room,
    State.IN_ROOM: Session._on_room,
}
