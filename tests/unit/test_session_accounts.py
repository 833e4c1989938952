"""Accounts on the text door's session, without sockets: the password prompt after a
registered name, NickServ and ChanServ by /msg, the shortcuts, a login that takes the
name over from another connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from config.settings import Config
from doors.text.session import MENU, Session, State
from registry.accounts import Accounts
from rooms import RoomManager
from tests.unit.test_session import HHMM, NOON, User, named

T = TypeVar("T")


async def inline(work: Callable[[], T], /) -> T:
    return work()


@pytest.fixture
async def rooms() -> RoomManager:
    accounts = Accounts(run_slow=inline, iterations=4096, clock=lambda: NOON)
    await accounts.register("Alice", "sesame", "192.0.2.1")
    return RoomManager(clock=lambda: NOON, defer=lambda flush: flush(), accounts=accounts)


class Hangable(User):
    """A user whose connection notices being hung up."""

    def __init__(self, rooms: RoomManager) -> None:
        self.out: list[str] = []
        self.hung_up = False
        self.session = Session(
            rooms, Config(), self.out.append, peer="198.51.100.4:5000", close=self._close
        )
        self.session.start()

    def _close(self) -> None:
        self.hung_up = True


async def test_a_registered_name_asks_for_its_password(rooms: RoomManager) -> None:
    user = User(rooms)
    user.session.start()
    assert await user.say("alice") == ["Enter the password for Alice:"]
    assert user.session.state is State.LOGIN and user.session.expects_secret
    hello, logged, code, *menu = await user.say("sesame")
    assert (hello, logged) == ("* Hello, Alice!", "* You are logged in as Alice.")
    assert code.startswith("* Reclaim code: ") and menu == list(MENU)
    member = rooms.find("alice")
    assert member is not None and member.account == "Alice"
    assert not user.session.expects_secret


async def test_a_wrong_password_goes_back_to_the_name_prompt(rooms: RoomManager) -> None:
    user = User(rooms)
    user.session.start()
    assert await user.say("ALICE", "nope") == [
        "Enter the password for Alice:",
        "! Wrong password for Alice.",
        "Enter your username:",
    ]
    assert rooms.find("alice") is None and user.session.state is State.NAME


async def test_an_empty_line_at_the_password_goes_back_and_is_not_counted(
    rooms: RoomManager,
) -> None:
    user = User(rooms)
    for _ in range(15):
        assert await user.say("alice", "") == [
            "Enter the password for Alice:",
            "Enter your username:",
        ]
    assert not rooms.accounts.by_address.blocked("-")


async def test_wrong_passwords_are_limited(rooms: RoomManager) -> None:
    user = User(rooms)
    for _ in range(10):
        await user.say("alice", "nope")
    assert await user.say("alice", "sesame") == [
        "Enter the password for Alice:",
        "! Too many wrong passwords; try again in 30 s.",
        "Enter your username:",
    ]
    assert rooms.find("alice") is None


async def test_nick_to_a_registered_name_is_refused(rooms: RoomManager) -> None:
    bob = await named(rooms, "bob")
    assert await bob.say("/nick alice") == [
        '! The name "alice" is registered; log in to use it.',
        "Enter your choice:",
    ]
    assert bob.session.name == "bob"


async def test_a_reclaim_code_does_not_stand_for_the_password_once_the_ghost_is_gone(
    rooms: RoomManager,
) -> None:
    carol = await named(rooms, "carol")
    code = rooms.issue_code(carol.session.require_member())
    await carol.say("/register pw")
    await carol.session.close("gone")  # the ghost is gone at once (no grace here)
    user = User(rooms)
    out = await user.say(f"/reclaim carol {code}")
    assert out[0] == '! The name "carol" is registered; log in to use it.'
    assert rooms.find("carol") is None


async def test_nickserv_by_msg_and_the_shortcuts(rooms: RoomManager) -> None:
    bob = await named(rooms, "bob")
    assert await bob.say("/register hunter2") == [
        f"[{HHMM}] *NickServ* Account bob registered; you are logged in to it.",
        "Enter your choice:",
    ]
    assert await bob.say("/password hunter2") == [
        "! Usage: /password OLD NEW",
        "Enter your choice:",
    ]
    assert await bob.say("/password hunter2 hunter3") == [
        f"[{HHMM}] *NickServ* The password of bob is changed.",
        "Enter your choice:",
    ]
    assert await bob.say("/logout") == [
        f"[{HHMM}] *NickServ* You go by bob, a registered name: change it first (/nick "
        "NEWNAME), then log out.",
        "Enter your choice:",
    ]
    assert await bob.say("/nick bobby") == ["* You are now known as bobby.", "Enter your choice:"]
    assert await bob.say("/logout") == [
        f"[{HHMM}] *NickServ* You are logged out of bob.",
        "Enter your choice:",
    ]
    assert await bob.say("/msg nickserv IDENTIFY bob hunter3") == [
        f"[{HHMM}] *NickServ* You are now logged in as bob.",
        "Enter your choice:",
    ]
    assert await bob.say("/msg ChanServ REGISTER den") == [
        f'[{HHMM}] *ChanServ* No room named "den".',
        "Enter your choice:",
    ]


async def test_help_lists_the_shortcuts(rooms: RoomManager) -> None:
    bob = await named(rooms, "bob")
    out = "\n".join(await bob.say("/help"))
    for usage in ("/register PASSWORD", "/logout", "/password OLD NEW"):
        assert usage in out


async def test_nobody_takes_a_services_name(rooms: RoomManager) -> None:
    user = User(rooms)
    assert (await user.say("NickServ"))[0] == '! The name "NickServ" is reserved.'
    bob = await named(rooms, "bob")
    assert (await bob.say("/nick chanserv"))[0] == '! The name "chanserv" is reserved.'


async def test_a_second_login_is_one_more_connection_of_the_same_user(
    rooms: RoomManager,
) -> None:
    laptop = Hangable(rooms)
    await laptop.say("alice", "sesame", "/create den")
    bob = await named(rooms, "bob")
    await bob.say("/join den")
    phone = Hangable(rooms)
    out = await phone.say("alice", "sesame")
    assert out[:3] == [
        "Enter the password for Alice:",
        "* Hello, Alice!",
        "* You are logged in as Alice.",
    ]
    assert "Joined room [den]. Type 'exit' to leave, /help for commands." in out
    assert phone.session.state is State.IN_ROOM and not laptop.hung_up
    member = rooms.find("alice")
    assert member is laptop.session.member is phone.session.member
    assert member is not None and len(member.devices) == 1
    assert not [line for line in await bob.say("/who") if line.count("Alice") > 1]
    await phone.say("hello from the phone")
    assert laptop.out[-1].endswith("<Alice> hello from the phone")  # seen as sent
    assert bob.out[-1].endswith("<Alice> hello from the phone")
    await bob.say("hi both")
    assert laptop.out[-1].endswith("<bob> hi both") and phone.out[-1].endswith("<bob> hi both")
    await laptop.session.close("gone")  # the first connection goes: the phone stays
    assert rooms.find("alice") is member and not member.devices
    assert not [line for line in bob.out if "has quit" in line]
    await bob.say("still there?")
    assert phone.out[-1].endswith("<bob> still there?")
    await phone.session.close("gone")  # the last one: now the user quits
    assert rooms.find("alice") is None
    assert "* Alice has quit (gone)" in bob.out[-2:]


async def test_whois_says_who_is_logged_in(rooms: RoomManager) -> None:
    user = User(rooms)
    await user.say("alice", "sesame")
    bob = await named(rooms, "bob")
    assert "* Alice is logged in as Alice" in await bob.say("/whois alice")
    assert not [line for line in await bob.say("/whois bob") if "logged in" in line]


async def test_an_always_on_user_stays_in_its_rooms_with_no_connection(
    rooms: RoomManager,
) -> None:
    laptop = Hangable(rooms)
    await laptop.say("alice", "sesame", "/create den")
    assert await laptop.say("/msg NickServ SET ALWAYS-ON on") == [
        f"[{HHMM}] *NickServ* ALWAYS-ON is on for Alice.",
    ]
    bob = await named(rooms, "bob")
    await bob.say("/join den")
    member = rooms.find("alice")
    await laptop.session.close("gone")
    assert rooms.find("alice") is member and member is not None and not rooms.connected(member)
    assert not [line for line in bob.out if "has quit" in line]
    assert member.away == "Not connected (always on)"
    await bob.say("while you were out")
    phone = Hangable(rooms)
    out = await phone.say("alice", "sesame")
    assert rooms.find("alice") is member is phone.session.member and rooms.connected(member)
    assert member.away == "" and not member.devices
    assert "Joined room [den]. Type 'exit' to leave, /help for commands." in out
    await bob.say("welcome back")
    assert phone.out[-1].endswith("<bob> welcome back")
    assert await phone.say("/msg NickServ SET ALWAYS-ON maybe") == [
        f"[{HHMM}] *NickServ* Usage: SET ALWAYS-ON [ON|OFF]",
    ]
    await phone.say("/msg NickServ SET ALWAYS-ON off")
    await phone.session.close("gone")
    assert rooms.find("alice") is None


async def test_the_servers_default_holds_until_an_account_chooses(rooms: RoomManager) -> None:
    rooms.always_on_default = True
    laptop = Hangable(rooms)
    await laptop.say("alice", "sesame", "/create den")
    await laptop.session.close("gone")
    assert rooms.find("alice") is not None
    guest = await named(rooms, "guest")
    await guest.session.close("gone")
    assert rooms.find("guest") is None  # a guest never stays


async def test_a_guest_in_a_room_is_not_followed_until_it_logs_in(rooms: RoomManager) -> None:
    """A guest has no read marker: its connection holds no follower entry (an idle
    guest costs nothing there); once it logs in, in its room, the account's marker
    follows the room's lines."""
    bob = await named(rooms, "bob")
    await bob.say("/create lobby")
    following = rooms.markers._following
    assert bob.session not in following
    await bob.say("/register hunter2")
    member, room = following[bob.session]
    assert member is bob.session.member and room is bob.session.room
