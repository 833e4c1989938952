"""Why a registry change was refused: one class a reason. The registry raises them;
each door words them in its own protocol. No wording here."""

from __future__ import annotations


class RegistryError(Exception):
    def __init__(self, name: str = "", limit: int = 0) -> None:
        super().__init__(name)
        self.name = name
        self.limit = limit


class NameTaken(RegistryError):
    pass


class NameReserved(NameTaken):
    """The name is a registered account's, and the one asking is not logged in to it
    (a kind of taken: a door that does not say more says the name is taken)."""


class RoomExists(RegistryError):
    pass


class NoSuchRoom(RegistryError):
    pass


class AlreadyInRoom(RegistryError):
    pass


class TooManyRooms(RegistryError):
    pass


class TooManyJoined(RegistryError):
    """The member is in as many rooms as one member may be."""


class ReclaimRefused(RegistryError):
    """The code is not this name's, or it expired."""


class ReclaimLimited(RegistryError):
    """This address tried too many codes; `limit` is the seconds until the next try."""


# --- Server operators: `name` is the oper name asked for. ---
class NotServerOperator(RegistryError):
    """Only a server operator may do this."""


class NoOperHost(RegistryError):
    """No server operator has this name."""


class OperRefused(RegistryError):
    """The server operator's password is wrong."""


class OperLimited(RegistryError):
    """Too many wrong tries from this address; `limit` is the seconds until the next."""


# --- Server bans (registry/bans.py). ---
class ServerBanned(RegistryError):
    """A server ban matches the user: `name` is the name it asked for (or goes by),
    `reason` the ban's."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name)
        self.reason = reason


class BadServerBan(RegistryError):
    """`name` (as typed) cannot be a server ban's mask; `why` says why."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name)
        self.why = why


class BadDuration(RegistryError):
    """`name` reads as a duration, but longer than `limit` days."""


class NoSuchServerBan(RegistryError):
    """No server ban is set on the mask `name`."""


class BanMatchesYou(RegistryError):
    """The server ban on `name` would match the oper setting it."""


# --- Moderation: `name` is the room's, `who` the other member's. ---
class NotOperator(RegistryError):
    pass


class NotInRoom(RegistryError):
    """The member asking is not in the room."""


class NoSuchUser(RegistryError):
    """`name` is the user name asked for."""


class Banned(RegistryError):
    pass


class InviteOnly(RegistryError):
    pass


class BadKey(RegistryError):
    pass


class RoomFull(RegistryError):
    pass


class TooManyInvites(RegistryError):
    pass


class CannotSpeak(RegistryError):
    """The room refuses this member's messages; the subclass says why."""


class Moderated(CannotSpeak):
    pass


class BannedHere(CannotSpeak):
    pass


class Muted(CannotSpeak):
    """A mute of the room (`+b m:MASK`) matches the member: in, but silent."""


class NoOutside(CannotSpeak):
    pass


class MemberError(RegistryError):
    def __init__(self, name: str, who: str) -> None:
        super().__init__(name)
        self.who = who


class NotThere(MemberError):
    """`who` is not in the room."""


class AlreadyThere(MemberError):
    """`who` is in the room already (an invitation)."""


class NotLoggedIn(RegistryError):
    """What was asked needs an account, and the member is not logged in to one."""


class RoomRegistered(RegistryError):
    """The room is registered already (ChanServ REGISTER)."""


class RoomNotRegistered(RegistryError):
    """The room is not registered, and what was asked needs it to be."""


class NotFounder(RegistryError):
    """Only the room's founder (or a server operator) may do this."""


class NoSuchAccount(RegistryError):
    """No account has this name."""


# --- Taking a message back (registry/redaction.py): `name` is the message's id. ---
class NoSuchMessage(RegistryError):
    """No message history still keeps has this id here (IRCv3 UNKNOWN_MSGID)."""


class RedactForbidden(RegistryError):
    """The message is neither the member's own nor in a room it runs."""


# --- Private messages to an account nobody is logged in to: `name` is the account's. ---
class HeldRefused(RegistryError):
    """The account is offline and the message cannot wait for it; the subclass says why."""


class OfflineGuest(HeldRefused):
    """Only a user logged in to an account may leave a message for an offline one."""


class OfflineNotKept(HeldRefused):
    """This server keeps no messages for offline accounts (no store, or it failed)."""


class OfflineFull(HeldRefused):
    """`limit` messages wait for the account already."""
