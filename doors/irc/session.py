"""One IRC client's conversation as the server runs it: lines in, through the command
table (commands.py), to the replies of client.py's `IrcClient`.

Lines in, lines out: no sockets. `feed_nowait` takes one line (decoded with
surrogateescape, so invalid UTF-8 can be refused) and answers at once, or hands back
the rest of its work as a coroutine, like the text door's session. What a command does
lives in its handler (registration.py, channels.py, queries.py ...); docs/irc.md is
the door's reference.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import registry as r
from doors.irc import multiline
from doors.irc.client import (
    CAPS,
    CLIENT_TAG_BYTES,
    MAX_LINE_BYTES,
    MAX_TAG_BYTES,
    IrcClient,
    IrcDoor,
    IrcError,
    Pending,
)
from doors.irc.commands import COMMANDS
from doors.irc.message import Message, is_utf8, line, parse, relayed_bytes
from doors.irc.server_info import VERSION

__all__ = ["CAPS", "MAX_LINE_BYTES", "MAX_TAG_BYTES", "VERSION", "IrcDoor", "IrcSession"]

log = logging.getLogger(__name__)


class IrcSession(IrcClient):
    """One IRC client, reading its lines through the door's command table."""

    commands = COMMANDS
    __slots__ = ()

    def feed_nowait(self, text: str) -> Pending | None:
        """Handle one line; if it needs the registry, return the rest to await."""
        if self.closing:
            return None
        text = text.removesuffix("\r")  # the connection cuts lines at LF
        if text[:9] == "PRIVMSG #" and self._chat_fast(text):
            return None
        msg = parse(text)
        if msg is None:
            return None
        label = msg.tags.get("label") if "labeled-response" in self.caps else None
        if label is not None and not is_utf8(label):
            label = None  # a label that cannot be echoed back labels nothing
        if label is not None:
            self._labeled = []
        try:
            result = self._dispatch(msg, text)
        except IrcError as exc:
            self.numeric(exc.code, *exc.params)
            result = None
        except Exception:
            self._fail()
            result = None
        if result is not None:
            return self._settle(result, label)
        if label is not None:
            self.end_label(label)
        return None

    def line_too_long(self, limit: int) -> None:
        multiline.refuse(self, "MULTILINE_INVALID", "A line of the batch was refused")
        super().line_too_long(limit)

    def _chat_fast(self, text: str) -> bool:
        """`PRIVMSG #room :text`, no tags, from a member of a room it spoke in before:
        most lines are this one, so it skips the general parser and checks. False:
        the line takes the long way (which also fills `chat_rooms`)."""
        head, _, body = text.partition(" :")
        room = self.chat_rooms.get(head)
        member = self.member
        if room is None or member is None or room not in member.rooms or not body:
            return False
        if "m" in room.modes or member in room.muted:
            return False  # maybe not allowed to speak: the long way answers 404
        if body[0] == "\x01" or (not text.isascii() and not is_utf8(text)):
            return False  # CTCP, or not UTF-8
        # As relayed, with ":nick!user@host " before it, the line must fit 510 bytes.
        near = len(text) + len(member.mask) + 2 > (MAX_LINE_BYTES - 2) // 4
        if near and relayed_bytes(member.mask, "PRIVMSG", head[8:], body) > MAX_LINE_BYTES - 2:
            return False  # too long: the long way answers 417
        room.say(member, body, self.echo, device=self.device)
        return True

    def _dispatch(self, msg: Message, text: str) -> Awaitable[None] | None:
        if not is_utf8(text):  # nothing undecodable is echoed: a command word neither
            word = msg.command if is_utf8(msg.command) else "*"
            self.send(line(self.door.name, "FAIL", word, "INVALID_UTF8", "Invalid UTF-8"))
            multiline.refuse(self, "MULTILINE_INVALID", "A line of the batch was refused")
            return None
        tags = len(msg.raw_tags) + 2 if msg.raw_tags else 0  # with its "@" and " "
        body = len(text.encode("utf-8", "surrogateescape")) - tags
        if body > MAX_LINE_BYTES - 2 or tags > CLIENT_TAG_BYTES:
            multiline.refuse(self, "MULTILINE_INVALID", "A line of the batch was refused")
            raise IrcError("417", "Input line was too long")
        batched = self.draft is not None or "batch" in msg.tags  # IRCv3 draft/multiline
        if batched and self.member is not None and multiline.absorbed(self, msg):
            return None
        command = self.commands.get(msg.command)
        if command is None:
            if self.member is None:
                raise IrcError("451", "You have not registered")
            raise IrcError("421", msg.command, "Unknown command")
        if self.member is None and not command.before_registration:
            raise IrcError("451", "You have not registered")
        if len(msg.params) < command.min_params:
            raise IrcError("461", msg.command, "Not enough parameters")
        return command.run(self, msg)

    async def _settle(self, pending: Awaitable[None], label: str | None) -> None:
        try:
            await pending
        except IrcError as exc:
            self.numeric(exc.code, *exc.params)
        except r.RegistryError as exc:
            log.info("%s: unexpected refusal %r", self.peer, exc)
        except Exception:
            self._fail()
        if label is not None:
            self.end_label(label)

    def _fail(self) -> None:
        log.exception("%s (%s) IRC session failed", self.peer, self.name)
        self.error("Closing link: internal error")
