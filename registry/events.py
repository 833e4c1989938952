"""The event vocabulary: what happened, for each front door to render its own way.

Plain values, no behaviour. They are never changed once made, but not frozen: a
frozen dataclass sets each field through object.__setattr__, which on the fan-out
path costs more than the rest of making a message. `rooms.py` publishes them; each
door's render turns one into bytes. Nothing here knows a door.
"""

from __future__ import annotations

from dataclasses import dataclass


# `mask` is the source as IRC shows it (nick!user@host); `tags` are a client's own
# IRCv3 tags ("+typing=active"), relayed as they came; `msgid` names a message;
# `account` is the account the sender was logged in to, or "" (IRCv3 account-tag).
@dataclass(slots=True)
class _Message:
    name: str
    text: str
    ts: float
    room: str = ""
    mask: str = ""
    msgid: str = ""
    tags: str = ""
    account: str = ""


@dataclass(slots=True)
class Said(_Message):
    """A chat line to a room."""


@dataclass(slots=True)
class Acted(_Message):
    """An action (/me, CTCP ACTION) in a room."""


@dataclass(slots=True)
class Noticed(_Message):
    """A NOTICE to a room: text that bots and clients never answer automatically."""


@dataclass(slots=True)
class Multiline(_Message):
    """A multiline message (IRCv3 draft/multiline): one message, one msgid, several
    lines. `text` is its lines as the sender split them, joined by "\n" (a line never
    holds one); a line whose index is in `concat` goes on the line before it, with no
    break between (`draft/multiline-concat`: a long line sent in pieces). To a room
    (`room`), or to one user (`target`, `room` ""); `kind` is "msg" or "notice"."""

    target: str = ""
    kind: str = "msg"
    concat: tuple[int, ...] = ()


@dataclass(slots=True)
class Tagged:
    """A message of tags alone (IRC TAGMSG, such as typing notifications) to a room."""

    name: str
    ts: float
    room: str = ""
    mask: str = ""
    msgid: str = ""
    tags: str = ""
    account: str = ""


@dataclass(slots=True)
class Whispered:
    """A private message; `kind` is "msg", "notice", "action", "ctcp" or "tagmsg"."""

    sender: str
    text: str
    ts: float
    target: str = ""
    mask: str = ""
    kind: str = "msg"
    msgid: str = ""
    tags: str = ""
    account: str = ""
    echo: bool = False  # the copy the sender's other connections get: "as sent"


@dataclass(slots=True)
class Joined:
    """`account` and `realname` are what IRCv3 extended-join shows of the joiner."""

    name: str
    room: str
    mask: str = ""
    account: str = ""
    realname: str = ""


@dataclass(slots=True)
class Left:
    name: str
    room: str
    mask: str = ""
    reason: str = ""


@dataclass(slots=True)
class Quit:
    name: str
    reason: str = ""
    mask: str = ""


@dataclass(slots=True)
class Renamed:
    old: str
    new: str
    mask: str = ""  # the old mask


@dataclass(slots=True)
class Reconnected:
    """A user whose connection dropped came back with its reclaim code."""

    name: str
    mask: str = ""


@dataclass(slots=True)
class AccountChanged:
    """A user logged in to an account (`account` its name) or out of one ("")."""

    name: str
    account: str
    mask: str = ""


@dataclass(slots=True)
class RealnameChanged:
    """A user changed its realname (IRC's GECOS; IRCv3 setname)."""

    name: str
    realname: str
    mask: str = ""


@dataclass(slots=True)
class Online:
    """A name someone watches (IRC MONITOR, the text door's /watch) is now held: told
    to one watcher (`target`), from the server (`server`), with the holder's mask."""

    name: str
    mask: str = ""
    server: str = ""
    target: str = ""


@dataclass(slots=True)
class Offline:
    """A name someone watches is no longer held (a quit, a kill, a rename away from it):
    told to one watcher (`target`), from the server (`server`)."""

    name: str
    server: str = ""
    target: str = ""


@dataclass(slots=True)
class TopicSet:
    name: str
    room: str
    text: str
    ts: float
    mask: str = ""
    msgid: str = ""  # history keeps topic changes by id, as it keeps messages


@dataclass(slots=True)
class ModeChanged:
    """An operator changed a room's modes or members' status: `+o-v`, their nicks;
    `+kb`, the key and the mask. `name` "" is the server (the last operator left)."""

    name: str
    room: str
    modes: str
    args: tuple[str, ...] = ()
    mask: str = ""


@dataclass(slots=True)
class Kicked:
    """An operator (`name`) put `target` out of a room; `reason` may be empty."""

    name: str
    room: str
    target: str
    reason: str = ""
    mask: str = ""


@dataclass(slots=True)
class Invited:
    """An operator invited `target` to a room: sent to the invitee (`personal`), and
    to the room's members (not personal)."""

    name: str
    room: str
    target: str
    mask: str = ""
    personal: bool = False
    account: str = ""  # the inviter's (IRCv3 account-tag)


@dataclass(slots=True)
class AwayChanged:
    """A member went away (`text` says why) or came back (`text` is empty)."""

    name: str
    text: str
    mask: str = ""


@dataclass(slots=True)
class ServerNotice:
    """The server itself tells one user something (`server` is its name, `target` the
    user's): worded as the server speaking, never as a user's private message."""

    text: str
    server: str = ""
    target: str = ""


@dataclass(slots=True)
class Wallops:
    """A server operator's message to the operators and the users who asked for such
    messages (IRC user mode +w)."""

    name: str
    text: str
    mask: str = ""


@dataclass(slots=True)
class OwnerChanged:
    """A room's registration changed (ChanServ): its founder's account ("": no longer
    registered), its access list as `LEVEL:ACCOUNT` words, when it was registered.
    For a cluster's nodes and stores: no member is shown it."""

    room: str
    founder: str
    access: tuple[str, ...] = ()
    registered: float = 0.0


@dataclass(slots=True)
class MarkerMoved:
    """How far a user has read a conversation moved (IRCv3 read-marker), told to each
    connection of its account: a room (`room`, its name) or a private conversation
    (`nick`); `ms` is the time read up to (ms since the epoch, UTC); `server` the
    server's name, the source."""

    room: str
    nick: str
    ms: int
    server: str = ""


@dataclass(slots=True)
class Redacted:
    """A message was taken back (IRCv3 draft/message-redaction): `name` deleted the
    message `target_msgid`, which `author` said at `said`, in a room (`room`, its name)
    or in private to `target` (`room` ""); `reason` may be empty. `msgid`, `ts` and
    `account` are the deletion's own, as a message's."""

    name: str
    target_msgid: str
    author: str
    said: float
    ts: float
    room: str = ""
    target: str = ""
    reason: str = ""
    mask: str = ""
    msgid: str = ""
    account: str = ""


Event = (
    Said | Acted | Noticed | Tagged | Whispered | Joined | Left | Quit | Renamed | TopicSet
    | ModeChanged | AwayChanged | Reconnected | Kicked | Invited | ServerNotice | Wallops
    | AccountChanged | OwnerChanged | RealnameChanged | Online | Offline | MarkerMoved
    | Multiline | Redacted
)  # fmt: skip
