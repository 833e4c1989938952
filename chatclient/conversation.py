"""Where the user is, read from the server's lines: the prompt to show, my name, the
room and who is in it, the latest reclaim code, and after a reconnect the answers
that take the name and the room back.

Pure state machines: lines in, replies out. No I/O, no terminal, no asyncio here.
"""

from __future__ import annotations

import enum
import math
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from chatclient.catchup import SeenLines
from chatclient.render import (
    MENU_HEADING,
    PASSWORD_PROMPT,
    USERNAME_PROMPT,
    is_me,
    is_password_prompt,
    is_prompt,
)

CHOICE_PROMPT = "Enter your choice:"
_JOINED = re.compile(r"Joined room \[(.+)\]\. Type 'exit' to leave, /help for commands\.\Z")
# Not in docs/protocol.md, but what this server says; when it says something else, the
# name typed at the username prompt is used, and a /nick is not followed.
_RENAMED = re.compile(r"\* (\S+) is now known as (\S+)\Z")
_MY_NAME = re.compile(r"\* (?:Hello, (\S+)!|Welcome back, (\S+)!|You are now known as (\S+)\.)\Z")
# Who is in the room (for Tab): the list on joining (and /who), then the notices.
_USERS = re.compile(r"\* Users in \S+: (.*)\Z")
_ARRIVED = re.compile(r"\* (\S+) has joined \S+\Z")
_DEPARTED = re.compile(
    r"\* (\S+) (?:has (?:left \S+|quit(?: \(.*\))?)|was kicked from \S+ by .*)\Z"
)
# The server's reclaim protocol: a code after each login (rotated on use), and
# `/reclaim NAME CODE` at the name prompt after a dropped connection.
KILLED = "! Killed ("  # a server operator disconnected us (docs/protocol.md): no reconnect
# A login to my account from elsewhere took my name: coming back would take it again.
TAKEN_OVER = "* Logged in from elsewhere."
RECLAIM_CODE = re.compile(r"\* Reclaim code: ([A-Za-z0-9_-]+) \(after a dropped connection: .*\)\Z")
# An account's password, asked after its name at the username prompt (docs/protocol.md).
ACCOUNT_PROMPT = re.compile(r"Enter the password for (\S+):\Z")
_WRONG_ACCOUNT_PASSWORD = re.compile(r"! Wrong password for (\S+)\.\Z")
_WELCOME_BACK = re.compile(r"\* Welcome back, (\S+)!\Z")
_RECLAIM_REFUSED = re.compile(
    r'! (?:Cannot reclaim "(\S+)": the code is wrong or expired'
    r'|The name "(\S+)" is registered; log in to use it)\.\Z'
)
# `/replay since AGE` before joining again (docs/protocol.md, "History"): the server's
# answer, or an older server's refusal; neither is news for the user.
_SINCE_ANSWER = re.compile(r"(?:\* The next room you join replays |! Usage: /replay )")
# Lines said while the connection was going can reach it after the last line it heard
# (and the command takes a while to arrive): ask from a little earlier; the lines seen
# already come twice and the replay's filter (catchup.py) shows them once.
SINCE_MARGIN_S = 10.0


def _folded(name: str) -> str:
    """A name as the server compares names (NFKC, case folded)."""
    return unicodedata.normalize("NFKC", name).casefold()


@dataclass(frozen=True, slots=True)
class Reply:
    """What the client does for a server line: `send` it; `echo` it after `prompt`
    (as if typed there); tell the user `notice` (a local `*`/`!` line)."""

    send: str | None = None
    prompt: str | None = None
    echo: str | None = None
    notice: str | None = None


Step = enum.Enum("Step", "NAME RECLAIMING NAMING TYPING RESTORING SINCE JOINING CREATING DONE")
_NAME_STEPS = (Step.NAME, Step.RECLAIMING, Step.NAMING, Step.TYPING)


@dataclass(eq=False)
class Rejoin:
    """After a reconnect: take back `name` (with `code` if there is one), then `room`,
    asking for what was said there since the old connection last heard the server
    (`heard_at`, on `clock`)."""

    name: str
    room: str | None
    code: str | None
    step: Step = Step.NAME
    heard_at: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def holds_input(self) -> bool:
        """Whether the user's lines must wait: the client is answering the name prompt."""
        return self.step in (Step.NAME, Step.RECLAIMING, Step.NAMING)

    def expects(self, line: str) -> bool:
        """Whether `line` is a refusal that taking the name back expects, not news for
        the user: after a server restart every reclaim code is unknown, and the plain
        name follows."""
        if self.step is Step.SINCE:
            return _SINCE_ANSWER.match(line) is not None
        refused = _RECLAIM_REFUSED.match(line)
        if self.step is not Step.RECLAIMING or refused is None:
            return False
        return (refused[1] or refused[2]) == self.name

    def rejoining(self) -> bool:
        """Whether the client has just asked to join the room again (from the menu)."""
        return self.step in (Step.JOINING, Step.CREATING)

    def logged_in(self) -> bool:
        """Whether the server took a name on this connection."""
        return self.step not in _NAME_STEPS

    def answer(self, line: str) -> Reply | None:
        """The reply to one server line, moving on a step."""
        if self.step is Step.DONE:
            return None
        if line == USERNAME_PROMPT:
            return self._at_name_prompt()
        if _MY_NAME.match(line) and self.step in _NAME_STEPS:
            self.step = Step.RESTORING
            return None
        if _JOINED.match(line):
            self.step = Step.DONE
        elif self.step is Step.RESTORING and line == CHOICE_PROMPT:
            if self.room is None:
                self.step = Step.DONE
                return None
            if self.heard_at is not None:  # first: replay from where it stopped hearing
                self.step = Step.SINCE
                age = math.ceil(self.clock() - self.heard_at + SINCE_MARGIN_S)
                return Reply(send=f"/replay since {age}s", prompt=line)
            self.step = Step.JOINING
            return Reply(send=f"/join {self.room}", prompt=line, echo=f"/join {self.room}")
        elif self.step is Step.SINCE and line == CHOICE_PROMPT:
            self.step = Step.JOINING
            return Reply(send=f"/join {self.room}", prompt=line, echo=f"/join {self.room}")
        elif self.step is Step.JOINING and line == f'! Room "{self.room}" does not exist.':
            self.step = Step.CREATING
            return Reply(send=f"/create {self.room}", notice=f"* Creating {self.room} again.")
        elif self.step in (Step.JOINING, Step.CREATING) and line.startswith("! "):
            self.step = Step.DONE
        return None

    def _at_name_prompt(self) -> Reply | None:
        if self.step is Step.NAME and self.code:
            self.step = Step.RECLAIMING
            send = f"/reclaim {self.name} {self.code}"
            return Reply(send=send, prompt=USERNAME_PROMPT, echo=f"/reclaim {self.name}")
        if self.step in (Step.NAME, Step.RECLAIMING):
            self.step = Step.NAMING
            return Reply(send=self.name, prompt=USERNAME_PROMPT, echo=self.name)
        if self.step is Step.NAMING:  # the plain name was refused too
            self.step = Step.TYPING
            return Reply(notice=f"! Could not take back the name {self.name}; type a name.")
        return None


class Conversation:
    """Where the user is, read from the server's lines: the prompt to show, my name.

    The prompt is the server's pending prompt (`Enter your choice: `) until the user
    answers it, otherwise `[room] > ` in a room and `> ` elsewhere.
    """

    def __init__(
        self, auto_name: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.heard_at: float | None = None  # when the last line came (on `clock`)
        self.room: str | None = None
        self.me: str | None = None
        self.server_prompt: str | None = None
        self.auto_name = auto_name
        self.said_goodbye = False
        self.was_killed = False  # the last line said a server operator disconnected us
        self.was_taken_over = False  # the last line said a login elsewhere took my name
        self.quitting = False  # the user sent /quit or menu choice 4
        self.members: dict[str, str] = {}  # the room's users, by folded name
        self.reclaim_code: str | None = None
        self.rejoin: Rejoin | None = None
        self.password: str | None = None  # what the user gave the password prompt
        # An account's password (--password-file, or typed at `Enter the password for
        # NAME:`), kept in memory to answer that prompt again; `account`: whose (None:
        # any, from the file).
        self.account_password: str | None = None
        self.account: str | None = None
        self._logged_in = False  # the server took a name on this connection
        self._sent = self._prompts = 0  # lines sent, prompts seen, before that
        self.seen = SeenLines()

    def room_names(self) -> list[str]:
        """The other users in my room, as the server spells them (for Tab)."""
        return [name for name in self.members.values() if not is_me(name, self.me)]

    def reconnected(self) -> None:
        """A new connection after a drop: plan to take back my name and room."""
        if self.me is not None:
            self.rejoin = Rejoin(
                self.me, self.room, self.reclaim_code, heard_at=self.heard_at, clock=self.clock
            )
        self.room = self.server_prompt = None
        self.members = {}
        self.said_goodbye = self.quitting = self.was_killed = self.was_taken_over = False
        self._logged_in, self._sent, self._prompts = False, 0, 0
        self.seen.forget_replay()

    def holds_input(self) -> bool:
        """Whether the user's lines must wait while the client takes back the name, or
        while the answer to a line sent before a login is awaited when the client holds
        an account password: the server may ask for it next, and a line typed ahead
        (a pipe's) must not be taken for it."""
        if self.rejoin is not None and self.rejoin.holds_input():
            return True
        return (
            self.account_password is not None
            and not self._logged_in
            and (self._prompts <= self._sent)
        )

    def line_out(self) -> None:
        """Note that a line went to the server (the client's own answers too)."""
        if not self._logged_in:
            self._sent += 1

    def receive(self, line: str) -> tuple[list[str], Reply | None]:
        """Note a sanitized server line: the lines to show for it (none, itself, or a
        replay held until its end), and what to do for it (`observe`)."""
        self.heard_at = self.clock()
        rejoin = self.rejoin
        if rejoin is not None and rejoin.expects(line):
            return [], self.observe(line)
        if rejoin is not None and rejoin.rejoining() and (joined := _JOINED.match(line)):
            self.seen.expect_replay(joined[1])
        reply = self.observe(line)
        return self.seen.show(self.room, line), reply

    def observe(self, line: str) -> Reply | None:
        """Note a sanitized server line; return what to do for it, if anything."""
        self.said_goodbye = line == "Goodbye!"
        self.was_killed = line.startswith(KILLED)
        self.was_taken_over = line == TAKEN_OVER
        self._follow_members(line)
        self._follow_place(line)
        if code := RECLAIM_CODE.match(line):
            self.reclaim_code = code[1]
        if line == PASSWORD_PROMPT and self.rejoin is not None and self.password:
            self.submit(self.password)  # reconnecting: the password the user gave
            return Reply(send=self.password)
        if account := ACCOUNT_PROMPT.match(line):
            reply = self._account_password(account[1])
            if reply is not None:
                return reply
        wrong = _WRONG_ACCOUNT_PASSWORD.match(line)
        if wrong and (self.account is None or _folded(self.account) == _folded(wrong[1])):
            self.account_password = None  # not sent again: the user types it
        reply = self.rejoin.answer(line) if self.rejoin else None
        if reply is None and line == USERNAME_PROMPT and self.auto_name:
            name, self.auto_name = self.auto_name, None
            reply = Reply(send=name, prompt=line, echo=name)
        if reply is not None and reply.prompt is not None and reply.send is not None:
            self.submit(reply.send)
        return reply

    def _account_password(self, name: str) -> Reply | None:
        """Answer `Enter the password for NAME:` with the password held for it; none
        held: while taking the name back, the user types it."""
        password, account = self.account_password, self.account
        if password is not None and (account is None or _folded(account) == _folded(name)):
            self.server_prompt = None
            return Reply(send=password)
        if self.rejoin is not None and self.rejoin.holds_input():
            self.rejoin.step = Step.TYPING
        return None

    def _follow_place(self, line: str) -> None:
        if _MY_NAME.match(line):
            self._logged_in = True
        if is_prompt(line):
            self._prompts += 1
            self.server_prompt = line
        elif joined := _JOINED.match(line):
            self.room, self.server_prompt = joined[1], None
        elif line == MENU_HEADING:
            self.room, self.server_prompt = None, None
        elif (renamed := _RENAMED.match(line)) and is_me(renamed[1], self.me):
            self.me = renamed[2]
        elif my_name := _MY_NAME.match(line):
            self.me = my_name[1] or my_name[2] or my_name[3]

    def _follow_members(self, line: str) -> None:
        if users := _USERS.match(line):
            names = [n.lstrip("@+") for n in users[1].split(", ") if n]  # @op, +voiced
            self.members = {_folded(n): n for n in names}
        elif arrived := _ARRIVED.match(line):
            self.members[_folded(arrived[1])] = arrived[1]
        elif departed := _DEPARTED.match(line):
            self.members.pop(_folded(departed[1]), None)
        elif renamed := _RENAMED.match(line):
            self.members.pop(_folded(renamed[1]), None)
            self.members[_folded(renamed[2])] = renamed[2]
        elif _JOINED.match(line) or line == MENU_HEADING:
            self.members = {}

    def prompt(self) -> str:
        """The input prompt to show now."""
        if self.server_prompt:
            return self.server_prompt + " "
        return f"[{self.room}] > " if self.room else "> "

    def echoes_input(self) -> bool:
        """Whether a submitted line should stay on screen: yes outside rooms (no echo),
        but never a password."""
        if self.secret_input():
            return False
        return self.room is None or self.server_prompt is not None

    def secret_input(self) -> bool:
        """Whether what the user types now is a secret: the answer to a prompt that asks
        for a password (shown as nothing, kept in no history)."""
        return self.server_prompt is not None and is_password_prompt(self.server_prompt)

    def sends_empty_line(self) -> bool:
        """Whether Enter on an empty line answers the pending prompt, so that the server's
        rule for an empty answer applies (a room prompt goes back to the menu). Not at the
        server password: nothing is behind it, and it would count as a wrong password."""
        return self.server_prompt is not None and self.server_prompt != PASSWORD_PROMPT

    def note_sent(self, text: str) -> None:
        """Note a line going to the server: `/quit`, or `4` in the menu, ends the
        session on purpose, so the connection closing then is no drop."""
        if self.server_prompt == PASSWORD_PROMPT:
            self.password = text
        elif text and (account := ACCOUNT_PROMPT.match(self.server_prompt or "")):
            self.account_password, self.account = text, account[1]
        words = text.split()
        if (words and words[0].casefold() == "/quit") or (
            self.server_prompt == CHOICE_PROMPT and text.strip() == "4"
        ):
            self.quitting = True

    def submit(self, text: str) -> None:
        """Note that the user answered the current prompt with `text`."""
        self.note_sent(text)
        if self.server_prompt == USERNAME_PROMPT and not text.startswith("/"):
            self.me = unicodedata.normalize("NFKC", text.strip())
        self.server_prompt = None
