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
    "DROP PASSWORD  forget your account",
    "INFO [ACCOUNT]  when an account was registered",
    "HELP  this list",
)
CHANSERV_HELP = (
    "ChanServ will keep registered rooms.",
    "Room registration is not offered yet.",
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
    if service_name(service) == CHANSERV:
        return list(CHANSERV_HELP)
    verb = _NICKSERV.get(command.upper())
    if verb is None:
        what = f'Unknown command "{command}". ' if command else ""
        return [f"{what}Send HELP for the commands."]
    try:
        return await verb(rooms, member, address, words)
    except AccountError as exc:
        return [refusal(exc)]


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


_NICKSERV = {
    "HELP": _help,
    "REGISTER": _register,
    "IDENTIFY": _identify,
    "LOGIN": _identify,
    "LOGOUT": _logout,
    "PASSWD": _passwd,
    "DROP": _drop,
    "INFO": _info,
}
