"""Accounts on the IRC door: SASL (IRCv3 sasl 3.2: AUTHENTICATE with PLAIN or
SCRAM-SHA-256), draft/account-registration (REGISTER, VERIFY), and logging in with
`PASS account:password` at registration (registration.py asks `pass_login`).

The registry's `Accounts` checks every password, off the event loop, and limits the
tries; this module only speaks the protocol. Nothing here logs a password or a SASL
payload (door.py keeps AUTHENTICATE and REGISTER lines out of the debug log, the
server's AUTHENTICATE challenges too: only a mechanism's name shows), and no
client's message, however malformed, raises past a handler.

A client that logs in before registration is welcomed under its account's name only
if it asked for it: a registered nick is refused to anyone not logged in to it (433 at
registration, `FAIL NICK NICKNAME_RESERVED` later; registration.py).

Services (NickServ, ChanServ) are doors/services.py's; this module only carries IRC's
way to them (`NS`, `CS`, and `PRIVMSG NickServ` from channels.deliver) and words their
answers as NOTICEs.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable

from doors import services
from doors.irc.client import SASL_MECHANISMS, IrcClient, SaslState
from doors.irc.history import deliver_held
from doors.irc.message import Message, line
from registry.accounts import (
    AccountError,
    AccountExists,
    BadPassword,
    LoginLimited,
    RegistrationClosed,
    RegistrationLimited,
)
from registry.credentials import CredentialsError
from utils import address_group, name_key

log = logging.getLogger(__name__)

CHUNK = 400  # sasl 3.2: an AUTHENTICATE payload comes and goes in chunks of this size
MAX_SASL_BYTES = 8192  # the most base64 a client's SASL message may add up to


def _fail(s: IrcClient, text: str = "SASL authentication failed") -> None:
    s.sasl = None
    s.numeric("904", text)


def _address(s: IrcClient) -> str:
    return address_group(s.host)


def on_authenticate(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    """AUTHENTICATE mechanism, then the client's messages in base64 chunks of 400
    bytes (`+` for an empty one, or after a chunk of exactly 400); `*` aborts."""
    arg = msg.params[0]
    state = s.sasl
    if arg == "*":
        s.sasl = None
        s.numeric("906", "SASL authentication aborted")
        return None
    if "sasl" not in s.caps:
        s.numeric("904", "SASL authentication failed: the sasl capability is not enabled")
        return None
    if state is None:
        if s.logged_in:
            s.numeric("907", "You have already authenticated using SASL")
            return None
        mechanism = arg.upper()
        if mechanism not in SASL_MECHANISMS:
            s.numeric("908", ",".join(SASL_MECHANISMS), "are available SASL mechanisms")
            _fail(s)
            return None
        s.sasl = SaslState(mechanism)
        s.send(line(s.door.name, "AUTHENTICATE", "+"))
        return None
    if len(arg) > CHUNK:
        s.sasl = None
        s.numeric("905", "SASL message too long")
        return None
    if arg != "+":
        state.buffer += arg
    if len(state.buffer) > MAX_SASL_BYTES:
        _fail(s)
        return None
    if len(arg) == CHUNK:
        return None  # more to come
    payload, state.buffer = state.buffer, ""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        _fail(s)
        return None
    if state.mechanism == "PLAIN":
        return _plain(s, data)
    return _scram(s, state, data)


def _plain(s: IrcClient, data: bytes) -> Awaitable[None] | None:
    """PLAIN (RFC 4616): authzid NUL authcid NUL password; authzid empty or the same."""
    parts = data.split(b"\0")
    if len(parts) != 3:
        _fail(s)
        return None
    try:
        authzid, authcid, password = (part.decode() for part in parts)
    except UnicodeDecodeError:
        _fail(s)
        return None
    if not authcid or not password or (authzid and name_key(authzid) != name_key(authcid)):
        _fail(s)
        return None
    return _verify(s, authcid, password)


async def _verify(s: IrcClient, name: str, password: str) -> None:
    try:
        account = await s.rooms.accounts.verify(name, password, _address(s))
    except LoginLimited as exc:
        _fail(s, f"SASL authentication failed: too many tries, wait {int(exc.wait_s) + 1} s")
        return
    except AccountError:
        log.info("%s: SASL login to %s refused", s.peer, name)
        _fail(s)
        return
    if s.sasl is None or s.logged_in:
        return  # aborted, or logged in another way, while the password was checked
    s.sasl = None
    logged_in(s, account.name)
    s.numeric("903", "SASL authentication successful")
    await deliver_held(s)  # after the welcome: what waited for the account


def _scram(s: IrcClient, state: SaslState, data: bytes) -> Awaitable[None] | None:
    """SCRAM-SHA-256 (RFC 7677): client-first, client-final, then an empty message
    that acknowledges the server-final; after the welcome, what waited for the account
    comes after its 903."""
    accounts, address = s.rooms.accounts, _address(s)
    try:
        text = data.decode()
    except UnicodeDecodeError:
        _fail(s)
        return None
    if state.scram is None:
        exchange = accounts.scram(address)
        try:
            server_first = exchange.first(text)
            accounts.check_scram_limits(exchange.name, address)
        except CredentialsError:
            _fail(s)
            return None
        except LoginLimited as exc:
            _fail(s, f"SASL authentication failed: too many tries, wait {int(exc.wait_s) + 1} s")
            return None
        state.scram = exchange
        send_payload(s, server_first.encode())
    elif not state.account:
        try:
            name, server_final = state.scram.final(text)
        except CredentialsError:
            accounts.scram_failed(state.scram.name, address)
            log.info("%s: SASL login to %s refused", s.peer, state.scram.name)
            _fail(s)
            return None
        account = accounts.find(name)
        if account is None:  # dropped meanwhile
            _fail(s)
            return None
        state.account = account.name
        send_payload(s, server_final.encode())
    else:
        if data:
            _fail(s)
            return None
        s.sasl = None
        logged_in(s, state.account)
        s.numeric("903", "SASL authentication successful")
        return deliver_held(s)
    return None


def send_payload(s: IrcClient, data: bytes) -> None:
    """A server message in AUTHENTICATE chunks of 400; `+` ends one that fills them."""
    text = base64.b64encode(data).decode()
    for i in range(0, len(text), CHUNK):
        s.send(line(s.door.name, "AUTHENTICATE", text[i : i + CHUNK]))
    if len(text) % CHUNK == 0:
        s.send(line(s.door.name, "AUTHENTICATE", "+"))


def logged_in(s: IrcClient, account: str) -> None:
    """The client is now logged in to `account`: 900, and its peers are told."""
    member = s.member
    if member is not None:
        s.rooms.log_in(member, account)
        mask = member.mask
    else:
        s.account = account
        mask = f"{s.nick or '*'}!{s.user or '*'}@{s.host}"
    log.info("%s logged in to account %s (IRC)", s.peer, account)
    s.numeric("900", mask, account, f"You are now logged in as {account}")


async def pass_login(s: IrcClient, text: str) -> bool:
    """`PASS account:password` at registration, when the server has no password of its
    own: log in, or say why not (464). Whether to go on registering."""
    name, _, password = text.partition(":")
    try:
        account = await s.rooms.accounts.verify(name, password, _address(s))
    except LoginLimited as exc:
        s.numeric("464", f"Password incorrect: too many tries, wait {int(exc.wait_s) + 1} s")
        s.error("Closing link: bad password")
        return False
    except AccountError:
        log.info("%s: PASS login to %s refused", s.peer, name)
        s.numeric("464", "Password incorrect")
        s.error("Closing link: bad password")
        return False
    if not s.logged_in:
        logged_in(s, account.name)
    return True


def _register_fail(s: IrcClient, code: str, account: str, text: str) -> None:
    s.send(line(s.door.name, "FAIL", "REGISTER", code, account, text))


def on_register(s: IrcClient, msg: Message) -> Awaitable[None] | None:
    """REGISTER <account|*> <email|*> <password> (draft/account-registration): a new
    account named as the client's nick, logged in to at once. No e-mail is asked for
    or kept, so there is nothing to VERIFY."""
    wanted, _, password = msg.params[:3]
    current = s.member.name if s.member else s.nick or s.asked_nick
    if s.logged_in:
        _register_fail(s, "ALREADY_AUTHENTICATED", s.logged_in, "You are already logged in")
        return None
    if wanted == "*":
        if not current:
            _register_fail(s, "NEED_NICK", "*", "Choose a nickname first")
            return None
        wanted = current
    if name_key(wanted) != name_key(current):
        _register_fail(s, "ACCOUNT_NAME_MUST_BE_NICK", wanted, "The account must be your nick")
        return None
    holder = s.rooms.find(wanted)
    if holder is not None and holder is not s.member:
        _register_fail(s, "ACCOUNT_EXISTS", wanted, "Someone else goes by that name")
        return None
    return _register(s, wanted, password)


async def _register(s: IrcClient, name: str, password: str) -> None:
    try:
        account = await s.rooms.accounts.register(name, password, _address(s))
    except AccountExists:
        _register_fail(s, "ACCOUNT_EXISTS", name, "That account is registered already")
        return
    except BadPassword as exc:
        _register_fail(s, "UNACCEPTABLE_PASSWORD", name, f"That password cannot be used: {exc}")
        return
    except RegistrationClosed:
        _register_fail(s, "TEMPORARILY_UNAVAILABLE", name, "Registration is closed")
        return
    except RegistrationLimited as exc:
        wait = f"Too many registrations from your address: wait {int(exc.wait_s) + 1} s"
        _register_fail(s, "TEMPORARILY_UNAVAILABLE", name, wait)
        return
    log.info("%s registered account %s (IRC)", s.peer, account.name)
    s.send(line(s.door.name, "REGISTER", "SUCCESS", account.name, "Account created"))
    if not s.logged_in:
        logged_in(s, account.name)


def on_verify(s: IrcClient, msg: Message) -> None:
    """VERIFY <account> <code>: no registration here waits for a code."""
    text = "No registration is waiting for a verification code"
    s.send(line(s.door.name, "FAIL", "VERIFY", "INVALID_CODE", msg.params[0], text))


# --- NickServ and ChanServ (doors/services.py), as IRC users reach them. ---
def on_nickserv(s: IrcClient, msg: Message) -> Awaitable[None]:
    """`NS TEXT` / `NICKSERV TEXT`: the same as `PRIVMSG NickServ :TEXT`."""
    return ask_service(s, services.NICKSERV, " ".join(msg.params))


def on_chanserv(s: IrcClient, msg: Message) -> Awaitable[None]:
    """`CS TEXT` / `CHANSERV TEXT`: the same as `PRIVMSG ChanServ :TEXT`."""
    return ask_service(s, services.CHANSERV, " ".join(msg.params))


async def ask_services(s: IrcClient, asks: list[tuple[str, str]]) -> None:
    """What a PRIVMSG asked of services, in order."""
    for service, text in asks:
        await ask_service(s, service, text)


async def ask_service(s: IrcClient, service: str, text: str) -> None:
    """Ask a service; its answer comes as NOTICEs from it (as Ergo's do), and a login or
    logout through it as 900 or 901, as SASL's would."""
    member = s.require_member()
    before = member.account
    answer = await services.ask(s.rooms, member, _address(s), service, text)
    if member.account and member.account != before:
        s.numeric("900", member.mask, member.account, f"You are now logged in as {member.account}")
    elif before and not member.account:
        s.numeric("901", member.mask, "You are now logged out")
    source = f"{service}!{service}@services"
    for answer_line in answer:
        s.send(line(source, "NOTICE", member.name, answer_line))
    if member.account and member.account != before:
        await deliver_held(s)
