"""The table of IRC commands: each a small handler, registered by the modules that
define them (session.py: registration; channels.py: rooms and messages; queries.py:
who is who). A handler takes the session and the message's parameters; one that
needs the registry returns a coroutine for the session to await.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doors.irc.message import Message
    from doors.irc.session import IrcSession

Result = Awaitable[None] | None
Handler = Callable[["IrcSession", "Message"], Result]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    run: Handler
    min_params: int
    before_registration: bool  # allowed before 001


COMMANDS: dict[str, Command] = {}


def irc_command(
    name: str, min_params: int = 0, *, before_registration: bool = False
) -> Callable[[Handler], Handler]:
    def register(run: Handler) -> Handler:
        COMMANDS[name] = Command(name, run, min_params, before_registration)
        return run

    return register


class IrcError(Exception):
    """A numeric error reply: `code` and its parameters after the nick."""

    def __init__(self, code: str, *params: str) -> None:
        super().__init__(code, *params)
        self.code = code
        self.params = params
