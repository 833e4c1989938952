"""The services core (doors/services.py) without sockets or a door: NickServ's and
ChanServ's answers as plain lines, and what they change in the registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from doors import services
from doors.common import is_reserved
from registry import Member
from registry.accounts import Accounts
from rooms import RoomManager
from tests.unit.test_rooms import Inbox, render

T = TypeVar("T")
ADDRESS = "192.0.2.1"


async def inline(work: Callable[[], T], /) -> T:
    return work()


@pytest.fixture
def rooms() -> RoomManager:
    accounts = Accounts(run_slow=inline, iterations=4096, clock=lambda: 0.0)
    return RoomManager(clock=lambda: 0.0, defer=lambda flush: flush(), accounts=accounts)


async def ask(rooms: RoomManager, member: Member, text: str, service: str = "NickServ") -> str:
    return "\n".join(await services.ask(rooms, member, ADDRESS, service, text))


async def test_the_services_names_are_reserved_in_any_case() -> None:
    for name in ("NickServ", "nickserv", "CHANSERV", "server"):
        assert is_reserved(name)
    assert services.service_name("nickSERV") == "NickServ"
    assert services.service_name("alice") is None


async def test_register_registers_the_callers_name_and_logs_it_in(rooms: RoomManager) -> None:
    alice = await rooms.claim("alice", Inbox(), render)
    answer = await ask(rooms, alice, "REGISTER sesame")
    assert answer == "Account alice registered; you are logged in to it."
    assert alice.account == "alice" and rooms.accounts.find("ALICE") is not None
    assert await ask(rooms, alice, "register other") == "You are logged in to alice already."


async def test_register_a_name_registered_already_is_refused(rooms: RoomManager) -> None:
    await rooms.accounts.register("bob", "pw", "192.0.2.9")
    bob = await rooms.claim("bob", Inbox(), render, account="bob")
    bob.account = ""  # as if it had logged out
    assert await ask(rooms, bob, "REGISTER x") == 'The name "bob" is registered already.'


async def test_register_needs_a_usable_password(rooms: RoomManager) -> None:
    alice = await rooms.claim("alice", Inbox(), render)
    assert await ask(rooms, alice, "REGISTER") == "Usage: REGISTER PASSWORD"
    long = "x" * 301
    assert await ask(rooms, alice, f"REGISTER {long}") == (
        "That password cannot be used: it is longer than 300 characters."
    )
    assert alice.account == ""


async def test_closed_and_limited_registration_say_so(rooms: RoomManager) -> None:
    rooms.accounts.registration_open = False
    alice = await rooms.claim("alice", Inbox(), render)
    assert await ask(rooms, alice, "REGISTER pw") == "Registration is closed on this server."
    rooms.accounts.registration_open = True
    for name in ("u1", "u2", "u3"):
        await rooms.accounts.register(name, "pw", ADDRESS)
    assert await ask(rooms, alice, "REGISTER pw") == (
        "Too many registrations from your address; try again in 600 s."
    )


async def test_identify_logs_in_by_name_or_to_another_account(rooms: RoomManager) -> None:
    await rooms.accounts.register("alice", "sesame", ADDRESS)
    guest = await rooms.claim("guest", Inbox(), render)
    assert await ask(rooms, guest, "IDENTIFY alice nope") == "Wrong password for alice."
    assert guest.account == ""
    assert await ask(rooms, guest, "IDENTIFY ALICE sesame") == "You are now logged in as alice."
    assert guest.account == "alice" and guest.name == "guest"  # it keeps its name
    assert await ask(rooms, guest, "identify alice sesame") == (
        "You are logged in to alice already."
    )
    assert await ask(rooms, guest, "IDENTIFY") == "Usage: IDENTIFY [ACCOUNT] PASSWORD"


async def test_identify_with_no_such_account_reads_as_a_wrong_password(
    rooms: RoomManager,
) -> None:
    guest = await rooms.claim("guest", Inbox(), render)
    assert await ask(rooms, guest, "IDENTIFY ghost pw") == "Wrong password for ghost."


async def test_wrong_passwords_are_limited_and_the_answer_says_how_long(
    rooms: RoomManager,
) -> None:
    await rooms.accounts.register("alice", "sesame", "192.0.2.7")
    guest = await rooms.claim("guest", Inbox(), render)
    for _ in range(10):
        await ask(rooms, guest, "IDENTIFY alice wrong")
    assert await ask(rooms, guest, "IDENTIFY alice sesame") == (
        "Too many wrong passwords; try again in 30 s."
    )
    assert guest.account == ""


async def test_logout_passwd_and_drop(rooms: RoomManager) -> None:
    alice = await rooms.claim("alice", Inbox(), render)
    assert await ask(rooms, alice, "LOGOUT") == "You are not logged in."
    assert await ask(rooms, alice, "PASSWD a b") == "You are not logged in."
    await ask(rooms, alice, "REGISTER sesame")
    assert await ask(rooms, alice, "PASSWD nope new") == "Wrong password for alice."
    assert await ask(rooms, alice, "PASSWD sesame") == "Usage: PASSWD OLD NEW"
    assert await ask(rooms, alice, "PASSWD sesame s3same") == "The password of alice is changed."
    await rooms.accounts.verify("alice", "s3same", "192.0.2.8")
    assert await ask(rooms, alice, "LOGOUT") == (
        "You go by alice, a registered name: change it first (/nick NEWNAME), then log out."
    )
    assert alice.account == "alice"
    await rooms.rename(alice, "alice2")
    assert await ask(rooms, alice, "LOGOUT") == "You are logged out of alice."
    assert alice.account == ""
    assert await ask(rooms, alice, "DROP s3same") == "You are not logged in."
    await ask(rooms, alice, "IDENTIFY alice s3same")
    assert await ask(rooms, alice, "DROP sesame") == "Wrong password for alice."
    assert await ask(rooms, alice, "DROP s3same") == "Account alice is dropped; its name is free."
    assert rooms.accounts.find("alice") is None and alice.account == ""


async def test_info_says_when_an_account_was_registered(rooms: RoomManager) -> None:
    alice = await rooms.claim("alice", Inbox(), render)
    assert await ask(rooms, alice, "INFO") == 'No account named "alice".'
    await ask(rooms, alice, "REGISTER sesame")
    assert await ask(rooms, alice, "INFO") == (
        "Account alice was registered on 1970-01-01 00:00 UTC."
    )
    assert await ask(rooms, alice, "info ALICE") == await ask(rooms, alice, "INFO")


async def test_help_unknown_commands_and_chanserv(rooms: RoomManager) -> None:
    alice = await rooms.claim("alice", Inbox(), render)
    assert (await ask(rooms, alice, "help")).splitlines() == list(services.NICKSERV_HELP)
    assert (
        await ask(rooms, alice, "FROB x") == 'Unknown command "FROB". Send HELP for the commands.'
    )
    assert await ask(rooms, alice, "") == "Send HELP for the commands."
    chanserv = (await ask(rooms, alice, "REGISTER #den", "chanserv")).splitlines()
    assert chanserv == list(services.CHANSERV_HELP)
    assert "not offered yet" in chanserv[-1]


async def test_redact_keeps_the_command_and_never_the_password() -> None:
    assert services.redact("IDENTIFY alice sesame") == "IDENTIFY <password>"
    assert services.redact("passwd old new") == "passwd <password>"
    assert services.redact("REGISTER sesame") == "REGISTER <password>"
    assert services.redact("DROP sesame") == "DROP <password>"
    assert services.redact("INFO alice") == "INFO alice"
