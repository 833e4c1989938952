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
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, overload

import registry as r
from config.settings import Config
from doors.common import SessionBase, is_reserved
from doors.door import Link
from doors.irc.message import Message, add_tags, in_batch, is_utf8, line, parse, repaired
from doors.irc.render import IrcRender, render_for
from registry.credentials import ScramExchange
from registry.history import MAX_FETCH
from rooms import RoomManager
from utils import name_problem, normalize_name

log = logging.getLogger(__name__)

Pending = Coroutine[Any, Any, None]
Result = Awaitable[None] | None
READ_MARKER = "draft/read-marker"  # IRCv3 read-marker (doors/irc/markers.py)
CAPS = (
    "account-notify", "account-tag", "away-notify", "batch", "cap-notify", READ_MARKER,
    "draft/multiline", "echo-message", "extended-join", "extended-monitor", "invite-notify",
    "labeled-response", "message-tags", "multi-prefix", "sasl", "server-time", "setname",
    "userhost-in-names",
)  # fmt: skip
MULTILINE = "draft/multiline"  # IRCv3 multiline: the capability and the batch type
REDACTION = "draft/message-redaction"  # IRCv3 message-redaction (redaction.py): with history
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256")
BOT_MODE = "B"  # IRCv3 bot-mode: the user mode (ISUPPORT BOT=B) and what it brings
MAX_TAG_BYTES = 8191  # IRCv3 message-tags: the tag section a line may carry...
CLIENT_TAG_BYTES = 4096  # ... of which a client may send this much, "@" and " " included
MAX_LINE_BYTES = 512  # RFC 1459, with CRLF, without tags
NO_CAPS: AbstractSet[str] = frozenset()  # a client's capabilities until it asks for some
# A client's chat_rooms until it speaks in a room: shared, so always empty (only
# IrcClient.chat_room() adds to a client's, giving it a dict of its own first).
NO_CHAT_ROOMS: dict[str, r.Room] = {}


def _replies(text: str) -> list[str]:
    """What was sent as one reply, as the replies a label counts: a multiline batch
    is one, any other lines one each."""
    if "\r\n" not in text:
        return [text]
    first = parse(text.partition("\r\n")[0])
    return [text] if first is not None and first.command == "BATCH" else text.split("\r\n")


class Pacing(Protocol):
    """A connection's flood control, as a multiline message needs it (net/connection.py)."""

    def defer_pacing(self, lines: int) -> None: ...  # up to `lines` lines: counted, not paced
    def charge_deferred(self) -> None: ...  # the message ended: charge them all at once


@dataclass(slots=True)
class Draft:
    """A multiline message being sent (IRCv3 draft/multiline, multiline.py): its batch's
    reference and target, the lines so far and which continue the one before; once
    refused (not `is_open`), what tells its remaining lines to be ignored."""

    ref: str
    target: str = ""
    label: str | None = None  # the opening BATCH's label, for the end's replies
    tags: str = ""  # the client's tags, from the opening BATCH
    is_open: bool = True
    command: str = ""  # PRIVMSG or NOTICE, from the first line
    lines: list[str] = field(default_factory=list)
    concat: list[int] = field(default_factory=list)
    size: int = 0  # bytes of the message: its lines, and a "\n" before each but the first


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


@dataclass(slots=True)
class Registration:
    """What a client says before its welcome and no longer needs after it: an IrcClient
    holds one only until then (or while a SASL exchange after it is under way), and reads
    these through its attributes of the same names (`Registering`)."""

    password: str = ""  # what PASS gave, checked when registration completes
    asked_nick: str = ""  # the last nick asked for before registration, even if taken
    account: str = ""  # the account SASL or REGISTER logged in to before registration
    sasl: SaslState | None = None  # a SASL exchange under way
    negotiating: bool = False  # CAP LS or REQ seen, CAP END not yet
    user: str = ""  # USER's, for the member it registers as
    realname: str = ""


T = TypeVar("T")


class Registering(Generic[T]):
    """An IrcClient attribute kept in its `Registration`: its default while the client
    has none (after the welcome); setting it other than the default makes one."""

    def __init__(self, default: T) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, client: None, owner: type) -> Self: ...
    @overload
    def __get__(self, client: IrcClient, owner: type) -> T: ...
    def __get__(self, client: IrcClient | None, owner: type) -> T | Self:
        if client is None:
            return self
        reg = client._reg
        return self.default if reg is None else getattr(reg, self.name)

    def __set__(self, client: IrcClient, value: T) -> None:
        reg = client._reg
        if reg is None:
            if value == self.default:
                return
            reg = client._reg = Registration()
        setattr(reg, self.name, value)
        if client.member is not None and value == self.default and reg == Registration():
            client._reg = None  # registered, and nothing under way (a SASL exchange ended)


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
            "EXTBAN=,am", "HOSTLEN=64", "INVEX=I", f"KEYLEN={c.max_key_chars}",
            f"KICKLEN={c.max_topic_chars}", f"MAXLIST=beI:{c.max_list_masks}", "MAXTARGETS=4",
            "MODES=6", f"MONITOR={c.max_watch}", f"NAMELEN={c.max_realname_chars}",
            "NETWORK=chatroom", f"NICKLEN={c.max_name_chars}", "PREFIX=(ov)@+", "SAFELIST",
            "STATUSMSG=@+",
            "TARGMAX=JOIN:,KICK:4,NAMES:1,LIST:,NOTICE:4,PART:,PRIVMSG:4,TAGMSG:4,WHOIS:1",
            f"TOPICLEN={c.max_topic_chars}", "USERLEN=10", "UTF8ONLY", "WHOX",
        )  # fmt: skip
        # History: bots (+B) get no replay; draft/chathistory and draft/message-redaction
        # (a message taken back is one history keeps) when history is kept.
        kept = ("draft/chathistory", REDACTION) if c.db_path else ()
        # draft/account-registration while the server takes new accounts: REGISTER works
        # before the welcome too, and asks for no e-mail address.
        signup = ("draft/account-registration",) if rooms.accounts.registration_open else ()
        self.caps = tuple(sorted(CAPS + kept + signup))
        self.cap_values = {  # what CAP LS 302 says of a capability after its `=`
            "sasl": ",".join(SASL_MECHANISMS),
            "draft/account-registration": "before-connect",
            MULTILINE: f"max-bytes={c.max_multiline_bytes},max-lines={c.max_multiline_lines}",
        }
        self.isupport += ("BOT=B",) + (
            (f"CHATHISTORY={MAX_FETCH}", "MSGREFTYPES=msgid,timestamp") if kept else ()
        )


class IrcClient(SessionBase):
    """One IRC client, as its commands see it. Lines go out through `out`; its rooms
    write bytes to `write`. Reading lines is session.py's `IrcSession`.

    Slots (past 28 attributes, CPython 3.11 stops sharing an instance dict's keys, and
    every `self.x` of _chat_fast got slower: bench/core_cost.py rooms measured the IRC
    door 15% slower at 30), and what an idle client never uses made on first use: its
    guest read markers; no capability is a shared empty set; what registration needs
    (PASS, USER, the asked nick, SASL, CAP negotiation) is a `Registration`, let go of
    at the welcome."""

    commands: ClassVar[Mapping[str, Command]] = MappingProxyType({})  # IrcSession's: the table

    __slots__ = (
        "_guest_marks", "_hang_up", "_labeled", "_reg", "cap_version", "caps", "chat_rooms",
        "closing", "door", "draft", "echo", "is_tls", "nick", "offers_sts", "pacing",
        "quit_reason",
    )  # fmt: skip

    # Until the welcome (registration.py), in its Registration (`_reg`): then "", None, False.
    password = Registering("")  # what PASS gave, checked when registration completes
    asked_nick = Registering("")  # the last nick asked for before registration, even if taken
    account = Registering("")  # the account SASL or REGISTER logged in to before registration
    sasl: Registering[SaslState | None] = Registering(None)  # a SASL exchange under way
    negotiating = Registering(False)  # CAP LS or REQ seen, CAP END not yet
    user = Registering("")
    realname = Registering("")

    def __init__(
        self,
        door: IrcDoor,
        out: Callable[[str], None] | None,
        *,
        write: r.Write | None = None,
        host: str = "localhost",
        peer: str = "-",
        is_tls: bool = False,
        hang_up: Callable[[], None] | None = None,
        pacing: Pacing | None = None,
        offers_sts: bool = True,
        link: Link | None = None,
    ) -> None:
        super().__init__(door.rooms, door.config, out, write, host=host, peer=peer, link=link)
        self._hang_up = hang_up  # closes the connection from outside a line (a KILL)
        self.pacing = pacing  # its flood control, which a multiline message defers
        self.door = door
        self.is_tls = is_tls
        self.offers_sts = offers_sts  # the door's sts policy, if it has one
        self.nick = ""  # chosen, perhaps not yet registered
        self._reg: Registration | None = None  # made when first set; None again at the welcome
        self.caps: AbstractSet[str] = NO_CAPS  # replaced whole (set_caps), never changed
        self.cap_version = 0
        self.closing = False
        self.quit_reason = ""
        self._labeled: list[str] | None = None  # replies gathered for a label
        self.echo = False  # echo-message negotiated
        # "PRIVMSG #room" -> its room, for the lines _chat_fast may take; only a room
        # the member is in counts, so an entry that went stale is never used.
        self.chat_rooms: dict[str, r.Room] = NO_CHAT_ROOMS  # a dict of its own: chat_room()
        self._guest_marks: dict[str, Any] | None = None  # guest_marks, once used
        # Its last multiline batch (multiline.py): open, or refused and its lines ignored.
        self.draft: Draft | None = None

    @property
    def guest_marks(self) -> dict[str, Any]:
        """A guest's read markers (draft/read-marker), this connection's own: target key
        -> [ms, msgid], as an account keeps them (registry/markers.py)."""
        if self._guest_marks is None:
            self._guest_marks = {}
        return self._guest_marks

    def registered(self) -> None:
        """The welcome is sent: what only registration needed is let go of."""
        self._reg = None

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
        """IRC clients speak first; nothing to send, unless a server ban matches the
        address (then 465, ERROR, and the connection closes)."""
        ban = self.rooms.bans.match_address(self.host)
        if ban is not None:
            log.info("%s refused: server ban on %s", self.peer, ban.mask)
            self.banned(ban.why)

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
        self.member, self.device = None, None
        self.error(f"Closing link: {self.host} ({why})")
        self.hang_up()

    def hang_up(self) -> None:
        """Close the connection from outside a line (a KILL, a ban)."""
        if self._hang_up is not None:
            self._hang_up()
        else:
            self._hang_up_link()

    def banned(self, reason: str) -> None:
        """A server ban matches this client (at connect, at registration, or when it was
        set: then its rooms saw it quit): 465, ERROR, and the connection closes."""
        self.numeric("465", f"You are banned from this server: {reason}")
        if self.member is not None:
            self._last_name = self.member.name
        self.member = None
        self.error(f"Closing link: {self.host} (K-Lined: {reason})")
        self.hang_up()

    # What the registry tells the connection that holds a member (registry/room.py
    # Holder): a kill, a ban; a reclaim and a kick are the text door's.
    on_killed, on_banned = killed, banned

    def on_detached(self) -> None:
        pass

    def on_kicked(self, room: r.Room) -> None:
        pass

    # --- Lines out. ---
    def send(self, text: str) -> None:
        """One line to this client, after what its rooms have pending. Whatever client
        text a reply carries, an undecodable byte in it goes out as U+FFFD."""
        if not is_utf8(text):
            log.warning("%s: a reply carried an undecodable byte: %r", self.peer, text[:80])
            text = repaired(text)
        if self._labeled is not None:
            self._labeled.append(text)  # a multiline message's batch is one reply
            return
        if "\r\n" in text:
            self._emit(*text.split("\r\n"))
        else:
            self._emit(text)

    def numeric(self, code: str, *params: str) -> None:
        self.send(line(self.door.name, code, self.target, *params))

    def error(self, text: str) -> None:
        """ERROR, then the connection closes."""
        self.send(line("", "ERROR", text))
        self.closing = True

    def hold_label(self, msg: Message) -> str | None:
        """The label of `msg`, the line being handled, kept to be answered later (a
        multiline message's opening BATCH is answered at its end): no ACK now."""
        if self._labeled is None:
            return None  # not labeled (or labeled-response not negotiated)
        self._labeled = None
        return msg.tags["label"]

    def start_label(self) -> None:
        """Gather the replies from now on for a label (end_label sends them)."""
        self._labeled = []

    def end_label(self, label: str) -> None:
        """The replies to a labeled line, labeled (IRCv3 labeled-response): `ACK` for
        none, the one labeled, or a `labeled-response` batch. A multiline message's
        batch (an echo) is one reply: the label goes on its opening BATCH line."""
        if self._labeled is None:
            return  # a multiline message's opening BATCH: its label waits for the end
        replies, self._labeled = self._labeled, None
        lines = [part for text in replies for part in _replies(text)]
        tag = {"label": label}
        if not lines:
            self.send(add_tags(line(self.door.name, "ACK"), tag))
        elif len(lines) == 1:
            self.send(add_tags(lines[0], tag))
        elif "batch" in self.caps:
            ref = self.rooms.new_id()
            self.send(add_tags(line(self.door.name, "BATCH", "+" + ref, "labeled-response"), tag))
            for text in lines:  # a batch inside (chathistory, multiline) keeps its own tags
                self.send(in_batch(text, ref))
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
            setname="setname" in caps,
            read_marker=READ_MARKER in caps,
            multiline=MULTILINE in caps and "batch" in caps,  # multiline needs batch
            redaction=REDACTION in caps,
        )  # fmt: skip

    def chat_room(self, head: str, room: r.Room) -> None:
        """`head` ("PRIVMSG #room") takes the fast way to `room` from now on (_chat_fast)."""
        if self.chat_rooms is NO_CHAT_ROOMS:
            self.chat_rooms = {}
        elif len(self.chat_rooms) > 2 * self.config.max_joined:
            self.chat_rooms.clear()
        self.chat_rooms[head] = room

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

    def set_caps(self, caps: AbstractSet[str]) -> None:
        self.caps = caps
        self.echo = "echo-message" in caps
        member = self.member
        if member is not None and member.sink(self.device).render is not self.render:
            self.rooms.set_render(member, self.render, self.device)
        if member is not None:
            self.rooms.watches.hear_changes(member, "extended-monitor" in caps)
