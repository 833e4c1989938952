"""The services both doors offer under reserved names: NickServ (accounts) and ChanServ
(rooms), with Ergo's command names. A door hands `ask` the asking member, the
service's name and the text sent to it; the answer comes back as plain lines, which
the door words its own way (the text door as private messages from the service, IRC
as NOTICEs). No wording of a door here, and no sockets.

What is asked may hold a password: nothing here logs the text, and `redact` gives
what a debug log may show of it.
"""

from __future__ import annotations

import math
import time

import registry as r
from registry.accounts import (
    Account,
    AccountError,
    AccountExists,
    BadPassword,
    LoginLimited,
    LoginRefused,
    RegistrationClosed,
    RegistrationLimited,
)
from rooms import RoomManager
from utils import name_key

NICKSERV, CHANSERV = "NickServ", "ChanServ"
SERVICES = {name_key(NICKSERV): NICKSERV, name_key(CHANSERV): CHANSERV}
# The commands whose words after the first are a password.
SECRET_COMMANDS = frozenset({"IDENTIFY", "REGISTER", "PASSWD", "DROP"})

NICKSERV_HELP = (
    "NickServ keeps accounts: a registered name is used only with its password.",
    "REGISTER PASSWORD  register your current name as an account; you are logged in",
    "IDENTIFY [ACCOUNT] PASSWORD  log in to ACCOUNT (default: your current name)",
    "LOGOUT  log out of your account (you keep your name)",
    "PASSWD OLD NEW  change your account's password",
    "DROP PASSWORD  forget your account (and its private messages)",
    "INFO [ACCOUNT]  when an account was registered",
    "SET ALWAYS-ON [ON|OFF]  stay in your rooms with no connection left",
    "SET DM-HISTORY [ON|OFF]  keep your private messages with accounts (on), or not",
    "HELP  this list",
)
CHANSERV_HELP = (
    "ChanServ keeps registered rooms: they stay when empty and across restarts, and",
    "their founder and access list get their status on every join.",
    "REGISTER ROOM  register a room you run to your account (it gets +t)",
    "DROP ROOM  the room is no longer registered (its founder)",
    "AMODE ROOM [+o|+v|-o|-v ACCOUNT]  show or change who gets a status on join",
    "TRANSFER ROOM ACCOUNT  give the room to another account (its founder)",
    "OP ROOM  take your status in a room again",
    "INFO ROOM  who founded a room, and when",
    "HELP  this list",
)


def service_name(name: str) -> str | None:
    """The service called `name` (any case), as it spells itself; None for a user."""
    return SERVICES.get(name_key(name))


def redact(text: str) -> str:
    """What a log may show of a line to a service: the command, never a password."""
    command, _, rest = text.strip().partition(" ")
    if command.upper() in SECRET_COMMANDS and rest.strip():
        return f"{command} <password>"
    return text


def wait_words(wait_s: float) -> str:
    """How long a limit lasts, in whole seconds: `try again in 12 s`."""
    return f"try again in {max(1, math.ceil(wait_s))} s"


def refusal(exc: AccountError) -> str:
    """An account verb's refusal, as a service answers it."""
    if isinstance(exc, AccountExists):
        return f'The name "{exc.name}" is registered already.'
    if isinstance(exc, RegistrationClosed):
        return "Registration is closed on this server."
    if isinstance(exc, RegistrationLimited):
        return f"Too many registrations from your address; {wait_words(exc.wait_s)}."
    if isinstance(exc, LoginLimited):
        return f"Too many wrong passwords; {wait_words(exc.wait_s)}."
    if isinstance(exc, LoginRefused):
        return f"Wrong password for {exc.name}."
    if isinstance(exc, BadPassword):
        return f"That password cannot be used: {exc.name}."
    return "That account cannot be changed now."


async def ask(
    rooms: RoomManager, member: r.Member, address: str, service: str, text: str
) -> list[str]:
    """What `service` answers `member` (from `address`, the limits' key) for `text`.
    Every refusal is an answer too: nothing is raised for what the user asked."""
    command, _, rest = text.strip().partition(" ")
    words = rest.split()
    table = _CHANSERV if service_name(service) == CHANSERV else _NICKSERV
    verb = table.get(command.upper())
    if verb is None:
        what = f'Unknown command "{command}". ' if command else ""
        return [f"{what}Send HELP for the commands."]
    try:
        return await verb(rooms, member, address, words)
    except AccountError as exc:
        return [refusal(exc)]
    except r.RegistryError as exc:
        return [room_refusal(exc)]


def room_refusal(exc: r.RegistryError) -> str:
    """A room verb's refusal, as ChanServ answers it."""
    name = exc.name
    match exc:
        case r.NotLoggedIn():
            return "You are not logged in: log in to an account first (NickServ IDENTIFY)."
        case r.NoSuchRoom():
            return f'No room named "{name}".'
        case r.NotInRoom():
            return f"You are not in {name}."
        case r.NotOperator():
            return f"You are not an operator of {name}."
        case r.RoomRegistered():
            return f"{name} is registered already."
        case r.RoomNotRegistered():
            return f"{name} is not registered."
        case r.NotFounder():
            return f"Only the founder of {name} may do that."
        case r.NoSuchAccount():
            return f'No account named "{name}".'
    return "That cannot be done now."


Lines = list[str]


async def _help(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    return list(NICKSERV_HELP)


async def _register(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if not words:
        return ["Usage: REGISTER PASSWORD"]
    if member.account:
        return [f"You are logged in to {member.account} already."]
    name = member.name
    account = await rooms.accounts.register(name, words[0], address)
    if name_key(member.name) == name_key(account.name) and not member.account:
        rooms.log_in(member, account.name)  # unless it changed its name meanwhile
        return [f"Account {account.name} registered; you are logged in to it."]
    return [f"Account {account.name} registered."]


async def _identify(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if not words or len(words) > 2:
        return ["Usage: IDENTIFY [ACCOUNT] PASSWORD"]
    name, password = (member.name, words[0]) if len(words) == 1 else (words[0], words[1])
    account = await rooms.accounts.verify(name, password, address)
    if member.account == account.name:
        return [f"You are logged in to {account.name} already."]
    rooms.log_in(member, account.name)
    return [f"You are now logged in as {account.name}."]


async def _logout(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if not member.account:
        return ["You are not logged in."]
    if rooms.is_reserved(member.name):  # nobody but its account goes by a registered name
        return [f"You go by {member.name}, a registered name: change it first (/nick "
                "NEWNAME), then log out."]  # fmt: skip
    account = member.account
    rooms.log_out(member)
    return [f"You are logged out of {account}."]


def _own(rooms: RoomManager, member: r.Member) -> Account | None:
    return rooms.accounts.find(member.account) if member.account else None


async def _passwd(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if len(words) != 2:
        return ["Usage: PASSWD OLD NEW"]
    account = _own(rooms, member)
    if account is None:
        return ["You are not logged in."]
    await rooms.accounts.change_password(account, words[0], words[1], address)
    return [f"The password of {account.name} is changed."]


async def _drop(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if len(words) != 1:
        return ["Usage: DROP PASSWORD"]
    account = _own(rooms, member)
    if account is None:
        return ["You are not logged in."]
    await rooms.accounts.drop(account, words[0], address)
    if rooms.accounts.find(account.name) is None:  # not registered again meanwhile
        rooms.forget_conversations(account.name)
    if member.account == account.name:
        rooms.log_out(member)
    return [f"Account {account.name} is dropped; its name is free."]


async def _info(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    name = words[0] if words else member.account or member.name
    account = rooms.accounts.find(name)
    if account is None:
        return [f'No account named "{name}".']
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(account.registered))
    return [f"Account {account.name} was registered on {when}."]


SETTINGS_USAGE = "Usage: SET DM-HISTORY [ON|OFF]"
ALWAYS_ON_USAGE = "Usage: SET ALWAYS-ON [ON|OFF]"
SET_USAGE = "Usage: SET ALWAYS-ON|DM-HISTORY [ON|OFF]"


async def _set(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    """SET ALWAYS-ON [ON|OFF] and SET DM-HISTORY [ON|OFF] (Ergo's names): an account's
    settings; with no value, how it is set."""
    name = words[0].upper() if words else ""
    if name == "ALWAYS-ON":
        return await _always_on(rooms, member, words)
    if name != "DM-HISTORY" or len(words) > 2:
        return [
            SETTINGS_USAGE if name == "DM-HISTORY" else "Usage: SET ALWAYS-ON|DM-HISTORY [ON|OFF]"
        ]
    return await _dm_history(rooms, member, words)


async def _always_on(rooms: RoomManager, member: r.Member, words: list[str]) -> Lines:
    """Whether the account's user stays in its rooms with no connection left (rooms.py,
    "Always on"); the server's default (--always-on) until the account chooses."""
    if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ON", "OFF")):
        return [ALWAYS_ON_USAGE]
    account = _own(rooms, member)
    if account is None:
        return ["You are not logged in."]
    if len(words) == 2:
        rooms.set_always_on(member, words[1].upper() == "ON")
    state = "on" if rooms.is_always_on(member) else "off"
    return [f"ALWAYS-ON is {state} for {account.name}."]


async def _dm_history(rooms: RoomManager, member: r.Member, words: list[str]) -> Lines:
    """SET DM-HISTORY [ON|OFF] (Ergo's name): whether the account's private messages
    with other accounts are kept (registry/private.py). Off keeps nothing new, anywhere;
    what was kept stays until it expires."""
    account = _own(rooms, member)
    if account is None:
        return ["You are not logged in."]
    if len(words) == 1:
        state = "on" if r.keeps_history(account) else "off"
        return [f"DM-HISTORY is {state} for {account.name}."]
    value = words[1].upper()
    if value not in ("ON", "OFF"):
        return [SETTINGS_USAGE]
    rooms.accounts.change_settings(account, **{r.DM_HISTORY: value == "ON"})
    if value == "ON":
        return [f"DM-HISTORY is on: private messages of {account.name} are kept."]
    return [f"DM-HISTORY is off: private messages of {account.name} are no longer kept "
            "(those kept already stay until they expire)."]  # fmt: skip


_NICKSERV = {
    "SET": _set,
    "HELP": _help,
    "REGISTER": _register,
    "IDENTIFY": _identify,
    "LOGIN": _identify,
    "LOGOUT": _logout,
    "PASSWD": _passwd,
    "DROP": _drop,
    "INFO": _info,
}


def _room(words: list[str]) -> str:
    """The room a ChanServ command names: `#room` (IRC) or `room` (the text door)."""
    return words[0].removeprefix("#") if words else ""


def _registered(rooms: RoomManager, words: list[str]) -> tuple[r.Room, r.Ownership]:
    """The registered room the command names, with its owner; RoomNotRegistered (no
    such room either)."""
    room = rooms.room(_room(words))
    if room is None or room.owner is None:
        raise r.RoomNotRegistered(room.name if room else _room(words))
    return room, room.owner


async def _cs_help(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    return list(CHANSERV_HELP)


async def _cs_register(
    rooms: RoomManager, member: r.Member, address: str, words: list[str]
) -> Lines:
    if len(words) != 1:
        return ["Usage: REGISTER ROOM"]
    room = rooms.register_room(member, _room(words))
    return [f"{room.name} is registered to your account {member.account}."]


async def _cs_drop(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if len(words) != 1:
        return ["Usage: DROP ROOM"]
    room = rooms.drop_room(member, _room(words))
    return [f"{room.name} is no longer registered."]


LEVEL_WORDS = {"o": "operator", "v": "voice"}


async def _cs_amode(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if len(words) not in (1, 3):
        return ["Usage: AMODE ROOM [+o|+v|-o|-v ACCOUNT]"]
    if len(words) == 1:
        room, owner = _registered(rooms, words)
        lines = [f"{room.name}: {owner.founder} (founder)"]
        lines += [f"{room.name}: {account} (+{level})" for account, level in owner.entries()]
        return lines
    change, account = words[1], words[2]
    if change not in ("+o", "+v", "-o", "-v"):
        return ["Usage: AMODE ROOM [+o|+v|-o|-v ACCOUNT]"]
    level = change[1] if change[0] == "+" else ""
    room = rooms.set_access(member, _room(words), level, account)
    if level:
        return [f"{account} gets {LEVEL_WORDS[level]} ({change}) on joining {room.name}."]
    return [f"{account} gets no status on joining {room.name}."]


async def _cs_transfer(
    rooms: RoomManager, member: r.Member, address: str, words: list[str]
) -> Lines:
    if len(words) != 2:
        return ["Usage: TRANSFER ROOM ACCOUNT"]
    room = rooms.transfer_room(member, _room(words), words[1])
    assert room.owner is not None
    return [f"{room.name} now belongs to {room.owner.founder}."]


async def _cs_op(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if len(words) != 1:
        return ["Usage: OP ROOM"]
    room = rooms.regain(member, _room(words))
    return [f"You have your status in {room.name}."]


async def _cs_info(rooms: RoomManager, member: r.Member, address: str, words: list[str]) -> Lines:
    if len(words) != 1:
        return ["Usage: INFO ROOM"]
    room, owner = _registered(rooms, words)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(owner.registered))
    return [f"{room.name} was registered by {owner.founder} on {when}."]


_CHANSERV = {
    "HELP": _cs_help,
    "REGISTER": _cs_register,
    "DROP": _cs_drop,
    "AMODE": _cs_amode,
    "ACCESS": _cs_amode,
    "TRANSFER": _cs_transfer,
    "OP": _cs_op,
    "INFO": _cs_info,
}
