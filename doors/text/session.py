"""One connection's conversation as the server runs it: the menu state machine of
docs/protocol.md, reading lines through the command table (commands.py).

Lines in, lines out: no sockets, no streams. A line is handled at once when it can
be (chat in a room, the menu, most commands); a line that changes the registry hands
back the rest of its work as a coroutine, which the adapter awaits before it feeds
the next line. What each state does with a line is one table, ON_LINE, at the end;
render.py words registry events as docs/protocol.md lines.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import registry as r
from doors import services
from doors.common import RESERVED_NAMES, Password
from doors.text.commands import COMMANDS
from doors.text.conversation import MENU, Conversation, Pending, Result, State
from doors.text.render import REFUSALS
from registry.accounts import LoginLimited, LoginRefused
from utils import UserError, address_group, clean

__all__ = ["MENU", "RESERVED_NAMES", "Session", "State"]

log = logging.getLogger(__name__)

BEFORE_LOGIN = frozenset({State.PASSWORD, State.NAME, State.LOGIN})  # no commands are read yet
_EXIT_ENDS = frozenset("tT \t")  # a line that could be `exit` ends in one of these


class Session(Conversation):
    """One user's conversation, reading its lines. Output goes to `out` (lines) and
    `write` (bytes)."""

    commands = COMMANDS
    __slots__ = ()

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
        self._raw_line = ""  # handled: an idle session keeps no copy of its last line
        if self.state is not State.IN_ROOM:  # chat, the common case, has no prompt
            self._prompt(line)
        return None

    def _dispatch(self, line: str) -> Result:
        # A chat line, the common case, asks no more than two identity checks and a
        # slice: a State in a set or as a dict key is hashed by Enum's Python __hash__.
        if line[:1] == "/":
            if line[:2] == "//":
                line = line[1:]
            elif self.state not in BEFORE_LOGIN:
                word, _, arg = line[1:].partition(" ")
                command = self.commands.get(word.lower())
                if command is None:
                    raise UserError(f"Unknown command /{word}. Type /help.")
                return command.run(self, arg.strip())
        if self.state is State.IN_ROOM:
            return self._on_room(line)
        return ON_LINE[self.state](self, line)

    async def _settle(self, pending: Awaitable[None], line: str) -> None:
        try:
            await pending
        except (UserError, r.RegistryError) as exc:
            self._refuse(exc)
        except Exception:
            self._fail()
        self._raw_line = ""
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
        lines = self.prompt_lines()
        if self._prompted:  # this line's own kick (of itself) showed the menu already
            self._prompted = False
            return
        if lines:
            is_command = line[:1] == "/" and line[:2] != "//"
            menu_shown = self._menu_shown and self.state is State.MENU
            self.say(*(lines[-1:] if is_command and menu_shown else lines))
            self._menu_shown = self.state is State.MENU

    # --- What a line means in each state (ON_LINE). ---
    def _on_password(self, line: str) -> None:
        if not self._raw_line.strip():  # Enter pressed by mistake: not counted as a try
            raise UserError("No password given: type the server password.")
        verdict = self.check_password(self._raw_line.strip())
        if verdict is Password.BLOCKED:
            self.say("! Too many wrong passwords; try again later.")
            self.state = State.CLOSED
            self.hang_up()
        elif verdict is Password.WRONG:
            raise UserError("Wrong password.")
        else:
            self.state = State.NAME

    def _on_name(self, line: str) -> Result:
        if line[:9].lower() == "/reclaim ":
            return self._reclaim(line[9:])
        if line.strip().split(" ", 1)[0].lower() == "/quit":
            return self.quit()
        name = self.user_name(line)
        account = self.rooms.accounts.find(name)
        if account is not None:  # a registered name: its password first
            self.login_name, self.state = account.name, State.LOGIN
            return None
        return self._claim(name)

    async def _claim(self, name: str) -> None:
        try:
            self.member = await self.rooms.claim(
                name, self.write, self.render, user="~" + name[:9], host=self.host
            )
        except r.ServerBanned as exc:
            return self._banned(exc.reason)
        self._hold(self.member)
        self.state = State.MENU
        log.info("%s is %s", self.peer, name)
        self.say(f"* Hello, {name}!")
        self._give_code()

    def _hold(self, member: r.Member) -> None:
        """This connection answers for the member from now on."""
        member.detach = member.kicked = member.killed = member.banned = None
        member.holder = self  # its on_detached, on_kicked, on_killed and on_banned

    def _on_login(self, line: str) -> Result:
        """The account's password, after its name at the name prompt."""
        password, name = self._raw_line.strip(), self.login_name
        self.state = State.NAME  # unless it is right: the name prompt again
        if not password:  # Enter alone: back to the name prompt, not counted as a try
            return None
        return self._log_in(name, password)

    async def _log_in(self, name: str, password: str) -> None:
        try:
            account = await self.rooms.accounts.verify(name, password, address_group(self.host))
        except LoginRefused:
            raise UserError(f"Wrong password for {name}.") from None
        except LoginLimited as exc:
            raise UserError(
                f"Too many wrong passwords; {services.wait_words(exc.wait_s)}."
            ) from None
        here = self.rooms.presence(account.name)  # its user, in a room on another device?
        room = next(iter(here.rooms), None) if here is not None else None
        missed = await self.catch_up(room.name, account.name) if room is not None else None
        try:
            member, device = await self.rooms.log_in_as(
                account.name, self.write, self.render, user="~" + account.name[:9], host=self.host
            )
        except r.ServerBanned as exc:
            return self._banned(exc.reason)
        self.member, self.device = member, device
        if device is None:
            self._hold(member)
        else:  # one more connection of a user already here (another device)
            device.kicked, device.killed = self._kicked, self._killed
        log.info("%s is %s (logged in)", self.peer, member.name)
        self.say(f"* Hello, {member.name}!", f"* You are logged in as {account.name}.")
        self._give_code()
        self.room = next(iter(member.rooms), None)
        self.state = State.MENU if self.room is None else State.IN_ROOM
        if self.room is not None:
            self.show_room(self.room)
            if missed is not None and missed.room == self.room.key:
                self._replay(self.room, missed)  # what it missed there since it last read
        await self.deliver_held()

    async def _reclaim(self, arg: str) -> None:
        """`/reclaim NAME CODE` at the name prompt: back in the name (and the room)."""
        name, _, code = arg.strip().partition(" ")
        if not name or not code.strip():
            raise UserError("Usage: /reclaim NAME CODE")
        try:
            member = await self.rooms.reclaim(
                name, code.strip(), address_group(self.host), self.write, self.render, self.host
            )
        except r.ReclaimRefused:
            raise UserError(f'Cannot reclaim "{name}": the code is wrong or expired.') from None
        except r.ReclaimLimited as exc:
            raise UserError(f"Too many reclaim attempts; wait {exc.limit} s.") from None
        except r.ServerBanned as exc:
            return self._banned(exc.reason)
        self.member = member
        self._hold(member)
        log.info("%s is %s again", self.peer, member.name)
        self.say(f"* Welcome back, {member.name}!")
        self._give_code()
        self.room = next(iter(member.rooms), None)
        self.state = State.MENU if self.room is None else State.IN_ROOM
        if self.room is not None:
            self.show_room(self.room)

    def _give_code(self) -> None:
        """The user's reclaim code, written past the debug log: it is a secret."""
        member = self.require_member()
        code = self.rooms.issue_code(member)
        note = f"* Reclaim code: {code} (after a dropped connection: /reclaim {member.name} {code})"
        self.write(note.encode() + b"\r\n")

    def _detached(self) -> None:
        """A new connection reclaimed this user's name: this one lets go and closes."""
        self._last_name = self.name
        self.member, self.device, self.room = None, None, None
        self.say("! Your name was reclaimed by a new connection.")
        self.state = State.CLOSED
        self.hang_up()

    def _killed(self, why: str) -> None:
        """A server operator put this user off the server (its rooms saw it quit)."""
        self._last_name = self.name
        self.member, self.device, self.room = None, None, None
        self.say(f"! {why}")
        self.state = State.CLOSED
        self.hang_up()

    def _banned(self, reason: str) -> None:
        """A server ban matches this user: told why, and closed (at its name, its login,
        or when the ban was set: then its rooms saw it quit)."""
        if self.member is not None:
            self._last_name = self.name
        self.member, self.room = None, None
        self.say(f"! You are banned from this server: {reason}")
        self.state = State.CLOSED
        self.hang_up()

    def _kicked(self, room: r.Room) -> None:
        """An operator put this user out of its room (the room's line said so)."""
        if self.room is room:
            self.room = None
            self.state = State.MENU
            self.say(*MENU)
            self._menu_shown = self._prompted = True

    # What the registry tells the connection that holds a member (registry/room.py Holder).
    on_detached, on_kicked, on_killed, on_banned = _detached, _kicked, _killed, _banned

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


async def _list_then_pick(s: Session) -> None:
    if await s.show_rooms():  # no room to join: straight back to the menu
        s.state = State.PICK_ROOM


def _choose_new_room(s: Session) -> None:
    s.state = State.NEW_ROOM


MENU_CHOICES: dict[str, Callable[[Session], Result]] = {
    "1": _choose_new_room,
    "2": _list_then_pick,
    "3": Session.list_rooms,
    "4": Session.quit,
}

# What a line does in each state, and where it leads (docs/protocol.md, "States"):
#   PASSWORD   the right password -> NAME; too many wrong ones from the address -> CLOSED;
#              an empty line -> PASSWORD (an error line, not counted)
#   NAME       a free name -> MENU; a registered one -> LOGIN; `/reclaim NAME CODE` ->
#              MENU, or IN_ROOM if it was in one; `/quit` -> CLOSED
#   LOGIN      the account's password -> MENU (IN_ROOM if its connection elsewhere was in
#              a room); wrong, limited, or an empty line -> NAME
#   MENU       1 -> NEW_ROOM; 2 -> PICK_ROOM (after the list; no rooms: MENU); 3 -> MENU;
#              4 -> CLOSED; anything else (an empty line too) -> MENU, with an error
#   NEW_ROOM   -> IN_ROOM once created (Conversation.create); empty or refused -> MENU
#   PICK_ROOM  -> IN_ROOM once joined (Conversation.join); empty or refused -> MENU
#   IN_ROOM    `exit` -> MENU; anything else is said to the room
# After NAME, commands run in any state: /create and /join -> IN_ROOM, /leave -> MENU,
# /quit -> CLOSED. A kick -> MENU; a reclaim by another connection or a bug -> CLOSED.
ON_LINE: dict[State, Callable[[Session, str], Result]] = {
    State.PASSWORD: Session._on_password,
    State.NAME: Session._on_name,
    State.LOGIN: Session._on_login,
    State.MENU: Session._on_menu,
    State.NEW_ROOM: Session._on_new_room,
    State.PICK_ROOM: Session._on_pick_room,
    State.IN_ROOM: Session._on_room,
}
