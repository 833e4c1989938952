"""One IRC client's conversation: registration, capabilities, and replies.

Lines in, lines out: no sockets. `feed_nowait` takes one line (decoded with
surrogateescape, so invalid UTF-8 can be refused) and answers at once, or hands back
the rest of its work as a coroutine, like the text door's session. What a command
does lives in the command table (channels.py, queries.py); here are the parts every
command shares: numerics, labeled responses, the welcome, quitting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import registry as r
from config.settings import Config
from doors.irc.commands import COMMANDS, IrcError, irc_command
from doors.irc.message import Message, add_tags, line, parse
from doors.irc.render import IrcRender, render_for
from registry.history import MAX_FETCH
from registry.reclaim import same_secret
from rooms import RoomManager
from utils import address_group, name_key, name_problem, normalize_name

log = logging.getLogger(__name__)

Pending = Coroutine[Any, Any, None]
VERSION = "chatroom-0.2"
CAPS = (
    "away-notify", "batch", "cap-notify", "echo-message", "invite-notify", "labeled-response",
    "message-tags", "multi-prefix", "server-time", "userhost-in-names",
)  # fmt: skip
MAX_TAG_BYTES = 8191  # IRCv3 message-tags: the tag section a line may carry...
CLIENT_TAG_BYTES = 4096  # ... of which a client may send this much, "@" and " " included
MAX_LINE_BYTES = 512  # RFC 1459, with CRLF, without tags
RESERVED_NAMES = frozenset({"server"})


def local_users(everyone: list[r.Member]) -> int:
    """How many of them are on this server (not on a cluster's other servers)."""
    return sum(1 for m in everyone if not m.server)


class IrcDoor:
    """What every IRC session of one server shares: the registry, the settings, the
    server's own name and what it advertises."""

    def __init__(self, rooms: RoomManager, config: Config) -> None:
        self.rooms = rooms
        self.config = config
        self.name = config.irc_server_name
        self.created = time.time()
        self.max_users = 0  # the most connected at once, for LUSERS
        self.max_global = 0  # ...and in the whole cluster (the same on one server)
        self.sts_policy: dict[bool, str] = {}  # TLS (issue 11): sts cap value by is_tls
        c = config
        self.isupport: tuple[str, ...] = (
            f"AWAYLEN={c.max_away_chars}", "CASEMAPPING=rfc1459", f"CHANLIMIT=#:{c.max_joined}",
            "CHANMODES=beI,k,l,imnst", f"CHANNELLEN={c.max_room_chars + 1}", "CHANTYPES=#",
            "ELIST=CMNTU", "EXCEPTS=e", "HOSTLEN=64", "INVEX=I", f"KEYLEN={c.max_key_chars}",
            f"KICKLEN={c.max_topic_chars}", f"MAXLIST=beI:{c.max_list_masks}", "MAXTARGETS=4",
            "MODES=6", "NETWORK=chatroom", f"NICKLEN={c.max_name_chars}", "PREFIX=(ov)@+",
            "SAFELIST", "STATUSMSG=@+",
            "TARGMAX=JOIN:,KICK:4,NAMES:1,LIST:,NOTICE:4,PART:,PRIVMSG:4,TAGMSG:4,WHOIS:1",
            f"TOPICLEN={c.max_topic_chars}", "USERLEN=10", "UTF8ONLY", "WHOX",
        )  # fmt: skip
        # History (issue 9): bots (+B) get no replay; draft/chathistory when kept.
        kept = ("draft/chathistory",) if c.db_path else ()
        self.caps = tuple(sorted(CAPS + kept))
        self.isupport += ("BOT=B",) + (
            (f"CHATHISTORY={MAX_FETCH}", "MSGREFTYPES=msgid,timestamp") if kept else ()
        )


class IrcSession:
    """One IRC client. Lines go out through `out`; its rooms write bytes to `write`."""

    def __init__(
        self,
        door: IrcDoor,
        out: Callable[[str], None],
        *,
        write: r.Write | None = None,
        host: str = "localhost",
        peer: str = "-",
        is_tls: bool = False,
    ) -> None:
        self.door = door
        self.is_tls = is_tls
        self.rooms = door.rooms
        self.config = door.config
        self.host = host
        self.peer = peer
        self.member: r.Member | None = None
        self.nick = ""  # chosen, perhaps not yet registered
        self.user = ""
        self.realname = ""
        self.caps: set[str] = set()
        self.cap_version = 0
        self.negotiating = False  # CAP LS or REQ seen, CAP END not yet
        self.password = ""  # what PASS gave, checked when registration completes
        self.closing = False
        self.quit_reason = ""
        self.last_active = time.time()
        self._out = out
        self._write = write or self._write_lines
        self._labeled: list[str] | None = None  # replies gathered for a label
        self.echo = False  # echo-message negotiated
        # "PRIVMSG #room" -> its room, for the lines _chat_fast may take; only a room
        # the member is in counts, so an entry that went stale is never used.
        self.chat_rooms: dict[str, r.Room] = {}
        self._last_name = "-"

    # --- What the connection needs. ---
    @property
    def name(self) -> str:
        return self.member.name if self.member else self.nick or self._last_name

    @property
    def is_closed(self) -> bool:
        return self.closing

    @property
    def expects_secret(self) -> bool:
        """IRC has no prompt: the door's redact keeps PASS out of the debug log."""
        return False

    @property
    def target(self) -> str:
        """How numerics address this client: its nick, or `*` before it has one."""
        return self.member.name if self.member else self.nick or "*"

    def start(self) -> None:
        """IRC clients speak first; nothing to send."""

    def line_too_long(self, limit: int) -> None:
        self.numeric("417", "Input line was too long")

    def login_timed_out(self, timeout_s: float) -> None:
        self.error(f"Closing link: {self.host} (Registration timed out)")

    def shutting_down(self) -> None:
        self.error("Closing link: server shutting down")

    def ping(self) -> None:
        self.send(line("", "PING", self.door.name))

    async def close(self, reason: str = "") -> None:
        """The connection is gone: free the name; those who share a room see the quit."""
        self.closing = True
        member, self.member = self.member, None
        if member is not None:
            self._last_name = member.name
            await self.rooms.release(member, self.quit_reason or reason)

    # --- Lines in. ---
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
            self._end_label(label)
        return None

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
        if body[0] == "\x01" or (not text.isascii() and _has_invalid_utf8(text)):
            return False  # CTCP, or not UTF-8
        if len(text) > (MAX_LINE_BYTES - 2) // 4 and len(text.encode()) > MAX_LINE_BYTES - 2:
            return False  # too long: the long way answers 417
        self.last_active = time.time()
        room.say(member, body, self.echo)
        return True

    def _dispatch(self, msg: Message, text: str) -> Awaitable[None] | None:
        if not text.isascii() and _has_invalid_utf8(text):
            self.send(line(self.door.name, "FAIL", msg.command, "INVALID_UTF8", "Invalid UTF-8"))
            return None
        tags = len(msg.raw_tags) + 2 if msg.raw_tags else 0  # with its "@" and " "
        body = len(text.encode("utf-8", "surrogateescape")) - tags
        if body > MAX_LINE_BYTES - 2 or tags > CLIENT_TAG_BYTES:
            raise IrcError("417", "Input line was too long")
        command = COMMANDS.get(msg.command)
        if command is None:
            if self.member is None:
                raise IrcError("451", "You have not registered")
            raise IrcError("421", msg.command, "Unknown command")
        if self.member is None and not command.before_registration:
            raise IrcError("451", "You have not registered")
        if len(msg.params) < command.min_params:
            raise IrcError("461", msg.command, "Not enough parameters")
        if self.member is not None and msg.command not in ("PING", "PONG"):
            self.last_active = time.time()
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
            self._end_label(label)

    def _fail(self) -> None:
        log.exception("%s (%s) IRC session failed", self.peer, self.name)
        self.error("Closing link: internal error")

    # --- Lines out. ---
    def send(self, text: str) -> None:
        """One line to this client, after what its rooms have pending."""
        if self._labeled is not None:
            self._labeled.append(text)
            return
        if self.member is not None:
            self.member.flush_rooms()
        self._out(text)

    def numeric(self, code: str, *params: str) -> None:
        self.send(line(self.door.name, code, self.target, *params))

    def error(self, text: str) -> None:
        """ERROR, then the connection closes."""
        self.send(line("", "ERROR", text))
        self.closing = True

    def _end_label(self, label: str) -> None:
        lines, self._labeled = self._labeled or [], None
        tag = {"label": label}
        if not lines:
            self.send(add_tags(line(self.door.name, "ACK"), tag))
        elif len(lines) == 1:
            self.send(add_tags(lines[0], tag))
        elif "batch" in self.caps:
            ref = self.rooms.new_id()
            self.send(add_tags(line(self.door.name, "BATCH", "+" + ref, "labeled-response"), tag))
            for text in lines:  # a batch inside (chathistory) keeps its own tags
                inner = text.startswith("@batch=")
                self.send(text if inner else add_tags(text, {"batch": ref}))
            self.send(line(self.door.name, "BATCH", "-" + ref))
        else:
            for text in lines:
                self.send(text)

    def _write_lines(self, data: bytes) -> None:
        for text in data.decode().split("\r\n")[:-1]:
            self._out(text)

    # --- Shared by the commands. ---
    @property
    def render(self) -> IrcRender:
        caps = self.caps
        return render_for(
            "server-time" in caps, "message-tags" in caps, "away-notify" in caps,
            "invite-notify" in caps,
        )  # fmt: skip

    def require_member(self) -> r.Member:
        assert self.member is not None, "commands after registration only"
        return self.member

    def stamp(self) -> str:
        """The tags a reply of this client's own (an echo) carries."""
        return self.render.tags(time.time())

    def valid_nick(self, nick: str) -> str:
        """The nick as the registry will hold it, or IrcError 432."""
        name = normalize_name(nick)
        if name_problem(name, self.config.max_name_chars) or name_key(name) in RESERVED_NAMES:
            raise IrcError("432", nick or "*", "Erroneous nickname")
        return name

    # --- Registration. ---
    def try_register(self) -> Pending | None:
        if self.member is not None or not self.nick or not self.user or self.negotiating:
            return None
        if self.config.password and not self._password_ok():
            self.numeric("464", "Password incorrect")
            self.error("Closing link: bad password")
            return None
        return self._register()

    def _password_ok(self) -> bool:
        """PASS against --password: compared in constant time; a wrong one counts
        against the address, and an address with too many gets no further try."""
        attempts, address = self.rooms.reclaims, address_group(self.host)
        if attempts.blocked(address):
            log.warning("%s: too many wrong passwords from its address", self.peer)
            return False
        if same_secret(self.password, self.config.password):
            return True
        attempts.allow(address)
        log.info("%s gave a wrong server password", self.peer)
        return False

    async def _register(self) -> None:
        nick = self.nick
        try:
            self.member = await self.rooms.claim(
                nick, self._write, self.render, user=self.user, host=self.host,
                realname=self.realname, door="irc",
            )  # fmt: skip
        except r.NameTaken:
            self.nick = ""  # not registered: the 433 is addressed to "*"
            self.numeric("433", nick, "Nickname is already in use")
            return
        log.info("%s is %s (IRC)", self.peer, nick)
        everyone = self.rooms.users()
        here = local_users(everyone)
        self.door.max_users = max(self.door.max_users, here)
        self.door.max_global = max(self.door.max_global, len(everyone))
        self.welcome()

    def welcome(self) -> None:
        door, nick = self.door, self.target
        self.numeric("001", f"Welcome to the chatroom IRC network, {nick}")
        self.numeric("002", f"Your host is {door.name}, running version {VERSION}")
        created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(door.created))
        self.numeric("003", f"This server was created {created}")
        modes = ("Biw", "beIiklmnostv", "beIklov")  # user, room, room modes with an argument
        self.send(line(door.name, "004", nick, door.name, VERSION, *modes))
        self.send_isupport()
        COMMANDS["LUSERS"].run(self, Message("LUSERS", []))
        COMMANDS["MOTD"].run(self, Message("MOTD", []))

    def send_isupport(self) -> None:
        """005: what the server supports, 12 tokens a line."""
        tokens = self.door.isupport
        for i in range(0, len(tokens), 12):
            self.numeric("005", *tokens[i : i + 12], "are supported by this server")

    def set_caps(self, caps: set[str]) -> None:
        self.caps = caps
        self.echo = "echo-message" in caps
        if self.member is not None and self.member.render is not self.render:
            self.rooms.set_render(self.member, self.render)


def _has_invalid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- The commands of registration. ---
@irc_command("CAP", 1, before_registration=True)
def _cap(s: IrcSession, msg: Message) -> Awaitable[None] | None:
    sub = msg.params[0].upper()
    door = s.door
    if sub == "LS":
        s.negotiating = s.member is None
        s.cap_version = max(s.cap_version, int(msg.params[1]) if msg.params[1:2] == ["302"] else 0)
        if s.cap_version >= 302:
            s.caps.add("cap-notify")  # implied by CAP LS 302
        sts = door.sts_policy.get(s.is_tls) if s.cap_version >= 302 else None
        offered = " ".join(door.caps) + (f" sts={sts}" if sts else "")  # STS: issue 11
        s.send(line(door.name, "CAP", s.target, "LS", offered))
    elif sub == "LIST":
        s.send(line(door.name, "CAP", s.target, "LIST", " ".join(sorted(s.caps))))
    elif sub == "REQ":
        s.negotiating = s.member is None
        asked = msg.params[1].split() if len(msg.params) > 1 else []
        caps = set(s.caps)
        for word in asked:
            name = word.lstrip("-")
            if name not in door.caps:
                s.send(line(door.name, "CAP", s.target, "NAK", " ".join(asked)))
                return None
            if word.startswith("-"):
                caps.discard(name)
            else:
                caps.add(name)
        s.set_caps(caps)
        s.send(line(door.name, "CAP", s.target, "ACK", " ".join(asked)))
    elif sub == "END":
        if s.member is None and s.negotiating:
            s.negotiating = False
            return s.try_register()
    else:
        raise IrcError("410", sub, "Invalid CAP command")
    return None


@irc_command("PASS", 1, before_registration=True)
def _pass(s: IrcSession, msg: Message) -> None:
    if s.member is not None:
        raise IrcError("462", "You may not reregister")
    s.password = msg.params[0]


@irc_command("NICK", 0, before_registration=True)
def _nick(s: IrcSession, msg: Message) -> Awaitable[None] | None:
    if not msg.params or not msg.params[0]:
        raise IrcError("431", "No nickname given")
    nick = s.valid_nick(msg.params[0])
    member = s.member
    if member is None:
        taken = s.rooms.find(nick)
        if taken is not None:
            raise IrcError("433", nick, "Nickname is already in use")
        s.nick = nick
        return s.try_register()
    if nick == member.name:
        return None
    return _rename(s, member, nick)


async def _rename(s: IrcSession, member: r.Member, nick: str) -> None:
    mask = member.mask
    try:
        told = await s.rooms.rename(member, nick)
    except r.NameTaken:
        raise IrcError("433", nick, "Nickname is already in use") from None
    if not told:
        s.send(line(mask, "NICK", nick))


@irc_command("USER", 4, before_registration=True)
def _user(s: IrcSession, msg: Message) -> Awaitable[None] | None:
    if s.member is not None or s.user:
        raise IrcError("462", "You may not reregister")
    if not msg.params[0] or not msg.params[3]:
        raise IrcError("461", "USER", "Not enough parameters")
    user = "".join(c for c in msg.params[0] if c.isalnum() or c in "-_.")[:10]
    s.user = "~" + (user or "user")[:9]
    s.realname = msg.params[3][:100]
    return s.try_register()


@irc_command("PING", 1, before_registration=True)
def _ping(s: IrcSession, msg: Message) -> None:
    s.send(line(s.door.name, "PONG", s.door.name, msg.params[0]))


@irc_command("PONG", 0, before_registration=True)
def _pong(s: IrcSession, msg: Message) -> None:
    """Any line proves the client is there; the connection has noted it already."""


@irc_command("QUIT", 0, before_registration=True)
def _quit(s: IrcSession, msg: Message) -> Awaitable[None]:
    reason = msg.params[0][: s.config.max_topic_chars] if msg.params else ""
    s.quit_reason = f"Quit: {reason}" if reason else "Quit"
    s.error(f"Closing link: {s.host} ({s.quit_reason})")
    return s.close()
