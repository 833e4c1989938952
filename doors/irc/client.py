"""An IRC client's session as its commands see it: the replies it sends (numerics,
labeled responses), its capabilities, and what every IRC session of a server shares
(`IrcDoor`). The command handlers (channels.py, queries.py, registration.py ...) take
an `IrcClient`; reading lines and running the command table is session.py's
`IrcSession`, built on this one, so no handler imports the table that imports it.
No sockets here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import registry as r
from config.settings import Config
from doors.common import SessionBase, is_reserved
from doors.irc.message import Message, add_tags, is_utf8, line, repaired
from doors.irc.render import IrcRender, render_for
from registry.credentials import ScramExchange
from registry.history import MAX_FETCH
from rooms import RoomManager
from utils import name_problem, normalize_name

log = logging.getLogger(__name__)

Pending = Coroutine[Any, Any, None]
Result = Awaitable[None] | None
CAPS = (
    "account-notify", "account-tag", "away-notify", "batch", "cap-notify", "echo-message",
    "extended-join", "invite-notify", "labeled-response", "message-tags", "multi-prefix", "sasl",
    "server-time", "userhost-in-names",
)  # fmt: skip
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256")
BOT_MODE = "B"  # IRCv3 bot-mode: the user mode (ISUPPORT BOT=B) and what it brings
MAX_TAG_BYTES = 8191  # IRCv3 message-tags: the tag section a line may carry...
CLIENT_TAG_BYTES = 4096  # ... of which a client may send this much, "@" and " " included
MAX_LINE_BYTES = 512  # RFC 1459, with CRLF, without tags


class IrcError(Exception):
    """A numeric error reply: `code` and its parameters after the nick."""

    def __init__(self, code: str, *params: str) -> None:
        super().__init__(code, *params)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class Command:
    """An IRC command: its handler, the parameters it needs (fewer: 461), and whether
    a client may send it before registration (otherwise: 451)."""

    run: Callable[[IrcClient, Message], Result]
    min_params: int = 0
    before_registration: bool = False  # allowed before 001


@dataclass(slots=True)
class SaslState:
    """An AUTHENTICATE exchange under way: its mechanism, the chunks of the client's
    message so far, and (SCRAM-SHA-256) the server's side of it."""

    mechanism: str
    buffer: str = ""
    scram: ScramExchange | None = None
    account: str = ""  # SCRAM: proven, logged in once the client acknowledges


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
        self.sts_policy: dict[bool, str] = {}  # IRCv3 sts: the cap's value, by is_tls
        c = config
        self.isupport: tuple[str, ...] = (
            "ACCOUNTEXTBAN=a", f"AWAYLEN={c.max_away_chars}", "CASEMAPPING=rfc1459",
            f"CHANLIMIT=#:{c.max_joined}", "CHANMODES=beI,k,l,imnst",
            f"CHANNELLEN={c.max_room_chars + 1}", "CHANTYPES=#", "ELIST=CMNTU", "EXCEPTS=e",
            "EXTBAN=,a", "HOSTLEN=64", "INVEX=I", f"KEYLEN={c.max_key_chars}",
            f"KICKLEN={c.max_topic_chars}", f"MAXLIST=beI:{c.max_list_masks}", "MAXTARGETS=4",
            "MODES=6", "NETWORK=chatroom", f"NICKLEN={c.max_name_chars}", "PREFIX=(ov)@+",
            "SAFELIST", "STATUSMSG=@+",
            "TARGMAX=JOIN:,KICK:4,NAMES:1,LIST:,NOTICE:4,PART:,PRIVMSG:4,TAGMSG:4,WHOIS:1",
            f"TOPICLEN={c.max_topic_chars}", "USERLEN=10", "UTF8ONLY", "WHOX",
        )  # fmt: skip
        # History: bots (+B) get no replay; draft/chathistory when history is kept.
        kept = ("draft/chathistory",) if c.db_path else ()
        # draft/account-registration while the server takes new accounts: REGISTER works
        # before the welcome too, and asks for no e-mail address.
        signup = ("draft/account-registration",) if rooms.accounts.registration_open else ()
        self.caps = tuple(sorted(CAPS + kept + signup))
        self.cap_values = {  # what CAP LS 302 says of a capability after its `=`
            "sasl": ",".join(SASL_MECHANISMS),
            "draft/account-registration": "before-connect",
        }
        self.isupport += ("BOT=B",) + (
            (f"CHATHISTORY={MAX_FETCH}", "MSGREFTYPES=msgid,timestamp") if kept else ()
        )


class IrcClient(SessionBase):
    """One IRC client, as its commands see it. Lines go out through `out`; its rooms
    write bytes to `write`. Reading lines is session.py's `IrcSession`."""

    commands: ClassVar[Mapping[str, Command]] = MappingProxyType({})  # IrcSession's: the table

    def __init__(
        self,
        door: IrcDoor,
        out: Callable[[str], None],
        *,
        write: r.Write | None = None,
        host: str = "localhost",
        peer: str = "-",
        is_tls: bool = False,
        hang_up: Callable[[], None] | None = None,
        offers_sts: bool = True,
    ) -> None:
        super().__init__(door.rooms, door.config, out, write, host=host, peer=peer)
        self._hang_up = hang_up  # closes the connection from outside a line (a KILL)
        self.door = door
        self.is_tls = is_tls
        self.offers_sts = offers_sts  # the door's sts policy, if it has one
        self.nick = ""  # chosen, perhaps not yet registered
        self.user = ""
        self.realname = ""
        self.caps: set[str] = set()
        self.cap_version = 0
        self.negotiating = False  # CAP LS or REQ seen, CAP END not yet
        self.password = ""  # what PASS gave, checked when registration completes
        self.asked_nick = ""  # the last nick asked for before registration, even if taken
        self.account = ""  # the account SASL or REGISTER logged in to before registration
        self.sasl: SaslState | None = None  # a SASL exchange under way
        self.closing = False
        self.quit_reason = ""
        self._labeled: list[str] | None = None  # replies gathered for a label
        self.echo = False  # echo-message negotiated
        # "PRIVMSG #room" -> its room, for the lines _chat_fast may take; only a room
        # the member is in counts, so an entry that went stale is never used.
        self.chat_rooms: dict[str, r.Room] = {}

    # --- What the connection needs. ---
    @property
    def name(self) -> str:
        return self.member.name if self.member else self.nick or self._last_name

    @property
    def logged_in(self) -> str:
        """The account this client is logged in to, or ""."""
        return self.member.account if self.member else self.account

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
        await self._release(self.quit_reason or reason)

    def killed(self, why: str) -> None:
        """A server operator killed this user: told, let go of, and disconnected (its
        rooms saw it quit already)."""
        if self.member is not None:
            self._last_name = self.member.name
        self.member = None
        self.error(f"Closing link: {self.host} ({why})")
        if self._hang_up is not None:
            self._hang_up()

    # --- Lines out. ---
    def send(self, text: str) -> None:
        """One line to this client, after what its rooms have pending. Whatever client
        text a reply carries, an undecodable byte in it goes out as U+FFFD."""
        if not is_utf8(text):
            log.warning("%s: a reply carried an undecodable byte: %r", self.peer, text[:80])
            text = repaired(text)
        if self._labeled is not None:
            self._labeled.append(text)
            return
        self._emit(text)

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

    # --- Shared by the commands. ---
    @property
    def render(self) -> IrcRender:
        caps = self.caps
        return render_for(
            "server-time" in caps, "message-tags" in caps, "away-notify" in caps,
            "invite-notify" in caps, account_tag="account-tag" in caps,
            account_notify="account-notify" in caps, extended_join="extended-join" in caps,
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
        if name_problem(name, self.config.max_name_chars) or is_reserved(name):
            raise IrcError("432", nick or "*", "Erroneous nickname")
        return name

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
