"""The services core (doors/services.py) without sockets or a door: NickServ's and
ChanServ's answers as plain lines, and what they change in the registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

import registry as r
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
    chanserv = (await ask(rooms, alice, "help", "chanserv")).splitlines()
    assert chanserv == list(services.CHANSERV_HELP)
    assert await ask(rooms, alice, "frob", "ChanServ") == (
        'Unknown command "frob". Send HELP for the commands.'
    )


async def test_redact_keeps_the_command_and_never_the_password() -> None:
    assert services.redact("IDENTIFY alice sesame") == "IDENTIFY <password>"
    assert services.redact("passwd old new") == "passwd <password>"
    assert services.redact("REGISTER sesame") == "REGISTER <password>"
    assert services.redact("DROP sesame") == "DROP <password>"
    assert services.redact("INFO alice") == "INFO alice"


# --- ChanServ: owned rooms. ---
async def logged_in(rooms: RoomManager, name: str) -> tuple[Member, Inbox]:
    await rooms.accounts.register(name, "pw-" + name, ADDRESS)
    inbox = Inbox()
    return await rooms.claim(name, inbox, render, account=name), inbox


async def cs(rooms: RoomManager, member: Member, text: str) -> str:
    return await ask(rooms, member, text, "ChanServ")


async def test_register_a_room_needs_an_account_and_its_operator(rooms: RoomManager) -> None:
    guest = await rooms.claim("guest", Inbox(), render)
    alice, _ = await logged_in(rooms, "alice")
    bob, _ = await logged_in(rooms, "bob")
    await rooms.create(guest, "den")
    assert await cs(rooms, guest, "REGISTER #den") == (
        "You are not logged in: log in to an account first (NickServ IDENTIFY)."
    )
    assert await cs(rooms, alice, "REGISTER #nowhere") == 'No room named "nowhere".'
    assert await cs(rooms, alice, "REGISTER #den") == "You are not in den."
    await rooms.join(bob, "den")
    assert await cs(rooms, bob, "REGISTER den") == "You are not an operator of den."
    await rooms.create(alice, "attic")
    assert await cs(rooms, alice, "REGISTER #attic") == (
        "attic is registered to your account alice."
    )
    attic = rooms.room("attic")
    assert attic is not None and attic.owner is not None and attic.owner.founder == "alice"
    assert "t" in attic.modes  # only operators change a registered room's topic
    assert await cs(rooms, alice, "REGISTER attic") == "attic is registered already."
    assert await cs(rooms, alice, "REGISTER") == "Usage: REGISTER ROOM"


async def test_a_registered_room_stays_empty_and_a_stranger_is_not_made_operator(
    rooms: RoomManager,
) -> None:
    alice, _ = await logged_in(rooms, "alice")
    room = await rooms.create(alice, "alicesroom")
    await cs(rooms, alice, "REGISTER alicesroom")
    await rooms.leave(alice, room)
    assert rooms.room("alicesroom") is room  # kept, though empty with no history
    stranger = await rooms.claim("stranger", Inbox(), render)
    await rooms.join(stranger, "alicesroom")
    assert stranger not in room.ops
    with pytest.raises(r.NotOperator):
        rooms.change_modes(stranger, room, [r.Change("+", "i")])
    await rooms.join(alice, "alicesroom")
    assert alice in room.ops  # the founder gets its status back on join
    await rooms.leave(alice, room)
    assert not room.ops  # no heir in a registered room: nobody inherits it


async def test_the_founder_gets_status_on_join_and_the_room_is_told(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    room = await rooms.create(alice, "den")
    await cs(rooms, alice, "REGISTER den")
    await rooms.leave(alice, room)
    _, bob_inbox = await member_of(rooms, "bob", "den")
    await rooms.join(alice, "den")
    assert bob_inbox.events()[-2:] == [
        "('Joined', 'alice', 'den')", "('ModeChanged', 'ChanServ', 'den')"
    ]  # fmt: skip
    assert rooms.room("den") is room
    assert room is not None and alice in room.ops


async def member_of(rooms: RoomManager, name: str, room: str) -> tuple[Member, Inbox]:
    inbox = Inbox()
    member = await rooms.claim(name, inbox, render)
    await rooms.join(member, room)
    return member, inbox


async def test_amode_gives_and_takes_status_on_join(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    carol, _ = await logged_in(rooms, "carol")
    dave, _ = await logged_in(rooms, "dave")
    room = await rooms.create(alice, "den")
    await cs(rooms, alice, "REGISTER #den")
    assert (
        await cs(rooms, alice, "AMODE #den +o carol") == "carol gets operator (+o) on joining den."
    )
    assert await cs(rooms, alice, "AMODE den +v dave") == "dave gets voice (+v) on joining den."
    assert (await cs(rooms, carol, "AMODE #den")).splitlines() == [
        "den: alice (founder)", "den: carol (+o)", "den: dave (+v)",
    ]  # fmt: skip
    await rooms.join(carol, "den")
    await rooms.join(dave, "den")
    assert carol in room.ops and dave in room.voiced and dave not in room.ops
    assert await cs(rooms, carol, "AMODE #den -o dave") == "Only the founder of den may do that."
    assert await cs(rooms, alice, "AMODE #den -v dave") == "dave gets no status on joining den."
    assert await cs(rooms, alice, "AMODE #den +o nobody") == 'No account named "nobody".'
    assert await cs(rooms, alice, "AMODE #den +q dave") == "Usage: AMODE ROOM [+o|+v|-o|-v ACCOUNT]"
    assert await cs(rooms, alice, "AMODE #attic") == "attic is not registered."


async def test_status_is_given_at_login_in_a_room_already_joined(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    await rooms.create(alice, "den")
    await cs(rooms, alice, "REGISTER den")
    await rooms.accounts.register("erin", "pw-erin", ADDRESS)
    await cs(rooms, alice, "AMODE den +o erin")
    guest, _ = await member_of(rooms, "guest", "den")
    room = rooms.room("den")
    assert room is not None and guest not in room.ops
    assert await ask(rooms, guest, "IDENTIFY erin pw-erin") == "You are now logged in as erin."
    assert guest in room.ops


async def test_transfer_drop_info_and_op(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    bob, _ = await logged_in(rooms, "bob")
    room = await rooms.create(alice, "den")
    await cs(rooms, alice, "REGISTER #den")
    assert await cs(rooms, bob, "INFO #den") == (
        "den was registered by alice on 1970-01-01 00:00 UTC."
    )
    await rooms.join(bob, "den")
    assert await cs(rooms, bob, "OP #den") == "You are not an operator of den."
    assert await cs(rooms, bob, "TRANSFER #den bob") == "Only the founder of den may do that."
    assert await cs(rooms, alice, "TRANSFER #den bob") == "den now belongs to bob."
    assert bob in room.ops  # the new founder, present, gets its status
    rooms.change_modes(alice, room, [r.Change("-", "o", "bob")])
    assert bob not in room.ops
    assert await cs(rooms, bob, "OP den") == "You have your status in den."
    assert bob in room.ops
    assert await cs(rooms, alice, "DROP #den") == "Only the founder of den may do that."
    assert await cs(rooms, bob, "DROP #den") == "den is no longer registered."
    assert room.owner is None
    assert await cs(rooms, bob, "INFO #den") == "den is not registered."


async def test_dropping_an_empty_registered_room_closes_it(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    room = await rooms.create(alice, "den")
    await cs(rooms, alice, "REGISTER den")
    await rooms.leave(alice, room)
    assert rooms.room("den") is room
    await cs(rooms, alice, "DROP den")
    assert rooms.room("den") is None


async def test_a_server_operator_may_drop_or_transfer_any_room(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    await logged_in(rooms, "bob")
    await rooms.create(alice, "den")
    await cs(rooms, alice, "REGISTER den")
    oper = await rooms.claim("oper", Inbox(), render)
    oper.oper = "root"
    assert await cs(rooms, oper, "TRANSFER den bob") == "den now belongs to bob."


async def test_ownership_survives_settings_and_restore(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    await logged_in(rooms, "bob")
    room = await rooms.create(alice, "den")
    await cs(rooms, alice, "REGISTER den")
    await cs(rooms, alice, "AMODE den +v bob")
    settings = room.settings()
    assert r.is_owned(settings)
    again = RoomManager(clock=lambda: 0.0, defer=lambda flush: flush())
    again._restore(r.SavedRoom("den", 0.0, settings))
    copy = again.room("den")
    assert copy is not None and copy.owner == room.owner
    assert not r.is_owned({"topic": "", "founder": ""})


async def test_an_account_ban_matches_the_account_not_the_name(rooms: RoomManager) -> None:
    alice, _ = await logged_in(rooms, "alice")
    room = await rooms.create(alice, "den")
    done, refused = rooms.change_modes(alice, room, [r.Change("+", "b", "A:bob")])
    assert not refused and done[0].arg == "a:bob"
    guest_bob = await rooms.claim("bob", Inbox(), render)
    await rooms.join(guest_bob, "den")  # a guest called bob: not the account bob
    await rooms.leave(guest_bob, room)
    await rooms.accounts.register("bobby", "pw", ADDRESS)
    await rooms.accounts.register("bob", "pw-bob", "192.0.2.7")
    rooms.log_in(guest_bob, "bob")
    with pytest.raises(r.Banned):
        await rooms.join(guest_bob, "den")
    carol, _ = await logged_in(rooms, "carol")
    await rooms.join(carol, "den")
    assert carol not in room.muted
    rooms.change_modes(alice, room, [r.Change("+", "b", "a:car*")])
    assert carol in room.muted  # a ban matching a member present silences it
